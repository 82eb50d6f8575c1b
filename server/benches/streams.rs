//! What an open event stream costs the dashboard: its resident memory before, with N idle
//! streams open (each has received its first event), and after they close (the dashboard
//! says none is open). Goal: at most 20 KB a stream, given back when it closes. Streams
//! are raw loopback connections from this process, with and without gzip asked for.
//!
//!     cargo bench -p server --bench streams          (or ./dev bench)
//!     BENCH_STREAMS=1000 cargo bench -p server --bench streams

#[path = "support/mod.rs"]
mod support;

use std::time::{Duration, Instant};
use support::{env, Dashboard};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

#[tokio::main]
async fn main() {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let streams = env("BENCH_STREAMS", 1000) as usize;
    let dir = tempfile::tempdir().unwrap();
    let database = format!("sqlite://{}", dir.path().join("bench.db").display());
    let dashboard = Dashboard::start(&database, &[]);
    let address = dashboard.base.trim_start_matches("http://").to_owned();
    let http = reqwest::Client::new();
    // Warm: one request of each kind, so that what follows is the streams' own.
    let _ = http.get(format!("{}/api/v1/status", dashboard.base)).send().await;
    println!("{streams} idle event streams on one dashboard (RSS in MiB; per stream in KiB)");
    for gzip in [false, true] {
        settle(&http, &dashboard.base, 0).await;
        let before = dashboard.usage().rss_kib;
        let began = Instant::now();
        let mut open = Vec::with_capacity(streams);
        for _ in 0..streams {
            open.push(open_stream(&address, gzip).await);
        }
        let opened = began.elapsed();
        settle(&http, &dashboard.base, streams).await;
        let with = dashboard.usage().rss_kib;
        drop(open);
        settle(&http, &dashboard.base, 0).await;
        // Whatever the allocator gives back within 5 s: the lowest figure.
        let mut after = dashboard.usage().rss_kib;
        for _ in 0..50 {
            tokio::time::sleep(Duration::from_millis(100)).await;
            after = after.min(dashboard.usage().rss_kib);
        }
        println!(
            "  {}: before {:.1}, open {:.1} ({:.1} KiB a stream, opened in {:.2} s), closed {:.1} ({:.1} KiB a stream kept)",
            if gzip { "gzip asked " } else { "no encoding" },
            before as f64 / 1024.0,
            with as f64 / 1024.0,
            with.saturating_sub(before) as f64 / streams as f64,
            opened.as_secs_f64(),
            after as f64 / 1024.0,
            after.saturating_sub(before) as f64 / streams as f64,
        );
    }
}

/// Opens a stream and waits for its first event (`resync`).
async fn open_stream(address: &str, gzip: bool) -> TcpStream {
    let mut stream = TcpStream::connect(address).await.expect("the dashboard accepts");
    let encoding = if gzip { "Accept-Encoding: gzip\r\n" } else { "" };
    let request =
        format!("GET /api/v1/events HTTP/1.1\r\nHost: {address}\r\nAccept: text/event-stream\r\n{encoding}\r\n");
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut seen = Vec::new();
    let mut buf = [0u8; 4096];
    // The headers and the first event (gzip: the first compressed bytes after the headers).
    while !(seen.windows(6).any(|w| w == b"resync")
        || (gzip && seen.windows(4).any(|w| w == b"\r\n\r\n") && seen.len() > 200))
    {
        let n = tokio::time::timeout(Duration::from_secs(10), stream.read(&mut buf)).await.expect("an event").unwrap();
        assert!(n > 0, "the stream closed");
        seen.extend_from_slice(&buf[..n]);
    }
    stream
}

/// Waits until the dashboard counts `n` open streams.
async fn settle(http: &reqwest::Client, base: &str, n: usize) {
    for _ in 0..300 {
        let status: serde_json::Value =
            http.get(format!("{base}/api/v1/status")).send().await.unwrap().json().await.unwrap();
        if status["event_stream_clients"].as_u64() == Some(n as u64) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("the dashboard did not count {n} open streams");
}
