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

/// Consecutive blocks in one state, oldest first: (state, index of the first, how many).
fn stretches(blocks: &[HealthState]) -> Vec<(HealthState, usize, usize)> {
    let mut out: Vec<(HealthState, usize, usize)> = Vec::new();
    for (i, &state) in blocks.iter().enumerate() {
        match out.last_mut() {
            Some((s, _, n)) if *s == state => *n += 1,
            _ => out.push((state, i, 1)),
        }
    }
    out
}

/// What the stretches cover, e.g. "healthy 24–6 h ago; unhealthy 6–5 h ago; healthy the
/// last 5 h" (hours when the blocks are an hour): the bar's one tooltip.
fn periods_title(stretches: &[(HealthState, usize, usize)], count: usize, span_ms: i64) -> String {
    let hours_each = span_ms as f64 / count.max(1) as f64 / 3_600_000.0;
    let ago = |k: usize| (k as f64 * hours_each).round() as i64;
    stretches
        .iter()
        .map(|&(state, first, n)| {
            let name = match state {
                HealthState::Unknown => "not checked",
                other => other.as_str(),
            };
            let (from, to) = (ago(count - first), ago(count - first - n));
            if to == 0 {
                format!("{name} the last {from} h")
            } else {
                format!("{name} {from}–{to} h ago")
            }
        })
        .collect::<Vec<_>>()
        .join("; ")
}

/// Each block is 4 units wide with a 1-unit gap: the stretch's line is dashed that way
/// by the style sheet (`stroke-dasharray: 4 1`), so a stretch is one short path.
const BLOCK: usize = 5;

/// The bar as one small SVG per agent: one path per stretch of a state, one title for all
/// of them. It was 24 spans with a title each (171 KB of HTML for 50 rows); this is a
/// few hundred bytes a row. Classes and attributes only: the page's CSP refuses inline
/// styles.
#[component]
pub fn UptimeBarView(
    #[prop(into)] bar: Signal<Option<UptimeBar>>,
    #[prop(into)] current: Signal<HealthState>,
) -> impl IntoView {
    move || {
        bar.get().map(|b| {
            let drawn = blocks(&b, current.get());
            let count = drawn.len();
            let stretches = stretches(&drawn);
            let periods = periods_title(&stretches, count, b.to_ms - b.from_ms);
            let uptime = uptime_text(b.uptime);
            let title = format!("Up {uptime} of the checked time: {periods}");
            let width = (count * BLOCK).saturating_sub(1).max(1);
            // Its size is the style sheet's (`svg.blocks`), as is the stretching to it.
            view! {
                <span class="uptime-bar">
                    <svg class="blocks" viewBox=format!("0 0 {width} 12") preserveAspectRatio="none" role="img">
                        <title>{title}</title>
                        {stretches.into_iter().map(|(state, first, n)| view! {
                            <path class=state.as_str() d=format!("M{} 6h{}", first * BLOCK, n * BLOCK - 1)/>
                        }).collect_view()}
                    </svg>
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
    }

    #[test]
    fn one_title_names_each_stretch_of_a_state() {
        use HealthState::*;
        let drawn = [Healthy, Healthy, Unhealthy, Unknown, Unknown, Healthy];
        let found = stretches(&drawn);
        assert_eq!(found, [(Healthy, 0, 2), (Unhealthy, 2, 1), (Unknown, 3, 2), (Healthy, 5, 1)]);
        assert_eq!(
            periods_title(&found, 6, 6 * 3_600_000),
            "healthy 6–4 h ago; unhealthy 4–3 h ago; not checked 3–1 h ago; healthy the last 1 h"
        );
        assert_eq!(periods_title(&[(Healthy, 0, 24)], 24, 24 * 3_600_000), "healthy the last 24 h");
        assert!(stretches(&[]).is_empty());
    }
}
