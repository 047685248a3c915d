//! Keep-alive connections for requests that leave the app.
//!
//! `wasmtime_wasi_http::default_send_request` opens a new TCP connection for every request and
//! closes it after the answer. ecoc's steps call the same few services all the time (the QTSP,
//! the NAP), so the host keeps finished HTTP/1.1 connections and sends the next request to the
//! same origin over one of them: no connect, no accept on the other side, no new connection task.
//!
//! - A connection goes back to the pool when its response body has been read to the end; a body
//!   dropped early, an error or a timeout closes it.
//! - A pooled connection the server has closed meanwhile is noticed before use, or, when the close
//!   races the request, hyper hands the unsent request back ([`SendRequest::try_send_request`])
//!   and it goes out on a new connection. A request that was sent is never sent twice.
//! - At most [`MAX_IDLE_PER_ORIGIN`] idle connections per origin, none older than [`IDLE_TIMEOUT`].
//! - The key names the scheme, the authority and, for HTTPS through a `[[client_tls]]` entry,
//!   that entry's TLS configuration: a connection made with one client certificate is never used
//!   for another.
//!
//! hyper-util's pooled client does this too, but it takes over connecting, and the host's TLS
//! connect (the entry's roots and client certificate, the handshake under the connect timeout, the
//! `wasi:http` error codes) stays as it is.

use std::collections::HashMap;
use std::pin::Pin;
use std::sync::{Arc, LazyLock, Mutex};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::{Request, Response};
use http_body::Body;
use hyper::client::conn::http1::SendRequest;
use wasmtime_wasi_http::{Error as HttpError, WasiBody};

/// Most idle connections kept for one origin.
pub const MAX_IDLE_PER_ORIGIN: usize = 32;
/// How long an idle connection is kept (servers commonly close theirs after 60 s or more).
pub const IDLE_TIMEOUT: Duration = Duration::from_secs(30);

/// Which connections may carry a request: same scheme and authority, and for TLS the same
/// configuration (held, so its address cannot be reused while the key lives).
#[derive(Clone)]
pub(crate) struct Origin {
    name: String,
    tls: Option<Arc<rustls::ClientConfig>>,
}

impl Origin {
    pub(crate) fn new(
        scheme: &str,
        authority: &str,
        tls: Option<Arc<rustls::ClientConfig>>,
    ) -> Self {
        Self {
            name: format!("{scheme}://{authority}"),
            tls,
        }
    }

    fn same(&self, other: &Self) -> bool {
        self.name == other.name
            && match (&self.tls, &other.tls) {
                (None, None) => true,
                (Some(a), Some(b)) => Arc::ptr_eq(a, b),
                _ => false,
            }
    }
}

struct Idle {
    origin: Origin,
    sender: SendRequest<WasiBody>,
    since: Instant,
}

/// The idle connections of this process, by origin name.
#[derive(Default)]
pub(crate) struct ConnectionPool {
    idle: Mutex<HashMap<String, Vec<Idle>>>,
}

static POOL: LazyLock<Arc<ConnectionPool>> = LazyLock::new(Arc::default);

impl ConnectionPool {
    /// The process's pool.
    pub(crate) fn shared() -> Arc<Self> {
        Arc::clone(&POOL)
    }

    fn take(&self, origin: &Origin) -> Option<SendRequest<WasiBody>> {
        let mut idle = self.idle.lock().ok()?;
        let list = idle.get_mut(&origin.name)?;
        while let Some(entry) = list.pop() {
            if entry.origin.same(origin)
                && !entry.sender.is_closed()
                && entry.since.elapsed() < IDLE_TIMEOUT
            {
                return Some(entry.sender);
            }
        }
        None
    }

    fn put(&self, origin: Origin, sender: SendRequest<WasiBody>) {
        if sender.is_closed() {
            return;
        }
        let Ok(mut idle) = self.idle.lock() else {
            return;
        };
        let list = idle.entry(origin.name.clone()).or_default();
        list.retain(|e| !e.sender.is_closed() && e.since.elapsed() < IDLE_TIMEOUT);
        if list.len() < MAX_IDLE_PER_ORIGIN {
            list.push(Idle {
                origin,
                sender,
                since: Instant::now(),
            });
        }
    }

