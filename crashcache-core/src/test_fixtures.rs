//! The captures in `tests/fixtures`, read for unit tests.
//!
//! Real SDK traffic, read from disk so that every module tests against the same bytes.

use serde_json::Value;

/// A fixture's bytes, by path under `tests/fixtures` (e.g. `python/event.envelope.txt`).
pub(crate) fn read(path: &str) -> Vec<u8> {
    let full = format!("{}/tests/fixtures/{path}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read(&full).unwrap_or_else(|e| panic!("{full}: {e}"))
}

/// A JSON fixture, by path under `tests/fixtures`.
pub(crate) fn json(path: &str) -> Value {
    serde_json::from_slice(&read(path)).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// A Python SDK envelope as sent, e.g. `python_envelope("event")`.
pub(crate) fn python_envelope(name: &str) -> Vec<u8> {
    read(&format!("python/{name}.envelope.txt"))
}

/// The event JSON of a Python SDK capture, e.g. `python_event("event.case-message")`.
pub(crate) fn python_event(name: &str) -> Value {
    json(&format!("python/{name}.payload.json"))
}
