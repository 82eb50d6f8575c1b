pub mod agent_picker;
pub mod clock;
pub mod copy;
pub mod focus;
pub mod header;
pub mod json_tree;
pub mod latency_chart;
pub mod markdown;
pub mod on_request;
pub mod run_status;
pub mod shortcuts;
pub mod theme;
pub mod uptime;
pub mod url_text;

/// A filter changed: the form is submitted (and the router navigates), as a Rust handler,
/// since the page's Content-Security-Policy refuses inline ones.
pub fn submit_form(ev: leptos::ev::Event) {
    #[cfg(feature = "hydrate")]
    {
        use wasm_bindgen::JsCast;
        let form = ev
            .target()
            .and_then(|t| t.dyn_into::<web_sys::Element>().ok())
            .and_then(|e| e.closest("form").ok().flatten())
            .and_then(|f| f.dyn_into::<web_sys::HtmlFormElement>().ok());
        if let Some(form) = form {
            let _ = form.request_submit();
        }
    }
    #[cfg(not(feature = "hydrate"))]
    let _ = ev;
}
