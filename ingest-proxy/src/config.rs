//! Settings: flags with environment fallbacks (and `.env`), validated once into a typed `Config`.
//!
//! Every setting arrives as text (`Settings`, read by clap) and is checked here, so a bad value
//! stops start-up with a message naming its environment variable. Nothing reads the
//! environment after start-up.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::str::FromStr;
use std::time::Duration;

use crate::alerts::smtp::SmtpSettings;
use crate::alerts::target::AllowedTargets;
use crate::client_ip::TrustedProxies;
use crate::connections::ConnectionLimits;
use crate::db::batch::BatchSettings;
use crate::db::PoolSettings;
use crate::ratelimit::Limits;
use crate::size::eval_size;

/// PostgreSQL cannot hold a `bytea` of 1 GiB or more.
const MAX_BODY_LIMIT: u64 = (1 << 30) - 1;

/// The settings as given, before validation. Each flag falls back to the environment
/// variable of the same meaning, then to its default.
#[derive(Debug, Clone, clap::Args)]
pub struct Settings {
    /// Address to listen on; loopback unless set (e.g. 0.0.0.0 behind a firewall).
    #[arg(
        long,
        env = "CRASH_CACHE_HOST",
        default_value = "127.0.0.1",
        global = true
    )]
    pub host: String,
    /// Port to listen on.
    #[arg(long, env = "CRASH_CACHE_PORT", default_value = "3000", global = true)]
    pub port: String,
    /// PostgreSQL connection URL (or key=value string) of the tracker's database.
    #[arg(
        long,
        env = "DATABASE_URL",
        default_value = "postgres://crashcache_proxy@127.0.0.1:5433/crashcache",
        hide_env_values = true,
        global = true
    )]
    pub database_url: String,
    /// Most database connections held at once.
    #[arg(long, env = "DATABASE_POOL_SIZE", default_value = "16", global = true)]
    pub database_pool_size: String,
    /// Connection URL of the Web API (`/api/0/`), as role crashcache_api_proxy; unset: no API.
    #[arg(long, env = "API_DATABASE_URL", hide_env_values = true, global = true)]
    pub api_database_url: Option<String>,
    /// Most connections the Web API holds at once.
    #[arg(
        long,
        env = "API_DATABASE_POOL_SIZE",
        default_value = "4",
        global = true
    )]
    pub api_database_pool_size: String,
    /// Connection URL of the web UI, as role crashcache_ui_proxy; unset: no UI.
    #[arg(long, env = "UI_DATABASE_URL", hide_env_values = true, global = true)]
    pub ui_database_url: Option<String>,
    /// Most connections the web UI holds at once.
    #[arg(
        long,
        env = "UI_DATABASE_POOL_SIZE",
        default_value = "4",
        global = true
    )]
    pub ui_database_pool_size: String,
    /// Connection URL of alert delivery, as role crashcache_alerts_proxy; unset: this process
    /// delivers no alerts (another one may).
    #[arg(
        long,
        env = "ALERTS_DATABASE_URL",
        hide_env_values = true,
        global = true
    )]
    pub alerts_database_url: Option<String>,
    /// Comma-separated networks (CIDR), addresses or host:port endpoints that alert webhooks
    /// may reach although they are not public (loopback, private, link-local, ...).
    #[arg(
        long,
        env = "ALERTS_ALLOWED_TARGETS",
        default_value = "",
        global = true
    )]
    pub alerts_allowed_targets: String,
    /// SMTP server for alert email, e.g. smtp://user:pass@host:587?tls=required or
    /// smtps://user:pass@host:465; unset: no email.
    #[arg(long, env = "SMTP_URL", hide_env_values = true, global = true)]
    pub smtp_url: Option<String>,
    /// Sender of alert email, e.g. "Crashcache <alerts@example.com>".
    #[arg(long, env = "SMTP_FROM", global = true)]
    pub smtp_from: Option<String>,
    /// How long a request waits for a free connection before answering 503.
    #[arg(
        long,
        env = "DATABASE_ACQUIRE_TIMEOUT_MS",
        default_value = "1000",
        global = true
    )]
    pub database_acquire_timeout_ms: String,
    /// How long opening a database connection may take.
    #[arg(
        long,
        env = "DATABASE_CONNECT_TIMEOUT_MS",
        default_value = "2000",
        global = true
    )]
    pub database_connect_timeout_ms: String,
    /// How long one ingest call may take before the request gets 503.
    #[arg(
        long,
        env = "DATABASE_QUERY_TIMEOUT_MS",
        default_value = "30000",
        global = true
    )]
    pub database_query_timeout_ms: String,
    /// Ingest statements in flight at once (at most DATABASE_POOL_SIZE); each carries the
    /// requests that were waiting.
    #[arg(long, env = "INGEST_CONCURRENCY", default_value = "4", global = true)]
    pub ingest_concurrency: String,
    /// Requests one ingest statement carries at most.
    #[arg(long, env = "INGEST_BATCH_MAX", default_value = "64", global = true)]
    pub ingest_batch_max: String,
    /// Largest request body as sent (compressed), e.g. `20 * 1024 * 1024`.
    #[arg(
        long,
        env = "MAX_COMPRESSED_PAYLOAD_BYTES",
        default_value = "20 * 1024 * 1024",
        global = true
    )]
    pub max_compressed_payload_bytes: String,
    /// Largest body after decompression (checked by the database while decoding).
    #[arg(
        long,
        env = "MAX_UNCOMPRESSED_PAYLOAD_BYTES",
        default_value = "100 * 1024 * 1024",
        global = true
    )]
    pub max_uncompressed_payload_bytes: String,
    /// Connections served at once; past it a new connection is answered 503 and closed.
    #[arg(long, env = "MAX_CONNECTIONS", default_value = "1024", global = true)]
    pub max_connections: String,
    /// Bytes of request bodies being received at once, all requests together; past it a
    /// request is answered 503.
    #[arg(
        long,
        env = "MAX_RECEIVING_BYTES",
        default_value = "64 * 1024 * 1024",
        global = true
    )]
    pub max_receiving_bytes: String,
    /// How long a connection may take to send a request's headers, counted from when it is
    /// ready for one: idle keep-alive connections are closed after it too.
    #[arg(
        long,
        env = "HTTP_IDLE_TIMEOUT_MS",
        default_value = "15000",
        global = true
    )]
    pub http_idle_timeout_ms: String,
    /// How long a request's body may take to arrive before it is answered 408.
    #[arg(
        long,
        env = "HTTP_BODY_TIMEOUT_MS",
        default_value = "30000",
        global = true
    )]
    pub http_body_timeout_ms: String,
    /// Requests per second for everyone together; 0 is no limit.
    #[arg(
        long,
        env = "RATE_LIMIT_GLOBAL_PER_SECOND",
        default_value = "0",
        global = true
    )]
    pub rate_limit_global_per_second: String,
    /// Requests per second from one client address; 0 is no limit.
    #[arg(
        long,
        env = "RATE_LIMIT_PER_IP_PER_SECOND",
        default_value = "0",
        global = true
    )]
    pub rate_limit_per_ip_per_second: String,
    /// Requests per second for one project; 0 is no limit.
    #[arg(
        long,
        env = "RATE_LIMIT_PER_PROJECT_PER_SECOND",
        default_value = "0",
        global = true
    )]
    pub rate_limit_per_project_per_second: String,
    /// Burst capacity of each limit, as a multiple of its per-second rate.
    #[arg(
        long,
        env = "RATE_LIMIT_BURST_MULTIPLIER",
        default_value = "2",
        global = true
    )]
    pub rate_limit_burst_multiplier: String,
    /// Comma-separated proxy addresses or CIDR networks whose X-Forwarded-For is believed.
    #[arg(long, env = "TRUSTED_PROXIES", default_value = "", global = true)]
    pub trusted_proxies: String,
    /// URL SDKs reach this proxy at, used in printed DSNs [default: http://{host}:{port}].
    #[arg(long, env = "PUBLIC_URL", global = true)]
    pub public_url: Option<String>,
    /// How often /health's figures are refreshed from crashcache.stats().
    #[arg(long, env = "HEALTH_REFRESH_MS", default_value = "1000", global = true)]
    pub health_refresh_ms: String,
    /// Log format: text or json.
    #[arg(long, env = "LOG_FORMAT", default_value = "text", global = true)]
    pub log_format: String,
    /// Log filter in tracing's syntax, e.g. `info` or `ingest_proxy=debug`.
    #[arg(long, env = "RUST_LOG", default_value = "info", global = true)]
    pub log_filter: String,
}

