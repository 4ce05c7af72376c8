//! One error event's JSON to the facts the tracker stores about it.
//!
//! The repetitive strings that go to dimension tables, title, culprit, tags, user, level and
//! time. It never writes anything.

use serde::Serialize;
use serde_json::{Map, Value};

use crate::event::{self, MessageForm};
use crate::fingerprint::{self, Fingerprint};
use crate::ids;
use crate::json::{self, str_field, truncate_str};
use crate::timestamp::{self, EpochMicros};

/// A name with an optional version, for the dimensions that have both (os, runtime, browser, sdk).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct NameVersion {
    pub name: String,
    /// Empty when the SDK sent no version.
    pub version: String,
}

/// Everything the digest stores about one error event. Strings are trimmed and bounded in
/// length; `None` means the event did not say.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct EventFacts {
    /// 32 lowercase hex digits, when the event carried a valid id.
    pub event_id: Option<String>,
    /// When the event happened, by the SDK's clock; `None` if absent or unreadable.
    pub timestamp: Option<EpochMicros>,
    /// One of fatal, error, warning, info, debug (unknown levels become error).
    pub level: &'static str,
    pub platform: Option<String>,
    /// What a list of issues shows: `Type: value` for an exception, else the message.
    pub title: String,
    /// The formatted message, if any.
    pub message: Option<String>,
    /// Where it happened: the event's `culprit`, else the transaction, else the top in-app frame.
    pub culprit: Option<String>,
    pub release: Option<String>,
    pub environment: Option<String>,
    pub server_name: Option<String>,
    pub logger: Option<String>,
    pub transaction: Option<String>,
    pub os: Option<NameVersion>,
    pub runtime: Option<NameVersion>,
    pub browser: Option<NameVersion>,
    pub sdk: Option<NameVersion>,
    pub device_model: Option<String>,
    /// Type of the outermost (last) exception, unless the exception is a synthetic one.
    pub exception_type: Option<String>,
    /// Tags as a JSON object of string to string (arrays of pairs and `key:value` strings are
    /// converted).
    pub tags: serde_json::Map<String, Value>,
    /// The `user` object as sent, with `ip_address` `{{auto}}` left as is.
    pub user: Option<Value>,
    /// The user's identity for counting distinct users: id, else email, else username, else ip.
    pub user_key: Option<String>,
    pub fingerprint: Fingerprint,
}

/// Why an event could not be normalised at all.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NormaliseError {
    #[error("the event is not a JSON object")]
    NotAnObject,
}

/// Dimension values (environment, server name, ...) are cut here; tag keys and values are cut
/// as much by [`event::parse_tags`].
const MAX_DIM_CHARS: usize = 200;
/// Release names carry version and build metadata, so they get a little more room.
const MAX_RELEASE_CHARS: usize = 250;
const MAX_TITLE_CHARS: usize = 200;
const MAX_MESSAGE_CHARS: usize = 8192;

/// Extracts the facts of one event (or transaction). Never fails on a JSON object, however
/// odd its fields; for log shippers it also reads `@timestamp` when `timestamp` is absent and
/// `host` (a string or an object with `name`) when `server_name` is absent.
pub fn normalise_event(event: &Value) -> Result<EventFacts, NormaliseError> {
    if !event.is_object() {
        return Err(NormaliseError::NotAnObject);
    }
    let tags = event::parse_tags(event.get("tags"));
    let message = formatted_message(event);
    let transaction = dim(event.get("transaction"), MAX_DIM_CHARS);
    let outermost = event::outermost_exception(event);
    let timestamp = match event.get("timestamp") {
        Some(value) if !value.is_null() => timestamp::parse(Some(value)),
        _ => timestamp::parse(event.get("@timestamp")),
    };
    let server_name = dim(event.get("server_name"), MAX_DIM_CHARS).or_else(|| {
        let host = event.get("host");
        dim(host, MAX_DIM_CHARS).or_else(|| dim(host.and_then(|h| h.get("name")), MAX_DIM_CHARS))
    });
    let user = event.get("user").filter(|u| u.is_object()).cloned();
    let user_key = user.as_ref().and_then(user_key);
    Ok(EventFacts {
        event_id: ids::uuid_from_json(event.get("event_id")),
        timestamp,
        level: event::normalise_level(event.get("level")),
        platform: dim(event.get("platform"), MAX_DIM_CHARS),
        title: title(outermost, message.as_deref(), transaction.as_deref()),
        culprit: culprit(event, transaction.as_deref()),
        message,
        release: dim(event.get("release"), MAX_RELEASE_CHARS),
        environment: dim(event.get("environment"), MAX_DIM_CHARS),
        server_name,
        logger: dim(event.get("logger"), MAX_DIM_CHARS),
        transaction,
        os: context_or_tags(event, &tags, "os"),
        runtime: context_or_tags(event, &tags, "runtime"),
        browser: context_or_tags(event, &tags, "browser"),
        sdk: event.get("sdk").and_then(name_version),
        device_model: context(event, "device").and_then(|d| dim(d.get("model"), MAX_DIM_CHARS)),
        exception_type: outermost.and_then(|e| dim(e.get("type"), MAX_DIM_CHARS)),
        tags,
        user,
        user_key,
        fingerprint: fingerprint::fingerprint(event),
    })
}

