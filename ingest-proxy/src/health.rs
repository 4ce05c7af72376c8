//! The figures behind `GET /health`, refreshed by a background task so requests never query.

use std::sync::Arc;
use std::time::Duration;

use deadpool_postgres::Pool;
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tokio::time::MissedTickBehavior;

use crate::db::{self, Stats};

/// The last refresh's result: the figures, or `None` when it failed (or none ran yet).
#[derive(Debug, Clone)]
pub struct Health {
    latest: watch::Receiver<Option<Arc<Stats>>>,
}

impl Health {
    /// The figures of the last refresh, `None` when the database was down.
    pub fn latest(&self) -> Option<Arc<Stats>> {
        self.latest.borrow().clone()
    }

    /// A cache that reports a down database until its sender sends figures; the refresher
    /// holds the sender (tests hold it themselves).
    pub fn channel() -> (watch::Sender<Option<Arc<Stats>>>, Health) {
        let (sender, latest) = watch::channel(None);
        (sender, Health { latest })
    }
}

/// Starts the refresher: `crashcache.stats()` at once and then every `every`, each call
/// bounded so that a hung database reads as down rather than stale.
pub fn spawn_refresher(pool: Pool, every: Duration) -> (Health, JoinHandle<()>) {
    let (sender, health) = Health::channel();
    let timeout = every.max(Duration::from_secs(1));
    let task = tokio::spawn(async move {
        let mut ticks = tokio::time::interval(every);
        ticks.set_missed_tick_behavior(MissedTickBehavior::Delay);
        let mut was_up: Option<bool> = None;
        loop {
            ticks.tick().await;
            let latest = match db::stats(&pool, timeout).await {
                Ok(stats) => {
                    if was_up != Some(true) {
                        tracing::info!("database is up");
                    }
                    was_up = Some(true);
                    Some(Arc::new(stats))
                }
                Err(err) => {
                    if was_up != Some(false) {
                        tracing::warn!(error = %err, "database health check failed");
                    }
                    was_up = Some(false);
                    None
                }
            };
            if sender.send(latest).is_err() {
                return;
            }
        }
    });
    (health, task)
}
