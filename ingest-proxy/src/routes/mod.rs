//! The ingest endpoints' shared path from request to Sentry answer, plus preflight and fallbacks.
//!
//! For each request: the key from headers or query, the client's address, the rate limits,
//! the body (bounded while it is read), then `crashcache.ingest_batch` with whatever other
//! requests are waiting (see `db::batch`). The body is passed on untouched: decoding and
//! parsing happen in the database.

pub mod envelope;
pub mod health;
pub mod store;

use std::net::SocketAddr;
use std::time::Instant;

use axum::extract::{ConnectInfo, RawPathParams, Request};
use axum::http::header::{
    ACCESS_CONTROL_ALLOW_HEADERS, ACCESS_CONTROL_ALLOW_METHODS, ACCESS_CONTROL_MAX_AGE,
    ACCESS_CONTROL_REQUEST_HEADERS, AUTHORIZATION, CONTENT_ENCODING,
};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;

use crate::auth;
use crate::body;
use crate::db::batch::IngestRequest;
use crate::db::{IngestOutcome, Kind};
use crate::error::ProxyError;
use crate::state::AppState;

/// Headers a browser may send cross-origin; requested extras are allowed too.
const ALLOWED_HEADERS: &str =
    "content-type, content-encoding, x-sentry-auth, authorization, sentry-trace, baggage";
/// How long browsers may cache a preflight answer (they cap it themselves).
const PREFLIGHT_MAX_AGE_SECS: &str = "86400";
/// What ingest did with a request, for the request log.
#[derive(Debug, Clone)]
pub struct Outcome {
    /// accepted or duplicate.
    pub outcome: String,
    /// The project it went to.
    pub project_id: Option<i32>,
    /// The event id, if any.
    pub event_id: Option<String>,
}

/// The `{project_id}` of the path as a positive integer.
pub(crate) fn project_id(params: &RawPathParams) -> Result<i32, ProxyError> {
    let raw = params
        .iter()
        .find(|(name, _)| *name == "project_id")
        .map(|(_, value)| value)
        .unwrap_or_default();
    parse_project_id(raw)
}

fn parse_project_id(raw: &str) -> Result<i32, ProxyError> {
    match raw.parse::<i32>() {
        Ok(id) if id > 0 && raw.bytes().all(|b| b.is_ascii_digit()) => Ok(id),
        _ => Err(ProxyError::InvalidProjectId(raw.chars().take(64).collect())),
    }
}

fn header_str(headers: &HeaderMap, name: impl axum::http::header::AsHeaderName) -> Option<&str> {
    headers.get(name).and_then(|value| value.to_str().ok())
}

/// The Content-Encoding as sent (several headers joined), `None` when absent or empty.
fn content_encoding(headers: &HeaderMap) -> Option<String> {
    let joined = headers
        .get_all(CONTENT_ENCODING)
        .iter()
        .map(|value| String::from_utf8_lossy(value.as_bytes()).trim().to_owned())
        .filter(|value| !value.is_empty())
        .collect::<Vec<_>>()
        .join(", ");
    (!joined.is_empty()).then_some(joined)
}

/// The whole ingest path of one request. `project_id` is `None` for `/api/store/`.
pub(crate) async fn ingest(
    state: &AppState,
    project_id: Option<i32>,
    kind: Kind,
    request: Request,
) -> Response {
    let (parts, body) = request.into_parts();
    let headers = &parts.headers;
    let public_key = auth::find_public_key(
        header_str(headers, "x-sentry-auth"),
        header_str(headers, AUTHORIZATION),
        parts.uri.query(),
    );
    let client_ip = parts
        .extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map(|ConnectInfo(peer)| {
            let forwarded = headers
                .get_all("x-forwarded-for")
                .iter()
                .filter_map(|value| value.to_str().ok());
            state.config.trusted_proxies.client_ip(peer.ip(), forwarded)
        });

    let project = project_id.or_else(|| {
        public_key
            .as_deref()
            .and_then(|key| state.limiter.project_of_key(key))
    });
    if let Err(limited) = state.limiter.check(Instant::now(), client_ip, project) {
        return body::refuse(headers, body, ProxyError::RateLimited(limited)).await;
    }

    let body = match state
        .receiving
        .read(headers, body, state.config.max_compressed_bytes)
        .await
    {
        Ok(body) => body,
        Err(refused) => return refused,
    };
    let request = IngestRequest {
        project_id,
        public_key: public_key.clone(),
        body,
        content_encoding: content_encoding(headers),
        kind,
        client_ip,
    };
    let outcome = match state.batcher.ingest(request).await {
        Ok(outcome) => outcome,
        Err(err) => return ProxyError::from(err).into_response(),
    };
    if let (200..=299, Some(accepted_for)) = (outcome.status, outcome.project_id) {
        state
            .limiter
            .accepted(Instant::now(), public_key.as_deref(), accepted_for);
    }
    answer(outcome).unwrap_or_else(IntoResponse::into_response)
}

/// `error`'s answer to a request whose body was not read yet: drained first (see `body`).
pub(crate) async fn refuse(request: Request, error: ProxyError) -> Response {
    let (parts, body) = request.into_parts();
    body::refuse(&parts.headers, body, error).await
}

