//! The bounds on what the Web API shows of a stored event: the caps, and the readers of strings,
//! lists and free-form data that keep to them, shared by `event` and `request`. Whatever JSON is
//! read through them, the answer is of bounded size.

use serde_json::{json, Value};

use crate::json::{self, truncate_str};

/// Longest string value kept, in characters (messages, source lines, variable values, ...).
pub(super) const MAX_STRING_CHARS: usize = 8 * 1024;
/// Longest object key, header, cookie or query name, and address, in characters.
pub(super) const MAX_KEY_CHARS: usize = 256;
/// Frames per stack trace; the newest (last sent) are kept.
pub(super) const MAX_FRAMES: usize = 250;
/// Frames across all stack traces of one event; the raised exception (or the crashed thread)
/// takes its share first.
pub(super) const MAX_TOTAL_FRAMES: usize = 1_000;
/// Exceptions of a chain; the last ones are kept, since the last is the one raised.
pub(super) const MAX_EXCEPTIONS: usize = 50;
/// Threads; crashed and current ones are kept first.
pub(super) const MAX_THREADS: usize = 50;
/// Breadcrumbs; the latest (last sent) are kept.
pub(super) const MAX_BREADCRUMBS: usize = 100;
/// Source lines kept on each side of a frame's line.
pub(super) const MAX_CONTEXT_LINES: usize = 25;
/// Entries per object or array of free-form data (vars, extra, contexts, breadcrumb data),
/// and pairs per query, header or cookie list.
pub(super) const MAX_ITEMS: usize = 200;
/// Nesting depth of free-form data; a deeper object or array becomes [`TOO_DEEP`].
pub(super) const MAX_DEPTH: usize = 8;
/// What stands in for data nested deeper than [`MAX_DEPTH`].
pub(super) const TOO_DEEP: &str = "...";

/// A string field, trimmed and cut ([`json::string`]).
pub(super) fn text(value: &Value, key: &str) -> Option<String> {
    json::string(value, key, MAX_STRING_CHARS)
}

/// The items of `{values: [...]}` or of a bare array.
pub(super) fn values_list(value: Option<&Value>) -> &[Value] {
    match value {
        Some(Value::Array(items)) => items,
        Some(holder) => holder
            .get("values")
            .and_then(Value::as_array)
            .map_or(&[], Vec::as_slice),
        None => &[],
    }
}

/// Free-form data, bounded: strings cut, containers cut to [`MAX_ITEMS`] entries and
/// [`MAX_DEPTH`] levels.
pub(super) fn loose(value: &Value) -> Value {
    loose_at(value, 0)
}

fn loose_at(value: &Value, depth: usize) -> Value {
    match value {
        Value::String(s) => json!(truncate_str(s, MAX_STRING_CHARS)),
        Value::Array(_) | Value::Object(_) if depth >= MAX_DEPTH => json!(TOO_DEEP),
        Value::Array(items) => items
            .iter()
            .take(MAX_ITEMS)
            .map(|item| loose_at(item, depth + 1))
            .collect(),
        Value::Object(map) => Value::Object(
            map.iter()
                .take(MAX_ITEMS)
                .map(|(k, v)| {
                    (
                        truncate_str(k, MAX_KEY_CHARS).to_string(),
                        loose_at(v, depth + 1),
                    )
                })
                .collect(),
        ),
        scalar => scalar.clone(),
    }
}
