//! "Find agents": a scan or another registry's list, opened on request. Its form (the
//! scan's fields, the stream reader, the candidates' table) is a part of the bundle of its
//! own, fetched when a person opens it: 19 KB brotli off every first load (the main part
//! 463.7 → 444.3 KB), and most visits never scan.

mod form;

use crate::components::focus::{focus, later};
use crate::error::ApiError;
use leptos::prelude::*;

#[component]
pub fn FindAgents() -> impl IntoView {
    let opened = RwSignal::new(false);
    // Opens once the page is interactive (server-rendered, the button does nothing yet).
    let hydrated = RwSignal::new(false);
    Effect::new(move |_| hydrated.set(true));
    // Try again after the part failed to arrive: asks for it afresh.
    let attempt = RwSignal::new(0u32);
    let body = move || {
        if !opened.get() {
            return view! {
                <button type="button" disabled=move || !hydrated.get() on:click=move |_| opened.set(true)>
                    "Look for agents…"
                </button>
            }
            .into_any();
        }
        attempt.track();
        view! {
            <Suspense fallback=|| view! { <p class="muted" role="status">"Opening…"</p> }>
                {Suspend::new(async move {
                    match form().await {
                        Ok(form) => {
                            // The button that had the focus is gone: the form's first field takes it.
                            later(|| focus("#find-where"));
                            form
                        }
                        Err(e) => {
                            later(|| focus("[data-testid=find-agents] .notice button"));
                            view! {
                                <div class="notice error" role="alert">
                                    <p>{format!("Find agents could not be opened: {}.", e.message)}</p>
                                    <button type="button" on:click=move |_| attempt.update(|n| *n += 1)>"Try again"</button>
                                </div>
                            }
                            .into_any()
                        }
                    }
                })}
            </Suspense>
        }
        .into_any()
    };
    view! {
        <section class="card find" aria-labelledby="find-title" data-testid="find-agents">
            <h2 id="find-title">"Find agents"</h2>
            <p class="hint">"Nothing is found or added by itself: look, then choose what to add."</p>
            {body}
        </section>
    }
}

/// The form, a part of its own (see above); a part that cannot be fetched is an error said
/// in the section, as the execute panel's (`execute/entry.rs`).
#[cfg_attr(
    feature = "hydrate",
    leptos::wasm_split::wasm_split(find_form, wasm_split_path = ::leptos::wasm_split, fallible)
)]
fn form_part() -> Result<AnyView, ApiError> {
    Ok(view! { <form::FindForm/> }.into_any())
}

/// On the server the form is never opened (it opens in the browser only).
#[cfg(not(feature = "hydrate"))]
async fn form() -> Result<AnyView, ApiError> {
    form_part()
}

#[cfg(feature = "hydrate")]
use form_part as form;
