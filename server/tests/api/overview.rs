//! The orchestrator page's view (`GET /api/v1/overview`, the `agent_overview` server
//! function): a page of agents, counts by state of all of them, uptime bars; the list's
//! state filter; the history's latency including the bucket still being filled.

use crate::helpers::*;
use axum::http::StatusCode;
use serde_json::{json, Value};
use std::time::Duration;

async fn overview(app: &TestApp, query: &str) -> Value {
    let response = app.http.get(app.url(&format!("/api/v1/overview{query}"))).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    response.json().await.unwrap()
}

/// Registers an agent that fails its check, stored anyway (unhealthy after one failure
/// only with unhealthy_after = 1; failing otherwise).
async fn register_forced(app: &TestApp, id: &str, url: &str) {
    let response = app.post_agent(&json!({ "agent_id": id, "agent_name": id, "agent_url": url, "force": true })).await;
    assert_eq!(response.status(), StatusCode::CREATED);
}

fn ids(page: &Value) -> Vec<String> {
    page["agents"].as_array().unwrap().iter().map(|a| a["agent_id"].as_str().unwrap().to_owned()).collect()
}

#[tokio::test]
async fn the_overview_counts_every_agent_and_pages_and_filters_the_list() {
    let app = spawn_app_configured(|s| s.unhealthy_after = 1).await;
    let (alive, nobody) = (alive_agent().await, refused_url().await);
    for id in ["a1", "a2", "a3"] {
        app.register(id, &alive).await;
    }
    register_forced(&app, "dead", &nobody).await;

    let all = overview(&app, "").await;
    assert_eq!(
        all["summary"],
        json!({ "healthy": 3, "failing": 0, "unhealthy": 1, "unknown": 0, "expired": 0 }),
        "{all}"
    );
    assert_eq!(all["total"], 4);
    assert_eq!(ids(&all), ["a1", "a2", "a3", "dead"]);

    // A filtered page: the counts stay those of every agent, the total is the filter's.
    let dead = overview(&app, "?state=unhealthy").await;
    assert_eq!(ids(&dead), ["dead"]);
    assert_eq!(dead["total"], 1);
    assert_eq!(dead["summary"]["healthy"], 3);
    let second = overview(&app, "?state=healthy&limit=2&offset=2").await;
    assert_eq!((ids(&second), second["total"].as_u64()), (vec!["a3".to_owned()], Some(3)));
    let searched = overview(&app, "?q=a2").await;
    assert_eq!(ids(&searched), ["a2"]);

    // One bar per listed agent: 24 hourly blocks, the last one in its registered state
    // (the registration's check is its first state change), none before it.
    let bars = all["bars"].as_array().unwrap();
    assert_eq!(bars.len(), 4);
    let bar_of = |id: &str| bars.iter().find(|b| b["agent_id"] == id).unwrap().clone();
    let healthy = bar_of("a1");
    assert_eq!(healthy["states"].as_str().unwrap().len(), 24);
    assert!(healthy["states"].as_str().unwrap().ends_with('h'), "{healthy}");
    assert!(healthy["states"].as_str().unwrap().starts_with('-'), "{healthy}");
    assert_eq!(healthy["uptime"], 1.0);
    assert!(bar_of("dead")["states"].as_str().unwrap().ends_with('u'));
    assert_eq!(bar_of("dead")["uptime"], 0.0);

    // The REST list takes the same filter.
    let listed = app.list_agents("?state=unhealthy").await;
    assert_eq!(listed.headers()["x-total-count"], "1");
    let bad = error_of(app.list_agents("?state=sleepy").await).await;
    assert_eq!(bad["code"], "validation", "{bad}");
    assert_eq!(bad["fields"][0]["field"], "state", "{bad}");
}

#[tokio::test]
async fn an_overview_limit_beyond_a_page_is_cut_not_refused() {
    let app = spawn_app().await;
    let alive = alive_agent().await;
    for i in 0..3 {
        app.register(&format!("p{i}"), &alive).await;
    }
    // A limit above the page bound is cut to it rather than refused.
    let page = overview(&app, "?limit=5000").await;
    assert_eq!(ids(&page).len(), 3);
    let default = overview(&app, "").await;
    assert_eq!(default["agents"].as_array().unwrap().len(), 3);
}

