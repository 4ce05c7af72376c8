//! Digesting into a schema older than this build (0.1.2 and before), between installing a new
//! package and `ALTER EXTENSION pg_crashcache UPDATE`: such a schema stores a batch from one
//! JSON document (`crashcache._store_digest(jsonb)`) and applies the arrival-time and address
//! rules itself. Remove once updates from 0.1.2 are no longer supported.

use crashcache_core::digest::Digest;
use crashcache_core::json_repair;
use pgrx::prelude::*;
use pgrx::spi::{self, SpiClient};
use serde::Serialize;

/// One payload's result, as the old `_store_digest` reads it.
#[derive(Serialize)]
struct DigestedPayload<'a> {
    archive_id: i64,
    error: Option<&'a str>,
    #[serde(flatten)]
    rows: Option<&'a Digest>,
}

pub fn store(
    client: &mut SpiClient<'_>,
    results: &[(i64, Result<Digest, String>)],
) -> Result<(), spi::Error> {
    let payloads: Vec<DigestedPayload<'_>> = results
        .iter()
        .map(|(archive_id, result)| DigestedPayload {
            archive_id: *archive_id,
            error: result.as_ref().err().map(String::as_str),
            rows: result.as_ref().ok(),
        })
        .collect();
    // PostgreSQL's text and jsonb refuse U+0000, which events may carry.
    let doc = json_repair::replace_nul_escapes(
        serde_json::to_string(&payloads)
            .unwrap_or_else(|e| error!("cannot serialise digest batch: {e}")),
    );
    client.update(
        "SELECT crashcache._store_digest($1::jsonb)",
        None,
        &[doc.into()],
    )?;
    Ok(())
}
