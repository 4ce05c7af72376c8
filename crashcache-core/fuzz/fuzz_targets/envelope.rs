//! `envelope::parse` on any bytes: it never panics, each payload is a slice of the input as
//! its header frames it, and an envelope written back out from what it returned parses to
//! the same header and items.
#![no_main]

use crashcache_core::envelope::{self, Envelope, EnvelopeError};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let first_line = first_line(data);
    match envelope::parse(data) {
        Ok(env) => {
            assert_eq!(
                envelope::parse_header(first_line).as_ref(),
                Ok(&env.header),
                "the header alone parses as within the envelope"
            );
            check_framing(data, &env);
            check_ids(&env);
            let written = write(&env);
            let again = envelope::parse(&written).unwrap_or_else(|e| {
                panic!(
                    "a written envelope does not parse: {e}\n{:?}",
                    String::from_utf8_lossy(&written)
                )
            });
            // As serde_json reads back what it wrote: its float parsing may be one ulp off.
            let header_text = serde_json::to_vec(&env.header).unwrap();
            let header: serde_json::Map<String, serde_json::Value> =
                serde_json::from_slice(&header_text).unwrap();
            assert_eq!(again.header, header);
            assert_eq!(again.items.len(), env.items.len());
            for (a, b) in env.items.iter().zip(&again.items) {
                assert_eq!(a.header.item_type, b.header.item_type);
                assert_eq!(a.header.filename, b.header.filename);
                assert_eq!(a.header.content_type, b.header.content_type);
                assert_eq!(a.header.attachment_type, b.header.attachment_type);
                assert_eq!(a.payload, b.payload);
            }
        }
        Err(EnvelopeError::Empty) => {
            assert!(
                first_line.iter().all(u8::is_ascii_whitespace),
                "Empty for a header line with content"
            );
        }
        Err(_) => {
            // The header line is what `parse_header` says it is.
            if let Err(e) = envelope::parse_header(first_line) {
                assert!(matches!(e, EnvelopeError::InvalidHeader(_)));
            }
        }
    }
});

/// The envelope header line as the format defines it: up to the first `\n`, less a `\r`.
fn first_line(data: &[u8]) -> &[u8] {
    let line = match data.iter().position(|b| *b == b'\n') {
        Some(pos) => &data[..pos],
        None => data,
    };
    line.strip_suffix(b"\r").unwrap_or(line)
}

/// Payloads lie inside the input, in order, without overlap, of their declared length (or,
/// without one, a line of their own).
fn check_framing(data: &[u8], env: &Envelope<'_>) {
    let start = data.as_ptr() as usize;
    let end = start + data.len();
    let mut previous_end = start;
    for (index, item) in env.items.iter().enumerate() {
        let at = item.payload.as_ptr() as usize;
        // An empty slice may point anywhere (`&[]`); it holds no bytes to misplace.
        assert!(
            item.payload.is_empty() || (at >= previous_end && at + item.payload.len() <= end),
            "item {index} is not a slice of the input after the previous one"
        );
        if !item.payload.is_empty() {
            previous_end = at + item.payload.len();
        }
        match item.header.length {
            Some(len) => assert_eq!(item.payload.len() as u64, len, "item {index}"),
            // The line ends at `\n`, `\r\n` or the end of the input.
            None if item.payload.is_empty() => {}
            None => {
                let after = &data[at - start + item.payload.len()..];
                assert!(
                    !item.payload.contains(&b'\n')
                        && (after.is_empty()
                            || after.starts_with(b"\n")
                            || after.starts_with(b"\r\n")),
                    "item {index} without length is not its line"
                );
            }
        }
    }
}

fn check_ids(env: &Envelope<'_>) {
    if let Some(id) = env.event_id() {
        assert!(
            id.len() == 32 && id.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')),
            "event id {id:?}"
        );
    }
    if let Some(key) = env.dsn_public_key() {
        assert!(!key.is_empty() && !key.contains(':') && !key.contains('@'));
    }
}

/// The envelope in the wire format, every item with an explicit length.
fn write(env: &Envelope<'_>) -> Vec<u8> {
    let mut out = serde_json::to_vec(&env.header).expect("a map serializes");
    out.push(b'\n');
    for item in &env.items {
        let mut header = item.header.clone();
        header.length = Some(item.payload.len() as u64);
        out.extend(serde_json::to_vec(&header).expect("an item header serializes"));
        out.push(b'\n');
        out.extend_from_slice(item.payload);
        out.push(b'\n');
    }
    out
}
