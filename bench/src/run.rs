//! One run in order: connect, start the watchers, load, wait for the drain, collect figures.

use std::cell::Cell;
use std::rc::Rc;
use std::time::{Duration, Instant};

use tokio::sync::mpsc::UnboundedSender;
use tokio::task::JoinHandle;

use crate::cli::{Config, SetupError, Target};
use crate::client::{Connection, RequestParts};
use crate::load::{self, Sample};
use crate::measure::{self, Db, Point, Progress, Queryable, Storage};
use crate::report::{DigestFigures, Report, StorageFigures};
use crate::rss::{self, MemoryPeaks};
use crate::{cpu, procfs};

/// Memory is sampled this often.
const MEMORY_EVERY: Duration = Duration::from_millis(250);
/// The drain is checked this often.
const DRAIN_EVERY: Duration = Duration::from_millis(50);

pub(crate) async fn run(config: Config) -> Result<Report, SetupError> {
    let parts = RequestParts::new(config.addr, &config.path, &config.key).map_err(SetupError)?;
    let db = match &config.database_url {
        Some(url) => Some(Db::connect(url).await.map_err(SetupError)?),
        None => None,
    };
    // Digest, queryable latency and storage only mean something for envelopes.
    let mut notes = Vec::new();
    let before = match (&db, config.target) {
        (Some(db), Target::Envelope) => {
            // What an earlier run left in the queue must not count for this one.
            let deadline = Instant::now() + config.drain_timeout;
            if !wait_for_drain(db, deadline).await.0 {
                notes.push("the queue was not empty at the start".to_string());
            }
            Some(read_before(db, config.project).await?)
        }
        _ => None,
    };
    let postmaster = match &db {
        Some(db) => db.backend_pid().await.ok().and_then(procfs::parent_of),
        None => None,
    };
    let mut connections = Vec::with_capacity(config.connections);
    for _ in 0..config.connections {
        let connection = Connection::open(config.addr).await.map_err(|err| {
            SetupError(format!("cannot reach the proxy at {}: {err}", config.addr))
        })?;
        connections.push(connection);
    }

    let start = Instant::now();
    let (watchers, samples) =
        Watchers::start(&config, db.is_some(), before.is_some(), postmaster, start).await?;
    let cpu_before = cpu::snapshot(config.proxy_pid, postmaster);
    let (load, elapsed) = load::run(&config, parts, connections, samples).await;
    let cpu_after = cpu::snapshot(config.proxy_pid, postmaster);
    let cpu = cpu::between(&cpu_before, &cpu_after, config.proxy_pid.is_some());
    let load_end = Instant::now();

    if config.target == Target::Envelope && load.sent > 0 && load.accepted() == 0 {
        notes.push("no request was accepted: check --project and --key".to_string());
    }
    if let Some(err) = &load.last_error {
        notes.push(format!("last request error: {err}"));
    }
    let (at_load_end, drained, drained_at, last) = match (&db, &before) {
        (Some(db), Some(_)) => {
            let at_load_end = db.progress(config.project).await;
            let (drained, at) = wait_for_drain(db, load_end + config.drain_timeout).await;
            (
                Some(at_load_end),
                drained,
                at,
                db.progress(config.project).await,
            )
        }
        _ => (None, true, load_end, Err(String::new())),
    };
    let (points, queryable, memory) = watchers.finish().await;

    let mut digest = None;
    let mut storage = None;
    if let (Some(db), Some((baseline, storage_before)), Some(at_load_end)) =
        (&db, &before, at_load_end)
    {
        match (at_load_end, last) {
            (Ok(at_end), Ok(last)) => {
                let events = last.events - baseline.events;
                digest = Some(DigestFigures {
                    events,
                    events_during_load: at_end.events - baseline.events,
                    per_s_loaded: (at_end.events - baseline.events) as f64
                        / elapsed.as_secs_f64().max(1e-9),
                    per_s_to_drain: events as f64 / (drained_at - start).as_secs_f64().max(1e-9),
                    drained,
                    drain: drained_at - load_end,
                    queue_max: points
                        .iter()
                        .map(|p| p.queued)
                        .chain([at_end.queued])
                        .max()
                        .unwrap_or(0),
                    queue_at_load_end: at_end.queued,
                    queue_growth_per_s: queue_growth(&points, elapsed),
                });
                if !drained {
                    notes.push(format!(
                        "the queue did not drain within {:?}",
                        config.drain_timeout
                    ));
                }
                match db.storage().await {
                    Ok(after) => {
                        storage = Some(StorageFigures {
                            events,
                            schema_bytes_delta: after.schema_bytes - storage_before.schema_bytes,
                            archive_bytes_delta: after.archive_bytes - storage_before.archive_bytes,
                            schema_bytes_total: after.schema_bytes,
                        })
                    }
                    Err(err) => notes.push(format!("storage not measured: {err}")),
                }
            }
            (Err(err), _) | (_, Err(err)) => notes.push(format!("digest not measured: {err}")),
        }
    }
    if let Some(q) = queryable.as_ref().filter(|q| q.failed_polls > 0) {
        notes.push(format!("{} queryable polls failed", q.failed_polls));
    }
    Ok(Report {
        config,
        load,
        elapsed,
        cpu,
        digest,
        queryable,
        memory,
        storage,
        notes,
    })
}

