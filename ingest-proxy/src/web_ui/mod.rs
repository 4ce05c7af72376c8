//! The web UI: server-rendered pages for triaging in a browser, on when `UI_DATABASE_URL` is
//! set. Each page is a few calls of `ui_*` and `api_*` SQL functions (pg_crashcache/sql/ui.sql,
//! ui_pages.sql, web_api.sql) as role crashcache_ui_proxy, turned into HTML with maud (which
//! escapes everything by default). Sign-in is `session`, form checks `csrf`, the shared frame
//! and pieces `layout`; every page is a module of `pages`. This file is the one route table.

pub mod assets;
pub mod csrf;
pub mod db;
pub mod error;
pub mod layout;
pub mod pages;
pub mod password;
pub mod session;
pub mod snippets;
pub mod sparkline;
pub mod time;

use std::sync::Arc;

use axum::extract::Request;
use axum::http::header::{
    CACHE_CONTROL, CONTENT_SECURITY_POLICY, REFERRER_POLICY, X_CONTENT_TYPE_OPTIONS,
    X_FRAME_OPTIONS,
};
use axum::http::HeaderValue;
use axum::middleware::{self, Next};
use axum::response::{Redirect, Response};
use axum::routing::{get, post};
use axum::Router;
use deadpool_postgres::Pool;

use crate::client_ip::TrustedProxies;

/// What the UI's handlers share.
#[derive(Clone)]
pub struct WebUi {
    /// Connections as the UI's role (crashcache_ui_proxy).
    pub pool: Pool,
    /// The proxy's public URL (DSNs, links).
    pub public_url: Arc<str>,
    /// Whether cookies get `Secure`: the public URL is https.
    pub secure_cookies: bool,
    /// Whose `X-Forwarded-For` names the client (sign-in rate limits count per client).
    pub trusted_proxies: Arc<TrustedProxies>,
}

impl WebUi {
    /// The UI for `pool`, served at `public_url`.
    pub fn new(pool: Pool, public_url: &str, trusted_proxies: TrustedProxies) -> Self {
        Self {
            pool,
            public_url: public_url.into(),
            secure_cookies: public_url.starts_with("https://"),
            trusted_proxies: Arc::new(trusted_proxies),
        }
    }
}

/// The UI's routes. Merged into the proxy's route table (`app`) when the UI is on.
pub fn router(ui: WebUi) -> Router {
    use pages::{
        alerts, attachments, crons, issue, issues, logs, performance, projects, releases, signin,
        status, users,
    };
    Router::new()
        .route("/", get(|| async { Redirect::to("/issues") }))
        // Signing in and out.
        .route("/signin", get(signin::form).post(signin::submit))
        .route("/signout", post(signin::sign_out))
        .route("/users", get(users::list).post(users::create))
        // Projects.
        .route("/projects", get(projects::list))
        .route(
            "/projects/new",
            get(projects::new_form).post(projects::create),
        )
        .route("/projects/{project_slug}", get(projects::show))
        .route("/projects/{project_slug}/keys", post(projects::create_key))
        .route(
            "/projects/{project_slug}/keys/revoke",
            post(projects::revoke_key),
        )
        // Issues.
        .route("/issues", get(issues::list))
        .route("/issues/bulk", post(issues::bulk))
        // The detail pages: an issue and its events, attachments, release health,
        // performance and spans, crons, logs, status.
        .route("/issues/{issue_id}", get(issue::show))
        .route("/issues/{issue_id}/status", post(issue::set_status))
        .route("/issues/{issue_id}/comments", post(issue::add_comment))
        .route(
            "/issues/{issue_id}/events/{event_id}",
            get(issue::show_event),
        )
        .route(
            "/issues/{issue_id}/events/{event_id}/json",
            get(issue::event_json),
        )
        .route("/attachments/{attachment_id}", get(attachments::download))
        .route("/releases", get(releases::list_page))
        .route("/performance", get(performance::overview))
        .route(
            "/performance/transactions/{name}",
            get(performance::transaction),
        )
        .route("/performance/events/{event_id}", get(performance::spans))
        .route("/traces/{trace_id}", get(performance::trace))
        .route("/crons", get(crons::list_page))
        .route("/logs", get(logs::search))
        .route("/status", get(status::show))
        .route("/status/retry", post(status::retry))
        // Alert settings.
        .route("/alerts", get(alerts::show))
        .route("/alerts/channels", post(alerts::create_channel))
        .route("/alerts/channels/{id}/test", post(alerts::send_test))
        .route("/alerts/channels/{id}/delete", post(alerts::delete_channel))
        .route("/alerts/rules", post(alerts::create_rule))
        .route("/alerts/rules/{id}/enabled", post(alerts::set_enabled))
        .route("/alerts/rules/{id}/delete", post(alerts::delete_rule))
        // The detail pages (pages/issue.rs, releases.rs, performance.rs, crons.rs, logs.rs,
        // status.rs) go here.
        .route("/static/{file}", get(assets::serve))
        .layer(middleware::from_fn(security_headers))
        .with_state(ui)
}

