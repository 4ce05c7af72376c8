//! Sentry timestamps in every shape real SDKs send, as microseconds since the Unix epoch.
//!
//! Python sends RFC 3339 strings, Node and Rust events send float epoch seconds, Rust
//! transactions and sessions send strings with nine fractional digits.

use serde_json::Value;

/// Microseconds since 1970-01-01T00:00:00Z.
pub type EpochMicros = i64;

const MICROS_PER_SECOND: i64 = 1_000_000;
const SECONDS_PER_DAY: i64 = 86_400;
/// 10000-01-01T00:00:00Z: anything at or after it is not a plausible event time, and keeping
/// well inside i64 micros means the arithmetic below can never overflow.
const END_OF_YEAR_9999: i64 = 253_402_300_800;

/// Reads a timestamp value (number of epoch seconds, numeric string, or RFC 3339 / ISO 8601
/// string with or without offset and with any number of fractional digits). `None` when the
/// value is absent, null, or not a timestamp.
pub fn parse(value: Option<&Value>) -> Option<EpochMicros> {
    match value? {
        Value::Number(n) => {
            if let Some(secs) = n.as_i64() {
                from_whole_seconds(secs, 0)
            } else {
                from_float_seconds(n.as_f64()?)
            }
        }
        Value::String(s) => parse_str(s.trim()),
        _ => None,
    }
}

fn parse_str(s: &str) -> Option<EpochMicros> {
    if s.is_empty() {
        return None;
    }
    if s.bytes().all(|b| b.is_ascii_digit() || b == b'.') {
        return parse_decimal_seconds(s);
    }
    parse_datetime(s.as_bytes())
}

fn from_whole_seconds(secs: i64, micros: i64) -> Option<EpochMicros> {
    if !(0..END_OF_YEAR_9999).contains(&secs) {
        return None;
    }
    Some(secs * MICROS_PER_SECOND + micros)
}

fn from_float_seconds(secs: f64) -> Option<EpochMicros> {
    if !secs.is_finite() || secs < 0.0 || secs >= END_OF_YEAR_9999 as f64 {
        return None;
    }
    // Rounding, not truncation: 1.295 s arrives as 1.29499999..., and should stay 1_295_000 µs.
    // The range check above keeps the product far below i64::MAX, so the cast is exact.
    Some((secs * MICROS_PER_SECOND as f64).round() as i64)
}

/// "1795331739" or "1795331739.2949095", parsed exactly instead of through f64.
fn parse_decimal_seconds(s: &str) -> Option<EpochMicros> {
    let (whole, frac) = match s.split_once('.') {
        Some((w, f)) => (w, f),
        None => (s, ""),
    };
    if whole.is_empty() || frac.contains('.') {
        return None;
    }
    // Longer digit runs would be out of range anyway; checking the length first keeps the
    // integer parse from overflowing.
    if whole.len() > 12 {
        return None;
    }
    let secs: i64 = whole.parse().ok()?;
    from_whole_seconds(secs, fraction_micros(frac.as_bytes())?)
}

/// Digits after the decimal point, truncated to microseconds.
fn fraction_micros(digits: &[u8]) -> Option<i64> {
    let mut micros = 0i64;
    for i in 0..6 {
        let d = match digits.get(i) {
            Some(b) if b.is_ascii_digit() => i64::from(b - b'0'),
            Some(_) => return None,
            None => 0,
        };
        micros = micros * 10 + d;
    }
    if digits.iter().skip(6).all(u8::is_ascii_digit) {
        Some(micros)
    } else {
        None
    }
}

/// A cursor over the ASCII bytes of a date-time string.
struct Cursor<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl Cursor<'_> {
    fn peek(&self) -> Option<u8> {
        self.bytes.get(self.pos).copied()
    }

    fn eat(&mut self, wanted: u8) -> bool {
        if self.peek() == Some(wanted) {
            self.pos += 1;
            true
        } else {
            false
        }
    }

    /// Exactly `count` decimal digits.
    fn number(&mut self, count: usize) -> Option<i64> {
        let mut value = 0i64;
        for _ in 0..count {
            let b = self.peek().filter(u8::is_ascii_digit)?;
            value = value * 10 + i64::from(b - b'0');
            self.pos += 1;
        }
        Some(value)
    }

    fn digit_run(&mut self) -> &[u8] {
        let start = self.pos;
        while self.peek().is_some_and(|b| b.is_ascii_digit()) {
            self.pos += 1;
        }
        self.bytes.get(start..self.pos).unwrap_or(&[])
    }

    fn at_end(&self) -> bool {
        self.pos >= self.bytes.len()
    }
}

