//! The whole payload-to-rows path, `digest::digest`, for both payload kinds (so envelope
//! items, JSON repair, normalising and fingerprinting): rows are bounded and well-formed, the
//! result is deterministic, a store body digests as the same body in an envelope would, and
//! the event id stored is the one ingest (`ingest::prepare`) answered for the same bytes.
//!
//! Input: byte 0 picks the kind (even: envelope, odd: store), the rest is the payload.
#![no_main]

use crashcache_core::digest::{self, Digest};
use crashcache_core::ingest::{self, Limits};
use crashcache_core::normalise::{EventFacts, NameVersion};
use crashcache_core::payload::{ItemLimits, PayloadKind};
use crashcache_core::{archive, timestamp};
use libfuzzer_sys::fuzz_target;
use serde_json::Value;

const END_US: i64 = 253_402_300_800 * 1_000_000;
const LIMITS: Limits = Limits {
    max_compressed_bytes: 1 << 20,
    max_decompressed_bytes: 1 << 20,
    items: ItemLimits {
        max_event_bytes: 1 << 20,
        max_sessions: 100,
    },
};

fuzz_target!(|data: &[u8]| {
    let [mode, payload @ ..] = data else {
        return;
    };
    let kind = if mode % 2 == 0 {
        PayloadKind::Envelope
    } else {
        PayloadKind::Store
    };
    let hash = archive::content_hash(payload);
    let result = digest::digest(kind, payload, &hash);
    let again = digest::digest(kind, payload, &hash);
    assert_eq!(
        result.as_ref().map(json).map_err(ToString::to_string),
        again.as_ref().map(json).map_err(ToString::to_string),
        "digest is not deterministic"
    );
    if let Ok(d) = &result {
        check_rows(d);
    }
    if kind == PayloadKind::Store {
        same_as_in_an_envelope(payload, &hash, result.as_ref().ok());
    }
    agrees_with_ingest(kind, payload, result.as_ref().ok());
});

fn json(d: &Digest) -> String {
    serde_json::to_string(d).expect("a digest serializes")
}

fn check_rows(d: &Digest) {
    assert!(
        d.events.len() + d.transactions.len() <= 1,
        "more than one event in a payload"
    );
    for facts in &d.events {
        check_event(facts);
    }
    for tx in &d.transactions {
        assert!(is_id(&tx.event_id), "transaction id {:?}", tx.event_id);
        assert!(tx.span_count >= 0);
        check_tags(&tx.tags);
    }
    for span in &d.spans {
        if let Some(id) = &span.transaction_event_id {
            assert!(is_id(id));
        }
    }
    for row in &d.feedback {
        assert!(row.event_id.as_deref().is_none_or(is_id));
    }
    for row in &d.attachments {
        assert!(row.event_id.as_deref().is_none_or(is_id));
        assert!(row.size >= 0);
    }
    // Every time column, wherever it is, is a plausible time.
    let value = serde_json::to_value(d).unwrap();
    check_times(&value);
}

fn check_event(facts: &EventFacts) {
    let id = facts
        .event_id
        .as_deref()
        .expect("a digested event has an id");
    assert!(is_id(id), "event id {id:?}");
    assert!(
        ["fatal", "error", "warning", "info", "debug"].contains(&facts.level),
        "level {}",
        facts.level
    );
    assert!(!facts.title.is_empty() && facts.title.chars().count() <= 200);
    assert_eq!(facts.title.trim(), facts.title, "title is not trimmed");
    if let Some(message) = &facts.message {
        assert!(message.chars().count() <= 8192);
    }
    for (name, dim, max) in [
        ("platform", &facts.platform, 200),
        ("culprit", &facts.culprit, 200),
        ("release", &facts.release, 250),
        ("environment", &facts.environment, 200),
        ("server_name", &facts.server_name, 200),
        ("logger", &facts.logger, 200),
        ("transaction", &facts.transaction, 200),
        ("device_model", &facts.device_model, 200),
        ("exception_type", &facts.exception_type, 200),
    ] {
        if let Some(text) = dim {
            check_dim(name, text, max);
        }
    }
    for (name, nv) in [
        ("os", &facts.os),
        ("runtime", &facts.runtime),
        ("browser", &facts.browser),
        ("sdk", &facts.sdk),
    ] {
        if let Some(NameVersion { name: n, version }) = nv {
            assert!(!n.is_empty() && n.chars().count() <= 200, "{name} {n:?}");
            assert!(version.chars().count() <= 200, "{name} version");
        }
    }
    check_tags(&facts.tags);
    if let Some(user) = &facts.user {
        assert!(user.is_object());
    }
    let fp = &facts.fingerprint;
    assert!(is_id(&fp.hash), "fingerprint {:?}", fp.hash);
    assert!(["custom", "stacktrace", "exception", "message", "fallback"].contains(&fp.method));
}

