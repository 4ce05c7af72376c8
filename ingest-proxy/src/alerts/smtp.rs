//! Sending one alert email over SMTP (`SMTP_URL`, `SMTP_FROM`), with STARTTLS or TLS and
//! authentication as the URL says.
//!
//! `SMTP_URL` is lettre's connection URL: `smtp://user:pass@host:587?tls=required` (STARTTLS),
//! `smtps://user:pass@host:465` (TLS from the start), `smtp://host:25` (no TLS; for a relay on
//! loopback). Credentials in it are percent-encoded.

use std::fmt;
use std::time::Duration;

use lettre::message::{Mailbox, MultiPart};
use lettre::{AsyncSmtpTransport, AsyncTransport, Tokio1Executor};

use crate::alerts::format::Email;
use crate::alerts::Outcome;

/// Time for one SMTP command.
const COMMAND_TIMEOUT: Duration = Duration::from_secs(10);

/// The validated SMTP settings. Debug hides the URL: it may hold a password.
#[derive(Clone)]
pub struct SmtpSettings {
    url: String,
    from: Mailbox,
}

impl fmt::Debug for SmtpSettings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SmtpSettings")
            .field("url", &"<hidden>")
            .field("from", &self.from.to_string())
            .finish()
    }
}

impl SmtpSettings {
    /// Checks `SMTP_URL` and `SMTP_FROM`; the error names the variable at fault.
    pub fn parse(url: &str, from: &str) -> Result<Self, (&'static str, String)> {
        AsyncSmtpTransport::<Tokio1Executor>::from_url(url.trim())
            .map_err(|err| ("SMTP_URL", format!("not an SMTP URL: {err}")))?;
        let from = from.trim().parse::<Mailbox>().map_err(|err| {
            (
                "SMTP_FROM",
                format!("'{from}' is not an address like Alerts <alerts@example.com>: {err}"),
            )
        })?;
        Ok(SmtpSettings {
            url: url.trim().to_owned(),
            from,
        })
    }
}

/// The email side of delivery.
#[derive(Clone)]
pub struct Mailer {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    from: Mailbox,
}

impl Mailer {
    /// A mailer for validated settings.
    pub fn new(settings: &SmtpSettings) -> Result<Self, String> {
        let transport = AsyncSmtpTransport::<Tokio1Executor>::from_url(&settings.url)
            .map_err(|err| format!("invalid SMTP_URL: {err}"))?
            .timeout(Some(COMMAND_TIMEOUT))
            .build();
        Ok(Mailer {
            transport,
            from: settings.from.clone(),
        })
    }

    /// Sends `email` to its recipients; delivered when the server accepted it.
    pub async fn send(&self, email: &Email) -> Outcome {
        let mut builder = lettre::Message::builder()
            .from(self.from.clone())
            .subject(email.subject.clone());
        for address in &email.to {
            match address.parse::<Mailbox>() {
                Ok(mailbox) => builder = builder.to(mailbox),
                Err(err) => {
                    return Outcome::refused(format!("'{address}' is not an email address: {err}"))
                }
            }
        }
        let message = match builder.multipart(MultiPart::alternative_plain_html(
            email.text.clone(),
            email.html.clone(),
        )) {
            Ok(message) => message,
            Err(err) => return Outcome::refused(format!("cannot build the email: {err}")),
        };
        match self.transport.send(message).await {
            Ok(response) => Outcome {
                delivered: true,
                status: None,
                response: format!(
                    "SMTP {}: {}",
                    response.code(),
                    response.message().collect::<Vec<_>>().join(" ")
                ),
                retry: false,
            },
            // A 5xx (no such mailbox, relaying denied) stays so; the rest may pass later.
            Err(err) if err.is_permanent() => Outcome::refused(format!("SMTP: {err}")),
            Err(err) => Outcome::failed(format!("SMTP: {err}")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::SmtpSettings;

    #[test]
    fn checks_url_and_sender_and_hides_the_password() {
        let settings = SmtpSettings::parse(
            "smtp://me:pa55@mail.example.com:587?tls=required",
            "Alerts <a@example.com>",
        )
        .unwrap();
        assert!(!format!("{settings:?}").contains("pa55"));
        assert!(SmtpSettings::parse("smtps://mail.example.com", "a@example.com").is_ok());
        assert_eq!(
            SmtpSettings::parse("http://x", "a@example.com")
                .unwrap_err()
                .0,
            "SMTP_URL"
        );
        assert_eq!(
            SmtpSettings::parse("smtp://127.0.0.1:2525", "nobody")
                .unwrap_err()
                .0,
            "SMTP_FROM"
        );
    }
}
