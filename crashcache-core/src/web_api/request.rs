//! The `request` entry of the Web API event: an event's HTTP request as clients parse it, with
//! its query, headers and cookies as name and value pairs and its URL only when absolute.

use serde_json::{json, Value};

use super::bounded::{loose, text, MAX_ITEMS, MAX_KEY_CHARS, MAX_STRING_CHARS};
use crate::json::{self, truncate_str};

/// Request URL schemes passed on; anything else (relative paths, `javascript:`) becomes null,
/// because clients validate the URL and some render it as a link.
const URL_SCHEMES: [&str; 6] = ["http", "https", "ws", "wss", "ftp", "file"];

/// Name and value pairs, as the API lists query, headers and cookies.
type Pairs = Vec<(String, String)>;

pub(super) fn request_data(raw: &Value) -> Option<Value> {
    let req = raw
        .get("request")
        .filter(|r| r.as_object().is_some_and(|o| !o.is_empty()))?;
    let sent = |key: &str| req.get(key).filter(|v| !v.is_null());
    // Sentry keeps the query and fragment apart from the URL.
    let url = text(req, "url").unwrap_or_default();
    let (rest, url_fragment) = url.split_once('#').unwrap_or((&url, ""));
    let (base, url_query) = rest.split_once('?').unwrap_or((rest, ""));
    let query = match sent("query_string").or_else(|| sent("query")) {
        Some(query) => pairs(Some(query), query_pairs),
        None => query_pairs(url_query),
    };
    let headers = pairs(sent("headers"), header_lines);
    let header = |name: &str| headers.iter().find(|(k, _)| k.eq_ignore_ascii_case(name));
    let cookies = match sent("cookies") {
        Some(cookies) => pairs(Some(cookies), cookie_pairs),
        None => header("cookie").map_or_else(Vec::new, |(_, v)| cookie_pairs(v)),
    };
    let data = match sent("data") {
        // A JSON body sent as text is shown parsed, as Sentry does.
        Some(Value::String(s)) if s.len() <= MAX_STRING_CHARS => {
            match serde_json::from_str::<Value>(s) {
                Ok(parsed) if parsed.is_object() || parsed.is_array() => loose(&parsed),
                _ => loose(&Value::String(s.clone())),
            }
        }
        Some(data) => loose(data),
        None => Value::Null,
    };
    let content_type = header("content-type")
        .and_then(|(_, v)| v.split(';').next())
        .map(|v| v.trim().to_ascii_lowercase())
        .filter(|v| !v.is_empty())
        .or_else(|| (data.is_object() || data.is_array()).then(|| "application/json".into()));
    let method = text(req, "method").map(|m| truncate_str(&m, MAX_KEY_CHARS).to_ascii_uppercase());
    let fragment = text(req, "fragment").or_else(|| {
        let fragment = truncate_str(url_fragment, MAX_STRING_CHARS);
        (!fragment.is_empty()).then(|| fragment.to_string())
    });
    Some(json!({
        "url": Some(base).filter(|u| is_absolute_url(u)),
        "method": method,
        "query": to_json(query),
        "headers": to_json(headers),
        "cookies": to_json(cookies),
        "data": data,
        "env": sent("env").filter(|e| e.is_object()).map(loose),
        "fragment": fragment,
        "inferredContentType": content_type,
    }))
}

fn to_json(pairs: Pairs) -> Value {
    pairs.into_iter().map(|(k, v)| json!([k, v])).collect()
}

/// Pairs from an object (array values give one pair each), from `[[name, value], ...]`, or
/// from a string read by `parse`.
fn pairs(value: Option<&Value>, parse: fn(&str) -> Pairs) -> Pairs {
    let mut out = Pairs::new();
    let mut push = |name: &Value, value: &Value| {
        if out.len() >= MAX_ITEMS {
            return;
        }
        let name = pair_text(name, MAX_KEY_CHARS);
        if !name.trim().is_empty() {
            out.push((name, pair_text(value, MAX_STRING_CHARS)));
        }
    };
    match value {
        Some(Value::String(s)) => return parse(s),
        Some(Value::Object(map)) => {
            for (name, value) in map.iter().take(MAX_ITEMS) {
                let name = Value::String(name.clone());
                match value {
                    Value::Array(values) => values.iter().for_each(|v| push(&name, v)),
                    single => push(&name, single),
                }
            }
        }
        Some(Value::Array(items)) => {
            for item in items {
                if let Some([name, value]) = item.as_array().map(Vec::as_slice) {
                    push(name, value);
                }
            }
        }
        _ => {}
    }
    out
}

/// A pair's name or value as text: strings as sent, other values as JSON, null as "".
fn pair_text(value: &Value, max: usize) -> String {
    match value {
        Value::Null => String::new(),
        Value::String(s) => truncate_str(s, max).to_string(),
        other => json::truncate(other.to_string(), max),
    }
}

/// `a=1&b=x+y&flag`, form-decoded as Sentry does.
fn query_pairs(query: &str) -> Pairs {
    split_pairs(query.trim_start_matches('?').split('&'), '=', form_decode)
}

