//! Calls agents for runs, in the background: never inside the browser's request. Each run
//! is one task that waits for a slot of its agent (a per-agent limit of concurrent runs;
//! the rest wait, queued, in order), marks the run running, calls the agent, follows an
//! async job to its end, and writes the outcome — every write a guarded transition, so a
//! cancel that wins is never overwritten.

use super::store::{self, Outcome};
use super::RunSettings;
use crate::agent_client::{judge_job_status, judge_run_answer, AgentClient, CallError, JobReply, Outbound, RunReply};
use crate::db::Db;
use crate::events::EventBus;
use app::model::RunStatus;
use app::validation::AgentUrl;
use chrono::{DateTime, Utc};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::{Notify, Semaphore};
use tokio::task::AbortHandle;

/// Extra time an agent call gets beyond the run's remaining budget (see `call_agent`).
const CALL_MARGIN: Duration = Duration::from_secs(1);

/// One run to carry out.
#[derive(Clone, Debug)]
pub struct Job {
    pub run_id: String,
    pub agent_id: String,
    pub agent_url: String,
    pub inputs: serde_json::Value,
    /// The values of its secret inputs: an agent that echoes one back does not get it
    /// stored through its outputs or an error message either. (Empty after a restart:
    /// the values were never stored.)
    pub secrets: Vec<String>,
    /// Set when the run is already running: an async job to keep polling (after a restart).
    pub resume: Option<(String, DateTime<Utc>)>,
}

#[derive(Clone)]
pub struct Dispatcher {
    inner: Arc<Inner>,
}

struct Inner {
    db: Db,
    client: AgentClient,
    bus: EventBus,
    settings: RunSettings,
    /// The runs this dashboard claims (`cluster`).
    claims: Claims,
    slots: Mutex<HashMap<String, Arc<Semaphore>>>,
    /// Woken when a run of the agent ends (here or on another dashboard): a run waiting
    /// for the agent's limit across dashboards tries again.
    freed: Mutex<HashMap<String, Arc<Notify>>>,
    /// The task of every run that is queued or running here, for cancel.
    active: Mutex<HashMap<String, AbortHandle>>,
}

/// Who claims runs, and when another dashboard's claim has lapsed.
#[derive(Clone)]
pub struct Claims {
    /// This dashboard (its membership row).
    pub me: Arc<str>,
    /// A claim lapses when its dashboard's row is older than this.
    pub node_timeout: Duration,
    /// SQLite: one dashboard at a time, so every other claim has lapsed.
    pub alone: bool,
    /// Whether this dashboard may judge others gone now (`Cluster::steady`).
    pub steady: Arc<dyn Fn() -> bool + Send + Sync>,
}

/// Runs taken over at a time.
const TAKE_AT_ONCE: u64 = 200;

/// A run that waits for its agent's limit across dashboards asks again at least this
/// often (a run ending on another dashboard wakes it sooner, through the relay).
const FULL_RETRY: Duration = Duration::from_secs(1);

impl Dispatcher {
    pub fn new(db: Db, client: AgentClient, bus: EventBus, settings: RunSettings, claims: Claims) -> Self {
        Self {
            inner: Arc::new(Inner {
                db,
                client,
                bus,
                settings,
                claims,
                slots: Mutex::new(HashMap::new()),
                freed: Mutex::new(HashMap::new()),
                active: Mutex::new(HashMap::new()),
            }),
        }
    }

    /// The dashboard that claims the runs stored here.
    pub fn me(&self) -> &str {
        &self.inner.claims.me
    }

    /// A run of `agent_id` ended on another dashboard: one waiting here may start.
    pub fn freed(&self, agent_id: &str) {
        if let Some(notify) = lock(&self.inner.freed).get(agent_id) {
            notify.notify_waiters();
        }
    }

    /// Starts carrying out `job` in the background.
    pub fn dispatch(&self, job: Job) {
        let inner = self.inner.clone();
        let run_id = job.run_id.clone();
        // Registered before the task can finish, so its own removal always comes after.
        let mut active = lock(&self.inner.active);
        let task = tokio::spawn(async move {
            let run_id = job.run_id.clone();
            inner.carry_out(job).await;
            lock(&inner.active).remove(&run_id);
        });
        active.insert(run_id, task.abort_handle());
    }

    /// Stops the task of a run (after its cancellation was stored): the agent call is
    /// dropped and its slot freed. The agent has no cancel call: it may still finish.
    pub fn abort(&self, run_id: &str) {
        if let Some(handle) = lock(&self.inner.active).remove(run_id) {
            handle.abort();
        }
    }

    /// At shutdown: stops every run's task where it is. Their rows stay as they are, and
    /// the next start settles them (`recover`).
    pub fn abort_all(&self) {
        for (_, handle) in lock(&self.inner.active).drain() {
            handle.abort();
        }
    }

