//! The form of "Find agents": a scan or another registry's list, run by the dashboard when
//! a person asks; candidates appear as they are found, and nothing is registered until
//! the person adds them (one by one, or all at once).

use crate::api::{add_candidates, discover};
use crate::model::{AddCandidates, AddOutcome, Added, Candidate, DeclaredAgent, DiscoverRequest, DiscoveryEvent};
use futures::future::{AbortHandle, Abortable};
use futures::StreamExt;
use leptos::prelude::*;
use std::collections::HashMap;

/// Candidates the page keeps; past this they are counted, not listed (the command line
/// lists every one).
const MAX_SHOWN: usize = 500;

/// One candidate on the page. Each row has signals of its own, so a change to one (added,
/// failed) redraws that row alone, and no row looks itself up in the list. The key is the
/// order of arrival: two answers may share a URL (a file's entries), never a key.
#[derive(Clone)]
struct Row {
    key: u64,
    candidate: ArcRwSignal<Candidate>,
    /// Why adding it failed.
    failed: ArcRwSignal<Option<String>>,
}

/// What one discovery shows.
#[derive(Clone, Copy)]
struct Finding {
    rows: RwSignal<Vec<Row>>,
    /// Found past `MAX_SHOWN`.
    unlisted: RwSignal<u64>,
    progress: RwSignal<Option<(u64, u64)>>,
    summary: RwSignal<Option<String>>,
    error: RwSignal<Option<String>>,
    running: RwSignal<bool>,
    arrived: StoredValue<u64>,
    /// Stops the reader of the discovery running: its stream is dropped, which cancels
    /// the request, and the dashboard stops the discovery.
    reader: StoredValue<Option<AbortHandle>>,
}

impl Finding {
    fn new() -> Self {
        Finding {
            rows: RwSignal::new(Vec::new()),
            unlisted: RwSignal::new(0),
            progress: RwSignal::new(None),
            summary: RwSignal::new(None),
            error: RwSignal::new(None),
            running: RwSignal::new(false),
            arrived: StoredValue::new(0),
            reader: StoredValue::new(None),
        }
    }

    fn apply(&self, event: DiscoveryEvent) {
        match event {
            DiscoveryEvent::Started { total } => self.progress.set(Some((0, total))),
            DiscoveryEvent::Progress { done, total } => self.progress.set(Some((done, total))),
            DiscoveryEvent::Candidate(c) => {
                if self.rows.with_untracked(Vec::len) < MAX_SHOWN {
                    let key = self.arrived.get_value();
                    self.arrived.set_value(key + 1);
                    let row = Row { key, candidate: ArcRwSignal::new(c), failed: ArcRwSignal::new(None) };
                    self.rows.update(|all| all.push(row));
                } else {
                    self.unlisted.update(|n| *n += 1);
                }
            }
            DiscoveryEvent::Done { done, found, seconds } => {
                self.progress.set(Some((done, done)));
                self.summary.set(Some(format!("{done} looked at in {seconds:.1} s: {found} answered.")));
            }
            DiscoveryEvent::Failed { message } => self.error.set(Some(message)),
        }
    }

    /// Starts reading a discovery, stopping the one before.
    fn start(&self, request: DiscoverRequest) {
        self.stop();
        self.rows.set(Vec::new());
        self.unlisted.set(0);
        self.progress.set(None);
        self.summary.set(None);
        self.error.set(None);
        self.running.set(true);
        let (handle, registration) = AbortHandle::new_pair();
        self.reader.set_value(Some(handle));
        let this = *self;
        leptos::task::spawn_local(async move {
            let _ = Abortable::new(this.read(request), registration).await;
        });
    }

    /// Stops reading at once (Stop, a new Find, leaving the page).
    fn stop(&self) {
        if let Some(handle) = self.reader.try_update_value(Option::take).flatten() {
            handle.abort();
        }
    }

    /// Reads the discovery's lines until it ends.
    async fn read(self, request: DiscoverRequest) {
        match discover(request).await {
            Err(e) => self.error.set(Some(e.message)),
            Ok(stream) => {
                let mut stream = stream.into_inner();
                let mut buffer = String::new();
                while let Some(chunk) = stream.next().await {
                    match chunk {
                        Ok(text) => buffer.push_str(&text),
                        Err(e) => {
                            self.error.set(Some(e.message));
                            break;
                        }
                    }
                    while let Some(end) = buffer.find('\n') {
                        let line: String = buffer.drain(..=end).collect();
                        if let Ok(event) = serde_json::from_str::<DiscoveryEvent>(&line) {
                            self.apply(event);
                        }
                    }
                }
            }
        }
        self.running.set(false);
        self.reader.set_value(None);
    }
}

