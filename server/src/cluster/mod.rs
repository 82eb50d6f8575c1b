//! Several dashboards on one PostgreSQL: membership.
//!
//! Each dashboard is a row of `nodes`, renewed every fifth of `--node-timeout` (2 s of
//! 10 s); one unseen for the node timeout is gone, and the live members are those whose
//! rows are fresh. Nothing else is agreed between dashboards: each reads the same rows
//! and decides by the same rule (who checks which agent: `Members::owns`), so there is no
//! protocol of our own and no leader. A dashboard that cannot renew its row for the node
//! timeout counts itself out (it checks nothing until it can again): the others have
//! counted it out by then and taken its share.
//!
//! Times are the dashboards' own clocks, as for heartbeats and runs: the machines keep
//! them within a second (NTP), docs/deploy.md.
//!
//! On SQLite there is one dashboard (`db::Claim`): its row is kept for `status`, and its
//! view is always itself alone, whatever the database says.

pub mod leader;
pub mod relay;

use crate::db::Db;
use crate::entities::nodes;
use crate::tasks::Shutdown;
use chrono::{DateTime, Utc};
use sea_orm::{ActiveValue::Set, ColumnTrait, DbBackend, DbErr, EntityTrait, QueryFilter};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::watch;

/// Rows unseen for this long are deleted (gone dashboards stay listed until then).
const FORGET_AFTER: Duration = Duration::from_secs(3600);

#[derive(Clone, Debug)]
pub struct ClusterSettings {
    /// A dashboard unseen for this long is gone.
    pub node_timeout: Duration,
    /// How people and the other dashboards name this one (`--node-address`).
    pub address: String,
}

impl ClusterSettings {
    /// How often the row is renewed: five renewals fit in the timeout, so a dashboard is
    /// counted out only after four in a row failed or were late.
    pub fn renew_every(&self) -> Duration {
        self.node_timeout / 5
    }
}

/// The live dashboards as this one last read them.
#[derive(Clone, Debug, PartialEq)]
pub struct Members {
    pub me: Arc<str>,
    /// Live members, sorted; this dashboard among them while its renewals succeed.
    pub live: Arc<[Arc<str>]>,
}

impl Members {
    /// One dashboard alone (SQLite, and before the first read).
    pub fn alone(me: Arc<str>) -> Self {
        Self { live: Arc::from(vec![me.clone()]), me }
    }

    /// The dashboard that checks `agent_id`: rendezvous hashing, the member with the
    /// highest weight for the agent. Every dashboard computes the same answer from the same
    /// list, and a join or a leave moves only the agents of that member (no lease rows to
    /// write per agent; see docs/deploy.md). None when no member is live.
    pub fn owner(&self, agent_id: &str) -> Option<&Arc<str>> {
        self.live.iter().max_by_key(|node| weight(node, agent_id))
    }

    /// Whether this dashboard checks `agent_id`.
    pub fn owns(&self, agent_id: &str) -> bool {
        match &*self.live {
            [only] => *only == self.me,
            _ => self.owner(agent_id).is_some_and(|owner| *owner == self.me),
        }
    }

    pub fn is_member(&self) -> bool {
        self.live.contains(&self.me)
    }
}

