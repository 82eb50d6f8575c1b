//! `configurable-agents agents list | show | add | remove`.

use super::client::{segment, with_query};
use super::output::{ago, health_style, plain, Listing, Out, Table};
use super::{Dashboard, Failure};
use crate::cli::AgentsCommand;
use anstyle::Style;
use app::model::{AgentView, RegisterAgent};
use reqwest::Method;
use serde_json::Value;

/// Agents asked for per call while listing: the API's largest page.
const PAGE: u64 = 1000;

pub async fn run(dashboard: &Dashboard, out: &Out, command: AgentsCommand) -> Result<u8, Failure> {
    match command {
        AgentsCommand::List { state, search, limit } => list(dashboard, out, state, search, limit).await,
        AgentsCommand::Show { id } => show(dashboard, out, &id).await,
        AgentsCommand::Add { id, agent_url, name, metadata, force, replace } => {
            let metadata = metadata.map_or(Value::Null, |m| {
                // The API reads text that looks like an object as one, and refuses a typo.
                serde_json::from_str::<Value>(&m).ok().filter(Value::is_object).unwrap_or(Value::String(m))
            });
            let request = RegisterAgent {
                agent_name: name.unwrap_or_else(|| id.clone()),
                agent_id: id,
                agent_url,
                metadata,
                force,
                replace,
                ..RegisterAgent::default()
            };
            let agent: AgentView = dashboard.post("/agents", &request).await?;
            if out.json {
                out.json(&agent);
            } else {
                out.line(&format!(
                    "{} {} at {}: {}",
                    out.bold("Registered"),
                    agent.agent_id,
                    agent.agent_url,
                    out.paint(&agent.health.label(), health_style(agent.health.state))
                ));
            }
            Ok(0)
        }
        AgentsCommand::Remove { id, purge } => {
            let path = format!("/agents/{}?purge={purge}", segment(&id));
            let answer: Value = dashboard.call(dashboard.request(Method::DELETE, &path)).await?;
            if out.json {
                out.json(&answer);
            } else {
                let status = answer.get("status").and_then(Value::as_str).unwrap_or("removed");
                let what = if status == "deregistered" {
                    "Deregistered (kept with its history; --purge deletes it)"
                } else {
                    "Deleted"
                };
                out.line(&format!("{} {id}", out.bold(what)));
            }
            Ok(0)
        }
    }
}

/// Every matching agent, a page at a time: the table of each page is printed as it comes,
/// and with `--json` one array is written as the pages come, so neither side holds a
/// fleet of 10,000 at once.
async fn list(
    dashboard: &Dashboard,
    out: &Out,
    state: Option<app::model::AgentState>,
    search: Option<String>,
    limit: Option<u64>,
) -> Result<u8, Failure> {
    let mut offset = 0u64;
    let mut printed = 0u64;
    let mut total = 0u64;
    let mut listing = Listing::start(out);
    loop {
        let want = limit.map_or(PAGE, |l| (l - printed).min(PAGE));
        let mut query = vec![("limit", want.to_string()), ("offset", offset.to_string())];
        if let Some(s) = state {
            query.push(("state", s.as_str().to_owned()));
        }
        if let Some(q) = &search {
            query.push(("q", q.clone()));
        }
        let request = dashboard.request(Method::GET, &with_query("/agents", &query));
        let (agents, headers): (Vec<AgentView>, _) = dashboard.call_with_headers(request).await?;
        total = headers.get("x-total-count").and_then(|v| v.to_str().ok()?.parse().ok()).unwrap_or(total);
        if out.json {
            for agent in &agents {
                listing.push(out, agent);
                printed += 1;
            }
        } else {
            print_table(out, &agents, offset == 0);
            printed += agents.len() as u64;
        }
        offset += agents.len() as u64;
        let done = agents.len() < want as usize || limit.is_some_and(|l| printed >= l) || offset >= total;
        if done {
            break;
        }
    }
    listing.finish(out, printed, total, "agents");
    Ok(0)
}

fn print_table(out: &Out, agents: &[AgentView], with_header: bool) {
    let mut table = Table::new(&["ID", "NAME", "STATE", "CHECKED", "URL"]);
    for a in agents {
        let (state, style) = state_of(a);
        let checked = a.health.checked_at.as_deref().map(ago).unwrap_or_else(|| "never".into());
        table.row(vec![
            (a.agent_id.clone(), Style::new()),
            (a.agent_name.clone(), Style::new()),
            (state, style),
            (checked, Style::new().dimmed()),
            (a.agent_url.clone(), Style::new()),
        ]);
    }
    if !table.is_empty() {
        // Later pages go on under the first one's header.
        table.print(out, with_header);
    }
}

/// "healthy", "failing (1 of 2)", "expired (ttl)".
fn state_of(a: &AgentView) -> (String, Style) {
    if a.expired {
        let why = a.expiry.map_or("", |e| e.as_str());
        return (format!("expired ({why})"), Style::new().dimmed());
    }
    (a.health.label(), health_style(a.health.state))
}

async fn show(dashboard: &Dashboard, out: &Out, id: &str) -> Result<u8, Failure> {
    let a: AgentView = dashboard.get(&format!("/agents/{}", segment(id))).await?;
    if out.json {
        out.json(&a);
        return Ok(0);
    }
    let (state, style) = state_of(&a);
    let mut lines = vec![
        ("ID", a.agent_id.clone()),
        ("Name", a.agent_name.clone()),
        ("URL", a.agent_url.clone()),
        ("State", out.paint(&state, style)),
    ];
    if let Some(reason) = &a.health.reason {
        lines.push(("Reason", reason.clone()));
    }
    if let Some(checked) = &a.health.checked_at {
        let latency = a.health.latency_ms.map(|ms| format!(", answered in {ms} ms")).unwrap_or_default();
        lines.push(("Checked", format!("{}{latency}, every {}s", ago(checked), a.health.interval_seconds)));
    }
    lines.push(("Source", a.source.as_str().to_owned()));
    lines.push(("Registered", a.registered_at.clone()));
    if let Some(ttl) = a.ttl_seconds {
        let last = a.last_heartbeat.as_deref().map(ago).unwrap_or_else(|| "none".into());
        lines.push(("Heartbeat", format!("last {last}, TTL {ttl}s")));
    }
    if let Some(at) = &a.expired_at {
        lines.push(("Expired", at.clone()));
    }
    if let Some(note) = &a.address_note {
        lines.push(("Address", note.clone()));
    }
    if !a.metadata.is_empty() {
        lines.push(("Metadata", serde_json::to_string(&a.metadata).unwrap_or_default()));
    }
    for (key, value) in lines {
        out.line(&format!("{}  {}", out.bold(&format!("{key:<10}")), plain(&value)));
    }
    Ok(0)
}
