//! One event on the issue page, from ui_issue_event() (the Web API's event with what the page
//! adds): its navigation, chained exceptions with their stack traces, breadcrumbs, request,
//! user, contexts, SDK, attachments, trace and how it was grouped.

use maud::{html, Markup};
use serde_json::Value;

use crate::web_ui::layout::{absolute_time, level_badge};
use crate::web_ui::pages::fields::{integer, list, shown, text};
use crate::web_ui::pages::figures;
use crate::web_ui::pages::frames::{self, Group};

/// The event section of issue `issue_id`'s page.
pub fn section(issue_id: &str, page: &Value) -> Markup {
    let event = &page["event"];
    let event_id = text(event, "eventID").unwrap_or_default();
    html! {
        section.event aria-labelledby="event-title" {
            (navigation(issue_id, page, event_id))
            @for entry in list(event, "entries") {
                @match text(entry, "type") {
                    Some("exception") => (exceptions(&entry["data"])),
                    Some("stacktrace") => (panel("Stack trace", stack(&entry["data"], 0))),
                    Some("threads") => (threads(&entry["data"])),
                    Some("message") => (message(&entry["data"])),
                    Some("breadcrumbs") => (breadcrumbs(&entry["data"])),
                    Some("request") => (request(&entry["data"])),
                    _ => {}
                }
            }
            (tags(event))
            (user(&event["user"]))
            (contexts(&event["contexts"]))
            @if let Some(extra) = event.get("context").and_then(Value::as_object).filter(|o| !o.is_empty()) {
                (panel("Additional data", pairs(extra.iter().map(|(k, v)| (k.as_str(), v)))))
            }
            (attachments(list(page, "attachments")))
            (trace(page))
            (grouping(&page["grouping"]))
            @if let Some(sdk) = text(&event["sdk"], "name") {
                p.muted { "SDK: " (sdk) " " (text(&event["sdk"], "version").unwrap_or_default()) }
            }
        }
    }
}

/// First / previous / next / latest, the event's id and time, lookup by id, the raw JSON.
fn navigation(issue_id: &str, page: &Value, event_id: &str) -> Markup {
    let event = &page["event"];
    let link = |id: Option<&str>| {
        id.filter(|i| *i != event_id)
            .map(|i| format!("/issues/{issue_id}/events/{i}"))
    };
    let step = |label: &str, href: Option<String>, key: &str| {
        html! {
            @match href {
                Some(href) => a.button.small href=(href) data-key=(key) { (label) },
                None => span.button.small.disabled aria-disabled="true" { (label) },
            }
        }
    };
    html! {
        div.event-nav {
            h2 #event-title { "Event " code { (event_id.get(..8).unwrap_or(event_id)) } }
            (absolute_time(text(event, "dateCreated")))
            nav.steps aria-label="Events of this issue" {
                (step("⇤ Oldest", link(text(page, "oldestEventID")), "home"))
                (step("← Older", link(text(event, "previousEventID")), "j"))
                (step("Newer →", link(text(event, "nextEventID")), "k"))
                (step("Latest ⇥", link(text(page, "latestEventID")), "end"))
            }
            form.lookup method="get" action=(format!("/issues/{issue_id}")) {
                label for="event-lookup" { "Event id" }
                input #event-lookup type="text" name="event_id" placeholder="32 hex digits" size="34";
                button.button.small type="submit" { "Go" }
            }
            a.button.small href=(format!("/issues/{issue_id}/events/{event_id}/json")) download { "Raw JSON" }
        }
    }
}

fn panel(title: &str, body: Markup) -> Markup {
    html! { section.card { h3 { (title) } (body) } }
}

