//! Custom fingerprints: the event's own `fingerprint` array, resolved as Sentry does.
//!
//! `{{ default }}` stands for the default components and `{{ variable }}` entries are read from
//! the event; anything else is hashed as written.

use serde_json::Value;

use super::{field, frame, MAX_VALUE_CHARS};
use crate::event::{self, MessageForm};
use crate::json::truncate_str;

/// More entries than this are dropped; a fingerprint is a handful of words, not a payload.
const MAX_CUSTOM_ENTRIES: usize = 64;

/// The components of a custom fingerprint, or `None` when the event has none (or only
/// `{{ default }}`) and the default grouping stands.
pub(super) fn components(event: &Value, default_components: &[String]) -> Option<Vec<String>> {
    let entries = entries(event);
    let only_default = matches!(entries.as_slice(), [only] if is_default_token(only));
    if entries.is_empty() || only_default {
        return None;
    }
    let mut components = Vec::new();
    for entry in &entries {
        if is_default_token(entry) {
            components.extend(default_components.iter().cloned());
        } else {
            components.push(resolve_variable(event, entry).unwrap_or_else(|| entry.clone()));
        }
    }
    Some(components)
}

/// The entries as the user wrote them: untrimmed, and empty strings count, unlike the
/// tolerant readers of [`crate::json`], since they are hashed verbatim.
fn entries(event: &Value) -> Vec<String> {
    let Some(items) = event.get("fingerprint").and_then(Value::as_array) else {
        return Vec::new();
    };
    items
        .iter()
        .filter_map(|item| match item {
            Value::String(s) => Some(truncate_str(s, MAX_VALUE_CHARS).to_string()),
            Value::Number(n) => Some(n.to_string()),
            Value::Bool(b) => Some(b.to_string()),
            _ => None,
        })
        .take(MAX_CUSTOM_ENTRIES)
        .collect()
}

/// The name inside `{{ ... }}`, when the whole entry is a variable.
fn variable_name(entry: &str) -> Option<&str> {
    let inner = entry.trim().strip_prefix("{{")?.strip_suffix("}}")?;
    Some(inner.trim())
}

fn is_default_token(entry: &str) -> bool {
    variable_name(entry).is_some_and(|name| name.eq_ignore_ascii_case("default"))
}

/// The value of a known variable (a placeholder when the event lacks it), or `None` when the
/// entry is not a variable we know and is to be hashed literally.
fn resolve_variable(event: &Value, entry: &str) -> Option<String> {
    let name = variable_name(entry)?;
    let lower = name.to_ascii_lowercase();
    let or = |found: Option<&str>, missing: &str| found.unwrap_or(missing).to_string();
    let outermost = event::outermost_exception(event);
    let value = match lower.as_str() {
        "transaction" => or(field(event, "transaction"), "<no-transaction>"),
        "error.type" => or(outermost.and_then(|e| field(e, "type")), "<no-type>"),
        "error.value" => or(outermost.and_then(|e| field(e, "value")), "<no-value>"),
        "stack.function" => event::crashing_frame(event)
            .and_then(frame::function)
            .unwrap_or_else(|| "<no-function>".to_string()),
        "stack.module" => event::crashing_frame(event)
            .and_then(frame::location)
            .unwrap_or_else(|| "<no-module>".to_string()),
        "level" => event::normalise_level(event.get("level")).to_string(),
        "logger" => or(field(event, "logger"), "<no-logger>"),
        "message" => or(
            event::message(event, MessageForm::Formatted).map(|m| truncate_str(m, MAX_VALUE_CHARS)),
            "<no-message>",
        ),
        _ => {
            // "tags." is ASCII, so the lowercased name has the same byte offsets.
            let key = lower
                .starts_with("tags.")
                .then(|| name.get(5..))
                .flatten()?;
            let tags = event::parse_tags(event.get("tags"));
            or(
                tags.get(key)
                    .and_then(Value::as_str)
                    .map(|t| truncate_str(t, MAX_VALUE_CHARS)),
                "<no-tag>",
            )
        }
    };
    Some(value)
}
