//! The registry's methods for agents that look after themselves, as the old registry's
//! clients do: register (never refused for their health), heartbeat (in memory), say
//! goodbye at shutdown (deregister, history kept), and whether one may run now.

use super::liveness::Beat;
use super::store::{Claim, SelfRegisterOutcome};
use super::{not_registered, self_registration, store, Registry, Removal, FIRST_CHECK_AFTER};
use crate::access::Token;
use crate::error::ServiceError;
use crate::health::store::Target;
use crate::health::FirstCheck;
use app::model::events::LiveEvent;
use app::model::{AgentSource, Expiry, Registration};
use app::validation::AgentId;
use chrono::{DateTime, Utc};
use self_registration::SelfRegister;
use std::net::IpAddr;
use std::time::Duration;

/// Who registers, heartbeats or deregisters an agent (from the request's credentials).
#[derive(Clone, Copy, Debug)]
pub enum Caller<'a> {
    /// Access control is off, or an admin.
    Anyone,
    /// An agent token: only agents it owns, or self-registered ones nobody owns.
    Token(&'a Token),
    /// No credentials, under `--open-registration`: only agents no token owns.
    Unauthenticated,
}

impl Caller<'_> {
    /// Whether the agent (by its owner in the heartbeat book) is this caller's to keep.
    fn keeps(&self, owner: Option<&str>) -> bool {
        match self {
            Caller::Anyone => true,
            Caller::Token(token) => owner == Some(token.name.as_str()),
            Caller::Unauthenticated => owner.is_none(),
        }
    }

    fn refusal(&self, id: &AgentId) -> ServiceError {
        ServiceError::Forbidden(match self {
            Caller::Token(token) => format!(
                "agent '{}' is not registered with this token ({}): register it with this token first",
                id.as_str(),
                token.name
            ),
            _ => format!(
                "agent '{}' belongs to an agent token: use it (Authorization: Bearer, or /api/v1/t/TOKEN/)",
                id.as_str()
            ),
        })
    }
}

impl Registry {
    /// `DELETE /agents/{id}`: a self-registered agent deregisters (old clients send it at
    /// every shutdown and come back with a registration: their history stays); with
    /// `purge`, or any other agent, it is deleted for good. An agent token or an
    /// unauthenticated caller may only deregister an agent of its own.
    pub async fn remove_or_deregister(
        &self,
        id: &AgentId,
        purge: bool,
        caller: Caller<'_>,
    ) -> Result<Removal, ServiceError> {
        if !matches!(caller, Caller::Anyone) {
            if purge {
                return Err(ServiceError::Forbidden("only an admin may delete an agent for good (purge)".into()));
            }
            match self.liveness.owner(id.as_str()) {
                None => return Err(ServiceError::AgentNotFound(id.to_string())),
                Some(owner) if !caller.keeps(owner.as_deref()) => return Err(caller.refusal(id)),
                Some(_) => {}
            }
        }
        if !purge {
            let last = self.liveness.last(id.as_str());
            if let Some(model) =
                store::deregister(self.db.write(), id.as_str(), last, AgentSource::SelfRegistered).await?
            {
                self.liveness.deregistered(id.as_str());
                self.monitor.park(id.as_str());
                tracing::info!(agent_id = %id.as_str(), "agent deregistered");
                self.bus.publish(LiveEvent::AgentUpserted(store::to_view(model, &self.policy)));
                return Ok(Removal::Deregistered);
            }
        }
        if !matches!(caller, Caller::Anyone) {
            // Not self-registered: only an admin deletes it.
            return Err(ServiceError::Forbidden(format!(
                "agent '{}' was registered by hand: only an admin may remove it",
                id.as_str()
            )));
        }
        self.remove(id).await?;
        Ok(Removal::Deleted)
    }

