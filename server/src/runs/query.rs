//! The run history's query: filters, page size and cursor, every mistake named.

use super::{store, DEFAULT_PAGE, MAX_PAGE};
use crate::error::ServiceError;
use app::error::FieldError;
use app::model::{RunQuery, RunStatus};
use app::validation::RunId;

pub(super) fn parse_query(query: &RunQuery) -> Result<(store::Filter, Option<store::Cursor>, u64), ServiceError> {
    let mut errors = Vec::new();
    let agent_id = query.agent_id.as_deref().map(str::trim).filter(|a| !a.is_empty()).map(str::to_owned);
    let mut statuses = Vec::new();
    for s in query.status.as_deref().unwrap_or("").split(',').map(str::trim).filter(|s| !s.is_empty()) {
        match RunStatus::parse(s) {
            Some(st) => statuses.push(st),
            None => errors.push(FieldError::new(
                "status",
                format!("Unknown status {s:?}; use one of {}", RunStatus::ALL.map(RunStatus::as_str).join(", ")),
            )),
        }
    }
    let mut time = |name: &str, raw: &Option<String>| match raw.as_deref().map(str::trim).filter(|t| !t.is_empty()) {
        None => None,
        Some(t) => match parse_time(t) {
            Some(t) => Some(t),
            None => {
                errors.push(FieldError::new(
                    name,
                    format!("{name} must be an RFC 3339 time like 2026-11-23T10:00:00Z or a date like 2026-11-23"),
                ));
                None
            }
        },
    };
    let since = time("since", &query.since);
    // A bare date as `until` includes that day.
    let until = time("until", &query.until).map(|t| match query.until.as_deref().map(str::trim) {
        Some(raw) if raw.len() == 10 => t + chrono::Duration::days(1),
        _ => t,
    });
    let limit = query.limit.unwrap_or(DEFAULT_PAGE);
    if limit == 0 || limit > MAX_PAGE {
        errors.push(FieldError::new("limit", format!("limit must be between 1 and {MAX_PAGE}")));
    }
    let cursor = match query.cursor.as_deref().filter(|c| !c.is_empty()) {
        None => None,
        Some(raw) => match parse_cursor(raw) {
            Some(c) => Some(c),
            None => {
                errors.push(FieldError::new(
                    "cursor",
                    "cursor is not one this dashboard handed out; start from the first page",
                ));
                None
            }
        },
    };
    if !errors.is_empty() {
        return Err(ServiceError::Invalid(errors));
    }
    Ok((store::Filter { agent_id, statuses, since, until }, cursor, limit))
}

/// RFC 3339, or a bare date meaning its midnight UTC.
fn parse_time(raw: &str) -> Option<chrono::DateTime<chrono::Utc>> {
    if let Ok(t) = chrono::DateTime::parse_from_rfc3339(raw) {
        return Some(t.with_timezone(&chrono::Utc));
    }
    chrono::NaiveDate::parse_from_str(raw, "%Y-%m-%d").ok()?.and_hms_opt(0, 0, 0).map(|t| t.and_utc())
}

pub(super) fn parse_cursor(raw: &str) -> Option<store::Cursor> {
    let (ms, run_id) = raw.split_once('_')?;
    let created_at = chrono::DateTime::from_timestamp_millis(ms.parse().ok()?)?;
    RunId::parse(run_id).ok().map(|_| store::Cursor { created_at, run_id: run_id.to_owned() })
}

#[cfg(test)]
mod tests {
    use super::*;
    use app::error::ApiError;

    #[test]
    fn queries_are_parsed_with_every_mistake_named() {
        let q = RunQuery {
            status: Some("running, failed".into()),
            since: Some("2026-11-23".into()),
            limit: Some(10),
            ..Default::default()
        };
        let (filter, cursor, limit) = parse_query(&q).unwrap();
        assert_eq!(filter.statuses, vec![RunStatus::Running, RunStatus::Failed]);
        assert_eq!(filter.since.unwrap().to_rfc3339(), "2026-11-23T00:00:00+00:00");
        assert_eq!((cursor, limit), (None, 10));

        let bad = RunQuery {
            status: Some("done".into()),
            until: Some("yesterday".into()),
            limit: Some(0),
            cursor: Some("x".into()),
            ..Default::default()
        };
        let fields: Vec<_> =
            ApiError::from(parse_query(&bad).unwrap_err()).fields.into_iter().map(|f| f.field).collect();
        assert_eq!(fields, ["status", "until", "limit", "cursor"]);
    }

    #[test]
    fn cursors_round_trip_and_reject_garbage() {
        let c = parse_cursor("1795300029250_0b7c1b9e-1f7a-4c38-9d1c-9a1d1f0e2a11").unwrap();
        assert_eq!(c.created_at.timestamp_millis(), 1_795_300_029_250);
        assert!(parse_cursor("12_a b").is_none());
        assert!(parse_cursor("x_abc").is_none());
    }
}
