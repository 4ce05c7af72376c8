//! `json_repair` on any bytes: good JSON is never touched, what it repairs stays UTF-8, needs
//! no second repair and nests no deeper than `MAX_DEPTH`, and NUL replacement leaves no NUL.
#![no_main]

use crashcache_core::json_repair::{self, MAX_DEPTH};
use libfuzzer_sys::fuzz_target;
use serde_json::Value;

fuzz_target!(|data: &[u8]| {
    let strict = serde_json::from_slice::<Value>(data);
    let repaired = json_repair::repair(data);
    if let Some(out) = &repaired {
        let text = std::str::from_utf8(out).expect("repaired JSON is UTF-8");
        assert_eq!(
            json_repair::repair(out),
            None,
            "a second repair changes {text:?}"
        );
    }
    let parsed = json_repair::parse(data);
    match (&strict, &parsed) {
        (Ok(strict), Ok(parsed)) => {
            assert_eq!(strict, parsed, "parse changed good JSON");
            if depth(strict) <= MAX_DEPTH {
                assert!(
                    repaired.is_none(),
                    "repair changed good JSON: {:?}",
                    String::from_utf8_lossy(repaired.as_deref().unwrap_or_default())
                );
            }
        }
        (Ok(_), Err(e)) => panic!("parse refused good JSON: {e}"),
        (Err(_), Ok(value)) => {
            assert!(repaired.is_some(), "parse accepted bad JSON without repair");
            assert!(depth(value) <= MAX_DEPTH, "repaired JSON nests too deep");
        }
        (Err(strict), Err(parsed)) => {
            assert_eq!(
                strict.to_string(),
                parsed.to_string(),
                "not the strict error"
            )
        }
    }
    if let Ok(mut value) = parsed {
        check_nul_replacement(&mut value);
    }
});

/// `replace_nul` and `replace_nul_escapes` agree, and leave no U+0000 anywhere.
///
/// Both sides are compared as parsed from JSON text: serde_json's float parsing does not
/// always give back the f64 it wrote, so a value and its serialization's parse can differ.
fn check_nul_replacement(value: &mut Value) {
    let serialized = serde_json::to_string(value).unwrap();
    let escaped = json_repair::replace_nul_escapes(serialized);
    json_repair::replace_nul(value);
    assert!(!has_nul(value), "replace_nul left a NUL");
    let by_escapes: Value =
        serde_json::from_str(&escaped).expect("replace_nul_escapes breaks JSON");
    let by_value: Value = serde_json::from_str(&serde_json::to_string(value).unwrap()).unwrap();
    assert!(!has_nul(&by_escapes), "replace_nul_escapes left a NUL");
    assert_eq!(by_escapes, by_value, "the two NUL replacements disagree");
}

fn has_nul(value: &Value) -> bool {
    match value {
        Value::String(s) => s.contains('\0'),
        Value::Array(items) => items.iter().any(has_nul),
        Value::Object(map) => map.iter().any(|(k, v)| k.contains('\0') || has_nul(v)),
        _ => false,
    }
}

/// Containers nested: 0 for a scalar, 1 for `[1]`.
fn depth(value: &Value) -> usize {
    match value {
        Value::Array(items) => 1 + items.iter().map(depth).max().unwrap_or(0),
        Value::Object(map) => 1 + map.values().map(depth).max().unwrap_or(0),
        _ => 0,
    }
}
