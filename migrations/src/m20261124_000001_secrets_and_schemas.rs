//! Secret inputs and schema drift.
//! - `runs.withheld`: the JSON Pointers of secret inputs that were sent to the agent but
//!   stored as `"***"`; a re-run must ask for them again, and a queued run that still
//!   needs them cannot be sent after a restart.
//! - `schemas`: each input schema a run was validated against, once per hash, so Edit
//!   and re-run can show what changed in the agent's schema since.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Runs {
    Table,
    Withheld,
}

#[derive(DeriveIden)]
enum Schemas {
    Table,
    Hash,
    Schema,
    CreatedAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter().table(Runs::Table).add_column(ColumnDef::new(Runs::Withheld).json().null()).to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(Schemas::Table)
                    .if_not_exists()
                    .col(ColumnDef::new(Schemas::Hash).string_len(64).not_null().primary_key())
                    // The normalised model (app::schema::InputSchema), not the agent's raw JSON.
                    .col(ColumnDef::new(Schemas::Schema).json().not_null())
                    .col(ColumnDef::new(Schemas::CreatedAt).timestamp_with_time_zone().not_null())
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.drop_table(Table::drop().table(Schemas::Table).to_owned()).await?;
        manager.alter_table(Table::alter().table(Runs::Table).drop_column(Runs::Withheld).to_owned()).await
    }
}
