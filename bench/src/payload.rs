//! Request bodies: envelopes framed once at start-up, with fresh ids and times spliced in.
//!
//! Every per-request field has a fixed width (32 hex digits, a hyphenated UUID, an RFC 3339
//! time with microseconds, epoch seconds with 8 decimals), so the item `length`s computed once
//! stay right, and a request costs one copy of the template plus a few overwrites.

use std::time::{SystemTime, UNIX_EPOCH};

use bytes::BytesMut;
use serde_json::json;

use crate::corpus;
use crate::gzip::GzipTemplate;

/// A per-request field of a template.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Slot {
    /// The event id: 32 lowercase hex digits (envelope header and event).
    EventId,
    /// The session id: a hyphenated UUID.
    Sid,
    /// Now, RFC 3339 with microseconds: `2026-11-22T07:14:00.604927Z`.
    Rfc3339,
    /// Now as a JSON number of epoch seconds replacing a quoted marker: `1763795640.60492700`.
    Epoch,
}

const SLOTS: [Slot; 4] = [Slot::EventId, Slot::Sid, Slot::Rfc3339, Slot::Epoch];

impl Slot {
    /// Bytes the slot covers in the template.
    fn width(self) -> usize {
        match self {
            Slot::EventId => 32,
            Slot::Sid => 36,
            Slot::Rfc3339 => 27,
            Slot::Epoch => 19,
        }
    }

    /// The text that stands for the slot inside a JSON string (for `Epoch`, the quotes
    /// around it are part of the slot).
    fn marker(self) -> String {
        let (tag, inner) = match self {
            Slot::EventId => ('E', 32),
            Slot::Sid => ('S', 36),
            Slot::Rfc3339 => ('R', 27),
            Slot::Epoch => ('T', 17),
        };
        format!("@@{tag}{}", "@".repeat(inner - 3))
    }

    /// The marker as it appears in the serialised JSON.
    fn needle(self) -> String {
        match self {
            Slot::Epoch => format!("\"{}\"", self.marker()),
            _ => self.marker(),
        }
    }
}

/// The values that change on every request, formatted once per request.
#[derive(Debug, Clone)]
pub(crate) struct Fresh {
    pub event_id: [u8; 32],
    sid: [u8; 36],
    rfc3339: [u8; 27],
    epoch: [u8; 19],
}

impl Fresh {
    pub(crate) fn new(rng: &mut fastrand::Rng, now: SystemTime) -> Fresh {
        let mut event_id = [0u8; 32];
        hex_into(rng.u128(..), &mut event_id);
        // A version-4 UUID, as the SDKs make.
        let raw = rng.u128(..) & !(0xf << 76) | (0x4 << 76);
        let mut hex = [0u8; 32];
        hex_into(raw, &mut hex);
        let mut sid = [b'-'; 36];
        for (dst, src) in [
            (0, 0..8),
            (9, 8..12),
            (14, 12..16),
            (19, 16..20),
            (24, 20..32),
        ] {
            sid[dst..dst + src.len()].copy_from_slice(&hex[src]);
        }
        let since = now.duration_since(UNIX_EPOCH).unwrap_or_default();
        Fresh {
            event_id,
            sid,
            rfc3339: rfc3339(since.as_secs(), since.subsec_micros()),
            epoch: epoch(since.as_secs(), since.subsec_nanos() / 10),
        }
    }

    fn bytes(&self, slot: Slot) -> &[u8] {
        match slot {
            Slot::EventId => &self.event_id,
            Slot::Sid => &self.sid,
            Slot::Rfc3339 => &self.rfc3339,
            Slot::Epoch => &self.epoch,
        }
    }
}

/// Fast, as the benchmark wants the generator cheap; SDKs use 6 to 9.
const GZIP_LEVEL: u32 = 1;

/// One envelope, framed, with the offsets of its per-request fields.
#[derive(Debug)]
pub(crate) struct Template {
    bytes: Vec<u8>,
    slots: Vec<(usize, Slot)>,
    gzip: GzipTemplate,
}

