//! The issue list (GET /issues), of one project or all: tabs by status, search in the Web
//! API's syntax, sorts, a sparkline per issue, keyset pages (`ui_issue_list`); and bulk
//! triage of the issues ticked (POST /issues/bulk, `ui_bulk_update_issues`).

use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use maud::{html, Markup};
use serde::Deserialize;
use serde_json::Value;

use crate::web_ui::csrf::CsrfForm;
use crate::web_ui::error::UiError;
use crate::web_ui::layout::{
    count, csrf_field, empty_state, level_badge, page_in, pagination, sparkline, status_badge,
    time_ago, Section,
};
use crate::web_ui::pages::projects::counts;
use crate::web_ui::session::{local_path, see_other, SignedIn};
use crate::web_ui::{db, WebUi};

/// The list's parameters, as the URL carries them.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct ListQuery {
    /// A project's slug (or id); all projects when empty.
    #[serde(default)]
    pub project: String,
    /// The search, in the Web API's syntax.
    #[serde(default)]
    pub query: String,
    /// date, new, freq, user.
    #[serde(default)]
    pub sort: String,
    /// unresolved, resolved, ignored, all.
    #[serde(default)]
    pub status: String,
    /// A keyset position from the previous page.
    #[serde(default)]
    pub cursor: String,
    /// 24h or 14d.
    #[serde(default)]
    pub spark: String,
}

const TABS: [(&str, &str); 4] = [
    ("unresolved", "Unresolved"),
    ("resolved", "Resolved"),
    ("ignored", "Ignored"),
    ("all", "All"),
];

const SORTS: [(&str, &str); 4] = [
    ("date", "Last seen"),
    ("new", "First seen"),
    ("freq", "Events"),
    ("user", "Users"),
];

impl ListQuery {
    fn tab(&self) -> &str {
        if self.status.is_empty() {
            "unresolved"
        } else {
            &self.status
        }
    }

    fn sort(&self) -> &str {
        if self.sort.is_empty() {
            "date"
        } else {
            &self.sort
        }
    }

    fn spark(&self) -> &str {
        if self.spark.is_empty() {
            "24h"
        } else {
            &self.spark
        }
    }

    /// This list's URL with some parameters changed; defaults and the cursor are left out.
    pub fn url(&self, change: &[(&str, &str)]) -> String {
        let get = |key: &str, own: &str| -> String {
            change
                .iter()
                .find(|(k, _)| *k == key)
                .map_or(own.to_string(), |(_, v)| v.to_string())
        };
        let pairs = [
            ("project", get("project", &self.project), ""),
            ("query", get("query", &self.query), ""),
            ("status", get("status", self.tab()), "unresolved"),
            ("sort", get("sort", self.sort()), "date"),
            ("spark", get("spark", self.spark()), "24h"),
            ("cursor", get("cursor", ""), ""),
        ];
        let mut serializer = form_urlencoded::Serializer::new(String::new());
        for (key, value, default) in &pairs {
            if !value.is_empty() && value != default {
                serializer.append_pair(key, value);
            }
        }
        let query = serializer.finish();
        if query.is_empty() {
            "/issues".to_string()
        } else {
            format!("/issues?{query}")
        }
    }
}

/// GET /issues
pub async fn list(
    State(ui): State<WebUi>,
    Query(query): Query<ListQuery>,
    user: SignedIn,
) -> Result<Response, UiError> {
    let project = (!query.project.is_empty()).then_some(query.project.as_str());
    let result = db::one_json(
        &ui.pool,
        "SELECT crashcache.ui_issue_list($1, $2, $3, $4, $5, $6, 25)",
        &[
            &project,
            &query.query,
            &query.tab(),
            &query.sort(),
            &query.cursor,
            &query.spark(),
        ],
    )
    .await;
    // A search that does not parse is shown above the list, with the search box to mend it.
    let (status, list, problem) = match result {
        Ok(list) => (StatusCode::OK, list, None),
        Err(UiError::BadRequest(message)) => (StatusCode::BAD_REQUEST, Value::Null, Some(message)),
        Err(other) => return Err(other),
    };
    let title = match project {
        Some(slug) => format!("Issues · {slug}"),
        None => "Issues".to_string(),
    };
    let body = list_body(&user, &query, &list, problem.as_deref());
    Ok((
        status,
        page_in(&user, &title, Section::Issues, project, body),
    )
        .into_response())
}

