//! Self-registered agents: when and why one stopped counting as alive (`expired_at`,
//! indexed: lists filter on it in SQL; `expiry_reason`: `ttl` or `deregistered`), and a
//! note when the dashboard could not use the address an agent sent. Agent IDs widen to
//! the old registry's 255 characters (PostgreSQL checks the length; SQLite does not).

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::DbBackend;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Agents {
    Table,
    AgentId,
    ExpiredAt,
    ExpiryReason,
    AddressNote,
}

/// Every table with an agent ID column.
const ID_TABLES: [&str; 4] = ["agents", "health_events", "runs", "latency_rollups"];

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // SQLite takes one column per ALTER TABLE.
        for column in [
            ColumnDef::new(Agents::ExpiredAt).timestamp_with_time_zone().null().to_owned(),
            ColumnDef::new(Agents::ExpiryReason).string_len(16).null().to_owned(),
            ColumnDef::new(Agents::AddressNote).text().null().to_owned(),
        ] {
            let mut column = column;
            manager.alter_table(Table::alter().table(Agents::Table).add_column(&mut column).to_owned()).await?;
        }
        manager
            .create_index(
                Index::create().name("idx_agents_expired_at").table(Agents::Table).col(Agents::ExpiredAt).to_owned(),
            )
            .await?;
        if manager.get_database_backend() == DbBackend::Postgres {
            for table in ID_TABLES {
                manager
                    .alter_table(
                        Table::alter()
                            .table(Alias::new(table))
                            .modify_column(ColumnDef::new(Agents::AgentId).string_len(255).not_null())
                            .to_owned(),
                    )
                    .await?;
            }
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.drop_index(Index::drop().name("idx_agents_expired_at").table(Agents::Table).to_owned()).await?;
        for column in [Agents::ExpiredAt, Agents::ExpiryReason, Agents::AddressNote] {
            manager.alter_table(Table::alter().table(Agents::Table).drop_column(column).to_owned()).await?;
        }
        Ok(())
    }
}
