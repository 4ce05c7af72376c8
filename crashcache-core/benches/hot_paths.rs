//! Micro-benchmarks of the pure functions on the hot paths, on the real Python SDK envelope
//! (5.6 KB, an exception with its stack) of the fixtures:
//! - ingest: what `crashcache.ingest` does per request in Rust (decode, check the framing,
//!   hash, zstd), for a plain and a gzip body, and the envelope parse alone;
//! - digest: what a worker does per payload in Rust (parse, fingerprint, normalise, rows),
//!   and grouping and normalising alone on the parsed event;
//! - archive: zstd without and with a dictionary trained on similar events.
//!
//! `cargo bench -p crashcache-core` (add `-- <filter>` for one group).

use std::io::Write;

use crashcache_core::payload::{ItemLimits, PayloadKind};
use crashcache_core::{archive, digest, envelope, fingerprint, ingest, normalise};
use criterion::{criterion_group, criterion_main, Criterion, Throughput};

const ENVELOPE: &[u8] = include_bytes!("../tests/fixtures/python/event.envelope.txt");
const EVENT: &[u8] = include_bytes!("../tests/fixtures/python/event.case-exception.payload.json");

const LIMITS: ingest::Limits = ingest::Limits {
    max_compressed_bytes: 20 << 20,
    max_decompressed_bytes: 200 << 20,
    items: ItemLimits {
        max_event_bytes: 1 << 20,
        max_sessions: 100,
    },
};

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    encoder.write_all(bytes).unwrap();
    encoder.finish().unwrap()
}

fn ingest_path(c: &mut Criterion) {
    let gzipped = gzip(ENVELOPE);
    let mut group = c.benchmark_group("ingest");
    group.throughput(Throughput::Bytes(ENVELOPE.len() as u64));
    group.bench_function("envelope_parse", |b| {
        b.iter(|| envelope::parse(ENVELOPE).unwrap())
    });
    group.bench_function("prepare_identity", |b| {
        b.iter(|| ingest::prepare(ENVELOPE, None, PayloadKind::Envelope, LIMITS, None).unwrap())
    });
    group.bench_function("prepare_gzip", |b| {
        b.iter(|| {
            ingest::prepare(&gzipped, Some("gzip"), PayloadKind::Envelope, LIMITS, None).unwrap()
        })
    });
    group.finish();
}

fn digest_path(c: &mut Criterion) {
    let hash = archive::content_hash(ENVELOPE);
    let event: serde_json::Value = serde_json::from_slice(EVENT).unwrap();
    let mut group = c.benchmark_group("digest");
    group.throughput(Throughput::Bytes(ENVELOPE.len() as u64));
    group.bench_function("digest_envelope", |b| {
        b.iter(|| digest::digest(PayloadKind::Envelope, ENVELOPE, &hash).unwrap())
    });
    group.throughput(Throughput::Bytes(EVENT.len() as u64));
    group.bench_function("parse_event", |b| {
        b.iter(|| serde_json::from_slice::<serde_json::Value>(EVENT).unwrap())
    });
    group.bench_function("fingerprint", |b| {
        b.iter(|| fingerprint::fingerprint(&event))
    });
    group.bench_function("normalise", |b| {
        b.iter(|| normalise::normalise_event(&event).unwrap())
    });
    group.finish();
}

fn archive_path(c: &mut Criterion) {
    // Similar events, as a tracker receives them: the same bug with other ids and values.
    let samples: Vec<Vec<u8>> = (0..500)
        .map(|n| {
            String::from_utf8_lossy(EVENT)
                .replace("f86061c800e640538b67067ad209a674", &format!("{n:032x}"))
                .into_bytes()
        })
        .collect();
    let bytes = archive::train_dictionary(&samples, 64 * 1024, 40_000).unwrap();
    let dictionary = archive::Dictionary::new(40_000, &bytes).unwrap();
    let (codec, packed) = archive::pack(EVENT, None);
    let (dict_codec, dict_packed) = archive::pack(EVENT, Some(&dictionary));
    let mut group = c.benchmark_group("archive");
    group.throughput(Throughput::Bytes(EVENT.len() as u64));
    group.bench_function("pack_zstd", |b| b.iter(|| archive::pack(EVENT, None)));
    group.bench_function("pack_zstd_dictionary", |b| {
        b.iter(|| archive::pack(EVENT, Some(&dictionary)))
    });
    group.bench_function("unpack_zstd", |b| {
        b.iter(|| archive::unpack(codec, &packed, 1 << 20, None).unwrap())
    });
    group.bench_function("unpack_zstd_dictionary", |b| {
        b.iter(|| archive::unpack(dict_codec, &dict_packed, 1 << 20, Some(&dictionary)).unwrap())
    });
    group.finish();
}

criterion_group!(benches, ingest_path, digest_path, archive_path);
criterion_main!(benches);
