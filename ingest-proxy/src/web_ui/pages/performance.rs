//! Performance: per transaction name its count, percentiles, failure rate and trend
//! (`/performance`, ui_performance()), one name's latest events
//! (`/performance/transactions/{name}`, ui_transaction_events()), one transaction's spans as
//! a waterfall (`/performance/events/{event_id}`, ui_transaction_spans(), geometry in
//! `waterfall`), and a trace id's transaction (`/traces/{trace_id}`).

use axum::extract::{Path, Query, State};
use axum::response::Response;
use maud::{html, Markup};
use serde::Deserialize;
use serde_json::Value;

use crate::web_ui::db;
use crate::web_ui::error::UiError;
use crate::web_ui::layout::{self, empty_state, sparkline, status_badge, time_ago, Section};
use crate::web_ui::pages::fields::{counts, integer, list, number, text};
use crate::web_ui::pages::figures;
use crate::web_ui::pages::period::{Params, PeriodPage};
use crate::web_ui::pages::project;
use crate::web_ui::pages::waterfall::{self, Span};
use crate::web_ui::session::{see_other, SignedIn};
use crate::web_ui::WebUi;

/// The overview page.
const OVERVIEW: PeriodPage = PeriodPage {
    title: "Performance",
    section: Section::Performance,
    path: "/performance",
    fallback: "24h",
    sql: "SELECT crashcache.ui_performance($1, $2)",
};

/// GET /performance
pub async fn overview(
    State(ui): State<WebUi>,
    user: SignedIn,
    Query(params): Query<Params>,
) -> Result<Markup, UiError> {
    OVERVIEW.show(&ui, &user, &params, names_table).await
}

/// The transactions table of the overview.
pub fn names_table(found: &Value, project: &str) -> Markup {
    let names = list(found, "transactions");
    if names.is_empty() {
        return empty_state("No transactions in this period. SDKs send them when tracing is on (traces_sample_rate).");
    }
    html! {
        @if found["complete"] == Value::Bool(false) {
            p.muted { "From the period's latest " (layout::count(integer(found, "sampled").unwrap_or(0))) " transactions." }
        }
        div.scroll { table.list {
            thead { tr { th scope="col" { "Transaction" } th.num scope="col" { "Count" } th.num scope="col" { "p50" }
                         th.num scope="col" { "p95" } th.num scope="col" { "p99" } th.num scope="col" { "Failure rate" } th scope="col" { "Trend" } } }
            tbody {
                @for t in names {
                    @let name = text(t, "transaction").unwrap_or_default();
                    tr {
                        td { a href=(format!("/performance/transactions/{}?{}", segment(name), figures::query(&[("project", project)]))) { (if name.is_empty() { "(unnamed)" } else { name }) } }
                        td.num { (layout::count(integer(t, "count").unwrap_or(0))) }
                        td.num { (figures::duration(number(t, "p50").unwrap_or(f64::NAN))) }
                        td.num { (figures::duration(number(t, "p95").unwrap_or(f64::NAN))) }
                        td.num { (figures::duration(number(t, "p99").unwrap_or(f64::NAN))) }
                        td.num { (figures::percent(number(t, "failureRate"))) }
                        td { (sparkline(&counts(t, "trend"))) }
                    }
                }
            }
        } }
    }
}

