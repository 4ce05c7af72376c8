//! What the ingest fast path checks before it stores a payload.
//!
//! That it is framed right, that it carries at most one event, that no item is over its
//! limit, and the ids that decide the event id to answer with (`ids::event_id`). It parses
//! no item payload except to find an event id the envelope header does not carry.

use serde::Deserialize;
use thiserror::Error;

use crate::envelope::{self, EnvelopeError};
use crate::ids;

/// How the body reached us: an envelope (`/envelope/`) or one JSON event (`/store/`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PayloadKind {
    Envelope,
    Store,
}

impl PayloadKind {
    pub fn from_name(name: &str) -> Option<Self> {
        match name {
            "envelope" => Some(Self::Envelope),
            "store" => Some(Self::Store),
            _ => None,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Self::Envelope => "envelope",
            Self::Store => "store",
        }
    }
}

/// Per-item limits, Sentry's own by default.
#[derive(Debug, Clone, Copy)]
pub struct ItemLimits {
    /// An event, transaction or similar JSON item, after decompression.
    pub max_event_bytes: usize,
    /// Session updates in one envelope.
    pub max_sessions: usize,
}

impl Default for ItemLimits {
    fn default() -> Self {
        Self {
            max_event_bytes: 1 << 20,
            max_sessions: 100,
        }
    }
}

#[derive(Debug, Error, PartialEq, Eq)]
pub enum PayloadError {
    #[error("malformed envelope: {0}")]
    Envelope(#[from] EnvelopeError),
    #[error("event is not valid JSON: {0}")]
    InvalidJson(String),
    #[error("event is not a JSON object")]
    NotAnObject,
    #[error("{item_type} item of {size} bytes exceeds the limit of {limit} bytes")]
    ItemTooLarge {
        item_type: String,
        size: usize,
        limit: usize,
    },
    #[error("envelope holds {count} sessions, more than the limit of {limit}")]
    TooManySessions { count: usize, limit: usize },
    #[error(
        "envelope holds {count} event items ({types}); an envelope carries at most one \
         event, transaction, feedback or security item: send the others in envelopes of their own"
    )]
    SeveralEvents { count: usize, types: String },
}

impl PayloadError {
    /// Whether the payload is refused for its size (HTTP 413) rather than its shape (400).
    pub fn is_too_large(&self) -> bool {
        matches!(
            self,
            Self::ItemTooLarge { .. } | Self::TooManySessions { .. }
        )
    }
}

/// What ingest learns from a valid payload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Inspection {
    /// The envelope header's `event_id`, if it has a valid one.
    pub header_event_id: Option<String>,
    /// The event item's own `event_id` (the body's, for a store request).
    pub own_event_id: Option<String>,
    /// Whether the payload holds an item that becomes an event or transaction, so that a
    /// missing id must be made up.
    pub has_event: bool,
    /// The public key of the envelope header's `dsn`, for clients that send no other.
    pub dsn_key: Option<String>,
}

/// Item types whose payload is an event-shaped JSON object with an `event_id`.
pub(crate) fn is_event_like(item_type: &str) -> bool {
    matches!(item_type, "event" | "transaction" | "feedback" | "security")
}

/// Sentry's rule, and ours since the event id is the envelope's: at most one event-like item.
pub(crate) fn check_one_event<'a>(
    item_types: impl Iterator<Item = &'a str>,
) -> Result<(), PayloadError> {
    let events: Vec<&str> = item_types.filter(|t| is_event_like(t)).collect();
    if events.len() > 1 {
        let mut types = events.clone();
        types.sort_unstable();
        types.dedup();
        return Err(PayloadError::SeveralEvents {
            count: events.len(),
            types: types.join(", "),
        });
    }
    Ok(())
}

#[derive(Deserialize)]
struct IdProbe {
    #[serde(default)]
    event_id: Option<serde_json::Value>,
}

/// Checks a decoded payload as ingest must before storing it.
pub fn inspect(
    kind: PayloadKind,
    decoded: &[u8],
    limits: ItemLimits,
) -> Result<Inspection, PayloadError> {
    match kind {
        PayloadKind::Store => {
            check_size("event", decoded.len(), limits.max_event_bytes)?;
            let probe = probe_event(decoded)?;
            Ok(Inspection {
                header_event_id: None,
                own_event_id: ids::uuid_from_json(probe.event_id.as_ref()),
                has_event: true,
                dsn_key: None,
            })
        }
        PayloadKind::Envelope => inspect_envelope(decoded, limits),
    }
}

fn inspect_envelope(decoded: &[u8], limits: ItemLimits) -> Result<Inspection, PayloadError> {
    let env = envelope::parse(decoded)?;
    check_one_event(env.items.iter().map(|item| item.header.item_type.as_str()))?;
    let mut sessions = 0;
    let mut event_item = None;
    for item in &env.items {
        let item_type = item.header.item_type.as_str();
        if is_event_like(item_type) {
            check_size(item_type, item.payload.len(), limits.max_event_bytes)?;
            event_item = Some(item);
        }
        if item_type == "session" {
            sessions += 1;
        }
    }
    if sessions > limits.max_sessions {
        return Err(PayloadError::TooManySessions {
            count: sessions,
            limit: limits.max_sessions,
        });
    }
    let header_event_id = env.event_id();
    // The item's own id matters only when the header has none.
    let own_event_id = match (&header_event_id, event_item) {
        (None, Some(item)) => ids::uuid_from_json(probe_event(item.payload)?.event_id.as_ref()),
        _ => None,
    };
    Ok(Inspection {
        header_event_id,
        own_event_id,
        has_event: event_item.is_some(),
        dsn_key: env.dsn_public_key(),
    })
}

