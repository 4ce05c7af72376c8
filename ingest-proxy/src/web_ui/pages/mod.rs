//! The pages, one module each; `web_ui::router` routes to their handlers.

pub mod alerts;
pub mod issues;
pub mod projects;
pub mod signin;
pub mod users;
// The detail pages.
pub mod attachments;
pub mod crons;
pub mod fields;
pub mod figures;
pub mod frames;
pub mod issue;
pub mod issue_event;
pub mod logs;
pub mod performance;
pub mod period;
pub mod project;
pub mod releases;
pub mod status;
pub mod waterfall;