/// GET /performance/transactions/{name}
pub async fn transaction(
    State(ui): State<WebUi>,
    user: SignedIn,
    Path(name): Path<String>,
    Query(params): Query<Params>,
) -> Result<Markup, UiError> {
    let found = db::one_json(
        &ui.pool,
        "SELECT crashcache.ui_transaction_events($1, $2, $3)",
        &[&params.project, &name, &params.period],
    )
    .await?;
    let project = project::slug(&found);
    let events = list(&found, "events");
    let body = html! {
        header.page-header { div {
            p.breadcrumb { a href=(format!("/performance?{}", figures::query(&[("project", &project)]))) { "Performance" } }
            h1 { (name) }
        } }
        @if events.is_empty() { (empty_state("No event of this transaction in the last 14 days.")) } @else {
            div.scroll { table.list {
                thead { tr { th scope="col" { "Ended" } th.num scope="col" { "Duration" } th scope="col" { "Status" }
                             th.num scope="col" { "Spans" } th scope="col" { "Release" } th scope="col" { "Trace" } } }
                tbody { @for e in events { tr {
                    td { a href=(format!("/performance/events/{}?{}", text(e, "eventID").unwrap_or_default(), figures::query(&[("project", &project)]))) {
                        (time_ago(text(e, "endTime"))) } }
                    td.num { (figures::duration(number(e, "durationMs").unwrap_or(f64::NAN))) }
                    td { (text(e, "status").unwrap_or("ok")) }
                    td.num { (integer(e, "spanCount").unwrap_or(0)) }
                    td { code { (text(e, "release").unwrap_or("—")) } }
                    td { code { (text(e, "traceID").unwrap_or("—")) } }
                } } }
            } }
        }
    };
    Ok(page(&user, &name, &project, body))
}

/// `?project=` of the waterfall and trace pages.
#[derive(Debug, Deserialize)]
pub struct ProjectParam {
    project: Option<String>,
}

/// GET /performance/events/{event_id}: the waterfall.
pub async fn spans(
    State(ui): State<WebUi>,
    user: SignedIn,
    Path(event): Path<String>,
    Query(params): Query<ProjectParam>,
) -> Result<Markup, UiError> {
    let found = of_project(
        &ui,
        "SELECT crashcache.ui_transaction_spans($1, $2)",
        &params,
        &event,
    )
    .await?;
    let project = project::slug(&found);
    let tx = &found["transaction"];
    let name = text(tx, "name")
        .unwrap_or("(unnamed transaction)")
        .to_string();
    let body = html! {
        header.page-header { div {
            p.breadcrumb {
                a href=(format!("/performance?{}", figures::query(&[("project", &project)]))) { "Performance" } " / "
                a href=(format!("/performance/transactions/{}?{}", segment(&name), figures::query(&[("project", &project)]))) { (name) }
            }
            h1 { (name) }
            dl.facts {
                div { dt { "Duration" } dd { (figures::duration(number(tx, "durationMs").unwrap_or(f64::NAN))) } }
                div { dt { "Operation" } dd { code { (text(tx, "op").unwrap_or("—")) } } }
                div { dt { "Status" } dd { (status_badge(text(tx, "status").unwrap_or("ok"))) } }
                div { dt { "Ended" } dd { (time_ago(text(tx, "endTime"))) } }
                div { dt { "Release" } dd { code { (text(tx, "release").unwrap_or("—")) } } }
                div { dt { "Trace" } dd { code { (text(tx, "traceID").unwrap_or("—")) } } }
            }
        } }
        (waterfall_view(&found))
    };
    Ok(page(&user, &name, &project, body))
}

/// The waterfall: one row per span, nested under its parent, with its bar (SVG, since the
/// pages' policy allows no inline style) placed by offset and duration.
pub fn waterfall_view(found: &Value) -> Markup {
    let tx = &found["transaction"];
    let sent = list(found, "spans");
    let spans: Vec<Span> = sent
        .iter()
        .map(|s| Span {
            id: text(s, "spanID").unwrap_or_default().to_string(),
            parent: text(s, "parentSpanID").map(str::to_string),
            offset_ms: number(s, "offsetMs").unwrap_or(0.0),
            duration_ms: number(s, "durationMs").unwrap_or(0.0),
        })
        .collect();
    let total = number(tx, "durationMs").unwrap_or(0.0);
    let rows = waterfall::rows(text(tx, "spanID"), total, &spans);
    html! {
        section.card.waterfall aria-label="Spans" {
            h2 { "Spans " span.muted { "(" (sent.len()) ")" } }
            ol.spans {
                @for row in &rows {
                    @let (op, description, duration) = match row.span {
                        Some(i) => (text(&sent[i], "op"), text(&sent[i], "description"), number(&sent[i], "durationMs")),
                        None => (text(tx, "op"), text(tx, "name"), number(tx, "durationMs")),
                    };
                    li.span-row data-depth=(row.depth) {
                        span.span-label {
                            @for _ in 0..row.depth.min(12) { span.indent {} }
                            code.op { (op.unwrap_or("span")) } " " span.description { (description.unwrap_or_default()) }
                        }
                        svg.span-bar viewBox="0 0 100 10" preserveAspectRatio="none" role="img"
                            aria-label=(format!("starts at {:.1}% and lasts {}", row.left, figures::duration(duration.unwrap_or(0.0)))) {
                            rect.track x="0" y="0" width="100" height="10" {}
                            rect.fill x=(format!("{:.3}", row.left)) y="1" width=(format!("{:.3}", row.width)) height="8" {}
                        }
                        span.span-duration { (figures::duration(duration.unwrap_or(f64::NAN))) }
                    }
                }
            }
        }
    }
}

