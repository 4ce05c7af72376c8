//! Measuring what the disk guard (`crashcache_core::capacity`) decides on, cheaply enough for
//! every ingest statement: the queue's depth from its table statistics (no scan), the database
//! size (a walk of its files) at most every `SIZE_EVERY` per backend.

use std::cell::Cell;
use std::time::{Duration, Instant};

use crashcache_core::capacity::{self, CapacityLimits};
use pgrx::prelude::*;
use pgrx::spi;

use crate::guc;

/// How long a backend trusts the database size it measured.
const SIZE_EVERY: Duration = Duration::from_secs(10);

thread_local! {
    static DATABASE_SIZE: Cell<Option<(Instant, u64)>> = const { Cell::new(None) };
}

fn limits() -> CapacityLimits {
    let setting = |value: i32| u64::try_from(value).unwrap_or(0);
    CapacityLimits {
        max_database_bytes: setting(guc::MAX_DATABASE_MB.get()) * 1024 * 1024,
        max_queued: setting(guc::MAX_QUEUED.get()),
    }
}

fn database_bytes() -> Result<u64, spi::Error> {
    if let Some((at, bytes)) = DATABASE_SIZE.get() {
        if at.elapsed() < SIZE_EVERY {
            return Ok(bytes);
        }
    }
    let bytes =
        Spi::get_one::<i64>("SELECT pg_catalog.pg_database_size(pg_catalog.current_database())")?
            .and_then(|b| u64::try_from(b).ok())
            .unwrap_or(0);
    DATABASE_SIZE.set(Some((Instant::now(), bytes)));
    Ok(bytes)
}

fn queued() -> Result<u64, spi::Error> {
    let live = Spi::get_one::<i64>(
        "SELECT pg_catalog.pg_stat_get_live_tuples('crashcache.queue'::pg_catalog.regclass)",
    )?;
    Ok(live.and_then(|n| u64::try_from(n).ok()).unwrap_or(0))
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
