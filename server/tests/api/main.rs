//! Integration tests through the real HTTP surface: each test starts the dashboard on a
//! random port with its own database, against real mock agents on loopback.
//! `CA_TEST_POSTGRES=1` with `TEST_DATABASE_URL` runs the same suite on PostgreSQL.

mod access;
mod agents;
mod agents_file;
mod bulk;
mod cli;
mod cluster;
mod discovery;
mod guard;
mod health_monitor;
mod helpers;
mod history;
mod legacy;
mod live;
mod mdns;
mod mock_agent;
mod network_policy;
mod openapi;
mod outbound_headers;
mod overview;
mod pages;
mod recovery;
mod registry;
mod runs;
mod schemas;
mod store;
