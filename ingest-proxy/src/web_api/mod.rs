//! Sentry's Web API (`/api/0/`), for sentry-cli, MCP servers and scripts. Each route is one
//! call of a SQL function that returns the JSON ([`endpoints`]); this side only checks the
//! token, passes the request's parameters, and turns the result into an answer: the JSON, a
//! `Link` header for lists ([`link`]), or an error status with `{"detail": …}`.
//!
//! It has a pool of its own, as a role that can read and triage and nothing else
//! (`API_DATABASE_URL`, role crashcache_api_proxy), so that the ingest path is untouched.

pub mod endpoints;
pub mod link;

use std::collections::HashMap;
use std::sync::Arc;

use axum::body::to_bytes;
use axum::extract::{Path, RawQuery, Request, State};
use axum::http::header::{AUTHORIZATION, CONTENT_TYPE, LINK};
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Router;
use deadpool_postgres::Pool;
use tokio_postgres::types::ToSql;

use crate::db::DbError;
use crate::error::{Failure, X_SENTRY_ERROR};
use endpoints::{Answer, Endpoint, Source};

/// Where the API's paths start; an unknown one below it gets the API's 404.
pub const PREFIX: &str = "/api/0/";

/// An unknown path of the API.
pub async fn not_found() -> Response {
    ApiError::new(
        StatusCode::NOT_FOUND,
        "The requested resource does not exist",
    )
    .into_response()
}

/// The largest JSON body the API reads.
const MAX_BODY_BYTES: usize = 1 << 20;

/// What the API's handlers share.
#[derive(Clone)]
pub struct WebApi {
    /// Connections as the API's role; None when `API_DATABASE_URL` is not set.
    pub pool: Option<Pool>,
    /// The proxy's public URL, the base of `Link` headers.
    pub public_url: Arc<str>,
}

/// The API's routes, each with and without its trailing slash.
pub fn router(api: WebApi) -> Router {
    let mut router = Router::new();
    let mut by_path: HashMap<String, axum::routing::MethodRouter<WebApi>> = HashMap::new();
    for (path, endpoint) in endpoints::all() {
        let filter = endpoint.method.filter();
        let handler = move |state: State<WebApi>,
                            params: Option<Path<HashMap<String, String>>>,
                            query: RawQuery,
                            request: Request| {
            handle(
                state,
                endpoint,
                params.map(|p| p.0).unwrap_or_default(),
                query.0,
                request,
            )
        };
        let methods = by_path
            .remove(&path)
            .unwrap_or_default()
            .on(filter, handler);
        by_path.insert(path, methods);
    }
    for (path, methods) in by_path {
        router = router
            .route(&format!("{path}/"), methods.clone())
            .route(&path, methods);
    }
    router.with_state(api)
}

/// An API failure: its status and detail, and for 5xx what really happened (for the log).
#[derive(Debug)]
pub struct ApiError {
    status: StatusCode,
    detail: String,
    internal: Option<String>,
}

impl ApiError {
    fn new(status: StatusCode, detail: impl Into<String>) -> Self {
        Self {
            status,
            detail: detail.into(),
            internal: None,
        }
    }

