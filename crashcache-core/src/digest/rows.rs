//! Each digested row's columns, for SQL: the one place a row type meets its composite type
//! (`crashcache._<row>_row` in `pg_crashcache/sql/digest.sql`, same names, same order).
//!
//! Every `write` takes its row apart without `..`, so a field added to a row fails to compile
//! here until it is stored (or named as not stored).

use super::columns::{Origin, Sink, SqlRow};
use super::dimension::Dimension;
use super::items::{
    AttachmentRow, CheckInRow, FeedbackRow, LogRow, OutcomeRow, SessionAggregateRow, SessionRow,
    SpanRow, TransactionRow,
};
use super::received;
use crate::fingerprint::Fingerprint;
use crate::normalise::{EventFacts, NameVersion};
use crate::timestamp::EpochMicros;

fn name_version(
    sink: &mut impl Sink,
    column: &'static str,
    dimension: Dimension,
    value: &Option<NameVersion>,
) {
    let (name, version) = value
        .as_ref()
        .map_or((None, ""), |v| (Some(v.name.as_str()), v.version.as_str()));
    sink.dimension(column, dimension, name, version);
}

/// The release and the environment, which most kinds of row name.
fn release_and_environment(sink: &mut impl Sink, release: Option<&str>, environment: Option<&str>) {
    sink.dimension("release_id", Dimension::Release, release, "");
    sink.dimension("environment_id", Dimension::Environment, environment, "");
}

fn milliseconds_between(start: Option<EpochMicros>, end: Option<EpochMicros>) -> Option<f64> {
    Some(end?.checked_sub(start?)? as f64 / 1000.0)
}

fn origin_columns(sink: &mut impl Sink, origin: &Origin<'_>) {
    sink.int4("project_id", Some(origin.project_id));
    sink.int8("archive_id", Some(origin.archive_id));
}

impl SqlRow for EventFacts {
    const SQL_TYPE: &'static str = "crashcache._event_row";

    fn write<S: Sink>(&self, origin: &Origin<'_>, sink: &mut S) {
        let EventFacts {
            event_id,
            timestamp,
            level,
            platform,
            title,
            message,
            culprit,
            release,
            environment,
            server_name,
            logger,
            transaction,
            os,
            runtime,
            browser,
            sdk,
            device_model,
            exception_type,
            tags,
            user,
            user_key,
            fingerprint:
                Fingerprint {
                    hash,
                    method,
                    components: _,
                },
        } = self;
        origin_columns(sink, origin);
        sink.time("received_at", Some(origin.received_at));
        sink.uuid("event_id", event_id.as_deref());
        sink.time(
            "timestamp",
            Some(received::event_time(*timestamp, origin.received_at)),
        );
        sink.level("level", level);
        sink.text("title", Some(title));
        sink.text("message", message.as_deref());
        sink.text("culprit", culprit.as_deref());
        release_and_environment(sink, release.as_deref(), environment.as_deref());
        sink.dimension("platform_id", Dimension::Platform, platform.as_deref(), "");
        name_version(sink, "os_id", Dimension::Os, os);
        name_version(sink, "runtime_id", Dimension::Runtime, runtime);
        name_version(sink, "browser_id", Dimension::Browser, browser);
        sink.dimension("device_id", Dimension::Device, device_model.as_deref(), "");
        name_version(sink, "sdk_id", Dimension::Sdk, sdk);
        sink.dimension(
            "server_name_id",
            Dimension::ServerName,
            server_name.as_deref(),
            "",
        );
        sink.dimension(
            "exception_type_id",
            Dimension::ExceptionType,
            exception_type.as_deref(),
            "",
        );
        sink.dimension(
            "transaction_id",
            Dimension::Transaction,
            transaction.as_deref(),
            "",
        );
        sink.dimension("logger_id", Dimension::Logger, logger.as_deref(), "");
        sink.text(
            "user_key",
            received::user_key(user_key.as_deref(), user.as_ref(), origin.client_ip),
        );
        sink.json(
            "user_data",
            received::user_data(user.as_ref(), origin.client_ip).as_ref(),
        );
        sink.json("tags", Some(tags));
        sink.text("fingerprint", Some(hash));
        sink.text("grouping_method", Some(method));
    }
}

