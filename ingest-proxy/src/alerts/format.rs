//! One alert message in each channel's own format: the HTTP request or the email to send.
//!
//! Every format carries the heading, the reason it fired, the facts, and a link to the issue
//! page. Texts are cut to the limits each service documents, so a long exception message never
//! makes a service refuse the whole alert. Microsoft Teams gets an Adaptive Card in the
//! `{"type": "message", "attachments": [...]}` shape that Teams workflows ("Post to a channel
//! when a webhook request is received") accept; the older MessageCard connectors are retired.

use base64::Engine;
use serde_json::{json, Value};

use crate::alerts::channel::Channel;
use crate::alerts::message::Message;
use crate::alerts::sign::{signature, SIGNATURE_HEADER};

/// Which delivery this is: the outbox row and the time of sending.
#[derive(Debug, Clone, Copy)]
pub struct Delivery {
    /// The outbox row's id, also sent to receivers so they can drop a duplicate.
    pub id: i64,
    /// Unix seconds.
    pub timestamp: u64,
}

/// What to send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outbound {
    /// A POST.
    Http(HttpPost),
    /// An email.
    Email(Email),
}

/// A POST to a webhook.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpPost {
    /// Where to.
    pub url: String,
    /// Headers, Content-Type included.
    pub headers: Vec<(&'static str, String)>,
    /// The body.
    pub body: Vec<u8>,
}

/// An email (the recipients come from the channel, the sender from the server's settings).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Email {
    /// Recipients.
    pub to: Vec<String>,
    /// One line.
    pub subject: String,
    /// The plain-text part.
    pub text: String,
    /// The HTML part.
    pub html: String,
}

/// The request or email for `message` on `channel`.
pub fn render(channel: &Channel, message: &Message, delivery: Delivery) -> Outbound {
    let json_post = |url: &str, body: Value| {
        Outbound::Http(HttpPost {
            url: url.to_owned(),
            headers: vec![("Content-Type", "application/json".to_owned())],
            body: body.to_string().into_bytes(),
        })
    };
    match channel {
        Channel::Webhook { url, secret } => webhook(url, secret.as_deref(), message, delivery),
        Channel::Slack { url } => json_post(url, slack(message)),
        Channel::Discord { url } => json_post(url, discord(message)),
        Channel::Mattermost { url } => json_post(url, mattermost(message)),
        Channel::Teams { url } => json_post(url, teams(message)),
        Channel::Ntfy {
            url,
            token,
            priority,
        } => ntfy(url, token.as_deref(), *priority, message),
        Channel::Email { to } => Outbound::Email(email(to, message)),
    }
}

/// Our JSON: the message itself plus the delivery's id and time, signed when there is a secret.
fn webhook(url: &str, secret: Option<&str>, message: &Message, delivery: Delivery) -> Outbound {
    let body = json!({
        "delivery_id": delivery.id,
        "timestamp": delivery.timestamp,
        "title": message.heading(),
        "reason": message.reason,
        "project": message.project,
        "level": message.level,
        "url": message.url,
        "trigger": message.trigger,
        "rule": message.rule,
        "test": message.test,
        "issue": message.issue.as_ref().map(|issue| json!({
            "id": issue.id, "short_id": issue.short_id, "title": issue.title,
            "culprit": issue.culprit, "events": issue.events, "users": issue.users,
            "first_seen": issue.first_seen, "last_seen": issue.last_seen,
        })),
        "fields": message.fields.iter().map(|(n, v)| json!([n, v])).collect::<Vec<_>>(),
        "held_back": message.held_back,
    })
    .to_string()
    .into_bytes();
    let mut headers = vec![
        ("Content-Type", "application/json".to_owned()),
        ("X-Crashcache-Delivery", delivery.id.to_string()),
    ];
    if let Some(secret) = secret {
        headers.push((
            SIGNATURE_HEADER,
            signature(secret.as_bytes(), delivery.timestamp, &body),
        ));
    }
    Outbound::Http(HttpPost {
        url: url.to_owned(),
        headers,
        body,
    })
}

