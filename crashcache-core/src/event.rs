//! Where things are in a Sentry event's JSON: exceptions, stack frames and the message.
//!
//! Every shape SDKs send is accepted here. Grouping and normalising both read events through
//! this module, so the two never disagree about which exception or frame an event is about.

use serde_json::Value;

use crate::json::str_field;

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
}
