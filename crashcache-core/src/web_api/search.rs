//! Sentry's issue search syntax (the `query` parameter of the issue list endpoints), turned into
//! flat constraints that SQL can apply with `= ANY`, `<> ALL` and substring matches, and the
//! `statsPeriod` parameter.
//!
//! What is read (Sentry's grammar, trimmed to what an issue list without assignees can answer):
//!
//! - Terms are separated by whitespace and all must hold (AND). A bare `AND` is skipped.
//! - `key:value`, `key:"quoted value"` (`\"` inside is a quote), `key:[a, b, "c d"]` (any of),
//!   and `!key:value` or `key:!=value` (none of). `key:=value` is `key:value`.
//! - `is:` unresolved, resolved, ignored, archived and muted (both are ignored); several of them
//!   mean any of. With no assignment, bookmark or issue-tracker links: `is:unassigned` and
//!   `is:unlinked` hold for every issue, `is:assigned`, `is:assigned_or_suggested`,
//!   `is:bookmarked` and `is:linked` for none, and `is:for_review` (nothing is ever reviewed)
//!   means unresolved. The keys `assigned:`, `assigned_or_suggested:` and `bookmarks:` follow:
//!   only `assigned:none` holds.
//! - `level:` (debug, info, warning, error, fatal, and ingest's aliases warn, critical, log,
//!   trace), `environment:`, `release:`.
//! - `timesSeen:` with `>`, `>=`, `<`, `<=` or an exact count (`1k`, `2m` allowed); `age:` and
//!   `firstSeen:`, `lastSeen:` with Sentry's relative form: `-24h` newer than, `+7d` older than.
//! - `message:` and `title:` are free text (Sentry matches `message:` as a substring too).
//! - a bare 32-hex event id or a hyphenated UUID (also `id:<uuid>`): the issue holding it.
//! - any other `key:value`, and `tags[key]:value` for a key that is also a search key, is a tag.
//! - anything else is free text: each unquoted word, and each quoted phrase, is one term.
//!
//! Refused with a [`QueryError`] whose message names the problem: `OR`, parentheses,
//! wildcards (`*` inside a value; `\*` is a literal star, and a star at either end of free text
//! is dropped since free text matches substrings anyway), `has:`, absolute dates, substatuses
//! (`is:regressed`, …), `release:latest`, aggregates (`count():>10`), `flags[…]`, and keys
//! that name something pg_crashcache does not keep (`project:`, `issue:`, …).

use serde::Serialize;
use thiserror::Error;

use crate::ids::normalise_uuid;

/// Longer queries are refused: no client sends one, and it bounds the work.
pub const MAX_QUERY_CHARS: usize = 2_000;
/// At most this many terms (filters, words, phrases) per query.
pub const MAX_TERMS: usize = 50;
/// The longest `statsPeriod` answered (90 days); a longer one is refused, not shortened.
pub const MAX_STATS_PERIOD_SECS: i64 = 90 * 86_400;
/// Relative times (`age:+5000d`) are capped at 100 years, so that `now() - interval` stays
/// inside PostgreSQL's range.
const MAX_RELATIVE_SECS: i64 = 100 * 365 * 86_400;
/// Error messages quote at most this much of what the user typed.
const SNIPPET_CHARS: usize = 40;

/// An issue's triage status, named as `crashcache.issue_status` names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum IssueStatus {
    Unresolved,
    Resolved,
    Ignored,
}

/// An event level, named as `crashcache.level` names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Level {
    Debug,
    Info,
    Warning,
    Error,
    Fatal,
}

/// One tag constraint: the tag `key` has one of `values` (none of them when `negated`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TagFilter {
    pub key: String,
    pub values: Vec<String>,
    pub negated: bool,
}

/// The values an issue must not have; each list means "none of".
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Negated {
    pub statuses: Vec<IssueStatus>,
    pub levels: Vec<Level>,
    pub environments: Vec<String>,
    pub releases: Vec<String>,
    /// Substrings that title, culprit and message must all lack (`!message:…`).
    pub text: Vec<String>,
}

/// A parsed issue search, as jsonb for the SQL side. Every member is a constraint and all of
/// them hold at once; an empty list (or null) constrains nothing.
///
/// ```json
/// {
///   "statuses": ["unresolved", "resolved", "ignored"] | null,   // any of; null = any status
///   "levels": ["debug" | "info" | "warning" | "error" | "fatal"],  // any of
///   "environments": ["production"],                             // any of
///   "releases": ["1.0", "2.0"],                                 // any of
///   "tags": [{"key": "browser.name", "values": ["Chrome"], "negated": false}],
///                                  // each entry must hold; values = any of (none of if negated)
///   "text": ["TypeError", "cannot read"],   // each a substring of title, culprit or message
///   "event_id": "9ec79c33ec9942ab8353589fcb2e04dc" | null,  // 32 lowercase hex, no dashes
///   "times_seen_min": 11 | null, "times_seen_max": null,   // inclusive bounds on event count
///   "first_seen_max_age": 86400 | null,  // seconds: first_seen >= now() - this
///   "first_seen_min_age": null,          // seconds: first_seen <= now() - this
///   "last_seen_max_age": null,           // seconds: last_seen >= now() - this
///   "last_seen_min_age": null,           // seconds: last_seen <= now() - this
///   "negated": {"statuses": [], "levels": [], "environments": ["staging"], "releases": [],
///               "text": []},             // none of
///   "matches_none": false   // true: no issue can match (e.g. is:assigned); answer [] at once
/// }
/// ```
///
/// Levels, environments and releases are event fields; the suggested reading is that an issue
/// matches when one of its events has one of the values, and a negated list when none of its
/// events has any. An empty query constrains nothing: Sentry's default `is:unresolved` for a
/// missing `query` parameter is the endpoint's to apply.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct IssueQuery {
    pub statuses: Option<Vec<IssueStatus>>,
    pub levels: Vec<Level>,
    pub environments: Vec<String>,
    pub releases: Vec<String>,
    pub tags: Vec<TagFilter>,
    pub text: Vec<String>,
    pub event_id: Option<String>,
    pub times_seen_min: Option<i64>,
    pub times_seen_max: Option<i64>,
    pub first_seen_max_age: Option<i64>,
    pub first_seen_min_age: Option<i64>,
    pub last_seen_max_age: Option<i64>,
    pub last_seen_min_age: Option<i64>,
    pub negated: Negated,
    pub matches_none: bool,
}