/// The validated configuration.
#[derive(Debug, Clone)]
pub struct Config {
    /// Where the server listens.
    pub listen: SocketAddr,
    /// How to reach the database.
    pub database: tokio_postgres::Config,
    /// Most pooled connections.
    pub pool_size: usize,
    /// How the Web API reaches the database, if it is on.
    pub api_database: Option<tokio_postgres::Config>,
    /// Most pooled connections of the Web API.
    pub api_pool_size: usize,
    /// How the web UI reaches the database, if it is on.
    pub ui_database: Option<tokio_postgres::Config>,
    /// Most pooled connections of the web UI.
    pub ui_pool_size: usize,
    /// How alert delivery reaches the database, if this process delivers.
    pub alerts_database: Option<tokio_postgres::Config>,
    /// Non-public webhook targets that are allowed nonetheless.
    pub alerts_allowed_targets: AllowedTargets,
    /// Where alert email goes out, if anywhere.
    pub smtp: Option<SmtpSettings>,
    /// Wait for a pooled connection.
    pub acquire_timeout: Duration,
    /// Time to open a connection.
    pub connect_timeout: Duration,
    /// Time for one ingest call.
    pub query_timeout: Duration,
    /// Ingest statements in flight at once.
    pub ingest_concurrency: usize,
    /// Requests per ingest statement at most.
    pub ingest_batch_max: usize,
    /// Largest body as received.
    pub max_compressed_bytes: u32,
    /// Largest body after decoding.
    pub max_decompressed_bytes: u32,
    /// Connections at once, and how long each may wait for a request's headers.
    pub connection_limits: ConnectionLimits,
    /// Bytes of bodies being received at once.
    pub max_receiving_bytes: u64,
    /// Time for a body to arrive.
    pub body_timeout: Duration,
    /// The rate limits.
    pub limits: Limits,
    /// Proxies whose `X-Forwarded-For` counts.
    pub trusted_proxies: TrustedProxies,
    /// Base of the DSNs printed by the project commands.
    pub public_url: String,
    /// Period of the /health refresher.
    pub health_refresh: Duration,
    /// Log line format.
    pub log_format: LogFormat,
    /// `tracing` filter directives.
    pub log_filter: String,
}

