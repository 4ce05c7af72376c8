//! Waking the digest workers when a transaction that enqueued work commits, so an event is
//! digested within milliseconds instead of at the next timer tick.
//!
//! Each worker publishes its latch in shared memory. `crashcache._wake_workers()` marks the
//! current transaction; a transaction callback sets the latches once it has committed (waking
//! them earlier would let a worker look at the queue before the new rows are visible).

use std::cell::Cell;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use pgrx::pg_sys;
use pgrx::prelude::*;
use pgrx::shmem::PGRXSharedMemory;
use pgrx::{pg_shmem_init, PgAtomic};

use crate::guc::MAX_WORKERS;

const SLOTS: usize = MAX_WORKERS as usize;

/// What the workers share with every backend.
pub struct WorkerBoard {
    /// Address of each running worker's latch (0: no worker in that slot). Shared memory sits at
    /// the same address in every backend, so the address is valid everywhere.
    latches: [AtomicU64; SLOTS],
    /// Payloads digested (or moved to the error queue) since the server started.
    pub digested: AtomicU64,
    /// Payloads moved to the error queue since the server started.
    pub failed: AtomicU64,
}

// SAFETY: only atomics, no pointers that are dereferenced without a check.
unsafe impl PGRXSharedMemory for WorkerBoard {}

impl Default for WorkerBoard {
    fn default() -> Self {
        Self {
            latches: std::array::from_fn(|_| AtomicU64::new(0)),
            digested: AtomicU64::new(0),
            failed: AtomicU64::new(0),
        }
    }
}

static BOARD: PgAtomic<WorkerBoard> = unsafe { PgAtomic::new(c"pg_crashcache_worker_board") };
static SHARED_MEMORY_READY: AtomicBool = AtomicBool::new(false);

thread_local! {
    /// The current transaction enqueued work (backends are single-threaded).
    static WAKE_PENDING: Cell<bool> = const { Cell::new(false) };
    static CALLBACK_REGISTERED: Cell<bool> = const { Cell::new(false) };
}

/// Called from `_PG_init` while preloading.
pub fn init_shared_memory() {
    pg_shmem_init!(BOARD);
    SHARED_MEMORY_READY.store(true, Ordering::Relaxed);
}

/// The board, when this server preloaded the library.
pub fn board() -> Option<&'static WorkerBoard> {
    SHARED_MEMORY_READY
        .load(Ordering::Relaxed)
        .then(|| BOARD.get())
}

/// A worker announces its latch in slot `index`.
pub fn register_worker(index: usize) {
    if let (Some(board), Some(slot)) = (board(), index.checked_rem(SLOTS)) {
        let latch = unsafe { pg_sys::MyLatch } as u64;
        board.latches[slot].store(latch, Ordering::Release);
    }
}

/// A worker leaving clears its slot, so nobody sets a latch that may be reused.
pub fn unregister_worker(index: usize) {
    if let (Some(board), Some(slot)) = (board(), index.checked_rem(SLOTS)) {
        board.latches[slot].store(0, Ordering::Release);
    }
}

/// How many workers have announced themselves.
pub fn running_workers() -> i64 {
    board().map_or(0, |b| {
        b.latches
            .iter()
            .filter(|l| l.load(Ordering::Acquire) != 0)
            .count() as i64
    })
}

/// Asks for the workers to be woken when the current transaction commits.
pub fn wake_on_commit() {
    if board().is_none() {
        return;
    }
    WAKE_PENDING.with(|p| p.set(true));
    if !CALLBACK_REGISTERED.with(|r| r.replace(true)) {
        unsafe { pg_sys::RegisterXactCallback(Some(on_transaction_end), std::ptr::null_mut()) };
    }
}

#[pg_guard]
unsafe extern "C-unwind" fn on_transaction_end(
    event: pg_sys::XactEvent::Type,
    _arg: *mut std::ffi::c_void,
) {
    match event {
        pg_sys::XactEvent::XACT_EVENT_COMMIT | pg_sys::XactEvent::XACT_EVENT_PARALLEL_COMMIT
            if WAKE_PENDING.with(|p| p.replace(false)) =>
        {
            wake_all();
        }
        pg_sys::XactEvent::XACT_EVENT_ABORT | pg_sys::XactEvent::XACT_EVENT_PARALLEL_ABORT => {
            WAKE_PENDING.with(|p| p.set(false));
        }
        _ => {}
    }
}

fn wake_all() {
    let Some(board) = board() else { return };
    for slot in &board.latches {
        let latch = slot.load(Ordering::Acquire);
        if latch != 0 {
            // SAFETY: the address is a PGPROC latch in shared memory; at worst it now belongs
            // to another process, which then sees one spurious wake-up.
            unsafe { pg_sys::SetLatch(latch as *mut pg_sys::Latch) };
        }
    }
}
