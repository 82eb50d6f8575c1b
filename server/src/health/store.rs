//! What the monitor reads and writes: the agents to check, batches of check results with
//! their transitions, latency rollups, and the history the pages read back.

use crate::agent_client::Outbound;
use crate::entities::{agents, health_events, latency_rollups, stored};
use app::model::HealthState;
use chrono::{DateTime, Utc};
use sea_orm::{
    sea_query, ActiveValue::Set, ColumnTrait, ConnectionTrait, DatabaseConnection, DbErr, EntityTrait, FromQueryResult,
    QueryFilter, QueryOrder, QuerySelect, QueryTrait, Statement, TransactionTrait,
};
use std::collections::HashMap;

/// What the monitor needs of each agent at start.
#[derive(Clone, Debug)]
pub struct Target {
    pub agent_id: String,
    pub agent_url: String,
    pub interval_ms: Option<u64>,
    pub state: HealthState,
    pub failures: u32,
    pub reason: Option<String>,
    pub checked_at: Option<DateTime<Utc>>,
    /// The last check's latency (another dashboard's check, shown as it is).
    pub latency_ms: Option<u64>,
    /// Expired or deregistered: held (and counted as expired), not checked.
    pub expired: bool,
    /// The headers to send with its checks. `None`: those the monitor holds for it, if
    /// it is still at the same URL (a self-registration does not touch them).
    pub headers: Option<Outbound>,
}

impl Target {
    pub fn from_model(m: &agents::Model) -> Self {
        Self {
            agent_id: m.agent_id.clone(),
            agent_url: m.agent_url.clone(),
            interval_ms: m.health_interval_ms.map(|ms| ms.max(1) as u64),
            // Unknown (reported): the monitor starts it afresh, as never checked.
            state: stored::health_state("agents", &m.agent_id, &m.health_state).unwrap_or(HealthState::Unknown),
            failures: m.consecutive_failures.max(0) as u32,
            reason: m.health_reason.clone(),
            checked_at: m.health_checked_at,
            latency_ms: m.health_latency_ms.map(|ms| ms.max(0) as u64),
            expired: m.expired_at.is_some(),
            headers: None,
        }
    }

    pub fn with_headers(self, headers: Outbound) -> Self {
        Self { headers: Some(headers), ..self }
    }
}

pub async fn targets(db: &DatabaseConnection) -> Result<Vec<Target>, DbErr> {
    targets_where(db, None).await
}

/// The agents named (another dashboard changed them), those that still exist.
pub async fn targets_of(db: &DatabaseConnection, agent_ids: &[String]) -> Result<Vec<Target>, DbErr> {
    let mut all = Vec::with_capacity(agent_ids.len());
    for ids in agent_ids.chunks(500) {
        all.extend(targets_where(db, Some(ids)).await?);
    }
    Ok(all)
}

async fn targets_where(db: &DatabaseConnection, agent_ids: Option<&[String]>) -> Result<Vec<Target>, DbErr> {
    #[allow(clippy::type_complexity)]
    let rows: Vec<(
        String,
        String,
        Option<i64>,
        String,
        i32,
        Option<String>,
        Option<DateTime<Utc>>,
        Option<DateTime<Utc>>,
        Option<i64>,
    )> = agents::Entity::find()
        .apply_if(agent_ids, |q, ids| q.filter(agents::Column::AgentId.is_in(ids.iter().cloned())))
        .select_only()
        .column(agents::Column::AgentId)
        .column(agents::Column::AgentUrl)
        .column(agents::Column::HealthIntervalMs)
        .column(agents::Column::HealthState)
        .column(agents::Column::ConsecutiveFailures)
        .column(agents::Column::HealthReason)
        .column(agents::Column::HealthCheckedAt)
        .column(agents::Column::ExpiredAt)
        .column(agents::Column::HealthLatencyMs)
        .into_tuple()
        .all(db)
        .await?;
    let mut outbound = match agent_ids {
        None => crate::registry::store::outbound::all(db).await?,
        Some(ids) => crate::registry::store::outbound::of(db, ids).await?,
    };
    Ok(rows
        .into_iter()
        .map(|(agent_id, agent_url, interval, state, failures, reason, checked_at, expired_at, latency)| Target {
            headers: Some(match outbound.remove(&agent_id) {
                Some((url, headers)) if url == agent_url => headers,
                _ => Outbound::none(),
            }),
            expired: expired_at.is_some(),
            state: stored::health_state("agents", &agent_id, &state).unwrap_or(HealthState::Unknown),
            agent_id,
            agent_url,
            interval_ms: interval.map(|ms| ms.max(1) as u64),
            failures: failures.max(0) as u32,
            reason,
            checked_at,
            latency_ms: latency.map(|ms| ms.max(0) as u64),
        })
        .collect())
}