/// How log lines look.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object per line.
    Json,
}

/// A setting with an unusable value.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("invalid {variable}: {message}")]
pub struct ConfigError {
    /// The environment variable (or matching flag) at fault.
    pub variable: &'static str,
    /// What is wrong with it.
    pub message: String,
}

fn invalid(variable: &'static str, message: impl Into<String>) -> ConfigError {
    ConfigError {
        variable,
        message: message.into(),
    }
}

/// Loads `.env` from the working directory if there is one. Variables already set win.
pub fn load_dotenv() -> Result<(), String> {
    match dotenvy::dotenv() {
        Ok(_) => Ok(()),
        Err(err) if err.not_found() => Ok(()),
        Err(err) => Err(format!("cannot read .env: {err}")),
    }
}

impl Config {
    /// Validates every setting.
    pub fn from_settings(s: &Settings) -> Result<Self, ConfigError> {
        let host = parse_host(&s.host)?;
        let port = s.port.trim().parse::<u16>().map_err(|_| {
            invalid(
                "CRASH_CACHE_PORT",
                format!("'{}' is not a port (0-65535)", s.port),
            )
        })?;
        let listen = SocketAddr::new(host, port);

        let mut database = tokio_postgres::Config::from_str(&s.database_url).map_err(|err| {
            invalid(
                "DATABASE_URL",
                format!("not a PostgreSQL connection string: {err}"),
            )
        })?;
        if database.get_ssl_mode() == tokio_postgres::config::SslMode::Require {
            return Err(invalid(
                "DATABASE_URL",
                "sslmode=require is not supported: ingest-proxy connects without TLS",
            ));
        }
        let connect_timeout = millis(
            "DATABASE_CONNECT_TIMEOUT_MS",
            &s.database_connect_timeout_ms,
            1,
        )?;
        database.connect_timeout(connect_timeout);
        if database.get_application_name().is_none() {
            database.application_name("ingest-proxy");
        }

        let pool_size = integer("DATABASE_POOL_SIZE", &s.database_pool_size, 1, 10_000)? as usize;
        let api_pool_size = integer(
            "API_DATABASE_POOL_SIZE",
            &s.api_database_pool_size,
            1,
            10_000,
        )? as usize;
        let ui_pool_size =
            integer("UI_DATABASE_POOL_SIZE", &s.ui_database_pool_size, 1, 10_000)? as usize;
        // Each statement in flight holds a connection; the pool has the last word.
        let ingest_concurrency = (integer("INGEST_CONCURRENCY", &s.ingest_concurrency, 1, 10_000)?
            as usize)
            .min(pool_size);
        let ingest_batch_max =
            integer("INGEST_BATCH_MAX", &s.ingest_batch_max, 1, 10_000)? as usize;
        let max_compressed_bytes = size(
            "MAX_COMPRESSED_PAYLOAD_BYTES",
            &s.max_compressed_payload_bytes,
            MAX_BODY_LIMIT,
        )?;
        let max_decompressed_bytes = size(
            "MAX_UNCOMPRESSED_PAYLOAD_BYTES",
            &s.max_uncompressed_payload_bytes,
            i32::MAX as u64,
        )?;

        let connection_limits = ConnectionLimits {
            max_connections: integer("MAX_CONNECTIONS", &s.max_connections, 1, 1_000_000)? as usize,
            idle_timeout: millis("HTTP_IDLE_TIMEOUT_MS", &s.http_idle_timeout_ms, 100)?,
        };
        let max_receiving_bytes = u64::from(size(
            "MAX_RECEIVING_BYTES",
            &s.max_receiving_bytes,
            u64::from(u32::MAX),
        )?);

        let limits = Limits {
            global_per_second: rate(
                "RATE_LIMIT_GLOBAL_PER_SECOND",
                &s.rate_limit_global_per_second,
            )?,
            per_ip_per_second: rate(
                "RATE_LIMIT_PER_IP_PER_SECOND",
                &s.rate_limit_per_ip_per_second,
            )?,
            per_project_per_second: rate(
                "RATE_LIMIT_PER_PROJECT_PER_SECOND",
                &s.rate_limit_per_project_per_second,
            )?,
            burst_multiplier: rate(
                "RATE_LIMIT_BURST_MULTIPLIER",
                &s.rate_limit_burst_multiplier,
            )?,
        };
        if limits.burst_multiplier < 1.0 {
            return Err(invalid(
                "RATE_LIMIT_BURST_MULTIPLIER",
                format!("{} is below 1", limits.burst_multiplier),
            ));
        }

        let trusted_proxies = TrustedProxies::parse(&s.trusted_proxies)
            .map_err(|message| invalid("TRUSTED_PROXIES", message))?;
        let public_url = match &s.public_url {
            Some(url) => parse_public_url(url)?,
            None => format!("http://{listen}"),
        };
        // Links, permalinks and tokens name the URL clients reach this server at.
        let optional = |name, url: &Option<String>, application| {
            optional_database(name, url, application, connect_timeout, &public_url)
        };
        let api_database = optional(
            "API_DATABASE_URL",
            &s.api_database_url,
            "ingest-proxy web api",
        )?;
        let ui_database = optional("UI_DATABASE_URL", &s.ui_database_url, "ingest-proxy web ui")?;
        let alerts_database = optional(
            "ALERTS_DATABASE_URL",
            &s.alerts_database_url,
            "ingest-proxy alerts",
        )?;
        let alerts_allowed_targets = AllowedTargets::parse(&s.alerts_allowed_targets)
            .map_err(|message| invalid("ALERTS_ALLOWED_TARGETS", message))?;
        let smtp = smtp_settings(&s.smtp_url, &s.smtp_from)?;
        let log_format = match s.log_format.trim().to_ascii_lowercase().as_str() {
            "text" => LogFormat::Text,
            "json" => LogFormat::Json,
            other => {
                return Err(invalid(
                    "LOG_FORMAT",
                    format!("'{other}' is neither text nor json"),
                ))
            }
        };
        tracing_subscriber::EnvFilter::try_new(&s.log_filter)
            .map_err(|err| invalid("RUST_LOG", format!("'{}': {err}", s.log_filter)))?;

        Ok(Config {
            listen,
            database,
            pool_size,
            api_database,
            api_pool_size,
            ui_database,
            ui_pool_size,
            alerts_database,
            alerts_allowed_targets,
            smtp,
            acquire_timeout: millis(
                "DATABASE_ACQUIRE_TIMEOUT_MS",
                &s.database_acquire_timeout_ms,
                1,
            )?,
            connect_timeout,
            query_timeout: millis("DATABASE_QUERY_TIMEOUT_MS", &s.database_query_timeout_ms, 1)?,
            ingest_concurrency,
            ingest_batch_max,
            max_compressed_bytes,
            max_decompressed_bytes,
            connection_limits,
            max_receiving_bytes,
            body_timeout: millis("HTTP_BODY_TIMEOUT_MS", &s.http_body_timeout_ms, 100)?,
            limits,
            trusted_proxies,
            public_url,
            health_refresh: millis("HEALTH_REFRESH_MS", &s.health_refresh_ms, 10)?,
            log_format,
            log_filter: s.log_filter.clone(),
        })
    }
}

