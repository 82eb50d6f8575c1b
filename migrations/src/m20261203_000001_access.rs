//! Access control: tokens (stored as SHA-256 digests, never as themselves), the sign-in
//! sessions they open (digests too), and which token owns a self-registered agent.
//!
//! An agent's owner is the token's name, not its row: revoking a token and creating one
//! of the same name (rotation) keeps its agents.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Tokens {
    Table,
    Name,
    Digest,
    Scope,
    AgentId,
    AgentPrefix,
    CreatedAt,
}

#[derive(DeriveIden)]
enum Sessions {
    Table,
    Digest,
    TokenDigest,
    CreatedAt,
    ExpiresAt,
}

#[derive(DeriveIden)]
enum Agents {
    Table,
    OwnerToken,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Tokens::Table)
                    .col(ColumnDef::new(Tokens::Name).string_len(64).not_null().primary_key())
                    .col(ColumnDef::new(Tokens::Digest).string_len(64).not_null().unique_key())
                    .col(ColumnDef::new(Tokens::Scope).string_len(16).not_null())
                    .col(ColumnDef::new(Tokens::AgentId).string_len(255).null())
                    .col(ColumnDef::new(Tokens::AgentPrefix).string_len(255).null())
                    .col(ColumnDef::new(Tokens::CreatedAt).timestamp_with_time_zone().not_null())
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(Sessions::Table)
                    .col(ColumnDef::new(Sessions::Digest).string_len(64).not_null().primary_key())
                    .col(ColumnDef::new(Sessions::TokenDigest).string_len(64).not_null())
                    .col(ColumnDef::new(Sessions::CreatedAt).timestamp_with_time_zone().not_null())
                    .col(ColumnDef::new(Sessions::ExpiresAt).timestamp_with_time_zone().not_null())
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_sessions_token_digest")
                    .table(Sessions::Table)
                    .col(Sessions::TokenDigest)
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(Agents::Table)
                    .add_column(ColumnDef::new(Agents::OwnerToken).string_len(64).null())
                    .to_owned(),
            )
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.alter_table(Table::alter().table(Agents::Table).drop_column(Agents::OwnerToken).to_owned()).await?;
        manager.drop_table(Table::drop().table(Sessions::Table).to_owned()).await?;
        manager.drop_table(Table::drop().table(Tokens::Table).to_owned()).await?;
        Ok(())
    }
}
