//! The pages. Each is a part of the bundle of its own (a lazy route), fetched with the
//! first load of that page or when the router first goes to it: a visit downloads the
//! shell (header, router, live stream) and its own page, not every page.
//!
//! Leptos 0.8's `#[lazy_route]` loads its part with the non-fallible `#[lazy]`, so a part
//! that did not arrive would panic, and a panic ends the app (the release profile aborts).
//! These routes are written out instead, each page a `fallible` split point (as the
//! execute panel's, `orchestrator/execute/entry.rs`): a part that does not arrive is an
//! error said on the page ([`unavailable`]).

pub mod agent;
pub mod not_found;
pub mod orchestrator;
pub mod run;
pub mod sign_in;
pub mod tokens;
pub mod workflows;

use crate::error::ApiError;
use leptos::prelude::*;
use leptos_router::hooks::use_location;

/// A page as a lazy route: `$route` for the router (`Lazy::<$route>::new()`), its part
/// named `$split` (the name in `__wasm_split_manifest.json` and of its `split_*.wasm`).
macro_rules! lazy_page {
    ($route:ident, $split:ident, $page:path) => {
        pub struct $route;

        mod $split {
            use super::*;

            #[cfg_attr(
                feature = "hydrate",
                leptos::wasm_split::wasm_split($split, wasm_split_path = ::leptos::wasm_split, fallible, preload(load))
            )]
            pub(super) fn part() -> Result<AnyView, ApiError> {
                Ok(view! { <$page/> }.into_any())
            }

            #[cfg(feature = "hydrate")]
            thread_local! {
                /// Why the part did not arrive when the router fetched it ahead of the view.
                pub(super) static MISSED: std::cell::RefCell<Option<ApiError>> = const { std::cell::RefCell::new(None) };
            }
        }

        impl leptos_router::LazyRoute for $route {
            fn data() -> Self {
                $route
            }

            // The router awaits this before it hydrates (and before it shows a page it
            // goes to): the part must be here by then. A view still waiting for its part
            // hydrates as a placeholder the server never wrote, a mismatch that ends the
            // app.
            async fn preload() {
                #[cfg(feature = "hydrate")]
                if let Err(e) = $split::load().await {
                    let e = ApiError::from(e);
                    if hydrating() {
                        inert(e).await;
                    } else {
                        $split::MISSED.with(|m| *m.borrow_mut() = Some(e));
                    }
                }
            }

            async fn view(_: Self) -> AnyView {
                // On the server the page is at hand; the response names its part's files,
                // so that the browser fetches them beside the main part.
                #[cfg(not(feature = "hydrate"))]
                let loaded = {
                    #[cfg(feature = "ssr")]
                    preload_part(stringify!($split));
                    $split::part()
                };
                // Not fetched again when `preload` could not: that would wait, see above.
                #[cfg(feature = "hydrate")]
                let loaded = match $split::MISSED.with(|m| m.borrow_mut().take()) {
                    Some(e) => Err(e),
                    None => $split::part().await,
                };
                loaded.unwrap_or_else(unavailable)
            }
        }
    };
}

lazy_page!(OrchestratorRoute, page_orchestrator, orchestrator::OrchestratorPage);
lazy_page!(AgentRoute, page_agent, agent::AgentPage);
lazy_page!(WorkflowsRoute, page_workflows, workflows::WorkflowsPage);
lazy_page!(RunRoute, page_run, run::RunPage);
lazy_page!(SignInRoute, page_sign_in, sign_in::SignInPage);
lazy_page!(TokensRoute, page_tokens, tokens::TokensPage);

/// Fetches the run page's part ahead of need, in the browser (the run form leads there).
/// A failure is not said here: going to the page fetches it again and says so there.
pub(crate) fn prefetch_run_page() {
    #[cfg(feature = "hydrate")]
    leptos::task::spawn_local(async {
        let _ = page_run::load().await;
    });
}

/// The files each lazy part needs (`pkg/__wasm_split_manifest.json`, written by `./dev
/// site`), read once when the dashboard starts.
#[cfg(feature = "ssr")]
#[derive(Clone, Default)]
pub struct LazyParts(std::sync::Arc<std::collections::HashMap<String, Vec<String>>>);

#[cfg(feature = "ssr")]
impl LazyParts {
    /// None known (no manifest: a bundle built without parts) is not an error: pages then
    /// preload nothing and the loader fetches what it needs.
    pub fn read(pkg: &std::path::Path) -> Self {
        let manifest = std::fs::read_to_string(pkg.join("__wasm_split_manifest.json")).ok();
        Self(std::sync::Arc::new(manifest.and_then(|m| serde_json::from_str(&m).ok()).unwrap_or_default()))
    }
}

