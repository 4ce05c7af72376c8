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

use axum::body::Body;
use axum::extract::{ConnectInfo, RawPathParams, Request};
use axum::http::header::{
    ACCESS_CONTROL_ALLOW_HEADERS, ACCESS_CONTROL_ALLOW_METHODS, ACCESS_CONTROL_MAX_AGE,
    ACCESS_CONTROL_REQUEST_HEADERS, AUTHORIZATION, CONTENT_ENCODING, CONTENT_LENGTH,
};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use http_body_util::BodyExt;

use crate::app::AppState;
use crate::auth;
use crate::db::batch::IngestRequest;
use crate::db::{IngestOutcome, Kind};
use crate::error::ProxyError;

/// Headers a browser may send cross-origin; requested extras are allowed too.
const ALLOWED_HEADERS: &str =
    "content-type, content-encoding, x-sentry-auth, authorization, sentry-trace, baggage";
/// How long browsers may cache a preflight answer (they cap it themselves).
const PREFLIGHT_MAX_AGE_SECS: &str = "86400";
/// The body buffer grows as data arrives; a claimed Content-Length reserves at most this.
const PREALLOCATE_AT_MOST: usize = 1024 * 1024;
/// How much of an oversized body is read and dropped so that the client sees the 413.
const DRAIN_AT_MOST: usize = 64 * 1024 * 1024;
/// How long draining an oversized body may take.
const DRAIN_TIME: std::time::Duration = std::time::Duration::from_secs(2);

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

/// Reads the whole body, refusing with 413 as soon as it is known to exceed `limit`: at
/// once for a Content-Length over it, else before buffering the byte that crosses it.
async fn read_body(headers: &HeaderMap, mut body: Body, limit: u32) -> Result<Vec<u8>, ProxyError> {
    let limit = limit as usize;
    let declared = header_str(headers, CONTENT_LENGTH).and_then(|v| v.trim().parse::<u64>().ok());
    match declared {
        Some(length) if length > DRAIN_AT_MOST as u64 => {
            return Err(ProxyError::PayloadTooLarge {
                limit: limit as u64,
                closes_connection: true,
            })
        }
        Some(length) if length > limit as u64 => return Err(refuse_oversized(body, limit).await),
        _ => {}
    }
    let reserve = declared
        .map_or(0, |length| length as usize)
        .min(PREALLOCATE_AT_MOST);
    let mut buffer = Vec::with_capacity(reserve);
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(|err| ProxyError::BodyRead(err.to_string()))?;
        if let Ok(data) = frame.into_data() {
            if buffer.len() + data.len() > limit {
                return Err(refuse_oversized(body, limit).await);
            }
            buffer.extend_from_slice(&data);
        }
    }
    Ok(buffer)
}

/// The 413 for a body over `limit`, after reading (and dropping) what the client is still
/// sending, within a bound. A server that closes a connection with unread data in it makes
/// the kernel reset it, and the client then loses the 413 it was about to read; a body that
/// is drained leaves the connection reusable. Past the bound, the answer says it closes.
async fn refuse_oversized(mut body: Body, limit: usize) -> ProxyError {
    let drain = async {
        let mut drained = 0usize;
        while let Some(Ok(frame)) = body.frame().await {
            if let Ok(data) = frame.into_data() {
                drained += data.len();
                if drained > DRAIN_AT_MOST {
                    return false;
                }
            }
        }
        true
    };
    let drained = tokio::time::timeout(DRAIN_TIME, drain)
        .await
        .unwrap_or(false);
    ProxyError::PayloadTooLarge {
        limit: limit as u64,
        closes_connection: !drained,
    }
}

/// The whole ingest path of one request. `project_id` is `None` for `/api/store/`.
pub(crate) async fn ingest(
    state: &AppState,
    project_id: Option<i32>,
    kind: Kind,
    request: Request,
) -> Result<Response, ProxyError> {
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
    state
        .limiter
        .check(Instant::now(), client_ip, project)
        .map_err(ProxyError::RateLimited)?;

    let body = read_body(headers, body, state.config.max_compressed_bytes).await?;
    let request = IngestRequest {
        project_id,
        public_key: public_key.clone(),
        body,
        content_encoding: content_encoding(headers),
        kind,
        client_ip,
    };
    let outcome = state.batcher.ingest(request).await?;
    if let (200..=299, Some(accepted_for)) = (outcome.status, outcome.project_id) {
        state
            .limiter
            .accepted(Instant::now(), public_key.as_deref(), accepted_for);
    }
    answer(outcome)
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
pub async fn not_found() -> ProxyError {
    ProxyError::NotFound
}

/// A route asked with a method it does not have.
pub async fn method_not_allowed() -> ProxyError {
    ProxyError::MethodNotAllowed
}

#[cfg(test)]
mod tests {
    use super::{answer, content_encoding, parse_project_id, read_body};
    use crate::db::IngestOutcome;
    use crate::error::ProxyError;
    use axum::body::Body;
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

    #[tokio::test]
    async fn body_limit() {
        let headers = HeaderMap::new();
        let body = read_body(&headers, Body::from("12345"), 5).await.unwrap();
        assert_eq!(body, b"12345");
        let err = read_body(&headers, Body::from("123456"), 5)
            .await
            .unwrap_err();
        assert!(matches!(err, ProxyError::PayloadTooLarge { limit: 5, .. }));
        // A declared length over the limit is refused without reading.
        let mut declared = HeaderMap::new();
        declared.insert("content-length", HeaderValue::from_static("6"));
        let err = read_body(&declared, Body::empty(), 5).await.unwrap_err();
        assert!(matches!(err, ProxyError::PayloadTooLarge { .. }));
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
