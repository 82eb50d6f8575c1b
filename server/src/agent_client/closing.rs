//! A health check on a connection of its own, closed after its one answer.
//!
//! An agent checked every 10 s has closed its idle connection long before the next check
//! (uvicorn does after 5 s), so a pooled client gains nothing there and costs on every
//! check: its connector sets six socket options (keep-alive probes, no-delay), asks the
//! socket for both its addresses, 23 system calls a check against 9 here; its pool and
//! layers allocate on every call. At 10,000 agents due at once this path took the
//! dashboard's CPU from 1.4–1.9 s to 0.8–1.2 s (`benches/fleet`). The answer is still read
//! by hyper, the HTTP/1 implementation under reqwest, and judged by the same rules.
//!
//! Used for `http://` agents; `https://` and kept connections go through reqwest. The
//! network policy is applied here as in reqwest's resolver: between the lookup and the
//! connection (`Guard::resolve`).

use super::guard::{Guard, Resolved};
use super::outbound::Outbound;
use super::{describe_io_chain, timed_out, too_large, Answer, CallError, CallLimits};
use http_body_util::{BodyExt, Empty};
use hyper::body::Bytes;
use hyper::header::{HeaderValue, ACCEPT, CONNECTION, HOST, USER_AGENT};
use hyper_util::rt::TokioIo;
use std::net::SocketAddr;
use std::time::Duration;
use tokio::net::TcpStream;

/// `GET url` with `Connection: close`, read whole within `limits`; `url` is `http://`.
pub(super) async fn get(
    url: &url::Url,
    user_agent: &HeaderValue,
    guard: &Guard,
    limits: CallLimits,
    outbound: &Outbound,
) -> Result<Answer, CallError> {
    match tokio::time::timeout(limits.timeout, exchange(url, user_agent, guard, limits, outbound)).await {
        Ok(result) => result,
        Err(_) => Err(timed_out(limits.timeout).into()),
    }
}

async fn exchange(
    url: &url::Url,
    user_agent: &HeaderValue,
    guard: &Guard,
    limits: CallLimits,
    outbound: &Outbound,
) -> Result<Answer, CallError> {
    let port = url.port_or_known_default().unwrap_or(80);
    let Some(host) = url.host() else { return Err(CallError::Failed("the agent URL has no host".into())) };
    let addresses = match guard.resolve(&host, port).await {
        Ok(addresses) => addresses,
        Err(Resolved::Refused(refusal)) => return Err(refusal.into()),
        Err(Resolved::NotFound) => return Err(CallError::Failed("could not resolve the host name".into())),
    };
    let stream = connect(&addresses, limits.timeout).await?;

    let host = match url.port() {
        Some(port) => format!("{}:{port}", url.host_str().unwrap_or_default()),
        None => url.host_str().unwrap_or_default().to_owned(),
    };
    let target = match url.query() {
        Some(query) => format!("{}?{query}", url.path()),
        None => url.path().to_owned(),
    };
    let mut request = hyper::Request::get(target)
        .header(HOST, host)
        .header(USER_AGENT, user_agent)
        .header(ACCEPT, "application/json")
        .header(CONNECTION, "close");
    for (name, value) in outbound.iter() {
        request = request.header(name, value);
    }
    let request = request.body(Empty::<Bytes>::new()).map_err(|e| format!("cannot build the request: {e}"))?;
    let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .map_err(|e| describe(&e, limits.timeout, false))?;

    let answer = async {
        let response = sender.send_request(request).await.map_err(|e| describe(&e, limits.timeout, false))?;
        let status = response.status();
        let declared =
            response.headers().get(hyper::header::CONTENT_LENGTH).and_then(|v| v.to_str().ok()?.parse::<u64>().ok());
        if declared.is_some_and(|n| n > limits.max_body as u64) {
            return Err(too_large(limits.max_body));
        }
        let mut body = response.into_body();
        let mut read = Vec::with_capacity(declared.unwrap_or(0) as usize);
        while let Some(frame) = body.frame().await {
            let frame = frame.map_err(|e| describe(&e, limits.timeout, true))?;
            if let Some(data) = frame.data_ref() {
                if read.len() + data.len() > limits.max_body {
                    return Err(too_large(limits.max_body));
                }
                read.extend_from_slice(data);
            }
        }
        Ok(Answer { status, body: read })
    };
    // The connection is driven here, in the check's own task, and dropped (closed) as soon
    // as the answer is read. (Hyper shuts the writing side down first; skipping that call
    // was measured slower at 10,000 agents: 0.96–1.04 s against 0.78–0.90 s.)
    tokio::pin!(answer, connection);
    let mut driving = true;
    loop {
        tokio::select! {
            biased;
            result = &mut answer => return result.map_err(CallError::Failed),
            ended = &mut connection, if driving => {
                driving = false;
                // An error here is the precise one; the answer would only say "closed".
                if let Err(e) = ended {
                    return Err(describe(&e, limits.timeout, false).into());
                }
            }
        }
    }
}

