//! A channel as delivery reads it: its kind and the keys of its config (`alert_channel.config`).
//!
//! | kind | config |
//! |---|---|
//! | `webhook` | `{"url", "secret"?}`: JSON, signed when there is a secret |
//! | `slack`, `discord`, `mattermost`, `teams` | `{"url"}`: the service's incoming webhook |
//! | `ntfy` | `{"url"` (the topic's URL)`, "token"?` (bearer)`, "priority"?` (1-5)`}` |
//! | `email` | `{"to": ["a@example.com", ...]}` (or one comma-separated string) |

use serde_json::Value;

/// Where and how one alert goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Channel {
    /// Our own JSON, signed with HMAC-SHA256 when `secret` is set.
    Webhook {
        /// The receiver.
        url: String,
        /// The shared signing secret.
        secret: Option<String>,
    },
    /// A Slack incoming webhook.
    Slack {
        /// `https://hooks.slack.com/services/...`
        url: String,
    },
    /// A Discord channel webhook.
    Discord {
        /// `https://discord.com/api/webhooks/...`
        url: String,
    },
    /// A Mattermost incoming webhook.
    Mattermost {
        /// `https://mattermost.example.com/hooks/...`
        url: String,
    },
    /// A Microsoft Teams workflow ("post to a channel when a webhook request is received").
    Teams {
        /// The workflow's URL.
        url: String,
    },
    /// An ntfy topic.
    Ntfy {
        /// `https://ntfy.sh/<topic>`
        url: String,
        /// An access token, sent as a bearer token.
        token: Option<String>,
        /// 1 (min) to 5 (urgent); otherwise from the level.
        priority: Option<u8>,
    },
    /// Email over the server's SMTP settings.
    Email {
        /// The recipients.
        to: Vec<String>,
    },
}

/// A channel that cannot be used as configured.
#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
pub enum ChannelError {
    /// The kind is none this server knows.
    #[error("unknown channel kind '{0}'")]
    UnknownKind(String),
    /// A required key is missing or not text.
    #[error("the {kind} channel's config has no \"{key}\"")]
    Missing {
        /// The channel's kind.
        kind: &'static str,
        /// The key.
        key: &'static str,
    },
    /// A key has a value of the wrong kind.
    #[error("the {kind} channel's \"{key}\" {message}")]
    Invalid {
        /// The channel's kind.
        kind: &'static str,
        /// The key.
        key: &'static str,
        /// What is wrong.
        message: &'static str,
    },
}

impl Channel {
    /// Reads a claimed row's `kind` and `config`.
    pub fn from_config(kind: &str, config: &Value) -> Result<Self, ChannelError> {
        Ok(match kind {
            "webhook" => Channel::Webhook {
                url: required(config, "webhook", "url")?,
                secret: optional(config, "webhook", "secret")?,
            },
            "slack" => Channel::Slack {
                url: required(config, "slack", "url")?,
            },
            "discord" => Channel::Discord {
                url: required(config, "discord", "url")?,
            },
            "mattermost" => Channel::Mattermost {
                url: required(config, "mattermost", "url")?,
            },
            "teams" => Channel::Teams {
                url: required(config, "teams", "url")?,
            },
            "ntfy" => Channel::Ntfy {
                url: required(config, "ntfy", "url")?,
                token: optional(config, "ntfy", "token")?,
                priority: priority(config)?,
            },
            "email" => Channel::Email {
                to: recipients(config)?,
            },
            other => return Err(ChannelError::UnknownKind(other.to_owned())),
        })
    }

    /// The URL an HTTP channel posts to; `None` for email.
    pub fn url(&self) -> Option<&str> {
        match self {
            Channel::Webhook { url, .. }
            | Channel::Slack { url }
            | Channel::Discord { url }
            | Channel::Mattermost { url }
            | Channel::Teams { url }
            | Channel::Ntfy { url, .. } => Some(url),
            Channel::Email { .. } => None,
        }
    }
}

fn optional(
    config: &Value,
    kind: &'static str,
    key: &'static str,
) -> Result<Option<String>, ChannelError> {
    match config.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(text)) if text.trim().is_empty() => Ok(None),
        Some(Value::String(text)) => Ok(Some(text.trim().to_owned())),
        Some(_) => Err(ChannelError::Invalid {
            kind,
            key,
            message: "is not text",
        }),
    }
}

fn required(config: &Value, kind: &'static str, key: &'static str) -> Result<String, ChannelError> {
    optional(config, kind, key)?.ok_or(ChannelError::Missing { kind, key })
}

fn priority(config: &Value) -> Result<Option<u8>, ChannelError> {
    let invalid = ChannelError::Invalid {
        kind: "ntfy",
        key: "priority",
        message: "is not a number from 1 to 5",
    };
    match config.get("priority") {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Number(n)) => match n.as_u64() {
            Some(p @ 1..=5) => Ok(Some(p as u8)),
            _ => Err(invalid),
        },
        Some(_) => Err(invalid),
    }
}

fn recipients(config: &Value) -> Result<Vec<String>, ChannelError> {
    let invalid = ChannelError::Invalid {
        kind: "email",
        key: "to",
        message: "is neither a list of addresses nor a comma-separated string",
    };
    let to: Vec<String> = match config.get("to") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::String(text)) => text.split(',').map(str::to_owned).collect(),
        Some(Value::Array(items)) => items
            .iter()
            .map(|item| {
                item.as_str()
                    .map(str::to_owned)
                    .ok_or_else(|| invalid.clone())
            })
            .collect::<Result<_, _>>()?,
        Some(_) => return Err(invalid),
    };
    let to: Vec<String> = to
        .into_iter()
        .map(|address| address.trim().to_owned())
        .filter(|address| !address.is_empty())
        .collect();
    if to.is_empty() {
        return Err(ChannelError::Missing {
            kind: "email",
            key: "to",
        });
    }
    Ok(to)
}

#[cfg(test)]
mod tests {
    use super::{Channel, ChannelError};
    use serde_json::json;

    #[test]
    fn reads_each_kind() {
        assert_eq!(
            Channel::from_config("webhook", &json!({"url": " https://h/x ", "secret": ""})),
            Ok(Channel::Webhook {
                url: "https://h/x".into(),
                secret: None
            })
        );
        assert_eq!(
            Channel::from_config("ntfy", &json!({"url": "https://ntfy.sh/t", "priority": 5})),
            Ok(Channel::Ntfy {
                url: "https://ntfy.sh/t".into(),
                token: None,
                priority: Some(5)
            })
        );
        assert_eq!(
            Channel::from_config("email", &json!({"to": "a@x.org, b@x.org,"})),
            Ok(Channel::Email {
                to: vec!["a@x.org".into(), "b@x.org".into()]
            })
        );
        assert_eq!(
            Channel::from_config("email", &json!({"to": ["a@x.org"]}))
                .unwrap()
                .url(),
            None
        );
    }

    #[test]
    fn names_what_is_wrong() {
        assert_eq!(
            Channel::from_config("pager", &json!({})),
            Err(ChannelError::UnknownKind("pager".into()))
        );
        assert_eq!(
            Channel::from_config("slack", &json!({}))
                .unwrap_err()
                .to_string(),
            "the slack channel's config has no \"url\""
        );
        assert!(Channel::from_config("slack", &json!({"url": 3})).is_err());
        assert!(Channel::from_config("ntfy", &json!({"url": "u", "priority": 9})).is_err());
        assert!(Channel::from_config("email", &json!({"to": []})).is_err());
        assert!(Channel::from_config("email", &json!({"to": [1]})).is_err());
    }
}
