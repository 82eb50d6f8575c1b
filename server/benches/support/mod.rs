//! What every benchmark needs: settings from the environment, a process's CPU and memory
//! from /proc, and the real dashboard binary started in its own process (so its figures
//! are its own, apart from the load generator's).

// Each benchmark is its own crate and uses part of this.
#![allow(dead_code)]

pub mod nginx;

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

/// An agent that is alive and publishes a one-input schema (`topic`): `/health` and
/// `/schema`; a benchmark adds what else it needs (`/run`).
pub fn bench_agent() -> axum::Router {
    axum::Router::new()
        .route("/health", axum::routing::get(|| async { axum::Json(serde_json::json!({"status": "alive"})) }))
        .route(
            "/schema",
            axum::routing::get(|| async {
                axum::Json(
                    serde_json::json!({"workflow": "bench", "inputs": {"topic": {"type": "str", "required": true}}}),
                )
            }),
        )
}

/// A number from the environment, or the default.
pub fn env(name: &str, default: u64) -> u64 {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

/// A process's resources, read from /proc.
#[derive(Clone, Copy, Debug, Default)]
pub struct Usage {
    /// Peak resident memory (VmHWM), KiB.
    pub peak_kib: u64,
    /// Resident memory now (VmRSS), KiB.
    pub rss_kib: u64,
    /// User and system CPU time so far, ms.
    pub cpu_ms: u64,
    /// Context switches so far, of all its threads (each a thread put to sleep or woken:
    /// at a few hundred requests a second they, not the handlers, are most of the CPU).
    pub switches: u64,
}

pub fn usage(pid: u32) -> Usage {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
            .unwrap_or(0)
    };
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // Fields after the command name (which may hold spaces) start after the last ')'.
    let fields: Vec<&str> = stat.rsplit_once(')').map(|(_, r)| r.split_whitespace().collect()).unwrap_or_default();
    let ticks: u64 = fields.get(11).and_then(|v| v.parse().ok()).unwrap_or(0)
        + fields.get(12).and_then(|v| v.parse().ok()).unwrap_or(0);
    // 100 ticks a second on Linux.
    let switches = std::fs::read_dir(format!("/proc/{pid}/task"))
        .into_iter()
        .flatten()
        .flatten()
        .map(|task| {
            let status = std::fs::read_to_string(task.path().join("status")).unwrap_or_default();
            status
                .lines()
                .filter(|l| l.starts_with("voluntary_ctxt_switches:") || l.starts_with("nonvoluntary_ctxt_switches:"))
                .filter_map(|l| l.split_whitespace().nth(1)?.parse::<u64>().ok())
                .sum::<u64>()
        })
        .sum();
    Usage { peak_kib: field("VmHWM:"), rss_kib: field("VmRSS:"), cpu_ms: ticks * 10, switches }
}

/// Kills a child process whatever happens to this one.
pub struct Child(pub std::process::Child);

impl Drop for Child {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// The dashboard binary, serving on a port of its own choosing.
pub struct Dashboard {
    pub child: Child,
    /// `http://127.0.0.1:PORT`.
    pub base: String,
}

impl Dashboard {
    /// Starts `configurable-agents ui` on `database` with `args` added, and waits until
    /// it serves (it prints its URL then). BENCH_DASHBOARD_BIN runs another build of the
    /// dashboard, to compare two; BENCH_DASHBOARD_ENV=NAME=value,… sets its environment.
    pub fn start(database: &str, args: &[&str]) -> Dashboard {
        Self::start_with_env(database, args, &[])
    }

    /// As `start`, with `env` in the dashboard's environment.
    pub fn start_with_env(database: &str, args: &[&str], env: &[(&str, &str)]) -> Dashboard {
        Self::start_on(0, database, args, env)
    }

    /// As `start_with_env`, on `port` (0: one the system gives), so that a dashboard
    /// restarted after a kill is found again at its address.
    pub fn start_on(port: u16, database: &str, args: &[&str], env: &[(&str, &str)]) -> Dashboard {
        let binary = std::env::var("BENCH_DASHBOARD_BIN")
            .unwrap_or_else(|_| env!("CARGO_BIN_EXE_configurable-agents").to_owned());
        Self::start_binary(&binary, port, database, args, env)
    }

    /// As `start_on`, with this build of the dashboard (a benchmark comparing two).
    pub fn start_binary(binary: &str, port: u16, database: &str, args: &[&str], env: &[(&str, &str)]) -> Dashboard {
        let extra_env: Vec<(String, String)> = std::env::var("BENCH_DASHBOARD_ENV")
            .ok()
            .into_iter()
            .flat_map(|v| {
                v.split(',')
                    .filter_map(|kv| kv.split_once('=').map(|(k, v)| (k.to_owned(), v.to_owned())))
                    .collect::<Vec<_>>()
            })
            .collect();
        let mut child = Child(
            Command::new(binary)
                .args(["ui", "--port", &port.to_string(), "--database-url", database])
                .args(["--leptos-config", "none.toml"])
                .args(args)
                .env("RUST_LOG", "error")
                .envs(extra_env)
                .envs(env.iter().copied())
                .stdout(Stdio::piped())
                .spawn()
                .expect("the dashboard binary starts"),
        );
        let mut line = String::new();
        BufReader::new(child.0.stdout.take().unwrap()).read_line(&mut line).unwrap();
        let base = line
            .trim()
            .rsplit_once(' ')
            .map(|(_, url)| url.trim_end_matches("/orchestrator").to_owned())
            .expect("the dashboard prints its URL");
        Dashboard { child, base }
    }

    pub fn usage(&self) -> Usage {
        usage(self.child.0.id())
    }
}

/// A new PostgreSQL database beside `admin`'s: its URL and its name (for `drop_database`).
pub async fn fresh_database(admin: &str) -> (String, String) {
    use sea_orm::{ConnectionTrait, Database};
    let name = format!("ca_bench_{}", uuid::Uuid::new_v4().simple());
    let db = Database::connect(admin).await.unwrap();
    db.execute_unprepared(&format!("CREATE DATABASE \"{name}\"")).await.unwrap();
    let mut url = url::Url::parse(admin).unwrap();
    url.set_path(&format!("/{name}"));
    (url.to_string(), name)
}

pub async fn drop_database(admin: &str, name: &str) {
    use sea_orm::{ConnectionTrait, Database};
    let db = Database::connect(admin).await.unwrap();
    let _ = db.execute_unprepared(&format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)")).await;
}

/// The PostgreSQL server a benchmark may create databases on (BENCH_DATABASE_URL, else
/// TEST_DATABASE_URL), or None.
pub fn postgres() -> Option<String> {
    std::env::var("BENCH_DATABASE_URL").or_else(|_| std::env::var("TEST_DATABASE_URL")).ok()
}