fn list_body(user: &SignedIn, query: &ListQuery, list: &Value, problem: Option<&str>) -> Markup {
    let items = list["items"].as_array().cloned().unwrap_or_default();
    let all_projects = query.project.is_empty();
    let here = query.url(&[("cursor", &query.cursor)]);
    let prev = list["prev"].as_str().map(|c| query.url(&[("cursor", c)]));
    let next = list["next"].as_str().map(|c| query.url(&[("cursor", c)]));
    html! {
        div.page-header {
            h1 { "Issues" @if !all_projects { span.muted { " · " (query.project) } } }
        }
        form.search role="search" method="get" action="/issues" {
            @if !all_projects { input type="hidden" name="project" value=(query.project); }
            input type="hidden" name="status" value=(query.tab());
            input type="hidden" name="sort" value=(query.sort());
            input type="hidden" name="spark" value=(query.spark());
            label.visually-hidden for="query" { "Search" }
            input #query type="search" name="query" value=(query.query) data-shortcut="/"
                placeholder="Search: level:error release:1.2 environment:production browser:Firefox free text";
            button.button type="submit" { "Search" }
        }
        nav.tabs aria-label="Status" {
            @for (id, label) in TABS {
                a href=(query.url(&[("status", id)])) aria-current=[(query.tab() == id).then_some("page")] { (label) }
            }
            span.spacer {}
            span.muted.small { "Sort" }
            @for (id, label) in SORTS {
                a.chip href=(query.url(&[("sort", id)])) aria-current=[(query.sort() == id).then_some("true")] { (label) }
            }
            span.muted.small { "Graph" }
            @for (id, label) in [("24h", "24 h"), ("14d", "14 d")] {
                a.chip href=(query.url(&[("spark", id)])) aria-current=[(query.spark() == id).then_some("true")] { (label) }
            }
        }
        @if let Some(problem) = problem {
            p.alert.error role="alert" { (problem) }
        } @else if items.is_empty() {
            (empty_state(if query.query.is_empty() { "No issues here. Events your SDKs send become issues in a moment." } else { "No issue matches this search." }))
        } @else {
            form #bulk method="post" action="/issues/bulk" {
                (csrf_field(user))
                input type="hidden" name="project" value=(query.project);
                input type="hidden" name="back" value=(here);
                div.bulk-bar {
                    label.check { input type="checkbox" data-select-all="ids" aria-label="Select all on this page"; }
                    button.button.small type="submit" name="action" value="resolve" { "Resolve" }
                    button.button.small type="submit" name="action" value="ignore" { "Ignore" }
                    button.button.small type="submit" name="action" value="unresolve" { "Reopen" }
                    span.muted.small { (items.len()) " on this page" }
                }
                table.list.issues {
                    thead {
                        tr {
                            th.check { span.visually-hidden { "Select" } }
                            th { "Issue" }
                            th { @if query.spark() == "14d" { "14 days" } @else { "24 hours" } }
                            th.num { "Events" }
                            th.num { "Users" }
                        }
                    }
                    tbody {
                        @for issue in &items { (issue_row(issue, all_projects)) }
                    }
                }
            }
            (pagination(prev.as_deref(), next.as_deref()))
        }
    }
}

fn issue_row(issue: &Value, all_projects: bool) -> Markup {
    let id = issue["id"].as_str().unwrap_or("");
    let text = |key: &str| issue[key].as_str().unwrap_or("").to_string();
    html! {
        tr {
            td.check {
                input type="checkbox" name="ids" value=(id) aria-label=(format!("Select {}", text("shortId")));
            }
            td.issue data-label="Issue" {
                a.title href=(format!("/issues/{id}")) { (text("title")) }
                div.meta {
                    (level_badge(&text("level")))
                    @if text("status") != "unresolved" { " " (status_badge(&text("status"))) }
                    " " span.short-id { (text("shortId")) }
                    @if all_projects { " · " a.muted href=(format!("/issues?project={}", issue["project"]["slug"].as_str().unwrap_or(""))) { (issue["project"]["slug"].as_str().unwrap_or("")) } }
                    @if !text("culprit").is_empty() { " · " span.culprit { (text("culprit")) } }
                    " · " (time_ago(issue["lastSeen"].as_str())) " – first " (time_ago(issue["firstSeen"].as_str()))
                }
            }
            td.spark-cell data-label="Trend" { (sparkline(&counts(&issue["spark"]))) }
            td.num data-label="Events" { (count(issue["count"].as_str().and_then(|c| c.parse().ok()).unwrap_or(0))) }
            td.num data-label="Users" { (count(issue["userCount"].as_i64().unwrap_or(0))) }
        }
    }
}

/// The bulk form.
#[derive(Debug, Deserialize)]
pub struct BulkForm {
    #[serde(default)]
    action: String,
    #[serde(default)]
    ids: Vec<String>,
    #[serde(default)]
    project: String,
    #[serde(default)]
    back: String,
}

/// POST /issues/bulk: resolve, ignore or reopen the issues ticked, then back to the list.
pub async fn bulk(State(ui): State<WebUi>, form: CsrfForm<BulkForm>) -> Result<Response, UiError> {
    let CsrfForm { user, form } = form;
    let project = (!form.project.is_empty()).then_some(form.project.as_str());
    db::one_value::<i32>(
        &ui.pool,
        "SELECT crashcache.ui_bulk_update_issues($1, $2, $3, $4)",
        &[&user.user_id, &project, &form.ids, &form.action],
    )
    .await?;
    Ok(see_other(local_path(&form.back).unwrap_or("/issues")))
}

#[cfg(test)]
mod tests {
    use super::ListQuery;

    #[test]
    fn urls_keep_what_is_not_changed() {
        let query = ListQuery {
            project: "web".into(),
            query: "level:error a&b".into(),
            sort: "freq".into(),
            ..ListQuery::default()
        };
        assert_eq!(
            query.url(&[]),
            "/issues?project=web&query=level%3Aerror+a%26b&sort=freq"
        );
        assert_eq!(
            query.url(&[("status", "all"), ("cursor", "1:2:0")]),
            "/issues?project=web&query=level%3Aerror+a%26b&status=all&sort=freq&cursor=1%3A2%3A0"
        );
        assert_eq!(ListQuery::default().url(&[]), "/issues");
    }
}
