//! `POST /api/{project_id}/envelope/`: an envelope, as every modern SDK sends.

use axum::extract::{RawPathParams, Request, State};
use axum::response::Response;

use crate::app::AppState;
use crate::db::Kind;
use crate::error::ProxyError;

/// Ingests the body as an envelope for the project in the path.
pub async fn handle(
    State(state): State<AppState>,
    params: RawPathParams,
    request: Request,
) -> Result<Response, ProxyError> {
    let project_id = super::project_id(&params)?;
    super::ingest(&state, Some(project_id), Kind::Envelope, request).await
}
