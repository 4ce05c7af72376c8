//! The command line, checked into a typed `Config`: loopback addresses, bounded numbers.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::Duration;

use clap::{Parser, ValueEnum};

/// Sends realistic Sentry envelopes to pg_crashcache's ingest proxy over loopback HTTP/1.1 and
/// reports throughput, latency and (with --database-url) digest rate, ingest-to-queryable
/// latency, memory and storage per event. Stops by itself after --duration or --max-requests.
#[derive(Debug, Parser)]
#[command(name = "loadgen", version, about)]
pub(crate) struct Args {
    /// The proxy's base URL; loopback only.
    #[arg(long, default_value = "http://127.0.0.1:3000")]
    url: String,
    /// A DSN (http://KEY@127.0.0.1:PORT/PROJECT); replaces --url, --project and --key.
    #[arg(long)]
    dsn: Option<String>,
    /// Project id in the envelope path.
    #[arg(long)]
    project: Option<i32>,
    /// The project's public key (sent in X-Sentry-Auth).
    #[arg(long)]
    key: Option<String>,
    /// How long to send (e.g. 60s, 500ms, 2m); at most 1 hour.
    #[arg(long, default_value = "60s", value_parser = parse_duration)]
    duration: Duration,
    /// Stop after this many requests, if that comes before --duration.
    #[arg(long)]
    max_requests: Option<u64>,
    /// Requests per second, open loop (sent on schedule whatever the answers); 0 sends as fast
    /// as the connections allow (closed loop).
    #[arg(long, default_value_t = 0.0)]
    rate: f64,
    /// Keep-alive HTTP/1.1 connections, each with one request in flight.
    #[arg(long, default_value_t = 32)]
    connections: usize,
    /// Share of requests sent gzip-compressed (level 1, Content-Encoding: gzip).
    #[arg(long, default_value_t = 0.33)]
    gzip_share: f64,
    /// Share of envelopes that also carry a session update item.
    #[arg(long, default_value_t = 0.05)]
    session_share: f64,
    /// The tracker's database, for digest rate, queryable latency, memory and storage;
    /// loopback only.
    #[arg(long)]
    database_url: Option<String>,
    /// What to load: `envelope` (the ingest path) or `health` (GET /health, answered from the
    /// proxy's cache: the HTTP ceiling of the machine).
    #[arg(long, value_enum, default_value_t = Target::Envelope)]
    target: Target,
    /// The proxy's process id, to report its peak resident memory.
    #[arg(long)]
    proxy_pid: Option<u32>,
    /// Take one request every this long as an ingest-to-queryable sample (0 turns it off).
    #[arg(long, default_value = "50ms", value_parser = parse_duration)]
    sample_every: Duration,
    /// How often to poll the digest's progress (events and queue depth).
    #[arg(long, default_value = "250ms", value_parser = parse_duration)]
    poll_every: Duration,
    /// Longest wait for the queue to drain after the load.
    #[arg(long, default_value = "120s", value_parser = parse_duration)]
    drain_timeout: Duration,
    /// Longest wait for one answer; then the request counts as `timeout`.
    #[arg(long, default_value = "10s", value_parser = parse_duration)]
    request_timeout: Duration,
    /// A name for this run, repeated in the RESULT line.
    #[arg(long, default_value = "run")]
    label: String,
    /// Seed of the request mix (bug, gzip, session choices); random when omitted.
    #[arg(long)]
    seed: Option<u64>,
}

/// What the requests go to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum Target {
    Envelope,
    Health,
}

impl Target {
    pub(crate) fn name(self) -> &'static str {
        match self {
            Target::Envelope => "envelope",
            Target::Health => "health",
        }
    }
}

/// The checked settings of one run.
#[derive(Debug, Clone)]
pub(crate) struct Config {
    pub addr: SocketAddr,
    /// Path and query of the request, e.g. `/api/7/envelope/`.
    pub path: String,
    pub project: i32,
    pub key: String,
    pub duration: Duration,
    pub max_requests: u64,
    /// `None` is closed loop.
    pub rate: Option<f64>,
    pub connections: usize,
    pub gzip_share: f64,
    pub session_share: f64,
    pub database_url: Option<String>,
    pub target: Target,
    pub proxy_pid: Option<u32>,
    pub sample_every: Option<Duration>,
    pub poll_every: Duration,
    pub drain_timeout: Duration,
    pub request_timeout: Duration,
    pub label: String,
    pub seed: u64,
}

