//! Sentry envelopes: bytes to a header and a list of items. No HTTP, no database.
//!
//! Wire format:
//! ```text
//! {"event_id":"…","dsn":"…","sent_at":"…"}\n      envelope header, one JSON object
//! {"type":"event","length":41}\n                 item header; `length` is optional
//! <41 bytes of payload>\n                         the newline after a payload is optional at the end
//! {"type":"session"}\n                           without `length` the payload runs to the next \n
//! {"sid":"…"}
//! ```

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use thiserror::Error;

use crate::ids;

/// A parsed envelope borrowing its payloads from the decoded body.
#[derive(Debug)]
pub struct Envelope<'a> {
    pub header: Map<String, Value>,
    pub items: Vec<Item<'a>>,
}

#[derive(Debug)]
pub struct Item<'a> {
    pub header: ItemHeader,
    pub payload: &'a [u8],
}

/// The item header fields the tracker reads; others are ignored.
#[derive(Debug, Clone, Deserialize, Serialize)]
pub struct ItemHeader {
    #[serde(rename = "type")]
    pub item_type: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub length: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub filename: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content_type: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub attachment_type: Option<String>,
}

#[derive(Debug, Error, PartialEq, Eq)]
pub enum EnvelopeError {
    #[error("empty envelope")]
    Empty,
    #[error("envelope header is not a JSON object: {0}")]
    InvalidHeader(String),
    #[error("header of item {index} is invalid: {reason}")]
    InvalidItemHeader { index: usize, reason: String },
    #[error("item {index} declares {declared} bytes but only {available} follow")]
    Truncated {
        index: usize,
        declared: u64,
        available: usize,
    },
    #[error("item {index} is not followed by a newline")]
    MissingNewline { index: usize },
}

impl Envelope<'_> {
    /// The header's `event_id`, normalised; hyphenated UUIDs are accepted.
    pub fn event_id(&self) -> Option<String> {
        ids::uuid_from_json(self.header.get("event_id"))
    }

    /// The public key of the header's `dsn`, which browser tunnels use to carry the key.
    pub fn dsn_public_key(&self) -> Option<String> {
        dsn_public_key(self.header.get("dsn")?.as_str()?)
    }
}

/// The public key of a DSN such as `https://KEY@host/42` or `https://KEY:SECRET@host/42`.
pub fn dsn_public_key(dsn: &str) -> Option<String> {
    let (_, rest) = dsn.split_once("://")?;
    let (userinfo, _) = rest.split_once('@')?;
    let key = userinfo.split(':').next()?;
    (!key.is_empty()).then(|| key.to_string())
}

/// Parses the whole envelope, checking every item's framing.
pub fn parse(bytes: &[u8]) -> Result<Envelope<'_>, EnvelopeError> {
    let (header_line, mut rest) = split_line(bytes);
    if header_line.iter().all(u8::is_ascii_whitespace) {
        return Err(EnvelopeError::Empty);
    }
    let header = parse_header(header_line)?;
    let mut items = Vec::new();
    loop {
        rest = skip_blank_lines(rest);
        if rest.is_empty() {
            break;
        }
        let index = items.len();
        let (line, after_header) = split_line(rest);
        let item_header: ItemHeader =
            serde_json::from_slice(line).map_err(|e| EnvelopeError::InvalidItemHeader {
                index,
                reason: e.to_string(),
            })?;
        let (payload, after_payload) = match item_header.length {
            Some(declared) => {
                let len = usize::try_from(declared)
                    .ok()
                    .filter(|len| *len <= after_header.len())
                    .ok_or(EnvelopeError::Truncated {
                        index,
                        declared,
                        available: after_header.len(),
                    })?;
                let (payload, tail) = after_header.split_at(len);
                match tail.split_first() {
                    None => (payload, tail),
                    Some((b'\n', tail)) => (payload, tail),
                    // Tolerate a CRLF written by hand-made clients.
                    Some((b'\r', [b'\n', tail @ ..])) => (payload, tail),
                    Some(_) => return Err(EnvelopeError::MissingNewline { index }),
                }
            }
            None => split_line(after_header),
        };
        items.push(Item {
            header: item_header,
            payload,
        });
        rest = after_payload;
    }
    Ok(Envelope { header, items })
}

/// Parses only the first line, for callers that need the header and not the items.
pub fn parse_header(line: &[u8]) -> Result<Map<String, Value>, EnvelopeError> {
    match serde_json::from_slice::<Value>(line) {
        Ok(Value::Object(map)) => Ok(map),
        Ok(_) => Err(EnvelopeError::InvalidHeader("not an object".into())),
        Err(e) => Err(EnvelopeError::InvalidHeader(e.to_string())),
    }
}

