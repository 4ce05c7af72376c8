//! JSON as real clients write it, made acceptable to the parser and to PostgreSQL.
//!
//! An event answered 200 must be digested, so what SDKs and log shippers get wrong is
//! repaired rather than refused: bytes that are not UTF-8 (a Latin-1 log line), lone UTF-16
//! surrogate escapes (JavaScript cuts long strings between the halves of a pair), nesting
//! deeper than the parser's recursion limit, and numbers beyond `f64` (`1e400`). A strict
//! parse comes first; the repair pass only runs when it fails, so good payloads pay nothing.
//!
//! PostgreSQL refuses U+0000 in `text` and `jsonb`, which JSON allows: [`replace_nul`] and
//! [`replace_nul_escapes`] turn it into U+FFFD on the way into the database.

use serde_json::Value;

/// Containers nested deeper than this are replaced by a marker string (serde_json stops at
/// 128, and nothing a tracker shows is this deep).
pub const MAX_DEPTH: usize = 100;
/// What stands in for a value nested deeper than [`MAX_DEPTH`].
pub const TOO_DEEP: &str = "[nested too deeply]";

/// Parses `bytes`, repairing them first if the strict parse fails. The error is the strict
/// parse's, so that it points at the original bytes.
pub fn parse(bytes: &[u8]) -> Result<Value, serde_json::Error> {
    match serde_json::from_slice(bytes) {
        Ok(value) => Ok(value),
        Err(strict) => match repair(bytes) {
            Some(repaired) => serde_json::from_slice(&repaired).map_err(|_| strict),
            None => Err(strict),
        },
    }
}

/// `bytes` with invalid UTF-8 and lone surrogates replaced by U+FFFD, containers deeper than
/// [`MAX_DEPTH`] by [`TOO_DEEP`], and numbers beyond `f64` by strings of their digits.
/// `None` when there was nothing to repair.
pub fn repair(bytes: &[u8]) -> Option<Vec<u8>> {
    let text = String::from_utf8_lossy(bytes);
    let mut changed = matches!(text, std::borrow::Cow::Owned(_));
    let src = text.as_bytes();
    let mut out = Vec::with_capacity(src.len());
    let mut depth = 0usize;
    let mut at = 0;
    while at < src.len() {
        match src[at] {
            b'"' => at = copy_string(src, at, &mut out, &mut changed),
            b'[' | b'{' if depth >= MAX_DEPTH => {
                out.push(b'"');
                out.extend_from_slice(TOO_DEEP.as_bytes());
                out.push(b'"');
                changed = true;
                at = skip_container(src, at);
            }
            open @ (b'[' | b'{') => {
                depth += 1;
                out.push(open);
                at += 1;
            }
            close @ (b']' | b'}') => {
                depth = depth.saturating_sub(1);
                out.push(close);
                at += 1;
            }
            b'-' | b'0'..=b'9' => {
                let end = number_end(src, at);
                let number = &src[at..end];
                let overflows = std::str::from_utf8(number)
                    .ok()
                    .and_then(|n| n.parse::<f64>().ok())
                    .is_some_and(f64::is_infinite);
                if overflows {
                    out.push(b'"');
                    out.extend_from_slice(number);
                    out.push(b'"');
                    changed = true;
                } else {
                    out.extend_from_slice(number);
                }
                at = end;
            }
            other => {
                out.push(other);
                at += 1;
            }
        }
    }
    changed.then_some(out)
}

/// Copies the string starting at the quote at `start`, replacing lone surrogate escapes;
/// returns the index after its closing quote (or the end of an unterminated string).
fn copy_string(src: &[u8], start: usize, out: &mut Vec<u8>, changed: &mut bool) -> usize {
    out.push(b'"');
    let mut at = start + 1;
    while at < src.len() {
        match src[at] {
            b'"' => {
                out.push(b'"');
                return at + 1;
            }
            b'\\' => match unicode_escape(src, at) {
                Some(0xD800..=0xDBFF) if is_low_surrogate(unicode_escape(src, at + 6)) => {
                    out.extend_from_slice(&src[at..at + 12]);
                    at += 12;
                }
                Some(0xD800..=0xDFFF) => {
                    out.extend_from_slice(b"\\ufffd");
                    *changed = true;
                    at += 6;
                }
                _ => {
                    let end = (at + 2).min(src.len());
                    out.extend_from_slice(&src[at..end]);
                    at = end;
                }
            },
            other => {
                out.push(other);
                at += 1;
            }
        }
    }
    at
}

/// The code unit of a `\uXXXX` escape at `at`.
fn unicode_escape(src: &[u8], at: usize) -> Option<u16> {
    let escape = src.get(at..at + 6)?;
    if &escape[..2] != b"\\u" {
        return None;
    }
    u16::from_str_radix(std::str::from_utf8(&escape[2..]).ok()?, 16).ok()
}

fn is_low_surrogate(unit: Option<u16>) -> bool {
    unit.is_some_and(|unit| (0xDC00..=0xDFFF).contains(&unit))
}

/// The index after the container opening at `start`, strings inside it skipped whole.
fn skip_container(src: &[u8], start: usize) -> usize {
    let mut depth = 0usize;
    let mut in_string = false;
    let mut at = start;
    while at < src.len() {
        match (in_string, src[at]) {
            (true, b'\\') => at += 1,
            (true, b'"') => in_string = false,
            (false, b'"') => in_string = true,
            (false, b'[' | b'{') => depth += 1,
            (false, b']' | b'}') => {
                depth -= 1;
                if depth == 0 {
                    return at + 1;
                }
            }
            _ => {}
        }
        at += 1;
    }
    src.len()
}

