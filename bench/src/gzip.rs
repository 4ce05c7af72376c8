//! gzip bodies at the cost of a copy: a template's constant stretches are deflated once, and
//! per request only the fresh fields go in as stored (uncompressed) deflate blocks.
//!
//! Each constant stretch is deflated (level 1) as a stream of its own and ended with a sync
//! flush, so it ends on a byte boundary and refers to nothing before it; stored blocks of the
//! fresh bytes can then sit between the stretches. An empty final stored block closes the
//! stream, and the gzip header and trailer (RFC 1952) are written by hand. Any gzip decoder
//! reads the result, and the only per-request work is copying and a CRC-32.

use bytes::BytesMut;
use flate2::{Compress, Compression, Crc, FlushCompress};

/// ID1 ID2, CM = deflate, no flags, no mtime, XFL = fastest, OS = unknown.
const HEADER: [u8; 10] = [0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 4, 0xff];
/// A stored block that is the last one (BFINAL = 1) and holds nothing.
const FINAL_EMPTY_BLOCK: [u8; 5] = [0x01, 0x00, 0x00, 0xff, 0xff];

#[derive(Debug)]
enum Piece {
    /// A constant stretch, deflated and sync-flushed.
    Deflated(Vec<u8>),
    /// Bytes `start..start + len` of the filled body, stored as they are.
    Stored { start: usize, len: u16 },
}

/// The gzip form of one template.
#[derive(Debug)]
pub(crate) struct GzipTemplate {
    pieces: Vec<Piece>,
    /// The length of the body it compresses.
    plain_len: usize,
}

impl GzipTemplate {
    /// `plain` is the template; `fresh` lists its per-request ranges as (start, length),
    /// sorted and not overlapping.
    pub(crate) fn new(plain: &[u8], fresh: &[(usize, usize)], level: u32) -> GzipTemplate {
        let mut deflate = Compress::new(Compression::new(level), false);
        let mut pieces = Vec::with_capacity(2 * fresh.len() + 1);
        let mut at = 0;
        for &(start, len) in fresh {
            pieces.push(Piece::Deflated(deflated(&mut deflate, &plain[at..start])));
            let len = u16::try_from(len).expect("fresh fields are short");
            pieces.push(Piece::Stored { start, len });
            at = start + usize::from(len);
        }
        pieces.push(Piece::Deflated(deflated(&mut deflate, &plain[at..])));
        GzipTemplate {
            pieces,
            plain_len: plain.len(),
        }
    }

    /// Appends the gzip body of `plain`, the template filled with fresh fields.
    pub(crate) fn write(&self, plain: &[u8], out: &mut BytesMut) {
        debug_assert_eq!(plain.len(), self.plain_len);
        out.extend_from_slice(&HEADER);
        for piece in &self.pieces {
            match piece {
                Piece::Deflated(bytes) => out.extend_from_slice(bytes),
                &Piece::Stored { start, len } => {
                    // BFINAL = 0, BTYPE = stored, then LEN and its complement.
                    out.extend_from_slice(&[0]);
                    out.extend_from_slice(&len.to_le_bytes());
                    out.extend_from_slice(&(!len).to_le_bytes());
                    out.extend_from_slice(&plain[start..start + usize::from(len)]);
                }
            }
        }
        out.extend_from_slice(&FINAL_EMPTY_BLOCK);
        let mut crc = Crc::new();
        crc.update(plain);
        out.extend_from_slice(&crc.sum().to_le_bytes());
        out.extend_from_slice(&crc.amount().to_le_bytes());
    }
}

/// `input` as a deflate stream of its own, sync-flushed (byte-aligned, not final).
fn deflated(deflate: &mut Compress, input: &[u8]) -> Vec<u8> {
    deflate.reset();
    let mut out = Vec::with_capacity(input.len() + 64);
    loop {
        let consumed = usize::try_from(deflate.total_in()).expect("small input");
        deflate
            .compress_vec(&input[consumed..], &mut out, FlushCompress::Sync)
            .expect("deflate takes any input");
        // Done once all input is in and the flush stopped short of the buffer's end.
        if deflate.total_in() == input.len() as u64 && out.len() < out.capacity() {
            return out;
        }
        out.reserve(out.capacity().max(1024));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;

    fn gunzip(body: &[u8]) -> Vec<u8> {
        let mut plain = Vec::new();
        flate2::read::GzDecoder::new(body)
            .read_to_end(&mut plain)
            .expect("valid gzip");
        plain
    }

    fn round_trip(template: &[u8], fresh: &[(usize, usize)], filled: &[u8]) {
        let gzip = GzipTemplate::new(template, fresh, 1);
        let mut out = BytesMut::new();
        gzip.write(filled, &mut out);
        assert_eq!(gunzip(&out), filled);
    }

    #[test]
    fn fresh_fields_survive_the_round_trip() {
        let template = b"{\"id\":\"XXXXXXXX\",\"text\":\"hello hello hello hello\",\"t\":\"YYYY\"}";
        let filled = b"{\"id\":\"0123abcd\",\"text\":\"hello hello hello hello\",\"t\":\"2026\"}";
        let at = |c: u8| template.iter().position(|&b| b == c).unwrap();
        round_trip(template, &[(at(b'X'), 8), (at(b'Y'), 4)], filled);
    }

    #[test]
    fn edges_and_empty_stretches() {
        round_trip(b"", &[], b"");
        round_trip(b"abcd", &[(0, 4)], b"wxyz");
        round_trip(b"abcdef", &[(0, 2), (2, 2), (4, 2)], b"123456");
        round_trip(&[7u8; 100_000], &[(50_000, 10)], &[7u8; 100_000]);
    }

    #[test]
    fn incompressible_input_still_round_trips() {
        let mut rng = fastrand::Rng::with_seed(1);
        let noise: Vec<u8> = (0..200_000).map(|_| rng.u8(..)).collect();
        round_trip(&noise, &[(10, 32), (150_000, 36)], &noise);
    }
}
