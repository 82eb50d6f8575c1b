//! "Find agents": a scan or another registry's list, run by the dashboard when a person
//! asks; candidates appear as they are found, and nothing is registered until the person
//! adds them (one by one, or all at once).

use crate::api::{add_candidates, discover};
use crate::model::{
    AddCandidates, AddOutcome, Added, Answered, Candidate, DeclaredAgent, DiscoverRequest, DiscoveryEvent,
};
use futures::StreamExt;
use leptos::prelude::*;

/// Candidates the page keeps; past this they are counted, not listed (the command line
/// lists every one).
const MAX_SHOWN: usize = 500;

/// What one discovery shows.
#[derive(Clone, Copy)]
struct Finding {
    candidates: RwSignal<Vec<Candidate>>,
    /// Found past `MAX_SHOWN`.
    unlisted: RwSignal<u64>,
    progress: RwSignal<Option<(u64, u64)>>,
    summary: RwSignal<Option<String>>,
    error: RwSignal<Option<String>>,
    running: RwSignal<bool>,
    /// Bumped by Find and Stop: a reader of an older discovery stops reading.
    generation: StoredValue<u64>,
}

impl Finding {
    fn new() -> Self {
        Finding {
            candidates: RwSignal::new(Vec::new()),
            unlisted: RwSignal::new(0),
            progress: RwSignal::new(None),
            summary: RwSignal::new(None),
            error: RwSignal::new(None),
            running: RwSignal::new(false),
            generation: StoredValue::new(0),
        }
    }

