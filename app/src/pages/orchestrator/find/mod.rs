//! "Find agents": a scan or another registry's list, opened on request. Its form (the
//! scan's fields, the stream reader, the candidates' table) is a part of the bundle of its
//! own, fetched when a person opens it: 19 KB brotli off every first load (the main part
//! 463.7 → 444.3 KB), and most visits never scan.

mod form;

use crate::components::on_request::OnRequest;
use crate::error::ApiError;
use leptos::prelude::*;

#[component]
pub fn FindAgents() -> impl IntoView {
    view! {
        <OnRequest title="Find agents" title_id="find-title" class="find" testid="find-agents"
            hint="Nothing is found or added by itself: look, then choose what to add."
            open_label="Look for agents…" first_field="#find-where" part=form/>
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
