//! The WASM entry point: hydrates the server-rendered page into the live app.
#![recursion_limit = "256"]

use leptos::prelude::document;

#[wasm_bindgen::prelude::wasm_bindgen]
pub fn hydrate() {
    console_error_panic_hook::set_once();
    let Some(body) = document().body() else { return };
    // Async hydration (Leptos's `hydrate_lazy`, with a mark at the end): each page is a
    // lazy route (app/src/pages/mod.rs) whose part is fetched before its HTML is hydrated.
    // `<body data-hydrated>` says when all of the page is interactive (tests and the site
    // benchmark wait for it): the shell's effects run while the page's part arrives, so an
    // effect of the app's would mark it too early.
    wasm_bindgen_futures::spawn_local(async move {
        let mounted = leptos::mount::hydrate_from_async(body.clone(), app::App).await;
        mounted.forget();
        let _ = body.set_attribute("data-hydrated", "true");
    });
}
