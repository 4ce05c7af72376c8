//! The status page (`/status`): the tracker's vital signs (crashcache.stats()) and the
//! payloads that failed to digest with their reasons (ui_status()), and for admins the retry
//! of those payloads (POST /status/retry, ui_retry_errors()).

use axum::extract::State;
use axum::response::Response;
use maud::{html, Markup};
use serde_json::Value;

use crate::web_ui::csrf::CsrfForm;
use crate::web_ui::db;
use crate::web_ui::error::UiError;
use crate::web_ui::layout::{self, csrf_field, empty_state, time_ago, NoFields, Section};
use crate::web_ui::pages::fields::{integer, list, number, text};
use crate::web_ui::pages::figures;
use crate::web_ui::session::{see_other, SignedIn};
use crate::web_ui::WebUi;

/// GET /status
pub async fn show(State(ui): State<WebUi>, user: SignedIn) -> Result<Markup, UiError> {
    let found = db::one_json(&ui.pool, "SELECT crashcache.ui_status()", &[]).await?;
    let body = html! {
        header.page-header { h1 { "Status" } }
        (vitals(&found["stats"]))
        (errors(&user, list(&found, "errors")))
    };
    Ok(layout::page(&user, "Status", Section::Status, body))
}

/// POST /status/retry (admins only: the SQL refuses the others with 403).
pub async fn retry(
    State(ui): State<WebUi>,
    posted: CsrfForm<NoFields>,
) -> Result<Response, UiError> {
    db::one_value::<i64>(
        &ui.pool,
        "SELECT crashcache.ui_retry_errors($1)",
        &[&posted.user.user_id],
    )
    .await?;
    Ok(see_other("/status"))
}

/// The figures of crashcache.stats().
pub fn vitals(stats: &Value) -> Markup {
    let figure = |label: &str, value: String, warn: bool| {
        html! { div class=(if warn { "vital warn" } else { "vital" }) { dt { (label) } dd { (value) } } }
    };
    let queued = integer(stats, "queued").unwrap_or(0);
    let errors = integer(stats, "errors").unwrap_or(0);
    let workers = integer(stats, "running_workers").unwrap_or(0);
    let oldest = number(stats, "oldest_queued_seconds");
    html! {
        dl.vitals {
            (figure("Queued payloads", layout::count(queued), queued > 1000))
            (figure("Oldest queued", oldest.map_or_else(|| "—".to_string(), |s| figures::duration(s * 1000.0)), oldest.is_some_and(|s| s > 60.0)))
            (figure("Failed payloads", layout::count(errors), errors > 0))
            (figure("Digest workers running", layout::count(workers), workers == 0))
            (figure("Digested since start", layout::count(integer(stats, "digested_since_start").unwrap_or(0)), false))
            (figure("Failed since start", layout::count(integer(stats, "failed_since_start").unwrap_or(0)), false))
            (figure("Archived payloads (estimate)", layout::count(integer(stats, "archives_estimate").unwrap_or(0)), false))
            (figure("Events (estimate)", layout::count(integer(stats, "events_estimate").unwrap_or(0)), false))
            (figure("Issues", layout::count(integer(stats, "issues").unwrap_or(0)), false))
        }
        @if let Some(why) = text(stats, "over_capacity") {
            p.warning { "Ingest refuses new payloads: " (why) }
        }
    }
}

/// The failed payloads and the retry button.
pub fn errors(user: &SignedIn, errors: &[Value]) -> Markup {
    html! {
        section.card {
            h2 { "Payloads that failed to digest" }
            @if errors.is_empty() { (empty_state("None: every payload received was digested.")) } @else {
                @if user.is_admin {
                    form method="post" action="/status/retry" {
                        (csrf_field(user))
                        button.button.primary type="submit" { "Retry all failed payloads" }
                    }
                } @else { p.muted { "An admin can send them through the digest again." } }
                div.scroll { table.list {
                    thead { tr { th scope="col" { "Archive" } th scope="col" { "Project" } th scope="col" { "Failed" }
                                 th scope="col" { "Reason" } th scope="col" { "Kind" } th.num scope="col" { "Size" } } }
                    tbody { @for e in errors { tr {
                        td { code { (integer(e, "archiveID").unwrap_or(0)) } }
                        td { (text(e, "project").unwrap_or("—")) }
                        td { (time_ago(text(e, "failedAt"))) }
                        td.reason { code { (text(e, "reason").unwrap_or_default()) } }
                        td { (text(e, "kind").unwrap_or("—")) }
                        td.num { (figures::bytes(integer(e, "rawSize").unwrap_or(0))) }
                    } } }
                } }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::vitals;
    use serde_json::json;

    #[test]
    fn vitals_flag_what_needs_a_look() {
        let html = vitals(
            &json!({"queued": 3, "errors": 2, "running_workers": 0, "oldest_queued_seconds": 90.0,
                                  "over_capacity": "disk <90%"}),
        )
        .into_string();
        assert!(html.contains("1 min 30 s"), "{html}");
        assert_eq!(html.matches("class=\"vital warn\"").count(), 3, "{html}");
        assert!(html.contains("disk &lt;90%"));
    }
}
