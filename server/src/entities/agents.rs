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
    /// The token (by name) that self-registered it, when access control is on.
    pub owner_token: Option<String>,
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

impl ActiveModel {
    /// A new agent's row, every column set: not checked yet (`unknown`), no TTL or
    /// heartbeat, no schema, not expired. Callers change what their kind of registration
    /// knows with struct update syntax, so a column added later is set in one place.
    pub fn new_agent(
        agent_id: String,
        agent_name: String,
        agent_url: String,
        source: app::model::AgentSource,
        metadata: Json,
        at: DateTimeUtc,
    ) -> Self {
        use sea_orm::ActiveValue::Set;
        Self {
            agent_id: Set(agent_id),
            agent_name: Set(agent_name),
            agent_url: Set(agent_url),
            source: Set(source.as_str().to_owned()),
            metadata: Set(metadata),
            registered_at: Set(at),
            updated_at: Set(at),
            ttl_seconds: Set(None),
            last_heartbeat_at: Set(None),
            health_state: Set(app::model::HealthState::Unknown.as_str().to_owned()),
            health_reason: Set(None),
            health_latency_ms: Set(None),
            health_checked_at: Set(None),
            consecutive_failures: Set(0),
            schema: Set(None),
            schema_fetched_at: Set(None),
            health_interval_ms: Set(None),
            expired_at: Set(None),
            expiry_reason: Set(None),
            address_note: Set(None),
            owner_token: Set(None),
        }
    }
}