/// Dimension values are looked up by equality: trimmed, non-empty, bounded.
fn check_dim(name: &str, text: &str, max: usize) {
    assert!(!text.is_empty(), "{name} is empty");
    assert_eq!(text.trim(), text, "{name} is not trimmed");
    assert!(text.chars().count() <= max, "{name} is too long");
}

fn check_tags(tags: &serde_json::Map<String, Value>) {
    assert!(tags.len() <= 200, "{} tags", tags.len());
    for (key, value) in tags {
        assert!(
            !key.is_empty() && key.chars().count() <= 200,
            "tag key {key:?}"
        );
        let value = value.as_str().expect("tag values are strings");
        assert!(value.chars().count() <= 200, "tag {key:?} value too long");
    }
}

/// Keys ending in `_us`, and `timestamp`, hold a time in 1970..10000 or null. Values sent as
/// they came (user, tags, attributes, monitor config) are not looked into.
fn check_times(value: &Value) {
    match value {
        Value::Object(map) => {
            for (key, item) in map {
                if matches!(
                    key.as_str(),
                    "user" | "tags" | "attributes" | "monitor_config"
                ) {
                    continue;
                }
                if key.ends_with("_us") || key == "timestamp" {
                    if let Some(us) = item.as_i64() {
                        assert!((0..END_US).contains(&us), "{key} = {us}");
                        let text = timestamp::format_rfc3339(us);
                        assert_eq!(timestamp::parse(Some(&Value::String(text))), Some(us));
                    } else {
                        assert!(item.is_null(), "{key} = {item}");
                    }
                } else {
                    check_times(item);
                }
            }
        }
        Value::Array(items) => items.iter().for_each(check_times),
        _ => {}
    }
}

/// A store body and the same body as the one event item of an envelope digest alike.
fn same_as_in_an_envelope(payload: &[u8], hash: &[u8; 32], store: Option<&Digest>) {
    let mut envelope = format!(
        "{{}}\n{{\"type\":\"event\",\"length\":{}}}\n",
        payload.len()
    )
    .into_bytes();
    envelope.extend_from_slice(payload);
    let wrapped = digest::digest(PayloadKind::Envelope, &envelope, hash);
    assert_eq!(
        store.map(json),
        wrapped.as_ref().ok().map(json),
        "store and envelope digests differ"
    );
}

/// What ingest accepted and answered is what the digest stores.
fn agrees_with_ingest(kind: PayloadKind, payload: &[u8], digested: Option<&Digest>) {
    let Ok(prepared) = ingest::prepare(payload, None, kind, LIMITS, None) else {
        return;
    };
    assert_eq!(prepared.content_hash, archive::content_hash(payload));
    assert_eq!(prepared.raw_size, payload.len());
    let unpacked = archive::unpack(prepared.codec, &prepared.stored, payload.len(), None);
    assert_eq!(unpacked.as_deref(), Ok(payload), "the archive loses bytes");
    if let Some(short) = payload.len().checked_sub(1) {
        let refused = archive::unpack(prepared.codec, &prepared.stored, short, None);
        assert!(
            refused.is_err(),
            "codec {} unpacked {} bytes under a limit of {short}",
            prepared.codec,
            payload.len()
        );
    }
    let Some(d) = digested else {
        return;
    };
    let stored = d
        .events
        .first()
        .and_then(|e| e.event_id.clone())
        .or_else(|| d.transactions.first().map(|t| t.event_id.clone()));
    if let Some(stored) = stored {
        assert_eq!(
            prepared.event_id.as_deref(),
            Some(stored.as_str()),
            "ingest answered one id, the digest stores another"
        );
    }
}

fn is_id(id: &str) -> bool {
    id.len() == 32 && id.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}
