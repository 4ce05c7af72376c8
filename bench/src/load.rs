//! The load: one task per connection, paced open-loop by a shared schedule or closed-loop,
//! each counting statuses and latencies of its own.

use std::cell::Cell;
use std::collections::BTreeMap;
use std::rc::Rc;
use std::time::{Duration, Instant, SystemTime};

use bytes::BytesMut;
use hdrhistogram::Histogram;
use tokio::sync::mpsc::UnboundedSender;

use crate::cli::{Config, Target};
use crate::client::{Connection, RequestParts};
use crate::payload::{Corpus, Fresh};

/// Latencies are recorded in microseconds up to a minute.
pub(crate) fn latency_histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, 60_000_000, 3).expect("static bounds are valid")
}

/// What one request of the load did.
#[derive(Debug)]
pub(crate) struct LoadStats {
    pub sent: u64,
    /// HTTP status code to count.
    pub statuses: BTreeMap<u16, u64>,
    pub timeouts: u64,
    /// Connections lost or refused mid-run.
    pub errors: u64,
    /// From the send to the whole answer, µs.
    pub latency: Histogram<u64>,
    /// Open loop: from a request's slot to its send, µs; it grows when every connection is
    /// waiting for an answer.
    pub lag: Histogram<u64>,
    /// Open loop: slots before the deadline that were never sent, because every connection
    /// was still waiting for an answer when the run ended.
    pub unsent: u64,
    pub bytes: u64,
    pub gzipped: u64,
    pub with_session: u64,
    /// Open loop: requests sent more than 10 ms after their slot (the generator fell behind).
    pub late: u64,
    pub last_error: Option<String>,
}

impl LoadStats {
    fn new() -> LoadStats {
        LoadStats {
            sent: 0,
            statuses: BTreeMap::new(),
            timeouts: 0,
            errors: 0,
            latency: latency_histogram(),
            lag: latency_histogram(),
            unsent: 0,
            bytes: 0,
            gzipped: 0,
            with_session: 0,
            late: 0,
            last_error: None,
        }
    }

    fn merge(&mut self, other: LoadStats) {
        self.sent += other.sent;
        for (status, count) in other.statuses {
            *self.statuses.entry(status).or_default() += count;
        }
        self.timeouts += other.timeouts;
        self.errors += other.errors;
        self.latency
            .add(&other.latency)
            .expect("histograms share their bounds");
        self.bytes += other.bytes;
        self.gzipped += other.gzipped;
        self.with_session += other.with_session;
        self.lag
            .add(&other.lag)
            .expect("histograms share their bounds");
        self.unsent += other.unsent;
        self.late += other.late;
        self.last_error = other.last_error.or(self.last_error.take());
    }

    pub(crate) fn accepted(&self) -> u64 {
        self.statuses.get(&200).copied().unwrap_or(0)
    }
}

/// An accepted request chosen to time ingest-to-queryable.
#[derive(Debug, Clone)]
pub(crate) struct Sample {
    pub event_id: String,
    pub sent: Instant,
}

/// Hands out request slots until the deadline or the request budget runs out.
struct Schedule {
    start: Instant,
    deadline: Instant,
    max_requests: u64,
    rate: Option<f64>,
    claimed: Cell<u64>,
}

impl Schedule {
    /// The next request's slot: `Some(None)` to send now (closed loop), `Some(Some(t))` to send
    /// at `t` (open loop), `None` when the run is over: at the deadline, even when the open
    /// loop is behind its schedule.
    fn claim(&self) -> Option<Option<Instant>> {
        let index = self.claimed.get();
        if index >= self.max_requests || Instant::now() >= self.deadline {
            return None;
        }
        let slot = match self.rate {
            Some(rate) => {
                let at = self.start + Duration::from_secs_f64(index as f64 / rate);
                (at < self.deadline).then_some(Some(at))
            }
            None => Some(None),
        }?;
        self.claimed.set(index + 1);
        Some(slot)
    }

