//! `configurable-agents discover`: asks the dashboard to look (a scan, another registry, a
//! file's entries), shows what answered as it is found, and registers only with `--add`.

use super::output::{clip, plain, Out, Table};
use super::sse::JsonLines;
use super::{Dashboard, Failure};
use crate::cli::DiscoverArgs;
use anstyle::{AnsiColor, Style};
use app::model::{
    AddCandidates, AddOutcome, Added, Answered, Candidate, DeclaredAgent, DiscoverRequest, DiscoveryEvent,
};
use indicatif::{ProgressBar, ProgressStyle};
use serde::Serialize;

/// The command's one JSON document.
#[derive(Serialize)]
struct Report {
    candidates: Vec<Candidate>,
    done: u64,
    found: u64,
    seconds: f64,
    #[serde(skip_serializing_if = "Option::is_none")]
    added: Option<Vec<Added>>,
    /// Why adding stopped part way (what was added before is in `added`).
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<String>,
}

pub async fn run(dashboard: &Dashboard, out: &Out, args: DiscoverArgs) -> Result<u8, Failure> {
    let request = if let Some(targets) = args.source.scan {
        DiscoverRequest::Scan { targets, max_probes: args.max_probes }
    } else if let Some(url) = args.source.registry {
        let token = super::client::token(args.registry_token_file.as_deref(), "CA_REGISTRY_TOKEN")?;
        DiscoverRequest::Registry { url, token }
    } else if let Some(path) = args.source.config {
        let agents = crate::discovery::file::read(&path).map_err(Failure::Usage)?;
        DiscoverRequest::Entries { agents }
    } else if args.source.mdns {
        DiscoverRequest::Mdns { seconds: Some(args.listen_for.as_secs_f64()) }
    } else {
        return Err(Failure::Usage("give --scan, --registry, --config or --mdns".into()));
    };
    let response = dashboard.post_streaming("/discover", &request).await?;
    let mut lines = JsonLines::new(response);
    let bar = out.progress.then(progress_bar);
    let mut report = Report { candidates: Vec::new(), done: 0, found: 0, seconds: 0.0, added: None, error: None };
    let filter = args.filter.map(|f| f.to_lowercase());
    loop {
        let event: Option<DiscoveryEvent> = lines.next().await?;
        match event {
            None => return Err(Failure::Failed("the dashboard ended the discovery without saying it was done".into())),
            Some(DiscoveryEvent::Started { total }) => {
                if let Some(bar) = &bar {
                    bar.set_length(total);
                }
            }
            Some(DiscoveryEvent::Progress { done, .. }) => {
                if let Some(bar) = &bar {
                    bar.set_position(done);
                }
            }
            Some(DiscoveryEvent::Candidate(c)) => {
                if filter.as_deref().is_some_and(|f| !matches(&c, f)) {
                    continue;
                }
                if let Some(bar) = &bar {
                    bar.println(format!(
                        "  found {} at {}: {}",
                        clip(&c.agent_id, 60),
                        clip(&c.agent_url, 80),
                        c.answered.label()
                    ));
                    bar.inc(0);
                }
                report.candidates.push(c);
            }
            Some(DiscoveryEvent::Done { done, found, seconds }) => {
                (report.done, report.found, report.seconds) = (done, found, seconds);
                break;
            }
            Some(DiscoveryEvent::Failed { message }) => {
                if let Some(bar) = &bar {
                    bar.finish_and_clear();
                }
                return Err(Failure::Failed(message));
            }
        }
    }
    if let Some(bar) = &bar {
        bar.finish_and_clear();
    }
    // Agents first, then the rest; each group by URL.
    report.candidates.sort_by(|a, b| (rank(a.answered), &a.agent_url).cmp(&(rank(b.answered), &b.agent_url)));
    let mut failed = false;
    if let Some(chosen) = &args.add {
        let picked = pick(&report.candidates, chosen, args.force)?;
        let (added, stopped) = add(dashboard, out, picked, args.force).await;
        failed = added.iter().any(|a| a.outcome == AddOutcome::Failed);
        report.added = Some(added);
        // What was added before the failure is reported with it, never lost.
        if let Some(failure) = stopped {
            report.error = Some(failure.to_string());
            if out.json {
                out.json(&report);
            } else {
                print(out, &report, true);
                out.failure(&failure);
            }
            return Ok(failure.code());
        }
    }
    if out.json {
        out.json(&report);
    } else {
        print(out, &report, args.add.is_some());
    }
    Ok(u8::from(failed))
}

