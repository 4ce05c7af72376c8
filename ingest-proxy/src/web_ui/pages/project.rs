//! The project a page's ui_* answer is about (its `project` object): its slug, for links and
//! the top bar, and the page title that names it.

use maud::{html, Markup};
use serde_json::Value;

use crate::web_ui::pages::fields::text;

/// The slug of the answer's project ("" when it has none).
pub fn slug(found: &Value) -> String {
    text(&found["project"], "slug")
        .unwrap_or_default()
        .to_string()
}

/// The page's `h1`: `heading` and the answer's project name.
pub fn title(heading: &str, found: &Value) -> Markup {
    html! {
        h1 { (heading) span.muted { " · " (text(&found["project"], "name").unwrap_or_default()) } }
    }
}

#[cfg(test)]
mod tests {
    use super::{slug, title};
    use serde_json::json;

    #[test]
    fn the_answer_names_its_project() {
        let found = json!({"project": {"slug": "web", "name": "Web <shop>"}});
        assert_eq!(slug(&found), "web");
        assert_eq!(
            title("Crons", &found).into_string(),
            "<h1>Crons<span class=\"muted\"> · Web &lt;shop&gt;</span></h1>"
        );
        assert_eq!(slug(&json!({})), "");
    }
}
