//! The site header: product name and the main navigation (the router's `<A>` marks the
//! current page with `aria-current="page"`).

use leptos::prelude::*;
use leptos_router::components::A;

#[component]
pub fn Header() -> impl IntoView {
    view! {
        <header class="site-header">
            <a class="brand" href="/orchestrator">"configurable-agents"</a>
            <nav aria-label="Main">
                <A href="/orchestrator">"Orchestrator"</A>
                <A href="/workflows">"Workflows"</A>
                // Served by the dashboard, not a page of this app: a full load.
                <a href="/api/docs" rel="external" title="The JSON API, browsable (OpenAPI)">"API"</a>
            </nav>
            <crate::live::LiveIndicator/>
        </header>
    }
}