impl SqlRow for TransactionRow {
    const SQL_TYPE: &'static str = "crashcache._transaction_row";

    fn write<S: Sink>(&self, origin: &Origin<'_>, sink: &mut S) {
        let TransactionRow {
            event_id,
            name,
            op,
            status,
            trace_id,
            span_id,
            start_us,
            end_us,
            release,
            environment,
            platform,
            server_name,
            sdk,
            tags,
            user_key,
            span_count,
        } = self;
        origin_columns(sink, origin);
        sink.uuid("event_id", Some(event_id));
        sink.dimension(
            "transaction_id",
            Dimension::Transaction,
            name.as_deref(),
            "",
        );
        sink.text("op", op.as_deref());
        sink.text("status", status.as_deref());
        sink.uuid("trace_id", trace_id.as_deref());
        sink.text("span_id", span_id.as_deref());
        sink.time("start_time", *start_us);
        sink.time(
            "end_time",
            Some(received::event_time(*end_us, origin.received_at)),
        );
        sink.float8("duration_ms", milliseconds_between(*start_us, *end_us));
        release_and_environment(sink, release.as_deref(), environment.as_deref());
        sink.dimension("platform_id", Dimension::Platform, platform.as_deref(), "");
        name_version(sink, "sdk_id", Dimension::Sdk, sdk);
        sink.dimension(
            "server_name_id",
            Dimension::ServerName,
            server_name.as_deref(),
            "",
        );
        sink.text("user_key", user_key.as_deref());
        sink.json("tags", Some(tags));
        sink.int4("span_count", Some(*span_count));
    }
}

impl SqlRow for SpanRow {
    const SQL_TYPE: &'static str = "crashcache._span_row";

    fn write<S: Sink>(&self, origin: &Origin<'_>, sink: &mut S) {
        let SpanRow {
            trace_id,
            span_id,
            parent_span_id,
            transaction_event_id,
            op,
            description,
            status,
            start_us,
            end_us,
        } = self;
        origin_columns(sink, origin);
        sink.uuid("trace_id", trace_id.as_deref());
        sink.text("span_id", span_id.as_deref());
        sink.text("parent_span_id", parent_span_id.as_deref());
        sink.uuid("transaction_event_id", transaction_event_id.as_deref());
        sink.text("op", op.as_deref());
        sink.text("description", description.as_deref());
        sink.text("status", status.as_deref());
        sink.time("start_time", *start_us);
        sink.time("end_time", *end_us);
        sink.float8("duration_ms", milliseconds_between(*start_us, *end_us));
    }
}

impl SqlRow for SessionRow {
    const SQL_TYPE: &'static str = "crashcache._session_row";

    fn write<S: Sink>(&self, origin: &Origin<'_>, sink: &mut S) {
        let SessionRow {
            sid,
            did,
            seq,
            init: _,
            started_us,
            timestamp_us,
            duration,
            status,
            errors,
            release,
            environment,
            ip_address,
            user_agent,
        } = self;
        let updated_at = timestamp_us.unwrap_or(origin.received_at);
        origin_columns(sink, origin);
        sink.text("sid", Some(sid));
        sink.text("did", did.as_deref());
        sink.int8("seq", Some(*seq));
        sink.time("started", Some(started_us.unwrap_or(updated_at)));
        sink.time("updated_at", Some(updated_at));
        sink.float8("duration", *duration);
        sink.text("status", Some(status));
        sink.int8("errors", Some(*errors));
        release_and_environment(sink, Some(release), environment.as_deref());
        sink.text(
            "ip_address",
            received::session_ip(ip_address.as_deref(), origin.client_ip),
        );
        sink.text("user_agent", user_agent.as_deref());
    }
}

impl SqlRow for SessionAggregateRow {
    const SQL_TYPE: &'static str = "crashcache._session_aggregate_row";