impl Config {
    /// What the ingest batcher needs.
    pub fn batch_settings(&self) -> BatchSettings {
        BatchSettings {
            concurrency: self.ingest_concurrency,
            max_requests: self.ingest_batch_max,
            // Both limits are validated to fit an int.
            max_compressed_bytes: self.max_compressed_bytes as i32,
            max_decompressed_bytes: self.max_decompressed_bytes as i32,
            query_timeout: self.query_timeout,
        }
    }

    /// The ingest pool's settings.
    pub fn pool_settings(&self) -> PoolSettings {
        self.pool_for(self.database.clone(), self.pool_size)
    }

    /// The Web API's pool's settings, if it is on (`API_DATABASE_URL`).
    pub fn api_pool_settings(&self) -> Option<PoolSettings> {
        let database = self.api_database.clone()?;
        Some(self.pool_for(database, self.api_pool_size))
    }

    /// The web UI's pool's settings, if it is on (`UI_DATABASE_URL`).
    pub fn ui_pool_settings(&self) -> Option<PoolSettings> {
        let database = self.ui_database.clone()?;
        Some(self.pool_for(database, self.ui_pool_size))
    }

    /// Alert delivery's pool's settings, if this process delivers (`ALERTS_DATABASE_URL`): a
    /// connection for the periodic checks and one for delivering.
    pub fn alerts_pool_settings(&self) -> Option<PoolSettings> {
        let database = self.alerts_database.clone()?;
        Some(self.pool_for(database, 2))
    }

