//! Discovery on request: a scan over loopback ports holding agents of each kind, a port
//! that accepts and never answers and a closed one; another registry's list in the old
//! format; a file's entries; adding what was found; refusals before anything is sent.
//! Each test scans its own loopback address (127.0.0.7x), so tests running together do
//! not find each other's servers. Other CIDRs are parsed in unit tests, never probed.

use crate::helpers::*;
use crate::mock_agent::{article_schema, mock_agent_on, Behaviour};
use axum::extract::Query;
use axum::routing::get;
use axum::{Json, Router};
use serde_json::{json, Value};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use tokio::net::TcpListener;

/// `n` listeners on consecutive ports of `ip`.
async fn consecutive(ip: &str, n: u16) -> Vec<TcpListener> {
    'again: loop {
        let first = TcpListener::bind((ip, 0)).await.unwrap();
        let port = first.local_addr().unwrap().port();
        if port.checked_add(n).is_none() {
            continue;
        }
        let mut all = vec![first];
        for k in 1..n {
            match TcpListener::bind((ip, port + k)).await {
                Ok(l) => all.push(l),
                Err(_) => continue 'again,
            }
        }
        return all;
    }
}

fn serve_listener(listener: TcpListener, router: Router) {
    tokio::spawn(async move { axum::serve(listener, router).await });
}

/// The lines of a discovery's answer.
async fn discover(app: &TestApp, body: Value) -> (u16, Vec<Value>) {
    let response = app.http.post(app.url("/api/v1/discover")).json(&body).send().await.unwrap();
    let status = response.status().as_u16();
    let text = response.text().await.unwrap();
    if status != 200 {
        return (status, vec![serde_json::from_str(&text).unwrap()]);
    }
    (status, text.lines().map(|l| serde_json::from_str(l).expect("one JSON per line")).collect())
}

fn candidates(events: &[Value]) -> Vec<&Value> {
    events.iter().filter(|e| e["type"] == "candidate").collect()
}

