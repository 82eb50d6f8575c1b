//! `configurable-agents runs start | list | show | cancel | rerun | watch`.

use super::client::{segment, with_query};
use super::follow::{follow, Interrupts, Live};
use super::output::{ago, clip, millis, plain, status_style, Listing, Out, Table};
use super::{inputs, Dashboard, Failure};
use crate::cli::RunsCommand;
use anstyle::Style;
use app::model::events::{RunChange, RESYNC, RUN_UPDATED};
use app::model::{RunCreated, RunStatus, RunView, SchemaView};
use reqwest::Method;

/// Runs asked for per call while listing: the API's largest page.
const PAGE: u64 = 200;

pub async fn run(dashboard: &Dashboard, out: &Out, command: RunsCommand) -> Result<u8, Failure> {
    match command {
        RunsCommand::Start { agent, input, inputs_file, idempotency_key, follow: following } => {
            let agent_path = format!("/agents/{}", segment(&agent));
            let schema: SchemaView = dashboard.get(&format!("{agent_path}/schema")).await?;
            let inputs = inputs::build(&schema.schema, inputs_file.as_deref(), &input)?;
            // Opened first, so that not even a run that ends at once is missed.
            let live = if following { Some((Live::open(dashboard).await?, Interrupts::listen()?)) } else { None };
            let mut request = dashboard
                .request(Method::POST, &format!("{agent_path}/runs"))
                .json(&serde_json::json!({ "inputs": inputs }));
            if let Some(key) = &idempotency_key {
                request = request.header("idempotency-key", key);
            }
            let created: RunCreated = dashboard.call(request).await?;
            started(dashboard, out, created, &agent, live).await
        }
        RunsCommand::Rerun { id, follow: following } => {
            let live = if following { Some((Live::open(dashboard).await?, Interrupts::listen()?)) } else { None };
            let created: RunCreated =
                dashboard.call(dashboard.request(Method::POST, &format!("/runs/{}/rerun", segment(&id)))).await?;
            started(dashboard, out, created, "", live).await
        }
        RunsCommand::List { agent, status, since, limit } => list(dashboard, out, agent, status, since, limit).await,
        RunsCommand::Show { id } => {
            let run: RunView = dashboard.get(&format!("/runs/{}", segment(&id))).await?;
            if out.json {
                out.json(&run);
            } else {
                show(out, &run);
            }
            Ok(0)
        }
        RunsCommand::Cancel { id } => {
            let run: RunView =
                dashboard.call(dashboard.request(Method::POST, &format!("/runs/{}/cancel", segment(&id)))).await?;
            if out.json {
                out.json(&run);
            } else {
                out.line(&format!("{} run {} ({})", out.bold("Cancelled"), run.run_id, run.agent_id));
            }
            Ok(0)
        }
        RunsCommand::Watch { agent } => watch(dashboard, out, agent.as_deref()).await,
    }
}

/// After a run was created: its ID, or with `--follow` its end.
async fn started(
    dashboard: &Dashboard,
    out: &Out,
    created: RunCreated,
    agent: &str,
    live: Option<(Live<'_>, Interrupts)>,
) -> Result<u8, Failure> {
    match live {
        Some((live, mut interrupts)) => follow(dashboard, out, &created.run_id, live, &mut interrupts).await,
        None if out.json => {
            out.json(&created);
            Ok(0)
        }
        None => {
            let of = if agent.is_empty() { String::new() } else { format!(" of {agent}") };
            eprintln!(
                "Run{of} {}; follow it with: configurable-agents runs show {}",
                created.status.label(),
                created.run_id
            );
            out.line(&created.run_id);
            Ok(0)
        }
    }
}

async fn list(
    dashboard: &Dashboard,
    out: &Out,
    agent: Option<String>,
    statuses: Vec<RunStatus>,
    since: Option<String>,
    limit: u64,
) -> Result<u8, Failure> {
    let mut query: Vec<(&str, String)> = vec![("limit", limit.min(PAGE).to_string())];
    if let Some(agent) = agent {
        query.push(("agent_id", agent));
    }
    if !statuses.is_empty() {
        query.push(("status", statuses.iter().map(|s| s.as_str()).collect::<Vec<_>>().join(",")));
    }
    if let Some(since) = since {
        query.push(("since", since_time(&since)));
    }
    let mut request = dashboard.request(Method::GET, &with_query("/runs", &query));
    let mut printed = 0u64;
    let mut listing = Listing::start(out);
    let total = loop {
        let (runs, headers): (Vec<RunView>, _) = dashboard.call_with_headers(request).await?;
        let total: u64 = headers.get("x-total-count").and_then(|v| v.to_str().ok()?.parse().ok()).unwrap_or(0);
        let runs: Vec<RunView> = runs.into_iter().take((limit - printed) as usize).collect();
        if out.json {
            for run in &runs {
                listing.push(out, run);
            }
        } else {
            print_table(out, &runs, printed == 0);
        }
        printed += runs.len() as u64;
        // The API's own link to the next page, keeping the filters.
        let next = headers
            .get(reqwest::header::LINK)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split_once("</api/v1")?.1.split_once('>').map(|(p, _)| p.to_owned()));
        match next {
            Some(path) if printed < limit => request = dashboard.request(Method::GET, &path),
            _ => break total,
        }
    };
    listing.finish(out, printed, total, "runs");
    Ok(0)
}

