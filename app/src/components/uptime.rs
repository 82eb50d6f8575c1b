//! The uptime bar (the status-page pattern): one block per stretch of time, coloured by
//! the state the agent was in longest, oldest on the left, and the share of time up.

use crate::model::{HealthState, UptimeBar};
use leptos::prelude::*;

/// How bad a state is, for the newest block: the current state shows at once when it is
/// worse than what the stretch held so far.
fn severity(state: HealthState) -> u8 {
    match state {
        HealthState::Unknown => 0,
        HealthState::Healthy => 1,
        HealthState::Failing => 2,
        HealthState::Unhealthy => 3,
    }
}

/// The blocks to draw: the bar's own, with the newest raised to `current` if worse.
pub fn blocks(bar: &UptimeBar, current: HealthState) -> Vec<HealthState> {
    raise_newest(bar.segments().collect(), current)
}

/// The newest block shows `current` when that is worse than what it held so far.
pub fn raise_newest(mut blocks: Vec<HealthState>, current: HealthState) -> Vec<HealthState> {
    if let Some(last) = blocks.last_mut() {
        if severity(current) > severity(*last) {
            *last = current;
        }
    }
    blocks
}

/// "97.5 %", "99.98 %", or "–" when never observed. Rounded down, never up: "100 %"
/// only when it was never down (a red block beside "100 %" reads as a lie), and a
/// second decimal above 99.9 % so that a short outage still shows.
pub fn uptime_text(uptime: Option<f64>) -> String {
    match uptime {
        None => "–".to_owned(),
        Some(u) if u >= 1.0 => "100 %".to_owned(),
        Some(u) => {
            let pct = u.max(0.0) * 100.0;
            if pct >= 99.9 {
                format!("{:.2} %", ((pct * 100.0).floor() / 100.0).min(99.99))
            } else {
                format!("{:.1} %", (pct * 10.0).floor() / 10.0)
            }
        }
    }
}

/// What one block covers, e.g. "healthy, 5–4 h ago" (hours when the blocks are an hour).
fn block_title(state: HealthState, index: usize, count: usize, span_ms: i64) -> String {
    let hours_each = span_ms as f64 / count.max(1) as f64 / 3_600_000.0;
    let name = match state {
        HealthState::Unknown => "not checked",
        other => other.as_str(),
    };
    let ago = |k: usize| (k as f64 * hours_each).round() as i64;
    let (from, to) = (ago(count - index), ago(count - index - 1));
    if to == 0 {
        format!("{name}, the last {from} h")
    } else {
        format!("{name}, {from}–{to} h ago")
    }
}

#[component]
pub fn UptimeBarView(
    #[prop(into)] bar: Signal<Option<UptimeBar>>,
    #[prop(into)] current: Signal<HealthState>,
) -> impl IntoView {
    move || {
        bar.get().map(|b| {
            let drawn = blocks(&b, current.get());
            let count = drawn.len();
            let span = b.to_ms - b.from_ms;
            let uptime = uptime_text(b.uptime);
            let title = format!("Up {uptime} of the checked time");
            view! {
                <span class="uptime-bar" data-testid="uptime-bar" title=title>
                    <span class="blocks">
                        {drawn.into_iter().enumerate().map(|(i, s)| view! {
                            <span class=format!("block {}", s.as_str()) title=block_title(s, i, count, span)></span>
                        }).collect_view()}
                    </span>
                    <span class="uptime-figure">{uptime}</span>
                </span>
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bar(states: &str) -> UptimeBar {
        UptimeBar { agent_id: "a".into(), from_ms: 0, to_ms: 24 * 3_600_000, states: states.into(), uptime: Some(0.5) }
    }

    #[test]
    fn the_newest_block_shows_a_worse_current_state_at_once() {
        assert_eq!(blocks(&bar("hh"), HealthState::Unhealthy), [HealthState::Healthy, HealthState::Unhealthy]);
        assert_eq!(
            blocks(&bar("hu"), HealthState::Healthy),
            [HealthState::Healthy, HealthState::Unhealthy],
            "the outage stays on the bar"
        );
        assert_eq!(blocks(&bar("h-"), HealthState::Healthy), [HealthState::Healthy, HealthState::Healthy]);
    }

    #[test]
    fn figures_and_titles_read_plainly() {
        assert_eq!(uptime_text(Some(1.0)), "100 %");
        assert_eq!(uptime_text(Some(0.99999)), "99.99 %", "down for a moment is not 100 %");
        assert_eq!(uptime_text(Some(0.9999)), "99.99 %");
        assert_eq!(uptime_text(Some(0.99905)), "99.90 %");
        assert_eq!(uptime_text(Some(0.9989)), "99.8 %", "rounded down, never up");
        assert_eq!(uptime_text(Some(0.5)), "50.0 %");
        assert_eq!(uptime_text(Some(0.0)), "0.0 %");
        assert_eq!(uptime_text(None), "–");
        assert_eq!(block_title(HealthState::Healthy, 0, 24, 24 * 3_600_000), "healthy, 24–23 h ago");
        assert_eq!(block_title(HealthState::Unknown, 23, 24, 24 * 3_600_000), "not checked, the last 1 h");
    }
}
