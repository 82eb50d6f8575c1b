//! Entries to check: a file's, another registry's list, what mDNS found. Each is probed at
//! its URL and is a candidate, down or not.

use super::{probe, send, Discovery, ENTRY_CONCURRENCY, MAX_ENTRIES, REGISTRY_LIST};
use crate::agent_client::Outbound;
use app::model::{Answered, Candidate, DeclaredAgent, DiscoveryEvent};
use app::validation::AgentUrl;
use futures::StreamExt;
use serde_json::Value;

impl Discovery {
    /// Each entry probed at its URL; every entry is a candidate, down or not.
    pub(super) async fn check_entries(&self, entries: Vec<DeclaredAgent>, tx: &super::Events) -> (u64, u64) {
        let total = entries.len() as u64;
        if !send(tx, DiscoveryEvent::Started { total }).await {
            return (0, 0);
        }
        let mut checks = futures::stream::iter(entries)
            .map(|entry| async move { self.check_entry(entry).await })
            .buffer_unordered(ENTRY_CONCURRENCY);
        let (mut done, mut found) = (0u64, 0u64);
        while let Some(candidate) = checks.next().await {
            done += 1;
            found += u64::from(candidate.answered.addable() && candidate.answered != Answered::NoAnswer);
            if !self.send_candidate(candidate, tx).await {
                break;
            }
        }
        (done, found)
    }

    pub(super) async fn check_entry(&self, entry: DeclaredAgent) -> Candidate {
        let metadata =
            entry.metadata.as_ref().and_then(|m| app::validation::parse_metadata(m).ok()).unwrap_or_default();
        let mut candidate = match AgentUrl::parse(&entry.url) {
            Ok(base) => probe::probe(&self.client, &base).await,
            Err(e) => Candidate {
                agent_id: String::new(),
                agent_name: String::new(),
                agent_url: entry.url.clone(),
                metadata: Default::default(),
                answered: Answered::NoAnswer,
                detail: Some(e),
                registered: None,
            },
        };
        // The entry's own words win over what the agent says of itself.
        candidate.agent_id = entry.id;
        if let Some(name) = entry.name.filter(|n| !n.trim().is_empty()) {
            candidate.agent_name = name;
        } else if candidate.agent_name.is_empty() {
            candidate.agent_name = candidate.agent_id.clone();
        }
        candidate.metadata.extend(metadata);
        // Another registry's IDs follow its rules, not ours: said now, not only when added.
        if let Err(e) = app::validation::AgentId::parse(&candidate.agent_id) {
            candidate.detail = Some(format!("its ID cannot be registered here: {e}"));
        }
        candidate
    }

    /// Another registry's agents: the old Python registry (`GET /agents?include_dead=true`:
    /// its default lists live agents only) or another dashboard (`…/api/v1`).
    pub(super) async fn registry_list(&self, base: &AgentUrl, auth: &Outbound) -> Result<Vec<DeclaredAgent>, String> {
        let answer = self
            .client
            .get_once(base, "agents?include_dead=true", REGISTRY_LIST, auth)
            .await
            .map_err(|e| format!("{}/agents: {e}", base.as_str()))?;
        if matches!(answer.status.as_u16(), 401 | 403) {
            let given = if auth.is_empty() {
                "no token was given (another dashboard with access control on wants one: `token` in the API, \
                 --registry-token-file on the command line)"
            } else {
                "the token given was refused"
            };
            return Err(format!(
                "{}/agents answered {}: {given}",
                base.as_str(),
                crate::agent_client::status_text(answer.status)
            ));
        }
        if !answer.status.is_success() {
            return Err(format!(
                "{}/agents answered {} (another dashboard's registry is at …/api/v1)",
                base.as_str(),
                crate::agent_client::status_text(answer.status)
            ));
        }
        // Read into the fields used, the rest skipped unread: a list of 10,000 agents as
        // `Value`s would take ten times its size.
        let listed: Vec<Listed> = serde_json::from_slice(&answer.body)
            .map_err(|e| format!("{}/agents is not a registry's list of agents: {e}", base.as_str()))?;
        if listed.len() > MAX_ENTRIES {
            return Err(format!("{} agents listed, at most {MAX_ENTRIES} at once", listed.len()));
        }
        Ok(listed.into_iter().filter_map(Listed::entry).collect())
    }
}

/// One agent of another registry's list: the old registry's record (`host`, `port`) or
/// our agent object (`agent_url`). Other fields are skipped; an entry without an ID or an
/// address is left out.
#[derive(serde::Deserialize)]
struct Listed {
    agent_id: Option<String>,
    agent_name: Option<String>,
    agent_url: Option<String>,
    host: Option<String>,
    port: Option<u16>,
    metadata: Option<Value>,
}

impl Listed {
    fn entry(self) -> Option<DeclaredAgent> {
        let url = match self.agent_url {
            Some(url) => url,
            None => {
                let host = self.host?;
                let host = if host.contains(':') { format!("[{host}]") } else { host };
                format!("http://{host}:{}", self.port?)
            }
        };
        Some(DeclaredAgent {
            id: self.agent_id?,
            name: self.agent_name.map(|n| probe::one_line(&n, 200)),
            url,
            metadata: self.metadata.filter(|m| !m.is_null()),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn listed(raw: Value) -> Option<DeclaredAgent> {
        serde_json::from_value::<Listed>(raw).unwrap().entry()
    }

    #[test]
    fn both_registries_lists_are_read() {
        let old = json!({"agent_id": "a", "agent_name": "A", "host": "10.0.0.5", "port": 8000, "metadata": "{\"team\": \"x\"}",
                         "is_alive": false, "ttl_seconds": 60});
        assert_eq!(
            listed(old),
            Some(DeclaredAgent {
                id: "a".into(),
                name: Some("A".into()),
                url: "http://10.0.0.5:8000".into(),
                metadata: Some(json!("{\"team\": \"x\"}"))
            })
        );
        let ours = json!({"agent_id": "b", "agent_name": "B", "agent_url": "http://h:1/p", "metadata": {}});
        assert_eq!(listed(ours).unwrap().url, "http://h:1/p");
        assert_eq!(listed(json!({"agent_id": "c", "host": "::1", "port": 9})).unwrap().url, "http://[::1]:9");
        assert_eq!(listed(json!({"agent_name": "no id"})), None);
    }
}
