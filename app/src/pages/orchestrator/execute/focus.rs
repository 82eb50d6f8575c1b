//! Focus and timing in the run form: where focus goes, and when a change is looked at.

pub(super) use crate::components::focus::{focus, later};
#[cfg(feature = "hydrate")]
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

/// Moves focus to the first input the form marks invalid.
pub(super) fn focus_first_invalid() {
    focus("[data-testid=run-form] [aria-invalid=true]");
}

/// Tab from the panel's last control goes to its first, Shift+Tab from its first to its
/// last: while the panel is open the keyboard stays in it (Escape leaves).
#[cfg_attr(not(feature = "hydrate"), allow(unused_variables))]
pub(super) fn keep_focus_inside(ev: &leptos::ev::KeyboardEvent) {
    #[cfg(feature = "hydrate")]
    {
        use leptos::wasm_bindgen::JsCast;
        use leptos::web_sys::{Element, HtmlElement};
        const CONTROLS: &str = "a[href], button:not([disabled]), input:not([disabled]), select:not([disabled]), \
                                textarea:not([disabled]), [tabindex]:not([tabindex=\"-1\"])";
        let Some(panel) = ev.current_target().and_then(|t| t.dyn_into::<Element>().ok()) else { return };
        let Ok(found) = panel.query_selector_all(CONTROLS) else { return };
        // Those that take part in layout (a hidden one cannot take the focus).
        let controls: Vec<HtmlElement> = (0..found.length())
            .filter_map(|i| found.item(i)?.dyn_into::<HtmlElement>().ok())
            .filter(|el| el.offset_parent().is_some())
            .collect();
        let (Some(first), Some(last)) = (controls.first(), controls.last()) else { return };
        let active = document().active_element();
        let at = |el: &HtmlElement| active.as_ref().is_some_and(|a| a == el.unchecked_ref::<Element>());
        let target = if ev.shift_key() && at(first) {
            last
        } else if !ev.shift_key() && at(last) {
            first
        } else {
            return;
        };
        ev.prevent_default();
        let _ = target.focus();
    }
}