/// Why a query or period was refused; the message is written for the user (HTTP 400 `detail`).
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum QueryError {
    #[error("the search query is longer than {max} characters")]
    TooLong { max: usize },
    #[error("the search query has more than {max} terms")]
    TooManyTerms { max: usize },
    #[error("the search query contains a NUL character")]
    NulCharacter,
    #[error("unterminated quote in the search query at {near:?}")]
    UnterminatedQuote { near: String },
    #[error("unterminated list for search key '{key}': a ']' is missing")]
    UnterminatedList { key: String },
    #[error("malformed list for search key '{key}': write key:[a, b, \"c d\"]")]
    BadList { key: String },
    #[error("the list for search key '{key}' has an empty value")]
    EmptyListValue { key: String },
    #[error(
        "search key '{key}' has no value (put free text that contains a colon in quotes: \
         \"{key}: ...\")"
    )]
    EmptyValue { key: String },
    #[error("search key '{key}' does not take a list")]
    ListNotAllowed { key: String },
    #[error("quoted keys (\"key\":value) are not supported; write tags[key]:value")]
    QuotedKey,
    #[error("invalid tag key {key:?} in tags[...]: use letters, digits and _ . : -")]
    BadTagKey { key: String },
    #[error(
        "unknown value '{value}' for is: (expected unresolved, resolved, ignored, archived, \
         muted, unassigned, assigned, assigned_or_suggested, bookmarked, for_review, linked or \
         unlinked)"
    )]
    UnknownIsValue { value: String },
    #[error("is:{value} is not supported: pg_crashcache does not keep issue substatuses")]
    UnsupportedIsValue { value: String },
    #[error("unknown level '{value}' (expected debug, info, warning, error or fatal)")]
    BadLevel { value: String },
    #[error("search key '{key}' is not supported{hint}")]
    UnsupportedKey { key: String, hint: &'static str },
    #[error("{key}:{value} is not supported{hint}")]
    UnsupportedValue {
        key: String,
        value: String,
        hint: &'static str,
    },
    #[error("operator '{op}' is not supported for search key '{key}'")]
    UnsupportedOperator { key: String, op: &'static str },
    #[error("wildcards (*) are not supported, in {term:?}; write \\* for a literal star")]
    Wildcard { term: String },
    #[error("search key '{key}' needs a whole number such as 10 or 1k, not {value:?}")]
    BadNumber { key: String, value: String },
    #[error(
        "search key '{key}' needs a relative time such as -24h (newer than) or +7d (older \
         than), not {value:?}; absolute dates are not supported"
    )]
    BadRelativeTime { key: String, value: String },
    #[error("'{value}' is not an event id (32 hex digits or a UUID)")]
    BadEventId { value: String },
    #[error("a search query can name only one event id")]
    SeveralEventIds,
    #[error("negated event ids (!id:...) are not supported")]
    NegatedEventId,
    #[error(
        "{op} is not supported in issue search; write key:[a, b] to match any of several values"
    )]
    BooleanOperator { op: String },
    #[error("grouping with parentheses is not supported in issue search, at {near:?}")]
    Parentheses { near: String },
    #[error("aggregate functions are not supported in issue search, in {term:?}")]
    Aggregate { term: String },
    #[error(
        "invalid statsPeriod {value:?}: expected a positive number and a unit s, m, h, d or w, \
         such as 24h or 14d"
    )]
    BadPeriod { value: String },
    #[error("statsPeriod {value:?} is longer than the maximum of 90d")]
    PeriodTooLong { value: String },
}

/// Parses an issue search query. Never panics; see the module docs for what is understood and
/// [`IssueQuery`] for the JSON shape.
pub fn parse_issue_query(query: &str) -> Result<IssueQuery, QueryError> {
    // Cheap bound first, so that megabytes are not even counted.
    if query.len() > MAX_QUERY_CHARS * 4 || query.chars().count() > MAX_QUERY_CHARS {
        return Err(QueryError::TooLong {
            max: MAX_QUERY_CHARS,
        });
    }
    if query.contains('\0') {
        return Err(QueryError::NulCharacter);
    }
    let mut scanner = Scanner::new(query);
    let mut builder = Builder::default();
    let mut terms = 0;
    loop {
        scanner.skip_whitespace();
        let Some(first) = scanner.peek() else {
            break;
        };
        terms += 1;
        if terms > MAX_TERMS {
            return Err(QueryError::TooManyTerms { max: MAX_TERMS });
        }
        if first == '"' {
            let phrase = scanner.read_quoted()?;
            if scanner.peek() == Some(':') {
                return Err(QueryError::QuotedKey);
            }
            builder.free_text(&phrase, false)?;
            continue;
        }
        let negated = first == '!';
        let key_at = scanner.pos + usize::from(negated);
        if let Some((key, after)) = scanner.key_at(key_at) {
            scanner.pos = after;
            let name = key.name();
            let (op, value) = scanner.read_value(&name)?;
            builder.filter(key, negated, op, value)?;
        } else {
            let start = scanner.pos;
            let word = scanner.read_word();
            builder.word(&word, &scanner, start)?;
        }
    }
    Ok(builder.finish())
}

/// Parses a `statsPeriod`: a positive number and a unit `s`, `m`, `h`, `d` or `w` (a bare
/// number is seconds, as in Sentry), at most 90 days. Returns seconds; `""` is `None`.
pub fn parse_stats_period(period: &str) -> Result<Option<i64>, QueryError> {
    let trimmed = period.trim();
    if trimmed.is_empty() {
        return Ok(None);
    }
    let bad = || QueryError::BadPeriod {
        value: snippet(trimmed),
    };
    let secs = amount_with_unit(trimmed).ok_or_else(bad)?;
    if secs <= 0 {
        return Err(bad());
    }
    if secs > MAX_STATS_PERIOD_SECS {
        return Err(QueryError::PeriodTooLong {
            value: snippet(trimmed),
        });
    }
    Ok(Some(secs))
}

/// Digits and an optional unit (`s` if none) to seconds; `None` if malformed or huge.
fn amount_with_unit(text: &str) -> Option<i64> {
    let digits_end = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let (digits, unit) = text.split_at(digits_end);
    if digits.is_empty() || digits.len() > 12 {
        return None;
    }
    let amount: i64 = digits.parse().ok()?;
    let scale = match unit {
        "" | "s" => 1,
        "m" => 60,
        "h" => 3_600,
        "d" => 86_400,
        "w" => 604_800,
        _ => return None,
    };
    amount.checked_mul(scale)
}

/// Cuts what the user typed for an error message.
fn snippet(text: &str) -> String {
    let mut out: String = text.chars().take(SNIPPET_CHARS).collect();
    if text.chars().nth(SNIPPET_CHARS).is_some() {
        out.push('…');
    }
    out
}

/// A comparison written after the colon (`key:>10`); `key:value` is [`Op::Eq`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Op {
    Eq,
    Ne,
    Gt,
    Ge,
    Lt,
    Le,
}

impl Op {
    fn symbol(self) -> &'static str {
        match self {
            Op::Eq => "=",
            Op::Ne => "!=",
            Op::Gt => ">",
            Op::Ge => ">=",
            Op::Lt => "<",
            Op::Le => "<=",
        }
    }
}

/// A filter's key as written: `key`, `tags[key]` or `flags[key]` (the brackets' content is
/// checked when the filter is applied, so that the error can name it).
#[derive(Debug, Clone, PartialEq, Eq)]
enum Key {
    Plain(String),
    Tag(String),
    Flag(String),
}

impl Key {
    fn name(&self) -> String {
        match self {
            Key::Plain(key) => key.clone(),
            Key::Tag(key) => format!("tags[{key}]"),
            Key::Flag(key) => format!("flags[{key}]"),
        }
    }
}

/// A filter's value: one value, or a `[a, b]` list.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Value {
    One(String),
    List(Vec<String>),
}

impl Value {
    fn into_vec(self) -> Vec<String> {
        match self {
            Value::One(value) => vec![value],
            Value::List(values) => values,
        }
    }
}

/// A cursor over the query's characters (at most [`MAX_QUERY_CHARS`], so a `Vec` is cheap and
/// indexing by character cannot split one).
struct Scanner {
    chars: Vec<char>,
    pos: usize,
}

fn is_key_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-')
}

fn is_tag_key_char(c: char) -> bool {
    is_key_char(c) || c == ':'
}

impl Scanner {
    fn new(text: &str) -> Self {
        Scanner {
            chars: text.chars().collect(),
            pos: 0,
        }
    }

    fn peek(&self) -> Option<char> {
        self.chars.get(self.pos).copied()
    }

    fn char_at(&self, at: usize) -> Option<char> {
        self.chars.get(at).copied()
    }

    fn at_token_end(&self) -> bool {
        self.peek().is_none_or(char::is_whitespace)
    }

