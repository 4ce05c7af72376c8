//! `serve`: listens, keeps the health figures fresh, and stops cleanly on SIGTERM or SIGINT.

use std::future::IntoFuture;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::net::TcpListener;
use tokio::signal::unix::{signal, SignalKind};
use tokio::sync::watch;

use crate::app::{app, AppState};
use crate::config::Config;
use crate::db::{self, batch::Batcher};
use crate::health;
use crate::ratelimit::RateLimiter;

/// How long requests in flight may still take once a stop signal arrived.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(30);

/// Serves until a stop signal, then finishes the requests in flight (for at most
/// `SHUTDOWN_GRACE`) and returns.
pub async fn serve(config: Config) -> Result<(), String> {
    let stop = stop_on_signals()?;
    let pool = db::pool(&config)?;
    let listener = TcpListener::bind(config.listen)
        .await
        .map_err(|err| format!("cannot listen on {}: {err}", config.listen))?;
    let address = listener
        .local_addr()
        .map_err(|err| format!("cannot read the listening address: {err}"))?;
    let (health, refresher) = health::spawn_refresher(pool.clone(), config.health_refresh);
    tracing::info!(
        %address,
        public_url = %config.public_url,
        rate_limits = ?config.limits,
        "ingest-proxy listening"
    );
    let state = AppState {
        batcher: Batcher::start(pool.clone(), config.batch_settings()),
        limiter: Arc::new(RateLimiter::new(config.limits, Instant::now())),
        config: Arc::new(config),
        health,
    };
    let server = axum::serve(
        listener,
        app(state).into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(stopped(stop.clone()));
    let outcome = tokio::select! {
        result = server.into_future() => result.map_err(|err| format!("server error: {err}")),
        () = grace_over(stop) => {
            tracing::warn!("requests still in flight after {} s; stopping anyway", SHUTDOWN_GRACE.as_secs());
            Ok(())
        }
    };
    refresher.abort();
    pool.close();
    tracing::info!("ingest-proxy stopped");
    outcome
}

/// A flag that turns true on the first SIGTERM or SIGINT.
fn stop_on_signals() -> Result<watch::Receiver<bool>, String> {
    let mut terminate =
        signal(SignalKind::terminate()).map_err(|err| format!("cannot handle SIGTERM: {err}"))?;
    let mut interrupt =
        signal(SignalKind::interrupt()).map_err(|err| format!("cannot handle SIGINT: {err}"))?;
    let (sender, receiver) = watch::channel(false);
    tokio::spawn(async move {
        let name = tokio::select! {
            _ = terminate.recv() => "SIGTERM",
            _ = interrupt.recv() => "SIGINT",
        };
        tracing::info!(signal = name, "stopping: finishing requests in flight");
        sender.send_replace(true);
        // Keep the sender, so that receivers never see it gone before the flag is set.
        std::future::pending::<()>().await;
    });
    Ok(receiver)
}

async fn stopped(mut stop: watch::Receiver<bool>) {
    if stop.wait_for(|stop| *stop).await.is_err() {
        std::future::pending::<()>().await;
    }
}

async fn grace_over(stop: watch::Receiver<bool>) {
    stopped(stop).await;
    tokio::time::sleep(SHUTDOWN_GRACE).await;
}