/// `YYYY-MM-DD[(T|t| )HH:MM[:SS[(.|,)fraction]][Z|z|±HH[:MM]|±HHMM]]`; no offset means UTC.
fn parse_datetime(bytes: &[u8]) -> Option<EpochMicros> {
    let mut c = Cursor { bytes, pos: 0 };
    let year = c.number(4)?;
    if !c.eat(b'-') {
        return None;
    }
    let month = c.number(2)?;
    if !c.eat(b'-') {
        return None;
    }
    let day = c.number(2)?;
    if !(1970..=9999).contains(&year)
        || !(1..=12).contains(&month)
        || day < 1
        || day > days_in_month(year, month)
    {
        return None;
    }
    let days = days_from_civil(year, month, day);
    if c.at_end() {
        return from_whole_seconds(days * SECONDS_PER_DAY, 0);
    }

    if !(c.eat(b'T') || c.eat(b't') || c.eat(b' ')) {
        return None;
    }
    let hour = c.number(2)?;
    if !c.eat(b':') {
        return None;
    }
    let minute = c.number(2)?;
    let mut second = 0;
    let mut micros = 0;
    if c.eat(b':') {
        second = c.number(2)?;
        if c.eat(b'.') || c.eat(b',') {
            micros = fraction_micros(c.digit_run())?;
        }
    }
    // Second 60 is a leap second; it simply rolls into the next minute.
    if hour > 23 || minute > 59 || second > 60 {
        return None;
    }

    let offset_seconds = parse_offset(&mut c)?;
    if !c.at_end() {
        return None;
    }
    let local = days * SECONDS_PER_DAY + hour * 3600 + minute * 60 + second;
    from_whole_seconds(local - offset_seconds, micros)
}

/// Seconds east of UTC. No offset at all is read as UTC, as Sentry does.
fn parse_offset(c: &mut Cursor<'_>) -> Option<i64> {
    let sign = match c.peek() {
        None => return Some(0),
        Some(b'Z' | b'z') => {
            c.pos += 1;
            return Some(0);
        }
        Some(b'+') => 1,
        Some(b'-') => -1,
        Some(_) => return None,
    };
    c.pos += 1;
    let hours = c.number(2)?;
    let minutes = if c.at_end() {
        0
    } else {
        c.eat(b':');
        c.number(2)?
    };
    if hours > 23 || minutes > 59 {
        return None;
    }
    Some(sign * (hours * 3600 + minutes * 60))
}

fn is_leap_year(year: i64) -> bool {
    (year % 4 == 0 && year % 100 != 0) || year % 400 == 0
}