/// The message as a human reads it: formatted when the SDK formatted it.
pub fn formatted_message(event: &Value) -> Option<String> {
    event::message(event, MessageForm::Formatted)
        .map(|s| truncate_str(s, MAX_MESSAGE_CHARS).to_string())
}

/// A dimension value: [`json::as_string`], plus trimming again when the cut lands after a
/// space. Dimension values are looked up by equality, and `"abc "` must not become a second
/// row next to `"abc"`; the digest's other columns keep what was sent.
fn dim(value: Option<&Value>, max: usize) -> Option<String> {
    json::as_string(value?, max).map(|text| cut(&text, max))
}

/// Cuts to `max` characters without leaving whitespace at the end, for text that is shown or
/// compared (titles, dimension values).
fn cut(text: &str, max: usize) -> String {
    truncate_str(text, max).trim_end().to_string()
}

fn title(exception: Option<&Value>, message: Option<&str>, transaction: Option<&str>) -> String {
    let exception_title = exception.map(|e| {
        let kind = str_field(e, "type").map(first_line);
        let value = str_field(e, "value").map(first_line);
        match (kind, value) {
            (Some(k), Some(v)) => format!("{k}: {v}"),
            (Some(k), None) => k.to_string(),
            (None, Some(v)) => v.to_string(),
            (None, None) => String::new(),
        }
    });
    // Bound to a name: as a tail expression the array would outlive `exception_title`.
    let found = [
        exception_title.as_deref(),
        message.map(first_line),
        transaction,
    ]
    .into_iter()
    .flatten()
    .map(str::trim)
    .find(|t| !t.is_empty())
    .map_or_else(
        || "<unlabeled event>".to_string(),
        |t| cut(t, MAX_TITLE_CHARS),
    );
    found
}

fn first_line(s: &str) -> &str {
    s.trim().lines().next().unwrap_or("")
}

/// The event's own culprit, else the transaction, else the frame the event crashed in
/// ([`event::crashing_frame`]), written `module in function` as Sentry shows it.
fn culprit(event: &Value, transaction: Option<&str>) -> Option<String> {
    if let Some(culprit) = dim(event.get("culprit"), MAX_DIM_CHARS) {
        return Some(culprit);
    }
    if let Some(transaction) = transaction {
        return Some(transaction.to_string());
    }
    let frame = event::crashing_frame(event)?;
    let place = ["module", "filename", "abs_path"]
        .iter()
        .find_map(|key| str_field(frame, key));
    // Both parts are trimmed and non-empty, so the cut text is too.
    let text = match (place, str_field(frame, "function")) {
        (Some(place), Some(function)) => format!("{place} in {function}"),
        (Some(only), None) | (None, Some(only)) => only.to_string(),
        (None, None) => return None,
    };
    Some(cut(&text, MAX_DIM_CHARS))
}

/// A context by its usual key, else the first context declaring that `type`.
fn context<'a>(event: &'a Value, kind: &str) -> Option<&'a Value> {
    let contexts = event.get("contexts")?.as_object()?;
    contexts.get(kind).filter(|c| c.is_object()).or_else(|| {
        contexts
            .values()
            .find(|c| c.get("type").and_then(Value::as_str) == Some(kind))
    })
}