#[tokio::test]
async fn a_scan_says_what_answered_and_skips_the_rest() {
    let app = spawn_app().await;
    let ip = "127.0.0.71";
    let mut ports = consecutive(ip, 8).await.into_iter();
    let base = ports.as_slice()[0].local_addr().unwrap().port();
    let agent = crate::mock_agent::router_for(article_schema(), Behaviour::Echo);
    serve_listener(ports.next().unwrap(), agent);
    let no_schema = Router::new().route("/health", get(|| async { Json(json!({"status": "healthy"})) }));
    serve_listener(ports.next().unwrap(), no_schema);
    serve_listener(ports.next().unwrap(), Router::new().route("/", get(|| async { "a web page" })));
    // Accepts, never answers.
    let silent = ports.next().unwrap();
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((socket, _)) = silent.accept().await {
            held.push(socket);
        }
    });
    drop(ports.next().unwrap()); // closed
    let card = json!({"name": "Planner", "description": "plans trips", "skills": [], "capabilities": {}});
    let a2a = Router::new().route("/.well-known/agent-card.json", get(move || async move { Json(card) }));
    serve_listener(ports.next().unwrap(), a2a);
    let langserve =
        Router::new().route("/input_schema", get(|| async { Json(json!({"title": "PromptInput", "type": "object"})) }));
    serve_listener(ports.next().unwrap(), langserve);
    // Our protocol, down: an agent all the same.
    let down = Router::new().route(
        "/health",
        get(|| async { (axum::http::StatusCode::SERVICE_UNAVAILABLE, Json(json!({"status": "unhealthy"}))) }),
    );
    serve_listener(ports.next().unwrap(), down);

    // Read as it streams, asking for compression as browsers do: candidates arrive while
    // the silent port still holds the scan, not all at its end.
    let mut response = app
        .http
        .post(app.url("/api/v1/discover"))
        .header("accept-encoding", "br, gzip")
        .json(&json!({"scan": {"targets": format!("{ip}:{base}-{}", base + 7)}}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers().get("content-encoding"), None, "streamed lines are not compressed");
    let (mut text, mut chunks_before_done, mut candidate_chunk) = (String::new(), 0, None);
    while let Some(chunk) = response.chunk().await.unwrap() {
        text.push_str(std::str::from_utf8(&chunk).unwrap());
        chunks_before_done += 1;
        if candidate_chunk.is_none() && text.contains("\"agent_without_schema\"") {
            candidate_chunk = Some(chunks_before_done);
        }
    }
    assert!(candidate_chunk.unwrap() < chunks_before_done, "a candidate came before the end, in a chunk of its own");
    let events: Vec<Value> = text.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(events[0], json!({"type": "started", "total": 8}));
    let last = events.last().unwrap();
    assert_eq!(
        (last["type"].as_str(), last["done"].as_u64(), last["found"].as_u64()),
        (Some("done"), Some(8), Some(6)),
        "{last}"
    );
    let found: HashMap<u64, &Value> = candidates(&events)
        .into_iter()
        .map(|c| (c["agent_url"].as_str().unwrap().rsplit(':').next().unwrap().parse::<u64>().unwrap(), c))
        .collect();
    let answered = |k: u16| found.get(&u64::from(base + k)).map(|c| c["answered"].as_str().unwrap());
    assert_eq!(answered(0), Some("agent"));
    assert_eq!(found[&u64::from(base)]["detail"], "article_writer: 3 inputs");
    assert_eq!(answered(1), Some("agent_without_schema"));
    assert_eq!(answered(2), Some("not_an_agent"));
    assert_eq!(answered(3), None, "a port that never answers is skipped");
    assert_eq!(answered(4), None, "a closed port is skipped");
    assert_eq!(answered(5), Some("a2a"));
    assert_eq!(found[&u64::from(base + 5)]["agent_name"], "Planner");
    assert_eq!(answered(6), Some("langserve"));
    assert_eq!(answered(7), Some("unhealthy"));
    let why = found[&u64::from(base + 7)]["detail"].as_str().unwrap();
    assert!(why.contains("503") && why.contains("unhealthy"), "{why}");
    assert_eq!(app.list_agents("").await.json::<Vec<Value>>().await.unwrap().len(), 0, "nothing registered by itself");

    // Added when asked: as `discovered`; a second scan marks it.
    let add = json!({"agents": [{"id": "scanned", "url": format!("http://{ip}:{base}")}, {"id": "down", "url": refused_url().await}]});
    let added: Value =
        app.http.post(app.url("/api/v1/discover/add")).json(&add).send().await.unwrap().json().await.unwrap();
    assert_eq!(added[0], json!({"agent_id": "scanned", "outcome": "added"}));
    assert_eq!(added[1]["outcome"], "failed");
    assert!(added[1]["message"].as_str().unwrap().contains("connection refused"), "{added}");
    let stored: Value = app.get_agent("scanned").await.json().await.unwrap();
    assert_eq!(stored["source"], "discovered");
    let (_, again) = discover(&app, json!({"scan": {"targets": format!("{ip}:{base}")}})).await;
    assert_eq!(candidates(&again)[0]["registered"], "scanned");
    let added: Value =
        app.http.post(app.url("/api/v1/discover/add")).json(&add).send().await.unwrap().json().await.unwrap();
    assert_eq!(added[0]["outcome"], "exists", "left as it is");
}

#[tokio::test]
async fn scans_are_refused_before_anything_is_sent() {
    let app = spawn_app_configured(|s| s.deny_agent_networks = vec!["127.0.0.72/32".parse().unwrap()]).await;
    let hits = Arc::new(Mutex::new(0usize));
    let counted = hits.clone();
    let listener = TcpListener::bind(("127.0.0.72", 0)).await.unwrap();
    let port = listener.local_addr().unwrap().port();
    serve_listener(
        listener,
        Router::new().fallback(move || {
            *counted.lock().unwrap() += 1;
            async { "hello" }
        }),
    );
    let (status, body) = discover(&app, json!({"scan": {"targets": format!("127.0.0.72/31:{port}")}})).await;
    assert_eq!(status, 422, "{body:?}");
    let (status, body) = discover(&app, json!({"scan": {"targets": format!("127.0.0.72:{port}")}})).await;
    assert_eq!(status, 422);
    assert!(body[0]["error"]["message"].as_str().unwrap().contains("--deny-agent-network 127.0.0.72/32"), "{body:?}");
    let (status, body) = discover(&app, json!({"scan": {"targets": "127.0.0.0/16:1-2"}})).await;
    assert_eq!(status, 422);
    assert!(body[0]["error"]["message"].as_str().unwrap().contains("more than 65536"), "{body:?}");
    let (status, _) = discover(&app, json!({"scan": {"targets": "127.0.0.72:1", "max_probes": 0}})).await;
    assert_eq!(status, 422, "max_probes lowers the limit too");
    assert_eq!(*hits.lock().unwrap(), 0, "nothing was sent");
}

