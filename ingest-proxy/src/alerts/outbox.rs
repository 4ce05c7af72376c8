//! The alert functions delivery calls (`alerts.sql`, role crashcache_alerts): claim due outbox
//! rows, record what became of one, run the periodic check. Fixed statements, values as
//! parameters; jsonb travels as text and is read with serde.

use std::time::Duration;

use deadpool_postgres::Pool;
use serde_json::Value;

use crate::alerts::Outcome;
use crate::db::DbError;

/// How long a claimed row stays ours: longer than a delivery may take (`deliver`), so no other
/// process sends it meanwhile, and short enough that a crashed process's rows are soon retried.
pub const LEASE: Duration = Duration::from_secs(60);

/// One claimed outbox row.
#[derive(Debug, Clone)]
pub struct Claimed {
    /// The outbox row.
    pub outbox_id: i64,
    /// The channel it goes to.
    pub channel_id: i32,
    /// The channel's kind.
    pub kind: String,
    /// The channel's config (URL, secret, recipients; never logged).
    pub config: Value,
    /// The message.
    pub message: Value,
    /// Deliveries tried, this one included.
    pub attempts: i32,
}

const CLAIM: &str = "SELECT outbox_id, channel_id, kind, config::text, \
     message::text, attempts::int4 FROM crashcache.alerts_claim($1, $2)";
const RECORD: &str = "SELECT crashcache.alerts_record($1, $2, $3, $4, $5)";
const CHECK: &str = "SELECT crashcache.alerts_check()";

/// Claims up to `max` due rows, leased for `LEASE`.
pub async fn claim(pool: &Pool, max: i32) -> Result<Vec<Claimed>, DbError> {
    let client = pool.get().await?;
    let statement = client.prepare_cached(CLAIM).await?;
    let lease = LEASE.as_secs() as i32;
    let rows = client.query(&statement, &[&max, &lease]).await?;
    rows.iter()
        .map(|row| {
            Ok(Claimed {
                outbox_id: row.try_get(0)?,
                channel_id: row.try_get(1)?,
                kind: row.try_get(2)?,
                config: json(row.try_get(3)?)?,
                message: json(row.try_get(4)?)?,
                attempts: row.try_get(5)?,
            })
        })
        .collect()
}

/// Records the outcome of delivering `outbox_id`; the database decides on a retry.
pub async fn record(pool: &Pool, outbox_id: i64, outcome: &Outcome) -> Result<(), DbError> {
    let client = pool.get().await?;
    let statement = client.prepare_cached(RECORD).await?;
    client
        .execute(
            &statement,
            &[
                &outbox_id,
                &outcome.delivered,
                &outcome.status,
                &outcome.response,
                &outcome.retry,
            ],
        )
        .await?;
    Ok(())
}

/// The periodic check (crons missed, volume rules): it writes outbox rows of its own.
pub async fn check(pool: &Pool) -> Result<(), DbError> {
    let client = pool.get().await?;
    let statement = client.prepare_cached(CHECK).await?;
    client.execute(&statement, &[]).await?;
    Ok(())
}

fn json(text: Option<String>) -> Result<Value, DbError> {
    match text {
        None => Ok(Value::Null),
        Some(text) => serde_json::from_str(&text)
            .map_err(|err| DbError::Failed(format!("alerts_claim gave invalid JSON: {err}"))),
    }
}
