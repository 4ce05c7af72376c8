//! `POST /api/{project_id}/store/` and `POST /api/store/`: one JSON event (legacy SDKs, curl,
//! log shippers), whatever Content-Type it is sent with.

use axum::extract::{RawPathParams, Request, State};
use axum::response::Response;

use crate::app::AppState;
use crate::db::Kind;
use crate::error::ProxyError;

/// Ingests one event for the project in the path.
pub async fn handle(
    State(state): State<AppState>,
    params: RawPathParams,
    request: Request,
) -> Result<Response, ProxyError> {
    let project_id = super::project_id(&params)?;
    super::ingest(&state, Some(project_id), Kind::Store, request).await
}

/// Ingests one event for the project its key belongs to (`/api/store/`).
pub async fn handle_without_project(
    State(state): State<AppState>,
    request: Request,
) -> Result<Response, ProxyError> {
    super::ingest(&state, None, Kind::Store, request).await
}
