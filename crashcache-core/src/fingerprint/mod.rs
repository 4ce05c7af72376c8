//! Sentry's default grouping: which events are the same bug. Never uses line numbers.
//!
//! The rules, first match wins: the in-app frames of the exceptions (or of the crashed
//! thread), else the exception types and values, else the message, else a fallback. Custom
//! fingerprints (`custom`) may extend or replace the result; `frame` says which code a frame
//! is and `parameterise` strips the values that vary between occurrences.
//!
//! Everything here feeds a hash that is stored with every issue: a change in what is read or
//! how it is cut splits or merges existing issues.

mod custom;
mod frame;
mod parameterise;

use serde::Serialize;
use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::event::{self, MessageForm};
use crate::json::{str_field, truncate_str};

pub use parameterise::parameterise;

/// The grouping key of an event and the parts it was made from, so users can see why two
/// events were or were not grouped together.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Fingerprint {
    /// 32 lowercase hex digits: the first 16 bytes of the SHA-256 of the components.
    pub hash: String,
    /// Which rule produced it: `custom`, `stacktrace`, `exception`, `message` or `fallback`.
    pub method: &'static str,
    /// The values hashed, in order.
    pub components: Vec<String>,
}

/// Longer values are cut before hashing: their tails are mostly dumps that differ every time.
const MAX_VALUE_CHARS: usize = 1000;
/// Per stack, only the most recent in-app frames count; deep recursion must not make a new
/// issue for every depth.
const MAX_FRAMES_PER_STACK: usize = 200;

/// Groups an event. Default components are labelled (`type:`, `frame:`, `value:`,
/// `message:`, ...) so that, say, a message and an exception value with the same text never
/// share a hash; custom fingerprint entries are hashed as the user wrote them.
pub fn fingerprint(event: &Value) -> Fingerprint {
    let (default_method, default_components) = default_grouping(event);
    match custom::components(event, &default_components) {
        Some(components) => build("custom", components),
        None => build(default_method, default_components),
    }
}

fn build(method: &'static str, components: Vec<String>) -> Fingerprint {
    let mut hasher = Sha256::new();
    // Length prefixes keep ["ab", "c"] and ["a", "bc"] apart.
    for component in &components {
        hasher.update((component.len() as u64).to_le_bytes());
        hasher.update(component.as_bytes());
    }
    let digest = hasher.finalize();
    Fingerprint {
        hash: hex::encode(digest.get(..16).unwrap_or(&[])),
        method,
        components,
    }
}

/// A string field as grouping reads it: a real string, trimmed, non-empty, cut to
/// [`MAX_VALUE_CHARS`].
fn field<'a>(holder: &'a Value, key: &str) -> Option<&'a str> {
    str_field(holder, key).map(|s| truncate_str(s, MAX_VALUE_CHARS))
}

fn default_grouping(event: &Value) -> (&'static str, Vec<String>) {
    if let Some(components) = stacktrace_components(event) {
        return ("stacktrace", components);
    }
    if let Some(components) = exception_components(event) {
        return ("exception", components);
    }
    // The template when there is one, so that parameters do not split the issue.
    if let Some(message) = event::message(event, MessageForm::Template) {
        return (
            "message",
            vec![format!("message:{}", parameterise(message))],
        );
    }
    ("fallback", fallback_components(event))
}

fn type_component(exception: &Value) -> Option<String> {
    field(exception, "type").map(|t| format!("type:{t}"))
}

fn frame_component(frame: &Value) -> Option<String> {
    let location = frame::location(frame);
    let function = frame::function(frame);
    if location.is_none() && function.is_none() {
        return None;
    }
    Some(format!(
        "frame:{}|{}",
        location.unwrap_or_default(),
        function.unwrap_or_default()
    ))
}

fn in_app_components(frames: &[Value]) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for component in frames
        .iter()
        .filter(|f| event::is_in_app(f))
        .filter_map(frame_component)
    {
        // Consecutive repeats are recursion; its depth is not part of the bug.
        if out.last() != Some(&component) {
            out.push(component);
        }
    }
    let excess = out.len().saturating_sub(MAX_FRAMES_PER_STACK);
    out.split_off(excess)
}

/// The threads worth grouping by: the crashed ones, else the current ones, else the only one.
/// Other threads were merely running and would make grouping depend on timing.
fn candidate_threads(event: &Value) -> Vec<&Value> {
    let threads: &[Value] = match event.get("threads") {
        Some(Value::Array(items)) => items,
        Some(obj) => obj
            .get("values")
            .and_then(Value::as_array)
            .map_or(&[], Vec::as_slice),
        None => &[],
    };
    let flagged = |flag: &str| -> Vec<&Value> {
        threads
            .iter()
            .filter(|t| t.get(flag).and_then(Value::as_bool) == Some(true))
            .collect()
    };
    let crashed = flagged("crashed");
    if !crashed.is_empty() {
        return crashed;
    }
    let current = flagged("current");
    if !current.is_empty() {
        return current;
    }
    match threads {
        [only] => vec![only],
        _ => Vec::new(),
    }
}

fn stacktrace_components(event: &Value) -> Option<Vec<String>> {
    let exceptions: Vec<&Value> = event::exception_list(event)
        .into_iter()
        .filter(|e| !event::is_synthetic(e))
        .collect();
    let mut components = Vec::new();
    let mut types = Vec::new();
    let mut found_frames = false;
    for exception in &exceptions {
        let type_component = type_component(exception);
        types.extend(type_component.clone());
        components.extend(type_component);
        let frames = in_app_components(event::frames_of(exception));
        found_frames |= !frames.is_empty();
        components.extend(frames);
    }
    if found_frames {
        return Some(components);
    }
    // A native crash or an attached stack: the frames live on a thread or the event itself.
    let holders = candidate_threads(event)
        .into_iter()
        .chain(event.get("stacktrace").map(|_| event));
    for holder in holders {
        let frames = in_app_components(event::frames_of(holder));
        if !frames.is_empty() {
            types.extend(frames);
            return Some(types);
        }
    }
    None
}

fn exception_components(event: &Value) -> Option<Vec<String>> {
    let mut components = Vec::new();
    for exception in event::exception_list(event) {
        if event::is_synthetic(exception) {
            continue;
        }
        components.extend(type_component(exception));
        if let Some(v) = str_field(exception, "value") {
            components.push(format!("value:{}", parameterise(v)));
        }
    }
    (!components.is_empty()).then_some(components)
}

fn fallback_components(event: &Value) -> Vec<String> {
    if let Some(transaction) = field(event, "transaction") {
        return vec![format!("transaction:{transaction}")];
    }
    if let Some(logger) = field(event, "logger") {
        return vec![
            format!("logger:{logger}"),
            format!("level:{}", event::normalise_level(event.get("level"))),
        ];
    }
    vec!["fallback".to_string()]
}

#[cfg(test)]
mod tests;