/// A bad setting or an unreachable service: the only reasons loadgen exits non-zero.
#[derive(Debug)]
pub(crate) struct SetupError(pub String);

impl fmt::Display for SetupError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

fn bad(message: impl Into<String>) -> SetupError {
    SetupError(message.into())
}

const MAX_DURATION: Duration = Duration::from_secs(3600);
const MAX_CONNECTIONS: usize = 1024;
const MAX_RATE: f64 = 1_000_000.0;

impl Config {
    pub(crate) fn from_args(args: Args) -> Result<Config, SetupError> {
        let (url, mut project, mut key) = match &args.dsn {
            Some(dsn) => {
                let (url, key, project) = parse_dsn(dsn)?;
                (url, Some(project), Some(key))
            }
            None => (args.url.clone(), None, None),
        };
        project = project.or(args.project);
        key = key.or(args.key);
        let addr = parse_base_url(&url)?;
        let (project, key) = match args.target {
            Target::Health => (project.unwrap_or(0), key.unwrap_or_default()),
            Target::Envelope => (
                project
                    .ok_or_else(|| bad("--project (or --dsn) is needed for --target envelope"))?,
                key.ok_or_else(|| bad("--key (or --dsn) is needed for --target envelope"))?,
            ),
        };
        if args.target == Target::Envelope && project < 1 {
            return Err(bad("--project must be a positive integer"));
        }
        if !key
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
        {
            return Err(bad("--key may hold only A-Z a-z 0-9 _ -"));
        }
        if args.duration.is_zero() || args.duration > MAX_DURATION {
            return Err(bad("--duration must be above 0 and at most 1h"));
        }
        if !(0.0..=MAX_RATE).contains(&args.rate) {
            return Err(bad("--rate must be between 0 and 1000000"));
        }
        if args.connections == 0 || args.connections > MAX_CONNECTIONS {
            return Err(bad("--connections must be between 1 and 1024"));
        }
        for (name, share) in [
            ("--gzip-share", args.gzip_share),
            ("--session-share", args.session_share),
        ] {
            if !(0.0..=1.0).contains(&share) {
                return Err(bad(format!("{name} must be between 0 and 1")));
            }
        }
        if let Some(url) = &args.database_url {
            check_database_url(url)?;
        }
        if args.poll_every < Duration::from_millis(10) || args.drain_timeout > MAX_DURATION {
            return Err(bad(
                "--poll-every must be at least 10ms and --drain-timeout at most 1h",
            ));
        }
        let path = match args.target {
            Target::Envelope => format!("/api/{project}/envelope/"),
            Target::Health => "/health".to_string(),
        };
        Ok(Config {
            addr,
            path,
            project,
            key,
            duration: args.duration,
            max_requests: args.max_requests.unwrap_or(u64::MAX),
            rate: (args.rate > 0.0).then_some(args.rate),
            connections: args.connections,
            gzip_share: args.gzip_share,
            session_share: args.session_share,
            database_url: args.database_url,
            target: args.target,
            proxy_pid: args.proxy_pid,
            sample_every: (!args.sample_every.is_zero()).then_some(args.sample_every),
            poll_every: args.poll_every,
            drain_timeout: args.drain_timeout,
            request_timeout: args.request_timeout.max(Duration::from_millis(1)),
            label: args.label,
            seed: args.seed.unwrap_or_else(|| fastrand::u64(..)),
        })
    }
}

/// `60s`, `500ms`, `2m`, `1.5s`, or a bare number of seconds.
pub(crate) fn parse_duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    let (number, unit) = match text.find(|c: char| c.is_ascii_alphabetic()) {
        Some(at) => text.split_at(at),
        None => (text, "s"),
    };
    let value: f64 = number
        .trim()
        .parse()
        .map_err(|_| format!("`{text}` is not a duration such as 60s or 500ms"))?;
    let seconds = match unit {
        "ms" => value / 1000.0,
        "s" => value,
        "m" => value * 60.0,
        _ => return Err(format!("`{text}`: the unit must be ms, s or m")),
    };
    if !seconds.is_finite() || !(0.0..=86_400.0).contains(&seconds) {
        return Err(format!("`{text}` is out of range"));
    }
    Ok(Duration::from_secs_f64(seconds))
}

