//! A stored event (the JSON an SDK sent) as Sentry's Web API event detail shows it.
//!
//! Clients parse this strictly: sentry-mcp validates with zod (`inApp` a boolean, `context` as
//! `[[number, string]]`, `request.url` a URL or null, timestamps ending in `Z`), and the
//! self-hosted MCP servers read `in_app` in snake case. What the database knows better (ids,
//! title, culprit, dates, tags) is filled in by SQL, so it is left out here. Every value is
//! read with the crate's tolerant readers and bounded by the caps in `bounded`: any JSON at all
//! gives a well-formed answer of bounded size. The `request` entry is built in `request`.

use serde_json::{json, Map, Value};

use super::bounded::{
    loose, text, values_list, MAX_BREADCRUMBS, MAX_CONTEXT_LINES, MAX_EXCEPTIONS, MAX_FRAMES,
    MAX_ITEMS, MAX_KEY_CHARS, MAX_STRING_CHARS, MAX_THREADS, MAX_TOTAL_FRAMES,
};
use super::request::request_data;
use crate::event::{
    crashing_frame, exception_list, frames_of, is_in_app, message, outermost_exception, MessageForm,
};
use crate::json::{self, str_field, truncate_str};
use crate::normalise::{self, EventFacts};
use crate::timestamp;

/// The user fields the API names; the others go to the user's `data`.
const USER_FIELDS: [&str; 6] = ["id", "email", "username", "name", "ip_address", "data"];

/// What a stored event (the JSON an SDK sent, as crashcache.event_json() returns it) looks like in
/// Sentry's Web API event detail, minus what the database fills in (id, eventID, groupID,
/// projectID, title, culprit, dateCreated, dateReceived, tags: those come from SQL).
///
/// Always an object with exactly the keys `entries, contexts, context, user, sdk, platform,
/// message, metadata, fingerprints, release, environment, errors, packages, type`.
pub fn api_event(raw: &Value) -> Value {
    // The same reading of platform, release, message, sdk and title as the stored row's.
    let facts = normalise::normalise_event(raw).ok();
    let facts = facts.as_ref();
    json!({
        "entries": entries(raw),
        "contexts": contexts(raw),
        "context": raw.get("extra").filter(|e| e.is_object()).map_or_else(|| json!({}), loose),
        "user": user(raw),
        "sdk": facts.and_then(|f| f.sdk.as_ref()).map(|sdk| json!({
            "name": sdk.name,
            "version": Some(&sdk.version).filter(|v| !v.is_empty()),
        })),
        "platform": facts.and_then(|f| f.platform.as_deref()),
        "message": facts.and_then(|f| f.message.as_deref()),
        "metadata": metadata(raw, facts),
        "fingerprints": fingerprints(raw),
        "release": facts.and_then(|f| f.release.as_deref()).map(|v| json!({"version": v})),
        "environment": facts.and_then(|f| f.environment.as_deref()),
        "errors": [],
        "packages": {},
        "type": "error",
    })
}

/// `YYYY-MM-DDTHH:MM:SS.ffffffZ`: RFC 3339 in UTC with microseconds, the only form zod's
/// `datetime()` accepts (no `+00:00`). SQL gives the same text with
/// `to_char(ts AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')`.
pub fn rfc3339_utc(micros: i64) -> String {
    timestamp::format_rfc3339(micros)
}

/// The entries in Sentry's order: the stack (exception, else threads and a bare stack trace),
/// then message, breadcrumbs and request, each only when the event has it.
fn entries(raw: &Value) -> Vec<Value> {
    let mut budget = MAX_TOTAL_FRAMES;
    let entry = |kind: &str, data: Value| json!({"type": kind, "data": data});
    let mut out = Vec::new();
    if let Some(data) = exception_data(raw, &mut budget) {
        out.push(entry("exception", data));
    } else {
        if let Some(data) = threads_data(raw, &mut budget) {
            out.push(entry("threads", data));
        }
        let stacktrace = stacktrace(raw, &mut budget);
        if !stacktrace.is_null() {
            out.push(entry("stacktrace", stacktrace));
        }
    }
    let parts = [
        ("message", message_data(raw)),
        ("breadcrumbs", breadcrumbs_data(raw)),
        ("request", request_data(raw)),
    ];
    out.extend(
        parts
            .into_iter()
            .filter_map(|(kind, data)| Some(entry(kind, data?))),
    );
    out
}

fn exception_data(raw: &Value, budget: &mut usize) -> Option<Value> {
    let all = exception_list(raw);
    let kept = all
        .get(all.len().saturating_sub(MAX_EXCEPTIONS)..)
        .unwrap_or(&[]);
    if kept.is_empty() {
        return None;
    }
    // Built from the raised (last) exception back, so that it gets its frames first.
    let mut values: Vec<Value> = kept
        .iter()
        .rev()
        .map(|e| {
            json!({
                "type": text(e, "type"),
                "value": text(e, "value"),
                "module": text(e, "module"),
                "threadId": id_value(e.get("thread_id")),
                "mechanism": mechanism(e.get("mechanism")),
                "stacktrace": stacktrace(e, budget),
                "rawStacktrace": null,
            })
        })
        .collect();
    values.reverse();
    let system = values
        .iter()
        .any(|v| v.get("stacktrace").is_some_and(has_system_frames));
    Some(json!({"values": values, "excOmitted": null, "hasSystemFrames": system}))
}

/// The mechanism as sent, but with the two fields zod types (`type` a string, `handled` a
/// boolean) dropped when they are something else.
fn mechanism(value: Option<&Value>) -> Value {
    let Some(sent) = value.filter(|m| m.is_object()) else {
        return Value::Null;
    };
    let mut mechanism = loose(sent);
    if let Some(fields) = mechanism.as_object_mut() {
        match json::string(sent, "type", MAX_KEY_CHARS) {
            Some(kind) => fields.insert("type".into(), json!(kind)),
            None => fields.remove("type"),
        };
        if !sent.get("handled").is_some_and(Value::is_boolean) {
            fields.remove("handled");
        }
    }
    mechanism
}

/// The threads, when one of them has a stack trace.
fn threads_data(raw: &Value, budget: &mut usize) -> Option<Value> {
    let threads = values_list(raw.get("threads"));
    if !threads.iter().any(|t| !frames_of(t).is_empty()) {
        return None;
    }
    let flag = |t: &Value, key: &str| t.get(key).and_then(Value::as_bool) == Some(true);
    let mut ranked: Vec<(usize, &Value)> = threads
        .iter()
        .filter(|t| t.is_object())
        .enumerate()
        .collect();
    // Stable: crashed and current threads first, the others in the order sent.
    ranked.sort_by_key(|(_, t)| !(flag(t, "crashed") || flag(t, "current")));
    ranked.truncate(MAX_THREADS);
    let mut built: Vec<(usize, Value)> = ranked
        .into_iter()
        .map(|(at, t)| {
            let thread = json!({
                "id": id_value(t.get("id")),
                "name": text(t, "name"),
                "crashed": flag(t, "crashed"),
                "current": flag(t, "current"),
                "stacktrace": stacktrace(t, budget),
                "rawStacktrace": null,
            });
            (at, thread)
        })
        .collect();
    built.sort_by_key(|(at, _)| *at);
    let values: Vec<Value> = built.into_iter().map(|(_, t)| t).collect();
    Some(json!({"values": values}))
}

