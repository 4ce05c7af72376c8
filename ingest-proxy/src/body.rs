//! Request bodies: read within the size limit, the deadline and the proxy's budget for bytes
//! being received, and drained before any refusal.
//!
//! A module of its own rather than a part of `routes`: the budget ([`Receiving`]) is part of
//! the shared state (`state`), which the routes depend on, so it cannot live in the routes.
//!
//! The budget bounds what all requests together hold while they arrive, so that many large
//! uploads at once get 503 instead of the proxy's memory; the deadline bounds how long a
//! client may take to send (408).
//!
//! An HTTP/1.1 server that answers while the client is still sending, and then closes, makes
//! the kernel reset the connection; a server that answers and keeps unread bytes on it leaves
//! the next request to race hyper's close. Either way an SDK, which sends its next envelope on
//! the same keep-alive connection, loses a request to a network error. So every refusal that
//! comes before the body is read (rate limits, bad paths, oversized bodies) first reads and
//! drops what the client sends, within a bound, and only past that bound says it closes.

use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::http::header::{CONNECTION, CONTENT_LENGTH};
use axum::http::{HeaderMap, HeaderValue};
use axum::response::{IntoResponse, Response};
use http_body_util::BodyExt;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use crate::error::ProxyError;

/// How much of a refused body is read and dropped so that the client sees the answer.
const DRAIN_AT_MOST: u64 = 64 * 1024 * 1024;
/// How long draining a refused body may take.
const DRAIN_TIME: Duration = Duration::from_secs(2);
/// The budget is counted in KiB so that it fits a semaphore's permits.
const KIB: u64 = 1024;

/// The declared Content-Length, if any and readable.
fn declared_length(headers: &HeaderMap) -> Option<u64> {
    headers
        .get(CONTENT_LENGTH)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.trim().parse::<u64>().ok())
}

/// The proxy's bounds on bodies being received; cheap to clone.
#[derive(Clone)]
pub struct Receiving {
    budget: Arc<Semaphore>,
    budget_bytes: u64,
    timeout: Duration,
}

impl Receiving {
    /// At most `budget_bytes` being received at once, each body within `timeout`.
    pub fn new(budget_bytes: u64, timeout: Duration) -> Self {
        let permits = usize::try_from(budget_bytes / KIB)
            .unwrap_or(usize::MAX)
            .max(1);
        Self {
            budget: Arc::new(Semaphore::new(permits.min(Semaphore::MAX_PERMITS))),
            budget_bytes,
            timeout,
        }
    }

    /// Reads the whole body, or answers: 413 as soon as it is known to exceed `limit` (at
    /// once for a Content-Length over it, else before buffering the byte that crosses it),
    /// 503 when the budget cannot hold it, 408 when it does not arrive in time.
    pub(crate) async fn read(
        &self,
        headers: &HeaderMap,
        body: Body,
        limit: u32,
    ) -> Result<Vec<u8>, Response> {
        let too_large = ProxyError::PayloadTooLarge {
            limit: u64::from(limit),
        };
        let declared = declared_length(headers);
        if declared.is_some_and(|length| length > u64::from(limit)) {
            return Err(refuse(headers, body, too_large).await);
        }
        match tokio::time::timeout(self.timeout, self.read_within(declared, body, limit)).await {
            Ok(Ok(bytes)) => Ok(bytes),
            Ok(Err(Refusal { error, body: None })) => Err(error.into_response()),
            Ok(Err(Refusal {
                error,
                body: Some(rest),
            })) => Err(refuse_draining(rest, error).await),
            // What is still to come cannot be waited for.
            Err(_) => Err(closing(
                ProxyError::BodyTimeout {
                    seconds: self.timeout.as_secs().max(1),
                }
                .into_response(),
            )),
        }
    }

    async fn read_within(
        &self,
        declared: Option<u64>,
        mut body: Body,
        limit: u32,
    ) -> Result<Vec<u8>, Refusal> {
        // A declared length is reserved whole, in memory and in the budget; a chunked body
        // takes its share as it arrives.
        let Some(mut held) = self.take(declared.unwrap_or(0)) else {
            return Err(self.over_budget(body));
        };
        let mut buffer = Vec::with_capacity(declared.unwrap_or(0) as usize);
        while let Some(frame) = body.frame().await {
            let frame = frame.map_err(|err| Refusal {
                error: ProxyError::BodyRead(err.to_string()),
                body: None,
            })?;
            let Ok(data) = frame.into_data() else {
                continue;
            };
            let total = buffer.len() + data.len();
            if total > limit as usize {
                return Err(Refusal {
                    error: ProxyError::PayloadTooLarge {
                        limit: u64::from(limit),
                    },
                    body: Some(body),
                });
            }
            let needed = (total as u64).div_ceil(KIB);
            if needed > held.num_permits() as u64 {
                match self.take((needed - held.num_permits() as u64) * KIB) {
                    Some(more) => held.merge(more),
                    None => return Err(self.over_budget(body)),
                }
            }
            buffer.extend_from_slice(&data);
        }
        Ok(buffer)
    }

    /// Permits for `bytes` from the budget, `None` when it does not have them now.
    fn take(&self, bytes: u64) -> Option<OwnedSemaphorePermit> {
        let permits = u32::try_from(bytes.div_ceil(KIB)).ok()?;
        self.budget.clone().try_acquire_many_owned(permits).ok()
    }

    /// 503 for a body the budget cannot hold. What has been buffered is dropped; draining
    /// the rest costs no memory, and keeps the connection usable.
    fn over_budget(&self, rest: Body) -> Refusal {
        Refusal {
            error: ProxyError::Busy(format!(
                "it is receiving {} bytes of requests already",
                self.budget_bytes
            )),
            body: Some(rest),
        }
    }
}

