//! Times as pages show them: "3 hours ago" and the absolute UTC time, from the RFC 3339 UTC
//! strings the SQL functions return (`_api_time`: `2026-12-02T02:16:59.123456Z`).

/// Seconds since the Unix epoch of an RFC 3339 time in UTC (`Z`, or an offset of +00:00);
/// None for anything else.
pub fn parse_utc(text: &str) -> Option<i64> {
    let text = text
        .strip_suffix('Z')
        .or_else(|| text.strip_suffix("+00:00"))?;
    let (date, time) = text.split_once(['T', ' '])?;
    let mut date_parts = date.splitn(3, '-');
    let year: i64 = date_parts.next()?.parse().ok()?;
    let month: i64 = date_parts.next()?.parse().ok()?;
    let day: i64 = date_parts.next()?.parse().ok()?;
    let time = time.split('.').next()?;
    let mut time_parts = time.splitn(3, ':');
    let hour: i64 = time_parts.next()?.parse().ok()?;
    let minute: i64 = time_parts.next()?.parse().ok()?;
    let second: i64 = time_parts.next()?.parse().ok()?;
    if !(1..=12).contains(&month)
        || !(1..=31).contains(&day)
        || hour > 23
        || minute > 59
        || second > 60
    {
        return None;
    }
    Some(days_from_civil(year, month, day) * 86_400 + hour * 3_600 + minute * 60 + second)
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let year = if month <= 2 { year - 1 } else { year };
    let era = year.div_euclid(400);
    let year_of_era = year - era * 400;
    let month_index = (month + 9) % 12;
    let day_of_year = (153 * month_index + 2) / 5 + day - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    era * 146_097 + day_of_era - 719_468
}

/// How long ago `then` was at `now` (both Unix seconds), in the largest unit that fits:
/// "just now", "5 min ago", "3 h ago", "2 days ago", "4 months ago", "2 years ago"; a time
/// in the future (a client's clock ahead) reads "in the future".
pub fn ago(now: i64, then: i64) -> String {
    let seconds = now - then;
    if seconds < -60 {
        return "in the future".to_string();
    }
    let (count, unit) = match seconds {
        ..=44 => return "just now".to_string(),
        45..=3_599 => ((seconds + 30) / 60, "min"),
        3_600..=86_399 => (seconds / 3_600, "h"),
        86_400..=2_591_999 => (seconds / 86_400, "day"),
        2_592_000..=31_535_999 => (seconds / 2_592_000, "month"),
        _ => (seconds / 31_536_000, "year"),
    };
    let count = count.max(1);
    let plural = if count > 1 && unit != "min" && unit != "h" {
        "s"
    } else {
        ""
    };
    format!("{count} {unit}{plural} ago")
}

/// The current time in Unix seconds.
pub fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

/// An RFC 3339 UTC time as people read it: `2026-12-02 02:16:59 UTC` (fractions dropped).
pub fn readable(text: &str) -> String {
    let trimmed = text.trim_end_matches('Z');
    let without_fraction = trimmed.split('.').next().unwrap_or(trimmed);
    format!("{} UTC", without_fraction.replacen('T', " ", 1))
}

#[cfg(test)]
mod tests {
    use super::{ago, parse_utc, readable};

    #[test]
    fn parses_api_times() {
        assert_eq!(parse_utc("1970-01-01T00:00:00Z"), Some(0));
        assert_eq!(parse_utc("2000-03-01T00:00:00.5Z"), Some(951_868_800));
        assert_eq!(
            parse_utc("2026-12-02T02:16:59.123456Z"),
            Some(1_796_177_819)
        );
        assert_eq!(parse_utc("2024-02-29T12:00:00+00:00"), Some(1_709_208_000));
        assert_eq!(parse_utc("2026-12-02T02:16:59+02:00"), None);
        assert_eq!(parse_utc("2026-13-02T02:16:59Z"), None);
        assert_eq!(parse_utc("yesterday"), None);
        assert_eq!(parse_utc(""), None);
    }

    #[test]
    fn says_how_long_ago() {
        let now = 1_000_000_000;
        assert_eq!(ago(now, now), "just now");
        assert_eq!(ago(now, now + 30), "just now");
        assert_eq!(ago(now, now + 3_600), "in the future");
        assert_eq!(ago(now, now - 50), "1 min ago");
        assert_eq!(ago(now, now - 5 * 60), "5 min ago");
        assert_eq!(ago(now, now - 3 * 3_600 - 10), "3 h ago");
        assert_eq!(ago(now, now - 86_400), "1 day ago");
        assert_eq!(ago(now, now - 2 * 86_400), "2 days ago");
        assert_eq!(ago(now, now - 65 * 86_400), "2 months ago");
        assert_eq!(ago(now, now - 800 * 86_400), "2 years ago");
    }

    #[test]
    fn readable_times() {
        assert_eq!(
            readable("2026-12-02T02:16:59.123456Z"),
            "2026-12-02 02:16:59 UTC"
        );
    }
}
