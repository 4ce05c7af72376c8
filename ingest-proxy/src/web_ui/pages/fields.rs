//! Reading the JSON the pages' SQL functions return: absent, null and mistyped fields read as
//! None (or empty), since a page shows what there is rather than failing on it.

use serde_json::Value;

/// The text at `key`, None when absent, null, empty or not a string.
pub fn text<'a>(value: &'a Value, key: &str) -> Option<&'a str> {
    value
        .get(key)
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
}

/// The number at `key` (also a numeric string, as jsonb numerics stay exact).
pub fn number(value: &Value, key: &str) -> Option<f64> {
    match value.get(key)? {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => s.parse().ok(),
        _ => None,
    }
}

/// The whole number at `key` (also a numeric string, like the API's `count`).
pub fn integer(value: &Value, key: &str) -> Option<i64> {
    match value.get(key)? {
        Value::Number(n) => n.as_i64().or_else(|| n.as_f64().map(|f| f as i64)),
        Value::String(s) => s.parse().ok(),
        _ => None,
    }
}

/// The list at `key`, empty when absent or not a list.
pub fn list<'a>(value: &'a Value, key: &str) -> &'a [Value] {
    value
        .get(key)
        .and_then(Value::as_array)
        .map_or(&[], Vec::as_slice)
}

/// The counts at `key`, for a sparkline.
pub fn counts(value: &Value, key: &str) -> Vec<i64> {
    list(value, key)
        .iter()
        .map(|n| n.as_i64().unwrap_or(0))
        .collect()
}

/// A value as one line of text: a string as it is, anything else as compact JSON, null as "".
pub fn shown(value: &Value) -> String {
    match value {
        Value::Null => String::new(),
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::{counts, integer, number, shown, text};
    use serde_json::json;

    #[test]
    fn fields_read_leniently() {
        let v = json!({"a": "x", "e": "", "n": 1.5, "s": "42", "c": [1, null, 3], "o": {"k": 1}});
        assert_eq!(text(&v, "a"), Some("x"));
        assert_eq!(text(&v, "e"), None);
        assert_eq!(text(&v, "n"), None);
        assert_eq!(number(&v, "n"), Some(1.5));
        assert_eq!(integer(&v, "s"), Some(42));
        assert_eq!(counts(&v, "c"), vec![1, 0, 3]);
        assert_eq!(shown(&v["o"]), "{\"k\":1}");
        assert_eq!(shown(&v["a"]), "x");
        assert_eq!(shown(&v["missing"]), "");
    }
}
