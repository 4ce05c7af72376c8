//! Small readers for loosely typed JSON: SDKs send strings, numbers or nothing where a schema
//! would want one type, and the digest must never fail on that.

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
    if let Some((at, _)) = text.char_indices().nth(max) {
        text.truncate(at);
    }
    text
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
    fn numbers_accept_strings() {
        let v = json!({"a": 1.5, "b": "2", "c": "x", "d": 1e300});
        assert_eq!(number(&v, "a"), Some(1.5));
        assert_eq!(integer(&v, "b"), Some(2));
        assert_eq!(number(&v, "c"), None);
        assert_eq!(integer(&v, "d"), None);
    }
}