/// The exceptions, the one raised first and then what caused it (Sentry sends the cause first).
fn exceptions(data: &Value) -> Markup {
    let values = list(data, "values");
    html! {
        section.card.exceptions {
            h3 { "Exception" @if values.len() > 1 { " " span.muted { "(" (values.len()) " chained)" } } }
            @for (n, exception) in values.iter().rev().enumerate() {
                div.exception {
                    @if n > 0 { p.chain { "Caused by" } }
                    p.exception-title {
                        strong { (text(exception, "type").unwrap_or("Error")) }
                        @if let Some(value) = text(exception, "value") { ": " (value) }
                    }
                    @if let Some(mechanism) = text(&exception["mechanism"], "type") {
                        p.muted {
                            "mechanism " code { (mechanism) }
                            @if exception["mechanism"]["handled"] == Value::Bool(false) { " " span.badge.level-error { "unhandled" } }
                        }
                    }
                    (stack(&exception["stacktrace"], n))
                }
            }
        }
    }
}

fn threads(data: &Value) -> Markup {
    html! {
        @for (n, thread) in list(data, "values").iter().enumerate() {
            @if thread["stacktrace"].is_object() {
                (panel(&format!("Thread {}", text(thread, "name").map_or_else(|| shown(&thread["id"]), str::to_string)),
                       stack(&thread["stacktrace"], n)))
            }
        }
    }
}

/// A stack trace, the most recent call first: in-app frames each open or closed on their own,
/// runs of system frames folded (frames::groups). The first in-app frame of the first stack
/// is open with its source and variables.
fn stack(stacktrace: &Value, nth: usize) -> Markup {
    let frames: Vec<&Value> = list(stacktrace, "frames").iter().rev().collect();
    if frames.is_empty() {
        return html! { p.muted { "No stack trace." } };
    }
    let in_app: Vec<bool> = frames
        .iter()
        .map(|f| f["inApp"] == Value::Bool(true))
        .collect();
    let first_in_app = in_app.iter().position(|f| *f).unwrap_or(0);
    html! {
        ol.frames {
            @for group in frames::groups(&in_app) {
                @match group {
                    Group::Shown(i) => li { (frame(frames[i], in_app[i], nth == 0 && i == first_in_app)) },
                    Group::Folded { start, end } => li {
                        details.system-frames {
                            summary { (end - start) " system frame" @if end - start > 1 { "s" } }
                            ol.frames { @for i in start..end { li { (frame(frames[i], false, false)) } } }
                        }
                    },
                }
            }
        }
    }
}

fn frame(frame: &Value, in_app: bool, open: bool) -> Markup {
    let file = text(frame, "filename")
        .or_else(|| text(frame, "absPath"))
        .or_else(|| text(frame, "module"));
    let line = integer(frame, "lineNo");
    let context = list(frame, "context");
    let vars = frame
        .get("vars")
        .and_then(Value::as_object)
        .filter(|v| !v.is_empty());
    let class = if in_app {
        "frame in-app"
    } else {
        "frame system"
    };
    html! {
        details class=(class) open[open] {
            summary {
                code.file { (file.unwrap_or("?")) }
                " in " code.function { (text(frame, "function").unwrap_or("?")) }
                @if let Some(line) = line { " at line " (line) }
                @if in_app { " " span.badge.muted { "in app" } }
            }
            @if !context.is_empty() {
                pre.source { code {
                    @for numbered in context {
                        @let number = numbered.get(0).and_then(Value::as_i64);
                        span class=(if number.is_some() && number == line { "line current" } else { "line" }) {
                            span.lineno { (number.map(|n| n.to_string()).unwrap_or_default()) }
                            (numbered.get(1).map(shown).unwrap_or_default()) "\n"
                        }
                    }
                } }
            }
            @if let Some(vars) = vars {
                table.vars {
                    caption { "Local variables" }
                    @for (name, value) in vars { tr { th scope="row" { code { (name) } } td { code { (shown(value)) } } } }
                }
            }
            @if context.is_empty() && vars.is_none() { p.muted { "No source or variables were sent for this frame." } }
        }
    }
}

fn message(data: &Value) -> Markup {
    panel(
        "Message",
        html! { pre.message { (text(data, "formatted").unwrap_or_default()) } },
    )
}