impl Template {
    /// Frames an envelope whose items are given as JSON values holding slot markers.
    fn new(header: &serde_json::Value, items: &[(&str, serde_json::Value)]) -> Template {
        let mut bytes = serde_json::to_vec(header).expect("JSON values serialise");
        for (item_type, payload) in items {
            let payload = serde_json::to_vec(payload).expect("JSON values serialise");
            let item_header = json!({"type": item_type, "length": payload.len(),
                                     "content_type": "application/json"});
            bytes.push(b'\n');
            bytes.extend(serde_json::to_vec(&item_header).expect("JSON values serialise"));
            bytes.push(b'\n');
            bytes.extend(payload);
        }
        bytes.push(b'\n');
        let mut slots = Vec::new();
        for slot in SLOTS {
            let needle = slot.needle().into_bytes();
            let mut from = 0;
            while let Some(at) = find(&bytes[from..], &needle) {
                slots.push((from + at, slot));
                from += at + needle.len();
            }
        }
        slots.sort_unstable_by_key(|(at, _)| *at);
        let fresh: Vec<(usize, usize)> = slots.iter().map(|&(at, s)| (at, s.width())).collect();
        let gzip = GzipTemplate::new(&bytes, &fresh, GZIP_LEVEL);
        Template { bytes, slots, gzip }
    }

    pub(crate) fn len(&self) -> usize {
        self.bytes.len()
    }

    /// Appends the envelope with `fresh` spliced in.
    pub(crate) fn write(&self, fresh: &Fresh, out: &mut BytesMut) {
        let start = out.len();
        out.extend_from_slice(&self.bytes);
        let body = &mut out[start..];
        for &(at, slot) in &self.slots {
            body[at..at + slot.width()].copy_from_slice(fresh.bytes(slot));
        }
    }

    /// Appends the gzip form of `plain`, which `write` filled from this template.
    pub(crate) fn write_gzip(&self, plain: &[u8], out: &mut BytesMut) {
        self.gzip.write(plain, out);
    }
}

/// Every template: per bug one envelope with the event alone, one with a session update too.
#[derive(Debug)]
pub(crate) struct Corpus {
    plain: Vec<Template>,
    with_session: Vec<Template>,
}

impl Corpus {
    pub(crate) fn build() -> Corpus {
        let id = Slot::EventId.marker();
        let now = Slot::Rfc3339.marker();
        let epoch = Slot::Epoch.marker();
        let envelope = |bug: usize, session: bool| {
            let header = json!({"event_id": id, "sent_at": now, "sdk": corpus::sdk(bug)});
            let time = if corpus::epoch_timestamp(bug) {
                &epoch
            } else {
                &now
            };
            let mut items = vec![("event", corpus::event(bug, &id, time))];
            if session {
                let sid = Slot::Sid.marker();
                items.push(("session", corpus::session(bug, &sid, &now, &now)));
            }
            Template::new(&header, &items)
        };
        Corpus {
            plain: (0..corpus::BUG_COUNT).map(|b| envelope(b, false)).collect(),
            with_session: (0..corpus::BUG_COUNT).map(|b| envelope(b, true)).collect(),
        }
    }

