//! The server functions the SPA calls, one module per domain. Each takes its request
//! whole and calls one service method (`crate::services`), the same one the REST API
//! calls; the rules live in the server's services.

mod agents;
mod runs;

pub use agents::*;
pub use runs::*;
