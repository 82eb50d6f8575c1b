//! `date-time` fields are edited with the browser's local date-time input, which has no
//! offset; what is sent is RFC 3339 (in UTC), as JSON Schema's `date-time` requires.

/// `2026-11-23T14:30` (local) → `2026-11-23T13:30:00.000Z`. Text that is not a local
/// date-time (typed by hand, or already with an offset) is sent as it is.
pub fn to_rfc3339(local: &str) -> String {
    let tail = local.get(11..).unwrap_or("");
    let plain = local.len() >= 16 && !tail.contains(['Z', 'z', '+', '-']);
    if !plain {
        return local.to_owned();
    }
    #[cfg(all(target_arch = "wasm32", feature = "hydrate"))]
    {
        let d = js_sys::Date::new(&local.into());
        if d.get_time().is_nan() {
            return local.to_owned();
        }
        String::from(d.to_iso_string())
    }
    #[cfg(not(all(target_arch = "wasm32", feature = "hydrate")))]
    {
        // Outside a browser there is no local zone to speak of: UTC.
        if local.len() == 16 {
            format!("{local}:00Z")
        } else {
            format!("{local}Z")
        }
    }
}

/// RFC 3339 → the local `YYYY-MM-DDTHH:MM:SS` a datetime-local input shows.
pub fn from_rfc3339(text: &str) -> String {
    if !crate::schema::formats::date_time(text) {
        return text.to_owned();
    }
    #[cfg(all(target_arch = "wasm32", feature = "hydrate"))]
    {
        let d = js_sys::Date::new(&text.into());
        if d.get_time().is_nan() {
            return text.to_owned();
        }
        format!(
            "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}",
            d.get_full_year(),
            d.get_month() + 1,
            d.get_date(),
            d.get_hours(),
            d.get_minutes(),
            d.get_seconds()
        )
    }
    #[cfg(not(all(target_arch = "wasm32", feature = "hydrate")))]
    {
        text.get(..19).unwrap_or(text).to_owned()
    }
}