    /// Settles the runs of dashboards that are gone (at start: the previous process's;
    /// then, with several dashboards, every fifth of the node timeout): this one claims
    /// them; in-flight synchronous calls become `interrupted` (never sent twice), async
    /// jobs resume polling, queued runs are sent (those whose secret inputs died with
    /// their dashboard: `interrupted`). Only runs whose claim has lapsed are touched.
    pub async fn take_over(&self) -> Result<(), sea_orm::DbErr> {
        let claims = &self.inner.claims;
        // Just started, or the database was away: the others may not have renewed yet, so
        // only the runs of dashboards that left (their row deleted) are taken.
        let steady = claims.alone || (claims.steady)();
        let (mut interrupted, mut resumed, mut queued) = (0, 0, 0);
        loop {
            let fresh = steady
                .then(|| Utc::now() - chrono::Duration::from_std(claims.node_timeout).unwrap_or(chrono::Duration::MAX));
            let taken = store::take_over(self.inner.db.write(), &claims.me, fresh, claims.alone, TAKE_AT_ONCE).await?;
            let done = (taken.len() as u64) < TAKE_AT_ONCE;
            for run in taken {
                let running = run.status == RunStatus::Running.as_str();
                let why = match (running, &run.job_id, &run.withheld) {
                    (true, None, _) => Some((RunStatus::Running, store::INTERRUPTED_IN_FLIGHT)),
                    (false, _, Some(_)) => Some((RunStatus::Queued, store::INTERRUPTED_WITHHELD)),
                    _ => None,
                };
                if let Some((from, reason)) = why {
                    if store::interrupt(self.inner.db.write(), &run.run_id, &claims.me, from, reason).await? {
                        interrupted += 1;
                        store::publish(self.inner.db.read(), &self.inner.bus, &run.run_id).await;
                    }
                    continue;
                }
                let resume = match (running, run.job_id) {
                    (true, Some(job_id)) => {
                        resumed += 1;
                        Some((job_id, run.started_at.unwrap_or(run.created_at)))
                    }
                    _ => {
                        queued += 1;
                        None
                    }
                };
                self.dispatch(Job {
                    run_id: run.run_id,
                    agent_id: run.agent_id,
                    agent_url: run.agent_url,
                    inputs: run.inputs,
                    secrets: Vec::new(),
                    resume,
                });
            }
            if done {
                break;
            }
        }
        if interrupted + resumed + queued > 0 {
            tracing::info!(interrupted, resumed, queued, "runs of a dashboard that is gone taken over");
        }
        Ok(())
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().expect("dispatcher locks are never poisoned: nothing panics while holding them")
}

impl Inner {
    fn freed(&self, agent_id: &str) -> Arc<Notify> {
        lock(&self.freed).entry(agent_id.to_owned()).or_default().clone()
    }

    fn slot(&self, agent_id: &str) -> Arc<Semaphore> {
        lock(&self.slots)
            .entry(agent_id.to_owned())
            .or_insert_with(|| Arc::new(Semaphore::new(self.settings.per_agent_concurrency)))
            .clone()
    }

    async fn carry_out(&self, job: Job) {
        let (run_id, agent_id) = (job.run_id.clone(), job.agent_id.clone());
        if let Err(e) = self.try_carry_out(job).await {
            // The outcome could not be written; the run stays as it was, and is settled
            // when this dashboard is gone (the next start, or another dashboard).
            tracing::error!(%run_id, error = %e, "could not record a run's progress");
        }
        // A run waiting for the agent's limit across dashboards may start now.
        if let Some(freed) = lock(&self.freed).get(&agent_id) {
            freed.notify_waiters();
        }
    }

