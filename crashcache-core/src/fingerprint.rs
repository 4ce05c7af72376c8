//! Sentry's default grouping: which events are the same bug. Never uses line numbers.

use std::borrow::Cow;
use std::net::Ipv6Addr;
use std::sync::OnceLock;

use regex::{Captures, Regex};
use serde::Serialize;
use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::normalise;

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
const MAX_CUSTOM_ENTRIES: usize = 64;

/// Groups an event. Default components are labelled (`type:`, `frame:`, `value:`,
/// `message:`, ...) so that, say, a message and an exception value with the same text never
/// share a hash; custom fingerprint entries are hashed as the user wrote them.
pub fn fingerprint(event: &Value) -> Fingerprint {
    let (default_method, default_components) = default_grouping(event);
    let entries = custom_entries(event);
    let only_default = matches!(entries.as_slice(), [only] if is_default_token(only));
    if entries.is_empty() || only_default {
        return build(default_method, default_components);
    }
    let mut components = Vec::new();
    for entry in &entries {
        if is_default_token(entry) {
            components.extend(default_components.iter().cloned());
        } else {
            components.push(resolve_variable(event, entry).unwrap_or_else(|| entry.clone()));
        }
    }
    build("custom", components)
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

fn default_grouping(event: &Value) -> (&'static str, Vec<String>) {
    if let Some(components) = stacktrace_components(event) {
        return ("stacktrace", components);
    }
    if let Some(components) = exception_components(event) {
        return ("exception", components);
    }
    if let Some(message) = grouping_message(event) {
        return (
            "message",
            vec![format!("message:{}", parameterise(message))],
        );
    }
    ("fallback", fallback_components(event))
}

// ---------------------------------------------------------------------------------------
// Exceptions, frames and threads (shared with `normalise`).

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

/// The frames of anything with a `stacktrace` (exception, thread), oldest call first.
pub(crate) fn frames_of(holder: &Value) -> &[Value] {
    holder
        .get("stacktrace")
        .and_then(|s| s.get("frames"))
        .and_then(Value::as_array)
        .map_or(&[], Vec::as_slice)
}

pub(crate) fn is_in_app(frame: &Value) -> bool {
    frame.get("in_app").and_then(Value::as_bool) == Some(true)
}

/// A trimmed, non-empty string field.
pub(crate) fn str_field<'a>(value: &'a Value, key: &str) -> Option<&'a str> {
    value
        .get(key)
        .and_then(Value::as_str)
        .map(str::trim)
        .filter(|s| !s.is_empty())
}

pub(crate) fn truncate_chars(s: &str, max: usize) -> &str {
    match s.char_indices().nth(max) {
        Some((cut, _)) => s.get(..cut).unwrap_or(s),
        None => s,
    }
}

/// Where a frame's code lives: the module, else the file name without revision noise.
pub(crate) fn frame_location(frame: &Value) -> Option<String> {
    if let Some(module) = str_field(frame, "module") {
        return Some(truncate_chars(module, MAX_VALUE_CHARS).to_string());
    }
    ["filename", "abs_path"]
        .iter()
        .filter_map(|key| str_field(frame, key))
        .map(|path| clean_path(truncate_chars(path, MAX_VALUE_CHARS)))
        .find(|cleaned| !cleaned.is_empty())
}

pub(crate) fn frame_function(frame: &Value) -> Option<String> {
    str_field(frame, "function")
        .map(|f| clean_function(truncate_chars(f, MAX_VALUE_CHARS)))
        .filter(|f| !f.is_empty())
}

fn frame_component(frame: &Value) -> Option<String> {
    let location = frame_location(frame);
    let function = frame_function(frame);
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
        .filter(|f| is_in_app(f))
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
    let exceptions: Vec<&Value> = exception_list(event)
        .into_iter()
        .filter(|e| !is_synthetic(e))
        .collect();
    let mut components = Vec::new();
    let mut types = Vec::new();
    let mut found_frames = false;
    for exception in &exceptions {
        let type_component = str_field(exception, "type")
            .map(|t| format!("type:{}", truncate_chars(t, MAX_VALUE_CHARS)));
        types.extend(type_component.clone());
        components.extend(type_component);
        let frames = in_app_components(frames_of(exception));
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
        let frames = in_app_components(frames_of(holder));
        if !frames.is_empty() {
            types.extend(frames);
            return Some(types);
        }
    }
    None
}