/// The Sentry answer to what `crashcache.ingest` said.
fn answer(result: IngestOutcome) -> Result<Response, ProxyError> {
    let status = u16::try_from(result.status)
        .ok()
        .and_then(|code| StatusCode::from_u16(code).ok())
        .ok_or_else(|| ProxyError::Internal(format!("ingest answered status {}", result.status)))?;
    if status.is_client_error() {
        return Err(ProxyError::Rejected {
            status,
            detail: result.detail.unwrap_or_else(|| result.outcome.clone()),
            outcome: result.outcome,
        });
    }
    if !status.is_success() {
        return Err(ProxyError::Internal(format!(
            "ingest answered status {status} ({}: {})",
            result.outcome,
            result.detail.unwrap_or_default()
        )));
    }
    let body = match &result.event_id {
        Some(id) => serde_json::json!({ "id": id }),
        None => serde_json::json!({}),
    };
    let mut response = (status, Json(body)).into_response();
    response.extensions_mut().insert(Outcome {
        outcome: result.outcome,
        project_id: result.project_id,
        event_id: result.event_id,
    });
    Ok(response)
}

/// `OPTIONS` on an ingest route: a CORS preflight. Allow-Origin and Expose-Headers are added
/// to every answer by the CORS layer.
pub async fn preflight(headers: HeaderMap) -> Response {
    let mut allowed = ALLOWED_HEADERS.to_owned();
    if let Some(requested) = header_str(&headers, ACCESS_CONTROL_REQUEST_HEADERS) {
        for name in requested
            .split(',')
            .map(str::trim)
            .filter(|n| !n.is_empty())
        {
            if !allowed
                .split(", ")
                .any(|known| known.eq_ignore_ascii_case(name))
            {
                allowed.push_str(", ");
                allowed.push_str(name);
            }
        }
    }
    let mut response = StatusCode::NO_CONTENT.into_response();
    let out = response.headers_mut();
    out.insert(
        ACCESS_CONTROL_ALLOW_METHODS,
        HeaderValue::from_static("POST, OPTIONS"),
    );
    out.insert(
        ACCESS_CONTROL_ALLOW_HEADERS,
        HeaderValue::from_str(&allowed).unwrap_or(HeaderValue::from_static(ALLOWED_HEADERS)),
    );
    out.insert(
        ACCESS_CONTROL_MAX_AGE,
        HeaderValue::from_static(PREFLIGHT_MAX_AGE_SECS),
    );
    response
}

/// Any path that is not a route.
pub async fn not_found(request: Request) -> Response {
    if request.uri().path().starts_with(crate::web_api::PREFIX) {
        return crate::web_api::not_found().await;
    }
    refuse(request, ProxyError::NotFound).await
}

/// Any request on a connection over `MAX_CONNECTIONS`.
pub async fn busy(request: Request) -> Response {
    refuse(request, ProxyError::Busy("too many connections".into())).await
}

/// A route asked with a method it does not have.
pub async fn method_not_allowed(request: Request) -> Response {
    refuse(request, ProxyError::MethodNotAllowed).await
}

#[cfg(test)]
mod tests {
    use super::{answer, content_encoding, parse_project_id};
    use crate::db::IngestOutcome;
    use axum::http::{HeaderMap, HeaderValue, StatusCode};

    #[test]
    fn project_ids() {
        assert_eq!(parse_project_id("42").unwrap(), 42);
        for bad in ["0", "-1", "+1", "abc", "", "2147483648", "1.0", "%31"] {
            assert!(parse_project_id(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn encodings_pass_through_as_text() {
        let mut headers = HeaderMap::new();
        assert_eq!(content_encoding(&headers), None);
        headers.append("content-encoding", HeaderValue::from_static(" gzip "));
        assert_eq!(content_encoding(&headers).as_deref(), Some("gzip"));
        headers.append("content-encoding", HeaderValue::from_static("br"));
        assert_eq!(content_encoding(&headers).as_deref(), Some("gzip, br"));
    }

    fn outcome(status: i32, outcome: &str, event_id: Option<&str>) -> IngestOutcome {
        IngestOutcome {
            status,
            outcome: outcome.into(),
            event_id: event_id.map(Into::into),
            project_id: Some(1),
            archive_id: None,
            detail: None,
        }
    }

    #[test]
    fn database_answers_map_to_http() {
        let ok = answer(outcome(
            200,
            "accepted",
            Some("9ec79c33ec9942ab8353589fcb2e04dc"),
        ))
        .unwrap();
        assert_eq!(ok.status(), StatusCode::OK);
        let err = answer(outcome(415, "unsupported_encoding", None)).unwrap_err();
        assert_eq!(err.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);
        assert_eq!(err.to_string(), "unsupported_encoding");
        assert_eq!(
            answer(outcome(500, "x", None)).unwrap_err().status(),
            StatusCode::INTERNAL_SERVER_ERROR
        );
        assert_eq!(
            answer(outcome(99, "x", None)).unwrap_err().status(),
            StatusCode::INTERNAL_SERVER_ERROR
        );
    }
}
