//! Following runs on the event stream: `runs start --follow` to the run's end, and
//! `runs watch`. The stream is opened before the run is created, so no change is missed;
//! a lost connection resumes from the last event id (or the run is read again on
//! `resync`).

use super::client::segment;
use super::output::{color_allowed, millis, plain, status_style, Out};
use super::sse::{EventStream, Frame};
use super::{Dashboard, Failure};
use app::model::events::{RunChange, RESYNC, RUN_UPDATED};
use app::model::{RunStatus, RunView};
use indicatif::{ProgressBar, ProgressStyle};
use reqwest::Method;
use std::io::IsTerminal;
use std::time::{Duration, Instant};

/// How long the stream may stay lost before the command gives up on the dashboard.
const GIVE_UP_AFTER: Duration = Duration::from_secs(60);

/// The `runs` event stream, reconnecting by itself.
pub struct Live<'d> {
    dashboard: &'d Dashboard,
    stream: EventStream,
}

impl<'d> Live<'d> {
    pub async fn open(dashboard: &'d Dashboard) -> Result<Live<'d>, Failure> {
        Ok(Live { dashboard, stream: dashboard.events("runs", None).await? })
    }

    /// The next event. A broken or ended stream is opened again after the last id seen
    /// (the dashboard replays what followed, or sends `resync`).
    pub async fn next(&mut self) -> Result<Frame, Failure> {
        let mut lost_since: Option<Instant> = None;
        let mut wait = Duration::from_millis(250);
        loop {
            if let Ok(Some(frame)) = self.stream.next().await {
                return Ok(frame);
            }
            let since = *lost_since.get_or_insert_with(Instant::now);
            loop {
                tokio::time::sleep(wait).await;
                wait = (wait * 2).min(Duration::from_secs(5));
                match self.dashboard.events("runs", self.stream.last_id.as_deref()).await {
                    Ok(mut stream) => {
                        stream.last_id = self.stream.last_id.take();
                        self.stream = stream;
                        break;
                    }
                    Err(e @ Failure::Unreachable { .. }) if since.elapsed() > GIVE_UP_AFTER => return Err(e),
                    Err(Failure::Unreachable { .. }) => continue,
                    Err(other) => return Err(other),
                }
            }
        }
    }
}

/// Ctrl-C, listened for from the moment this is made (before the run is created), so
/// that an early one detaches rather than killing the command half way.
pub struct Interrupts {
    #[cfg(unix)]
    signal: tokio::signal::unix::Signal,
}

impl Interrupts {
    pub fn listen() -> Result<Interrupts, Failure> {
        #[cfg(unix)]
        {
            let signal = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::interrupt())
                .map_err(|e| Failure::Failed(format!("cannot listen for Ctrl-C: {e}")))?;
            Ok(Interrupts { signal })
        }
        #[cfg(not(unix))]
        Ok(Interrupts {})
    }

    pub async fn next(&mut self) {
        #[cfg(unix)]
        self.signal.recv().await;
        #[cfg(not(unix))]
        let _ = tokio::signal::ctrl_c().await;
    }
}

/// Follows a run to its end (or until Ctrl-C detaches or cancels it).
pub async fn follow(
    dashboard: &Dashboard,
    out: &Out,
    run_id: &str,
    mut live: Live<'_>,
    interrupts: &mut Interrupts,
) -> Result<u8, Failure> {
    let path = format!("/runs/{}", segment(run_id));
    let spinner = out.progress.then(|| spinner(run_id));
    let mut run: RunView = dashboard.get(&path).await?;
    loop {
        if let Some(bar) = &spinner {
            bar.set_message(run.status.label());
        }
        if run.status.is_final() {
            if let Some(bar) = &spinner {
                bar.finish_and_clear();
            }
            return Ok(finished(out, &run));
        }
        tokio::select! {
            frame = live.next() => {
                let frame = frame?;
                match frame.event.as_str() {
                    RUN_UPDATED => {
                        let Ok(change) = serde_json::from_str::<RunChange>(&frame.data) else { continue };
                        if change.run_id != run_id {
                            continue;
                        }
                        if out.json {
                            out.line(&frame.data);
                        }
                        run.status = change.status;
                        if change.status.is_final() {
                            run = dashboard.get(&path).await?;
                        }
                    }
                    // The dashboard could not replay what was missed: read the run again.
                    RESYNC => run = dashboard.get(&path).await?,
                    _ => {}
                }
            }
            _ = interrupts.next() => {
                if let Some(bar) = &spinner {
                    bar.finish_and_clear();
                }
                match interrupted(dashboard, out, &run, interrupts).await? {
                    Some(code) => return Ok(code),
                    None => {
                        if let Some(bar) = &spinner {
                            bar.reset();
                        }
                    }
                }
            }
        }
    }
}