    async fn try_carry_out(&self, job: Job) -> Result<(), sea_orm::DbErr> {
        let db = self.db.write();
        let slot = self.slot(&job.agent_id);
        let _permit = slot.acquire_owned().await.expect("run slots are never closed");
        let url = match AgentUrl::parse(&job.agent_url) {
            Ok(url) => url,
            Err(e) => {
                let error = format!("the agent's URL is not usable: {e}");
                if store::finish_as(db, &job.run_id, &self.claims.me, RunStatus::Failed, failure(error, None), None)
                    .await?
                {
                    store::publish(db, &self.bus, &job.run_id).await;
                }
                return Ok(());
            }
        };
        // The agent's headers, if they were set for the URL this run goes to (a run queued
        // before the agent moved goes without them). An agent echoing one is masked below.
        let outbound = crate::registry::store::outbound::for_url(self.db.read(), &job.agent_id, &job.agent_url).await?;
        let deadline_total = self.settings.run_timeout;
        let (started_at, job_id) = match job.resume {
            Some((job_id, started_at)) => (started_at, Some(job_id)),
            None => {
                // Its agent expired or deregistered while the run waited: never sent.
                let agent = crate::registry::store::find(db, &job.agent_id).await?;
                if let Some(why) = agent.as_ref().and_then(crate::registry::Registry::not_alive) {
                    let error = format!("{why} The run was not sent.");
                    if store::finish_as(db, &job.run_id, &self.claims.me, RunStatus::Failed, failure(error, None), None)
                        .await?
                    {
                        store::publish(db, &self.bus, &job.run_id).await;
                    }
                    return Ok(());
                }
                let at = loop {
                    let at = store::now();
                    let limit = self.settings.per_agent_concurrency;
                    // Registered before asking, so that a run ending meanwhile wakes it.
                    let freed = self.freed(&job.agent_id);
                    let woken = freed.notified();
                    // A run started longer ago than the run timeout is not running any
                    // more, whatever its row says (an outcome that could not be written).
                    let live_since = at
                        - chrono::Duration::from_std(self.settings.run_timeout + CALL_MARGIN * 2)
                            .unwrap_or(chrono::Duration::MAX);
                    match store::start(db, &job.run_id, &job.agent_id, &self.claims.me, limit, at, live_since).await? {
                        store::Start::Started => break at,
                        // Cancelled, deleted or taken over while it waited.
                        store::Start::Gone => return Ok(()),
                        // Its agent's other runs are on other dashboards.
                        store::Start::Full => {
                            let _ = tokio::time::timeout(FULL_RETRY, woken).await;
                        }
                    }
                };
                (at, None)
            }
        };
        // Time already spent (a resumed job) counts against the run's timeout.
        let spent = (Utc::now() - started_at).to_std().unwrap_or_default();
        let remaining = deadline_total.saturating_sub(spent);
        let last_problem = Mutex::new(None::<String>);
        let resumed = job_id.is_some();
        let work = self.call_agent(&job.run_id, &url, &outbound, &job.inputs, job_id, remaining, &last_problem);
        // "running" is published while the agent is called, not before: the call must not
        // wait for it, and the join ends before the outcome is published, so the order holds.
        let announce = async {
            if !resumed {
                store::publish(db, &self.bus, &job.run_id).await;
            }
        };
        let (_, worked) = tokio::join!(announce, tokio::time::timeout(remaining, work));
        let (status, mut outcome) = match worked {
            Ok(Ok(reply)) => settle(reply),
            Ok(Err(e)) => return Err(e),
            Err(_) => {
                let mut error = format!(
                    "the agent did not finish within the run timeout ({}); it may still be working",
                    humantime::format_duration(deadline_total)
                );
                if let Some(problem) = lock(&last_problem).take() {
                    error.push_str(&format!(" (the last status check: {problem})"));
                }
                (RunStatus::TimedOut, failure(error, None))
            }
        };
        let mut secrets = job.secrets.clone();
        secrets.extend(outbound.values());
        scrub(&mut outcome, &secrets);
        // The outcome is the point of the whole run: a failed write is tried again before
        // giving up (the next start would otherwise call it interrupted).
        let mut wait = Duration::from_millis(200);
        for attempt in 1..=5 {
            match store::finish_as(db, &job.run_id, &self.claims.me, status, outcome.clone(), Some(started_at)).await {
                Ok(finished) => {
                    if finished {
                        store::publish(db, &self.bus, &job.run_id).await;
                    }
                    return Ok(());
                }
                Err(e) if attempt == 5 => return Err(e),
                Err(e) => {
                    tracing::warn!(run_id = %job.run_id, error = %e, attempt, "could not record a run's outcome; trying again");
                    tokio::time::sleep(wait).await;
                    wait *= 2;
                }
            }
        }
        Ok(())
    }

