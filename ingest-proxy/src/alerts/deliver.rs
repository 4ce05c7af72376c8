//! The delivery loop: claim due outbox rows, send each one concurrently (up to a bound), record
//! each outcome; and every `CHECK_PERIOD` the database's periodic check.
//!
//! Claims use `FOR UPDATE SKIP LOCKED` with a lease (`outbox`), so any number of processes can
//! run this loop and each alert is sent once. The loop wakes on the database's NOTIFY
//! (`listen`) or, failing that, every `POLL`. On shutdown it stops claiming and lets the
//! deliveries in flight finish (each is bounded in time); a row left unrecorded is sent again
//! once its lease runs out, so a crash can at worst send an alert twice, never lose it.

use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use deadpool_postgres::Pool;
use tokio::sync::{watch, Notify, Semaphore};
use tokio::task::{JoinHandle, JoinSet};

use crate::alerts::channel::Channel;
use crate::alerts::format::{render, Delivery, Outbound};
use crate::alerts::message::Message;
use crate::alerts::outbox::{self, Claimed, LEASE};
use crate::alerts::{Outcome, Senders};
use crate::db::DbError;

/// Deliveries in flight at once, per process.
const CONCURRENCY: usize = 8;
/// How often the loop looks for due rows when no NOTIFY woke it (retries become due this way).
const POLL: Duration = Duration::from_millis(500);
/// How often `alerts_check()` runs.
const CHECK_PERIOD: Duration = Duration::from_secs(10);
/// Longest one delivery may take, well inside the lease.
const DELIVERY_TIMEOUT: Duration = Duration::from_secs(30);
/// Longest the deliveries in flight may take to finish once the server stops.
const SHUTDOWN_WAIT: Duration = Duration::from_secs(15);
/// Wait after the database failed a claim or a check.
const FAILURE_WAIT: Duration = Duration::from_secs(2);

/// Starts the loop and the periodic check; both end when `stop` turns true.
pub fn spawn(
    pool: Pool,
    senders: Senders,
    wake: Arc<Notify>,
    stop: watch::Receiver<bool>,
) -> JoinHandle<()> {
    let checker = tokio::spawn(check_periodically(pool.clone(), stop.clone()));
    tokio::spawn(async move {
        deliver_until_stopped(pool, Arc::new(senders), wake, stop).await;
        checker.abort();
    })
}

async fn deliver_until_stopped(
    pool: Pool,
    senders: Arc<Senders>,
    wake: Arc<Notify>,
    mut stop: watch::Receiver<bool>,
) {
    let permits = Arc::new(Semaphore::new(CONCURRENCY));
    let mut in_flight = JoinSet::new();
    tracing::info!("alert delivery started");
    while !*stop.borrow() {
        while in_flight.try_join_next().is_some() {}
        let free = permits.available_permits();
        let mut wait = POLL;
        if free > 0 {
            match outbox::claim(&pool, free as i32).await {
                Ok(rows) => {
                    // A full claim means more may be due: look again at once.
                    if rows.len() == free {
                        wait = Duration::ZERO;
                    }
                    for row in rows {
                        // No more rows were claimed than permits are free, and the semaphore
                        // is never closed: this never waits, and never fails.
                        let Ok(permit) = permits.clone().try_acquire_owned() else {
                            tracing::error!(
                                outbox_id = row.outbox_id,
                                "no delivery slot for a claimed alert; its lease will run out"
                            );
                            continue;
                        };
                        let (pool, senders) = (pool.clone(), senders.clone());
                        in_flight.spawn(async move {
                            deliver_and_record(&pool, &senders, row).await;
                            drop(permit);
                        });
                    }
                }
                Err(err) => {
                    tracing::warn!(error = %err, "cannot claim alerts");
                    wait = FAILURE_WAIT;
                }
            }
        }
        if wait > Duration::ZERO {
            tokio::select! {
                _ = tokio::time::sleep(wait) => {}
                _ = wake.notified() => {}
                _ = stop.changed() => {}
                // A finished delivery frees a permit for a claim that found none free.
                Some(_) = in_flight.join_next(), if free == 0 => {}
            }
        }
    }
    let waiting = in_flight.len();
    if waiting > 0 {
        tracing::info!(
            deliveries = waiting,
            "stopping: finishing alert deliveries in flight"
        );
        let finish = async { while in_flight.join_next().await.is_some() {} };
        if tokio::time::timeout(SHUTDOWN_WAIT, finish).await.is_err() {
            tracing::warn!("alert deliveries still in flight were stopped; their leases expire and another process sends them");
            in_flight.shutdown().await;
        }
    }
    tracing::info!("alert delivery stopped");
}

