//! Writes the seed corpora of the fuzz targets from the real SDK captures.
//!
//! `cargo run --example seeds -- FIXTURES_DIR OUT_DIR` writes `OUT_DIR/<target>/<name>` for
//! every target: the captured envelopes and store bodies (with each target's leading
//! selector byte), their compressed forms for `decode`, the timestamps found in them for
//! `timestamp`, and a few repairable variants for `json_repair`. Run again, it rewrites the
//! same files.

use std::collections::BTreeSet;
use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use serde_json::Value;

struct Seeds {
    root: PathBuf,
    written: usize,
}

impl Seeds {
    fn put(&mut self, target: &str, name: &str, prefix: &[u8], body: &[u8]) {
        let dir = self.root.join(target);
        fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
        let mut bytes = prefix.to_vec();
        bytes.extend_from_slice(body);
        let path = dir.join(name);
        fs::write(&path, bytes).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        self.written += 1;
    }
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let [_, fixtures, out] = args.as_slice() else {
        eprintln!("usage: seeds FIXTURES_DIR OUT_DIR");
        std::process::exit(2);
    };
    let mut seeds = Seeds {
        root: PathBuf::from(out),
        written: 0,
    };
    let mut envelopes = Vec::new(); // (name, bytes)
    let mut bodies = Vec::new(); // JSON documents: event payloads and store bodies
    let mut documents = Vec::new(); // every JSON fixture, for timestamps
    for path in files(Path::new(fixtures)) {
        let name = path
            .strip_prefix(fixtures)
            .unwrap()
            .to_string_lossy()
            .replace('/', "_");
        let bytes = fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        if name.ends_with(".envelope.txt") {
            envelopes.push((name, bytes));
        } else if name.ends_with(".payload.json") {
            documents.push(serde_json::from_slice(&bytes).ok());
            bodies.push((name, bytes));
        } else if name.ends_with(".json") {
            let doc: Option<Value> = serde_json::from_slice(&bytes).ok();
            // curl captures keep the store body they sent as text.
            if let Some(body) = doc.as_ref().and_then(|d| d["body_text"].as_str()) {
                bodies.push((format!("{name}.body"), body.as_bytes().to_vec()));
            }
            documents.push(doc);
        }
    }
    // Envelopes made from the single payloads, with and without a length.
    let mut made = Vec::new();
    for (name, body) in &bodies {
        let compact = compact(body);
        let mut with_length =
            format!("{{}}\n{{\"type\":\"event\",\"length\":{}}}\n", body.len()).into_bytes();
        with_length.extend_from_slice(body);
        made.push((format!("{name}.in-envelope"), with_length));
        if let Some(compact) = compact {
            let mut line = b"{\"event_id\":\"9EC79C33-EC99-42AB-8353-589FCB2E04DC\"}\r\n{\"type\":\"event\"}\r\n".to_vec();
            line.extend_from_slice(&compact);
            made.push((format!("{name}.in-envelope-line"), line));
        }
    }
    envelopes.extend(made);

    for (name, bytes) in &envelopes {
        seeds.put("envelope", name, b"", bytes);
        seeds.put("ingest_inspect", name, &[0], bytes);
        seeds.put(
            "ingest_inspect",
            &format!("{name}.small-limits"),
            &[2 | 8],
            bytes,
        );
        seeds.put("digest", name, &[0], bytes);
        if let Some(header) = bytes.split(|b| *b == b'\n').next() {
            seeds.put("json_repair", &format!("{name}.header"), b"", header);
        }
    }
    for (name, bytes) in &bodies {
        seeds.put("ingest_inspect", name, &[1], bytes);
        seeds.put("digest", name, &[1], bytes);
        seeds.put("json_repair", name, b"", bytes);
    }
    repairable_variants(&mut seeds, &bodies);
    decode_seeds(&mut seeds, envelopes.iter().chain(&bodies));
    timestamp_seeds(&mut seeds, documents.iter().flatten());
    println!("wrote {} seeds under {out}", seeds.written);
}

/// Every file under `dir`, sorted.
fn files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let entries = fs::read_dir(dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
    for entry in entries {
        let path = entry.unwrap().path();
        if path.is_dir() {
            out.extend(files(&path));
        } else {
            out.push(path);
        }
    }
    out.sort();
    out
}

/// The document on one line, when it is JSON.
fn compact(bytes: &[u8]) -> Option<Vec<u8>> {
    let value: Value = serde_json::from_slice(bytes).ok()?;
    serde_json::to_vec(&value).ok()
}

/// Real bodies with each of the faults `json_repair` repairs put into them.
fn repairable_variants(seeds: &mut Seeds, bodies: &[(String, Vec<u8>)]) {
    for (name, body) in bodies.iter().take(4) {
        let Some(at) = body.iter().position(|b| *b == b':') else {
            continue;
        };
        let variants: [(&str, &[u8]); 5] = [
            ("latin1", b" \"caf\xe9\","),
            ("surrogate", b" \"cut \\ud83d\","),
            ("low-surrogate", b" \"\\ude00 x\\u0000\","),
            ("big-number", b" 1e400,"),
            ("nul", b" \"a\\u0000b\","),
        ];
        for (what, inserted) in variants {
            let mut out = body[..=at].to_vec();
            out.extend_from_slice(inserted);
            // Drop the original value up to its comma so the document stays well-formed.
            let rest = &body[at + 1..];
            let skip = rest.iter().position(|b| *b == b',').map_or(0, |p| p + 1);
            out.extend_from_slice(&rest[skip..]);
            seeds.put("json_repair", &format!("{name}.{what}"), b"", &out);
        }
    }
    let deep = format!(
        "{{\"extra\":{}1{},\"message\":\"kept\"}}",
        "[".repeat(130),
        "]".repeat(130)
    );
    seeds.put("json_repair", "deep", b"", deep.as_bytes());
}

