//! A small latency chart: the mean of each rollup bucket as a line, its min–max as a band,
//! buckets with failed checks marked below the axis. Plain SVG, no chart library.

use crate::model::LatencyBucket;
use crate::time::parse_rfc3339_ms;
use leptos::prelude::*;

const W: f64 = 600.0;
const H: f64 = 160.0;
/// Room under the plot for the failure marks.
const MARKS: f64 = 12.0;

/// The chart's geometry, apart from drawing it (so it can be tested).
#[derive(Debug, PartialEq)]
pub struct Chart {
    /// The top of the y axis, in ms: a round number above the highest max.
    pub top_ms: u64,
    /// SVG points of the mean line, one run of buckets with data each (gaps break it).
    pub mean: Vec<String>,
    /// SVG polygons of the min–max band, one per run.
    pub band: Vec<String>,
    /// x of each bucket with failed checks, and the share that failed.
    pub failures: Vec<(f64, f64)>,
    /// Over the whole period, of the checks that passed: (min, mean, max) ms.
    pub overall: Option<(u64, f64, u64)>,
}

/// A "nice" axis top: 1, 2 or 5 times a power of ten, at least `ms`.
fn nice_top(ms: f64) -> u64 {
    let ms = ms.max(1.0);
    let mut step = 1.0;
    while step * 10.0 <= ms {
        step *= 10.0;
    }
    for k in [1.0, 2.0, 5.0, 10.0] {
        if k * step >= ms {
            return (k * step) as u64;
        }
    }
    (10.0 * step) as u64
}

pub fn chart(buckets: &[LatencyBucket], from_ms: f64, to_ms: f64, bucket_ms: f64) -> Chart {
    let span = (to_ms - from_ms).max(1.0);
    let plot_h = H - MARKS;
    let top = nice_top(buckets.iter().filter_map(|b| b.max_ms).max().unwrap_or(1) as f64);
    let x = |start: f64| ((start + bucket_ms / 2.0 - from_ms) / span * W).clamp(0.0, W);
    let y = |ms: f64| plot_h - (ms / top as f64 * plot_h).clamp(0.0, plot_h);
    let mut mean = Vec::new();
    let mut band = Vec::new();
    let mut failures = Vec::new();
    // Runs of consecutive buckets that have latency figures.
    let mut run: Vec<(f64, f64, f64, f64)> = Vec::new();
    let mut last_start: Option<f64> = None;
    let mut close = |run: &mut Vec<(f64, f64, f64, f64)>| {
        if !run.is_empty() {
            mean.push(run.iter().map(|(x, _, m, _)| format!("{x:.1},{m:.1}")).collect::<Vec<_>>().join(" "));
            let upper = run.iter().map(|(x, _, _, hi)| format!("{x:.1},{hi:.1}"));
            let lower = run.iter().rev().map(|(x, lo, _, _)| format!("{x:.1},{lo:.1}"));
            band.push(upper.chain(lower).collect::<Vec<_>>().join(" "));
            run.clear();
        }
    };
    for b in buckets {
        let Some(start) = parse_rfc3339_ms(&b.start) else { continue };
        if b.failures > 0 && b.probes > 0 {
            failures.push((x(start), b.failures as f64 / b.probes as f64));
        }
        let contiguous = last_start.is_some_and(|prev| start - prev <= bucket_ms * 1.5);
        if !contiguous {
            close(&mut run);
        }
        last_start = Some(start);
        match (b.min_ms, b.mean_ms, b.max_ms) {
            (Some(lo), Some(m), Some(hi)) => run.push((x(start), y(lo as f64), y(m), y(hi as f64))),
            // All its checks failed: no latency, the line breaks here.
            _ => close(&mut run),
        }
    }
    close(&mut run);
    // The mean of all passed checks: each bucket's mean weighted by its passed checks.
    let passed = |b: &LatencyBucket| f64::from(b.probes.saturating_sub(b.failures));
    let weight: f64 = buckets.iter().filter(|b| b.mean_ms.is_some()).map(passed).sum();
    let overall = (weight > 0.0).then(|| {
        let mean = buckets.iter().filter_map(|b| b.mean_ms.map(|m| m * passed(b))).sum::<f64>() / weight;
        let lo = buckets.iter().filter_map(|b| b.min_ms).min().unwrap_or(0);
        let hi = buckets.iter().filter_map(|b| b.max_ms).max().unwrap_or(0);
        (lo, mean, hi)
    });
    Chart { top_ms: top, mean, band, failures, overall }
}

