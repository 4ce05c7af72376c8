//! Bounded decoding (`decode::decode_one`, `decode::decode`) of every coding under small caps:
//! nothing longer than the cap ever comes out, a smaller cap changes an answer only into
//! `TooLarge`, and what our own encoders wrote decodes back to the original bytes.
//!
//! Input: byte 0 picks the mode and coding, byte 1 the cap (and the header), the rest is the
//! body; in the round-trip modes the body is the plain text that is encoded first.
#![no_main]

use std::io::Write;

use crashcache_core::decode::{self, DecodeError, Encoding};
use libfuzzer_sys::fuzz_target;

const CODINGS: [Encoding; 5] = [
    Encoding::Identity,
    Encoding::Gzip,
    Encoding::Deflate,
    Encoding::Brotli,
    Encoding::Zstd,
];
/// Small caps, so that the fuzzer reaches them; the last is the reference.
const CAPS: [usize; 8] = [0, 1, 2, 17, 100, 1000, 4096, 30_000];
/// Large enough that no input of libFuzzer's sizes reaches it without being a bomb.
const REFERENCE_CAP: usize = 1 << 18;
const HEADERS: [&str; 8] = [
    "gzip",
    "GZIP, identity",
    "zstd, gzip",
    "gzip, zstd",
    "br,deflate",
    " x-gzip ,br",
    "identity",
    "deflate, zstd, br",
];

fuzz_target!(|data: &[u8]| {
    let [mode, knob, body @ ..] = data else {
        return;
    };
    let cap = CAPS[usize::from(*knob) % CAPS.len()];
    let header = HEADERS[usize::from(*knob) / CAPS.len() % HEADERS.len()];
    match mode % 4 {
        // Any bytes as one coding.
        0 | 1 => {
            let coding = CODINGS[usize::from(mode / 4) % CODINGS.len()];
            check_one(body, coding, cap);
        }
        // Any bytes under a whole header; the first line of the body is also read as one.
        2 => {
            check_header(body, header, cap);
            let line = body.split(|b| *b == b'\n').next().unwrap_or(&[]);
            check_header_parse(&String::from_utf8_lossy(line));
        }
        // Our encoders' output for the body.
        _ => round_trip(body, mode / 4, header, cap),
    }
});

/// One coding under `cap`, compared with the same under [`REFERENCE_CAP`].
fn check_one(body: &[u8], coding: Encoding, cap: usize) {
    let small = decode::decode_one(body, coding, cap);
    if let Ok(out) = &small {
        assert!(
            out.len() <= cap,
            "{coding:?}: {} bytes under cap {cap}",
            out.len()
        );
    }
    let reference = decode::decode_one(body, coding, REFERENCE_CAP);
    match &reference {
        Ok(full) if full.len() <= cap => {
            assert_eq!(small.as_ref(), Ok(full), "{coding:?} under cap {cap}")
        }
        Ok(_) | Err(DecodeError::TooLarge { .. }) => assert_eq!(
            small,
            Err(DecodeError::TooLarge { limit: cap }),
            "{coding:?}: cap {cap}, reference {:?}",
            reference.as_ref().map(Vec::len)
        ),
        Err(DecodeError::Corrupt { .. }) => assert!(small.is_err()),
        Err(DecodeError::Unsupported(_)) => unreachable!("a parsed coding is supported"),
    }
    if coding == Encoding::Identity {
        assert_eq!(reference.as_deref(), Ok(body));
    }
}

fn check_header(body: &[u8], header: &str, cap: usize) {
    let small = decode::decode(body, Some(header), cap);
    if let Ok(out) = &small {
        assert!(
            out.len() <= cap,
            "{header:?}: {} bytes under cap {cap}",
            out.len()
        );
    }
    // Undoing the codings one at a time, last first, under the same cap is the same thing.
    let mut expected: Result<Vec<u8>, DecodeError> = Ok(body.to_vec());
    for coding in Encoding::parse_header(Some(header))
        .unwrap()
        .into_iter()
        .rev()
    {
        expected = expected.and_then(|data| decode::decode_one(&data, coding, cap));
    }
    let expected = expected.and_then(|data| {
        if data.len() > cap {
            Err(DecodeError::TooLarge { limit: cap })
        } else {
            Ok(data)
        }
    });
    assert_eq!(small.map(|out| out.into_owned()), expected, "{header:?}");
}

fn check_header_parse(header: &str) {
    match Encoding::parse_header(Some(header)) {
        Ok(codings) => {
            assert!(!codings.contains(&Encoding::Identity));
            assert!(codings.len() <= header.split(',').count());
        }
        Err(DecodeError::Unsupported(token)) => {
            assert!(header.to_ascii_lowercase().contains(token.as_str()))
        }
        Err(e) => panic!("{header:?}: {e}"),
    }
    assert_eq!(decode::decode(b"", None, 0).as_deref(), Ok(&b""[..]));
}

/// Encodes `plain` with our encoders, then decodes it under `cap`.
fn round_trip(plain: &[u8], pick: u8, header: &str, cap: usize) {
    if pick % 8 < CODINGS.len() as u8 {
        let coding = CODINGS[usize::from(pick % 8)];
        let raw_deflate = pick & 8 != 0;
        let encoded = encode(plain, coding, raw_deflate);
        let got = decode::decode_one(&encoded, coding, cap);
        if plain.len() <= cap {
            assert_eq!(got.as_deref(), Ok(plain), "{coding:?} raw={raw_deflate}");
        } else {
            assert_eq!(got, Err(DecodeError::TooLarge { limit: cap }), "{coding:?}");
        }
        return;
    }
    // Stacked codings: every layer must fit under the cap, not only the last.
    let codings = Encoding::parse_header(Some(header)).unwrap();
    let mut layers = vec![plain.to_vec()];
    for coding in &codings {
        let next = encode(layers.last().unwrap(), *coding, false);
        layers.push(next);
    }
    let got = decode::decode(layers.last().unwrap(), Some(header), cap);
    let fits = layers[..layers.len() - 1].iter().all(|l| l.len() <= cap)
        && (layers.len() > 1 || plain.len() <= cap);
    if fits {
        assert_eq!(got.as_deref(), Ok(plain), "{header:?}");
    } else {
        assert_eq!(got, Err(DecodeError::TooLarge { limit: cap }), "{header:?}");
    }
}

fn encode(plain: &[u8], coding: Encoding, raw_deflate: bool) -> Vec<u8> {
    match coding {
        Encoding::Identity => plain.to_vec(),
        Encoding::Gzip => {
            let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
            enc.write_all(plain).unwrap();
            enc.finish().unwrap()
        }
        Encoding::Deflate if raw_deflate => {
            let mut enc =
                flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::fast());
            enc.write_all(plain).unwrap();
            enc.finish().unwrap()
        }
        Encoding::Deflate => {
            let mut enc = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::fast());
            enc.write_all(plain).unwrap();
            enc.finish().unwrap()
        }
        Encoding::Brotli => {
            let mut out = Vec::new();
            let params = brotli::enc::BrotliEncoderParams {
                quality: 4,
                ..Default::default()
            };
            brotli::BrotliCompress(&mut &plain[..], &mut out, &params).unwrap();
            out
        }
        Encoding::Zstd => zstd::encode_all(plain, 1).unwrap(),
    }
}
