//! `UiError`: what a page answers when it cannot show what was asked, as a plain HTML page
//! with the right status. Bad input is a 4xx with a message that says what was wrong; what
//! went wrong on this side is a generic 500 or 503, with the cause kept for the request log.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use maud::{html, Markup, DOCTYPE};

use crate::error::Failure;
use crate::web_ui::assets;

/// Why a page could not be shown.
#[derive(Debug, thiserror::Error)]
pub enum UiError {
    /// 404: no such project, issue, event, …
    #[error("{0}")]
    NotFound(String),
    /// 400: the request asks for something that cannot be (a malformed search, an unknown
    /// sort, another project's issue, …).
    #[error("{0}")]
    BadRequest(String),
    /// 403: a form without the session's CSRF token, a POST without a session, or something
    /// only an admin may do.
    #[error("{0}")]
    Forbidden(String),
    /// 503: the database cannot be reached; the cause is logged, not shown.
    #[error("the database is unavailable: {0}")]
    Unavailable(String),
    /// 500: anything else on this side; the cause is logged, not shown.
    #[error("internal error: {0}")]
    Internal(String),
}

impl UiError {
    /// The HTTP status of this error.
    pub fn status(&self) -> StatusCode {
        match self {
            UiError::NotFound(_) => StatusCode::NOT_FOUND,
            UiError::BadRequest(_) => StatusCode::BAD_REQUEST,
            UiError::Forbidden(_) => StatusCode::FORBIDDEN,
            UiError::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            UiError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// What the page says: the message for the client's mistakes, a generic one otherwise.
    fn shown(&self) -> String {
        match self {
            UiError::NotFound(message)
            | UiError::BadRequest(message)
            | UiError::Forbidden(message) => message.clone(),
            UiError::Unavailable(_) => {
                "The database is unavailable; try again in a moment.".to_string()
            }
            UiError::Internal(_) => {
                "Something went wrong on our side; it has been logged.".to_string()
            }
        }
    }
}

impl IntoResponse for UiError {
    fn into_response(self) -> Response {
        let status = self.status();
        let mut response = (status, error_page(status, &self.shown())).into_response();
        response.extensions_mut().insert(Failure {
            message: self.to_string(),
        });
        response
    }
}

/// A page of its own, without the top bar: the error may be that nobody is signed in.
fn error_page(status: StatusCode, message: &str) -> Markup {
    let title = status.canonical_reason().unwrap_or("Error");
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (status.as_u16()) " " (title) " · crashcache" }
                link rel="stylesheet" href=(assets::url("ui.css"));
            }
            body.centered {
                main.card.narrow {
                    h1 { (status.as_u16()) " " (title) }
                    p { (message) }
                    p { a href="/issues" { "Back to the issues" } }
                }
            }
        }
    }
}
