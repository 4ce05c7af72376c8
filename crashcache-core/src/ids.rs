//! Event, session and trace ids in the one form the tracker stores: 32 lowercase hex digits.

/// Accepts 32 hex digits or a hyphenated UUID (the Rust SDK's envelope headers), any case.
pub fn normalise_uuid(raw: &str) -> Option<String> {
    let raw = raw.trim();
    let hex: String = if raw.len() == 36 {
        let bytes = raw.as_bytes();
        if [8, 13, 18, 23].iter().any(|&i| bytes.get(i) != Some(&b'-')) {
            return None;
        }
        raw.chars().filter(|c| *c != '-').collect()
    } else {
        raw.to_string()
    };
    (hex.len() == 32 && hex.bytes().all(|b| b.is_ascii_hexdigit()))
        .then(|| hex.to_ascii_lowercase())
}

/// Reads an id from a JSON value; only strings can be ids.
pub fn uuid_from_json(value: Option<&serde_json::Value>) -> Option<String> {
    value
        .and_then(serde_json::Value::as_str)
        .and_then(normalise_uuid)
}

/// The one rule for an event's id, which ingest answers and the digest stores: Sentry's
/// precedence, the envelope header's id, else the event's own `event_id`, else one made from
/// the payload's content hash (raw log shippers send none), so that digesting the same archive
/// again yields the same event. An envelope carries at most one event (see `payload`), so
/// one payload never needs two made-up ids.
pub fn event_id(header: Option<&str>, own: Option<&str>, content_hash: &[u8; 32]) -> String {
    header
        .or(own)
        .map_or_else(|| hex::encode(&content_hash[..16]), str::to_string)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hyphenated_and_upper_case_ids_are_normalised() {
        assert_eq!(
            normalise_uuid("9EC79C33-EC99-42AB-8353-589FCB2E04DC").as_deref(),
            Some("9ec79c33ec9942ab8353589fcb2e04dc")
        );
        assert_eq!(
            normalise_uuid("9ec79c33ec9942ab8353589fcb2e04dc").as_deref(),
            Some("9ec79c33ec9942ab8353589fcb2e04dc")
        );
    }

    #[test]
    fn the_envelope_header_wins_then_the_event_then_the_hash() {
        let hash = [0xab; 32];
        let header = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
        let own = "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb";
        assert_eq!(event_id(Some(header), Some(own), &hash), header);
        assert_eq!(event_id(None, Some(own), &hash), own);
        assert_eq!(event_id(None, None, &hash), "ab".repeat(16));
    }

    #[test]
    fn malformed_ids_are_refused() {
        for bad in [
            "",
            "xyz",
            "9ec79c33ec9942ab8353589fcb2e04d",
            "9ec79c33-ec99-42ab-8353589fcb2e04dcx",
            "g".repeat(32).as_str(),
        ] {
            assert_eq!(normalise_uuid(bad), None, "{bad}");
        }
    }
}
