//! The configurable-agents server: the dashboard (Leptos SSR + server functions), the JSON
//! API, the health monitor, the database, and the reference test agent.
#![recursion_limit = "256"]

pub mod access;
pub mod agent_client;
pub mod cli;
pub mod cluster;
pub mod db;
pub mod discovery;
pub mod entities;
pub mod error;
pub mod events;
pub mod health;
pub mod http;
pub mod legacy;
pub mod metrics;
pub mod registry;
pub mod remote;
pub mod runs;
pub mod startup;
pub mod state;
pub mod tasks;
pub mod telemetry;
pub mod test_agent;
pub mod time;

/// Errors that stop a command before or while it serves.
pub type StartError = Box<dyn std::error::Error + Send + Sync>;
