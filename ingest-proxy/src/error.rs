//! `ProxyError`: every way a request fails, and its Sentry-shaped answer.
//!
//! Each answer is JSON `{"detail": "...", "causes": [...]}` with the detail repeated in
//! `X-Sentry-Error`. Server-side failures (5xx) answer a generic detail; what really happened
//! rides along in a `Failure` response extension for the request log, never to the client.

use axum::http::{HeaderName, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;

use crate::db::DbError;
use crate::ratelimit::RateLimited;

/// `X-Sentry-Error`: the error detail, for clients that read only headers.
pub const X_SENTRY_ERROR: HeaderName = HeaderName::from_static("x-sentry-error");
/// `X-Sentry-Rate-Limits`: what to stop sending, and for how long.
pub const X_SENTRY_RATE_LIMITS: HeaderName = HeaderName::from_static("x-sentry-rate-limits");

/// The outcome of `crashcache.ingest_batch` while its disk guard refuses (HTTP 429).
const OVER_CAPACITY: &str = "over_capacity";
/// How long SDKs are asked to hold back while the disk guard refuses.
const OVER_CAPACITY_RETRY_SECS: &str = "60";
const OVER_CAPACITY_RATE_LIMITS: &str = "60::organization:over_capacity";
/// How long a client is asked to wait when the proxy holds all the connections or bodies it may.
const BUSY_RETRY_SECS: &str = "1";

/// Longest `X-Sentry-Error` value sent.
const MAX_HEADER_DETAIL: usize = 200;

/// A request that could not be ingested.
#[derive(Debug, thiserror::Error)]
pub enum ProxyError {
    /// 400: the project id in the path is not a positive integer.
    #[error("invalid project id '{0}': expected a positive integer")]
    InvalidProjectId(String),
    /// 400: the body could not be read (the client went away or sent broken framing).
    #[error("could not read the request body")]
    BodyRead(String),
    /// 404: no such route.
    #[error(
        "not found: ingest at POST /api/{{project_id}}/envelope/ or /api/{{project_id}}/store/"
    )]
    NotFound,
    /// 405: a route with other methods.
    #[error("method not allowed")]
    MethodNotAllowed,
    /// 413: the body as sent is over the configured limit.
    #[error("the request body is larger than the limit of {limit} bytes")]
    PayloadTooLarge {
        /// `MAX_COMPRESSED_PAYLOAD_BYTES`.
        limit: u64,
    },
    /// 4xx: `crashcache.ingest` refused the payload (bad key, too large, undecodable, …).
    #[error("{detail}")]
    Rejected {
        /// The status the database asked for.
        status: StatusCode,
        /// Its outcome code, for the log.
        outcome: String,
        /// Its explanation.
        detail: String,
    },
    /// 408: the body did not arrive in time (`HTTP_BODY_TIMEOUT_MS`).
    #[error("the request body did not arrive within {seconds} s")]
    BodyTimeout {
        /// The deadline.
        seconds: u64,
    },
    /// 503: the proxy holds as many connections or bodies as it may.
    #[error("the proxy is busy ({0}), try again later")]
    Busy(String),
    /// 429: a rate limit refused the request.
    #[error("rate limited: the {} limit is exhausted, retry in {} s", .0.scope.describe(), .0.retry_after_secs)]
    RateLimited(RateLimited),
    /// 503: the database is down, the pool exhausted, or the call timed out.
    #[error("the database is unavailable, try again later")]
    Unavailable(String),
    /// 500: anything else that went wrong on this side.
    #[error("internal error")]
    Internal(String),
}

impl From<DbError> for ProxyError {
    fn from(err: DbError) -> Self {
        match err {
            DbError::Unavailable(message) => ProxyError::Unavailable(message),
            DbError::Failed(message) => ProxyError::Internal(format!("database error: {message}")),
        }
    }
}

/// What went wrong, for the request log: attached to every error response.
#[derive(Debug, Clone)]
pub struct Failure {
    /// The full story, including what 5xx answers keep from the client.
    pub message: String,
}