fn exception_components(event: &Value) -> Option<Vec<String>> {
    let mut components = Vec::new();
    for exception in exception_list(event) {
        if is_synthetic(exception) {
            continue;
        }
        if let Some(t) = str_field(exception, "type") {
            components.push(format!("type:{}", truncate_chars(t, MAX_VALUE_CHARS)));
        }
        if let Some(v) = str_field(exception, "value") {
            components.push(format!("value:{}", parameterise(v)));
        }
    }
    (!components.is_empty()).then_some(components)
}

/// The template when there is one, so that parameters do not split the issue.
fn grouping_message(event: &Value) -> Option<&str> {
    let logentry = event.get("logentry");
    let message = event.get("message");
    [
        logentry.and_then(|l| str_field(l, "message")),
        logentry.and_then(|l| str_field(l, "formatted")),
        message.and_then(Value::as_str).map(str::trim),
        message.and_then(|m| str_field(m, "message")),
        message.and_then(|m| str_field(m, "formatted")),
    ]
    .into_iter()
    .flatten()
    .find(|s| !s.is_empty())
}

fn fallback_components(event: &Value) -> Vec<String> {
    if let Some(transaction) = str_field(event, "transaction") {
        return vec![format!(
            "transaction:{}",
            truncate_chars(transaction, MAX_VALUE_CHARS)
        )];
    }
    if let Some(logger) = str_field(event, "logger") {
        return vec![
            format!("logger:{}", truncate_chars(logger, MAX_VALUE_CHARS)),
            format!("level:{}", normalise::normalise_level(event.get("level"))),
        ];
    }
    vec!["fallback".to_string()]
}

// ---------------------------------------------------------------------------------------
// Custom fingerprints.

