//! The page frame every page shares (`page`: head, top bar, main) and the small pieces pages
//! are built from: times, sparklines, badges, pagination, empty states, the CSRF field.

use maud::{html, Markup, DOCTYPE};

use crate::web_ui::session::SignedIn;
use crate::web_ui::{assets, sparkline, time};

/// The top bar's sections; the current one is highlighted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Section {
    /// `/issues`
    Issues,
    /// `/projects`
    Projects,
    /// `/releases`
    Releases,
    /// `/performance`
    Performance,
    /// `/crons`
    Crons,
    /// `/logs`
    Logs,
    /// `/alerts`
    Alerts,
    /// `/status`
    Status,
}

impl Section {
    /// Every section, in the top bar's order.
    pub const ALL: [Section; 8] = [
        Section::Issues,
        Section::Projects,
        Section::Releases,
        Section::Performance,
        Section::Crons,
        Section::Logs,
        Section::Alerts,
        Section::Status,
    ];

    /// What the top bar calls it.
    pub fn label(self) -> &'static str {
        match self {
            Section::Issues => "Issues",
            Section::Projects => "Projects",
            Section::Releases => "Releases",
            Section::Performance => "Performance",
            Section::Crons => "Crons",
            Section::Logs => "Logs",
            Section::Alerts => "Alerts",
            Section::Status => "Status",
        }
    }

    /// Its page.
    pub fn href(self) -> &'static str {
        match self {
            Section::Issues => "/issues",
            Section::Projects => "/projects",
            Section::Releases => "/releases",
            Section::Performance => "/performance",
            Section::Crons => "/crons",
            Section::Logs => "/logs",
            Section::Alerts => "/alerts",
            Section::Status => "/status",
        }
    }

    /// Whether its page takes `?project=` (the project picker then stays on it).
    fn per_project(self) -> bool {
        !matches!(self, Section::Projects | Section::Status | Section::Alerts)
    }
}

/// A whole page, with no project chosen in the picker.
pub fn page(user: &SignedIn, title: &str, section: Section, body: Markup) -> Markup {
    page_in(user, title, section, None, body)
}

/// A whole page, with `project` (a slug) chosen in the picker.
pub fn page_in(
    user: &SignedIn,
    title: &str,
    section: Section,
    project: Option<&str>,
    body: Markup,
) -> Markup {
    let picker_target = if section.per_project() {
        section.href()
    } else {
        Section::Issues.href()
    };
    html! {
        (DOCTYPE)
        html lang="en" {
            (head(title))
            body {
                a.skip href="#main" { "Skip to content" }
                header.topbar {
                    a.brand href="/issues" { (logo()) span { "crashcache" } }
                    input #nav-toggle.nav-toggle type="checkbox" aria-label="Menu";
                    label.nav-button for="nav-toggle" aria-hidden="true" { "☰" }
                    nav.sections aria-label="Sections" {
                        @for s in Section::ALL {
                            a href=(s.href()) aria-current=[(s == section).then_some("page")] { (s.label()) }
                        }
                    }
                    form.picker method="get" action=(picker_target) {
                        label.visually-hidden for="project-picker" { "Project" }
                        select #project-picker name="project" data-autosubmit {
                            option value="" { "All projects" }
                            @for p in &user.projects {
                                option value=(p.slug) selected[project == Some(p.slug.as_str())] { (p.name) }
                            }
                        }
                        noscript { button.button.small type="submit" { "Go" } }
                    }
                    div.account {
                        span.user title=(user.email) { (user.name) @if user.is_admin { " " span.badge.muted { "admin" } } }
                        @if user.is_admin { a href="/users" { "Users" } }
                        form method="post" action="/signout" {
                            (csrf_field(user))
                            button.link type="submit" { "Sign out" }
                        }
                    }
                }
                main #main { (body) }
            }
        }
    }
}

/// The `<head>`: title, viewport, the stylesheet and the script (deferred: pages work without).
pub fn head(title: &str) -> Markup {
    html! {
        head {
            meta charset="utf-8";
            meta name="viewport" content="width=device-width, initial-scale=1";
            meta name="color-scheme" content="light dark";
            title { (title) " · crashcache" }
            link rel="stylesheet" href=(assets::url("ui.css"));
            link rel="stylesheet" href=(assets::url("pages.css"));
            script src=(assets::url("ui.js")) defer {}
        }
    }
}

/// The mark beside the name in the top bar.
fn logo() -> Markup {
    html! {
        svg.logo viewBox="0 0 16 16" width="18" height="18" aria-hidden="true" {
            path d="M8 1 15 14H1Z" fill="none" stroke="currentColor" stroke-width="1.6" stroke-linejoin="round" {}
            path d="M8 6v4M8 11.5v.5" stroke="currentColor" stroke-width="1.6" stroke-linecap="round" {}
        }
    }
}