#[derive(serde::Serialize)]
struct ErrorBody<'a> {
    detail: &'a str,
    causes: &'a [String],
}

impl ProxyError {
    /// The HTTP status of this error.
    pub fn status(&self) -> StatusCode {
        match self {
            ProxyError::InvalidProjectId(_) | ProxyError::BodyRead(_) => StatusCode::BAD_REQUEST,
            ProxyError::NotFound => StatusCode::NOT_FOUND,
            ProxyError::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            ProxyError::PayloadTooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            ProxyError::Rejected { status, .. } => *status,
            ProxyError::BodyTimeout { .. } => StatusCode::REQUEST_TIMEOUT,
            ProxyError::RateLimited(_) => StatusCode::TOO_MANY_REQUESTS,
            ProxyError::Busy(_) | ProxyError::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            ProxyError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// What led to this error, as far as the client may know.
    fn causes(&self) -> Vec<String> {
        match self {
            ProxyError::BodyRead(cause) => vec![cause.clone()],
            _ => Vec::new(),
        }
    }

    /// How long the client should hold back (`Retry-After`), and what SDKs should stop
    /// sending (`X-Sentry-Rate-Limits`, which they obey for everything named in it).
    fn hold_back(&self) -> (Option<HeaderValue>, Option<HeaderValue>) {
        match self {
            ProxyError::RateLimited(limited) => (
                Some(header_text(&limited.retry_after_header())),
                Some(header_text(&limited.sentry_rate_limits_header())),
            ),
            ProxyError::Rejected { outcome, .. } if outcome == OVER_CAPACITY => (
                Some(HeaderValue::from_static(OVER_CAPACITY_RETRY_SECS)),
                Some(HeaderValue::from_static(OVER_CAPACITY_RATE_LIMITS)),
            ),
            ProxyError::Busy(_) => (Some(HeaderValue::from_static(BUSY_RETRY_SECS)), None),
            _ => (None, None),
        }
    }

    /// The full story for the log.
    fn log_message(&self) -> String {
        match self {
            ProxyError::BodyRead(cause) => format!("{self}: {cause}"),
            ProxyError::Rejected {
                outcome, detail, ..
            } => format!("{outcome}: {detail}"),
            ProxyError::Unavailable(cause) | ProxyError::Internal(cause) => {
                format!("{self}: {cause}")
            }
            _ => self.to_string(),
        }
    }
}

impl IntoResponse for ProxyError {
    fn into_response(self) -> Response {
        let status = self.status();
        let detail = self.to_string();
        let causes = self.causes();
        let body = Json(ErrorBody {
            detail: &detail,
            causes: &causes,
        });
        let mut response = (status, body).into_response();
        let headers = response.headers_mut();
        headers.insert(X_SENTRY_ERROR, header_text(&detail));
        let (retry_after, rate_limits) = self.hold_back();
        if let Some(seconds) = retry_after {
            headers.insert(axum::http::header::RETRY_AFTER, seconds);
        }
        if let Some(limits) = rate_limits {
            headers.insert(X_SENTRY_RATE_LIMITS, limits);
        }
        response.extensions_mut().insert(Failure {
            message: self.log_message(),
        });
        response
    }
}

/// `text` as a header value: printable ASCII only, shortened.
fn header_text(text: &str) -> HeaderValue {
    let clean: String = text
        .chars()
        .map(|c| {
            if c == ' ' || c.is_ascii_graphic() {
                c
            } else {
                '?'
            }
        })
        .take(MAX_HEADER_DETAIL)
        .collect();
    HeaderValue::from_str(&clean).unwrap_or_else(|_| HeaderValue::from_static("error"))
}

#[cfg(test)]
mod tests {
    use super::{Failure, ProxyError, X_SENTRY_ERROR, X_SENTRY_RATE_LIMITS};
    use crate::db::DbError;
    use crate::ratelimit::{RateLimited, Scope};
    use axum::http::StatusCode;
    use axum::response::IntoResponse;
    use http_body_util::BodyExt;

    async fn answer(
        err: ProxyError,
    ) -> (StatusCode, axum::http::HeaderMap, serde_json::Value, String) {
        let response = err.into_response();
        let status = response.status();
        let headers = response.headers().clone();
        let failure = response
            .extensions()
            .get::<Failure>()
            .unwrap()
            .message
            .clone();
        let body = response.into_body().collect().await.unwrap().to_bytes();
        (
            status,
            headers,
            serde_json::from_slice(&body).unwrap(),
            failure,
        )
    }

    #[tokio::test]
    async fn client_errors_explain_themselves() {
        let (status, headers, body, _) = answer(ProxyError::Rejected {
            status: StatusCode::FORBIDDEN,
            outcome: "unknown_key".into(),
            detail: "unknown or revoked public key".into(),
        })
        .await;
        assert_eq!(status, StatusCode::FORBIDDEN);
        assert_eq!(body["detail"], "unknown or revoked public key");
        assert_eq!(body["causes"], serde_json::json!([]));
        assert_eq!(headers[X_SENTRY_ERROR], "unknown or revoked public key");

        let (status, _, body, _) = answer(ProxyError::PayloadTooLarge { limit: 1024 }).await;
        assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
        assert!(body["detail"].as_str().unwrap().contains("1024"));

        let (status, _, body, _) = answer(ProxyError::BodyRead("connection reset".into())).await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert_eq!(body["causes"], serde_json::json!(["connection reset"]));

        assert_eq!(
            answer(ProxyError::MethodNotAllowed).await.0,
            StatusCode::METHOD_NOT_ALLOWED
        );
        assert_eq!(answer(ProxyError::NotFound).await.0, StatusCode::NOT_FOUND);
        assert_eq!(
            answer(ProxyError::InvalidProjectId("abc".into())).await.0,
            StatusCode::BAD_REQUEST
        );
    }

    #[tokio::test]
    async fn rate_limited_carries_sentry_headers() {
        let (status, headers, body, _) = answer(ProxyError::RateLimited(RateLimited {
            scope: Scope::Global,
            retry_after_secs: 3,
        }))
        .await;
        assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
        assert_eq!(headers["retry-after"], "3");
        assert_eq!(headers[X_SENTRY_RATE_LIMITS], "3::organization");
        assert!(body["detail"].as_str().unwrap().starts_with("rate limited"));
    }

    #[tokio::test]
    async fn the_disk_guard_asks_sdks_to_hold_back() {
        let (status, headers, body, _) = answer(ProxyError::Rejected {
            status: StatusCode::TOO_MANY_REQUESTS,
            outcome: "over_capacity".into(),
            detail: "the database holds 100 MB, at its bound".into(),
        })
        .await;
        assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
        assert_eq!(headers["retry-after"], "60");
        assert_eq!(
            headers[X_SENTRY_RATE_LIMITS],
            "60::organization:over_capacity"
        );
        assert!(body["detail"]
            .as_str()
            .unwrap()
            .starts_with("the database holds"));
    }

    #[tokio::test]
    async fn server_errors_hide_their_cause() {
        let secret = "password authentication failed for user \"x\"";
        for (err, status) in [
            (
                ProxyError::from(DbError::Unavailable(secret.into())),
                StatusCode::SERVICE_UNAVAILABLE,
            ),
            (
                ProxyError::from(DbError::Failed(secret.into())),
                StatusCode::INTERNAL_SERVER_ERROR,
            ),
        ] {
            let (got, headers, body, failure) = answer(err).await;
            assert_eq!(got, status);
            assert!(!body.to_string().contains("password"));
            assert!(!headers[X_SENTRY_ERROR]
                .to_str()
                .unwrap()
                .contains("password"));
            assert!(failure.contains(secret), "{failure}");
        }
    }

    #[test]
    fn header_text_is_printable_and_short() {
        let value = super::header_text(&format!("caf\u{e9}\n{}", "x".repeat(500)));
        let text = value.to_str().unwrap();
        assert!(text.starts_with("caf??"));
        assert_eq!(text.len(), super::MAX_HEADER_DETAIL);
    }
}
