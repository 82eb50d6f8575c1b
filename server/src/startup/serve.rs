//! The accept loop: HTTP/1.1 connections, each request given its connection's addresses.

use crate::http;
use std::future::Future;

/// Serves HTTP/1.1 until `shutdown`, then waits for the open connections to end.
///
/// Not `axum::serve`: it always builds hyper_util's auto connection, which also detects
/// HTTP/2, and whose state is sized for both in every connection, so in every open event
/// stream (benches/streams.rs). Browsers and nginx speak HTTP/1.1 to a dashboard without
/// TLS, and nothing here upgrades a connection (no WebSocket). As `axum::serve` does, an
/// accept error (too many open files) is logged and
/// retried after a pause rather than ending the server.
pub(super) async fn serve_http1<S>(
    listener: tokio::net::TcpListener,
    app: S,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()>
where
    S: tower::Service<axum::extract::Request, Response = axum::response::Response, Error = std::convert::Infallible>
        + Clone
        + Send
        + 'static,
    S::Future: Send + 'static,
{
    use axum::extract::ConnectInfo;
    use hyper_util::rt::{TokioIo, TokioTimer};
    let graceful = hyper_util::server::graceful::GracefulShutdown::new();
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(e) => {
                    tracing::warn!(error = %e, "cannot accept a connection; trying again in a second");
                    tokio::time::sleep(std::time::Duration::from_secs(1)).await;
                    continue;
                }
            },
            _ = &mut shutdown => break,
        };
        // Without it a response written in two pieces (a streamed page, an event after its
        // headers) waited for the client's delayed ACK: /tokens took 42 ms, not 2.
        let _ = stream.set_nodelay(true);
        // Connect info: a self-registering agent's address is where its request came from;
        // the guard answers to the address it arrived on.
        let connection = http::Connection { peer, local: stream.local_addr().unwrap_or(peer) };
        let service =
            tower::ServiceExt::map_request(app.clone(), move |request: hyper::Request<hyper::body::Incoming>| {
                let mut request = request.map(axum::body::Body::new);
                request.extensions_mut().insert(ConnectInfo(connection));
                request
            });
        let connection = hyper::server::conn::http1::Builder::new()
            .timer(TokioTimer::new())
            .serve_connection(TokioIo::new(stream), hyper_util::service::TowerToHyperService::new(service));
        let connection = graceful.watch(connection);
        tokio::spawn(async move {
            if let Err(e) = connection.await {
                tracing::debug!(error = %e, "connection ended with an error");
            }
        });
    }
    drop(listener);
    graceful.shutdown().await;
    Ok(())
}
