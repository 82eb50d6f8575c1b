//! "Not found", answered with HTTP 404: the router's fallback, and an agent or a run that
//! is not there (one component, so each says it the same way and sets the status).

use leptos::prelude::*;

/// A missing thing: a title, why, and where to go instead.
#[component]
pub fn Missing(
    title: &'static str,
    #[prop(into)] message: String,
    href: &'static str,
    link: &'static str,
    testid: &'static str,
) -> impl IntoView {
    #[cfg(feature = "ssr")]
    if let Some(response) = use_context::<leptos_axum::ResponseOptions>() {
        response.set_status(axum::http::StatusCode::NOT_FOUND);
    }
    view! {
        <section class="card empty" data-testid=testid>
            <h1>{title}</h1>
            <p>{message}</p>
            <p><a href=href>{link}</a></p>
        </section>
    }
}

/// The router's fallback: no page at this address.
#[component]
pub fn NotFound() -> impl IntoView {
    view! {
        <Missing title="Page not found" message="There is nothing at this address." href="/orchestrator"
            link="Go to the Orchestrator" testid="page-missing"/>
    }
}
