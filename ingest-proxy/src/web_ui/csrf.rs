//! CSRF checks: every form carries the session's token in a hidden `csrf` field
//! (`layout::csrf_field`), and `CsrfForm` refuses a form without it (403) before a handler
//! sees it. SameSite=Lax cookies already keep other sites' forms from arriving signed in; the
//! token is the second lock.

use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::response::{IntoResponse, Response};
use serde::de::DeserializeOwned;

use crate::web_ui::error::UiError;
use crate::web_ui::session::SignedIn;
use crate::web_ui::WebUi;

/// The largest form body read.
const MAX_FORM_BYTES: usize = 256 * 1024;

/// A form posted by the signed-in `user` with their session's CSRF token; `form` is the rest
/// of its fields (repeated fields deserialize into a `Vec`).
#[derive(Debug)]
pub struct CsrfForm<T> {
    /// Who posted it.
    pub user: SignedIn,
    /// Its fields.
    pub form: T,
}

/// Compares two secrets in time that does not depend on where they differ.
pub fn same_secret(given: &str, expected: &str) -> bool {
    let (given, expected) = (given.as_bytes(), expected.as_bytes());
    if given.len() != expected.len() || expected.is_empty() {
        return false;
    }
    given
        .iter()
        .zip(expected)
        .fold(0u8, |differ, (a, b)| differ | (a ^ b))
        == 0
}

/// The `csrf` field of an urlencoded body.
pub fn csrf_of(body: &[u8]) -> Option<String> {
    form_urlencoded::parse(body)
        .find(|(key, _)| key == "csrf")
        .map(|(_, value)| value.into_owned())
}

/// Checks the body's `csrf` against the session's, then parses the body.
pub fn checked<T: DeserializeOwned>(body: &[u8], expected: &str) -> Result<T, UiError> {
    let given = csrf_of(body).unwrap_or_default();
    if !same_secret(&given, expected) {
        return Err(UiError::Forbidden(
            "This form is out of date or was not sent from this site (its CSRF token does not match): reload the page and try again.".to_string(),
        ));
    }
    serde_html_form::from_bytes(body)
        .map_err(|err| UiError::BadRequest(format!("The form is not complete: {err}")))
}

impl<T: DeserializeOwned> FromRequest<WebUi> for CsrfForm<T> {
    type Rejection = Response;

    async fn from_request(request: Request, ui: &WebUi) -> Result<Self, Self::Rejection> {
        let (mut parts, body) = request.into_parts();
        let user = SignedIn::from_request_parts(&mut parts, ui).await?;
        let request = Request::from_parts(parts, body);
        let bytes = Bytes::from_request(request, ui).await.map_err(|_| {
            UiError::BadRequest(format!("A form is at most {} KiB.", MAX_FORM_BYTES / 1024))
                .into_response()
        })?;
        if bytes.len() > MAX_FORM_BYTES {
            return Err(UiError::BadRequest(format!(
                "A form is at most {} KiB.",
                MAX_FORM_BYTES / 1024
            ))
            .into_response());
        }
        let form = checked(&bytes, &user.csrf).map_err(IntoResponse::into_response)?;
        Ok(CsrfForm { user, form })
    }
}

#[cfg(test)]
mod tests {
    use super::{checked, csrf_of, same_secret};
    use axum::http::StatusCode;

    #[test]
    fn secrets_compare_whole() {
        assert!(same_secret("abc123", "abc123"));
        assert!(!same_secret("abc124", "abc123"));
        assert!(!same_secret("abc12", "abc123"));
        assert!(!same_secret("", ""));
    }

    #[derive(serde::Deserialize, Debug, PartialEq)]
    struct Bulk {
        action: String,
        #[serde(default)]
        ids: Vec<String>,
    }

    #[test]
    fn forms_need_the_token() {
        let body = b"csrf=t0k&action=ignore&ids=1&ids=2";
        assert_eq!(csrf_of(body).as_deref(), Some("t0k"));
        let bulk: Bulk = checked(body, "t0k").unwrap();
        assert_eq!(
            bulk,
            Bulk {
                action: "ignore".into(),
                ids: vec!["1".into(), "2".into()]
            }
        );
        let forged = checked::<Bulk>(body, "other").unwrap_err();
        assert_eq!(forged.status(), StatusCode::FORBIDDEN);
        let missing = checked::<Bulk>(b"action=ignore", "t0k").unwrap_err();
        assert_eq!(missing.status(), StatusCode::FORBIDDEN);
        let incomplete = checked::<Bulk>(b"csrf=t0k", "t0k").unwrap_err();
        assert_eq!(incomplete.status(), StatusCode::BAD_REQUEST);
    }
}
