//! Per-agent outbound headers (an `Authorization` for a gateway in front of an agent):
//! their own table, never joined into what lists or shows agents. A row holds the URL it
//! was set for: the headers go to that URL only, and a URL change deletes the row.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum AgentHeaders {
    Table,
    AgentId,
    AgentUrl,
    Headers,
    UpdatedAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(AgentHeaders::Table)
                    .col(ColumnDef::new(AgentHeaders::AgentId).string_len(255).not_null().primary_key())
                    .col(ColumnDef::new(AgentHeaders::AgentUrl).text().not_null())
                    // A JSON array of [name, value] pairs, in the order they are sent.
                    .col(ColumnDef::new(AgentHeaders::Headers).text().not_null())
                    .col(ColumnDef::new(AgentHeaders::UpdatedAt).timestamp_with_time_zone().not_null())
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.drop_table(Table::drop().table(AgentHeaders::Table).to_owned()).await
    }
}