/// `http://HOST:PORT[/]` to a loopback socket address.
fn parse_base_url(url: &str) -> Result<SocketAddr, SetupError> {
    let rest = url
        .strip_prefix("http://")
        .ok_or_else(|| bad(format!("`{url}`: only http:// URLs are supported")))?;
    let authority = rest.split('/').next().unwrap_or_default();
    if !rest[authority.len()..].trim_matches('/').is_empty() {
        return Err(bad(format!("`{url}`: give the base URL without a path")));
    }
    loopback_socket(authority).ok_or_else(|| {
        bad(format!(
            "`{url}`: the host must be 127.0.0.1, [::1] or localhost (loopback only)"
        ))
    })
}

fn loopback_socket(authority: &str) -> Option<SocketAddr> {
    let (host, port) = authority.rsplit_once(':')?;
    let port: u16 = port.parse().ok()?;
    let ip: IpAddr = match host {
        "localhost" => IpAddr::V4(Ipv4Addr::LOCALHOST),
        _ => host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .parse()
            .ok()?,
    };
    ip.is_loopback().then_some(SocketAddr::new(ip, port))
}

/// A DSN `http://KEY@HOST:PORT/PROJECT` to (base URL, key, project).
fn parse_dsn(dsn: &str) -> Result<(String, String, i32), SetupError> {
    let invalid = || {
        bad(format!(
            "`{dsn}` is not a DSN like http://KEY@127.0.0.1:3000/1"
        ))
    };
    let rest = dsn.strip_prefix("http://").ok_or_else(invalid)?;
    let (key, rest) = rest.split_once('@').ok_or_else(invalid)?;
    let key = key.split(':').next().unwrap_or_default();
    let (authority, project) = rest.split_once('/').ok_or_else(invalid)?;
    let project: i32 = project
        .trim_end_matches('/')
        .parse()
        .map_err(|_| invalid())?;
    if key.is_empty() || project < 1 {
        return Err(invalid());
    }
    Ok((format!("http://{authority}"), key.to_string(), project))
}

/// The database must be on this machine too: TCP to loopback or a Unix socket.
fn check_database_url(url: &str) -> Result<(), SetupError> {
    let config: tokio_postgres::Config = url
        .parse()
        .map_err(|err| bad(format!("--database-url: {err}")))?;
    let loopback = config.get_hosts().iter().all(|host| match host {
        tokio_postgres::config::Host::Tcp(name) => {
            name == "localhost" || name.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
        }
        tokio_postgres::config::Host::Unix(_) => true,
    });
    if loopback {
        Ok(())
    } else {
        Err(bad("--database-url must point at a loopback address"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(args: &[&str]) -> Result<Config, SetupError> {
        let mut argv = vec!["loadgen"];
        argv.extend_from_slice(args);
        Config::from_args(Args::try_parse_from(argv).map_err(|e| SetupError(e.to_string()))?)
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration("60s"), Ok(Duration::from_secs(60)));
        assert_eq!(parse_duration("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(parse_duration("2m"), Ok(Duration::from_secs(120)));
        assert_eq!(parse_duration("1.5"), Ok(Duration::from_millis(1500)));
        assert!(parse_duration("5h").is_err());
        assert!(parse_duration("-1s").is_err());
        assert!(parse_duration("fast").is_err());
    }

    #[test]
    fn dsn_sets_url_project_and_key() {
        let c = config(&["--dsn", "http://abc123@127.0.0.1:4000/7"]).unwrap();
        assert_eq!(c.addr, "127.0.0.1:4000".parse().unwrap());
        assert_eq!(c.project, 7);
        assert_eq!(c.key, "abc123");
        assert_eq!(c.path, "/api/7/envelope/");
        assert_eq!(c.rate, None);
    }

    #[test]
    fn only_loopback() {
        assert!(config(&[
            "--url",
            "http://10.0.0.1:3000",
            "--project",
            "1",
            "--key",
            "k"
        ])
        .is_err());
        assert!(config(&["--url", "http://localhost:3000", "--target", "health"]).is_ok());
        assert!(config(&["--url", "http://[::1]:3000", "--target", "health"]).is_ok());
        let remote_db = [
            "--target",
            "health",
            "--database-url",
            "postgres://postgres@192.168.1.2:5432/x",
        ];
        assert!(config(&remote_db).is_err());
    }

    #[test]
    fn envelope_needs_project_and_key() {
        assert!(config(&["--project", "1"]).is_err());
        assert!(config(&["--project", "1", "--key", "k", "--rate", "100"]).is_ok());
        assert!(config(&["--project", "1", "--key", "k", "--gzip-share", "1.5"]).is_err());
        assert!(config(&["--project", "1", "--key", "k\"x"]).is_err());
    }
}
