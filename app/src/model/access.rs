//! Who is looking at the page (the header's sign-out, and whether there is anything to
//! sign in to). The server's access middleware puts it in the request for the server
//! function that reads it.

use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Viewer {
    /// The dashboard requires a token (an admin token exists).
    pub access_control: bool,
    /// The token the viewer signed in with (or sent), by name.
    pub token: Option<String>,
}

/// A token as the tokens page lists it (never the token itself).
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenView {
    pub name: String,
    /// `admin`, `metrics` or `agent`.
    pub scope: String,
    /// For agent tokens: which IDs it may register ("any agent ID", "agent IDs starting
    /// with \"research-\"").
    pub may_register: Option<String>,
    /// Agents it owns.
    pub agents: i64,
    pub created_at: String,
}

/// The tokens page: the tokens, and the agents still heartbeating without one.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokensPage {
    pub access_control: bool,
    pub open_registration: bool,
    pub tokens: Vec<TokenView>,
    /// Agents whose heartbeats were refused for want of a token lately (the first 100).
    pub tokenless: Vec<String>,
    pub tokenless_total: usize,
}

/// A token to create.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CreateToken {
    pub name: String,
    /// `admin`, `metrics` or `agent`.
    pub scope: String,
    pub agent_id: Option<String>,
    pub agent_prefix: Option<String>,
}

/// A token just created: its text, shown this once.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CreatedToken {
    pub name: String,
    pub token: String,
}
