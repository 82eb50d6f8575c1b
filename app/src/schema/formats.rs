//! JSON Schema `format`s the form and the server check: `date`, `date-time`, `time`
//! (RFC 3339), `email`, `uri`, `uuid`. Hand-written and small (the bundle pays for
//! every byte); other formats are hints only, as JSON Schema allows.

/// What is wrong with `s` as a `format` value, if anything (unknown formats pass).
pub fn problem(format: &str, s: &str) -> Option<String> {
    let ok = match format {
        "date" => date(s),
        "date-time" => date_time(s),
        "time" => time(s),
        "email" | "idn-email" => email(s),
        "uri" | "url" | "iri" => uri(s),
        "uuid" => uuid(s),
        _ => return None,
    };
    (!ok).then(|| {
        match format {
            "date" => "Must be a date like 2026-11-23",
            "date-time" => "Must be a date and time like 2026-11-23T14:30:00Z",
            "time" => "Must be a time like 14:30:00",
            "email" | "idn-email" => "Must be an email address",
            "uri" | "url" | "iri" => "Must be a full URL like https://example.org/page",
            _ => "Must be a UUID like 123e4567-e89b-12d3-a456-426614174000",
        }
        .to_owned()
    })
}

fn digits(s: &str, n: usize) -> Option<u32> {
    (s.len() == n && s.bytes().all(|b| b.is_ascii_digit())).then(|| s.parse().ok()).flatten()
}

/// `YYYY-MM-DD`, a real calendar day.
pub fn date(s: &str) -> bool {
    let b = s.as_bytes();
    if b.len() != 10 || b[4] != b'-' || b[7] != b'-' {
        return false;
    }
    let (Some(y), Some(m), Some(d)) = (digits(&s[..4], 4), digits(&s[5..7], 2), digits(&s[8..], 2)) else {
        return false;
    };
    let leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    let days = match m {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if leap => 29,
        2 => 28,
        _ => return false,
    };
    (1..=days).contains(&d)
}

/// `HH:MM:SS[.frac]` with an optional offset (`Z`, `+02:00`); `HH:MM` too, as browsers'
/// time inputs give it.
pub fn time(s: &str) -> bool {
    let (clock, offset) = split_offset(s);
    offset.is_none_or(valid_offset) && clock_ok(clock)
}

/// RFC 3339: `date` `T` `time` with an offset (required, as RFC 3339 says).
pub fn date_time(s: &str) -> bool {
    let Some((d, t)) = s.split_once(['T', 't', ' ']) else { return false };
    let (clock, offset) = split_offset(t);
    date(d) && offset.is_some_and(valid_offset) && clock_ok(clock) && clock.len() >= 8
}

fn split_offset(t: &str) -> (&str, Option<&str>) {
    match t.find(['Z', 'z', '+', '-']) {
        Some(i) => (&t[..i], Some(&t[i..])),
        None => (t, None),
    }
}

fn valid_offset(o: &str) -> bool {
    if o.eq_ignore_ascii_case("z") {
        return true;
    }
    let b = o.as_bytes();
    b.len() == 6
        && b[3] == b':'
        && digits(&o[1..3], 2).is_some_and(|h| h < 24)
        && digits(&o[4..], 2).is_some_and(|m| m < 60)
}

fn clock_ok(c: &str) -> bool {
    let (hms, frac) = match c.split_once('.') {
        Some((hms, f)) => (hms, Some(f)),
        None => (c, None),
    };
    if frac.is_some_and(|f| f.is_empty() || !f.bytes().all(|b| b.is_ascii_digit())) {
        return false;
    }
    let parts: Vec<&str> = hms.split(':').collect();
    match parts.as_slice() {
        [h, m] if frac.is_none() => digits(h, 2).is_some_and(|h| h < 24) && digits(m, 2).is_some_and(|m| m < 60),
        // 60: a leap second.
        [h, m, s] => {
            digits(h, 2).is_some_and(|h| h < 24)
                && digits(m, 2).is_some_and(|m| m < 60)
                && digits(s, 2).is_some_and(|s| s <= 60)
        }
        _ => false,
    }
}

