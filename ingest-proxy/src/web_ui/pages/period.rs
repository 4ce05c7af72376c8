//! The pages that look at a time span (`?project=&period=`, the period in the Web API's
//! statsPeriod syntax, checked by SQL): their query, the period picker (the choices offered,
//! as links) and the page they share: one ui_* call, a header with the picker, the content.

use maud::{html, Markup};
use serde::Deserialize;
use serde_json::Value;

use crate::web_ui::db;
use crate::web_ui::error::UiError;
use crate::web_ui::layout::{self, Section};
use crate::web_ui::pages::{figures, project};
use crate::web_ui::session::SignedIn;
use crate::web_ui::WebUi;

/// The periods offered.
pub const CHOICES: [(&str, &str); 4] = [
    ("24h", "24 hours"),
    ("7d", "7 days"),
    ("14d", "14 days"),
    ("30d", "30 days"),
];

/// `?project=&period=`
#[derive(Debug, Deserialize)]
pub struct Params {
    /// The project's slug; none: the SQL function's choice.
    pub project: Option<String>,
    /// The period; none: the page's fallback.
    pub period: Option<String>,
}

/// A page over a period: what it is called, where it is, and what it reads.
pub struct PeriodPage {
    /// Its title and heading.
    pub title: &'static str,
    /// Its top bar section.
    pub section: Section,
    /// Its path, the picker's links'.
    pub path: &'static str,
    /// The period shown when none is asked for (the SQL function's default).
    pub fallback: &'static str,
    /// The call, `$1` the project, `$2` the period.
    pub sql: &'static str,
}

impl PeriodPage {
    /// Reads the page's answer and shows it: the header with the project and the picker, then
    /// `content` of the answer and the project's slug.
    pub async fn show(
        &self,
        ui: &WebUi,
        user: &SignedIn,
        params: &Params,
        content: impl FnOnce(&Value, &str) -> Markup,
    ) -> Result<Markup, UiError> {
        let found = db::one_json(&ui.pool, self.sql, &[&params.project, &params.period]).await?;
        let project = project::slug(&found);
        let body = html! {
            header.page-header {
                (project::title(self.title, &found))
                (picker(self.path, Some(&project), params.period.as_deref(), self.fallback))
            }
            (content(&found, &project))
        };
        Ok(layout::page_in(
            user,
            self.title,
            self.section,
            Some(&project),
            body,
        ))
    }
}

/// Links to `path` with each period, the current one (`current`, else `fallback`) marked.
pub fn picker(path: &str, project: Option<&str>, current: Option<&str>, fallback: &str) -> Markup {
    let current = current.filter(|c| !c.is_empty()).unwrap_or(fallback);
    html! {
        nav.periods aria-label="Period" {
            @for (value, label) in CHOICES {
                a.button.small href=(format!("{path}?{}", figures::query(&[("project", project.unwrap_or_default()), ("period", value)])))
                    aria-current=[(value == current).then_some("true")] { (label) }
            }
        }
    }
}