/// The project's events, the queue and the schema's size before the load.
async fn read_before(db: &Db, project: i32) -> Result<(Progress, Storage), SetupError> {
    let progress = db.progress(project).await.map_err(|err| {
        SetupError(format!(
            "cannot read crashcache.event and crashcache.queue: {err}"
        ))
    })?;
    Ok((progress, db.storage().await.map_err(SetupError)?))
}

/// The tasks that watch the run beside the load.
struct Watchers {
    /// Ends the memory and queue watchers.
    stop: Rc<Cell<bool>>,
    /// Tells the queryable watcher to poll once more and stop.
    finish: Rc<Cell<bool>>,
    memory: Option<JoinHandle<MemoryPeaks>>,
    queue: Option<JoinHandle<Vec<Point>>>,
    queryable: Option<JoinHandle<Queryable>>,
}

impl Watchers {
    /// Starts the memory watcher (with a proxy pid or a database) and, for envelopes with a
    /// database, the queue and queryable watchers on connections of their own; returns the
    /// sender for queryable samples.
    async fn start(
        config: &Config,
        postgres: bool,
        digest: bool,
        postmaster: Option<u32>,
        start: Instant,
    ) -> Result<(Watchers, Option<UnboundedSender<Sample>>), SetupError> {
        let stop = Rc::new(Cell::new(false));
        let finish = Rc::new(Cell::new(false));
        let memory = (config.proxy_pid.is_some() || postgres).then(|| {
            let watch = rss::watch(
                config.proxy_pid,
                postgres,
                postmaster,
                MEMORY_EVERY,
                stop.clone(),
            );
            tokio::task::spawn_local(watch)
        });
        let (mut queue, mut queryable, mut samples) = (None, None, None);
        if let (Some(url), true) = (&config.database_url, digest) {
            let monitor = Db::connect(url).await.map_err(SetupError)?;
            let watch = measure::watch_queue(monitor, start, config.poll_every, stop.clone());
            queue = Some(tokio::task::spawn_local(watch));
            if config.sample_every.is_some() {
                let poller = Db::connect(url).await.map_err(SetupError)?;
                let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
                samples = Some(tx);
                let watch = measure::watch_queryable(poller, config.project, rx, finish.clone());
                queryable = Some(tokio::task::spawn_local(watch));
            }
        }
        let watchers = Watchers {
            stop,
            finish,
            memory,
            queue,
            queryable,
        };
        Ok((watchers, samples))
    }

    /// Stops every watcher and collects what it saw.
    async fn finish(self) -> (Vec<Point>, Option<Queryable>, Option<MemoryPeaks>) {
        self.stop.set(true);
        self.finish.set(true);
        let points = match self.queue {
            Some(watch) => watch.await.unwrap_or_default(),
            None => Vec::new(),
        };
        let queryable = match self.queryable {
            Some(watch) => watch.await.ok(),
            None => None,
        };
        let memory = match self.memory {
            Some(watch) => watch.await.ok(),
            None => None,
        };
        (points, queryable, memory)
    }
}

/// Polls until the queue is empty or `deadline`: whether it drained, and when.
async fn wait_for_drain(db: &Db, deadline: Instant) -> (bool, Instant) {
    loop {
        if db.queued().await == Ok(0) {
            return (true, Instant::now());
        }
        let now = Instant::now();
        if now >= deadline {
            return (false, now);
        }
        tokio::time::sleep(DRAIN_EVERY).await;
    }
}

/// The queue's growth rate between the middle and the end of the load, from the watcher's points.
fn queue_growth(points: &[Point], load: Duration) -> Option<f64> {
    let in_load: Vec<&Point> = points.iter().filter(|p| p.at <= load).collect();
    let last = in_load.last()?;
    let middle = in_load.iter().find(|p| p.at >= load / 2)?;
    let span = (last.at - middle.at).as_secs_f64();
    (span > 0.0).then(|| (last.queued - middle.queued) as f64 / span)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn queue_growth_over_the_second_half() {
        let point = |ms: u64, queued: i64| Point {
            at: Duration::from_millis(ms),
            queued,
        };
        let points = [
            point(0, 0),
            point(500, 100),
            point(1000, 200),
            point(1500, 400),
            point(2500, 0),
        ];
        assert_eq!(queue_growth(&points, Duration::from_secs(2)), Some(400.0));
        assert_eq!(queue_growth(&points[..1], Duration::from_secs(2)), None);
    }
}
