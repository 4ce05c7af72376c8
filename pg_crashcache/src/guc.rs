//! Every `crashcache.*` setting. Nothing else in the extension reads configuration.

use std::ffi::CString;

use pgrx::guc::{GucContext, GucFlags, GucRegistry, GucSetting};

/// Database the digest workers connect to.
pub static DATABASE: GucSetting<Option<CString>> =
    GucSetting::<Option<CString>>::new(Some(c"postgres"));
/// Number of digest workers.
pub static WORKERS: GucSetting<i32> = GucSetting::<i32>::new(2);
/// Queued payloads one worker digests in one transaction.
pub static BATCH_SIZE: GucSetting<i32> = GucSetting::<i32>::new(500);
/// Decoded payload bytes one worker digests in one transaction (at least one payload).
pub static BATCH_MAX_BYTES: GucSetting<i32> = GucSetting::<i32>::new(64 << 20);
/// How long an idle worker sleeps when nobody wakes it, in milliseconds.
pub static IDLE_WAIT_MS: GucSetting<i32> = GucSetting::<i32>::new(5000);
/// After a batch that did not fill, how long a worker lets payloads gather before the next.
pub static GATHER_MS: GucSetting<i32> = GucSetting::<i32>::new(5);
/// Largest request body accepted, as sent (compressed).
pub static MAX_COMPRESSED_BYTES: GucSetting<i32> = GucSetting::<i32>::new(20 << 20);
/// Largest request body accepted after decompression.
pub static MAX_DECOMPRESSED_BYTES: GucSetting<i32> = GucSetting::<i32>::new(200 << 20);
/// Largest single event (or transaction) after decompression.
pub static MAX_EVENT_BYTES: GucSetting<i32> = GucSetting::<i32>::new(1 << 20);
/// Most session updates in one envelope.
pub static MAX_SESSIONS: GucSetting<i32> = GucSetting::<i32>::new(100);
/// Payloads in the archive before the first dictionary is trained automatically; 0 = never.
pub static DICTIONARY_AFTER: GucSetting<i32> = GucSetting::<i32>::new(1000);
/// Database size at which ingest refuses new payloads, in MB; 0 = no bound.
pub static MAX_DATABASE_MB: GucSetting<i32> = GucSetting::<i32>::new(0);
/// Queued payloads at which ingest refuses new ones; 0 = no bound.
pub static MAX_QUEUED: GucSetting<i32> = GucSetting::<i32>::new(1_000_000);
/// Base URL SDKs reach the ingest proxy at, used to print DSNs.
pub static PUBLIC_URL: GucSetting<Option<CString>> =
    GucSetting::<Option<CString>>::new(Some(c"http://127.0.0.1:3000"));
/// The slug of the one organization the Web API shows (`/api/0/organizations/{slug}/`).
pub static ORGANIZATION_SLUG: GucSetting<Option<CString>> =
    GucSetting::<Option<CString>>::new(Some(c"crashcache"));

/// The most workers `crashcache.workers` allows; shared memory has a wake-up slot for each.
pub const MAX_WORKERS: i32 = 32;

