//! A stored payload to the rows the tracker derives from it, one list per table.
//!
//! Pure: the extension's digest worker maps these rows to SQL, and `ruminate` can rebuild them
//! at will. A payload is digested whole or not at all: if any item is broken the payload goes
//! to the error queue, so that digesting it again later never half-duplicates it.

pub mod columns;
pub mod dimension;
mod items;
pub mod received;
mod rows;
#[cfg(any(test, feature = "sample"))]
pub mod sample;

use serde::Serialize;
use serde_json::Value;
use thiserror::Error;

use crate::envelope::{self, EnvelopeError, Item};
use crate::normalise::{self, EventFacts};
use crate::payload::{self, PayloadError, PayloadKind};
use crate::{ids, json_repair};

use columns::{DimensionIds, Origin, SqlRow};
use dimension::DimensionValue;

pub use items::{
    AttachmentRow, CheckInRow, FeedbackRow, LogRow, OutcomeRow, SessionAggregateRow, SessionRow,
    SpanRow, TransactionRow,
};

/// Everything one payload contributes, by destination table.
#[derive(Debug, Default, Serialize)]
pub struct Digest {
    pub events: Vec<EventFacts>,
    pub transactions: Vec<TransactionRow>,
    pub spans: Vec<SpanRow>,
    pub sessions: Vec<SessionRow>,
    pub session_aggregates: Vec<SessionAggregateRow>,
    pub check_ins: Vec<CheckInRow>,
    pub logs: Vec<LogRow>,
    pub attachments: Vec<AttachmentRow>,
    pub outcomes: Vec<OutcomeRow>,
    pub feedback: Vec<FeedbackRow>,
    /// Item types this tracker does not keep (replays, profiles, …), skipped on purpose.
    pub skipped: Vec<String>,
}

/// Visits one kind of a batch's rows at a time ([`visit_tables`]).
pub trait TableVisitor<'b> {
    /// `store` is the SQL function that stores rows of type `R`.
    fn visit<R: SqlRow>(&mut self, store: &'static str, rows: Vec<(&'b Origin<'b>, &'b R)>);
}

/// Each kind of row of a batch of digests, with the payload each came from, in the order they
/// are stored: events last, because they lock the issues they count into until the batch
/// commits. This is the one list of the tables a digest writes to.
pub fn visit_tables<'b>(batch: &'b [(Origin<'b>, Digest)], visitor: &mut impl TableVisitor<'b>) {
    fn rows<'b, R>(
        batch: &'b [(Origin<'b>, Digest)],
        of: impl Fn(&'b Digest) -> &'b [R],
    ) -> Vec<(&'b Origin<'b>, &'b R)> {
        batch
            .iter()
            .flat_map(|(origin, digest)| of(digest).iter().map(move |row| (origin, row)))
            .collect()
    }
    visitor.visit(
        "crashcache._store_transactions",
        rows(batch, |d| &d.transactions),
    );
    visitor.visit("crashcache._store_spans", rows(batch, |d| &d.spans));
    visitor.visit("crashcache._store_sessions", rows(batch, |d| &d.sessions));
    visitor.visit(
        "crashcache._store_session_aggregates",
        rows(batch, |d| &d.session_aggregates),
    );
    visitor.visit("crashcache._store_check_ins", rows(batch, |d| &d.check_ins));
    visitor.visit("crashcache._store_logs", rows(batch, |d| &d.logs));
    visitor.visit(
        "crashcache._store_attachments",
        rows(batch, |d| &d.attachments),
    );
    visitor.visit("crashcache._store_outcomes", rows(batch, |d| &d.outcomes));
    visitor.visit("crashcache._store_feedback", rows(batch, |d| &d.feedback));
    visitor.visit("crashcache._store_events", rows(batch, |d| &d.events));
}

/// The dimension values a batch refers to that `known` has no id for, sorted, without repeats.
pub fn unknown_dimension_values<'b>(
    batch: &'b [(Origin<'b>, Digest)],
    known: &impl DimensionIds,
) -> Vec<DimensionValue> {
    struct Collect<'k, K> {
        known: &'k K,
        values: Vec<DimensionValue>,
    }
    impl<'b, K: DimensionIds> TableVisitor<'b> for Collect<'_, K> {
        fn visit<R: SqlRow>(&mut self, _: &'static str, rows: Vec<(&'b Origin<'b>, &'b R)>) {
            columns::dimension_values(
                rows.into_iter().map(|(_, row)| row),
                self.known,
                &mut self.values,
            );
        }
    }
    let mut collect = Collect {
        known,
        values: Vec::new(),
    };
    visit_tables(batch, &mut collect);
    collect.values.sort_unstable();
    collect.values.dedup();
    collect.values
}

