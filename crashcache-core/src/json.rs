//! Small readers for loosely typed JSON that never fail on an unexpected type.
//!
//! SDKs send strings, numbers or nothing where a schema would want one type, and the digest
//! must not fail on that. Two families: the owned readers ([`string`], [`as_string`],
//! [`number`], [`integer`]) accept any scalar and are what row columns use; the crate-internal
//! `str_field` and `truncate_str` borrow and take only real strings, which is what grouping
//! needs (see `str_field`).

use serde_json::Value;

/// A trimmed, non-empty string at `key`, cut to `max` characters; numbers and booleans are
/// accepted and written out, because SDKs are not consistent about them.
pub fn string(value: &Value, key: &str, max: usize) -> Option<String> {
    as_string(value.get(key)?, max)
}

/// A trimmed, non-empty string at a path of keys.
pub fn string_at(value: &Value, path: &[&str], max: usize) -> Option<String> {
    let mut cur = value;
    for key in path {
        cur = cur.get(key)?;
    }
    as_string(cur, max)
}

/// A scalar written out as a trimmed, non-empty string, cut to `max` characters.
pub fn as_string(value: &Value, max: usize) -> Option<String> {
    let text = match value {
        Value::String(s) => s.trim().to_string(),
        Value::Number(n) => n.to_string(),
        Value::Bool(b) => b.to_string(),
        _ => return None,
    };
    (!text.is_empty()).then(|| truncate(text, max))
}

/// Cuts a string to at most `max` characters, on a character boundary.
pub fn truncate(mut text: String, max: usize) -> String {
    let kept = truncate_str(&text, max).len();
    text.truncate(kept);
    text
}

/// [`truncate`] for a borrowed string, so that reading an event does not copy it first.
pub(crate) fn truncate_str(text: &str, max: usize) -> &str {
    match text.char_indices().nth(max) {
        Some((at, _)) => text.get(..at).unwrap_or(text),
        None => text,
    }
}

/// A trimmed, non-empty string at `key`, borrowed. Unlike [`string`] it takes only JSON
/// strings and cuts nothing: grouping hashes what it reads, and a number where a type name
/// belongs is not a type name. Accepting it now would also regroup every stored issue.
pub(crate) fn str_field<'a>(value: &'a Value, key: &str) -> Option<&'a str> {
    value
        .get(key)
        .and_then(Value::as_str)
        .map(str::trim)
        .filter(|s| !s.is_empty())
}

/// A number at `key`, accepting numeric strings.
pub fn number(value: &Value, key: &str) -> Option<f64> {
    match value.get(key)? {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
    .filter(|n: &f64| n.is_finite())
}

/// A whole number at `key`, accepting floats and numeric strings; out-of-range values are `None`.
pub fn integer(value: &Value, key: &str) -> Option<i64> {
    let n = number(value, key)?;
    (n >= i64::MIN as f64 && n <= i64::MAX as f64).then_some(n as i64)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn strings_are_trimmed_cut_and_tolerant() {
        let v = json!({"a": "  x  ", "b": "", "c": 12, "d": {"e": "héllo"}, "f": null});
        assert_eq!(string(&v, "a", 10).as_deref(), Some("x"));
        assert_eq!(string(&v, "b", 10), None);
        assert_eq!(string(&v, "c", 10).as_deref(), Some("12"));
        assert_eq!(string_at(&v, &["d", "e"], 2).as_deref(), Some("hé"));
        assert_eq!(string(&v, "f", 10), None);
        assert_eq!(string(&v, "missing", 10), None);
    }

    #[test]
    fn borrowed_strings_are_strings_only() {
        let v = json!({"a": "  x  ", "b": " ", "c": 12});
        assert_eq!(str_field(&v, "a"), Some("x"));
        assert_eq!(str_field(&v, "b"), None);
        assert_eq!(str_field(&v, "c"), None);
        assert_eq!(truncate_str("héllo", 2), "hé");
        assert_eq!(truncate_str("hé", 5), "hé");
        assert_eq!(truncate("héllo".to_string(), 2), "hé");
    }

    #[test]
    fn numbers_accept_strings() {
        let v = json!({"a": 1.5, "b": "2", "c": "x", "d": 1e300});
        assert_eq!(number(&v, "a"), Some(1.5));
        assert_eq!(integer(&v, "b"), Some(2));
        assert_eq!(number(&v, "c"), None);
        assert_eq!(integer(&v, "d"), None);
    }
}
