use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "agents")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub agent_id: String,
    pub agent_name: String,
    pub agent_url: String,
    pub source: String,
    pub metadata: Json,
    pub registered_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
    pub ttl_seconds: Option<i32>,
    pub last_heartbeat_at: Option<DateTimeUtc>,
    pub health_state: String,
    pub health_reason: Option<String>,
    pub health_latency_ms: Option<i64>,
    pub health_checked_at: Option<DateTimeUtc>,
    pub consecutive_failures: i32,
    pub schema: Option<Json>,
    pub schema_fetched_at: Option<DateTimeUtc>,
    pub health_interval_ms: Option<i64>,
    pub expired_at: Option<DateTimeUtc>,
    pub expiry_reason: Option<String>,
    pub address_note: Option<String>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    #[sea_orm(has_many = "super::health_events::Entity")]
    HealthEvents,
}

impl Related<super::health_events::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::HealthEvents.def()
    }
}

impl ActiveModelBehavior for ActiveModel {}
