//! Per-agent outbound headers: what a person sets for an agent behind a gateway (an
//! `Authorization`, an API key), sent with every call to that agent's URL on both
//! transports, never shown again. Values are marked sensitive (hyper keeps them out of
//! HPACK tables) and `Debug` prints names only.

use app::error::FieldError;
use reqwest::header::{HeaderName, HeaderValue};
use std::collections::BTreeMap;
use std::sync::Arc;

pub const MAX_HEADERS: usize = 16;
pub const MAX_BYTES: usize = 8 * 1024;

/// Headers the dashboard sets itself or that describe one connection (hop-by-hop, RFC
/// 9110 §7.6.1), and framing an agent call must not lose control of.
const RESERVED: &[&str] = &[
    "host",
    "connection",
    "keep-alive",
    "proxy-connection",
    "proxy-authenticate",
    "proxy-authorization",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
    "content-length",
    "content-type",
    "accept",
    "accept-encoding",
    "user-agent",
    "expect",
];

/// An agent's outbound headers, cheap to clone (the monitor holds one per agent).
#[derive(Clone, Default, PartialEq)]
pub struct Outbound(Option<Arc<[(HeaderName, HeaderValue)]>>);

impl std::fmt::Debug for Outbound {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list().entries(self.names()).finish()
    }
}

impl Outbound {
    pub fn none() -> Self {
        Outbound(None)
    }

    pub fn is_empty(&self) -> bool {
        self.0.as_ref().is_none_or(|h| h.is_empty())
    }

    pub fn iter(&self) -> impl Iterator<Item = &(HeaderName, HeaderValue)> {
        self.0.iter().flat_map(|h| h.iter())
    }

    pub fn names(&self) -> Vec<String> {
        self.iter().map(|(n, _)| n.as_str().to_owned()).collect()
    }

    /// The values, for masking an agent's echo of them in what is stored.
    pub fn values(&self) -> Vec<String> {
        self.iter().filter_map(|(_, v)| v.to_str().ok().map(str::to_owned)).collect()
    }

    /// Checks what a person sent: every refusal names the header (never its value).
    pub fn parse(headers: &BTreeMap<String, String>) -> Result<Self, Vec<FieldError>> {
        let mut errors = Vec::new();
        let field = |name: &str| format!("outbound_headers.{}", name.chars().take(64).collect::<String>());
        if headers.len() > MAX_HEADERS {
            errors.push(FieldError::new(
                "outbound_headers",
                format!("at most {MAX_HEADERS} outbound headers ({} sent)", headers.len()),
            ));
        }
        let total: usize = headers.iter().map(|(n, v)| n.len() + v.len() + 4).sum();
        if total > MAX_BYTES {
            errors.push(FieldError::new(
                "outbound_headers",
                format!("outbound headers may take at most {} KiB together ({total} bytes sent)", MAX_BYTES / 1024),
            ));
        }
        let mut parsed = Vec::with_capacity(headers.len());
        let mut seen = std::collections::HashSet::new();
        for (name, value) in headers {
            let Ok(header) = HeaderName::from_bytes(name.trim().as_bytes()) else {
                errors.push(FieldError::new(
                    &field(name),
                    format!(
                        "{:?} is not a header name (letters, digits and !#$%&'*+-.^_`|~ only)",
                        name.chars().take(64).collect::<String>()
                    ),
                ));
                continue;
            };
            if RESERVED.contains(&header.as_str()) {
                errors.push(FieldError::new(
                    &field(name),
                    format!(
                        "{header} is set by the dashboard for each call (or is hop-by-hop) and cannot be overridden"
                    ),
                ));
                continue;
            }
            if !seen.insert(header.clone()) {
                errors.push(FieldError::new(
                    &field(name),
                    format!("{header} is given twice (names are case-insensitive)"),
                ));
                continue;
            }
            if !value.is_ascii() {
                // Sent as bytes, they would be read back differently by every gateway.
                errors.push(FieldError::new(&field(name), format!("the value of {header} must be ASCII text")));
                continue;
            }
            if value.contains(['\r', '\n']) {
                errors.push(FieldError::new(&field(name), format!("the value of {header} holds a line break")));
                continue;
            }
            match HeaderValue::from_str(value.trim()) {
                Ok(mut v) => {
                    v.set_sensitive(true);
                    parsed.push((header, v));
                }
                Err(_) => errors.push(FieldError::new(
                    &field(name),
                    format!("the value of {header} holds characters a header cannot carry (control characters)"),
                )),
            }
        }
        if !errors.is_empty() {
            return Err(errors);
        }
        // One order whatever case they were given in: by lower-case name.
        parsed.sort_by(|a, b| a.0.as_str().cmp(b.0.as_str()));
        Ok(Self::from_pairs(parsed))
    }

