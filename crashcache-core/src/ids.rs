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

/// An event id for a payload that came without one (raw log shippers): made from the payload's
/// content hash, so that digesting the same archive again yields the same event.
pub fn event_id_from_hash(content_hash: &[u8; 32]) -> String {
    hex::encode(&content_hash[..16])
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