/// Slack: `text` is the notification's fallback, `blocks` the message (mrkdwn, escaped).
fn slack(message: &Message) -> Value {
    let heading = cut(&message.heading(), 150);
    let mut title = format!("*{}*", slack_escape(&heading));
    if let Some(url) = &message.url {
        title = format!("*<{}|{}>*", url, slack_escape(&heading));
    }
    let fields: Vec<Value> = message
        .facts()
        .iter()
        .take(10)
        .map(|(name, value)| {
            json!({"type": "mrkdwn", "text": cut(&format!("*{}*\n{}", slack_escape(name), slack_escape(value)), 2000)})
        })
        .collect();
    let mut blocks = vec![
        json!({"type": "section", "text": {"type": "mrkdwn", "text": cut(&title, 3000)}}),
        json!({"type": "context", "elements": [{"type": "mrkdwn", "text": cut(&slack_escape(&message.reason), 3000)}]}),
    ];
    if !fields.is_empty() {
        blocks.push(json!({"type": "section", "fields": fields}));
    }
    if let Some(url) = &message.url {
        blocks.push(json!({"type": "actions", "elements": [
            {"type": "button", "text": {"type": "plain_text", "text": "Open issue"}, "url": url}
        ]}));
    }
    json!({"text": cut(&fallback(message), 3000), "blocks": blocks})
}

/// Discord: a short `content` and one embed; mentions in error texts never ping anyone.
fn discord(message: &Message) -> Value {
    let fields: Vec<Value> = message
        .facts()
        .iter()
        .take(25)
        .map(|(name, value)| {
            json!({"name": cut(name, 256), "value": cut(if value.is_empty() { "-" } else { value }, 1024), "inline": value.len() < 40})
        })
        .collect();
    let mut embed = json!({
        "title": cut(&message.heading(), 256),
        "description": cut(&message.reason, 4096),
        "color": color(message.level.as_deref()),
        "fields": fields,
        "footer": {"text": cut(&format!("crashcache · {}", message.trigger), 2048)},
    });
    if let Some(url) = &message.url {
        embed["url"] = json!(url);
    }
    json!({
        "content": cut(&fallback(message), 2000),
        "embeds": [embed],
        "allowed_mentions": {"parse": []},
    })
}

/// Mattermost: Slack-compatible `text` plus one attachment with the facts.
fn mattermost(message: &Message) -> Value {
    let fields: Vec<Value> = message
        .facts()
        .iter()
        .map(|(name, value)| json!({"short": value.len() < 40, "title": name, "value": value}))
        .collect();
    let mut attachment = json!({
        "fallback": cut(&fallback(message), 4000),
        "color": format!("#{:06X}", color(message.level.as_deref())),
        "title": cut(&message.heading(), 1000),
        "text": cut(&message.reason, 4000),
        "fields": fields,
        "footer": format!("crashcache · {}", message.trigger),
    });
    if let Some(url) = &message.url {
        attachment["title_link"] = json!(url);
    }
    json!({"text": cut(&fallback(message), 4000), "attachments": [attachment]})
}

/// Teams: an Adaptive Card 1.4 in the attachments shape workflows accept.
fn teams(message: &Message) -> Value {
    let facts: Vec<Value> = message
        .facts()
        .iter()
        .map(|(name, value)| json!({"title": name, "value": cut(value, 1000)}))
        .collect();
    let mut card = json!({
        "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
        "type": "AdaptiveCard",
        "version": "1.4",
        "msteams": {"width": "Full"},
        "body": [
            {"type": "TextBlock", "text": cut(&message.heading(), 500), "weight": "Bolder", "size": "Medium", "wrap": true},
            {"type": "TextBlock", "text": cut(&message.reason, 2000), "wrap": true, "isSubtle": true},
            {"type": "FactSet", "facts": facts},
        ],
    });
    if let Some(url) = &message.url {
        card["actions"] = json!([{"type": "Action.OpenUrl", "title": "Open issue", "url": url}]);
    }
    json!({
        "type": "message",
        "attachments": [{
            "contentType": "application/vnd.microsoft.card.adaptive",
            "contentUrl": null,
            "content": card,
        }],
    })
}

/// ntfy: the text as the body, the rest in headers (non-ASCII titles RFC 2047-encoded, as ntfy
/// reads them).
fn ntfy(url: &str, token: Option<&str>, priority: Option<u8>, message: &Message) -> Outbound {
    let level = message.level.as_deref().unwrap_or("");
    let priority = priority.unwrap_or(match level {
        "fatal" => 5,
        "error" => 4,
        "warning" => 3,
        _ => 3,
    });
    let tag = match level {
        "fatal" | "error" => "rotating_light",
        "warning" => "warning",
        _ => "bell",
    };
    let mut headers = vec![
        ("Content-Type", "text/plain; charset=utf-8".to_owned()),
        ("Title", header_text(&cut(&message.heading(), 250))),
        ("Priority", priority.to_string()),
        ("Tags", format!("{tag},{}", header_text(&message.trigger))),
    ];
    if let Some(url) = &message.url {
        headers.push(("Click", header_text(url)));
    }
    if let Some(token) = token {
        headers.push(("Authorization", format!("Bearer {}", header_text(token))));
    }
    Outbound::Http(HttpPost {
        url: url.to_owned(),
        headers,
        body: cut(&plain_text(message), 4000).into_bytes(),
    })
}