fn custom_entries(event: &Value) -> Vec<String> {
    let Some(items) = event.get("fingerprint").and_then(Value::as_array) else {
        return Vec::new();
    };
    items
        .iter()
        .filter_map(|item| match item {
            Value::String(s) => Some(truncate_chars(s, MAX_VALUE_CHARS).to_string()),
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
    let bounded = |s: &str| truncate_chars(s, MAX_VALUE_CHARS).to_string();
    let or = |found: Option<String>, missing: &str| found.unwrap_or_else(|| missing.to_string());
    let outermost = exception_list(event)
        .into_iter()
        .rev()
        .find(|e| !is_synthetic(e));
    let value = match lower.as_str() {
        "transaction" => or(
            str_field(event, "transaction").map(bounded),
            "<no-transaction>",
        ),
        "error.type" => or(
            outermost.and_then(|e| str_field(e, "type")).map(bounded),
            "<no-type>",
        ),
        "error.value" => or(
            outermost.and_then(|e| str_field(e, "value")).map(bounded),
            "<no-value>",
        ),
        "stack.function" => or(
            crashing_frame(event).and_then(frame_function),
            "<no-function>",
        ),
        "stack.module" => or(
            crashing_frame(event).and_then(frame_location),
            "<no-module>",
        ),
        "level" => normalise::normalise_level(event.get("level")).to_string(),
        "logger" => or(str_field(event, "logger").map(bounded), "<no-logger>"),
        "message" => or(
            normalise::formatted_message(event).map(|m| bounded(&m)),
            "<no-message>",
        ),
        _ => {
            // "tags." is ASCII, so the lowercased name has the same byte offsets.
            let key = lower
                .starts_with("tags.")
                .then(|| name.get(5..))
                .flatten()?;
            let tags = normalise::parse_tags(event.get("tags"));
            or(
                tags.get(key).and_then(Value::as_str).map(bounded),
                "<no-tag>",
            )
        }
    };
    Some(value)
}

/// The most recent in-app frame of the outermost exception with a stack (any frame if none
/// is in-app).
fn crashing_frame(event: &Value) -> Option<&Value> {
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

// ---------------------------------------------------------------------------------------
// Noise removal.

macro_rules! cached_regex {
    ($name:ident, $pattern:expr) => {
        /// `None` only if the constant pattern failed to compile, which tests rule out; the
        /// callers then skip that replacement instead of panicking inside PostgreSQL.
        fn $name() -> Option<&'static Regex> {
            static CELL: OnceLock<Option<Regex>> = OnceLock::new();
            CELL.get_or_init(|| Regex::new($pattern).ok()).as_ref()
        }
    };
}

cached_regex!(
    email_re,
    r"[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}"
);
cached_regex!(
    uuid_re,
    r"\b[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}\b"
);
cached_regex!(
    date_re,
    r"\b[0-9]{4}-[0-9]{2}-[0-9]{2}(?:[T ][0-9]{2}:[0-9]{2}(?::[0-9]{2}(?:[.,][0-9]+)?)?(?:Z|[+-][0-9]{2}:?[0-9]{2})?)?|\b[0-9]{1,2}:[0-9]{2}:[0-9]{2}(?:[.,][0-9]+)?"
);
cached_regex!(ipv6_candidate_re, r"[0-9A-Fa-f:.]*:[0-9A-Fa-f:.]*");
cached_regex!(ipv4_re, r"\b(?:[0-9]{1,3}\.){3}[0-9]{1,3}\b");
cached_regex!(hex_prefixed_re, r"\b0[xX][0-9a-fA-F]+");
cached_regex!(hex_run_re, r"\b[0-9a-fA-F]{7,}\b");
cached_regex!(number_re, r"[0-9]+(?:\.[0-9]+)?");
cached_regex!(address_re, r"\s*[+@]?\s*0[xX][0-9a-fA-F]+");

/// Replaces the parts of a message or exception value that vary between occurrences of the
/// same bug: emails, UUIDs, dates and times, IP addresses, hex and numbers. Digits glued to
/// the end of a word (`utf8`, `base64`, `sha256`) are part of a name and stay; digits
/// followed by a unit (`30s`) are a number.
pub fn parameterise(s: &str) -> String {
    let mut out = Cow::Borrowed(truncate_chars(s, MAX_VALUE_CHARS));
    out = replace_fixed(out, email_re(), "<email>");
    out = replace_fixed(out, uuid_re(), "<uuid>");
    out = replace_fixed(out, date_re(), "<date>");
    // IPv6 before IPv4, so that `::ffff:10.0.0.1` becomes one placeholder.
    out = replace_with(out, ipv6_candidate_re(), ipv6_replacement);
    out = replace_fixed(out, ipv4_re(), "<ip>");
    out = replace_fixed(out, hex_prefixed_re(), "<hex>");
    out = replace_with(out, hex_run_re(), |_, m| {
        let run = m.as_str();
        let mixed =
            run.bytes().any(|b| b.is_ascii_digit()) && run.bytes().any(|b| b.is_ascii_alphabetic());
        // All digits is left to the number rule; all letters is a word ("effaced").
        mixed.then(|| "<hex>".to_string())
    });
    out = replace_with(out, number_re(), |haystack, m| {
        let before = haystack
            .get(..m.start())
            .and_then(|s| s.chars().next_back());
        if before.is_some_and(is_word_char) {
            return None;
        }
        let placeholder = if m.as_str().contains('.') {
            "<float>"
        } else {
            "<int>"
        };
        Some(placeholder.to_string())
    });
    out.into_owned()
}

fn replace_fixed<'a>(text: Cow<'a, str>, re: Option<&Regex>, placeholder: &str) -> Cow<'a, str> {
    match re {
        Some(re) => Cow::Owned(re.replace_all(&text, placeholder).into_owned()),
        None => text,
    }
}

/// Runs `decide` on every match; `Some` replaces the match, `None` keeps it.
fn replace_with<'a>(
    text: Cow<'a, str>,
    re: Option<&Regex>,
    decide: impl Fn(&str, regex::Match<'_>) -> Option<String>,
) -> Cow<'a, str> {
    let Some(re) = re else { return text };
    let replaced = re.replace_all(&text, |caps: &Captures<'_>| match caps.get(0) {
        Some(m) => decide(&text, m).unwrap_or_else(|| m.as_str().to_string()),
        None => String::new(),
    });
    Cow::Owned(replaced.into_owned())
}

