//! `serve`: listens, keeps the health figures fresh, delivers alerts when set to, and stops
//! cleanly on SIGTERM or SIGINT.

use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::net::TcpListener;
use tokio::signal::unix::{signal, SignalKind};
use tokio::sync::watch;

use crate::alerts;
use crate::app::{app, busy};
use crate::body::Receiving;
use crate::config::Config;
use crate::connections;
use crate::db::{self, batch::Batcher};
use crate::health;
use crate::ratelimit::RateLimiter;
use crate::state::AppState;
use crate::web_api::WebApi;
use crate::web_ui::WebUi;

/// How long requests in flight may still take once a stop signal arrived.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(30);

/// Serves until a stop signal, then finishes the requests in flight (for at most
/// `SHUTDOWN_GRACE`) and returns.
pub async fn serve(config: Config) -> Result<(), String> {
    let stop = stop_on_signals()?;
    let pool = db::pool(config.pool_settings())?;
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
    let alerts = alerts::start(&config, stop.clone())?;
    let limits = config.connection_limits;
    let web_api = WebApi {
        pool: config.api_pool_settings().map(db::pool).transpose()?,
        public_url: config.public_url.as_str().into(),
    };
    let web_ui = match config.ui_pool_settings() {
        Some(settings) => Some(WebUi::new(
            db::pool(settings)?,
            &config.public_url,
            config.trusted_proxies.clone(),
        )),
        None => None,
    };
    let state = AppState {
        batcher: Batcher::start(pool.clone(), config.batch_settings()),
        limiter: Arc::new(RateLimiter::new(config.limits, Instant::now())),
        receiving: Receiving::new(config.max_receiving_bytes, config.body_timeout),
        config: Arc::new(config),
        health,
        web_api,
        web_ui,
    };
    connections::serve(
        listener,
        app(state),
        busy(),
        limits,
        stopped(stop),
        SHUTDOWN_GRACE,
    )
    .await;
    if let Some(alerts) = alerts {
        // Its deliveries in flight are bounded in time (`alerts::deliver`).
        if let Err(err) = alerts.await {
            tracing::error!(error = %err, "alert delivery did not stop cleanly");
        }
    }
    refresher.abort();
    pool.close();
    tracing::info!("ingest-proxy stopped");
    Ok(())
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
