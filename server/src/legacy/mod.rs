//! The old Python dashboard's database. Both tools default to `configurable_agents.db`;
//! ours never runs on the old tables by accident: at start it detects them and refuses
//! with the way out, and `configurable-agents migrate --import-legacy` sets them aside
//! (renamed `legacy_*`, nothing deleted) and imports the old agents and run history.
//! Only SQLite files are examined: that is where the old tool kept its data by default.

mod pyliteral;

use crate::db::Db;
use crate::entities::{agents, runs};
use app::model::{AgentSource, RunStatus};
use app::validation::AgentId;
use chrono::{DateTime, NaiveDateTime, Utc};
use migrations::{Migrator, MigratorTrait};
use sea_orm::sea_query::OnConflict;
use sea_orm::{
    ActiveValue::Set, ConnectionTrait, DbBackend, DbErr, EntityTrait, QueryResult, Statement, TransactionTrait,
};
use serde_json::Value;

/// Every table the old tool creates (main branch, and the later `dev` branch's renames).
const OLD_TABLES: [&str; 12] = [
    "agents",
    "workflow_runs",
    "execution_states",
    "chat_sessions",
    "chat_messages",
    "webhook_events",
    "memory_records",
    "workflow_registrations",
    "orchestrators",
    "session_state",
    "executions",
    "deployments",
];

/// What an import did, for the command's output.
#[derive(Debug, Default)]
pub struct ImportReport {
    pub moved: Vec<(String, String)>,
    pub agents: u64,
    pub runs: u64,
    pub skipped: Vec<String>,
}

async fn table_names(db: &Db) -> Result<Vec<String>, DbErr> {
    if db.backend() != DbBackend::Sqlite {
        return Ok(Vec::new());
    }
    let rows = db
        .read()
        .query_all(Statement::from_string(DbBackend::Sqlite, "SELECT name FROM sqlite_master WHERE type = 'table'"))
        .await?;
    Ok(rows.iter().filter_map(|r| r.try_get::<String>("", "name").ok()).collect())
}

async fn columns(db: &impl ConnectionTrait, table: &str) -> Result<Vec<String>, DbErr> {
    let rows =
        db.query_all(Statement::from_string(DbBackend::Sqlite, format!("PRAGMA table_info(\"{table}\")"))).await?;
    Ok(rows.iter().filter_map(|r| r.try_get::<String>("", "name").ok()).collect())
}

/// The old tool's tables in this database, under their original names.
pub async fn old_tables(db: &Db) -> Result<Vec<String>, DbErr> {
    let mut found = Vec::new();
    for name in table_names(db).await? {
        if !OLD_TABLES.contains(&name.as_str()) {
            continue;
        }
        // Our own `agents` has `agent_url`; the old one has host and port.
        if name == "agents" && columns(db.read(), "agents").await?.iter().any(|c| c == "agent_url") {
            continue;
        }
        found.push(name);
    }
    Ok(found)
}

/// Stops the start when the database holds the old tool's tables, naming the way out.
pub async fn refuse_if_legacy(db: &Db, raw_url: &str) -> Result<(), crate::StartError> {
    let found = old_tables(db).await?;
    if found.is_empty() {
        return Ok(());
    }
    Err(format!(
        "{raw_url} is the old Python configurable-agents dashboard's database (it holds its tables: {}). \
         This dashboard stores its data differently and will not run on those tables. To set them aside \
         (renamed legacy_*, nothing is deleted) and import the old agents and run history, run:\n\n    \
         configurable-agents migrate --import-legacy --database-url {raw_url}\n\n\
         or start with another --database-url to keep the two apart.",
        found.join(", ")
    )
    .into())
}

