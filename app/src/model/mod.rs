//! The serde types both sides share. Their JSON is also the REST API's (docs/api.md).

mod access;
mod agents;
mod discovery;
pub mod events;
mod health;
pub mod json_preview;
mod runs;
mod status;

pub use access::*;
pub use agents::*;
pub use discovery::*;
pub use health::*;
pub use runs::*;
pub use status::*;
