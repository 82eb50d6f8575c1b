//! docs/nginx.conf, as written, in front of two dashboards.

use super::*;

// The configuration the chaos bench runs too.
#[path = "../../../benches/support/nginx.rs"]
mod nginx_conf;

#[tokio::test]
async fn nginx_in_front_of_two_dashboards() {
    if !postgres() {
        return;
    }
    let nginx = nginx_conf::binary().expect("nginx is installed (./dev test installs Debian's nginx for this test)");
    let Pair { a, b, stop_a, stop_b, _database, .. } =
        pair(|s| s.trusted_proxies = vec!["127.0.0.1/32".parse().unwrap()]).await;

    // docs/nginx.conf as written, with the test's ports.
    let dir = tempfile::tempdir().unwrap();
    let upstreams = [&a, &b].map(|d| d.trim_start_matches("http://").to_owned());
    let port = nginx_conf::configure(dir.path(), &upstreams);
    let _nginx = tokio::process::Command::from(nginx_conf::command(nginx, dir.path()))
        .kill_on_drop(true)
        .spawn()
        .expect("nginx starts");
    let front = format!("http://127.0.0.1:{port}");
    let http = reqwest::Client::new();
    // Both dashboards answer through it.
    let answered = eventually(Duration::from_secs(10), || async {
        let mut seen = std::collections::HashSet::new();
        for _ in 0..6 {
            let status: Value = http.get(format!("{front}/api/v1/status")).send().await.ok()?.json().await.ok()?;
            let this = status["nodes"].as_array()?.iter().find(|n| n["this"] == true)?["node_id"].clone();
            seen.insert(this.to_string());
        }
        (seen.len() == 2).then_some(())
    })
    .await;
    assert!(answered.is_some(), "nginx passes requests to both dashboards");

    // Events pass through as they come, whichever dashboard the change was made on.
    let mut events = EventStream::open(&front, None).await;
    for (dashboard, id) in [(&a, "through-a"), (&b, "through-b")] {
        register(dashboard, id, &mock_agent(article_schema(), Behaviour::Echo).await.url).await;
        events
            .next_matching("agent.upserted", Duration::from_secs(2), |d| d["agent_id"] == id)
            .await
            .unwrap_or_else(|| panic!("{id} reaches the stream through nginx within 2 s"));
    }

    // A self-registration from 127.0.0.7 through nginx: the address the dashboard writes
    // for 0.0.0.0 is the agent's (X-Forwarded-For, believed from the trusted nginx), not nginx's.
    let agent_side =
        reqwest::Client::builder().local_address("127.0.0.7".parse::<std::net::IpAddr>().unwrap()).build().unwrap();
    let registered: Value = agent_side
        .post(format!("{front}/api/v1/agents/register"))
        .json(&json!({"agent_id": "behind", "agent_name": "behind", "agent_url": "http://0.0.0.0:9123", "ttl_seconds": 60}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(registered["agent_url"], "http://127.0.0.7:9123", "{registered}");
    stop_a.now().await;
    stop_b.now().await;
}
