//! Moving the focus after a change: to a control the change has just rendered.

use leptos::prelude::*;

/// `f` after the event being handled (and the view it changed) is done.
pub fn later(f: impl Fn() + 'static) {
    set_timeout(f, std::time::Duration::ZERO);
}

/// Moves focus to the first element `selector` finds, if any.
#[cfg_attr(not(feature = "hydrate"), allow(unused_variables))]
pub fn focus(selector: &str) {
    #[cfg(feature = "hydrate")]
    {
        use leptos::wasm_bindgen::JsCast;
        let first = document().query_selector(selector).ok().flatten();
        if let Some(el) = first.and_then(|el| el.dyn_into::<leptos::web_sys::HtmlElement>().ok()) {
            let _ = el.focus();
        }
    }
}
