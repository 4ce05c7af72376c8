//! The route table (`app`), with the layers every answer goes through: CORS and the request log.
//!
//! Body limits are not a layer: the ingest routes read the body themselves (`body`)
//! against `MAX_COMPRESSED_PAYLOAD_BYTES`, so that they can refuse a Content-Length over it
//! before buffering anything, drain what the client still sends, and answer 413 in Sentry's
//! shape.

use std::time::Instant;

use axum::extract::Request;
use axum::http::header::{ACCESS_CONTROL_ALLOW_ORIGIN, ACCESS_CONTROL_EXPOSE_HEADERS};
use axum::http::{HeaderValue, StatusCode};
use axum::middleware::{self, Next};
use axum::response::Response;
use axum::routing::{get, post};
use axum::Router;

use crate::error::Failure;
use crate::routes::{self, envelope, health, store, Outcome};
use crate::state::AppState;
use crate::web_api;
use crate::web_ui;

/// Headers a browser SDK may read from a cross-origin answer.
const EXPOSED_HEADERS: &str = "X-Sentry-Error, X-Sentry-Rate-Limits, Retry-After";

/// The whole HTTP surface.
pub fn app(state: AppState) -> Router {
    let envelope = post(envelope::handle).options(routes::preflight);
    let store = post(store::handle).options(routes::preflight);
    let store_without_project = post(store::handle_without_project).options(routes::preflight);
    let web_api = web_api::router(state.web_api.clone());
    let web_ui = state.web_ui.clone().map(web_ui::router);
    let router = Router::new()
        // SDKs: every route with and without its trailing slash.
        .route("/api/{project_id}/envelope/", envelope.clone())
        .route("/api/{project_id}/envelope", envelope)
        .route("/api/{project_id}/store/", store.clone())
        .route("/api/{project_id}/store", store)
        .route("/api/store/", store_without_project.clone())
        .route("/api/store", store_without_project)
        // Operators and load balancers.
        .route("/health", get(health::handle))
        .fallback(routes::not_found)
        .method_not_allowed_fallback(routes::method_not_allowed)
        .with_state(state)
        // Tools: Sentry's Web API.
        .merge(web_api)
        // For browser SDKs and tools on other origins; the UI's pages are same-origin only.
        .layer(middleware::from_fn(cors));
    // People: the web UI, when it is on.
    let router = match web_ui {
        Some(web_ui) => router.merge(web_ui),
        None => router,
    };
    router.layer(middleware::from_fn(log_request))
}

/// What a connection over the cap is served: 503 to any request, with the same layers.
pub fn busy() -> Router {
    Router::new()
        .fallback(routes::busy)
        .layer(middleware::from_fn(log_request))
        .layer(middleware::from_fn(cors))
}

/// Browsers hand an answer to the SDK only when it allows their origin, and show it the rate
/// limit headers only when they are exposed: both go on every answer, errors included.
async fn cors(request: Request, next: Next) -> Response {
    let mut response = next.run(request).await;
    let headers = response.headers_mut();
    headers.insert(ACCESS_CONTROL_ALLOW_ORIGIN, HeaderValue::from_static("*"));
    headers.insert(
        ACCESS_CONTROL_EXPOSE_HEADERS,
        HeaderValue::from_static(EXPOSED_HEADERS),
    );
    response
}

