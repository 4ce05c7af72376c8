//! The setup snippets a project page offers: how to point each SDK at a DSN, ready to paste.

/// One snippet: what it is for and its text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Snippet {
    /// A short id for the tab (`python`, `browser`, …).
    pub id: &'static str,
    /// The tab's label.
    pub label: &'static str,
    /// How to install the SDK.
    pub install: &'static str,
    /// The code, with the DSN in it.
    pub code: String,
}

/// The snippets for `dsn`: Python, JavaScript in a browser and in Node, Rust.
pub fn for_dsn(dsn: &str) -> Vec<Snippet> {
    vec![
        Snippet {
            id: "python",
            label: "Python",
            install: "pip install sentry-sdk",
            code: format!(
                "import sentry_sdk\n\nsentry_sdk.init(\n    dsn=\"{dsn}\",\n    traces_sample_rate=1.0,\n    release=\"my-app@1.0.0\",\n    environment=\"production\",\n)\n"
            ),
        },
        Snippet {
            id: "browser",
            label: "JavaScript (browser)",
            install: "npm install @sentry/browser",
            code: format!(
                "import * as Sentry from \"@sentry/browser\";\n\nSentry.init({{\n  dsn: \"{dsn}\",\n  integrations: [Sentry.browserTracingIntegration()],\n  tracesSampleRate: 1.0,\n  release: \"my-app@1.0.0\",\n}});\n"
            ),
        },
        Snippet {
            id: "node",
            label: "JavaScript (Node)",
            install: "npm install @sentry/node",
            code: format!(
                "// instrument.js: require it before anything else.\nconst Sentry = require(\"@sentry/node\");\n\nSentry.init({{\n  dsn: \"{dsn}\",\n  tracesSampleRate: 1.0,\n  release: \"my-app@1.0.0\",\n}});\n"
            ),
        },
        Snippet {
            id: "rust",
            label: "Rust",
            install: "cargo add sentry",
            code: format!(
                "fn main() {{\n    let _guard = sentry::init((\n        \"{dsn}\",\n        sentry::ClientOptions {{\n            release: sentry::release_name!(),\n            traces_sample_rate: 1.0,\n            ..Default::default()\n        }},\n    ));\n\n    // The rest of main; the guard sends what is queued when it drops.\n}}\n"
            ),
        },
    ]
}

#[cfg(test)]
mod tests {
    use super::for_dsn;

    #[test]
    fn every_snippet_has_the_dsn() {
        let dsn = "http://abc123@127.0.0.1:3000/7";
        let snippets = for_dsn(dsn);
        let ids: Vec<&str> = snippets.iter().map(|s| s.id).collect();
        assert_eq!(ids, ["python", "browser", "node", "rust"]);
        for snippet in &snippets {
            assert!(
                snippet.code.contains(&format!("\"{dsn}\"")),
                "{}",
                snippet.id
            );
        }
        assert!(snippets[0].code.starts_with("import sentry_sdk"));
        assert!(snippets[3].code.contains("sentry::init(("));
    }
}
