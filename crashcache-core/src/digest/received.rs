//! The rules that need what only the archive knows of a payload: when it was received and
//! from which address. Applied as rows are written for SQL ([`super::rows`]).

use serde_json::Value;

use crate::timestamp::EpochMicros;

/// SDKs ask for the request's address with this value of `ip_address`.
pub const AUTO_IP: &str = "{{auto}}";

/// An SDK clock further ahead than this of the arrival is wrong.
const MAX_CLOCK_AHEAD_US: EpochMicros = 60 * 1_000_000;

/// When something happened: the SDK's time, unless missing or more than a minute ahead of
/// its arrival (a wrong clock), then the arrival time.
pub fn event_time(sdk_time: Option<EpochMicros>, received_at: EpochMicros) -> EpochMicros {
    match sdk_time {
        Some(at) if at <= received_at.saturating_add(MAX_CLOCK_AHEAD_US) => at,
        _ => received_at,
    }
}

/// Whether a user object asks for the client's address.
fn wants_client_ip(user: Option<&Value>) -> bool {
    user.and_then(|u| u.get("ip_address"))
        .and_then(Value::as_str)
        .is_some_and(|ip| ip == AUTO_IP)
}

/// The user object as stored: `ip_address` `{{auto}}` becomes the client's address when it is
/// known (and stays as sent otherwise).
pub fn user_data(user: Option<&Value>, client_ip: Option<&str>) -> Option<Value> {
    let mut user = user.cloned()?;
    if let (true, Some(ip), Some(fields)) = (
        wants_client_ip(Some(&user)),
        client_ip,
        user.as_object_mut(),
    ) {
        fields.insert("ip_address".into(), Value::String(ip.to_string()));
    }
    Some(user)
}

/// Who the user is: the key the event named, else the client's address if the user asked
/// for it.
pub fn user_key<'a>(
    key: Option<&'a str>,
    user: Option<&Value>,
    client_ip: Option<&'a str>,
) -> Option<&'a str> {
    key.or_else(|| client_ip.filter(|_| wants_client_ip(user)))
}

/// A session's address: `{{auto}}` is the client's (unknown: none).
pub fn session_ip<'a>(ip: Option<&'a str>, client_ip: Option<&'a str>) -> Option<&'a str> {
    match ip {
        Some(AUTO_IP) => client_ip,
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const NOW: EpochMicros = 1_700_000_000_000_000;

    #[test]
    fn a_clock_ahead_by_more_than_a_minute_gives_way_to_the_arrival() {
        assert_eq!(event_time(Some(NOW - 5), NOW), NOW - 5);
        assert_eq!(event_time(Some(NOW + 60_000_000), NOW), NOW + 60_000_000);
        assert_eq!(event_time(Some(NOW + 60_000_001), NOW), NOW);
        assert_eq!(event_time(None, NOW), NOW);
        assert_eq!(event_time(Some(i64::MAX), i64::MAX - 1), i64::MAX);
    }

    #[test]
    fn auto_ip_becomes_the_client_address() {
        let user = json!({"id": "7", "ip_address": "{{auto}}"});
        assert_eq!(
            user_data(Some(&user), Some("10.1.2.3")),
            Some(json!({"id": "7", "ip_address": "10.1.2.3"}))
        );
        assert_eq!(user_data(Some(&user), None), Some(user.clone()));
        assert_eq!(user_data(None, Some("10.1.2.3")), None);
        let plain = json!({"ip_address": "1.1.1.1"});
        assert_eq!(
            user_data(Some(&plain), Some("10.1.2.3")),
            Some(plain.clone())
        );
    }

    #[test]
    fn the_user_key_falls_back_to_the_address_only_when_asked() {
        let auto = json!({"ip_address": "{{auto}}"});
        assert_eq!(
            user_key(None, Some(&auto), Some("10.0.0.1")),
            Some("10.0.0.1")
        );
        assert_eq!(
            user_key(Some("u1"), Some(&auto), Some("10.0.0.1")),
            Some("u1")
        );
        assert_eq!(user_key(None, Some(&json!({})), Some("10.0.0.1")), None);
        assert_eq!(user_key(None, Some(&auto), None), None);
    }

    #[test]
    fn sessions_take_the_client_address_for_auto() {
        assert_eq!(
            session_ip(Some("{{auto}}"), Some("10.0.0.1")),
            Some("10.0.0.1")
        );
        assert_eq!(session_ip(Some("{{auto}}"), None), None);
        assert_eq!(
            session_ip(Some("1.2.3.4"), Some("10.0.0.1")),
            Some("1.2.3.4")
        );
        assert_eq!(session_ip(None, Some("10.0.0.1")), None);
    }
}