/// Splits at the first `\n` (dropping a `\r` before it); the line is everything if there is none.
fn split_line(bytes: &[u8]) -> (&[u8], &[u8]) {
    match bytes.iter().position(|b| *b == b'\n') {
        Some(pos) => {
            let line = &bytes[..pos];
            (line.strip_suffix(b"\r").unwrap_or(line), &bytes[pos + 1..])
        }
        None => (bytes, &[]),
    }
}

fn skip_blank_lines(mut bytes: &[u8]) -> &[u8] {
    while let Some((first, tail)) = bytes.split_first() {
        if !first.is_ascii_whitespace() {
            break;
        }
        bytes = tail;
    }
    bytes
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_fixtures::python_envelope;

    #[test]
    fn parses_every_captured_envelope() {
        for (name, types) in [
            ("event", vec!["event"]),
            ("attachment", vec!["event", "attachment"]),
            ("transaction", vec!["transaction"]),
            ("session", vec!["session"]),
            ("sessions", vec!["sessions"]),
            ("check_in", vec!["check_in"]),
            ("client_report", vec!["client_report"]),
            ("log", vec!["log"]),
        ] {
            let bytes = python_envelope(name);
            let env = parse(&bytes).unwrap_or_else(|e| panic!("{name}: {e}"));
            let got: Vec<_> = env
                .items
                .iter()
                .map(|i| i.header.item_type.as_str())
                .collect();
            assert_eq!(got, types, "{name}");
            for item in &env.items {
                if let Some(len) = item.header.length {
                    assert_eq!(item.payload.len() as u64, len, "{name}");
                }
            }
        }
    }

    #[test]
    fn reads_header_event_id() {
        let bytes = python_envelope("event");
        assert_eq!(
            parse(&bytes).unwrap().event_id().as_deref(),
            Some("f86061c800e640538b67067ad209a674")
        );
    }

    #[test]
    fn items_without_length_run_to_the_newline() {
        let env = parse(
            b"{\"event_id\":\"9EC79C33-EC99-42AB-8353-589FCB2E04DC\"}\n{\"type\":\"event\"}\n{\"message\":\"hi\"}\n{\"type\":\"session\"}\n{\"sid\":\"x\"}",
        )
        .unwrap();
        assert_eq!(
            env.event_id().as_deref(),
            Some("9ec79c33ec9942ab8353589fcb2e04dc")
        );
        assert_eq!(env.items.len(), 2);
        assert_eq!(env.items[0].payload, b"{\"message\":\"hi\"}");
        assert_eq!(env.items[1].payload, b"{\"sid\":\"x\"}");
    }

    #[test]
    fn binary_payloads_with_newlines_use_length() {
        let env = parse(
            b"{}\n{\"type\":\"attachment\",\"length\":3}\na\nb\n{\"type\":\"x\",\"length\":0}\n\n",
        )
        .unwrap();
        assert_eq!(env.items[0].payload, b"a\nb");
        assert_eq!(env.items[1].payload, b"");
    }

    #[test]
    fn dsn_key_is_read_from_the_header() {
        let env = parse(b"{\"dsn\":\"https://abc123:secret@o1.example/42\"}\n").unwrap();
        assert_eq!(env.dsn_public_key().as_deref(), Some("abc123"));
        assert_eq!(
            dsn_public_key("http://k@127.0.0.1:3000/1").as_deref(),
            Some("k")
        );
        assert_eq!(dsn_public_key("http://127.0.0.1:3000/1"), None);
        assert_eq!(dsn_public_key("garbage"), None);
    }

    #[test]
    fn header_only_envelopes_are_valid() {
        assert!(parse(b"{}").unwrap().items.is_empty());
        assert!(parse(b"{}\n").unwrap().items.is_empty());
    }

    #[test]
    fn framing_errors_are_named() {
        assert_eq!(parse(b"").unwrap_err(), EnvelopeError::Empty);
        assert!(matches!(
            parse(b"[1]\n"),
            Err(EnvelopeError::InvalidHeader(_))
        ));
        assert!(matches!(
            parse(b"{}\nnot json\n"),
            Err(EnvelopeError::InvalidItemHeader { index: 0, .. })
        ));
        assert!(matches!(
            parse(b"{}\n{\"length\":2}\nab\n"),
            Err(EnvelopeError::InvalidItemHeader { .. })
        ));
        assert_eq!(
            parse(b"{}\n{\"type\":\"event\",\"length\":100}\n{\"a\":1}").unwrap_err(),
            EnvelopeError::Truncated {
                index: 0,
                declared: 100,
                available: 7
            }
        );
        assert_eq!(
            parse(b"{}\n{\"type\":\"event\",\"length\":2}\nabc\n").unwrap_err(),
            EnvelopeError::MissingNewline { index: 0 }
        );
    }
}
