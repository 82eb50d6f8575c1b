//! The run history's agent filter: a text field that suggests agents as someone types,
//! asking the server for at most `SUGGESTIONS` (by ID, name or URL), never for a list of
//! every agent, so `/workflows` weighs the same at 10,000 agents as at 10 (it embedded
//! every agent: 4.7 MB of HTML at 10,000). Its value is an agent ID, as the URL's
//! `agent_id` is, so a removed agent's history can still be asked for.

use super::submit_form;
use crate::api::suggest_agents;
use crate::error::ApiError;
use crate::live::{debounced, latest_only};
use crate::model::AgentChoice;
use leptos::prelude::*;
use std::time::Duration;

/// A pause in typing this long asks for suggestions.
const TYPING_PAUSE_MS: u64 = 150;

#[component]
pub fn AgentPicker(#[prop(into)] current: Signal<Option<String>>) -> impl IntoView {
    let suggestions = RwSignal::new(Vec::<AgentChoice>::new());
    let error = RwSignal::new(None::<String>);
    let fetch = latest_only(suggest_agents, move |answer: Result<Vec<AgentChoice>, ApiError>| match answer {
        Ok(list) => {
            suggestions.set(list);
            error.set(None);
        }
        Err(e) => error.set(Some(e.message)),
    });
    let ask = debounced(Duration::from_millis(TYPING_PAUSE_MS), fetch);
    // The first suggestions when the field is first entered, before anything is typed.
    let asked = StoredValue::new(false);
    let on_focus = move |_| {
        if !asked.get_value() {
            asked.set_value(true);
            fetch(String::new());
        }
    };
    let on_input = move |ev: leptos::ev::Event| {
        if chose_a_suggestion(&ev) {
            submit_form(ev);
        } else {
            ask(event_target_value(&ev));
        }
    };
    view! {
        <input type="search" name="agent_id" list="agent-suggestions" placeholder="All agents" autocomplete="off"
            spellcheck="false" data-testid="agent-picker" data-shortcut="search" aria-describedby="agent-picker-error"
            // `value` for the server's HTML (a property is not rendered), `prop:` once live.
            value=move || current.get().unwrap_or_default()
            prop:value=move || current.get().unwrap_or_default() on:focus=on_focus on:input=on_input/>
        <datalist id="agent-suggestions" data-testid="agent-suggestions">
            <For each=move || suggestions.get() key=|c| c.agent_id.clone() let:choice>
                <option value=choice.agent_id.clone()>{choice.agent_name.clone()}</option>
            </For>
        </datalist>
        <span id="agent-picker-error" class="field-error" role="alert">
            {move || error.get().map(|m| format!("Could not suggest agents: {m}"))}
        </span>
    }
}

/// Whether an input came from choosing a suggestion (the browser's list), not a key:
/// Chromium marks it `insertReplacementText`; Firefox sends a plain `Event`.
fn chose_a_suggestion(ev: &leptos::ev::Event) -> bool {
    #[cfg(feature = "hydrate")]
    {
        use wasm_bindgen::JsCast;
        match ev.dyn_ref::<web_sys::InputEvent>() {
            Some(input) => input.input_type() == "insertReplacementText",
            None => true,
        }
    }
    #[cfg(not(feature = "hydrate"))]
    {
        let _ = ev;
        false
    }
}
