//! How the panel opens: from the URL (`?execute=AGENT`), in the browser only, with a
//! placeholder while its lazy part of the bundle arrives.

use super::focus::{focus, later};
use super::Panel;
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
    move || {
        let agent = agent.get().filter(|_| hydrated.get())?;
        let from = from.get();
        Some(view! {
            <Suspense fallback=move || view! { <Opening/> }>
                {Suspend::new(panel(agent.clone(), from.clone()))}
            </Suspense>
        })
    }
}

/// While the panel's part of the bundle arrives (a slow network): it says so, and can be
/// left as the panel can (Close, Escape).
#[component]
fn Opening() -> impl IntoView {
    let query = use_query_map();
    let navigate = use_navigate();
    let close = move || query.with_untracked(|q| super::super::list::href_keeping_list(|k| q.get(k), None));
    // Focus inside, so that Escape reaches it (the panel, once here, takes it further);
    // after the click that opened it has been handled.
    Effect::new(move |_| later(|| focus("[data-testid=execute-opening] a")));
    let on_key = move |ev: leptos::ev::KeyboardEvent| {
        if ev.key() == "Escape" {
            ev.prevent_default();
            navigate(&close(), Default::default());
        }
    };
    view! {
        <section class="card execute" data-testid="execute-opening" on:keydown=on_key>
            <div class="card-title">
                <p class="muted" role="status">"Opening the form…"</p>
                <a href=move || query.with(|q| super::super::list::href_keeping_list(|k| q.get(k), None))
                    aria-label="Close the run form">"Close"</a>
            </div>
        </section>
    }
}

/// The panel and all it needs (the form generator, the raw JSON editor, the schema
/// validator) are a part of the bundle of their own, fetched when a panel first opens:
/// most visits never open one.
#[lazy]
fn panel(agent_id: String, from: Option<String>) -> AnyView {
    view! { <Panel agent_id from/> }.into_any()
}