/// Candidates added this many at a time: each is checked at its `/health` first (unless
/// forced), so a batch of 100 takes seconds where 10,000 at once would outlast any timeout.
const ADD_BATCH: usize = 100;

/// Adds in batches; what was added, and the failure that stopped it part way, if one did.
async fn add(
    dashboard: &Dashboard,
    out: &Out,
    picked: Vec<DeclaredAgent>,
    force: bool,
) -> (Vec<Added>, Option<Failure>) {
    let bar = (out.progress && picked.len() > ADD_BATCH).then(|| {
        let bar = ProgressBar::new(picked.len() as u64);
        if let Ok(style) = ProgressStyle::with_template("{spinner} {pos}/{len} added {wide_bar} {elapsed}") {
            bar.set_style(style);
        }
        bar
    });
    let mut added = Vec::with_capacity(picked.len());
    let mut stopped = None;
    for batch in picked.chunks(ADD_BATCH) {
        let request = AddCandidates { agents: batch.to_vec(), force };
        match dashboard.post::<Vec<Added>>("/discover/add", &request).await {
            Ok(answer) => added.extend(answer),
            Err(failure) => {
                stopped = Some(failure);
                break;
            }
        }
        if let Some(bar) = &bar {
            bar.set_position(added.len() as u64);
        }
    }
    if let Some(bar) = &bar {
        bar.finish_and_clear();
    }
    (added, stopped)
}

fn progress_bar() -> ProgressBar {
    let bar = ProgressBar::new(0);
    let style = ProgressStyle::with_template("{spinner} {pos}/{len} probed {wide_bar} {elapsed}")
        .unwrap_or_else(|_| ProgressStyle::default_bar());
    bar.set_style(style);
    bar.enable_steady_tick(std::time::Duration::from_millis(120));
    bar
}

fn matches(c: &Candidate, filter: &str) -> bool {
    [&c.agent_id, &c.agent_name, &c.agent_url].iter().any(|t| t.to_lowercase().contains(filter))
}

fn rank(a: Answered) -> u8 {
    match a {
        Answered::Agent => 0,
        Answered::AgentWithoutSchema => 1,
        Answered::Unhealthy => 2,
        Answered::NoAnswer => 3,
        Answered::Langserve | Answered::A2a => 4,
        Answered::NotAnAgent => 5,
    }
}

/// What `--add` registers: every agent that answered our protocol and is not registered
/// yet, or exactly the IDs named (each must be a candidate that can be added).
fn pick(candidates: &[Candidate], chosen: &[String], force: bool) -> Result<Vec<DeclaredAgent>, Failure> {
    if chosen.is_empty() {
        let wanted = |c: &&Candidate| c.is_new_agent() || (force && c.answered.addable() && c.registered.is_none());
        return Ok(candidates.iter().filter(wanted).map(Candidate::declared).collect());
    }
    // The first of several with one ID: they are sorted best first.
    let mut by_id = std::collections::HashMap::new();
    for c in candidates {
        by_id.entry(c.agent_id.as_str()).or_insert(c);
    }
    chosen
        .iter()
        .map(|id| match by_id.get(id.as_str()) {
            Some(c) if c.answered.addable() => Ok(c.declared()),
            Some(c) => Err(Failure::Usage(format!("{id} is {}: it cannot be added", c.answered.label()))),
            None => Err(Failure::Usage(format!("--add {id}: no candidate has this ID"))),
        })
        .collect()
}

