//! Times as the API writes them: RFC 3339, UTC, milliseconds (`2026-11-21T22:27:09.250Z`).

use chrono::{DateTime, SecondsFormat, Utc};

pub fn timestamp(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Millis, true)
}
