//! The registration form. The browser checks every field with the server's own rules
//! before sending; the server checks again and names any field it refuses.

use super::super::store::AgentStore;
use crate::api::register_agent;
use crate::error::{ApiError, ErrorCode, FieldError};
use crate::model::{RegisterAgent, Registration};
use crate::validation::validate_registration;
use leptos::prelude::*;

/// What the form says after a submission.
#[derive(Clone, PartialEq)]
enum Outcome {
    Saved { message: String },
    Refused(ApiError),
}

/// What the form holds and what it last said: the fields, the errors by field, the
/// outcome, and whether the person confirmed replacing the agent that has this ID (kept
/// for "Register anyway" after it; forgotten when the ID changes).
#[derive(Clone, Copy)]
struct Draft {
    agent_id: RwSignal<String>,
    agent_name: RwSignal<String>,
    agent_url: RwSignal<String>,
    metadata: RwSignal<String>,
    field_errors: RwSignal<Vec<FieldError>>,
    outcome: RwSignal<Option<Outcome>>,
    replace: RwSignal<bool>,
}

impl Draft {
    fn new() -> Self {
        Self {
            agent_id: RwSignal::new(String::new()),
            agent_name: RwSignal::new(String::new()),
            agent_url: RwSignal::new(String::new()),
            metadata: RwSignal::new(String::new()),
            field_errors: RwSignal::new(Vec::new()),
            outcome: RwSignal::new(None),
            replace: RwSignal::new(false),
        }
    }

    fn reset(&self) {
        for field in [self.agent_id, self.agent_name, self.agent_url, self.metadata] {
            field.set(String::new());
        }
        self.field_errors.set(Vec::new());
        self.outcome.set(None);
        self.replace.set(false);
    }

    /// The request the fields make now, checked with the server's own rules; `None`
    /// (and the errors shown by field) when they refuse it.
    fn request(&self, force: bool) -> Option<RegisterAgent> {
        let input = RegisterAgent {
            // The API keeps an ID exactly as sent (old agents heartbeat with theirs); a
            // person's stray space at either end is not part of it.
            agent_id: self.agent_id.get_untracked().trim().to_owned(),
            agent_name: self.agent_name.get_untracked(),
            agent_url: self.agent_url.get_untracked(),
            metadata: serde_json::Value::String(self.metadata.get_untracked()),
            force,
            replace: self.replace.get_untracked(),
            health_interval: None,
            outbound_headers: None,
        };
        self.outcome.set(None);
        match validate_registration(&input) {
            Ok(_) => {
                self.field_errors.set(Vec::new());
                Some(input)
            }
            Err(errors) => {
                self.field_errors.set(errors);
                None
            }
        }
    }

    /// The server's answer: the agent listed and the form emptied, or why not.
    fn answered(&self, result: Result<Registration, ApiError>, store: AgentStore) {
        match result {
            Ok(Registration { agent, created }) => {
                let message = saved_message(&agent, created, self.replace.get_untracked());
                store.upsert(&agent);
                self.reset();
                self.outcome.set(Some(Outcome::Saved { message }));
            }
            Err(error) => {
                self.field_errors.set(error.fields.clone());
                self.outcome.set(Some(Outcome::Refused(error)));
            }
        }
    }

    fn error_for(&self, field: &'static str) -> Signal<Option<String>> {
        let errors = self.field_errors;
        Signal::derive(move || errors.with(|errs| errs.iter().find(|e| e.field == field).map(|e| e.message.clone())))
    }
}

#[component]
pub fn RegisterForm(store: AgentStore) -> impl IntoView {
    // Built in the browser only, when the section is opened: interactive from the start.
    let draft = Draft::new();

    let submit = Action::new(move |input: &RegisterAgent| register_agent(input.clone()));
    // Apply each answer once it arrives.
    Effect::new(move |_| {
        if let Some(result) = submit.value().get() {
            draft.answered(result, store);
        }
    });
    // "Register anyway" and "Replace" send what the fields hold now, so an edit after
    // the refusal is not lost.
    let send = move |force: bool| {
        if let Some(input) = draft.request(force) {
            submit.dispatch(input);
        }
    };
    let pending = submit.pending();

    view! {
        <form on:submit=move |ev: leptos::ev::SubmitEvent| { ev.prevent_default(); send(false) } data-testid="register-form">
            <Field label="Agent ID" name="agent_id" value=draft.agent_id error=draft.error_for("agent_id") on_change=Callback::new(move |()| draft.replace.set(false))
                placeholder="test-agent" hint="Up to 255 characters, without / ? # or %"
                pattern=Some(r"[^\/?#%\x00-\x1F\x7F]{1,255}") required=true input_type="text"/>
            <Field label="Agent Name" name="agent_name" value=draft.agent_name error=draft.error_for("agent_name")
                placeholder="Test Agent" hint="" pattern=None required=true input_type="text"/>
            <Field label="Agent URL" name="agent_url" value=draft.agent_url error=draft.error_for("agent_url")
                placeholder="http://127.0.0.1:8002" hint="The whole base URL: http(s), host, port and any path"
                pattern=Some(r"https?://.+") required=true input_type="url"/>
            <MetadataField metadata=draft.metadata error=draft.error_for("metadata")/>
            <div class="actions">
                <button type="submit" class="primary" disabled=move || pending.get()>
                    {move || if pending.get() { "Checking health…" } else { "Register" }}
                </button>
                <button type="button" on:click=move |_| draft.reset()>"Clear"</button>
            </div>
        </form>
        <RegisterOutcome outcome=draft.outcome pending agent_id=draft.agent_id on_force=Callback::new(move |()| send(true)) on_replace=Callback::new(move |()| {
            draft.replace.set(true);
            send(false);
        })/>
    }
    .into_any()
}