    fn write<S: Sink>(&self, origin: &Origin<'_>, sink: &mut S) {
        let SessionAggregateRow {
            item_index,
            bucket_index,
            started_us,
            did,
            exited,
            errored,
            abnormal,
            crashed,
            release,
            environment,
        } = self;
        origin_columns(sink, origin);
        sink.int4("item_index", Some(*item_index));
        sink.int4("bucket_index", Some(*bucket_index));
        sink.time("started", Some(started_us.unwrap_or(origin.received_at)));
        sink.text("did", did.as_deref());
        release_and_environment(sink, Some(release), environment.as_deref());
        sink.int8("exited", Some(*exited));
        sink.int8("errored", Some(*errored));
        sink.int8("abnormal", Some(*abnormal));
        sink.int8("crashed", Some(*crashed));
    }
}

impl SqlRow for CheckInRow {
    const SQL_TYPE: &'static str = "crashcache._check_in_row";

    fn write<S: Sink>(&self, origin: &Origin<'_>, sink: &mut S) {
        let CheckInRow {
            check_in_id,
            monitor_slug,
            status,
            duration,
            release,
            environment,
            timestamp_us,
            monitor_config,
        } = self;
        origin_columns(sink, origin);
        sink.uuid("check_in_id", Some(check_in_id));
        sink.text("monitor_slug", Some(monitor_slug));
        sink.json("monitor_config", monitor_config.as_ref());
        sink.text("status", Some(status));
        sink.float8("duration", *duration);
        release_and_environment(sink, release.as_deref(), environment.as_deref());
        sink.time(
            "timestamp",
            Some(received::event_time(*timestamp_us, origin.received_at)),
        );
    }
}

impl SqlRow for LogRow {
    const SQL_TYPE: &'static str = "crashcache._log_row";

    fn write<S: Sink>(&self, origin: &Origin<'_>, sink: &mut S) {
        let LogRow {
            timestamp_us,
            level,
            severity_number,
            body,
            trace_id,
            release,
            environment,
            attributes,
        } = self;
        origin_columns(sink, origin);
        sink.time(
            "timestamp",
            Some(received::event_time(*timestamp_us, origin.received_at)),
        );
        sink.text("level", level.as_deref());
        sink.int4(
            "severity_number",
            severity_number.and_then(|n| i32::try_from(n).ok()),
        );
        sink.text("body", body.as_deref());
        sink.uuid("trace_id", trace_id.as_deref());
        release_and_environment(sink, release.as_deref(), environment.as_deref());
        sink.json("attributes", attributes.as_ref());
    }
}

impl SqlRow for AttachmentRow {
    const SQL_TYPE: &'static str = "crashcache._attachment_row";

    fn write<S: Sink>(&self, origin: &Origin<'_>, sink: &mut S) {
        let AttachmentRow {
            event_id,
            item_index,
            filename,
            content_type,
            attachment_type,
            size,
        } = self;
        origin_columns(sink, origin);
        sink.int4("item_index", Some(*item_index));
        sink.uuid("event_id", event_id.as_deref());
        sink.text("filename", filename.as_deref());
        sink.text("content_type", content_type.as_deref());
        sink.text("attachment_type", attachment_type.as_deref());
        sink.int8("size", Some(*size));
    }
}

impl SqlRow for OutcomeRow {
    const SQL_TYPE: &'static str = "crashcache._outcome_row";

    fn write<S: Sink>(&self, origin: &Origin<'_>, sink: &mut S) {
        let OutcomeRow {
            timestamp_us,
            outcome,
            reason,
            category,
            quantity,
        } = self;
        origin_columns(sink, origin);
        sink.time(
            "timestamp",
            Some(received::event_time(*timestamp_us, origin.received_at)),
        );
        sink.text("outcome", Some(outcome));
        sink.text("reason", reason.as_deref());
        sink.text("category", category.as_deref());
        sink.int8("quantity", Some(*quantity));
    }
}

impl SqlRow for FeedbackRow {
    const SQL_TYPE: &'static str = "crashcache._feedback_row";

    fn write<S: Sink>(&self, origin: &Origin<'_>, sink: &mut S) {
        let FeedbackRow {
            event_id,
            name,
            email,
            message,
            timestamp_us,
        } = self;
        origin_columns(sink, origin);
        sink.uuid("event_id", event_id.as_deref());
        sink.text("name", name.as_deref());
        sink.text("email", email.as_deref());
        sink.text("message", message.as_deref());
        sink.time(
            "timestamp",
            Some(received::event_time(*timestamp_us, origin.received_at)),
        );
    }
}
