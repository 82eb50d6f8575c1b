//! The orchestrator page: register agents, watch their health, run their workflows.

mod execute;
mod find;
pub(crate) mod list;
mod register;
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
        // Adding agents, each opened on request; the list below has the page's width.
        <div class="orchestrator-tools">
            <register::RegisterAgents store/>
            <find::FindAgents/>
        </div>
        <list::AgentList store/>
    }
}
