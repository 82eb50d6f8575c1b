//! Workflow runs as the API and the pages see them.

use crate::schema::InputSchema;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// Where a run is in its life. `queued` and `running` are the only states that change;
/// every other one is final.
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RunStatus {
    Queued,
    Running,
    Succeeded,
    Failed,
    Cancelled,
    TimedOut,
    /// The dashboard stopped while a synchronous call was in flight; it is never resent.
    Interrupted,
}

impl RunStatus {
    pub const ALL: [RunStatus; 7] = [
        Self::Queued,
        Self::Running,
        Self::Succeeded,
        Self::Failed,
        Self::Cancelled,
        Self::TimedOut,
        Self::Interrupted,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Queued => "queued",
            Self::Running => "running",
            Self::Succeeded => "succeeded",
            Self::Failed => "failed",
            Self::Cancelled => "cancelled",
            Self::TimedOut => "timed_out",
            Self::Interrupted => "interrupted",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|st| st.as_str() == s)
    }

    /// What a person reads: "timed out" rather than `timed_out`.
    pub fn label(self) -> &'static str {
        match self {
            Self::TimedOut => "timed out",
            other => other.as_str(),
        }
    }

    pub fn is_final(self) -> bool {
        !matches!(self, Self::Queued | Self::Running)
    }
}

/// A run as the API, the run page and the history show it.
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RunView {
    pub run_id: String,
    pub agent_id: String,
    pub workflow: String,
    pub status: RunStatus,
    pub inputs: Value,
    pub outputs: Option<Value>,
    /// Why the run failed, timed out, was cancelled or interrupted, in words.
    pub error: Option<String>,
    /// The agent's own per-field complaints (its 422), by input path.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub field_errors: Vec<crate::error::FieldError>,
    /// RFC 3339, UTC.
    pub created_at: String,
    pub started_at: Option<String>,
    pub finished_at: Option<String>,
    pub duration_ms: Option<u64>,
    pub total_tokens: Option<u64>,
    pub cost_usd: Option<f64>,
    /// The hash of the input schema the inputs were validated against.
    pub schema_hash: Option<String>,
    /// JSON Pointers of secret inputs: sent to the agent, stored (and shown) as "***".
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub withheld: Vec<String>,
    /// The run this one re-ran, or whose inputs were edited and run again.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rerun_of: Option<String>,
}

/// A run as its page loads it: the run without its documents (`inputs` is null and
/// `outputs` none here), and a bounded preview of each; more is loaded on demand.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RunDetail {
    pub run: RunView,
    pub inputs: super::json_preview::PreviewNode,
    pub outputs: Option<super::json_preview::PreviewNode>,
}

/// `POST /agents/{id}/runs`.
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct CreateRun {
    pub agent_id: String,
    #[cfg_attr(feature = "ssr", schema(value_type = Object))]
    pub inputs: Map<String, Value>,
    /// The same key and body return the same run; the same key with another body is refused.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub idempotency_key: Option<String>,
    /// The run whose inputs these are, edited (Edit and re-run): the new run links to it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rerun_of: Option<String>,
}

/// The answer to creating or re-running a run: it is queued, the agent is called later.
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RunCreated {
    pub run_id: String,
    pub status: RunStatus,
}

/// Filters for the run history. Times are RFC 3339.
#[cfg_attr(feature = "ssr", derive(utoipa::IntoParams))]
#[cfg_attr(feature = "ssr", into_params(parameter_in = Query))]
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct RunQuery {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub agent_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub since: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub until: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit: Option<u64>,
    /// From the previous page's `next_cursor`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cursor: Option<String>,
}

impl RunQuery {
    /// The query string of these filters (`agent_id=a&status=failed&…`), for links to a
    /// history page: the API's `Link: rel="next"` and the page's own pager.
    pub fn to_query_string(&self) -> String {
        let limit = self.limit.map(|l| l.to_string());
        [
            ("agent_id", self.agent_id.as_deref()),
            ("status", self.status.as_deref()),
            ("since", self.since.as_deref()),
            ("until", self.until.as_deref()),
            ("limit", limit.as_deref()),
            ("cursor", self.cursor.as_deref()),
        ]
        .into_iter()
        .filter_map(|(k, v)| v.map(|v| format!("{k}={}", percent_encode(v))))
        .collect::<Vec<_>>()
        .join("&")
    }
}

/// Percent-encodes everything but RFC 3986's unreserved characters, so the text is safe
/// as a query value or as one path segment.
pub fn percent_encode(raw: &str) -> String {
    let mut out = String::with_capacity(raw.len());
    for b in raw.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RunPage {
    pub runs: Vec<RunView>,
    /// Matches of the filters, before paging.
    pub total: u64,
    pub next_cursor: Option<String>,
}

/// An agent's input schema as the dashboard understood it, with its hash.
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SchemaView {
    pub agent_id: String,
    /// The agent's inputs, as the dashboard reads them (fields, types, rules).
    #[cfg_attr(feature = "ssr", schema(value_type = Object))]
    pub schema: InputSchema,
    pub schema_hash: String,
    /// RFC 3339, UTC: when the dashboard fetched it from the agent.
    pub fetched_at: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn history_links_keep_the_filters() {
        let q = RunQuery {
            agent_id: Some("a b".into()),
            status: Some("failed,running".into()),
            limit: Some(2),
            cursor: Some("1_x".into()),
            ..Default::default()
        };
        assert_eq!(q.to_query_string(), "agent_id=a%20b&status=failed%2Crunning&limit=2&cursor=1_x");
        assert_eq!(percent_encode("../a b/é"), "..%2Fa%20b%2F%C3%A9");
    }
}