/// A refusal while reading, with the rest of the body when it can still be drained.
struct Refusal {
    error: ProxyError,
    body: Option<Body>,
}

/// `error`'s answer, given after the body was read and dropped (see the module comment).
/// A Content-Length past the drain bound is not waited for: the answer closes at once.
pub(crate) async fn refuse(headers: &HeaderMap, body: Body, error: ProxyError) -> Response {
    if declared_length(headers).is_some_and(|length| length > DRAIN_AT_MOST) {
        return closing(error.into_response());
    }
    refuse_draining(body, error).await
}

async fn refuse_draining(body: Body, error: ProxyError) -> Response {
    let response = error.into_response();
    if drain(body).await {
        response
    } else {
        closing(response)
    }
}

/// Reads the rest of `body` and drops it; false when it did not end within the bounds.
async fn drain(mut body: Body) -> bool {
    let read_to_end = async {
        let mut drained = 0u64;
        while let Some(frame) = body.frame().await {
            let Ok(frame) = frame else { return false };
            if let Ok(data) = frame.into_data() {
                drained += data.len() as u64;
                if drained > DRAIN_AT_MOST {
                    return false;
                }
            }
        }
        true
    };
    tokio::time::timeout(DRAIN_TIME, read_to_end)
        .await
        .unwrap_or(false)
}

/// `response` with `Connection: close`: hyper then closes after sending it, and the client
/// knows not to send on the connection again.
fn closing(mut response: Response) -> Response {
    response
        .headers_mut()
        .insert(CONNECTION, HeaderValue::from_static("close"));
    response
}

#[cfg(test)]
mod tests {
    use super::{refuse, Receiving};
    use crate::error::ProxyError;
    use axum::body::Body;
    use axum::http::{HeaderMap, HeaderValue, StatusCode};
    use std::time::Duration;

    fn receiving() -> Receiving {
        Receiving::new(1 << 20, Duration::from_secs(5))
    }

    async fn read(
        headers: &HeaderMap,
        body: Body,
        limit: u32,
    ) -> Result<Vec<u8>, axum::response::Response> {
        receiving().read(headers, body, limit).await
    }

    #[tokio::test]
    async fn reads_up_to_the_limit() {
        let headers = HeaderMap::new();
        assert_eq!(
            read(&headers, Body::from("12345"), 5).await.unwrap(),
            b"12345"
        );
        let refused = read(&headers, Body::from("123456"), 5).await.unwrap_err();
        assert_eq!(refused.status(), StatusCode::PAYLOAD_TOO_LARGE);
        assert!(!refused.headers().contains_key("connection"));
    }

    #[tokio::test]
    async fn a_declared_length_over_the_limit_is_refused_and_drained() {
        let mut declared = HeaderMap::new();
        declared.insert("content-length", HeaderValue::from_static("6"));
        let refused = read(&declared, Body::from("123456"), 5).await.unwrap_err();
        assert_eq!(refused.status(), StatusCode::PAYLOAD_TOO_LARGE);
        assert!(!refused.headers().contains_key("connection"));
    }

    #[tokio::test]
    async fn a_body_past_the_drain_bound_closes_the_connection() {
        let mut huge = HeaderMap::new();
        huge.insert("content-length", HeaderValue::from_static("1000000000"));
        let refused = refuse(&huge, Body::empty(), ProxyError::NotFound).await;
        assert_eq!(refused.status(), StatusCode::NOT_FOUND);
        assert_eq!(refused.headers()["connection"], "close");
    }

    #[tokio::test]
    async fn bodies_over_the_budget_are_503_and_give_it_back() {
        let receiving = Receiving::new(4096, Duration::from_secs(5));
        let mut declared = HeaderMap::new();
        declared.insert("content-length", HeaderValue::from_static("5000"));
        let body = Body::from(vec![b'x'; 5000]);
        let refused = receiving.read(&declared, body, 1 << 20).await.unwrap_err();
        assert_eq!(refused.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(refused.headers()["retry-after"], "1");
        // Chunked: refused once the bytes so far pass the budget.
        let chunks = futures_util::stream::iter(
            (0..5).map(|_| Ok::<_, std::io::Error>(bytes::Bytes::from(vec![b'y'; 1000]))),
        );
        let refused = receiving
            .read(&HeaderMap::new(), Body::from_stream(chunks), 1 << 20)
            .await
            .unwrap_err();
        assert_eq!(refused.status(), StatusCode::SERVICE_UNAVAILABLE);
        // Each refusal gave its share back: a body that fits is read.
        let body = Body::from(vec![b'z'; 4000]);
        assert_eq!(
            receiving
                .read(&HeaderMap::new(), body, 1 << 20)
                .await
                .unwrap()
                .len(),
            4000
        );
    }

    #[tokio::test]
    async fn a_body_that_does_not_arrive_in_time_is_408_and_closes() {
        let receiving = Receiving::new(1 << 20, Duration::from_millis(50));
        let never = futures_util::stream::pending::<Result<bytes::Bytes, std::io::Error>>();
        let refused = receiving
            .read(&HeaderMap::new(), Body::from_stream(never), 1 << 20)
            .await
            .unwrap_err();
        assert_eq!(refused.status(), StatusCode::REQUEST_TIMEOUT);
        assert_eq!(refused.headers()["connection"], "close");
    }

    #[tokio::test]
    async fn a_drained_refusal_keeps_the_connection() {
        let refused = refuse(&HeaderMap::new(), Body::from("abc"), ProxyError::NotFound).await;
        assert_eq!(refused.status(), StatusCode::NOT_FOUND);
        assert!(!refused.headers().contains_key("connection"));
    }
}
