//! The CPU half of the ingest fast path: decode, inspect, hash and pack one request body.
//!
//! The SQL half (key check, insert, enqueue) lives in the extension's ingest.sql.

use thiserror::Error;

use crate::archive;
use crate::decode::{self, DecodeError};
use crate::ids;
use crate::payload::{self, ItemLimits, PayloadError, PayloadKind};

/// Limits one request body must respect.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    pub max_compressed_bytes: usize,
    pub max_decompressed_bytes: usize,
    pub items: ItemLimits,
}

/// A body ready to be stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Prepared {
    pub content_hash: [u8; 32],
    pub codec: i16,
    pub stored: Vec<u8>,
    /// Size of the decoded payload.
    pub raw_size: usize,
    /// The id to answer with; made from the hash for an event that came without one.
    pub event_id: Option<String>,
    /// The public key of the envelope header's `dsn`, if any.
    pub dsn_key: Option<String>,
}

/// Why a body is refused; each maps to one HTTP status.
#[derive(Debug, Error, PartialEq, Eq)]
pub enum IngestError {
    #[error("body of {size} bytes exceeds the limit of {limit} bytes")]
    CompressedTooLarge { size: usize, limit: usize },
    #[error("{0}")]
    Decode(#[from] DecodeError),
    #[error("{0}")]
    Payload(#[from] PayloadError),
}

impl IngestError {
    /// A stable name for the error, for logs and for the proxy's `X-Sentry-Error`.
    pub fn code(&self) -> &'static str {
        match self {
            Self::CompressedTooLarge { .. } | Self::Decode(DecodeError::TooLarge { .. }) => {
                "too_large"
            }
            Self::Payload(e) if e.is_too_large() => "too_large",
            Self::Decode(DecodeError::Unsupported(_)) => "unsupported_encoding",
            Self::Decode(DecodeError::Corrupt { .. }) => "undecodable",
            Self::Payload(_) => "malformed",
        }
    }

    /// The HTTP status Sentry's protocol answers this error with.
    pub fn http_status(&self) -> i32 {
        match self.code() {
            "too_large" => 413,
            "unsupported_encoding" => 415,
            _ => 400,
        }
    }
}

/// Decodes, checks, hashes and packs one request body (with the archive's current
/// dictionary, if it has one).
pub fn prepare(
    body: &[u8],
    content_encoding: Option<&str>,
    kind: PayloadKind,
    limits: Limits,
    dictionary: Option<&archive::Dictionary>,
) -> Result<Prepared, IngestError> {
    if body.len() > limits.max_compressed_bytes {
        return Err(IngestError::CompressedTooLarge {
            size: body.len(),
            limit: limits.max_compressed_bytes,
        });
    }
    let decoded = decode::decode(body, content_encoding, limits.max_decompressed_bytes)?;
    let inspection = payload::inspect(kind, &decoded, limits.items)?;
    let content_hash = archive::content_hash(&decoded);
    // Without an event (sessions, reports), only the header's id, if any, is answered.
    let event_id = if inspection.has_event {
        Some(ids::event_id(
            inspection.header_event_id.as_deref(),
            inspection.own_event_id.as_deref(),
            &content_hash,
        ))
    } else {
        inspection.header_event_id
    };
    let (codec, stored) = archive::pack(&decoded, dictionary);
    Ok(Prepared {
        content_hash,
        codec,
        stored,
        raw_size: decoded.len(),
        event_id,
        dsn_key: inspection.dsn_key,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const LIMITS: Limits = Limits {
        max_compressed_bytes: 1 << 20,
        max_decompressed_bytes: 1 << 20,
        items: ItemLimits {
            max_event_bytes: 1 << 20,
            max_sessions: 100,
        },
    };

    #[test]
    fn store_event_without_id_gets_one_from_its_hash() {
        let body = br#"{"message":"raw log line"}"#;
        let a = prepare(body, None, PayloadKind::Store, LIMITS, None).unwrap();
        let b = prepare(body, Some("identity"), PayloadKind::Store, LIMITS, None).unwrap();
        assert_eq!(a, b);
        assert_eq!(a.event_id, Some(hex::encode(&a.content_hash[..16])));
        assert_eq!(
            archive::unpack(a.codec, &a.stored, 1 << 20, None).unwrap(),
            body
        );
    }

    #[test]
    fn errors_map_to_statuses() {
        let small = Limits {
            max_compressed_bytes: 2,
            ..LIMITS
        };
        let cases: Vec<(Result<Prepared, IngestError>, &str, i32)> = vec![
            (
                prepare(b"{}\n", None, PayloadKind::Envelope, small, None),
                "too_large",
                413,
            ),
            (
                prepare(b"xx", Some("gzip"), PayloadKind::Envelope, LIMITS, None),
                "undecodable",
                400,
            ),
            (
                prepare(b"xx", Some("lzma"), PayloadKind::Envelope, LIMITS, None),
                "unsupported_encoding",
                415,
            ),
            (
                prepare(b"{\"type\"", None, PayloadKind::Store, LIMITS, None),
                "malformed",
                400,
            ),
            (
                prepare(
                    b"{}\n{\"type\":\"event\",\"length\":10}\n{}",
                    None,
                    PayloadKind::Envelope,
                    LIMITS,
                    None,
                ),
                "malformed",
                400,
            ),
        ];
        for (result, code, status) in cases {
            let err = result.unwrap_err();
            assert_eq!((err.code(), err.http_status()), (code, status), "{err}");
        }
    }
}
