//! An index on `agents.owner_token`: the tokens page counts each token's agents
//! (`access::tokens::owned_counts`, `WHERE owner_token IS NOT NULL GROUP BY owner_token`),
//! which without it read every agent: 1.08 ms at 60 agents, 2.72 at 10,000 (the site
//! bench's `/tokens`), and growing with the fleet.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Agents {
    Table,
    OwnerToken,
}

const INDEX: &str = "idx_agents_owner_token";

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.create_index(Index::create().name(INDEX).table(Agents::Table).col(Agents::OwnerToken).to_owned()).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.drop_index(Index::drop().name(INDEX).table(Agents::Table).to_owned()).await
    }
}
