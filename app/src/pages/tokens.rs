//! `/tokens`: the access tokens (never their values), a form to create one (its value is
//! shown this once), revocation, and the agents still heartbeating without a token.
//! Creating and revoking are Leptos `Action`s: their pending state and result are the
//! page's, not hand-kept signals.

use crate::api::{create_token, list_tokens, revoke_token};
use crate::error::ApiError;
use crate::model::{CreateToken, CreatedToken, TokensPage};
use leptos::prelude::*;
use leptos_meta::Title;

#[component]
pub fn TokensPage() -> impl IntoView {
    let create = Action::new(|request: &CreateToken| create_token(request.clone()));
    let revoke = Action::new(|name: &String| revoke_token(name.clone()));
    // Listed again after each creation or revocation.
    let page = Resource::new(move || (create.version().get(), revoke.version().get()), |_| list_tokens());
    view! {
        <Title text="Tokens · configurable-agents"/>
        <div class="tokens-page">
            <section class="card">
                <h1>"Tokens"</h1>
                <Suspense fallback=|| view! { <p class="hint">"Loading…"</p> }>
                    {move || page.get().map(|result| match result {
                        Ok(page) => view! { <TokenList page revoke/> }.into_any(),
                        Err(e) => view! { <p class="notice error" role="alert">{e.message}</p> }.into_any(),
                    })}
                </Suspense>
            </section>
            <CreateForm create/>
        </div>
    }
}

#[component]
fn TokenList(page: TokensPage, revoke: Action<String, Result<(), ApiError>>) -> impl IntoView {
    let revoke_error = move || revoke.value().get().and_then(Result::err).map(|e| e.message);
    let status = if page.access_control {
        "Access control is on: every request needs a token or a sign-in."
    } else {
        "Access control is off: tokens take effect once an admin token exists (token init-admin, or --admin-token-file)."
    };
    let tokenless = (page.tokenless_total > 0).then(|| {
        let shown = page.tokenless.join(", ");
        let more = page.tokenless_total.saturating_sub(page.tokenless.len());
        view! {
            <div class="notice error" role="status" data-testid="tokenless">
                <p>
                    <strong>{match page.tokenless_total {
                        1 => "1 agent heartbeats without a token".to_owned(),
                        n => format!("{n} agents heartbeat without a token"),
                    }}</strong>
                    " (refused: they will expire). Give them an agent token, or the URL "
                    <code>"http://DASHBOARD/api/v1/t/TOKEN"</code> "."
                </p>
                <p>{shown} {(more > 0).then(|| format!(" and {more} more"))}</p>
            </div>
        }
    });
    let open = page.open_registration.then(|| {
        view! {
            <p class="notice warning" role="status">
                "--open-registration is on: agents may register and heartbeat without a token."
            </p>
        }
    });
    let rows = page
        .tokens
        .into_iter()
        .map(|t| {
            let name = t.name.clone();
            let label = format!("Revoke {}", t.name);
            view! {
                <tr>
                    <td class="mono">{t.name}</td>
                    <td>{t.scope}</td>
                    <td>{t.may_register.unwrap_or_else(|| "—".into())}</td>
                    <td class="num">{t.agents}</td>
                    <td><crate::components::clock::RelativeTime at=Some(t.created_at) fallback="—"/></td>
                    <td>
                        <button type="button" class="small danger" aria-label=label
                            disabled=move || revoke.pending().get()
                            on:click=move |_| {
                                let question = format!("Revoke {name}? It and its sign-ins stop working within 2 s.");
                                if window().confirm_with_message(&question).unwrap_or(false) {
                                    revoke.dispatch(name.clone());
                                }
                            }>"Revoke"</button>
                    </td>
                </tr>
            }
        })
        .collect_view();
    view! {
        <p class="hint">{status}</p>
        {open}
        {tokenless}
        {move || revoke_error().map(|m| view! { <p class="notice error" role="alert">{m}</p> })}
        <table class="token-table">
            <thead><tr><th>"Name"</th><th>"Scope"</th><th>"May register"</th><th class="num">"Agents"</th><th>"Created"</th><th></th></tr></thead>
            <tbody>{rows}</tbody>
        </table>
    }
}

#[component]
fn CreateForm(create: Action<CreateToken, Result<CreatedToken, ApiError>>) -> impl IntoView {
    let name = RwSignal::new(String::new());
    let scope = RwSignal::new("agent".to_owned());
    let agent_id = RwSignal::new(String::new());
    let prefix = RwSignal::new(String::new());
    let agent_scope = move || scope.get() == "agent";
    let result = move || create.value().get();
    let field_error = move |field: &'static str| {
        move || result().and_then(Result::err).and_then(|e| e.field(field).map(str::to_owned))
    };
    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let optional = |s: String| (!s.trim().is_empty()).then_some(s);
        let agent = agent_scope();
        create.dispatch(CreateToken {
            name: name.get(),
            scope: scope.get(),
            agent_id: if agent { optional(agent_id.get()) } else { None },
            agent_prefix: if agent { optional(prefix.get()) } else { None },
        });
    };
    view! {
        <section class="card">
            <h2>"Create a token"</h2>
            <form on:submit=submit data-testid="create-token">
                <div class="field">
                    <label for="token-name">"Name"</label>
                    <input id="token-name" required maxlength="64" placeholder="research-agents"
                        prop:value=move || name.get() on:input=move |ev| name.set(event_target_value(&ev))/>
                    {move || field_error("name")().map(|m| view! { <p class="field-error">{m}</p> })}
                </div>
                <div class="field">
                    <label for="token-scope">"Scope"</label>
                    <select id="token-scope" on:change=move |ev| scope.set(event_target_value(&ev))>
                        <option value="agent" selected>"agent"</option>
                        <option value="metrics">"metrics"</option>
                        <option value="admin">"admin"</option>
                    </select>
                    <p class="hint">
                        {move || match scope.get().as_str() {
                            "metrics" => "Reads /metrics only (Prometheus).",
                            "admin" => "Everything: pages, the API, tokens.",
                            _ => "Registers, heartbeats and deregisters its own agents only.",
                        }}
                    </p>
                </div>
                <Show when=agent_scope>
                    <div class="field">
                        <label for="token-agent-id">"Only this agent ID (optional)"</label>
                        <input id="token-agent-id" prop:value=move || agent_id.get()
                            on:input=move |ev| agent_id.set(event_target_value(&ev))/>
                        {move || field_error("agent_id")().map(|m| view! { <p class="field-error">{m}</p> })}
                    </div>
                    <div class="field">
                        <label for="token-agent-prefix">"Or only IDs starting with (optional)"</label>
                        <input id="token-agent-prefix" prop:value=move || prefix.get()
                            on:input=move |ev| prefix.set(event_target_value(&ev))/>
                        {move || field_error("agent_prefix")().map(|m| view! { <p class="field-error">{m}</p> })}
                    </div>
                </Show>
                <div class="actions">
                    <button type="submit" class="primary" disabled=move || create.pending().get()>"Create"</button>
                </div>
            </form>
            {move || result().map(|r| match r {
                Ok(created) => view! {
                    <div class="notice success" role="status" data-testid="new-token">
                        <p>{format!("Created {}. Copy it now: it is not shown again.", created.name)}</p>
                        <p><code class="token-value">{created.token}</code></p>
                    </div>
                }.into_any(),
                Err(e) if e.fields.is_empty() => view! { <p class="notice error" role="alert">{e.message}</p> }.into_any(),
                Err(_) => ().into_any(),
            })}
        </section>
    }
}
