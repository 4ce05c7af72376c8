//! Pure logic of pg_crashcache: the bytes an SDK sent to the rows the tracker stores.
//!
//! No PostgreSQL and no HTTP in sight, so that it can be unit-tested and fuzzed.
//!
//! An event's path: [`decode`] undoes the HTTP content encoding under a size cap, [`payload`]
//! checks the framing and finds the event id (the ingest fast path stops there), and later
//! [`digest`] splits the payload into items and turns each into rows, using [`normalise`] for
//! events and [`fingerprint`] to group them into issues. Both read events through the private
//! `event` module and loose JSON through [`json`].

pub mod archive;
pub mod capacity;
pub mod decode;
pub mod digest;
pub mod envelope;
mod event;
pub mod fingerprint;
pub mod ids;
pub mod ingest;
pub mod json;
pub mod json_repair;
pub mod normalise;
pub mod payload;
pub mod timestamp;
pub mod web_api;

#[cfg(test)]
mod test_fixtures;