    /// Sends `request` (its URI already reduced to the path) over an idle connection to `origin`,
    /// or over a new one from `connect`. The response body fails with `ConnectionReadTimeout` when
    /// no frame arrives within `between_bytes`, and gives the connection back when read to the end.
    pub(crate) async fn send<C>(
        self: &Arc<Self>,
        origin: Origin,
        mut request: Request<WasiBody>,
        first_byte: Duration,
        between_bytes: Duration,
        connect: C,
    ) -> Result<Response<WasiBody>, HttpError>
    where
        C: Future<Output = Result<SendRequest<WasiBody>, HttpError>>,
    {
        while let Some(mut sender) = self.take(&origin) {
            if sender.ready().await.is_err() {
                continue;
            }
            match tokio::time::timeout(first_byte, sender.try_send_request(request)).await {
                Err(_) => return Err(HttpError::ConnectionReadTimeout),
                Ok(Ok(response)) => return Ok(self.wrap(response, origin, sender, between_bytes)),
                Ok(Err(mut failed)) => match failed.take_message() {
                    // Not sent: the connection closed first. Try the next one.
                    Some(unsent) => request = unsent,
                    None => return Err(HttpError::Hyper(failed.into_error())),
                },
            }
        }
        let mut sender = connect.await?;
        let response = tokio::time::timeout(first_byte, sender.send_request(request))
            .await
            .map_err(|_| HttpError::ConnectionReadTimeout)?
            .map_err(|e| {
                if e.is_timeout() {
                    HttpError::HttpResponseTimeout
                } else {
                    crate::client_tls::hyper_error(e)
                }
            })?;
        Ok(self.wrap(response, origin, sender, between_bytes))
    }

    fn wrap(
        self: &Arc<Self>,
        response: Response<hyper::body::Incoming>,
        origin: Origin,
        sender: SendRequest<WasiBody>,
        between_bytes: Duration,
    ) -> Response<WasiBody> {
        let pool = Arc::clone(self);
        response.map(|incoming| {
            let mut body = PooledBody {
                incoming,
                between_bytes,
                deadline: Box::pin(tokio::time::sleep(between_bytes)),
                release: Some((pool, origin, sender)),
            };
            // A response without a body (204, HEAD, `content-length: 0`) is already complete.
            if body.incoming.is_end_stream() {
                body.release();
            }
            http_body_util::BodyExt::boxed_unsync(body)
        })
    }
}

/// A response body that fails with `ConnectionReadTimeout` when no frame arrives within the
/// guest's between-bytes timeout, and returns its connection to the pool at its end.
struct PooledBody {
    incoming: hyper::body::Incoming,
    between_bytes: Duration,
    deadline: Pin<Box<tokio::time::Sleep>>,
    release: Option<(Arc<ConnectionPool>, Origin, SendRequest<WasiBody>)>,
}

impl PooledBody {
    fn release(&mut self) {
        if let Some((pool, origin, sender)) = self.release.take() {
            pool.put(origin, sender);
        }
    }
}

impl Body for PooledBody {
    type Data = Bytes;
    type Error = HttpError;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<http_body::Frame<Bytes>, HttpError>>> {
        let this = self.get_mut();
        match Pin::new(&mut this.incoming).poll_frame(cx) {
            Poll::Ready(Some(Ok(frame))) => {
                let next = tokio::time::Instant::now() + this.between_bytes;
                this.deadline.as_mut().reset(next);
                if this.incoming.is_end_stream() {
                    this.release();
                }
                Poll::Ready(Some(Ok(frame)))
            }
            Poll::Ready(Some(Err(e))) => {
                this.release = None;
                Poll::Ready(Some(Err(if e.is_timeout() {
                    HttpError::HttpResponseTimeout
                } else {
                    crate::client_tls::hyper_error(e)
                })))
            }
            Poll::Ready(None) => {
                this.release();
                Poll::Ready(None)
            }
            Poll::Pending => match this.deadline.as_mut().poll(cx) {
                Poll::Ready(()) => {
                    this.release = None;
                    Poll::Ready(Some(Err(HttpError::ConnectionReadTimeout)))
                }
                Poll::Pending => Poll::Pending,
            },
        }
    }

