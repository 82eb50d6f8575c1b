//! The mock agents: one process of the fleet binds its share of agents, each on its own
//! loopback address and port, answers `/health` like a real agent (or slowly, or never),
//! and takes "down N" commands on stdin.

use super::env;
use std::io::BufRead;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// Agent `i`'s address: its own host in 127.0.0.0/8 and its own port.
pub fn address(i: u64) -> SocketAddr {
    let host = Ipv4Addr::new(127, 20 + (i / 62_500) as u8, 1 + ((i / 250) % 250) as u8, 1 + (i % 250) as u8);
    SocketAddr::new(host.into(), 20_000 + (i % 30_000) as u16)
}

#[derive(Clone, Copy, PartialEq, Debug)]
pub enum Kind {
    Fast,
    Slow,
    BlackHole,
}

/// Every `slow_every`-th agent is slow, every `hole_every`-th (offset by one) a black hole.
pub fn kind(i: u64, slow_every: u64, hole_every: u64) -> Kind {
    if hole_every > 0 && i % hole_every == 1 {
        Kind::BlackHole
    } else if slow_every > 0 && i % slow_every == 2 {
        Kind::Slow
    } else {
        Kind::Fast
    }
}

pub async fn fleet_child() {
    let _ = rlimit::increase_nofile_limit(u64::MAX);
    let start = env("FLEET_START", 0);
    let count = env("FLEET_COUNT", 0);
    let (slow_every, hole_every) = (env("FLEET_SLOW_EVERY", 0), env("FLEET_HOLE_EVERY", 0));
    let mut down = Vec::new();
    for i in start..start + count {
        let listener =
            tokio::net::TcpListener::bind(address(i)).await.unwrap_or_else(|e| panic!("bind {}: {e}", address(i)));
        let flag = Arc::new(AtomicBool::new(false));
        down.push(flag.clone());
        let kind = kind(i, slow_every, hole_every);
        tokio::spawn(async move {
            while let Ok((socket, _)) = listener.accept().await {
                tokio::spawn(connection(socket, kind, flag.clone()));
            }
        });
    }
    println!("ready");
    // Commands on stdin: "down N" makes agent N answer 503. Read on a thread of their
    // own: the agents' loop is this one thread. The process ends when stdin closes.
    let (ended, end) = tokio::sync::oneshot::channel::<()>();
    std::thread::spawn(move || {
        for line in std::io::stdin().lock().lines() {
            let Ok(line) = line else { break };
            if let Some(n) = line.strip_prefix("down ").and_then(|n| n.trim().parse::<u64>().ok()) {
                if let Some(flag) = n.checked_sub(start).and_then(|k| down.get(k as usize)) {
                    flag.store(true, Ordering::SeqCst);
                }
            }
        }
        let _ = ended.send(());
    });
    let _ = end.await;
}

/// One connection, HTTP/1.1 keep-alive, closed after 5 s idle, or right after the answer
/// when the request said `Connection: close` (as uvicorn does).
async fn connection(mut socket: tokio::net::TcpStream, kind: Kind, down: Arc<AtomicBool>) {
    let mut buf = vec![0u8; 4096];
    if kind == Kind::BlackHole {
        // Reads and never answers, until the caller gives up.
        while matches!(socket.read(&mut buf).await, Ok(n) if n > 0) {}
        return;
    }
    let mut filled = 0;
    loop {
        // One request: up to the blank line (health checks have no body).
        let complete = loop {
            if let Some(end) = buf[..filled].windows(4).position(|w| w == b"\r\n\r\n") {
                break Some(end + 4);
            }
            if filled == buf.len() {
                break None;
            }
            match tokio::time::timeout(Duration::from_secs(5), socket.read(&mut buf[filled..])).await {
                Ok(Ok(n)) if n > 0 => filled += n,
                _ => break None, // idle for 5 s, closed, or failed
            }
        };
        let Some(end) = complete else { return };
        let close = buf[..end].to_ascii_lowercase().windows(17).any(|w| w == b"connection: close");
        buf.copy_within(end..filled, 0);
        filled -= end;
        if kind == Kind::Slow {
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        let answer: &[u8] = if down.load(Ordering::Relaxed) {
            b"HTTP/1.1 503 Service Unavailable\r\ncontent-type: application/json\r\ncontent-length: 17\r\n\r\n{\"detail\":\"down\"}"
        } else {
            b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 18\r\n\r\n{\"status\":\"alive\"}"
        };
        if socket.write_all(answer).await.is_err() || close {
            return;
        }
    }
}
