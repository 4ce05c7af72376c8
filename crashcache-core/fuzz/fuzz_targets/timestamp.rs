//! `timestamp::parse` on any JSON value and `format_rfc3339` on any i64: a parsed time lies in
//! 1970..10000, and the RFC 3339 text written for it parses back to the same microsecond.
//!
//! Input: byte 0 picks how the rest is read (JSON text, a string, f64 bits, i64 micros).
#![no_main]

use crashcache_core::timestamp::{self, EpochMicros};
use libfuzzer_sys::fuzz_target;
use serde_json::Value;

/// 10000-01-01T00:00:00Z in microseconds: no parsed time reaches it.
const END_US: EpochMicros = 253_402_300_800 * 1_000_000;

fuzz_target!(|data: &[u8]| {
    let [mode, rest @ ..] = data else {
        return;
    };
    match mode % 4 {
        0 => {
            let value = serde_json::from_slice::<Value>(rest)
                .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(rest).into_owned()));
            check(&value);
        }
        1 => {
            let text = String::from_utf8_lossy(rest).into_owned();
            let got = check(&Value::String(text.clone()));
            // Surrounding whitespace never matters.
            assert_eq!(got, check(&Value::String(format!(" \t{text}\n "))));
        }
        2 => {
            let bits = u64::from_le_bytes(eight(rest));
            let secs = f64::from_bits(bits);
            if let Some(number) = serde_json::Number::from_f64(secs) {
                check(&Value::Number(number));
            }
            let whole = i64::from_le_bytes(eight(rest));
            let got = check(&Value::from(whole));
            let in_range = (0..END_US / 1_000_000).contains(&whole);
            assert_eq!(got, in_range.then(|| whole * 1_000_000), "{whole} s");
            if in_range {
                assert_eq!(check(&Value::String(whole.to_string())), got);
            }
        }
        _ => {
            let us = i64::from_le_bytes(eight(rest));
            let text = timestamp::format_rfc3339(us);
            if (0..END_US).contains(&us) {
                assert_eq!(
                    timestamp::parse(Some(&Value::String(text.clone()))),
                    Some(us),
                    "{text}"
                );
            }
        }
    }
});

/// Parses `value` and checks the result's range and its RFC 3339 round trip.
fn check(value: &Value) -> Option<EpochMicros> {
    let got = timestamp::parse(Some(value))?;
    assert!((0..END_US).contains(&got), "{value} parsed to {got}");
    let text = timestamp::format_rfc3339(got);
    assert_eq!(
        timestamp::parse(Some(&Value::String(text.clone()))),
        Some(got),
        "{value} -> {text}"
    );
    Some(got)
}

fn eight(bytes: &[u8]) -> [u8; 8] {
    let mut out = [0u8; 8];
    let n = bytes.len().min(8);
    out[..n].copy_from_slice(&bytes[..n]);
    out
}