    fn skip_whitespace(&mut self) {
        while self.peek().is_some_and(char::is_whitespace) {
            self.pos += 1;
        }
    }

    fn snippet_from(&self, at: usize) -> String {
        let rest: String = self.chars.get(at..).unwrap_or_default().iter().collect();
        snippet(&rest)
    }

    fn starts_with_at(&self, at: usize, prefix: &str) -> bool {
        prefix
            .chars()
            .enumerate()
            .all(|(i, c)| self.char_at(at + i) == Some(c))
    }

    /// Reads up to the next whitespace.
    fn read_word(&mut self) -> String {
        let mut word = String::new();
        while let Some(c) = self.peek().filter(|c| !c.is_whitespace()) {
            word.push(c);
            self.pos += 1;
        }
        word
    }

    /// Reads a `"…"` starting at the opening quote; `\"` is a quote, other backslashes stay.
    fn read_quoted(&mut self) -> Result<String, QueryError> {
        let start = self.pos;
        self.pos += 1;
        let mut text = String::new();
        loop {
            match self.peek() {
                None => {
                    return Err(QueryError::UnterminatedQuote {
                        near: self.snippet_from(start),
                    })
                }
                Some('\\') if self.char_at(self.pos + 1) == Some('"') => {
                    text.push('"');
                    self.pos += 2;
                }
                Some('"') => {
                    self.pos += 1;
                    return Ok(text);
                }
                Some(c) => {
                    text.push(c);
                    self.pos += 1;
                }
            }
        }
    }

    /// A filter's key at `at`, and the position after its colon, if one is there.
    fn key_at(&self, at: usize) -> Option<(Key, usize)> {
        for (prefix, make) in [
            ("tags[", Key::Tag as fn(String) -> Key),
            ("flags[", Key::Flag),
        ] {
            if !self.starts_with_at(at, prefix) {
                continue;
            }
            let inner_start = at + prefix.chars().count();
            let mut end = inner_start;
            while let Some(c) = self.char_at(end) {
                if c == ']' || c.is_whitespace() {
                    break;
                }
                end += 1;
            }
            if self.char_at(end) == Some(']') && self.char_at(end + 1) == Some(':') {
                let inner: String = self.chars.get(inner_start..end)?.iter().collect();
                return Some((make(inner), end + 2));
            }
            return None;
        }
        let mut end = at;
        while self.char_at(end).is_some_and(is_key_char) {
            end += 1;
        }
        if end == at || self.char_at(end) != Some(':') {
            return None;
        }
        let key: String = self.chars.get(at..end)?.iter().collect();
        Some((Key::Plain(key), end + 1))
    }

    /// Reads what follows a filter's colon: an optional operator, then a quoted value, a list
    /// or a word. Empty values are refused.
    fn read_value(&mut self, key: &str) -> Result<(Op, Value), QueryError> {
        let op = self.read_op();
        let value = match self.peek() {
            Some('[') => Value::List(self.read_list(key)?),
            Some('"') => Value::One(self.read_quoted()?),
            _ => Value::One(self.read_word()),
        };
        if value == Value::One(String::new()) {
            return Err(QueryError::EmptyValue {
                key: key.to_string(),
            });
        }
        Ok((op, value))
    }

    fn read_op(&mut self) -> Op {
        for (symbol, op) in [
            (">=", Op::Ge),
            ("<=", Op::Le),
            ("!=", Op::Ne),
            (">", Op::Gt),
            ("<", Op::Lt),
            ("=", Op::Eq),
        ] {
            if self.starts_with_at(self.pos, symbol) {
                self.pos += symbol.len();
                return op;
            }
        }
        Op::Eq
    }

    /// Reads `[a, "b c", d]` starting at the bracket; it must end the term.
    fn read_list(&mut self, key: &str) -> Result<Vec<String>, QueryError> {
        let unterminated = || QueryError::UnterminatedList {
            key: key.to_string(),
        };
        let empty = || QueryError::EmptyListValue {
            key: key.to_string(),
        };
        let malformed = || QueryError::BadList {
            key: key.to_string(),
        };
        self.pos += 1;
        let mut items = Vec::new();
        loop {
            self.skip_whitespace();
            let item = match self.peek() {
                None => return Err(unterminated()),
                Some(',' | ']') => return Err(empty()),
                Some('"') => self.read_quoted()?,
                Some(_) => {
                    let mut item = String::new();
                    while let Some(c) = self
                        .peek()
                        .filter(|c| !c.is_whitespace() && !matches!(c, ',' | ']'))
                    {
                        item.push(c);
                        self.pos += 1;
                    }
                    item
                }
            };
            if item.is_empty() {
                return Err(empty());
            }
            items.push(item);
            self.skip_whitespace();
            match self.peek() {
                Some(',') => self.pos += 1,
                Some(']') => {
                    self.pos += 1;
                    break;
                }
                None => return Err(unterminated()),
                Some(_) => return Err(malformed()),
            }
        }
        if !self.at_token_end() {
            return Err(malformed());
        }
        Ok(items)
    }
}

/// Keys Sentry knows that pg_crashcache cannot answer; as tags they would silently match
/// nothing, so they are refused by name.
const UNSUPPORTED_KEYS: &[(&str, &str)] = &[
    (
        "has",
        " (has: and !has: need tag presence, which is not searchable)",
    ),
    ("project", "; use the project parameter"),
    ("project.id", "; use the project parameter"),
    ("issue", "; open the issue by its short id"),
    ("issue.id", ""),
    ("issue.category", ""),
    ("issue.type", ""),
    ("issue.priority", ""),
    ("firstRelease", ""),
    ("first-release", ""),
    ("first_release", ""),
    ("release.stage", ""),
    ("release.version", ""),
    ("release.build", ""),
    ("release.package", ""),
    ("event.timestamp", "; use statsPeriod"),
    ("timestamp", "; use statsPeriod"),
    ("error.handled", ""),
    ("error.unhandled", ""),
    ("error.main_thread", ""),
];

/// What an `is:` value constrains.
enum IsValue {
    Status(IssueStatus),
    /// Holds for every issue (`is:unassigned`), so its negation for none.
    Every,
    /// Holds for no issue (`is:assigned`), so its negation for every one.
    No,
    /// `is:for_review`: unresolved, since nothing is ever marked reviewed.
    ForReview,
}

fn is_value(raw: &str) -> Result<IsValue, QueryError> {
    let value = raw.to_lowercase();
    Ok(match value.as_str() {
        "unresolved" => IsValue::Status(IssueStatus::Unresolved),
        "resolved" => IsValue::Status(IssueStatus::Resolved),
        "ignored" | "archived" | "muted" => IsValue::Status(IssueStatus::Ignored),
        "unassigned" | "unlinked" => IsValue::Every,
        "assigned" | "assigned_or_suggested" | "bookmarked" | "linked" => IsValue::No,
        "for_review" => IsValue::ForReview,
        "new"
        | "regressed"
        | "escalating"
        | "ongoing"
        | "archived_until_escalating"
        | "archived_until_condition_met"
        | "archived_forever" => {
            return Err(QueryError::UnsupportedIsValue {
                value: snippet(raw),
            })
        }
        _ => {
            return Err(QueryError::UnknownIsValue {
                value: snippet(raw),
            })
        }
    })
}

fn level(raw: &str) -> Result<Level, QueryError> {
    Ok(match raw.to_lowercase().as_str() {
        "debug" | "trace" => Level::Debug,
        "info" | "log" => Level::Info,
        "warning" | "warn" => Level::Warning,
        "error" => Level::Error,
        "fatal" | "critical" => Level::Fatal,
        _ => {
            return Err(QueryError::BadLevel {
                value: snippet(raw),
            })
        }
    })
}

