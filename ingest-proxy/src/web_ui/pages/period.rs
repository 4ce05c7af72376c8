//! The period picker of the pages that look at a time span (`?period=`, the Web API's
//! statsPeriod syntax, checked by SQL): the choices offered, as links.

use maud::{html, Markup};

use crate::web_ui::pages::figures;

/// The periods offered.
pub const CHOICES: [(&str, &str); 4] = [
    ("24h", "24 hours"),
    ("7d", "7 days"),
    ("14d", "14 days"),
    ("30d", "30 days"),
];

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