pub fn init() {
    GucRegistry::define_string_guc(
        c"crashcache.database",
        c"Database the digest workers connect to.",
        c"The database where CREATE EXTENSION pg_crashcache was run.",
        &DATABASE,
        GucContext::Postmaster,
        GucFlags::default(),
    );
    GucRegistry::define_int_guc(
        c"crashcache.workers",
        c"Number of digest background workers.",
        c"Each worker digests queued payloads in batches; more than the number of cores rarely helps.",
        &WORKERS,
        0,
        MAX_WORKERS,
        GucContext::Postmaster,
        GucFlags::default(),
    );
    GucRegistry::define_int_guc(
        c"crashcache.batch_size",
        c"Queued payloads a worker digests in one transaction.",
        c"Larger batches digest faster; a failing batch is retried one payload at a time.",
        &BATCH_SIZE,
        1,
        100_000,
        GucContext::Sighup,
        GucFlags::default(),
    );
    GucRegistry::define_int_guc(
        c"crashcache.batch_max_bytes",
        c"Decoded payload bytes a worker digests in one transaction.",
        c"Bounds a worker's memory when large envelopes queue up; a batch always takes at least one payload.",
        &BATCH_MAX_BYTES,
        1024,
        i32::MAX,
        GucContext::Sighup,
        GucFlags::UNIT_BYTE,
    );
    GucRegistry::define_int_guc(
        c"crashcache.idle_wait",
        c"How long an idle digest worker sleeps when nobody wakes it.",
        c"Ingest wakes the workers on commit, so this only bounds the delay for work enqueued by other means.",
        &IDLE_WAIT_MS,
        10,
        3_600_000,
        GucContext::Sighup,
        GucFlags::UNIT_MS,
    );
    GucRegistry::define_int_guc(
        c"crashcache.gather",
        c"After a digest batch that did not fill, how long the worker lets payloads gather.",
        c"Every commit of ingest wakes the workers: without a pause a steady load is digested a payload or two per transaction, and each transaction costs as much as many payloads. 0 digests at once.",
        &GATHER_MS,
        0,
        1000,
        GucContext::Sighup,
        GucFlags::UNIT_MS,
    );
    GucRegistry::define_int_guc(
        c"crashcache.max_compressed_bytes",
        c"Largest request body accepted by ingest, as sent.",
        c"Bodies over this size are refused with too_large (HTTP 413).",
        &MAX_COMPRESSED_BYTES,
        1024,
        i32::MAX,
        GucContext::Userset,
        GucFlags::UNIT_BYTE,
    );
    GucRegistry::define_int_guc(
        c"crashcache.max_decompressed_bytes",
        c"Largest request body accepted by ingest after decompression.",
        c"Decompression stops at this size, so a compressed bomb costs no more than this.",
        &MAX_DECOMPRESSED_BYTES,
        1024,
        i32::MAX,
        GucContext::Userset,
        GucFlags::UNIT_BYTE,
    );
    GucRegistry::define_int_guc(
        c"crashcache.max_event_bytes",
        c"Largest event, transaction or feedback item after decompression.",
        c"Sentry's own limit is 1 MiB.",
        &MAX_EVENT_BYTES,
        1024,
        i32::MAX,
        GucContext::Userset,
        GucFlags::UNIT_BYTE,
    );
    GucRegistry::define_int_guc(
        c"crashcache.max_sessions",
        c"Most session updates accepted in one envelope.",
        c"Sentry's own limit is 100.",
        &MAX_SESSIONS,
        1,
        100_000,
        GucContext::Userset,
        GucFlags::default(),
    );
    GucRegistry::define_int_guc(
        c"crashcache.dictionary_after",
        c"Payloads in the archive before the first zstd dictionary is trained automatically.",
        c"An idle digest worker trains it with crashcache.train_dictionary(); 0 leaves it to the user.",
        &DICTIONARY_AFTER,
        0,
        i32::MAX,
        GucContext::Sighup,
        GucFlags::default(),
    );
    GucRegistry::define_int_guc(
        c"crashcache.max_database_size",
        c"Database size at which ingest refuses new payloads (HTTP 429); 0 is no bound.",
        c"Keeps a flood or a digest that falls behind from filling the disk; measured every 10 s.",
        &MAX_DATABASE_MB,
        0,
        i32::MAX,
        GucContext::Sighup,
        GucFlags::UNIT_MB,
    );
    GucRegistry::define_int_guc(
        c"crashcache.max_queued",
        c"Payloads waiting to be digested at which ingest refuses new ones (HTTP 429); 0 is no bound.",
        c"Read from the queue's table statistics, so it lags by about a second.",
        &MAX_QUEUED,
        0,
        i32::MAX,
        GucContext::Sighup,
        GucFlags::default(),
    );
    GucRegistry::define_string_guc(
        c"crashcache.public_url",
        c"Base URL at which SDKs reach the ingest proxy.",
        c"Used to print DSNs, for example http://127.0.0.1:3000.",
        &PUBLIC_URL,
        GucContext::Userset,
        GucFlags::default(),
    );
    GucRegistry::define_string_guc(
        c"crashcache.organization_slug",
        c"Slug of the organization Sentry's Web API shows.",
        c"One organization per installation; clients name it in their settings (SENTRY_ORG).",
        &ORGANIZATION_SLUG,
        GucContext::Userset,
        GucFlags::default(),
    );
}

/// A non-negative integer setting as a size.
pub fn bytes(setting: &GucSetting<i32>) -> usize {
    usize::try_from(setting.get()).unwrap_or(0)
}

/// A string setting, empty when unset.
pub fn string(setting: &GucSetting<Option<CString>>) -> String {
    setting
        .get()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default()
}