/// A value with wildcards refused and `\*` made a literal star.
fn literal(raw: &str) -> Result<String, QueryError> {
    let mut out = String::with_capacity(raw.len());
    let mut chars = raw.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' if chars.peek() == Some(&'*') => {
                out.push('*');
                chars.next();
            }
            '*' => return Err(QueryError::Wildcard { term: snippet(raw) }),
            _ => out.push(c),
        }
    }
    Ok(out)
}

/// Free text is matched as a substring, so a star at either end adds nothing and is dropped;
/// one inside is a wildcard and refused.
fn free_text_literal(raw: &str) -> Result<String, QueryError> {
    let mut trimmed = raw.trim_start_matches('*');
    // A trailing `\*` is an escaped star, not a wildcard.
    while !trimmed.ends_with("\\*") {
        match trimmed.strip_suffix('*') {
            Some(shorter) => trimmed = shorter,
            None => break,
        }
    }
    literal(trimmed).map_err(|_| QueryError::Wildcard { term: snippet(raw) })
}

/// A count such as `10`, `1k` or `2M` (Sentry's k/m/b suffixes).
fn count(key: &str, raw: &str) -> Result<i64, QueryError> {
    let bad = || QueryError::BadNumber {
        key: key.to_string(),
        value: snippet(raw),
    };
    let (digits, scale) = [("k", 1_000), ("m", 1_000_000), ("b", 1_000_000_000)]
        .into_iter()
        .find_map(|(suffix, scale)| {
            raw.strip_suffix(suffix)
                .or_else(|| raw.strip_suffix(&suffix.to_uppercase()))
                .map(|digits| (digits, scale))
        })
        .unwrap_or((raw, 1));
    if digits.is_empty() || digits.len() > 15 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(bad());
    }
    let number: i64 = digits.parse().map_err(|_| bad())?;
    number.checked_mul(scale).ok_or_else(bad)
}

/// Sentry's relative time: `-24h` (within the last 24 hours) or `+7d` (longer ago than that).
/// Returns whether it is `+`, and the seconds.
fn relative_time(key: &str, raw: &str) -> Result<(bool, i64), QueryError> {
    let bad = || QueryError::BadRelativeTime {
        key: key.to_string(),
        value: snippet(raw),
    };
    let (older, amount) = if let Some(amount) = raw.strip_prefix('+') {
        (true, amount)
    } else if let Some(amount) = raw.strip_prefix('-') {
        (false, amount)
    } else {
        return Err(bad());
    };
    let secs = amount_with_unit(amount).ok_or_else(bad)?;
    if secs > MAX_RELATIVE_SECS {
        return Err(bad());
    }
    Ok((older, secs))
}

fn push_unique<T: PartialEq>(list: &mut Vec<T>, item: T) {
    if !list.contains(&item) {
        list.push(item);
    }
}

fn tighten_min(bound: &mut Option<i64>, value: i64) {
    *bound = Some(bound.map_or(value, |b| b.max(value)));
}

fn tighten_max(bound: &mut Option<i64>, value: i64) {
    *bound = Some(bound.map_or(value, |b| b.min(value)));
}

/// Collects the terms' constraints.
#[derive(Default)]
struct Builder {
    query: IssueQuery,
    for_review: bool,
}

impl Builder {
    fn finish(mut self) -> IssueQuery {
        if self.for_review {
            let unresolved = vec![IssueStatus::Unresolved];
            match &self.query.statuses {
                Some(statuses) if !statuses.contains(&IssueStatus::Unresolved) => {
                    self.query.matches_none = true;
                }
                _ => self.query.statuses = Some(unresolved),
            }
        }
        self.query
    }

    fn free_text(&mut self, raw: &str, negated: bool) -> Result<(), QueryError> {
        let text = free_text_literal(raw)?;
        let text = text.trim();
        if !text.is_empty() {
            let list = if negated {
                &mut self.query.negated.text
            } else {
                &mut self.query.text
            };
            push_unique(list, text.to_string());
        }
        Ok(())
    }

    fn event_id(&mut self, id: String) -> Result<(), QueryError> {
        match &self.query.event_id {
            Some(known) if *known != id => Err(QueryError::SeveralEventIds),
            _ => {
                self.query.event_id = Some(id);
                Ok(())
            }
        }
    }

    /// An unquoted word that is not a filter.
    fn word(&mut self, word: &str, scanner: &Scanner, start: usize) -> Result<(), QueryError> {
        match word {
            "AND" => return Ok(()),
            "OR" => return Err(QueryError::BooleanOperator { op: "OR".into() }),
            _ => {}
        }
        let unparened = word.trim_start_matches(['(', '!']);
        let opens_group = word.trim_start_matches('!').starts_with('(')
            && (unparened.is_empty() || Scanner::new(unparened).key_at(0).is_some());
        if opens_group || (!word.is_empty() && word.chars().all(|c| c == ')')) {
            return Err(QueryError::Parentheses {
                near: scanner.snippet_from(start),
            });
        }
        if let Some(open) = word.find('(') {
            if open > 0 && word[..open].chars().all(is_key_char) && word.contains("):") {
                return Err(QueryError::Aggregate {
                    term: snippet(word),
                });
            }
        }
        if let Some(id) = normalise_uuid(word) {
            return self.event_id(id);
        }
        self.free_text(word, false)
    }

    fn filter(&mut self, key: Key, negated: bool, op: Op, value: Value) -> Result<(), QueryError> {
        let name = key.name();
        let (negated, op) = match op {
            Op::Ne => (!negated, Op::Eq),
            other => (negated, other),
        };
        let plain = match key {
            Key::Plain(plain) => plain,
            Key::Tag(tag) => {
                // tags[key,string] is Sentry's typed form of the same tag.
                let tag = tag.strip_suffix(",string").unwrap_or(&tag).to_string();
                if tag.is_empty() || !tag.chars().all(is_tag_key_char) {
                    return Err(QueryError::BadTagKey { key: snippet(&tag) });
                }
                return self.tag(tag, negated, op, value);
            }
            Key::Flag(_) => {
                return Err(QueryError::UnsupportedKey {
                    key: name,
                    hint: " (feature flags are not kept)",
                })
            }
        };
        if let Some(&(_, hint)) = UNSUPPORTED_KEYS.iter().find(|(k, _)| *k == plain) {
            return Err(QueryError::UnsupportedKey { key: plain, hint });
        }
        let counted = matches!(plain.as_str(), "timesSeen" | "times_seen");
        if op != Op::Eq && !counted {
            return Err(QueryError::UnsupportedOperator {
                key: plain,
                op: op.symbol(),
            });
        }
        match plain.as_str() {
            "is" => {
                let Value::One(raw) = value else {
                    return Err(QueryError::ListNotAllowed { key: plain });
                };
                self.is(&literal(&raw)?, negated)
            }
            "level" => {
                for raw in value.into_vec() {
                    let level = level(&literal(&raw)?)?;
                    let list = if negated {
                        &mut self.query.negated.levels
                    } else {
                        &mut self.query.levels
                    };
                    push_unique(list, level);
                }
                Ok(())
            }
            "environment" | "release" => {
                for raw in value.into_vec() {
                    let value = literal(&raw)?;
                    if plain == "release" && value == "latest" {
                        return Err(QueryError::UnsupportedValue {
                            key: plain,
                            value,
                            hint: "; name the release",
                        });
                    }
                    let list = match (plain.as_str(), negated) {
                        ("environment", false) => &mut self.query.environments,
                        ("environment", true) => &mut self.query.negated.environments,
                        (_, false) => &mut self.query.releases,
                        (_, true) => &mut self.query.negated.releases,
                    };
                    push_unique(list, value);
                }
                Ok(())
            }
            "assigned" | "assigned_or_suggested" | "bookmarks" => {
                // Nobody is assigned or bookmarks anything: only "none" can name the assignee.
                let names_none = plain != "bookmarks"
                    && value
                        .into_vec()
                        .iter()
                        .any(|v| v.eq_ignore_ascii_case("none"));
                if names_none == negated {
                    self.query.matches_none = true;
                }
                Ok(())
            }
            "timesSeen" | "times_seen" => {
                let Value::One(raw) = value else {
                    return Err(QueryError::ListNotAllowed { key: plain });
                };
                self.times_seen(&plain, &raw, negated, op)
            }
            "age" | "firstSeen" | "first_seen" | "lastSeen" | "last_seen" => {
                let Value::One(raw) = value else {
                    return Err(QueryError::ListNotAllowed { key: plain });
                };
                let (older, secs) = relative_time(&plain, &raw)?;
                let (min_age, max_age) = if matches!(plain.as_str(), "lastSeen" | "last_seen") {
                    (
                        &mut self.query.last_seen_min_age,
                        &mut self.query.last_seen_max_age,
                    )
                } else {
                    (
                        &mut self.query.first_seen_min_age,
                        &mut self.query.first_seen_max_age,
                    )
                };
                if older != negated {
                    tighten_min(min_age, secs);
                } else {
                    tighten_max(max_age, secs);
                }
                Ok(())
            }
            "id" => {
                if negated {
                    return Err(QueryError::NegatedEventId);
                }
                let Value::One(raw) = value else {
                    return Err(QueryError::ListNotAllowed { key: plain });
                };
                let id = normalise_uuid(&raw).ok_or(QueryError::BadEventId {
                    value: snippet(&raw),
                })?;
                self.event_id(id)
            }
            "message" | "title" => {
                for raw in value.into_vec() {
                    self.free_text(&raw, negated)?;
                }
                Ok(())
            }
            _ => self.tag(plain, negated, op, value),
        }
    }

