//! A run's status as a badge: the same words and colours on the history and the run page.

use crate::model::RunStatus;
use leptos::prelude::*;

#[component]
pub fn RunStatusBadge(#[prop(into)] status: Signal<RunStatus>) -> impl IntoView {
    view! {
        <span class=move || format!("badge run-{}", status.get().as_str()) data-status=move || status.get().as_str()>
            {move || match status.get() {
                RunStatus::Queued => "◌ queued",
                RunStatus::Running => "◔ running",
                RunStatus::Succeeded => "● succeeded",
                RunStatus::Failed => "● failed",
                RunStatus::Cancelled => "○ cancelled",
                RunStatus::TimedOut => "● timed out",
                RunStatus::Interrupted => "○ interrupted",
            }}
        </span>
    }
}

/// "1.2 s", "340 ms", "2 min 5 s".
pub fn duration_text(ms: u64) -> String {
    match ms {
        0..=999 => format!("{ms} ms"),
        1_000..=59_999 => format!("{:.1} s", ms as f64 / 1000.0),
        _ => format!("{} min {} s", ms / 60_000, (ms % 60_000) / 1000),
    }
}

/// "$0.0042"; small costs keep their digits.
pub fn cost_text(usd: f64) -> String {
    if usd >= 1.0 {
        format!("${usd:.2}")
    } else {
        let text = format!("${usd:.6}");
        text.trim_end_matches('0').trim_end_matches('.').to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn figures_read_naturally() {
        assert_eq!(duration_text(340), "340 ms");
        assert_eq!(duration_text(1234), "1.2 s");
        assert_eq!(duration_text(125_000), "2 min 5 s");
        assert_eq!(cost_text(0.0042), "$0.0042");
        assert_eq!(cost_text(12.5), "$12.50");
        assert_eq!(cost_text(0.0), "$0");
    }
}
