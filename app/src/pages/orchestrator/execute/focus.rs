//! Focus and timing in the run form: where focus goes, and when a change is looked at.

use leptos::prelude::*;

/// A button pressed with the pointer does not take the focus (as in Safari): the field
/// being typed in would be left first, its error would show and push the button away
/// from under the pointer before the click lands (Run, Add item). Keys still reach it.
pub(super) fn keep_focus_off_buttons(ev: leptos::ev::MouseEvent) {
    use leptos::wasm_bindgen::JsCast;
    let on_button = ev
        .target()
        .and_then(|t| t.dyn_into::<leptos::web_sys::Element>().ok())
        .and_then(|el| el.closest("button").ok().flatten())
        .is_some();
    if on_button {
        ev.prevent_default();
    }
}

/// `f` after the event being handled: the field's own handler stores the new value
/// first (the form's listener may see the event before the field's delegated one).
pub(super) fn later(f: impl Fn() + 'static) {
    set_timeout(f, std::time::Duration::ZERO);
}

/// Moves focus to the first input the form marks invalid.
pub(super) fn focus_first_invalid() {
    focus("[data-testid=run-form] [aria-invalid=true]");
}

/// Moves focus to the first element `selector` finds, if any.
#[cfg_attr(not(feature = "hydrate"), allow(unused_variables))]
pub(super) fn focus(selector: &str) {
    #[cfg(feature = "hydrate")]
    {
        use leptos::wasm_bindgen::JsCast;
        let first = document().query_selector(selector).ok().flatten();
        if let Some(el) = first.and_then(|el| el.dyn_into::<leptos::web_sys::HtmlElement>().ok()) {
            let _ = el.focus();
        }
    }
}
