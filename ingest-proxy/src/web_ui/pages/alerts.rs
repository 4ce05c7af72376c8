//! The alert settings (GET /alerts?project=): channels with their last delivery and "Send a
//! test", rules, and the latest deliveries with their status and answer; and what admins do to
//! them: create or delete a channel (POST /alerts/channels, /alerts/channels/{id}/delete), send
//! a test (POST /alerts/channels/{id}/test, anyone signed in), create, enable, disable or delete
//! a rule (POST /alerts/rules, /alerts/rules/{id}/enabled, /alerts/rules/{id}/delete). All of
//! it through the ui_alert_* functions (pg_crashcache/sql/alerts.sql), which check every value.

use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Response};
use maud::{html, Markup};
use serde::Deserialize;
use serde_json::{json, Map, Value};
use tokio_postgres::types::{FromSqlOwned, ToSql};

use crate::web_ui::csrf::CsrfForm;
use crate::web_ui::error::UiError;
use crate::web_ui::layout::{csrf_field, empty_state, page_in, time_ago, Section};
use crate::web_ui::session::{see_other, SignedIn};
use crate::web_ui::{db, WebUi};

const KINDS: [(&str, &str); 7] = [
    ("slack", "Slack incoming webhook"),
    ("webhook", "Webhook (signed JSON)"),
    ("email", "Email"),
    ("discord", "Discord webhook"),
    ("mattermost", "Mattermost incoming webhook"),
    ("teams", "Microsoft Teams workflow"),
    ("ntfy", "ntfy topic"),
];
const TRIGGERS: [(&str, &str); 8] = [
    ("new_issue", "A new issue"),
    ("regression", "A resolved issue comes back"),
    ("unignored", "An ignored issue comes back"),
    (
        "issue_volume",
        "An issue has N events or users in M minutes",
    ),
    (
        "project_volume",
        "The project has N events or users in M minutes",
    ),
    ("cron_failed", "A cron check-in failed"),
    ("cron_missed", "A cron check-in is missed"),
    (
        "crash_free_rate",
        "A release's crash-free rate falls below a threshold",
    ),
];
const LEVELS: [&str; 5] = ["debug", "info", "warning", "error", "fatal"];

/// `?project=<slug>`; none: every project's.
#[derive(Debug, Deserialize)]
pub struct Which {
    #[serde(default)]
    project: Option<String>,
}

fn text<'a>(value: &'a Value, key: &str) -> &'a str {
    value[key].as_str().unwrap_or("")
}

/// The project's id for a slug (404 when there is none), or None for every project.
async fn project_id(ui: &WebUi, slug: Option<&str>) -> Result<Option<i32>, UiError> {
    let Some(slug) = slug.filter(|slug| !slug.is_empty()) else {
        return Ok(None);
    };
    let project = db::one_json(&ui.pool, "SELECT crashcache.ui_project($1)", &[&slug]).await?;
    let id = project["id"].as_i64().and_then(|id| i32::try_from(id).ok());
    id.map(Some)
        .ok_or_else(|| UiError::Internal(format!("ui_project({slug}) has no id")))
}

