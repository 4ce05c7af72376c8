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
}

impl Outcome {
    /// Not delivered, with no answer: `why` says what happened.
    pub fn refused(why: String) -> Self {
        Outcome {
            delivered: false,
            status: None,
            response: why,
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
