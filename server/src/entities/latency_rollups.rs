use sea_orm::entity::prelude::*;

/// One agent's checks in one 5-minute bucket: counts, and the latency of those that passed.
#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "latency_rollups")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub agent_id: String,
    #[sea_orm(primary_key, auto_increment = false)]
    pub bucket_start: DateTimeUtc,
    pub probes: i32,
    pub failures: i32,
    pub min_ms: Option<i64>,
    pub max_ms: Option<i64>,
    pub sum_ms: i64,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
