//! The issue page (`/issues/{issue_id}`, `/issues/{issue_id}/events/{event}`): the issue's
//! header (ui_issue()), one of its events (ui_issue_event(), drawn by `issue_event`), its
//! actions, tags, releases, comments and activity; and the issue's POSTs (status, comments)
//! and the raw JSON download.

use axum::extract::{Path, Query, State};
use axum::http::header::{CONTENT_DISPOSITION, CONTENT_TYPE};
use axum::http::HeaderValue;
use axum::response::{IntoResponse, Response};
use maud::{html, Markup};
use serde::Deserialize;
use serde_json::Value;
use tokio_postgres::types::ToSql;

use crate::web_ui::csrf::CsrfForm;
use crate::web_ui::db;
use crate::web_ui::error::UiError;
use crate::web_ui::layout::{
    self, csrf_field, level_badge, sparkline, status_badge, time_ago, Section,
};
use crate::web_ui::pages::fields::{counts, integer, list, text};
use crate::web_ui::pages::{figures, issue_event};
use crate::web_ui::session::{see_other, SignedIn};
use crate::web_ui::WebUi;

/// `?event_id=`: the lookup form of the event navigation.
#[derive(Debug, Deserialize)]
pub struct Lookup {
    event_id: Option<String>,
}

/// GET /issues/{issue_id}: the issue with its latest event, or the event `?event_id=` names.
pub async fn show(
    State(ui): State<WebUi>,
    user: SignedIn,
    Path(issue): Path<String>,
    Query(lookup): Query<Lookup>,
) -> Result<Response, UiError> {
    if let Some(event) = lookup
        .event_id
        .as_deref()
        .map(str::trim)
        .filter(|e| !e.is_empty())
    {
        let event: String = form_urlencoded::byte_serialize(event.as_bytes()).collect();
        return Ok(see_other(&format!(
            "/issues/{}/events/{event}",
            encoded(&issue)
        )));
    }
    render(&ui, &user, &issue, "latest")
        .await
        .map(IntoResponse::into_response)
}

/// GET /issues/{issue_id}/events/{event}: one event (an id, `latest` or `oldest`).
pub async fn show_event(
    State(ui): State<WebUi>,
    user: SignedIn,
    Path((issue, event)): Path<(String, String)>,
) -> Result<Markup, UiError> {
    render(&ui, &user, &issue, &event).await
}

/// GET /issues/{issue_id}/events/{event}/json: what the SDK sent, as a download.
pub async fn event_json(
    State(ui): State<WebUi>,
    _user: SignedIn,
    Path((issue, event)): Path<(String, String)>,
) -> Result<Response, UiError> {
    let raw = db::one_json(
        &ui.pool,
        "SELECT crashcache.ui_event_json($1, $2)",
        &[&issue, &event],
    )
    .await?;
    let name: String = event
        .chars()
        .filter(char::is_ascii_alphanumeric)
        .take(32)
        .collect();
    let mut response = serde_json::to_string_pretty(&raw)
        .map_err(|err| UiError::Internal(format!("event JSON: {err}")))?
        .into_response();
    let headers = response.headers_mut();
    headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    if let Ok(value) = HeaderValue::from_str(&format!("attachment; filename=\"event-{name}.json\""))
    {
        headers.insert(CONTENT_DISPOSITION, value);
    }
    Ok(response)
}

/// The status form: `action` (resolve, resolve_next_release, ignore, reopen) and, to ignore
/// for a while, `minutes` (empty: forever).
#[derive(Debug, Deserialize)]
pub struct StatusForm {
    action: String,
    #[serde(default)]
    minutes: String,
}

/// POST /issues/{issue_id}/status
pub async fn set_status(
    State(ui): State<WebUi>,
    Path(issue): Path<String>,
    posted: CsrfForm<StatusForm>,
) -> Result<Response, UiError> {
    let minutes: Option<i32> = match posted.form.minutes.trim() {
        "" | "forever" => None,
        text => Some(
            text.parse()
                .map_err(|_| UiError::BadRequest(format!("Not a number of minutes: {text:?}")))?,
        ),
    };
    let changed = db::one_json(
        &ui.pool,
        "SELECT crashcache.ui_set_issue_status($1, $2, $3, $4)",
        &[&posted.user.user_id, &issue, &posted.form.action, &minutes],
    )
    .await?;
    Ok(see_other(&format!(
        "/issues/{}",
        encoded(text(&changed, "id").unwrap_or(&issue))
    )))
}

/// The comment form.
#[derive(Debug, Deserialize)]
pub struct CommentForm {
    comment: String,
}

/// POST /issues/{issue_id}/comments
pub async fn add_comment(
    State(ui): State<WebUi>,
    Path(issue): Path<String>,
    posted: CsrfForm<CommentForm>,
) -> Result<Response, UiError> {
    db::one_json(
        &ui.pool,
        "SELECT crashcache.ui_add_issue_comment($1, $2, $3)",
        &[&posted.user.user_id, &issue, &posted.form.comment],
    )
    .await?;
    Ok(see_other(&format!("/issues/{}#activity", encoded(&issue))))
}