    fn pool_for(&self, database: tokio_postgres::Config, size: usize) -> PoolSettings {
        PoolSettings {
            database,
            size,
            acquire_timeout: self.acquire_timeout,
            connect_timeout: self.connect_timeout,
        }
    }
}

/// A second database URL (the Web API's, the UI's, alert delivery's): unset or blank is off.
fn optional_database(
    name: &'static str,
    url: &Option<String>,
    application: &str,
    connect_timeout: Duration,
    public_url: &str,
) -> Result<Option<tokio_postgres::Config>, ConfigError> {
    let Some(url) = url.as_deref().map(str::trim).filter(|url| !url.is_empty()) else {
        return Ok(None);
    };
    let mut database = tokio_postgres::Config::from_str(url)
        .map_err(|err| invalid(name, format!("not a PostgreSQL connection string: {err}")))?;
    database.connect_timeout(connect_timeout);
    if database.get_application_name().is_none() {
        database.application_name(application);
    }
    database.options(format!("-c crashcache.public_url={public_url}"));
    Ok(Some(database))
}

/// `SMTP_URL` and `SMTP_FROM`: both or neither (blank is unset).
fn smtp_settings(
    url: &Option<String>,
    from: &Option<String>,
) -> Result<Option<SmtpSettings>, ConfigError> {
    let set = |text: &Option<String>| text.clone().filter(|text| !text.trim().is_empty());
    match (set(url), set(from)) {
        (None, None) => Ok(None),
        (Some(_), None) => Err(invalid(
            "SMTP_FROM",
            "is needed with SMTP_URL: the sender of alert email",
        )),
        (None, Some(_)) => Err(invalid("SMTP_URL", "is needed with SMTP_FROM")),
        (Some(url), Some(from)) => SmtpSettings::parse(&url, &from)
            .map(Some)
            .map_err(|(variable, message)| invalid(variable, message)),
    }
}

