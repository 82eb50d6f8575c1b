//! An agent's health over time: its state changes, its latency buckets, and the uptime
//! bar computed from the changes (the status-page pattern).

use super::HealthState;
use serde::{Deserialize, Serialize};

/// One state change, as kept.
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct HealthChange {
    pub state: HealthState,
    pub reason: Option<String>,
    /// RFC 3339, UTC.
    pub at: String,
}

/// One latency bucket: how many checks ran and failed, and the latency of those that
/// passed (none when none did).
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct LatencyBucket {
    /// RFC 3339, UTC.
    pub start: String,
    pub probes: u32,
    pub failures: u32,
    pub min_ms: Option<u64>,
    pub mean_ms: Option<f64>,
    pub max_ms: Option<u64>,
}

/// Time spent in each state over one stretch of the bar, in milliseconds.
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct UptimeSegment {
    /// Milliseconds since the Unix epoch.
    pub start_ms: i64,
    pub end_ms: i64,
    pub healthy_ms: i64,
    pub failing_ms: i64,
    pub unhealthy_ms: i64,
    pub unknown_ms: i64,
}

impl UptimeSegment {
    /// The state it was in longest (unknown when never checked).
    pub fn dominant(&self) -> HealthState {
        // Ties go to the worse state: a bar should not hide an outage.
        let ranked = [
            (self.unhealthy_ms, HealthState::Unhealthy),
            (self.failing_ms, HealthState::Failing),
            (self.healthy_ms, HealthState::Healthy),
        ];
        ranked.into_iter().filter(|(ms, _)| *ms > 0).max_by_key(|(ms, _)| *ms).map_or(HealthState::Unknown, |(_, s)| s)
    }

    /// Uptime, the one definition every page and the API show: time `healthy` over time
    /// observed. `failing` is down like `unhealthy` (its damping is for alerts, not for
    /// uptime: an agent that answers no check was not up); time before the first check,
    /// `unknown`, is not observed. None when nothing was observed.
    pub fn uptime(&self) -> Option<f64> {
        let observed = self.healthy_ms + self.failing_ms + self.unhealthy_ms;
        (observed > 0).then(|| self.healthy_ms as f64 / observed as f64)
    }

    /// Time down (failing or unhealthy), in milliseconds.
    pub fn down_ms(&self) -> i64 {
        self.failing_ms + self.unhealthy_ms
    }

    /// The segments added up into one covering them all.
    pub fn total(segments: &[UptimeSegment]) -> UptimeSegment {
        let mut whole = UptimeSegment {
            start_ms: segments.first().map_or(0, |s| s.start_ms),
            end_ms: segments.last().map_or(0, |s| s.end_ms),
            ..Default::default()
        };
        for s in segments {
            whole.healthy_ms += s.healthy_ms;
            whole.failing_ms += s.failing_ms;
            whole.unhealthy_ms += s.unhealthy_ms;
            whole.unknown_ms += s.unknown_ms;
        }
        whole
    }

    fn add(&mut self, state: HealthState, ms: i64) {
        match state {
            HealthState::Healthy => self.healthy_ms += ms,
            HealthState::Failing => self.failing_ms += ms,
            HealthState::Unhealthy => self.unhealthy_ms += ms,
            HealthState::Unknown => self.unknown_ms += ms,
        }
    }
}

/// An agent's health history over a window.
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct HealthHistory {
    pub agent_id: String,
    /// Width of a latency bucket.
    #[serde(default = "default_bucket_seconds")]
    pub bucket_seconds: u64,
    /// RFC 3339, UTC: the window.
    pub from: String,
    pub to: String,
    /// The state the window starts in (the last change before it), then every change in it.
    pub initial: Option<HealthChange>,
    pub changes: Vec<HealthChange>,
    pub latency: Vec<LatencyBucket>,
    /// `segments` stretches of equal length covering the window, oldest first.
    pub segments: Vec<UptimeSegment>,
    /// Over the whole window (None when never checked in it).
    pub uptime: Option<f64>,
}

