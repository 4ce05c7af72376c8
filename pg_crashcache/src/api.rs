//! The SQL functions written in Rust: each converts its arguments and calls the pure core.

use crashcache_core::{
    archive, digest, envelope, fingerprint, ingest, json_repair, normalise, payload,
};
use pgrx::prelude::*;
use pgrx::JsonB;

use crate::{capacity, dictionary, errors, guc, wake};

fn payload_kind(kind: &str) -> payload::PayloadKind {
    payload::PayloadKind::from_name(kind)
        .unwrap_or_else(|| error!("unknown payload kind {kind:?}: expected 'envelope' or 'store'"))
}

fn limit(arg: Option<i32>, setting: &pgrx::guc::GucSetting<i32>) -> usize {
    arg.and_then(|v| usize::try_from(v).ok())
        .unwrap_or_else(|| guc::bytes(setting))
}

/// What `_prepare_payload` answers for one request body: the error columns or the payload
/// columns, named here and put in the SQL signature's order in one place (`into_row`).
#[derive(Default)]
struct PreparedPayload {
    error_code: Option<String>,
    http_status: i32,
    detail: Option<String>,
    content_hash: Option<Vec<u8>>,
    codec: Option<i16>,
    stored: Option<Vec<u8>>,
    raw_size: Option<i32>,
    event_id: Option<String>,
    dsn_key: Option<String>,
}

type PreparedRow = (
    Option<String>,
    i32,
    Option<String>,
    Option<Vec<u8>>,
    Option<i16>,
    Option<Vec<u8>>,
    Option<i32>,
    Option<String>,
    Option<String>,
);

impl PreparedPayload {
    fn accepted(p: ingest::Prepared) -> Self {
        Self {
            http_status: 200,
            content_hash: Some(p.content_hash.to_vec()),
            codec: Some(p.codec),
            stored: Some(p.stored),
            raw_size: Some(i32::try_from(p.raw_size).unwrap_or(i32::MAX)),
            event_id: p.event_id,
            dsn_key: p.dsn_key,
            ..Self::default()
        }
    }

    fn refused(e: ingest::IngestError) -> Self {
        Self {
            error_code: Some(e.code().to_string()),
            http_status: e.http_status(),
            detail: Some(e.to_string()),
            ..Self::default()
        }
    }

    fn into_row(self) -> PreparedRow {
        let Self {
            error_code,
            http_status,
            detail,
            content_hash,
            codec,
            stored,
            raw_size,
            event_id,
            dsn_key,
        } = self;
        (
            error_code,
            http_status,
            detail,
            content_hash,
            codec,
            stored,
            raw_size,
            event_id,
            dsn_key,
        )
    }
}

/// Dictionary `id` for unpacking, if the payload names one; a dictionary that cannot be read
/// is an error that says which.
fn dictionary_for(id: Option<u32>) -> Option<std::rc::Rc<archive::Dictionary>> {
    let id = id?;
    dictionary::get(id).unwrap_or_else(|e| {
        errors::raise(
            PgSqlErrorCode::ERRCODE_EXTERNAL_ROUTINE_EXCEPTION,
            format!("cannot read crashcache.dictionary {id}: {e}"),
        )
    })
}

/// Decodes, checks, hashes and packs a request body for `crashcache.ingest`. Either the error
/// columns or the payload columns are set. Stable, not immutable: it reads the size settings
/// and the dictionary table. (pgrx names a record's columns only in the signature.)
#[allow(clippy::type_complexity)]
#[pg_extern(name = "_prepare_payload", stable, parallel_restricted)]
fn prepare_payload(
    body: &[u8],
    content_encoding: Option<&str>,
    kind: &str,
    max_compressed_bytes: Option<i32>,
    max_decompressed_bytes: Option<i32>,
    dictionary_id: default!(Option<i32>, "NULL"),
) -> TableIterator<
    'static,
    (
        name!(error_code, Option<String>),
        name!(http_status, i32),
        name!(detail, Option<String>),
        name!(content_hash, Option<Vec<u8>>),
        name!(codec, Option<i16>),
        name!(stored, Option<Vec<u8>>),
        name!(raw_size, Option<i32>),
        name!(event_id, Option<String>),
        name!(dsn_key, Option<String>),
    ),
> {
    let limits = ingest::Limits {
        max_compressed_bytes: limit(max_compressed_bytes, &guc::MAX_COMPRESSED_BYTES),
        max_decompressed_bytes: limit(max_decompressed_bytes, &guc::MAX_DECOMPRESSED_BYTES),
        items: payload::ItemLimits {
            max_event_bytes: guc::bytes(&guc::MAX_EVENT_BYTES),
            max_sessions: guc::bytes(&guc::MAX_SESSIONS),
        },
    };
    let dictionary = dictionary_for(dictionary_id.and_then(|id| u32::try_from(id).ok()));
    let kind = payload_kind(kind);
    let prepared =
        match ingest::prepare(body, content_encoding, kind, limits, dictionary.as_deref()) {
            Ok(p) => PreparedPayload::accepted(p),
            Err(e) => PreparedPayload::refused(e),
        };
    TableIterator::once(prepared.into_row())
}

/// Wakes the digest workers when the current transaction commits.
#[pg_extern(name = "_wake_workers", volatile, parallel_unsafe)]
fn wake_workers() {
    wake::wake_on_commit();
}

/// Why ingest refuses new payloads now (the disk guard), or NULL while there is room.
#[pg_extern(name = "_over_capacity", volatile, parallel_restricted)]
fn over_capacity() -> Option<String> {
    capacity::refusal()
}

