//! Sentry's Web API (`/api/0/`) shapes and syntax, for the SQL functions that answer it
//! (pg_crashcache/sql/web_api.sql): the event as clients parse it ([`event`], with its request
//! entry in `request` and the caps both keep to in `bounded`) and the issue search language
//! ([`search`]).

mod bounded;
pub mod event;
mod request;
pub mod search;
