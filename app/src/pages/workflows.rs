//! Workflow runs: the history arrives with the runs feature; until then an honest empty state.

use leptos::prelude::*;

#[component]
pub fn WorkflowsPage() -> impl IntoView {
    view! {
        <h1>"Workflows"</h1>
        <section class="card empty" data-testid="runs-empty">
            <h2>"No runs yet"</h2>
            <p>
                "Runs of agent workflows will be listed here with their inputs, outputs and status. "
                "Register an agent on the " <a href="/orchestrator">"Orchestrator"</a> " page first."
            </p>
        </section>
    }
}