#[tokio::test]
async fn the_history_includes_the_latency_bucket_still_being_filled() {
    let app = spawn_app().await;
    let alive = alive_agent().await;
    app.register("timed", &alive).await;
    for _ in 0..3 {
        let mut completed = app.monitor.completed();
        let before = *completed.borrow_and_update();
        app.monitor.check_now(Some(vec!["timed".into()]));
        tokio::time::timeout(Duration::from_secs(5), completed.wait_for(|n| *n > before)).await.unwrap().unwrap();
    }
    // The 5-minute bucket has not closed: nothing of it is stored yet, and still it shows.
    let history: Value =
        app.http.get(app.url("/api/v1/agents/timed/history?hours=1")).send().await.unwrap().json().await.unwrap();
    let latency = history["latency"].as_array().unwrap();
    assert_eq!(latency.len(), 1, "{history}");
    assert!(latency[0]["probes"].as_u64().unwrap() >= 3, "{history}");
    assert_eq!(latency[0]["failures"], 0);
    assert!(latency[0]["mean_ms"].as_f64().is_some());
    assert_eq!(history["bucket_seconds"], 300);
}

/// Stores a state change of `agent` `hours_ago` hours before `now`, as the monitor would have.
async fn past_change(
    db: &server::db::Db,
    now: chrono::DateTime<chrono::Utc>,
    agent: &str,
    hours_ago: f64,
    state: &str,
) {
    use sea_orm::{ActiveValue::Set, EntityTrait};
    use server::entities::health_events;
    health_events::Entity::insert(health_events::ActiveModel {
        agent_id: Set(agent.into()),
        state: Set(state.into()),
        reason: Set((state != "healthy").then(|| "connection refused".to_owned())),
        at: Set(now - chrono::Duration::milliseconds((hours_ago * 3_600_000.0) as i64)),
        ..Default::default()
    })
    .exec(db.write())
    .await
    .unwrap();
}

/// The agent's last 24 hours as the agent page reads them.
async fn day_history(app: &TestApp, agent: &str) -> Value {
    let url = app.url(&format!("/api/v1/agents/{agent}/history?hours=24"));
    app.http.get(url).send().await.unwrap().json().await.unwrap()
}

/// Uptime has one definition (time healthy over time observed; failing is down; time
/// before the first check is not observed), and the list, the agent page and the API
/// show the same figure for the same agent.
#[tokio::test]
async fn the_list_the_agent_page_and_the_api_agree_on_uptime() {
    let app = spawn_app().await;
    let alive = alive_agent().await;
    app.register("steady", &alive).await;
    // Ten hours observed: healthy, 30 min failing, 30 min unhealthy, healthy again (the
    // registration's check, now, keeps it healthy). Before that, nothing was observed.
    let db = server::db::connect(&app.database_url).await.unwrap();
    // One `now` for every change: read per insert, a slow write would stretch the outage
    // past its hour and the figure, rounded down, would read 89.9 % (CI saw it).
    let now = chrono::Utc::now();
    for (hours_ago, state) in [(10.0, "healthy"), (6.0, "failing"), (5.5, "unhealthy"), (5.0, "healthy")] {
        past_change(&db, now, "steady", hours_ago, state).await;
    }
    let expected = 0.9; // 9 h healthy of 10 observed (failing counted as up would say 95 %)

    let listed = overview(&app, "").await;
    let bar = listed["bars"].as_array().unwrap().iter().find(|b| b["agent_id"] == "steady").unwrap().clone();
    let history = day_history(&app, "steady").await;
    for (what, figure) in [("overview bar", &bar["uptime"]), ("history", &history["uptime"])] {
        let figure = figure.as_f64().unwrap_or_else(|| panic!("{what} has a figure"));
        assert!((figure - expected).abs() < 1e-4, "{what}: {figure}");
    }
    let segments: f64 = history["segments"].as_array().unwrap().iter().map(|s| s["healthy_ms"].as_f64().unwrap()).sum();
    assert!((segments / 3_600_000.0 - 9.0).abs() < 0.01, "the segments add up to the figure: {segments} ms healthy");

    // The pages, as rendered for a person, print the same text.
    for path in ["/orchestrator", "/agents/steady"] {
        let html = app.http.get(app.url(path)).send().await.unwrap().text().await.unwrap();
        let figure = html
            .split_once("uptime-figure\">")
            .and_then(|(_, rest)| rest.split_once('<'))
            .map(|(text, _)| text)
            .unwrap_or_else(|| panic!("{path} shows an uptime figure"));
        assert_eq!(figure, "90.0 %", "{path}");
    }
}

