//! A scan of 4,096 loopback ports with 100 agents among them (evenly spread, on an address
//! of their own, 127.0.0.90, where nothing else listens): the time until the dashboard says
//! it is done, probes per second, and whether every agent was found. The dashboard runs as
//! a separate process; the agents live in this one. Goal: under 5 s, all 100 found.
//!
//!     cargo bench -p server --bench discovery          (or ./dev bench)
//!     BENCH_PORTS=4096 BENCH_AGENTS=100 BENCH_FIRST_PORT=20000 cargo bench -p server --bench discovery

#[path = "support/mod.rs"]
mod support;

use serde_json::{json, Value};
use std::time::Instant;
use support::{env, Dashboard};

const IP: &str = "127.0.0.90";

#[tokio::main]
async fn main() {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let ports = env("BENCH_PORTS", 4096) as u16;
    let agents = env("BENCH_AGENTS", 100) as u16;
    let first = env("BENCH_FIRST_PORT", 20000) as u16;
    let step = ports / agents.max(1);

    let router = support::bench_agent();
    let mut listening = 0u32;
    for i in 0..agents {
        match tokio::net::TcpListener::bind((IP, first + i * step)).await {
            Ok(listener) => {
                let router = router.clone();
                tokio::spawn(async move { axum::serve(listener, router).await });
                listening += 1;
            }
            Err(e) => eprintln!("port {} is taken ({e}); one agent fewer", first + i * step),
        }
    }

    let dir = tempfile::tempdir().unwrap();
    let database = format!("sqlite://{}", dir.path().join("bench.db").display());
    let dashboard = Dashboard::start(&database, &[]);
    let targets = format!("{IP}:{first}-{}", first + ports - 1);
    let http = reqwest::Client::new();
    for round in 1..=3 {
        let started = Instant::now();
        let mut response = http
            .post(format!("{}/api/v1/discover", dashboard.base))
            .json(&json!({"scan": {"targets": targets}}))
            .send()
            .await
            .unwrap();
        assert!(response.status().is_success(), "the scan started: {}", response.status());
        let (mut found, mut first_found, mut done) = (0u32, None, None);
        let mut buffer = Vec::new();
        while let Some(chunk) = response.chunk().await.unwrap() {
            buffer.extend_from_slice(&chunk);
            while let Some(end) = buffer.iter().position(|b| *b == b'\n') {
                let line: Vec<u8> = buffer.drain(..=end).collect();
                let event: Value = serde_json::from_slice(&line).unwrap();
                match event["type"].as_str() {
                    Some("candidate") if event["answered"] == "agent" => {
                        found += 1;
                        first_found.get_or_insert_with(|| started.elapsed());
                    }
                    Some("done") => done = Some(event),
                    _ => {}
                }
            }
        }
        let elapsed = started.elapsed().as_secs_f64();
        let done = done.expect("the scan said it was done");
        let probes = done["done"].as_u64().unwrap();
        println!(
            "round {round}: {probes} probes in {elapsed:.2} s ({:.0} probes/s), {found} of {listening} agents found \
             (first after {:.0} ms); the dashboard's own figure {:.2} s",
            probes as f64 / elapsed,
            first_found.map_or(0.0, |d| d.as_secs_f64() * 1000.0),
            done["seconds"].as_f64().unwrap_or(0.0)
        );
        let met = elapsed < 5.0 && found == listening;
        println!("  goal (under 5 s, all found): {}", if met { "met" } else { "NOT met" });
    }
    let usage = dashboard.usage();
    println!("dashboard after the scans: {usage:?}");
}
