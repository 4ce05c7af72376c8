//! The Rust functions of the Web API's SQL (sql/web_api.sql): the search language and the
//! event's shape, from `crashcache_core::web_api`.

use crashcache_core::web_api::{event, search};
use pgrx::prelude::*;
use pgrx::{JsonB, PgSqlErrorCode};

/// A search as `_api_issue_matches()` applies it; bad syntax is invalid_parameter_value, which
/// the API answers 400 with the message.
#[pg_extern(name = "_parse_issue_query", immutable, strict, parallel_safe)]
fn parse_issue_query(query: &str) -> JsonB {
    match search::parse_issue_query(query) {
        Ok(parsed) => JsonB(serde_json::to_value(parsed).unwrap_or_default()),
        Err(e) => bad_input(&format!("Invalid search: {e}")),
    }
}

/// `statsPeriod` ("24h", "14d") in seconds; NULL for "".
#[pg_extern(name = "_parse_stats_period", immutable, strict, parallel_safe)]
fn parse_stats_period(period: &str) -> Option<i64> {
    search::parse_stats_period(period)
        .unwrap_or_else(|e| bad_input(&format!("Invalid statsPeriod: {e}")))
}

/// The parts of an event's Web API shape that come from what the SDK sent.
#[pg_extern(name = "_api_event_body", immutable, strict, parallel_safe)]
fn api_event_body(raw: JsonB) -> JsonB {
    JsonB(event::api_event(&raw.0))
}

fn bad_input(message: &str) -> ! {
    ereport!(
        PgLogLevel::ERROR,
        PgSqlErrorCode::ERRCODE_INVALID_PARAMETER_VALUE,
        message
    );
    unreachable!("ereport at ERROR does not return")
}
