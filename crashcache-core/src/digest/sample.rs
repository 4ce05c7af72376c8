//! A digest that fills every field of every kind of row, for the extension's contract test:
//! stored, each destination column must be non-NULL, so a column the typed contract drops or
//! misplaces is found.

use serde_json::json;

use super::*;
use crate::fingerprint::Fingerprint;
use crate::normalise::NameVersion;

/// 2026-01-02T03:04:05Z, in epoch microseconds.
pub const SAMPLE_TIME_US: i64 = 1_767_323_045_000_000;

fn name_version(name: &str) -> Option<NameVersion> {
    Some(NameVersion {
        name: name.into(),
        version: format!("{name}-1.0"),
    })
}

fn some(text: &str) -> Option<String> {
    Some(text.to_string())
}

/// One row of each kind; ids are fixed, so call it once per archive.
pub fn full_digest() -> Digest {
    let event_id = "0123456789abcdef0123456789abcdef";
    let trace_id = "fedcba9876543210fedcba9876543210";
    let tags = json!({"sample": "yes"})
        .as_object()
        .cloned()
        .unwrap_or_default();
    Digest {
        events: vec![EventFacts {
            event_id: some(event_id),
            timestamp: Some(SAMPLE_TIME_US),
            level: "warning",
            platform: some("python"),
            title: "SampleError: every field".into(),
            message: some("every field"),
            culprit: some("sample.py in main"),
            release: some("sample@1.0"),
            environment: some("contract"),
            server_name: some("sample-host"),
            logger: some("sample.logger"),
            transaction: some("/sample"),
            os: name_version("Linux"),
            runtime: name_version("CPython"),
            browser: name_version("Firefox"),
            sdk: name_version("sentry.python"),
            device_model: some("Pixel"),
            exception_type: some("SampleError"),
            tags: tags.clone(),
            user: Some(json!({"id": "u1", "ip_address": "{{auto}}"})),
            user_key: None,
            fingerprint: Fingerprint {
                hash: "00112233445566778899aabbccddeeff".into(),
                method: "custom",
                components: vec!["sample".into()],
            },
        }],
        transactions: vec![TransactionRow {
            event_id: "1123456789abcdef0123456789abcdef".into(),
            name: some("/sample"),
            op: some("http.server"),
            status: some("ok"),
            trace_id: some(trace_id),
            span_id: some("aaaaaaaaaaaaaaaa"),
            start_us: Some(SAMPLE_TIME_US - 250_000),
            end_us: Some(SAMPLE_TIME_US),
            release: some("sample@1.0"),
            environment: some("contract"),
            platform: some("python"),
            server_name: some("sample-host"),
            sdk: name_version("sentry.python"),
            tags,
            user_key: some("u1"),
            span_count: 1,
        }],
        spans: vec![SpanRow {
            trace_id: some(trace_id),
            span_id: some("bbbbbbbbbbbbbbbb"),
            parent_span_id: some("aaaaaaaaaaaaaaaa"),
            transaction_event_id: some("1123456789abcdef0123456789abcdef"),
            op: some("db"),
            description: some("SELECT 1"),
            status: some("ok"),
            start_us: Some(SAMPLE_TIME_US - 200_000),
            end_us: Some(SAMPLE_TIME_US - 100_000),
        }],
        sessions: vec![SessionRow {
            sid: "2123456789abcdef0123456789abcdef".into(),
            did: some("u1"),
            seq: 3,
            init: true,
            started_us: Some(SAMPLE_TIME_US - 1_000_000),
            timestamp_us: Some(SAMPLE_TIME_US),
            duration: Some(1.0),
            status: "exited".into(),
            errors: 1,
            release: "sample@1.0".into(),
            environment: some("contract"),
            ip_address: some("{{auto}}"),
            user_agent: some("sample-agent"),
        }],
        session_aggregates: vec![SessionAggregateRow {
            item_index: 4,
            bucket_index: 0,
            started_us: Some(SAMPLE_TIME_US - 60_000_000),
            did: some("u1"),
            exited: 5,
            errored: 1,
            abnormal: 0,
            crashed: 1,
            release: "sample@1.0".into(),
            environment: some("contract"),
        }],
        check_ins: vec![CheckInRow {
            check_in_id: "3123456789abcdef0123456789abcdef".into(),
            monitor_slug: "sample-job".into(),
            status: "ok".into(),
            duration: Some(2.5),
            release: some("sample@1.0"),
            environment: some("contract"),
            timestamp_us: Some(SAMPLE_TIME_US),
            monitor_config: Some(json!({"schedule": {"type": "crontab", "value": "* * * * *"}})),
        }],
        logs: vec![LogRow {
            timestamp_us: Some(SAMPLE_TIME_US),
            level: some("info"),
            severity_number: Some(9),
            body: some("a log line"),
            trace_id: some(trace_id),
            release: some("sample@1.0"),
            environment: some("contract"),
            attributes: Some(json!({"k": {"value": "v", "type": "string"}})),
        }],
        attachments: vec![AttachmentRow {
            event_id: some(event_id),
            item_index: 5,
            filename: some("sample.txt"),
            content_type: some("text/plain"),
            attachment_type: some("event.attachment"),
            size: 11,
        }],
        outcomes: vec![OutcomeRow {
            timestamp_us: Some(SAMPLE_TIME_US),
            outcome: "discarded_events".into(),
            reason: some("queue_overflow"),
            category: some("error"),
            quantity: 2,
        }],
        feedback: vec![FeedbackRow {
            event_id: some(event_id),
            name: some("Sam Ple"),
            email: some("sam@example.com"),
            message: some("it broke"),
            timestamp_us: Some(SAMPLE_TIME_US),
        }],
        skipped: Vec::new(),
    }
}