/// The rendezvous weight of `agent_id` on `node`: FNV-1a over both (stable across
/// processes, machines and versions, unlike std's hasher), then a 64-bit finalizer so
/// that IDs differing in one last byte spread over every node.
fn weight(node: &str, agent_id: &str) -> u64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in node.bytes().chain([0xff]).chain(agent_id.bytes()) {
        hash ^= u64::from(byte);
        hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
    // splitmix64's finalizer.
    hash = (hash ^ (hash >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    hash = (hash ^ (hash >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    hash ^ (hash >> 31)
}

/// The first keys of the advisory locks this tool takes (PostgreSQL's two-key form) are
/// `LOCK_SPACE + n`, so they never meet another application's on the same database.
pub const LOCK_SPACE: i32 = 0x4341_0000; // "CA\0\0"
/// Per-agent run slots (`runs::store::start`): second key `lock_key(agent_id)`.
pub const LOCK_RUN_SLOTS: i32 = LOCK_SPACE + 1;
/// Migrations, one dashboard at a time (`db::connect`).
pub const LOCK_MIGRATIONS: i32 = LOCK_SPACE + 3;

/// A stable 32-bit key for a text (an agent ID), for advisory locks.
pub fn lock_key(text: &str) -> i32 {
    (weight("lock", text) >> 32) as u32 as i32
}

/// This dashboard's membership.
#[derive(Clone)]
pub struct Cluster {
    inner: Arc<Inner>,
}

struct Inner {
    me: Arc<str>,
    db: Db,
    settings: ClusterSettings,
    started_at: DateTime<Utc>,
    shared: bool,
    members: watch::Sender<Members>,
    /// Agents this dashboard checks now (set by the health monitor), kept in its row.
    checked: AtomicU64,
    /// Since when every renewal has succeeded (None: the last one failed).
    renewing_since: std::sync::Mutex<Option<Instant>>,
}

/// A dashboard as `GET /status` lists it.
#[derive(Clone, Debug)]
pub struct Node {
    pub row: nodes::Model,
    pub live: bool,
    pub me: bool,
}

impl Cluster {
    /// Writes this dashboard's row and reads the members once.
    pub async fn join(db: Db, settings: ClusterSettings, started_at: DateTime<Utc>) -> Result<Self, DbErr> {
        let me: Arc<str> = Arc::from(uuid::Uuid::new_v4().simple().to_string());
        let shared = db.backend() == DbBackend::Postgres;
        let (members, _) = watch::channel(Members::alone(me.clone()));
        let cluster = Self {
            inner: Arc::new(Inner {
                me,
                db,
                settings,
                started_at,
                shared,
                members,
                checked: AtomicU64::new(0),
                renewing_since: std::sync::Mutex::new(Some(Instant::now())),
            }),
        };
        cluster.renew().await?;
        Ok(cluster)
    }

    /// This dashboard's ID (its row's).
    pub fn me(&self) -> Arc<str> {
        self.inner.me.clone()
    }

    pub fn members(&self) -> watch::Receiver<Members> {
        self.inner.members.subscribe()
    }

    /// Whether several dashboards may share the database (PostgreSQL).
    pub fn shared(&self) -> bool {
        self.inner.shared
    }

    /// Whether this dashboard may judge another one gone: its own renewals have all
    /// succeeded for a whole node timeout. After the database was away longer than the
    /// timeout every row is stale, its own included; until every live dashboard has had
    /// the time to renew again, a stale row says nothing about its dashboard.
    pub fn steady(&self) -> bool {
        let since = *self.inner.renewing_since.lock().expect("never poisoned: no panics while held");
        since.is_some_and(|at| at.elapsed() >= self.inner.settings.node_timeout)
    }

    fn renewed(&self, ok: bool) {
        let mut since = self.inner.renewing_since.lock().expect("never poisoned: no panics while held");
        match (ok, *since) {
            (true, None) => *since = Some(Instant::now()),
            (false, _) => *since = None,
            (true, Some(_)) => {}
        }
    }

    /// Within how long every other live dashboard has read this one's row since it was
    /// written at start: one renewal period of theirs (they run with the same
    /// `--node-timeout`), and a margin for their read.
    pub fn known_to_all_within(&self) -> Duration {
        self.inner.settings.renew_every() + Duration::from_millis(250)
    }

    /// The health monitor says how many agents it checks now.
    pub fn set_checked(&self, agents: u64) {
        self.inner.checked.store(agents, Ordering::Relaxed);
    }

    /// Renews the row (writing it again if another dashboard deleted it as gone) and
    /// reads who is live.
    async fn renew(&self) -> Result<(), DbErr> {
        let inner = &self.inner;
        let now = Utc::now();
        let checked = inner.checked.load(Ordering::Relaxed).min(i64::MAX as u64) as i64;
        let renewed = nodes::Entity::update_many()
            .col_expr(nodes::Column::SeenAt, sea_orm::sea_query::Expr::value(now))
            .col_expr(nodes::Column::AgentsChecked, sea_orm::sea_query::Expr::value(checked))
            .filter(nodes::Column::NodeId.eq(&*inner.me))
            .exec(inner.db.write())
            .await?;
        if renewed.rows_affected == 0 {
            nodes::Entity::insert(nodes::ActiveModel {
                node_id: Set(inner.me.to_string()),
                address: Set(inner.settings.address.clone()),
                version: Set(env!("CARGO_PKG_VERSION").to_owned()),
                started_at: Set(inner.started_at),
                seen_at: Set(now),
                agents_checked: Set(checked),
            })
            .exec(inner.db.write())
            .await?;
        }
        if !inner.shared {
            return Ok(());
        }
        let fresh = now - chrono::Duration::from_std(inner.settings.node_timeout).unwrap_or(chrono::Duration::MAX);
        let mut live: Vec<Arc<str>> = nodes::Entity::find()
            .filter(nodes::Column::SeenAt.gt(fresh))
            .all(inner.db.read())
            .await?
            .into_iter()
            .map(|row| Arc::from(row.node_id))
            .collect();
        if !live.contains(&inner.me) {
            // Its own write is the freshest row there is; a read replica could lag.
            live.push(inner.me.clone());
        }
        live.sort();
        self.publish(live);
        Ok(())
    }

    fn publish(&self, live: Vec<Arc<str>>) {
        let inner = &self.inner;
        inner.members.send_if_modified(|members| {
            if *members.live == *live {
                return false;
            }
            let (before, after) = (members.live.len(), live.len());
            tracing::info!(before, after, member = members.is_member(), "dashboards sharing the database: {after}");
            members.live = Arc::from(live);
            true
        });
    }

    /// Renews the row until shutdown, then deletes it: the others take this dashboard's
    /// share at their next renewal instead of after the node timeout.
    pub async fn run(self, mut shutdown: Shutdown) {
        let inner = &self.inner;
        let mut ticker = tokio::time::interval(inner.settings.renew_every());
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut last_ok = Instant::now();
        let mut renewals = 0u64;
        loop {
            tokio::select! {
                _ = ticker.tick() => {}
                _ = shutdown.changed() => break,
            }
            let renewed = self.renew().await;
            self.renewed(renewed.is_ok());
            match renewed {
                Ok(()) => {
                    if last_ok.elapsed() > inner.settings.node_timeout {
                        tracing::warn!("renewed this dashboard's membership again: it checks its share of agents");
                    }
                    last_ok = Instant::now();
                }
                Err(e) if inner.shared && last_ok.elapsed() > inner.settings.node_timeout => {
                    // The others count this dashboard out by now: it stops checking, so
                    // no agent is checked by both.
                    if inner.members.borrow().is_member() {
                        tracing::error!(error = %e, "cannot renew this dashboard's membership for the node timeout: it \
                            checks nothing until it can again");
                    }
                    self.publish(Vec::new());
                }
                Err(e) => tracing::warn!(error = %e, "cannot renew this dashboard's membership; retrying"),
            }
            renewals += 1;
            if renewals.is_multiple_of(500) {
                let before = Utc::now() - chrono::Duration::from_std(FORGET_AFTER).unwrap_or(chrono::Duration::MAX);
                let _ =
                    nodes::Entity::delete_many().filter(nodes::Column::SeenAt.lt(before)).exec(inner.db.write()).await;
            }
        }
        if let Err(e) = nodes::Entity::delete_by_id(inner.me.to_string()).exec(inner.db.write()).await {
            tracing::warn!(error = %e, "could not remove this dashboard's row; the others count it out after the node timeout");
        }
    }

    /// Every dashboard that has shared the database lately, this one first.
    pub async fn nodes(&self) -> Result<Vec<Node>, DbErr> {
        let inner = &self.inner;
        let fresh =
            Utc::now() - chrono::Duration::from_std(inner.settings.node_timeout).unwrap_or(chrono::Duration::MAX);
        let mut nodes: Vec<Node> = nodes::Entity::find()
            .all(inner.db.read())
            .await?
            .into_iter()
            .map(|row| Node { live: row.seen_at > fresh, me: *row.node_id == *inner.me, row })
            .collect();
        nodes.sort_by(|a, b| b.me.cmp(&a.me).then(b.live.cmp(&a.live)).then(a.row.started_at.cmp(&b.row.started_at)));
        Ok(nodes)
    }
}

impl Cluster {
    /// The dashboards as `GET /status` and the page show them.
    pub async fn statuses(&self) -> Result<Vec<app::model::NodeStatus>, DbErr> {
        Ok(self
            .nodes()
            .await?
            .into_iter()
            .map(|n| app::model::NodeStatus {
                node_id: n.row.node_id,
                address: n.row.address,
                version: n.row.version,
                started_at: crate::time::timestamp(n.row.started_at),
                seen_at: crate::time::timestamp(n.row.seen_at),
                live: n.live,
                this: n.me,
                agents_checked: n.row.agents_checked.max(0) as u64,
            })
            .collect())
    }
}

/// This machine's name and the port, the default `--node-address`.
pub fn default_address(port: u16) -> String {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .or_else(|| std::env::var("HOSTNAME").ok())
        .map(|h| h.trim().to_owned())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "localhost".to_owned());
    format!("{host}:{port}")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn members(me: &str, live: &[&str]) -> Members {
        Members { me: Arc::from(me), live: live.iter().map(|n| Arc::from(*n)).collect() }
    }

    #[test]
    fn every_agent_has_exactly_one_owner_among_the_live() {
        let nodes = ["a", "b", "c"];
        for n in 0..1000 {
            let id = format!("agent-{n}");
            let owners = nodes.iter().filter(|me| members(me, &nodes).owns(&id)).count();
            assert_eq!(owners, 1, "{id}");
        }
        assert!(members("a", &["a"]).owns("x"));
        assert!(!members("a", &[]).owns("x"), "a dashboard counted out checks nothing");
        assert!(!members("a", &["b"]).owns("x"));
    }

    #[test]
    fn shares_are_even_and_a_leave_moves_only_the_leavers_agents() {
        let three = ["node-1", "node-2", "node-3"];
        let two = ["node-1", "node-3"];
        let mut share = [0u32; 3];
        for n in 0..30_000 {
            let id = format!("agent-{n}");
            let before = members("node-1", &three).owner(&id).cloned().unwrap();
            share[three.iter().position(|x| **x == *before).unwrap()] += 1;
            let after = members("node-1", &two).owner(&id).cloned().unwrap();
            if &*before != "node-2" {
                assert_eq!(before, after, "{id} moved though its dashboard stayed");
            }
        }
        assert!(share.iter().all(|s| (9_400..10_600).contains(s)), "shares {share:?}");
        // A join takes about a quarter from each, and nothing moves between the others.
        let four = ["node-1", "node-2", "node-3", "node-4"];
        let mut moved = 0;
        for n in 0..30_000 {
            let id = format!("agent-{n}");
            let before = members("node-1", &three).owner(&id).cloned().unwrap();
            let after = members("node-1", &four).owner(&id).cloned().unwrap();
            if before != after {
                assert_eq!(&*after, "node-4");
                moved += 1;
            }
        }
        assert!((7_000..8_000).contains(&moved), "{moved} moved to the new member");
    }
}
