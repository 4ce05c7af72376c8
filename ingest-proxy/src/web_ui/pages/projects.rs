//! The projects: the list (GET /projects), a project with its DSNs, keys and setup snippets
//! (GET /projects/{slug}), and what admins do to them: create one (GET and POST
//! /projects/new), add a key (POST /projects/{slug}/keys), revoke one (POST
//! /projects/{slug}/keys/revoke).

use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use maud::{html, Markup};
use serde::Deserialize;
use serde_json::Value;

use crate::web_ui::csrf::CsrfForm;
use crate::web_ui::error::UiError;
use crate::web_ui::layout::{
    self, copy_button, count, csrf_field, empty_state, page, page_in, sparkline, time_ago, Section,
};
use crate::web_ui::session::{see_other, SignedIn};
use crate::web_ui::{db, snippets, WebUi};

/// The counts of a JSON array of numbers (a trend or sparkline).
pub fn counts(value: &Value) -> Vec<i64> {
    value
        .as_array()
        .map(|items| items.iter().map(|n| n.as_i64().unwrap_or(0)).collect())
        .unwrap_or_default()
}

fn text<'a>(value: &'a Value, key: &str) -> &'a str {
    value[key].as_str().unwrap_or("")
}

/// GET /projects
pub async fn list(State(ui): State<WebUi>, user: SignedIn) -> Result<Response, UiError> {
    let projects = db::one_json(&ui.pool, "SELECT crashcache.ui_projects()", &[]).await?;
    let projects = projects.as_array().cloned().unwrap_or_default();
    let body = html! {
        div.page-header {
            h1 { "Projects" }
            @if user.is_admin { a.button.primary href="/projects/new" { "New project" } }
        }
        @if projects.is_empty() {
            (empty_state("No project yet. An admin creates one here, or with `ingest-proxy project create`."))
        } @else {
            table.list.projects {
                thead { tr { th { "Project" } th { "DSN" } th.num { "Unresolved" } th.num { "Events" } th { "Last 24 h" } th { "Last seen" } } }
                tbody {
                    @for p in &projects {
                        tr {
                            td data-label="Project" {
                                a.strong href=(format!("/projects/{}", text(p, "slug"))) { (text(p, "name")) }
                                div.muted.small { (text(p, "slug")) }
                            }
                            td data-label="DSN" {
                                @if let Some(dsn) = p["dsn"].as_str() {
                                    code.dsn.truncate { (dsn) } " " (copy_button(dsn))
                                } @else { span.muted { "no active key" } }
                            }
                            td.num data-label="Unresolved" {
                                a href=(format!("/issues?project={}", text(p, "slug"))) { (count(p["unresolved_issues"].as_i64().unwrap_or(0))) }
                            }
                            td.num data-label="Events" { (count(p["events"].as_i64().unwrap_or(0))) }
                            td data-label="Last 24 h" { (sparkline(&counts(&p["trend"]))) }
                            td data-label="Last seen" { (time_ago(p["last_seen"].as_str())) }
                        }
                    }
                }
            }
        }
    };
    Ok(page(&user, "Projects", Section::Projects, body).into_response())
}

