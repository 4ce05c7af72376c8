//! Release health (`/releases?project=&period=`): per release and environment, sessions,
//! crash-free session and user rates, adoption, trend and new issues (ui_release_health()).

use axum::extract::{Query, State};
use maud::{html, Markup};
use serde_json::Value;

use crate::web_ui::error::UiError;
use crate::web_ui::layout::{self, empty_state, sparkline, time_ago, Section};
use crate::web_ui::pages::fields::{counts, integer, list, number, text};
use crate::web_ui::pages::figures;
use crate::web_ui::pages::period::{Params, PeriodPage};
use crate::web_ui::session::SignedIn;
use crate::web_ui::WebUi;

/// The page.
const PAGE: PeriodPage = PeriodPage {
    title: "Release health",
    section: Section::Releases,
    path: "/releases",
    fallback: "14d",
    sql: "SELECT crashcache.ui_release_health($1, $2)",
};

/// GET /releases
pub async fn list_page(
    State(ui): State<WebUi>,
    user: SignedIn,
    Query(params): Query<Params>,
) -> Result<Markup, UiError> {
    PAGE.show(&ui, &user, &params, table).await
}

/// The releases table.
pub fn table(health: &Value, project: &str) -> Markup {
    let releases = list(health, "releases");
    if releases.is_empty() {
        return empty_state("No sessions in this period. SDKs send sessions when they are given a release (and, for the Python SDK, auto_session_tracking).");
    }
    let window = integer(health, "sessionWindow").unwrap_or(0);
    html! {
        div.scroll { table.list.releases {
            thead { tr {
                th scope="col" { "Release" } th scope="col" { "Environment" } th.num scope="col" { "Sessions" }
                th.num scope="col" { "Crash-free sessions" } th.num scope="col" { "Crash-free users" }
                th.num scope="col" { "Adoption" } th scope="col" { "Trend" } th.num scope="col" { "New issues" } th scope="col" { "Last session" }
            } }
            tbody {
                @for r in releases {
                    @let release = text(r, "release").unwrap_or_default();
                    tr {
                        td { code { (release) } }
                        td { (text(r, "environment").unwrap_or("—")) }
                        td.num { (layout::count(integer(r, "sessions").unwrap_or(0)))
                                 @if r["sampled"] == Value::Bool(true) { abbr title=(format!("the release's latest {window} sessions")) { "+" } } }
                        td.num { span class=(figures::health_class(number(r, "crashFreeSessions"))) { (figures::percent(number(r, "crashFreeSessions"))) } }
                        td.num { span class=(figures::health_class(number(r, "crashFreeUsers"))) { (figures::percent(number(r, "crashFreeUsers"))) } }
                        td.num { (figures::percent(number(r, "adoption"))) }
                        td { (sparkline(&counts(r, "trend"))) }
                        td.num {
                            a href=(format!("/issues?{}", figures::query(&[("project", project), ("query", &figures::search_term("release", release))]))) {
                                (integer(r, "newIssues").unwrap_or(0))
                            }
                        }
                        td { (time_ago(text(r, "lastSession"))) }
                    }
                }
            }
        } }
        p.muted { "Crashed and abnormal sessions are not crash-free. Adoption is the release's share of its environment's sessions in the period." }
    }
}

#[cfg(test)]
mod tests {
    use super::table;
    use serde_json::json;

    #[test]
    fn a_release_shows_its_rates() {
        let health = json!({"sessionWindow": 500, "releases": [{"release": "app@1.0", "environment": "production",
            "sessions": 2, "crashFreeSessions": 50.0, "crashFreeUsers": 0.0, "adoption": 100.0, "trend": [0, 2], "newIssues": 1, "sampled": false}]});
        let html = table(&health, "web").into_string();
        assert!(html.contains("<code>app@1.0</code>"));
        assert!(
            html.contains("<span class=\"rate poor\">50%</span>"),
            "{html}"
        );
        assert!(
            html.contains("/issues?project=web&amp;query=release%3Aapp%401.0"),
            "{html}"
        );
        assert!(table(&json!({"releases": []}), "web")
            .into_string()
            .contains("No sessions"));
    }
}