/// An agent's unchanged check results are published to open pages at most this often
/// (changes at once); pages account for it when they show the time of the last check.
pub const UNCHANGED_PUBLISHED_EVERY_SECS: u64 = 30;

/// The uptime bars on the agent list cover this many hours, one segment an hour.
pub const BAR_HOURS: u32 = 24;

/// One agent's uptime bar, compact for a page of many: one letter per segment, oldest
/// first (`h` healthy, `f` failing, `u` unhealthy, `-` not checked), by the state it was
/// in longest.
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct UptimeBar {
    pub agent_id: String,
    /// Milliseconds since the Unix epoch: the window.
    pub from_ms: i64,
    pub to_ms: i64,
    pub states: String,
    /// Over the whole window (None when never checked in it).
    pub uptime: Option<f64>,
}

impl UptimeBar {
    pub fn new(agent_id: String, segments: &[UptimeSegment]) -> Self {
        let whole = UptimeSegment::total(segments);
        let states = segments.iter().map(|s| bar_letter(s.dominant())).collect();
        Self { agent_id, from_ms: whole.start_ms, to_ms: whole.end_ms, states, uptime: whole.uptime() }
    }

    /// Each segment's state, oldest first.
    pub fn segments(&self) -> impl Iterator<Item = HealthState> + '_ {
        self.states.chars().map(|c| match c {
            'h' => HealthState::Healthy,
            'f' => HealthState::Failing,
            'u' => HealthState::Unhealthy,
            _ => HealthState::Unknown,
        })
    }
}

fn bar_letter(state: HealthState) -> char {
    match state {
        HealthState::Healthy => 'h',
        HealthState::Failing => 'f',
        HealthState::Unhealthy => 'u',
        HealthState::Unknown => '-',
    }
}

fn default_bucket_seconds() -> u64 {
    300
}

/// Splits `[from, to)` into `n` equal segments and adds up the time spent in each state,
/// starting in `initial` and switching at each of `changes` (ms, state; oldest first).
pub fn uptime_segments(
    initial: HealthState,
    changes: &[(i64, HealthState)],
    from: i64,
    to: i64,
    n: usize,
) -> Vec<UptimeSegment> {
    let n = n.max(1);
    let span = (to - from).max(1);
    let bounds: Vec<i64> = (0..=n).map(|i| from + span * i as i64 / n as i64).collect();
    let mut segments: Vec<UptimeSegment> =
        bounds.windows(2).map(|w| UptimeSegment { start_ms: w[0], end_ms: w[1], ..Default::default() }).collect();
    // Walk the stretches of constant state and spread each over the segments it covers.
    let mut state = initial;
    let mut at = from;
    let mut stretches = Vec::with_capacity(changes.len() + 1);
    for &(when, next) in changes {
        let when = when.clamp(from, to);
        if when > at {
            stretches.push((at, when, state));
            at = when;
        }
        state = next;
    }
    stretches.push((at, to, state));
    let mut i = 0;
    for (start, end, state) in stretches {
        while i < segments.len() && segments[i].end_ms <= start {
            i += 1;
        }
        let mut j = i;
        while j < segments.len() && segments[j].start_ms < end {
            let overlap = end.min(segments[j].end_ms) - start.max(segments[j].start_ms);
            if overlap > 0 {
                segments[j].add(state, overlap);
            }
            j += 1;
        }
    }
    segments
}

#[cfg(test)]
mod tests {
    use super::*;
    use HealthState::*;

