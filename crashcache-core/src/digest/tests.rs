//! Tests of [`digest`](super::digest) on the captured Python envelopes.
//!
//! Every item type becomes its row, and a payload with one broken item is refused whole.

use super::*;
use crate::test_fixtures::python_envelope;
use crate::{archive, ingest};
use columns::{Columns, NoIds, Values};
use dimension::Dimension;

/// 07:14:00Z on the day the Python captures were made, in epoch microseconds.
const CAPTURE_MINUTE_US: i64 = 1_795_331_640_000_000;

fn digest_envelope(body: &[u8]) -> Result<Digest, DigestError> {
    digest(PayloadKind::Envelope, body, &archive::content_hash(body))
}

/// Digests a captured Python envelope, e.g. `capture("session")`.
fn capture(name: &str) -> Digest {
    digest_envelope(&python_envelope(name)).unwrap_or_else(|e| panic!("{name}: {e}"))
}

/// How many rows each table got, in `Digest`'s field order, plus the skipped items.
fn row_counts(d: &Digest) -> [usize; 11] {
    [
        d.events.len(),
        d.transactions.len(),
        d.spans.len(),
        d.sessions.len(),
        d.session_aggregates.len(),
        d.check_ins.len(),
        d.logs.len(),
        d.attachments.len(),
        d.outcomes.len(),
        d.feedback.len(),
        d.skipped.len(),
    ]
}

