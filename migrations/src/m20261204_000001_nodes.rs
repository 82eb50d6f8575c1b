//! Dashboards sharing one database: each is a row, renewed every few seconds. One unseen
//! for the node timeout is gone; its share of the work moves to the others.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Nodes {
    Table,
    NodeId,
    Address,
    Version,
    StartedAt,
    SeenAt,
    AgentsChecked,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Nodes::Table)
                    .col(ColumnDef::new(Nodes::NodeId).string_len(64).not_null().primary_key())
                    .col(ColumnDef::new(Nodes::Address).string_len(512).not_null())
                    .col(ColumnDef::new(Nodes::Version).string_len(64).not_null())
                    .col(ColumnDef::new(Nodes::StartedAt).timestamp_with_time_zone().not_null())
                    .col(ColumnDef::new(Nodes::SeenAt).timestamp_with_time_zone().not_null())
                    .col(ColumnDef::new(Nodes::AgentsChecked).big_integer().not_null().default(0))
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.drop_table(Table::drop().table(Nodes::Table).to_owned()).await
    }
}
