//! How raw payloads are kept: content-addressed and zstd-compressed.
//!
//! A payload is addressed by the SHA-256 of its decoded bytes and tagged with a codec number,
//! so that the storage format can change without a rewrite.

use sha2::{Digest, Sha256};
use thiserror::Error;

use crate::decode;

/// Stored as given (compression did not pay).
pub const CODEC_IDENTITY: i16 = 0;
/// A plain zstd frame.
pub const CODEC_ZSTD: i16 = 1;

/// zstd level for the archive: level 3 is zstd's default and compresses event JSON about 4:1
/// at hundreds of MB/s, cheap enough for the ingest path.
const ZSTD_LEVEL: i32 = 3;

#[derive(Debug, Error, PartialEq, Eq)]
pub enum ArchiveError {
    #[error("unknown archive codec {0}")]
    UnknownCodec(i16),
    #[error("archived payload is damaged: {0}")]
    Damaged(#[from] decode::DecodeError),
}

/// The content address of a decoded payload.
pub fn content_hash(decoded: &[u8]) -> [u8; 32] {
    Sha256::digest(decoded).into()
}

/// Compresses a decoded payload for storage; returns the codec and the stored bytes.
pub fn pack(decoded: &[u8]) -> (i16, Vec<u8>) {
    match zstd::bulk::compress(decoded, ZSTD_LEVEL) {
        Ok(packed) if packed.len() < decoded.len() => (CODEC_ZSTD, packed),
        _ => (CODEC_IDENTITY, decoded.to_vec()),
    }
}

/// Restores a stored payload, refusing to produce more than `limit` bytes.
pub fn unpack(codec: i16, stored: &[u8], limit: usize) -> Result<Vec<u8>, ArchiveError> {
    match codec {
        CODEC_IDENTITY => Ok(stored.to_vec()),
        CODEC_ZSTD => Ok(decode::decode_one(stored, decode::Encoding::Zstd, limit)?),
        other => Err(ArchiveError::UnknownCodec(other)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn packs_and_unpacks() {
        let data = br#"{"message":"hello hello hello hello hello hello hello"}"#.repeat(20);
        let (codec, stored) = pack(&data);
        assert_eq!(codec, CODEC_ZSTD);
        assert!(stored.len() < data.len() / 4);
        assert_eq!(unpack(codec, &stored, 1 << 20).unwrap(), data);
    }

    #[test]
    fn incompressible_payloads_are_kept_as_they_are() {
        let (codec, stored) = pack(b"{}");
        assert_eq!((codec, stored.as_slice()), (CODEC_IDENTITY, &b"{}"[..]));
        assert_eq!(unpack(codec, &stored, 10).unwrap(), b"{}");
    }

    #[test]
    fn unknown_codec_is_an_error() {
        assert_eq!(unpack(9, b"x", 10), Err(ArchiveError::UnknownCodec(9)));
    }

    #[test]
    fn hash_is_sha256() {
        assert_eq!(
            hex::encode(content_hash(b"abc")),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }
}