    /// A template for bug `bug`, with a session item or without.
    pub(crate) fn template(&self, bug: usize, session: bool) -> &Template {
        let set = if session {
            &self.with_session
        } else {
            &self.plain
        };
        &set[bug % set.len()]
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

fn hex_into(value: u128, out: &mut [u8; 32]) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    for (i, digit) in out.iter_mut().enumerate() {
        *digit = HEX[((value >> (124 - 4 * i)) & 0xf) as usize];
    }
}

/// Writes `value` as exactly `out.len()` decimal digits (zero-padded, high digits cut).
fn digits(mut value: u64, out: &mut [u8]) {
    for digit in out.iter_mut().rev() {
        *digit = b'0' + (value % 10) as u8;
        value /= 10;
    }
}

/// `YYYY-MM-DDTHH:MM:SS.ffffffZ` for a time after 1970.
fn rfc3339(secs: u64, micros: u32) -> [u8; 27] {
    let (year, month, day) = civil_from_days(secs / 86_400);
    let of_day = secs % 86_400;
    let mut out = *b"0000-00-00T00:00:00.000000Z";
    digits(year, &mut out[0..4]);
    digits(month, &mut out[5..7]);
    digits(day, &mut out[8..10]);
    digits(of_day / 3600, &mut out[11..13]);
    digits(of_day / 60 % 60, &mut out[14..16]);
    digits(of_day % 60, &mut out[17..19]);
    digits(u64::from(micros), &mut out[20..26]);
    out
}

/// `SSSSSSSSSS.ffffffff`: ten digits of seconds (good until 2286) and eight decimals.
fn epoch(secs: u64, hundred_nanos: u32) -> [u8; 19] {
    let mut out = [b'.'; 19];
    digits(secs, &mut out[0..10]);
    digits(u64::from(hundred_nanos), &mut out[11..19]);
    out
}

/// Days since 1970-01-01 to (year, month, day) in the proleptic Gregorian calendar, counting
/// in 400-year eras that start on 1 March so that the leap day falls last.
fn civil_from_days(days: u64) -> (u64, u64, u64) {
    let z = days + 719_468;
    let era = z / 146_097;
    let day_of_era = z % 146_097;
    let year_of_era =
        (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let month_from_march = (5 * day_of_year + 2) / 153;
    let day = day_of_year - (153 * month_from_march + 2) / 5 + 1;
    let month = if month_from_march < 10 {
        month_from_march + 3
    } else {
        month_from_march - 9
    };
    let year = year_of_era + era * 400 + u64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;
    use std::time::Duration;

    use crashcache_core::envelope;
    use serde_json::Value;

    fn filled(template: &Template, seed: u64) -> (Fresh, Vec<u8>) {
        let mut rng = fastrand::Rng::with_seed(seed);
        let fresh = Fresh::new(&mut rng, SystemTime::now());
        let mut out = BytesMut::new();
        template.write(&fresh, &mut out);
        (fresh, out.to_vec())
    }

    fn every_template(corpus: &Corpus) -> impl Iterator<Item = &Template> {
        corpus.plain.iter().chain(&corpus.with_session)
    }

    #[test]
    fn times_format_as_rfc3339_and_epoch() {
        assert_eq!(&rfc3339(0, 0), b"1970-01-01T00:00:00.000000Z");
        assert_eq!(&rfc3339(951_782_400, 7), b"2000-02-29T00:00:00.000007Z");
        assert_eq!(
            &rfc3339(1_763_795_640, 604_927),
            b"2025-11-22T07:14:00.604927Z"
        );
        assert_eq!(
            &rfc3339(4_102_444_799, 999_999),
            b"2099-12-31T23:59:59.999999Z"
        );
        assert_eq!(&epoch(1_763_795_640, 6_049_270), b"1763795640.06049270");
    }

    #[test]
    fn fresh_ids_are_hex_and_uuids() {
        let mut rng = fastrand::Rng::with_seed(7);
        let fresh = Fresh::new(&mut rng, UNIX_EPOCH + Duration::from_secs(1_763_795_640));
        assert!(fresh.event_id.iter().all(u8::is_ascii_hexdigit));
        let sid = std::str::from_utf8(&fresh.sid).unwrap();
        let groups: Vec<usize> = sid.split('-').map(str::len).collect();
        assert_eq!(groups, [8, 4, 4, 4, 12]);
        assert_eq!(&sid[14..15], "4");
        let other = Fresh::new(&mut rng, SystemTime::now());
        assert_ne!(fresh.event_id, other.event_id);
    }

    #[test]
    fn every_item_length_matches_its_payload() {
        let corpus = Corpus::build();
        for template in every_template(&corpus) {
            let (_, body) = filled(template, 1);
            let parsed = envelope::parse(&body).expect("the envelope parses");
            for item in &parsed.items {
                assert_eq!(item.header.length, Some(item.payload.len() as u64));
                let _: Value = serde_json::from_slice(item.payload).expect("items are JSON");
            }
            assert!(!body.windows(2).any(|w| w == b"@@"), "a marker was left");
        }
    }

    #[test]
    fn gzip_bodies_decode_to_the_filled_envelope() {
        let corpus = Corpus::build();
        for (seed, template) in every_template(&corpus).enumerate() {
            let (_, plain) = filled(template, seed as u64);
            let mut body = BytesMut::new();
            template.write_gzip(&plain, &mut body);
            let mut decoded = Vec::new();
            std::io::Read::read_to_end(&mut flate2::read::GzDecoder::new(&body[..]), &mut decoded)
                .expect("valid gzip");
            assert_eq!(decoded, plain);
            assert!(
                body.len() < plain.len() / 2,
                "{} of {} bytes",
                body.len(),
                plain.len()
            );
        }
    }

    #[test]
    fn envelopes_are_3_to_6_kb() {
        let corpus = Corpus::build();
        for template in every_template(&corpus) {
            assert!(
                (3000..=6000).contains(&template.len()),
                "{} bytes",
                template.len()
            );
        }
    }

    #[test]
    fn fresh_fields_land_in_header_event_and_session() {
        let corpus = Corpus::build();
        let (fresh, body) = filled(corpus.template(3, true), 9);
        let parsed = envelope::parse(&body).unwrap();
        let id = std::str::from_utf8(&fresh.event_id).unwrap();
        assert_eq!(parsed.header["event_id"], id);
        let event: Value = serde_json::from_slice(parsed.items[0].payload).unwrap();
        assert_eq!(event["event_id"], id);
        assert_eq!(event["timestamp"].as_str().map(str::len), Some(27));
        let session: Value = serde_json::from_slice(parsed.items[1].payload).unwrap();
        assert_eq!(session["sid"], std::str::from_utf8(&fresh.sid).unwrap());
        let (_, browser) = filled(corpus.template(6, false), 9);
        let parsed = envelope::parse(&browser).unwrap();
        let event: Value = serde_json::from_slice(parsed.items[0].payload).unwrap();
        assert!(event["timestamp"].as_f64().unwrap() > 1.7e9);
    }

    #[test]
    fn ten_bugs_make_ten_issues() {
        let corpus = Corpus::build();
        let mut types = HashSet::new();
        let mut fingerprints = HashSet::new();
        for template in &corpus.plain {
            let (_, body) = filled(template, 3);
            let parsed = envelope::parse(&body).unwrap();
            let event: Value = serde_json::from_slice(parsed.items[0].payload).unwrap();
            types.insert(
                event["exception"]["values"][0]["type"]
                    .as_str()
                    .unwrap()
                    .to_string(),
            );
            let frames = event["exception"]["values"][0]["stacktrace"]["frames"]
                .as_array()
                .unwrap();
            assert_eq!(frames.len(), 15);
            assert_eq!(frames.iter().filter(|f| f["in_app"] == true).count(), 5);
            let fingerprint = crashcache_core::fingerprint::fingerprint(&event);
            assert_eq!(fingerprint.method, "stacktrace");
            fingerprints.insert(fingerprint.hash);
            crashcache_core::normalise::normalise_event(&event).expect("the event normalises");
        }
        assert_eq!(types.len(), corpus::BUG_COUNT);
        assert_eq!(fingerprints.len(), corpus::BUG_COUNT);
    }

    #[test]
    fn the_digest_takes_every_envelope() {
        let corpus = Corpus::build();
        for template in every_template(&corpus) {
            let (_, body) = filled(template, 5);
            crashcache_core::digest::digest(
                crashcache_core::payload::PayloadKind::Envelope,
                &body,
                &[0; 32],
            )
            .expect("the digest accepts the envelope");
        }
    }
}