    /// Open loop: the slots before the deadline that were not claimed.
    fn unclaimed(&self) -> u64 {
        match self.rate {
            Some(rate) => {
                let due = (self.deadline - self.start).as_secs_f64() * rate;
                (due.ceil() as u64)
                    .min(self.max_requests)
                    .saturating_sub(self.claimed.get())
            }
            None => 0,
        }
    }
}

/// What the workers share. Single-threaded: `Cell`s, no locks.
struct Shared {
    config: Config,
    parts: RequestParts,
    corpus: Corpus,
    schedule: Schedule,
    next_sample: Cell<Instant>,
    samples: Option<UnboundedSender<Sample>>,
}

/// Runs the load on already opened connections and returns the merged figures and the time it
/// took (from start until the last answer). `samples` receives the queryable-latency samples.
pub(crate) async fn run(
    config: &Config,
    parts: RequestParts,
    connections: Vec<Connection>,
    samples: Option<UnboundedSender<Sample>>,
) -> (LoadStats, Duration) {
    let start = Instant::now();
    let shared = Rc::new(Shared {
        config: config.clone(),
        parts,
        corpus: Corpus::build(),
        schedule: Schedule {
            start,
            deadline: start + config.duration,
            max_requests: config.max_requests,
            rate: config.rate,
            claimed: Cell::new(0),
        },
        next_sample: Cell::new(start),
        samples,
    });
    let workers: Vec<_> = connections
        .into_iter()
        .enumerate()
        .map(|(i, connection)| {
            let seed = config.seed.wrapping_add(i as u64);
            tokio::task::spawn_local(worker(Rc::clone(&shared), connection, seed))
        })
        .collect();
    let mut total = LoadStats::new();
    for worker in workers {
        match worker.await {
            Ok(stats) => total.merge(stats),
            Err(err) => total.last_error = Some(format!("a worker failed: {err}")),
        }
    }
    total.unsent = shared.schedule.unclaimed();
    (total, start.elapsed())
}

/// One connection's loop; ends with the schedule, reconnecting after failures meanwhile.
async fn worker(shared: Rc<Shared>, connection: Connection, seed: u64) -> LoadStats {
    let config = &shared.config;
    let mut stats = LoadStats::new();
    let mut connection = Some(connection);
    let mut rng = fastrand::Rng::with_seed(seed);
    let mut plain = BytesMut::with_capacity(8 * 1024);
    let mut body = BytesMut::with_capacity(8 * 1024);
    while let Some(slot) = shared.schedule.claim() {
        if let Some(at) = slot {
            tokio::time::sleep_until(at.into()).await;
        }
        if connection.is_none() {
            connection = reconnect(&shared, &mut stats).await;
        }
        let Some(conn) = connection.as_mut() else {
            continue;
        };
        let now = Instant::now();
        if let Some(at) = slot {
            let lag = now.duration_since(at);
            stats.lag.saturating_record(micros(lag));
            stats.late += u64::from(lag > Duration::from_millis(10));
        }
        let (request, event_id) = match config.target {
            Target::Health => (shared.parts.get(bytes::Bytes::new()), None),
            Target::Envelope => {
                let bug = rng.usize(..crate::corpus::BUG_COUNT);
                let session = rng.f64() < config.session_share;
                let gzipped = rng.f64() < config.gzip_share;
                let template = shared.corpus.template(bug, session);
                let fresh = Fresh::new(&mut rng, SystemTime::now());
                body.reserve(template.len());
                if gzipped {
                    plain.clear();
                    template.write(&fresh, &mut plain);
                    template.write_gzip(&plain, &mut body);
                } else {
                    template.write(&fresh, &mut body);
                }
                stats.gzipped += u64::from(gzipped);
                stats.with_session += u64::from(session);
                stats.bytes += body.len() as u64;
                let payload = body.split().freeze();
                (
                    shared.parts.envelope(payload, gzipped),
                    Some(fresh.event_id),
                )
            }
        };
        let sample = event_id.filter(|_| take_sample(&shared, now));
        stats.sent += 1;
        let sent = Instant::now();
        match tokio::time::timeout(config.request_timeout, conn.send(request)).await {
            Ok(Ok(status)) => {
                stats.latency.saturating_record(micros(sent.elapsed()));
                *stats.statuses.entry(status.as_u16()).or_default() += 1;
                if let (Some(id), Some(tx), true) = (sample, &shared.samples, status == 200) {
                    let event_id = String::from_utf8_lossy(&id).into_owned();
                    // The receiver outlives the load; a closed one only means nobody listens.
                    drop(tx.send(Sample { event_id, sent }));
                }
            }
            Ok(Err(err)) => {
                stats.errors += 1;
                stats.last_error = Some(err.to_string());
                connection = None;
            }
            Err(_) => {
                stats.timeouts += 1;
                connection = None;
            }
        }
    }
    stats
}