#[tokio::test]
async fn the_old_registrys_agents_are_listed_dead_ones_too() {
    let app = spawn_app().await;
    let live = mock_agent_on("127.0.0.1", article_schema(), Behaviour::Echo).await;
    let live_port: u16 = live.url.rsplit(':').next().unwrap().parse().unwrap();
    let dead_port: u16 = refused_url().await.rsplit(':').next().unwrap().parse().unwrap();
    let asked = Arc::new(Mutex::new(Vec::new()));
    let record = asked.clone();
    let old = Router::new().route(
        "/agents",
        get(move |Query(q): Query<HashMap<String, String>>| {
            record.lock().unwrap().push(q.get("include_dead").cloned());
            async move {
                Json(json!([
                    {"agent_id": "writer", "agent_name": "Writer", "host": "127.0.0.1", "port": live_port,
                     "is_alive": true, "ttl_seconds": 60, "metadata": "{\"team\": \"r\"}", "registered_at": "2026-01-01T00:00:00",
                     "last_heartbeat": "2026-01-01T00:00:00"},
                    {"agent_id": "gone", "agent_name": "Gone", "host": "127.0.0.1", "port": dead_port,
                     "is_alive": false, "ttl_seconds": 60, "metadata": null, "registered_at": "2026-01-01T00:00:00",
                     "last_heartbeat": "2026-01-01T00:00:00"}
                ]))
            }
        }),
    );
    let registry = serve(old).await;
    let (status, events) = discover(&app, json!({"registry": {"url": registry}})).await;
    assert_eq!(status, 200);
    assert_eq!(*asked.lock().unwrap(), vec![Some("true".to_owned())], "dead agents asked for");
    let by_id: HashMap<&str, &Value> =
        candidates(&events).into_iter().map(|c| (c["agent_id"].as_str().unwrap(), c)).collect();
    assert_eq!(by_id["writer"]["answered"], "agent");
    assert_eq!(by_id["writer"]["agent_name"], "Writer", "the registry's name");
    assert_eq!(by_id["writer"]["metadata"]["team"], "r");
    assert_eq!(by_id["gone"]["answered"], "no_answer");
    assert!(by_id["gone"]["detail"].as_str().unwrap().contains("connection refused"));

    // The plan's spelling on the command line (`orchestrator discover --registry-url`),
    // and `--add ID` adds that one only.
    let (bin, address, url) = (env!("CARGO_BIN_EXE_configurable-agents"), app.address.clone(), registry.clone());
    let out = tokio::task::spawn_blocking(move || {
        std::process::Command::new(bin)
            .args(["orchestrator", "discover", "--registry-url", &url, "--add", "writer", "--json"])
            .env("CA_URL", address)
            .env("NO_COLOR", "1")
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["added"], json!([{"agent_id": "writer", "outcome": "added"}]), "{report}");
    let agents: Vec<Value> = app.list_agents("").await.json().await.unwrap();
    assert_eq!(agents.iter().map(|a| a["agent_id"].as_str().unwrap()).collect::<Vec<_>>(), ["writer"]);

    let (_, failed) = discover(&app, json!({"registry": {"url": live.url}})).await;
    assert_eq!(failed.last().unwrap()["type"], "failed", "not a registry: {failed:?}");
}

#[tokio::test]
async fn the_command_line_scans_imports_checks_files_and_adds() {
    let app = spawn_app().await;
    let ip = "127.0.0.73";
    let mut ports = consecutive(ip, 3).await.into_iter();
    let base = ports.as_slice()[0].local_addr().unwrap().port();
    serve_listener(ports.next().unwrap(), crate::mock_agent::router_for(article_schema(), Behaviour::Echo));
    serve_listener(ports.next().unwrap(), crate::mock_agent::router_for(article_schema(), Behaviour::Echo));
    drop(ports.next());
    let targets = format!("{ip}:{base}-{}", base + 2);
    let bin = env!("CARGO_BIN_EXE_configurable-agents");
    let run = |args: Vec<String>| {
        let address = app.address.clone();
        async move {
            tokio::task::spawn_blocking(move || {
                std::process::Command::new(bin)
                    .args(&args)
                    .env("CA_URL", address)
                    .env("NO_COLOR", "1")
                    .output()
                    .unwrap()
            })
            .await
            .unwrap()
        }
    };
    let listed = run(vec!["discover".into(), "--scan".into(), targets.clone()]).await;
    assert_eq!(listed.status.code(), Some(0), "{}", String::from_utf8_lossy(&listed.stderr));
    let text = String::from_utf8_lossy(&listed.stdout);
    assert!(text.starts_with("ID") && text.matches("article_writer: 3 inputs").count() == 2, "{text}");
    assert!(String::from_utf8_lossy(&listed.stderr).contains("--add"), "says how to add");
    assert!(app.list_agents("").await.json::<Vec<Value>>().await.unwrap().is_empty());

    let added = run(vec![
        "orchestrator".into(),
        "discover".into(),
        "--scan".into(),
        targets.clone(),
        "--add".into(),
        "--json".into(),
    ])
    .await;
    assert_eq!(added.status.code(), Some(0), "{}", String::from_utf8_lossy(&added.stderr));
    let report: Value = serde_json::from_slice(&added.stdout).unwrap();
    assert_eq!(report["added"].as_array().unwrap().len(), 2, "{report}");
    assert_eq!(report["done"], 3);
    let agents: Vec<Value> = app.list_agents("").await.json().await.unwrap();
    assert!(agents.iter().all(|a| a["source"] == "discovered") && agents.len() == 2, "{agents:?}");

    // A file: a bad line changes nothing and is named; a good one is checked.
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("agents.toml");
    std::fs::write(
        &bad,
        format!("[[agents]]\nid = \"x\"\nurl = \"http://{ip}:{base}\"\n\n[[agents]]\nid = \"y\"\nurl = \"nope\"\n"),
    )
    .unwrap();
    let refused = run(vec!["discover".into(), "--config".into(), bad.display().to_string()]).await;
    assert_eq!(refused.status.code(), Some(2));
    let err = String::from_utf8_lossy(&refused.stderr);
    assert!(err.contains("agents.toml") && err.contains("line 7") && err.contains("url"), "{err}");
    let good = dir.path().join("agents.yaml");
    std::fs::write(
        &good,
        format!("agents:\n  - id: filed\n    name: From a file\n    url: http://{ip}:{}\n", base + 1),
    )
    .unwrap();
    let checked = run(vec!["discover".into(), "--config".into(), good.display().to_string(), "--json".into()]).await;
    let report: Value = serde_json::from_slice(&checked.stdout).unwrap();
    assert_eq!(report["candidates"][0]["agent_id"], "filed");
    assert_eq!(report["candidates"][0]["answered"], "agent");
    assert!(report["candidates"][0]["registered"].is_string(), "its URL is registered already: {report}");

    let unknown = run(vec!["discover".into(), "--scan".into(), targets, "--add".into(), "nobody".into()]).await;
    assert_eq!(unknown.status.code(), Some(2));
}

/// Another dashboard with access control on lists its agents only to a token; its dead
/// agents are added only with `force`.
#[tokio::test]
async fn another_dashboard_is_imported_with_its_token_and_dead_agents_with_force() {
    use crate::access::{bearer, guarded_app, ADMIN};
    let source = guarded_app(|_| {}).await;
    let live = mock_agent_on("127.0.0.1", article_schema(), Behaviour::Echo).await;
    for (id, url) in [("writer", live.url.clone()), ("gone", refused_url().await)] {
        let registered = source
            .http
            .post(source.url("/api/v1/agents"))
            .header("authorization", bearer(ADMIN))
            .json(&json!({"agent_id": id, "agent_name": id, "agent_url": url, "force": true}))
            .send()
            .await
            .unwrap();
        assert_eq!(registered.status(), 201, "{id}");
    }
    let app = spawn_app().await;
    let registry = format!("{}/api/v1", source.address);

    let (_, refused) = discover(&app, json!({"registry": {"url": registry}})).await;
    let last = refused.last().unwrap();
    assert_eq!(last["type"], "failed");
    assert!(last["message"].as_str().unwrap().contains("no token was given"), "{last}");
    let (_, wrong) = discover(&app, json!({"registry": {"url": registry, "token": "ca_wrong"}})).await;
    assert!(wrong.last().unwrap()["message"].as_str().unwrap().contains("refused"), "{wrong:?}");

    let (_, events) = discover(&app, json!({"registry": {"url": registry, "token": ADMIN}})).await;
    assert_eq!(events.last().unwrap()["type"], "done", "{events:?}");
    let by_id: HashMap<&str, &Value> =
        candidates(&events).into_iter().map(|c| (c["agent_id"].as_str().unwrap(), c)).collect();
    assert_eq!(by_id["writer"]["answered"], "agent");
    assert_eq!(by_id["gone"]["answered"], "no_answer");

    let gone = json!({"id": "gone", "url": by_id["gone"]["agent_url"]});
    let add = |force: bool| {
        let body = json!({"agents": [gone.clone()], "force": force});
        let request = app.http.post(app.url("/api/v1/discover/add")).json(&body);
        async move { request.send().await.unwrap().json::<Value>().await.unwrap() }
    };
    assert_eq!(add(false).await[0]["outcome"], "failed", "down: not added unless forced");
    assert_eq!(add(true).await[0]["outcome"], "added");
    let stored: Value = app.get_agent("gone").await.json().await.unwrap();
    assert_eq!(stored["source"], "discovered");

    // The command line: the token from a file, every agent added, the dead one forced.
    let moved_to = spawn_app().await;
    let dir = tempfile::tempdir().unwrap();
    let token_file = dir.path().join("source-token");
    std::fs::write(&token_file, format!("{ADMIN}\n")).unwrap();
    let args = ["discover", "--registry", &registry, "--registry-token-file", token_file.to_str().unwrap()];
    // Not std's: the dashboards run on this test's runtime and must go on answering.
    let output = tokio::process::Command::new(env!("CARGO_BIN_EXE_configurable-agents"))
        .args(args)
        .args(["--add", "--force", "--json"])
        .env("CA_URL", &moved_to.address)
        .output()
        .await
        .unwrap();
    assert_eq!(output.status.code(), Some(0), "{}", String::from_utf8_lossy(&output.stderr));
    let report: Value = serde_json::from_slice(&output.stdout).unwrap();
    let outcomes: Vec<&str> =
        report["added"].as_array().unwrap().iter().map(|a| a["outcome"].as_str().unwrap()).collect();
    assert_eq!(outcomes, ["added", "added"], "{report}");
    assert_eq!(moved_to.list_agents("").await.json::<Vec<Value>>().await.unwrap().len(), 2);

    // The token file from the environment does not get in the way of other discoveries.
    let closed = refused_url().await;
    let scan = tokio::process::Command::new(env!("CARGO_BIN_EXE_configurable-agents"))
        .args(["discover", "--scan", closed.trim_start_matches("http://"), "--json"])
        .env("CA_URL", &moved_to.address)
        .env("CA_REGISTRY_TOKEN_FILE", &token_file)
        .output()
        .await
        .unwrap();
    assert_eq!(scan.status.code(), Some(0), "{}", String::from_utf8_lossy(&scan.stderr));
}