/// The `stacktrace` of `holder` with at most [`MAX_FRAMES`] of its newest frames, oldest
/// first as sent; null when it has no frames (or the event's frame budget is spent).
fn stacktrace(holder: &Value, budget: &mut usize) -> Value {
    let wanted = MAX_FRAMES.min(*budget);
    let mut kept: Vec<&Value> = frames_of(holder)
        .iter()
        .rev()
        .filter(|f| f.is_object())
        .take(wanted)
        .collect();
    if kept.is_empty() {
        return Value::Null;
    }
    kept.reverse();
    *budget = budget.saturating_sub(kept.len());
    let in_app = kept.iter().filter(|f| is_in_app(f)).count();
    let total = kept.len();
    json!({
        "frames": kept.into_iter().map(frame).collect::<Vec<_>>(),
        "framesOmitted": null,
        "registers": null,
        // Sentry's rule: a stack has system frames only when it mixes them with in-app ones.
        "hasSystemFrames": in_app > 0 && in_app < total,
    })
}

fn has_system_frames(stacktrace: &Value) -> bool {
    stacktrace.get("hasSystemFrames") == Some(&Value::Bool(true))
}

fn frame(f: &Value) -> Value {
    let in_app = is_in_app(f);
    let line = json::integer(f, "lineno");
    json!({
        "filename": text(f, "filename"),
        "absPath": text(f, "abs_path"),
        "module": text(f, "module"),
        "package": text(f, "package"),
        "platform": text(f, "platform"),
        "function": text(f, "function"),
        "rawFunction": text(f, "raw_function"),
        "lineNo": line,
        "colNo": json::integer(f, "colno"),
        "inApp": in_app,
        "in_app": in_app,
        "context": source_context(f, line),
        "vars": f.get("vars").filter(|v| v.is_object()).map(loose),
        "instructionAddr": address(f.get("instruction_addr")),
        "symbolAddr": address(f.get("symbol_addr")),
        "symbol": text(f, "symbol"),
        "trust": text(f, "trust"),
        "errors": null,
    })
}

/// `[[line, text], ...]` from `pre_context`, `context_line` and `post_context`, numbered from
/// the frame's line; empty without a line number or without any source.
fn source_context(frame: &Value, line: Option<i64>) -> Value {
    let lines = |key: &str| {
        frame
            .get(key)
            .and_then(Value::as_array)
            .map_or(&[][..], Vec::as_slice)
    };
    let (pre, post) = (lines("pre_context"), lines("post_context"));
    let current = frame.get("context_line").filter(|c| !c.is_null());
    let Some(line) = line.filter(|_| current.is_some() || !pre.is_empty() || !post.is_empty())
    else {
        return json!([]);
    };
    let pre = pre
        .get(pre.len().saturating_sub(MAX_CONTEXT_LINES)..)
        .unwrap_or(&[]);
    let post = post.get(..post.len().min(MAX_CONTEXT_LINES)).unwrap_or(&[]);
    // At most 2 * MAX_CONTEXT_LINES + 1 lines, so the offsets fit any integer type.
    let first = line.saturating_sub(pre.len() as i64);
    let numbered = pre
        .iter()
        .chain(std::iter::once(current.unwrap_or(&Value::Null)))
        .chain(post)
        .enumerate()
        .map(|(i, text)| json!([first.saturating_add(i as i64), source_line(text)]));
    Value::Array(numbered.collect())
}

/// A source line as sent: not trimmed, since indentation is the point.
fn source_line(value: &Value) -> String {
    match value {
        Value::String(s) => truncate_str(s, MAX_STRING_CHARS).to_string(),
        Value::Number(n) => n.to_string(),
        Value::Bool(b) => b.to_string(),
        _ => String::new(),
    }
}

/// Native addresses as `0x...` strings, also when an SDK sent them as numbers.
fn address(value: Option<&Value>) -> Option<String> {
    match value? {
        Value::Number(n) => n.as_u64().map(|a| format!("{a:#x}")),
        other => json::as_string(other, MAX_KEY_CHARS),
    }
}

/// Thread ids are numbers or names: a whole number (also from a numeric string), else text.
fn id_value(value: Option<&Value>) -> Value {
    match value {
        Some(Value::Number(n)) if n.is_i64() || n.is_u64() => Value::Number(n.clone()),
        Some(Value::String(s)) if s.trim().parse::<u64>().is_ok() => {
            json!(s.trim().parse::<u64>().ok())
        }
        Some(other) => json!(json::as_string(other, MAX_KEY_CHARS)),
        None => Value::Null,
    }
}

/// `{formatted, message, params}`; `message` is the template, only when it differs. Named
/// parameters (an object) come as the one item of `params`, which zod wants as an array.
fn message_data(raw: &Value) -> Option<Value> {
    let formatted = message(raw, MessageForm::Formatted)?;
    let template = message(raw, MessageForm::Template).filter(|t| *t != formatted);
    let params = match ["logentry", "message"]
        .iter()
        .filter_map(|key| raw.get(key)?.get("params"))
        .find(|p| p.is_array() || p.is_object())
    {
        Some(named @ Value::Object(_)) => json!([loose(named)]),
        Some(list) => loose(list),
        None => json!([]),
    };
    Some(json!({
        "formatted": truncate_str(formatted, MAX_STRING_CHARS),
        "message": template.map(|t| truncate_str(t, MAX_STRING_CHARS)),
        "params": params,
    }))
}

fn breadcrumbs_data(raw: &Value) -> Option<Value> {
    let mut crumbs: Vec<Value> = values_list(raw.get("breadcrumbs"))
        .iter()
        .rev()
        .filter(|c| c.is_object())
        .take(MAX_BREADCRUMBS)
        .map(|c| {
            json!({
                "timestamp": timestamp::parse(c.get("timestamp")).map(rfc3339_utc),
                "type": text(c, "type").unwrap_or_else(|| "default".into()),
                "category": text(c, "category"),
                "level": text(c, "level").unwrap_or_else(|| "info".into()),
                "message": text(c, "message"),
                "data": c.get("data").filter(|d| d.is_object()).map(loose),
                "event_id": null,
            })
        })
        .collect();
    if crumbs.is_empty() {
        return None;
    }
    crumbs.reverse();
    Some(json!({ "values": crumbs }))
}

