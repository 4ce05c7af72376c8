//! How raw payloads are kept: content-addressed and zstd-compressed.
//!
//! A payload is addressed by the SHA-256 of its decoded bytes and tagged with a codec number,
//! so that the storage format can change without a rewrite.
//!
//! A tracker receives the same few bugs over and over, so a zstd dictionary trained on the
//! installation's own payloads compresses a 5 KB event to a few hundred bytes where plain zstd
//! needs about 1.5 KB. Such frames carry the dictionary's id in their header.

use std::io::Read;

use sha2::{Digest, Sha256};
use thiserror::Error;
use zstd::dict::{DecoderDictionary, EncoderDictionary};

use crate::decode;

/// Stored as given (compression did not pay).
pub const CODEC_IDENTITY: i16 = 0;
/// A plain zstd frame.
pub const CODEC_ZSTD: i16 = 1;
/// A zstd frame made with a trained dictionary, whose id is in the frame header.
pub const CODEC_ZSTD_DICTIONARY: i16 = 2;

/// The magic number that starts a zstd dictionary, followed by its 4-byte id.
const DICTIONARY_MAGIC: [u8; 4] = 0xEC30_A437u32.to_le_bytes();

/// zstd level for the archive: level 3 is zstd's default and compresses event JSON about 4:1
/// at hundreds of MB/s, cheap enough for the ingest path.
const ZSTD_LEVEL: i32 = 3;

#[derive(Debug, Error, PartialEq, Eq)]
pub enum ArchiveError {
    #[error("unknown archive codec {0}")]
    UnknownCodec(i16),
    #[error("archived payload is damaged: {0}")]
    Damaged(#[from] decode::DecodeError),
    #[error("archived payload needs zstd dictionary {0}, which is not available")]
    MissingDictionary(u32),
    #[error("cannot train a dictionary: {0}")]
    Training(String),
    #[error("not a zstd dictionary with id {0}")]
    NotADictionary(u32),
}

/// A trained dictionary, prepared for both directions.
pub struct Dictionary {
    id: u32,
    encoder: EncoderDictionary<'static>,
    decoder: DecoderDictionary<'static>,
}

impl Dictionary {
    /// Prepares the dictionary `bytes`, which must carry `id` in their header.
    pub fn new(id: u32, bytes: &[u8]) -> Result<Self, ArchiveError> {
        if bytes.get(..4) != Some(&DICTIONARY_MAGIC[..])
            || bytes.get(4..8) != Some(&id.to_le_bytes()[..])
        {
            return Err(ArchiveError::NotADictionary(id));
        }
        Ok(Dictionary {
            id,
            encoder: EncoderDictionary::copy(bytes, ZSTD_LEVEL),
            decoder: DecoderDictionary::copy(bytes),
        })
    }

