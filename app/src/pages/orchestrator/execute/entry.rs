//! How the panel opens: from the URL (`?execute=AGENT`), in the browser only, with a
//! placeholder while its lazy part of the bundle arrives.

use super::focus::{focus, later};
use super::Panel;
use crate::error::ApiError;
use leptos::prelude::*;
use leptos_router::hooks::{use_navigate, use_query_map};

#[component]
pub fn ExecutePanel() -> impl IntoView {
    let query = use_query_map();
    let agent = Memo::new(move |_| query.with(|q| q.get("execute").filter(|a| !a.is_empty())));
    let from = Memo::new(move |_| query.with(|q| q.get("from").filter(|r| !r.is_empty())));
    // The panel lives in the browser only: it opens from a click (or a shared link) after
    // the page has become interactive.
    let hydrated = RwSignal::new(false);
    Effect::new(move |_| hydrated.set(true));
    // Try again after the part failed to arrive: asks for it afresh.
    let attempt = RwSignal::new(0u32);
    move || {
        let agent = agent.get().filter(|_| hydrated.get())?;
        let from = from.get();
        attempt.track();
        Some(view! {
            <Suspense fallback=move || view! { <Opening/> }>
                {Suspend::new(async move {
                    match panel(agent, from).await {
                        Ok(panel) => panel,
                        Err(e) => {
                            let retry = Callback::new(move |()| attempt.update(|n| *n += 1));
                            view! { <Opening failed=e.message retry/> }.into_any()
                        }
                    }
                })}
            </Suspense>
        })
    }
}

/// While the panel's part of the bundle arrives (a slow network): it says so, and can be
/// left as the panel can (Close, Escape). When the part did not arrive: why, and Try
/// again.
#[component]
fn Opening(#[prop(optional)] failed: Option<String>, #[prop(optional)] retry: Option<Callback<()>>) -> impl IntoView {
    let query = use_query_map();
    let navigate = use_navigate();
    let close = move || query.with_untracked(|q| super::super::list::href_keeping_list(|k| q.get(k), None));
    // Focus inside, so that Escape reaches it (the panel, once here, takes it further);
    // after the click that opened it has been handled. Once it failed: on Try again.
    let target =
        if failed.is_some() { "[data-testid=execute-opening] button" } else { "[data-testid=execute-opening] a" };
    Effect::new(move |_| later(move || focus(target)));
    let on_key = move |ev: leptos::ev::KeyboardEvent| {
        if ev.key() == "Escape" {
            ev.prevent_default();
            navigate(&close(), Default::default());
        }
    };
    view! {
        <section class="card execute" data-testid="execute-opening" on:keydown=on_key>
            <div class="card-title">
                {match failed.clone() {
                    None => view! { <p class="muted" role="status">"Opening the form…"</p> }.into_any(),
                    Some(why) => view! { <p class="field-error" role="alert">{format!("The run form could not be opened: {why}.")}</p> }.into_any(),
                }}
                <a href=move || query.with(|q| super::super::list::href_keeping_list(|k| q.get(k), None))
                    aria-label="Close the run form">"Close"</a>
            </div>
            {retry.map(|retry| view! {
                <button type="button" class="primary" on:click=move |_| retry.run(())>"Try again"</button>
            })}
        </section>
    }
}

/// The panel and all it needs (the form generator, the raw JSON editor, the schema
/// validator) are a part of the bundle of their own, fetched when a panel first opens:
/// most visits never open one. A part that cannot be fetched is an error, not a panic
/// (`ApiError`'s `From<SplitLoaderError>`).
#[cfg_attr(
    feature = "hydrate",
    leptos::wasm_split::wasm_split(panel_form, wasm_split_path = ::leptos::wasm_split, fallible)
)]
fn panel_part(agent_id: String, from: Option<String>) -> Result<AnyView, ApiError> {
    Ok(view! { <Panel agent_id from/> }.into_any())
}

/// On the server the panel is never opened (it lives in the browser only).
#[cfg(not(feature = "hydrate"))]
async fn panel(agent_id: String, from: Option<String>) -> Result<AnyView, ApiError> {
    panel_part(agent_id, from)
}

#[cfg(feature = "hydrate")]
use panel_part as panel;