/// The list reads a page's bars in two statements (the last change before the window for
/// every agent at once, then those inside it): each agent's bar starts in its own state,
/// the newest of several before the window, and agrees with its own history.
#[tokio::test]
async fn each_bar_of_a_page_starts_from_its_own_agents_last_change() {
    let app = spawn_app().await;
    let alive = alive_agent().await;
    for id in ["back", "down", "fresh"] {
        app.register(id, &alive).await;
    }
    let db = server::db::connect(&app.database_url).await.unwrap();
    // back: down long ago, healthy since before the window. down: unhealthy since before
    // it (the registration's check, now, is its only change inside). fresh: nothing
    // before the window, failing for a while two hours ago.
    let events = [
        ("back", 40.0, "unhealthy"),
        ("back", 30.0, "healthy"),
        ("down", 50.0, "healthy"),
        ("down", 26.0, "unhealthy"),
        ("fresh", 3.0, "healthy"),
        ("fresh", 2.0, "failing"),
        ("fresh", 1.2, "healthy"),
    ];
    let now = chrono::Utc::now();
    for (agent, hours_ago, state) in events {
        past_change(&db, now, agent, hours_ago, state).await;
    }

    let listed = overview(&app, "").await;
    let bar = |id: &str| listed["bars"].as_array().unwrap().iter().find(|b| b["agent_id"] == id).unwrap().clone();
    let states = |id: &str| bar(id)["states"].as_str().unwrap().to_owned();
    assert_eq!(states("back"), "h".repeat(24), "the newest change before the window, not the older one");
    assert_eq!(&states("down")[..23], "u".repeat(23), "{}", states("down"));
    let fresh = states("fresh");
    assert!(fresh.starts_with(&"-".repeat(20)) && fresh.contains('f'), "{fresh}");
    for id in ["back", "down", "fresh"] {
        let history = day_history(&app, id).await;
        let (listed, own) = (bar(id)["uptime"].as_f64().unwrap(), history["uptime"].as_f64().unwrap());
        assert!((listed - own).abs() < 1e-3, "{id}: the list says {listed}, its history {own}");
    }
}

/// The page bounds hold with more agents than a page: 50 by default, a larger limit cut to
/// 200, the rest reached by offset; the counts and the total are of all of them.
#[tokio::test]
async fn the_overview_pages_a_fleet_larger_than_its_limits() {
    let app = spawn_app().await;
    let alive = alive_agent().await;
    let fleet: Vec<String> = (0..210).map(|i| format!("fleet-{i:03}")).collect();
    for chunk in fleet.chunks(15) {
        let requests =
            chunk.iter().map(|id| app.post_agent_owned(json!({"agent_id": id, "agent_name": id, "agent_url": alive})));
        for response in futures::future::join_all(requests).await {
            assert_eq!(response.status(), StatusCode::CREATED);
        }
    }
    let first = overview(&app, "").await;
    assert_eq!(ids(&first).len(), 50);
    assert_eq!(first["bars"].as_array().unwrap().len(), 50, "a bar per listed agent only");
    assert_eq!(first["total"], 210);
    assert_eq!(first["summary"]["healthy"], 210);
    let cut = overview(&app, "?limit=5000").await;
    assert_eq!(ids(&cut).len(), 200, "cut to the largest page");
    let rest = overview(&app, "?limit=200&offset=200").await;
    assert_eq!(
        ids(&rest),
        [
            "fleet-200",
            "fleet-201",
            "fleet-202",
            "fleet-203",
            "fleet-204",
            "fleet-205",
            "fleet-206",
            "fleet-207",
            "fleet-208",
            "fleet-209"
        ]
    );
    assert_eq!(rest["total"], 210);
}

/// Latency buckets older than `--latency-retention` are deleted (at start, then hourly);
/// newer ones stay.
#[tokio::test]
async fn latency_buckets_past_their_retention_are_deleted() {
    use sea_orm::{ActiveValue::Set, EntityTrait, PaginatorTrait};
    use server::entities::latency_rollups;
    let app = spawn_app().await;
    let alive = alive_agent().await;
    app.register("kept", &alive).await;
    let db = server::db::connect(&app.database_url).await.unwrap();
    let now = chrono::Utc::now();
    for days in [8, 1] {
        latency_rollups::Entity::insert(latency_rollups::ActiveModel {
            agent_id: Set("kept".into()),
            bucket_start: Set(now - chrono::Duration::days(days)),
            probes: Set(3),
            failures: Set(0),
            min_ms: Set(Some(1)),
            max_ms: Set(Some(3)),
            sum_ms: Set(6),
        })
        .exec(db.write())
        .await
        .unwrap();
    }
    let app = restart(app, |s| s.latency_retention = Duration::from_secs(2 * 24 * 3600)).await;
    let left = eventually(Duration::from_secs(10), || async {
        let n = latency_rollups::Entity::find().count(db.read()).await.unwrap();
        (n == 1).then_some(n)
    })
    .await;
    assert_eq!(left, Some(1), "the 8-day-old bucket is gone, the 1-day-old one kept");
    let kept = latency_rollups::Entity::find().one(db.read()).await.unwrap().unwrap();
    assert!(kept.bucket_start > now - chrono::Duration::days(2));
    drop(app);
}
