//! One page-wide clock ticking every second, so every "last checked 12 s ago" keeps
//! counting without a timer per row.

use crate::time::{now_ms, parse_rfc3339_ms, relative};
use leptos::prelude::*;
use std::time::Duration;

#[derive(Clone, Copy)]
pub struct Clock(pub ReadSignal<f64>);

pub fn provide_clock() {
    let (now, set_now) = signal(now_ms());
    // Effects run only in the browser: the server renders one instant.
    Effect::new(move |_| {
        set_now.set(now_ms());
        if let Ok(handle) = set_interval_with_handle(move || set_now.set(now_ms()), Duration::from_secs(1)) {
            on_cleanup(move || handle.clear());
        }
    });
    provide_context(Clock(now));
}

/// "12 s ago" for an RFC 3339 timestamp, updated by the clock; `fallback` when absent.
#[component]
pub fn RelativeTime(#[prop(into)] at: Signal<Option<String>>, fallback: &'static str) -> impl IntoView {
    let clock = use_context::<Clock>().map(|c| c.0);
    let text = move || {
        let now = clock.map(|c| c.get()).unwrap_or_else(now_ms);
        at.with(|at| match at.as_deref().and_then(parse_rfc3339_ms) {
            Some(then) => relative(now, then),
            None => fallback.to_owned(),
        })
    };
    view! { <time datetime=move || at.get().unwrap_or_default() title=move || at.get().unwrap_or_default()>{text}</time> }
}