fn probe_event(json: &[u8]) -> Result<IdProbe, PayloadError> {
    let trimmed = json.trim_ascii_start();
    if !trimmed.starts_with(b"{") {
        return match serde_json::from_slice::<serde_json::Value>(json) {
            Ok(_) => Err(PayloadError::NotAnObject),
            Err(e) => Err(PayloadError::InvalidJson(e.to_string())),
        };
    }
    serde_json::from_slice(json).map_err(|e| PayloadError::InvalidJson(e.to_string()))
}

fn check_size(item_type: &str, size: usize, limit: usize) -> Result<(), PayloadError> {
    if size > limit {
        return Err(PayloadError::ItemTooLarge {
            item_type: item_type.to_string(),
            size,
            limit,
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_fixtures::python_envelope;

    #[test]
    fn envelope_answers_with_header_event_id() {
        let got = inspect(
            PayloadKind::Envelope,
            &python_envelope("event"),
            ItemLimits::default(),
        )
        .unwrap();
        assert_eq!(
            got.header_event_id.as_deref(),
            Some("f86061c800e640538b67067ad209a674")
        );
        assert!(got.has_event);
    }

    #[test]
    fn envelope_without_event_has_no_id() {
        let got = inspect(
            PayloadKind::Envelope,
            &python_envelope("session"),
            ItemLimits::default(),
        )
        .unwrap();
        assert_eq!(
            got,
            Inspection {
                header_event_id: None,
                own_event_id: None,
                has_event: false,
                dsn_key: None
            }
        );
    }

    #[test]
    fn event_id_falls_back_to_the_event_item() {
        let body =
            b"{}\n{\"type\":\"event\"}\n{\"event_id\":\"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\"}\n";
        let got = inspect(PayloadKind::Envelope, body, ItemLimits::default()).unwrap();
        assert_eq!(got.header_event_id, None);
        assert_eq!(
            got.own_event_id.as_deref(),
            Some("aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa")
        );
    }

    #[test]
    fn an_envelope_carries_at_most_one_event() {
        let body = b"{}\n{\"type\":\"event\"}\n{}\n{\"type\":\"attachment\"}\nx\n\
                     {\"type\":\"transaction\"}\n{}\n{\"type\":\"event\"}\n{}\n";
        let err = inspect(PayloadKind::Envelope, body, ItemLimits::default()).unwrap_err();
        assert_eq!(
            err,
            PayloadError::SeveralEvents {
                count: 3,
                types: "event, transaction".into()
            }
        );
        assert!(!err.is_too_large());
        let one = b"{}\n{\"type\":\"attachment\"}\nx\n{\"type\":\"event\"}\n{}\n";
        assert!(
            inspect(PayloadKind::Envelope, one, ItemLimits::default())
                .unwrap()
                .has_event
        );
    }

    #[test]
    fn store_reads_the_event_id_and_tolerates_its_absence() {
        let got = inspect(
            PayloadKind::Store,
            br#"{"event_id":"9ec79c33ec9942ab8353589fcb2e04dc","message":"x"}"#,
            ItemLimits::default(),
        )
        .unwrap();
        assert_eq!(
            got.own_event_id.as_deref(),
            Some("9ec79c33ec9942ab8353589fcb2e04dc")
        );
        let got = inspect(
            PayloadKind::Store,
            br#"{"@timestamp":"2026-11-22T07:15:22.455Z","message":"raw"}"#,
            ItemLimits::default(),
        )
        .unwrap();
        assert_eq!(
            got,
            Inspection {
                header_event_id: None,
                own_event_id: None,
                has_event: true,
                dsn_key: None
            }
        );
    }

    #[test]
    fn malformed_payloads_are_refused() {
        let limits = ItemLimits::default();
        assert!(matches!(
            inspect(PayloadKind::Store, b"{\"a\":", limits),
            Err(PayloadError::InvalidJson(_))
        ));
        assert_eq!(
            inspect(PayloadKind::Store, b"[1,2]", limits),
            Err(PayloadError::NotAnObject)
        );
        assert!(matches!(
            inspect(
                PayloadKind::Envelope,
                b"{}\n{\"type\":\"event\",\"length\":99}\n{}",
                limits
            ),
            Err(PayloadError::Envelope(_))
        ));
    }

    #[test]
    fn item_limits_are_enforced() {
        let limits = ItemLimits {
            max_event_bytes: 10,
            max_sessions: 1,
        };
        let err = inspect(
            PayloadKind::Envelope,
            b"{}\n{\"type\":\"event\"}\n{\"message\":\"far too long\"}\n",
            limits,
        )
        .unwrap_err();
        assert!(err.is_too_large());
        let err = inspect(
            PayloadKind::Envelope,
            b"{}\n{\"type\":\"session\"}\n{}\n{\"type\":\"session\"}\n{}\n",
            limits,
        )
        .unwrap_err();
        assert_eq!(err, PayloadError::TooManySessions { count: 2, limit: 1 });
        assert!(inspect(
            PayloadKind::Store,
            b"{\"message\":\"far too long\"}",
            limits
        )
        .unwrap_err()
        .is_too_large());
    }
}
