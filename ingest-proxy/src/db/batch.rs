//! Gathers concurrent ingest requests into one `crashcache.ingest_batch` call.
//!
//! A commit (one WAL flush) per request is what bounds ingest, so requests are handed to a few
//! collector tasks through a queue. A free collector takes every request waiting, up to a
//! batch, sends them in one statement (one round trip, one transaction) and answers each.
//! Nothing waits to fill a batch: on an idle proxy a batch is one request; under load the
//! requests that arrive while the collectors are busy form the next batches. The queue is
//! bounded in bytes, so a database that falls behind makes the proxy answer 503 rather than
//! grow; a database that cannot be reached is tried again only after a back-off (`backoff`),
//! and requests meanwhile get 503 at once.

use std::net::IpAddr;
use std::sync::{Arc, Mutex as StdMutex};
use std::time::{Duration, Instant};

use deadpool_postgres::{Object, Pool, PoolError, TimeoutType};
use tokio::sync::{mpsc, oneshot, Mutex, OwnedSemaphorePermit, Semaphore};
use tokio_postgres::NoTls;

use super::backoff::Backoff;
use super::{DbError, IngestOutcome, Kind};

/// Bytes of request bodies a batch carries at most (a single larger body goes alone).
const BATCH_MAX_BYTES: usize = 8 * 1024 * 1024;
/// Request bodies waiting for a collector, at most; past it requests get 503.
const QUEUE_MAX_BYTES: usize = 64 * 1024 * 1024;
/// The queue's budget is counted in KiB so that it fits a semaphore's permits.
const KIB: usize = 1024;
/// Bodies a connection may carry in one statement and still go back to the pool. tokio-postgres
/// keeps, for a connection's life, two buffers as large as the largest statement it sent (the
/// one it encodes into and the socket's write buffer), so a connection that carried more is
/// closed after it: otherwise every pooled connection would hold twice the largest body seen.
const REUSE_CONNECTION_MAX_BYTES: usize = 1024 * 1024;

/// One request for `crashcache.ingest_batch`.
#[derive(Debug)]
pub struct IngestRequest {
    /// From the path; `None` for `/api/store/`.
    pub project_id: Option<i32>,
    /// From the request's credentials; `None` to let the database read the envelope's `dsn`.
    pub public_key: Option<String>,
    /// The body exactly as received.
    pub body: Vec<u8>,
    /// The `Content-Encoding` header as sent.
    pub content_encoding: Option<String>,
    /// Envelope or single event.
    pub kind: Kind,
    /// The client's address, for `{{auto}}`.
    pub client_ip: Option<IpAddr>,
}

/// Settings of the batcher.
#[derive(Debug, Clone, Copy)]
pub struct BatchSettings {
    /// Collector tasks, hence ingest statements in flight at once.
    pub concurrency: usize,
    /// Requests per batch at most.
    pub max_requests: usize,
    /// Limit on bodies as received, passed to the database.
    pub max_compressed_bytes: i32,
    /// Limit on bodies after decoding, passed to the database.
    pub max_decompressed_bytes: i32,
    /// Time for one batch statement.
    pub query_timeout: Duration,
}

struct Job {
    request: IngestRequest,
    reply: oneshot::Sender<Result<IngestOutcome, DbError>>,
    _queued: OwnedSemaphorePermit,
}

/// The handle requests go through; cheap to clone.
#[derive(Clone)]
pub struct Batcher {
    jobs: mpsc::UnboundedSender<Job>,
    queue_budget: Arc<Semaphore>,
}

type Shared<T> = Arc<StdMutex<T>>;

impl Batcher {
    /// Starts the collectors on the current runtime. They end when every handle is dropped.
    pub fn start(pool: Pool, settings: BatchSettings) -> Self {
        let (jobs, receiver) = mpsc::unbounded_channel();
        let receiver = Arc::new(Mutex::new(receiver));
        let backoff = Shared::default();
        for _ in 0..settings.concurrency.max(1) {
            let connections = Connections {
                pool: pool.clone(),
                backoff: Arc::clone(&backoff),
            };
            tokio::spawn(collect(connections, receiver.clone(), settings));
        }
        Batcher {
            jobs,
            queue_budget: Arc::new(Semaphore::new(QUEUE_MAX_BYTES / KIB)),
        }
    }

