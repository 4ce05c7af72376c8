//! One keep-alive HTTP/1.1 connection (hyper's low-level client) and the requests it sends.

use std::net::SocketAddr;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http1::{self, SendRequest};
use hyper::header::{HeaderName, HeaderValue, CONTENT_ENCODING, CONTENT_TYPE, HOST};
use hyper::{Method, Request, StatusCode, Uri};
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;

/// Why a request got no status.
#[derive(Debug)]
pub(crate) enum SendError {
    Connect(std::io::Error),
    Http(hyper::Error),
}

impl std::fmt::Display for SendError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SendError::Connect(err) => write!(f, "cannot connect: {err}"),
            SendError::Http(err) => write!(f, "HTTP: {err}"),
        }
    }
}

/// The parts every request shares, built once and cloned by reference count.
#[derive(Debug, Clone)]
pub(crate) struct RequestParts {
    pub addr: SocketAddr,
    uri: Uri,
    host: HeaderValue,
    auth: HeaderValue,
    content_type: HeaderValue,
    gzip: HeaderValue,
}

const X_SENTRY_AUTH: HeaderName = HeaderName::from_static("x-sentry-auth");

impl RequestParts {
    /// `path` is the origin-form target (e.g. `/api/1/envelope/`); `key` the public key.
    pub(crate) fn new(addr: SocketAddr, path: &str, key: &str) -> Result<RequestParts, String> {
        let auth = format!("Sentry sentry_key={key}, sentry_version=7, sentry_client=loadgen/1.0");
        Ok(RequestParts {
            addr,
            uri: path
                .parse()
                .map_err(|err| format!("path `{path}`: {err}"))?,
            host: HeaderValue::from_str(&addr.to_string()).map_err(|err| err.to_string())?,
            auth: HeaderValue::from_str(&auth).map_err(|err| err.to_string())?,
            content_type: HeaderValue::from_static("application/x-sentry-envelope"),
            gzip: HeaderValue::from_static("gzip"),
        })
    }

    /// `POST` of an envelope body.
    pub(crate) fn envelope(&self, body: Bytes, gzipped: bool) -> Request<Full<Bytes>> {
        let mut request = self.get(body);
        *request.method_mut() = Method::POST;
        let headers = request.headers_mut();
        headers.insert(X_SENTRY_AUTH, self.auth.clone());
        headers.insert(CONTENT_TYPE, self.content_type.clone());
        if gzipped {
            headers.insert(CONTENT_ENCODING, self.gzip.clone());
        }
        request
    }

    /// `GET` of the path (with an empty body for `/health`).
    pub(crate) fn get(&self, body: Bytes) -> Request<Full<Bytes>> {
        let mut request = Request::new(Full::new(body));
        *request.uri_mut() = self.uri.clone();
        request.headers_mut().insert(HOST, self.host.clone());
        request
    }
}

/// A connection with at most one request in flight.
pub(crate) struct Connection {
    sender: SendRequest<Full<Bytes>>,
}

impl Connection {
    /// Opens a connection; its I/O runs as a task on the current `LocalSet`.
    pub(crate) async fn open(addr: SocketAddr) -> Result<Connection, SendError> {
        let stream = TcpStream::connect(addr).await.map_err(SendError::Connect)?;
        stream.set_nodelay(true).map_err(SendError::Connect)?;
        let (sender, connection) = http1::handshake(TokioIo::new(stream))
            .await
            .map_err(SendError::Http)?;
        // Ends when the connection closes or the sender is dropped.
        tokio::task::spawn_local(async move {
            if let Err(err) = connection.await {
                // The worker sees the same failure on its next request and reconnects.
                drop(err);
            }
        });
        Ok(Connection { sender })
    }

    /// Sends one request and reads the whole answer, returning its status.
    pub(crate) async fn send(
        &mut self,
        request: Request<Full<Bytes>>,
    ) -> Result<StatusCode, SendError> {
        self.sender.ready().await.map_err(SendError::Http)?;
        let response = self
            .sender
            .send_request(request)
            .await
            .map_err(SendError::Http)?;
        let status = response.status();
        let mut body = response.into_body();
        while let Some(frame) = body.frame().await {
            frame.map_err(SendError::Http)?;
        }
        Ok(status)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::convert::Infallible;
    use std::rc::Rc;

    use hyper::body::Incoming;
    use hyper::server::conn::http1 as server;
    use hyper::service::service_fn;
    use tokio::net::TcpListener;

    /// A receiver on 127.0.0.1:0 that answers 200 with the body's length and closes after
    /// `requests` requests on its one connection.
    async fn receiver() -> SocketAddr {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::task::spawn_local(async move {
            let (stream, _) = listener.accept().await.unwrap();
            let service = service_fn(|request: Request<Incoming>| async move {
                let auth = request.headers().get("x-sentry-auth").cloned();
                let body = request.into_body().collect().await.unwrap().to_bytes();
                let answer = format!("{} {:?}", body.len(), auth);
                Ok::<_, Infallible>(hyper::Response::new(Full::new(Bytes::from(answer))))
            });
            let conn = server::Builder::new().serve_connection(TokioIo::new(stream), service);
            conn.await.unwrap();
        });
        addr
    }

    #[test]
    fn sends_many_requests_on_one_connection() {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        tokio::task::LocalSet::new().block_on(&runtime, async {
            let addr = receiver().await;
            let parts = Rc::new(RequestParts::new(addr, "/api/1/envelope/", "abc").unwrap());
            let mut connection = Connection::open(addr).await.unwrap();
            for i in 0..100 {
                let body = Bytes::from(vec![b'x'; i]);
                let status = connection.send(parts.envelope(body, i % 3 == 0)).await;
                assert_eq!(status.unwrap(), StatusCode::OK);
            }
        });
    }
}
