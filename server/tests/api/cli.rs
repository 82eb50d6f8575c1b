//! The command line's remote verbs: the real binary against a dashboard on a random port,
//! with real mock agents: what each verb prints (tables for people, `--json` parsed), its
//! exit codes, following runs to their end, refusals before anything is sent, and an
//! unreachable dashboard.

use crate::helpers::*;
use crate::mock_agent::{article_schema, mock_agent, Behaviour};
use serde_json::{json, Value};
use std::process::Output;
use std::time::Duration;

/// Runs `configurable-agents ARGS` against `url` (off the runtime's thread: the dashboard
/// it talks to runs on it). No colour, no token, nothing from the environment.
async fn ca_at(url: &str, args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut command = assert_cmd::Command::cargo_bin("configurable-agents").expect("the binary is built");
    command.args(args).env("CA_URL", url).env("NO_COLOR", "1").env_remove("CA_TOKEN").env_remove("CA_TOKEN_FILE");
    for (k, v) in env {
        command.env(k, v);
    }
    command.timeout(Duration::from_secs(60));
    tokio::task::spawn_blocking(move || command.output().expect("the binary runs")).await.unwrap()
}

async fn ca(app: &TestApp, args: &[&str]) -> Output {
    ca_at(&app.address, args, &[]).await
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn json_of(o: &Output) -> Value {
    serde_json::from_slice(&o.stdout).unwrap_or_else(|e| panic!("--json prints JSON ({e}): {}", stdout(o)))
}

fn code(o: &Output) -> i32 {
    o.status.code().expect("exited, not killed")
}

#[tokio::test]
async fn agents_are_added_listed_shown_and_removed() {
    let app = spawn_app().await;
    let agent = alive_agent().await;

    let added =
        ca(&app, &["agents", "add", "writer", &agent, "--name", "Article Writer", "--metadata", r#"{"team":"r"}"#])
            .await;
    assert_eq!(code(&added), 0, "{}", stderr(&added));
    assert!(stdout(&added).contains("Registered writer") && stdout(&added).contains("healthy"), "{}", stdout(&added));
    let stored = app.get_agent("writer").await.json::<Value>().await.unwrap();
    assert_eq!(stored["agent_name"], "Article Writer");
    assert_eq!(stored["metadata"], json!({"team": "r"}));

    let table = ca(&app, &["agents", "list"]).await;
    let text = stdout(&table);
    let lines: Vec<&str> = text.lines().collect();
    assert!(lines[0].starts_with("ID") && lines[0].contains("STATE"), "{lines:?}");
    assert!(lines[1].starts_with("writer") && lines[1].contains("healthy") && lines[1].contains(&agent), "{lines:?}");

    let listed = json_of(&ca(&app, &["agents", "list", "--json"]).await);
    assert_eq!(listed.as_array().map(Vec::len), Some(1));
    assert_eq!(listed[0]["agent_id"], "writer");
    let none = json_of(&ca(&app, &["agents", "list", "--json", "--state", "unhealthy"]).await);
    assert_eq!(none, json!([]), "filtered by state");
    let searched = json_of(&ca(&app, &["agents", "list", "--json", "--search", "WRIT"]).await);
    assert_eq!(searched[0]["agent_id"], "writer", "found by part of its ID");
    assert_eq!(json_of(&ca(&app, &["agents", "list", "--json", "--search", "nothing-like-it"]).await), json!([]));

    let shown = json_of(&ca(&app, &["agents", "show", "writer", "--json"]).await);
    assert_eq!(shown, stored, "the API's own object");

    let missing = ca(&app, &["agents", "show", "nobody"]).await;
    assert_eq!(code(&missing), 4, "not found");
    assert!(stderr(&missing).contains("nobody"), "{}", stderr(&missing));

    let refused = ca(&app, &["agents", "add", "bad", "ftp://x"]).await;
    assert_eq!(code(&refused), 2, "a value the dashboard refuses: {}", stderr(&refused));
    assert!(stderr(&refused).contains("agent_url"), "{}", stderr(&refused));
    let down = ca(&app, &["agents", "add", "gone", &refused_url().await]).await;
    assert_eq!(code(&down), 1);
    assert!(stderr(&down).contains("connection refused") && stderr(&down).contains("--force"), "{}", stderr(&down));

    let forced = ca(&app, &["agents", "add", "gone", &refused_url().await, "--force", "--json"]).await;
    assert_eq!(code(&forced), 0, "{}", stderr(&forced));
    assert_ne!(json_of(&forced)["health"]["state"], "healthy", "stored with its failed check");

    let removed = json_of(&ca(&app, &["agents", "remove", "writer", "--json"]).await);
    assert_eq!(removed["status"], "deleted");
    assert_eq!(app.get_agent("writer").await.status(), 404);
}

/// A self-registered agent is deregistered (kept, with its history) unless `--purge`.
#[tokio::test]
async fn a_self_registered_agent_is_kept_unless_purged() {
    let app = spawn_app().await;
    let agent = alive_agent().await;
    let port: u16 = agent.rsplit(':').next().unwrap().parse().unwrap();
    let registered = app
        .self_register(json!({"agent_id": "selfie", "agent_name": "Selfie", "host": "127.0.0.1", "port": port,
            "ttl_seconds": 60}))
        .await;
    assert!(registered.status().is_success(), "{}", registered.status());

    let kept = ca(&app, &["agents", "remove", "selfie"]).await;
    assert_eq!(code(&kept), 0, "{}", stderr(&kept));
    assert!(stdout(&kept).contains("Deregistered") && stdout(&kept).contains("--purge"), "{}", stdout(&kept));
    assert_eq!(app.get_agent("selfie").await.status(), 200, "kept with its history");

    let purged = json_of(&ca(&app, &["agents", "remove", "selfie", "--purge", "--json"]).await);
    assert_eq!(purged["status"], "deleted", "{purged}");
    assert_eq!(app.get_agent("selfie").await.status(), 404);
}

/// The plan's `orchestrator start` and the old tool's `agent-registry start` are `ui`,
/// `--port` included: each serves the dashboard.
#[tokio::test]
async fn the_plans_start_commands_serve_the_dashboard() {
    use std::io::{BufRead, BufReader};
    for start in [["orchestrator", "start"], ["agent-registry", "start"]] {
        let dir = tempfile::tempdir().unwrap();
        let database = format!("sqlite://{}", dir.path().join("d.db").display());
        let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_configurable-agents"))
            .args(start)
            .args(["--port", "0", "--database-url", &database, "--leptos-config", "none.toml"])
            .env("RUST_LOG", "error")
            .env_remove("CA_ADMIN_TOKEN_FILE")
            .stdout(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let line = tokio::task::spawn_blocking(move || {
            let mut line = String::new();
            BufReader::new(stdout).read_line(&mut line).map(|_| line)
        })
        .await
        .unwrap()
        .unwrap();
        let base = line.trim().rsplit_once(' ').map(|(_, url)| url.trim_end_matches("/orchestrator").to_owned());
        let status = match &base {
            Some(base) => reqwest::Client::builder()
                .no_proxy()
                .build()
                .unwrap()
                .get(format!("{base}/api/v1/status"))
                .send()
                .await
                .map(|r| r.status().as_u16())
                .ok(),
            None => None,
        };
        let _ = child.kill();
        let _ = child.wait();
        assert_eq!(status, Some(200), "{start:?} printed {line:?}");
    }
}

#[tokio::test]
async fn many_agents_are_listed_page_by_page() {
    let app = spawn_app().await;
    let agent = alive_agent().await;
    for i in 0..3 {
        app.register(&format!("a{i}"), &agent).await;
    }
    let listed = json_of(&ca(&app, &["agents", "list", "--json", "--limit", "2"]).await);
    let ids: Vec<&str> = listed.as_array().unwrap().iter().map(|a| a["agent_id"].as_str().unwrap()).collect();
    assert_eq!(ids, ["a0", "a1"]);
    let table = stdout(&ca(&app, &["agents", "list", "--limit", "2"]).await);
    assert!(table.trim_end().ends_with("2 of 3 agents (--limit)"), "{table}");
}

#[tokio::test]
async fn a_run_is_followed_to_its_end_sync_and_async() {
    let app = spawn_app().await;
    let mock = mock_agent(article_schema(), Behaviour::Echo).await;
    app.register("writer", &mock.url).await;

    let sync = ca(&app, &["runs", "start", "writer", "-i", "topic=tea", "--follow"]).await;
    assert_eq!(code(&sync), 0, "{}", stderr(&sync));
    let outputs: Value = serde_json::from_slice(&sync.stdout).expect("the outputs alone on standard output");
    assert_eq!(outputs["echo"]["topic"], "tea");
    assert!(stderr(&sync).contains("succeeded"), "{}", stderr(&sync));

    mock.set(Behaviour::Async { polls: 2 });
    let lines = ca(&app, &["runs", "start", "writer", "-i", "topic=tea", "--follow", "--json"]).await;
    assert_eq!(code(&lines), 0, "{}", stderr(&lines));
    let events: Vec<Value> =
        stdout(&lines).lines().map(|l| serde_json::from_str(l).expect("one JSON per line")).collect();
    let last = events.last().unwrap();
    assert_eq!(last["status"], "succeeded");
    assert_eq!(last["outputs"]["echo"]["topic"], "tea", "the whole run last");
    assert!(events.iter().any(|e| e["status"] == "running"), "changes as they came: {events:?}");

    mock.set(Behaviour::AsyncFailing);
    let failed = ca(&app, &["runs", "start", "writer", "-i", "topic=tea", "--follow"]).await;
    assert_eq!(code(&failed), 1, "a failed run fails the command");
    assert!(stderr(&failed).contains("failed"), "{}", stderr(&failed));
}

#[tokio::test]
async fn inputs_are_read_by_the_schema_and_refused_before_sending() {
    let app = spawn_app().await;
    let schema = json!({"workflow": "w", "inputs": {
        "topic": {"type": "str", "required": true}, "words": {"type": "int"}, "draft": {"type": "bool"}}});
    let mock = mock_agent(schema, Behaviour::Echo).await;
    app.register("typed", &mock.url).await;

    let refused = ca(&app, &["runs", "start", "typed", "-i", "words=many"]).await;
    assert_eq!(code(&refused), 2);
    let err = stderr(&refused);
    assert!(
        err.contains("words: Must be a whole number") && err.contains("topic:"),
        "every field, as the form says it: {err}"
    );
    let unknown = ca(&app, &["runs", "start", "typed", "--input", "nonsense"]).await;
    assert_eq!(code(&unknown), 2, "clap's usage error");
    assert_eq!(mock.runs_received(), 0, "nothing was sent");

    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("inputs.json");
    std::fs::write(&file, r#"{"topic": "from a file", "words": 3}"#).unwrap();
    let started =
        ca(&app, &["runs", "start", "typed", "--inputs", file.to_str().unwrap(), "-i", "draft=yes", "--json"]).await;
    assert_eq!(code(&started), 0, "{}", stderr(&started));
    let run_id = json_of(&started)["run_id"].as_str().unwrap().to_owned();
    let run = app.finished_run(&run_id, Duration::from_secs(10)).await;
    assert_eq!(
        run["inputs"],
        json!({"topic": "from a file", "words": 3, "draft": true}),
        "typed values, --input over the file"
    );

    // Standard input, for secrets a command line would show in `ps`.
    let mut piped = assert_cmd::Command::cargo_bin("configurable-agents").unwrap();
    piped
        .args(["runs", "start", "typed", "--inputs", "-", "--json"])
        .env("CA_URL", &app.address)
        .write_stdin(r#"{"topic": "piped"}"#);
    let piped = tokio::task::spawn_blocking(move || piped.output().unwrap()).await.unwrap();
    assert_eq!(code(&piped), 0, "{}", stderr(&piped));
    let run = app.finished_run(json_of(&piped)["run_id"].as_str().unwrap(), Duration::from_secs(10)).await;
    assert_eq!(run["inputs"]["topic"], "piped");

    let keyed = ["runs", "start", "typed", "-i", "topic=k", "--idempotency-key", "k-1", "--json"];
    let (a, b) = (json_of(&ca(&app, &keyed).await), json_of(&ca(&app, &keyed).await));
    assert_eq!(a["run_id"], b["run_id"], "the same key gives the same run");
}

#[tokio::test]
async fn runs_are_listed_shown_cancelled_and_rerun() {
    let app = spawn_app().await;
    let mock = mock_agent(article_schema(), Behaviour::Echo).await;
    app.register("writer", &mock.url).await;
    let first = app.start_run("writer", json!({"topic": "one"})).await;
    app.finished_run(&first, Duration::from_secs(10)).await;

    let listed = json_of(&ca(&app, &["runs", "list", "--json", "--agent", "writer", "--since", "1h"]).await);
    assert_eq!(listed[0]["run_id"], first.as_str());
    let table = stdout(&ca(&app, &["runs", "list", "--status", "failed"]).await);
    assert!(table.contains("No runs match."), "{table}");
    let shown = json_of(&ca(&app, &["runs", "show", &first, "--json"]).await);
    assert_eq!(shown["outputs"]["echo"]["topic"], "one");
    let text = stdout(&ca(&app, &["runs", "show", &first]).await);
    assert!(text.contains("succeeded") && text.contains("Outputs"), "{text}");
    assert_eq!(code(&ca(&app, &["runs", "show", "00000000-0000-4000-8000-000000000000"]).await), 4);

    let rerun = ca(&app, &["runs", "rerun", &first, "--follow", "--json"]).await;
    assert_eq!(code(&rerun), 0, "{}", stderr(&rerun));
    let last: Value = serde_json::from_str(stdout(&rerun).lines().last().unwrap()).unwrap();
    assert_eq!((last["rerun_of"].as_str(), last["status"].as_str()), (Some(first.as_str()), Some("succeeded")));
    let newest = json_of(&ca(&app, &["runs", "list", "--json", "--limit", "1"]).await);
    assert_eq!(newest.as_array().map(Vec::len), Some(1), "--limit: {newest}");
    assert_eq!(newest[0]["rerun_of"], first.as_str(), "newest first");
    let table = stdout(&ca(&app, &["runs", "list", "--limit", "1"]).await);
    assert_eq!(table.lines().filter(|l| l.contains(&first[..8])).count(), 0, "only the re-run: {table}");

    mock.set(Behaviour::Slow(Duration::from_secs(30)));
    let slow = app.start_run("writer", json!({"topic": "slow"})).await;
    app.run_in_status(&slow, "running", Duration::from_secs(10)).await;
    let cancelled = json_of(&ca(&app, &["runs", "cancel", &slow, "--json"]).await);
    assert_eq!(cancelled["status"], "cancelled");
    let again = ca(&app, &["runs", "cancel", &slow]).await;
    assert_eq!(code(&again), 1, "already ended: {}", stderr(&again));
}

/// Without a terminal, Ctrl-C while following detaches: the run goes on, its ID printed.
#[tokio::test]
async fn ctrl_c_without_a_terminal_detaches() {
    let app = spawn_app().await;
    let mock = mock_agent(article_schema(), Behaviour::Slow(Duration::from_secs(30))).await;
    app.register("writer", &mock.url).await;
    let child = tokio::process::Command::new(env!("CARGO_BIN_EXE_configurable-agents"))
        .args(["runs", "start", "writer", "-i", "topic=t", "--follow"])
        .env("CA_URL", &app.address)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // The run exists once the command has created it (it listens for Ctrl-C before).
    let run_id = eventually(Duration::from_secs(20), || async {
        let runs: Value = app.http.get(app.url("/api/v1/runs")).send().await.ok()?.json().await.ok()?;
        runs[0]["run_id"].as_str().map(str::to_owned)
    })
    .await
    .expect("the command created the run");
    let pid = child.id().unwrap().to_string();
    assert!(std::process::Command::new("kill").args(["-INT", &pid]).status().unwrap().success());
    let output = tokio::time::timeout(Duration::from_secs(20), child.wait_with_output()).await.unwrap().unwrap();
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    assert_eq!(stdout(&output).trim(), run_id, "the run's ID, to find it again");
    assert!(stderr(&output).contains("Detached"), "{}", stderr(&output));
    assert_eq!(app.get_run(&run_id).await["status"], "running", "the run goes on");
}

/// On a terminal, Ctrl-C while following asks; `c` cancels the run. The terminal is a
/// pseudo-terminal made by util-linux `script`, whose line discipline turns the ^C typed
/// into it into SIGINT, as a person's would.
#[tokio::test]
async fn ctrl_c_on_a_terminal_asks_and_can_cancel() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    if std::process::Command::new("script").arg("--version").output().is_err() {
        eprintln!("SKIPPED: util-linux `script` is not installed: no pseudo-terminal to test Ctrl-C on");
        return;
    }
    let app = spawn_app().await;
    let mock = mock_agent(article_schema(), Behaviour::Slow(Duration::from_secs(30))).await;
    app.register("writer", &mock.url).await;
    // `exec`: script runs the command through `$SHELL -c`, and dash (CI's /bin/sh) would
    // otherwise stay as the parent and die of the same SIGINT, ending script with 130.
    let command = format!("exec {} runs start writer -i topic=t --follow", env!("CARGO_BIN_EXE_configurable-agents"));
    let mut child = tokio::process::Command::new("script")
        .args(["-qfec", &command, "/dev/null"])
        .env("CA_URL", &app.address)
        .env("NO_COLOR", "1")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let run_id = eventually(Duration::from_secs(20), || async {
        let runs: Value = app.http.get(app.url("/api/v1/runs?status=running")).send().await.ok()?.json().await.ok()?;
        runs[0]["run_id"].as_str().map(str::to_owned)
    })
    .await
    .expect("the command started the run");
    let mut stdin = child.stdin.take().unwrap();
    let mut stdout = child.stdout.take().unwrap();
    stdin.write_all(b"\x03").await.unwrap();
    let mut seen = Vec::new();
    let asked = tokio::time::timeout(Duration::from_secs(20), async {
        let mut buffer = [0u8; 4096];
        while !String::from_utf8_lossy(&seen).contains("[c]ancel it") {
            let n = stdout.read(&mut buffer).await.unwrap();
            assert!(n > 0, "the command ended without asking: {}", String::from_utf8_lossy(&seen));
            seen.extend_from_slice(&buffer[..n]);
        }
    })
    .await;
    assert!(asked.is_ok(), "no question after Ctrl-C: {}", String::from_utf8_lossy(&seen));
    stdin.write_all(b"c\n").await.unwrap();
    let status = tokio::time::timeout(Duration::from_secs(20), child.wait()).await.unwrap().unwrap();
    assert_eq!(status.code(), Some(1), "a cancelled run is not a success");
    assert_eq!(app.get_run(&run_id).await["status"], "cancelled");
}

#[tokio::test]
async fn status_and_watch_report_the_dashboard() {
    let app = spawn_app().await;
    let mock = mock_agent(article_schema(), Behaviour::Echo).await;
    app.register("writer", &mock.url).await;
    let status = ca(&app, &["status", "--json"]).await;
    assert_eq!(code(&status), 0, "{}", stderr(&status));
    let status = json_of(&status);
    assert_eq!(status["version"], env!("CARGO_PKG_VERSION"));
    assert_eq!(status["agents"]["healthy"], 1);
    assert_eq!(status["event_stream"]["up"], true);
    let text = stdout(&ca(&app, &["orchestrator", "status"]).await);
    assert!(
        text.contains("Agents") && text.contains("1 healthy") && text.contains("Events     up"),
        "the plan's name: {text}"
    );

    let mut watch = tokio::process::Command::new(env!("CARGO_BIN_EXE_configurable-agents"))
        .args(["runs", "watch", "--json"])
        .env("CA_URL", &app.address)
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // Watchers connect, then a run: its changes arrive as lines.
    eventually(Duration::from_secs(10), || async {
        let s: Value = app.http.get(app.url("/api/v1/status")).send().await.ok()?.json().await.ok()?;
        (s["event_stream_clients"] == 1).then_some(())
    })
    .await
    .expect("the watcher connected");
    let run_id = app.start_run("writer", json!({"topic": "w"})).await;
    app.finished_run(&run_id, Duration::from_secs(10)).await;
    use tokio::io::AsyncBufReadExt;
    let mut lines = tokio::io::BufReader::new(watch.stdout.take().unwrap()).lines();
    let finished = tokio::time::timeout(Duration::from_secs(10), async {
        while let Some(line) = lines.next_line().await.unwrap() {
            let change: Value = serde_json::from_str(&line).unwrap();
            if change["run_id"] == run_id.as_str() && change["status"] == "succeeded" {
                return change;
            }
        }
        panic!("the watch ended")
    })
    .await
    .expect("the run's end was printed");
    assert_eq!(finished["agent_id"], "writer");
    watch.kill().await.unwrap();
}

#[tokio::test]
async fn an_unreachable_dashboard_is_one_line_and_exit_3() {
    let url = refused_url().await;
    let out = ca_at(&url, &["agents", "list"], &[]).await;
    assert_eq!(code(&out), 3);
    let err = stderr(&out);
    assert_eq!(err.lines().count(), 1, "one line: {err}");
    assert!(err.contains(&url) && err.contains("connection refused"), "{err}");
    let json = ca_at(&url, &["status", "--json"], &[]).await;
    assert_eq!(code(&json), 3);
    assert_eq!(json_of(&json)["error"]["code"], "unreachable");

    // Something that is not a dashboard answers there.
    let other = alive_agent().await;
    let out = ca_at(&other, &["runs", "list"], &[]).await;
    assert_eq!(code(&out), 3, "{}", stderr(&out));
    assert!(stderr(&out).contains("no configurable-agents dashboard answers there"), "{}", stderr(&out));
}

#[tokio::test]
async fn a_token_is_needed_when_access_control_is_on() {
    let app = crate::access::guarded_app(|_| {}).await;
    let without = ca(&app, &["agents", "list"]).await;
    assert_eq!(code(&without), 1);
    assert!(stderr(&without).contains("CA_TOKEN"), "says how: {}", stderr(&without));
    let with = ca_at(&app.address, &["agents", "list", "--json"], &[("CA_TOKEN", crate::access::ADMIN)]).await;
    assert_eq!(code(&with), 0, "{}", stderr(&with));
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("token");
    std::fs::write(&file, format!("{}\n", crate::access::ADMIN)).unwrap();
    let from_file = ca(&app, &["status", "--token-file", file.to_str().unwrap()]).await;
    assert_eq!(code(&from_file), 0, "{}", stderr(&from_file));
}

#[tokio::test]
async fn the_plans_start_takes_no_registry_url() {
    for start in [&["orchestrator", "start"][..], &["agent-registry", "start"][..]] {
        let args: Vec<&str> = start.iter().copied().chain(["--registry-url", "http://localhost:8000"]).collect();
        let out = ca_at("http://127.0.0.1:1", &args, &[]).await;
        assert_eq!(code(&out), 2, "{start:?}");
        assert!(
            stderr(&out).contains("the dashboard is the registry") && stderr(&out).contains("/api/v1"),
            "{}",
            stderr(&out)
        );
    }
}
