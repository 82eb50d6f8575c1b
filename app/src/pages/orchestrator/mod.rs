//! The orchestrator page: register agents, watch their health, run their workflows.

mod execute;
mod find;
mod form;
pub(crate) mod list;
mod store;

use leptos::prelude::*;
use store::AgentStore;

/// How often the page asks the server for the agents' current state. The server checks
/// the agents itself on its own interval; this only fetches what it found.
pub const REFRESH_INTERVAL_SECS: u64 = 5;

#[component]
pub fn OrchestratorPage() -> impl IntoView {
    let store = AgentStore::new();
    view! {
        <h1>"Orchestrator"</h1>
        <execute::ExecutePanel/>
        <div class="orchestrator">
            <form::RegisterForm store/>
            <list::AgentList store/>
        </div>
        <find::FindAgents/>
    }
}