/// "Registered agent 'x' (healthy).", or with the reason it is not: what the row shows,
/// e.g. "failing (1 of 2)", never a state it is not in.
fn saved_message(agent: &crate::model::AgentView, created: bool, replaced: bool) -> String {
    let verb = match (created, replaced) {
        (true, _) => "Registered",
        (false, true) => "Replaced",
        (false, false) => "Updated",
    };
    let health = match (agent.health.state, agent.health.reason.as_deref()) {
        (crate::model::HealthState::Healthy, _) => "healthy".to_owned(),
        (_, Some(reason)) => format!("{}: {reason}; it is checked again", agent.health.label()),
        (_, None) => agent.health.label(),
    };
    format!("{verb} agent '{}' ({health}).", agent.agent_id)
}

/// What the form says after a submission, with "Register anyway" when the health check
/// failed and "Replace" when the ID is taken.
#[component]
fn RegisterOutcome(
    outcome: RwSignal<Option<Outcome>>,
    pending: Memo<bool>,
    agent_id: RwSignal<String>,
    on_force: Callback<()>,
    on_replace: Callback<()>,
) -> impl IntoView {
    move || {
        outcome.get().map(|o| match o {
            Outcome::Saved { message } => view! {
                <p class="notice success" role="status" data-testid="form-message">{message}</p>
            }
            .into_any(),
            Outcome::Refused(error) => {
                let offer_force = error.code == ErrorCode::HealthCheckFailed;
                // Only a registration's conflict reaches this form: the ID is taken.
                let offer_replace = error.code == ErrorCode::Conflict;
                // The API's message tells a script how to replace; a person gets a button.
                let message = match (offer_replace, error.reason.as_deref()) {
                    (true, Some(holder)) => format!(
                        "Agent ID '{}' is already registered to {holder}. Replace it, or choose another ID.",
                        agent_id.get_untracked().trim()
                    ),
                    _ => error.message.clone(),
                };
                view! {
                    <div class="notice error" role="alert" data-testid="form-message">
                        <p>{message}</p>
                        {offer_force.then(|| view! {
                            <p>
                                <button type="button" class="warning" on:click=move |_| on_force.run(())
                                    disabled=move || pending.get()>"Register anyway"</button>
                                <span class="muted">" It is stored with this failed check and checked again like every agent."</span>
                            </p>
                        })}
                        {offer_replace.then(|| view! {
                            <p>
                                <button type="button" class="warning" on:click=move |_| on_replace.run(())
                                    data-testid="replace-agent" disabled=move || pending.get()>"Replace"</button>
                                <span class="muted">" The ID then names the agent you entered; the runs made so far stay in the history."</span>
                            </p>
                        })}
                    </div>
                }
                .into_any()
            }
        })
    }
}

/// Free text, or a JSON object of metadata.
#[component]
fn MetadataField(metadata: RwSignal<String>, error: Signal<Option<String>>) -> impl IntoView {
    view! {
        <div class="field">
            <label for="metadata">"Description or metadata " <span class="muted">"(optional)"</span></label>
            <textarea id="metadata" name="metadata" rows="3"
                placeholder=r#"Plain text, or a JSON object like {"team": "research"}"#
                aria-invalid=move || error.get().is_some().then_some("true")
                prop:value=move || metadata.get()
                on:input=move |ev| metadata.set(event_target_value(&ev))></textarea>
            {move || error.get().map(|m| view! { <p class="field-error" id="metadata-error">{m}</p> })}
        </div>
    }
}

#[component]
fn Field(
    label: &'static str,
    name: &'static str,
    value: RwSignal<String>,
    error: Signal<Option<String>>,
    placeholder: &'static str,
    hint: &'static str,
    pattern: Option<&'static str>,
    required: bool,
    input_type: &'static str,
    /// Called when the person edits the field.
    #[prop(optional)]
    on_change: Option<Callback<()>>,
) -> impl IntoView {
    let error_id = format!("{name}-error");
    view! {
        <div class="field">
            <label for=name>{label}</label>
            <input id=name name=name type=input_type placeholder=placeholder required=required
                pattern=pattern autocomplete="off" spellcheck="false"
                aria-invalid=move || error.get().is_some().then_some("true")
                aria-describedby=error_id.clone()
                prop:value=move || value.get()
                on:input=move |ev| {
                    value.set(event_target_value(&ev));
                    if let Some(changed) = on_change {
                        changed.run(());
                    }
                }/>
            {(!hint.is_empty()).then(|| view! { <p class="hint">{hint}</p> })}
            {move || error.get().map(|m| view! { <p class="field-error" id=error_id.clone()>{m}</p> })}
        </div>
    }
}
