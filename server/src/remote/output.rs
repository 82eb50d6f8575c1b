//! What the command line prints: aligned tables and colour for people (colour only on a
//! terminal, never with `NO_COLOR`), JSON for scripts, progress only on a terminal.

use super::Failure;
use anstyle::{AnsiColor, Style};
use app::model::{HealthState, RunStatus};
use serde::Serialize;
use std::io::{IsTerminal, Write};

pub struct Out {
    pub json: bool,
    color: bool,
    /// Standard error is a terminal: progress bars and spinners may be drawn there.
    pub progress: bool,
}

impl Out {
    pub fn new(json: bool) -> Out {
        Out {
            json,
            color: !json && color_allowed() && std::io::stdout().is_terminal(),
            progress: !json && std::io::stderr().is_terminal(),
        }
    }

    /// One JSON document on standard output: indented on a terminal, one line otherwise
    /// (so `--follow --json` gives one event per line).
    pub fn json<T: Serialize + ?Sized>(&self, value: &T) {
        let text = if std::io::stdout().is_terminal() {
            serde_json::to_string_pretty(value)
        } else {
            serde_json::to_string(value)
        };
        self.line(&text.unwrap_or_else(|e| format!("{{\"error\": \"{e}\"}}")));
    }

    /// A line on standard output. A closed pipe (`| head`) ends the process quietly, as
    /// command-line tools do.
    pub fn line(&self, text: &str) {
        let mut stdout = std::io::stdout().lock();
        if writeln!(stdout, "{text}").and_then(|_| stdout.flush()).is_err() {
            std::process::exit(0);
        }
    }

    pub fn paint(&self, text: &str, style: Style) -> String {
        if self.color && style != Style::new() {
            format!("{style}{text}{style:#}")
        } else {
            text.to_owned()
        }
    }

    pub fn dim(&self, text: &str) -> String {
        self.paint(text, Style::new().dimmed())
    }

    pub fn bold(&self, text: &str) -> String {
        self.paint(text, Style::new().bold())
    }

    /// The failure on standard error; with `--json`, the API's error object on standard
    /// output as well, so a script reads one document either way.
    pub fn failure(&self, failure: &Failure) {
        if self.json {
            let error = match failure {
                Failure::Api(e) => serde_json::to_value(e).unwrap_or_default(),
                other => serde_json::json!({"code": kind(other), "message": other.to_string()}),
            };
            self.json(&serde_json::json!({ "error": error }));
        }
        let red = if !self.json && color_allowed() && std::io::stderr().is_terminal() {
            Style::new().fg_color(Some(AnsiColor::Red.into())).bold()
        } else {
            Style::new()
        };
        eprintln!("{red}error:{red:#} {}", plain(&failure.to_string()));
        if let Failure::Api(e) = failure {
            if e.fields.len() > 1 || e.fields.first().is_some_and(|f| !e.message.contains(&f.message)) {
                for f in &e.fields {
                    eprintln!("  {}: {}", plain(f.field.trim_start_matches('/')), plain(&f.message));
                }
            }
        }
    }
}

/// Colour unless `NO_COLOR` is set to something (no-color.org: an empty value does not
/// count) or the terminal says it cannot show it (`TERM=dumb`). One rule for every line
/// the command prints; each caller still asks whether its own stream is a terminal.
pub fn color_allowed() -> bool {
    !(std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty()) || std::env::var("TERM").is_ok_and(|t| t == "dumb"))
}

fn kind(failure: &Failure) -> &'static str {
    match failure {
        Failure::Usage(_) => "usage",
        Failure::Unreachable { .. } => "unreachable",
        Failure::Api(_) => "api",
        Failure::Failed(_) => "failed",
    }
}

pub fn health_style(state: HealthState) -> Style {
    let color = match state {
        HealthState::Healthy => AnsiColor::Green,
        HealthState::Failing => AnsiColor::Yellow,
        HealthState::Unhealthy => AnsiColor::Red,
        HealthState::Unknown => return Style::new().dimmed(),
    };
    Style::new().fg_color(Some(color.into()))
}

pub fn status_style(status: RunStatus) -> Style {
    let color = match status {
        RunStatus::Succeeded => AnsiColor::Green,
        RunStatus::Failed | RunStatus::TimedOut => AnsiColor::Red,
        RunStatus::Cancelled | RunStatus::Interrupted => AnsiColor::Yellow,
        RunStatus::Queued | RunStatus::Running => AnsiColor::Cyan,
    };
    Style::new().fg_color(Some(color.into()))
}

/// A list written as it is paged in: with `--json` one array, each element held until
/// the next arrives (to know whether a comma follows); else a footer when nothing matched
/// or `--limit` cut it short. Shared by `agents list` and `runs list`.
pub struct Listing {
    pending: Option<String>,
}

impl Listing {
    pub fn start(out: &Out) -> Listing {
        if out.json {
            out.line("[");
        }
        Listing { pending: None }
    }

    pub fn push<T: Serialize>(&mut self, out: &Out, item: &T) {
        if let Some(previous) = self.pending.replace(serde_json::to_string(item).unwrap_or_default()) {
            out.line(&format!("{previous},"));
        }
    }