/// One check's result, as the monitor decided it.
#[derive(Clone, Debug)]
pub struct CheckWrite {
    pub agent_id: String,
    /// The URL that was checked: a result lands only on an agent still at that URL.
    pub agent_url: String,
    pub state: HealthState,
    pub reason: Option<String>,
    pub latency_ms: Option<u64>,
    pub checked_at: DateTime<Utc>,
    pub failures: u32,
    /// The state before this check.
    pub previous: HealthState,
    /// The state differs from the one before: kept in the history.
    pub transition: bool,
}

/// One agent's checks in one bucket.
#[derive(Clone, Debug, PartialEq)]
pub struct RollupWrite {
    pub agent_id: String,
    pub bucket_start: DateTime<Utc>,
    pub probes: u32,
    pub failures: u32,
    pub min_ms: Option<u64>,
    pub max_ms: Option<u64>,
    pub sum_ms: u64,
}

/// Writes a batch in one transaction; returns, per check, whether it was written. A check
/// is skipped when its agent was removed, re-registered under another URL, or checked
/// more recently (a registration) while this check ran.
///
/// The transaction starts with a write (see `registry::store::upsert`), and only rows it
/// wrote get a history entry, so a removal racing the batch leaves nothing behind.
pub async fn write_batch(
    db: &DatabaseConnection,
    checks: &[CheckWrite],
    rollups: &[RollupWrite],
) -> Result<Vec<bool>, DbErr> {
    let txn = db.begin().await?;
    let mut written = vec![false; checks.len()];
    for range in statements(checks) {
        // Agent IDs are unique within one statement's checks.
        let at: std::collections::HashMap<&str, usize> =
            range.clone().map(|i| (checks[i].agent_id.as_str(), i)).collect();
        for agent_id in update_checks(&txn, &checks[range.clone()]).await? {
            if let Some(&i) = at.get(agent_id.as_str()) {
                written[i] = true;
            }
        }
    }
    let mut transitions = Vec::new();
    for (check, _) in checks.iter().zip(&written).filter(|(c, w)| **w && c.transition) {
        transitions.push(health_events::ActiveModel {
            agent_id: Set(check.agent_id.clone()),
            state: Set(check.state.as_str().to_owned()),
            reason: Set(check.reason.clone()),
            at: Set(check.checked_at),
            ..Default::default()
        });
    }
    for piece in pieces(0..transitions.len()) {
        health_events::Entity::insert_many(transitions[piece].to_vec()).exec_without_returning(&txn).await?;
    }
    for rollup in rollups {
        merge_rollup(&txn, rollup).await?;
    }
    txn.commit().await?;
    Ok(written)
}

/// Most checks per UPDATE statement (7 parameters each: far below SQLite's and
/// PostgreSQL's limits on parameters).
const CHECKS_PER_STATEMENT: usize = 256;

/// Splits a batch into the ranges one statement each writes, in order: a new statement
/// where an agent comes again (one statement updating a row twice would keep either; in
/// order, the later check wins as it would one by one), and each of a power-of-two size
/// (`pieces`).
fn statements(checks: &[CheckWrite]) -> Vec<std::ops::Range<usize>> {
    let mut ranges = Vec::new();
    let mut start = 0;
    let mut seen = std::collections::HashSet::new();
    for (i, check) in checks.iter().enumerate() {
        if !seen.insert(check.agent_id.as_str()) {
            ranges.extend(pieces(start..i));
            start = i;
            seen.clear();
            seen.insert(check.agent_id.as_str());
        }
    }
    ranges.extend(pieces(start..checks.len()));
    ranges
}