/// What every UI answer carries: no framing, no inline script, no referrer to other sites,
/// and no caching of pages (they show data; assets set their own caching).
async fn security_headers(request: Request, next: Next) -> Response {
    let mut response = next.run(request).await;
    let headers = response.headers_mut();
    headers.insert(
        CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
             connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
        ),
    );
    headers.insert(X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    headers.insert(REFERRER_POLICY, HeaderValue::from_static("same-origin"));
    headers.insert(X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    if !headers.contains_key(CACHE_CONTROL) {
        headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    response
}

#[cfg(test)]
mod tests {
    use super::{assets, router, WebUi};
    use crate::client_ip::TrustedProxies;
    use crate::config::tests::config;
    use crate::db;
    use axum::body::Body;
    use axum::http::{Request, StatusCode};
    use tower::ServiceExt;

    /// The UI with a database nobody listens on: what is answered before any SQL.
    fn ui() -> WebUi {
        let config = config(&[
            "--database-url=postgres://postgres@127.0.0.1:1/crashcache",
            "--ui-database-url=postgres://crashcache_ui_proxy@127.0.0.1:1/crashcache",
        ])
        .unwrap();
        let pool = db::pool(config.ui_pool_settings().unwrap()).unwrap();
        WebUi::new(pool, "http://127.0.0.1:3000", TrustedProxies::default())
    }

    #[tokio::test]
    async fn pages_without_a_session_go_to_sign_in_with_the_headers() {
        let response = router(ui())
            .oneshot(
                Request::get("/issues?project=web")
                    .body(Body::empty())
                    .unwrap(),
            )
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::SEE_OTHER);
        let headers = response.headers();
        assert_eq!(
            headers["location"],
            "/signin?next=%2Fissues%3Fproject%3Dweb"
        );
        assert_eq!(headers["x-frame-options"], "DENY");
        assert_eq!(headers["cache-control"], "no-store");
        assert!(headers["content-security-policy"]
            .to_str()
            .unwrap()
            .contains("frame-ancestors 'none'"));
        let response = router(ui())
            .oneshot(
                Request::post("/issues/bulk")
                    .body(Body::from("action=ignore&ids=1"))
                    .unwrap(),
            )
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::FORBIDDEN);
    }

    #[tokio::test]
    async fn assets_are_served_for_a_year_by_their_hashed_name() {
        let css = assets::url("ui.css");
        let response = router(ui())
            .oneshot(Request::get(css.as_str()).body(Body::empty()).unwrap())
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        assert_eq!(
            response.headers()["content-type"],
            "text/css; charset=utf-8"
        );
        assert_eq!(
            response.headers()["cache-control"],
            "public, max-age=31536000, immutable"
        );
        let response = router(ui())
            .oneshot(Request::get("/static/ui.css").body(Body::empty()).unwrap())
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::NOT_FOUND);
    }
}
