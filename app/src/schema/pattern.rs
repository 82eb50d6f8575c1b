//! JSON Schema `pattern`s: ECMAScript regular expressions, unanchored (JSON Schema says
//! so), with the `u` flag as JSON Schema's reference to ECMA-262 implies.
//!
//! In the browser they run on the browser's own `RegExp`, so the bundle carries no regex
//! engine. Natively (the server, tests) the ECMAScript parser of `regress` decides what
//! is a valid pattern, but its matcher backtracks: `^(a+)+$` against 28 `a`s and a `b`
//! took 430 s here. Agents are untrusted, so a pattern runs on the linear-time `regex`
//! crate whenever its syntax translates (nearly all real ones do); only patterns that
//! need backreferences or lookaround run on `regress`, and only when they have no nested
//! or alternated repetition (what makes backtracking exponential). Others are reported
//! as not checked here; the browser still checks them.

/// A compiled pattern.
pub struct Pattern {
    #[cfg(not(target_arch = "wasm32"))]
    re: native::Engine,
    #[cfg(all(target_arch = "wasm32", feature = "hydrate"))]
    re: js_sys::RegExp,
}

impl Pattern {
    /// Compiles `source`; the error says why it cannot be used.
    pub fn new(source: &str) -> Result<Pattern, String> {
        #[cfg(not(target_arch = "wasm32"))]
        {
            native::Engine::new(source).map(|re| Pattern { re })
        }
        #[cfg(all(target_arch = "wasm32", feature = "hydrate"))]
        {
            use wasm_bindgen::JsCast;
            // `new RegExp(bad)` throws; Reflect.construct turns the throw into an Err
            // instead of an abort.
            let ctor = js_sys::Reflect::get(&js_sys::global(), &"RegExp".into())
                .map_err(|_| "this browser has no RegExp".to_owned())?;
            let args = js_sys::Array::of2(&source.into(), &"u".into());
            js_sys::Reflect::construct(ctor.unchecked_ref::<js_sys::Function>(), &args)
                .map(|re| Pattern { re: re.unchecked_into() })
                .map_err(|e| {
                    e.dyn_ref::<js_sys::Error>()
                        .map(|e| String::from(e.message()))
                        .unwrap_or_else(|| "not a valid regular expression".to_owned())
                })
        }
        #[cfg(all(target_arch = "wasm32", not(feature = "hydrate")))]
        {
            let _ = source;
            Err("patterns are not checked in this build".to_owned())
        }
    }

    /// Whether `source` is a valid ECMAScript pattern at all (natively: by `regress`'s
    /// parser), even where the server will not run it.
    pub fn syntax_ok(source: &str) -> bool {
        #[cfg(not(target_arch = "wasm32"))]
        {
            regress::Regex::with_flags(source, "u").is_ok()
        }
        #[cfg(target_arch = "wasm32")]
        {
            Pattern::new(source).is_ok()
        }
    }

    /// Whether `text` contains a match (JSON Schema patterns are not anchored).
    pub fn is_match(&self, text: &str) -> bool {
        #[cfg(not(target_arch = "wasm32"))]
        {
            self.re.is_match(text)
        }
        #[cfg(all(target_arch = "wasm32", feature = "hydrate"))]
        {
            self.re.test(text)
        }
        #[cfg(all(target_arch = "wasm32", not(feature = "hydrate")))]
        {
            let _ = text;
            true
        }
    }
}

#[cfg(not(target_arch = "wasm32"))]
mod native {
    pub enum Engine {
        Linear(regex::Regex),
        Backtrack(regress::Regex),
    }

    impl Engine {
        pub fn new(source: &str) -> Result<Engine, String> {
            let ecma = regress::Regex::with_flags(source, "u").map_err(|e| e.to_string())?;
            if let Some(re) =
                translate(source).and_then(|t| regex::RegexBuilder::new(&t).size_limit(1 << 20).build().ok())
            {
                return Ok(Engine::Linear(re));
            }
            if backtrack_safe(source) {
                return Ok(Engine::Backtrack(ecma));
            }
            Err("it combines lookaround or backreferences with nested repetition, which can take \
                 exponential time, so the server does not run it"
                .to_owned())
        }

        pub fn is_match(&self, text: &str) -> bool {
            match self {
                Engine::Linear(re) => re.is_match(text),
                Engine::Backtrack(re) => re.find(text).is_some(),
            }
        }
    }

