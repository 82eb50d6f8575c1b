//! What answers at one address: our agent protocol (with or without a usable `/schema`), a
//! LangServe app, an A2A agent, some other HTTP server, or nothing. Each question is one
//! short call under the network policy, on a connection of its own.

use crate::agent_client::{judge_health_body, AgentClient, CallLimits, Outbound};
use app::model::{Answered, Candidate};
use app::validation::{AgentId, AgentUrl};
use serde_json::{Map, Value};
use std::time::Duration;

/// A probe's calls are small and quick: an address that has not answered in this long is
/// skipped (a port that accepts and never answers costs the scan this, once).
const QUICK: CallLimits = CallLimits { timeout: Duration::from_millis(1500), max_body: 64 * 1024 };
const SCHEMA: CallLimits = CallLimits { timeout: Duration::from_secs(3), max_body: 1024 * 1024 };
/// The longest one probe can take: `/health`, then `/schema`, or the two A2A cards and
/// LangServe's schema.
pub const LONGEST: Duration = Duration::from_millis(1500 * 4);

/// What answered at `base`; `Answered::NoAnswer` (with the reason) when nothing did.
pub async fn probe(client: &AgentClient, base: &AgentUrl) -> Candidate {
    let mut found = Candidate {
        agent_id: String::new(),
        agent_name: String::new(),
        agent_url: base.as_str().to_owned(),
        metadata: Map::new(),
        answered: Answered::NoAnswer,
        detail: None,
        registered: None,
    };
    let health = match client.get_once(base, "health", QUICK, &Outbound::none()).await {
        Ok(answer) => answer,
        Err(e) => {
            found.detail = Some(e.to_string());
            return found;
        }
    };
    let said: Value = serde_json::from_slice(&health.body).unwrap_or(Value::Null);
    // Our protocol's `/health` is an object with a string `status`, healthy or not (an
    // agent that is down says so, often with a 503): that is an agent, not "not an agent".
    // Any other status (a 404 page that happens to be such an object) is not an agent.
    let ours = (health.status.is_success() || health.status.is_server_error())
        && said.get("status").is_some_and(Value::is_string);
    if ours {
        found.agent_id = said
            .get("agent_id")
            .and_then(Value::as_str)
            .filter(|id| AgentId::parse(id).is_ok())
            .unwrap_or_default()
            .to_owned();
        found.agent_name = said.get("agent_name").and_then(Value::as_str).map(|n| one_line(n, 120)).unwrap_or_default();
        if let Some(version) = said.get("version").and_then(Value::as_str) {
            found.metadata.insert("version".into(), Value::String(one_line(version, 120)));
        }
        let status = crate::agent_client::status_text(health.status);
        match judge_health_body(&health.body) {
            Err(why) => {
                found.answered = Answered::Unhealthy;
                found.detail = Some(format!("/health: {status}, {}", one_line(&why, 200)));
            }
            Ok(()) if !health.status.is_success() => {
                found.answered = Answered::Unhealthy;
                found.detail = Some(format!("/health: {status}"));
            }
            Ok(()) => match schema_of(client, base).await {
                Ok(schema) => {
                    let inputs = schema.fields.len();
                    let workflow = schema.workflow.clone().unwrap_or_else(|| "workflow".into());
                    found.detail = Some(format!("{workflow}: {inputs} input{}", if inputs == 1 { "" } else { "s" }));
                    if found.agent_name.is_empty() {
                        found.agent_name = app::schema::humanize(&workflow);
                    }
                    found.answered = Answered::Agent;
                }
                Err(why) => {
                    found.answered = Answered::AgentWithoutSchema;
                    found.detail = Some(why);
                }
            },
        }
    } else if let Some(card) = a2a_card(client, base).await {
        found.answered = Answered::A2a;
        found.agent_name = card.get("name").and_then(Value::as_str).map(|n| one_line(n, 120)).unwrap_or_default();
        found.detail = card.get("description").and_then(Value::as_str).map(|d| one_line(d, 200));
    } else if is_langserve(client, base).await {
        found.answered = Answered::Langserve;
        found.detail = Some("/input_schema answers; runs go to /invoke".into());
    } else {
        found.answered = Answered::NotAnAgent;
        found.detail = Some(format!("/health: {}", crate::agent_client::status_text(health.status)));
    }
    // Not the workflow's name: instances of one workflow would all take the same ID.
    if found.agent_id.is_empty() {
        found.agent_id = fallback_id(base);
    }
    if found.agent_name.is_empty() {
        found.agent_name = found.agent_id.clone();
    }
    found
}

/// What something says of itself (a name, a description), made one line of at most
/// `max` characters: it is shown in a table, on the page and in a terminal.
pub fn one_line(said: &str, max: usize) -> String {
    let flat: String = said.chars().map(|c| if c.is_control() { ' ' } else { c }).collect();
    crate::agent_client::truncate(flat.trim(), max)
}

async fn schema_of(client: &AgentClient, base: &AgentUrl) -> Result<app::schema::InputSchema, String> {
    let answer =
        client.get_once(base, "schema", SCHEMA, &Outbound::none()).await.map_err(|e| format!("/schema: {e}"))?;
    if !answer.status.is_success() {
        return Err(format!("/schema: {}", crate::agent_client::status_text(answer.status)));
    }
    let raw: Value = serde_json::from_slice(&answer.body).map_err(|e| format!("/schema is not JSON: {e}"))?;
    app::schema::parse_schema(&raw).map_err(|e| format!("/schema: {e}"))
}

/// An A2A agent card (`/.well-known/agent-card.json`; `agent.json` before A2A 0.3).
async fn a2a_card(client: &AgentClient, base: &AgentUrl) -> Option<Map<String, Value>> {
    for path in [".well-known/agent-card.json", ".well-known/agent.json"] {
        let Ok(answer) = client.get_once(base, path, QUICK, &Outbound::none()).await else { return None };
        if answer.status.is_success() {
            if let Ok(Value::Object(card)) = serde_json::from_slice(&answer.body) {
                if card.contains_key("name") && (card.contains_key("skills") || card.contains_key("capabilities")) {
                    return Some(card);
                }
            }
        }
    }
    None
}

/// LangServe serves its runnable's input schema as JSON Schema at `/input_schema`.
async fn is_langserve(client: &AgentClient, base: &AgentUrl) -> bool {
    match client.get_once(base, "input_schema", QUICK, &Outbound::none()).await {
        Ok(answer) if answer.status.is_success() => {
            matches!(serde_json::from_slice::<Value>(&answer.body), Ok(Value::Object(s)) if s.contains_key("type") || s.contains_key("title") || s.contains_key("$defs"))
        }
        _ => false,
    }
}

/// `127.0.0.1-8002`, `::1-8002`: an agent that does not say its ID is named by its address.
fn fallback_id(base: &AgentUrl) -> String {
    match url::Url::parse(base.as_str()) {
        Ok(url) => {
            let host = url.host_str().unwrap_or_default().trim_matches(|c| c == '[' || c == ']');
            format!("{host}-{}", url.port_or_known_default().unwrap_or(80))
        }
        Err(_) => base.as_str().replace(['/', '?', '#', '%'], "-"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_address_makes_an_id() {
        assert_eq!(fallback_id(&AgentUrl::parse("http://127.0.0.1:8002").unwrap()), "127.0.0.1-8002");
        assert_eq!(fallback_id(&AgentUrl::parse("http://[::1]:8002").unwrap()), "::1-8002");
        assert!(AgentId::parse(&fallback_id(&AgentUrl::parse("http://[fd00::1]/prefix").unwrap())).is_ok());
    }
}
