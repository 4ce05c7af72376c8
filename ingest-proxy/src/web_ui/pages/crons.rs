//! Crons (`/crons?project=&period=`): each monitor with its schedule, last check-in and its
//! status, the period's check-ins by status (missed and failed runs), and its latest
//! check-ins as a strip (ui_crons()).

use axum::extract::{Query, State};
use maud::{html, Markup};
use serde_json::Value;

use crate::web_ui::error::UiError;
use crate::web_ui::layout::{empty_state, time_ago, Section};
use crate::web_ui::pages::fields::{integer, list, number, text};
use crate::web_ui::pages::figures;
use crate::web_ui::pages::period::{Params, PeriodPage};
use crate::web_ui::session::SignedIn;
use crate::web_ui::WebUi;

/// The page.
const PAGE: PeriodPage = PeriodPage {
    title: "Crons",
    section: Section::Crons,
    path: "/crons",
    fallback: "14d",
    sql: "SELECT crashcache.ui_crons($1, $2)",
};

/// GET /crons
pub async fn list_page(
    State(ui): State<WebUi>,
    user: SignedIn,
    Query(params): Query<Params>,
) -> Result<Markup, UiError> {
    PAGE.show(&ui, &user, &params, |found, _| table(found))
        .await
}

/// The class a check-in status is drawn with.
pub fn status_class(status: &str) -> &'static str {
    match status {
        "ok" => "check ok",
        "in_progress" => "check running",
        "missed" => "check missed",
        _ => "check failed",
    }
}

/// A monitor's schedule as its config gives it: a crontab, or every N units.
fn schedule(config: &Value) -> String {
    let schedule = &config["schedule"];
    match (text(schedule, "type"), &schedule["value"]) {
        (Some("crontab"), Value::String(crontab)) => crontab.clone(),
        (Some("interval"), value) => {
            format!("every {} {}", value, text(schedule, "unit").unwrap_or("?"))
        }
        _ => "—".to_string(),
    }
}

/// The monitors table.
pub fn table(found: &Value) -> Markup {
    let monitors = list(found, "monitors");
    if monitors.is_empty() {
        return empty_state("No monitor has checked in yet. Send check-ins with the SDK's crons support (capture_checkin or the monitor decorator).");
    }
    html! {
        div.scroll { table.list {
            thead { tr { th scope="col" { "Monitor" } th scope="col" { "Schedule" } th scope="col" { "Last status" } th scope="col" { "Last check-in" }
                         th.num scope="col" { "OK" } th.num scope="col" { "Failed" } th.num scope="col" { "Missed" } th scope="col" { "Latest check-ins" } } }
            tbody {
                @for m in monitors {
                    @let counts = &m["counts"];
                    @let failed = integer(counts, "error").unwrap_or(0) + integer(counts, "timeout").unwrap_or(0);
                    @let last = text(m, "lastStatus").unwrap_or("—");
                    tr {
                        td { code { (text(m, "slug").unwrap_or_default()) } }
                        td { code { (schedule(&m["config"])) } }
                        td { span class=(status_class(last)) { (last) } }
                        td { (time_ago(text(m, "lastCheckIn")))
                             @if let Some(seconds) = number(m, "lastDurationMs") { " " span.muted { "(" (figures::duration(seconds * 1000.0)) ")" } } }
                        td.num { (integer(counts, "ok").unwrap_or(0)) }
                        td.num { @if failed > 0 { strong.bad { (failed) } } @else { "0" } }
                        td.num { @if integer(counts, "missed").unwrap_or(0) > 0 { strong.bad { (integer(counts, "missed").unwrap_or(0)) } } @else { "0" } }
                        td { ol.check-strip aria-label="Latest check-ins, newest first" {
                            @for c in list(m, "recent") {
                                @let status = text(c, "status").unwrap_or("?");
                                li class=(status_class(status)) title=(format!("{status} at {}", text(c, "timestamp").unwrap_or_default())) { (status.chars().next().unwrap_or('?')) }
                            }
                        } }
                    }
                }
            }
        } }
    }
}

#[cfg(test)]
mod tests {
    use super::{status_class, table};
    use serde_json::json;

    #[test]
    fn monitors_show_failed_and_missed_runs() {
        let found = json!({"monitors": [{"slug": "nightly", "lastStatus": "ok", "lastCheckIn": "2026-12-01T00:00:00.000000Z",
            "config": {"schedule": {"type": "crontab", "value": "0 3 * * *"}},
            "counts": {"ok": 3, "error": 1, "missed": 2}, "recent": [{"status": "ok"}, {"status": "error"}]}]});
        let html = table(&found).into_string();
        assert!(html.contains("<code>0 3 * * *</code>"));
        assert!(
            html.contains("<strong class=\"bad\">1</strong>")
                && html.contains("<strong class=\"bad\">2</strong>"),
            "{html}"
        );
        assert_eq!(status_class("timeout"), "check failed");
    }
}