/// GET /traces/{trace_id}: to the waterfall of the trace's transaction.
pub async fn trace(
    State(ui): State<WebUi>,
    _user: SignedIn,
    Path(trace): Path<String>,
    Query(params): Query<ProjectParam>,
) -> Result<Response, UiError> {
    let found = of_project(
        &ui,
        "SELECT crashcache.ui_trace_transaction($1, $2)",
        &params,
        &trace,
    )
    .await?;
    Ok(see_other(&format!(
        "/performance/events/{}?{}",
        text(&found, "eventID").unwrap_or_default(),
        figures::query(&[("project", text(&found, "project").unwrap_or_default())])
    )))
}

/// The answer of `sql` about `what` (`$2`: an event or trace id) in the asked project (`$1`).
async fn of_project(
    ui: &WebUi,
    sql: &str,
    params: &ProjectParam,
    what: &String,
) -> Result<Value, UiError> {
    db::one_json(&ui.pool, sql, &[&params.project, what]).await
}

/// A page of the Performance section about `project`.
fn page(user: &SignedIn, title: &str, project: &str, body: Markup) -> Markup {
    layout::page_in(user, title, Section::Performance, Some(project), body)
}

/// A transaction name as a path segment.
fn segment(name: &str) -> String {
    form_urlencoded::byte_serialize(name.as_bytes())
        .collect::<String>()
        .replace('+', "%20")
}

#[cfg(test)]
mod tests {
    use super::{names_table, waterfall_view};
    use serde_json::json;

    #[test]
    fn the_waterfall_nests_and_places_spans() {
        let found = json!({"transaction": {"name": "checkout", "op": "http.server", "spanID": "root", "durationMs": 100.0},
            "spans": [{"spanID": "a", "parentSpanID": "root", "op": "db", "description": "SELECT <1>", "offsetMs": 25.0, "durationMs": 50.0},
                      {"spanID": "b", "parentSpanID": "a", "op": "io", "offsetMs": 30.0, "durationMs": 10.0}]});
        let html = waterfall_view(&found).into_string();
        assert_eq!(html.matches("class=\"span-row\"").count(), 3, "{html}");
        assert!(html.contains("data-depth=\"2\""), "{html}");
        assert!(
            html.contains("x=\"25.000\" y=\"1\" width=\"50.000\""),
            "{html}"
        );
        assert!(html.contains("SELECT &lt;1&gt;"));
    }

    #[test]
    fn names_link_to_their_events() {
        let found = json!({"complete": true, "transactions": [{"transaction": "GET /a b", "count": 3, "p50": 12.0, "p95": 30.0, "p99": 31.0, "failureRate": 33.33, "trend": [1, 2]}]});
        let html = names_table(&found, "web").into_string();
        assert!(
            html.contains("href=\"/performance/transactions/GET%20%2Fa%20b?project=web\""),
            "{html}"
        );
        assert!(html.contains("33.33%") && html.contains("12 ms"), "{html}");
    }
}