/// GET /alerts
pub async fn show(
    State(ui): State<WebUi>,
    Query(which): Query<Which>,
    user: SignedIn,
) -> Result<Response, UiError> {
    let slug = which.project.filter(|slug| !slug.is_empty());
    let project = project_id(&ui, slug.as_deref()).await?;
    let channels = db::one_json(
        &ui.pool,
        "SELECT crashcache.ui_alert_channels($1)",
        &[&project],
    )
    .await?;
    let rules = db::one_json(
        &ui.pool,
        "SELECT crashcache.ui_alert_rules($1)",
        &[&project],
    )
    .await?;
    let deliveries = db::one_json(
        &ui.pool,
        "SELECT crashcache.ui_alert_deliveries(NULL, 200)",
        &[],
    )
    .await?;
    let channels = channels.as_array().cloned().unwrap_or_default();
    let rules = rules.as_array().cloned().unwrap_or_default();
    // The project's deliveries: those of the channels it shows.
    let shown: Vec<i64> = channels.iter().filter_map(|c| c["id"].as_i64()).collect();
    let deliveries: Vec<Value> = deliveries
        .as_array()
        .cloned()
        .unwrap_or_default()
        .into_iter()
        .filter(|d| {
            d["channel_id"]
                .as_i64()
                .is_some_and(|id| shown.contains(&id))
        })
        .take(50)
        .collect();
    let back = slug.clone().unwrap_or_default();
    let body = html! {
        div.page-header {
            div {
                h1 { "Alerts" }
                p.muted { "Where the tracker tells the team when something breaks, and when." }
            }
        }
        nav.card aria-label="Projects" {
            "Project: "
            a href="/alerts" aria-current=[slug.is_none().then_some("page")] { "all" }
            @for p in &user.projects {
                " · "
                a href=(format!("/alerts?project={}", p.slug)) aria-current=[(slug.as_deref() == Some(p.slug.as_str())).then_some("page")] { (p.name) }
            }
        }
        section.card {
            h2 { "Channels" }
            (channel_table(&user, &channels, &back))
            @if user.is_admin { (channel_form(&user, project, &back)) }
        }
        section.card {
            h2 { "Rules" }
            (rule_table(&user, &rules, &channels, &back))
            @if user.is_admin {
                @if project.is_some() { (rule_form(&user, project, &channels, &back)) }
                @else { p.muted.small { "Choose a project above to add a rule to it." } }
            }
        }
        section.card {
            h2 { "Recent deliveries" }
            (delivery_table(&deliveries))
        }
    };
    Ok(page_in(&user, "Alerts", Section::Alerts, slug.as_deref(), body).into_response())
}

/// Where a channel sends, without what is secret: a webhook URL's path often is the secret.
fn target(channel: &Value) -> String {
    let config = &channel["config"];
    if text(channel, "kind") == "email" {
        return match &config["to"] {
            Value::Array(to) => to
                .iter()
                .filter_map(Value::as_str)
                .collect::<Vec<_>>()
                .join(", "),
            other => other.as_str().unwrap_or("").to_string(),
        };
    }
    match reqwest::Url::parse(text(config, "url")) {
        Ok(url) => format!("{}/…", url.origin().ascii_serialization()),
        Err(_) => "(no valid URL)".to_string(),
    }
}

fn last_result(channel: &Value) -> Markup {
    let status = text(channel, "last_status");
    html! {
        @if status.is_empty() { span.muted { "never used" } }
        @else {
            span class=(format!("badge delivery-{status}")) { (status) }
            @if let Some(code) = channel["last_http_status"].as_i64() { " HTTP " (code) }
            " " (time_ago(channel["last_attempt_at"].as_str()))
            @if let Some(error) = channel["last_error"].as_str() { div.muted.small { (error) } }
        }
    }
}