/// GET /projects/{slug}
pub async fn show(
    State(ui): State<WebUi>,
    Path(slug): Path<String>,
    user: SignedIn,
) -> Result<Response, UiError> {
    let project = db::one_json(&ui.pool, "SELECT crashcache.ui_project($1)", &[&slug]).await?;
    let slug = text(&project, "slug").to_string();
    let keys = project["keys"].as_array().cloned().unwrap_or_default();
    let first_dsn = keys.first().and_then(|k| k["dsn"].as_str());
    let body = html! {
        div.page-header {
            div {
                h1 { (text(&project, "name")) }
                p.muted { "Slug " code { (slug) } " · id " (project["id"]) " · created " (time_ago(project["created"].as_str())) }
            }
            a.button href=(format!("/issues?project={slug}")) { "Issues (" (count(project["unresolved_issues"].as_i64().unwrap_or(0))) " unresolved)" }
        }
        section.card {
            h2 { "Events, last 24 hours" }
            p { (sparkline(&counts(&project["trend"]))) " " span.muted { (count(project["events"].as_i64().unwrap_or(0))) " events in all" } }
        }
        section.card {
            div.section-header {
                h2 { "Client keys (DSN)" }
                @if user.is_admin {
                    form method="post" action=(format!("/projects/{slug}/keys")) {
                        (csrf_field(&user))
                        button.button type="submit" { "New key" }
                    }
                }
            }
            @if keys.is_empty() {
                (empty_state("No active key: SDKs cannot send to this project. An admin can add one."))
            } @else {
                table.list.keys {
                    thead { tr { th { "DSN" } th { "Created" } @if user.is_admin { th { span.visually-hidden { "Actions" } } } } }
                    tbody {
                        @for key in &keys {
                            tr {
                                td data-label="DSN" { code.dsn { (text(key, "dsn")) } " " (copy_button(text(key, "dsn"))) }
                                td data-label="Created" { (time_ago(key["created"].as_str())) }
                                @if user.is_admin {
                                    td.actions {
                                        form method="post" action=(format!("/projects/{slug}/keys/revoke")) data-confirm="Revoke this key? SDKs using it will be refused." {
                                            (csrf_field(&user))
                                            input type="hidden" name="public_key" value=(text(key, "public_key"));
                                            button.button.danger.small type="submit" { "Revoke" }
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
                p.muted.small { "To rotate a key: add a new one, deploy it, then revoke the old one." }
            }
        }
        @if let Some(dsn) = first_dsn { (setup(dsn)) }
    };
    Ok(page_in(
        &user,
        text(&project, "name"),
        Section::Projects,
        Some(&slug),
        body,
    )
    .into_response())
}

/// The setup snippets, one tab each (radio buttons: they work without script).
fn setup(dsn: &str) -> Markup {
    let snippets = snippets::for_dsn(dsn);
    html! {
        section.card {
            h2 { "Set up an SDK" }
            div.tabs-radio {
                @for (i, s) in snippets.iter().enumerate() {
                    input type="radio" name="snippet" id=(format!("snippet-{}", s.id)) checked[i == 0];
                    label for=(format!("snippet-{}", s.id)) { (s.label) }
                }
                @for s in &snippets {
                    div.snippet id=(format!("snippet-{}-panel", s.id)) {
                        p { code { (s.install) } " " (copy_button(s.install)) }
                        div.code-block {
                            (copy_button(&s.code))
                            pre { code { (s.code) } }
                        }
                    }
                }
            }
        }
    }
}

/// GET /projects/new (admins).
pub async fn new_form(user: SignedIn) -> Result<Response, UiError> {
    if !user.is_admin {
        return Err(UiError::Forbidden(
            "Only an admin may create projects.".to_string(),
        ));
    }
    Ok(page(
        &user,
        "New project",
        Section::Projects,
        new_project_form(&user, None),
    )
    .into_response())
}

fn new_project_form(user: &SignedIn, message: Option<&str>) -> Markup {
    html! {
        div.page-header { h1 { "New project" } }
        section.card.narrow {
            @if let Some(message) = message { p.alert.error role="alert" { (message) } }
            form.stack method="post" action="/projects/new" {
                (csrf_field(user))
                label for="name" { "Name" }
                input #name type="text" name="name" required maxlength="100" autofocus;
                p.muted.small { "It gets a slug from its name and one key; the next page shows its DSN." }
                button.button.primary type="submit" { "Create project" }
            }
        }
    }
}

/// The new project form.
#[derive(Debug, Deserialize)]
pub struct NewProject {
    #[serde(default)]
    name: String,
}

/// POST /projects/new
pub async fn create(
    State(ui): State<WebUi>,
    form: CsrfForm<NewProject>,
) -> Result<Response, UiError> {
    let CsrfForm { user, form } = form;
    match db::one_json(
        &ui.pool,
        "SELECT crashcache.ui_create_project($1, $2)",
        &[&user.user_id, &form.name],
    )
    .await
    {
        Ok(project) => Ok(see_other(&format!("/projects/{}", text(&project, "slug")))),
        Err(UiError::BadRequest(message)) => Ok((
            axum::http::StatusCode::BAD_REQUEST,
            page(
                &user,
                "New project",
                Section::Projects,
                new_project_form(&user, Some(&message)),
            ),
        )
            .into_response()),
        Err(other) => Err(other),
    }
}

/// POST /projects/{slug}/keys: a new key.
pub async fn create_key(
    State(ui): State<WebUi>,
    Path(slug): Path<String>,
    form: CsrfForm<layout::NoFields>,
) -> Result<Response, UiError> {
    db::one_value::<String>(
        &ui.pool,
        "SELECT crashcache.ui_create_project_key($1, $2)",
        &[&form.user.user_id, &slug],
    )
    .await?;
    Ok(see_other(&format!("/projects/{slug}")))
}

/// The revoke form.
#[derive(Debug, Deserialize)]
pub struct RevokeKey {
    public_key: String,
}

/// POST /projects/{slug}/keys/revoke
pub async fn revoke_key(
    State(ui): State<WebUi>,
    Path(slug): Path<String>,
    form: CsrfForm<RevokeKey>,
) -> Result<Response, UiError> {
    db::rows(
        &ui.pool,
        "SELECT crashcache.ui_revoke_project_key($1, $2, $3)",
        &[&form.user.user_id, &slug, &form.form.public_key],
    )
    .await?;
    Ok(see_other(&format!("/projects/{slug}")))
}