/// Each context as an object with a `type` (the key when missing); other shapes are dropped.
fn contexts(raw: &Value) -> Value {
    let Some(contexts) = raw.get("contexts").and_then(Value::as_object) else {
        return json!({});
    };
    let kept = contexts
        .iter()
        .filter(|(_, c)| c.is_object())
        .take(MAX_ITEMS)
        .map(|(key, context)| {
            let mut context = loose(context);
            if str_field(&context, "type").is_none() {
                if let Some(fields) = context.as_object_mut() {
                    fields.insert("type".into(), json!(truncate_str(key, MAX_KEY_CHARS)));
                }
            }
            (truncate_str(key, MAX_KEY_CHARS).to_string(), context)
        });
    Value::Object(kept.collect())
}

/// The named user fields, with everything else (and the user's own `data`) in `data`; null
/// when the event names no user. `{{auto}}` asks for the client's address, unknown here.
fn user(raw: &Value) -> Value {
    let Some(user) = raw.get("user").filter(|u| u.is_object()) else {
        return Value::Null;
    };
    let mut data = Map::new();
    let own = user
        .get("data")
        .and_then(Value::as_object)
        .into_iter()
        .flatten();
    let others = user
        .as_object()
        .into_iter()
        .flatten()
        .filter(|(k, v)| !USER_FIELDS.contains(&k.as_str()) && !v.is_null());
    for (key, value) in own.chain(others).take(MAX_ITEMS) {
        data.entry(truncate_str(key, MAX_KEY_CHARS))
            .or_insert_with(|| loose(value));
    }
    let ip = text(user, "ip_address").filter(|ip| ip != "{{auto}}");
    let named = [
        text(user, "id"),
        text(user, "email"),
        text(user, "username"),
        text(user, "name"),
    ];
    if named.iter().all(Option::is_none) && ip.is_none() && data.is_empty() {
        return Value::Null;
    }
    let [id, email, username, name] = named;
    json!({
        "id": id, "email": email, "username": username, "name": name,
        "ip_address": ip, "data": data,
    })
}

/// `{type, value, filename?, function?}` of the raised exception (Sentry's defaults `Error`
/// and "" when it sent none), else `{title}` as the stored row has it.
fn metadata(raw: &Value, facts: Option<&EventFacts>) -> Value {
    let Some(exception) = outermost_exception(raw) else {
        let title = facts.map_or("<unlabeled event>", |f| f.title.as_str());
        return json!({ "title": title });
    };
    let mut metadata = Map::new();
    metadata.insert(
        "type".into(),
        json!(text(exception, "type").unwrap_or_else(|| "Error".into())),
    );
    metadata.insert(
        "value".into(),
        json!(text(exception, "value").unwrap_or_default()),
    );
    if let Some(frame) = crashing_frame(raw) {
        if let Some(file) = text(frame, "filename").or_else(|| text(frame, "abs_path")) {
            metadata.insert("filename".into(), json!(file));
        }
        if let Some(function) = text(frame, "function") {
            metadata.insert("function".into(), json!(function));
        }
    }
    Value::Object(metadata)
}