/// One log line per request: debug when it went well, warn for refusals and an unavailable
/// database, error for anything else on this side. Rate-limit refusals stay at debug, since
/// they come in floods by nature. The query string is left out: it may hold the key.
async fn log_request(request: Request, next: Next) -> Response {
    let started = Instant::now();
    let method = request.method().clone();
    let path = request.uri().path().to_owned();
    let response = next.run(request).await;
    let status = response.status();
    let elapsed_ms = (started.elapsed().as_secs_f64() * 1e6).round() / 1e3;
    let failure = response
        .extensions()
        .get::<Failure>()
        .map(|f| f.message.as_str());
    let outcome = response.extensions().get::<Outcome>();
    let outcome_text = outcome.map(|o| o.outcome.as_str());
    let project_id = outcome.and_then(|o| o.project_id);
    let event_id = outcome.and_then(|o| o.event_id.as_deref());
    match failure {
        None => tracing::debug!(
            %method, path, status = status.as_u16(), elapsed_ms, outcome = outcome_text,
            project_id, event_id, "request"
        ),
        Some(error) if status == StatusCode::TOO_MANY_REQUESTS => tracing::debug!(
            %method, path, status = status.as_u16(), elapsed_ms, error, "request refused"
        ),
        Some(error) if status.is_client_error() || status == StatusCode::SERVICE_UNAVAILABLE => {
            tracing::warn!(%method, path, status = status.as_u16(), elapsed_ms, error, "request refused")
        }
        Some(error) => tracing::error!(
            %method, path, status = status.as_u16(), elapsed_ms, error, "request failed"
        ),
    }
    response
}

#[cfg(test)]
mod tests {
    use super::app;
    use crate::body::Receiving;
    use crate::config::tests::config;
    use crate::db;
    use crate::db::batch::Batcher;
    use crate::health::Health;
    use crate::ratelimit::RateLimiter;
    use crate::state::AppState;
    use axum::body::Body;
    use axum::extract::ConnectInfo;
    use axum::http::{Request, StatusCode};
    use axum::response::Response;
    use http_body_util::BodyExt;
    use std::net::SocketAddr;
    use std::sync::Arc;
    use std::time::{Duration, Instant};
    use tower::ServiceExt;

    /// A state whose database cannot be reached (nothing listens on port 1).
    fn test_state(args: &[&str]) -> (AppState, tokio::sync::watch::Sender<Option<Arc<db::Stats>>>) {
        let mut all = vec!["--database-url=postgres://postgres@127.0.0.1:1/crashcache"];
        all.extend_from_slice(args);
        let config = config(&all).unwrap();
        let (sender, health) = Health::channel();
        let state = AppState {
            batcher: Batcher::start(
                db::pool(config.pool_settings()).unwrap(),
                config.batch_settings(),
            ),
            limiter: Arc::new(RateLimiter::new(config.limits, Instant::now())),
            receiving: Receiving::new(config.max_receiving_bytes, config.body_timeout),
            config: Arc::new(config),
            health,
            web_api: crate::web_api::WebApi {
                pool: None,
                public_url: "http://127.0.0.1:3000".into(),
            },
            web_ui: None,
        };
        (state, sender)
    }

    fn post(uri: &str, body: &'static str) -> Request<Body> {
        let peer: SocketAddr = "127.0.0.1:40000".parse().unwrap();
        let mut request = Request::post(uri)
            .header("x-sentry-auth", "Sentry sentry_key=abc, sentry_version=7")
            .body(Body::from(body))
            .unwrap();
        request.extensions_mut().insert(ConnectInfo(peer));
        request
    }

    async fn send(state: &AppState, request: Request<Body>) -> (Response, serde_json::Value) {
        let response = app(state.clone()).oneshot(request).await.unwrap();
        let (parts, body) = response.into_parts();
        let bytes = body.collect().await.unwrap().to_bytes();
        let json = if bytes.is_empty() {
            serde_json::Value::Null
        } else {
            serde_json::from_slice(&bytes).unwrap()
        };
        (Response::from_parts(parts, Body::empty()), json)
    }

    /// Every ingest route, with and without its trailing slash.
    const INGEST_ROUTES: [&str; 6] = [
        "/api/1/envelope/",
        "/api/1/envelope",
        "/api/1/store/",
        "/api/1/store",
        "/api/store/",
        "/api/store",
    ];

    fn assert_cors(response: &Response) {
        assert_eq!(response.headers()["access-control-allow-origin"], "*");
        assert_eq!(
            response.headers()["access-control-expose-headers"],
            "X-Sentry-Error, X-Sentry-Rate-Limits, Retry-After"
        );
    }