async fn render(ui: &WebUi, user: &SignedIn, issue: &str, event: &str) -> Result<Markup, UiError> {
    // Two calls on two connections at once: the header and the event.
    let (header_params, event_params): ([&(dyn ToSql + Sync); 1], [&(dyn ToSql + Sync); 2]) =
        ([&issue], [&issue, &event]);
    let (header, shown) = tokio::try_join!(
        db::one_json(&ui.pool, "SELECT crashcache.ui_issue($1)", &header_params),
        db::one_json(
            &ui.pool,
            "SELECT crashcache.ui_issue_event($1, $2)",
            &event_params
        ),
    )?;
    let id = text(&header, "id").unwrap_or(issue).to_string();
    let project = text(&header["project"], "slug").map(str::to_string);
    let title = text(&header, "title").unwrap_or("Issue").to_string();
    let body = html! {
        (head(user, &id, &header))
        div.issue-layout {
            div.issue-main { (issue_event::section(&id, &shown)) }
            aside.issue-side {
                (tags(&header, project.as_deref()))
                (releases(&header))
                (activity(user, &id, &header))
            }
        }
    };
    Ok(layout::page_in(
        user,
        &title,
        Section::Issues,
        project.as_deref(),
        body,
    ))
}

fn head(user: &SignedIn, id: &str, issue: &Value) -> Markup {
    let status = text(issue, "status").unwrap_or("unresolved");
    html! {
        header.issue-head {
            p.breadcrumb {
                a href=(format!("/issues?{}", figures::query(&[("project", text(&issue["project"], "slug").unwrap_or_default())]))) {
                    (text(&issue["project"], "name").unwrap_or("Issues"))
                }
                " / " (text(issue, "shortId").unwrap_or(id))
            }
            h1 { (level_badge(text(issue, "level").unwrap_or("error"))) " " (text(issue, "title").unwrap_or_default()) }
            @if let Some(culprit) = text(issue, "culprit") { p.culprit { code { (culprit) } } }
            dl.facts {
                div { dt { "Status" } dd { (status_badge(status)) (status_details(&issue["statusDetails"])) } }
                div { dt { "Events" } dd { (layout::count(integer(issue, "count").unwrap_or(0))) } }
                div { dt { "Users" } dd { (layout::count(integer(issue, "userCount").unwrap_or(0))) } }
                div { dt { "First seen" } dd { (time_ago(text(issue, "firstSeen")))
                      @if let Some(r) = text(issue, "firstRelease") { " in " code { (r) } } } }
                div { dt { "Last seen" } dd { (time_ago(text(issue, "lastSeen")))
                      @if let Some(r) = text(issue, "lastRelease") { " in " code { (r) } } } }
                div { dt { "Last 24 hours" } dd { (sparkline(&counts(issue, "hourly"))) } }
                div { dt { "Last 14 days" } dd { (sparkline(&counts(issue, "daily"))) } }
            }
            (actions(user, id, status))
        }
    }
}

fn status_details(details: &Value) -> Markup {
    html! {
        @if details["inNextRelease"] == Value::Bool(true) { " " span.muted { "in the next release" } }
        @if let Some(until) = text(details, "ignoreUntil") { " " span.muted { "until " (layout::absolute_time(Some(until))) } }
    }
}

/// The ignore durations offered, in minutes (empty: forever).
const IGNORE_FOR: [(&str, &str); 5] = [
    ("30", "30 minutes"),
    ("60", "1 hour"),
    ("1440", "24 hours"),
    ("10080", "a week"),
    ("", "forever"),
];

fn actions(user: &SignedIn, id: &str, status: &str) -> Markup {
    let to = format!("/issues/{}/status", encoded(id));
    let button = |action: &str, label: &str, class: &str| {
        html! {
            form.inline method="post" action=(to) {
                (csrf_field(user))
                input type="hidden" name="action" value=(action);
                button type="submit" class=(class) { (label) }
            }
        }
    };
    html! {
        div.actions {
            @if status == "unresolved" {
                (button("resolve", "Resolve", "button primary"))
                (button("resolve_next_release", "Resolve in next release", "button"))
                form.inline method="post" action=(to) {
                    (csrf_field(user))
                    input type="hidden" name="action" value="ignore";
                    label.visually-hidden for="ignore-for" { "Ignore for" }
                    select #ignore-for name="minutes" {
                        @for (minutes, label) in IGNORE_FOR { option value=(minutes) { (label) } }
                    }
                    button.button type="submit" { "Ignore" }
                }
            } @else {
                (button("reopen", "Reopen", "button primary"))
            }
        }
    }
}

