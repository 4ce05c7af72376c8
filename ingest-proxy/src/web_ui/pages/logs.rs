//! Logs (`/logs?project=&level=&q=&trace_id=&cursor=`): a project's log records, newest
//! first, searched by level, text and trace id, with keyset pages (ui_logs()).

use axum::extract::{Query, State};
use maud::{html, Markup};
use serde::Deserialize;
use serde_json::Value;

use crate::web_ui::db;
use crate::web_ui::error::UiError;
use crate::web_ui::layout::{self, absolute_time, empty_state, level_badge, pagination, Section};
use crate::web_ui::pages::fields::{list, text};
use crate::web_ui::pages::{figures, project};
use crate::web_ui::session::SignedIn;
use crate::web_ui::WebUi;

/// The search form's fields.
#[derive(Debug, Deserialize, Default)]
pub struct Params {
    project: Option<String>,
    level: Option<String>,
    q: Option<String>,
    trace_id: Option<String>,
    cursor: Option<String>,
}

/// The levels log records have (OpenTelemetry's severity texts, as Sentry's SDKs send them).
const LEVELS: [&str; 6] = ["trace", "debug", "info", "warn", "error", "fatal"];

/// GET /logs
pub async fn search(
    State(ui): State<WebUi>,
    user: SignedIn,
    Query(params): Query<Params>,
) -> Result<Markup, UiError> {
    let found = db::one_json(
        &ui.pool,
        "SELECT crashcache.ui_logs($1, $2, $3, $4, $5)",
        &[
            &params.project,
            &params.level,
            &params.q,
            &params.trace_id,
            &params.cursor,
        ],
    )
    .await?;
    let project = project::slug(&found);
    let body = html! {
        header.page-header { (project::title("Logs", &found)) }
        (form(&params, &project))
        (results(&found, &params, &project))
    };
    Ok(layout::page_in(
        &user,
        "Logs",
        Section::Logs,
        Some(&project),
        body,
    ))
}

fn form(params: &Params, project: &str) -> Markup {
    let level = params.level.as_deref().unwrap_or_default();
    html! {
        form.search method="get" action="/logs" role="search" {
            input type="hidden" name="project" value=(project);
            label { "Level "
                select name="level" {
                    option value="" { "any" }
                    @for l in LEVELS { option value=(l) selected[l == level] { (l) } }
                }
            }
            label { "Text " input type="search" name="q" value=(params.q.as_deref().unwrap_or_default()) placeholder="in the message"; }
            label { "Trace id " input type="text" name="trace_id" value=(params.trace_id.as_deref().unwrap_or_default()) size="34" placeholder="32 hex digits"; }
            button.button.primary type="submit" { "Search" }
        }
    }
}

/// The records found and the link to the next (older) page.
fn results(found: &Value, params: &Params, project: &str) -> Markup {
    let logs = list(found, "logs");
    let page = |cursor: &str| {
        format!(
            "/logs?{}",
            figures::query(&[
                ("project", project),
                ("level", params.level.as_deref().unwrap_or_default()),
                ("q", params.q.as_deref().unwrap_or_default()),
                ("trace_id", params.trace_id.as_deref().unwrap_or_default()),
                ("cursor", cursor),
            ])
        )
    };
    let next = text(found, "next").map(page);
    // Keyset pages go one way: "previous" is the newest page of the same search.
    let newest = params.cursor.as_ref().map(|_| page(""));
    html! {
        @if logs.is_empty() {
            @if found["windowExhausted"] == Value::Bool(true) {
                (empty_state("No match among the latest records searched; the next page searches older ones."))
            } @else { (empty_state("No log record matches.")) }
        } @else {
            div.scroll { table.list.logs {
                thead { tr { th scope="col" { "Time" } th scope="col" { "Level" } th scope="col" { "Message" } th scope="col" { "Trace" } th scope="col" { "Release" } } }
                tbody { @for l in logs { tr {
                    td.nowrap { (absolute_time(text(l, "timestamp"))) }
                    td { (level_badge(text(l, "level").unwrap_or("info"))) }
                    td.message { (text(l, "body").unwrap_or_default()) }
                    td { @if let Some(trace) = text(l, "traceID") {
                        a href=(format!("/logs?{}", figures::query(&[("project", project), ("trace_id", trace)]))) title="Logs of this trace" { code { (trace.get(..8).unwrap_or(trace)) } }
                    } }
                    td { code { (text(l, "release").unwrap_or("—")) } }
                } } }
            } }
        }
        @if params.cursor.is_some() || next.is_some() {
            (pagination(newest.as_deref(), next.as_deref()))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{results, Params};
    use serde_json::json;

    #[test]
    fn records_show_and_page_on() {
        let found = json!({"logs": [{"timestamp": "2026-12-01T00:00:00.000000Z", "level": "error", "body": "payment <declined>",
                                      "traceID": "ab".repeat(16), "release": "app@1"}], "next": "123:4:0"});
        let params = Params {
            q: Some("payment".into()),
            ..Params::default()
        };
        let html = results(&found, &params, "web").into_string();
        assert!(html.contains("payment &lt;declined&gt;"));
        assert!(
            html.contains("href=\"/logs?project=web&amp;q=payment&amp;cursor=123%3A4%3A0\""),
            "{html}"
        );
    }
}