fn days_in_month(year: i64, month: i64) -> i64 {
    match month {
        2 if is_leap_year(year) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date.
///
/// Counting years from March makes the leap day the last day of the counted year, so the
/// month lengths before it follow a fixed 153-days-per-5-months pattern and the leap rule
/// only enters through the year count.
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let year_of_era = y - era * 400;
    let month_from_march = (month + 9) % 12;
    let day_of_year = (153 * month_from_march + 2) / 5 + day - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    // 719_468 days separate 0000-03-01 (the start of era 0) from 1970-01-01.
    era * 146_097 + day_of_era - 719_468
}

/// The inverse of [`days_from_civil`]: (year, month, day).
fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let day_of_era = z - era * 146_097;
    let year_of_era =
        (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let month_from_march = (5 * day_of_year + 2) / 153;
    let day = day_of_year - (153 * month_from_march + 2) / 5 + 1;
    let month = if month_from_march < 10 {
        month_from_march + 3
    } else {
        month_from_march - 9
    };
    let year = year_of_era + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

/// `YYYY-MM-DDTHH:MM:SS.ffffffZ`, the form PostgreSQL and every SDK read back.
pub fn format_rfc3339(us: EpochMicros) -> String {
    let secs = us.div_euclid(MICROS_PER_SECOND);
    let micros = us.rem_euclid(MICROS_PER_SECOND);
    let days = secs.div_euclid(SECONDS_PER_DAY);
    let of_day = secs.rem_euclid(SECONDS_PER_DAY);
    let (year, month, day) = civil_from_days(days);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{micros:06}Z",
        of_day / 3600,
        of_day / 60 % 60,
        of_day % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn p(v: Value) -> Option<EpochMicros> {
        parse(Some(&v))
    }

    #[test]
    fn python_rfc3339() {
        let us = p(json!("2026-11-22T07:14:00.595619Z")).unwrap();
        assert_eq!(us, 1_795_331_640_595_619);
        assert_eq!(format_rfc3339(us), "2026-11-22T07:14:00.595619Z");
    }

    #[test]
    fn epoch_numbers() {
        assert_eq!(p(json!(0)), Some(0));
        assert_eq!(p(json!(1_795_331_739)), Some(1_795_331_739_000_000));
        assert_eq!(
            p(json!(1_795_331_739.294_909_5)),
            Some(1_795_331_739_294_910)
        );
        assert_eq!(p(json!(1.295)), Some(1_295_000));
        assert_eq!(p(json!(-1)), None);
        assert_eq!(p(json!(-0.5)), None);
        assert_eq!(p(json!(1e300)), None);
        assert_eq!(p(json!(u64::MAX)), None);
        assert_eq!(p(json!(i64::MIN)), None);
    }

    #[test]
    fn numeric_strings() {
        assert_eq!(p(json!("1795331739")), Some(1_795_331_739_000_000));
        assert_eq!(
            p(json!(" 1795331739.2949095 ")),
            Some(1_795_331_739_294_909)
        );
        assert_eq!(p(json!("12.")), Some(12_000_000));
        assert_eq!(p(json!(".5")), None);
        assert_eq!(p(json!("1.2.3")), None);
        assert_eq!(p(json!("99999999999999999999999")), None);
        assert_eq!(p(json!("NaN")), None);
        assert_eq!(p(json!("inf")), None);
    }

    #[test]
    fn fraction_lengths_and_separators() {
        let base = 1_795_331_640_000_000;
        assert_eq!(p(json!("2026-11-22T07:14:00Z")), Some(base));
        assert_eq!(p(json!("2026-11-22T07:14:00.Z")), Some(base));
        assert_eq!(p(json!("2026-11-22T07:14:00.5Z")), Some(base + 500_000));
        assert_eq!(p(json!("2026-11-22 07:14:00.123Z")), Some(base + 123_000));
        assert_eq!(
            p(json!("2026-11-22T07:14:00.123456789Z")),
            Some(base + 123_456)
        );
        assert_eq!(
            p(json!("2026-11-22T07:14:00,123456789012Z")),
            Some(base + 123_456)
        );
        assert_eq!(p(json!("2026-11-22t07:14:00z")), Some(base));
        assert_eq!(p(json!("2026-11-22T07:14")), Some(base));
        assert_eq!(
            p(json!("2026-11-22")),
            Some(base - (7 * 3600 + 14 * 60) * 1_000_000)
        );
    }

    #[test]
    fn offsets() {
        let base = 1_795_331_640_000_000;
        assert_eq!(p(json!("2026-11-22T07:14:00")), Some(base));
        assert_eq!(p(json!("2026-11-22T09:14:00+02:00")), Some(base));
        assert_eq!(p(json!("2026-11-22T09:14:00+0200")), Some(base));
        assert_eq!(p(json!("2026-11-22T09:14:00+02")), Some(base));
        assert_eq!(p(json!("2026-11-22T01:44:00.000-05:30")), Some(base));
        assert_eq!(p(json!("2026-11-22T07:14:00+00:00")), Some(base));
        assert_eq!(p(json!("2026-11-22T07:14:00+24:00")), None);
        assert_eq!(p(json!("2026-11-22T07:14:00+02:0")), None);
        assert_eq!(p(json!("2026-11-22T07:14:00 UTC")), None);
        assert_eq!(p(json!("1970-01-01T00:30:00+01:00")), None);
    }

    #[test]
    fn calendar() {
        assert_eq!(p(json!("1970-01-01T00:00:00Z")), Some(0));
        assert_eq!(p(json!("2000-02-29T00:00:00Z")), Some(951_782_400_000_000));
        assert_eq!(
            p(json!("2024-02-29T12:00:00Z")),
            Some(1_709_208_000_000_000)
        );
        assert_eq!(p(json!("2023-02-29T00:00:00Z")), None);
        assert_eq!(p(json!("1900-02-29T00:00:00Z")), None);
        assert_eq!(p(json!("2026-04-31T00:00:00Z")), None);
        assert_eq!(p(json!("2026-13-01T00:00:00Z")), None);
        assert_eq!(p(json!("2026-00-01T00:00:00Z")), None);
        assert_eq!(
            p(json!("9999-12-31T23:59:59.999999Z")),
            Some(253_402_300_799_999_999)
        );
        assert_eq!(p(json!("1969-12-31T23:59:59Z")), None);
        // Leap second rolls over.
        assert_eq!(
            p(json!("2016-12-31T23:59:60Z")),
            p(json!("2017-01-01T00:00:00Z"))
        );
        for days in [0, 59, 60, 365, 10_957, 11_016, 20_000, 2_932_896] {
            let (y, m, d) = civil_from_days(days);
            assert_eq!(days_from_civil(y, m, d), days);
        }
    }

    #[test]
    fn garbage() {
        for v in [
            json!(null),
            json!(true),
            json!([]),
            json!({}),
            json!(""),
            json!("   "),
            json!("yesterday"),
            json!("2026-11-22T25:00:00Z"),
            json!("2026-11-22T07:60:00Z"),
            json!("2026-11-22T07:14:61Z"),
            json!("2026-11-22X07:14:00Z"),
            json!("2026-1-22T07:14:00Z"),
            json!("2026-11-22T07:14:00.12a"),
            json!("2026-11-22T07:14:00Zjunk"),
            json!("2026-11-22T07:14:00.1é"),
            json!("２０２６-11-22"),
            json!("-2026-11-22"),
        ] {
            assert_eq!(p(v.clone()), None, "{v}");
        }
        assert_eq!(parse(None), None);
    }

    #[test]
    fn format_is_total() {
        assert_eq!(format_rfc3339(0), "1970-01-01T00:00:00.000000Z");
        assert_eq!(format_rfc3339(-1), "1969-12-31T23:59:59.999999Z");
        let _ = format_rfc3339(i64::MIN);
        let _ = format_rfc3339(i64::MAX);
    }
}