/// `migrate --import-legacy`: sets the old tables aside, creates ours, imports. Safe to
/// run again: what was imported already is left as it is.
pub async fn import(db: &Db) -> Result<ImportReport, crate::StartError> {
    if db.backend() != DbBackend::Sqlite {
        return Err(
            "--import-legacy reads the old tool's SQLite file; give it with --database-url sqlite://FILE".into()
        );
    }
    let mut report = ImportReport::default();
    let existing = table_names(db).await?;
    let txn = db.write().begin().await?;
    for old in old_tables(db).await? {
        let mut new = format!("legacy_{old}");
        let mut n = 2;
        while existing.contains(&new) {
            new = format!("legacy_{old}_{n}");
            n += 1;
        }
        txn.execute_unprepared(&format!("ALTER TABLE \"{old}\" RENAME TO \"{new}\"")).await?;
        report.moved.push((old, new));
    }
    txn.commit().await?;
    Migrator::up(db.write(), None).await?;

    let tables = table_names(db).await?;
    let txn = db.write().begin().await?;
    let mut urls = std::collections::HashMap::new();
    for table in tables.iter().filter(|t| *t == "legacy_agents" || t.starts_with("legacy_agents_")) {
        let rows =
            txn.query_all(Statement::from_string(DbBackend::Sqlite, format!("SELECT * FROM \"{table}\""))).await?;
        for row in rows {
            match import_agent(&txn, &row).await? {
                Ok((id, url)) => {
                    report.agents += 1;
                    urls.insert(id, url);
                }
                Err(why) => report.skipped.push(format!("{table}: {why}")),
            }
        }
    }
    for table in tables.iter().filter(|t| *t == "legacy_workflow_runs" || t.starts_with("legacy_workflow_runs_")) {
        let rows =
            txn.query_all(Statement::from_string(DbBackend::Sqlite, format!("SELECT * FROM \"{table}\""))).await?;
        for row in rows {
            match import_run(&txn, &row, &urls).await? {
                Ok(()) => report.runs += 1,
                Err(why) => report.skipped.push(format!("{table}: {why}")),
            }
        }
    }
    txn.commit().await?;
    Ok(report)
}

fn text(row: &QueryResult, col: &str) -> Option<String> {
    row.try_get::<Option<String>>("", col).ok().flatten()
}

/// Integers and floats alike: SQLite keeps whatever was written.
fn number(row: &QueryResult, col: &str) -> Option<f64> {
    if let Ok(Some(v)) = row.try_get::<Option<f64>>("", col) {
        return Some(v);
    }
    row.try_get::<Option<i64>>("", col).ok().flatten().map(|v| v as f64)
}

/// SQLAlchemy's `DateTime` on SQLite: naive UTC text, with or without microseconds. Kept
/// to the millisecond, as every time this dashboard stores (the history's cursor has ms).
fn time(row: &QueryResult, col: &str) -> Option<DateTime<Utc>> {
    let t = parse_time(&text(row, col)?)?;
    DateTime::from_timestamp_millis(t.timestamp_millis())
}

fn parse_time(raw: &str) -> Option<DateTime<Utc>> {
    let raw = raw.trim();
    for format in ["%Y-%m-%d %H:%M:%S%.f", "%Y-%m-%dT%H:%M:%S%.f"] {
        if let Ok(t) = NaiveDateTime::parse_from_str(raw, format) {
            return Some(t.and_utc());
        }
    }
    DateTime::parse_from_rfc3339(raw).ok().map(|t| t.with_timezone(&Utc))
}

/// JSON first, then a Python repr; text that is neither is kept as a JSON string.
fn loose_json(raw: Option<String>) -> Option<Value> {
    let raw = raw?;
    let trimmed = raw.trim();
    if trimmed.is_empty() || trimmed == "None" || trimmed == "null" {
        return None;
    }
    serde_json::from_str(trimmed).ok().or_else(|| pyliteral::parse(trimmed)).or(Some(Value::String(raw)))
}

