//! Accepting connections, with the bounds that keep slow or idle clients from holding the
//! proxy: at most `max_connections` served at once, and a deadline for each request's headers.
//!
//! hyper starts the header deadline whenever a connection waits for the next request, so the
//! same deadline closes idle keep-alive connections and connections that send headers slowly.
//! A connection over the cap is not dropped unanswered: it gets a 503 in Sentry's shape from
//! `busy` and is closed after it. HTTP/1.1 only: SDKs speak nothing else to an ingest port.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::Router;
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tower::ServiceExt;

/// A pause after a failed accept (out of file descriptors, say), so the loop does not spin.
const ACCEPT_ERROR_WAIT: Duration = Duration::from_millis(50);

/// How many connections, and how long each may wait for a request's headers.
#[derive(Debug, Clone, Copy)]
pub struct ConnectionLimits {
    /// Connections served at once; more are answered 503 and closed.
    pub max_connections: usize,
    /// Time for a request's headers to arrive complete, counted from when the connection is
    /// ready for the next request (so idle keep-alive time counts too).
    pub idle_timeout: Duration,
}

/// Serves `app` on every connection accepted until `stop` resolves, `busy` on connections over
/// the cap; then lets the open connections finish, for at most `grace`.
pub async fn serve(
    listener: TcpListener,
    app: Router,
    busy: Router,
    limits: ConnectionLimits,
    stop: impl Future<Output = ()>,
    grace: Duration,
) {
    let open = Arc::new(Semaphore::new(limits.max_connections));
    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(limits.idle_timeout);
    let graceful = GracefulShutdown::new();
    tokio::pin!(stop);
    loop {
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(pair) => pair,
                Err(err) => {
                    tracing::warn!(error = %err, "cannot accept a connection");
                    tokio::time::sleep(ACCEPT_ERROR_WAIT).await;
                    continue;
                }
            },
            () = &mut stop => break,
        };
        // Answers are small and written at once: no reason to wait for more to send.
        if let Err(err) = stream.set_nodelay(true) {
            tracing::debug!(%peer, error = %err, "cannot set TCP_NODELAY");
        }
        let permit = open.clone().try_acquire_owned().ok();
        let mut builder = http.clone();
        let router = if permit.is_some() {
            app.clone()
        } else {
            tracing::warn!(%peer, max_connections = limits.max_connections, "too many connections: answering 503");
            builder.keep_alive(false);
            busy.clone()
        };
        let service = hyper::service::service_fn(move |request: hyper::Request<Incoming>| {
            let mut request = request.map(Body::new);
            request.extensions_mut().insert(ConnectInfo(peer));
            router.clone().oneshot(request)
        });
        let connection = graceful.watch(builder.serve_connection(TokioIo::new(stream), service));
        tokio::spawn(async move {
            if let Err(err) = connection.await {
                tracing::debug!(%peer, error = %err, "connection ended with an error");
            }
            drop(permit);
        });
    }
    drop(listener);
    tokio::select! {
        () = graceful.shutdown() => {}
        () = tokio::time::sleep(grace) => {
            tracing::warn!("requests still in flight after {} s; stopping anyway", grace.as_secs());
        }
    }
}
