//! A `pattern` as a person reads it: "lowercase letters, digits and - only, 3–20
//! characters" for `^[a-z0-9-]{3,20}$`, "a date like 2026-12-02" for `^\d{4}-\d{2}-\d{2}$`.
//! Patterns it does not recognise are shown as they are.

/// Whole patterns with a name of their own (anchors included).
const KNOWN: &[(&str, &str)] = &[
    (r"^\d{4}-\d{2}-\d{2}$", "a date like 2026-12-02"),
    (r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$", "a date like 2026-12-02"),
    (r"^\d+\.\d+\.\d+$", "a version like 1.2.3"),
    (r"^[0-9]+\.[0-9]+\.[0-9]+$", "a version like 1.2.3"),
    (r"^#[0-9a-fA-F]{6}$", "a colour like #1a2b3c"),
    (r"^#[0-9A-Fa-f]{6}$", "a colour like #1a2b3c"),
    (r"^[a-z0-9]+(?:-[a-z0-9]+)*$", "lowercase words of letters and digits joined by single hyphens (a slug)"),
    (r"^[a-z0-9]+(-[a-z0-9]+)*$", "lowercase words of letters and digits joined by single hyphens (a slug)"),
    (
        r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$",
        "a UUID like 123e4567-e89b-12d3-a456-426614174000",
    ),
    (r"^[^@\s]+@[^@\s]+\.[^@\s]+$", "an email address"),
    (r"^\S+@\S+\.\S+$", "an email address"),
    (r"^https?://.+$", "a URL starting with http:// or https://"),
    (r"^https?://\S+$", "a URL starting with http:// or https://"),
];

/// The hint for a `pattern` keyword.
pub fn pattern_hint(pattern: &str) -> String {
    if let Some((_, words)) = KNOWN.iter().find(|(p, _)| *p == pattern) {
        return (*words).to_owned();
    }
    one_class(pattern).unwrap_or_else(|| format!("pattern {pattern}"))
}

/// The message for text that does not match: "Must be: digits only" where the pattern
/// reads as words, "Must match the pattern …" otherwise.
pub fn pattern_error(pattern: &str) -> String {
    let hint = pattern_hint(pattern);
    match hint.strip_prefix("pattern ") {
        Some(raw) if raw == pattern => format!("Must match the pattern {pattern}"),
        _ => format!("Must be: {hint}"),
    }
}

/// `^[CLASS]QUANTIFIER$`: one character class, repeated.
fn one_class(pattern: &str) -> Option<String> {
    let body = pattern.strip_prefix('^')?.strip_suffix('$')?;
    let (class, quantifier) = if let Some(rest) = body.strip_prefix('[') {
        let end = rest.find(']')?;
        (class_words(&rest[..end])?, &rest[end + 1..])
    } else {
        let (words, len) = match body.get(..2)? {
            r"\d" => ("digits".to_owned(), 2),
            r"\w" => ("letters, digits and _".to_owned(), 2),
            _ => return None,
        };
        (words, &body[len..])
    };
    let count = match quantifier {
        "+" => String::new(),
        "*" => ", or nothing".to_owned(),
        q => {
            let inner = q.strip_prefix('{')?.strip_suffix('}')?;
            match inner.split_once(',') {
                None => format!(", exactly {} characters", number(inner)?),
                Some((a, "")) => format!(", at least {} characters", number(a)?),
                Some((a, b)) => format!(", {}–{} characters", number(a)?, number(b)?),
            }
        }
    };
    Some(format!("{class} only{count}"))
}

fn number(s: &str) -> Option<u32> {
    s.trim().parse().ok()
}

/// The contents of `[...]` in words: "lowercase letters, digits, _ and -".
fn class_words(class: &str) -> Option<String> {
    if class.starts_with('^') || class.is_empty() {
        return None;
    }
    let mut kinds: Vec<String> = Vec::new();
    let mut singles: Vec<char> = Vec::new();
    let (mut lower, mut upper, mut digits) = (false, false, false);
    let chars: Vec<char> = class.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        match (chars[i], chars.get(i + 1), chars.get(i + 2)) {
            ('a', Some('-'), Some('z')) => (lower, i) = (true, i + 3),
            ('A', Some('-'), Some('Z')) => (upper, i) = (true, i + 3),
            ('0', Some('-'), Some('9')) => (digits, i) = (true, i + 3),
            ('\\', Some('d'), _) => (digits, i) = (true, i + 2),
            ('\\', Some('w'), _) => {
                (lower, upper, digits, i) = (true, true, true, i + 2);
                singles.push('_');
            }
            ('\\', Some(c), _) if !c.is_alphanumeric() => {
                singles.push(*c);
                i += 2;
            }
            ('\\', _, _) => return None,
            (_, Some('-'), Some(_)) => return None, // another range: not worth words
            (c, _, _) if c.is_ascii_punctuation() || c == ' ' => {
                singles.push(c);
                i += 1;
            }
            _ => return None,
        }
    }
    match (lower, upper) {
        (true, true) => kinds.push("letters".into()),
        (true, false) => kinds.push("lowercase letters".into()),
        (false, true) => kinds.push("capital letters".into()),
        _ => {}
    }
    if digits {
        kinds.push("digits".into());
    }
    singles.dedup();
    kinds.extend(singles.into_iter().map(|c| if c == ' ' { "spaces".to_owned() } else { c.to_string() }));
    Some(match kinds.len() {
        0 => return None,
        1 => kinds.remove(0),
        n => format!("{} and {}", kinds[..n - 1].join(", "), kinds[n - 1]),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn common_patterns_read_as_words() {
        assert_eq!(pattern_hint(r"^[a-z0-9-]{3,20}$"), "lowercase letters, digits and - only, 3–20 characters");
        assert_eq!(pattern_hint(r"^[A-Za-z]+$"), "letters only");
        assert_eq!(pattern_hint(r"^\d+$"), "digits only");
        assert_eq!(pattern_hint(r"^[0-9]{6}$"), "digits only, exactly 6 characters");
        assert_eq!(pattern_hint(r"^\w{2,}$"), "letters, digits and _ only, at least 2 characters");
        assert_eq!(pattern_hint(r"^[A-Z_]+$"), "capital letters and _ only");
        assert_eq!(pattern_hint(r"^[a-zA-Z0-9 ._-]*$"), "letters, digits, spaces, ., _ and - only, or nothing");
        assert_eq!(pattern_hint(r"^\d{4}-\d{2}-\d{2}$"), "a date like 2026-12-02");
        assert_eq!(
            pattern_hint(r"^[a-z0-9]+(?:-[a-z0-9]+)*$"),
            "lowercase words of letters and digits joined by single hyphens (a slug)"
        );
    }

    #[test]
    fn errors_say_the_same_words() {
        assert_eq!(pattern_error(r"^[a-z0-9-]+$"), "Must be: lowercase letters, digits and - only");
        assert_eq!(pattern_error(r"^(a|b)+$"), "Must match the pattern ^(a|b)+$");
    }

    #[test]
    fn anything_else_is_shown_as_the_pattern() {
        for p in [r"^(a|b)+$", r"[a-z]+", r"^[^x]+$", r"^[b-y]+$", r"^[a-z]+\.[a-z]+$", r"^\p{L}+$"] {
            assert_eq!(pattern_hint(p), format!("pattern {p}"), "{p}");
        }
    }
}
