//! The alert message as the database writes it into the outbox: channel-agnostic, read tolerantly.
//!
//! Shape (`alert_outbox.message`, described in alerts.sql's header): `{"title", "reason",
//! "project", "level", "url", "trigger", "rule", "test", "issue": {id, short_id, title, culprit,
//! events, users, first_seen, last_seen}, "fields": [[name, value], ...], "held_back": n}`.
//! Every key is optional here, so a message the database shapes a little differently still gets
//! delivered rather than stuck.

use serde::Deserialize;
use serde_json::Value;

/// One alert, ready to be formatted for a channel.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default)]
pub struct Message {
    /// One line: what happened ("New issue: TypeError: x is undefined").
    pub title: String,
    /// Why it fired, in words ("A new issue was seen for the first time").
    pub reason: String,
    /// The project's name or slug.
    pub project: String,
    /// The event level (error, fatal, warning, ...), when there is one.
    pub level: Option<String>,
    /// The issue page (or the page the alert is about).
    pub url: Option<String>,
    /// The rule's trigger: new_issue, regression, issue_volume, cron_missed, test, ...
    pub trigger: String,
    /// The rule's name (none for a test).
    pub rule: Option<String>,
    /// A test message ("Send a test").
    pub test: bool,
    /// The issue, when the alert is about one.
    pub issue: Option<Issue>,
    /// Extra facts to show, in order.
    #[serde(deserialize_with = "fields")]
    pub fields: Vec<(String, String)>,
    /// Alerts of the same rule held back by the cooldown since the last one was sent.
    #[serde(deserialize_with = "count")]
    pub held_back: i64,
}

/// The issue an alert is about.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default)]
pub struct Issue {
    /// Its id, as text (the database may send a number).
    #[serde(deserialize_with = "text")]
    pub id: String,
    /// Its short id, e.g. `BACKEND-1A`.
    #[serde(deserialize_with = "text")]
    pub short_id: String,
    /// Its title.
    pub title: String,
    /// Where it happens (function, file, transaction).
    pub culprit: Option<String>,
    /// Events so far.
    #[serde(deserialize_with = "count")]
    pub events: i64,
    /// Users affected so far.
    #[serde(deserialize_with = "count")]
    pub users: i64,
    /// When it was first seen (ISO 8601 as the database wrote it).
    pub first_seen: Option<String>,
    /// When it was last seen.
    pub last_seen: Option<String>,
}

/// Why a message cannot be read.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("the alert message is not an object of the expected shape: {0}")]
pub struct MessageError(String);

impl Message {
    /// Reads the outbox's `message` jsonb.
    pub fn from_json(value: &Value) -> Result<Self, MessageError> {
        Message::deserialize(value).map_err(|err| MessageError(err.to_string()))
    }

    /// The title, or a fallback built from the trigger so no channel gets an empty heading.
    pub fn heading(&self) -> String {
        if !self.title.trim().is_empty() {
            return self.title.clone();
        }
        match &self.issue {
            Some(issue) if !issue.title.is_empty() => issue.title.clone(),
            _ => format!("Alert: {}", self.trigger),
        }
    }

    /// The facts every channel shows: the issue's figures, then the message's own fields.
    pub fn facts(&self) -> Vec<(String, String)> {
        let mut facts = Vec::new();
        if !self.project.is_empty() {
            facts.push(("Project".to_owned(), self.project.clone()));
        }
        if let Some(rule) = self.rule.as_ref().filter(|rule| !rule.is_empty()) {
            facts.push(("Rule".to_owned(), rule.clone()));
        }
        if let Some(level) = &self.level {
            facts.push(("Level".to_owned(), level.clone()));
        }
        if let Some(issue) = &self.issue {
            if !issue.short_id.is_empty() {
                facts.push(("Issue".to_owned(), issue.short_id.clone()));
            }
            if let Some(culprit) = issue.culprit.as_ref().filter(|c| !c.is_empty()) {
                facts.push(("Culprit".to_owned(), culprit.clone()));
            }
            facts.push(("Events".to_owned(), issue.events.to_string()));
            facts.push(("Users".to_owned(), issue.users.to_string()));
            if let Some(first_seen) = &issue.first_seen {
                facts.push(("First seen".to_owned(), first_seen.clone()));
            }
        }
        facts.extend(self.fields.iter().cloned());
        if self.held_back > 0 {
            facts.push((
                "Held back".to_owned(),
                format!("{} more since the last alert (cooldown)", self.held_back),
            ));
        }
        facts
    }
}

/// `[[name, value], ...]`, where a value may be any JSON; anything else is no field.
fn fields<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Vec<(String, String)>, D::Error> {
    let value = Value::deserialize(d)?;
    let Value::Array(pairs) = value else {
        return Ok(Vec::new());
    };
    Ok(pairs
        .into_iter()
        .filter_map(|pair| match pair {
            Value::Array(mut pair) if pair.len() == 2 => {
                let value = as_text(pair.pop()?);
                let name = as_text(pair.pop()?);
                Some((name, value))
            }
            _ => None,
        })
        .collect())
}

fn text<'de, D: serde::Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    Ok(as_text(Value::deserialize(d)?))
}

fn count<'de, D: serde::Deserializer<'de>>(d: D) -> Result<i64, D::Error> {
    Ok(match Value::deserialize(d)? {
        Value::Number(n) => n.as_i64().unwrap_or(0),
        Value::String(s) => s.trim().parse().unwrap_or(0),
        _ => 0,
    })
}

fn as_text(value: Value) -> String {
    match value {
        Value::String(s) => s,
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::Message;
    use serde_json::json;

    /// A message as the database writes it for a new issue.
    pub(crate) fn new_issue() -> Message {
        Message::from_json(&json!({
            "title": "New issue: ZeroDivisionError: division by zero",
            "reason": "A new issue was seen for the first time (rule \"Every new issue\")",
            "project": "backend",
            "level": "error",
            "url": "https://errors.example.com/issues/42",
            "trigger": "new_issue",
            "issue": {"id": 42, "short_id": "BACKEND-16", "title": "ZeroDivisionError: division by zero",
                      "culprit": "app.views in divide", "events": 1, "users": "1",
                      "first_seen": "2026-12-02T02:00:00Z", "last_seen": "2026-12-02T02:00:00Z"},
            "fields": [["environment", "production"], ["release", "1.2.3"], ["odd", 7]],
            "held_back": 0
        }))
        .unwrap()
    }

    #[test]
    fn reads_the_database_shape() {
        let message = new_issue();
        let issue = message.issue.as_ref().unwrap();
        assert_eq!(issue.id, "42");
        assert_eq!(issue.users, 1);
        assert_eq!(message.fields[2], ("odd".to_owned(), "7".to_owned()));
        assert_eq!(message.heading(), message.title);
    }

    #[test]
    fn tolerates_missing_and_odd_keys() {
        let message =
            Message::from_json(&json!({"trigger": "test", "fields": "no", "held_back": null}))
                .unwrap();
        assert_eq!(message.heading(), "Alert: test");
        assert!(message.fields.is_empty());
        assert!(message.issue.is_none());
        assert!(Message::from_json(&json!([1, 2])).is_err());
    }

    #[test]
    fn facts_include_what_was_held_back() {
        let mut message = new_issue();
        message.held_back = 12;
        let facts = message.facts();
        assert_eq!(facts[0], ("Project".to_owned(), "backend".to_owned()));
        assert!(facts
            .iter()
            .any(|(name, value)| name == "Held back" && value.starts_with("12 ")));
    }
}