    fn is(&mut self, raw: &str, negated: bool) -> Result<(), QueryError> {
        match (is_value(raw)?, negated) {
            (IsValue::Status(status), false) => {
                push_unique(self.query.statuses.get_or_insert_with(Vec::new), status);
            }
            (IsValue::Status(status), true) => {
                push_unique(&mut self.query.negated.statuses, status)
            }
            (IsValue::Every, false) | (IsValue::No, true) => {}
            (IsValue::Every, true) | (IsValue::No, false) => self.query.matches_none = true,
            (IsValue::ForReview, false) => self.for_review = true,
            (IsValue::ForReview, true) => {
                push_unique(&mut self.query.negated.statuses, IssueStatus::Unresolved);
            }
        }
        Ok(())
    }

    fn times_seen(
        &mut self,
        key: &str,
        raw: &str,
        negated: bool,
        op: Op,
    ) -> Result<(), QueryError> {
        let n = count(key, raw)?;
        let overflow = || QueryError::BadNumber {
            key: key.to_string(),
            value: snippet(raw),
        };
        // `!timesSeen:>10` is `timesSeen:<=10`, and so on; `!timesSeen:10` is not a range.
        let op = match (op, negated) {
            (op, false) => op,
            (Op::Gt, true) => Op::Le,
            (Op::Ge, true) => Op::Lt,
            (Op::Lt, true) => Op::Ge,
            (Op::Le, true) => Op::Gt,
            (Op::Eq | Op::Ne, true) => {
                return Err(QueryError::UnsupportedOperator {
                    key: key.to_string(),
                    op: "!=",
                })
            }
        };
        let query = &mut self.query;
        match op {
            Op::Eq | Op::Ne => {
                tighten_min(&mut query.times_seen_min, n);
                tighten_max(&mut query.times_seen_max, n);
            }
            Op::Gt => tighten_min(
                &mut query.times_seen_min,
                n.checked_add(1).ok_or_else(overflow)?,
            ),
            Op::Ge => tighten_min(&mut query.times_seen_min, n),
            Op::Lt => tighten_max(&mut query.times_seen_max, n - 1),
            Op::Le => tighten_max(&mut query.times_seen_max, n),
        }
        Ok(())
    }