#[test]
fn event_becomes_event_facts() {
    let d = capture("event");
    assert_eq!(row_counts(&d), [1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
    let event = &d.events[0];
    assert_eq!(
        event.event_id.as_deref(),
        Some("f86061c800e640538b67067ad209a674")
    );
    assert_eq!(
        event.title,
        "ValueError: invalid literal for int() with base 10: 'not-a-number'"
    );
    assert_eq!(event.exception_type.as_deref(), Some("ValueError"));
    assert_eq!(event.level, "error");
    assert_eq!(event.environment.as_deref(), Some("harness"));
    assert_eq!(event.fingerprint.method, "stacktrace");
}

#[test]
fn transaction_becomes_a_transaction_and_its_spans() {
    let d = capture("transaction");
    assert_eq!(row_counts(&d), [0, 1, 2, 0, 0, 0, 0, 0, 0, 0, 0]);
    let tx = &d.transactions[0];
    assert_eq!(tx.event_id, "d084f788eddf47b5b34de1d1c727ddd8");
    assert_eq!(
        tx.name.as_deref(),
        Some("harness-transaction capture-python-1")
    );
    assert_eq!(tx.op.as_deref(), Some("harness.run"));
    assert_eq!(
        tx.trace_id.as_deref(),
        Some("4cfdadfcea814732ab5bc66a8842708e")
    );
    assert_eq!(tx.span_id.as_deref(), Some("bc3acbeee300d0dc"));
    assert_eq!(tx.start_us, Some(CAPTURE_MINUTE_US + 612_624));
    assert_eq!(tx.end_us, Some(CAPTURE_MINUTE_US + 619_383));
    assert_eq!(tx.span_count, 2);
    assert_eq!(
        tx.tags.get("harness_case").and_then(Value::as_str),
        Some("transaction")
    );

    let descriptions: Vec<_> = d.spans.iter().map(|s| s.description.as_deref()).collect();
    assert_eq!(descriptions, [Some("step one"), Some("step two")]);
    for span in &d.spans {
        assert_eq!(span.op.as_deref(), Some("harness.step"));
        assert_eq!(
            span.transaction_event_id.as_deref(),
            Some(tx.event_id.as_str())
        );
        assert_eq!(span.trace_id, tx.trace_id);
        assert_eq!(span.parent_span_id.as_deref(), Some("bc3acbeee300d0dc"));
    }
    assert_eq!(d.spans[0].start_us, Some(CAPTURE_MINUTE_US + 618_520));
    assert_eq!(d.spans[0].end_us, Some(CAPTURE_MINUTE_US + 618_812));
}

#[test]
fn session_update_becomes_a_session_row() {
    let d = capture("session");
    assert_eq!(row_counts(&d), [0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0]);
    assert_eq!(
        d.sessions[0],
        SessionRow {
            sid: "c0ceb072494f460e9b975db37a787b5f".into(),
            did: Some("harness-capture-python-1".into()),
            seq: 0,
            init: true,
            started_us: Some(CAPTURE_MINUTE_US + 594_885),
            timestamp_us: Some(CAPTURE_MINUTE_US + 626_893),
            duration: None,
            status: "exited".into(),
            errors: 2,
            release: "sdkharness-python@1.0.0+capture-python-1".into(),
            environment: Some("harness".into()),
            ip_address: Some("127.0.0.1".into()),
            user_agent: None,
        }
    );
}

#[test]
fn sessions_item_becomes_aggregate_rows() {
    let d = capture("sessions");
    assert_eq!(row_counts(&d), [0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0]);
    assert_eq!(
        d.session_aggregates[0],
        SessionAggregateRow {
            item_index: 0,
            bucket_index: 0,
            started_us: Some(CAPTURE_MINUTE_US + 180_000_000),
            did: None,
            exited: 3,
            errored: 0,
            abnormal: 0,
            crashed: 1,
            release: "probe-request-sessions@1".into(),
            environment: Some("harness".into()),
        }
    );
}

#[test]
fn check_in_becomes_a_check_in_row() {
    let d = capture("check_in");
    assert_eq!(row_counts(&d), [0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0]);
    let check_in = &d.check_ins[0];
    assert_eq!(check_in.check_in_id, "182adfbb4acc4eb1bdc4be07a0565d3f");
    assert_eq!(check_in.monitor_slug, "harness-capture-python-1");
    assert_eq!(check_in.status, "ok");
    assert_eq!(check_in.duration, Some(0.1));
    assert_eq!(check_in.environment.as_deref(), Some("harness"));
    assert_eq!(check_in.timestamp_us, Some(CAPTURE_MINUTE_US + 620_304));
    assert_eq!(check_in.monitor_config, None);
}

#[test]
fn log_container_becomes_log_rows() {
    let d = capture("log");
    assert_eq!(row_counts(&d), [0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0]);
    let log = &d.logs[0];
    assert_eq!(log.timestamp_us, Some(CAPTURE_MINUTE_US + 620_682));
    assert_eq!(log.level.as_deref(), Some("info"));
    // Only in the attributes: `sentry.severity_number`.
    assert_eq!(log.severity_number, Some(9));
    assert_eq!(log.body.as_deref(), Some("harness log capture-python-1"));
    assert_eq!(
        log.trace_id.as_deref(),
        Some("634f6e3659b54e259a94224d0c7139fa")
    );
    assert_eq!(
        log.release.as_deref(),
        Some("sdkharness-python@1.0.0+capture-python-1")
    );
    assert_eq!(log.environment.as_deref(), Some("harness"));
    let attributes = log.attributes.as_ref().unwrap();
    assert_eq!(attributes["harness_run"]["value"], "capture-python-1");
}

#[test]
fn client_report_becomes_outcome_rows() {
    let d = capture("client_report");
    assert_eq!(row_counts(&d), [0, 0, 0, 0, 0, 0, 0, 0, 8, 0, 0]);
    for outcome in &d.outcomes {
        assert_eq!(outcome.outcome, "discarded_events");
        assert_eq!(outcome.reason.as_deref(), Some("network_error"));
        assert_eq!(outcome.timestamp_us, Some(1_795_331_739_294_910));
    }
    let attachment = d
        .outcomes
        .iter()
        .find(|o| o.category.as_deref() == Some("attachment"))
        .unwrap();
    assert_eq!(attachment.quantity, 44);
    let total: i64 = d.outcomes.iter().map(|o| o.quantity).sum();
    assert_eq!(total, 4 + 44 + 3 + 1 + 1 + 1 + 976 + 1);
}

#[test]
fn attachment_becomes_a_row_next_to_its_event() {
    let d = capture("attachment");
    assert_eq!(row_counts(&d), [1, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0]);
    let id = "0ea523322fb04b5aae5367d813478ac1";
    assert_eq!(d.events[0].event_id.as_deref(), Some(id));
    assert_eq!(d.events[0].title, "ZeroDivisionError: division by zero");
    assert_eq!(
        d.attachments[0],
        AttachmentRow {
            event_id: Some(id.into()),
            item_index: 1,
            filename: Some("harness-capture-python-1.txt".into()),
            content_type: Some("text/plain".into()),
            attachment_type: None,
            size: 44,
        }
    );
}

#[test]
fn store_event_without_id_gets_one_from_the_hash() {
    let body = br#"{"@timestamp":"2026-11-22T07:15:22.455Z","message":"disk full"}"#;
    let hash = archive::content_hash(body);
    let d = digest(PayloadKind::Store, body, &hash).unwrap();
    assert_eq!(row_counts(&d), [1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
    assert_eq!(
        d.events[0].event_id.as_deref(),
        Some(hex::encode(&hash[..16]).as_str())
    );
    assert_eq!(d.events[0].title, "disk full");

    // The store payload's own id wins.
    let body = br#"{"event_id":"9EC79C33EC9942AB8353589FCB2E04DC","message":"x"}"#;
    let d = digest(PayloadKind::Store, body, &archive::content_hash(body)).unwrap();
    assert_eq!(
        d.events[0].event_id.as_deref(),
        Some("9ec79c33ec9942ab8353589fcb2e04dc")
    );
}

#[test]
fn an_envelope_of_several_events_fails_whole() {
    let body = b"{}\n{\"type\":\"event\"}\n{\"message\":\"a\"}\n{\"type\":\"event\"}\n{\"message\":\"b\"}\n";
    assert!(matches!(
        digest_envelope(body),
        Err(DigestError::Payload(PayloadError::SeveralEvents {
            count: 2,
            ..
        }))
    ));
}

const LIMITS: ingest::Limits = ingest::Limits {
    max_compressed_bytes: 1 << 20,
    max_decompressed_bytes: 1 << 20,
    items: crate::payload::ItemLimits {
        max_event_bytes: 1 << 20,
        max_sessions: 100,
    },
};

/// The id ingest answers is the id the digest stores, whichever ids the payload carries.
#[test]
fn the_digest_stores_the_id_ingest_answered() {
    let cases: [(&str, &[u8], &str); 4] = [
        (
            "header and event disagree: the header wins",
            b"{\"event_id\":\"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\"}\n{\"type\":\"event\"}\n\
              {\"event_id\":\"bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb\",\"message\":\"x\"}\n",
            "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
        ),
        (
            "only the event has one",
            b"{}\n{\"type\":\"event\"}\n{\"event_id\":\"bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb\"}\n",
            "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb",
        ),
        (
            "no ids, the event not the first item",
            b"{}\n{\"type\":\"attachment\"}\nabc\n{\"type\":\"event\"}\n{\"message\":\"x\"}\n",
            "",
        ),
        (
            "a transaction without ids",
            b"{}\n{\"type\":\"transaction\"}\n{\"transaction\":\"/\",\"start_timestamp\":1,\"timestamp\":2}\n",
            "",
        ),
    ];
    for (case, body, expected) in cases {
        let prepared = ingest::prepare(body, None, PayloadKind::Envelope, LIMITS, None).unwrap();
        let answered = prepared.event_id.clone().unwrap();
        let d = digest_envelope(body).unwrap();
        let stored = d
            .events
            .first()
            .map(|e| e.event_id.clone().unwrap())
            .or_else(|| d.transactions.first().map(|t| t.event_id.clone()))
            .unwrap();
        assert_eq!(stored, answered, "{case}");
        if expected.is_empty() {
            assert_eq!(
                answered,
                hex::encode(&prepared.content_hash[..16]),
                "{case}"
            );
        } else {
            assert_eq!(answered, expected, "{case}");
        }
    }
}

#[test]
fn unknown_item_types_are_skipped() {
    let body = b"{}\n{\"type\":\"replay_video\",\"length\":3}\nabc\n{\"type\":\"session\"}\n{\"sid\":\"s1\",\"attrs\":{\"release\":\"r@1\"}}\n";
    let d = digest_envelope(body).unwrap();
    assert_eq!(d.skipped, ["replay_video"]);
    assert_eq!(row_counts(&d), [0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 1]);
    // A sid that is not a UUID is kept as sent; the status defaults to ok.
    assert_eq!(
        (d.sessions[0].sid.as_str(), d.sessions[0].status.as_str()),
        ("s1", "ok")
    );
}

#[test]
fn a_broken_item_fails_the_whole_payload() {
    let body =
        b"{}\n{\"type\":\"event\"}\n{\"message\":\"fine\"}\n{\"type\":\"session\"}\n{\"sid\":\n";
    match digest_envelope(body) {
        Err(DigestError::Item {
            index,
            item_type,
            reason,
        }) => {
            assert_eq!((index, item_type.as_str()), (1, "session"));
            assert!(reason.starts_with("not valid JSON"), "{reason}");
        }
        other => panic!("expected an item error, got {other:?}"),
    }
    // Valid JSON that misses what the row needs is an item error too.
    let body = b"{}\n{\"type\":\"check_in\"}\n{\"status\":\"ok\"}\n";
    assert!(matches!(
        digest_envelope(body),
        Err(DigestError::Item { index: 0, .. })
    ));
    // Broken framing is an envelope error.
    assert!(matches!(
        digest_envelope(b"{}\n{\"type\":\"event\",\"length\":99}\n{}"),
        Err(DigestError::Envelope(_))
    ));
    assert!(matches!(
        digest(PayloadKind::Store, b"{\"message\":", &[0; 32]),
        Err(DigestError::Item { index: 0, .. })
    ));
}

#[test]
fn node_span_v2_item_becomes_a_span() {
    let body = br#"{"sent_at":"2026-11-22T07:15:39.295Z"}
{"type":"span","item_count":1,"content_type":"application/vnd.sentry.items.span.v2+json"}
{"version":2,"items":[{"trace_id":"9ec79c33ec9942ab8353589fcb2e04dc","span_id":"a1b2c3d4e5f60718","name":"GET /x","start_timestamp":1795331640.1,"end_timestamp":1795331640.2,"status":"ok","attributes":{"sentry.op":{"value":"http.server","type":"string"}}}]}
"#;
    let d = digest_envelope(body).unwrap();
    assert_eq!(row_counts(&d), [0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0]);
    assert_eq!(
        d.spans[0],
        SpanRow {
            trace_id: Some("9ec79c33ec9942ab8353589fcb2e04dc".into()),
            span_id: Some("a1b2c3d4e5f60718".into()),
            parent_span_id: None,
            transaction_event_id: None,
            op: Some("http.server".into()),
            description: Some("GET /x".into()),
            status: Some("ok".into()),
            start_us: Some(CAPTURE_MINUTE_US + 100_000),
            end_us: Some(CAPTURE_MINUTE_US + 200_000),
        }
    );
}

#[test]
fn user_report_becomes_feedback() {
    let body = br#"{"event_id":"9ec79c33ec9942ab8353589fcb2e04dc"}
{"type":"user_report"}
{"event_id":"9ec79c33ec9942ab8353589fcb2e04dc","name":"Ann","email":"ann@example.com","comments":"It broke."}
"#;
    let d = digest_envelope(body).unwrap();
    assert_eq!(row_counts(&d), [0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0]);
    assert_eq!(
        d.feedback[0],
        FeedbackRow {
            event_id: Some("9ec79c33ec9942ab8353589fcb2e04dc".into()),
            name: Some("Ann".into()),
            email: Some("ann@example.com".into()),
            message: Some("It broke.".into()),
            timestamp_us: None,
        }
    );
}

#[test]
fn rows_serialise_with_the_names_sql_reads() {
    let d = capture("attachment");
    let value = serde_json::to_value(&d).unwrap();
    let keys: Vec<&str> = value
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    for table in [
        "events",
        "transactions",
        "spans",
        "sessions",
        "session_aggregates",
        "check_ins",
        "logs",
        "attachments",
        "outcomes",
        "feedback",
        "skipped",
    ] {
        assert!(keys.contains(&table), "{table}");
    }
    let attachment = &value["attachments"][0];
    for column in [
        "event_id",
        "item_index",
        "filename",
        "content_type",
        "attachment_type",
        "size",
    ] {
        assert!(attachment.get(column).is_some(), "{column}");
    }
}

// ----------------------------------------------------------------- the typed contract

fn origin(archive_id: i64) -> Origin<'static> {
    Origin {
        archive_id,
        project_id: 7,
        received_at: sample::SAMPLE_TIME_US + 1_000_000,
        client_ip: Some("192.0.2.7"),
    }
}

/// Every visited kind of row, with the store function and its columns for the sample.
struct Tables(Vec<(&'static str, &'static str, Vec<columns::Column>)>);

impl<'b> TableVisitor<'b> for Tables {
    fn visit<R: SqlRow>(&mut self, store: &'static str, rows: Vec<(&'b Origin<'b>, &'b R)>) {
        let columns = Columns::of(rows, &NoIds).into_columns();
        self.0.push((store, R::SQL_TYPE, columns));
    }
}

fn sample_tables(batch: &[(Origin<'static>, Digest)]) -> Tables {
    let mut tables = Tables(Vec::new());
    visit_tables(batch, &mut tables);
    tables
}

#[test]
fn every_kind_of_row_is_stored_once_events_last() {
    let batch = vec![(origin(1), sample::full_digest())];
    let tables = sample_tables(&batch);
    let stores: Vec<_> = tables.0.iter().map(|(store, _, _)| *store).collect();
    assert_eq!(stores.len(), 10);
    assert_eq!(stores.last(), Some(&"crashcache._store_events"));
    let mut unique = stores.clone();
    unique.sort_unstable();
    unique.dedup();
    assert_eq!(unique.len(), stores.len());
    for (store, row_type, columns) in &tables.0 {
        assert!(!columns.is_empty(), "{store}: the sample has a row");
        let mut names: Vec<_> = columns.iter().map(|c| c.name).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), columns.len(), "{row_type}: a column twice");
        assert_eq!(columns[0].name, "project_id", "{row_type}");
        assert_eq!(columns[1].name, "archive_id", "{row_type}");
    }
}

#[test]
fn columns_hold_one_value_per_row() {
    let batch = vec![
        (origin(1), sample::full_digest()),
        (origin(2), sample::full_digest()),
    ];
    let tables = sample_tables(&batch);
    for (_, row_type, columns) in &tables.0 {
        for column in columns {
            let len = match &column.values {
                Values::Int4(v) => v.len(),
                Values::Int8(v) => v.len(),
                Values::Float8(v) => v.len(),
                Values::Text(v) => v.len(),
                Values::Time(v) => v.len(),
            };
            assert_eq!(len, 2, "{row_type}.{}", column.name);
        }
    }
    let events = &tables.0.last().unwrap().2;
    assert_eq!(
        events
            .iter()
            .find(|c| c.name == "archive_id")
            .unwrap()
            .values,
        Values::Int8(vec![Some(1), Some(2)])
    );
}

fn event_column(facts: EventFacts, origin: Origin<'_>, name: &str) -> Values {
    Columns::of([(&origin, &facts)], &NoIds)
        .into_columns()
        .into_iter()
        .find(|c| c.name == name)
        .unwrap_or_else(|| panic!("no column {name}"))
        .values
}

#[test]
fn rows_settle_times_and_addresses_from_their_origin() {
    let mut facts = sample::full_digest().events.remove(0);
    let o = origin(1);
    // An SDK clock an hour ahead gives way to the arrival time.
    facts.timestamp = Some(o.received_at + 3_600_000_000);
    assert_eq!(
        event_column(facts.clone(), o, "timestamp"),
        Values::Time(vec![Some(o.received_at)])
    );
    assert_eq!(
        event_column(facts.clone(), o, "user_data"),
        Values::Text(vec![Some(r#"{"id":"u1","ip_address":"192.0.2.7"}"#.into())])
    );
    assert_eq!(
        event_column(
            facts,
            Origin {
                client_ip: None,
                ..o
            },
            "user_key"
        ),
        Values::Text(vec![None])
    );
}

#[test]
fn text_cannot_carry_nul_into_postgresql() {
    let mut facts = sample::full_digest().events.remove(0);
    facts.message = Some("a\0b".into());
    facts.tags.insert("k".into(), serde_json::json!("x\u{0}y"));
    let o = origin(1);
    assert_eq!(
        event_column(facts.clone(), o, "message"),
        Values::Text(vec![Some("a\u{fffd}b".into())])
    );
    let Values::Text(tags) = event_column(facts, o, "tags") else {
        panic!("tags are text")
    };
    assert!(!tags[0].as_deref().unwrap().contains("\\u0000"));
}

#[test]
fn only_unknown_dimension_values_are_asked_for() {
    struct KnowsReleases;
    impl columns::DimensionIds for KnowsReleases {
        fn id(&self, dimension: Dimension, _: &str, _: &str) -> Option<i32> {
            (dimension == Dimension::Release).then_some(1)
        }
    }
    let batch = vec![
        (origin(1), sample::full_digest()),
        (origin(2), sample::full_digest()),
    ];
    let all = unknown_dimension_values(&batch, &NoIds);
    // The sample names each of the 12 dimensions; both payloads the same values.
    let mut dimensions: Vec<_> = all.iter().map(|v| v.dimension).collect();
    dimensions.dedup();
    assert_eq!(dimensions, Dimension::ALL.to_vec());
    assert_eq!(all.len(), 12);
    let os = all.iter().find(|v| v.dimension == Dimension::Os).unwrap();
    assert_eq!(
        (os.name.as_str(), os.version.as_str()),
        ("Linux", "Linux-1.0")
    );
    let unknown = unknown_dimension_values(&batch, &KnowsReleases);
    assert_eq!(unknown.len(), 11);
    assert!(unknown.iter().all(|v| v.dimension != Dimension::Release));
}