    fn from_pairs(pairs: Vec<(HeaderName, HeaderValue)>) -> Self {
        if pairs.is_empty() {
            Outbound(None)
        } else {
            Outbound(Some(pairs.into()))
        }
    }

    /// As stored: `[[name, value], …]`.
    pub fn to_json(&self) -> String {
        let pairs: Vec<(&str, &str)> =
            self.iter().filter_map(|(n, v)| v.to_str().ok().map(|v| (n.as_str(), v))).collect();
        serde_json::to_string(&pairs).expect("strings always serialize")
    }

    /// From the stored form; what no longer parses is dropped (with a log line naming it),
    /// never sent half-read.
    pub fn from_json(agent_id: &str, stored: &str) -> Self {
        let pairs: Vec<(String, String)> = match serde_json::from_str(stored) {
            Ok(pairs) => pairs,
            Err(e) => {
                tracing::warn!(%agent_id, error = %e, "stored outbound headers are unreadable; none are sent");
                return Self::none();
            }
        };
        let map: BTreeMap<String, String> = pairs.into_iter().collect();
        Self::parse(&map).unwrap_or_else(|errors| {
            let names: Vec<&str> = errors.iter().map(|e| e.field.as_str()).collect();
            tracing::warn!(%agent_id, refused = ?names, "stored outbound headers no longer pass; none are sent");
            Self::none()
        })
    }

    /// `text` with every value (of 4 characters or more) that appears in it whole replaced
    /// by `***`: an agent or gateway echoing one must not get it stored.
    pub fn mask(&self, text: String) -> String {
        let mut text = text;
        for value in self.values() {
            if value.len() >= 4 && text.contains(value.as_str()) {
                text = text.replace(value.as_str(), app::schema::secrets::MASK);
            }
        }
        text
    }

    /// Adds them to a reqwest request.
    pub fn apply(&self, mut request: reqwest::RequestBuilder) -> reqwest::RequestBuilder {
        for (name, value) in self.iter() {
            request = request.header(name.clone(), value.clone());
        }
        request
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn map(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs.iter().map(|(n, v)| (n.to_string(), v.to_string())).collect()
    }

    fn refusal(pairs: &[(&str, &str)]) -> String {
        let errors = Outbound::parse(&map(pairs)).expect_err("refused");
        errors.iter().map(|e| format!("{}: {}", e.field, e.message)).collect::<Vec<_>>().join("; ")
    }

    #[test]
    fn good_headers_pass_and_print_no_values() {
        let h = Outbound::parse(&map(&[("Authorization", "Bearer s3cret"), ("X-Api-Key", "k")])).unwrap();
        assert_eq!(h.names(), ["authorization", "x-api-key"]);
        assert!(!format!("{h:?}").contains("s3cret"));
        assert!(h.iter().all(|(_, v)| v.is_sensitive()));
        assert_eq!(Outbound::from_json("a", &h.to_json()), h);
        assert!(Outbound::parse(&map(&[])).unwrap().is_empty());
        assert_eq!(
            h.mask("status \"Bearer s3cret\" and k".into()),
            "status \"***\" and k",
            "short values are not searched"
        );
    }

    #[test]
    fn refusals_name_the_header_and_never_the_value() {
        for (pairs, expected) in [
            (vec![("Bad Name", "v")], "outbound_headers.Bad Name: \"Bad Name\" is not a header name"),
            (vec![("Host", "evil")], "outbound_headers.Host: host is set by the dashboard"),
            (vec![("Transfer-Encoding", "chunked")], "hop-by-hop"),
            (vec![("X-A", "a\r\nInjected: 1")], "outbound_headers.X-A: the value of x-a holds a line break"),
            (vec![("X-A", "a\u{7}")], "control characters"),
            (vec![("X-A", "caf\u{e9}")], "must be ASCII text"),
            (vec![("x-a", "1"), ("X-A", "2")], "given twice"),
        ] {
            let got = refusal(&pairs);
            assert!(got.contains(expected), "{pairs:?}: {got}");
            assert!(!got.contains("evil") && !got.contains("Injected"), "a value leaked: {got}");
        }
        let many: Vec<(String, String)> = (0..17).map(|i| (format!("x-{i}"), "v".into())).collect();
        let many: BTreeMap<_, _> = many.into_iter().collect();
        assert!(Outbound::parse(&many).unwrap_err()[0].message.contains("at most 16"));
        let big = "v".repeat(9000);
        assert!(refusal(&[("X-Big", big.as_str())]).contains("at most 8 KiB"));
    }

    #[test]
    fn unreadable_stored_headers_send_nothing() {
        assert!(Outbound::from_json("a", "not json").is_empty());
        assert!(Outbound::from_json("a", r#"[["host","x"]]"#).is_empty());
    }
}
