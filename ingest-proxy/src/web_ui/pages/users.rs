//! The users (admins only): the list and a form to add one (GET and POST /users). The
//! password is hashed here (argon2id, on a blocking thread); the database gets the hash.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use maud::{html, Markup};
use serde::Deserialize;
use serde_json::Value;

use crate::web_ui::csrf::CsrfForm;
use crate::web_ui::error::UiError;
use crate::web_ui::layout::{csrf_field, page, time_ago, Section};
use crate::web_ui::session::{see_other, SignedIn};
use crate::web_ui::{db, password, WebUi};

/// GET /users
pub async fn list(State(ui): State<WebUi>, user: SignedIn) -> Result<Response, UiError> {
    users_page(&ui, &user, StatusCode::OK, None).await
}

async fn users_page(
    ui: &WebUi,
    user: &SignedIn,
    status: StatusCode,
    message: Option<&str>,
) -> Result<Response, UiError> {
    let users = db::one_json(&ui.pool, "SELECT crashcache.ui_users($1)", &[&user.user_id]).await?;
    let users = users.as_array().cloned().unwrap_or_default();
    let body = html! {
        div.page-header { h1 { "Users" } }
        table.list.users {
            thead { tr { th { "Name" } th { "Email" } th { "Role" } th { "Created" } th { "Last sign-in" } } }
            tbody { @for u in &users { (user_row(u)) } }
        }
        section.card.narrow.spaced {
            h2 { "Add a user" }
            @if let Some(message) = message { p.alert.error role="alert" { (message) } }
            form.stack method="post" action="/users" {
                (csrf_field(user))
                label for="new-name" { "Name" }
                input #new-name type="text" name="name" required maxlength="100";
                label for="new-email" { "Email" }
                input #new-email type="email" name="email" required autocomplete="off";
                label for="new-password" { "Password" }
                input #new-password type="password" name="password" required minlength=(password::MIN_LENGTH) autocomplete="new-password";
                label.check-label { input type="checkbox" name="is_admin" value="true"; " Admin (may create projects, keys and users)" }
                button.button.primary type="submit" { "Add user" }
            }
        }
    };
    Ok((status, page(user, "Users", Section::Projects, body)).into_response())
}

fn user_row(u: &Value) -> Markup {
    html! {
        tr {
            td data-label="Name" { (u["name"].as_str().unwrap_or("")) }
            td data-label="Email" { (u["email"].as_str().unwrap_or("")) }
            td data-label="Role" { @if u["is_admin"].as_bool() == Some(true) { span.badge { "admin" } } @else { "user" } }
            td data-label="Created" { (time_ago(u["created"].as_str())) }
            td data-label="Last sign-in" { (time_ago(u["last_sign_in"].as_str())) }
        }
    }
}

/// The new user form.
#[derive(Debug, Deserialize)]
pub struct NewUser {
    #[serde(default)]
    name: String,
    #[serde(default)]
    email: String,
    #[serde(default)]
    password: String,
    #[serde(default)]
    is_admin: Option<String>,
}

/// POST /users
pub async fn create(State(ui): State<WebUi>, form: CsrfForm<NewUser>) -> Result<Response, UiError> {
    let CsrfForm { user, form } = form;
    let hash = match password::hash_blocking(form.password).await {
        Ok(hash) => hash,
        Err(password::PasswordError::Length) => {
            let message = password::PasswordError::Length.to_string();
            return users_page(&ui, &user, StatusCode::BAD_REQUEST, Some(&message)).await;
        }
        Err(other) => return Err(UiError::Internal(other.to_string())),
    };
    let is_admin = form.is_admin.is_some();
    match db::one_json(
        &ui.pool,
        "SELECT crashcache.ui_create_user($1, $2, $3, $4, $5)",
        &[&user.user_id, &form.email, &form.name, &hash, &is_admin],
    )
    .await
    {
        Ok(_) => Ok(see_other("/users")),
        Err(UiError::BadRequest(message)) => {
            users_page(&ui, &user, StatusCode::BAD_REQUEST, Some(&message)).await
        }
        Err(other) => Err(other),
    }
}