/// `local@domain.tld`, no spaces: what people mean; the agent can be stricter.
pub fn email(s: &str) -> bool {
    let Some((local, domain)) = s.rsplit_once('@') else { return false };
    !local.is_empty()
        && local.len() <= 64
        && !s.chars().any(char::is_whitespace)
        && domain.contains('.')
        && !domain.starts_with('.')
        && !domain.ends_with('.')
        && !domain.contains("..")
}

/// An absolute URI: `scheme:` followed by something, no spaces.
pub fn uri(s: &str) -> bool {
    let Some((scheme, rest)) = s.split_once(':') else { return false };
    let mut cs = scheme.chars();
    cs.next().is_some_and(|c| c.is_ascii_alphabetic())
        && cs.all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'))
        && !rest.is_empty()
        && !s.chars().any(|c| c.is_whitespace() || c.is_control())
}

/// `8-4-4-4-12` hex digits.
pub fn uuid(s: &str) -> bool {
    let groups: Vec<&str> = s.split('-').collect();
    groups.len() == 5
        && groups.iter().zip([8, 4, 4, 4, 12]).all(|(g, n)| g.len() == n && g.bytes().all(|b| b.is_ascii_hexdigit()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates() {
        for ok in ["2026-11-23", "2024-02-29", "2000-02-29", "0001-01-01"] {
            assert!(date(ok), "{ok}");
        }
        for bad in [
            "2026-13-01",
            "2023-02-29",
            "1900-02-29",
            "2026-11-31",
            "26-11-23",
            "2026/11/23",
            "2026-11-23T",
            "２０２６-11-23",
        ] {
            assert!(!date(bad), "{bad}");
        }
    }

    #[test]
    fn times_and_date_times() {
        for ok in ["14:30", "14:30:00", "23:59:60", "14:30:00.123", "14:30:00Z", "14:30:00+02:00"] {
            assert!(time(ok), "{ok}");
        }
        for bad in ["24:00", "14:60", "1:30", "14:30:00.", "14:30:00+2", "noon"] {
            assert!(!time(bad), "{bad}");
        }
        for ok in ["2026-11-23T14:30:00Z", "2026-11-23t14:30:00.5-05:00", "2026-11-23 14:30:00+00:00"] {
            assert!(date_time(ok), "{ok}");
        }
        // RFC 3339 needs seconds and an offset.
        for bad in ["2026-11-23T14:30Z", "2026-11-23T14:30:00", "2026-11-23", "2026-02-30T00:00:00Z"] {
            assert!(!date_time(bad), "{bad}");
        }
    }

    #[test]
    fn emails_uris_uuids() {
        assert!(email("a.b+c@example.org"));
        for bad in ["a@b", "@x.org", "a b@x.org", "a@.org", "a@x..org", "plain"] {
            assert!(!email(bad), "{bad}");
        }
        for ok in ["https://example.org/a?b#c", "urn:isbn:0451450523", "mailto:a@b.c", "git+ssh://h/r"] {
            assert!(uri(ok), "{ok}");
        }
        for bad in ["example.org", "/relative", "1http://x", "https://a b", "https:"] {
            assert!(!uri(bad), "{bad}");
        }
        assert!(uuid("123e4567-e89b-12d3-a456-426614174000"));
        assert!(uuid("123E4567-E89B-12D3-A456-426614174000"));
        assert!(!uuid("123e4567e89b12d3a456426614174000"));
        assert!(!uuid("123e4567-e89b-12d3-a456-42661417400g"));
        assert_eq!(problem("hostname", "anything"), None);
        assert_eq!(problem("date", "x").as_deref(), Some("Must be a date like 2026-11-23"));
    }
}