    #[tokio::test]
    async fn preflight_on_every_ingest_route() {
        let (state, _) = test_state(&[]);
        for uri in INGEST_ROUTES {
            let request = Request::options(uri)
                .header("origin", "https://app.example.com")
                .header("access-control-request-method", "POST")
                .header("access-control-request-headers", "content-type, x-custom")
                .body(Body::empty())
                .unwrap();
            let (response, _) = send(&state, request).await;
            assert_eq!(response.status(), StatusCode::NO_CONTENT, "{uri}");
            assert_cors(&response);
            let headers = response.headers();
            assert_eq!(headers["access-control-allow-methods"], "POST, OPTIONS");
            let allowed = headers["access-control-allow-headers"].to_str().unwrap();
            for name in [
                "content-type",
                "x-sentry-auth",
                "authorization",
                "sentry-trace",
                "baggage",
                "content-encoding",
                "x-custom",
            ] {
                assert!(allowed.contains(name), "{allowed}");
            }
            assert_eq!(headers["access-control-max-age"], "86400");
        }
    }

    #[tokio::test]
    async fn unknown_routes_and_methods_answer_json_with_cors() {
        let (state, _) = test_state(&[]);
        let (response, body) =
            send(&state, Request::get("/nope").body(Body::empty()).unwrap()).await;
        assert_eq!(response.status(), StatusCode::NOT_FOUND);
        assert_cors(&response);
        assert!(body["detail"].is_string());
        assert!(response.headers().contains_key("x-sentry-error"));

        let (response, body) = send(
            &state,
            Request::get("/api/1/store/").body(Body::empty()).unwrap(),
        )
        .await;
        assert_eq!(response.status(), StatusCode::METHOD_NOT_ALLOWED);
        assert_cors(&response);
        assert_eq!(body["detail"], "method not allowed");
        assert!(response.headers()["allow"]
            .to_str()
            .unwrap()
            .contains("POST"));
    }

    #[tokio::test]
    async fn the_web_uis_pages_allow_no_other_origin() {
        let (mut state, _) = test_state(&[]);
        let ui =
            config(&["--ui-database-url=postgres://crashcache_ui_proxy@127.0.0.1:1/crashcache"])
                .unwrap()
                .ui_pool_settings()
                .map(|settings| db::pool(settings).unwrap())
                .unwrap();
        state.web_ui = Some(crate::web_ui::WebUi::new(
            ui,
            "http://127.0.0.1:3000",
            Default::default(),
        ));
        let response = app(state.clone())
            .oneshot(Request::get("/signin").body(Body::empty()).unwrap())
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        assert!(!response
            .headers()
            .contains_key("access-control-allow-origin"));
        let (response, _) = send(&state, post("/api/abc/store/", "{}")).await;
        assert_cors(&response);
    }

    #[tokio::test]
    async fn bad_project_id_is_400() {
        let (state, _) = test_state(&[]);
        for uri in [
            "/api/abc/store/",
            "/api/0/envelope/",
            "/api/-3/envelope",
            "/api/99999999999/store/",
        ] {
            let (response, body) = send(&state, post(uri, "{}")).await;
            assert_eq!(response.status(), StatusCode::BAD_REQUEST, "{uri}");
            assert_cors(&response);
            assert!(body["detail"].as_str().unwrap().contains("project id"));
        }
    }

    #[tokio::test]
    async fn oversized_body_is_413_before_the_database() {
        let (state, _) = test_state(&["--max-compressed-payload-bytes=4"]);
        let (response, body) = send(&state, post("/api/1/store/", "12345")).await;
        assert_eq!(response.status(), StatusCode::PAYLOAD_TOO_LARGE);
        assert_cors(&response);
        assert!(body["detail"].as_str().unwrap().contains("4 bytes"));
        let mut request = post("/api/1/envelope/", "");
        request
            .headers_mut()
            .insert("content-length", "100".parse().unwrap());
        let (response, _) = send(&state, request).await;
        assert_eq!(response.status(), StatusCode::PAYLOAD_TOO_LARGE);
    }

