//! Finding agents on request (`POST /discover`): what to look in, what was found, and
//! adding what a person chose. Nothing is ever discovered or added by itself.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// Where to look.
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DiscoverRequest {
    /// Probe addresses and ports: `127.0.0.1:8000-8100`, `10.0.0.0/28:8000-8010`,
    /// `[::1]:8000`.
    Scan {
        targets: String,
        /// Refused above this many address-port pairs (65,536 when not given).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        max_probes: Option<u64>,
    },
    /// The agents another registry lists: the old Python registry
    /// (`GET {url}/agents?include_dead=true`) or another dashboard (`…/api/v1`).
    Registry {
        url: String,
        /// Sent as `Authorization: Bearer` to the registry: another dashboard with access
        /// control on answers its list only to a token (a read-only one is enough).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        token: Option<String>,
    },
    /// Entries of a configuration file (read where the command runs), checked here.
    Entries { agents: Vec<DeclaredAgent> },
    /// Agents announcing themselves over mDNS (`_configurable-agent._tcp`), listened for
    /// this long (3 s when not given, at most 30).
    Mdns {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        seconds: Option<f64>,
    },
}

/// One agent as a configuration file or another registry declares it.
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct DeclaredAgent {
    pub id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    pub url: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "ssr", schema(value_type = Object))]
    pub metadata: Option<Value>,
}

/// What answered at a candidate's address.
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Answered {
    /// Our agent protocol: `/health` healthy and a `/schema` the form can use.
    Agent,
    /// `/health` healthy, no usable `/schema` (it can be registered; runs need a schema).
    AgentWithoutSchema,
    /// Our protocol's `/health` answer, saying it is not healthy (or with a 5xx): an agent
    /// that is down right now.
    Unhealthy,
    /// A LangServe app (`/input_schema`): not our protocol, listed so it is not a mystery.
    Langserve,
    /// An A2A agent (`/.well-known/agent-card.json`): not our protocol.
    A2a,
    /// An HTTP server that is none of these.
    NotAnAgent,
    /// Nothing answered (a registry's or a file's entry that is down).
    NoAnswer,
}

impl Answered {
    /// Whether adding it makes sense (its `/health` speaks our protocol).
    pub fn addable(self) -> bool {
        self.is_agent() || self == Answered::NoAnswer
    }

    /// Whether it answered our agent protocol, up or down.
    pub fn is_agent(self) -> bool {
        matches!(self, Answered::Agent | Answered::AgentWithoutSchema | Answered::Unhealthy)
    }

    /// Whether it is an agent that is up: one that adding (which checks `/health` first,
    /// unless forced) accepts.
    pub fn is_up(self) -> bool {
        matches!(self, Answered::Agent | Answered::AgentWithoutSchema)
    }

    pub fn label(self) -> &'static str {
        match self {
            Answered::Agent => "agent",
            Answered::AgentWithoutSchema => "agent (no /schema)",
            Answered::Unhealthy => "agent (unhealthy)",
            Answered::Langserve => "LangServe app (not our protocol)",
            Answered::A2a => "A2A agent (not our protocol)",
            Answered::NotAnAgent => "not an agent",
            Answered::NoAnswer => "no answer",
        }
    }
}

/// Something found.
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Candidate {
    pub agent_id: String,
    pub agent_name: String,
    pub agent_url: String,
    #[cfg_attr(feature = "ssr", schema(value_type = Object))]
    pub metadata: Map<String, Value>,
    pub answered: Answered,
    /// What it said of itself (`article_writer: 3 inputs`, `HTTP 404`, the reason it is down).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
    /// The ID of an agent already registered at this URL or with this ID.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub registered: Option<String>,
}

impl Candidate {
    /// An agent of our protocol, up and not registered yet: what "add all" adds (one
    /// that is down is added only when forced).
    pub fn is_new_agent(&self) -> bool {
        self.answered.is_up() && self.registered.is_none()
    }

    /// The candidate as an entry to add.
    pub fn declared(&self) -> DeclaredAgent {
        DeclaredAgent {
            id: self.agent_id.clone(),
            name: Some(self.agent_name.clone()),
            url: self.agent_url.clone(),
            metadata: (!self.metadata.is_empty()).then(|| Value::Object(self.metadata.clone())),
        }
    }
}

/// One line of the answer to `POST /discover` (NDJSON, as it happens).
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum DiscoveryEvent {
    /// How many probes (or entries) there are.
    Started {
        total: u64,
    },
    /// Probes done so far (at most a few times a second).
    Progress {
        done: u64,
        total: u64,
    },
    Candidate(Candidate),
    /// The end: how many were probed, found, and answered without being an agent.
    Done {
        done: u64,
        found: u64,
        seconds: f64,
    },
    /// It could not go on (another registry did not answer, …).
    Failed {
        message: String,
    },
}

/// `POST /discover/add`: the candidates a person chose.
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct AddCandidates {
    pub agents: Vec<DeclaredAgent>,
    /// Add them even when they do not answer now (another registry's dead agents), as
    /// `force` on a registration.
    #[serde(default)]
    pub force: bool,
}

/// What adding one candidate did.
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Added {
    pub agent_id: String,
    pub outcome: AddOutcome,
    /// Why it was not added.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}

#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AddOutcome {
    Added,
    /// The ID is registered already; left as it is.
    Exists,
    Failed,
}
