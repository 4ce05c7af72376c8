//! Placeholders for the parts of a message that vary between occurrences of one bug.
//!
//! Ids, addresses, numbers and dates become `<uuid>`, `<ip>`, `<int>`, `<date>`, ..., so that
//! `order 17 failed` and `order 42 failed` are one issue.

use std::borrow::Cow;
use std::net::Ipv6Addr;
use std::sync::OnceLock;

use regex::{Captures, Match, Regex};

use super::MAX_VALUE_CHARS;
use crate::json::truncate_str;

/// A constant pattern compiled on first use and kept for the life of the process.
pub(super) struct CachedRegex {
    pattern: &'static str,
    cell: OnceLock<Option<Regex>>,
}

impl CachedRegex {
    pub(super) const fn new(pattern: &'static str) -> Self {
        Self {
            pattern,
            cell: OnceLock::new(),
        }
    }

    /// `None` only if the constant pattern failed to compile, which tests rule out; the
    /// callers then skip that replacement instead of panicking inside PostgreSQL.
    pub(super) fn get(&self) -> Option<&Regex> {
        self.cell
            .get_or_init(|| Regex::new(self.pattern).ok())
            .as_ref()
    }
}

static EMAIL: CachedRegex =
    CachedRegex::new(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}");
static UUID: CachedRegex = CachedRegex::new(
    r"\b[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}\b",
);
/// A date with an optional time and offset, or a bare time of day.
static DATE: CachedRegex = CachedRegex::new(
    r"\b[0-9]{4}-[0-9]{2}-[0-9]{2}(?:[T ][0-9]{2}:[0-9]{2}(?::[0-9]{2}(?:[.,][0-9]+)?)?(?:Z|[+-][0-9]{2}:?[0-9]{2})?)?|\b[0-9]{1,2}:[0-9]{2}:[0-9]{2}(?:[.,][0-9]+)?",
);
/// Anything that might be an IPv6 address; [`ipv6_replacement`] decides.
static IPV6_CANDIDATE: CachedRegex = CachedRegex::new(r"[0-9A-Fa-f:.]*:[0-9A-Fa-f:.]*");
static IPV4: CachedRegex = CachedRegex::new(r"\b(?:[0-9]{1,3}\.){3}[0-9]{1,3}\b");
static HEX_PREFIXED: CachedRegex = CachedRegex::new(r"\b0[xX][0-9a-fA-F]+");
static HEX_RUN: CachedRegex = CachedRegex::new(r"\b[0-9a-fA-F]{7,}\b");
static NUMBER: CachedRegex = CachedRegex::new(r"[0-9]+(?:\.[0-9]+)?");

/// Replaces the parts of a message or exception value that vary between occurrences of the
/// same bug: emails, UUIDs, dates and times, IP addresses, hex and numbers. Digits glued to
/// the end of a word (`utf8`, `base64`, `sha256`) are part of a name and stay; digits
/// followed by a unit (`30s`) are a number.
pub fn parameterise(s: &str) -> String {
    let mut out = Cow::Borrowed(truncate_str(s, MAX_VALUE_CHARS));
    out = replace_fixed(out, EMAIL.get(), "<email>");
    out = replace_fixed(out, UUID.get(), "<uuid>");
    out = replace_fixed(out, DATE.get(), "<date>");
    // IPv6 before IPv4, so that `::ffff:10.0.0.1` becomes one placeholder.
    out = replace_with(out, IPV6_CANDIDATE.get(), ipv6_replacement);
    out = replace_fixed(out, IPV4.get(), "<ip>");
    out = replace_fixed(out, HEX_PREFIXED.get(), "<hex>");
    out = replace_with(out, HEX_RUN.get(), |_, m| {
        let run = m.as_str();
        let mixed =
            run.bytes().any(|b| b.is_ascii_digit()) && run.bytes().any(|b| b.is_ascii_alphabetic());
        // All digits is left to the number rule; all letters is a word ("effaced").
        mixed.then(|| "<hex>".to_string())
    });
    out = replace_with(out, NUMBER.get(), |haystack, m| {
        let before = haystack
            .get(..m.start())
            .and_then(|s| s.chars().next_back());
        if before.is_some_and(is_word_char) {
            return None;
        }
        let placeholder = if m.as_str().contains('.') {
            "<float>"
        } else {
            "<int>"
        };
        Some(placeholder.to_string())
    });
    out.into_owned()
}

