//! One page-wide clock ticking every second, so every "last checked 12 s ago" keeps
//! counting without a timer per row.

use crate::live::{use_live, LinkState};
use crate::model::UNCHANGED_PUBLISHED_EVERY_SECS;
use crate::time::{now_ms, parse_rfc3339_ms, projected_check_ms, relative};
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

/// "4 s ago" for an agent's last check, kept on the agent's schedule between the pushes
/// of unchanged results (see `time::projected_check_ms`); the title gives the interval.
#[component]
pub fn LastChecked(
    #[prop(into)] at: Signal<Option<String>>,
    #[prop(into)] interval_seconds: Signal<f64>,
) -> impl IntoView {
    let clock = use_context::<Clock>().map(|c| c.0);
    let live = use_live();
    let text = move || {
        let now = clock.map(|c| c.get()).unwrap_or_else(now_ms);
        let is_live = live.state() == LinkState::Live;
        at.with(|at| match at.as_deref().and_then(parse_rfc3339_ms) {
            Some(then) => {
                let every = interval_seconds.get() * 1000.0;
                let window = UNCHANGED_PUBLISHED_EVERY_SECS as f64 * 1000.0;
                relative(now, projected_check_ms(now, then, every, window, is_live))
            }
            None => "never".to_owned(),
        })
    };
    let title = move || {
        let every = interval_seconds.get();
        let every = if every.fract() == 0.0 { format!("{every:.0} s") } else { format!("{every} s") };
        // The stored time itself is the element's `datetime` (and the agent page's):
        // repeated here it was 45 bytes a row of the agent list.
        format!("Checked every {every}")
    };
    view! { <time datetime=move || at.get().unwrap_or_default() title=title>{text}</time> }
}
