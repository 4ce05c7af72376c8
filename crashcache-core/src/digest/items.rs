//! Rows for the envelope items that are not error events.
//!
//! Transactions and spans, sessions, check-ins, logs, client reports, feedback and
//! attachments; error events go through [`crate::normalise`].

use serde::Serialize;
use serde_json::Value;

use crate::envelope::Item;
use crate::ids;
use crate::json;
use crate::normalise::{self, NameVersion};
use crate::timestamp::{self, EpochMicros};

/// Longest string kept in a dimension-like column.
const SHORT: usize = 200;
/// Release names carry version and build metadata, so they get a little more room.
const RELEASE: usize = 250;
/// Longest free text kept (span descriptions, log bodies, feedback).
const LONG: usize = 8192;

/// A performance transaction.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TransactionRow {
    pub event_id: String,
    pub name: Option<String>,
    pub op: Option<String>,
    pub status: Option<String>,
    pub trace_id: Option<String>,
    pub span_id: Option<String>,
    pub start_us: Option<EpochMicros>,
    pub end_us: Option<EpochMicros>,
    pub release: Option<String>,
    pub environment: Option<String>,
    pub platform: Option<String>,
    pub server_name: Option<String>,
    pub sdk: Option<NameVersion>,
    pub tags: serde_json::Map<String, Value>,
    pub user_key: Option<String>,
    pub span_count: i32,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SpanRow {
    pub trace_id: Option<String>,
    pub span_id: Option<String>,
    pub parent_span_id: Option<String>,
    /// The transaction the span belongs to, when it came inside one.
    pub transaction_event_id: Option<String>,
    pub op: Option<String>,
    pub description: Option<String>,
    pub status: Option<String>,
    pub start_us: Option<EpochMicros>,
    pub end_us: Option<EpochMicros>,
}

/// One update of a release-health session.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SessionRow {
    pub sid: String,
    pub did: Option<String>,
    /// Missing in Python's sessions; the update's time breaks ties then.
    pub seq: i64,
    pub init: bool,
    pub started_us: Option<EpochMicros>,
    pub timestamp_us: Option<EpochMicros>,
    pub duration: Option<f64>,
    pub status: String,
    pub errors: i64,
    pub release: String,
    pub environment: Option<String>,
    pub ip_address: Option<String>,
    pub user_agent: Option<String>,
}

/// One bucket of a `sessions` item: counts of sessions that started in a minute.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SessionAggregateRow {
    pub item_index: i32,
    pub bucket_index: i32,
    pub started_us: Option<EpochMicros>,
    pub did: Option<String>,
    pub exited: i64,
    pub errored: i64,
    pub abnormal: i64,
    pub crashed: i64,
    pub release: String,
    pub environment: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CheckInRow {
    pub check_in_id: String,
    pub monitor_slug: String,
    pub status: String,
    pub duration: Option<f64>,
    pub release: Option<String>,
    pub environment: Option<String>,
    pub timestamp_us: Option<EpochMicros>,
    /// The monitor's schedule when the SDK upserts it (`monitor_config`).
    pub monitor_config: Option<Value>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LogRow {
    pub timestamp_us: Option<EpochMicros>,
    pub level: Option<String>,
    pub severity_number: Option<i64>,
    pub body: Option<String>,
    pub trace_id: Option<String>,
    pub release: Option<String>,
    pub environment: Option<String>,
    /// Typed attributes, `{"name": {"value": …, "type": …}}`, as sent.
    pub attributes: Option<Value>,
}

/// What an SDK reports it dropped and why (client reports).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct OutcomeRow {
    pub timestamp_us: Option<EpochMicros>,
    /// `discarded_events`, `rate_limited_events`, `filtered_events`, …
    pub outcome: String,
    pub reason: Option<String>,
    pub category: Option<String>,
    pub quantity: i64,
}

/// User feedback (`user_report` and `feedback` items).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FeedbackRow {
    /// The event the feedback is about, when there is one.
    pub event_id: Option<String>,
    pub name: Option<String>,
    pub email: Option<String>,
    pub message: Option<String>,
    pub timestamp_us: Option<EpochMicros>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AttachmentRow {
    pub event_id: Option<String>,
    pub item_index: i32,
    pub filename: Option<String>,
    pub content_type: Option<String>,
    pub attachment_type: Option<String>,
    pub size: i64,
}