/// The tag distribution: per key its top values with their shares, each a link to the
/// project's issues with that tag.
fn tags(issue: &Value, project: Option<&str>) -> Markup {
    let tags = &issue["tags"];
    let sampled = integer(tags, "sampled").unwrap_or(0);
    html! {
        section.card.tag-distribution {
            h2 { "Tags" }
            @if sampled >= integer(issue, "count").unwrap_or(0) { p.muted { "Of all " (sampled) " events." } }
            @else { p.muted { "Of the latest " (layout::count(sampled)) " events." } }
            @for key in list(tags, "keys") {
                @let name = text(key, "key").unwrap_or_default();
                @let total = integer(key, "total").unwrap_or(0).max(1);
                div.tag {
                    h3 { (name) span.muted { " · " (integer(key, "unique").unwrap_or(0)) } }
                    ul {
                        @for top in list(key, "top") {
                            @let value = text(top, "value").unwrap_or_default();
                            @let share = 100.0 * integer(top, "count").unwrap_or(0) as f64 / total as f64;
                            li {
                                a href=(format!("/issues?{}", figures::query(&[("project", project.unwrap_or_default()), ("query", &figures::search_term(name, value))]))) {
                                    span.value { (value) } span.share { (figures::percent(Some(share.round()))) }
                                }
                                (share_bar(share))
                            }
                        }
                    }
                }
            }
        }
    }
}

/// A share as a thin bar (SVG: the pages' policy allows no inline style).
fn share_bar(share: f64) -> Markup {
    let width = share.clamp(0.0, 100.0);
    html! {
        svg.share-bar viewBox="0 0 100 4" preserveAspectRatio="none" aria-hidden="true" {
            rect.track x="0" y="0" width="100" height="4" {}
            rect.fill x="0" y="0" width=(format!("{width:.1}")) height="4" {}
        }
    }
}

fn releases(issue: &Value) -> Markup {
    let releases = list(issue, "releases");
    html! {
        @if !releases.is_empty() {
            section.card { h2 { "Releases" } ul.releases { @for r in releases { li { code { (r.as_str().unwrap_or_default()) } } } } }
        }
    }
}

fn activity(user: &SignedIn, id: &str, issue: &Value) -> Markup {
    html! {
        section.card #activity {
            h2 { "Activity" }
            form.comment method="post" action=(format!("/issues/{}/comments", encoded(id))) {
                (csrf_field(user))
                label for="comment" { "Comment" }
                textarea #comment name="comment" rows="3" maxlength="10000" required {}
                button.button.primary type="submit" { "Add comment" }
            }
            ol.activity {
                @for a in list(issue, "activity") {
                    li {
                        (describe(a))
                        " " span.muted { (time_ago(text(a, "dateCreated"))) }
                    }
                }
            }
        }
    }
}

/// One line of the activity history.
fn describe(activity: &Value) -> Markup {
    let who = text(&activity["user"], "name").unwrap_or("someone");
    let data = &activity["data"];
    html! {
        @match text(activity, "type").unwrap_or_default() {
            "note" => { strong { (who) } " commented:" blockquote { (text(data, "text").unwrap_or_default()) } },
            "set_resolved" => { strong { (who) } " resolved the issue" },
            "set_resolved_in_release" => { strong { (who) } " resolved the issue in the next release" },
            "set_unresolved" => { strong { (who) } " reopened the issue" },
            "set_ignored" => {
                strong { (who) } " ignored the issue "
                @match integer(data, "ignoreDuration") { Some(m) => { "for " (m) " minutes" }, None => "forever" }
            },
            "first_seen" => "First seen",
            other => { strong { (who) } " " (other) },
        }
    }
}

/// A path segment as it may appear in a URL we build.
fn encoded(segment: &str) -> String {
    form_urlencoded::byte_serialize(segment.as_bytes())
        .collect::<String>()
        .replace('+', "%20")
}

#[cfg(test)]
mod tests {
    use super::{describe, encoded, tags};
    use serde_json::json;

    #[test]
    fn tag_values_link_to_the_filtered_issues_with_their_share() {
        let issue = json!({"count": "4", "tags": {"sampled": 4, "keys": [
            {"key": "os", "total": 4, "unique": 2, "top": [{"value": "Ubuntu 22.04", "count": 3}, {"value": "macOS", "count": 1}]}]}});
        let html = tags(&issue, Some("web")).into_string();
        assert!(
            html.contains("href=\"/issues?project=web&amp;query=os%3A%22Ubuntu+22.04%22\""),
            "{html}"
        );
        assert!(html.contains("75%") && html.contains("25%"), "{html}");
        assert!(html.contains("Of all 4 events."));
    }

    #[test]
    fn activity_reads_as_sentences() {
        let note =
            json!({"type": "note", "user": {"name": "Ada"}, "data": {"text": "<b>on it</b>"}});
        assert!(describe(&note)
            .into_string()
            .contains("<strong>Ada</strong> commented:<blockquote>&lt;b&gt;on it&lt;/b&gt;"));
        let ignored =
            json!({"type": "set_ignored", "user": {"name": "Ada"}, "data": {"ignoreDuration": 30}});
        assert!(describe(&ignored)
            .into_string()
            .ends_with("ignored the issue for 30 minutes"));
        assert_eq!(encoded("a b/c"), "a%20b%2Fc");
    }
}
