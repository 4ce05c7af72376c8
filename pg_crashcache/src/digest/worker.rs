//! The digest workers' lifecycle: registration, the latch loop, signals, and the transactions
//! each batch runs in. What a batch does is in [`super::batch`].
//!
//! A batch is atomic. If the database refuses a batch's rows, the worker rolls it back and
//! retries the next payloads one at a time, so the one at fault ends in `crashcache.queue_error`
//! and the others are digested.

use std::panic::{AssertUnwindSafe, RefUnwindSafe, UnwindSafe};
use std::sync::atomic::Ordering::Relaxed;
use std::time::Duration;

use pgrx::bgworkers::{BackgroundWorker, BackgroundWorkerBuilder, SignalWakeFlags};
use pgrx::pg_sys;
use pgrx::pg_sys::panic::CaughtError;
use pgrx::prelude::*;
use pgrx::spi;

use super::batch::{self, BatchOutcome};
use super::session::Session;
use crate::{guc, wake};

/// How long to wait for `CREATE EXTENSION` before looking again.
const NOT_INSTALLED_WAIT: Duration = Duration::from_secs(1);
/// Back-off after a batch failed for a reason outside any payload (for example a lock timeout).
const FAILURE_WAIT: Duration = Duration::from_secs(1);
/// Back-off after a deadlock or serialization failure, before the same batch runs again.
const TRANSIENT_WAIT: Duration = Duration::from_millis(20);
/// How many times in a row the same work is tried again after a transient failure before the
/// payloads are taken one by one, so that one that always fails cannot stop the digest.
const MAX_TRANSIENT_RETRIES: u32 = 10;
/// How often an idle worker 0 looks whether the first dictionary is due.
const DICTIONARY_CHECK_EVERY: Duration = Duration::from_secs(10);

pub fn register_all() {
    for index in 0..guc::WORKERS.get() {
        BackgroundWorkerBuilder::new(&format!("pg_crashcache digest worker {index}"))
            .set_type("pg_crashcache digest")
            .set_library("pg_crashcache")
            .set_function("crashcache_digest_worker_main")
            .set_argument(Some(pg_sys::Datum::from(index)))
            .enable_spi_access()
            // The database may not exist yet at server start: retry instead of giving up.
            .set_restart_time(Some(Duration::from_secs(2)))
            .load();
    }
}

#[pg_guard]
#[unsafe(no_mangle)]
pub extern "C-unwind" fn crashcache_digest_worker_main(arg: pg_sys::Datum) {
    let index = arg.value();
    BackgroundWorker::attach_signal_handlers(SignalWakeFlags::SIGHUP | SignalWakeFlags::SIGTERM);
    let database = guc::string(&guc::DATABASE);
    BackgroundWorker::connect_worker_to_spi(Some(&database), None);
    wake::register_worker(index);
    log!("pg_crashcache digest worker {index} started in database {database:?}");

    let mut worker = Worker {
        trains_dictionary: index == 0,
        ..Worker::default()
    };
    loop {
        if BackgroundWorker::sighup_received() {
            unsafe { pg_sys::ProcessConfigFile(pg_sys::GucContext::PGC_SIGHUP) };
        }
        let wait = worker.step();
        // Background workers must flush their table statistics themselves; autovacuum and
        // autoanalyze of the digested tables depend on them.
        unsafe { pg_sys::pgstat_report_stat(false) };
        if !BackgroundWorker::wait_latch(Some(wait)) {
            break;
        }
    }
    wake::unregister_worker(index);
}

#[derive(Default)]
struct Worker {
    installed: bool,
    /// Payloads still to digest one at a time after a batch failed.
    retry_singly: usize,
    /// Transient failures in a row.
    transient_retries: u32,
    /// Whether this worker trains the first dictionary (one worker does).
    trains_dictionary: bool,
    /// When it last looked.
    dictionary_checked: Option<std::time::Instant>,
    /// The dimension ids it has learned and its prepared statements.
    session: Session,
}