    /// The agent's final reply: the `/run` answer, or the end of its async job.
    #[allow(clippy::too_many_arguments)]
    async fn call_agent(
        &self,
        run_id: &str,
        url: &AgentUrl,
        outbound: &Outbound,
        inputs: &serde_json::Value,
        job_id: Option<String>,
        budget: Duration,
        last_problem: &Mutex<Option<String>>,
    ) -> Result<RunReply, sea_orm::DbErr> {
        let began = Instant::now();
        let job_id = match job_id {
            Some(job_id) => job_id,
            None => {
                // The run's own timeout (around this call) must be the one that fires, so a
                // slow agent reads as `timed_out`, not as a failed call: the call gets a margin.
                let answer = match self.client.start_run(url, outbound, inputs, budget + CALL_MARGIN).await {
                    Ok(answer) => answer,
                    Err(reason) => {
                        return Ok(RunReply::Failed {
                            error: format!("calling the agent failed: {reason}"),
                            fields: vec![],
                        })
                    }
                };
                match judge_run_answer(&answer) {
                    RunReply::Async { job_id } => {
                        if !store::set_job(self.db.write(), run_id, &job_id).await? {
                            // Cancelled meanwhile: nothing more to wait for.
                            return Ok(RunReply::Failed { error: "cancelled".into(), fields: vec![] });
                        }
                        job_id
                    }
                    reply => return Ok(reply),
                }
            }
        };
        let mut wait = self.settings.poll_initial;
        loop {
            tokio::time::sleep(wait).await;
            // Gentle backoff: a job done in 2 s is seen within ~0.5 s, a long one is asked
            // at most every `poll_max`.
            wait = wait.mul_f32(1.5).min(self.settings.poll_max);
            let left = budget.saturating_sub(began.elapsed()) + CALL_MARGIN;
            let problem = match self.client.job_status(url, outbound, &job_id, left).await {
                Ok(answer) => match judge_job_status(&job_id, &answer) {
                    JobReply::Pending => None,
                    JobReply::Unavailable(reason) => Some(reason),
                    JobReply::Finished(reply) => return Ok(reply),
                },
                // No later answer can change the policy's verdict.
                Err(CallError::Refused(refusal)) => {
                    return Ok(RunReply::Failed {
                        error: format!("asking the agent about job {job_id} failed: {refusal}"),
                        fields: vec![],
                    })
                }
                Err(CallError::Failed(reason)) => Some(reason),
            };
            // The agent may be restarting or busy: keep asking until the run's timeout.
            let mut last = lock(last_problem);
            if let Some(reason) = &problem {
                if last.as_ref() != Some(reason) {
                    tracing::info!(%run_id, %job_id, %reason, "job status check failed; will ask again");
                }
            }
            *last = problem;
        }
    }
}

/// Replaces every occurrence of a secret in what is about to be stored with "***".
fn scrub(outcome: &mut Outcome, secrets: &[String]) {
    fn text(s: &mut String, secrets: &[String]) {
        for secret in secrets {
            if s.contains(secret.as_str()) {
                *s = s.replace(secret.as_str(), app::schema::secrets::MASK);
            }
        }
    }
    /// A string that is a secret whole is masked whatever its length (an echo of the
    /// input); inside longer text only secrets of 4 or more characters are looked for.
    fn value(v: &mut serde_json::Value, whole: &[String], inside: &[String]) {
        match v {
            serde_json::Value::String(s) if whole.iter().any(|w| w == s) => *s = app::schema::secrets::MASK.to_owned(),
            // A secret that is a number (or true/false) echoed as one.
            serde_json::Value::Number(_) | serde_json::Value::Bool(_) => {
                let shown = v.to_string();
                if whole.contains(&shown) {
                    *v = serde_json::Value::String(app::schema::secrets::MASK.to_owned());
                }
            }
            serde_json::Value::String(s) => text(s, inside),
            serde_json::Value::Array(items) => items.iter_mut().for_each(|v| value(v, whole, inside)),
            serde_json::Value::Object(map) => map.values_mut().for_each(|v| value(v, whole, inside)),
            _ => {}
        }
    }
    let whole: Vec<String> = secrets.iter().filter(|s| !s.is_empty()).cloned().collect();
    // Very short values ("a") searched for inside text would mask ordinary letters.
    let inside: Vec<String> = whole.iter().filter(|s| s.chars().count() >= 4).cloned().collect();
    if whole.is_empty() {
        return;
    }
    if let Some(v) = &mut outcome.outputs {
        value(v, &whole, &inside);
    }
    if let Some(e) = &mut outcome.error {
        if whole.iter().any(|w| w == e) {
            *e = app::schema::secrets::MASK.to_owned();
        }
        text(e, &inside);
    }
    if let Some(v) = &mut outcome.field_errors {
        value(v, &whole, &inside);
    }
}

fn failure(error: String, fields: Option<serde_json::Value>) -> Outcome {
    Outcome { error: Some(error), field_errors: fields, ..Default::default() }
}

fn settle(reply: RunReply) -> (RunStatus, Outcome) {
    match reply {
        RunReply::Done { outputs, total_tokens, cost_usd } => {
            (RunStatus::Succeeded, Outcome { outputs: Some(outputs), total_tokens, cost_usd, ..Default::default() })
        }
        RunReply::Failed { error, fields } => {
            let fields = (!fields.is_empty()).then(|| serde_json::to_value(&fields).unwrap_or_default());
            (RunStatus::Failed, failure(error, fields))
        }
        RunReply::Async { job_id } => (
            RunStatus::Failed,
            failure(format!("the agent answered \"async\" again while reporting job {job_id}"), None),
        ),
    }
}