fn ipv6_replacement(haystack: &str, m: regex::Match<'_>) -> Option<String> {
    let before = haystack
        .get(..m.start())
        .and_then(|s| s.chars().next_back());
    let after = haystack.get(m.end()..).and_then(|s| s.chars().next());
    if before.is_some_and(is_word_char) || after.is_some_and(is_word_char) {
        return None;
    }
    // The candidate pattern is greedy; "fe80::1:" at the end of a clause keeps its colon.
    let candidate = m.as_str().trim_end_matches([':', '.']);
    let rest = m.as_str().get(candidate.len()..).unwrap_or("");
    let plausible = candidate.matches(':').count() >= 2
        && candidate.bytes().any(|b| b.is_ascii_digit())
        && candidate.parse::<Ipv6Addr>().is_ok();
    plausible.then(|| format!("<ip>{rest}"))
}

fn is_word_char(c: char) -> bool {
    c.is_alphanumeric() || c == '_'
}

/// Drops what changes with every build of the same code: query strings, scheme and host,
/// hash-named directories, version directories and content hashes in file names.
pub(crate) fn clean_path(path: &str) -> String {
    let path = path.split(['?', '#']).next().unwrap_or("");
    let path = match path.split_once("://") {
        Some((_, rest)) => rest.find('/').and_then(|i| rest.get(i..)).unwrap_or(""),
        None => path,
    };
    let segments: Vec<String> = path
        .split(['/', '\\'])
        .filter(|segment| !is_noise_segment(segment))
        .map(clean_file_name)
        .collect();
    segments.join("/")
}

fn is_noise_segment(segment: &str) -> bool {
    let hash_like = segment.len() >= 7
        && segment.bytes().all(|b| b.is_ascii_hexdigit())
        && segment.bytes().any(|b| b.is_ascii_digit());
    let version = segment.strip_prefix('v').unwrap_or(segment);
    let version_like = version.contains('.')
        && version
            .split('.')
            .all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()));
    hash_like || version_like
}

/// `chunk.abc123.js` → `chunk.js`, `index-BxS3k9aP.js` → `index.js`.
fn clean_file_name(name: &str) -> String {
    let parts: Vec<&str> = name.split('.').collect();
    let last = parts.len().saturating_sub(1);
    parts
        .iter()
        .enumerate()
        .filter(|(i, part)| *i == 0 || *i == last || !is_content_hash(part))
        .map(|(_, part)| match part.rsplit_once('-') {
            Some((stem, tail)) if !stem.is_empty() && tail.len() >= 8 && is_content_hash(tail) => {
                stem
            }
            _ => part,
        })
        .collect::<Vec<_>>()
        .join(".")
}

fn is_content_hash(part: &str) -> bool {
    let has_digit = part.bytes().any(|b| b.is_ascii_digit());
    let has_letter = part.bytes().any(|b| b.is_ascii_alphabetic());
    let hex = part.len() >= 5 && part.bytes().all(|b| b.is_ascii_hexdigit()) && has_digit;
    let base62 = part.len() >= 8
        && part.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
        && has_digit
        && has_letter;
    hex || base62
}