/// The event's own `fingerprint`, as strings.
fn fingerprints(raw: &Value) -> Vec<String> {
    raw.get("fingerprint")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|part| json::as_string(part, MAX_STRING_CHARS))
        .take(MAX_ITEMS)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_fixtures;
    use crate::web_api::bounded::MAX_DEPTH;
    use crate::web_api::request::is_absolute_url;

    const KEYS: [&str; 14] = [
        "context",
        "contexts",
        "entries",
        "environment",
        "errors",
        "fingerprints",
        "message",
        "metadata",
        "packages",
        "platform",
        "release",
        "sdk",
        "type",
        "user",
    ];

    fn kinds(out: &Value) -> Vec<&str> {
        out["entries"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["type"].as_str().unwrap())
            .collect()
    }

    fn data<'a>(out: &'a Value, kind: &str) -> &'a Value {
        let entries = out["entries"].as_array().unwrap();
        let found = entries.iter().find(|e| e["type"] == kind);
        &found.unwrap_or_else(|| panic!("no {kind} entry"))["data"]
    }

    /// Every frame of every stack in the answer.
    fn all_frames(out: &Value) -> Vec<&Value> {
        let mut stacks = Vec::new();
        for entry in out["entries"].as_array().unwrap() {
            match entry["type"].as_str().unwrap() {
                "exception" | "threads" => stacks.extend(
                    entry["data"]["values"]
                        .as_array()
                        .unwrap()
                        .iter()
                        .map(|v| &v["stacktrace"]),
                ),
                "stacktrace" => stacks.push(&entry["data"]),
                _ => {}
            }
        }
        stacks
            .into_iter()
            .filter(|s| !s.is_null())
            .flat_map(|s| s["frames"].as_array().unwrap())
            .collect()
    }

    fn depth(value: &Value) -> usize {
        match value {
            Value::Array(items) => 1 + items.iter().map(depth).max().unwrap_or(0),
            Value::Object(map) => 1 + map.values().map(depth).max().unwrap_or(0),
            _ => 0,
        }
    }

    fn is_api_timestamp(text: &str) -> bool {
        text.len() == 27 && text.ends_with('Z') && timestamp::parse(Some(&json!(text))).is_some()
    }

    /// The shape clients rely on, whatever the input was.
    fn check(out: &Value) {
        let keys: Vec<&str> = out
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        assert_eq!(keys, KEYS);
        assert_eq!(out["type"], "error");
        assert_eq!((&out["errors"], &out["packages"]), (&json!([]), &json!({})));
        assert!(out["context"].is_object());
        assert!(out["message"].is_null() || out["message"].is_string());
        for key in ["platform", "environment"] {
            assert!(out[key].is_null() || out[key].is_string(), "{key}");
        }
        assert!(out["fingerprints"]
            .as_array()
            .unwrap()
            .iter()
            .all(Value::is_string));
        for (key, context) in out["contexts"].as_object().unwrap() {
            assert!(context["type"].is_string(), "context {key}");
        }
        let user = &out["user"];
        assert!(user.is_null() || user["data"].is_object());
        let metadata = out["metadata"].as_object().unwrap();
        assert!(metadata.values().all(Value::is_string));
        assert!(metadata.contains_key("title") || metadata.contains_key("type"));
        for entry in out["entries"].as_array().unwrap() {
            assert!(entry["type"].is_string() && entry["data"].is_object());
            if entry["type"] == "exception" {
                for value in entry["data"]["values"].as_array().unwrap() {
                    for key in ["type", "value", "module"] {
                        assert!(value[key].is_null() || value[key].is_string(), "{value}");
                    }
                    let mechanism = &value["mechanism"];
                    assert!(mechanism.is_null() || mechanism.is_object());
                    assert!(mechanism.get("type").is_none_or(Value::is_string));
                    assert!(mechanism.get("handled").is_none_or(Value::is_boolean));
                }
            }
            if entry["type"] == "threads" {
                for thread in entry["data"]["values"].as_array().unwrap() {
                    let id = &thread["id"];
                    assert!(id.is_null() || id.is_string() || id.is_number());
                    assert!(thread["crashed"].is_boolean() && thread["current"].is_boolean());
                }
            }
            if entry["type"] == "message" {
                assert!(entry["data"]["formatted"].is_string());
                assert!(entry["data"]["params"].is_array());
            }
        }
        for frame in all_frames(out) {
            assert!(frame["inApp"].is_boolean(), "{frame}");
            assert_eq!(frame["inApp"], frame["in_app"]);
            for key in ["lineNo", "colNo"] {
                assert!(frame[key].is_null() || frame[key].is_i64(), "{frame}");
            }
            for line in frame["context"].as_array().unwrap() {
                let pair = line.as_array().unwrap();
                assert!(pair.len() == 2 && pair[0].is_i64() && pair[1].is_string());
            }
            assert!(frame["vars"].is_null() || frame["vars"].is_object());
        }
        if let Some(crumbs) = out["entries"]
            .as_array()
            .unwrap()
            .iter()
            .find(|e| e["type"] == "breadcrumbs")
        {
            for crumb in crumbs["data"]["values"].as_array().unwrap() {
                let ts = &crumb["timestamp"];
                assert!(
                    ts.is_null() || is_api_timestamp(ts.as_str().unwrap()),
                    "{ts}"
                );
            }
        }
        if let Some(request) = out["entries"]
            .as_array()
            .unwrap()
            .iter()
            .find(|e| e["type"] == "request")
        {
            let url = &request["data"]["url"];
            assert!(url.is_null() || is_absolute_url(url.as_str().unwrap()));
            for key in ["query", "headers", "cookies"] {
                for pair in request["data"][key].as_array().unwrap() {
                    let pair = pair.as_array().unwrap();
                    assert!(pair.len() == 2 && pair.iter().all(Value::is_string));
                }
            }
        }
    }

    fn api(raw: Value) -> Value {
        let out = api_event(&raw);
        check(&out);
        out
    }

    #[test]
    fn python_exception_with_context_and_vars() {
        let out = api(test_fixtures::python_event("event.case-exception"));
        assert_eq!(kinds(&out), ["exception"]);
        let exception = data(&out, "exception");
        assert_eq!(exception["excOmitted"], Value::Null);
        assert_eq!(exception["hasSystemFrames"], false);
        let values = exception["values"].as_array().unwrap();
        assert_eq!(values.len(), 1);
        let value = &values[0];
        assert_eq!(value["type"], "ValueError");
        assert_eq!(
            value["value"],
            "invalid literal for int() with base 10: 'not-a-number'"
        );
        assert_eq!(value["module"], Value::Null);
        assert_eq!(value["threadId"], Value::Null);
        assert_eq!(value["rawStacktrace"], Value::Null);
        assert_eq!(
            value["mechanism"],
            json!({"type": "generic", "handled": true})
        );
        let stack = &value["stacktrace"];
        assert_eq!(
            (&stack["framesOmitted"], &stack["registers"]),
            (&Value::Null, &Value::Null)
        );
        let frames = stack["frames"].as_array().unwrap();
        let functions: Vec<&str> = frames
            .iter()
            .map(|f| f["function"].as_str().unwrap())
            .collect();
        assert_eq!(functions, ["<module>", "outer", "middle", "inner"]);
        let inner = &frames[3];
        assert_eq!(inner["filename"], "send_python.py");
        assert_eq!(inner["absPath"], "/opt/sdkharness/send_python.py");
        assert_eq!(inner["module"], "__main__");
        assert_eq!(inner["lineNo"], 74);
        assert_eq!(inner["colNo"], Value::Null);
        assert_eq!(
            (&inner["inApp"], &inner["in_app"]),
            (&json!(true), &json!(true))
        );
        assert_eq!(inner["vars"], json!({"x": "'not-a-number'"}));
        let context = inner["context"].as_array().unwrap();
        assert_eq!(context.len(), 11);
        assert_eq!(
            context[0],
            json!([
                69,
                "# 6. session (application mode) -- started now, ended just before flush."
            ])
        );
        assert_eq!(context[4], json!([73, "def inner(x):"]));
        assert_eq!(
            context[5],
            json!([
                74,
                "    return int(x)  # int(\"not-a-number\") raises ValueError"
            ])
        );
        assert_eq!(context[10], json!([79, ""]));
        assert!(frames[0]["vars"]["__doc__"].as_str().unwrap().len() > 1000);
        for frame in frames {
            assert_eq!(frame["errors"], Value::Null);
            assert_eq!(frame["instructionAddr"], Value::Null);
        }

        assert_eq!(
            out["metadata"],
            json!({"type": "ValueError",
                   "value": "invalid literal for int() with base 10: 'not-a-number'",
                   "filename": "send_python.py", "function": "inner"})
        );
        assert_eq!(out["message"], Value::Null);
        assert_eq!(out["platform"], "python");
        assert_eq!(out["environment"], "harness");
        assert_eq!(
            out["release"],
            json!({"version": "sdkharness-python@1.0.0+capture-python-1"})
        );
        assert_eq!(
            out["sdk"],
            json!({"name": "sentry.python", "version": "2.75.0"})
        );
        assert_eq!(
            out["user"],
            json!({"id": "harness-capture-python-1", "email": null, "username": null,
                   "name": null, "ip_address": null, "data": {}})
        );
        assert_eq!(out["context"], json!({"sys.argv": ["send_python.py"]}));
        assert_eq!(out["contexts"]["trace"]["type"], "trace");
        assert_eq!(
            out["contexts"]["trace"]["trace_id"],
            "634f6e3659b54e259a94224d0c7139fa"
        );
        assert_eq!(out["contexts"]["runtime"]["type"], "runtime");
        assert_eq!(out["contexts"]["runtime"]["name"], "CPython");
        assert_eq!(out["fingerprints"], json!([]));
    }

    #[test]
    fn python_user_event_with_breadcrumb() {
        let out = api(test_fixtures::python_event("event.case-user_event"));
        assert_eq!(kinds(&out), ["message", "breadcrumbs"]);
        assert_eq!(
            data(&out, "message"),
            &json!({"formatted": "harness user event capture-python-1", "message": null,
                    "params": []})
        );
        assert_eq!(
            data(&out, "breadcrumbs"),
            &json!({"values": [{"timestamp": "2026-11-22T07:14:00.606105Z", "type": "default",
                "category": "harness", "level": "info", "message": "before user event",
                "data": null, "event_id": null}]})
        );
        assert_eq!(out["message"], "harness user event capture-python-1");
        assert_eq!(
            out["metadata"],
            json!({"title": "harness user event capture-python-1"})
        );
        assert_eq!(
            out["user"],
            json!({"id": "harness-capture-python-1", "email": "harness@example.com",
                   "username": "harness", "name": null, "ip_address": "127.0.0.1", "data": {}})
        );
        assert_eq!(
            out["contexts"]["harness"],
            json!({"type": "harness", "run": "capture-python-1", "case": "user_event"})
        );
        assert_eq!(out["context"]["answer"], 42);
    }

    #[test]
    fn javascript_chained_exception() {
        let out = api(json!({
            "platform": "javascript",
            "sdk": {"name": "sentry.javascript.browser", "version": "9.1.0"},
            "user": {"ip_address": "{{auto}}"},
            "fingerprint": ["{{ default }}", "checkout", 7],
            "exception": {"values": [
                {"type": "TypeError", "value": "x is undefined",
                 "mechanism": {"type": "chained", "source": "cause", "exception_id": 1,
                               "parent_id": 0},
                 "stacktrace": {"frames": [
                    {"filename": "https://cdn.example.com/vendor.js", "function": "dispatch",
                     "lineno": 1200, "colno": 5, "in_app": false},
                    {"filename": "https://example.com/static/app.js",
                     "abs_path": "https://example.com/static/app.js", "function": "load",
                     "lineno": 10, "colno": 3, "in_app": true}]}},
                {"type": "Error", "value": "checkout failed",
                 "mechanism": {"type": "onerror", "handled": false, "exception_id": 0},
                 "stacktrace": {"frames": [
                    {"filename": "https://cdn.example.com/vendor.js", "function": "invoke",
                     "lineno": "99", "colno": "12"},
                    {"filename": "https://example.com/static/app.js", "function": "onClick",
                     "lineno": 42, "colno": 17, "in_app": true,
                     "pre_context": ["function onClick() {", "  try {"],
                     "context_line": "    checkout();",
                     "post_context": ["  } catch (e) {"]}]}}
            ]},
            "request": {"url": "https://example.com/cart?step=2#pay", "headers": {
                "User-Agent": "Mozilla/5.0", "Referer": "https://example.com/"}},
            "breadcrumbs": [
                {"timestamp": 1795331640.5, "category": "ui.click", "message": "button#pay"},
                {"timestamp": 1795331641.25, "type": "http", "category": "fetch", "level": "error",
                 "data": {"url": "/api/cart", "method": "POST", "status_code": 500}}
            ]
        }));
        assert_eq!(kinds(&out), ["exception", "breadcrumbs", "request"]);
        let exception = data(&out, "exception");
        assert_eq!(exception["hasSystemFrames"], true);
        let values = exception["values"].as_array().unwrap();
        assert_eq!(values[0]["type"], "TypeError");
        assert_eq!(values[0]["mechanism"]["source"], "cause");
        assert_eq!(values[1]["type"], "Error");
        let frames = values[1]["stacktrace"]["frames"].as_array().unwrap();
        assert_eq!(frames[0]["function"], "invoke");
        assert_eq!(
            (&frames[0]["lineNo"], &frames[0]["colNo"]),
            (&json!(99), &json!(12))
        );
        assert_eq!(
            (&frames[0]["inApp"], &frames[0]["in_app"]),
            (&json!(false), &json!(false))
        );
        assert_eq!(frames[0]["context"], json!([]));
        assert_eq!(
            frames[1]["context"],
            json!([
                [40, "function onClick() {"],
                [41, "  try {"],
                [42, "    checkout();"],
                [43, "  } catch (e) {"]
            ])
        );
        assert_eq!(
            out["metadata"],
            json!({"type": "Error", "value": "checkout failed",
                   "filename": "https://example.com/static/app.js", "function": "onClick"})
        );
        let request = data(&out, "request");
        assert_eq!(request["url"], "https://example.com/cart");
        assert_eq!(request["query"], json!([["step", "2"]]));
        assert_eq!(request["fragment"], "pay");
        assert_eq!(
            request["headers"],
            json!([
                ["Referer", "https://example.com/"],
                ["User-Agent", "Mozilla/5.0"]
            ])
        );
        let crumbs = data(&out, "breadcrumbs")["values"].as_array().unwrap();
        assert_eq!(crumbs[0]["timestamp"], "2026-11-22T07:14:00.500000Z");
        assert_eq!(
            (&crumbs[0]["type"], &crumbs[0]["level"]),
            (&json!("default"), &json!("info"))
        );
        assert_eq!(crumbs[1]["data"]["status_code"], 500);
        assert_eq!(out["user"], Value::Null);
        assert_eq!(
            out["fingerprints"],
            json!(["{{ default }}", "checkout", "7"])
        );
        assert_eq!(
            out["sdk"],
            json!({"name": "sentry.javascript.browser", "version": "9.1.0"})
        );
    }

    #[test]
    fn messages() {
        let out = api(json!({"message": "  hello  "}));
        assert_eq!(kinds(&out), ["message"]);
        assert_eq!(
            data(&out, "message"),
            &json!({"formatted": "hello", "message": null, "params": []})
        );
        assert_eq!(out["message"], "hello");
        assert_eq!(out["metadata"], json!({"title": "hello"}));
        for key in ["user", "sdk", "platform", "release", "environment"] {
            assert_eq!(out[key], Value::Null, "{key}");
        }
        assert_eq!(
            (&out["contexts"], &out["context"]),
            (&json!({}), &json!({}))
        );

        let out = api(json!({"logentry": {"message": "login failed for %s",
            "params": ["alice"], "formatted": "login failed for alice"}}));
        assert_eq!(
            data(&out, "message"),
            &json!({"formatted": "login failed for alice", "message": "login failed for %s",
                    "params": ["alice"]})
        );
        let out = api(json!({"message": {"message": "m %s", "params": {"who": "bob"}}}));
        assert_eq!(
            data(&out, "message"),
            &json!({"formatted": "m %s", "message": null, "params": [{"who": "bob"}]})
        );
        let out = api(json!({"message": "a\nb", "platform": 5}));
        assert_eq!(out["metadata"], json!({"title": "a"}));
        assert_eq!(out["platform"], "5");

        // Node's captureMessage: a synthetic exception that only carries the stack.
        let out = api(json!({"message": "harness message node-1",
            "exception": {"values": [{"value": "harness message node-1",
                "mechanism": {"type": "generic", "synthetic": true},
                "stacktrace": {"frames": [{"function": "main", "in_app": true}]}}]}}));
        assert_eq!(kinds(&out), ["exception", "message"]);
        assert_eq!(out["metadata"], json!({"title": "harness message node-1"}));

        let out = api(json!({}));
        assert_eq!(kinds(&out), Vec::<&str>::new());
        assert_eq!(out["metadata"], json!({"title": "<unlabeled event>"}));
        let out = api(json!({"exception": [{"stacktrace": {"frames": [{}]}}]}));
        assert_eq!(out["metadata"], json!({"type": "Error", "value": ""}));
    }

    #[test]
    fn numbers_sent_as_strings() {
        let out = api(json!({"exception": [{"type": "E", "thread_id": "12",
            "stacktrace": {"frames": [
                {"lineno": "42", "colno": " 7 ", "context_line": "x", "in_app": "true",
                 "instruction_addr": 4096, "symbol_addr": "0x10"},
                {"lineno": 4.0, "colno": "x", "in_app": 1},
                {"lineno": "1e400", "colno": -3, "in_app": null}]}}]}));
        let value = &data(&out, "exception")["values"][0];
        assert_eq!(value["threadId"], 12);
        let frames = value["stacktrace"]["frames"].as_array().unwrap();
        assert_eq!(
            (&frames[0]["lineNo"], &frames[0]["colNo"]),
            (&json!(42), &json!(7))
        );
        assert_eq!(frames[0]["context"], json!([[42, "x"]]));
        assert_eq!(frames[0]["instructionAddr"], "0x1000");
        assert_eq!(frames[0]["symbolAddr"], "0x10");
        assert_eq!(
            (&frames[1]["lineNo"], &frames[1]["colNo"]),
            (&json!(4), &Value::Null)
        );
        assert_eq!(
            (&frames[2]["lineNo"], &frames[2]["colNo"]),
            (&Value::Null, &json!(-3))
        );
        for frame in frames {
            assert_eq!(frame["inApp"], false);
        }
        assert_eq!(data(&out, "exception")["hasSystemFrames"], false);
        assert_eq!(id_value(Some(&json!("main"))), json!("main"));
        assert_eq!(id_value(Some(&json!(u64::MAX))), json!(u64::MAX));
        assert_eq!(id_value(Some(&json!(1.5))), json!("1.5"));
        assert_eq!(id_value(Some(&json!({}))), Value::Null);
    }

    #[test]
    fn breadcrumb_timestamps() {
        let stamps = [
            json!(1795331640.5),
            json!(1795331640),
            json!("1795331640.25"),
            json!("2026-11-22T09:14:00+02:00"),
            json!("2026-11-22T07:14:00.123456789Z"),
            json!("2026-11-22T07:14:00"),
            json!("garbage"),
            json!(null),
            json!(-5),
            json!({}),
        ];
        let crumbs: Vec<Value> = stamps.iter().map(|t| json!({"timestamp": t})).collect();
        let out = api(json!({"breadcrumbs": {"values": crumbs}}));
        let got: Vec<&Value> = data(&out, "breadcrumbs")["values"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| &c["timestamp"])
            .collect();
        let want = [
            json!("2026-11-22T07:14:00.500000Z"),
            json!("2026-11-22T07:14:00.000000Z"),
            json!("2026-11-22T07:14:00.250000Z"),
            json!("2026-11-22T07:14:00.000000Z"),
            json!("2026-11-22T07:14:00.123456Z"),
            json!("2026-11-22T07:14:00.000000Z"),
            Value::Null,
            Value::Null,
            Value::Null,
            Value::Null,
        ];
        assert_eq!(got, want.iter().collect::<Vec<_>>());
        assert_eq!(rfc3339_utc(0), "1970-01-01T00:00:00.000000Z");
        assert_eq!(
            rfc3339_utc(1_795_331_640_595_619),
            "2026-11-22T07:14:00.595619Z"
        );
        let _ = rfc3339_utc(i64::MIN);
        let _ = rfc3339_utc(i64::MAX);
    }

    #[test]
    fn request_with_string_query_and_cookies() {
        let out = api(json!({"request": {
            "url": "http://localhost:8000/books/new/",
            "method": "post",
            "query_string": "?a=1&b=hello+world&c=%2Fx%3D&bad=%zz&flag&&=nameless",
            "cookies": "sessionid=abc; theme=dark ;; lone",
            "headers": [["Content-Type", "application/json; charset=utf-8"], ["X-Num", 5],
                        ["X-Null", null], ["bad"], 7, ["", "empty name"]],
            "data": "{\"title\": \"Dune\"}",
            "env": {"REMOTE_ADDR": "127.0.0.1"}
        }}));
        let request = data(&out, "request");
        assert_eq!(
            request,
            &json!({
                "url": "http://localhost:8000/books/new/",
                "method": "POST",
                "query": [["a", "1"], ["b", "hello world"], ["c", "/x="], ["bad", "%zz"],
                          ["flag", ""]],
                "headers": [["Content-Type", "application/json; charset=utf-8"],
                            ["X-Num", "5"], ["X-Null", ""]],
                "cookies": [["sessionid", "abc"], ["theme", "dark"], ["lone", ""]],
                "data": {"title": "Dune"},
                "env": {"REMOTE_ADDR": "127.0.0.1"},
                "fragment": null,
                "inferredContentType": "application/json",
            })
        );

        // Cookies from the Cookie header, query as an object, form data left as text.
        let out = api(json!({"request": {
            "url": "/relative/path",
            "query": {"tag": ["a", "b"], "n": 1},
            "headers": {"Cookie": "a=1; b=2", "content-type": "Application/X-WWW-Form-Urlencoded"},
            "data": "a=1&b=2"
        }}));
        let request = data(&out, "request");
        assert_eq!(request["url"], Value::Null);
        assert_eq!(
            request["query"],
            json!([["n", "1"], ["tag", "a"], ["tag", "b"]])
        );
        assert_eq!(request["cookies"], json!([["a", "1"], ["b", "2"]]));
        assert_eq!(request["data"], "a=1&b=2");
        assert_eq!(
            request["inferredContentType"],
            "application/x-www-form-urlencoded"
        );
        let out = api(
            json!({"request": {"query_string": [["x", "1"]], "data": {"k": [1]},
            "headers": "Host: example.com\r\nX-A: b: c\r\nnonsense", "cookies": {"s": 1}}}),
        );
        let request = data(&out, "request");
        assert_eq!(request["query"], json!([["x", "1"]]));
        assert_eq!(
            request["headers"],
            json!([["Host", "example.com"], ["X-A", "b: c"]])
        );
        assert_eq!(request["cookies"], json!([["s", "1"]]));
        assert_eq!(request["inferredContentType"], "application/json");
        assert_eq!(kinds(&api(json!({"request": {}}))), Vec::<&str>::new());
    }

    #[test]
    fn contexts_users_and_threads() {
        let out = api(json!({
            "contexts": {"os": {"name": "Linux"}, "typed": {"type": "browser"},
                         "blank": {"type": " "}, "bad": "x", "n": 5, "list": [1]},
            "extra": ["not", "an", "object"],
            "user": {"id": 5, "ip_address": "{{auto}}", "geo": {"city": "Berlin"},
                     "data": {"plan": "pro"}, "segment": null},
            "threads": {"values": [
                {"id": 7, "name": "worker"},
                {"id": "1", "name": "main", "crashed": true, "current": "yes",
                 "stacktrace": {"frames": [{"function": "crash", "in_app": true},
                                           {"function": "libc_start"}]}}]},
            "stacktrace": {"frames": [{"function": "attached"}]}
        }));
        assert_eq!(
            out["contexts"],
            json!({"os": {"type": "os", "name": "Linux"}, "typed": {"type": "browser"},
                   "blank": {"type": "blank"}})
        );
        assert_eq!(out["context"], json!({}));
        assert_eq!(
            out["user"],
            json!({"id": "5", "email": null, "username": null, "name": null,
                   "ip_address": null, "data": {"plan": "pro", "geo": {"city": "Berlin"}}})
        );
        assert_eq!(kinds(&out), ["threads", "stacktrace"]);
        let threads = data(&out, "threads")["values"].as_array().unwrap();
        assert_eq!(threads[0]["id"], 7);
        assert_eq!(threads[0]["stacktrace"], Value::Null);
        assert_eq!(
            (
                &threads[1]["id"],
                &threads[1]["crashed"],
                &threads[1]["current"]
            ),
            (&json!(1), &json!(true), &json!(false))
        );
        assert_eq!(threads[1]["stacktrace"]["hasSystemFrames"], true);
        assert_eq!(
            data(&out, "stacktrace")["frames"][0]["function"],
            "attached"
        );

        for user in [json!({"ip_address": "{{auto}}"}), json!({}), json!("bob")] {
            assert_eq!(api(json!({ "user": user }))["user"], Value::Null);
        }
        // With an exception, threads are not shown (the exception carries the stack).
        let out = api(json!({"exception": [{"type": "E"}],
            "threads": [{"stacktrace": {"frames": [{}]}}]}));
        assert_eq!(kinds(&out), ["exception"]);
        let values = &data(&out, "exception")["values"];
        assert_eq!(values[0]["stacktrace"], Value::Null);
    }

    /// `{"a": [{"a": [... "leaf"]}]}`, `levels` pairs deep. Built by hand: `json!` would copy
    /// the inner value through serde at every level.
    fn nested(levels: usize) -> Value {
        (0..levels).fold(json!("leaf"), |inner, _| {
            Value::Object(Map::from_iter([(
                "a".to_string(),
                Value::Array(vec![inner]),
            )]))
        })
    }

    #[test]
    fn hostile_shapes() {
        // As deep as serde_json parses (128 levels), which is where stored events come from.
        let deep = nested(64);
        let events = [
            json!(null),
            json!([]),
            json!("x"),
            json!(1.5),
            json!({"exception": 5, "breadcrumbs": "x", "request": [], "contexts": [1],
                   "user": 3, "sdk": 5, "extra": 5, "fingerprint": "x", "threads": 5,
                   "logentry": 5, "message": 5, "stacktrace": 5, "release": {},
                   "environment": [], "platform": {}}),
            json!({"exception": {"values": [1, "x", null, [], {"stacktrace": 5},
                {"stacktrace": {"frames": {"a": 1}}},
                {"stacktrace": {"frames": [1, null, [], {"lineno": {}, "pre_context": "x",
                    "post_context": {}, "context_line": [], "vars": [1], "in_app": "true",
                    "function": {}, "filename": [], "colno": true}]}},
                {"type": [], "value": {}, "module": 5, "mechanism": "x", "thread_id": []}]}}),
            json!({"exception": {"values": 5}, "breadcrumbs": {"values": 5},
                   "threads": {"values": [5, {"stacktrace": 5}]}}),
            json!({"breadcrumbs": [1, [], {"timestamp": [], "type": {}, "level": 5,
                   "data": "x", "message": {}}]}),
            json!({"request": {"url": 5, "method": {}, "headers": 5, "cookies": 5,
                   "query_string": 5, "data": [], "env": "x", "fragment": []}}),
            json!({"request": {"url": ["x"], "headers": [[1, 2], [[], {}]],
                   "cookies": [["a"]], "query": null, "data": null}}),
            json!({"contexts": {"os": "Linux", "x": 5, "y": null}, "user": {"id": {},
                   "data": 5, "email": []}, "sdk": {"name": {}, "version": 1}}),
            json!({"logentry": {"message": [], "params": 5}, "message": {"formatted": 5}}),
            json!({"extra": deep.clone(), "contexts": {"deep": deep.clone()},
                   "user": {"id": "u", "deep": deep.clone()}, "tags": deep.clone(),
                   "exception": [{"mechanism": deep.clone(), "stacktrace": {"frames": [
                       {"vars": {"v": deep.clone()}}]}}],
                   "breadcrumbs": [{"data": deep.clone()}],
                   "request": {"data": deep.clone(), "env": deep.clone(),
                               "headers": {"h": deep.clone()}}}),
        ];
        for event in events {
            let out = api(event);
            // The answer's own structure is at most 8 levels deep, plus the cut data.
            assert!(depth(&out) <= 10 + MAX_DEPTH, "depth {}", depth(&out));
            assert!(out.to_string().len() < 200_000);
        }
    }

    #[test]
    fn huge_inputs_are_cut() {
        let frames: Vec<Value> = (0..10_000)
            .map(|i| json!({"function": format!("f{i}"), "in_app": i % 2 == 0}))
            .collect();
        let long = "é".repeat(100_000);
        let lines: Vec<String> = (0..1000).map(|i| format!("line {i}")).collect();
        let crumbs: Vec<Value> = (0..1000)
            .map(|i| json!({"message": format!("c{i}")}))
            .collect();
        let headers: Vec<Value> = (0..1000).map(|i| json!([format!("h{i}"), "v"])).collect();
        let query = "a=1&".repeat(50_000);
        let vars: Map<String, Value> = (0..1000).map(|i| (format!("v{i}"), json!(i))).collect();
        let out = api(json!({
            "exception": [{"type": long, "value": "v", "stacktrace": {"frames": frames}},
                          {"type": "Last", "stacktrace": {"frames": [{
                              "lineno": 5000, "pre_context": lines, "context_line": long,
                              "post_context": lines, "vars": vars, "function": long}]}}],
            "breadcrumbs": crumbs,
            "request": {"headers": headers, "query_string": query, "url": long},
            "message": long,
            "fingerprint": vec!["x"; 1000],
        }));
        let values = data(&out, "exception")["values"].as_array().unwrap();
        assert_eq!(
            values[0]["type"].as_str().unwrap().chars().count(),
            MAX_STRING_CHARS
        );
        let kept = values[0]["stacktrace"]["frames"].as_array().unwrap();
        assert_eq!(kept.len(), MAX_FRAMES);
        assert_eq!(kept[0]["function"], "f9750");
        assert_eq!(kept[MAX_FRAMES - 1]["function"], "f9999");
        let last = &values[1]["stacktrace"]["frames"][0];
        let context = last["context"].as_array().unwrap();
        assert_eq!(context.len(), 2 * MAX_CONTEXT_LINES + 1);
        assert_eq!(
            context[0],
            json!([5000 - MAX_CONTEXT_LINES as i64, "line 975"])
        );
        assert_eq!(context[MAX_CONTEXT_LINES + 1], json!([5001, "line 0"]));
        let current = context[MAX_CONTEXT_LINES][1].as_str().unwrap();
        assert_eq!(current.chars().count(), MAX_STRING_CHARS);
        assert_eq!(last["vars"].as_object().unwrap().len(), MAX_ITEMS);
        assert_eq!(
            last["function"].as_str().unwrap().chars().count(),
            MAX_STRING_CHARS
        );
        assert_eq!(out["metadata"]["type"], "Last");
        let crumbs = data(&out, "breadcrumbs")["values"].as_array().unwrap();
        assert_eq!(crumbs.len(), MAX_BREADCRUMBS);
        assert_eq!(
            (&crumbs[0]["message"], &crumbs[99]["message"]),
            (&json!("c900"), &json!("c999"))
        );
        let request = data(&out, "request");
        assert_eq!(request["headers"].as_array().unwrap().len(), MAX_ITEMS);
        assert_eq!(request["query"].as_array().unwrap().len(), MAX_ITEMS);
        assert_eq!(request["url"], Value::Null);
        assert_eq!(
            out["message"].as_str().unwrap().chars().count(),
            MAX_STRING_CHARS
        );
        assert_eq!(out["fingerprints"].as_array().unwrap().len(), MAX_ITEMS);

        // Exceptions: the last 50 kept, and the frame budget spent from the raised one back.
        let stack: Vec<Value> = (0..MAX_FRAMES).map(|i| json!({"lineno": i})).collect();
        let chain: Vec<Value> = (0..200)
            .map(|i| json!({"type": format!("E{i}"), "stacktrace": {"frames": stack}}))
            .collect();
        let out = api(json!({ "exception": chain }));
        let values = data(&out, "exception")["values"].as_array().unwrap();
        assert_eq!(values.len(), MAX_EXCEPTIONS);
        assert_eq!(
            (&values[0]["type"], &values[49]["type"]),
            (&json!("E150"), &json!("E199"))
        );
        assert_eq!(all_frames(&out).len(), MAX_TOTAL_FRAMES);
        assert_eq!(
            values[49]["stacktrace"]["frames"].as_array().unwrap().len(),
            MAX_FRAMES
        );
        assert_eq!(values[0]["stacktrace"], Value::Null);
        assert!(out.to_string().len() < 1_000_000);

        let threads: Vec<Value> = (0..500)
            .map(|i| json!({"id": i, "crashed": i == 400, "stacktrace": {"frames": stack}}))
            .collect();
        let out = api(json!({ "threads": threads }));
        let values = data(&out, "threads")["values"].as_array().unwrap();
        assert_eq!(values.len(), MAX_THREADS);
        assert_eq!(values[49]["id"], 400);
        assert_eq!(
            values[49]["stacktrace"]["frames"].as_array().unwrap().len(),
            MAX_FRAMES
        );
        assert_eq!(all_frames(&out).len(), MAX_TOTAL_FRAMES);
    }

    /// Every event in `tests/fixtures` (payloads, envelope lines, request bodies).
    fn fixture_events() -> Vec<Value> {
        let mut events = Vec::new();
        let root = format!("{}/tests/fixtures", env!("CARGO_MANIFEST_DIR"));
        let mut dirs = vec![std::path::PathBuf::from(root)];
        while let Some(dir) = dirs.pop() {
            for entry in std::fs::read_dir(dir).unwrap() {
                let path = entry.unwrap().path();
                if path.is_dir() {
                    dirs.push(path);
                    continue;
                }
                let text = String::from_utf8_lossy(&std::fs::read(&path).unwrap()).into_owned();
                let mut texts = vec![text.clone()];
                if let Ok(Value::Object(file)) = serde_json::from_str::<Value>(&text) {
                    if let Some(Value::String(body)) = file.get("body_text") {
                        texts.push(body.clone());
                    }
                }
                for text in texts {
                    let lines = std::iter::once(text.as_str()).chain(text.lines());
                    events.extend(
                        lines
                            .filter_map(|l| serde_json::from_str::<Value>(l).ok())
                            .filter(Value::is_object),
                    );
                }
            }
        }
        events
    }

    /// JSON pointers to every value in `value`.
    fn pointers(value: &Value, at: String, out: &mut Vec<String>) {
        match value {
            Value::Object(map) => map.iter().for_each(|(k, v)| {
                pointers(
                    v,
                    format!("{at}/{}", k.replace('~', "~0").replace('/', "~1")),
                    out,
                )
            }),
            Value::Array(items) => items
                .iter()
                .enumerate()
                .for_each(|(i, v)| pointers(v, format!("{at}/{i}"), out)),
            _ => {}
        }
        out.push(at);
    }

    #[test]
    fn never_panics_on_fixtures_or_their_mutants() {
        let events = fixture_events();
        assert!(events.len() >= 10, "{} fixture events", events.len());
        let hostile = [
            json!(null),
            json!(-1),
            json!("9"),
            json!([[]]),
            json!({"values": 1}),
        ];
        let mut runs = 0;
        for event in &events {
            check(&api_event(event));
            let mut paths = Vec::new();
            pointers(event, String::new(), &mut paths);
            for path in paths.iter().filter(|p| !p.is_empty()) {
                for replacement in &hostile {
                    let mut mutant = event.clone();
                    if let Some(slot) = mutant.pointer_mut(path) {
                        *slot = replacement.clone();
                    }
                    check(&api_event(&mutant));
                    runs += 1;
                }
            }
        }
        assert!(runs > 1000, "{runs} mutants");
    }
}