/// Sends one row and records the outcome, retrying the record while the lease lasts: a row
/// sent but never recorded would be sent again.
async fn deliver_and_record(pool: &Pool, senders: &Senders, row: Claimed) {
    let started = Instant::now();
    let outcome = match tokio::time::timeout(DELIVERY_TIMEOUT, deliver(senders, &row)).await {
        Ok(outcome) => outcome,
        Err(_) => Outcome::failed(format!(
            "the delivery took more than {} s",
            DELIVERY_TIMEOUT.as_secs()
        )),
    };
    let elapsed_ms = started.elapsed().as_millis() as u64;
    let host = Channel::from_config(&row.kind, &row.config)
        .ok()
        .and_then(|channel| channel.url().and_then(host_of));
    if outcome.delivered {
        tracing::info!(outbox_id = row.outbox_id, channel_id = row.channel_id, kind = %row.kind,
            host = host.as_deref().unwrap_or("-"), status = ?outcome.status, elapsed_ms,
            attempts = row.attempts, "alert delivered");
    } else {
        tracing::warn!(outbox_id = row.outbox_id, channel_id = row.channel_id, kind = %row.kind,
            host = host.as_deref().unwrap_or("-"), status = ?outcome.status, elapsed_ms,
            attempts = row.attempts, reason = %first_line(&outcome.response), "alert not delivered");
    }
    let deadline = Instant::now() + LEASE / 2;
    let mut wait = Duration::from_millis(100);
    loop {
        match outbox::record(pool, row.outbox_id, &outcome).await {
            Ok(()) => return,
            Err(DbError::Unavailable(err)) if Instant::now() + wait < deadline => {
                tracing::warn!(outbox_id = row.outbox_id, error = %err, "cannot record an alert's delivery yet; retrying");
                tokio::time::sleep(wait).await;
                wait = (wait * 2).min(Duration::from_secs(5));
            }
            Err(err) => {
                tracing::error!(outbox_id = row.outbox_id, error = %err, "cannot record an alert's delivery; it will be sent again when its lease runs out");
                return;
            }
        }
    }
}

/// The outcome of sending one row: formats it for its channel and sends it.
async fn deliver(senders: &Senders, row: &Claimed) -> Outcome {
    let channel = match Channel::from_config(&row.kind, &row.config) {
        Ok(channel) => channel,
        Err(err) => return Outcome::refused(err.to_string()),
    };
    let message = match Message::from_json(&row.message) {
        Ok(message) => message,
        Err(err) => return Outcome::refused(err.to_string()),
    };
    let delivery = Delivery {
        id: row.outbox_id,
        timestamp: SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |since| since.as_secs()),
    };
    match render(&channel, &message, delivery) {
        Outbound::Http(post) => senders.http.send(&post).await,
        Outbound::Email(email) => match &senders.mailer {
            Some(mailer) => mailer.send(&email).await,
            None => Outcome::refused(
                "email is not set up on this server: set SMTP_URL and SMTP_FROM".to_owned(),
            ),
        },
    }
}

/// `alerts_check()` every `CHECK_PERIOD`, at once first.
async fn check_periodically(pool: Pool, mut stop: watch::Receiver<bool>) {
    let mut ticks = tokio::time::interval(CHECK_PERIOD);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut failing = false;
    while !*stop.borrow() {
        tokio::select! {
            _ = ticks.tick() => {}
            _ = stop.changed() => return,
        }
        match outbox::check(&pool).await {
            Ok(()) if failing => {
                tracing::info!("the periodic alert check runs again");
                failing = false;
            }
            Ok(()) => {}
            Err(err) => {
                if !failing {
                    tracing::warn!(error = %err, "the periodic alert check failed");
                }
                failing = true;
                tokio::time::sleep(FAILURE_WAIT).await;
            }
        }
    }
}

/// The host of a URL, for logs (the path and query often hold the webhook's secret).
fn host_of(url: &str) -> Option<String> {
    reqwest::Url::parse(url)
        .ok()
        .and_then(|url| url.host_str().map(str::to_owned))
}

fn first_line(text: &str) -> &str {
    let line = text.lines().next().unwrap_or("");
    match line.char_indices().nth(200) {
        Some((end, _)) => &line[..end],
        None => line,
    }
}

#[cfg(test)]
mod tests {
    use super::{first_line, host_of};

    #[test]
    fn logs_keep_secrets_out() {
        assert_eq!(
            host_of("https://hooks.slack.com/services/T0/B0/secret").as_deref(),
            Some("hooks.slack.com")
        );
        assert_eq!(host_of("nonsense"), None);
        assert_eq!(first_line("a\nb"), "a");
        assert_eq!(first_line(&"x".repeat(500)).len(), 200);
    }
}