/// One request every `sample_every` is a queryable-latency sample.
fn take_sample(shared: &Shared, now: Instant) -> bool {
    match shared.config.sample_every {
        Some(every) if shared.samples.is_some() && now >= shared.next_sample.get() => {
            shared.next_sample.set(now + every);
            true
        }
        _ => false,
    }
}

/// After a failure: a new connection, or `None` after a pause (the slot counts as an error).
async fn reconnect(shared: &Shared, stats: &mut LoadStats) -> Option<Connection> {
    match Connection::open(shared.parts.addr).await {
        Ok(connection) => Some(connection),
        Err(err) => {
            stats.sent += 1;
            stats.errors += 1;
            stats.last_error = Some(err.to_string());
            tokio::time::sleep(Duration::from_millis(50)).await;
            None
        }
    }
}

pub(crate) fn micros(duration: Duration) -> u64 {
    u64::try_from(duration.as_micros()).unwrap_or(u64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::RefCell;
    use std::collections::HashSet;
    use std::convert::Infallible;
    use std::io::Read;

    use bytes::Bytes;
    use clap::Parser;
    use http_body_util::{BodyExt, Full};
    use hyper::body::Incoming;
    use hyper::service::service_fn;
    use hyper::{Request, Response};
    use hyper_util::rt::TokioIo;
    use tokio::net::TcpListener;

    /// What the test receiver saw.
    #[derive(Default)]
    struct Seen {
        requests: u64,
        gzipped: u64,
        sessions: u64,
        event_ids: HashSet<String>,
    }

    /// Accepts connections on 127.0.0.1:0 and checks every envelope like the proxy would.
    async fn receiver(seen: Rc<RefCell<Seen>>) -> std::net::SocketAddr {
        slow_receiver(seen, Duration::ZERO).await
    }

    /// The same, answering each request after `delay`.
    async fn slow_receiver(seen: Rc<RefCell<Seen>>, delay: Duration) -> std::net::SocketAddr {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::task::spawn_local(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let seen = Rc::clone(&seen);
                let service = service_fn(move |request: Request<Incoming>| {
                    let seen = Rc::clone(&seen);
                    async move {
                        tokio::time::sleep(delay).await;
                        let gzipped = request.headers().get("content-encoding").is_some();
                        let auth = request.headers()["x-sentry-auth"].to_str().unwrap();
                        assert!(auth.starts_with("Sentry sentry_key=k1, sentry_version=7"));
                        let body = request.into_body().collect().await.unwrap().to_bytes();
                        let mut plain = Vec::new();
                        if gzipped {
                            flate2::read::GzDecoder::new(&body[..])
                                .read_to_end(&mut plain)
                                .unwrap();
                        } else {
                            plain = body.to_vec();
                        }
                        let envelope = crashcache_core::envelope::parse(&plain).unwrap();
                        let mut seen = seen.borrow_mut();
                        seen.requests += 1;
                        seen.gzipped += u64::from(gzipped);
                        seen.sessions += u64::from(envelope.items.len() == 2);
                        seen.event_ids
                            .insert(envelope.header["event_id"].to_string());
                        Ok::<_, Infallible>(Response::new(Full::new(Bytes::from_static(b"{}"))))
                    }
                });
                tokio::task::spawn_local(
                    hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service),
                );
            }
        });
        addr
    }

    fn config(addr: std::net::SocketAddr, extra: &[&str]) -> Config {
        let url = format!("http://{addr}");
        let mut argv = vec!["loadgen", "--url", &url, "--project", "1", "--key", "k1"];
        argv.extend_from_slice(extra);
        Config::from_args(crate::cli::Args::try_parse_from(argv).unwrap()).unwrap()
    }

    async fn load(config: &Config) -> (LoadStats, Duration) {
        let parts = RequestParts::new(config.addr, &config.path, &config.key).unwrap();
        let mut connections = Vec::new();
        for _ in 0..config.connections {
            connections.push(Connection::open(config.addr).await.unwrap());
        }
        run(config, parts, connections, None).await
    }

    fn local<F: std::future::Future>(future: F) -> F::Output {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        tokio::task::LocalSet::new().block_on(&runtime, future)
    }

    #[test]
    fn closed_loop_stops_at_max_requests_with_the_mix() {
        local(async {
            let seen = Rc::new(RefCell::new(Seen::default()));
            let addr = receiver(Rc::clone(&seen)).await;
            let args = [
                "--max-requests",
                "600",
                "--connections",
                "4",
                "--session-share",
                "0.2",
                "--seed",
                "42",
            ];
            let (stats, _) = load(&config(addr, &args)).await;
            assert_eq!(stats.sent, 600);
            assert_eq!(stats.accepted(), 600);
            assert_eq!(stats.latency.len(), 600);
            let seen = seen.borrow();
            assert_eq!(seen.requests, 600);
            assert_eq!(seen.event_ids.len(), 600, "every event id is fresh");
            assert_eq!(seen.gzipped, stats.gzipped);
            assert!(
                (150..250).contains(&seen.gzipped),
                "{} gzipped",
                seen.gzipped
            );
            assert!(
                (70..170).contains(&seen.sessions),
                "{} sessions",
                seen.sessions
            );
        });
    }

    #[test]
    fn open_loop_keeps_the_rate_and_the_duration() {
        local(async {
            let seen = Rc::new(RefCell::new(Seen::default()));
            let addr = receiver(Rc::clone(&seen)).await;
            let args = ["--rate", "200", "--duration", "500ms", "--connections", "2"];
            let (stats, elapsed) = load(&config(addr, &args)).await;
            assert_eq!(stats.sent, 100);
            assert_eq!(stats.accepted(), 100);
            assert!(elapsed >= Duration::from_millis(490), "{elapsed:?}");
            assert!(elapsed < Duration::from_secs(2), "{elapsed:?}");
        });
    }

    #[test]
    fn open_loop_stops_on_time_when_the_server_is_slow() {
        local(async {
            let seen = Rc::new(RefCell::new(Seen::default()));
            let addr = slow_receiver(Rc::clone(&seen), Duration::from_millis(50)).await;
            let args = ["--rate", "200", "--duration", "500ms", "--connections", "2"];
            let (stats, elapsed) = load(&config(addr, &args)).await;
            // Two connections at 50 ms each carry about 20 of the 100 slots.
            assert!((10..=30).contains(&stats.sent), "{} sent", stats.sent);
            assert_eq!(stats.sent + stats.unsent, 100);
            assert!(stats.late > 0);
            assert!(stats.latency.value_at_quantile(0.5) >= 50_000);
            assert!(elapsed < Duration::from_millis(700), "{elapsed:?}");
        });
    }

    #[test]
    fn a_dead_server_counts_errors_and_stops_on_time() {
        local(async {
            let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
            let addr = listener.local_addr().unwrap();
            let accept = tokio::task::spawn_local(async move {
                // Take one connection and close it at once; then nobody listens.
                let (stream, _) = listener.accept().await.unwrap();
                drop(stream);
            });
            let config = config(addr, &["--duration", "300ms", "--connections", "1"]);
            let parts = RequestParts::new(config.addr, &config.path, &config.key).unwrap();
            let connection = Connection::open(addr).await.unwrap();
            accept.await.unwrap();
            let started = Instant::now();
            let (stats, _) = run(&config, parts, vec![connection], None).await;
            assert!(started.elapsed() < Duration::from_secs(2));
            assert_eq!(stats.accepted(), 0);
            assert!(stats.errors >= 1);
        });
    }
}
