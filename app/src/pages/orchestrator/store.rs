//! The page's agents as fine-grained signals: one signal per agent, keyed by ID, so a
//! refresh touches only the rows whose data changed and the list only when membership
//! or order changed.

use crate::model::events::AgentHealth;
use crate::model::{AgentOverview, AgentView, HealthSummary, ListedAgent, NodeStatus, SelfPreservation, UptimeBar};
use leptos::prelude::*;
use std::collections::HashMap;

#[derive(Clone, Copy)]
pub struct AgentRow {
    pub id: StoredValue<String>,
    pub data: RwSignal<ListedAgent>,
}

#[derive(Clone, Copy)]
pub struct AgentStore {
    rows: RwSignal<Vec<AgentRow>>,
    /// The page's owner. Rows are created under it, not under whatever effect or task
    /// happens to deliver an agent: a re-running effect disposes what it created.
    owner: StoredValue<Owner>,
    /// Counts local changes (register, remove): a refresh whose request was sent before
    /// one must not undo it with the older list.
    generation: StoredValue<u64>,
    /// Why the last refresh failed; cleared by the next success.
    refresh_error: RwSignal<Option<String>>,
    /// Counts by state of every agent, kept current by events between refreshes.
    pub summary: RwSignal<HealthSummary>,
    /// The version of `summary`: counts of a lower one (an answer slower than an event)
    /// are older and never replace them.
    summary_version: StoredValue<u64>,
    /// Agents matching the page's query, over all its pages.
    pub total: RwSignal<u64>,
    /// Each listed agent's uptime bar, by ID.
    pub bars: RwSignal<HashMap<String, UptimeBar>>,
    /// Whether expiry is paused (a banner).
    pub self_preservation: RwSignal<SelfPreservation>,
    /// The dashboards sharing the database, when there are several.
    pub nodes: RwSignal<Vec<NodeStatus>>,
}

impl AgentStore {
    pub fn new() -> Self {
        Self {
            rows: RwSignal::new(Vec::new()),
            owner: StoredValue::new(Owner::current().expect("AgentStore is created inside a component")),
            generation: StoredValue::new(0),
            refresh_error: RwSignal::new(None),
            summary: RwSignal::new(HealthSummary::default()),
            summary_version: StoredValue::new(0),
            total: RwSignal::new(0),
            bars: RwSignal::new(HashMap::new()),
            self_preservation: RwSignal::new(SelfPreservation::default()),
            nodes: RwSignal::new(Vec::new()),
        }
    }

    pub fn set_preservation(&self, state: SelfPreservation) {
        if self.self_preservation.get_untracked() != state {
            self.self_preservation.set(state);
        }
    }

    /// A whole view from the server: the rows, the counts and the bars.
    pub fn apply_overview(&self, overview: AgentOverview) {
        self.apply(overview.agents);
        self.set_summary(overview.summary, overview.summary_version);
        self.set_preservation(overview.self_preservation);
        if self.nodes.with_untracked(|n| n != &overview.nodes) {
            self.nodes.set(overview.nodes);
        }
        if self.total.get_untracked() != overview.total {
            self.total.set(overview.total);
        }
        let bars: HashMap<String, UptimeBar> = overview.bars.into_iter().map(|b| (b.agent_id.clone(), b)).collect();
        if self.bars.with_untracked(|b| b != &bars) {
            self.bars.set(bars);
        }
    }

    /// A pushed health change: the row in place (when it is on this page) and the counts.
    /// Nothing else is touched: the list is neither rebuilt nor re-sorted. True when a
    /// listed agent changed state.
    pub fn apply_health(&self, change: &AgentHealth) -> bool {
        if let Some(summary) = change.summary {
            self.set_summary(summary, change.summary_version);
        }
        let row = self
            .rows
            .with_untracked(|rows| rows.iter().find(|r| r.id.with_value(|id| id == &change.agent_id)).copied());
        let Some(row) = row else { return false };
        let moved = row.data.with_untracked(|d| d.health.state != change.health.state);
        if row.data.with_untracked(|d| d.health != change.health) {
            row.data.update(|d| d.health = change.health.clone());
        }
        moved
    }

    /// Keeps the newest counts: a version 0 (counted in the database) always applies.
    fn set_summary(&self, summary: HealthSummary, version: u64) {
        if version != 0 && version < self.summary_version.get_value() {
            return;
        }
        self.summary_version.set_value(version);
        if self.summary.get_untracked() != summary {
            self.summary.set(summary);
        }
    }

    /// Updates the agent's row if it is on this page; false when it is not.
    pub fn patch(&self, agent: &AgentView) -> bool {
        let agent = ListedAgent::from(agent);
        let row =
            self.rows.with_untracked(|rows| rows.iter().find(|r| r.id.with_value(|id| id == &agent.agent_id)).copied());
        match row {
            Some(row) => {
                if row.data.with_untracked(|d| d != &agent) {
                    row.data.set(agent);
                }
                true
            }
            None => false,
        }
    }

    pub fn rows(&self) -> RwSignal<Vec<AgentRow>> {
        self.rows
    }

    pub fn generation(&self) -> u64 {
        self.generation.get_value()
    }

    pub fn refresh_error(&self) -> Option<String> {
        self.refresh_error.get()
    }

    pub fn set_refresh_error(&self, error: Option<String>) {
        if self.refresh_error.get_untracked() != error {
            self.refresh_error.set(error);
        }
    }

