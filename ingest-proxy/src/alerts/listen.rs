//! Waking the delivery loop on the database's `NOTIFY crashcache_alerts` (sent when an outbox
//! row is written), so an alert leaves within milliseconds instead of at the next poll.
//!
//! LISTEN needs a connection of its own that stays open (a pooled one is shared and its
//! notifications are dropped). If it breaks, the loop still polls; this reconnects with a
//! growing pause.

use std::future::poll_fn;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{watch, Notify};
use tokio::task::JoinHandle;
use tokio_postgres::{AsyncMessage, NoTls};

/// The channel the database notifies.
pub const CHANNEL: &str = "crashcache_alerts";

/// Listens until `stop`, calling `wake.notify_one()` on each notification.
pub fn spawn(
    database: tokio_postgres::Config,
    wake: Arc<Notify>,
    mut stop: watch::Receiver<bool>,
) -> JoinHandle<()> {
    tokio::spawn(async move {
        let mut pause = Duration::from_millis(500);
        while !*stop.borrow() {
            let listening = listen(&database, &wake);
            tokio::select! {
                result = listening => {
                    if let Err(err) = result {
                        tracing::warn!(error = %err, "alert wake-ups lost; polling until listening again");
                    }
                }
                _ = stop.changed() => return,
            }
            tokio::select! {
                _ = tokio::time::sleep(pause) => {}
                _ = stop.changed() => return,
            }
            pause = (pause * 2).min(Duration::from_secs(30));
        }
    })
}

/// One connection's life: LISTEN, then forward notifications until it ends.
async fn listen(database: &tokio_postgres::Config, wake: &Notify) -> Result<(), String> {
    let (client, mut connection) = database
        .connect(NoTls)
        .await
        .map_err(|err| format!("cannot connect: {err}"))?;
    let forward = async move {
        loop {
            match poll_fn(|cx| connection.poll_message(cx)).await {
                Some(Ok(AsyncMessage::Notification(_))) => wake.notify_one(),
                Some(Ok(_)) => {}
                Some(Err(err)) => return Err(format!("connection lost: {err}")),
                None => return Err("connection closed".to_owned()),
            }
        }
    };
    let subscribe = async {
        client
            .batch_execute(&format!("LISTEN {CHANNEL}"))
            .await
            .map_err(|err| format!("LISTEN failed: {err}"))?;
        tracing::debug!("listening for alerts");
        // Holding the client keeps the connection open until it breaks.
        std::future::pending::<Result<(), String>>().await
    };
    tokio::select! {
        result = forward => result,
        result = subscribe => result,
    }
}
