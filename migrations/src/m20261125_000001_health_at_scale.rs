//! Health at fleet scale.
//! - `agents.health_interval_ms`: an agent's own health-check interval (the dashboard's
//!   when null).
//! - `latency_rollups`: per agent and 5-minute bucket, how many checks ran and failed and
//!   the min/sum/max latency of those that passed — latency over time without a row per
//!   check (10,000 agents every 10 s would be 86 million rows a day). No foreign key:
//!   rows are written only for agents that exist (INSERT … WHERE EXISTS), so a batch
//!   never fails on an agent removed meanwhile; removal deletes them.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Agents {
    Table,
    HealthIntervalMs,
}

#[derive(DeriveIden)]
enum LatencyRollups {
    Table,
    AgentId,
    BucketStart,
    Probes,
    Failures,
    MinMs,
    MaxMs,
    SumMs,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(Agents::Table)
                    .add_column(ColumnDef::new(Agents::HealthIntervalMs).big_integer().null())
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(LatencyRollups::Table)
                    .if_not_exists()
                    .col(ColumnDef::new(LatencyRollups::AgentId).string_len(128).not_null())
                    .col(ColumnDef::new(LatencyRollups::BucketStart).timestamp_with_time_zone().not_null())
                    .col(ColumnDef::new(LatencyRollups::Probes).integer().not_null())
                    .col(ColumnDef::new(LatencyRollups::Failures).integer().not_null())
                    // Null when no check in the bucket passed.
                    .col(ColumnDef::new(LatencyRollups::MinMs).big_integer().null())
                    .col(ColumnDef::new(LatencyRollups::MaxMs).big_integer().null())
                    .col(ColumnDef::new(LatencyRollups::SumMs).big_integer().not_null())
                    .primary_key(Index::create().col(LatencyRollups::AgentId).col(LatencyRollups::BucketStart))
                    .to_owned(),
            )
            .await?;
        // Retention deletes by age across all agents.
        manager
            .create_index(
                Index::create()
                    .name("idx_latency_rollups_bucket")
                    .table(LatencyRollups::Table)
                    .col(LatencyRollups::BucketStart)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.drop_table(Table::drop().table(LatencyRollups::Table).to_owned()).await?;
        manager.alter_table(Table::alter().table(Agents::Table).drop_column(Agents::HealthIntervalMs).to_owned()).await
    }
}
