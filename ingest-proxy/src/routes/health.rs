//! `GET /health`: the cached database figures; 200 when the database is up, else 503. While
//! the disk guard refuses ingest, the status says `over_capacity` (and `over_capacity` why).

use axum::extract::State;
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;

use crate::db::Stats;
use crate::error::{Failure, X_SENTRY_ERROR};
use crate::state::AppState;

#[derive(serde::Serialize)]
struct Up<'a> {
    status: &'static str,
    database: &'static str,
    #[serde(flatten)]
    stats: &'a Stats,
}

const DOWN_DETAIL: &str = "the database is unavailable";

/// Answers from the cache filled by `health::spawn_refresher`.
pub async fn handle(State(state): State<AppState>) -> Response {
    match state.health.latest() {
        Some(stats) => Json(Up {
            status: if stats.over_capacity.is_some() {
                "over_capacity"
            } else {
                "ok"
            },
            database: "up",
            stats: &stats,
        })
        .into_response(),
        None => {
            let body = serde_json::json!({
                "status": "error",
                "database": "down",
                "detail": DOWN_DETAIL,
                "causes": [],
            });
            let mut response = (StatusCode::SERVICE_UNAVAILABLE, Json(body)).into_response();
            response
                .headers_mut()
                .insert(X_SENTRY_ERROR, HeaderValue::from_static(DOWN_DETAIL));
            response.extensions_mut().insert(Failure {
                message: "the last database health check failed".into(),
            });
            response
        }
    }
}
