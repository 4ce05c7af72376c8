//! Where things are in a Sentry event's JSON, and what they say: exceptions, stack frames,
//! the message, the level and the tags.
//!
//! Every shape SDKs send is accepted here. Grouping (`fingerprint`) and normalising both read
//! events through this module, and neither through the other, so the two never disagree about
//! which exception, frame, level or tag an event is about.

use serde_json::{Map, Value};

use crate::json::{str_field, truncate_str};

/// Beyond this many tags the rest are dropped; no real SDK comes close.
const MAX_TAGS: usize = 200;
/// Tag keys and values are cut here: they go to dimension tables, bounded as `normalise`
/// bounds the other dimension values.
const MAX_TAG_CHARS: usize = 200;

/// The exception objects of an event, innermost first as Sentry orders them. Accepts
/// `exception.values`, a bare array, and the legacy single exception object.
pub(crate) fn exception_list(event: &Value) -> Vec<&Value> {
    let list = match event.get("exception") {
        Some(Value::Array(items)) => items.as_slice(),
        Some(exc @ Value::Object(map)) => match map.get("values") {
            Some(Value::Array(items)) => items.as_slice(),
            Some(_) => &[],
            None if map.contains_key("type") || map.contains_key("value") => {
                std::slice::from_ref(exc)
            }
            None => &[],
        },
        _ => &[],
    };
    list.iter().filter(|e| e.is_object()).collect()
}

/// Node's `captureMessage` wraps the message in an exception only to carry a stack; it says
/// nothing about an error type.
pub(crate) fn is_synthetic(exception: &Value) -> bool {
    exception
        .get("mechanism")
        .and_then(|m| m.get("synthetic"))
        .and_then(Value::as_bool)
        == Some(true)
}

/// The outermost exception (last in Sentry's order) that is a real error, not a wrapper
/// for a message.
pub(crate) fn outermost_exception(event: &Value) -> Option<&Value> {
    exception_list(event)
        .into_iter()
        .rev()
        .find(|e| !is_synthetic(e))
}

/// The frames of anything with a `stacktrace` (exception, thread, event), oldest call first.
pub(crate) fn frames_of(holder: &Value) -> &[Value] {
    holder
        .get("stacktrace")
        .and_then(|s| s.get("frames"))
        .and_then(Value::as_array)
        .map_or(&[], Vec::as_slice)
}

/// Only an explicit `true` counts: SDKs that cannot tell leave the flag out, and guessing
/// would let library frames into grouping.
pub(crate) fn is_in_app(frame: &Value) -> bool {
    frame.get("in_app").and_then(Value::as_bool) == Some(true)
}

/// The most recent in-app frame of the outermost exception that has a stack (the most recent
/// frame of any kind if none is in-app). A synthetic exception's stack counts: it shows where
/// `captureMessage` was called.
pub(crate) fn crashing_frame(event: &Value) -> Option<&Value> {
    let frames = exception_list(event)
        .into_iter()
        .rev()
        .map(frames_of)
        .find(|frames| !frames.is_empty())?;
    frames
        .iter()
        .rev()
        .find(|f| is_in_app(f))
        .or_else(|| frames.last())
}

/// Which form of a message to prefer when the SDK sent both.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum MessageForm {
    /// `login failed for %s`: what grouping wants, so that parameters do not split issues.
    Template,
    /// `login failed for alice`: what a human reads.
    Formatted,
}

/// The event's message, trimmed and non-empty, from `logentry` (current SDKs), a plain string
/// `message` (log shippers, `/store/`), or a `message` object (old SDKs), in that order.
pub(crate) fn message(event: &Value, prefer: MessageForm) -> Option<&str> {
    let (first, second) = match prefer {
        MessageForm::Template => ("message", "formatted"),
        MessageForm::Formatted => ("formatted", "message"),
    };
    let logentry = event.get("logentry");
    let message = event.get("message");
    [
        logentry.and_then(|l| str_field(l, first)),
        logentry.and_then(|l| str_field(l, second)),
        message.and_then(Value::as_str).map(str::trim),
        message.and_then(|m| str_field(m, first)),
        message.and_then(|m| str_field(m, second)),
    ]
    .into_iter()
    .flatten()
    .find(|s| !s.is_empty())
}

/// Sentry's five levels; the aliases other loggers use are mapped, anything else is `error`.
pub(crate) fn normalise_level(value: Option<&Value>) -> &'static str {
    let Some(level) = value.and_then(Value::as_str) else {
        return "error";
    };
    match level.trim().to_ascii_lowercase().as_str() {
        "fatal" | "critical" => "fatal",
        "warning" | "warn" => "warning",
        "info" | "log" => "info",
        "debug" | "trace" => "debug",
        _ => "error",
    }
}

