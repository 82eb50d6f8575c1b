//! `configurable-agents status` (and `orchestrator status`).

use super::output::{health_style, plain, short_duration, status_style, Out};
use super::{Dashboard, Failure};
use app::model::{DashboardStatus, HealthState, RunStatus};
use serde::Serialize;
use std::time::Duration;

/// How long the event stream has to send its first event to count as up.
const STREAM_WAIT: Duration = Duration::from_secs(5);

#[derive(Serialize)]
struct Status {
    #[serde(flatten)]
    dashboard: DashboardStatus,
    /// Whether an event stream opened and sent its first event, from here.
    event_stream: StreamCheck,
}

#[derive(Serialize)]
struct StreamCheck {
    up: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<String>,
}

pub async fn show(dashboard: &Dashboard, out: &Out) -> Result<u8, Failure> {
    let status: DashboardStatus = dashboard.get("/status").await?;
    let event_stream = check_stream(dashboard).await;
    // Exit 1 when the event stream is down, with or without --json.
    let code = u8::from(!event_stream.up);
    if out.json {
        out.json(&Status { dashboard: status, event_stream });
        return Ok(code);
    }
    let up = chrono::DateTime::parse_from_rfc3339(&status.started_at)
        .map(|t| short_duration((chrono::Utc::now() - t.with_timezone(&chrono::Utc)).num_seconds().max(0) as u64))
        .unwrap_or_default();
    let access = if status.access_control { "tokens required" } else { "open (no tokens yet)" };
    out.line(&format!("{}  {}  version {}, up {up}, {access}", out.bold("Dashboard"), dashboard.url(), status.version));

    let agents = status.agents;
    let mut parts: Vec<String> = HealthState::ALL
        .iter()
        .map(|s| out.paint(&format!("{} {}", agents.get(*s), s.as_str()), health_style(*s)))
        .collect();
    parts.push(out.dim(&format!("{} expired", agents.expired)));
    out.line(&format!("{}     {:<6} {}", out.bold("Agents"), agents.total(), parts.join(" · ")));

    let runs = status.runs;
    let parts: Vec<String> = RunStatus::ALL
        .iter()
        .filter(|s| runs.get(**s) > 0 || !s.is_final() || **s == RunStatus::Succeeded || **s == RunStatus::Failed)
        .map(|s| out.paint(&format!("{} {}", runs.get(*s), s.label()), status_style(*s)))
        .collect();
    out.line(&format!("{}       {:<6} {}", out.bold("Runs"), runs.total(), parts.join(" · ")));

    let events = match &event_stream {
        StreamCheck { up: true, .. } => format!("up ({} other streams open)", status.event_stream_clients),
        StreamCheck { error, .. } => format!("DOWN: {}", error.as_deref().unwrap_or("no event")),
    };
    out.line(&format!("{}     {events}", out.bold("Events")));
    // Several dashboards on one PostgreSQL: each, and the agents it checks.
    if status.nodes.len() > 1 {
        let live = status.nodes.iter().filter(|n| n.live).count();
        let parts: Vec<String> = status
            .nodes
            .iter()
            .map(|n| {
                let this = if n.this { "this, " } else { "" };
                if n.live {
                    format!("{} ({this}checks {})", plain(&n.address), n.agents_checked)
                } else {
                    out.dim(&format!("{} (gone, last seen {})", plain(&n.address), super::output::ago(&n.seen_at)))
                }
            })
            .collect();
        out.line(&format!("{} {live} live: {}", out.bold("Dashboards"), parts.join(" · ")));
    }
    if let Some(file) = &status.agents_file {
        let applied = file.applied_at.as_deref().map(super::output::ago).unwrap_or_else(|| "not yet".into());
        let mut line = format!("{} agents, applied {applied}", file.agents);
        if !file.conflicts.is_empty() {
            line.push_str(&format!("; left out: {}", file.conflicts.join(", ")));
        }
        if let Some(error) = &file.error {
            line.push_str(&format!("; its latest contents are NOT applied: {error}"));
        }
        out.line(&format!("{}      {}: {}", out.bold("File"), plain(&file.path), plain(&line)));
    }
    if status.self_preservation.active {
        let since = status.self_preservation.since.as_deref().unwrap_or("?");
        out.line(&format!(
            "{}     paused since {since}: {} of {} self-registered agents are silent (self-preservation)",
            out.bold("Expiry"),
            status.self_preservation.silent,
            status.self_preservation.alive
        ));
    }
    Ok(code)
}

/// Opens the stream and waits for its first event (a new stream starts with `resync`).
async fn check_stream(dashboard: &Dashboard) -> StreamCheck {
    let first = tokio::time::timeout(STREAM_WAIT, async {
        let mut stream = dashboard.events("runs", None).await?;
        stream.next().await
    })
    .await;
    match first {
        Ok(Ok(Some(_))) => StreamCheck { up: true, error: None },
        Ok(Ok(None)) => StreamCheck { up: false, error: Some("the stream closed at once".into()) },
        Ok(Err(e)) => StreamCheck { up: false, error: Some(e.to_string()) },
        Err(_) => StreamCheck { up: false, error: Some(format!("no event within {}s", STREAM_WAIT.as_secs())) },
    }
}