    /// Replaces the list with `fresh` (the server's order), writing only what changed.
    pub fn apply(&self, fresh: Vec<ListedAgent>) {
        let current = self.rows.get_untracked();
        let mut by_id: HashMap<String, AgentRow> = current.iter().map(|r| (r.id.get_value(), *r)).collect();
        let mut membership_changed = fresh.len() != current.len();
        let mut next = Vec::with_capacity(fresh.len());
        for (i, agent) in fresh.into_iter().enumerate() {
            let row = match by_id.remove(&agent.agent_id) {
                Some(row) => {
                    let mut agent = agent;
                    // A pushed check newer than this answer's stays (the answer was read
                    // before it; RFC 3339 UTC from one formatter compares as text).
                    row.data.with_untracked(|d| {
                        if d.health.checked_at > agent.health.checked_at {
                            agent.health = d.health.clone();
                        }
                    });
                    if row.data.with_untracked(|d| d != &agent) {
                        row.data.set(agent);
                    }
                    row
                }
                None => self
                    .owner
                    .get_value()
                    .with(|| AgentRow { id: StoredValue::new(agent.agent_id.clone()), data: RwSignal::new(agent) }),
            };
            if current.get(i).map(|r| r.id.get_value()) != Some(row.id.get_value()) {
                membership_changed = true;
            }
            next.push(row);
        }
        if membership_changed {
            self.rows.set(next);
        }
    }

    /// Adds or updates one agent at once (after a registration), keeping the server's order.
    pub fn upsert(&self, agent: &AgentView) {
        let agent = ListedAgent::from(agent);
        let mut list: Vec<ListedAgent> =
            self.rows.with_untracked(|rows| rows.iter().map(|r| r.data.get_untracked()).collect());
        self.generation.update_value(|g| *g += 1);
        match list.iter_mut().find(|a| a.agent_id == agent.agent_id) {
            Some(existing) => *existing = agent,
            None => list.push(agent),
        }
        // The server's order: by ID, byte order.
        list.sort_by(|a, b| a.agent_id.cmp(&b.agent_id));
        self.apply(list);
    }

    pub fn remove(&self, agent_id: &str) {
        self.generation.update_value(|g| *g += 1);
        self.rows.update(|rows| rows.retain(|r| r.id.get_value() != agent_id));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{AgentSource, HealthState, HealthView};

    fn agent(id: &str, state: HealthState, checked_at: &str) -> AgentView {
        AgentView {
            agent_id: id.into(),
            agent_name: id.into(),
            agent_url: "http://127.0.0.1:1".into(),
            source: AgentSource::Manual,
            metadata: Default::default(),
            registered_at: "2026-12-01T00:00:00.000Z".into(),
            updated_at: "2026-12-01T00:00:00.000Z".into(),
            health: HealthView {
                state,
                reason: None,
                latency_ms: Some(1),
                checked_at: Some(checked_at.into()),
                consecutive_failures: 0,
                unhealthy_after: 2,
                interval_seconds: 10.0,
            },
            host: "127.0.0.1".into(),
            port: 1,
            ttl_seconds: None,
            last_heartbeat: None,
            is_alive: true,
            expired: false,
            expired_at: None,
            expiry: None,
            address_note: None,
        }
    }

    fn overview(agents: Vec<AgentView>, healthy: u64, version: u64) -> AgentOverview {
        let agents: Vec<ListedAgent> = agents.iter().map(ListedAgent::from).collect();
        let summary = HealthSummary { healthy, ..Default::default() };
        AgentOverview {
            total: agents.len() as u64,
            agents,
            summary,
            summary_version: version,
            bars: Vec::new(),
            self_preservation: Default::default(),
            nodes: Vec::new(),
        }
    }

    #[test]
    fn older_answers_never_undo_newer_pushed_changes() {
        let owner = Owner::new();
        owner.with(|| {
            let store = AgentStore::new();
            store.apply_overview(overview(vec![agent("a", HealthState::Healthy, "2026-12-01T00:00:10.000Z")], 1, 5));
            // Pushed: a newer check and newer counts.
            let newer = agent("a", HealthState::Failing, "2026-12-01T00:00:20.000Z");
            let counts = HealthSummary { failing: 1, ..Default::default() };
            let moved = store.apply_health(&AgentHealth {
                agent_id: "a".into(),
                health: newer.health.clone(),
                previous: Some(HealthState::Healthy),
                summary: Some(counts),
                summary_version: 7,
            });
            assert!(moved, "a listed agent changed state");
            // An answer read before both arrives late: it changes neither.
            store.apply_overview(overview(vec![agent("a", HealthState::Healthy, "2026-12-01T00:00:10.000Z")], 1, 6));
            assert_eq!(store.summary.get_untracked(), counts);
            let row = store.rows().get_untracked()[0];
            assert_eq!(row.data.get_untracked().health, newer.health);
            // A newer one does.
            store.apply_overview(overview(vec![agent("a", HealthState::Healthy, "2026-12-01T00:00:30.000Z")], 1, 8));
            assert_eq!(store.summary.get_untracked().healthy, 1);
            assert_eq!(row.data.get_untracked().health.state, HealthState::Healthy);
            // Counted in the database (the monitor had not started): always taken.
            store.apply_overview(overview(vec![], 0, 0));
            assert_eq!(store.summary.get_untracked().total(), 0);
        });
    }
}
