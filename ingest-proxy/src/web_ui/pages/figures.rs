//! How the detail pages write their figures: durations, rates and sizes, and links into the
//! issue search. Pure, so that it is tested without a page.

/// A duration in milliseconds as people read it: "0.42 ms", "85 ms", "1.25 s", "2 min 5 s".
pub fn duration(ms: f64) -> String {
    if !ms.is_finite() || ms < 0.0 {
        return "—".to_string();
    }
    if ms < 1.0 {
        format!("{ms:.2} ms")
    } else if ms < 1000.0 {
        format!("{} ms", ms.round())
    } else if ms < 60_000.0 {
        format!("{:.2} s", ms / 1000.0)
    } else {
        let seconds = (ms / 1000.0).round() as u64;
        format!("{} min {} s", seconds / 60, seconds % 60)
    }
}

/// A percentage with up to two decimals, "—" when there is none (no sessions).
pub fn percent(value: Option<f64>) -> String {
    match value {
        Some(v) if v.is_finite() => {
            let text = format!("{v:.2}");
            let text = text.trim_end_matches('0').trim_end_matches('.');
            format!("{text}%")
        }
        _ => "—".to_string(),
    }
}

/// How healthy a crash-free rate is, as the class its figure gets: good from 99.5%, fair
/// from 98%, poor below.
pub fn health_class(crash_free: Option<f64>) -> &'static str {
    match crash_free {
        Some(v) if v >= 99.5 => "rate good",
        Some(v) if v >= 98.0 => "rate fair",
        Some(_) => "rate poor",
        None => "rate",
    }
}

/// A size in bytes: "512 B", "1.5 KiB", "2.0 MiB".
pub fn bytes(n: i64) -> String {
    let n = n.max(0) as f64;
    if n < 1024.0 {
        format!("{n} B")
    } else if n < 1024.0 * 1024.0 {
        format!("{:.1} KiB", n / 1024.0)
    } else {
        format!("{:.1} MiB", n / (1024.0 * 1024.0))
    }
}

/// A search term `key:value` in the API's query syntax, the value quoted when it has to be.
pub fn search_term(key: &str, value: &str) -> String {
    let plain = !value.is_empty()
        && !value
            .chars()
            .any(|c| c.is_whitespace() || c == '"' || c == ',' || c == '[');
    if plain {
        format!("{key}:{value}")
    } else {
        // The parser reads `\"` as a quote and keeps other backslashes as they are.
        format!("{key}:\"{}\"", value.replace('"', "\\\""))
    }
}

/// A query string from pairs, each value percent-encoded; pairs with an empty value are left out.
pub fn query(pairs: &[(&str, &str)]) -> String {
    let mut out = form_urlencoded::Serializer::new(String::new());
    for (key, value) in pairs.iter().filter(|(_, v)| !v.is_empty()) {
        out.append_pair(key, value);
    }
    out.finish()
}

#[cfg(test)]
mod tests {
    use super::{bytes, duration, health_class, percent, query, search_term};

    #[test]
    fn durations_read_well() {
        assert_eq!(duration(0.421), "0.42 ms");
        assert_eq!(duration(85.4), "85 ms");
        assert_eq!(duration(1250.0), "1.25 s");
        assert_eq!(duration(125_000.0), "2 min 5 s");
        assert_eq!(duration(f64::NAN), "—");
        assert_eq!(duration(-1.0), "—");
    }

    #[test]
    fn rates_and_their_health() {
        assert_eq!(percent(Some(99.5)), "99.5%");
        assert_eq!(percent(Some(100.0)), "100%");
        assert_eq!(percent(Some(50.25)), "50.25%");
        assert_eq!(percent(None), "—");
        assert_eq!(health_class(Some(99.9)), "rate good");
        assert_eq!(health_class(Some(98.0)), "rate fair");
        assert_eq!(health_class(Some(50.0)), "rate poor");
        assert_eq!(health_class(None), "rate");
    }

    #[test]
    fn sizes() {
        assert_eq!(bytes(512), "512 B");
        assert_eq!(bytes(1536), "1.5 KiB");
        assert_eq!(bytes(2 * 1024 * 1024), "2.0 MiB");
    }

    #[test]
    fn search_links_quote_what_needs_it() {
        assert_eq!(search_term("release", "app@1.0"), "release:app@1.0");
        assert_eq!(search_term("os", "Ubuntu 22.04"), "os:\"Ubuntu 22.04\"");
        assert_eq!(search_term("k", "a\"b"), "k:\"a\\\"b\"");
        assert_eq!(
            query(&[("project", "web"), ("query", "os:\"A B\""), ("cursor", "")]),
            "project=web&query=os%3A%22A+B%22"
        );
    }
}