    /// The same pattern in the `regex` crate's syntax, or `None` where ECMAScript means
    /// something it cannot (backreferences, lookaround, `[^]`, a negated class escape
    /// inside a class). ECMAScript's `\d`, `\w`, `\b` are ASCII-only even with `u`, and
    /// its `.` stops at every line terminator; the translation keeps those meanings.
    pub fn translate(src: &str) -> Option<String> {
        let chars: Vec<char> = src.chars().collect();
        let mut out = String::with_capacity(src.len() * 2);
        let mut in_class = false;
        let mut i = 0;
        let hex = |c: char| format!("\\x{{{:x}}}", c as u32);
        while i < chars.len() {
            let c = chars[i];
            match c {
                '\\' => {
                    let next = *chars.get(i + 1)?;
                    i += 2;
                    match next {
                        'd' => out.push_str(if in_class { "0-9" } else { "[0-9]" }),
                        'w' => out.push_str(if in_class { "0-9A-Za-z_" } else { "[0-9A-Za-z_]" }),
                        'D' if !in_class => out.push_str("[^0-9]"),
                        'W' if !in_class => out.push_str("[^0-9A-Za-z_]"),
                        'D' | 'W' => return None,
                        'b' if in_class => out.push_str("\\x{8}"),
                        'b' => out.push_str("(?-u:\\b)"),
                        'B' if !in_class => out.push_str("(?-u:\\B)"),
                        's' | 'S' | 'n' | 'r' | 't' | 'f' | 'v' => {
                            out.push('\\');
                            out.push(next);
                        }
                        '0' if !chars.get(i).is_some_and(char::is_ascii_digit) => out.push_str("\\x{0}"),
                        'x' => {
                            let h: String = chars.get(i..i + 2)?.iter().collect();
                            let v = u32::from_str_radix(&h, 16).ok()?;
                            out.push_str(&format!("\\x{{{v:x}}}"));
                            i += 2;
                        }
                        'u' if chars.get(i) == Some(&'{') => {
                            let end = chars[i..].iter().position(|&c| c == '}')? + i;
                            let h: String = chars[i + 1..end].iter().collect();
                            let v = u32::from_str_radix(&h, 16).ok()?;
                            out.push_str(&format!("\\x{{{v:x}}}"));
                            i = end + 1;
                        }
                        'u' => {
                            let h: String = chars.get(i..i + 4)?.iter().collect();
                            let v = u32::from_str_radix(&h, 16).ok()?;
                            out.push_str(&format!("\\x{{{v:x}}}"));
                            i += 4;
                        }
                        'c' => {
                            let l = chars.get(i).filter(|l| l.is_ascii_alphabetic())?;
                            out.push_str(&format!("\\x{{{:x}}}", (*l as u32) % 32));
                            i += 1;
                        }
                        'p' | 'P' => {
                            // Unicode properties: same spelling in both for the general
                            // categories and scripts people use.
                            out.push('\\');
                            out.push(next);
                        }
                        // Backreferences (`\1`, `\k<name>`) and anything else unknown.
                        n if n.is_ascii_alphanumeric() => return None,
                        // An escaped punctuation character is that character.
                        n => out.push_str(&hex(n)),
                    }
                    continue;
                }
                '[' if in_class => out.push_str("\\["),
                '[' => {
                    if chars.get(i + 1) == Some(&'^') && chars.get(i + 2) == Some(&']') {
                        return None;
                    }
                    if chars.get(i + 1) == Some(&']') {
                        return None; // `[]` matches nothing in ECMAScript.
                    }
                    in_class = true;
                    out.push('[');
                    if chars.get(i + 1) == Some(&'^') {
                        out.push('^');
                        i += 1;
                    }
                }
                ']' if in_class => {
                    in_class = false;
                    out.push(']');
                }
                '&' | '~' if in_class => out.push_str(&hex(c)),
                '-' if in_class && chars.get(i + 1) == Some(&'-') => return None,
                '.' if !in_class => out.push_str("[^\\n\\r\\x{2028}\\x{2029}]"),
                '(' if !in_class && chars.get(i + 1) == Some(&'?') => {
                    // `(?:` and `(?<name>` carry over; lookaround does not.
                    match (chars.get(i + 2), chars.get(i + 3)) {
                        (Some(':'), _) => out.push_str("(?:"),
                        (Some('<'), Some(n)) if *n != '=' && *n != '!' => out.push_str("(?<"),
                        _ => return None,
                    }
                    i += 3;
                    continue;
                }
                c => out.push(c),
            }
            i += 1;
        }
        Some(out)
    }