/// Memory addresses (`handler+0x1a`, `at 0x7f..`) differ per process and build.
fn clean_function(function: &str) -> String {
    match address_re() {
        Some(re) => re.replace_all(function, "").trim().to_string(),
        None => function.trim().to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn fixture(name: &str) -> Value {
        let path = format!(
            "{}/tests/fixtures/python/{name}.payload.json",
            env!("CARGO_MANIFEST_DIR")
        );
        let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
        serde_json::from_str(&text).unwrap()
    }

    fn frame(function: &str, lineno: u32, in_app: bool) -> Value {
        json!({"filename": "app/views.py", "module": "app.views", "function": function,
               "lineno": lineno, "colno": lineno * 3, "in_app": in_app})
    }

    fn exception_event(frames: Vec<Value>) -> Value {
        json!({"exception": {"values": [{"type": "KeyError", "value": "'user 42'",
               "stacktrace": {"frames": frames}}]}})
    }

    #[test]
    fn hash_shape() {
        let fp = fingerprint(&json!({}));
        assert_eq!(fp.method, "fallback");
        assert_eq!(fp.hash.len(), 32);
        assert!(fp
            .hash
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)));
        // The separator is unambiguous.
        assert_ne!(
            build("x", vec!["ab".into(), "c".into()]).hash,
            build("x", vec!["a".into(), "bc".into()]).hash
        );
    }

    #[test]
    fn line_numbers_do_not_matter() {
        let a = exception_event(vec![frame("main", 10, true), frame("handle", 20, true)]);
        let b = exception_event(vec![frame("main", 11, true), frame("handle", 95, true)]);
        let (fa, fb) = (fingerprint(&a), fingerprint(&b));
        assert_eq!(fa.method, "stacktrace");
        assert_eq!(fa.hash, fb.hash);
        assert_eq!(
            fa.components,
            [
                "type:KeyError",
                "frame:app.views|main",
                "frame:app.views|handle"
            ]
        );
    }

    #[test]
    fn different_function_splits() {
        let a = exception_event(vec![frame("main", 10, true), frame("handle", 20, true)]);
        let b = exception_event(vec![frame("main", 10, true), frame("render", 20, true)]);
        assert_ne!(fingerprint(&a).hash, fingerprint(&b).hash);
    }

    #[test]
    fn library_frames_are_ignored() {
        let a = exception_event(vec![frame("main", 10, true), frame("handle", 20, true)]);
        let b = exception_event(vec![
            frame("bootstrap", 1, false),
            frame("main", 10, true),
            json!({"module": "django.core", "function": "dispatch", "in_app": false}),
            json!({"module": "lib", "function": "unknown_in_app"}),
            frame("handle", 20, true),
            frame("json_loads", 400, false),
        ]);
        assert_eq!(fingerprint(&a).hash, fingerprint(&b).hash);
    }

    #[test]
    fn recursion_depth_does_not_matter() {
        let a = exception_event(vec![frame("walk", 1, true), frame("walk", 1, true)]);
        let b = exception_event(vec![frame("walk", 1, true); 50]);
        assert_eq!(fingerprint(&a).hash, fingerprint(&b).hash);
    }

    #[test]
    fn chained_exceptions_all_count() {
        let chain = |inner: &str| {
            json!({"exception": {"values": [
                {"type": inner, "stacktrace": {"frames": [frame("connect", 5, true)]}},
                {"type": "DatabaseError", "stacktrace": {"frames": [frame("query", 9, true)]}}
            ]}})
        };
        let a = fingerprint(&chain("TimeoutError"));
        assert_eq!(
            a.components,
            [
                "type:TimeoutError",
                "frame:app.views|connect",
                "type:DatabaseError",
                "frame:app.views|query"
            ]
        );
        assert_ne!(a.hash, fingerprint(&chain("ConnectionRefused")).hash);
        // A bare array of exceptions is read the same way.
        let bare = json!({"exception": chain("TimeoutError")["exception"]["values"].clone()});
        assert_eq!(fingerprint(&bare).hash, a.hash);
    }

    #[test]
    fn thread_stacks_when_the_exception_has_none() {
        let event = json!({
            "exception": {"values": [{"type": "SIGSEGV", "value": "Segfault at 0x0"}]},
            "threads": {"values": [
                {"id": 1, "stacktrace": {"frames": [frame("idle", 1, true)]}},
                {"id": 2, "crashed": true, "stacktrace": {"frames": [
                    {"filename": "src/render.c", "function": "draw+0x1f", "in_app": true},
                ]}}
            ]}
        });
        let fp = fingerprint(&event);
        assert_eq!(fp.method, "stacktrace");
        assert_eq!(fp.components, ["type:SIGSEGV", "frame:src/render.c|draw"]);
    }

    #[test]
    fn exception_without_in_app_frames() {
        let event = |addr: &str| {
            json!({"exception": {"values": [{"type": "ConnectionError",
                "value": format!("connect to {addr} failed after 3 tries"),
                "stacktrace": {"frames": [frame("urlopen", 3, false)]}}]}})
        };
        let a = fingerprint(&event("10.0.0.1:5432"));
        assert_eq!(a.method, "exception");
        assert_eq!(
            a.components,
            [
                "type:ConnectionError",
                "value:connect to <ip>:<int> failed after <int> tries"
            ]
        );
        assert_eq!(a.hash, fingerprint(&event("10.20.30.40:6543")).hash);
        assert_ne!(
            a.hash,
            fingerprint(&json!({"exception": {"values": [{"type": "OtherError",
                "value": "connect to 10.0.0.1:5432 failed after 3 tries"}]}}))
            .hash
        );
    }

    #[test]
    fn synthetic_exception_groups_by_message() {
        // What @sentry/node's captureMessage sends with attachStacktrace.
        let node = |message: &str, function: &str| {
            json!({
                "message": message, "level": "info", "platform": "node",
                "timestamp": 1795331739.294,
                "exception": {"values": [{"value": message,
                    "mechanism": {"type": "generic", "handled": true, "synthetic": true},
                    "stacktrace": {"frames": [{"filename": "/app/send.js", "function": function,
                        "lineno": 12, "in_app": true}]}}]}
            })
        };
        let a = fingerprint(&node("harness message run-1", "main"));
        assert_eq!(a.method, "message");
        assert_eq!(a.components, ["message:harness message run-<int>"]);
        assert_eq!(
            a.hash,
            fingerprint(&node("harness message run-2", "other")).hash
        );
        assert_ne!(a.hash, fingerprint(&node("another message", "main")).hash);
    }

    #[test]
    fn messages_differing_in_variables_group() {
        let m = |s: &str| fingerprint(&json!({"message": s}));
        assert_eq!(
            m("order 17 failed for 9ec79c33-ec99-42ab-8353-589fcb2e04dc").hash,
            m("order 4242 failed for 00000000-1111-2222-3333-444444444444").hash
        );
        assert_eq!(m("timeout after 30s").hash, m("timeout after 45s").hash);
        assert_ne!(m("timeout after 30s").hash, m("timeout after 30ms").hash);
        assert_eq!(m("x").method, "message");
    }

    #[test]
    fn logentry_template_wins_over_formatted() {
        let event = |user: &str| {
            json!({"logentry": {"message": "login failed for %s", "params": [user],
                   "formatted": format!("login failed for {user}")},
                   "message": format!("login failed for {user}")})
        };
        let a = fingerprint(&event("alice"));
        assert_eq!(a.components, ["message:login failed for %s"]);
        assert_eq!(a.hash, fingerprint(&event("bob")).hash);
        let formatted_only = json!({"logentry": {"formatted": "login failed for alice"}});
        assert_eq!(
            fingerprint(&formatted_only).components,
            ["message:login failed for alice"]
        );
        let object_message = json!({"message": {"message": "disk %d%% full", "formatted": "x"}});
        assert_eq!(
            fingerprint(&object_message).components,
            ["message:disk %d%% full"]
        );
    }

    #[test]
    fn custom_fingerprints() {
        let base = exception_event(vec![frame("main", 10, true)]);
        let default = fingerprint(&base);

        let mut only_default = base.clone();
        only_default["fingerprint"] = json!(["{{ default }}"]);
        assert_eq!(fingerprint(&only_default), default);
        only_default["fingerprint"] = json!(["{{DEFAULT}}"]);
        assert_eq!(fingerprint(&only_default), default);

        let mut extended = base.clone();
        extended["fingerprint"] = json!(["{{default}}", "tenant-a"]);
        let fp = fingerprint(&extended);
        assert_eq!(fp.method, "custom");
        let mut expected = default.components.clone();
        expected.push("tenant-a".into());
        assert_eq!(fp.components, expected);
        assert_ne!(fp.hash, default.hash);

        let mut replaced = base.clone();
        replaced["fingerprint"] = json!(["database-down", 42, true, null, {"x": 1}]);
        let fp = fingerprint(&replaced);
        assert_eq!(fp.method, "custom");
        assert_eq!(fp.components, ["database-down", "42", "true"]);
        let other = json!({"message": "unrelated", "fingerprint": ["database-down", 42, true]});
        assert_eq!(fingerprint(&other).hash, fp.hash);

        // An empty or malformed fingerprint is no fingerprint.
        for junk in [json!([]), json!("database-down"), json!([null, {}])] {
            let mut event = base.clone();
            event["fingerprint"] = junk;
            assert_eq!(fingerprint(&event), default);
        }
    }

    #[test]
    fn fingerprint_variables() {
        let event = json!({
            "transaction": "/api/orders", "level": "WARN", "logger": "orders",
            "tags": [["region", "eu-1"]],
            "logentry": {"message": "tmpl %s", "formatted": "tmpl x"},
            "exception": {"values": [{"type": "ValueError", "value": "bad 7",
                "stacktrace": {"frames": [frame("outer", 1, true), frame("inner", 2, true),
                                          frame("lib", 3, false)]}}]},
            "fingerprint": ["{{ transaction }}", "{{error.type}}", "{{ Error.Value }}",
                            "{{ stack.function }}", "{{ stack.module }}", "{{ level }}",
                            "{{ logger }}", "{{ tags.region }}", "{{ tags.missing }}",
                            "{{ message }}", "{{ unknown }}", "{{tags.}}"]
        });
        assert_eq!(
            fingerprint(&event).components,
            [
                "/api/orders",
                "ValueError",
                "bad 7",
                "inner",
                "app.views",
                "warning",
                "orders",
                "eu-1",
                "<no-tag>",
                "tmpl x",
                "{{ unknown }}",
                "<no-tag>"
            ]
        );
        let empty = json!({"fingerprint": ["{{ transaction }}", "{{ error.type }}",
            "{{ error.value }}", "{{ stack.function }}", "{{ stack.module }}", "{{ level }}",
            "{{ logger }}", "{{ message }}"]});
        assert_eq!(
            fingerprint(&empty).components,
            [
                "<no-transaction>",
                "<no-type>",
                "<no-value>",
                "<no-function>",
                "<no-module>",
                "error",
                "<no-logger>",
                "<no-message>"
            ]
        );
    }

    #[test]
    fn fallbacks() {
        let tx = fingerprint(&json!({"transaction": "GET /"}));
        assert_eq!(
            (tx.method, tx.components),
            ("fallback", vec!["transaction:GET /".into()])
        );
        let logger = fingerprint(&json!({"logger": "app", "level": "warn"}));
        assert_eq!(logger.components, ["logger:app", "level:warning"]);
        // A raw log-shipper event still groups by its message.
        let raw = json!({"@timestamp": "2026-11-22T07:15:22.455Z", "message": "disk 91% full",
                         "host": "h", "tags": ["harness_run:x"]});
        let fp = fingerprint(&raw);
        assert_eq!(
            (fp.method, fp.components),
            ("message", vec!["message:disk <int>% full".into()])
        );
    }

    #[test]
    fn python_captures() {
        for (name, method) in [
            ("event", "stacktrace"),
            ("event.case-exception", "stacktrace"),
            ("event.case-attachment", "stacktrace"),
            ("event.case-message", "message"),
            ("event.case-user_event", "message"),
            ("transaction.case-transaction", "fallback"),
        ] {
            assert_eq!(fingerprint(&fixture(name)).method, method, "{name}");
        }
        let fp = fingerprint(&fixture("event.case-exception"));
        assert_eq!(
            fp.components,
            [
                "type:ValueError",
                "frame:__main__|<module>",
                "frame:__main__|outer",
                "frame:__main__|middle",
                "frame:__main__|inner"
            ]
        );
        assert_eq!(fp.hash, fingerprint(&fixture("event")).hash);
        assert_eq!(
            fingerprint(&fixture("event.case-message")).components,
            ["message:harness message capture-python-<int>"]
        );
    }

    #[test]
    fn parameterise_cases() {
        let p = parameterise;
        assert_eq!(
            p("invalid literal for int() with base 10: 'abc'"),
            "invalid literal for int() with base <int>: 'abc'"
        );
        assert_eq!(
            p("invalid literal for int() with base 10: 'xyz'"),
            "invalid literal for int() with base <int>: 'xyz'"
        );
        assert_eq!(p("timeout after 30s"), "timeout after <int>s");
        assert_eq!(p("took 1.5 seconds"), "took <float> seconds");
        assert_eq!(
            p("bad utf8 in base64 sha256 field_2"),
            "bad utf8 in base64 sha256 field_2"
        );
        assert_eq!(p("mail bob.smith+x@example.co.uk now"), "mail <email> now");
        assert_eq!(
            p("row 9EC79C33-EC99-42AB-8353-589FCB2E04DC gone"),
            "row <uuid> gone"
        );
        assert_eq!(p("at 2026-11-22T07:14:00.5+02:00!"), "at <date>!");
        assert_eq!(p("on 2026-11-22 at 07:14:00"), "on <date> at <date>");
        assert_eq!(p("from 192.168.1.20 and ::1"), "from <ip> and <ip>");
        assert_eq!(p("peer 2001:db8::8a2e:370:7334, ok"), "peer <ip>, ok");
        assert_eq!(p("::ffff:10.0.0.1"), "<ip>");
        assert_eq!(p("std::io::Error in a::b"), "std::io::Error in a::b");
        assert_eq!(p("ptr 0x7f1d0f012c10 freed"), "ptr <hex> freed");
        assert_eq!(p("commit a1b2c3d4e5 missing"), "commit <hex> missing");
        assert_eq!(p("id 9ec79c33ec9942ab8353589fcb2e04dc"), "id <hex>");
        assert_eq!(p("effaced deadbeef"), "effaced deadbeef");
        assert_eq!(p("-12 items"), "-<int> items");
        assert_eq!(p("数字12と٣"), "数字12と٣");
        assert_eq!(p(""), "");
        let long = "a".repeat(5000);
        assert_eq!(p(&long).len(), MAX_VALUE_CHARS);
    }

    #[test]
    fn path_cleaning() {
        assert_eq!(
            clean_path("static/js/chunk.abc123.js"),
            "static/js/chunk.js"
        );
        assert_eq!(
            clean_path("https://cdn.example.com/assets/index-BxS3k9aP.js?v=3#L1"),
            "/assets/index.js"
        );
        assert_eq!(
            clean_path("/srv/releases/20240101120000/app/models.py"),
            "/srv/releases/app/models.py"
        );
        assert_eq!(clean_path("/srv/app/v1.4.2/main.js"), "/srv/app/main.js");
        assert_eq!(clean_path("C:\\app\\3f2a9c1d\\x.js"), "C:/app/x.js");
        assert_eq!(clean_path("jquery.min.js"), "jquery.min.js");
        assert_eq!(clean_path("main.3f2a9c.chunk.js"), "main.chunk.js");
        assert_eq!(clean_path("my-component.js"), "my-component.js");
        assert_eq!(clean_path("webpack://"), "");
        let a = json!({"exception": {"values": [{"type": "TypeError", "stacktrace": {"frames": [
            {"filename": "app:///main.1a2b3c4d.js", "function": "Object.<anonymous>",
             "lineno": 1, "colno": 9876, "in_app": true}]}}]}});
        let b = json!({"exception": {"values": [{"type": "TypeError", "stacktrace": {"frames": [
            {"abs_path": "app:///main.9f8e7d6c.js", "function": "Object.<anonymous>",
             "lineno": 1, "colno": 1234, "in_app": true}]}}]}});
        assert_eq!(fingerprint(&a).hash, fingerprint(&b).hash);
        assert_eq!(
            fingerprint(&a).components,
            ["type:TypeError", "frame:/main.js|Object.<anonymous>"]
        );
    }

    #[test]
    fn odd_shapes_do_not_panic() {
        let shapes = [
            json!(null),
            json!([1, 2]),
            json!("event"),
            json!({"exception": 5}),
            json!({"exception": {"values": "x"}}),
            json!({"exception": {"values": [null, 1, {"stacktrace": 3}]}}),
            json!({"exception": {"values": [{"stacktrace": {"frames": [null, 1, {"in_app": true}]}}]}}),
            json!({"exception": {"values": [{"mechanism": {"synthetic": "yes"}, "type": 1}]}}),
            json!({"threads": 1}),
            json!({"threads": [{"crashed": true, "stacktrace": []}]}),
            json!({"stacktrace": {"frames": [{"function": "0x1234", "in_app": true}]}}),
            json!({"fingerprint": ["{{", "}}", "{{}}", "{{ tags.é }}", "{{ TAGS.ü }}"]}),
            json!({"message": ["a"], "logentry": 3, "transaction": 7, "logger": {}}),
            json!({"message": "ü".repeat(3000)}),
            json!({"exception": {"type": "Legacy", "value": "old raven"}}),
        ];
        for shape in shapes {
            let fp = fingerprint(&shape);
            assert_eq!(fp.hash.len(), 32, "{shape}");
        }
        let legacy = json!({"exception": {"type": "Legacy", "value": "old raven"}});
        assert_eq!(fingerprint(&legacy).method, "exception");
    }
}
