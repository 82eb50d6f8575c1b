//! "Register an agent", opened on request. Its form (the fields, the registration rules
//! checked before sending, the answers with Register anyway and Replace) is a part of the
//! bundle of its own, as Find agents' is: most visits watch agents rather than add them,
//! and the list then has the page's whole width.

mod form;

use super::store::AgentStore;
use crate::components::on_request::OnRequest;
use crate::error::ApiError;
use leptos::prelude::*;

#[component]
pub fn RegisterAgents(store: AgentStore) -> impl IntoView {
    view! {
        <OnRequest title="Register an agent" title_id="register-title" class="register" testid="register-agent"
            hint="By its URL: it is checked before it is listed. Agents that register themselves need nothing here."
            open_label="Register an agent…" first_field="#agent_id" part=move || form(store)/>
    }
}

/// The form, a part of its own (see above); a part that cannot be fetched is an error said
/// in the section.
#[cfg_attr(
    feature = "hydrate",
    leptos::wasm_split::wasm_split(register_form, wasm_split_path = ::leptos::wasm_split, fallible)
)]
fn form_part(store: AgentStore) -> Result<AnyView, ApiError> {
    Ok(view! { <form::RegisterForm store/> }.into_any())
}

/// On the server the form is never opened (it opens in the browser only).
#[cfg(not(feature = "hydrate"))]
async fn form(store: AgentStore) -> Result<AnyView, ApiError> {
    form_part(store)
}

#[cfg(feature = "hydrate")]
use form_part as form;