/// The first address that takes the connection, in the resolver's order.
async fn connect(addresses: &[SocketAddr], timeout: Duration) -> Result<TcpStream, String> {
    let mut last = None;
    for address in addresses {
        match TcpStream::connect(address).await {
            Ok(stream) => return Ok(stream),
            Err(e) => last = Some(e),
        }
    }
    Err(match last {
        Some(e) => describe_io_chain(&e, timeout).unwrap_or_else(|| format!("could not connect: {e}")),
        None => "could not resolve the host name".into(),
    })
}

/// A short, precise reason for a failed exchange; `in_body` when the answer had begun.
fn describe(error: &hyper::Error, timeout: Duration, in_body: bool) -> String {
    if let Some(known) = describe_io_chain(error, timeout) {
        return known;
    }
    if error.is_parse() {
        return format!("the answer is not HTTP/1: {error}");
    }
    if in_body {
        return format!("the answer broke off: {}", super::chain(error));
    }
    if error.is_incomplete_message() {
        return "the agent closed the connection without answering".into();
    }
    super::chain(error)
}

#[cfg(test)]
mod tests {
    use super::super::{AgentClient, ClientLimits};
    use super::*;
    use app::validation::AgentUrl;
    use tokio::io::AsyncWriteExt;
    use tokio::net::TcpListener;

    const LIMITS: CallLimits = CallLimits { timeout: Duration::from_millis(500), max_body: 1024 };

    /// An agent on loopback that reads one request (to its blank line), then does what
    /// `then` says with the connection; the request comes back from the join handle.
    async fn agent<F, Fut>(then: F) -> (String, tokio::task::JoinHandle<String>)
    where
        F: FnOnce(TcpStream) -> Fut + Send + 'static,
        Fut: std::future::Future<Output = ()> + Send,
    {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let handle = tokio::spawn(async move {
            let (mut socket, _) = listener.accept().await.unwrap();
            let request = super::super::hostile_agents::read_head(&mut socket).await.unwrap_or_default();
            then(socket).await;
            String::from_utf8_lossy(&request).into_owned()
        });
        (format!("http://127.0.0.1:{port}"), handle)
    }

    fn answering(
        reply: &'static [u8],
    ) -> impl FnOnce(TcpStream) -> std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send>> {
        move |mut socket| {
            Box::pin(async move {
                let _ = socket.write_all(reply).await;
                // Held open a moment: the client must not need the agent to close first.
                tokio::time::sleep(Duration::from_millis(50)).await;
            })
        }
    }

    async fn call(base: &str) -> Result<Answer, String> {
        let url = url::Url::parse(&format!("{base}/prefix/health")).unwrap();
        get(&url, &HeaderValue::from_static("test/1"), &Guard::default(), LIMITS, &Outbound::none())
            .await
            .map_err(|e| e.to_string())
    }

    #[tokio::test]
    async fn sends_one_closing_get_to_the_path_and_reads_the_answer() {
        let (base, request) =
            agent(answering(b"HTTP/1.1 200 OK\r\ncontent-length: 18\r\n\r\n{\"status\":\"alive\"}")).await;
        let answer = call(&base).await.unwrap();
        assert_eq!((answer.status.as_u16(), answer.body.as_slice()), (200, &b"{\"status\":\"alive\"}"[..]));
        let request = request.await.unwrap().to_ascii_lowercase();
        let port = base.rsplit(':').next().unwrap();
        assert!(request.starts_with("get /prefix/health http/1.1\r\n"), "{request}");
        for header in [
            format!("host: 127.0.0.1:{port}"),
            "connection: close".into(),
            "accept: application/json".into(),
            "user-agent: test/1".into(),
        ] {
            assert!(request.contains(&header), "{header} missing from {request}");
        }
    }