#[component]
pub fn LatencyChart(buckets: Vec<LatencyBucket>, from_ms: f64, to_ms: f64, bucket_ms: f64) -> impl IntoView {
    if buckets.is_empty() {
        return view! { <p class="muted" data-testid="latency-empty">"No checks recorded in this period yet."</p> }
            .into_any();
    }
    let c = chart(&buckets, from_ms, to_ms, bucket_ms);
    let plot_h = H - MARKS;
    view! {
        <figure class="latency-chart" data-testid="latency-chart">
            <svg viewBox=format!("0 0 {W} {H}") preserveAspectRatio="none" role="img"
                aria-label=format!("Latency per {} min: mean as a line, min to max as a band; axis top {} ms", (bucket_ms / 60_000.0).round(), c.top_ms)>
                <line class="axis" x1="0" y1=plot_h x2=W y2=plot_h></line>
                <line class="grid" x1="0" y1={plot_h / 2.0} x2=W y2={plot_h / 2.0}></line>
                {c.band.into_iter().map(|p| view! { <polygon class="band" points=p></polygon> }).collect_view()}
                {c.mean.into_iter().map(|p| view! { <polyline class="mean" points=p></polyline> }).collect_view()}
                {c.failures.into_iter().map(|(x, share)| view! {
                    <rect class="failure" x={x - 2.0} y={plot_h + 2.0} width="4" height={MARKS - 2.0} opacity={0.4 + 0.6 * share}></rect>
                }).collect_view()}
            </svg>
            <figcaption class="muted">
                <span>{format!("axis 0–{} ms", c.top_ms)}</span>
                <span data-testid="latency-figures">{match c.overall {
                    Some((lo, mean, hi)) => format!("checks that passed: min {lo} ms, mean {mean:.1} ms, max {hi} ms"),
                    None => "no check passed in this period".to_owned(),
                }}</span>
                <span class="legend"><span class="key mean"></span>"mean "<span class="key band"></span>"min–max "<span class="key failure"></span>"failed checks"</span>
            </figcaption>
        </figure>
    }
    .into_any()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bucket(minute: u32, lo: Option<u64>, hi: Option<u64>, failures: u32) -> LatencyBucket {
        LatencyBucket {
            start: format!("2026-12-01T00:{minute:02}:00Z"),
            probes: 10,
            failures,
            min_ms: lo,
            mean_ms: lo.zip(hi).map(|(a, b)| (a + b) as f64 / 2.0),
            max_ms: hi,
        }
    }

    #[test]
    fn axis_tops_are_round() {
        assert_eq!(nice_top(0.0), 1);
        assert_eq!(nice_top(7.0), 10);
        assert_eq!(nice_top(12.0), 20);
        assert_eq!(nice_top(180.0), 200);
        assert_eq!(nice_top(201.0), 500);
        assert_eq!(nice_top(3000.0), 5000);
    }

    #[test]
    fn a_bucket_without_latency_breaks_the_line_and_failures_are_marked() {
        let from = parse_rfc3339_ms("2026-12-01T00:00:00Z").unwrap();
        let b = [
            bucket(0, Some(10), Some(30), 0),
            bucket(5, Some(20), Some(40), 1),
            bucket(10, None, None, 10),
            bucket(15, Some(5), Some(15), 0),
        ];
        let c = chart(&b, from, from + 20.0 * 60_000.0, 5.0 * 60_000.0);
        assert_eq!(c.top_ms, 50);
        assert_eq!(c.mean.len(), 2, "two runs around the all-failed bucket");
        assert_eq!(c.mean[0].split(' ').count(), 2);
        assert_eq!(c.band[0].split(' ').count(), 4, "upper and lower edge");
        assert_eq!(c.failures.len(), 2);
        assert_eq!(c.failures[1].1, 1.0);
        // Centred in its bucket: the first at 2.5 of 20 minutes.
        assert!(c.mean[0].starts_with("75.0,"));
        // 10 + 9 + 10 passed checks at means 20, 30, 10.
        let (lo, mean, hi) = c.overall.unwrap();
        assert_eq!((lo, hi), (5, 40));
        assert!((mean - (200.0 + 270.0 + 100.0) / 29.0).abs() < 1e-9);
    }
}
