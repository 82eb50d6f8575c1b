//! Copying text to the clipboard: the helper, and a small button that copies a value
//! shown cut short (an agent's URL), saying so for a moment.

use leptos::prelude::*;

/// `navigator.clipboard.writeText(text)`, looked up at run time (no web-sys features to
/// pay for); false where the browser has no clipboard (plain HTTP elsewhere than
/// localhost).
pub fn copy_to_clipboard(text: &str) -> bool {
    #[cfg(all(target_arch = "wasm32", feature = "hydrate"))]
    {
        use js_sys::{Function, Reflect};
        use wasm_bindgen::{JsCast, JsValue};
        let global = js_sys::global();
        let call = || -> Option<()> {
            let navigator = Reflect::get(&global, &JsValue::from_str("navigator")).ok()?;
            let clipboard = Reflect::get(&navigator, &JsValue::from_str("clipboard")).ok()?;
            let write: Function = Reflect::get(&clipboard, &JsValue::from_str("writeText")).ok()?.dyn_into().ok()?;
            write.call1(&clipboard, &JsValue::from_str(text)).ok()?;
            Some(())
        };
        call().is_some()
    }
    #[cfg(not(all(target_arch = "wasm32", feature = "hydrate")))]
    {
        let _ = text;
        false
    }
}

/// "Copy", then "Copied" (or why not) for a moment.
#[component]
pub fn CopyButton(#[prop(into)] text: Signal<String>, #[prop(into)] label: String) -> impl IntoView {
    let copied = RwSignal::new(None::<bool>);
    let copy = move |_| {
        copied.set(Some(copy_to_clipboard(&text.get_untracked())));
        set_timeout(move || copied.set(None), std::time::Duration::from_millis(2500));
    };
    view! {
        <button type="button" class="copy small" aria-label=label on:click=copy>
            {move || match copied.get() {
                Some(true) => "Copied",
                Some(false) => "Not allowed here",
                None => "Copy",
            }}
        </button>
    }
}