    /// Ingests one request, in whichever batch it falls into.
    pub async fn ingest(&self, request: IngestRequest) -> Result<IngestOutcome, DbError> {
        let kib = u32::try_from(request.body.len().div_ceil(KIB).max(1)).unwrap_or(u32::MAX);
        let queued = self
            .queue_budget
            .clone()
            .try_acquire_many_owned(kib)
            .map_err(|_| {
                DbError::Unavailable("the ingest queue is full: the database is behind".into())
            })?;
        let (reply, answer) = oneshot::channel();
        let job = Job {
            request,
            reply,
            _queued: queued,
        };
        self.jobs
            .send(job)
            .map_err(|_| DbError::Unavailable("the proxy is shutting down".into()))?;
        answer
            .await
            .unwrap_or_else(|_| Err(DbError::Unavailable("the ingest batch was lost".into())))
    }
}

/// `Unavailable` at once while connection attempts are held back.
fn admit(backoff: &Shared<Backoff>) -> Result<(), DbError> {
    lock(backoff).admit(Instant::now()).map_err(|wait| {
        DbError::Unavailable(format!(
            "the database could not be reached; the next attempt is in {} ms",
            wait.as_millis()
        ))
    })
}

fn lock(backoff: &Shared<Backoff>) -> std::sync::MutexGuard<'_, Backoff> {
    // The back-off holds two numbers: a panic elsewhere cannot leave them torn.
    backoff
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// The pool, and the back-off that its connection attempts obey.
struct Connections {
    pool: Pool,
    backoff: Shared<Backoff>,
}

impl Connections {
    /// A connection: an idle one from the pool, else a new one unless attempts are held back.
    /// A failed attempt holds the next ones back; healthy idle connections are used meanwhile,
    /// so one slow connection attempt does not refuse requests the pool could serve.
    async fn get(&self) -> Result<Object, DbError> {
        if self.pool.status().available == 0 {
            admit(&self.backoff)?;
        }
        match self.pool.get().await {
            Ok(client) => {
                lock(&self.backoff).succeeded();
                Ok(client)
            }
            // Opening a connection failed; a pool that is merely busy is not the database's fault.
            Err(err @ (PoolError::Backend(_) | PoolError::Timeout(TimeoutType::Create))) => {
                lock(&self.backoff).failed(Instant::now());
                Err(err.into())
            }
            Err(err) => Err(err.into()),
        }
    }

    /// A connection found closed in use: the database went away.
    fn lost(&self) {
        lock(&self.backoff).failed(Instant::now());
    }
}

/// One collector: takes what is waiting, ingests it, answers, repeats.
async fn collect(
    pool: Connections,
    receiver: Arc<Mutex<mpsc::UnboundedReceiver<Job>>>,
    settings: BatchSettings,
) {
    loop {
        let batch = {
            let mut receiver = receiver.lock().await;
            let Some(first) = receiver.recv().await else {
                return;
            };
            let mut bytes = first.request.body.len();
            let mut batch = vec![first];
            while batch.len() < settings.max_requests && bytes < BATCH_MAX_BYTES {
                match receiver.try_recv() {
                    Ok(job) => {
                        bytes += job.request.body.len();
                        batch.push(job);
                    }
                    Err(_) => break,
                }
            }
            batch
        };
        answer_batch(&pool, batch, &settings).await;
    }
}