fn parse_host(text: &str) -> Result<IpAddr, ConfigError> {
    let text = text.trim();
    if text.eq_ignore_ascii_case("localhost") {
        return Ok(IpAddr::V4(Ipv4Addr::LOCALHOST));
    }
    text.trim_start_matches('[')
        .trim_end_matches(']')
        .parse()
        .map_err(|_| {
            invalid(
                "CRASH_CACHE_HOST",
                format!("'{text}' is not an IP address (such as 127.0.0.1, ::1 or 0.0.0.0)"),
            )
        })
}

fn parse_public_url(url: &str) -> Result<String, ConfigError> {
    let url = url.trim().trim_end_matches('/');
    let rest = url
        .strip_prefix("http://")
        .or_else(|| url.strip_prefix("https://"))
        .ok_or_else(|| {
            invalid(
                "PUBLIC_URL",
                format!("'{url}' does not start with http:// or https://"),
            )
        })?;
    if rest.is_empty() || rest.starts_with('/') || rest.contains(['@', ' ', '?', '#']) {
        return Err(invalid(
            "PUBLIC_URL",
            format!("'{url}' is not a URL like https://errors.example.com"),
        ));
    }
    Ok(url.to_owned())
}

fn integer(variable: &'static str, text: &str, min: u64, max: u64) -> Result<u64, ConfigError> {
    let value = text
        .trim()
        .parse::<u64>()
        .map_err(|_| invalid(variable, format!("'{text}' is not a whole number")))?;
    if !(min..=max).contains(&value) {
        return Err(invalid(
            variable,
            format!("{value} is not between {min} and {max}"),
        ));
    }
    Ok(value)
}

fn millis(variable: &'static str, text: &str, min: u64) -> Result<Duration, ConfigError> {
    integer(variable, text, min, 3_600_000).map(Duration::from_millis)
}

fn size(variable: &'static str, text: &str, max: u64) -> Result<u32, ConfigError> {
    let value =
        eval_size(text).map_err(|message| invalid(variable, format!("'{text}': {message}")))?;
    if value == 0 || value > max {
        return Err(invalid(
            variable,
            format!("{value} is not between 1 and {max}"),
        ));
    }
    u32::try_from(value).map_err(|_| invalid(variable, format!("{value} is too large")))
}