/// Figures the digest workers keep in shared memory since the server started.
#[pg_extern(name = "_worker_stats", volatile, parallel_safe)]
fn worker_stats() -> TableIterator<
    'static,
    (
        name!(running_workers, i64),
        name!(digested_since_start, i64),
        name!(failed_since_start, i64),
    ),
> {
    use std::sync::atomic::Ordering::Relaxed;
    let (digested, failed) = wake::board().map_or((0, 0), |b| {
        (b.digested.load(Relaxed), b.failed.load(Relaxed))
    });
    TableIterator::once((
        wake::running_workers(),
        i64::try_from(digested).unwrap_or(i64::MAX),
        i64::try_from(failed).unwrap_or(i64::MAX),
    ))
}

/// Sentry's default grouping key of an event: 32 hex digits.
#[pg_extern(immutable, strict, parallel_safe)]
fn fingerprint(event: JsonB) -> String {
    fingerprint::fingerprint(&event.0).hash
}

/// How an event is grouped: `{"hash", "method", "components"}`.
#[pg_extern(immutable, strict, parallel_safe)]
fn grouping(event: JsonB) -> JsonB {
    JsonB(to_json(&fingerprint::fingerprint(&event.0)))
}

/// What the digest stores of an event: dimensions, title, culprit, tags, user, fingerprint.
#[pg_extern(immutable, strict, parallel_safe)]
fn normalise_event(event: JsonB) -> JsonB {
    match normalise::normalise_event(&event.0) {
        Ok(facts) => JsonB(to_json(&facts)),
        Err(e) => error!("cannot normalise event: {e}"),
    }
}

/// Every row a decoded payload would produce, by table, without storing anything.
#[pg_extern(immutable, strict, parallel_safe)]
fn digest_payload(payload: &[u8], kind: default!(&str, "'envelope'")) -> JsonB {
    let hash = archive::content_hash(payload);
    match digest::digest(payload_kind(kind), payload, &hash) {
        Ok(rows) => JsonB(to_json(&rows)),
        Err(e) => error!("cannot digest payload: {e}"),
    }
}

/// An archived payload restored to the bytes the SDK sent (after content decoding). Stable:
/// it reads the decompression limit and the dictionary table.
#[pg_extern(stable, strict, parallel_restricted)]
fn unpack(codec: i16, stored: &[u8]) -> Vec<u8> {
    let dictionary = dictionary_for(archive::dictionary_id(codec, stored));
    let limit = guc::bytes(&guc::MAX_DECOMPRESSED_BYTES);
    match archive::unpack(codec, stored, limit, dictionary.as_deref()) {
        Ok(bytes) => bytes,
        Err(e) => error!("{e}"),
    }
}

/// A zstd dictionary of at most `max_bytes` trained on `samples`, with the id `id` in its
/// header (see `crashcache.train_dictionary`).
#[pg_extern(name = "_train_dictionary", immutable, parallel_safe)]
fn train_dictionary(samples: Array<&[u8]>, max_bytes: i32, id: i32) -> Vec<u8> {
    let samples: Vec<Vec<u8>> = samples.iter().flatten().map(<[u8]>::to_vec).collect();
    let max_bytes = usize::try_from(max_bytes).unwrap_or(0);
    let id = u32::try_from(id).unwrap_or_else(|_| error!("dictionary id {id} is negative"));
    archive::train_dictionary(&samples, max_bytes, id).unwrap_or_else(|e| error!("{e}"))
}

/// A payload item's JSON, repaired the way the digest repairs it (see `json_repair`), so
/// that whatever was digested can be read back as `jsonb`.
#[pg_extern(immutable, strict, parallel_safe)]
fn item_json(payload: &[u8]) -> JsonB {
    match json_repair::parse(payload) {
        Ok(mut value) => {
            json_repair::replace_nul(&mut value);
            JsonB(value)
        }
        Err(e) => error!("not valid JSON: {e}"),
    }
}

/// `value` as JSON that PostgreSQL accepts (no U+0000).
fn to_json(value: &impl serde::Serialize) -> serde_json::Value {
    let mut json =
        serde_json::to_value(value).unwrap_or_else(|e| error!("cannot serialise result: {e}"));
    json_repair::replace_nul(&mut json);
    json
}

/// The items of a decoded payload: type, header and bytes. A store payload is one `event`.
#[pg_extern(immutable, strict, parallel_safe)]
fn payload_items(
    payload: &[u8],
    kind: default!(&str, "'envelope'"),
) -> TableIterator<
    'static,
    (
        name!(item_index, i32),
        name!(item_type, String),
        name!(headers, JsonB),
        name!(payload, Vec<u8>),
    ),
> {
    let rows: Vec<_> = match payload_kind(kind) {
        payload::PayloadKind::Store => vec![(
            0,
            "event".to_string(),
            JsonB(serde_json::json!({"type": "event"})),
            payload.to_vec(),
        )],
        payload::PayloadKind::Envelope => {
            let env =
                envelope::parse(payload).unwrap_or_else(|e| error!("malformed envelope: {e}"));
            env.items
                .iter()
                .enumerate()
                .map(|(i, item)| {
                    (
                        i32::try_from(i).unwrap_or(i32::MAX),
                        item.header.item_type.clone(),
                        JsonB(to_json(&item.header)),
                        item.payload.to_vec(),
                    )
                })
                .collect()
        }
    };
    TableIterator::new(rows)
}
