//! `POST /api/{project_id}/envelope/`: an envelope, as every modern SDK sends.

use axum::extract::{RawPathParams, Request, State};
use axum::response::Response;

use crate::db::Kind;
use crate::state::AppState;

/// Ingests the body as an envelope for the project in the path.
pub async fn handle(
    State(state): State<AppState>,
    params: RawPathParams,
    request: Request,
) -> Response {
    match super::project_id(&params) {
        Ok(project_id) => super::ingest(&state, Some(project_id), Kind::Envelope, request).await,
        Err(error) => super::refuse(request, error).await,
    }
}
