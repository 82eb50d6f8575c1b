//! Setting and reading an agent's outbound headers (`agent_client::outbound`): for the
//! URL the agent is at when they are written, never shown again but by name.

use super::{store, Registry};
use crate::agent_client::Outbound;
use crate::error::ServiceError;
use app::validation::AgentId;

impl Registry {
    /// The names of the agent's outbound headers and the URL they are for.
    pub async fn outbound_header_names(&self, id: &AgentId) -> Result<(Option<String>, Vec<String>), ServiceError> {
        let agent = store::find(self.db.read(), id.as_str())
            .await?
            .ok_or_else(|| ServiceError::AgentNotFound(id.as_str().to_owned()))?;
        Ok(match store::outbound::names(self.db.read(), id.as_str()).await? {
            Some((url, names)) if url == agent.agent_url => (Some(url), names),
            // Set for a URL the agent has left: none are sent.
            _ => (None, Vec::new()),
        })
    }

    /// Sets the agent's outbound headers for its current URL and checks it again with
    /// them at once (a person adding an `Authorization` wants to see it work).
    pub async fn set_outbound_headers(
        &self,
        id: &AgentId,
        headers: &app::model::OutboundHeaders,
    ) -> Result<(String, Vec<String>), ServiceError> {
        let outbound = Outbound::parse(&headers.0).map_err(ServiceError::Invalid)?;
        // A registration may move the agent between the read and the write: then the
        // write finds it gone from that URL and the new one is read (twice at most).
        for _ in 0..3 {
            let agent = store::find(self.db.read(), id.as_str())
                .await?
                .ok_or_else(|| ServiceError::AgentNotFound(id.as_str().to_owned()))?;
            if store::outbound::set_if_at(self.db.write(), id.as_str(), &agent.agent_url, &outbound).await? {
                tracing::info!(agent_id = %id.as_str(), names = ?outbound.names(), "outbound headers set");
                self.schemas.forget(id.as_str());
                self.monitor.outbound(id.as_str(), &agent.agent_url, outbound.clone());
                self.outbox.send(crate::cluster::relay::Note::Outbound(id.as_str().to_owned()));
                return Ok((agent.agent_url, outbound.names()));
            }
        }
        Err(ServiceError::Conflict("The agent kept moving to other URLs while its headers were set; try again.".into()))
    }
}
