//! Actions on many agents at once (the list's bulk Remove and Re-check, and the API's
//! `POST /agents/remove` and `/agents/check`): the request's IDs parsed once, then each
//! agent as the single action treats it, reported agent by agent.

use super::Registry;
use crate::cluster::relay::Note;
use crate::entities::agents;
use crate::error::ServiceError;
use app::error::FieldError;
use app::model::{AgentIds, Checking, Removed, Skipped, BULK_MAX};
use app::validation::AgentId;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QuerySelect};
use std::collections::{HashMap, HashSet};

/// The request's agents: at least one, at most `BULK_MAX`, each a valid ID (every bad one
/// named by its place), a repeated one once, in the order given.
pub(super) fn parse(request: AgentIds) -> Result<Vec<AgentId>, ServiceError> {
    let count = request.agent_ids.len();
    if count == 0 {
        return Err(ServiceError::invalid_field("agent_ids", "name at least one agent"));
    }
    if count > BULK_MAX {
        return Err(ServiceError::invalid_field(
            "agent_ids",
            format!("at most {BULK_MAX} agents at once; this names {count}"),
        ));
    }
    let mut seen = HashSet::new();
    let mut ids = Vec::with_capacity(count);
    let mut errors = Vec::new();
    for (i, raw) in request.agent_ids.iter().enumerate() {
        match AgentId::parse(raw) {
            Ok(id) if seen.insert(id.as_str().to_owned()) => ids.push(id),
            Ok(_) => {}
            Err(message) => errors.push(FieldError::new(&format!("agent_ids[{i}]"), message)),
        }
    }
    if errors.is_empty() {
        Ok(ids)
    } else {
        Err(ServiceError::Invalid(errors))
    }
}

impl Registry {
    /// Deletes each agent as `remove` does (its health history with it), one transaction
    /// each: a failure is reported for its agent and the rest go on.
    pub async fn remove_many(&self, ids: Vec<AgentId>) -> Removed {
        let mut outcome = Removed::default();
        for id in ids {
            match self.remove(&id).await {
                Ok(()) => outcome.removed.push(id.as_str().to_owned()),
                Err(ServiceError::AgentNotFound(_)) => outcome.already_gone.push(id.as_str().to_owned()),
                Err(e) => {
                    tracing::warn!(agent_id = %id.as_str(), error = %e, "bulk removal: agent not removed");
                    outcome.failed.push(Skipped { agent_id: id.as_str().to_owned(), reason: e.to_string() })
                }
            }
        }
        outcome
    }

    /// Makes each registered, unexpired agent due now. The dashboard that checks it (this
    /// one, or another on the same database: told by the relay) checks it at once; its
    /// result arrives as any check's does.
    pub async fn check_many(&self, ids: Vec<AgentId>) -> Result<Checking, ServiceError> {
        let wanted: Vec<&str> = ids.iter().map(AgentId::as_str).collect();
        // ID and whether it has expired, of those registered (BULK_MAX bounds the IN list).
        let found: HashMap<String, bool> = agents::Entity::find()
            .select_only()
            .column(agents::Column::AgentId)
            .column(agents::Column::ExpiredAt)
            .filter(agents::Column::AgentId.is_in(wanted.iter().copied()))
            .into_tuple::<(String, Option<chrono::DateTime<chrono::Utc>>)>()
            .all(self.db.read())
            .await?
            .into_iter()
            .map(|(id, expired_at)| (id, expired_at.is_some()))
            .collect();
        let mut outcome = Checking::default();
        for id in wanted {
            match found.get(id) {
                Some(false) => outcome.checking.push(id.to_owned()),
                Some(true) => outcome.skipped.push(Skipped {
                    agent_id: id.to_owned(),
                    reason: "expired: it is checked again once it heartbeats or registers".into(),
                }),
                None => outcome.skipped.push(Skipped { agent_id: id.to_owned(), reason: "not registered".into() }),
            }
        }
        if !outcome.checking.is_empty() {
            self.monitor.check_now(Some(outcome.checking.clone()));
            for id in &outcome.checking {
                self.outbox.send(Note::Check(id.clone()));
            }
        }
        Ok(outcome)
    }

    /// Agents another dashboard was asked to check now: those this one checks are due.
    pub fn relayed_checks(&self, agent_ids: Vec<String>) {
        self.monitor.check_now(Some(agent_ids));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ids(raw: &[&str]) -> AgentIds {
        AgentIds { agent_ids: raw.iter().map(|s| (*s).to_owned()).collect() }
    }

    #[test]
    fn a_bulk_request_names_its_agents_once_and_each_bad_one_by_place() {
        let parsed = parse(ids(&["b", "a", "b"])).unwrap();
        assert_eq!(parsed.iter().map(AgentId::as_str).collect::<Vec<_>>(), ["b", "a"]);
        let Err(ServiceError::Invalid(errors)) = parse(ids(&["ok", "", "also ok", "\u{0}"])) else {
            panic!("bad IDs are refused")
        };
        assert_eq!(errors.iter().map(|e| e.field.as_str()).collect::<Vec<_>>(), ["agent_ids[1]", "agent_ids[3]"]);
        assert!(matches!(parse(ids(&[])), Err(ServiceError::Invalid(_))));
        let many: Vec<String> = (0..=BULK_MAX).map(|i| format!("a{i}")).collect();
        let Err(ServiceError::Invalid(errors)) = parse(AgentIds { agent_ids: many }) else { panic!("too many") };
        assert!(errors[0].message.contains("at most 1000"), "{}", errors[0].message);
    }
}