impl Worker {
    /// Does one unit of work and says how long to wait (at most) before the next.
    fn step(&mut self) -> Duration {
        if !self.installed {
            self.installed = in_transaction(extension_installed).unwrap_or(false);
            if !self.installed {
                return NOT_INSTALLED_WAIT;
            }
        }
        let batch_size = guc::BATCH_SIZE.get();
        let result = if self.retry_singly > 0 {
            self.retry_singly -= 1;
            self.digest_one_alone()
        } else {
            match self.run_batch(batch_size, None) {
                Ok(outcome) => Ok(outcome),
                // No payload is at fault: the same batch runs again.
                Err(failed) if self.retry_transient(&failed) => {
                    log!("pg_crashcache: digest batch rolled back, retrying it: {failed}");
                    return TRANSIENT_WAIT;
                }
                Err(failed) => {
                    log!("pg_crashcache: digest batch rolled back, retrying its payloads one by one: {failed}");
                    self.retry_singly = usize::try_from(batch_size).unwrap_or(1);
                    return Duration::ZERO;
                }
            }
        };
        match result {
            Ok(outcome) => {
                self.transient_retries = 0;
                let outcome = self.committed(outcome);
                if outcome.claimed > 0
                    && (self.retry_singly > 0 || outcome.claimed >= batch_size as usize)
                {
                    Duration::ZERO
                } else if outcome.claimed > 0 {
                    gather();
                    Duration::ZERO
                } else {
                    if outcome.claimed == 0 {
                        self.train_first_dictionary_when_due();
                    }
                    Duration::from_millis(guc::IDLE_WAIT_MS.get().max(10) as u64)
                }
            }
            // A deadlock while retrying one by one: that payload's turn comes again.
            Err(failed) if failed.transient => {
                self.retry_singly += 1;
                self.transient_retries += 1;
                TRANSIENT_WAIT
            }
            Err(reason) => {
                warning!("pg_crashcache digest worker: {reason}");
                // The extension may have been dropped; look again before the next batch.
                self.installed = false;
                FAILURE_WAIT
            }
        }
    }

    /// Trains the archive's first zstd dictionary once it holds `crashcache.dictionary_after`
    /// payloads, looking at most every few seconds and only while the queue is empty.
    fn train_first_dictionary_when_due(&mut self) {
        let after = guc::DICTIONARY_AFTER.get();
        if !self.trains_dictionary || after <= 0 {
            return;
        }
        if self
            .dictionary_checked
            .is_some_and(|at| at.elapsed() < DICTIONARY_CHECK_EVERY)
        {
            return;
        }
        self.dictionary_checked = Some(std::time::Instant::now());
        match in_transaction(|| batch::train_first_dictionary(after)) {
            Ok(Some(id)) => log!("pg_crashcache: trained zstd dictionary {id} for the archive"),
            Ok(None) => {}
            Err(reason) => warning!("pg_crashcache: could not train a dictionary: {reason}"),
        }
        // One is enough: later ones are the user's call (crashcache.train_dictionary()).
        if in_transaction(batch::has_dictionary).unwrap_or(false) {
            self.trains_dictionary = false;
        }
    }

    /// Whether a failed batch is to run again as it was.
    fn retry_transient(&mut self, failed: &TxFailure) -> bool {
        if failed.transient && self.transient_retries < MAX_TRANSIENT_RETRIES {
            self.transient_retries += 1;
            true
        } else {
            self.transient_retries = 0;
            false
        }
    }

    /// Digests the oldest queued payload on its own; if the database refuses its rows, it goes
    /// to the error queue with the database's reason.
    fn digest_one_alone(&mut self) -> Result<BatchOutcome, TxFailure> {
        let Some(archive_id) = in_transaction(batch::oldest_queued)? else {
            self.retry_singly = 0;
            return Ok(BatchOutcome::default());
        };
        match self.run_batch(1, Some(archive_id)) {
            Ok(outcome) => Ok(outcome),
            // Not the payload's fault: it stays queued for the next try.
            Err(failed) if self.transient_retries < MAX_TRANSIENT_RETRIES && failed.transient => {
                Err(failed)
            }
            Err(failed) => {
                in_transaction(|| batch::fail(archive_id, &failed.message))?;
                Ok(BatchOutcome {
                    claimed: 1,
                    failed: 1,
                    ..BatchOutcome::default()
                })
            }
        }
    }
}