/// Never called: taken apart without `..`, it fails to compile when a kind of row is added
/// to [`Digest`], until [`visit_tables`] stores it and this lists it.
#[allow(dead_code)]
fn every_kind_is_visited(digest: &Digest) {
    let Digest {
        events: _,
        transactions: _,
        spans: _,
        sessions: _,
        session_aggregates: _,
        check_ins: _,
        logs: _,
        attachments: _,
        outcomes: _,
        feedback: _,
        skipped: _,
    } = digest;
}

#[derive(Debug, Error, PartialEq, Eq)]
pub enum DigestError {
    #[error("malformed envelope: {0}")]
    Envelope(#[from] EnvelopeError),
    #[error("{0}")]
    Payload(#[from] PayloadError),
    #[error("item {index} ({item_type}): {reason}")]
    Item {
        index: usize,
        item_type: String,
        reason: String,
    },
}

impl DigestError {
    fn item(index: usize, item_type: &str, reason: String) -> Self {
        Self::Item {
            index,
            item_type: item_type.to_string(),
            reason,
        }
    }
}

/// Splits a decoded payload into rows. `content_hash` names the archive, for making up event
/// ids that the payload does not carry.
pub fn digest(
    kind: PayloadKind,
    decoded: &[u8],
    content_hash: &[u8; 32],
) -> Result<Digest, DigestError> {
    let mut out = Digest::default();
    match kind {
        PayloadKind::Store => {
            let event = parse_json(0, "event", decoded)?;
            push_event(&mut out, 0, event, None, content_hash)?;
        }
        PayloadKind::Envelope => {
            let env = envelope::parse(decoded)?;
            // Ingest refuses such envelopes; one stored before it did goes to the error queue
            // whole rather than as events that share an id.
            payload::check_one_event(env.items.iter().map(|item| item.header.item_type.as_str()))?;
            let header_event_id = env.event_id();
            for (index, item) in env.items.iter().enumerate() {
                digest_item(
                    &mut out,
                    index,
                    item,
                    header_event_id.as_deref(),
                    content_hash,
                )?;
            }
        }
    }
    Ok(out)
}

fn digest_item(
    out: &mut Digest,
    index: usize,
    item: &Item<'_>,
    header_event_id: Option<&str>,
    content_hash: &[u8; 32],
) -> Result<(), DigestError> {
    let item_type = item.header.item_type.as_str();
    let json = || parse_json(index, item_type, item.payload);
    let bad = |reason: String| DigestError::item(index, item_type, reason);
    match item_type {
        "event" => push_event(out, index, json()?, header_event_id, content_hash)?,
        "transaction" => {
            let tx = json()?;
            let event_id = resolve_event_id(&tx, header_event_id, content_hash);
            out.spans.extend(items::transaction_spans(&tx, &event_id));
            out.transactions
                .push(items::transaction(&tx, event_id).map_err(bad)?);
        }
        "span" => out.spans.extend(items::standalone_spans(&json()?)),
        "session" => out.sessions.push(items::session(&json()?).map_err(bad)?),
        "sessions" => out
            .session_aggregates
            .extend(items::session_aggregates(index, &json()?).map_err(bad)?),
        "check_in" => out.check_ins.push(items::check_in(&json()?).map_err(bad)?),
        "log" | "otel_log" => out.logs.extend(items::logs(&json()?)),
        "client_report" => out.outcomes.extend(items::outcomes(&json()?)),
        "user_report" | "feedback" => out
            .feedback
            .push(items::feedback(&json()?, header_event_id)),
        "attachment" => out
            .attachments
            .push(items::attachment(item, index, header_event_id)),
        other => out.skipped.push(other.to_string()),
    }
    Ok(())
}

fn push_event(
    out: &mut Digest,
    index: usize,
    event: Value,
    header_event_id: Option<&str>,
    content_hash: &[u8; 32],
) -> Result<(), DigestError> {
    let mut facts = normalise::normalise_event(&event)
        .map_err(|e| DigestError::item(index, "event", e.to_string()))?;
    facts.event_id = Some(resolve_event_id(&event, header_event_id, content_hash));
    out.events.push(facts);
    Ok(())
}

/// The event id by the one rule (`ids::event_id`), as ingest answered it.
fn resolve_event_id(
    item: &Value,
    header_event_id: Option<&str>,
    content_hash: &[u8; 32],
) -> String {
    let own = ids::uuid_from_json(item.get("event_id"));
    ids::event_id(header_event_id, own.as_deref(), content_hash)
}

fn parse_json(index: usize, item_type: &str, payload: &[u8]) -> Result<Value, DigestError> {
    json_repair::parse(payload)
        .map_err(|e| DigestError::item(index, item_type, format!("not valid JSON: {e}")))
}

#[cfg(test)]
mod tests;