/// A form with no field but the CSRF token (`CsrfForm<NoFields>`).
#[derive(Debug, serde::Deserialize)]
pub struct NoFields {}

/// The hidden field every form carries: the session's CSRF token.
pub fn csrf_field(user: &SignedIn) -> Markup {
    html! { input type="hidden" name="csrf" value=(user.csrf); }
}

/// "3 h ago", with the exact time on hover; an unreadable or missing time reads "—".
pub fn time_ago(rfc3339: Option<&str>) -> Markup {
    match rfc3339.and_then(|t| time::parse_utc(t).map(|s| (t, s))) {
        Some((text, seconds)) => html! {
            time datetime=(text) title=(time::readable(text)) { (time::ago(time::now(), seconds)) }
        },
        None => html! { span.muted { "—" } },
    }
}

/// The exact time (UTC), with how long ago on hover.
pub fn absolute_time(rfc3339: Option<&str>) -> Markup {
    match rfc3339.and_then(|t| time::parse_utc(t).map(|s| (t, s))) {
        Some((text, seconds)) => html! {
            time datetime=(text) title=(time::ago(time::now(), seconds)) { (time::readable(text)) }
        },
        None => html! { span.muted { "—" } },
    }
}

/// Counts per bucket, oldest first, as a small bar chart (inline SVG, no script).
pub fn sparkline(counts: &[i64]) -> Markup {
    let (width, height) = (96.0, 24.0);
    let total: i64 = counts.iter().sum();
    html! {
        svg.spark viewBox=(format!("0 0 {width} {height}")) width=(width) height=(height) role="img"
            aria-label=(format!("{total} events")) {
            title { (total) " events" }
            line x1="0" y1=(height - 0.5) x2=(width) y2=(height - 0.5) {}
            @for bar in sparkline::bars(counts, width, height) {
                @if bar.height > 0.0 {
                    rect x=(bar.x) y=(bar.y) width=(bar.width) height=(bar.height) {}
                }
            }
        }
    }
}

/// An event or issue level as a coloured badge.
pub fn level_badge(level: &str) -> Markup {
    let class = match level {
        "fatal" => "badge level-fatal",
        "error" => "badge level-error",
        "warning" => "badge level-warning",
        "info" => "badge level-info",
        _ => "badge level-debug",
    };
    html! { span class=(class) { (level) } }
}

/// An issue's status as a badge.
pub fn status_badge(status: &str) -> Markup {
    let class = match status {
        "resolved" => "badge status-resolved",
        "ignored" => "badge status-ignored",
        _ => "badge status-unresolved",
    };
    html! { span class=(class) { (status) } }
}

/// Links to the previous and next page (URLs built by the page), each disabled when None.
pub fn pagination(prev: Option<&str>, next: Option<&str>) -> Markup {
    html! {
        nav.pagination aria-label="Pages" {
            @match prev {
                Some(href) => a.button rel="prev" href=(href) { "← Previous" },
                None => span.button.disabled aria-disabled="true" { "← Previous" },
            }
            @match next {
                Some(href) => a.button rel="next" href=(href) { "Next →" },
                None => span.button.disabled aria-disabled="true" { "Next →" },
            }
        }
    }
}

/// What a list shows when it has nothing.
pub fn empty_state(text: &str) -> Markup {
    html! { div.empty { p { (text) } } }
}

/// A button that copies `text` to the clipboard (ui.js), beside where it is shown.
pub fn copy_button(text: &str) -> Markup {
    html! { button.button.small.copy type="button" data-copy=(text) { "Copy" } }
}

/// A number with thin spaces between thousands: 1 234 567.
pub fn count(n: i64) -> String {
    let digits = n.unsigned_abs().to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push('\u{202f}');
        }
        out.push(c);
    }
    if n < 0 {
        format!("-{out}")
    } else {
        out
    }
}

#[cfg(test)]
mod tests {
    use super::{count, level_badge, sparkline, time_ago};

    #[test]
    fn counts_read_well() {
        assert_eq!(count(0), "0");
        assert_eq!(count(999), "999");
        assert_eq!(count(1_234), "1\u{202f}234");
        assert_eq!(count(-1_234_567), "-1\u{202f}234\u{202f}567");
    }

    #[test]
    fn pieces_escape_and_draw() {
        assert_eq!(
            level_badge("<x>").into_string(),
            "<span class=\"badge level-debug\">&lt;x&gt;</span>"
        );
        let svg = sparkline(&[0, 1, 2]).into_string();
        assert_eq!(svg.matches("<rect").count(), 2);
        assert!(svg.contains("3 events"));
        assert!(time_ago(Some("not a time")).into_string().contains("—"));
        assert!(time_ago(Some("2020-01-01T00:00:00Z"))
            .into_string()
            .contains("years ago"));
    }
}