    /// `POST /agents/register`: an agent registers itself. It is never called here and
    /// never refused for its health (an old agent registers before it listens, and never
    /// tries again); it is checked `FIRST_CHECK_AFTER` later, then at its slots. It wins
    /// over whoever had the ID: old agents register again at every start.
    pub async fn self_register(
        &self,
        request: SelfRegister,
        peer: IpAddr,
        caller: Caller<'_>,
    ) -> Result<Registration, ServiceError> {
        let reg = self_registration::parse(&request, peer, self.client.policy(), self.client.guard())
            .await
            .map_err(ServiceError::Invalid)?;
        let claim = match caller {
            Caller::Anyone => Claim::Anyone,
            Caller::Token(token) => {
                if !token.binding.allows(reg.agent_id.as_str()) {
                    return Err(ServiceError::Forbidden(format!(
                        "this token ({}) may register {} only, not '{}'",
                        token.name,
                        token.binding,
                        reg.agent_id.as_str()
                    )));
                }
                Claim::Token(&token.name)
            }
            Caller::Unauthenticated => Claim::Unowned,
        };
        let stored = match store::self_register(self.db.write(), &reg, claim).await? {
            SelfRegisterOutcome::Stored(stored) => stored,
            SelfRegisterOutcome::Taken(holder) => {
                let id = reg.agent_id.as_str();
                return Err(ServiceError::Forbidden(match holder {
                    // Registered by an admin: by hand, or added from a discovery.
                    Some(h) if h.source != app::model::AgentSource::SelfRegistered.as_str() => format!(
                        "agent ID '{id}' was registered by an admin: an agent cannot take it over (an admin may \
                         remove it first)"
                    ),
                    Some(_) => format!("agent ID '{id}' belongs to another token"),
                    None => format!("agent ID '{id}' was removed while it registered: register again"),
                }));
            }
        };
        let model = stored.model;
        self.liveness.registered(
            &model.agent_id,
            Some(reg.ttl_seconds),
            model.last_heartbeat_at,
            model.owner_token.as_deref(),
        );
        if stored.moved {
            self.schemas.forget(&model.agent_id);
        }
        self.monitor.upsert(Target::from_model(&model), FirstCheck::After(FIRST_CHECK_AFTER));
        tracing::info!(
            agent_id = %model.agent_id, url = %model.agent_url, created = stored.created, moved = stored.moved,
            ttl = reg.ttl_seconds, %peer, note = ?model.address_note, "agent registered itself"
        );
        let agent = store::to_view(model, &self.policy);
        self.bus.publish(LiveEvent::AgentUpserted(agent.clone()));
        Ok(Registration { agent, created: stored.created })
    }

    /// `POST /agents/{id}/heartbeat`: recorded in memory (stored within a second). An
    /// expired agent revives at once: written through, published, checked now.
    pub async fn heartbeat(&self, id: &AgentId, caller: Caller<'_>) -> Result<DateTime<Utc>, ServiceError> {
        if self.outbox.is_shared() && self.liveness.owner(id.as_str()).is_none() {
            // Registered through another dashboard a moment ago (its note may still be on
            // the way): the row decides, not this book.
            if let Some(model) = store::find(self.db.read(), id.as_str()).await? {
                self.liveness.merge(vec![store::loaded_of(&model)], None);
            }
        }
        if let Some(owner) = self.liveness.owner(id.as_str()) {
            if !caller.keeps(owner.as_deref()) {
                return Err(caller.refusal(id));
            }
        }
        match self.liveness.beat(id.as_str(), Utc::now()) {
            Beat::Recorded(at) => Ok(at),
            Beat::Revived(at) => match store::revive(self.db.write(), id.as_str(), at).await {
                Ok(Some(model)) => {
                    tracing::info!(agent_id = %id.as_str(), "expired agent revived by a heartbeat");
                    self.monitor.upsert(Target::from_model(&model), FirstCheck::After(Duration::ZERO));
                    self.bus.publish(LiveEvent::AgentUpserted(store::to_view(model, &self.policy)));
                    Ok(at)
                }
                // Not expired any more in the database: a registration revived it meanwhile,
                // or a purge (--expired-retention) deleted it, and then it must register.
                Ok(None) => match store::find(self.db.read(), id.as_str()).await? {
                    Some(_) => Ok(at),
                    None => {
                        self.liveness.forget(id.as_str());
                        Err(not_registered(id, "it was deleted"))
                    }
                },
                Err(e) => {
                    self.liveness.revival_failed(id.as_str());
                    Err(e.into())
                }
            },
            Beat::Deregistered => Err(not_registered(id, "it deregistered")),
            Beat::Unknown => {
                if self.liveness.first_unknown(id.as_str()) {
                    tracing::warn!(agent_id = %id.as_str(), "heartbeat from an agent that is not registered (logged once an hour per ID)");
                }
                Err(not_registered(id, "it is not registered"))
            }
        }
    }

    /// Registered agents and those alive (`GET /health`).
    pub async fn counts(&self) -> Result<(u64, u64), ServiceError> {
        Ok(store::alive_count(self.db.read()).await?)
    }

    /// Why a run cannot be sent to this agent now: it expired or deregistered.
    pub fn not_alive(agent: &crate::entities::agents::Model) -> Option<String> {
        agent.expired_at?;
        let last = agent.last_heartbeat_at.map_or_else(
            || "it never sent a heartbeat".to_owned(),
            |at| format!("its last heartbeat was at {}", crate::time::timestamp(at)),
        );
        Some(match agent.expiry_reason.as_deref().and_then(Expiry::parse) {
            Some(Expiry::Deregistered) => format!("Agent '{}' deregistered ({last}); it must register again before it can run.", agent.agent_id),
            _ => format!("Agent '{}' expired: {last}, and its TTL has passed. It must heartbeat or register again before it can run.", agent.agent_id),
        })
    }
}