    /// The id frames made with it carry.
    pub fn id(&self) -> u32 {
        self.id
    }
}

/// Trains a dictionary of at most `max_bytes` on `samples` and gives it the id `id`.
pub fn train_dictionary(
    samples: &[Vec<u8>],
    max_bytes: usize,
    id: u32,
) -> Result<Vec<u8>, ArchiveError> {
    let mut bytes = zstd::dict::from_samples(samples, max_bytes)
        .map_err(|e| ArchiveError::Training(e.to_string()))?;
    if bytes.get(..4) != Some(&DICTIONARY_MAGIC[..]) || bytes.len() < 8 {
        return Err(ArchiveError::Training(
            "zstd made no dictionary header".into(),
        ));
    }
    bytes[4..8].copy_from_slice(&id.to_le_bytes());
    Ok(bytes)
}

/// The dictionary a stored payload needs, if any.
pub fn dictionary_id(codec: i16, stored: &[u8]) -> Option<u32> {
    (codec == CODEC_ZSTD_DICTIONARY)
        .then(|| zstd::zstd_safe::get_dict_id_from_frame(stored))
        .flatten()
        .map(|id| id.get())
}

/// The content address of a decoded payload.
pub fn content_hash(decoded: &[u8]) -> [u8; 32] {
    Sha256::digest(decoded).into()
}

/// Compresses a decoded payload for storage, with the dictionary if there is one; returns
/// the codec and the stored bytes.
pub fn pack(decoded: &[u8], dictionary: Option<&Dictionary>) -> (i16, Vec<u8>) {
    let packed = match dictionary {
        Some(dictionary) => zstd::bulk::Compressor::with_prepared_dictionary(&dictionary.encoder)
            .and_then(|mut compressor| compressor.compress(decoded))
            .map(|packed| (CODEC_ZSTD_DICTIONARY, packed)),
        None => zstd::bulk::compress(decoded, ZSTD_LEVEL).map(|packed| (CODEC_ZSTD, packed)),
    };
    match packed {
        Ok((codec, packed)) if packed.len() < decoded.len() => (codec, packed),
        _ => (CODEC_IDENTITY, decoded.to_vec()),
    }
}

/// Restores a stored payload, refusing to produce more than `limit` bytes. `dictionary` is
/// the one [`dictionary_id`] names, for the codec that needs one.
pub fn unpack(
    codec: i16,
    stored: &[u8],
    limit: usize,
    dictionary: Option<&Dictionary>,
) -> Result<Vec<u8>, ArchiveError> {
    match codec {
        CODEC_IDENTITY if stored.len() > limit => {
            Err(ArchiveError::Damaged(decode::DecodeError::TooLarge {
                limit,
            }))
        }
        CODEC_IDENTITY => Ok(stored.to_vec()),
        CODEC_ZSTD => Ok(decode::decode_one(stored, decode::Encoding::Zstd, limit)?),
        CODEC_ZSTD_DICTIONARY => {
            let needed = dictionary_id(codec, stored).unwrap_or(0);
            let dictionary = dictionary
                .filter(|d| d.id == needed)
                .ok_or(ArchiveError::MissingDictionary(needed))?;
            let damaged = |e: std::io::Error| {
                ArchiveError::Damaged(decode::DecodeError::Corrupt {
                    encoding: "zstd",
                    reason: e.to_string(),
                })
            };
            let decoder =
                zstd::stream::read::Decoder::with_prepared_dictionary(stored, &dictionary.decoder)
                    .map_err(damaged)?;
            let mut out = Vec::new();
            decoder
                .take(u64::try_from(limit).unwrap_or(u64::MAX).saturating_add(1))
                .read_to_end(&mut out)
                .map_err(damaged)?;
            if out.len() > limit {
                return Err(ArchiveError::Damaged(decode::DecodeError::TooLarge {
                    limit,
                }));
            }
            Ok(out)
        }
        other => Err(ArchiveError::UnknownCodec(other)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn packs_and_unpacks() {
        let data = br#"{"message":"hello hello hello hello hello hello hello"}"#.repeat(20);
        let (codec, stored) = pack(&data, None);
        assert_eq!(codec, CODEC_ZSTD);
        assert!(stored.len() < data.len() / 4);
        assert_eq!(dictionary_id(codec, &stored), None);
        assert_eq!(unpack(codec, &stored, 1 << 20, None).unwrap(), data);
    }

    #[test]
    fn incompressible_payloads_are_kept_as_they_are() {
        let (codec, stored) = pack(b"{}", None);
        assert_eq!((codec, stored.as_slice()), (CODEC_IDENTITY, &b"{}"[..]));
        assert_eq!(unpack(codec, &stored, 10, None).unwrap(), b"{}");
    }

    /// Found by the `digest` fuzz target: a payload stored as it came ignored the limit.
    #[test]
    fn every_codec_respects_the_limit() {
        let (codec, stored) = pack(b"{}", None);
        assert_eq!(codec, CODEC_IDENTITY);
        assert_eq!(
            unpack(codec, &stored, 1, None),
            Err(ArchiveError::Damaged(decode::DecodeError::TooLarge {
                limit: 1
            }))
        );
        assert_eq!(unpack(codec, &stored, 2, None).unwrap(), b"{}");
        let data = br#"{"message":"hello hello hello hello hello hello hello"}"#.repeat(20);
        let (codec, stored) = pack(&data, None);
        assert_eq!(codec, CODEC_ZSTD);
        assert!(unpack(codec, &stored, data.len() - 1, None).is_err());
        assert_eq!(unpack(codec, &stored, usize::MAX, None).unwrap(), data);
    }

    #[test]
    fn unknown_codec_is_an_error() {
        assert_eq!(
            unpack(9, b"x", 10, None),
            Err(ArchiveError::UnknownCodec(9))
        );
    }

    fn event(n: usize) -> Vec<u8> {
        format!(
            r#"{{"event_id":"{n:032x}","level":"error","platform":"python","exception":{{"values":[{{"type":"KeyError","value":"'user_{n}'","stacktrace":{{"frames":[{{"filename":"app/views.py","function":"checkout","lineno":{n},"in_app":true}},{{"filename":"django/core/handlers/base.py","function":"get_response","lineno":181,"in_app":false}}]}}}}]}},"tags":{{"browser":"Chrome","release":"shop@1.{}"}},"user":{{"id":"{n}"}}}}"#,
            n % 7
        )
        .into_bytes()
    }

    #[test]
    fn a_trained_dictionary_shrinks_similar_payloads() {
        let samples: Vec<Vec<u8>> = (0..300).map(event).collect();
        let bytes = train_dictionary(&samples, 16 * 1024, 40_000).unwrap();
        let dictionary = Dictionary::new(40_000, &bytes).unwrap();
        assert_eq!(dictionary.id(), 40_000);
        let payload = event(1234);
        let (plain_codec, plain) = pack(&payload, None);
        let (codec, packed) = pack(&payload, Some(&dictionary));
        assert_eq!((plain_codec, codec), (CODEC_ZSTD, CODEC_ZSTD_DICTIONARY));
        assert!(
            packed.len() * 2 < plain.len(),
            "{} vs {}",
            packed.len(),
            plain.len()
        );
        assert_eq!(dictionary_id(codec, &packed), Some(40_000));
        assert_eq!(
            unpack(codec, &packed, 1 << 20, Some(&dictionary)).unwrap(),
            payload
        );
        // The cap plus the one byte that tells "over" from "at" must not overflow.
        assert_eq!(
            unpack(codec, &packed, usize::MAX, Some(&dictionary)).unwrap(),
            payload
        );
        // Without it, or with another, the payload cannot be read, and says what it needs.
        assert_eq!(
            unpack(codec, &packed, 1 << 20, None),
            Err(ArchiveError::MissingDictionary(40_000))
        );
        assert!(matches!(
            unpack(codec, &packed, 10, Some(&dictionary)),
            Err(ArchiveError::Damaged(_))
        ));
        assert!(Dictionary::new(40_001, &bytes).is_err());
        assert!(Dictionary::new(1, b"not a dictionary").is_err());
    }

    #[test]
    fn hash_is_sha256() {
        assert_eq!(
            hex::encode(content_hash(b"abc")),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }
}