/// The response names the files of the page's part in a `Link` header, so the browser
/// fetches them while it fetches the main part, not after it (one round trip less).
/// Leptos's own way (`prefetch_lazy_fn_on_server`, `<link>` tags in the head) wrote
/// nothing here: leptos_integration_utils 0.8.9 looks its manifest up after rendering,
/// outside the app's owner, where `HydrationScripts` provided it.
#[cfg(feature = "ssr")]
fn preload_part(split: &str) {
    use axum::http::{header, HeaderValue};
    let (Some(parts), Some(response)) = (use_context::<LazyParts>(), use_context::<leptos_axum::ResponseOptions>())
    else {
        return;
    };
    let Some(files) = parts.0.get(split) else { return };
    // `crossorigin`: the loader's `fetch` is a CORS request; a preload must match it to
    // be used.
    let links = files
        .iter()
        .map(|file| format!("</pkg/{file}.wasm>; rel=preload; as=fetch; crossorigin"))
        .chain(std::iter::once("</pkg/__wasm_split.______________________.js>; rel=modulepreload".to_owned()))
        .collect::<Vec<_>>()
        .join(", ");
    if let Ok(value) = HeaderValue::from_str(&links) {
        response.append_header(header::LINK, value);
    }
}

/// Set when the first page's part did not arrive while the page was being made
/// interactive ([`inert`]): the page shows what the server sent, inert, and says so
/// ([`StaticPageNotice`]); following a link then loads the next page in full.
#[derive(Clone, Copy)]
pub struct PagePartMissing(pub RwSignal<Option<String>>);

pub fn provide_page_part_missing() {
    provide_context(PagePartMissing(RwSignal::new(None)));
}

/// Whether the page is being hydrated (its first load), rather than shown by the router.
#[cfg(feature = "hydrate")]
fn hydrating() -> bool {
    Owner::current_shared_context().is_some_and(|sc| sc.during_hydration())
}

/// The first page's part did not arrive while the page was being made interactive. The
/// server's page is on screen and stays as it was sent: there is nothing to hydrate it
/// with, and hydrating anything else in its place would be a mismatch that ends the app.
/// Hydration stops here for good (this never returns); the shell before it (the header,
/// [`StaticPageNotice`]) is already live, says so, and turns the router's next move
/// into a full load.
#[cfg(feature = "hydrate")]
async fn inert(e: ApiError) {
    if let Some(PagePartMissing(missing)) = use_context::<PagePartMissing>() {
        missing.set(Some(e.message));
    }
    std::future::pending::<()>().await;
}

/// A page whose part did not arrive when the router went to it: said where the page
/// would be, with a link that loads it in full (which fetches its part afresh).
fn unavailable(e: ApiError) -> AnyView {
    let here = use_location();
    let href = move || address(&here);
    view! {
        <section class="card" data-testid="page-unavailable">
            <p class="field-error" role="alert">{format!("This page could not be opened: {}.", e.message)}</p>
            <a class="button primary" href=href rel="external">"Try again"</a>
        </section>
    }
    .into_any()
}

/// Said at the top when the page's part did not arrive: what is shown is the server's
/// page as it was sent. Reloading fetches it afresh; any link loads its page in full.
#[component]
pub fn StaticPageNotice() -> impl IntoView {
    let Some(PagePartMissing(missing)) = use_context::<PagePartMissing>() else {
        return ().into_any();
    };
    let location = use_location();
    // Once inert, a route change in the browser (a link, a shortcut, Back) becomes a
    // full load of that address: the server's page has no view to replace it with.
    let here = location.clone();
    Effect::new(move |seen: Option<String>| {
        let now = address(&here);
        if let Some(seen) = seen {
            if seen != now && missing.with(Option::is_some) {
                let _ = window().location().set_href(&now);
            }
        }
        now
    });
    (move || {
        missing.get().map(|why| {
            let location = location.clone();
            view! {
                <div class="notice error" role="alert" data-testid="page-inert">
                    {format!("This page shows what the dashboard sent but will not update or respond: {why}. ")}
                    <a href=move || address(&location) rel="external">"Reload"</a>
                </div>
            }
        })
    })
    .into_any()
}

/// The address the router is at: path and query.
fn address(location: &leptos_router::location::Location) -> String {
    let (path, query) = (location.pathname.get(), location.search.get());
    if query.is_empty() {
        path
    } else {
        format!("{path}?{query}")
    }
}