/// Lets payloads gather after a batch that did not fill (`crashcache.gather`): the commits
/// that wake the worker meanwhile are not waited for, so the next batch takes them all.
fn gather() {
    let ms = guc::GATHER_MS.get();
    if ms > 0 {
        std::thread::sleep(Duration::from_millis(ms as u64));
    }
}

impl Worker {
    /// One batch in a transaction of its own. After a failure the prepared statements go: an
    /// update of the extension may have replaced what they call.
    fn run_batch(&mut self, limit: i32, only: Option<i64>) -> Result<BatchOutcome, TxFailure> {
        let session = AssertUnwindSafe(&mut self.session);
        let result = in_transaction(move || {
            // Moved whole: a closure that only named the field would capture the bare `&mut`.
            let session = session;
            batch::run(limit, only, session.0)
        });
        if result.is_err() {
            self.session.statements.forget();
        }
        result
    }

    /// After a batch committed: keeps the ids it learned and counts it on the board.
    fn committed(&mut self, mut outcome: BatchOutcome) -> BatchOutcome {
        self.session
            .dimensions
            .remember(std::mem::take(&mut outcome.learned));
        if let Some(board) = wake::board() {
            board.digested.fetch_add(outcome.claimed as u64, Relaxed);
            board.failed.fetch_add(outcome.failed as u64, Relaxed);
        }
        outcome
    }
}

fn extension_installed() -> Result<bool, spi::Error> {
    Ok(
        Spi::get_one::<bool>("SELECT to_regclass('crashcache.queue') IS NOT NULL")?
            .unwrap_or(false),
    )
}

/// Why a transaction was rolled back.
#[derive(Debug)]
struct TxFailure {
    message: String,
    /// A deadlock or serialization failure, or a row referenced that another transaction
    /// deleted meanwhile (retention removing an issue as a new event of it comes in): running
    /// the same work again may well succeed, and no payload is to blame for it.
    transient: bool,
}

impl TxFailure {
    fn from_report(report: &pgrx::pg_sys::panic::ErrorReportWithLevel) -> Self {
        use pgrx::PgSqlErrorCode::{
            ERRCODE_FOREIGN_KEY_VIOLATION, ERRCODE_T_R_DEADLOCK_DETECTED,
            ERRCODE_T_R_SERIALIZATION_FAILURE,
        };
        let code = report.sql_error_code();
        Self {
            message: report.message().to_string(),
            transient: matches!(
                code,
                ERRCODE_T_R_DEADLOCK_DETECTED
                    | ERRCODE_T_R_SERIALIZATION_FAILURE
                    | ERRCODE_FOREIGN_KEY_VIOLATION
            ),
        }
    }
}

impl std::fmt::Display for TxFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

/// Runs `body` in a transaction of its own: commits if it returns `Ok`, rolls back and says
/// why if it returns `Err` or raises an ERROR.
fn in_transaction<R>(
    body: impl FnOnce() -> Result<R, spi::Error> + UnwindSafe + RefUnwindSafe,
) -> Result<R, TxFailure> {
    unsafe {
        pg_sys::SetCurrentStatementStartTimestamp();
        pg_sys::StartTransactionCommand();
        pg_sys::PushActiveSnapshot(pg_sys::GetTransactionSnapshot());
    }
    let mut body = Some(body);
    PgTryBuilder::new(move || match body.take().map(|f| f()) {
        Some(Ok(value)) => {
            unsafe {
                pg_sys::PopActiveSnapshot();
                pg_sys::CommitTransactionCommand();
            }
            Ok(value)
        }
        Some(Err(e)) => {
            unsafe { pg_sys::AbortCurrentTransaction() };
            Err(TxFailure {
                message: e.to_string(),
                transient: false,
            })
        }
        None => Err(TxFailure {
            message: "transaction body ran twice".to_string(),
            transient: false,
        }),
    })
    .catch_others(|caught| {
        unsafe { pg_sys::AbortCurrentTransaction() };
        Err(match caught {
            CaughtError::PostgresError(report)
            | CaughtError::ErrorReport(report)
            | CaughtError::RustPanic {
                ereport: report, ..
            } => TxFailure::from_report(&report),
        })
    })
    .execute()
}