    /// Whether backtracking on `src` stays polynomial: no repeated group that itself
    /// repeats or alternates (`(a+)+`, `(a|aa)*`), the shapes behind exponential blowups.
    pub fn backtrack_safe(src: &str) -> bool {
        // Per open group: whether it contains a quantifier or an alternation.
        let mut stack: Vec<bool> = vec![false];
        let mut chars = src.chars().peekable();
        let mut in_class = false;
        let mut last_group_risky = false;
        while let Some(c) = chars.next() {
            let mut closed = false;
            match c {
                '\\' => {
                    chars.next();
                }
                '[' if !in_class => in_class = true,
                ']' if in_class => in_class = false,
                _ if in_class => {}
                '(' => stack.push(false),
                ')' => {
                    last_group_risky = stack.pop().unwrap_or(false);
                    if let Some(top) = stack.last_mut() {
                        *top |= last_group_risky;
                    }
                    closed = true;
                }
                '|' => {
                    if let Some(top) = stack.last_mut() {
                        *top = true;
                    }
                }
                '*' | '+' | '?' | '{' => {
                    if let Some(top) = stack.last_mut() {
                        *top = true;
                    }
                }
                _ => {}
            }
            if closed && last_group_risky && matches!(chars.peek(), Some('*' | '+' | '{')) {
                return false;
            }
        }
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, Instant};

    #[test]
    fn ecmascript_syntax_unanchored() {
        let p = Pattern::new(r"^\d{3}-[A-Z]{2}$").unwrap();
        assert!(p.is_match("123-AB"));
        assert!(!p.is_match("123-ab"));
        // Unanchored: a match anywhere counts.
        assert!(Pattern::new("b+").unwrap().is_match("abba"));
        // ECMAScript-only syntax: lookbehind, named groups and backreferences.
        assert!(Pattern::new(r"(?<=\$)\d+").unwrap().is_match("$42"));
        assert!(Pattern::new(r"^(?<w>\w)\k<w>$").unwrap().is_match("aa"));
        // `u` flag: a character class matches a whole code point.
        assert!(Pattern::new("^.$").unwrap().is_match("😀"));
    }

    #[test]
    fn broken_patterns_say_why() {
        for bad in ["(", "[a-", "a{2,1}", "\\"] {
            assert!(Pattern::new(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn nested_quantifiers_stay_fast() {
        // The classic catastrophic-backtracking patterns, on subjects that defeat them
        // (430 s for the first one on a backtracking engine).
        let start = Instant::now();
        for p in ["^(a+)+$", "^(a|aa)+$", r"^(\w+\s?)*$"] {
            let p = Pattern::new(p).unwrap();
            assert!(!p.is_match(&format!("{}!", "a".repeat(5_000))));
        }
        assert!(start.elapsed() < Duration::from_secs(2), "{:?}", start.elapsed());
        // Needs backtracking and would blow up: refused, with the reason.
        let why = Pattern::new(r"^(?=a)(a+)+$").err().unwrap();
        assert!(why.contains("exponential"), "{why}");
        // Needs backtracking but is safe: runs.
        assert!(Pattern::new(r"(\w)\1").unwrap().is_match("hello"));
    }

    #[test]
    fn translation_keeps_ecmascript_meanings() {
        // ECMAScript's \d and \w are ASCII even with the u flag.
        assert!(!Pattern::new(r"^\d$").unwrap().is_match("٣"));
        assert!(!Pattern::new(r"^\w$").unwrap().is_match("é"));
        assert!(Pattern::new(r"^[\w-]+$").unwrap().is_match("a-b_c"));
        // `.` stops at line terminators; escapes of every spelling.
        assert!(!Pattern::new("^.$").unwrap().is_match("\n"));
        assert!(Pattern::new(r"^\u0041\u{1F600}\x42\/\.$").unwrap().is_match("A😀B/."));
        assert!(Pattern::new(r"^[\b]$").unwrap().is_match("\u{8}"));
        assert!(Pattern::new(r"\bcat\b").unwrap().is_match("a cat!"));
        assert!(Pattern::new(r"^[a&&b]$").unwrap().is_match("&"));
        assert!(Pattern::new(r"^(?:ab)+(?<x>c)$").unwrap().is_match("ababc"));
        for (src, translated) in [("(?=x)", false), (r"\1", false), ("[^]", false), (r"\p{L}", true), ("a{2,3}", true)]
        {
            assert_eq!(native::translate(src).is_some(), translated, "{src}");
        }
    }
}