fn rate(variable: &'static str, text: &str) -> Result<f64, ConfigError> {
    match text.trim().parse::<f64>() {
        Ok(value) if value.is_finite() && value >= 0.0 => Ok(value),
        _ => Err(invalid(
            variable,
            format!("'{text}' is not a number of 0 or more"),
        )),
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::{Config, LogFormat, Settings};
    use clap::Parser;
    use std::time::Duration;

    #[derive(Parser)]
    #[command(args_override_self = true)]
    struct TestCli {
        #[command(flatten)]
        settings: Settings,
    }

    /// Settings from flags only; the defaults for the rest (the environment variables these
    /// tests might see are overridden for every setting that matters to them).
    pub(crate) fn config(args: &[&str]) -> Result<Config, super::ConfigError> {
        let mut argv = vec![
            "test",
            "--host=127.0.0.1",
            "--port=3000",
            "--database-url=postgres://postgres@127.0.0.1:5433/crashcache",
            "--max-compressed-payload-bytes=20 * 1024 * 1024",
            "--max-uncompressed-payload-bytes=100 * 1024 * 1024",
            "--rate-limit-global-per-second=0",
            "--rate-limit-burst-multiplier=2",
            "--trusted-proxies=",
            "--log-format=text",
            "--log-filter=info",
        ];
        argv.extend_from_slice(args);
        let cli = TestCli::try_parse_from(argv).unwrap();
        Config::from_settings(&cli.settings)
    }

    #[test]
    fn defaults_are_valid_and_loopback() {
        let config = config(&[]).unwrap();
        assert!(config.listen.ip().is_loopback());
        assert_eq!(config.listen.port(), 3000);
        assert_eq!(config.max_compressed_bytes, 20 * 1024 * 1024);
        assert_eq!(config.max_decompressed_bytes, 100 * 1024 * 1024);
        assert_eq!(config.public_url, "http://127.0.0.1:3000");
        assert_eq!(config.log_format, LogFormat::Text);
        assert!(config.trusted_proxies.is_empty());
        assert_eq!(
            config.database.get_connect_timeout(),
            Some(&config.connect_timeout)
        );
    }

    #[test]
    fn public_url_default_follows_host_and_port() {
        let config = config(&["--host=::1", "--port=8080"]).unwrap();
        assert_eq!(config.public_url, "http://[::1]:8080");
        let config = config_with_url("https://errors.example.com/");
        assert_eq!(config.public_url, "https://errors.example.com");
    }

    fn config_with_url(url: &str) -> Config {
        config(&[&format!("--public-url={url}")]).unwrap()
    }

    #[test]
    fn errors_name_the_variable() {
        let cases: &[(&str, &str)] = &[
            ("--port=70000", "CRASH_CACHE_PORT"),
            ("--host=example.com", "CRASH_CACHE_HOST"),
            ("--database-url=postgres://h:notaport/db", "DATABASE_URL"),
            (
                "--database-url=postgres://h/db?sslmode=require",
                "DATABASE_URL",
            ),
            ("--database-pool-size=0", "DATABASE_POOL_SIZE"),
            (
                "--database-acquire-timeout-ms=soon",
                "DATABASE_ACQUIRE_TIMEOUT_MS",
            ),
            (
                "--database-connect-timeout-ms=0",
                "DATABASE_CONNECT_TIMEOUT_MS",
            ),
            (
                "--max-compressed-payload-bytes=20 * ",
                "MAX_COMPRESSED_PAYLOAD_BYTES",
            ),
            (
                "--max-compressed-payload-bytes=0",
                "MAX_COMPRESSED_PAYLOAD_BYTES",
            ),
            (
                "--max-compressed-payload-bytes=2 * 1024 * 1024 * 1024",
                "MAX_COMPRESSED_PAYLOAD_BYTES",
            ),
            (
                "--max-uncompressed-payload-bytes=4 * 1024 * 1024 * 1024",
                "MAX_UNCOMPRESSED_PAYLOAD_BYTES",
            ),
            (
                "--rate-limit-global-per-second=-1",
                "RATE_LIMIT_GLOBAL_PER_SECOND",
            ),
            (
                "--rate-limit-per-ip-per-second=lots",
                "RATE_LIMIT_PER_IP_PER_SECOND",
            ),
            (
                "--rate-limit-per-project-per-second=inf",
                "RATE_LIMIT_PER_PROJECT_PER_SECOND",
            ),
            (
                "--rate-limit-burst-multiplier=0.5",
                "RATE_LIMIT_BURST_MULTIPLIER",
            ),
            ("--trusted-proxies=10.0.0.0/8,proxy", "TRUSTED_PROXIES"),
            ("--public-url=errors.example.com", "PUBLIC_URL"),
            ("--public-url=http://key@errors.example.com", "PUBLIC_URL"),
            ("--health-refresh-ms=1", "HEALTH_REFRESH_MS"),
            ("--log-format=xml", "LOG_FORMAT"),
            ("--log-filter=[[[", "RUST_LOG"),
            (
                "--alerts-allowed-targets=10.0.0.0/8,x",
                "ALERTS_ALLOWED_TARGETS",
            ),
            ("--smtp-url=smtp://127.0.0.1:2525", "SMTP_FROM"),
            ("--smtp-from=a@example.com", "SMTP_URL"),
        ];
        for (arg, variable) in cases {
            let err = config(&[arg]).unwrap_err();
            assert_eq!(err.variable, *variable, "{arg}");
            assert!(
                err.to_string()
                    .starts_with(&format!("invalid {variable}: ")),
                "{err}"
            );
        }
    }

    #[test]
    fn typed_values() {
        let config = config(&[
            "--rate-limit-per-ip-per-second=2.5",
            "--database-acquire-timeout-ms=250",
            "--trusted-proxies=10.0.0.0/8, ::1",
            "--log-format=JSON",
            "--host=localhost",
        ])
        .unwrap();
        assert_eq!(config.limits.per_ip_per_second, 2.5);
        assert_eq!(config.acquire_timeout, Duration::from_millis(250));
        assert_eq!(config.log_format, LogFormat::Json);
        assert!(!config.trusted_proxies.is_empty());
        assert!(config.listen.ip().is_loopback());
    }
}