/// Selector bytes as `fuzz_targets/decode.rs` reads them.
const IDENTITY: u8 = 0;
const GZIP: u8 = 4;
const DEFLATE: u8 = 8;
const BROTLI: u8 = 12;
const ZSTD: u8 = 16;
const HEADER_MODE: u8 = 2;
const ROUND_TRIP: u8 = 3;
/// `CAPS[7]` (30 000 bytes) and `CAPS[5]` (1000 bytes): above and below the payloads' sizes.
const BIG_CAP: u8 = 7;
const SMALL_CAP: u8 = 5;
/// The knob for header `HEADERS[2]` ("zstd, gzip") with the big cap.
const ZSTD_GZIP_HEADER: u8 = 2 * 8 + BIG_CAP;

fn decode_seeds<'a>(seeds: &mut Seeds, docs: impl Iterator<Item = &'a (String, Vec<u8>)>) {
    for (name, plain) in docs {
        let gz = {
            let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
            e.write_all(plain).unwrap();
            e.finish().unwrap()
        };
        let zlib = {
            let mut e = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::default());
            e.write_all(plain).unwrap();
            e.finish().unwrap()
        };
        let raw = {
            let mut e =
                flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::default());
            e.write_all(plain).unwrap();
            e.finish().unwrap()
        };
        let mut br = Vec::new();
        brotli::BrotliCompress(&mut &plain[..], &mut br, &Default::default()).unwrap();
        let zst = zstd::encode_all(&plain[..], 3).unwrap();
        let zst_gz = {
            let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
            e.write_all(&zst).unwrap();
            e.finish().unwrap()
        };
        for (what, mode, body) in [
            ("identity", IDENTITY, plain),
            ("gzip", GZIP, &gz),
            ("zlib", DEFLATE, &zlib),
            ("deflate", DEFLATE, &raw),
            ("br", BROTLI, &br),
            ("zstd", ZSTD, &zst),
        ] {
            seeds.put("decode", &format!("{name}.{what}"), &[mode, BIG_CAP], body);
            seeds.put(
                "decode",
                &format!("{name}.{what}.small-cap"),
                &[mode, SMALL_CAP],
                body,
            );
        }
        seeds.put(
            "decode",
            &format!("{name}.zstd-gzip"),
            &[HEADER_MODE, ZSTD_GZIP_HEADER],
            &zst_gz,
        );
    }
    // Round trips of a short text through each coding, and one stacked header.
    let text = b"{\"message\":\"round trip\"}\n".repeat(3);
    for pick in 0..5u8 {
        seeds.put(
            "decode",
            &format!("round-trip-{pick}"),
            &[ROUND_TRIP + 4 * pick, BIG_CAP],
            &text,
        );
    }
    seeds.put(
        "decode",
        "round-trip-stacked",
        &[ROUND_TRIP + 4 * 6, ZSTD_GZIP_HEADER],
        &text,
    );
}

/// Selector bytes as `fuzz_targets/timestamp.rs` reads them.
const JSON_TEXT: u8 = 0;
const STRING: u8 = 1;
const NUMBER: u8 = 2;
const MICROS: u8 = 3;

/// Every value in the captures that looks like a time, in each of the target's modes.
fn timestamp_seeds<'a>(seeds: &mut Seeds, docs: impl Iterator<Item = &'a Value>) {
    let mut found = BTreeSet::new();
    for doc in docs {
        collect_times(doc, &mut found);
    }
    // The shapes other SDKs send, which the Python captures lack.
    for extra in [
        "1795331739.2949095",
        "\"1795331739\"",
        "\"2026-11-22T07:14:00.123456789Z\"",
        "\"2026-11-22T09:14:00+02:00\"",
        "\"2026-11-22 07:14:00,5\"",
        "\"2026-11-22\"",
    ] {
        found.insert(extra.to_string());
    }
    for (n, json) in found.iter().enumerate() {
        seeds.put(
            "timestamp",
            &format!("json-{n}"),
            &[JSON_TEXT],
            json.as_bytes(),
        );
        if let Ok(Value::String(s)) = serde_json::from_str::<Value>(json) {
            seeds.put("timestamp", &format!("string-{n}"), &[STRING], s.as_bytes());
        }
        if let Some(us) =
            crashcache_core::timestamp::parse(serde_json::from_str(json).ok().as_ref())
        {
            let secs = us as f64 / 1e6;
            seeds.put(
                "timestamp",
                &format!("float-{n}"),
                &[NUMBER],
                &secs.to_bits().to_le_bytes(),
            );
            seeds.put(
                "timestamp",
                &format!("micros-{n}"),
                &[MICROS],
                &us.to_le_bytes(),
            );
        }
    }
}

fn collect_times(value: &Value, found: &mut BTreeSet<String>) {
    match value {
        Value::Object(map) => {
            for (key, item) in map {
                let timeish = ["timestamp", "sent_at", "started", "received", "_at"]
                    .iter()
                    .any(|k| key.contains(k));
                if timeish && (item.is_string() || item.is_number()) {
                    found.insert(item.to_string());
                } else {
                    collect_times(item, found);
                }
            }
        }
        Value::Array(items) => items.iter().for_each(|i| collect_times(i, found)),
        Value::String(s) if s.len() >= 10 && s.as_bytes()[4] == b'-' && s.as_bytes()[7] == b'-' => {
            found.insert(value.to_string());
        }
        _ => {}
    }
}
