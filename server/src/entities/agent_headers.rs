use sea_orm::entity::prelude::*;

/// The headers sent with every call to one agent, for the URL they were set for.
#[derive(Clone, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "agent_headers")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub agent_id: String,
    pub agent_url: String,
    /// JSON: `[[name, value], …]`.
    pub headers: String,
    pub updated_at: DateTimeUtc,
}

/// Never prints the values.
impl std::fmt::Debug for Model {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("agent_headers::Model").field("agent_id", &self.agent_id).finish_non_exhaustive()
    }
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