fn number_end(src: &[u8], start: usize) -> usize {
    src[start..]
        .iter()
        .position(|b| !matches!(b, b'0'..=b'9' | b'-' | b'+' | b'.' | b'e' | b'E'))
        .map_or(src.len(), |len| start + len)
}

/// Replaces U+0000 in every string (keys included) of `value` by U+FFFD.
pub fn replace_nul(value: &mut Value) {
    match value {
        Value::String(text) => replace_nul_in(text),
        Value::Array(items) => items.iter_mut().for_each(replace_nul),
        Value::Object(map) => {
            if map.keys().any(|key| key.contains('\0')) {
                let entries = std::mem::take(map);
                for (mut key, mut item) in entries {
                    replace_nul_in(&mut key);
                    replace_nul(&mut item);
                    map.insert(key, item);
                }
            } else {
                map.values_mut().for_each(replace_nul);
            }
        }
        _ => {}
    }
}

fn replace_nul_in(text: &mut String) {
    if text.contains('\0') {
        *text = text.replace('\0', "\u{fffd}");
    }
}

/// Replaces the `\u0000` escapes of serialized JSON (as serde_json writes U+0000) by
/// `\ufffd`. In serde_json's output a backslash only starts an escape, so escapes are read
/// in pairs and an escaped backslash followed by `u0000` is left alone.
pub fn replace_nul_escapes(json: String) -> String {
    if !json.contains("\\u0000") {
        return json;
    }
    let src = json.as_bytes();
    let mut out = Vec::with_capacity(src.len());
    let mut at = 0;
    while at < src.len() {
        if src[at] != b'\\' {
            out.push(src[at]);
            at += 1;
        } else if src[at..].starts_with(b"\\u0000") {
            out.extend_from_slice(b"\\ufffd");
            at += 6;
        } else {
            let end = (at + 2).min(src.len());
            out.extend_from_slice(&src[at..end]);
            at = end;
        }
    }
    // Only ASCII escapes were swapped for ASCII escapes.
    String::from_utf8(out).unwrap_or(json)
}

#[cfg(test)]
mod tests {
    use super::{parse, repair, replace_nul, replace_nul_escapes, MAX_DEPTH, TOO_DEEP};
    use serde_json::{json, Value};

    #[test]
    fn good_json_is_left_alone() {
        let text = br#"{"a":[1,-2.5e3,"x\"y\\u",{"b":"\ud83d\ude00"}]}"#;
        assert_eq!(repair(text), None);
        assert_eq!(parse(text).unwrap()["a"][3]["b"], "\u{1F600}");
    }

    #[test]
    fn invalid_utf8_becomes_replacement_characters() {
        let value = parse(b"{\"culprit\":\"caf\xe9\"}").unwrap();
        assert_eq!(value["culprit"], "caf\u{fffd}");
    }

    #[test]
    fn lone_surrogates_become_replacement_characters() {
        let value = parse(br#"{"a":"cut \ud83d","b":"\ude00 low","c":"\ud83d\u0041"}"#).unwrap();
        assert_eq!(value["a"], "cut \u{fffd}");
        assert_eq!(value["b"], "\u{fffd} low");
        assert_eq!(value["c"], "\u{fffd}A");
        // An escaped backslash before `ud83d` is text, not an escape.
        let value = parse(br#"{"a":"\\ud83d","b":"\ud83d"}"#).unwrap();
        assert_eq!(value["a"], "\\ud83d");
        // A lone surrogate at the very end is cut cleanly.
        assert!(parse(br#"{"a":"\ud8"#).is_err());
    }

    #[test]
    fn deep_nesting_is_cut() {
        let deep = format!(
            r#"{{"extra":{{"a":{}{}}},"message":"kept","s":"[[[["}}"#,
            "[".repeat(500),
            "]".repeat(500)
        );
        let value = parse(deep.as_bytes()).unwrap();
        assert_eq!(value["message"], "kept");
        assert_eq!(value["s"], "[[[[");
        let mut cur = &value["extra"]["a"];
        let mut depth = 2;
        while let Value::Array(items) = cur {
            cur = &items[0];
            depth += 1;
        }
        assert_eq!(depth, MAX_DEPTH);
        assert_eq!(cur, TOO_DEEP);
    }

    #[test]
    fn numbers_beyond_f64_become_strings() {
        let value =
            parse(br#"{"a":1e400,"b":-1E999,"c":1.5,"d":123456789012345678901234567890}"#).unwrap();
        assert_eq!(value["a"], "1e400");
        assert_eq!(value["b"], "-1E999");
        assert_eq!(value["c"], 1.5);
        assert!(value["d"].is_number());
    }

    #[test]
    fn broken_json_keeps_the_strict_error() {
        let err = parse(b"{\"a\": \xff").unwrap_err();
        assert!(err.to_string().contains("line 1"), "{err}");
        assert!(parse(b"").is_err());
        assert!(parse(b"]]]").is_err());
    }

    #[test]
    fn nul_is_replaced_in_values_and_keys() {
        let mut value = json!({"m": "a\0b", "k\0": ["\0"], "n": 1});
        replace_nul(&mut value);
        assert_eq!(
            value,
            json!({"m": "a\u{fffd}b", "k\u{fffd}": ["\u{fffd}"], "n": 1})
        );
    }

    #[test]
    fn nul_escapes_are_replaced_in_serialized_json() {
        let json = serde_json::to_string(&json!({"m": "a\0b", "t": "\\u0000"})).unwrap();
        let clean = replace_nul_escapes(json);
        let value: Value = serde_json::from_str(&clean).unwrap();
        assert_eq!(value, json!({"m": "a\u{fffd}b", "t": "\\u0000"}));
        assert_eq!(replace_nul_escapes("{}".into()), "{}");
    }
}