fn replace_fixed<'a>(text: Cow<'a, str>, re: Option<&Regex>, placeholder: &str) -> Cow<'a, str> {
    match re {
        Some(re) => Cow::Owned(re.replace_all(&text, placeholder).into_owned()),
        None => text,
    }
}

/// Runs `decide` on every match; `Some` replaces the match, `None` keeps it.
fn replace_with<'a>(
    text: Cow<'a, str>,
    re: Option<&Regex>,
    decide: impl Fn(&str, Match<'_>) -> Option<String>,
) -> Cow<'a, str> {
    let Some(re) = re else { return text };
    let replaced = re.replace_all(&text, |caps: &Captures<'_>| match caps.get(0) {
        Some(m) => decide(&text, m).unwrap_or_else(|| m.as_str().to_string()),
        None => String::new(),
    });
    Cow::Owned(replaced.into_owned())
}

fn ipv6_replacement(haystack: &str, m: Match<'_>) -> Option<String> {
    let before = haystack
        .get(..m.start())
        .and_then(|s| s.chars().next_back());
    let after = haystack.get(m.end()..).and_then(|s| s.chars().next());
    if before.is_some_and(is_word_char) || after.is_some_and(is_word_char) {
        return None;
    }
    // The candidate pattern is greedy; "fe80::1:" at the end of a clause keeps its colon.
    let candidate = m.as_str().trim_end_matches([':', '.']);
    let rest = m.as_str().get(candidate.len()..).unwrap_or("");
    let plausible = candidate.matches(':').count() >= 2
        && candidate.bytes().any(|b| b.is_ascii_digit())
        && candidate.parse::<Ipv6Addr>().is_ok();
    plausible.then(|| format!("<ip>{rest}"))
}

fn is_word_char(c: char) -> bool {
    c.is_alphanumeric() || c == '_'
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_pattern_compiles() {
        for re in [
            &EMAIL,
            &UUID,
            &DATE,
            &IPV6_CANDIDATE,
            &IPV4,
            &HEX_PREFIXED,
            &HEX_RUN,
            &NUMBER,
        ] {
            assert!(re.get().is_some(), "{}", re.pattern);
        }
    }

    #[test]
    fn parameterise_cases() {
        let p = parameterise;
        assert_eq!(
            p("invalid literal for int() with base 10: 'abc'"),
            "invalid literal for int() with base <int>: 'abc'"
        );
        assert_eq!(
            p("invalid literal for int() with base 10: 'xyz'"),
            "invalid literal for int() with base <int>: 'xyz'"
        );
        assert_eq!(p("timeout after 30s"), "timeout after <int>s");
        assert_eq!(p("took 1.5 seconds"), "took <float> seconds");
        assert_eq!(
            p("bad utf8 in base64 sha256 field_2"),
            "bad utf8 in base64 sha256 field_2"
        );
        assert_eq!(p("mail bob.smith+x@example.co.uk now"), "mail <email> now");
        assert_eq!(
            p("row 9EC79C33-EC99-42AB-8353-589FCB2E04DC gone"),
            "row <uuid> gone"
        );
        assert_eq!(p("at 2026-11-22T07:14:00.5+02:00!"), "at <date>!");
        assert_eq!(p("on 2026-11-22 at 07:14:00"), "on <date> at <date>");
        assert_eq!(p("from 192.168.1.20 and ::1"), "from <ip> and <ip>");
        assert_eq!(p("peer 2001:db8::8a2e:370:7334, ok"), "peer <ip>, ok");
        assert_eq!(p("::ffff:10.0.0.1"), "<ip>");
        assert_eq!(p("std::io::Error in a::b"), "std::io::Error in a::b");
        assert_eq!(p("ptr 0x7f1d0f012c10 freed"), "ptr <hex> freed");
        assert_eq!(p("commit a1b2c3d4e5 missing"), "commit <hex> missing");
        assert_eq!(p("id 9ec79c33ec9942ab8353589fcb2e04dc"), "id <hex>");
        assert_eq!(p("effaced deadbeef"), "effaced deadbeef");
        assert_eq!(p("-12 items"), "-<int> items");
        assert_eq!(p("数字12と٣"), "数字12と٣");
        assert_eq!(p(""), "");
        let long = "a".repeat(5000);
        assert_eq!(p(&long).len(), MAX_VALUE_CHARS);
    }
}
