//! Undoes an HTTP `Content-Encoding` under a hard cap on the decoded size.
//!
//! The cap makes a small compressed bomb cost an error and not gigabytes of memory. It does not
//! look at the bytes.

use std::borrow::Cow;
use std::io::Read;

use thiserror::Error;

/// One content coding of RFC 9110, as SDKs send them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Encoding {
    Identity,
    Gzip,
    Deflate,
    Brotli,
    Zstd,
}

#[derive(Debug, Error, PartialEq, Eq)]
pub enum DecodeError {
    #[error("unsupported content encoding {0:?} (supported: identity, gzip, deflate, br, zstd)")]
    Unsupported(String),
    #[error("decompressed body exceeds the limit of {limit} bytes")]
    TooLarge { limit: usize },
    #[error("body is not valid {encoding}: {reason}")]
    Corrupt {
        encoding: &'static str,
        reason: String,
    },
}

impl Encoding {
    /// Reads one coding token, case-insensitively; `x-gzip` is gzip's old name.
    pub fn from_token(token: &str) -> Result<Self, DecodeError> {
        match token.trim().to_ascii_lowercase().as_str() {
            "" | "identity" => Ok(Self::Identity),
            "gzip" | "x-gzip" => Ok(Self::Gzip),
            "deflate" => Ok(Self::Deflate),
            "br" => Ok(Self::Brotli),
            "zstd" => Ok(Self::Zstd),
            other => Err(DecodeError::Unsupported(other.to_string())),
        }
    }

    /// Reads a whole `Content-Encoding` header value. Codings are listed in the order they were
    /// applied, so they are returned in that order and must be undone from the last.
    pub fn parse_header(value: Option<&str>) -> Result<Vec<Self>, DecodeError> {
        let Some(value) = value else {
            return Ok(Vec::new());
        };
        value
            .split(',')
            .map(Self::from_token)
            .filter(|coding| coding != &Ok(Self::Identity))
            .collect()
    }

    fn name(self) -> &'static str {
        match self {
            Self::Identity => "identity",
            Self::Gzip => "gzip",
            Self::Deflate => "deflate",
            Self::Brotli => "br",
            Self::Zstd => "zstd",
        }
    }
}

/// Decodes `body` per the `Content-Encoding` header value, never producing more than `limit`
/// bytes. An identity body larger than `limit` is also refused.
pub fn decode<'a>(
    body: &'a [u8],
    content_encoding: Option<&str>,
    limit: usize,
) -> Result<Cow<'a, [u8]>, DecodeError> {
    let codings = Encoding::parse_header(content_encoding)?;
    let mut data = Cow::Borrowed(body);
    for coding in codings.into_iter().rev() {
        data = Cow::Owned(decode_one(&data, coding, limit)?);
    }
    if data.len() > limit {
        return Err(DecodeError::TooLarge { limit });
    }
    Ok(data)
}

/// Decodes one coding layer under the cap.
pub fn decode_one(body: &[u8], coding: Encoding, limit: usize) -> Result<Vec<u8>, DecodeError> {
    match coding {
        Encoding::Identity if body.len() > limit => Err(DecodeError::TooLarge { limit }),
        Encoding::Identity => Ok(body.to_vec()),
        Encoding::Gzip => read_capped(flate2::read::MultiGzDecoder::new(body), coding, limit),
        // HTTP's "deflate" is zlib-wrapped, but some clients send a raw deflate stream.
        Encoding::Deflate if looks_like_zlib(body) => {
            read_capped(flate2::read::ZlibDecoder::new(body), coding, limit)
        }
        Encoding::Deflate => read_capped(flate2::read::DeflateDecoder::new(body), coding, limit),
        Encoding::Brotli => read_capped(
            brotli_decompressor::Decompressor::new(body, 4096),
            coding,
            limit,
        ),
        Encoding::Zstd => {
            let decoder = zstd::stream::read::Decoder::new(body).map_err(|e| corrupt(coding, e))?;
            read_capped(decoder, coding, limit)
        }
    }
}