/// `range` cut into pieces of 256, 128, …, 1 rows, largest first. A statement's text
/// depends on its number of rows, and the database prepares each new text anew (parsing
/// a 500-row statement is most of executing it): with these sizes there are nine texts,
/// each prepared once and then taken from the connection's statement cache.
fn pieces(range: std::ops::Range<usize>) -> Vec<std::ops::Range<usize>> {
    let mut out = Vec::new();
    let mut start = range.start;
    while start < range.end {
        let left = range.end - start;
        let size = (1usize << (usize::BITS - 1 - left.leading_zeros())).min(CHECKS_PER_STATEMENT);
        out.push(start..start + size);
        start += size;
    }
    out
}

/// One statement for many checks (one per check made 10,000 statements of a sweep, each
/// a round trip to the database's worker): each row is written only if the agent still
/// has the URL checked and no newer check is stored; returns the agents written.
/// `UPDATE … FROM (VALUES …) RETURNING` reads the same on SQLite (3.35+) and PostgreSQL,
/// whose VALUES columns are both named column1, column2, ….
async fn update_checks(txn: &impl ConnectionTrait, checks: &[CheckWrite]) -> Result<Vec<String>, DbErr> {
    let backend = txn.get_database_backend();
    let mut values: Vec<sea_orm::Value> = Vec::with_capacity(checks.len() * 7);
    let mut rows = Vec::with_capacity(checks.len());
    for check in checks {
        let first = values.len() + 1;
        let place = |n: usize| match backend {
            sea_orm::DbBackend::Postgres => format!("${n}"),
            _ => "?".to_owned(),
        };
        rows.push(format!("({})", (first..first + 7).map(place).collect::<Vec<_>>().join(", ")));
        values.push(check.agent_id.clone().into());
        values.push(check.agent_url.clone().into());
        values.push(check.state.as_str().into());
        values.push(check.reason.clone().into());
        values.push(check.latency_ms.map(|ms| ms as i64).into());
        values.push(Some(check.checked_at).into());
        values.push((check.failures.min(i32::MAX as u32) as i32).into());
    }
    let sql = format!(
        "UPDATE agents SET health_state = v.column3, health_reason = v.column4, health_latency_ms = v.column5, \
           health_checked_at = v.column6, consecutive_failures = v.column7 \
         FROM (VALUES {}) AS v \
         WHERE agents.agent_id = v.column1 AND agents.agent_url = v.column2 \
           AND (agents.health_checked_at IS NULL OR agents.health_checked_at < v.column6) \
         RETURNING agents.agent_id",
        rows.join(", ")
    );
    let returned = txn.query_all(Statement::from_sql_and_values(backend, sql, values)).await?;
    returned.iter().map(|row| row.try_get::<String>("", "agent_id")).collect()
}

/// Adds a bucket's counts to what is stored for it (a restart inside a bucket writes it
/// twice), only for an agent that still exists.
async fn merge_rollup(txn: &impl ConnectionTrait, r: &RollupWrite) -> Result<(), DbErr> {
    let backend = txn.get_database_backend();
    let p = |n: usize| match backend {
        sea_orm::DbBackend::Postgres => format!("${n}"),
        _ => "?".to_owned(),
    };
    // `excluded.min_ms < stored` is null when either is null: the stored value stays,
    // unless it is null itself.
    let sql = format!(
        "INSERT INTO latency_rollups (agent_id, bucket_start, probes, failures, min_ms, max_ms, sum_ms) \
         SELECT {}, {}, {}, {}, {}, {}, {} WHERE EXISTS (SELECT 1 FROM agents WHERE agent_id = {}) \
         ON CONFLICT (agent_id, bucket_start) DO UPDATE SET \
           probes = latency_rollups.probes + excluded.probes, \
           failures = latency_rollups.failures + excluded.failures, \
           sum_ms = latency_rollups.sum_ms + excluded.sum_ms, \
           min_ms = CASE WHEN latency_rollups.min_ms IS NULL OR excluded.min_ms < latency_rollups.min_ms \
                    THEN excluded.min_ms ELSE latency_rollups.min_ms END, \
           max_ms = CASE WHEN latency_rollups.max_ms IS NULL OR excluded.max_ms > latency_rollups.max_ms \
                    THEN excluded.max_ms ELSE latency_rollups.max_ms END",
        p(1),
        p(2),
        p(3),
        p(4),
        p(5),
        p(6),
        p(7),
        p(8)
    );
    let values: Vec<sea_orm::Value> = vec![
        r.agent_id.clone().into(),
        r.bucket_start.into(),
        (r.probes.min(i32::MAX as u32) as i32).into(),
        (r.failures.min(i32::MAX as u32) as i32).into(),
        r.min_ms.map(|v| v as i64).into(),
        r.max_ms.map(|v| v as i64).into(),
        (r.sum_ms as i64).into(),
        r.agent_id.clone().into(),
    ];
    txn.execute(Statement::from_sql_and_values(backend, sql, values)).await?;
    Ok(())
}

