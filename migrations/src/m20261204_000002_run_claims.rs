//! `runs.claimed_by`: the dashboard carrying out a queued or running run. Its lease is that
//! dashboard's membership row (`nodes`): while the row is fresh the run is its; after the
//! node timeout another dashboard takes it over. NULL: runs from before, or imported.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Runs {
    Table,
    ClaimedBy,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(Runs::Table)
                    .add_column(ColumnDef::new(Runs::ClaimedBy).string_len(64).null())
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.alter_table(Table::alter().table(Runs::Table).drop_column(Runs::ClaimedBy).to_owned()).await
    }
}