fn breadcrumbs(data: &Value) -> Markup {
    let crumbs = list(data, "values");
    html! {
        section.card.breadcrumbs {
            h3 { "Breadcrumbs " span.muted { "(" (crumbs.len()) ")" } }
            div.scroll { table.list {
                thead { tr { th { "Time" } th { "Category" } th { "Level" } th { "Message / data" } } }
                tbody {
                    @for crumb in crumbs.iter().rev() {
                        tr {
                            td.nowrap { (absolute_time(text(crumb, "timestamp"))) }
                            td { (text(crumb, "category").or_else(|| text(crumb, "type")).unwrap_or("default")) }
                            td { (level_badge(text(crumb, "level").unwrap_or("info"))) }
                            td {
                                @if let Some(message) = text(crumb, "message") { (message) }
                                @if crumb["data"].as_object().is_some_and(|d| !d.is_empty()) {
                                    br; code.data { (shown(&crumb["data"])) }
                                }
                            }
                        }
                    }
                }
            } }
        }
    }
}

fn request(data: &Value) -> Markup {
    let table = |title: &str, rows: &[Value]| {
        html! {
            @if !rows.is_empty() {
                table.kv {
                    caption { (title) }
                    @for pair in rows { tr { th scope="row" { (pair.get(0).map(shown).unwrap_or_default()) }
                                             td { code { (pair.get(1).map(shown).unwrap_or_default()) } } } }
                }
            }
        }
    };
    panel(
        "Request",
        html! {
            p { code { (text(data, "method").unwrap_or("GET")) " " (text(data, "url").unwrap_or("(no URL)")) } }
            (table("Query", list(data, "query")))
            (table("Headers", list(data, "headers")))
            (table("Cookies", list(data, "cookies")))
            @if !data["data"].is_null() {
                h4 { "Body" }
                pre.body { (serde_json::to_string_pretty(&data["data"]).unwrap_or_default()) }
            }
        },
    )
}

fn tags(event: &Value) -> Markup {
    let tags = list(event, "tags");
    html! {
        @if !tags.is_empty() {
            section.card { h3 { "Tags" } ul.tags {
                @for tag in tags { li { span.key { (text(tag, "key").unwrap_or_default()) } " " span.value { (text(tag, "value").unwrap_or_default()) } } }
            } }
        }
    }
}

/// A table of named values, nested objects as compact JSON.
fn pairs<'a>(rows: impl Iterator<Item = (&'a str, &'a Value)>) -> Markup {
    html! {
        table.kv { @for (key, value) in rows { @if !value.is_null() { tr { th scope="row" { (key) } td { code { (shown(value)) } } } } } }
    }
}

fn user(user: &Value) -> Markup {
    let Some(fields) = user.as_object() else {
        return html! {};
    };
    let named = ["id", "email", "username", "name", "ip_address"];
    let data = user.get("data").and_then(Value::as_object);
    panel(
        "User",
        html! {
            (pairs(named.iter().filter_map(|k| fields.get(*k).map(|v| (*k, v)))))
            @if let Some(data) = data.filter(|d| !d.is_empty()) { (pairs(data.iter().map(|(k, v)| (k.as_str(), v)))) }
        },
    )
}

fn contexts(contexts: &Value) -> Markup {
    let Some(all) = contexts.as_object().filter(|c| !c.is_empty()) else {
        return html! {};
    };
    html! {
        section.card.contexts {
            h3 { "Contexts" }
            div.context-grid {
                @for (name, context) in all {
                    div.context {
                        h4 { (name) }
                        @if let Some(fields) = context.as_object() {
                            (pairs(fields.iter().filter(|(k, _)| k.as_str() != "type").map(|(k, v)| (k.as_str(), v))))
                        }
                    }
                }
            }
        }
    }
}

fn attachments(attachments: &[Value]) -> Markup {
    html! {
        @if !attachments.is_empty() {
            section.card { h3 { "Attachments" } ul {
                @for a in attachments {
                    li {
                        a href=(format!("/attachments/{}", integer(a, "id").unwrap_or(0))) download { (text(a, "filename").unwrap_or("attachment")) }
                        " " span.muted { (figures::bytes(integer(a, "size").unwrap_or(0))) " · " (text(a, "contentType").unwrap_or("application/octet-stream")) }
                    }
                }
            } }
        }
    }
}

