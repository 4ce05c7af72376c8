//! One digest batch: claim queued payloads, digest each with the pure core, resolve the
//! dimension values they name, and store each kind of row with one statement. Runs inside the
//! caller's transaction and never sleeps.

use std::rc::Rc;

use crashcache_core::archive::{self, Dictionary};
use crashcache_core::digest::columns::Origin;
use crashcache_core::digest::{self, Digest};
use crashcache_core::payload::PayloadKind;
use pgrx::datum::TimestampWithTimeZone;
use pgrx::prelude::*;
use pgrx::spi::{self, SpiClient};

use pgrx::pg_sys::PgBuiltInOids;
use pgrx::PgOid;

use super::dimensions::{self, BatchIds, Ids};
use super::legacy;
use super::session::{Session, Statements};
use super::store::{self, Store};
use crate::{dictionary, guc};

/// What a batch did.
#[derive(Debug, Default)]
pub struct BatchOutcome {
    /// Payloads taken off the queue.
    pub claimed: usize,
    /// Of those, payloads moved to the error queue.
    pub failed: usize,
    /// Dimension ids the batch learned, to keep once it has committed.
    pub learned: Ids,
}

struct Claimed {
    archive_id: i64,
    project_id: i32,
    received_at: i64,
    client_ip: Option<String>,
    kind: String,
    codec: i16,
    body: Vec<u8>,
    content_hash: Vec<u8>,
    /// The zstd dictionary the body was packed with, if any.
    dictionary: Option<Rc<Dictionary>>,
}

impl Claimed {
    fn origin(&self) -> Origin<'_> {
        Origin {
            archive_id: self.archive_id,
            project_id: self.project_id,
            received_at: self.received_at,
            client_ip: self.client_ip.as_deref(),
        }
    }
}

/// Claims up to `limit` payloads (only `only`, when given) and stores what they digest to,
/// with the worker's `session`.
pub fn run(
    limit: i32,
    only: Option<i64>,
    session: &mut Session,
) -> Result<BatchOutcome, spi::Error> {
    Spi::connect_mut(|client| {
        let typed = session.begin_batch(client)?;
        let Session {
            dimensions: known,
            statements,
            ..
        } = session;
        let claimed = claim(client, statements, limit, only, typed)?;
        if claimed.is_empty() {
            return Ok(BatchOutcome::default());
        }
        let results: Vec<(i64, Result<Digest, String>)> = claimed
            .iter()
            .map(|p| (p.archive_id, digest_one(p)))
            .collect();
        let mut outcome = BatchOutcome {
            claimed: results.len(),
            failed: results.iter().filter(|(_, r)| r.is_err()).count(),
            learned: Ids::default(),
        };
        if !typed {
            legacy::store(client, &results)?;
            return Ok(outcome);
        }
        let mut batch = Vec::with_capacity(results.len());
        for (payload, (archive_id, result)) in claimed.iter().zip(results) {
            match result {
                Ok(rows) => batch.push((payload.origin(), rows)),
                Err(reason) => fail_with(client, statements, archive_id, &reason)?,
            }
        }
        let unknown = digest::unknown_dimension_values(&batch, known);
        outcome.learned = dimensions::learn(client, statements, unknown)?;
        let ids = BatchIds {
            known,
            learned: &outcome.learned,
        };
        let mut store = Store::new(client, statements, &ids);
        digest::visit_tables(&batch, &mut store);
        store.finish()?;
        Ok(outcome)
    })
}

fn claim(
    client: &mut SpiClient<'_>,
    statements: &mut Statements,
    limit: i32,
    only: Option<i64>,
    typed: bool,
) -> Result<Vec<Claimed>, spi::Error> {
    // An older schema's _claim returns the first five columns only.
    let (name, sql) = if typed {
        (
            "claim",
            "SELECT archive_id, kind, codec, body, content_hash, project_id, received_at, client_ip
             FROM crashcache._claim($1, $2, $3)",
        )
    } else {
        (
            "claim-legacy",
            "SELECT archive_id, kind, codec, body, content_hash FROM crashcache._claim($1, $2, $3)",
        )
    };
    let types = [
        PgOid::BuiltIn(PgBuiltInOids::INT4OID),
        PgOid::BuiltIn(PgBuiltInOids::INT8OID),
        PgOid::BuiltIn(PgBuiltInOids::INT8OID),
    ];
    let prepared = statements.get(client, name, || sql.to_string(), &types)?;
    let rows = client.update(
        prepared,
        None,
        &[
            limit.into(),
            i64::from(guc::BATCH_MAX_BYTES.get()).into(),
            only.into(),
        ],
    )?;
    let mut claimed = Vec::with_capacity(rows.len());
    for row in rows {
        let (project_id, received_at, client_ip) = if typed {
            (
                row.get::<i32>(6)?.unwrap_or_default(),
                row.get::<TimestampWithTimeZone>(7)?
                    .map_or(0, store::from_timestamptz),
                row.get::<String>(8)?,
            )
        } else {
            (0, 0, None)
        };
        claimed.push(Claimed {
            archive_id: row.get::<i64>(1)?.unwrap_or_default(),
            kind: row.get::<String>(2)?.unwrap_or_default(),
            codec: row.get::<i16>(3)?.unwrap_or_default(),
            body: row.get::<Vec<u8>>(4)?.unwrap_or_default(),
            content_hash: row.get::<Vec<u8>>(5)?.unwrap_or_default(),
            project_id,
            received_at,
            client_ip,
            dictionary: None,
        });
    }
    for payload in &mut claimed {
        if let Some(id) = archive::dictionary_id(payload.codec, &payload.body) {
            payload.dictionary = dictionary::get_with(client, id)?;
        }
    }
    Ok(claimed)
}

fn digest_one(payload: &Claimed) -> Result<Digest, String> {
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
}

const FAIL: &str = "SELECT crashcache._fail_payload($1, $2)";

fn fail_with(
    client: &mut SpiClient<'_>,
    statements: &mut Statements,
    archive_id: i64,
    reason: &str,
) -> Result<(), spi::Error> {
    let types = [
        PgOid::BuiltIn(PgBuiltInOids::INT8OID),
        PgOid::BuiltIn(PgBuiltInOids::TEXTOID),
    ];
    let prepared = statements.get(client, "fail", || FAIL.to_string(), &types)?;
    client.update(prepared, None, &[archive_id.into(), reason.into()])?;
    Ok(())
}

/// Moves one payload to the error queue, for a payload whose rows the database refused.
pub fn fail(archive_id: i64, reason: &str) -> Result<(), spi::Error> {
    Spi::run_with_args(FAIL, &[archive_id.into(), reason.into()])
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
