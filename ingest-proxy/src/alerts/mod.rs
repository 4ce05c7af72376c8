//! Alert delivery: the outbox rows the database writes, sent to each channel in its own format.
//!
//! The database decides what alerts and when (rules, cooldowns, retries: `alerts.sql`); this
//! module only delivers. A row's path: `deliver` claims it (`outbox`), reads its channel
//! (`channel`) and message (`message`), renders the channel's format (`format`, webhooks signed
//! by `sign`), sends it over HTTP through the outbound guard (`http`, `target`) or SMTP
//! (`smtp`), and records the outcome. `listen` wakes the loop on the database's NOTIFY.

pub mod channel;
pub mod deliver;
pub mod format;
pub mod http;
pub mod listen;
pub mod message;
pub mod outbox;
pub mod sign;
pub mod smtp;
pub mod target;

/// What became of one delivery, as `alerts_record` keeps it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    /// The receiver took it (a 2xx; the SMTP server accepted it).
    pub delivered: bool,
    /// The HTTP status, when there was an answer.
    pub status: Option<i32>,
    /// The start of the answer, or why nothing was sent.
    pub response: String,
    /// Whether trying again may help (a timeout, a 5xx); false for what only a change of the
    /// channel mends (a refused target, a bad address, a 404).
    pub retry: bool,
}

impl Outcome {
    /// Not delivered, with no answer, and worth another try later.
    pub fn failed(why: String) -> Self {
        Outcome {
            delivered: false,
            status: None,
            response: why,
            retry: true,
        }
    }

    /// Not delivered, and pointless to try again as the channel stands.
    pub fn refused(why: String) -> Self {
        Outcome {
            retry: false,
            ..Outcome::failed(why)
        }
    }

    /// The outcome of an HTTP answer: a 2xx is delivered; a 4xx other than "too many" or
    /// "timeout" will not change by itself.
    pub fn answered(status: u16, response: String) -> Self {
        Outcome {
            delivered: (200..300).contains(&status),
            status: Some(i32::from(status)),
            response,
            retry: !(400..500).contains(&status) || matches!(status, 408 | 425 | 429),
        }
    }
}

/// The ways out.
pub struct Senders {
    /// Webhooks and chat services.
    pub http: http::HttpSender,
    /// Email, when SMTP is set up.
    pub mailer: Option<smtp::Mailer>,
}

/// Starts delivering when this process is set to (`ALERTS_DATABASE_URL`); the task ends after
/// `stop` turns true and the deliveries in flight finished.
pub fn start(
    config: &crate::config::Config,
    stop: tokio::sync::watch::Receiver<bool>,
) -> Result<Option<tokio::task::JoinHandle<()>>, String> {
    let (Some(settings), Some(database)) = (
        config.alerts_pool_settings(),
        config.alerts_database.clone(),
    ) else {
        return Ok(None);
    };
    let pool = crate::db::pool(settings)?;
    let senders = Senders {
        http: http::HttpSender::new(config.alerts_allowed_targets.clone())?,
        mailer: config.smtp.as_ref().map(smtp::Mailer::new).transpose()?,
    };
    let wake = std::sync::Arc::new(tokio::sync::Notify::new());
    let listener = listen::spawn(database, wake.clone(), stop.clone());
    let delivery = deliver::spawn(pool.clone(), senders, wake, stop);
    Ok(Some(tokio::spawn(async move {
        // A panicked delivery task is logged by tokio's join error; nothing is left to clean.
        if let Err(err) = delivery.await {
            tracing::error!(error = %err, "alert delivery ended abnormally");
        }
        listener.abort();
        pool.close();
    })))
}

#[cfg(test)]
mod tests {
    use super::Outcome;

    #[test]
    fn only_answers_that_may_change_are_retried() {
        assert!(Outcome::answered(204, String::new()).delivered);
        for (status, retry) in [
            (500, true),
            (503, true),
            (429, true),
            (408, true),
            (404, false),
            (400, false),
            (302, true),
        ] {
            let outcome = Outcome::answered(status, String::new());
            assert!(!outcome.delivered);
            assert_eq!(outcome.retry, retry, "{status}");
        }
        assert!(!Outcome::refused("no".into()).retry && Outcome::failed("later".into()).retry);
    }
}
