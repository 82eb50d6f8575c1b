//! Any type string (`list[dict[str, int]]`, and garbage): never panics, always a kind.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(s) = std::str::from_utf8(data) {
        let kind = app::schema::parse_type(s);
        let _ = kind.type_label();
    }
});