    fn tag(&mut self, key: String, negated: bool, op: Op, value: Value) -> Result<(), QueryError> {
        if op != Op::Eq {
            return Err(QueryError::UnsupportedOperator {
                key,
                op: op.symbol(),
            });
        }
        let mut values = Vec::new();
        for raw in value.into_vec() {
            push_unique(&mut values, literal(&raw)?);
        }
        self.query.tags.push(TagFilter {
            key,
            values,
            negated,
        });
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(query: &str) -> IssueQuery {
        parse_issue_query(query).unwrap_or_else(|e| panic!("{query:?}: {e}"))
    }

    fn error(query: &str) -> QueryError {
        match parse_issue_query(query) {
            Ok(parsed) => panic!("{query:?} parsed as {parsed:?}"),
            Err(e) => e,
        }
    }

    fn strings(items: &[&str]) -> Vec<String> {
        items.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn an_empty_query_constrains_nothing() {
        for query in ["", "   ", "\t\n"] {
            assert_eq!(parse(query), IssueQuery::default());
        }
        let json = serde_json::to_value(IssueQuery::default()).unwrap();
        assert_eq!(json["statuses"], serde_json::Value::Null);
        assert_eq!(json["negated"]["environments"], serde_json::json!([]));
        assert_eq!(json["matches_none"], false);
    }

    #[test]
    fn the_json_shape_is_flat_and_lowercase() {
        let q = parse("is:unresolved level:warn !environment:staging browser.name:Chrome oops");
        let json = serde_json::to_value(&q).unwrap();
        assert_eq!(
            json,
            serde_json::json!({
                "statuses": ["unresolved"],
                "levels": ["warning"],
                "environments": [],
                "releases": [],
                "tags": [{"key": "browser.name", "values": ["Chrome"], "negated": false}],
                "text": ["oops"],
                "event_id": null,
                "times_seen_min": null,
                "times_seen_max": null,
                "first_seen_max_age": null,
                "first_seen_min_age": null,
                "last_seen_max_age": null,
                "last_seen_min_age": null,
                "negated": {"statuses": [], "levels": [], "environments": ["staging"],
                            "releases": [], "text": []},
                "matches_none": false
            })
        );
    }

    #[test]
    fn sentry_mcp_examples() {
        // search_issues' default query and its documented example.
        let q = parse("is:unresolved");
        assert_eq!(q.statuses, Some(vec![IssueStatus::Unresolved]));
        let q = parse("is:unresolved is:unassigned");
        assert_eq!(q.statuses, Some(vec![IssueStatus::Unresolved]));
        assert!(!q.matches_none);
    }

    #[test]
    fn sentry_cli_and_selfhosted_mcp_queries() {
        // sentry-cli `issues list` sends `query=` by default and documents `is:unresolved`;
        // `issues mute` names the status "muted". DD appends " is:<status>" to the user's text.
        assert_eq!(parse(""), IssueQuery::default());
        assert_eq!(parse("is:muted").statuses, Some(vec![IssueStatus::Ignored]));
        let q = parse(" is:resolved");
        assert_eq!(q.statuses, Some(vec![IssueStatus::Resolved]));
        let q = parse("TypeError is:ignored");
        assert_eq!(q.statuses, Some(vec![IssueStatus::Ignored]));
        assert_eq!(q.text, strings(&["TypeError"]));
    }

    #[test]
    fn status_level_and_environment_together() {
        let q = parse("is:unresolved level:error environment:production");
        assert_eq!(q.statuses, Some(vec![IssueStatus::Unresolved]));
        assert_eq!(q.levels, vec![Level::Error]);
        assert_eq!(q.environments, strings(&["production"]));
        assert!(q.tags.is_empty() && q.text.is_empty());
    }

    #[test]
    fn several_statuses_mean_any_of_and_aliases_map_to_ignored() {
        let q = parse("is:unresolved is:resolved is:archived is:muted is:ignored");
        assert_eq!(
            q.statuses,
            Some(vec![
                IssueStatus::Unresolved,
                IssueStatus::Resolved,
                IssueStatus::Ignored
            ])
        );
        assert_eq!(parse("IS:x").tags[0].key, "IS", "keys are case-sensitive");
        assert_eq!(
            parse("is:Resolved").statuses,
            Some(vec![IssueStatus::Resolved])
        );
        assert_eq!(
            parse("!is:resolved").negated.statuses,
            vec![IssueStatus::Resolved]
        );
        assert_eq!(parse("!is:resolved").statuses, None);
    }

    #[test]
    fn assignment_bookmarks_and_links_follow_a_tracker_without_them() {
        for query in ["is:unassigned", "is:unlinked", "!is:assigned", "!is:linked"] {
            let q = parse(query);
            assert!(!q.matches_none, "{query}");
            assert_eq!(q.statuses, None, "{query}");
        }
        for query in [
            "is:assigned",
            "is:assigned_or_suggested",
            "is:bookmarked",
            "is:linked",
            "!is:unassigned",
            "!is:unlinked",
            "is:unresolved is:assigned",
        ] {
            assert!(parse(query).matches_none, "{query}");
        }
        for query in [
            "assigned:none",
            "assigned:[me, none]",
            "!assigned:me",
            "!bookmarks:me",
        ] {
            assert!(!parse(query).matches_none, "{query}");
        }
        for query in [
            "assigned:me",
            "assigned_or_suggested:#team",
            "!assigned:none",
            "bookmarks:me",
        ] {
            assert!(parse(query).matches_none, "{query}");
        }
    }

    #[test]
    fn for_review_means_unresolved() {
        assert_eq!(
            parse("is:for_review").statuses,
            Some(vec![IssueStatus::Unresolved])
        );
        let q = parse("is:unresolved is:resolved is:for_review");
        assert_eq!(q.statuses, Some(vec![IssueStatus::Unresolved]));
        assert!(!q.matches_none);
        assert!(parse("is:resolved is:for_review").matches_none);
        assert_eq!(
            parse("!is:for_review").negated.statuses,
            vec![IssueStatus::Unresolved]
        );
    }

    #[test]
    fn unknown_and_unsupported_is_values_are_refused() {
        assert_eq!(
            error("is:bogus"),
            QueryError::UnknownIsValue {
                value: "bogus".into()
            }
        );
        assert!(error("is:bogus").to_string().contains("unresolved"));
        assert_eq!(
            error("is:regressed"),
            QueryError::UnsupportedIsValue {
                value: "regressed".into()
            }
        );
        assert_eq!(
            error("is:[resolved, unresolved]"),
            QueryError::ListNotAllowed { key: "is".into() }
        );
    }

    #[test]
    fn levels_are_validated_and_lowercased() {
        let q = parse("level:ERROR level:[warn, fatal] !level:debug");
        assert_eq!(q.levels, vec![Level::Error, Level::Warning, Level::Fatal]);
        assert_eq!(q.negated.levels, vec![Level::Debug]);
        assert_eq!(parse("level:critical").levels, vec![Level::Fatal]);
        assert_eq!(
            error("level:verbose"),
            QueryError::BadLevel {
                value: "verbose".into()
            }
        );
        assert_eq!(
            error("level:[error, bogus]"),
            QueryError::BadLevel {
                value: "bogus".into()
            }
        );
    }

    #[test]
    fn negation_and_not_equal() {
        let q = parse("!environment:staging");
        assert_eq!(q.negated.environments, strings(&["staging"]));
        assert!(q.environments.is_empty());
        assert_eq!(parse("environment:!=staging"), q);
        assert_eq!(parse("environment:=prod").environments, strings(&["prod"]));
        let q = parse("!release:[1.0, 2.0] !server_name:web-1");
        assert_eq!(q.negated.releases, strings(&["1.0", "2.0"]));
        assert_eq!(
            q.tags,
            vec![TagFilter {
                key: "server_name".into(),
                values: strings(&["web-1"]),
                negated: true
            }]
        );
        // A `!` that starts no filter is free text, as in Sentry.
        assert_eq!(parse("!important").text, strings(&["!important"]));
    }

    #[test]
    fn lists_mean_any_of() {
        let q = parse("release:[1.0, 2.0]");
        assert_eq!(q.releases, strings(&["1.0", "2.0"]));
        let q = parse("release:[1.0,2.0,\"3.0 beta\"] environment:[ prod , \"qa, eu\" ]");
        assert_eq!(q.releases, strings(&["1.0", "2.0", "3.0 beta"]));
        assert_eq!(q.environments, strings(&["prod", "qa, eu"]));
        let q = parse("browser.name:[Chrome, Firefox]");
        assert_eq!(q.tags[0].values, strings(&["Chrome", "Firefox"]));
        assert_eq!(parse("release:[1.0, 1.0]").releases, strings(&["1.0"]));
    }

    #[test]
    fn malformed_lists_are_refused() {
        let key = || "release".to_string();
        assert_eq!(
            error("release:[1.0, 2.0"),
            QueryError::UnterminatedList { key: key() }
        );
        assert_eq!(
            error("release:["),
            QueryError::UnterminatedList { key: key() }
        );
        assert_eq!(
            error("release:[]"),
            QueryError::EmptyListValue { key: key() }
        );
        assert_eq!(
            error("release:[1.0,,2.0]"),
            QueryError::EmptyListValue { key: key() }
        );
        assert_eq!(
            error("release:[1.0,]"),
            QueryError::EmptyListValue { key: key() }
        );
        assert_eq!(
            error("release:[\"\"]"),
            QueryError::EmptyListValue { key: key() }
        );
        assert_eq!(
            error("release:[1.0 2.0]"),
            QueryError::BadList { key: key() }
        );
        assert_eq!(error("release:[1.0]x"), QueryError::BadList { key: key() });
        assert!(matches!(
            error("release:[\"1.0]"),
            QueryError::UnterminatedQuote { .. }
        ));
    }

    #[test]
    fn free_text_words_and_quoted_phrases() {
        let q = parse("TypeError \"cannot read\"");
        assert_eq!(q.text, strings(&["TypeError", "cannot read"]));
        let q = parse(r#""say \"hi\"" it's"#);
        assert_eq!(q.text, strings(&["say \"hi\"", "it's"]));
        // A quote inside a word is part of it; a phrase ends at its closing quote.
        assert_eq!(parse("a\"b").text, strings(&["a\"b"]));
        assert_eq!(parse("\"a\"b").text, strings(&["a", "b"]));
        assert_eq!(parse("\"\" x").text, strings(&["x"]));
        assert_eq!(
            parse("message:undefined title:\"not a function\"").text,
            strings(&["undefined", "not a function"])
        );
        assert_eq!(
            parse("!message:timeout").negated.text,
            strings(&["timeout"])
        );
        assert_eq!(parse("AND x AND").text, strings(&["x"]));
        assert_eq!(
            parse("foo() (evaluating").text,
            strings(&["foo()", "(evaluating"])
        );
    }

    #[test]
    fn unterminated_quotes_are_refused() {
        for query in ["\"cannot read", "level:\"error", "x \"", r#""ends with \""#] {
            assert!(
                matches!(error(query), QueryError::UnterminatedQuote { .. }),
                "{query}"
            );
        }
        assert!(error("\"cannot read").to_string().contains("cannot read"));
    }

    #[test]
    fn empty_values_are_refused() {
        assert_eq!(
            error("level:"),
            QueryError::EmptyValue {
                key: "level".into()
            }
        );
        assert_eq!(
            error("level: error"),
            QueryError::EmptyValue {
                key: "level".into()
            }
        );
        assert_eq!(
            error("browser:\"\""),
            QueryError::EmptyValue {
                key: "browser".into()
            }
        );
        assert_eq!(
            error("tags[a]:"),
            QueryError::EmptyValue {
                key: "tags[a]".into()
            }
        );
        // A copied title with a colon gets a hint to quote it.
        assert!(error("TypeError: x").to_string().contains("quotes"));
        assert_eq!(parse("\"TypeError: x\"").text, strings(&["TypeError: x"]));
    }

    #[test]
    fn event_ids_bare_or_hyphenated() {
        let id = "9ec79c33ec9942ab8353589fcb2e04dc";
        for query in [
            id.to_string(),
            id.to_uppercase(),
            "9EC79C33-EC99-42AB-8353-589FCB2E04DC".to_string(),
            format!("id:{id}"),
            format!("is:resolved {id} {id}"),
        ] {
            assert_eq!(parse(&query).event_id.as_deref(), Some(id), "{query}");
        }
        let q = parse(&format!("is:resolved {id}"));
        assert!(q.text.is_empty());
        assert_eq!(
            error(&format!("{id} aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa")),
            QueryError::SeveralEventIds
        );
        assert_eq!(
            error("id:nope"),
            QueryError::BadEventId {
                value: "nope".into()
            }
        );
        assert_eq!(error(&format!("!id:{id}")), QueryError::NegatedEventId);
        // 31 or 33 hex digits are text.
        assert_eq!(parse(&id[1..]).event_id, None);
        assert_eq!(parse(&format!("{id}0")).event_id, None);
    }

    #[test]
    fn other_keys_are_tags() {
        let q = parse(
            "browser.name:Chrome server_name:web-1 user.id:42 url:https://x.test/a?b=c \
             os:\"Mac OS X\" tags[level]:custom tags[sentry:user]:id:7 tags[os,string]:Linux",
        );
        let tags: Vec<(&str, &str, bool)> = q
            .tags
            .iter()
            .map(|t| (t.key.as_str(), t.values[0].as_str(), t.negated))
            .collect();
        assert_eq!(
            tags,
            vec![
                ("browser.name", "Chrome", false),
                ("server_name", "web-1", false),
                ("user.id", "42", false),
                ("url", "https://x.test/a?b=c", false),
                ("os", "Mac OS X", false),
                ("level", "custom", false),
                ("sentry:user", "id:7", false),
                ("os", "Linux", false),
            ]
        );
        assert!(q.levels.is_empty());
        assert_eq!(
            error("tags[ключ]:x"),
            QueryError::BadTagKey {
                key: "ключ".into()
            }
        );
        assert_eq!(
            error("tags[]:x"),
            QueryError::BadTagKey { key: String::new() }
        );
    }

    #[test]
    fn unsupported_keys_are_named() {
        assert_eq!(
            error("has:user").to_string().split(' ').nth(2),
            Some("'has'")
        );
        assert!(
            matches!(error("!has:user"), QueryError::UnsupportedKey { key, .. } if key == "has")
        );
        for key in [
            "project",
            "issue",
            "firstRelease",
            "event.timestamp",
            "error.unhandled",
        ] {
            assert!(
                matches!(error(&format!("{key}:x")), QueryError::UnsupportedKey { key: k, .. } if k == key),
                "{key}"
            );
        }
        assert!(error("flags[my_flag]:true")
            .to_string()
            .contains("flags[my_flag]"));
        assert!(error("release:latest")
            .to_string()
            .contains("release:latest"));
    }

    #[test]
    fn operators_only_where_they_mean_something() {
        assert_eq!(
            error("level:>error"),
            QueryError::UnsupportedOperator {
                key: "level".into(),
                op: ">"
            }
        );
        assert_eq!(
            error("http.status_code:>=500"),
            QueryError::UnsupportedOperator {
                key: "http.status_code".into(),
                op: ">="
            }
        );
    }

    #[test]
    fn times_seen_ranges() {
        let q = parse("timesSeen:>10 timesSeen:<=1k");
        assert_eq!((q.times_seen_min, q.times_seen_max), (Some(11), Some(1000)));
        let q = parse("timesSeen:5");
        assert_eq!((q.times_seen_min, q.times_seen_max), (Some(5), Some(5)));
        let q = parse("timesSeen:>=3 timesSeen:>7 times_seen:<2m");
        assert_eq!(
            (q.times_seen_min, q.times_seen_max),
            (Some(8), Some(1_999_999))
        );
        let q = parse("!timesSeen:>10");
        assert_eq!((q.times_seen_min, q.times_seen_max), (None, Some(10)));
        let q = parse("!timesSeen:<10");
        assert_eq!((q.times_seen_min, q.times_seen_max), (Some(10), None));
        assert!(matches!(
            error("timesSeen:>many"),
            QueryError::BadNumber { .. }
        ));
        assert!(matches!(
            error("timesSeen:>-1"),
            QueryError::BadNumber { .. }
        ));
        assert!(matches!(
            error("timesSeen:>99999999999999b"),
            QueryError::BadNumber { .. }
        ));
        assert!(matches!(
            error("!timesSeen:10"),
            QueryError::UnsupportedOperator { op: "!=", .. }
        ));
        assert!(matches!(
            error("timesSeen:[1, 2]"),
            QueryError::ListNotAllowed { .. }
        ));
        assert!(error("timesSeen:>x").to_string().contains("'timesSeen'"));
    }

    #[test]
    fn relative_ages() {
        let q = parse("age:-24h");
        assert_eq!(q.first_seen_max_age, Some(86_400));
        let q = parse("age:+12h age:-24h firstSeen:-2d");
        assert_eq!(
            (q.first_seen_min_age, q.first_seen_max_age),
            (Some(43_200), Some(86_400))
        );
        let q = parse("lastSeen:+30d lastSeen:-1w");
        assert_eq!(
            (q.last_seen_min_age, q.last_seen_max_age),
            (Some(2_592_000), Some(604_800))
        );
        let q = parse("!lastSeen:-90m");
        assert_eq!(
            (q.last_seen_min_age, q.last_seen_max_age),
            (Some(5_400), None)
        );
        for query in [
            "age:24h",
            "firstSeen:2024-01-01",
            "lastSeen:-24x",
            "age:-",
            "age:+99999999d",
        ] {
            let e = error(query);
            assert!(
                matches!(e, QueryError::BadRelativeTime { .. }),
                "{query}: {e}"
            );
        }
        assert!(error("age:24h").to_string().contains("'age'"));
        assert!(matches!(
            error("age:>-24h"),
            QueryError::UnsupportedOperator { .. }
        ));
    }

    #[test]
    fn wildcards_are_refused_except_at_the_ends_of_free_text() {
        assert!(matches!(
            error("browser:\"Safari 11*\""),
            QueryError::Wildcard { .. }
        ));
        assert!(matches!(
            error("environment:prod*"),
            QueryError::Wildcard { .. }
        ));
        assert!(matches!(error("foo*bar"), QueryError::Wildcard { .. }));
        assert_eq!(
            parse("*Timeout* \"*read*\"").text,
            strings(&["Timeout", "read"])
        );
        assert_eq!(
            parse("!message:\"*Timeout\"").negated.text,
            strings(&["Timeout"])
        );
        assert_eq!(parse(r"a\*b").text, strings(&["a*b"]));
        assert_eq!(parse(r"ptr\*").text, strings(&["ptr*"]));
        assert_eq!(parse(r"tags[x]:\*").tags[0].values, strings(&["*"]));
        assert_eq!(parse("*").text, Vec::<String>::new());
    }

    #[test]
    fn boolean_operators_parentheses_and_aggregates_are_refused() {
        assert!(matches!(
            error("browser:Chrome OR browser:Opera"),
            QueryError::BooleanOperator { .. }
        ));
        assert_eq!(
            parse("error or warning").text,
            strings(&["error", "or", "warning"])
        );
        for query in ["(is:resolved)", "( is:resolved )", "!(level:error", "x )"] {
            assert!(
                matches!(error(query), QueryError::Parentheses { .. }),
                "{query}"
            );
        }
        assert!(matches!(error("count():>10"), QueryError::Aggregate { .. }));
        assert_eq!(error("\"key\":value"), QueryError::QuotedKey);
    }

    #[test]
    fn limits_on_length_and_terms() {
        assert_eq!(parse(&"a".repeat(MAX_QUERY_CHARS)).text.len(), 1);
        assert_eq!(
            error(&"a".repeat(MAX_QUERY_CHARS + 1)),
            QueryError::TooLong {
                max: MAX_QUERY_CHARS
            }
        );
        assert_eq!(
            error(&"é".repeat(MAX_QUERY_CHARS + 1)),
            QueryError::TooLong {
                max: MAX_QUERY_CHARS
            }
        );
        assert!(parse_issue_query(&"日".repeat(MAX_QUERY_CHARS)).is_ok());
        assert!(matches!(
            error(&"x".repeat(10_000_000)),
            QueryError::TooLong { .. }
        ));
        let terms = |n: usize| {
            (0..n)
                .map(|i| format!("w{i}"))
                .collect::<Vec<_>>()
                .join(" ")
        };
        assert_eq!(parse(&terms(MAX_TERMS)).text.len(), MAX_TERMS);
        assert_eq!(
            error(&terms(MAX_TERMS + 1)),
            QueryError::TooManyTerms { max: MAX_TERMS }
        );
        assert_eq!(error("a\0b"), QueryError::NulCharacter);
    }

    #[test]
    fn unicode_is_kept_in_values_and_text() {
        let q = parse("日本語 \"🦀 crab\" browser:Firefox🦊 environment:prød");
        assert_eq!(q.text, strings(&["日本語", "🦀 crab"]));
        assert_eq!(q.tags[0].values, strings(&["Firefox🦊"]));
        assert_eq!(q.environments, strings(&["prød"]));
        assert!(error(&format!("\"{}", "ü".repeat(100)))
            .to_string()
            .contains('…'));
    }

    #[test]
    fn stats_periods() {
        assert_eq!(parse_stats_period(""), Ok(None));
        assert_eq!(parse_stats_period("  "), Ok(None));
        for (period, secs) in [
            ("24h", 86_400),
            ("14d", 14 * 86_400),
            ("30d", 30 * 86_400),
            ("90m", 5_400),
            ("2w", 14 * 86_400),
            ("60s", 60),
            ("60", 60),
            ("90d", MAX_STATS_PERIOD_SECS),
            (" 1h ", 3_600),
        ] {
            assert_eq!(parse_stats_period(period), Ok(Some(secs)), "{period}");
        }
        for period in [
            "0h",
            "h",
            "-1d",
            "1.5h",
            "1y",
            "24H",
            "1 h",
            "1hh",
            "99999999999999999999d",
        ] {
            assert!(
                matches!(
                    parse_stats_period(period),
                    Err(QueryError::BadPeriod { .. })
                ),
                "{period}"
            );
        }
        assert_eq!(
            parse_stats_period("91d"),
            Err(QueryError::PeriodTooLong {
                value: "91d".into()
            })
        );
        assert!(matches!(
            parse_stats_period("13w"),
            Err(QueryError::PeriodTooLong { .. })
        ));
        assert!(parse_stats_period("1y")
            .unwrap_err()
            .to_string()
            .contains("24h"));
    }

    /// xorshift64*: deterministic, so a failure can be replayed.
    struct Rng(u64);

    impl Rng {
        fn next_u64(&mut self) -> u64 {
            self.0 ^= self.0 >> 12;
            self.0 ^= self.0 << 25;
            self.0 ^= self.0 >> 27;
            self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
        }

        fn below(&mut self, n: usize) -> usize {
            (self.next_u64() % n as u64) as usize
        }
    }

    fn check_invariants(input: &str) {
        let Ok(q) = parse_issue_query(input) else {
            return;
        };
        serde_json::to_string(&q).unwrap();
        if let Some(id) = &q.event_id {
            assert!(id.len() == 32 && id.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')));
        }
        assert!(q.text.iter().chain(&q.negated.text).all(|t| !t.is_empty()));
        assert!(q
            .tags
            .iter()
            .all(|t| !t.values.is_empty() && !t.key.is_empty()));
    }

    #[test]
    fn never_panics_on_pseudo_random_input() {
        const PIECES: &[&str] = &[
            "is:",
            "level:",
            "environment:",
            "release:",
            "tags[",
            "]",
            "[",
            ",",
            "\"",
            "\\",
            "!",
            ":",
            "*",
            "(",
            ")",
            " ",
            "  ",
            "\t",
            "\n",
            ">",
            "<",
            "=",
            ">=",
            "!=",
            "-",
            "+",
            "24h",
            "timesSeen:",
            "age:",
            "lastSeen:",
            "has:",
            "id:",
            "OR",
            "AND",
            "unresolved",
            "error",
            "9ec79c33ec9942ab8353589fcb2e04dc",
            "9ec79c33-ec99-42ab-8353-589fcb2e04dc",
            "é",
            "日本",
            "🦀",
            "\u{200b}",
            "\u{0301}",
            "a",
            "Z",
            "0",
            "9",
            "k",
            "count(",
            "flags[",
            "assigned:",
            "none",
            "message:",
            "\\*",
            "\\\"",
            ".",
            "_",
            "\u{0}",
        ];
        let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
        for _ in 0..4_000 {
            let mut input = String::new();
            for _ in 0..rng.below(24) {
                input.push_str(PIECES[rng.below(PIECES.len())]);
            }
            check_invariants(&input);
            let _ = parse_stats_period(&input);
        }
        // Raw characters too, ASCII and beyond.
        for _ in 0..4_000 {
            let input: String = (0..rng.below(40))
                .filter_map(|_| {
                    let c = if rng.below(4) == 0 {
                        rng.below(0x11_0000) as u32
                    } else {
                        0x20 + rng.below(0x5f) as u32
                    };
                    char::from_u32(c)
                })
                .collect();
            check_invariants(&input);
            let _ = parse_stats_period(&input);
        }
    }

    #[test]
    fn never_panics_on_long_or_odd_input() {
        for input in [
            "[".repeat(MAX_QUERY_CHARS),
            "\"".repeat(MAX_QUERY_CHARS),
            "!".repeat(MAX_QUERY_CHARS),
            "a:".repeat(MAX_QUERY_CHARS / 2),
            format!("tags[{}", "x".repeat(MAX_QUERY_CHARS - 5)),
            format!("release:[{}]", "a,".repeat(500)),
            "🦀".repeat(MAX_QUERY_CHARS),
            "\\".repeat(MAX_QUERY_CHARS),
            "*".repeat(MAX_QUERY_CHARS),
        ] {
            check_invariants(&input);
        }
    }
}
