//! docs/nginx.conf, as written, in front of two dashboards.

use super::*;

#[tokio::test]
async fn nginx_in_front_of_two_dashboards() {
    if !postgres() {
        return;
    }
    let nginx = ["/usr/sbin/nginx", "/usr/bin/nginx"].into_iter().find(|p| std::path::Path::new(p).exists());
    let nginx = nginx.expect("nginx is installed (./dev test installs Debian's nginx for this test)");
    let Pair { a, b, stop_a, stop_b, _database, .. } =
        pair(|s| s.trusted_proxies = vec!["127.0.0.1/32".parse().unwrap()]).await;

    // docs/nginx.conf as written, with the test's ports.
    let dir = tempfile::tempdir().unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let site = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../docs/nginx.conf")).unwrap();
    for expected in ["server 127.0.0.1:8001", "server 127.0.0.1:8002", "listen 127.0.0.1:8080"] {
        assert!(site.contains(expected), "docs/nginx.conf has {expected:?}");
    }
    let site = site
        .replace("server 127.0.0.1:8001", &format!("server {}", a.trim_start_matches("http://")))
        .replace("server 127.0.0.1:8002", &format!("server {}", b.trim_start_matches("http://")))
        .replace("listen 127.0.0.1:8080", &format!("listen 127.0.0.1:{port}"));
    std::fs::write(dir.path().join("site.conf"), site).unwrap();
    let d = dir.path().display();
    std::fs::write(
        dir.path().join("nginx.conf"),
        format!(
            "daemon off; master_process off; pid {d}/nginx.pid; error_log {d}/error.log warn;\n\
             events {{ worker_connections 256; }}\n\
             http {{ access_log off; client_body_temp_path {d}/body; proxy_temp_path {d}/proxy;\n\
             fastcgi_temp_path {d}/fastcgi; uwsgi_temp_path {d}/uwsgi; scgi_temp_path {d}/scgi;\n\
             include {d}/site.conf; }}\n"
        ),
    )
    .unwrap();
    let _nginx = tokio::process::Command::new(nginx)
        .args(["-p", &d.to_string(), "-c", &format!("{d}/nginx.conf")])
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
