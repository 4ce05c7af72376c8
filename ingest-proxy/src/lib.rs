//! ingest-proxy: Sentry's HTTP ingest protocol in front of pg_crashcache.
//!
//! An event's path: an SDK POSTs to `/api/{project_id}/envelope/` (`routes::envelope`); the
//! route finds the key (`auth`), the client's address (`client_ip`), checks the rate limits
//! (`ratelimit`), reads the body up to its limit (`body`), and hands it to `db::batch`, which
//! sends it with the other requests waiting in one call of `crashcache.ingest_batch()`: the
//! database checks each key, decodes, stores and enqueues, and commits once for all. The
//! database's verdict becomes Sentry's answer (`error` for refusals). Nothing is stored here.
//!
//! The same server answers Sentry's Web API (`/api/0/`, `web_api`) from SQL functions, on a
//! pool of its own, and delivers the alerts the database writes to its outbox (`alerts`).

#![warn(missing_docs)]

pub mod alerts;
pub mod app;
pub mod auth;
pub mod body;
pub mod cli;
pub mod client_ip;
pub mod commands;
pub mod config;
pub mod connections;
pub mod db;
pub mod error;
pub mod health;
pub mod ratelimit;
pub mod routes;
pub mod server;
pub mod size;
pub mod state;
pub mod web_api;
pub mod web_ui;
