//! Which code a stack frame is, in a form that survives a rebuild.
//!
//! That is the module or a cleaned file path, and the function without memory addresses. Line
//! and column numbers are left out on purpose: any edit above the crash would otherwise split
//! the issue.

use serde_json::Value;

use super::field;
use super::parameterise::CachedRegex;

/// `handler+0x1a`, `at 0x7f..`: an offset or address after the function name.
static ADDRESS: CachedRegex = CachedRegex::new(r"\s*[+@]?\s*0[xX][0-9a-fA-F]+");

/// Where a frame's code lives: the module, else the file name without revision noise.
pub(super) fn location(frame: &Value) -> Option<String> {
    if let Some(module) = field(frame, "module") {
        return Some(module.to_string());
    }
    ["filename", "abs_path"]
        .iter()
        .filter_map(|key| field(frame, key))
        .map(clean_path)
        .find(|cleaned| !cleaned.is_empty())
}

pub(super) fn function(frame: &Value) -> Option<String> {
    field(frame, "function")
        .map(clean_function)
        .filter(|f| !f.is_empty())
}

/// Drops what changes with every build of the same code: query strings, scheme and host,
/// hash-named directories, version directories and content hashes in file names.
fn clean_path(path: &str) -> String {
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
    match ADDRESS.get() {
        Some(re) => re.replace_all(function, "").trim().to_string(),
        None => function.trim().to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fingerprint::fingerprint;
    use serde_json::json;

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
    fn addresses_are_dropped_from_functions() {
        assert!(ADDRESS.get().is_some());
        assert_eq!(clean_function("draw+0x1f"), "draw");
        assert_eq!(clean_function(" handler @ 0x7f1d0f012c10 "), "handler");
        assert_eq!(
            function(&json!({"function": "0x1234"})),
            None,
            "an address alone is no function"
        );
    }
}