/// Made in the browser only, when a person opens "Find agents" (`super::FindAgents`).
#[component]
pub fn FindForm() -> impl IntoView {
    let finding = Finding::new();
    let scan = RwSignal::new(true);
    let target = RwSignal::new(String::new());

    let start = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let text = target.get_untracked().trim().to_owned();
        if text.is_empty() {
            finding.error.set(Some(
                if scan.get_untracked() { "Give addresses and ports to scan" } else { "Give the registry's URL" }
                    .into(),
            ));
            return;
        }
        let request = if scan.get_untracked() {
            DiscoverRequest::Scan { targets: text, max_probes: None }
        } else {
            DiscoverRequest::Registry { url: text, token: None }
        };
        finding.start(request);
    };
    let stop = move |_| {
        finding.stop();
        finding.running.set(false);
        finding.summary.set(Some("Stopped.".into()));
    };
    on_cleanup(move || finding.stop());

    view! {
        <form on:submit=start>
            <div class="field">
                <label for="find-where">"Where"</label>
                <select id="find-where" on:change=move |ev| scan.set(event_target_value(&ev) == "scan")>
                    <option value="scan" selected=true>"Ports on addresses (scan)"</option>
                    <option value="registry">"Another registry (the old tool's, or another dashboard's …/api/v1)"</option>
                </select>
            </div>
            <div class="field">
                <label for="find-target">{move || if scan.get() { "Addresses and ports" } else { "Registry URL" }}</label>
                <input id="find-target" type="text" autocomplete="off" spellcheck="false"
                    placeholder=move || if scan.get() { "127.0.0.1:8000-8100" } else { "http://127.0.0.1:8000" }
                    prop:value=move || target.get() on:input=move |ev| target.set(event_target_value(&ev))/>
                <p class="hint">{move || scan.get().then_some("An address, a network (10.0.0.0/28) or localhost, then ports: at most 65,536 probes")}</p>
            </div>
            <div class="actions">
                <button type="submit" class="primary" disabled=move || finding.running.get()>
                    {move || if finding.running.get() { "Looking…" } else { "Find" }}
                </button>
                <button type="button" on:click=stop disabled=move || !finding.running.get()>"Stop"</button>
            </div>
        </form>
        <Status finding/>
        <Candidates finding/>
    }
}

#[component]
fn Status(finding: Finding) -> impl IntoView {
    view! {
        {move || finding.progress.get().filter(|_| finding.running.get()).map(|(done, total)| view! {
            <p class="muted" role="status">{format!("Looked at {done} of {total}…")}</p>
        })}
        {move || finding.summary.get().map(|s| view! { <p class="muted" role="status" data-testid="find-summary">{s}</p> })}
        {move || finding.error.get().map(|e| view! { <p class="notice error" role="alert">{e}</p> })}
    }
}

#[component]
fn Candidates(finding: Finding) -> impl IntoView {
    let add = Action::new(move |agents: &Vec<DeclaredAgent>| {
        add_candidates(AddCandidates { agents: agents.clone(), force: false })
    });
    // What adding did, shown on each row it concerns.
    Effect::new(move |_| match add.value().get() {
        Some(Ok(done)) => {
            let by_id: HashMap<&str, &Added> = done.iter().map(|a| (a.agent_id.as_str(), a)).collect();
            finding.rows.with_untracked(|rows| {
                for row in rows {
                    let id = row.candidate.with_untracked(|c| c.agent_id.clone());
                    match by_id.get(id.as_str()) {
                        Some(a) if a.outcome == AddOutcome::Failed => row.failed.set(a.message.clone()),
                        Some(_) => {
                            row.failed.set(None);
                            row.candidate.update(|c| c.registered = Some(id));
                        }
                        None => {}
                    }
                }
            });
        }
        Some(Err(e)) => finding.error.set(Some(e.message)),
        None => {}
    });
    let addable = move || {
        finding.rows.with(|rows| {
            rows.iter()
                .filter_map(|row| row.candidate.with(|c| c.is_new_agent().then(|| c.declared())))
                .collect::<Vec<_>>()
        })
    };
    view! {
        <Show when=move || !finding.rows.with(Vec::is_empty)>
            <table class="candidates" data-testid="candidates">
                <thead><tr><th>"ID"</th><th>"Name"</th><th>"URL"</th><th>"Answered"</th><th></th></tr></thead>
                <tbody>
                    <For each=move || finding.rows.get() key=|row| row.key let(row)>
                        <CandidateRow row finding add/>
                    </For>
                </tbody>
            </table>
            {move || (finding.unlisted.get() > 0).then(|| view! {
                <p class="muted">{format!("And {} more not listed here (the command line lists all).", finding.unlisted.get())}</p>
            })}
            <div class="actions">
                <button type="button" class="primary" data-testid="add-all"
                    disabled=move || add.pending().get() || addable().is_empty()
                    on:click=move |_| { add.dispatch(addable()); }>
                    {move || format!("Add all ({})", addable().len())}
                </button>
            </div>
        </Show>
    }
}

#[component]
fn CandidateRow(
    row: Row,
    finding: Finding,
    add: Action<Vec<DeclaredAgent>, Result<Vec<Added>, crate::error::ApiError>>,
) -> impl IntoView {
    let Row { key, candidate, failed } = row;
    let c = candidate.get_untracked();
    let note = {
        let candidate = candidate.clone();
        move || {
            candidate.with(|c| match (&c.registered, failed.get()) {
                (Some(at), _) if *at == c.agent_id => "registered".to_owned(),
                (Some(at), _) => format!("registered, as {at}"),
                (None, Some(why)) => format!("not added: {why}"),
                (None, None) => c.detail.clone().unwrap_or_default(),
            })
        }
    };
    let addable = {
        let candidate = candidate.clone();
        move || candidate.with(Candidate::is_new_agent)
    };
    let ignore = move |_| finding.rows.update(|all| all.retain(|r| r.key != key));
    let add_one = move |_| {
        add.dispatch(vec![candidate.with_untracked(Candidate::declared)]);
    };
    view! {
        <tr>
            <td class="mono">{c.agent_id.clone()}</td>
            <td>{c.agent_name.clone()}</td>
            <td class="mono">{c.agent_url.clone()}</td>
            <td>{c.answered.label()}<br/><span class="muted">{note}</span></td>
            <td class="row-actions">
                <Show when=addable.clone()>
                    <button type="button" on:click=add_one.clone() disabled=move || add.pending().get()>"Add"</button>
                </Show>
                <button type="button" on:click=ignore>"Ignore"</button>
            </td>
        </tr>
    }
}