fn channel_table(user: &SignedIn, channels: &[Value], back: &str) -> Markup {
    html! {
        @if channels.is_empty() { (empty_state("No channel yet.")) }
        @else {
            table.list.channels {
                thead { tr { th { "Channel" } th { "Sends to" } th { "Last delivery" } th { span.visually-hidden { "Actions" } } } }
                tbody {
                    @for c in channels {
                        @let id = c["id"].as_i64().unwrap_or(0);
                        tr {
                            td data-label="Channel" { strong { (text(c, "name")) } div.muted.small { (text(c, "kind")) @if c["project_id"].is_null() { " · any project" } } }
                            td data-label="Sends to" { code { (target(c)) } }
                            td data-label="Last delivery" { (last_result(c)) }
                            td.actions {
                                form method="post" action=(format!("/alerts/channels/{id}/test")) {
                                    (posted_by(user, back))
                                    button.button.small type="submit" { "Send a test" }
                                }
                                @if user.is_admin {
                                    form method="post" action=(format!("/alerts/channels/{id}/delete")) data-confirm="Delete this channel, its links to rules and its deliveries?" {
                                        (posted_by(user, back))
                                        button.button.small.danger type="submit" { "Delete" }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}

fn channel_form(user: &SignedIn, project: Option<i32>, back: &str) -> Markup {
    let fields = html! {
        label for="channel-kind" { "Kind" }
        select #channel-kind name="kind" {
            @for (kind, label) in KINDS { option value=(kind) { (label) } }
        }
        label for="channel-name" { "Name" }
        input #channel-name type="text" name="name" required maxlength="100";
        label for="channel-url" { "URL (webhooks, chat services, ntfy topic)" }
        input #channel-url type="url" name="url" placeholder="https://hooks.slack.com/services/…";
        label for="channel-to" { "Recipients (email; comma-separated)" }
        input #channel-to type="text" name="to" placeholder="oncall@example.com";
        label for="channel-token" { "ntfy access token (optional)" }
        input #channel-token type="password" name="token" autocomplete="off";
        p.muted.small { "A webhook gets a signing secret of its own (X-Crashcache-Signature, see the README)." @if project.is_none() { " Made here, the channel serves every project." } }
        button.button.primary type="submit" { "Create channel" }
    };
    creation_form(
        "New channel",
        "/alerts/channels",
        user,
        project,
        back,
        fields,
    )
}

/// A form creating a channel or rule: `summary` opens it, it posts to `action` with the
/// hidden fields and the project (none: every project), then `fields`.
fn creation_form(
    summary: &str,
    action: &str,
    user: &SignedIn,
    project: Option<i32>,
    back: &str,
    fields: Markup,
) -> Markup {
    html! {
        details {
            summary { (summary) }
            form.stack method="post" action=(action) {
                (posted_by(user, back))
                @if let Some(project) = project { input type="hidden" name="project_id" value=(project); }
                (fields)
            }
        }
    }
}

/// The hidden fields every form of the page carries: the session's CSRF token and the page
/// to go back to.
fn posted_by(user: &SignedIn, back: &str) -> Markup {
    html! {
        (csrf_field(user))
        input type="hidden" name="back" value=(back);
    }
}

fn summary_of(rule: &Value) -> String {
    let mut parts: Vec<String> = rule["params"]
        .as_object()
        .map(|params| params.iter().map(|(k, v)| format!("{k} {v}")).collect())
        .unwrap_or_default();
    if let Some(envs) = rule["environments"].as_array() {
        let envs: Vec<&str> = envs.iter().filter_map(Value::as_str).collect();
        parts.push(format!("in {}", envs.join(", ")));
    }
    if let Some(level) = rule["min_level"].as_str() {
        parts.push(format!("level ≥ {level}"));
    }
    if let Some(tags) = rule["tags"].as_object().filter(|tags| !tags.is_empty()) {
        parts.extend(
            tags.iter()
                .map(|(k, v)| format!("{k}={}", v.as_str().unwrap_or(""))),
        );
    }
    parts.push(format!("cooldown {} min", rule["cooldown_minutes"]));
    parts.join(" · ")
}

fn rule_table(user: &SignedIn, rules: &[Value], channels: &[Value], back: &str) -> Markup {
    let name_of = |id: &Value| {
        channels
            .iter()
            .find(|c| &c["id"] == id)
            .map_or(format!("#{id}"), |c| text(c, "name").to_string())
    };
    html! {
        @if rules.is_empty() { (empty_state("No rule yet: nothing alerts.")) }
        @else {
            table.list.rules {
                thead { tr { th { "Rule" } th { "When" } th { "Channels" } th { "State" } @if user.is_admin { th { span.visually-hidden { "Actions" } } } } }
                tbody {
                    @for r in rules {
                        @let id = r["id"].as_i64().unwrap_or(0);
                        @let enabled = r["enabled"].as_bool().unwrap_or(false);
                        tr {
                            td data-label="Rule" { strong { (text(r, "name")) } div.muted.small { (text(r, "trigger")) } }
                            td data-label="When" { (summary_of(r)) }
                            td data-label="Channels" {
                                (r["channel_ids"].as_array().map(|ids| ids.iter().map(name_of).collect::<Vec<_>>().join(", ")).unwrap_or_default())
                            }
                            td data-label="State" { @if enabled { span.badge { "enabled" } } @else { span.badge.muted { "disabled" } } }
                            @if user.is_admin {
                                td.actions {
                                    form method="post" action=(format!("/alerts/rules/{id}/enabled")) {
                                        (posted_by(user, back))
                                        input type="hidden" name="enabled" value=(if enabled { "false" } else { "true" });
                                        button.button.small type="submit" { @if enabled { "Disable" } @else { "Enable" } }
                                    }
                                    form method="post" action=(format!("/alerts/rules/{id}/delete")) data-confirm="Delete this rule?" {
                                        (posted_by(user, back))
                                        button.button.small.danger type="submit" { "Delete" }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}

fn rule_form(user: &SignedIn, project: Option<i32>, channels: &[Value], back: &str) -> Markup {
    let fields = html! {
        label for="rule-name" { "Name" }
        input #rule-name type="text" name="name" required maxlength="100";
        label for="rule-trigger" { "When" }
        select #rule-trigger name="trigger" {
            @for (trigger, label) in TRIGGERS { option value=(trigger) { (label) } }
        }
        fieldset {
            legend { "For volume, crons and crash-free rate" }
            label for="rule-count" { "N" } " "
            input #rule-count type="number" name="count" min="1";
            select name="count_of" aria-label="N of" { option value="events" { "events" } option value="users" { "users" } }
            " in " label for="rule-minutes" { "M minutes" } " "
            input #rule-minutes type="number" name="minutes" min="1";
            label for="rule-monitor" { "Monitor slug (empty: every monitor)" }
            input #rule-monitor type="text" name="monitor";
            label for="rule-threshold" { "Crash-free threshold (%), minimum sessions" }
            input #rule-threshold type="number" name="threshold" min="0" max="100" step="0.1";
            input type="number" name="min_sessions" min="1" aria-label="Minimum sessions";
        }
        label for="rule-environments" { "Environments (comma-separated; empty: any)" }
        input #rule-environments type="text" name="environments" placeholder="production";
        label for="rule-level" { "Minimum level" }
        select #rule-level name="min_level" {
            option value="" { "any" }
            @for level in LEVELS { option value=(level) { (level) } }
        }
        label for="rule-cooldown" { "Cooldown (minutes): one message per issue in it, what it holds back counted into the next" }
        input #rule-cooldown type="number" name="cooldown_minutes" min="0" value="60";
        fieldset {
            legend { "Channels" }
            @for c in channels {
                label.check { input type="checkbox" name="channel_ids" value=(c["id"]); " " (text(c, "name")) }
            }
        }
        button.button.primary type="submit" { "Create rule" }
    };
    creation_form("New rule", "/alerts/rules", user, project, back, fields)
}

fn delivery_table(deliveries: &[Value]) -> Markup {
    html! {
        @if deliveries.is_empty() { (empty_state("Nothing sent yet.")) }
        @else {
            table.list.deliveries {
                thead { tr { th { "Fired" } th { "Alert" } th { "Channel" } th { "Status" } th { "Answer" } } }
                tbody {
                    @for d in deliveries {
                        tr {
                            td data-label="Fired" { (time_ago(d["fired_at"].as_str())) }
                            td data-label="Alert" {
                                @if let Some(issue) = d["issue_id"].as_i64() { a href=(format!("/issues/{issue}")) { (text(d, "title")) } }
                                @else { (text(d, "title")) }
                                div.muted.small { (text(d, "trigger")) @if let Some(rule) = d["rule"].as_str() { " · " (rule) } }
                            }
                            td data-label="Channel" { (text(d, "channel")) }
                            td data-label="Status" {
                                span class=(format!("badge delivery-{}", text(d, "state"))) { (text(d, "state")) }
                                " " span.muted.small { (d["attempts"]) " attempt(s)" }
                                @if let Some(code) = d["last_http_status"].as_i64() { div.small { "HTTP " (code) } }
                            }
                            td data-label="Answer" { span.small { (cut(text(d, "last_response"), 300)) } }
                        }
                    }
                }
            }
        }
    }
}

fn cut(text: &str, max: usize) -> String {
    match text.char_indices().nth(max) {
        Some((end, _)) => format!("{}…", &text[..end]),
        None => text.to_string(),
    }
}

/// Where a form goes back to.
fn back_to(back: &str) -> Response {
    if back.is_empty() {
        see_other("/alerts")
    } else {
        let mut url = "/alerts?project=".to_string();
        url.extend(form_urlencoded::byte_serialize(back.as_bytes()));
        see_other(&url)
    }
}

fn admin_only(user: &SignedIn) -> Result<(), UiError> {
    if user.is_admin {
        Ok(())
    } else {
        Err(UiError::Forbidden(
            "Only an admin may change alert settings.".to_string(),
        ))
    }
}

/// The fields of a form only an admin may post (403 for anyone else).
fn admins<T>(posted: CsrfForm<T>) -> Result<T, UiError> {
    admin_only(&posted.user)?;
    Ok(posted.form)
}

/// The parameters of a SQL call.
type Params<'a> = &'a [&'a (dyn ToSql + Sync)];

/// Makes the ui_alert_* call a form asks for (its answer, a `T`, unused), then goes back to
/// the page the form came from.
async fn call_then_back<T: FromSqlOwned>(
    ui: &WebUi,
    back: &str,
    sql: &str,
    params: Params<'_>,
) -> Result<Response, UiError> {
    db::one_value::<T>(&ui.pool, sql, params).await?;
    Ok(back_to(back))
}

/// The fields every form carries.
#[derive(Debug, Deserialize)]
pub struct Back {
    #[serde(default)]
    back: String,
}

/// The new channel form.
#[derive(Debug, Deserialize)]
pub struct NewChannel {
    #[serde(default)]
    back: String,
    #[serde(default)]
    project_id: Option<i32>,
    kind: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    url: String,
    #[serde(default)]
    to: String,
    #[serde(default)]
    token: String,
}

/// The config a new channel's form describes (the database checks it).
fn channel_config(form: &NewChannel) -> Value {
    if form.kind == "email" {
        let to: Vec<&str> = form
            .to
            .split(',')
            .map(str::trim)
            .filter(|a| !a.is_empty())
            .collect();
        return json!({ "to": to });
    }
    let mut config = Map::new();
    config.insert("url".into(), json!(form.url.trim()));
    if form.kind == "ntfy" && !form.token.trim().is_empty() {
        config.insert("token".into(), json!(form.token.trim()));
    }
    Value::Object(config)
}

/// POST /alerts/channels (admins)
pub async fn create_channel(
    State(ui): State<WebUi>,
    form: CsrfForm<NewChannel>,
) -> Result<Response, UiError> {
    let form = admins(form)?;
    let sql = "SELECT crashcache.ui_alert_channel_create($1, $2, $3, $4)";
    let config = channel_config(&form);
    let params: Params = &[&form.project_id, &form.name, &form.kind, &config];
    call_then_back::<Value>(&ui, &form.back, sql, params).await
}

/// POST /alerts/channels/{id}/test (anyone signed in)
pub async fn send_test(
    State(ui): State<WebUi>,
    Path(id): Path<i32>,
    form: CsrfForm<Back>,
) -> Result<Response, UiError> {
    let CsrfForm { user, form } = form;
    let sql = "SELECT crashcache.ui_alert_send_test($1, $2)";
    call_then_back::<i64>(&ui, &form.back, sql, &[&id, &user.name]).await
}

/// POST /alerts/channels/{id}/delete (admins)
pub async fn delete_channel(
    State(ui): State<WebUi>,
    Path(id): Path<i32>,
    form: CsrfForm<Back>,
) -> Result<Response, UiError> {
    let form = admins(form)?;
    let sql = "SELECT crashcache.ui_alert_channel_delete($1)";
    call_then_back::<bool>(&ui, &form.back, sql, &[&id]).await
}

/// The new rule form.
#[derive(Debug, Deserialize)]
pub struct NewRule {
    #[serde(default)]
    back: String,
    #[serde(default)]
    project_id: Option<i32>,
    #[serde(default)]
    name: String,
    trigger: String,
    #[serde(default)]
    count: String,
    #[serde(default)]
    count_of: String,
    #[serde(default)]
    minutes: String,
    #[serde(default)]
    monitor: String,
    #[serde(default)]
    threshold: String,
    #[serde(default)]
    min_sessions: String,
    #[serde(default)]
    environments: String,
    #[serde(default)]
    min_level: String,
    #[serde(default)]
    cooldown_minutes: String,
    #[serde(default)]
    channel_ids: Vec<i32>,
}

/// A number field: empty is none; anything else must be a number.
fn number(name: &str, text: &str) -> Result<Option<Value>, UiError> {
    let text = text.trim();
    if text.is_empty() {
        return Ok(None);
    }
    let value: f64 = text
        .parse()
        .map_err(|_| UiError::BadRequest(format!("{name} must be a number, not '{text}'")))?;
    Ok(Some(if value.fract() == 0.0 && value.abs() < 1e15 {
        json!(value as i64)
    } else {
        json!(value)
    }))
}

/// The body of `ui_alert_rule_create` a form describes; the database checks it.
fn rule_body(form: &NewRule) -> Result<Value, UiError> {
    let mut params = Map::new();
    match form.trigger.as_str() {
        "issue_volume" | "project_volume" => {
            let of = if form.count_of == "users" {
                "users"
            } else {
                "events"
            };
            if let Some(n) = number("N", &form.count)? {
                params.insert(of.into(), n);
            }
            if let Some(m) = number("M minutes", &form.minutes)? {
                params.insert("minutes".into(), m);
            }
        }
        "cron_failed" | "cron_missed" if !form.monitor.trim().is_empty() => {
            params.insert("monitor".into(), json!(form.monitor.trim()));
        }
        "crash_free_rate" => {
            for (key, name, value) in [
                ("threshold", "the threshold", &form.threshold),
                ("min_sessions", "the minimum sessions", &form.min_sessions),
                ("minutes", "M minutes", &form.minutes),
            ] {
                if let Some(v) = number(name, value)? {
                    params.insert(key.into(), v);
                }
            }
        }
        _ => {}
    }
    let environments: Vec<&str> = form
        .environments
        .split(',')
        .map(str::trim)
        .filter(|e| !e.is_empty())
        .collect();
    let mut body = json!({
        "name": form.name,
        "trigger": form.trigger,
        "params": params,
        "environments": if environments.is_empty() { Value::Null } else { json!(environments) },
        "min_level": if form.min_level.is_empty() { Value::Null } else { json!(form.min_level) },
        "channel_ids": form.channel_ids,
    });
    if let Some(cooldown) = number("the cooldown", &form.cooldown_minutes)? {
        body["cooldown_minutes"] = cooldown;
    }
    Ok(body)
}

/// POST /alerts/rules (admins)
pub async fn create_rule(
    State(ui): State<WebUi>,
    form: CsrfForm<NewRule>,
) -> Result<Response, UiError> {
    let form = admins(form)?;
    let sql = "SELECT crashcache.ui_alert_rule_create($1, $2)";
    let body = rule_body(&form)?;
    call_then_back::<Value>(&ui, &form.back, sql, &[&form.project_id, &body]).await
}

/// The enable/disable form.
#[derive(Debug, Deserialize)]
pub struct Enabled {
    #[serde(default)]
    back: String,
    enabled: bool,
}

/// POST /alerts/rules/{id}/enabled (admins)
pub async fn set_enabled(
    State(ui): State<WebUi>,
    Path(id): Path<i32>,
    form: CsrfForm<Enabled>,
) -> Result<Response, UiError> {
    let form = admins(form)?;
    let sql = "SELECT crashcache.ui_alert_rule_update($1, $2)";
    let body = json!({ "enabled": form.enabled });
    call_then_back::<Value>(&ui, &form.back, sql, &[&id, &body]).await
}

/// POST /alerts/rules/{id}/delete (admins)
pub async fn delete_rule(
    State(ui): State<WebUi>,
    Path(id): Path<i32>,
    form: CsrfForm<Back>,
) -> Result<Response, UiError> {
    let form = admins(form)?;
    let sql = "SELECT crashcache.ui_alert_rule_delete($1)";
    call_then_back::<bool>(&ui, &form.back, sql, &[&id]).await
}

#[cfg(test)]
mod tests {
    use super::{admins, channel_config, creation_form, rule_body, target, NewChannel, NewRule};
    use crate::web_ui::csrf::CsrfForm;
    use crate::web_ui::session::SignedIn;
    use maud::html;
    use serde_json::json;

    fn user(is_admin: bool) -> SignedIn {
        SignedIn {
            user_id: 1,
            name: "ann".into(),
            email: "ann@example.com".into(),
            is_admin,
            csrf: "tok".into(),
            projects: vec![],
        }
    }

    #[test]
    fn creation_forms_carry_the_hidden_fields_then_their_own() {
        let html = creation_form(
            "New rule",
            "/alerts/rules",
            &user(true),
            Some(7),
            "web",
            html! { button { "Create rule" } },
        )
        .into_string();
        assert_eq!(
            html,
            "<details><summary>New rule</summary><form class=\"stack\" method=\"post\" action=\"/alerts/rules\">\
             <input type=\"hidden\" name=\"csrf\" value=\"tok\"><input type=\"hidden\" name=\"back\" value=\"web\">\
             <input type=\"hidden\" name=\"project_id\" value=\"7\"><button>Create rule</button></form></details>"
        );
    }

    #[test]
    fn only_admins_post_admin_forms() {
        let posted = |is_admin| CsrfForm {
            user: user(is_admin),
            form: 3,
        };
        assert_eq!(admins(posted(true)).unwrap(), 3);
        assert!(admins(posted(false)).is_err());
    }

    fn rule(trigger: &str) -> NewRule {
        serde_html_form::from_str(&format!(
            "name=storm&trigger={trigger}&count=100&count_of=users&minutes=10&threshold=99.5\
             &min_sessions=20&environments=production,+staging&min_level=&cooldown_minutes=30\
             &channel_ids=3&channel_ids=5&monitor="
        ))
        .unwrap()
    }

    #[test]
    fn a_rule_form_becomes_the_function_body() {
        let body = rule_body(&rule("issue_volume")).unwrap();
        assert_eq!(body["params"], json!({"users": 100, "minutes": 10}));
        assert_eq!(body["environments"], json!(["production", "staging"]));
        assert_eq!(body["min_level"], json!(null));
        assert_eq!(body["channel_ids"], json!([3, 5]));
        assert_eq!(body["cooldown_minutes"], json!(30));
        let body = rule_body(&rule("crash_free_rate")).unwrap();
        assert_eq!(
            body["params"],
            json!({"threshold": 99.5, "min_sessions": 20, "minutes": 10})
        );
        assert_eq!(
            rule_body(&rule("cron_missed")).unwrap()["params"],
            json!({})
        );
        let mut bad = rule("issue_volume");
        bad.count = "many".into();
        assert!(rule_body(&bad).is_err());
    }

    #[test]
    fn channels_show_no_secret() {
        let form: NewChannel =
            serde_html_form::from_str("kind=ntfy&name=n&url=https://ntfy.sh/t&to=&token=tk")
                .unwrap();
        assert_eq!(
            channel_config(&form),
            json!({"url": "https://ntfy.sh/t", "token": "tk"})
        );
        let slack = json!({"kind": "slack", "config": {"url": "https://hooks.slack.com/services/T/B/secret"}});
        assert_eq!(target(&slack), "https://hooks.slack.com/…");
        let email = json!({"kind": "email", "config": {"to": ["a@x.org", "b@x.org"]}});
        assert_eq!(target(&email), "a@x.org, b@x.org");
    }
}
