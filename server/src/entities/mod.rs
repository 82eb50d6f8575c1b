//! SeaORM entities; only the registry and the health monitor touch them.

pub mod agents;
pub mod health_events;