fn trace(page: &Value) -> Markup {
    let Some(trace_id) = text(page, "traceID") else {
        return html! {};
    };
    let project = text(page, "projectSlug").unwrap_or_default();
    html! {
        section.card.trace {
            h3 { "Trace" }
            p {
                "Trace " code { (trace_id) }
                @if let Some(tx) = text(page, "transactionEventID") {
                    " · " a href=(format!("/performance/events/{tx}?{}", figures::query(&[("project", project)]))) { "its transaction's spans" }
                } @else { " " span.muted { "(no transaction of this trace was received)" } }
                " · " a href=(format!("/logs?{}", figures::query(&[("project", project), ("trace_id", trace_id)]))) { "its logs" }
            }
        }
    }
}

fn grouping(grouping: &Value) -> Markup {
    let same = text(grouping, "hash").is_some()
        && text(grouping, "hash") == text(grouping, "issueFingerprint");
    html! {
        details.card.grouping {
            summary { h3 { "Why this event is in this issue" } }
            p {
                "Grouped by " strong { (text(grouping, "method").unwrap_or("?")) }
                ": the fingerprint " code { (text(grouping, "hash").unwrap_or("?")) } " is the SHA-256 of these components."
            }
            ol.components { @for c in list(grouping, "components") { li { code { (shown(c)) } } } }
            @if !same {
                p.warning { "The issue's fingerprint is " code { (text(grouping, "issueFingerprint").unwrap_or("?")) }
                            " (" (text(grouping, "issueMethod").unwrap_or("?")) "): grouping has changed since this event was grouped." }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::section;
    use serde_json::json;

    fn frame(function: &str, in_app: bool) -> serde_json::Value {
        json!({"filename": "app.py", "function": function, "lineNo": 3, "inApp": in_app,
               "context": [[2, "a = 1"], [3, "boom()"], [4, "<b>"]], "vars": {"x": "'<script>'"}})
    }

    #[test]
    fn an_event_shows_its_chain_frames_and_breadcrumbs_escaped() {
        let page = json!({
            "event": {"eventID": "ab".repeat(16), "entries": [
                {"type": "exception", "data": {"values": [
                    {"type": "ValueError", "value": "cause", "stacktrace": {"frames": [frame("parse", true)]}},
                    {"type": "RuntimeError", "value": "raised", "stacktrace": {"frames": [
                        frame("lib_a", false), frame("lib_b", false), frame("handler", true)]}}]}},
                {"type": "breadcrumbs", "data": {"values": [{"category": "http", "message": "GET /x", "level": "info"}]}}]},
            "grouping": {"hash": "h", "issueFingerprint": "h", "method": "stacktrace", "components": ["type:ValueError"]},
            "oldestEventID": "cd".repeat(16), "latestEventID": "ab".repeat(16)});
        let html = section("7", &page).into_string();
        let raised = html.find("RuntimeError").unwrap();
        assert!(
            raised < html.find("Caused by").unwrap()
                && html.find("Caused by").unwrap() < html.find("ValueError</strong>").unwrap()
        );
        assert!(html.contains("2 system frames"), "{html}");
        assert!(
            html.contains("<span class=\"line current\"><span class=\"lineno\">3</span>boom()"),
            "{html}"
        );
        assert!(
            html.contains("&lt;b&gt;") && html.contains("&#39;&lt;script&gt;&#39;")
                || html.contains("'&lt;script&gt;'")
        );
        assert!(!html.contains("<script>"));
        assert!(html.contains("GET /x"));
        // The latest is this one: its step is disabled; the oldest links.
        assert!(html.contains(&format!("/issues/7/events/{}", "cd".repeat(16))));
        assert!(!html.contains(&format!("href=\"/issues/7/events/{}\"", "ab".repeat(16))));
    }
}