    #[test]
    fn time_in_each_state_is_split_across_segments() {
        // 0..100 in 4 segments of 25: unknown until 10, healthy until 60, unhealthy after.
        let s = uptime_segments(Unknown, &[(10, Healthy), (60, Unhealthy)], 0, 100, 4);
        assert_eq!(s.len(), 4);
        assert_eq!((s[0].unknown_ms, s[0].healthy_ms), (10, 15));
        assert_eq!(s[1].healthy_ms, 25);
        assert_eq!((s[2].healthy_ms, s[2].unhealthy_ms), (10, 15));
        assert_eq!(s[3].unhealthy_ms, 25);
        assert_eq!(s[0].dominant(), Healthy);
        assert_eq!(s[2].dominant(), Unhealthy);
        assert_eq!(s[2].uptime(), Some(0.4));
        assert_eq!(UptimeSegment::total(&s).uptime(), Some(50.0 / 90.0));
        let total: i64 = s.iter().map(|g| g.healthy_ms + g.failing_ms + g.unhealthy_ms + g.unknown_ms).sum();
        assert_eq!(total, 100, "every millisecond counted once");
    }

    #[test]
    fn a_bar_names_each_segment_by_its_longest_state() {
        let s = uptime_segments(Unknown, &[(10, Healthy), (60, Unhealthy), (80, Failing)], 0, 100, 4);
        let bar = UptimeBar::new("a".into(), &s);
        assert_eq!(bar.states, "hhuf");
        assert_eq!((bar.from_ms, bar.to_ms), (0, 100));
        assert_eq!(bar.segments().collect::<Vec<_>>(), [Healthy, Healthy, Unhealthy, Failing]);
        // 50 healthy of 90 observed: failing is down too.
        assert_eq!(bar.uptime, Some(50.0 / 90.0));
        assert_eq!(UptimeBar::new("b".into(), &uptime_segments(Unknown, &[], 0, 10, 2)).states, "--");
    }

    #[test]
    fn changes_before_the_window_only_set_the_start() {
        let s = uptime_segments(Healthy, &[(-50, Unhealthy), (150, Healthy)], 0, 100, 2);
        assert_eq!(s[0].unhealthy_ms + s[1].unhealthy_ms, 100);
        assert_eq!(uptime_segments(Unknown, &[], 0, 100, 1)[0].uptime(), None);
        assert_eq!(uptime_segments(Unknown, &[], 0, 100, 1)[0].dominant(), Unknown);
    }

    /// Uptime over whole sequences of changes, as the pages show it.
    fn uptime_of(initial: HealthState, changes: &[(i64, HealthState)]) -> Option<f64> {
        UptimeSegment::total(&uptime_segments(initial, changes, 0, 1000, 24)).uptime()
    }

    #[test]
    fn an_agent_that_never_passed_a_check_has_no_uptime() {
        // Registered anyway while down: failing, then unhealthy, never healthy.
        assert_eq!(uptime_of(Unknown, &[(100, Failing), (200, Unhealthy)]), Some(0.0));
        assert_eq!(uptime_of(Failing, &[]), Some(0.0));
    }

    #[test]
    fn failing_counts_as_down_and_unobserved_time_not_at_all() {
        // Unknown for 500 ms, healthy 250, failing 250: half of the observed time up.
        assert_eq!(uptime_of(Unknown, &[(500, Healthy), (750, Failing)]), Some(0.5));
        // Healthy, one lost check (failing), healthy again.
        assert_eq!(uptime_of(Healthy, &[(100, Failing), (200, Healthy)]), Some(0.9));
        // Never checked in the window: no figure at all, not 0 % and not 100 %.
        assert_eq!(uptime_of(Unknown, &[]), None);
        // Only healthy: exactly 1, whatever the split into segments.
        assert_eq!(uptime_of(Unknown, &[(333, Healthy)]), Some(1.0));
    }

    #[test]
    fn the_figure_does_not_depend_on_how_many_segments_are_drawn() {
        let changes = [(37, Healthy), (411, Unhealthy), (530, Failing), (601, Healthy), (977, Unhealthy)];
        let whole = uptime_segments(Unknown, &changes, 0, 1000, 1)[0].uptime();
        for n in [2, 24, 48, 168] {
            assert_eq!(
                UptimeSegment::total(&uptime_segments(Unknown, &changes, 0, 1000, n)).uptime(),
                whole,
                "{n} segments"
            );
        }
        assert_eq!(whole, Some((411.0 - 37.0 + 977.0 - 601.0) / (1000.0 - 37.0)));
    }
}