/// Deletes latency rollups older than `before`.
pub async fn purge_rollups_before(db: &DatabaseConnection, before: DateTime<Utc>) -> Result<u64, DbErr> {
    Ok(latency_rollups::Entity::delete_many()
        .filter(latency_rollups::Column::BucketStart.lt(before))
        .exec(db)
        .await?
        .rows_affected)
}

/// The agent's state changes since `since`, oldest first, and the last one before it (the
/// state the window starts in).
pub async fn transitions(
    db: &DatabaseConnection,
    agent_id: &str,
    since: DateTime<Utc>,
) -> Result<(Option<health_events::Model>, Vec<health_events::Model>), DbErr> {
    let before = health_events::Entity::find()
        .filter(health_events::Column::AgentId.eq(agent_id))
        .filter(health_events::Column::At.lt(since))
        .order_by_desc(health_events::Column::At)
        .order_by_desc(health_events::Column::Id)
        .one(db)
        .await?;
    let within = health_events::Entity::find()
        .filter(health_events::Column::AgentId.eq(agent_id))
        .filter(health_events::Column::At.gte(since))
        .order_by_asc(health_events::Column::At)
        .order_by_asc(health_events::Column::Id)
        .all(db)
        .await?;
    Ok((before, within))
}

/// As `transitions`, for a page of agents in two statements instead of two per agent:
/// the list's bars were 100 sequential reads for 50 rows, most of `/orchestrator`'s
/// time (12 ms of 17). The last change before `since` is one `LIMIT 1` per agent joined
/// by `UNION ALL`, so each still walks its index (agent_id, at) backwards from `since`
/// and reads one row, however long the history.
pub async fn transitions_of(
    db: &DatabaseConnection,
    agent_ids: &[&str],
    since: DateTime<Utc>,
) -> Result<(HashMap<String, health_events::Model>, HashMap<String, Vec<health_events::Model>>), DbErr> {
    if agent_ids.is_empty() {
        return Ok(Default::default());
    }
    let last_before = |i: usize, agent_id: &str| {
        let newest = health_events::Entity::find()
            .filter(health_events::Column::AgentId.eq(agent_id))
            .filter(health_events::Column::At.lt(since))
            .order_by_desc(health_events::Column::At)
            .order_by_desc(health_events::Column::Id)
            .limit(1)
            .into_query();
        // Wrapped: a member of a compound select takes no ORDER BY or LIMIT in SQLite.
        sea_query::Query::select()
            .column(sea_query::Asterisk)
            .from_subquery(newest, sea_query::Alias::new(format!("b{i}")))
            .to_owned()
    };
    let mut union = last_before(0, agent_ids[0]);
    for (i, agent_id) in agent_ids.iter().enumerate().skip(1) {
        union.union(sea_query::UnionType::All, last_before(i, agent_id));
    }
    let before = health_events::Model::find_by_statement(db.get_database_backend().build(&union))
        .all(db)
        .await?
        .into_iter()
        .map(|e| (e.agent_id.clone(), e))
        .collect();
    let mut within: HashMap<String, Vec<health_events::Model>> = HashMap::new();
    for event in health_events::Entity::find()
        .filter(health_events::Column::AgentId.is_in(agent_ids.iter().copied()))
        .filter(health_events::Column::At.gte(since))
        .order_by_asc(health_events::Column::At)
        .order_by_asc(health_events::Column::Id)
        .all(db)
        .await?
    {
        within.entry(event.agent_id.clone()).or_default().push(event);
    }
    Ok((before, within))
}