    fn is_end_stream(&self) -> bool {
        self.incoming.is_end_stream()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.incoming.size_hint()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::SocketAddr;
    use std::sync::atomic::{AtomicUsize, Ordering};

    use http_body_util::{BodyExt, Full};
    use hyper::service::service_fn;
    use hyper_util::rt::TokioIo;
    use tokio::net::TcpListener;

    use crate::client_tls::send_outside;
    use crate::client_tls::tests::get;

    /// A plain HTTP server answering each request with its path; counts the connections it
    /// accepted. With `close`, it asks the client to close after each answer.
    async fn server(close: bool) -> (SocketAddr, &'static AtomicUsize) {
        let accepted: &'static AtomicUsize = Box::leak(Box::new(AtomicUsize::new(0)));
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            while let Ok((tcp, _)) = listener.accept().await {
                accepted.fetch_add(1, Ordering::SeqCst);
                let service = service_fn(move |req: http::Request<hyper::body::Incoming>| {
                    let path = req.uri().path().to_owned();
                    async move {
                        let mut answer = http::Response::new(Full::new(bytes::Bytes::from(path)));
                        if close {
                            answer
                                .headers_mut()
                                .insert(http::header::CONNECTION, "close".parse().unwrap());
                        }
                        Ok::<_, std::convert::Infallible>(answer)
                    }
                });
                tokio::spawn(
                    hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(tcp), service),
                );
            }
        });
        (addr, accepted)
    }

    async fn fetch(url: &str) -> String {
        let (response, _io) = send_outside(get(url), None, None).await.unwrap();
        let body = response.into_body().collect().await.unwrap().to_bytes();
        String::from_utf8(body.to_vec()).unwrap()
    }

    #[tokio::test]
    async fn requests_one_after_another_share_one_connection() {
        let (addr, accepted) = server(false).await;
        for i in 0..5 {
            assert_eq!(
                fetch(&format!("http://{addr}/r{i}")).await,
                format!("/r{i}")
            );
        }
        assert_eq!(
            accepted.load(Ordering::SeqCst),
            1,
            "one connection for five requests"
        );
    }

    #[tokio::test]
    async fn a_server_that_closes_gets_a_new_connection_each_time() {
        let (addr, accepted) = server(true).await;
        for i in 0..3 {
            assert_eq!(
                fetch(&format!("http://{addr}/c{i}")).await,
                format!("/c{i}")
            );
        }
        assert_eq!(accepted.load(Ordering::SeqCst), 3);
    }

    #[tokio::test]
    async fn a_body_left_unread_does_not_give_its_connection_back() {
        let (addr, accepted) = server(false).await;
        let (unread, _io) = send_outside(get(&format!("http://{addr}/a")), None, None)
            .await
            .unwrap();
        assert_eq!(fetch(&format!("http://{addr}/b")).await, "/b");
        assert_eq!(
            accepted.load(Ordering::SeqCst),
            2,
            "the unread answer's connection is busy"
        );
        drop(unread);
        assert_eq!(fetch(&format!("http://{addr}/c")).await, "/c");
        assert_eq!(
            accepted.load(Ordering::SeqCst),
            2,
            "/b's connection serves /c"
        );
    }

    #[tokio::test]
    async fn a_pooled_connection_the_server_dropped_is_replaced() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let accepted: &'static AtomicUsize = Box::leak(Box::new(AtomicUsize::new(0)));
        // Serves one request per connection, then drops the socket without saying so.
        tokio::spawn(async move {
            while let Ok((tcp, _)) = listener.accept().await {
                accepted.fetch_add(1, Ordering::SeqCst);
                tokio::spawn(async move {
                    use tokio::io::{AsyncReadExt, AsyncWriteExt};
                    let mut tcp = tcp;
                    let mut buf = [0u8; 4096];
                    let _ = tcp.read(&mut buf).await;
                    let _ = tcp
                        .write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok")
                        .await;
                });
            }
        });
        assert_eq!(fetch(&format!("http://{addr}/1")).await, "ok");
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert_eq!(fetch(&format!("http://{addr}/2")).await, "ok");
        assert_eq!(accepted.load(Ordering::SeqCst), 2);
    }
}
