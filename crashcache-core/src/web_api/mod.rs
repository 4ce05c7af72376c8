//! Sentry's Web API (`/api/0/`) shapes and syntax, for the SQL functions that answer it
//! (pg_crashcache/sql/web_api.sql): the event as clients parse it ([`event`]) and the issue
//! search language ([`search`]).

pub mod event;
pub mod search;
