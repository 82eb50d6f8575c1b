use sea_orm::entity::prelude::*;

/// One workflow run (see the migration for what each column holds).
#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "runs")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub run_id: String,
    pub agent_id: String,
    pub agent_url: String,
    pub workflow: String,
    pub status: String,
    pub inputs: Json,
    pub outputs: Option<Json>,
    pub error: Option<String>,
    pub field_errors: Option<Json>,
    pub job_id: Option<String>,
    pub schema_hash: Option<String>,
    pub idempotency_key: Option<String>,
    pub request_hash: Option<String>,
    pub origin: String,
    pub created_at: DateTimeUtc,
    pub started_at: Option<DateTimeUtc>,
    pub finished_at: Option<DateTimeUtc>,
    pub duration_ms: Option<i64>,
    pub total_tokens: Option<i64>,
    pub cost_usd: Option<f64>,
    /// Pointers of secret inputs stored as "***" (sent to the agent, kept nowhere).
    pub withheld: Option<Json>,
    /// The run this one re-ran (or whose inputs were edited and run again).
    pub rerun_of: Option<String>,
    /// The dashboard carrying it out while it is queued or running (`cluster`).
    pub claimed_by: Option<String>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
