//! Signing in and out: GET /signin (the form), POST /signin, POST /signout.
//!
//! The form carries a token that must match a short-lived cookie set with it, so that another
//! site cannot sign a browser in as someone else. Failed tries count per address typed and per
//! client in the database (`ui_user_for_sign_in` refuses after too many); the page says so
//! without telling whether the address has a user, and the password is checked against a dummy
//! hash when it has none, so that timing does not tell either.

use std::net::SocketAddr;

use axum::body::to_bytes;
use axum::extract::{ConnectInfo, Query, Request, State};
use axum::http::header::SET_COOKIE;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use maud::{html, Markup, DOCTYPE};
use serde::Deserialize;

use crate::web_ui::csrf::{same_secret, CsrfForm};
use crate::web_ui::error::UiError;
use crate::web_ui::layout::{head, NoFields};
use crate::web_ui::session::{
    cookie, current, is_token, local_path, new_token, see_other, session_cookie, session_token,
    set_cookie, token_sha256, SESSION_COOKIE,
};
use crate::web_ui::{db, password, WebUi};

/// The cookie the sign-in form's token is checked against.
const SIGN_IN_COOKIE: &str = "crashcache_signin";

/// GET /signin?next=
#[derive(Debug, Deserialize)]
pub struct Next {
    next: Option<String>,
}

/// The sign-in form's fields.
#[derive(Debug, Deserialize)]
struct SignInForm {
    #[serde(default)]
    email: String,
    #[serde(default)]
    password: String,
    #[serde(default)]
    next: String,
    #[serde(default)]
    csrf: String,
}

/// Where to go after signing in.
fn destination(next: Option<&str>) -> &str {
    next.and_then(local_path)
        .filter(|next| !next.starts_with("/signin") && !next.starts_with("/signout"))
        .unwrap_or("/issues")
}

/// GET /signin: the form (or, when signed in already, where it was going).
pub async fn form(
    State(ui): State<WebUi>,
    Query(query): Query<Next>,
    headers: HeaderMap,
) -> Result<Response, UiError> {
    let next = destination(query.next.as_deref()).to_string();
    if current(&ui, &headers).await?.is_some() {
        return Ok(see_other(&next));
    }
    fresh_form(&ui, &headers, StatusCode::OK, "", &next, None)
}

/// The form with its token (the browser's, so that two tabs both work, else a new one, with
/// its cookie), the address typed and a message.
fn fresh_form(
    ui: &WebUi,
    headers: &HeaderMap,
    status: StatusCode,
    email: &str,
    next: &str,
    message: Option<&str>,
) -> Result<Response, UiError> {
    let token = match cookie(headers, SIGN_IN_COOKIE).filter(|t| is_token(t)) {
        Some(token) => token.to_string(),
        None => new_token()?,
    };
    let mut response = (status, sign_in_page(&token, email, next, message)).into_response();
    response.headers_mut().append(
        SET_COOKIE,
        set_cookie(SIGN_IN_COOKIE, &token, 3_600, ui.secure_cookies),
    );
    Ok(response)
}

fn sign_in_page(token: &str, email: &str, next: &str, message: Option<&str>) -> Markup {
    html! {
        (DOCTYPE)
        html lang="en" {
            (head("Sign in"))
            body.centered {
                main.card.narrow #main {
                    h1.signin-title { "Sign in to crashcache" }
                    @if let Some(message) = message {
                        p.alert.error role="alert" { (message) }
                    }
                    form.stack method="post" action="/signin" {
                        input type="hidden" name="csrf" value=(token);
                        input type="hidden" name="next" value=(next);
                        label for="email" { "Email" }
                        input #email type="email" name="email" value=(email) autocomplete="username" required autofocus[email.is_empty()];
                        label for="password" { "Password" }
                        input #password type="password" name="password" autocomplete="current-password" required autofocus[!email.is_empty()];
                        button.button.primary type="submit" { "Sign in" }
                    }
                    p.muted.small { "No account? An admin creates one with " code { "ingest-proxy create-user" } "." }
                }
            }
        }
    }
}

