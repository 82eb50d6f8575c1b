//! The schema, one migration per change; every migration runs on SQLite and PostgreSQL.

pub use sea_orm_migration::prelude::*;

mod m20261121_000001_create_agents;
mod m20261123_000001_create_runs;
mod m20261124_000001_secrets_and_schemas;
mod m20261125_000001_health_at_scale;
mod m20261202_000001_rerun_of;
mod m20261202_000002_self_registration;
mod m20261203_000001_access;
mod m20261203_000002_outbound_headers;
mod m20261204_000001_nodes;
mod m20261204_000002_run_claims;
mod m20261204_000003_agent_owner_index;

pub struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(m20261121_000001_create_agents::Migration),
            Box::new(m20261123_000001_create_runs::Migration),
            Box::new(m20261124_000001_secrets_and_schemas::Migration),
            Box::new(m20261125_000001_health_at_scale::Migration),
            Box::new(m20261202_000001_rerun_of::Migration),
            Box::new(m20261202_000002_self_registration::Migration),
            Box::new(m20261203_000001_access::Migration),
            Box::new(m20261203_000002_outbound_headers::Migration),
            Box::new(m20261204_000001_nodes::Migration),
            Box::new(m20261204_000002_run_claims::Migration),
            Box::new(m20261204_000003_agent_owner_index::Migration),
        ]
    }
}