fn spinner(run_id: &str) -> ProgressBar {
    let bar = ProgressBar::new_spinner();
    let style = ProgressStyle::with_template("{spinner} run {prefix}: {msg} {elapsed}")
        .unwrap_or(ProgressStyle::default_spinner());
    bar.set_style(style);
    bar.set_prefix(run_id.to_owned());
    bar.enable_steady_tick(Duration::from_millis(120));
    bar
}

/// Ctrl-C while following. On a terminal: cancel the run, detach, or go on following.
/// Without one: detach, saying how to find the run again. `Some(code)` ends the command.
async fn interrupted(
    dashboard: &Dashboard,
    out: &Out,
    run: &RunView,
    interrupts: &mut Interrupts,
) -> Result<Option<u8>, Failure> {
    let interactive = std::io::stdin().is_terminal() && std::io::stderr().is_terminal();
    if interactive {
        eprint!(
            "Run {} is {}. [c]ancel it, [d]etach (it goes on), or keep [f]ollowing? ",
            run.run_id,
            run.status.label()
        );
        let answer = tokio::select! {
            line = tokio::task::spawn_blocking(|| {
                let mut line = String::new();
                std::io::stdin().read_line(&mut line).map(|_| line)
            }) => line.ok().and_then(Result::ok).unwrap_or_default(),
            // A second Ctrl-C: detach.
            _ = interrupts.next() => "d".into(),
        };
        match answer.trim().to_ascii_lowercase().chars().next() {
            Some('c') => {
                let cancelled: RunView = dashboard
                    .call(dashboard.request(Method::POST, &format!("/runs/{}/cancel", segment(&run.run_id))))
                    .await?;
                return Ok(Some(finished(out, &cancelled)));
            }
            Some('f') => return Ok(None),
            _ => {}
        }
    }
    detach(out, run);
    Ok(Some(0))
}

fn detach(out: &Out, run: &RunView) {
    if out.json {
        out.json(&serde_json::json!({"run_id": run.run_id, "status": run.status, "detached": true}));
    } else {
        eprintln!("Detached; the run goes on. See it with: configurable-agents runs show {}", run.run_id);
        out.line(&run.run_id);
    }
}

/// Prints a finished run: with `--json` the whole run; else the outputs on standard
/// output (so they can be piped) and how it ended on standard error. Exit 0 only when it
/// succeeded.
pub fn finished(out: &Out, run: &RunView) -> u8 {
    if out.json {
        out.json(run);
    } else {
        let took = run.duration_ms.map(|ms| format!(" in {}", millis(ms))).unwrap_or_default();
        let mark = if run.status == RunStatus::Succeeded { "✓" } else { "✗" };
        let color = std::io::stderr().is_terminal() && color_allowed();
        let style = if color { status_style(run.status) } else { anstyle::Style::new() };
        eprintln!("{style}{mark} {}{style:#}{took} (run {})", run.status.label(), run.run_id);
        if let Some(error) = &run.error {
            eprintln!("  {}", plain(error));
        }
        for f in &run.field_errors {
            eprintln!("  {}: {}", plain(f.field.trim_start_matches('/')), plain(&f.message));
        }
        if let Some(outputs) = &run.outputs {
            out.line(&serde_json::to_string_pretty(outputs).unwrap_or_default());
        }
    }
    u8::from(run.status != RunStatus::Succeeded)
}