/// Tags in any shape seen in the wild, as a map of string to string:
/// an object (non-string values become their JSON text, nulls are dropped), an array of
/// `[key, value]` pairs or `{"key": .., "value": ..}` objects, or an array of `"key:value"`
/// strings (split at the first colon). A string without a colon is a bare label, as log
/// shippers send them (`_grokparsefailure`): it becomes a tag with an empty value, since
/// inventing a value like `true` would collide with a real `label:true`. Keys are trimmed
/// and empty keys dropped; keys and values are cut to 200 characters; later duplicates win.
pub(crate) fn parse_tags(value: Option<&Value>) -> Map<String, Value> {
    let mut tags = Map::new();
    let mut insert = |key: &str, value: Option<String>| {
        let key = key.trim();
        let Some(value) = value else { return };
        if key.is_empty() || (tags.len() >= MAX_TAGS && !tags.contains_key(key)) {
            return;
        }
        let value = truncate_str(value.trim(), MAX_TAG_CHARS).to_string();
        tags.insert(
            truncate_str(key, MAX_TAG_CHARS).to_string(),
            Value::String(value),
        );
    };
    match value {
        Some(Value::Object(map)) => {
            for (key, value) in map {
                insert(key, tag_text(value));
            }
        }
        Some(Value::Array(items)) => {
            for item in items {
                match item {
                    Value::String(s) => match s.split_once(':') {
                        Some((key, value)) => insert(key, Some(value.to_string())),
                        None => insert(s, Some(String::new())),
                    },
                    Value::Array(pair) => {
                        if let [key, value] = pair.as_slice() {
                            if let Some(key) = tag_text(key) {
                                insert(&key, tag_text(value));
                            }
                        }
                    }
                    Value::Object(_) => {
                        if let Some(key) = item.get("key").and_then(tag_text) {
                            insert(&key, item.get("value").and_then(tag_text));
                        }
                    }
                    _ => {}
                }
            }
        }
        _ => {}
    }
    tags
}

/// Unlike [`crate::json::as_string`], objects and arrays become their JSON text rather than
/// nothing: a tag an SDK sent is kept, however odd. Trimming and cutting happen on insertion.
fn tag_text(value: &Value) -> Option<String> {
    match value {
        Value::Null => None,
        Value::String(s) => Some(s.clone()),
        other => Some(other.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn exception_shapes() {
        let values = json!({"exception": {"values": [{"type": "A"}, 1, {"type": "B"}]}});
        assert_eq!(exception_list(&values).len(), 2);
        let bare = json!({"exception": [{"type": "A"}]});
        assert_eq!(exception_list(&bare).len(), 1);
        let legacy = json!({"exception": {"type": "Legacy"}});
        assert_eq!(exception_list(&legacy).len(), 1);
        assert!(exception_list(&json!({"exception": {"values": "x"}})).is_empty());
        assert!(exception_list(&json!({"exception": {"other": 1}})).is_empty());
    }

    #[test]
    fn outermost_real_exception() {
        let event = json!({"exception": {"values": [
            {"type": "Inner"}, {"type": "Outer"},
            {"value": "msg", "mechanism": {"synthetic": true}}]}});
        assert_eq!(outermost_exception(&event).unwrap()["type"], "Outer");
    }

    #[test]
    fn crashing_frame_prefers_recent_in_app() {
        let event = json!({"exception": {"values": [
            {"stacktrace": {"frames": [{"function": "inner_only"}]}},
            {"stacktrace": {"frames": [
                {"function": "a", "in_app": true}, {"function": "b", "in_app": true},
                {"function": "lib", "in_app": false}]}},
            {"type": "NoStack"}]}});
        assert_eq!(crashing_frame(&event).unwrap()["function"], "b");
        let no_in_app = json!({"exception": [{"stacktrace": {"frames": [
            {"function": "x"}, {"function": "y"}]}}]});
        assert_eq!(crashing_frame(&no_in_app).unwrap()["function"], "y");
        assert_eq!(crashing_frame(&json!({})), None);
    }

    #[test]
    fn message_forms() {
        let event = json!({"logentry": {"message": "t %s", "formatted": "t x"}, "message": "m"});
        assert_eq!(message(&event, MessageForm::Template), Some("t %s"));
        assert_eq!(message(&event, MessageForm::Formatted), Some("t x"));
        let plain = json!({"logentry": {"message": " "}, "message": "  m  "});
        assert_eq!(message(&plain, MessageForm::Template), Some("m"));
        let object = json!({"message": {"message": "t", "formatted": "f"}});
        assert_eq!(message(&object, MessageForm::Template), Some("t"));
        assert_eq!(message(&object, MessageForm::Formatted), Some("f"));
        assert_eq!(
            message(&json!({"message": "  "}), MessageForm::Formatted),
            None
        );
    }

    #[test]
    fn levels() {
        for (raw, level) in [
            ("fatal", "fatal"),
            ("CRITICAL", "fatal"),
            ("error", "error"),
            ("warn", "warning"),
            (" Warning ", "warning"),
            ("log", "info"),
            ("info", "info"),
            ("debug", "debug"),
            ("verbose", "error"),
        ] {
            assert_eq!(normalise_level(Some(&json!(raw))), level, "{raw}");
        }
        assert_eq!(normalise_level(None), "error");
        assert_eq!(normalise_level(Some(&json!(40))), "error");
    }

    #[test]
    fn tag_shapes() {
        let t = parse_tags(Some(
            &json!({" k ": 1, "b": true, "n": null, "o": {"a": [1]},
                                        "": "x", "s": " v "}),
        ));
        assert_eq!(
            Value::Object(t),
            json!({"k": "1", "b": "true", "o": "{\"a\":[1]}", "s": "v"})
        );
        let t = parse_tags(Some(
            &json!([{"key": "a", "value": "1"}, ["b", null], [1, 2, 3],
                                         ":empty", "c:", 7]),
        ));
        assert_eq!(Value::Object(t), json!({"a": "1", "c": ""}));
        let long = "x".repeat(500);
        let t = parse_tags(Some(&json!({long.clone(): long.clone()})));
        let (k, v) = t.iter().next().unwrap();
        assert_eq!((k.len(), v.as_str().unwrap().len()), (200, 200));
        let many: Map<String, Value> = (0..500).map(|i| (format!("k{i}"), json!("v"))).collect();
        assert_eq!(parse_tags(Some(&Value::Object(many))).len(), MAX_TAGS);
        assert!(parse_tags(Some(&json!("a:b"))).is_empty());
        assert!(parse_tags(None).is_empty());
    }
}