async fn answer_batch(pool: &Connections, batch: Vec<Job>, settings: &BatchSettings) {
    let requests: Vec<&IngestRequest> = batch.iter().map(|job| &job.request).collect();
    match ingest_batch(pool, &requests, settings).await {
        Ok(outcomes) => {
            for (job, outcome) in batch.into_iter().zip(outcomes) {
                let _ = job.reply.send(Ok(outcome));
            }
        }
        // An error raised by SQL sinks the whole statement; alone, each request gets its own
        // answer, so one that trips it does not take the others with it.
        Err(DbError::Failed(_)) if batch.len() > 1 => {
            for job in batch {
                let outcome = ingest_batch(pool, &[&job.request], settings).await;
                let _ = job
                    .reply
                    .send(outcome.map(|mut outcomes| outcomes.remove(0)));
            }
        }
        Err(err) => {
            let message = err.to_string();
            let unavailable = matches!(err, DbError::Unavailable(_));
            for job in batch {
                let _ = job.reply.send(Err(if unavailable {
                    DbError::Unavailable(message.clone())
                } else {
                    DbError::Failed(message.clone())
                }));
            }
        }
    }
}

const INGEST_BATCH: &str = "SELECT status, outcome, event_id, project_id, archive_id, detail \
     FROM crashcache.ingest_batch($1::int[], $2::text[], $3::bytea[], $4::text[], $5::text[], \
     $6::inet[], $7::int, $8::int)";

/// One call of `crashcache.ingest_batch` through the connection's cached prepared statement,
/// bounded by the query timeout; its answers in request order. A connection that does not
/// answer in time is dropped, not reused.
async fn ingest_batch(
    pool: &Connections,
    requests: &[&IngestRequest],
    settings: &BatchSettings,
) -> Result<Vec<IngestOutcome>, DbError> {
    let client = pool.get().await?;
    let large = requests.iter().map(|r| r.body.len()).sum::<usize>() > REUSE_CONNECTION_MAX_BYTES;
    let project_ids: Vec<Option<i32>> = requests.iter().map(|r| r.project_id).collect();
    let public_keys: Vec<Option<&str>> = requests.iter().map(|r| r.public_key.as_deref()).collect();
    let bodies: Vec<&[u8]> = requests.iter().map(|r| r.body.as_slice()).collect();
    let encodings: Vec<Option<&str>> = requests
        .iter()
        .map(|r| r.content_encoding.as_deref())
        .collect();
    let kinds: Vec<&str> = requests.iter().map(|r| r.kind.as_str()).collect();
    let client_ips: Vec<Option<IpAddr>> = requests.iter().map(|r| r.client_ip).collect();
    let query = async {
        let statement = client.prepare_cached(INGEST_BATCH).await?;
        client
            .query(
                &statement,
                &[
                    &project_ids,
                    &public_keys,
                    &bodies,
                    &encodings,
                    &kinds,
                    &client_ips,
                    &settings.max_compressed_bytes,
                    &settings.max_decompressed_bytes,
                ],
            )
            .await
    };
    let rows = match tokio::time::timeout(settings.query_timeout, query).await {
        Ok(Ok(rows)) => {
            if large {
                drop(Object::take(client));
            }
            rows
        }
        Ok(Err(err)) => {
            if err.is_closed() {
                pool.lost();
            }
            if large {
                drop(Object::take(client));
            } else {
                // The function may have been replaced since the statement was prepared.
                client.statement_cache.clear();
            }
            return Err(err.into());
        }
        Err(_) => {
            // Ask the server to stop the statement, and never reuse this connection: its
            // answer may still be on the way.
            let cancel = client.cancel_token();
            tokio::spawn(async move {
                if let Err(err) = cancel.cancel_query(NoTls).await {
                    tracing::debug!(error = %err, "could not cancel a timed-out ingest");
                }
            });
            drop(Object::take(client));
            return Err(DbError::Unavailable(format!(
                "crashcache.ingest_batch did not answer within {} ms",
                settings.query_timeout.as_millis()
            )));
        }
    };
    if rows.len() != requests.len() {
        return Err(DbError::Failed(format!(
            "crashcache.ingest_batch answered {} rows for {} requests",
            rows.len(),
            requests.len()
        )));
    }
    rows.iter()
        .map(|row| {
            Ok(IngestOutcome {
                status: row.try_get(0)?,
                outcome: row.try_get(1)?,
                event_id: row.try_get(2)?,
                project_id: row.try_get(3)?,
                archive_id: row.try_get(4)?,
                detail: row.try_get(5)?,
            })
        })
        .collect()
}