    /// `noun`: "agents", "runs".
    pub fn finish(self, out: &Out, printed: u64, total: u64, noun: &str) {
        if out.json {
            if let Some(last) = self.pending {
                out.line(&last);
            }
            out.line("]");
        } else if printed == 0 {
            out.line(&out.dim(&format!("No {noun} match.")));
        } else if printed < total {
            out.line(&out.dim(&format!("{printed} of {total} {noun} (--limit)")));
        }
    }
}

/// Columns aligned on the widest cell; each cell may carry a style, applied after the
/// padding so that escape codes do not count as width.
pub struct Table {
    headers: Vec<&'static str>,
    rows: Vec<Vec<(String, Style)>>,
}

/// The widest a cell is printed; longer text is cut with `…` (the whole value is in
/// `show` and in `--json`).
const MAX_CELL: usize = 60;

impl Table {
    pub fn new(headers: &[&'static str]) -> Table {
        Table { headers: headers.to_vec(), rows: Vec::new() }
    }

    pub fn row(&mut self, cells: Vec<(String, Style)>) {
        self.rows.push(cells);
    }

    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    pub fn print(&self, out: &Out, with_header: bool) {
        let cut: Vec<Vec<(String, Style)>> =
            self.rows.iter().map(|r| r.iter().map(|(t, s)| (clip(t, MAX_CELL), *s)).collect()).collect();
        let mut widths: Vec<usize> = self.headers.iter().map(|h| width(h)).collect();
        for row in &cut {
            for (i, (text, _)) in row.iter().enumerate() {
                widths[i] = widths[i].max(width(text));
            }
        }
        let last = self.headers.len().saturating_sub(1);
        let header: Vec<String> = self.headers.iter().enumerate().map(|(i, h)| pad(h, widths[i], i == last)).collect();
        if with_header {
            out.line(&out.bold(header.join("  ").trim_end()));
        }
        for row in &cut {
            let cells: Vec<String> =
                row.iter().enumerate().map(|(i, (t, s))| out.paint(&pad(t, widths[i], i == last), *s)).collect();
            out.line(cells.join("  ").trim_end());
        }
    }
}

fn width(text: &str) -> usize {
    text.chars().count()
}

fn pad(text: &str, width_: usize, last: bool) -> String {
    if last {
        return text.to_owned();
    }
    let fill = width_.saturating_sub(width(text));
    format!("{text}{}", " ".repeat(fill))
}

/// Text from elsewhere (an agent's error, a name, a server's message) made safe to print
/// on a terminal: control characters, which include the escape that starts a terminal
/// command (moving the cursor, changing the title, hiding text), are shown as `�`; line
/// breaks are kept.
pub fn plain(text: &str) -> String {
    text.chars().map(|c| if c.is_control() && c != '\n' { '\u{fffd}' } else { c }).collect()
}

/// Text cut to `max` characters, with `…` when it was longer; line breaks shown as spaces.
pub fn clip(text: &str, max: usize) -> String {
    let flat: String = text.chars().map(|c| if c.is_control() { ' ' } else { c }).collect();
    if flat.chars().count() <= max {
        return flat;
    }
    let mut cut: String = flat.chars().take(max.saturating_sub(1)).collect();
    cut.push('…');
    cut
}

/// "3s ago", "5m ago", "2h ago", "4d ago" from an RFC 3339 time.
pub fn ago(rfc3339: &str) -> String {
    match chrono::DateTime::parse_from_rfc3339(rfc3339) {
        Ok(t) => {
            let secs = (chrono::Utc::now() - t.with_timezone(&chrono::Utc)).num_seconds().max(0);
            format!("{} ago", short_duration(secs as u64))
        }
        Err(_) => rfc3339.to_owned(),
    }
}

/// "45s", "3m", "2h", "4d".
pub fn short_duration(secs: u64) -> String {
    match secs {
        0..60 => format!("{secs}s"),
        60..3600 => format!("{}m", secs / 60),
        3600..86400 => format!("{}h", secs / 3600),
        _ => format!("{}d", secs / 86400),
    }
}

/// "312 ms", "4.2 s", "3m 5s".
pub fn millis(ms: u64) -> String {
    match ms {
        0..1000 => format!("{ms} ms"),
        1000..60_000 => format!("{:.1} s", ms as f64 / 1000.0),
        _ => format!("{}m {}s", ms / 60_000, (ms % 60_000) / 1000),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_and_multi_line_text_is_cut_for_a_cell() {
        assert_eq!(clip("short", 10), "short");
        assert_eq!(clip("line\nbreak", 20), "line break");
        assert_eq!(clip("abcdefghij", 5), "abcd…");
        assert_eq!(clip("éééééé", 3), "éé…", "characters, not bytes");
    }

    #[test]
    fn durations_read_short() {
        assert_eq!(short_duration(59), "59s");
        assert_eq!(short_duration(3599), "59m");
        assert_eq!(short_duration(7200), "2h");
        assert_eq!(millis(312), "312 ms");
        assert_eq!(millis(4200), "4.2 s");
        assert_eq!(millis(185_000), "3m 5s");
    }
}