fn email(to: &[String], message: &Message) -> Email {
    let subject = if message.project.is_empty() {
        format!("[crashcache] {}", message.heading())
    } else {
        format!("[crashcache] {}: {}", message.project, message.heading())
    };
    let facts: String = message
        .facts()
        .iter()
        .map(|(name, value)| {
            format!(
                "<tr><th align=\"left\" style=\"padding-right:1em\">{}</th><td>{}</td></tr>",
                html_escape(name),
                html_escape(value)
            )
        })
        .collect();
    let link = message.url.as_ref().map_or(String::new(), |url| {
        format!("<p><a href=\"{}\">Open the issue</a></p>", html_escape(url))
    });
    let html = format!(
        "<!DOCTYPE html><html><body style=\"font-family:sans-serif\"><h2>{}</h2><p>{}</p>\
         <table>{}</table>{}</body></html>",
        html_escape(&message.heading()),
        html_escape(&message.reason),
        facts,
        link
    );
    Email {
        to: to.to_vec(),
        subject: cut(&one_line(&subject), 200),
        text: plain_text(message),
        html,
    }
}

/// The message as plain text: heading, reason, facts, link.
pub fn plain_text(message: &Message) -> String {
    let mut text = format!("{}\n\n{}\n\n", message.heading(), message.reason);
    for (name, value) in message.facts() {
        text.push_str(&format!("{name}: {value}\n"));
    }
    if let Some(url) = &message.url {
        text.push_str(&format!("\nOpen the issue: {url}\n"));
    }
    text
}

/// One line for notifications: heading, and why.
fn fallback(message: &Message) -> String {
    let mut line = message.heading();
    if !message.reason.is_empty() {
        line = format!("{line} ({})", message.reason);
    }
    if let Some(url) = &message.url {
        line = format!("{line} {url}");
    }
    line
}

fn color(level: Option<&str>) -> u32 {
    match level {
        Some("fatal") => 0x8B_1A1A,
        Some("error") => 0xE0_3E2F,
        Some("warning") => 0xF2_A93B,
        Some("info") => 0x3B_82F6,
        _ => 0x6B_7280,
    }
}

/// At most `max` characters, with an ellipsis when cut.
fn cut(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_owned();
    }
    let mut cut: String = text.chars().take(max.saturating_sub(1)).collect();
    cut.push('…');
    cut
}

fn one_line(text: &str) -> String {
    text.chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect()
}

/// A header value: one line; non-ASCII text as an RFC 2047 encoded word.
fn header_text(text: &str) -> String {
    let text = one_line(text);
    if text.is_ascii() {
        return text;
    }
    format!(
        "=?UTF-8?B?{}?=",
        base64::engine::general_purpose::STANDARD.encode(text)
    )
}

/// Slack's mrkdwn escapes only these three.
fn slack_escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

fn html_escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&#39;")
}

#[cfg(test)]
mod tests {
    use super::{cut, header_text, render, Delivery, Outbound};
    use crate::alerts::channel::Channel;
    use crate::alerts::message::tests::new_issue;
    use crate::alerts::sign::signature;
    use serde_json::Value;

    const DELIVERY: Delivery = Delivery {
        id: 7,
        timestamp: 1_764_640_800,
    };
    const URL: &str = "https://errors.example.com/issues/42";