/// `a=1; b=2`, as sent.
fn cookie_pairs(cookies: &str) -> Pairs {
    split_pairs(cookies.split(';'), '=', trimmed)
}

/// `Name: value` lines, for the rare SDK that sends headers as one string.
fn header_lines(headers: &str) -> Pairs {
    split_pairs(headers.lines().filter(|l| l.contains(':')), ':', trimmed)
}

fn trimmed(text: &str) -> String {
    text.trim().to_string()
}

/// `name<separator>value` pieces (a piece without the separator is a name with an empty
/// value), at most [`MAX_ITEMS`] of them.
fn split_pairs<'a>(
    pieces: impl Iterator<Item = &'a str>,
    separator: char,
    decode: fn(&str) -> String,
) -> Pairs {
    pieces
        .filter_map(|piece| {
            let (name, value) = piece.split_once(separator).unwrap_or((piece, ""));
            let name = decode(name);
            (!name.trim().is_empty()).then(|| {
                let value = decode(value);
                (
                    json::truncate(name, MAX_KEY_CHARS),
                    json::truncate(value, MAX_STRING_CHARS),
                )
            })
        })
        .take(MAX_ITEMS)
        .collect()
}

/// `application/x-www-form-urlencoded` decoding: `+` is a space, `%XX` a byte; malformed
/// escapes stay as they are and invalid UTF-8 is replaced.
fn form_decode(text: &str) -> String {
    let hex = |b: Option<&u8>| b.and_then(|b| char::from(*b).to_digit(16));
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut at = 0;
    while let Some(&b) = bytes.get(at) {
        match (b, hex(bytes.get(at + 1)), hex(bytes.get(at + 2))) {
            (b'%', Some(high), Some(low)) => {
                // Two hex digits are at most 255.
                out.push(u8::try_from(high * 16 + low).unwrap_or(b'%'));
                at += 3;
            }
            (b'+', _, _) => {
                out.push(b' ');
                at += 1;
            }
            _ => {
                out.push(b);
                at += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// An absolute URL of a [`URL_SCHEMES`] scheme that `new URL()` (and so zod's `url()`) accepts:
/// a host of letters, digits, `-._~` or a bracketed IPv6 address, and a valid port.
pub(super) fn is_absolute_url(url: &str) -> bool {
    let Some((scheme, rest)) = url.split_once("://") else {
        return false;
    };
    if url.chars().any(|c| c.is_whitespace() || c.is_control())
        || !URL_SCHEMES.contains(&scheme.to_ascii_lowercase().as_str())
    {
        return false;
    }
    let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
    let host_port = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    let (host_ok, port) = match host_port.strip_prefix('[') {
        Some(v6) => match v6.split_once(']') {
            Some((inside, after)) => (
                !inside.is_empty()
                    && inside
                        .chars()
                        .all(|c| c.is_ascii_hexdigit() || ":.".contains(c)),
                after,
            ),
            None => return false,
        },
        None => {
            let (host, port) = host_port
                .find(':')
                .map_or((host_port, ""), |at| host_port.split_at(at));
            let host_ok = host
                .chars()
                .all(|c| c.is_alphanumeric() || "-._~".contains(c))
                && (!host.is_empty() || scheme.eq_ignore_ascii_case("file"))
                && ipv4_ok(host);
            (host_ok, port)
        }
    };
    let port_ok = match port.strip_prefix(':') {
        Some(digits) => {
            digits.is_empty()
                || (digits.len() <= 5
                    && digits.bytes().all(|b| b.is_ascii_digit())
                    && digits.parse::<u32>().is_ok_and(|p| p <= 65_535))
        }
        None => port.is_empty(),
    };
    host_ok && port_ok
}

/// A host whose last label is a number is an IPv4 address to the URL parser, and fails there
/// unless it is a valid one (`1.2.3.999` does).
fn ipv4_ok(host: &str) -> bool {
    let last = host.trim_end_matches('.').rsplit('.').next().unwrap_or("");
    last.is_empty()
        || !last.bytes().all(|b| b.is_ascii_digit())
        || host
            .trim_end_matches('.')
            .parse::<std::net::Ipv4Addr>()
            .is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_urls() {
        for url in [
            "http://localhost:8000/books/new/",
            "https://example.com",
            "HTTPS://EXAMPLE.COM/",
            "https://user:pw@[::1]:443/x",
            "http://127.0.0.1:/",
            "http://münchen.example/",
            "file:///tmp/report.html",
            "wss://example.com/socket",
        ] {
            assert!(is_absolute_url(url), "{url}");
        }
        for url in [
            "",
            "/relative",
            "example.com/x",
            "javascript:alert(1)",
            "javascript://%0aalert(1)",
            "mailto:a@example.com",
            "http://",
            "http:///x",
            "http://exa mple.com/",
            "http://example.com/a b",
            "http://a:99999/",
            "http://a:8x/",
            "http://1.2.3.999/",
            "http://[zz]/",
            "http://[::1/",
            "http://a\\b/",
            "http://a%41.com/",
            "http://a\u{7}b/",
        ] {
            assert!(!is_absolute_url(url), "{url}");
        }
    }
}
