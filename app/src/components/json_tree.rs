//! JSON shown as a collapsible tree (objects and arrays fold), with a button copying the
//! whole value. Agent text is always rendered as text, never as HTML.

use leptos::prelude::*;
use serde_json::Value;

/// Trees deeper than this show the rest as one line of JSON.
const MAX_DEPTH: usize = 24;

#[component]
pub fn JsonTree(value: Value, #[prop(into)] label: String) -> impl IntoView {
    let text = serde_json::to_string_pretty(&value).unwrap_or_default();
    let copied = RwSignal::new(false);
    let copy = move |_| {
        copy_to_clipboard(&text);
        copied.set(true);
        set_timeout(move || copied.set(false), std::time::Duration::from_millis(1500));
    };
    view! {
        <div class="json-tree">
            <div class="json-toolbar">
                <button type="button" class="small" on:click=copy aria-label=format!("Copy {label} as JSON")>
                    {move || if copied.get() { "Copied" } else { "Copy JSON" }}
                </button>
            </div>
            <div class="json-body">{node(&value, 0)}</div>
        </div>
    }
}

fn node(value: &Value, depth: usize) -> AnyView {
    match value {
        Value::Object(map) if !map.is_empty() && depth < MAX_DEPTH => {
            let entries = map
                .iter()
                .map(|(k, v)| view! { <li><span class="json-key">{format!("{k:?}")}</span>": "{node(v, depth + 1)}</li> })
                .collect_view();
            view! {
                <details open=depth < 3>
                    <summary>{format!("{{…}} {} key{}", map.len(), if map.len() == 1 { "" } else { "s" })}</summary>
                    <ul>{entries}</ul>
                </details>
            }
            .into_any()
        }
        Value::Array(items) if !items.is_empty() && depth < MAX_DEPTH => {
            let entries = items
                .iter()
                .enumerate()
                .map(|(i, v)| view! { <li><span class="json-index">{i}": "</span>{node(v, depth + 1)}</li> })
                .collect_view();
            view! {
                <details open=depth < 3>
                    <summary>{format!("[…] {} item{}", items.len(), if items.len() == 1 { "" } else { "s" })}</summary>
                    <ol start="0">{entries}</ol>
                </details>
            }
            .into_any()
        }
        // Shown as the text it is (line breaks kept), in quotes to tell it from a number.
        Value::String(s) => view! { <span class="json-string">{format!("\"{s}\"")}</span> }.into_any(),
        other => view! { <span class="json-scalar">{other.to_string()}</span> }.into_any(),
    }
}

/// `navigator.clipboard.writeText(text)`, looked up at run time (no web-sys features to
/// pay for); silently nothing where the browser has no clipboard (plain HTTP elsewhere
/// than localhost).
fn copy_to_clipboard(text: &str) {
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
        let _ = call();
    }
    #[cfg(not(all(target_arch = "wasm32", feature = "hydrate")))]
    let _ = text;
}