fn looks_like_zlib(body: &[u8]) -> bool {
    match body {
        [cmf, flg, ..] => cmf & 0x0f == 8 && (u16::from(*cmf) << 8 | u16::from(*flg)) % 31 == 0,
        _ => false,
    }
}

fn read_capped(reader: impl Read, coding: Encoding, limit: usize) -> Result<Vec<u8>, DecodeError> {
    let mut out = Vec::new();
    // One byte past the limit tells "exactly at the limit" from "over it".
    let cap = u64::try_from(limit).unwrap_or(u64::MAX).saturating_add(1);
    reader
        .take(cap)
        .read_to_end(&mut out)
        .map_err(|e| corrupt(coding, e))?;
    if out.len() > limit {
        return Err(DecodeError::TooLarge { limit });
    }
    Ok(out)
}

fn corrupt(coding: Encoding, err: std::io::Error) -> DecodeError {
    DecodeError::Corrupt {
        encoding: coding.name(),
        reason: err.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn gzip(data: &[u8]) -> Vec<u8> {
        let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
        enc.write_all(data).unwrap();
        enc.finish().unwrap()
    }

    #[test]
    fn identity_passes_through_without_copy() {
        let out = decode(b"hello", None, 10).unwrap();
        assert!(matches!(out, Cow::Borrowed(_)));
        assert_eq!(&*out, b"hello");
        assert_eq!(&*decode(b"hello", Some("identity"), 10).unwrap(), b"hello");
    }

    #[test]
    fn identity_over_the_limit_is_refused() {
        assert_eq!(
            decode(b"hello", None, 4),
            Err(DecodeError::TooLarge { limit: 4 })
        );
    }

    /// Found by the `decode` fuzz target: one identity layer ignored the cap.
    #[test]
    fn identity_layer_respects_the_limit() {
        assert_eq!(
            decode_one(b"hello", Encoding::Identity, 4),
            Err(DecodeError::TooLarge { limit: 4 })
        );
        assert_eq!(
            decode_one(b"hello", Encoding::Identity, 5).as_deref(),
            Ok(&b"hello"[..])
        );
    }

    #[test]
    fn every_supported_coding_round_trips() {
        let data = b"{\"event_id\":\"abc\"}\n".repeat(50);
        let gz = gzip(&data);
        let mut z = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::default());
        z.write_all(&data).unwrap();
        let zlib = z.finish().unwrap();
        let mut d = flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::default());
        d.write_all(&data).unwrap();
        let raw_deflate = d.finish().unwrap();
        let zst = zstd::encode_all(&data[..], 3).unwrap();
        let mut br = Vec::new();
        brotli::BrotliCompress(&mut &data[..], &mut br, &Default::default()).unwrap();
        for (coding, body) in [
            ("gzip", &gz),
            ("GZIP", &gz),
            ("x-gzip", &gz),
            ("deflate", &zlib),
            ("deflate", &raw_deflate),
            ("zstd", &zst),
            ("br", &br),
        ] {
            assert_eq!(
                &*decode(body, Some(coding), 1 << 20).unwrap(),
                &data[..],
                "{coding}"
            );
        }
    }

    #[test]
    fn gzip_bomb_is_cut_at_the_limit() {
        let bomb = gzip(&vec![0u8; 50 << 20]);
        assert!(bomb.len() < 100 << 10);
        assert_eq!(
            decode(&bomb, Some("gzip"), 1 << 20),
            Err(DecodeError::TooLarge { limit: 1 << 20 })
        );
    }

    #[test]
    fn corrupt_and_unknown_codings_are_errors() {
        assert!(matches!(
            decode(b"not gzip", Some("gzip"), 100),
            Err(DecodeError::Corrupt {
                encoding: "gzip",
                ..
            })
        ));
        assert_eq!(
            decode(b"x", Some("compress"), 100),
            Err(DecodeError::Unsupported("compress".into()))
        );
    }

    #[test]
    fn stacked_codings_are_undone_last_first() {
        let inner = gzip(b"payload");
        let outer = zstd::encode_all(&inner[..], 1).unwrap();
        assert_eq!(
            &*decode(&outer, Some("gzip, zstd"), 100).unwrap(),
            b"payload"
        );
    }
}
