//! configurable-agents' UI and contract: the Leptos app, its server functions, and the
//! types and validation rules the browser and the server share.
#![recursion_limit = "256"]

pub mod api;
mod components;
pub mod error;
pub mod live;
pub mod model;
mod pages;
pub mod schema;
#[cfg(feature = "ssr")]
pub mod services;
mod storage;
pub mod time;
pub mod validation;

use components::header::Header;
use leptos::prelude::*;
use leptos_meta::{provide_meta_context, MetaTags, Stylesheet, Title};
use leptos_router::{
    components::{Redirect, Route, Router, Routes},
    path, SsrMode,
};
use pages::{
    agent::AgentPage, not_found::NotFound, orchestrator::OrchestratorPage, run::RunPage, sign_in::SignInPage,
    tokens::TokensPage, workflows::WorkflowsPage,
};

/// The HTML document around the app, rendered by the server.
pub fn shell(options: LeptosOptions) -> impl IntoView {
    #[cfg(feature = "ssr")]
    content_security_policy();
    view! {
        <!DOCTYPE html>
        <html lang="en">
            <head>
                <meta charset="utf-8"/>
                <meta name="viewport" content="width=device-width, initial-scale=1"/>
                <link rel="icon" href="/favicon.svg" type="image/svg+xml"/>
                // The chosen colour theme before the first paint (components/theme.rs).
                <script src="/theme.js"></script>
                <AutoReload options=options.clone()/>
                <HydrationScripts options/>
                <MetaTags/>
            </head>
            <body>
                <App/>
            </body>
        </html>
    }
}

/// Every page's Content-Security-Policy: scripts only from this origin or carrying this
/// response's nonce (Leptos puts it on the hydration script and the resources' inline
/// scripts), WASM compiled (`'wasm-unsafe-eval'`), connections (fetch, the event stream)
/// to this origin only, no inline event handlers or styles, never framed. Agent text that
/// slipped past escaping could not run.
#[cfg(feature = "ssr")]
fn content_security_policy() {
    use leptos_axum::ResponseOptions;
    let (Some(nonce), Some(response)) = (leptos::nonce::use_nonce(), use_context::<ResponseOptions>()) else {
        return;
    };
    let policy = format!(
        "default-src 'self'; script-src 'self' 'nonce-{nonce}' 'wasm-unsafe-eval'; style-src 'self'; \
         img-src 'self' data:; connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; \
         frame-ancestors 'none'"
    );
    if let Ok(value) = axum::http::HeaderValue::from_str(&policy) {
        response.insert_header(axum::http::header::CONTENT_SECURITY_POLICY, value);
    }
}

#[component]
pub fn App() -> impl IntoView {
    provide_meta_context();
    components::clock::provide_clock();
    live::provide_live();

    // Tests (and curious people) can tell when the page has become interactive.
    Effect::new(move |_| {
        if let Some(body) = document().body() {
            let _ = body.set_attribute("data-hydrated", "true");
        }
    });

    view! {
        <Stylesheet id="leptos" href="/pkg/configurable_agents.css"/>
        <Title text="configurable-agents"/>
        <Router>
            <Header/>
            <components::shortcuts::Shortcuts/>
            <main class="page">
                <Routes fallback=NotFound>
                    <Route path=path!("/") view=|| view! { <Redirect path="/orchestrator"/> }/>
                    // Async: the page arrives complete, agents included (one quick query).
                    <Route path=path!("/orchestrator") view=OrchestratorPage ssr=SsrMode::Async/>
                    <Route path=path!("/agents/:agent_id") view=AgentPage ssr=SsrMode::Async/>
                    <Route path=path!("/workflows") view=WorkflowsPage ssr=SsrMode::Async/>
                    <Route path=path!("/workflows/:run_id") view=RunPage ssr=SsrMode::Async/>
                    <Route path=path!("/sign-in") view=SignInPage/>
                    <Route path=path!("/tokens") view=TokensPage/>
                </Routes>
            </main>
        </Router>
    }
}
