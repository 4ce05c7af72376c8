//! Measuring what the disk guard (`crashcache_core::capacity`) decides on, cheaply enough for
//! every ingest statement: each measure is taken at most once per its period per backend, the
//! queue's depth from its table statistics (no scan; they lag by about a second anyway), the
//! database size (a walk of its files) less often.

use std::cell::Cell;
use std::thread::LocalKey;
use std::time::{Duration, Instant};

use crashcache_core::capacity::{self, CapacityLimits};
use pgrx::prelude::*;
use pgrx::spi;

use crate::guc;

/// How long a backend trusts the database size it measured.
const SIZE_EVERY: Duration = Duration::from_secs(10);
/// How long a backend trusts the queue depth it read.
const QUEUED_EVERY: Duration = Duration::from_millis(500);

/// A measure and when it was taken.
type Measured = Cell<Option<(Instant, u64)>>;

thread_local! {
    static DATABASE_SIZE: Measured = const { Cell::new(None) };
    static QUEUED: Measured = const { Cell::new(None) };
}

/// The value in `cache` if younger than `every`, else a new one from `query` (a bigint).
fn measure(
    cache: &'static LocalKey<Measured>,
    every: Duration,
    query: &str,
) -> Result<u64, spi::Error> {
    if let Some((at, value)) = cache.get() {
        if at.elapsed() < every {
            return Ok(value);
        }
    }
    let value = Spi::get_one::<i64>(query)?
        .and_then(|v| u64::try_from(v).ok())
        .unwrap_or(0);
    cache.set(Some((Instant::now(), value)));
    Ok(value)
}

fn limits() -> CapacityLimits {
    let setting = |value: i32| u64::try_from(value).unwrap_or(0);
    CapacityLimits {
        max_database_bytes: setting(guc::MAX_DATABASE_MB.get()) * 1024 * 1024,
        max_queued: setting(guc::MAX_QUEUED.get()),
    }
}

fn database_bytes() -> Result<u64, spi::Error> {
    measure(
        &DATABASE_SIZE,
        SIZE_EVERY,
        "SELECT pg_catalog.pg_database_size(pg_catalog.current_database())",
    )
}

fn queued() -> Result<u64, spi::Error> {
    measure(
        &QUEUED,
        QUEUED_EVERY,
        "SELECT pg_catalog.pg_stat_get_live_tuples('crashcache.queue'::pg_catalog.regclass)",
    )
}

/// Why ingest must refuse now, or `None`. An error measuring is raised, never taken for room.
pub fn refusal() -> Option<String> {
    let limits = limits();
    if !limits.any() {
        return None;
    }
    let measured = (|| {
        let database = if limits.max_database_bytes > 0 {
            database_bytes()?
        } else {
            0
        };
        let queue = if limits.max_queued > 0 { queued()? } else { 0 };
        Ok::<_, spi::Error>((database, queue))
    })();
    match measured {
        Ok((database, queue)) => capacity::refusal(limits, database, queue),
        Err(err) => {
            ereport!(
                ERROR,
                PgSqlErrorCode::ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE,
                format!(
                    "pg_crashcache: cannot measure the database and the queue for the disk guard: {err}"
                )
            );
        }
    }
}
