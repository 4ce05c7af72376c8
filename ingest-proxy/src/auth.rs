//! Finds the DSN public key a request carries, in `X-Sentry-Auth`, `Authorization` or the query.
//!
//! Pure string parsing: the route hands in the raw header values and query string. A request
//! without a key here may still carry one in its envelope header's `dsn`; the database reads
//! that one, so the proxy never parses payloads.

/// The fields of a `Sentry sentry_key=…, sentry_version=…, sentry_client=…` credential.
/// Old clients also send `sentry_secret` and `sentry_timestamp`; they are ignored.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct SentryAuth {
    /// The DSN's public key.
    pub key: Option<String>,
    /// The protocol version the client speaks (7 today, 5 for old clients).
    pub version: Option<String>,
    /// The client's `name/version`.
    pub client: Option<String>,
}

/// Parses a Sentry credential header value.
///
/// `X-Sentry-Auth` is accepted with or without its `Sentry ` scheme (`require_scheme` false);
/// `Authorization` must name the `Sentry` scheme (`require_scheme` true), so that `Bearer` or
/// `Basic` credentials meant for something else are not mistaken for a key. The scheme is
/// case-insensitive, fields are separated by commas with optional spaces, and values may be
/// quoted. Returns `None` when the value is not a Sentry credential at all.
pub fn parse_sentry_auth(value: &str, require_scheme: bool) -> Option<SentryAuth> {
    let value = value.trim();
    let fields = match strip_scheme(value) {
        Some(rest) => rest,
        None if require_scheme => return None,
        None => value,
    };
    let mut auth = SentryAuth::default();
    let mut any_field = false;
    for field in fields.split(',') {
        let Some((name, raw)) = field.split_once('=') else {
            continue;
        };
        let name = name.trim();
        let raw = raw.trim();
        let raw = raw
            .strip_prefix('"')
            .and_then(|r| r.strip_suffix('"'))
            .unwrap_or(raw);
        let value = (!raw.is_empty()).then(|| raw.to_owned());
        if name.eq_ignore_ascii_case("sentry_key") {
            auth.key = value;
        } else if name.eq_ignore_ascii_case("sentry_version") {
            auth.version = value;
        } else if name.eq_ignore_ascii_case("sentry_client") {
            auth.client = value;
        } else if !name.to_ascii_lowercase().starts_with("sentry_") {
            continue;
        }
        any_field = true;
    }
    any_field.then_some(auth)
}

/// The part after a case-insensitive `Sentry` scheme followed by whitespace.
fn strip_scheme(value: &str) -> Option<&str> {
    const SCHEME: &str = "sentry";
    let head = value.get(..SCHEME.len())?;
    let rest = &value[SCHEME.len()..];
    if head.eq_ignore_ascii_case(SCHEME) && rest.starts_with(|c: char| c.is_ascii_whitespace()) {
        Some(rest.trim_start())
    } else {
        None
    }
}

/// The `sentry_key` of a query string (percent-decoded), if it has a non-empty one.
pub fn key_from_query(query: &str) -> Option<String> {
    form_urlencoded::parse(query.as_bytes())
        .find(|(name, _)| name == "sentry_key")
        .map(|(_, value)| value.trim().to_owned())
        .filter(|value| !value.is_empty())
}

/// The public key of a request: `X-Sentry-Auth` first, then `Authorization: Sentry …`, then
/// the query string's `sentry_key`. `None` when none of them has one.
pub fn find_public_key(
    x_sentry_auth: Option<&str>,
    authorization: Option<&str>,
    query: Option<&str>,
) -> Option<String> {
    x_sentry_auth
        .and_then(|value| parse_sentry_auth(value, false))
        .and_then(|auth| auth.key)
        .or_else(|| {
            authorization
                .and_then(|value| parse_sentry_auth(value, true))
                .and_then(|auth| auth.key)
        })
        .or_else(|| query.and_then(key_from_query))
}

#[cfg(test)]
mod tests {
    use super::{find_public_key, key_from_query, parse_sentry_auth, SentryAuth};

    #[test]
    fn modern_header() {
        let auth = parse_sentry_auth(
            "Sentry sentry_key=abc123, sentry_version=7, sentry_client=sentry.python/2.75.0",
            false,
        );
        assert_eq!(
            auth,
            Some(SentryAuth {
                key: Some("abc123".into()),
                version: Some("7".into()),
                client: Some("sentry.python/2.75.0".into()),
            })
        );
    }

    #[test]
    fn scheme_is_case_insensitive_and_spaces_optional() {
        for value in [
            "sentry sentry_key=k1,sentry_version=7",
            "SENTRY   sentry_key=k1 ,  sentry_version=7",
            "Sentry sentry_version=7,sentry_key=k1",
        ] {
            let auth = parse_sentry_auth(value, true).unwrap();
            assert_eq!(auth.key.as_deref(), Some("k1"), "{value}");
        }
    }

    #[test]
    fn old_style_fields_are_ignored() {
        let auth = parse_sentry_auth(
            "Sentry sentry_version=5, sentry_timestamp=1329096377, sentry_key=old, \
             sentry_secret=s3cr3t, sentry_client=raven-python/1.0",
            false,
        )
        .unwrap();
        assert_eq!(auth.key.as_deref(), Some("old"));
        assert_eq!(auth.version.as_deref(), Some("5"));
    }

    #[test]
    fn quoted_values_and_no_scheme_in_x_sentry_auth() {
        let auth = parse_sentry_auth("sentry_key=\"q\", sentry_version=7", false).unwrap();
        assert_eq!(auth.key.as_deref(), Some("q"));
        // Authorization must carry the scheme.
        assert_eq!(parse_sentry_auth("sentry_key=q", true), None);
    }

    #[test]
    fn other_schemes_are_not_sentry_credentials() {
        assert_eq!(parse_sentry_auth("Bearer abc", true), None);
        assert_eq!(parse_sentry_auth("Basic dXNlcjpwYXNz", true), None);
        assert_eq!(parse_sentry_auth("", false), None);
        assert_eq!(parse_sentry_auth("Sentryx sentry_key=a", true), None);
    }

    #[test]
    fn empty_key_is_no_key() {
        let auth = parse_sentry_auth("Sentry sentry_key=, sentry_version=7", false).unwrap();
        assert_eq!(auth.key, None);
    }

    #[test]
    fn query_key_is_percent_decoded() {
        assert_eq!(
            key_from_query("sentry_key=ab%2Dcd&sentry_version=7"),
            Some("ab-cd".into())
        );
        assert_eq!(key_from_query("sentry_version=7"), None);
        assert_eq!(key_from_query("sentry_key="), None);
    }

    #[test]
    fn precedence_header_then_authorization_then_query() {
        let query = Some("sentry_key=fromquery");
        assert_eq!(
            find_public_key(
                Some("Sentry sentry_key=h"),
                Some("Sentry sentry_key=a"),
                query
            ),
            Some("h".into())
        );
        assert_eq!(
            find_public_key(None, Some("Sentry sentry_key=a"), query),
            Some("a".into())
        );
        assert_eq!(
            find_public_key(Some("Sentry sentry_version=7"), Some("Bearer x"), query),
            Some("fromquery".into())
        );
        assert_eq!(find_public_key(None, None, Some("x=1")), None);
        assert_eq!(find_public_key(None, None, None), None);
    }
}
