//! Wall-clock helpers shared by server rendering and the browser: "12 s ago" from the
//! RFC 3339 timestamps the server sends, without a date library in the WASM bundle.

/// Milliseconds since the Unix epoch, now.
pub fn now_ms() -> f64 {
    #[cfg(all(target_arch = "wasm32", feature = "hydrate"))]
    {
        js_sys::Date::now()
    }
    #[cfg(not(all(target_arch = "wasm32", feature = "hydrate")))]
    {
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_millis() as f64).unwrap_or(0.0)
    }
}

/// Parses `YYYY-MM-DDTHH:MM:SS[.fff…](Z|±HH:MM)` to epoch milliseconds.
pub fn parse_rfc3339_ms(s: &str) -> Option<f64> {
    let b = s.as_bytes();
    if b.len() < 20 || b[4] != b'-' || b[7] != b'-' || !matches!(b[10], b'T' | b't' | b' ') {
        return None;
    }
    let num = |r: std::ops::Range<usize>| s.get(r)?.parse::<i64>().ok();
    let (y, mo, d) = (num(0..4)?, num(5..7)?, num(8..10)?);
    let (h, mi, se) = (num(11..13)?, num(14..16)?, num(17..19)?);
    let mut rest = &s[19..];
    let mut frac_ms = 0.0;
    if let Some(f) = rest.strip_prefix('.') {
        let digits = f.bytes().take_while(u8::is_ascii_digit).count();
        if digits == 0 {
            return None;
        }
        frac_ms = format!("0.{}", &f[..digits]).parse::<f64>().ok()? * 1000.0;
        rest = &f[digits..];
    }
    let offset_min = match rest {
        "Z" | "z" => 0,
        o if o.len() == 6 && matches!(&o[..1], "+" | "-") => {
            let sign = if o.starts_with('-') { -1 } else { 1 };
            sign * (o.get(1..3)?.parse::<i64>().ok()? * 60 + o.get(4..6)?.parse::<i64>().ok()?)
        }
        _ => return None,
    };
    let days = days_from_civil(y, mo, d);
    let secs = days * 86_400 + h * 3600 + mi * 60 + se - offset_min * 60;
    Some(secs as f64 * 1000.0 + frac_ms)
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// "just now", "42 s ago", "5 min ago", "3 h ago", "2 d ago".
pub fn relative(now_ms: f64, then_ms: f64) -> String {
    let secs = ((now_ms - then_ms) / 1000.0).floor();
    if secs < 2.0 {
        return "just now".into();
    }
    let secs = secs as u64;
    match secs {
        0..=59 => format!("{secs} s ago"),
        60..=3599 => format!("{} min ago", secs / 60),
        3600..=86_399 => format!("{} h ago", secs / 3600),
        _ => format!("{} d ago", secs / 86_400),
    }
}

/// When an agent was last checked, as far as a page can know: `checked_ms` is the last
/// check *published* to it. While the event stream is live, unchanged results arrive at
/// most every `published_every_ms`, yet the agent is still checked every `interval_ms`;
/// so within that window (and one interval more for the check in flight) the time is
/// that of the agent's latest slot on its schedule, never a growing "29 s ago" that
/// reads as a problem. Past the window, or while the stream is down, it is the stored
/// time as it is: then it is stale for real.
pub fn projected_check_ms(now_ms: f64, checked_ms: f64, interval_ms: f64, published_every_ms: f64, live: bool) -> f64 {
    let age = now_ms - checked_ms;
    // Checked less often than results are published: every check is pushed, nothing to
    // project. Otherwise the next push is due within the window rounded up to a slot.
    let window = (published_every_ms / interval_ms).ceil() * interval_ms + interval_ms;
    if !live || interval_ms <= 0.0 || interval_ms >= published_every_ms || age < 0.0 || age > window {
        return checked_ms;
    }
    checked_ms + (age / interval_ms).floor() * interval_ms
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_last_check_follows_the_schedule_between_publications() {
        let (every, window) = (10_000.0, 30_000.0);
        // 29 s after the last published check, checked every 10 s: the last slot was 9 s ago.
        assert_eq!(projected_check_ms(129_000.0, 100_000.0, every, window, true), 120_000.0);
        assert_eq!(relative(129_000.0, projected_check_ms(129_000.0, 100_000.0, every, window, true)), "9 s ago");
        // Within one interval, nothing to project.
        assert_eq!(projected_check_ms(104_000.0, 100_000.0, every, window, true), 100_000.0);
        // Past the window no publication came when one was due: the stored time, stale.
        assert_eq!(projected_check_ms(151_000.0, 100_000.0, every, window, true), 100_000.0);
        // Without the live stream the page cannot know: the stored time.
        assert_eq!(projected_check_ms(129_000.0, 100_000.0, every, window, false), 100_000.0);
        assert_eq!(projected_check_ms(129_000.0, 100_000.0, 0.0, window, true), 100_000.0);
        // Checked every 60 s: every check is pushed; 90 s without one is 90 s, stale.
        assert_eq!(projected_check_ms(190_000.0, 100_000.0, 60_000.0, window, true), 100_000.0);
    }

    #[test]
    fn parses_utc_and_offsets() {
        assert_eq!(parse_rfc3339_ms("1970-01-01T00:00:00Z"), Some(0.0));
        assert_eq!(parse_rfc3339_ms("2026-11-21T22:27:09.250Z"), Some(1_795_300_029_250.0));
        assert_eq!(parse_rfc3339_ms("2026-11-21T23:27:09.250+01:00"), parse_rfc3339_ms("2026-11-21T22:27:09.250Z"));
        assert_eq!(parse_rfc3339_ms("not a date"), None);
        assert_eq!(parse_rfc3339_ms("2026-11-21T22:27:09"), None);
    }

    #[test]
    fn relative_times_read_naturally() {
        assert_eq!(relative(10_000.0, 9_500.0), "just now");
        assert_eq!(relative(50_000.0, 8_000.0), "42 s ago");
        assert_eq!(relative(400_000.0, 0.0), "6 min ago");
        assert_eq!(relative(3.0 * 3_600_000.0, 0.0), "3 h ago");
        assert_eq!(relative(2.5 * 86_400_000.0, 0.0), "2 d ago");
    }
}