    fn apply(&self, event: DiscoveryEvent) {
        match event {
            DiscoveryEvent::Started { total } => self.progress.set(Some((0, total))),
            DiscoveryEvent::Progress { done, total } => self.progress.set(Some((done, total))),
            DiscoveryEvent::Candidate(c) => {
                if self.candidates.with_untracked(Vec::len) < MAX_SHOWN {
                    self.candidates.update(|all| all.push(c));
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

    /// Reads the discovery's lines until it ends or a newer Find or Stop supersedes it
    /// (dropping the stream stops the discovery on the server).
    async fn read(self, request: DiscoverRequest, generation: u64) {
        let current = move || self.generation.get_value() == generation;
        match discover(request).await {
            Err(e) => self.error.set(Some(e.message)),
            Ok(stream) => {
                let mut stream = stream.into_inner();
                let mut buffer = String::new();
                while let Some(chunk) = stream.next().await {
                    if !current() {
                        return;
                    }
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
        if current() {
            self.running.set(false);
        }
    }
}

#[component]
pub fn FindAgents() -> impl IntoView {
    let finding = Finding::new();
    let scan = RwSignal::new(true);
    let target = RwSignal::new(String::new());
    let hydrated = RwSignal::new(false);
    Effect::new(move |_| hydrated.set(true));

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
            DiscoverRequest::Registry { url: text }
        };
        let generation = finding.generation.get_value() + 1;
        finding.generation.set_value(generation);
        finding.candidates.set(Vec::new());
        finding.unlisted.set(0);
        finding.progress.set(None);
        finding.summary.set(None);
        finding.error.set(None);
        finding.running.set(true);
        leptos::task::spawn_local(finding.read(request, generation));
    };
    let stop = move |_| {
        finding.generation.update_value(|g| *g += 1);
        finding.running.set(false);
        finding.summary.set(Some("Stopped.".into()));
    };

    view! {
        <section class="card find" aria-labelledby="find-title" data-testid="find-agents">
            <h2 id="find-title">"Find agents"</h2>
            <p class="hint">"Nothing is found or added by itself: look, then choose what to add."</p>
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
                    <button type="submit" class="primary" disabled=move || !hydrated.get() || finding.running.get()>
                        {move || if finding.running.get() { "Looking…" } else { "Find" }}
                    </button>
                    <button type="button" on:click=stop disabled=move || !finding.running.get()>"Stop"</button>
                </div>
            </form>
            <Status finding/>
            <Candidates finding/>
        </section>
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
    let add = Action::new(move |agents: &Vec<DeclaredAgent>| add_candidates(AddCandidates { agents: agents.clone() }));
    // What adding did, by ID, shown on each row.
    let results = RwSignal::new(Vec::<Added>::new());
    Effect::new(move |_| match add.value().get() {
        Some(Ok(done)) => {
            finding.candidates.update(|all| {
                for c in all.iter_mut() {
                    if done.iter().any(|a| a.agent_id == c.agent_id && a.outcome != AddOutcome::Failed) {
                        c.registered = Some(c.agent_id.clone());
                    }
                }
            });
            results.update(|r| r.extend(done));
        }
        Some(Err(e)) => finding.error.set(Some(e.message)),
        None => {}
    });
    let addable =
        move || finding.candidates.with(|all| all.iter().filter(|c| can_add(c)).map(declared).collect::<Vec<_>>());
    view! {
        <Show when=move || !finding.candidates.with(Vec::is_empty)>
            <table class="candidates" data-testid="candidates">
                <thead><tr><th>"ID"</th><th>"Name"</th><th>"URL"</th><th>"Answered"</th><th></th></tr></thead>
                <tbody>
                    <For each=move || finding.candidates.get() key=|c| c.agent_url.clone() let(c)>
                        <CandidateRow c finding add results/>
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
    c: Candidate,
    finding: Finding,
    add: Action<Vec<DeclaredAgent>, Result<Vec<Added>, crate::error::ApiError>>,
    results: RwSignal<Vec<Added>>,
) -> impl IntoView {
    let url = c.agent_url.clone();
    let id = c.agent_id.clone();
    let current = {
        let url = url.clone();
        move || finding.candidates.with(|all| all.iter().find(|x| x.agent_url == url).cloned())
    };
    let note = {
        let current = current.clone();
        move || {
            let c = current()?;
            let failed = results.with(|r| {
                r.iter()
                    .rev()
                    .find(|a| a.agent_id == c.agent_id && a.outcome == AddOutcome::Failed)
                    .and_then(|a| a.message.clone())
            });
            Some(match (&c.registered, failed) {
                (Some(at), _) if *at == c.agent_id => "registered".to_owned(),
                (Some(at), _) => format!("registered, as {at}"),
                (None, Some(why)) => format!("not added: {why}"),
                (None, None) => c.detail.clone().unwrap_or_default(),
            })
        }
    };
    let addable = {
        let current = current.clone();
        move || current().is_some_and(|c| can_add(&c))
    };
    let ignore = {
        let url = url.clone();
        move |_| finding.candidates.update(|all| all.retain(|x| x.agent_url != url))
    };
    let add_one = move |_| {
        if let Some(c) = current() {
            add.dispatch(vec![declared(&c)]);
        }
    };
    view! {
        <tr>
            <td class="mono">{id}</td>
            <td>{c.agent_name.clone()}</td>
            <td class="mono">{url.clone()}</td>
            <td>{c.answered.label()}<br/><span class="muted">{note}</span></td>
            <td class="row-actions">
                <Show when=addable.clone()>
                    <button type="button" on:click=add_one.clone() disabled=move || add.pending().get()>"Add"</button>
                </Show>
                <button type="button" on:click=ignore.clone()>"Ignore"</button>
            </td>
        </tr>
    }
}

/// An agent of our protocol, not registered yet.
fn can_add(c: &Candidate) -> bool {
    matches!(c.answered, Answered::Agent | Answered::AgentWithoutSchema) && c.registered.is_none()
}

fn declared(c: &Candidate) -> DeclaredAgent {
    DeclaredAgent {
        id: c.agent_id.clone(),
        name: Some(c.agent_name.clone()),
        url: c.agent_url.clone(),
        metadata: (!c.metadata.is_empty()).then(|| serde_json::Value::Object(c.metadata.clone())),
    }
}
