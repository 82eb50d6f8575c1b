//! A section of a page whose form is a lazy part of the bundle, opened on request: its
//! heading, a line saying what it is for, and a button; the button fetches the part and
//! the form takes its place, with the focus on its first field. A part that does not
//! arrive (the network failed) is said in the section, with Try again.
//!
//! The orchestrator page's Register an agent and Find agents are such sections: their
//! code is not in the page's first load (which every visit pays, and which V8 compiles on
//! the main thread as hydration first calls it), and most visits use neither.

use crate::components::focus::{focus, later};
use crate::error::ApiError;
use leptos::prelude::*;
use std::future::Future;

#[component]
pub fn OnRequest<P, Fut>(
    /// The section's heading, and its element ID (the section is labelled by it).
    title: &'static str,
    title_id: &'static str,
    /// One line under the heading: what the section is for.
    hint: &'static str,
    /// The section's own class, beside `card`.
    class: &'static str,
    testid: &'static str,
    /// The button that opens it ("Look for agents…").
    open_label: &'static str,
    /// Selector of the form's first field, which takes the focus once it is open.
    first_field: &'static str,
    /// Fetches the part and builds the form (a `wasm_split` function).
    part: P,
) -> impl IntoView
where
    P: Fn() -> Fut + Copy + Send + Sync + 'static,
    Fut: Future<Output = Result<AnyView, ApiError>> + Send + 'static,
{
    let opened = RwSignal::new(false);
    // Opens once the page is interactive (server-rendered, the button does nothing yet).
    let hydrated = RwSignal::new(false);
    Effect::new(move |_| hydrated.set(true));
    // Try again after the part failed to arrive: asks for it afresh.
    let attempt = RwSignal::new(0u32);
    let retry_button = format!("[data-testid={testid}] .notice button");
    let body = move || {
        if !opened.get() {
            return view! {
                <button type="button" disabled=move || !hydrated.get() on:click=move |_| opened.set(true)>
                    {open_label}
                </button>
            }
            .into_any();
        }
        attempt.track();
        let retry_button = retry_button.clone();
        view! {
            <Suspense fallback=|| view! { <p class="muted" role="status">"Opening…"</p> }>
                {Suspend::new({
                    let retry_button = retry_button.clone();
                    async move {
                        match part().await {
                            Ok(form) => {
                                // The button that had the focus is gone: the form's first field takes it.
                                later(move || focus(first_field));
                                form
                            }
                            Err(e) => {
                                later(move || focus(&retry_button));
                                view! {
                                    <div class="notice error" role="alert">
                                        <p>{format!("{title} could not be opened: {}.", e.message)}</p>
                                        <button type="button" on:click=move |_| attempt.update(|n| *n += 1)>"Try again"</button>
                                    </div>
                                }
                                .into_any()
                            }
                        }
                    }
                })}
            </Suspense>
        }
        .into_any()
    };
    view! {
        <section class=format!("card {class}") class:open=move || opened.get() aria-labelledby=title_id data-testid=testid>
            <h2 id=title_id>{title}</h2>
            <p class="hint">{hint}</p>
            {body}
        </section>
    }
}
