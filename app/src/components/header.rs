//! The site header: product name, the main navigation (the router's `<A>` marks the
//! current page with `aria-current="page"`), and with access control on who is signed in.

use leptos::prelude::*;
use leptos_router::components::A;
use leptos_router::hooks::use_location;

#[component]
pub fn Header() -> impl IntoView {
    // The sign-in page has no live stream to show (`live::provide_live`).
    let pathname = use_location().pathname;
    let live = move || (pathname.get() != "/sign-in").then(|| view! { <crate::live::LiveIndicator/> });
    view! {
        <header class="site-header">
            <a class="brand" href="/orchestrator">"configurable-agents"</a>
            <nav aria-label="Main">
                <A href="/orchestrator">"Orchestrator"</A>
                <A href="/workflows">"Workflows"</A>
                <A href="/tokens">"Tokens"</A>
                // Served by the dashboard, not a page of this app: a full load.
                <a href="/api/docs" rel="external" title="The JSON API, browsable (OpenAPI)">"API"</a>
            </nav>
            {live}
            <super::theme::ThemeToggle/>
            <SignedIn/>
        </header>
    }
}

/// The token the page is signed in with, and a button to sign out (a plain form: it
/// works before the page is interactive). Nothing without access control.
#[component]
fn SignedIn() -> impl IntoView {
    let viewer = Resource::new(|| (), |_| crate::api::viewer());
    view! {
        <Suspense fallback=|| ()>
            {move || {
                viewer.get().and_then(Result::ok).and_then(|v| v.token).map(|token| {
                    view! {
                        <form class="sign-out" method="post" action="/sign-out">
                            <span class="signed-in" title="The token this browser signed in with">{token}</span>
                            <button type="submit" class="link">"Sign out"</button>
                        </form>
                    }
                })
            }}
        </Suspense>
    }
}
