//! `AppState`: what every handler shares. Its own module, so that the route table (`app`) and
//! the handlers (`routes`) both depend on it instead of on each other; none of its parts is
//! defined in `routes` or `app`, so it depends on neither.

use std::sync::Arc;

use crate::body::Receiving;
use crate::config::Config;
use crate::db::batch::Batcher;
use crate::health::Health;
use crate::ratelimit::RateLimiter;
use crate::web_api::WebApi;
use crate::web_ui::WebUi;

/// What every handler shares.
#[derive(Clone)]
pub struct AppState {
    /// The validated configuration.
    pub config: Arc<Config>,
    /// Where ingest requests go: batched calls of `crashcache.ingest_batch`.
    pub batcher: Batcher,
    /// The rate limiter.
    pub limiter: Arc<RateLimiter>,
    /// The budget and deadline for request bodies being received.
    pub receiving: Receiving,
    /// The cached health figures.
    pub health: Health,
    /// Sentry's Web API: its pool and base URL.
    pub web_api: WebApi,
    /// The web UI, when it is on (`UI_DATABASE_URL`).
    pub web_ui: Option<WebUi>,
}
