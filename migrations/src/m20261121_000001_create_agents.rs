//! Agents (manual, self-registered and discovered alike, with their observed health and
//! last schema) and the history of their health changes.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Agents {
    Table,
    AgentId,
    AgentName,
    AgentUrl,
    Source,
    Metadata,
    RegisteredAt,
    UpdatedAt,
    TtlSeconds,
    LastHeartbeatAt,
    HealthState,
    HealthReason,
    HealthLatencyMs,
    HealthCheckedAt,
    ConsecutiveFailures,
    Schema,
    SchemaFetchedAt,
}

#[derive(DeriveIden)]
enum HealthEvents {
    Table,
    Id,
    AgentId,
    State,
    Reason,
    At,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Agents::Table)
                    .if_not_exists()
                    .col(ColumnDef::new(Agents::AgentId).string_len(128).not_null().primary_key())
                    .col(ColumnDef::new(Agents::AgentName).string_len(200).not_null())
                    .col(ColumnDef::new(Agents::AgentUrl).text().not_null())
                    .col(ColumnDef::new(Agents::Source).string_len(32).not_null())
                    .col(ColumnDef::new(Agents::Metadata).json().not_null())
                    .col(ColumnDef::new(Agents::RegisteredAt).timestamp_with_time_zone().not_null())
                    .col(ColumnDef::new(Agents::UpdatedAt).timestamp_with_time_zone().not_null())
                    // Self-registered agents only: liveness comes from heartbeats within the TTL.
                    .col(ColumnDef::new(Agents::TtlSeconds).integer().null())
                    .col(ColumnDef::new(Agents::LastHeartbeatAt).timestamp_with_time_zone().null())
                    .col(ColumnDef::new(Agents::HealthState).string_len(16).not_null().default("unknown"))
                    .col(ColumnDef::new(Agents::HealthReason).text().null())
                    .col(ColumnDef::new(Agents::HealthLatencyMs).big_integer().null())
                    .col(ColumnDef::new(Agents::HealthCheckedAt).timestamp_with_time_zone().null())
                    .col(ColumnDef::new(Agents::ConsecutiveFailures).integer().not_null().default(0))
                    .col(ColumnDef::new(Agents::Schema).json().null())
                    .col(ColumnDef::new(Agents::SchemaFetchedAt).timestamp_with_time_zone().null())
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(HealthEvents::Table)
                    .if_not_exists()
                    .col(ColumnDef::new(HealthEvents::Id).big_integer().not_null().auto_increment().primary_key())
                    .col(ColumnDef::new(HealthEvents::AgentId).string_len(128).not_null())
                    .col(ColumnDef::new(HealthEvents::State).string_len(16).not_null())
                    .col(ColumnDef::new(HealthEvents::Reason).text().null())
                    .col(ColumnDef::new(HealthEvents::At).timestamp_with_time_zone().not_null())
                    .foreign_key(
                        ForeignKey::create()
                            .from(HealthEvents::Table, HealthEvents::AgentId)
                            .to(Agents::Table, Agents::AgentId)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_health_events_agent_at")
                    .table(HealthEvents::Table)
                    .col(HealthEvents::AgentId)
                    .col(HealthEvents::At)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.drop_table(Table::drop().table(HealthEvents::Table).to_owned()).await?;
        manager.drop_table(Table::drop().table(Agents::Table).to_owned()).await
    }
}
