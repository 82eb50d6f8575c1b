//! SeaORM entities; only the services' store modules touch them.

pub mod agent_headers;
pub mod agents;
pub mod health_events;
pub mod latency_rollups;
pub mod nodes;
pub mod runs;
pub mod schemas;
pub mod sessions;
pub mod stored;
pub mod tokens;