    #[tokio::test]
    async fn a_chunked_answer_is_read_whole() {
        let (base, _) = agent(answering(
            b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n5\r\n{\"sta\r\nd\r\ntus\":\"alive\"}\r\n0\r\n\r\n",
        ))
        .await;
        assert_eq!(call(&base).await.unwrap().body, b"{\"status\":\"alive\"}");
    }

    #[tokio::test]
    async fn an_answer_read_to_the_close_is_read_whole() {
        let (base, _) = agent(|mut s: TcpStream| async move {
            let _ = s.write_all(b"HTTP/1.1 200 OK\r\n\r\n{\"status\":\"ok\"}").await;
        })
        .await;
        assert_eq!(call(&base).await.unwrap().body, b"{\"status\":\"ok\"}");
    }

    #[tokio::test]
    async fn answers_over_the_limit_are_refused_declared_or_not() {
        let (base, _) = agent(answering(b"HTTP/1.1 200 OK\r\ncontent-length: 5000\r\n\r\n")).await;
        assert_eq!(call(&base).await.unwrap_err(), "answer larger than 1 KiB");
        let big: &'static [u8] = Box::leak(
            format!("HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n800\r\n{}\r\n0\r\n\r\n", "x".repeat(0x800))
                .into_bytes()
                .into_boxed_slice(),
        );
        let (base, _) = agent(answering(big)).await;
        assert_eq!(call(&base).await.unwrap_err(), "answer larger than 1 KiB");
    }

    #[tokio::test]
    async fn every_broken_exchange_has_its_reason() {
        let (base, _) = agent(|s: TcpStream| async move { drop(s) }).await;
        assert_eq!(call(&base).await.unwrap_err(), "the agent closed the connection without answering");

        let (base, _) = agent(|mut s: TcpStream| async move {
            let _ = s.write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 100\r\n\r\n{\"sta").await;
        })
        .await;
        let reason = call(&base).await.unwrap_err();
        assert!(reason.starts_with("the answer broke off"), "{reason}");

        let (base, _) = agent(answering(b"SSH-2.0-OpenSSH_9.2\r\n\r\n")).await;
        let reason = call(&base).await.unwrap_err();
        assert!(reason.starts_with("the answer is not HTTP/1"), "{reason}");

        let (base, _) = agent(|s: TcpStream| async move {
            // Reset, not closed: the agent's side drops with a zero linger.
            let s = s.into_std().unwrap();
            socket2::SockRef::from(&s).set_linger(Some(Duration::ZERO)).unwrap();
            drop(s);
        })
        .await;
        assert_eq!(call(&base).await.unwrap_err(), "connection reset by the agent");

        let (base, _) = agent(|s: TcpStream| async move {
            tokio::time::sleep(Duration::from_secs(2)).await;
            drop(s);
        })
        .await;
        assert_eq!(call(&base).await.unwrap_err(), "timed out after 500ms");

        let refused = {
            let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            format!("http://{}", l.local_addr().unwrap())
        };
        assert_eq!(call(&refused).await.unwrap_err(), "connection refused");
    }

    #[tokio::test]
    async fn a_host_name_is_resolved_and_each_address_tried() {
        // localhost may resolve to ::1 first, where nothing listens: the next address answers.
        let (base, request) =
            agent(answering(b"HTTP/1.1 200 OK\r\ncontent-length: 15\r\n\r\n{\"status\":\"ok\"}")).await;
        let base = base.replace("127.0.0.1", "localhost");
        assert_eq!(call(&base).await.unwrap().status.as_u16(), 200);
        assert!(request.await.unwrap().to_ascii_lowercase().contains("host: localhost:"));
    }

    #[tokio::test]
    async fn the_health_check_judges_this_path_like_the_other() {
        let client = AgentClient::new(ClientLimits::new(Duration::from_millis(500), 1024), Guard::default()).unwrap();
        let cases: [(&'static [u8], Option<&str>); 3] = [
            (b"HTTP/1.1 200 OK\r\ncontent-length: 18\r\n\r\n{\"status\":\"alive\"}", None),
            (
                b"HTTP/1.1 301 Moved Permanently\r\nlocation: /elsewhere\r\ncontent-length: 0\r\n\r\n",
                Some("HTTP 301 Moved Permanently"),
            ),
            (b"HTTP/1.1 200 OK\r\ncontent-length: 21\r\n\r\n{\"status\":\"starting\"}", Some("status \"starting\"")),
        ];
        for (reply, reason) in cases {
            let (base, request) = agent(answering(reply)).await;
            let probe = client.check_health(&AgentUrl::parse(&base).unwrap(), &Outbound::none(), false).await;
            assert_eq!(probe.reason.as_deref(), reason);
            assert!(request.await.unwrap().to_ascii_lowercase().contains("connection: close"));
        }
    }
}