    fn post(channel: Channel) -> (Vec<(&'static str, String)>, Value) {
        match render(&channel, &new_issue(), DELIVERY) {
            Outbound::Http(post) => {
                let body = serde_json::from_slice(&post.body).unwrap_or(Value::Null);
                (post.headers, body)
            }
            Outbound::Email(_) => panic!("an HTTP channel gave an email"),
        }
    }

    fn header<'a>(headers: &'a [(&'static str, String)], name: &str) -> Option<&'a str> {
        headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    #[test]
    fn webhook_is_the_message_with_its_delivery_signed() {
        let channel = Channel::Webhook {
            url: "https://h/".into(),
            secret: Some("s3cret".into()),
        };
        let Outbound::Http(post) = render(&channel, &new_issue(), DELIVERY) else {
            panic!("not a POST")
        };
        let body: Value = serde_json::from_slice(&post.body).unwrap();
        assert_eq!(body["delivery_id"], 7);
        assert_eq!(body["url"], URL);
        assert_eq!(body["trigger"], "new_issue");
        assert_eq!(body["issue"]["short_id"], "BACKEND-16");
        assert_eq!(body["fields"][0][1], "production");
        assert_eq!(
            header(&post.headers, "X-Crashcache-Signature"),
            Some(signature(b"s3cret", DELIVERY.timestamp, &post.body).as_str())
        );
        let (headers, _) = post_unsigned();
        assert_eq!(header(&headers, "X-Crashcache-Signature"), None);
    }

    fn post_unsigned() -> (Vec<(&'static str, String)>, Value) {
        post(Channel::Webhook {
            url: "https://h/".into(),
            secret: None,
        })
    }

    #[test]
    fn slack_links_the_issue_and_says_why() {
        let (_, body) = post(Channel::Slack { url: "u".into() });
        assert!(body["text"].as_str().unwrap().contains(URL));
        let blocks = body["blocks"].as_array().unwrap();
        assert_eq!(
            blocks[0]["text"]["text"],
            format!("*<{URL}|New issue: ZeroDivisionError: division by zero>*")
        );
        assert!(blocks[1]["elements"][0]["text"]
            .as_str()
            .unwrap()
            .starts_with("A new issue"));
        assert!(blocks[2]["fields"].as_array().unwrap().len() <= 10);
        assert_eq!(blocks[3]["elements"][0]["url"], URL);
    }

    #[test]
    fn discord_has_one_embed_and_pings_nobody() {
        let (_, body) = post(Channel::Discord { url: "u".into() });
        assert_eq!(body["embeds"][0]["url"], URL);
        assert_eq!(body["embeds"][0]["color"], 0xE0_3E2F);
        assert_eq!(body["allowed_mentions"]["parse"], serde_json::json!([]));
        assert!(body["content"].as_str().unwrap().len() <= 2000);
    }

    #[test]
    fn mattermost_and_teams_link_the_issue() {
        let (_, body) = post(Channel::Mattermost { url: "u".into() });
        assert_eq!(body["attachments"][0]["title_link"], URL);
        assert!(body["text"].as_str().unwrap().contains("first time"));
        let (_, body) = post(Channel::Teams { url: "u".into() });
        let card = &body["attachments"][0];
        assert_eq!(
            card["contentType"],
            "application/vnd.microsoft.card.adaptive"
        );
        assert_eq!(card["content"]["type"], "AdaptiveCard");
        assert_eq!(card["content"]["actions"][0]["url"], URL);
        assert_eq!(body["type"], "message");
    }

    #[test]
    fn ntfy_puts_the_rest_in_headers() {
        let channel = Channel::Ntfy {
            url: "https://ntfy.sh/t".into(),
            token: Some("tk_1".into()),
            priority: None,
        };
        let Outbound::Http(post) = render(&channel, &new_issue(), DELIVERY) else {
            panic!("not a POST")
        };
        assert_eq!(header(&post.headers, "Priority"), Some("4"));
        assert_eq!(header(&post.headers, "Click"), Some(URL));
        assert_eq!(header(&post.headers, "Authorization"), Some("Bearer tk_1"));
        assert_eq!(
            header(&post.headers, "Tags"),
            Some("rotating_light,new_issue")
        );
        let text = String::from_utf8(post.body).unwrap();
        assert!(text.contains("first time") && text.contains(URL), "{text}");
        assert_eq!(
            header_text("Ünïcode\nline"),
            "=?UTF-8?B?w5xuw69jb2RlIGxpbmU=?="
        );
    }

    #[test]
    fn email_escapes_its_html() {
        let mut message = new_issue();
        message.title = "New issue: <script>alert(1)</script>\r\nBcc: x".into();
        let channel = Channel::Email {
            to: vec!["dev@example.com".into()],
        };
        let Outbound::Email(email) = render(&channel, &message, DELIVERY) else {
            panic!("not an email")
        };
        assert!(
            !email.subject.contains('\n') && email.subject.starts_with("[crashcache] backend: ")
        );
        assert!(!email.html.contains("<script>"));
        assert!(email.html.contains(&format!("href=\"{URL}\"")));
        assert!(email.text.contains(&format!("Open the issue: {URL}")));
    }

    #[test]
    fn cuts_on_characters() {
        assert_eq!(cut("héllo", 5), "héllo");
        assert_eq!(cut("héllo wörld", 5), "héll…");
    }
}
