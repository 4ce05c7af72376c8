//! `POST /api/{project_id}/store/` and `POST /api/store/`: one JSON event (legacy SDKs, curl,
//! log shippers), whatever Content-Type it is sent with.

use axum::extract::{RawPathParams, Request, State};
use axum::response::Response;

use crate::db::Kind;
use crate::state::AppState;

/// Ingests one event for the project in the path.
pub async fn handle(
    State(state): State<AppState>,
    params: RawPathParams,
    request: Request,
) -> Response {
    match super::project_id(&params) {
        Ok(project_id) => super::ingest(&state, Some(project_id), Kind::Store, request).await,
        Err(error) => super::refuse(request, error).await,
    }
}

/// Ingests one event for the project its key belongs to (`/api/store/`).
pub async fn handle_without_project(State(state): State<AppState>, request: Request) -> Response {
    super::ingest(&state, None, Kind::Store, request).await
}