/// The agent's latency rollups since `since`, oldest first.
pub async fn rollups(
    db: &DatabaseConnection,
    agent_id: &str,
    since: DateTime<Utc>,
) -> Result<Vec<latency_rollups::Model>, DbErr> {
    latency_rollups::Entity::find()
        .filter(latency_rollups::Column::AgentId.eq(agent_id))
        .filter(latency_rollups::Column::BucketStart.gte(since))
        .order_by_asc(latency_rollups::Column::BucketStart)
        .all(db)
        .await
}

/// Deletes an agent's rollups (with the agent: there is no foreign key, see the migration).
/// Adds the bucket the monitor is still filling to the stored ones (oldest first): to the
/// stored row of the same start (written before a restart), or as the newest.
pub fn merge_open_bucket(rollups: &mut Vec<latency_rollups::Model>, open: RollupWrite) {
    let min = |a: Option<i64>, b: Option<i64>| match (a, b) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    };
    let max = |a: Option<i64>, b: Option<i64>| a.max(b);
    let (probes, failures) = (open.probes.min(i32::MAX as u32) as i32, open.failures.min(i32::MAX as u32) as i32);
    let (lo, hi) = (open.min_ms.map(|v| v as i64), open.max_ms.map(|v| v as i64));
    match rollups.iter_mut().find(|r| r.bucket_start == open.bucket_start) {
        Some(r) => {
            r.probes += probes;
            r.failures += failures;
            r.sum_ms += open.sum_ms as i64;
            r.min_ms = min(r.min_ms, lo);
            r.max_ms = max(r.max_ms, hi);
        }
        None => {
            rollups.push(latency_rollups::Model {
                agent_id: open.agent_id,
                bucket_start: open.bucket_start,
                probes,
                failures,
                min_ms: lo,
                max_ms: hi,
                sum_ms: open.sum_ms as i64,
            });
            rollups.sort_by_key(|r| r.bucket_start);
        }
    }
}

pub async fn delete_rollups(db: &impl ConnectionTrait, agent_id: &str) -> Result<(), DbErr> {
    latency_rollups::Entity::delete_many().filter(latency_rollups::Column::AgentId.eq(agent_id)).exec(db).await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(agent_id: &str) -> CheckWrite {
        CheckWrite {
            agent_id: agent_id.into(),
            agent_url: "http://127.0.0.1:1".into(),
            state: HealthState::Healthy,
            reason: None,
            latency_ms: Some(1),
            checked_at: chrono::Utc::now(),
            failures: 0,
            previous: HealthState::Healthy,
            transition: false,
        }
    }

    #[test]
    fn a_batch_is_split_where_an_agent_comes_again_and_at_the_statement_size() {
        let batch: Vec<CheckWrite> = ["a", "b", "a", "c", "b", "b"].iter().map(|id| check(id)).collect();
        assert_eq!(statements(&batch), [0..2, 2..4, 4..5, 5..6]);
        let many: Vec<CheckWrite> = (0..1001).map(|i| check(&i.to_string())).collect();
        assert_eq!(
            statements(&many),
            [0..256, 256..512, 512..768, 768..896, 896..960, 960..992, 992..1000, 1000..1001]
        );
        assert!(statements(&[]).is_empty());
    }

    #[test]
    fn pieces_have_few_sizes_and_cover_the_range_in_order() {
        let mut sizes = std::collections::BTreeSet::new();
        for n in 0..2000 {
            let cut = pieces(3..3 + n);
            assert_eq!(cut.iter().map(|r| r.len()).sum::<usize>(), n);
            assert!(cut.windows(2).all(|w| w[0].end == w[1].start && w[0].len() >= w[1].len()));
            sizes.extend(cut.iter().map(|r| r.len()));
        }
        assert_eq!(sizes.into_iter().collect::<Vec<_>>(), [1, 2, 4, 8, 16, 32, 64, 128, 256]);
    }
}
