//! Workflow runs: one row per run, recorded before the agent is called; inputs and outputs
//! as real JSON.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Runs {
    Table,
    RunId,
    AgentId,
    AgentUrl,
    Workflow,
    Status,
    Inputs,
    Outputs,
    Error,
    FieldErrors,
    JobId,
    SchemaHash,
    IdempotencyKey,
    RequestHash,
    Origin,
    CreatedAt,
    StartedAt,
    FinishedAt,
    DurationMs,
    TotalTokens,
    CostUsd,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Runs::Table)
                    .if_not_exists()
                    .col(ColumnDef::new(Runs::RunId).string_len(64).not_null().primary_key())
                    // No foreign key: the history outlives a removed agent.
                    .col(ColumnDef::new(Runs::AgentId).string_len(128).not_null())
                    .col(ColumnDef::new(Runs::AgentUrl).text().not_null())
                    .col(ColumnDef::new(Runs::Workflow).string_len(200).not_null())
                    .col(ColumnDef::new(Runs::Status).string_len(16).not_null())
                    .col(ColumnDef::new(Runs::Inputs).json().not_null())
                    .col(ColumnDef::new(Runs::Outputs).json().null())
                    .col(ColumnDef::new(Runs::Error).text().null())
                    .col(ColumnDef::new(Runs::FieldErrors).json().null())
                    // Set once the agent answered "async": the run can be resumed after a restart.
                    .col(ColumnDef::new(Runs::JobId).text().null())
                    .col(ColumnDef::new(Runs::SchemaHash).string_len(64).null())
                    .col(ColumnDef::new(Runs::IdempotencyKey).string_len(255).null().unique_key())
                    .col(ColumnDef::new(Runs::RequestHash).string_len(64).null())
                    // `dashboard`, or `legacy` for runs imported from the old tool.
                    .col(ColumnDef::new(Runs::Origin).string_len(16).not_null().default("dashboard"))
                    .col(ColumnDef::new(Runs::CreatedAt).timestamp_with_time_zone().not_null())
                    .col(ColumnDef::new(Runs::StartedAt).timestamp_with_time_zone().null())
                    .col(ColumnDef::new(Runs::FinishedAt).timestamp_with_time_zone().null())
                    .col(ColumnDef::new(Runs::DurationMs).big_integer().null())
                    .col(ColumnDef::new(Runs::TotalTokens).big_integer().null())
                    .col(ColumnDef::new(Runs::CostUsd).double().null())
                    .to_owned(),
            )
            .await?;
        // The history pages newest first, overall and per agent; recovery finds live runs.
        for (name, cols) in [
            ("idx_runs_created", vec![Runs::CreatedAt, Runs::RunId]),
            ("idx_runs_agent_created", vec![Runs::AgentId, Runs::CreatedAt]),
            ("idx_runs_status", vec![Runs::Status]),
        ] {
            let mut index = Index::create();
            index.name(name).table(Runs::Table);
            for col in cols {
                index.col(col);
            }
            manager.create_index(index.to_owned()).await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.drop_table(Table::drop().table(Runs::Table).to_owned()).await
    }
}
