//! The tracker's side of a run, read from its database: digest progress, ingest-to-queryable
//! latency and storage. Every query is short and parameterised; every poll is paced.

use std::cell::Cell;
use std::rc::Rc;
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;
use tokio::sync::mpsc::UnboundedReceiver;
use tokio_postgres::{Client, NoTls};

use crate::load::{latency_histogram, micros, Sample};

/// One connection to the tracker's database.
pub(crate) struct Db {
    client: Client,
}

/// Events of the project and payloads waiting in the queue (all projects), at one moment.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Progress {
    pub events: i64,
    pub queued: i64,
}

/// On-disk bytes of the `crashcache` schema (tables with their indexes and TOAST) and of the
/// archive alone.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Storage {
    pub schema_bytes: i64,
    pub archive_bytes: i64,
}

const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// No single measuring query may hang a run.
const QUERY_TIMEOUT: Duration = Duration::from_secs(30);

impl Db {
    pub(crate) async fn connect(url: &str) -> Result<Db, String> {
        let connecting = tokio_postgres::connect(url, NoTls);
        let (client, connection) = tokio::time::timeout(CONNECT_TIMEOUT, connecting)
            .await
            .map_err(|_| "the database did not answer within 5 s".to_string())?
            .map_err(|err| format!("cannot connect to the database: {err}"))?;
        tokio::task::spawn_local(async move {
            // A lost connection shows up as errors of the queries that need it.
            drop(connection.await);
        });
        Ok(Db { client })
    }

    async fn query(
        &self,
        sql: &str,
        params: &[&(dyn tokio_postgres::types::ToSql + Sync)],
    ) -> Result<Vec<tokio_postgres::Row>, String> {
        match tokio::time::timeout(QUERY_TIMEOUT, self.client.query(sql, params)).await {
            Ok(rows) => rows.map_err(|err| err.to_string()),
            Err(_) => Err("a measuring query took over 30 s".to_string()),
        }
    }

    pub(crate) async fn progress(&self, project: i32) -> Result<Progress, String> {
        let rows = self
            .query(
                "SELECT (SELECT count(*) FROM crashcache.event WHERE project_id = $1),
                        (SELECT count(*) FROM crashcache.queue)",
                &[&project],
            )
            .await?;
        let row = rows.first().ok_or("no row")?;
        Ok(Progress {
            events: row.get(0),
            queued: row.get(1),
        })
    }

    /// Payloads waiting in the queue, of every project: cheap while the digest keeps up.
    pub(crate) async fn queued(&self) -> Result<i64, String> {
        let rows = self
            .query("SELECT count(*) FROM crashcache.queue", &[])
            .await?;
        Ok(rows.first().ok_or("no row")?.get(0))
    }

    pub(crate) async fn storage(&self) -> Result<Storage, String> {
        let rows = self
            .query(
                "SELECT (SELECT coalesce(sum(pg_total_relation_size(c.oid)), 0)
                         FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
                         WHERE n.nspname = 'crashcache' AND c.relkind IN ('r', 'm'))::int8,
                        pg_total_relation_size('crashcache.archive')::int8",
                &[],
            )
            .await?;
        let row = rows.first().ok_or("no row")?;
        Ok(Storage {
            schema_bytes: row.get(0),
            archive_bytes: row.get(1),
        })
    }

    /// The process id of this connection's backend (its parent is the postmaster).
    pub(crate) async fn backend_pid(&self) -> Result<u32, String> {
        let rows = self.query("SELECT pg_backend_pid()", &[]).await?;
        let pid: i32 = rows.first().ok_or("no row")?.get(0);
        u32::try_from(pid).map_err(|err| err.to_string())
    }

    /// Which of `ids` (32 hex digits each) are digested events of the project.
    async fn found(&self, project: i32, ids: &[&str]) -> Result<Vec<String>, String> {
        let rows = self
            .query(
                "SELECT replace(event_id::text, '-', '') FROM crashcache.event
                 WHERE project_id = $1 AND event_id = ANY($2::text[]::uuid[])",
                &[&project, &ids],
            )
            .await?;
        Ok(rows.iter().map(|row| row.get(0)).collect())
    }
}

/// The queue's depth at a moment of the run.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Point {
    pub at: Duration,
    pub queued: i64,
}

/// Polls the queue's depth every `every` until `stop`; a failed poll is skipped. (The event
/// count is read only at the ends of the run: counting a large table would load the server.)
pub(crate) async fn watch_queue(
    db: Db,
    start: Instant,
    every: Duration,
    stop: Rc<Cell<bool>>,
) -> Vec<Point> {
    let mut points = Vec::new();
    let mut ticks = tokio::time::interval(every);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    while !stop.get() {
        ticks.tick().await;
        if let Ok(queued) = db.queued().await {
            points.push(Point {
                at: start.elapsed(),
                queued,
            });
        }
    }
    points
}

/// Ingest-to-queryable latencies of the sampled events.
#[derive(Debug)]
pub(crate) struct Queryable {
    pub samples: u64,
    pub seen: u64,
    /// From the request's send to the poll that found the event, µs.
    pub latency: Histogram<u64>,
    pub failed_polls: u64,
}

/// Looks for the pending samples until `finish` is set, then polls once more and stops.
///
/// The pause between polls is 1/20 of the oldest sample's age, between 10 and 250 ms: a fresh
/// sample is timed to about 10 ms, and a backlog of old ones costs few queries.
pub(crate) async fn watch_queryable(
    db: Db,
    project: i32,
    mut samples: UnboundedReceiver<Sample>,
    finish: Rc<Cell<bool>>,
) -> Queryable {
    let mut result = Queryable {
        samples: 0,
        seen: 0,
        latency: latency_histogram(),
        failed_polls: 0,
    };
    let mut pending: Vec<Sample> = Vec::new();
    loop {
        let finishing = finish.get();
        while let Ok(sample) = samples.try_recv() {
            result.samples += 1;
            pending.push(sample);
        }
        if !pending.is_empty() {
            let ids: Vec<&str> = pending.iter().map(|s| s.event_id.as_str()).collect();
            match db.found(project, &ids).await {
                Ok(found) => {
                    let now = Instant::now();
                    pending.retain(|sample| {
                        let seen = found.contains(&sample.event_id);
                        if seen {
                            result.seen += 1;
                            result.latency.saturating_record(micros(now - sample.sent));
                        }
                        !seen
                    });
                }
                Err(_) => result.failed_polls += 1,
            }
        }
        if finishing {
            break;
        }
        let oldest = pending.iter().map(|s| s.sent.elapsed()).max();
        let pause = (oldest.unwrap_or_default() / 20)
            .clamp(Duration::from_millis(10), Duration::from_millis(250));
        tokio::time::sleep(pause).await;
    }
    result
}