    fn internal(status: StatusCode, detail: &str, what: String) -> Self {
        Self {
            status,
            detail: detail.to_string(),
            internal: Some(what),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = serde_json::json!({ "detail": self.detail }).to_string();
        let mut response = json_response(self.status, body);
        if let Ok(value) = HeaderValue::from_str(&self.detail.chars().take(200).collect::<String>())
        {
            response.headers_mut().insert(X_SENTRY_ERROR, value);
        }
        response.extensions_mut().insert(Failure {
            message: self.internal.unwrap_or(self.detail),
        });
        response
    }
}

fn json_response(status: StatusCode, body: String) -> Response {
    let mut response = (status, body).into_response();
    response
        .headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    response
}

/// The status a SQL error means: the SQL functions raise these SQLSTATEs on purpose.
fn status_of(code: &str) -> StatusCode {
    match code {
        "P0002" => StatusCode::NOT_FOUND,
        "42501" => StatusCode::FORBIDDEN,
        "28000" => StatusCode::UNAUTHORIZED,
        _ if code.starts_with("22") => StatusCode::BAD_REQUEST,
        _ => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

fn from_db(err: tokio_postgres::Error) -> ApiError {
    match err.as_db_error() {
        Some(db) => {
            let status = status_of(db.code().code());
            if status.is_server_error() {
                ApiError::internal(
                    status,
                    "internal error",
                    format!("{} [SQLSTATE {}]", db.message(), db.code().code()),
                )
            } else {
                ApiError::new(status, db.message())
            }
        }
        None => unavailable(DbError::from(err)),
    }
}

fn unavailable(err: DbError) -> ApiError {
    match err {
        DbError::Unavailable(what) => ApiError::internal(
            StatusCode::SERVICE_UNAVAILABLE,
            "the database is unavailable, try again later",
            what,
        ),
        DbError::Failed(what) => {
            ApiError::internal(StatusCode::INTERNAL_SERVER_ERROR, "internal error", what)
        }
    }
}

/// The token of `Authorization: Bearer …` (Sentry's clients also send `Token …`).
fn bearer(request: &Request) -> Option<String> {
    let value = request.headers().get(AUTHORIZATION)?.to_str().ok()?.trim();
    let (scheme, token) = value.split_once(' ')?;
    (scheme.eq_ignore_ascii_case("bearer") || scheme.eq_ignore_ascii_case("token"))
        .then(|| token.trim().to_string())
        .filter(|t| !t.is_empty())
}

/// The query string's pairs, in order.
fn query_pairs(raw: Option<&str>) -> Vec<(String, String)> {
    raw.map(|q| form_urlencoded::parse(q.as_bytes()).into_owned().collect())
        .unwrap_or_default()
}

/// One argument's value, as text (or a list of texts).
enum Value {
    Text(Option<String>),
    List(Option<Vec<String>>),
}

async fn handle(
    State(api): State<WebApi>,
    endpoint: Endpoint,
    path: HashMap<String, String>,
    raw_query: Option<String>,
    request: Request,
) -> Result<Response, ApiError> {
    let pool = api.pool.as_ref().ok_or_else(|| {
        ApiError::new(
            StatusCode::NOT_FOUND,
            "the Web API is not enabled on this server (API_DATABASE_URL)",
        )
    })?;
    let token = bearer(&request).ok_or_else(|| {
        ApiError::new(
            StatusCode::UNAUTHORIZED,
            "Authentication credentials were not provided.",
        )
    })?;
    let url_base = format!("{}{}", api.public_url, request.uri().path());
    let body = if endpoint.args.iter().any(|(_, s)| *s == Source::Body) {
        let bytes = to_bytes(request.into_body(), MAX_BODY_BYTES)
            .await
            .map_err(|_| {
                ApiError::new(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    "the body is larger than 1 MiB",
                )
            })?;
        if bytes.iter().all(u8::is_ascii_whitespace) {
            Some("{}".to_string())
        } else {
            serde_json::from_slice::<serde_json::Value>(&bytes).map_err(|e| {
                ApiError::new(
                    StatusCode::BAD_REQUEST,
                    format!("the body is not JSON: {e}"),
                )
            })?;
            Some(String::from_utf8_lossy(&bytes).into_owned())
        }
    } else {
        None
    };
    let query = query_pairs(raw_query.as_deref());

    let client = pool.get().await.map_err(|e| unavailable(e.into()))?;
    let who = client
        .query_one(
            "SELECT token_id::text, name FROM crashcache.api_authenticate($1, $2)",
            &[&token, &endpoint.scope],
        )
        .await
        .map_err(from_db)?;
    let token_id: String = who.get(0);
    let actor: String = who.get(1);

    let values: Vec<Value> = endpoint
        .args
        .iter()
        .map(|(_, source)| match source {
            Source::Path(name) => Value::Text(path.get(*name).cloned()),
            Source::Query(names) | Source::QueryInt(names) | Source::QueryBool(names) => {
                Value::Text(
                    names
                        .iter()
                        .find_map(|n| query.iter().find(|(k, _)| k == n).map(|(_, v)| v.clone())),
                )
            }
            Source::QueryList(name) => {
                let all: Vec<String> = query
                    .iter()
                    .filter(|(k, _)| k == name)
                    .map(|(_, v)| v.clone())
                    .collect();
                Value::List((!all.is_empty()).then_some(all))
            }
            Source::Body => Value::Text(body.clone()),
            Source::Actor => Value::Text(Some(actor.clone())),
            Source::TokenId => Value::Text(Some(token_id.clone())),
        })
        .collect();
    let params: Vec<&(dyn ToSql + Sync)> = values
        .iter()
        .map(|v| match v {
            Value::Text(t) => t as &(dyn ToSql + Sync),
            Value::List(l) => l as &(dyn ToSql + Sync),
        })
        .collect();
    let row = client
        .query_one(&endpoints::statement(&endpoint), &params)
        .await
        .map_err(from_db)?;
    let json: Option<String> = row.get(0);
    let json = json.ok_or_else(|| {
        ApiError::new(
            StatusCode::NOT_FOUND,
            "The requested resource does not exist",
        )
    })?;

    Ok(match endpoint.answer {
        Answer::Object => json_response(StatusCode::OK, json),
        Answer::Created => json_response(StatusCode::CREATED, json),
        Answer::List => {
            let page: serde_json::Value = serde_json::from_str(&json).map_err(|e| {
                ApiError::internal(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "internal error",
                    format!("a page that is not JSON: {e}"),
                )
            })?;
            let next = page["next"].as_str();
            let mut response = json_response(StatusCode::OK, page["items"].to_string());
            if let Ok(value) = HeaderValue::from_str(&link::link_header(&url_base, &query, next)) {
                response.headers_mut().insert(LINK, value);
            }
            response
        }
    })
}

#[cfg(test)]
mod tests {
    use super::{bearer, status_of};
    use axum::body::Body;
    use axum::http::{Request, StatusCode};

    #[test]
    fn sqlstates_to_statuses() {
        assert_eq!(status_of("P0002"), StatusCode::NOT_FOUND);
        assert_eq!(status_of("42501"), StatusCode::FORBIDDEN);
        assert_eq!(status_of("28000"), StatusCode::UNAUTHORIZED);
        assert_eq!(status_of("22P02"), StatusCode::BAD_REQUEST);
        assert_eq!(status_of("22023"), StatusCode::BAD_REQUEST);
        assert_eq!(status_of("XX000"), StatusCode::INTERNAL_SERVER_ERROR);
    }

    #[test]
    fn bearer_tokens() {
        let with = |value: &str| {
            bearer(
                &Request::get("/")
                    .header("authorization", value)
                    .body(Body::empty())
                    .unwrap(),
            )
        };
        assert_eq!(
            with("Bearer sntrys_abc_def").as_deref(),
            Some("sntrys_abc_def")
        );
        assert_eq!(with("bearer  x ").as_deref(), Some("x"));
        assert_eq!(with("Token y").as_deref(), Some("y"));
        assert_eq!(with("Basic eHl6"), None);
        assert_eq!(with("Bearer "), None);
        assert_eq!(
            bearer(&Request::get("/").body(Body::empty()).unwrap()),
            None
        );
    }
}