/// A transaction event: its facts are an event's (release, tags, user, ...), its op, status
/// and ids come from `contexts.trace`.
pub fn transaction(tx: &Value, event_id: String) -> Result<TransactionRow, String> {
    let facts = normalise::normalise_event(tx).map_err(|e| e.to_string())?;
    let trace = trace_context(tx);
    let trace_str = |key: &str| trace.and_then(|t| json::string(t, key, SHORT));
    Ok(TransactionRow {
        event_id,
        name: facts.transaction,
        op: trace_str("op"),
        status: trace_str("status"),
        trace_id: trace.and_then(|t| ids::uuid_from_json(t.get("trace_id"))),
        span_id: trace_str("span_id"),
        start_us: timestamp::parse(tx.get("start_timestamp")),
        end_us: facts.timestamp,
        release: facts.release,
        environment: facts.environment,
        platform: facts.platform,
        server_name: facts.server_name,
        sdk: facts.sdk,
        tags: facts.tags,
        user_key: facts.user_key,
        span_count: tx
            .get("spans")
            .and_then(Value::as_array)
            .map_or(0, |s| saturating_i32(s.len())),
    })
}

fn trace_context(tx: &Value) -> Option<&Value> {
    tx.get("contexts").and_then(|c| c.get("trace"))
}

/// The child spans of a transaction event.
pub fn transaction_spans(tx: &Value, event_id: &str) -> Vec<SpanRow> {
    let trace_id = trace_context(tx).and_then(|t| ids::uuid_from_json(t.get("trace_id")));
    objects(tx.get("spans"))
        .map(|span| SpanRow {
            trace_id: ids::uuid_from_json(span.get("trace_id")).or_else(|| trace_id.clone()),
            span_id: json::string(span, "span_id", SHORT),
            parent_span_id: json::string(span, "parent_span_id", SHORT),
            transaction_event_id: Some(event_id.to_string()),
            op: json::string(span, "op", SHORT),
            description: json::string(span, "description", LONG),
            status: json::string(span, "status", SHORT),
            start_us: timestamp::parse(span.get("start_timestamp")),
            end_us: timestamp::parse(span.get("timestamp")),
        })
        .collect()
}

/// Spans streamed on their own: `{"version": 2, "items": [...]}` (Node 11) or one span object.
pub fn standalone_spans(item: &Value) -> Vec<SpanRow> {
    container_items(item)
        .into_iter()
        .map(|span| SpanRow {
            trace_id: ids::uuid_from_json(span.get("trace_id")),
            span_id: json::string(span, "span_id", SHORT),
            parent_span_id: json::string(span, "parent_span_id", SHORT),
            transaction_event_id: None,
            op: json::string(span, "op", SHORT)
                .or_else(|| attribute(span, "sentry.op").and_then(|v| json::as_string(v, SHORT))),
            description: json::string(span, "name", LONG)
                .or_else(|| json::string(span, "description", LONG)),
            status: json::string(span, "status", SHORT),
            start_us: timestamp::parse(span.get("start_timestamp")),
            end_us: timestamp::parse(span.get("end_timestamp").or_else(|| span.get("timestamp"))),
        })
        .collect()
}

/// The objects of a JSON array; anything else in it, or a non-array, is skipped.
fn objects(value: Option<&Value>) -> impl Iterator<Item = &Value> {
    value
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter(|s| s.is_object())
}

/// The records of a streamed item: a container `{"version": 2, "items": [...]}` (current
/// SDKs) or, from older ones, the item itself as the only record.
fn container_items(item: &Value) -> Vec<&Value> {
    match item.get("items") {
        Some(items) => objects(Some(items)).collect(),
        None => vec![item],
    }
}

/// Counts and indexes for `integer` columns; nothing real comes near the cap.
fn saturating_i32(n: usize) -> i32 {
    i32::try_from(n).unwrap_or(i32::MAX)
}

/// A typed attribute's value: `{"attr": {"value": x, "type": "string"}}` or a bare `{"attr": x}`.
fn attribute<'a>(item: &'a Value, name: &str) -> Option<&'a Value> {
    let attr = item.get("attributes")?.get(name)?;
    Some(attr.get("value").unwrap_or(attr))
}

pub fn session(item: &Value) -> Result<SessionRow, String> {
    let attrs = item.get("attrs").unwrap_or(&Value::Null);
    let sid = item
        .get("sid")
        .and_then(|v| json::as_string(v, SHORT))
        .ok_or("session has no sid")?;
    let release = json::string(attrs, "release", RELEASE).ok_or("session has no attrs.release")?;
    Ok(SessionRow {
        sid: ids::normalise_uuid(&sid).unwrap_or(sid),
        did: json::string(item, "did", SHORT),
        seq: json::integer(item, "seq").unwrap_or(0),
        init: item.get("init").and_then(Value::as_bool).unwrap_or(false),
        started_us: timestamp::parse(item.get("started")),
        timestamp_us: timestamp::parse(item.get("timestamp")),
        duration: json::number(item, "duration"),
        status: json::string(item, "status", SHORT).unwrap_or_else(|| "ok".into()),
        errors: json::integer(item, "errors").unwrap_or(0),
        release,
        environment: json::string(attrs, "environment", SHORT),
        ip_address: json::string(attrs, "ip_address", SHORT),
        user_agent: json::string(attrs, "user_agent", SHORT),
    })
}