fn name_version(holder: &Value) -> Option<NameVersion> {
    Some(NameVersion {
        name: dim(holder.get("name"), MAX_DIM_CHARS)?,
        version: dim(holder.get("version"), MAX_DIM_CHARS).unwrap_or_default(),
    })
}

/// `contexts.<kind>`, else the tags SDKs and Sentry derive from it: `<kind>.name` (with
/// `<kind>.version`), or `<kind>` holding "Name Version".
fn context_or_tags(event: &Value, tags: &Map<String, Value>, kind: &str) -> Option<NameVersion> {
    if let Some(found) = context(event, kind).and_then(name_version) {
        return Some(found);
    }
    let tag = |key: &str| {
        tags.get(key)
            .and_then(Value::as_str)
            .map(str::trim)
            .filter(|s| !s.is_empty())
    };
    if let Some(name) = tag(&format!("{kind}.name")) {
        return Some(NameVersion {
            name: name.to_string(),
            version: tag(&format!("{kind}.version")).unwrap_or("").to_string(),
        });
    }
    let combined = tag(kind)?;
    let (name, version) = match combined.rsplit_once(' ') {
        Some((name, version))
            if !name.trim().is_empty() && version.starts_with(|c: char| c.is_ascii_digit()) =>
        {
            (name.trim(), version)
        }
        _ => (combined, ""),
    };
    Some(NameVersion {
        name: name.to_string(),
        version: version.to_string(),
    })
}