    #[tokio::test]
    async fn database_down_is_503_at_once_on_every_route() {
        let (state, _) = test_state(&[]);
        for uri in INGEST_ROUTES {
            let started = Instant::now();
            let (response, body) = send(&state, post(uri, "{}")).await;
            assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE, "{uri}");
            assert!(started.elapsed() < Duration::from_secs(2));
            assert_cors(&response);
            assert_eq!(
                body["detail"],
                "the database is unavailable, try again later"
            );
            assert_eq!(body["causes"], serde_json::json!([]));
        }
    }

    #[tokio::test]
    async fn rate_limits_answer_429_with_sentry_headers() {
        let (state, _) = test_state(&[
            "--rate-limit-global-per-second=1",
            "--rate-limit-burst-multiplier=1",
        ]);
        let (first, _) = send(&state, post("/api/1/store/", "{}")).await;
        assert_eq!(first.status(), StatusCode::SERVICE_UNAVAILABLE);
        let (second, body) = send(&state, post("/api/1/store/", "{}")).await;
        assert_eq!(second.status(), StatusCode::TOO_MANY_REQUESTS);
        assert_cors(&second);
        assert_eq!(second.headers()["retry-after"], "1");
        assert_eq!(second.headers()["x-sentry-rate-limits"], "1::organization");
        assert!(body["detail"].as_str().unwrap().starts_with("rate limited"));
    }

    #[tokio::test]
    async fn per_ip_limits_believe_forwarded_for_only_from_trusted_proxies() {
        let (state, _) = test_state(&[
            "--rate-limit-per-ip-per-second=1",
            "--rate-limit-burst-multiplier=1",
            "--trusted-proxies=127.0.0.1",
        ]);
        let forwarded = |client: &'static str| {
            let mut request = post("/api/1/envelope/", "{}");
            request
                .headers_mut()
                .insert("x-forwarded-for", client.parse().unwrap());
            request
        };
        assert_eq!(
            send(&state, forwarded("1.2.3.4")).await.0.status(),
            StatusCode::SERVICE_UNAVAILABLE
        );
        assert_eq!(
            send(&state, forwarded("5.6.7.8")).await.0.status(),
            StatusCode::SERVICE_UNAVAILABLE
        );
        let (refused, _) = send(&state, forwarded("1.2.3.4")).await;
        assert_eq!(refused.status(), StatusCode::TOO_MANY_REQUESTS);
        assert_eq!(refused.headers()["x-sentry-rate-limits"], "1::key");

        // Not trusted: every forwarded address is the same peer.
        let (untrusting, _) = test_state(&[
            "--rate-limit-per-ip-per-second=1",
            "--rate-limit-burst-multiplier=1",
        ]);
        assert_eq!(
            send(&untrusting, forwarded("1.2.3.4")).await.0.status(),
            StatusCode::SERVICE_UNAVAILABLE
        );
        assert_eq!(
            send(&untrusting, forwarded("5.6.7.8")).await.0.status(),
            StatusCode::TOO_MANY_REQUESTS
        );
    }

    #[tokio::test]
    async fn health_answers_from_the_cache() {
        let (state, sender) = test_state(&[]);
        let get = || Request::get("/health").body(Body::empty()).unwrap();
        let (response, body) = send(&state, get()).await;
        assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(body["database"], "down");
        assert!(response.headers().contains_key("x-sentry-error"));

        sender
            .send(Some(Arc::new(db::Stats {
                queued: Some(3),
                oldest_queued_seconds: Some(0.5),
                errors: Some(0),
                archives_estimate: Some(10),
                events_estimate: Some(9),
                issues: Some(2),
                running_workers: Some(2),
                digested_since_start: Some(7),
                failed_since_start: Some(0),
                over_capacity: None,
            })))
            .unwrap();
        let (response, body) = send(&state, get()).await;
        assert_eq!(response.status(), StatusCode::OK);
        assert_eq!(body["status"], "ok");
        assert_eq!(body["database"], "up");
        assert_eq!(body["queued"], 3);
        assert_eq!(body["running_workers"], 2);
    }
}