fn print(out: &Out, report: &Report, adding: bool) {
    let mut table = Table::new(&["ID", "NAME", "URL", "ANSWERED", "NOTE"]);
    for c in &report.candidates {
        let style = match c.answered {
            Answered::Agent | Answered::AgentWithoutSchema => Style::new().fg_color(Some(AnsiColor::Green.into())),
            Answered::Unhealthy => Style::new().fg_color(Some(AnsiColor::Yellow.into())),
            Answered::NoAnswer => Style::new().fg_color(Some(AnsiColor::Red.into())),
            _ => Style::new().dimmed(),
        };
        let note = match &c.registered {
            Some(id) if *id == c.agent_id => "registered already".to_owned(),
            Some(id) => format!("registered already, as {id}"),
            None => c.detail.clone().unwrap_or_default(),
        };
        table.row(vec![
            (c.agent_id.clone(), Style::new()),
            (c.agent_name.clone(), Style::new()),
            (c.agent_url.clone(), Style::new()),
            (c.answered.label().to_owned(), style),
            (note, Style::new().dimmed()),
        ]);
    }
    if table.is_empty() {
        out.line(&out.dim("Nothing answered."));
    } else {
        table.print(out, true);
    }
    let new = report.candidates.iter().filter(|c| c.is_new_agent()).count();
    eprintln!(
        "{} probed in {:.1} s: {} answered, {new} agents not registered yet",
        report.done, report.seconds, report.found
    );
    match &report.added {
        Some(added) => {
            for a in added {
                let what = match a.outcome {
                    AddOutcome::Added => out.paint("added", Style::new().fg_color(Some(AnsiColor::Green.into()))),
                    AddOutcome::Exists => "registered already, left as it is".to_owned(),
                    AddOutcome::Failed => out.paint("NOT added", Style::new().fg_color(Some(AnsiColor::Red.into()))),
                };
                let why = a.message.as_deref().map(|m| format!(": {m}")).unwrap_or_default();
                out.line(&format!("{}: {what}{}", plain(&a.agent_id), plain(&why)));
            }
            if added.is_empty() {
                out.line(&out.dim("Nothing to add."));
            }
        }
        None if new > 0 && !adding => eprintln!("Register them with --add (all) or --add ID,ID"),
        None => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn candidate(id: &str, url: &str, answered: Answered) -> Candidate {
        Candidate {
            agent_id: id.into(),
            agent_name: id.into(),
            agent_url: url.into(),
            metadata: Default::default(),
            answered,
            detail: None,
            registered: None,
        }
    }

    #[test]
    fn add_takes_agents_that_are_up_and_more_only_when_forced() {
        let mut registered = candidate("old", "http://h:5", Answered::Agent);
        registered.registered = Some("old".into());
        let all = vec![
            candidate("up", "http://h:1", Answered::Agent),
            candidate("up", "http://h:9", Answered::Unhealthy),
            candidate("down", "http://h:2", Answered::Unhealthy),
            candidate("gone", "http://h:3", Answered::NoAnswer),
            candidate("web", "http://h:4", Answered::NotAnAgent),
            registered,
        ];
        let ids = |picked: Vec<DeclaredAgent>| picked.into_iter().map(|d| (d.id, d.url)).collect::<Vec<_>>();
        assert_eq!(ids(pick(&all, &[], false).unwrap()), [("up".into(), "http://h:1".into())]);
        let forced = ids(pick(&all, &[], true).unwrap());
        assert_eq!(forced.len(), 4, "down, unhealthy and silent ones too, never other servers: {forced:?}");
        assert_eq!(
            ids(pick(&all, &["up".into()], false).unwrap()),
            [("up".into(), "http://h:1".into())],
            "of two with one ID, the first (the best) is taken"
        );
        assert!(matches!(pick(&all, &["web".into()], true), Err(Failure::Usage(_))));
        assert!(matches!(pick(&all, &["nobody".into()], false), Err(Failure::Usage(_))));
    }
}