/// Who the user is, for counting distinct users. `{{auto}}` is a request to use the client's
/// address, which is not known here.
fn user_key(user: &Value) -> Option<String> {
    ["id", "email", "username", "ip_address"]
        .iter()
        .filter_map(|key| dim(user.get(*key), MAX_DIM_CHARS))
        .find(|value| value != "{{auto}}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_fixtures;
    use serde_json::json;

    fn python(name: &str) -> EventFacts {
        normalise_event(&test_fixtures::python_event(name)).unwrap()
    }

    fn curl(name: &str) -> EventFacts {
        let request = test_fixtures::json(&format!("curl/store.{name}.request.json"));
        let body: Value = serde_json::from_str(request["body_text"].as_str().unwrap()).unwrap();
        normalise_event(&body).unwrap()
    }

    fn nv(name: &str, version: &str) -> Option<NameVersion> {
        Some(NameVersion {
            name: name.into(),
            version: version.into(),
        })
    }

    fn tag<'a>(facts: &'a EventFacts, key: &str) -> Option<&'a str> {
        facts.tags.get(key).and_then(Value::as_str)
    }

    #[test]
    fn python_exception() {
        let f = python("event.case-exception");
        assert_eq!(
            f.event_id.as_deref(),
            Some("f86061c800e640538b67067ad209a674")
        );
        assert_eq!(f.timestamp, Some(1_795_331_640_595_619));
        assert_eq!(f.level, "error");
        assert_eq!(
            f.title,
            "ValueError: invalid literal for int() with base 10: 'not-a-number'"
        );
        assert_eq!(f.exception_type.as_deref(), Some("ValueError"));
        assert_eq!(f.message, None);
        assert_eq!(f.culprit.as_deref(), Some("__main__ in inner"));
        assert_eq!(
            f.release.as_deref(),
            Some("sdkharness-python@1.0.0+capture-python-1")
        );
        assert_eq!(f.environment.as_deref(), Some("harness"));
        assert_eq!(f.server_name.as_deref(), Some("vm"));
        assert_eq!(f.platform.as_deref(), Some("python"));
        assert_eq!(f.runtime, nv("CPython", "3.11.7"));
        assert_eq!(f.sdk, nv("sentry.python", "2.75.0"));
        assert_eq!(f.os, None);
        assert_eq!(f.browser, None);
        assert_eq!(tag(&f, "harness_case"), Some("exception"));
        assert_eq!(tag(&f, "harness_run"), Some("capture-python-1"));
        assert_eq!(f.user_key.as_deref(), Some("harness-capture-python-1"));
        assert_eq!(f.fingerprint.method, "stacktrace");
    }

    #[test]
    fn python_messages_and_others() {
        let m = python("event.case-message");
        assert_eq!(m.title, "harness message capture-python-1");
        assert_eq!(
            m.message.as_deref(),
            Some("harness message capture-python-1")
        );
        assert_eq!(m.level, "warning");
        assert_eq!(m.exception_type, None);
        assert_eq!(m.culprit, None);
        assert_eq!(m.fingerprint.method, "message");
        assert_eq!(tag(&m, "harness_case"), Some("message"));

        let u = python("event.case-user_event");
        assert_eq!(u.level, "info");
        assert_eq!(tag(&u, "color"), Some("blue"));
        assert_eq!(u.user_key.as_deref(), Some("harness-capture-python-1"));
        assert_eq!(u.user.as_ref().unwrap()["email"], "harness@example.com");
        assert_eq!(u.timestamp, Some(1_795_331_640_609_399));

        let a = python("event.case-attachment");
        assert_eq!(a.title, "ZeroDivisionError: division by zero");
        assert_eq!(a.culprit.as_deref(), Some("__main__ in divide"));
        assert_eq!(a.exception_type.as_deref(), Some("ZeroDivisionError"));

        let t = python("transaction.case-transaction");
        assert_eq!(t.title, "harness-transaction capture-python-1");
        assert_eq!(
            t.culprit.as_deref(),
            Some("harness-transaction capture-python-1")
        );
        assert_eq!(
            t.transaction.as_deref(),
            Some("harness-transaction capture-python-1")
        );
        assert_eq!(t.timestamp, Some(1_795_331_640_619_383));
    }

    #[test]
    fn curl_store_bodies() {
        for case in ["store_header_gzip", "store_header_noproject", "store_query"] {
            let f = curl(case);
            assert_eq!(f.timestamp, Some(1_795_331_722_455_000), "{case}");
            assert_eq!(f.level, "error");
            assert_eq!(f.platform.as_deref(), Some("other"));
            assert_eq!(f.logger.as_deref(), Some("logstash"));
            assert_eq!(f.server_name.as_deref(), Some("harness-host"));
            assert_eq!(f.title, format!("harness curl {case} capture-curl-1"));
            assert_eq!(
                f.release.as_deref(),
                Some("sdkharness-curl@1.0.0+capture-curl-1")
            );
            assert_eq!(tag(&f, "harness_case"), Some(case));
            assert_eq!(f.fingerprint.method, "message");
            assert_eq!(f.user, None);
            assert_eq!(f.sdk, None);
        }
        let g = curl("store_header_gzip");
        assert_eq!(
            g.event_id.as_deref(),
            Some("5e6ec014f8937b617b41fbbfbdc15566")
        );

        let plugin = curl("store_logstash_sentry_plugin");
        assert_eq!(plugin.platform.as_deref(), Some("logstash"));
        assert_eq!(plugin.release, None);
        assert_eq!(
            tag(&plugin, "harness_case"),
            Some("store_logstash_sentry_plugin")
        );

        let raw = curl("store_raw_logstash_event");
        assert_eq!(raw.event_id, None);
        assert_eq!(raw.timestamp, Some(1_795_331_722_455_000));
        assert_eq!(raw.server_name.as_deref(), Some("harness-host"));
        assert_eq!(
            raw.title,
            "harness curl store_raw_logstash_event capture-curl-1"
        );
        assert_eq!(raw.level, "error");
        assert_eq!(tag(&raw, "harness_run"), Some("capture-curl-1"));
        assert_eq!(raw.fingerprint.method, "message");
    }

    #[test]
    fn node_capture_message() {
        let event = json!({
            "event_id": "9EC79C33-EC99-42AB-8353-589FCB2E04DC",
            "timestamp": 1795331739.2949095,
            "platform": "node",
            "level": "log",
            "message": "harness message node-1",
            "exception": {"values": [{"value": "harness message node-1",
                "mechanism": {"type": "generic", "handled": true, "synthetic": true},
                "stacktrace": {"frames": [
                    {"filename": "node:internal/main", "function": "run", "in_app": false},
                    {"filename": "/app/send.js", "module": "send", "function": "main",
                     "lineno": 3, "in_app": true}]}}]},
            "tags": [["harness_run", "node-1"], ["attempt", 2], ["bad"], "harness_sdk:node"],
            "contexts": {
                "os": {"name": "Linux", "version": "6.1.0"},
                "runtime": {"name": "node", "version": "v22.11.0"},
                "client": {"type": "browser", "name": "Chrome", "version": "131.0"},
                "device": {"model": "ThinkPad", "arch": "x64"}
            },
            "user": {"id": 1234, "ip_address": "{{auto}}"},
            "sdk": {"name": "sentry.javascript.node", "version": "11.12.0"}
        });
        let f = normalise_event(&event).unwrap();
        assert_eq!(
            f.event_id.as_deref(),
            Some("9ec79c33ec9942ab8353589fcb2e04dc")
        );
        assert_eq!(f.timestamp, Some(1_795_331_739_294_910));
        assert_eq!(f.level, "info");
        assert_eq!(f.title, "harness message node-1");
        assert_eq!(f.exception_type, None);
        assert_eq!(f.culprit.as_deref(), Some("send in main"));
        assert_eq!(f.fingerprint.method, "message");
        assert_eq!(tag(&f, "harness_run"), Some("node-1"));
        assert_eq!(tag(&f, "attempt"), Some("2"));
        assert_eq!(tag(&f, "harness_sdk"), Some("node"));
        assert_eq!(f.tags.len(), 3);
        assert_eq!(f.os, nv("Linux", "6.1.0"));
        assert_eq!(f.runtime, nv("node", "v22.11.0"));
        assert_eq!(f.browser, nv("Chrome", "131.0"));
        assert_eq!(f.device_model.as_deref(), Some("ThinkPad"));
        assert_eq!(f.sdk, nv("sentry.javascript.node", "11.12.0"));
        assert_eq!(f.user_key.as_deref(), Some("1234"));
    }

    #[test]
    fn raw_logstash_event() {
        let event = json!({"@timestamp": "2026-11-22T07:15:22.455Z", "@version": "1",
            "message": "disk full\nsecond line", "host": {"name": "h"},
            "tags": ["harness_run:x", "_grokparsefailure", "url:http://a:b"]});
        let f = normalise_event(&event).unwrap();
        assert_eq!(f.timestamp, Some(1_795_331_722_455_000));
        assert_eq!(f.title, "disk full");
        assert_eq!(f.message.as_deref(), Some("disk full\nsecond line"));
        assert_eq!(f.server_name.as_deref(), Some("h"));
        assert_eq!(tag(&f, "harness_run"), Some("x"));
        assert_eq!(tag(&f, "_grokparsefailure"), Some(""));
        assert_eq!(tag(&f, "url"), Some("http://a:b"));
        assert_eq!(f.level, "error");
        assert_eq!(f.fingerprint.method, "message");
    }

    #[test]
    fn event_ids() {
        let id = |v: Value| normalise_event(&json!({ "event_id": v })).unwrap().event_id;
        assert_eq!(
            id(json!("9EC79C33EC9942AB8353589FCB2E04DC")).as_deref(),
            Some("9ec79c33ec9942ab8353589fcb2e04dc")
        );
        assert_eq!(
            id(json!("9ec79c33-ec99-42ab-8353-589fcb2e04dc")).as_deref(),
            Some("9ec79c33ec9942ab8353589fcb2e04dc")
        );
        for bad in [
            json!("9ec79c33-ec99-42ab-8353589fcb2e04dc-"),
            json!("9ec79c33ec9942ab8353589fcb2e04d"),
            json!("9ec79c33ec9942ab8353589fcb2e04dz"),
            json!("é9ec79c33ec9942ab8353589fcb2e04"),
            json!("9ec79c33-ec99-42ab-8353-589fcb2e04dé"),
            json!(12),
            json!(null),
        ] {
            assert_eq!(id(bad.clone()), None, "{bad}");
        }
    }

    #[test]
    fn user_keys() {
        let key = |user: Value| normalise_event(&json!({ "user": user })).unwrap().user_key;
        assert_eq!(
            key(json!({"id": "7", "email": "a@b.c"})).as_deref(),
            Some("7")
        );
        assert_eq!(
            key(json!({"id": "", "email": "a@b.c"})).as_deref(),
            Some("a@b.c")
        );
        assert_eq!(key(json!({"username": "ann"})).as_deref(), Some("ann"));
        assert_eq!(key(json!({"ip_address": "{{auto}}"})), None);
        assert_eq!(
            key(json!({"ip_address": "10.0.0.1"})).as_deref(),
            Some("10.0.0.1")
        );
        assert_eq!(key(json!({})), None);
        let f = normalise_event(&json!({"user": "bob"})).unwrap();
        assert_eq!((f.user, f.user_key), (None, None));
    }

    #[test]
    fn titles() {
        let title = |event: Value| normalise_event(&event).unwrap().title;
        assert_eq!(title(json!({})), "<unlabeled event>");
        assert_eq!(title(json!({"transaction": "GET /x"})), "GET /x");
        assert_eq!(
            title(json!({"exception": {"values": [{"type": "E"}]}, "message": "m"})),
            "E"
        );
        assert_eq!(
            title(json!({"exception": [{"value": "only value\nmore"}]})),
            "only value"
        );
        assert_eq!(
            title(json!({"exception": {"values": [
                {"type": "Inner", "value": "i"}, {"type": "Outer", "value": "o"}]}})),
            "Outer: o"
        );
        assert_eq!(
            title(json!({"logentry": {"message": "tpl %s", "formatted": "tpl x"}})),
            "tpl x"
        );
        assert_eq!(title(json!({"message": {"message": "obj"}})), "obj");
        assert_eq!(
            title(json!({"message": "é".repeat(300)})).chars().count(),
            200
        );
        assert_eq!(
            title(json!({"exception": {"values": [{}]}, "message": "  "})),
            "<unlabeled event>"
        );
    }

    #[test]
    fn dimension_fallbacks_from_tags() {
        let f = normalise_event(
            &json!({"tags": {"os": "Windows 10", "browser.name": "Firefox",
            "browser.version": "133", "runtime": "CPython"}, "contexts": {"os": {"build": "x"}}}),
        )
        .unwrap();
        assert_eq!(f.os, nv("Windows", "10"));
        assert_eq!(f.browser, nv("Firefox", "133"));
        assert_eq!(f.runtime, nv("CPython", ""));
        let f = normalise_event(&json!({"release": 12, "environment": "  ",
            "server_name": "s".repeat(300), "release2": "x"}))
        .unwrap();
        assert_eq!(f.release.as_deref(), Some("12"));
        assert_eq!(f.environment, None);
        assert_eq!(f.server_name.map(|s| s.len()), Some(200));
        let f = normalise_event(&json!({"release": "r".repeat(300)})).unwrap();
        assert_eq!(f.release.map(|s| s.len()), Some(250));
    }

    #[test]
    fn culprits() {
        let culprit = |event: Value| normalise_event(&event).unwrap().culprit;
        assert_eq!(
            culprit(json!({"culprit": "views.index", "transaction": "t"})).as_deref(),
            Some("views.index")
        );
        let frames = json!({"exception": {"values": [{"type": "E", "stacktrace": {"frames": [
            {"filename": "app.js", "function": "top", "in_app": true},
            {"filename": "lib.js", "function": "deep", "in_app": false}]}}]}});
        assert_eq!(culprit(frames).as_deref(), Some("app.js in top"));
        let no_in_app = json!({"exception": {"values": [{"stacktrace": {"frames": [
            {"abs_path": "/lib.js", "in_app": false}]}}]}});
        assert_eq!(culprit(no_in_app).as_deref(), Some("/lib.js"));
        assert_eq!(
            culprit(json!({"exception": {"values": [{"stacktrace": {"frames": [{}]}}]}})),
            None
        );
    }

    #[test]
    fn rejects_non_objects_and_survives_odd_shapes() {
        for v in [json!(null), json!([]), json!("x"), json!(1)] {
            assert_eq!(normalise_event(&v), Err(NormaliseError::NotAnObject));
        }
        for v in [
            json!({"event_id": [], "timestamp": {}, "level": [], "tags": 5, "user": [],
                   "contexts": [], "sdk": "x", "exception": {"values": [[]]}}),
            json!({"contexts": {"os": "Linux", "runtime": {"name": 3}, "device": {"model": {}}},
                   "sdk": {"name": "", "version": 1}, "message": {"formatted": 5}}),
            json!({"timestamp": null, "@timestamp": 5, "host": 7, "culprit": ""}),
        ] {
            let f = normalise_event(&v).unwrap();
            assert_eq!(f.fingerprint.hash.len(), 32);
        }
    }
}
