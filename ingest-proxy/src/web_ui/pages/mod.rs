//! The pages, one module each; `web_ui::router` routes to their handlers.

pub mod issues;
pub mod projects;
pub mod signin;
pub mod users;
