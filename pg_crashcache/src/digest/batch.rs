//! One digest batch: claim queued payloads, digest each with the pure core, and hand all rows
//! to `crashcache._store_digest` in one statement. Runs inside the caller's transaction and
//! never sleeps.

use crashcache_core::digest::{self, Digest};
use std::rc::Rc;

use crashcache_core::archive::{self, Dictionary};
use crashcache_core::{json_repair, payload::PayloadKind};
use pgrx::prelude::*;
use pgrx::spi::{self, SpiClient};
use serde::Serialize;

use crate::{dictionary, guc};

/// What a batch did.
#[derive(Debug, Default, Clone, Copy)]
pub struct BatchOutcome {
    /// Payloads taken off the queue.
    pub claimed: usize,
    /// Of those, payloads moved to the error queue.
    pub failed: usize,
}

/// One payload's result, as `_store_digest` reads it.
#[derive(Serialize)]
struct DigestedPayload {
    archive_id: i64,
    /// Why the payload could not be digested; it then goes to `crashcache.queue_error`.
    error: Option<String>,
    #[serde(flatten)]
    rows: Option<Digest>,
}

struct Claimed {
    archive_id: i64,
    kind: String,
    codec: i16,
    body: Vec<u8>,
    content_hash: Vec<u8>,
    /// The zstd dictionary the body was packed with, if any.
    dictionary: Option<Rc<Dictionary>>,
}

/// Claims up to `limit` payloads (only `only`, when given) and stores what they digest to.
pub fn run(limit: i32, only: Option<i64>) -> Result<BatchOutcome, spi::Error> {
    Spi::connect_mut(|client| {
        let claimed = claim(client, limit, only)?;
        if claimed.is_empty() {
            return Ok(BatchOutcome::default());
        }
        let results: Vec<DigestedPayload> = claimed.iter().map(digest_one).collect();
        let outcome = BatchOutcome {
            claimed: results.len(),
            failed: results.iter().filter(|r| r.error.is_some()).count(),
        };
        // PostgreSQL's text and jsonb refuse U+0000, which events may carry.
        let doc = json_repair::replace_nul_escapes(
            serde_json::to_string(&results)
                .unwrap_or_else(|e| error!("cannot serialise digest batch: {e}")),
        );
        client.update(
            "SELECT crashcache._store_digest($1::jsonb)",
            None,
            &[doc.into()],
        )?;
        Ok(outcome)
    })
}

fn claim(
    client: &mut SpiClient<'_>,
    limit: i32,
    only: Option<i64>,
) -> Result<Vec<Claimed>, spi::Error> {
    let rows = client.update(
        "SELECT archive_id, kind, codec, body, content_hash FROM crashcache._claim($1, $2, $3)",
        None,
        &[
            limit.into(),
            i64::from(guc::BATCH_MAX_BYTES.get()).into(),
            only.into(),
        ],
    )?;
    let mut claimed = Vec::with_capacity(rows.len());
    for row in rows {
        let codec = row.get::<i16>(3)?.unwrap_or_default();
        let body = row.get::<Vec<u8>>(4)?.unwrap_or_default();
        claimed.push(Claimed {
            archive_id: row.get::<i64>(1)?.unwrap_or_default(),
            kind: row.get::<String>(2)?.unwrap_or_default(),
            content_hash: row.get::<Vec<u8>>(5)?.unwrap_or_default(),
            dictionary: None,
            codec,
            body,
        });
    }
    for payload in &mut claimed {
        payload.dictionary = archive::dictionary_id(payload.codec, &payload.body)
            .and_then(|id| dictionary::get_with(client, id));
    }
    Ok(claimed)
}

fn digest_one(payload: &Claimed) -> DigestedPayload {
    let result = (|| {
        let kind = PayloadKind::from_name(&payload.kind)
            .ok_or_else(|| format!("unknown payload kind {:?}", payload.kind))?;
        let hash: [u8; 32] = payload
            .content_hash
            .as_slice()
            .try_into()
            .map_err(|_| "archive has no valid content hash".to_string())?;
        let limit = guc::bytes(&guc::MAX_DECOMPRESSED_BYTES);
        let decoded = archive::unpack(
            payload.codec,
            &payload.body,
            limit,
            payload.dictionary.as_deref(),
        )
        .map_err(|e| e.to_string())?;
        digest::digest(kind, &decoded, &hash).map_err(|e| e.to_string())
    })();
    match result {
        Ok(rows) => DigestedPayload {
            archive_id: payload.archive_id,
            error: None,
            rows: Some(rows),
        },
        Err(reason) => DigestedPayload {
            archive_id: payload.archive_id,
            error: Some(reason),
            rows: None,
        },
    }
}

/// Moves one payload to the error queue, for a payload whose rows the database refused.
pub fn fail(archive_id: i64, reason: &str) -> Result<(), spi::Error> {
    Spi::run_with_args(
        "SELECT crashcache._fail_payload($1, $2)",
        &[archive_id.into(), reason.into()],
    )
}

/// Trains the first dictionary if there is none and the archive holds `after` payloads.
pub fn train_first_dictionary(after: i32) -> Result<Option<i32>, spi::Error> {
    Spi::get_one_with_args(
        "SELECT CASE WHEN NOT EXISTS (SELECT FROM crashcache.dictionary)
              AND (SELECT count(*) FROM (SELECT FROM crashcache.archive LIMIT $1) a) >= $1
         THEN crashcache.train_dictionary() END",
        &[i64::from(after).into()],
    )
}

/// Whether the archive has a dictionary.
pub fn has_dictionary() -> Result<bool, spi::Error> {
    Spi::get_one("SELECT EXISTS (SELECT FROM crashcache.dictionary)").map(|v| v.unwrap_or(false))
}

/// The oldest queued payload, for retrying a failed batch one payload at a time; `None` when
/// the queue is empty. (An aggregate always returns its one row: `get_one` on a query that
/// returns none is an error, not `None`.)
pub fn oldest_queued() -> Result<Option<i64>, spi::Error> {
    Spi::get_one("SELECT min(archive_id) FROM crashcache.queue")
}
