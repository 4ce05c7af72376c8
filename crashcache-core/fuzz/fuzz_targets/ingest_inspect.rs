//! `payload::inspect`, ingest's check of a decoded body, on any bytes and limits: what it
//! accepts is a well-framed envelope (or a JSON object) within the item limits, whose ids are
//! normalised, and a refusal for size happens only when something is over a limit.
//!
//! Input: byte 0 picks the kind (bit 0) and the limits (bits 1..), the rest is the payload.
#![no_main]

use crashcache_core::payload::{self, ItemLimits, PayloadError, PayloadKind};
use crashcache_core::{envelope, json_repair};
use libfuzzer_sys::fuzz_target;

const EVENT_LIMITS: [usize; 4] = [1 << 20, 64, 8, 0];
const SESSION_LIMITS: [usize; 4] = [100, 2, 1, 0];

fuzz_target!(|data: &[u8]| {
    let [mode, body @ ..] = data else {
        return;
    };
    let kind = if mode & 1 == 0 {
        PayloadKind::Envelope
    } else {
        PayloadKind::Store
    };
    let limits = ItemLimits {
        max_event_bytes: EVENT_LIMITS[usize::from(mode >> 1) % 4],
        max_sessions: SESSION_LIMITS[usize::from(mode >> 3) % 4],
    };
    let result = payload::inspect(kind, body, limits);
    assert_eq!(
        result,
        payload::inspect(kind, body, limits),
        "not deterministic"
    );
    match (&result, kind) {
        (Ok(got), _) => {
            for id in [&got.header_event_id, &got.own_event_id]
                .into_iter()
                .flatten()
            {
                assert!(is_id(id), "id {id:?}");
            }
            if let Some(key) = &got.dsn_key {
                assert!(!key.is_empty());
            }
            if kind == PayloadKind::Store {
                assert!(got.has_event && got.header_event_id.is_none() && got.dsn_key.is_none());
                assert!(body.len() <= limits.max_event_bytes);
                // What ingest answers 200 for, the digest must be able to read.
                let value = json_repair::parse(body).expect("an accepted store body is JSON");
                assert!(value.is_object(), "an accepted store body is not an object");
            } else {
                check_envelope(body, limits, got.has_event);
            }
        }
        (Err(e), PayloadKind::Store) if e.is_too_large() => {
            assert!(body.len() > limits.max_event_bytes)
        }
        (Err(PayloadError::Envelope(_)), PayloadKind::Store) => {
            panic!("a store body refused as an envelope")
        }
        (Err(e), PayloadKind::Envelope) => {
            // Framing errors are envelope::parse's own.
            if let Err(framing) = envelope::parse(body) {
                assert_eq!(e, &PayloadError::Envelope(framing));
            } else {
                assert!(!matches!(e, PayloadError::Envelope(_)));
            }
            if e.is_too_large() {
                let env = envelope::parse(body).unwrap();
                let over = env.items.iter().any(|i| {
                    is_event_like(&i.header.item_type) && i.payload.len() > limits.max_event_bytes
                });
                let sessions = count(&env, "session");
                assert!(over || sessions > limits.max_sessions, "{e}");
            }
        }
        (Err(_), PayloadKind::Store) => {}
    }
});

fn check_envelope(body: &[u8], limits: ItemLimits, has_event: bool) {
    let env = envelope::parse(body).expect("an accepted envelope parses");
    let events: Vec<_> = env
        .items
        .iter()
        .filter(|i| is_event_like(&i.header.item_type))
        .collect();
    assert!(events.len() <= 1, "{} event items accepted", events.len());
    assert_eq!(has_event, !events.is_empty());
    for item in events {
        assert!(item.payload.len() <= limits.max_event_bytes);
    }
    assert!(count(&env, "session") <= limits.max_sessions);
}

fn count(env: &envelope::Envelope<'_>, item_type: &str) -> usize {
    env.items
        .iter()
        .filter(|i| i.header.item_type == item_type)
        .count()
}

/// The item types ingest treats as events (`payload::is_event_like`, which is not public).
fn is_event_like(item_type: &str) -> bool {
    matches!(item_type, "event" | "transaction" | "feedback" | "security")
}

fn is_id(id: &str) -> bool {
    id.len() == 32 && id.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}
