//! The browser's `localStorage`, looked up at run time like the clipboard (no web-sys
//! features to pay for). Every call may fail (storage disabled, private mode, quota):
//! callers get `None`/`false` and carry on without it.

pub fn get(key: &str) -> Option<String> {
    #[cfg(all(target_arch = "wasm32", feature = "hydrate"))]
    {
        let (storage, method) = method("getItem")?;
        method.call1(&storage, &key.into()).ok()?.as_string()
    }
    #[cfg(not(all(target_arch = "wasm32", feature = "hydrate")))]
    {
        let _ = key;
        None
    }
}

pub fn set(key: &str, value: &str) -> bool {
    #[cfg(all(target_arch = "wasm32", feature = "hydrate"))]
    {
        method("setItem").is_some_and(|(storage, method)| method.call2(&storage, &key.into(), &value.into()).is_ok())
    }
    #[cfg(not(all(target_arch = "wasm32", feature = "hydrate")))]
    {
        let _ = (key, value);
        false
    }
}

#[cfg(all(target_arch = "wasm32", feature = "hydrate"))]
fn method(name: &str) -> Option<(wasm_bindgen::JsValue, js_sys::Function)> {
    use js_sys::Reflect;
    use wasm_bindgen::{JsCast, JsValue};
    // Reading `localStorage` itself throws where storage is blocked.
    let storage = Reflect::get(&js_sys::global(), &JsValue::from_str("localStorage")).ok()?;
    if storage.is_null() || storage.is_undefined() {
        return None;
    }
    let method = Reflect::get(&storage, &JsValue::from_str(name)).ok()?.dyn_into().ok()?;
    Some((storage, method))
}