/// `1h`, `30m`, `7d` back from now; anything else (a date, an RFC 3339 time) as given,
/// for the dashboard to judge.
fn since_time(raw: &str) -> String {
    match humantime::parse_duration(raw.trim()).ok().and_then(|d| chrono::Duration::from_std(d).ok()) {
        Some(back) => crate::time::timestamp(chrono::Utc::now() - back),
        None => raw.to_owned(),
    }
}

fn print_table(out: &Out, runs: &[RunView], with_header: bool) {
    let mut table = Table::new(&["RUN", "AGENT", "STATUS", "CREATED", "TOOK", "ERROR"]);
    for r in runs {
        table.row(vec![
            (r.run_id.clone(), Style::new()),
            (r.agent_id.clone(), Style::new()),
            (r.status.label().to_owned(), status_style(r.status)),
            (ago(&r.created_at), Style::new().dimmed()),
            (r.duration_ms.map(millis).unwrap_or_default(), Style::new()),
            (clip(r.error.as_deref().unwrap_or(""), 50), Style::new()),
        ]);
    }
    if !table.is_empty() {
        table.print(out, with_header);
    }
}

fn show(out: &Out, r: &RunView) {
    let mut lines = vec![
        ("Run", r.run_id.clone()),
        ("Agent", r.agent_id.clone()),
        ("Workflow", r.workflow.clone()),
        ("Status", out.paint(r.status.label(), status_style(r.status))),
        ("Created", r.created_at.clone()),
    ];
    if let Some(ms) = r.duration_ms {
        lines.push(("Took", millis(ms)));
    }
    if let Some(e) = &r.error {
        lines.push(("Error", e.clone()));
    }
    for f in &r.field_errors {
        lines.push(("Field", format!("{}: {}", f.field.trim_start_matches('/'), f.message)));
    }
    if let Some(t) = r.total_tokens {
        lines.push(("Tokens", t.to_string()));
    }
    if let Some(c) = r.cost_usd {
        lines.push(("Cost", format!("${c:.4}")));
    }
    if let Some(of) = &r.rerun_of {
        lines.push(("Re-run of", of.clone()));
    }
    for (key, value) in lines {
        out.line(&format!("{}  {}", out.bold(&format!("{key:<9}")), plain(&value)));
    }
    out.line(&out.bold("Inputs"));
    out.line(&serde_json::to_string_pretty(&r.inputs).unwrap_or_default());
    if let Some(outputs) = &r.outputs {
        out.line(&out.bold("Outputs"));
        out.line(&serde_json::to_string_pretty(outputs).unwrap_or_default());
    }
}

/// Run changes as they happen, one line each, until Ctrl-C.
async fn watch(dashboard: &Dashboard, out: &Out, agent: Option<&str>) -> Result<u8, Failure> {
    let mut live = Live::open(dashboard).await?;
    let mut interrupts = Interrupts::listen()?;
    let mut first = true;
    if !out.json {
        eprintln!("Watching runs on {} (Ctrl-C stops)", dashboard.url());
    }
    loop {
        let frame = tokio::select! {
            frame = live.next() => frame?,
            _ = interrupts.next() => return Ok(0),
        };
        match frame.event.as_str() {
            RUN_UPDATED => {
                let Ok(change) = serde_json::from_str::<RunChange>(&frame.data) else { continue };
                if agent.is_some_and(|a| a != change.agent_id) {
                    continue;
                }
                if out.json {
                    out.line(&frame.data);
                    continue;
                }
                let when = chrono::Local::now().format("%H:%M:%S");
                let took = change.duration_ms.map(millis).unwrap_or_default();
                let error = change.error.as_deref().map(|e| clip(e, 80)).unwrap_or_default();
                out.line(&format!(
                    "{}  {}  {}  {}  {took}  {error}",
                    out.dim(&when.to_string()),
                    plain(&change.run_id),
                    plain(&change.agent_id),
                    out.paint(&format!("{:<11}", change.status.label()), status_style(change.status)),
                ));
            }
            RESYNC if !first && !out.json => eprintln!("(the stream was lost; changes in between may be missing)"),
            _ => {}
        }
        first = false;
    }
}