/// POST /signin
pub async fn submit(State(ui): State<WebUi>, request: Request) -> Result<Response, UiError> {
    let (parts, body) = request.into_parts();
    let peer = parts
        .extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map(|ConnectInfo(peer)| peer.ip());
    let client = peer.map(|peer| {
        let forwarded = parts
            .headers
            .get_all("x-forwarded-for")
            .iter()
            .filter_map(|v| v.to_str().ok());
        ui.trusted_proxies.client_ip(peer, forwarded)
    });
    let bytes = to_bytes(body, 16 * 1024)
        .await
        .map_err(|_| UiError::BadRequest("A sign-in form is at most 16 KiB.".to_string()))?;
    let form: SignInForm = serde_html_form::from_bytes(&bytes)
        .map_err(|err| UiError::BadRequest(format!("The form is not complete: {err}")))?;
    let expected = cookie(&parts.headers, SIGN_IN_COOKIE).unwrap_or_default();
    if !same_secret(&form.csrf, expected) {
        return Err(UiError::Forbidden(
            "This sign-in form is out of date or was not sent from this site: reload the page and try again.".to_string(),
        ));
    }
    let next = destination(Some(&form.next)).to_string();
    let email = form.email.trim().to_lowercase();
    if email.is_empty() || form.password.is_empty() {
        return fresh_form(
            &ui,
            &parts.headers,
            StatusCode::BAD_REQUEST,
            &email,
            &next,
            Some("Enter your email and password."),
        );
    }

    let row = db::rows(
        &ui.pool,
        "SELECT user_id, password_hash, retry_after_seconds FROM crashcache.ui_user_for_sign_in($1, $2)",
        &[&email, &client],
    )
    .await?;
    let row = row
        .first()
        .ok_or_else(|| UiError::Internal("ui_user_for_sign_in answered no row".to_string()))?;
    let (user_id, hash, retry_after): (Option<i32>, Option<String>, Option<i32>) =
        (row.get(0), row.get(1), row.get(2));
    if let Some(seconds) = retry_after {
        let minutes = (seconds + 59) / 60;
        let message = format!(
            "Too many failed sign-ins for this address or from this network. Try again in {minutes} minute{}.",
            if minutes == 1 { "" } else { "s" }
        );
        return fresh_form(
            &ui,
            &parts.headers,
            StatusCode::TOO_MANY_REQUESTS,
            &email,
            &next,
            Some(&message),
        );
    }
    let matches = password::verify_blocking(hash, form.password).await;
    let Some(user_id) = user_id.filter(|_| matches) else {
        db::rows(
            &ui.pool,
            "SELECT crashcache.ui_sign_in_failed($1, $2)",
            &[&email, &client],
        )
        .await?;
        return fresh_form(
            &ui,
            &parts.headers,
            StatusCode::UNAUTHORIZED,
            &email,
            &next,
            Some("Wrong email or password."),
        );
    };

    let token = new_token()?;
    let csrf = new_token()?;
    db::one_value::<std::time::SystemTime>(
        &ui.pool,
        "SELECT crashcache.ui_create_session($1, $2, $3)",
        &[&user_id, &token_sha256(&token), &csrf],
    )
    .await?;
    let mut response = see_other(&next);
    let headers = response.headers_mut();
    headers.append(SET_COOKIE, session_cookie(&token, ui.secure_cookies));
    headers.append(
        SET_COOKIE,
        set_cookie(SIGN_IN_COOKIE, "", 0, ui.secure_cookies),
    );
    Ok(response)
}

/// POST /signout: ends the session and forgets the cookie.
pub async fn sign_out(
    State(ui): State<WebUi>,
    headers: HeaderMap,
    _form: CsrfForm<NoFields>,
) -> Result<Response, UiError> {
    if let Some(token) = session_token(&headers) {
        db::one_value::<bool>(
            &ui.pool,
            "SELECT crashcache.ui_sign_out($1)",
            &[&token_sha256(token)],
        )
        .await?;
    }
    let mut response = see_other("/signin");
    response.headers_mut().append(
        SET_COOKIE,
        set_cookie(SESSION_COOKIE, "", 0, ui.secure_cookies),
    );
    Ok(response)
}

#[cfg(test)]
mod tests {
    use super::destination;

    #[test]
    fn destinations_are_local() {
        assert_eq!(destination(None), "/issues");
        assert_eq!(destination(Some("/projects/web")), "/projects/web");
        assert_eq!(destination(Some("https://evil.example.com")), "/issues");
        assert_eq!(destination(Some("//evil.example.com")), "/issues");
        assert_eq!(destination(Some("/signout")), "/issues");
    }
}
