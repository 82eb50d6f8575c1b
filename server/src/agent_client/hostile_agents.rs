//! Agents that attack the dashboard, on loopback: for the tests of both transports
//! (`hostile_tests`) and for `benches/hostile.rs`, which includes this file by path.

use std::future::Future;
use std::pin::Pin;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// What an agent does with a connection once it has read the request's head.
pub type Behaviour = fn(TcpStream) -> Pin<Box<dyn Future<Output = ()> + Send>>;

/// Reads a request's head (to its blank line); the bytes read, or `None` when the
/// connection ended first.
pub async fn read_head(socket: &mut TcpStream) -> Option<Vec<u8>> {
    let mut head = Vec::new();
    let mut buf = [0u8; 4096];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") {
        match socket.read(&mut buf).await {
            Ok(0) | Err(_) => return None,
            Ok(n) => head.extend_from_slice(&buf[..n]),
        }
    }
    Some(head)
}

/// An agent answering every connection as `behaviour` says, served on `runtime`; its
/// base URL.
pub async fn serve_on(runtime: &tokio::runtime::Handle, behaviour: Behaviour) -> String {
    let listener = runtime.spawn(async { TcpListener::bind("127.0.0.1:0").await }).await.unwrap().unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    runtime.spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            tokio::spawn(async move {
                if read_head(&mut socket).await.is_some() {
                    behaviour(socket).await;
                }
            });
        }
    });
    url
}

pub async fn serve(behaviour: Behaviour) -> String {
    serve_on(&tokio::runtime::Handle::current(), behaviour).await
}

/// Declares 100 kB and sends a byte every 20 ms.
pub fn drip(mut s: TcpStream) -> Pin<Box<dyn Future<Output = ()> + Send>> {
    Box::pin(async move {
        let _ = s.write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 100000\r\n\r\n").await;
        for _ in 0..100_000 {
            if s.write_all(b" ").await.is_err() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
}

/// A header line every 20 ms, never the blank line.
pub fn header_drip(mut s: TcpStream) -> Pin<Box<dyn Future<Output = ()> + Send>> {
    Box::pin(async move {
        let _ = s.write_all(b"HTTP/1.1 200 OK\r\n").await;
        for i in 0..1000 {
            if s.write_all(format!("x-{i}: y\r\n").as_bytes()).await.is_err() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
}

/// 1 KiB chunks as fast as they are taken, never the last chunk.
pub fn endless(mut s: TcpStream) -> Pin<Box<dyn Future<Output = ()> + Send>> {
    Box::pin(async move {
        let _ = s.write_all(b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n").await;
        let chunk = format!("400\r\n{}\r\n", "x".repeat(0x400));
        while s.write_all(chunk.as_bytes()).await.is_ok() {}
    })
}

/// Declares a gigabyte, then sends nothing.
pub fn gigabyte_declared(mut s: TcpStream) -> Pin<Box<dyn Future<Output = ()> + Send>> {
    Box::pin(async move {
        let _ = s.write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 1073741824\r\n\r\n").await;
        tokio::time::sleep(Duration::from_secs(5)).await;
    })
}

/// A gigabyte without a length, to the close.
pub fn gigabyte(mut s: TcpStream) -> Pin<Box<dyn Future<Output = ()> + Send>> {
    Box::pin(async move {
        let _ = s.write_all(b"HTTP/1.1 200 OK\r\nconnection: close\r\n\r\n").await;
        let block = vec![b'x'; 64 * 1024];
        for _ in 0..(1 << 14) {
            if s.write_all(&block).await.is_err() {
                return;
            }
        }
    })
}

/// JSON arrays 20,000 deep (40 kB: under every cap but a small run's, far past the 128
/// levels serde_json reads).
pub fn nested(mut s: TcpStream) -> Pin<Box<dyn Future<Output = ()> + Send>> {
    Box::pin(async move {
        let body = format!("{}{}", "[".repeat(20_000), "]".repeat(20_000));
        let head = format!("HTTP/1.1 200 OK\r\ncontent-length: {}\r\n\r\n", body.len());
        let _ = s.write_all(head.as_bytes()).await;
        let _ = s.write_all(body.as_bytes()).await;
    })
}

/// Never answers; holds the connection 30 s.
pub fn held(s: TcpStream) -> Pin<Box<dyn Future<Output = ()> + Send>> {
    Box::pin(async move {
        tokio::time::sleep(Duration::from_secs(30)).await;
        drop(s);
    })
}

/// Answers without a length and never closes: read to a close that does not come.
pub fn held_after_answer(mut s: TcpStream) -> Pin<Box<dyn Future<Output = ()> + Send>> {
    Box::pin(async move {
        let _ = s.write_all(b"HTTP/1.1 200 OK\r\n\r\n{\"status\":\"alive\"}").await;
        tokio::time::sleep(Duration::from_secs(30)).await;
    })
}
