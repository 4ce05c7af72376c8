//! Sign-in sessions: the `SignedIn` extractor, and the cookie that carries a session.
//!
//! The cookie holds a random token (HttpOnly, SameSite=Lax, Secure when the public URL is
//! https); the database keeps only its SHA-256 (`ui_session`). A GET without a valid session
//! is sent to `/signin?next=<where it was going>`; any other method gets 403.

use axum::extract::FromRequestParts;
use axum::http::header::{COOKIE, LOCATION};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use sha2::{Digest, Sha256};

use crate::web_ui::db;
use crate::web_ui::error::UiError;
use crate::web_ui::WebUi;

/// The session cookie's name.
pub const SESSION_COOKIE: &str = "crashcache_session";

/// How long a browser keeps the cookie; the database's expiry (sliding, 14 days) is what
/// counts, so this only needs to be at least as long.
const COOKIE_MAX_AGE_SECONDS: u64 = 14 * 86_400;

/// Who is signed in, with their session's CSRF token (`csrf`).
#[derive(Debug, Clone, PartialEq, Eq, serde::Deserialize)]
pub struct SignedIn {
    /// Their id (`ui_user.id`), which the `ui_*` functions that change something take.
    #[serde(rename = "id")]
    pub user_id: i32,
    /// Their name, as the top bar and activity show it.
    pub name: String,
    /// Their email address.
    pub email: String,
    /// Whether they may create projects, keys and users.
    pub is_admin: bool,
    /// The session's CSRF token: every form carries it (`layout::csrf_field`).
    pub csrf: String,
    /// Every project, by name, for the top bar's picker.
    #[serde(default)]
    pub projects: Vec<ProjectRef>,
}

/// A project as the picker lists it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Deserialize)]
pub struct ProjectRef {
    /// Its slug, what URLs name it by.
    pub slug: String,
    /// Its name.
    pub name: String,
}

/// A new random token (for a session or a CSRF check): 32 bytes as 64 hex digits.
pub fn new_token() -> Result<String, UiError> {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes)
        .map_err(|err| UiError::Internal(format!("the random source failed: {err}")))?;
    Ok(hex::encode(bytes))
}

/// What the database keeps of a session token.
pub fn token_sha256(token: &str) -> Vec<u8> {
    Sha256::digest(token.as_bytes()).to_vec()
}

/// The value of cookie `name` in the request's `Cookie` headers.
pub fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(key, _)| *key == name)
        .map(|(_, value)| value.trim())
        .filter(|value| !value.is_empty())
}

/// A `Set-Cookie` value: HttpOnly, SameSite=Lax, for the whole site, Secure over https;
/// `max_age` 0 deletes it.
pub fn set_cookie(name: &str, value: &str, max_age_seconds: u64, secure: bool) -> HeaderValue {
    let secure = if secure { "; Secure" } else { "" };
    let text = format!(
        "{name}={value}; Path=/; HttpOnly; SameSite=Lax; Max-Age={max_age_seconds}{secure}"
    );
    HeaderValue::from_str(&text).unwrap_or_else(|_| HeaderValue::from_static("invalid=; Max-Age=0"))
}

/// The session cookie for a new session's token.
pub fn session_cookie(token: &str, secure: bool) -> HeaderValue {
    set_cookie(SESSION_COOKIE, token, COOKIE_MAX_AGE_SECONDS, secure)
}

/// `next` when it is a path on this site (so that sign-in never sends anyone elsewhere):
/// it starts with one `/`, and has no backslash (browsers read it as `/`) and no control
/// character.
pub fn local_path(next: &str) -> Option<&str> {
    let local = next.starts_with('/')
        && !next.starts_with("//")
        && next.len() <= 2_000
        && !next.chars().any(|c| c == '\\' || c.is_control());
    local.then_some(next)
}

/// Where the sign-in page sends someone who wanted `path_and_query`.
pub fn sign_in_url(path_and_query: &str) -> String {
    match local_path(path_and_query) {
        Some(next) if next != "/" => format!(
            "/signin?next={}",
            form_urlencoded::byte_serialize(next.as_bytes()).collect::<String>()
        ),
        _ => "/signin".to_string(),
    }
}

