//! pg_crashcache: a Sentry-compatible error tracker inside PostgreSQL.
//!
//! `crashcache.ingest()` stores and enqueues a request body in one short statement; background
//! workers ([`digest`]) turn queued payloads into events, issues and the rest. All parsing and
//! grouping is in the pure `crashcache-core` crate; this crate is the PostgreSQL shell around it.

use pgrx::prelude::*;

mod api;
mod capacity;
mod dictionary;
mod digest;
mod errors;
mod guc;
mod wake;
mod web_api;

::pgrx::pg_module_magic!();

// The schema and its SQL functions, in dependency order; the Rust functions of `api` are
// created between the tables they need and the SQL that calls them.
extension_sql_file!("../sql/schema.sql", name = "schema", bootstrap);
extension_sql_file!(
    "../sql/projects.sql",
    name = "projects",
    requires = ["schema"]
);
extension_sql_file!(
    "../sql/ingest.sql",
    name = "ingest",
    requires = [
        "projects",
        api::prepare_payload,
        api::wake_workers,
        api::over_capacity
    ]
);
extension_sql_file!("../sql/digest.sql", name = "digest", requires = ["schema"]);
extension_sql_file!("../sql/backup.sql", name = "backup", requires = ["schema"]);
extension_sql_file!(
    "../sql/retention.sql",
    name = "retention",
    requires = ["projects"]
);
extension_sql_file!(
    "../sql/admin.sql",
    name = "admin",
    requires = [
        "digest",
        "retention",
        api::worker_stats,
        api::over_capacity,
        api::unpack,
        api::payload_items,
        api::item_json,
        api::train_dictionary
    ]
);
extension_sql_file!(
    "../sql/maintenance.sql",
    name = "maintenance",
    requires = ["admin"]
);
extension_sql_file!(
    "../sql/views.sql",
    name = "views",
    requires = ["maintenance", "backup"]
);
extension_sql_file!(
    "../sql/web_api.sql",
    name = "web_api",
    requires = [
        "views",
        web_api::parse_issue_query,
        web_api::parse_stats_period,
        web_api::api_event_body
    ]
);
extension_sql_file!("../sql/ui.sql", name = "ui", requires = ["web_api"]);
extension_sql_file!("../sql/ui_pages.sql", name = "ui_pages", requires = ["ui"]);
extension_sql_file!(
    "../sql/alerts.sql",
    name = "alerts",
    requires = ["ui_pages"],
    finalize
);

#[pg_guard]
pub extern "C-unwind" fn _PG_init() {
    guc::init();
    // Workers and the shared memory they are woken through exist only when the library is
    // preloaded; without it, ingest still stores and enqueues, and nothing digests.
    if unsafe { pg_sys::process_shared_preload_libraries_in_progress } {
        wake::init_shared_memory();
        digest::worker::register_all();
    }
}

#[cfg(test)]
pub mod pg_test {
    pub fn setup(_options: Vec<&str>) {}

    pub fn postgresql_conf_options() -> Vec<&'static str> {
        vec![
            "shared_preload_libraries = 'pg_crashcache'",
            "crashcache.database = 'pgrx_tests'",
            "crashcache.workers = 2",
        ]
    }
}

#[cfg(any(test, feature = "pg_test"))]
mod tests;