async fn import_agent(
    txn: &impl ConnectionTrait,
    row: &QueryResult,
) -> Result<Result<(String, String), String>, DbErr> {
    let raw_id = text(row, "agent_id").unwrap_or_default();
    let id = match AgentId::parse(&raw_id) {
        Ok(id) => id.into_string(),
        Err(e) => return Ok(Err(format!("agent {raw_id:?} not imported: {e}"))),
    };
    let host = text(row, "host").unwrap_or_default();
    let port = number(row, "port").unwrap_or(0.0) as i64;
    let host = if host.contains(':') && !host.starts_with('[') { format!("[{host}]") } else { host };
    let url = match app::validation::AgentUrl::parse(&format!("http://{host}:{port}")) {
        Ok(url) => url.as_str().to_owned(),
        Err(e) => return Ok(Err(format!("agent {id} not imported: {e}"))),
    };
    let metadata_text = text(row, "agent_metadata").or_else(|| text(row, "metadata"));
    // As a self-registration keeps it: text that is not a JSON object is a description.
    let metadata =
        crate::registry::self_registration::metadata(&metadata_text.map(Value::String).unwrap_or(Value::Null))
            .unwrap_or_else(|_| serde_json::Map::new());
    let registered_at = time(row, "registered_at").unwrap_or_else(Utc::now);
    let name = text(row, "agent_name").filter(|n| !n.trim().is_empty()).unwrap_or_else(|| id.clone());
    let model = agents::ActiveModel {
        updated_at: Set(registered_at),
        ttl_seconds: Set(Some(number(row, "ttl_seconds").unwrap_or(60.0) as i32)),
        last_heartbeat_at: Set(time(row, "last_heartbeat")),
        ..agents::ActiveModel::new_agent(
            id.clone(),
            name.chars().take(app::validation::MAX_NAME_LEN).collect(),
            url.clone(),
            AgentSource::SelfRegistered,
            Value::Object(metadata),
            registered_at,
        )
    };
    agents::Entity::insert(model)
        .on_conflict(OnConflict::column(agents::Column::AgentId).do_nothing().to_owned())
        .exec_without_returning(txn)
        .await?;
    Ok(Ok((id, url)))
}

async fn import_run(
    txn: &impl ConnectionTrait,
    row: &QueryResult,
    agent_urls: &std::collections::HashMap<String, String>,
) -> Result<Result<(), String>, DbErr> {
    let Some(id) = text(row, "id").filter(|id| !id.is_empty() && id.len() <= 64) else {
        return Ok(Err("a run without a usable id was not imported".into()));
    };
    let workflow = text(row, "workflow_name").unwrap_or_default();
    // Runs the old orchestrator started carry the agent's ID as their workflow name.
    let agent_url = agent_urls.get(&workflow).cloned();
    let agent_id = if agent_url.is_some() { workflow.clone() } else { String::new() };
    let old_status = text(row, "status").unwrap_or_default();
    let mut error = text(row, "error_message");
    let status = match old_status.as_str() {
        "completed" => RunStatus::Succeeded,
        "failed" => RunStatus::Failed,
        "cancelled" => RunStatus::Cancelled,
        // The old tool left runs "running" for ever when the agent call broke.
        "running" | "pending" => {
            error.get_or_insert_with(|| {
                format!("Imported from the old dashboard while marked {old_status}; it never finished there.")
            });
            RunStatus::Interrupted
        }
        other => {
            error.get_or_insert_with(|| format!("Imported from the old dashboard with status {other:?}."));
            RunStatus::Failed
        }
    };
    let created_at = time(row, "started_at").unwrap_or_else(Utc::now);
    let model = runs::ActiveModel {
        run_id: Set(id),
        agent_id: Set(agent_id),
        agent_url: Set(agent_url.unwrap_or_default()),
        workflow: Set(workflow.chars().take(200).collect()),
        status: Set(status.as_str().to_owned()),
        inputs: Set(loose_json(text(row, "inputs")).unwrap_or(Value::Object(Default::default()))),
        outputs: Set(loose_json(text(row, "outputs"))),
        error: Set(error),
        field_errors: Set(None),
        job_id: Set(None),
        schema_hash: Set(None),
        idempotency_key: Set(None),
        request_hash: Set(None),
        origin: Set("legacy".to_owned()),
        created_at: Set(created_at),
        started_at: Set(Some(created_at)),
        finished_at: Set(time(row, "completed_at")),
        duration_ms: Set(number(row, "duration_seconds").map(|s| (s * 1000.0).round() as i64)),
        total_tokens: Set(number(row, "total_tokens").map(|t| t as i64)),
        cost_usd: Set(number(row, "total_cost_usd")),
        withheld: Set(None),
        rerun_of: Set(None),
        claimed_by: Set(None),
    };
    runs::Entity::insert(model)
        .on_conflict(OnConflict::column(runs::Column::RunId).do_nothing().to_owned())
        .exec_without_returning(txn)
        .await?;
    Ok(Ok(()))
}