/// A 303 to `location` (after a form, or to the sign-in page).
pub fn see_other(location: &str) -> Response {
    let mut response = StatusCode::SEE_OTHER.into_response();
    if let Ok(value) = HeaderValue::from_str(location) {
        response.headers_mut().insert(LOCATION, value);
    }
    response
}

/// Whether `text` has the form `new_token` makes (64 hex digits).
pub fn is_token(text: &str) -> bool {
    text.len() == 64 && text.bytes().all(|b| b.is_ascii_hexdigit())
}

/// The session's token in the request's cookie, if any.
pub fn session_token(headers: &HeaderMap) -> Option<&str> {
    cookie(headers, SESSION_COOKIE).filter(|token| is_token(token))
}
/// Who the request's session cookie signs in, if anyone.
pub async fn current(ui: &WebUi, headers: &HeaderMap) -> Result<Option<SignedIn>, UiError> {
    let Some(token) = session_token(headers) else {
        return Ok(None);
    };
    let hash = token_sha256(token);
    let found = db::optional_json(&ui.pool, "SELECT crashcache.ui_session($1)", &[&hash]).await?;
    found
        .map(|json| {
            serde_json::from_value(json).map_err(|err| {
                UiError::Internal(format!("ui_session answered another shape: {err}"))
            })
        })
        .transpose()
}

impl FromRequestParts<WebUi> for SignedIn {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, ui: &WebUi) -> Result<Self, Self::Rejection> {
        match current(ui, &parts.headers).await {
            Ok(Some(user)) => Ok(user),
            Ok(None) if parts.method == Method::GET || parts.method == Method::HEAD => {
                let wanted = parts.uri.path_and_query().map_or("/", |p| p.as_str());
                Err(see_other(&sign_in_url(wanted)))
            }
            Ok(None) => Err(UiError::Forbidden(
                "You are not signed in (or your session has ended): sign in and try again."
                    .to_string(),
            )
            .into_response()),
            Err(err) => Err(err.into_response()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{cookie, local_path, set_cookie, sign_in_url, token_sha256};
    use axum::http::{HeaderMap, HeaderValue};

    #[test]
    fn next_stays_on_this_site() {
        assert_eq!(
            local_path("/issues?project=web"),
            Some("/issues?project=web")
        );
        assert_eq!(local_path("/"), Some("/"));
        for evil in [
            "//evil.example.com",
            "/\\evil.example.com",
            "https://evil.example.com/",
            "javascript:alert(1)",
            "issues",
            "",
            "/issues\r\nSet-Cookie: x=1",
            "/\t/evil.example.com",
        ] {
            assert_eq!(local_path(evil), None, "{evil:?}");
        }
    }

    #[test]
    fn sign_in_urls_carry_next() {
        assert_eq!(sign_in_url("/"), "/signin");
        assert_eq!(
            sign_in_url("/issues?project=web&sort=new"),
            "/signin?next=%2Fissues%3Fproject%3Dweb%26sort%3Dnew"
        );
        assert_eq!(sign_in_url("//evil.example.com"), "/signin");
    }

    #[test]
    fn cookies_are_found_by_name() {
        let mut headers = HeaderMap::new();
        headers.append(
            "cookie",
            HeaderValue::from_static("a=1; crashcache_session=abc ; b=2"),
        );
        headers.append("cookie", HeaderValue::from_static("c=3"));
        assert_eq!(cookie(&headers, "crashcache_session"), Some("abc"));
        assert_eq!(cookie(&headers, "c"), Some("3"));
        assert_eq!(cookie(&headers, "session"), None);
    }

    #[test]
    fn cookies_are_http_only_and_lax() {
        let plain = set_cookie("s", "v", 60, false);
        assert_eq!(plain, "s=v; Path=/; HttpOnly; SameSite=Lax; Max-Age=60");
        let secure = set_cookie("s", "v", 0, true);
        assert_eq!(
            secure,
            "s=v; Path=/; HttpOnly; SameSite=Lax; Max-Age=0; Secure"
        );
    }

    #[test]
    fn tokens_are_kept_as_sha256() {
        assert_eq!(
            hex::encode(token_sha256("abc")),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }
}
