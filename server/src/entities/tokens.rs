use sea_orm::entity::prelude::*;

/// An access token, by name; the token itself is never stored, only its SHA-256 digest.
#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "tokens")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub name: String,
    pub digest: String,
    pub scope: String,
    pub agent_id: Option<String>,
    pub agent_prefix: Option<String>,
    pub created_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
