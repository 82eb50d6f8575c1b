use sea_orm::entity::prelude::*;

/// One dashboard sharing the database (`cluster`).
#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "nodes")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub node_id: String,
    pub address: String,
    pub version: String,
    pub started_at: DateTimeUtc,
    pub seen_at: DateTimeUtc,
    pub agents_checked: i64,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
