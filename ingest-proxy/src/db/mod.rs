//! The connection pool, and the SQL functions `serve` calls: `ingest_batch` (in `batch`) and
//! `stats` (fixed statements).
//!
//! The command line's functions are in `admin`. Values only ever travel as statement
//! parameters. Connection trouble (refused, closed, shutting down, pool exhausted, no answer
//! in time) is `DbError::Unavailable`, which the HTTP side answers with 503; anything else the
//! database says is `DbError::Failed`.

pub mod admin;
pub mod backoff;
pub mod batch;

use std::time::Duration;

use deadpool_postgres::{Manager, ManagerConfig, Pool, PoolError, RecyclingMethod, Runtime};
use tokio_postgres::NoTls;

/// A failed database call.
#[derive(Debug, thiserror::Error)]
pub enum DbError {
    /// The database cannot be reached or did not answer in time.
    #[error("database unavailable: {0}")]
    Unavailable(String),
    /// The database answered with an error.
    #[error("{0}")]
    Failed(String),
}

impl From<PoolError> for DbError {
    fn from(err: PoolError) -> Self {
        match err {
            PoolError::Backend(err) => classify(err),
            PoolError::Timeout(kind) => DbError::Unavailable(format!(
                "no database connection available ({kind:?} timeout)"
            )),
            other => DbError::Unavailable(other.to_string()),
        }
    }
}

impl From<tokio_postgres::Error> for DbError {
    fn from(err: tokio_postgres::Error) -> Self {
        classify(err)
    }
}

/// Connection-level failures and server states that mean "try again later" are
/// `Unavailable`; errors raised by SQL are `Failed`, with the server's message.
fn classify(err: tokio_postgres::Error) -> DbError {
    let Some(db) = err.as_db_error() else {
        let mut message = err.to_string();
        let mut source = std::error::Error::source(&err);
        while let Some(cause) = source {
            let text = cause.to_string();
            if !message.contains(&text) {
                message.push_str(": ");
                message.push_str(&text);
            }
            source = cause.source();
        }
        return DbError::Unavailable(message);
    };
    let code = db.code().code();
    let mut message = db.message().to_owned();
    if let Some(detail) = db.detail() {
        message.push_str(&format!(" ({detail})"));
    }
    // 08: connection exception; 53: insufficient resources (e.g. too many connections);
    // 57P: the server is shutting down or starting up.
    if code.starts_with("08") || code.starts_with("53") || code.starts_with("57P") {
        DbError::Unavailable(format!("{message} [SQLSTATE {code}]"))
    } else {
        DbError::Failed(format!("{message} [SQLSTATE {code}]"))
    }
}

/// What a pool needs (`Config::pool_settings`, `Config::api_pool_settings`).
#[derive(Debug, Clone)]
pub struct PoolSettings {
    /// Where to connect, as whom.
    pub database: tokio_postgres::Config,
    /// Connections at most.
    pub size: usize,
    /// Longest wait for a free connection.
    pub acquire_timeout: Duration,
    /// Longest wait for a new connection, and for checking a pooled one.
    pub connect_timeout: Duration,
}

/// A pool. No connection is opened until the first call; a connection found closed when
/// taken from the pool is dropped and replaced, so the proxy recovers by itself once the
/// database is back.
pub fn pool(settings: PoolSettings) -> Result<Pool, String> {
    let manager = Manager::from_config(
        settings.database,
        NoTls,
        ManagerConfig {
            // `Fast` checks that the connection task is still alive (it ends when the server
            // closes the socket) without a round trip per request.
            recycling_method: RecyclingMethod::Fast,
        },
    );
    Pool::builder(manager)
        .max_size(settings.size)
        .runtime(Runtime::Tokio1)
        .wait_timeout(Some(settings.acquire_timeout))
        .create_timeout(Some(settings.connect_timeout))
        .recycle_timeout(Some(settings.connect_timeout))
        .build()
        .map_err(|err| format!("cannot build the database pool: {err}"))
}

/// What `crashcache.ingest` stores a body as.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// An envelope (`/envelope/`, or `/store/` with an envelope content type).
    Envelope,
    /// A single JSON event (`/store/`).
    Store,
}

impl Kind {
    fn as_str(self) -> &'static str {
        match self {
            Kind::Envelope => "envelope",
            Kind::Store => "store",
        }
    }
}

/// What `crashcache.ingest_batch` answered for one request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IngestOutcome {
    /// The HTTP status to answer with.
    pub status: i32,
    /// accepted, duplicate, or an error code.
    pub outcome: String,
    /// The event id (32 hex digits) when the payload has one.
    pub event_id: Option<String>,
    /// The project the payload went to (or was meant for).
    pub project_id: Option<i32>,
    /// The archive row.
    pub archive_id: Option<i64>,
    /// Why it was refused.
    pub detail: Option<String>,
}

/// The figures of `crashcache.stats()`.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Stats {
    /// Payloads waiting to be digested.
    pub queued: Option<i64>,
    /// Age of the oldest queued payload, in seconds.
    pub oldest_queued_seconds: Option<f64>,
    /// Payloads that failed to digest.
    pub errors: Option<i64>,
    /// Stored payloads (estimate).
    pub archives_estimate: Option<i64>,
    /// Digested events (estimate).
    pub events_estimate: Option<i64>,
    /// Issues with events.
    pub issues: Option<i64>,
    /// Digest workers running.
    pub running_workers: Option<i64>,
    /// Payloads digested since the server started.
    pub digested_since_start: Option<i64>,
    /// Payloads that failed since the server started.
    pub failed_since_start: Option<i64>,
    /// Why ingest refuses new payloads (the disk guard); `None` while it does not.
    pub over_capacity: Option<String>,
}

const STATS: &str = "SELECT queued, extract(epoch FROM oldest_queued_age)::float8, errors, \
     archives_estimate, events_estimate, issues, running_workers, digested_since_start, \
     failed_since_start, over_capacity FROM crashcache.stats()";

/// `crashcache.stats()`, bounded by `timeout`.
pub async fn stats(pool: &Pool, timeout: Duration) -> Result<Stats, DbError> {
    let call = async {
        let client = pool.get().await?;
        let statement = client.prepare_cached(STATS).await?;
        let row = client.query_one(&statement, &[]).await?;
        Ok::<_, DbError>(Stats {
            queued: row.try_get(0)?,
            oldest_queued_seconds: row.try_get(1)?,
            errors: row.try_get(2)?,
            archives_estimate: row.try_get(3)?,
            events_estimate: row.try_get(4)?,
            issues: row.try_get(5)?,
            running_workers: row.try_get(6)?,
            digested_since_start: row.try_get(7)?,
            failed_since_start: row.try_get(8)?,
            over_capacity: row.try_get(9)?,
        })
    };
    tokio::time::timeout(timeout, call)
        .await
        .unwrap_or_else(|_| {
            Err(DbError::Unavailable(format!(
                "crashcache.stats() did not answer within {} ms",
                timeout.as_millis()
            )))
        })
}