pub fn session_aggregates(
    item_index: usize,
    item: &Value,
) -> Result<Vec<SessionAggregateRow>, String> {
    let attrs = item.get("attrs").unwrap_or(&Value::Null);
    let release = json::string(attrs, "release", RELEASE).ok_or("sessions has no attrs.release")?;
    let environment = json::string(attrs, "environment", SHORT);
    let count = |bucket: &Value, key: &str| json::integer(bucket, key).unwrap_or(0);
    Ok(objects(item.get("aggregates"))
        .enumerate()
        .map(|(bucket_index, bucket)| SessionAggregateRow {
            item_index: saturating_i32(item_index),
            bucket_index: saturating_i32(bucket_index),
            started_us: timestamp::parse(bucket.get("started")),
            did: json::string(bucket, "did", SHORT),
            exited: count(bucket, "exited"),
            errored: count(bucket, "errored"),
            abnormal: count(bucket, "abnormal"),
            crashed: count(bucket, "crashed"),
            release: release.clone(),
            environment: environment.clone(),
        })
        .collect())
}

pub fn check_in(item: &Value) -> Result<CheckInRow, String> {
    let check_in_id =
        ids::uuid_from_json(item.get("check_in_id")).ok_or("check-in has no valid check_in_id")?;
    Ok(CheckInRow {
        check_in_id,
        monitor_slug: json::string(item, "monitor_slug", SHORT)
            .ok_or("check-in has no monitor_slug")?,
        status: json::string(item, "status", SHORT).ok_or("check-in has no status")?,
        duration: json::number(item, "duration"),
        release: json::string(item, "release", RELEASE),
        environment: json::string(item, "environment", SHORT),
        timestamp_us: timestamp::parse(item.get("timestamp")),
        monitor_config: item
            .get("monitor_config")
            .filter(|c| c.is_object())
            .cloned(),
    })
}

/// A `log` item: a container `{"items": [...]}` (current SDKs) or a single log record.
pub fn logs(item: &Value) -> Vec<LogRow> {
    container_items(item)
        .into_iter()
        .map(|log| {
            let attr_str =
                |name: &str| attribute(log, name).and_then(|v| json::as_string(v, SHORT));
            LogRow {
                timestamp_us: timestamp::parse(log.get("timestamp")),
                level: json::string(log, "level", SHORT),
                severity_number: json::integer(log, "severity_number")
                    .or_else(|| attribute(log, "sentry.severity_number").and_then(Value::as_i64)),
                body: json::string(log, "body", LONG),
                trace_id: ids::uuid_from_json(log.get("trace_id")),
                release: attr_str("sentry.release"),
                environment: attr_str("sentry.environment"),
                attributes: log.get("attributes").filter(|a| a.is_object()).cloned(),
            }
        })
        .collect()
}

pub fn outcomes(report: &Value) -> Vec<OutcomeRow> {
    let timestamp_us = timestamp::parse(report.get("timestamp"));
    let Some(fields) = report.as_object() else {
        return Vec::new();
    };
    fields
        .iter()
        .filter(|(_, v)| v.is_array())
        .flat_map(|(outcome, entries)| {
            objects(Some(entries)).map(move |entry| OutcomeRow {
                timestamp_us,
                outcome: outcome.clone(),
                reason: json::string(entry, "reason", SHORT),
                category: json::string(entry, "category", SHORT),
                quantity: json::integer(entry, "quantity").unwrap_or(1),
            })
        })
        .collect()
}

/// `user_report` has `name`, `email`, `comments`; `feedback` keeps them in `contexts.feedback`.
pub fn feedback(item: &Value, header_event_id: Option<&str>) -> FeedbackRow {
    let body = item
        .get("contexts")
        .and_then(|c| c.get("feedback"))
        .unwrap_or(item);
    FeedbackRow {
        event_id: ids::uuid_from_json(body.get("associated_event_id"))
            .or_else(|| ids::uuid_from_json(item.get("event_id")))
            .or_else(|| header_event_id.map(str::to_string)),
        name: json::string(body, "name", SHORT),
        email: json::string(body, "email", SHORT)
            .or_else(|| json::string(body, "contact_email", SHORT)),
        message: json::string(body, "comments", LONG)
            .or_else(|| json::string(body, "message", LONG)),
        timestamp_us: timestamp::parse(item.get("timestamp")),
    }
}

/// An attachment is kept as a row about it; its bytes stay in the archived payload.
pub fn attachment(item: &Item<'_>, index: usize, header_event_id: Option<&str>) -> AttachmentRow {
    AttachmentRow {
        event_id: header_event_id.map(str::to_string),
        item_index: saturating_i32(index),
        filename: item.header.filename.clone(),
        content_type: item.header.content_type.clone(),
        attachment_type: item.header.attachment_type.clone(),
        size: i64::try_from(item.payload.len()).unwrap_or(i64::MAX),
    }
}
