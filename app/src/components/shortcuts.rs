//! Keyboard shortcuts, listed under `?`: `/` focuses the page's search, `j`/`k` move
//! between the rows of its table, Enter opens the focused row, `x` chooses it, Escape
//! closes the list.
//! Keys typed into a field are the field's; with Ctrl, Alt or Meta they are the
//! browser's.

use leptos::prelude::*;

#[component]
pub fn Shortcuts() -> impl IntoView {
    let open = RwSignal::new(false);
    // In the browser only: one listener on the window for as long as the app lives.
    Effect::new(move |_| {
        let handle = window_event_listener(leptos::ev::keydown, move |ev| on_key(&ev, open));
        on_cleanup(move || handle.remove());
    });
    view! {
        <Show when=move || open.get()>
            <section class="card shortcuts" role="dialog" aria-labelledby="shortcuts-title" data-testid="shortcuts">
                <h2 id="shortcuts-title">"Keyboard shortcuts"</h2>
                <dl>
                    <dt><kbd>"/"</kbd></dt><dd>"Search: the agents, or the history's agent"</dd>
                    <dt><kbd>"j"</kbd>" "<kbd>"k"</kbd></dt><dd>"Next and previous row of the table"</dd>
                    <dt><kbd>"Enter"</kbd></dt><dd>"Open the row"</dd>
                    <dt><kbd>"x"</kbd></dt><dd>"Choose the row, or unchoose it (Shift+x: from the last one chosen)"</dd>
                    <dt><kbd>"Esc"</kbd></dt><dd>"Close this list, or the Execute panel"</dd>
                    <dt><kbd>"?"</kbd></dt><dd>"Show or hide this list"</dd>
                </dl>
                <button type="button" on:click=move |_| open.set(false)>"Close"</button>
            </section>
        </Show>
    }
}

#[cfg(feature = "hydrate")]
fn on_key(ev: &leptos::ev::KeyboardEvent, open: RwSignal<bool>) {
    use wasm_bindgen::JsCast;
    if ev.ctrl_key() || ev.meta_key() || ev.alt_key() || ev.default_prevented() || ev.is_composing() {
        return;
    }
    let key = ev.key();
    if key == "Escape" && open.get_untracked() {
        open.set(false);
        return;
    }
    let active = document().active_element();
    let typing = active.as_ref().is_some_and(|el| {
        matches!(el.tag_name().as_str(), "INPUT" | "TEXTAREA" | "SELECT")
            || el.get_attribute("contenteditable").is_some_and(|v| v != "false")
    });
    if typing {
        return;
    }
    let focus = |el: web_sys::Element| {
        if let Ok(el) = el.dyn_into::<web_sys::HtmlElement>() {
            let _ = el.focus();
        }
    };
    match key.as_str() {
        "/" => {
            if let Ok(Some(search)) = document().query_selector("[data-shortcut=\"search\"]") {
                ev.prevent_default();
                focus(search);
            }
        }
        "?" => open.update(|o| *o = !*o),
        "j" | "k" => {
            let Ok(rows) = document().query_selector_all("main tbody tr[tabindex]") else { return };
            let rows: Vec<web_sys::Element> =
                (0..rows.length()).filter_map(|i| rows.item(i)?.dyn_into::<web_sys::Element>().ok()).collect();
            if rows.is_empty() {
                return;
            }
            let current = active.as_ref().and_then(|a| rows.iter().position(|r| r == a));
            let next = match (current, key.as_str()) {
                (None, _) => 0,
                (Some(i), "j") => (i + 1).min(rows.len() - 1),
                (Some(i), _) => i.saturating_sub(1),
            };
            ev.prevent_default();
            focus(rows[next].clone());
        }
        // The focused row's box, clicked as by the mouse (Shift extends the choice).
        "x" | "X" => {
            let tick = active
                .filter(|a| a.tag_name() == "TR")
                .and_then(|row| row.query_selector("input[type=checkbox]").ok().flatten())
                .and_then(|b| b.dyn_into::<web_sys::HtmlElement>().ok());
            if let Some(tick) = tick {
                ev.prevent_default();
                let shift = ev.shift_key();
                let click = web_sys::MouseEventInit::new();
                click.set_shift_key(shift);
                click.set_bubbles(true);
                click.set_cancelable(true);
                match web_sys::MouseEvent::new_with_mouse_event_init_dict("click", &click) {
                    Ok(event) => {
                        let _ = tick.dispatch_event(&event);
                    }
                    Err(_) => tick.click(),
                }
            }
        }
        "Enter" => {
            // A focused row opens as its first link would (the router takes the click).
            let link = active
                .filter(|a| a.tag_name() == "TR")
                .and_then(|row| row.query_selector("a[href]").ok().flatten())
                .and_then(|a| a.dyn_into::<web_sys::HtmlElement>().ok());
            if let Some(link) = link {
                ev.prevent_default();
                link.click();
            }
        }
        _ => {}
    }
}

#[cfg(not(feature = "hydrate"))]
fn on_key(_: &leptos::ev::KeyboardEvent, _: RwSignal<bool>) {}
