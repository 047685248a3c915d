//! The HTTP-serving layer the sandboxes share.
//!
//! A sandbox is a function from a fully read request to a response ([`Handler`]). [`Server::spawn`]
//! runs it on an already bound listener (so callers can bind port 0 and learn the real port first),
//! one hyper HTTP/1.1 connection task per client, and shuts down gracefully: stop accepting, let
//! in-flight answers finish for a bounded time, then drop what is left.
//!
//! The helpers below cover what every sandbox needs and nothing more: JSON answers, OAuth2/CSC-style
//! error bodies (`{"error": ..., "error_description": ...}`), `application/x-www-form-urlencoded`
//! bodies and HTTP Basic / Bearer credentials.

use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use base64ct::{Base64, Encoding};
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::header::{AUTHORIZATION, CONTENT_TYPE, HeaderMap, HeaderValue};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Method, StatusCode};
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::{JoinHandle, JoinSet};

use crate::{Error, Result};

/// Largest request body a sandbox reads (1 MiB); bigger bodies get `413`.
pub const MAX_BODY_BYTES: usize = 1 << 20;

/// How long a shutdown waits for in-flight answers before dropping them.
pub const SHUTDOWN_GRACE: Duration = Duration::from_secs(2);

/// A request whose body has been read in full.
pub type Request = hyper::Request<Bytes>;

/// What a sandbox answers.
pub type Response = hyper::Response<Full<Bytes>>;

/// The future a [`Handler`] returns.
pub type ResponseFuture = Pin<Box<dyn Future<Output = Response> + Send>>;

/// A sandbox: turns each request into a response. Cheap to clone (an `Arc`).
pub type Handler = Arc<dyn Fn(Request) -> ResponseFuture + Send + Sync>;

/// Any handler: turns a request `R` into an answer `O` ([`Handler`] and [`StreamingHandler`] are
/// two of them).
pub type HandlerFn<R, O> = Arc<dyn Fn(R) -> Pin<Box<dyn Future<Output = O> + Send>> + Send + Sync>;

/// A request whose body has not been read yet (see [`read_body`]).
pub type StreamingRequest = hyper::Request<Incoming>;

/// The future a [`StreamingHandler`] returns: `None` closes the connection without an answer
/// (a "down" service for clients to survive).
pub type StreamingFuture = Pin<Box<dyn Future<Output = Option<Response>> + Send>>;

/// A sandbox that looks at method, path and headers before deciding whether (and how much of) the
/// body to read. Cheap to clone (an `Arc`).
pub type StreamingHandler = Arc<dyn Fn(StreamingRequest) -> StreamingFuture + Send + Sync>;

/// Why [`read_body`] gave up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BodyError {
    /// The body is longer than the limit (only the limit was read).
    TooLarge,
    /// The connection failed while reading.
    Unreadable,
}

/// How much of an oversized body [`read_body`] reads and discards after the limit, so the client
/// (still sending) gets the 413 instead of a broken pipe; beyond this the connection is dropped.
pub const DRAIN_LIMIT: usize = 16 << 20;

/// Reads a body, keeping at most `limit` bytes in memory. A longer body is refused with
/// [`BodyError::TooLarge`]; its remainder (up to [`DRAIN_LIMIT`]) is read and thrown away.
///
/// # Errors
/// [`BodyError`].
pub async fn read_body(mut body: Incoming, limit: usize) -> Result<Bytes, BodyError> {
    let mut kept = bytes::BytesMut::new();
    let mut total = 0usize;
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(|_| BodyError::Unreadable)?;
        let Ok(data) = frame.into_data() else {
            continue; // trailers
        };
        total = total.saturating_add(data.len());
        if total > limit {
            if total > DRAIN_LIMIT {
                return Err(BodyError::TooLarge);
            }
            kept = bytes::BytesMut::new();
            continue;
        }
        kept.extend_from_slice(&data);
    }
    if total > limit {
        return Err(BodyError::TooLarge);
    }
    Ok(kept.freeze())
}

/// The error a streaming service returns to make hyper drop the connection without answering.
#[derive(Debug)]
struct CloseConnection;

impl std::fmt::Display for CloseConnection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("connection closed by the sandbox (down)")
    }
}

impl std::error::Error for CloseConnection {}

/// Binds `addr` (port 0 picks a free port); returns the listener and the address it got.
///
/// # Errors
/// [`Error::Bind`] when the operating system refuses the address.
pub async fn bind(addr: SocketAddr) -> Result<(TcpListener, SocketAddr)> {
    let bind_error = |source| Error::Bind { addr, source };
    let listener = TcpListener::bind(addr).await.map_err(bind_error)?;
    let bound = listener.local_addr().map_err(bind_error)?;
    Ok((listener, bound))
}

/// A [`Handler`] or [`StreamingHandler`] that answers each request with `handle(state, request)`:
/// a sandbox's state shared by all its requests.
pub fn state_handler<S, R, O, F>(
    state: &Arc<S>,
    handle: impl Fn(Arc<S>, R) -> F + Send + Sync + 'static,
) -> HandlerFn<R, O>
where
    S: Send + Sync + 'static,
    F: Future<Output = O> + Send + 'static,
{
    let state = Arc::clone(state);
    Arc::new(move |request| Box::pin(handle(Arc::clone(&state), request)))
}

/// A running HTTP server: its address and the means to stop it.
#[derive(Debug)]
pub struct Server {
    addr: SocketAddr,
    stop: watch::Sender<bool>,
    task: JoinHandle<()>,
}

impl Server {
    /// Serves `handler` on `listener` in a background task.
    ///
    /// # Errors
    /// [`Error::Bind`] when the listener's address cannot be read.
    pub fn spawn(listener: TcpListener, handler: Handler) -> Result<Self> {
        let streaming: StreamingHandler = Arc::new(move |request| {
            let handler = handler.clone();
            Box::pin(async move { Some(dispatch(handler, request).await) })
        });
        Self::spawn_streaming(listener, streaming)
    }

    /// Serves a [`StreamingHandler`] on `listener` in a background task.
    ///
    /// # Errors
    /// [`Error::Bind`] when the listener's address cannot be read.
    pub fn spawn_streaming(listener: TcpListener, handler: StreamingHandler) -> Result<Self> {
        Self::spawn_with(listener, handler, None)
    }

    /// Serves a [`StreamingHandler`] over TLS with `tls` (mutual TLS when it asks for client
    /// certificates): a connection whose handshake fails is dropped; each request of a connection
    /// carries the client certificate's subject CN as a [`PeerIdentity`] extension.
    ///
    /// # Errors
    /// [`Error::Bind`] when the listener's address cannot be read.
    pub fn spawn_streaming_tls(
        listener: TcpListener,
        handler: StreamingHandler,
        tls: Arc<rustls::ServerConfig>,
    ) -> Result<Self> {
        Self::spawn_with(
            listener,
            handler,
            Some(tokio_rustls::TlsAcceptor::from(tls)),
        )
    }

    fn spawn_with(
        listener: TcpListener,
        handler: StreamingHandler,
        tls: Option<tokio_rustls::TlsAcceptor>,
    ) -> Result<Self> {
        let addr = listener.local_addr().map_err(|source| Error::Bind {
            addr: SocketAddr::from(([0, 0, 0, 0], 0)),
            source,
        })?;
        let (stop, stopped) = watch::channel(false);
        let task = tokio::spawn(accept_loop(listener, handler, tls, stopped));
        Ok(Self { addr, stop, task })
    }

    /// The address the server listens on.
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// Stops accepting, waits up to [`SHUTDOWN_GRACE`] for in-flight answers, then returns.
    pub async fn shutdown(self) {
        // An error only means the accept loop has already ended.
        let _ = self.stop.send(true);
        if let Err(error) = self.task.await {
            tracing::warn!(%error, "sandbox accept loop ended abnormally");
        }
    }
}

/// The subject CN of the client certificate a mutual-TLS connection presented.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PeerIdentity(pub String);

/// How long a TLS handshake may take.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// Runs the TLS handshake of `stream`, then serves it with each request marked with the client
/// certificate's CN.
async fn serve_tls_connection(
    stream: tokio::net::TcpStream,
    peer: SocketAddr,
    handler: StreamingHandler,
    acceptor: tokio_rustls::TlsAcceptor,
    stopped: watch::Receiver<bool>,
) {
    let accept = acceptor.accept(stream).into_fallible();
    let tls = match tokio::time::timeout(HANDSHAKE_TIMEOUT, accept).await {
        Ok(Ok(tls)) => tls,
        Ok(Err((error, stream))) => {
            tracing::info!(%peer, %error, "TLS handshake refused");
            linger(stream).await;
            return;
        }
        Err(_) => {
            tracing::info!(%peer, "TLS handshake timed out");
            return;
        }
    };
    let identity = tls
        .get_ref()
        .1
        .peer_certificates()
        .and_then(|chain| chain.first())
        .and_then(|leaf| crate::nap::eu::common_name(leaf))
        .map(PeerIdentity);
    let marked: StreamingHandler = Arc::new(move |mut request| {
        if let Some(identity) = &identity {
            request.extensions_mut().insert(identity.clone());
        }
        handler(request)
    });
    serve_connection(tls, peer, marked, stopped).await;
}

/// How long a refused handshake's connection is kept open to read what the client still sends.
const LINGER: Duration = Duration::from_secs(1);

/// Closes a connection whose handshake was refused the way careful servers do: the alert is
/// already written, so send FIN, then read and drop what the client still sends for up to
/// [`LINGER`]. With TLS 1.3 a client whose certificate is refused has already finished its side
/// of the handshake and sent its request; closing with that request unread makes the kernel
/// answer with a reset, which can destroy the alert before the client reads it, and the client
/// then sees a bare protocol error instead of `certificate_required`.
async fn linger(mut stream: tokio::net::TcpStream) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    if stream.shutdown().await.is_err() {
        return;
    }
    let mut sink = [0u8; 4096];
    let _ = tokio::time::timeout(LINGER, async {
        while matches!(stream.read(&mut sink).await, Ok(n) if n > 0) {}
    })
    .await;
}

async fn accept_loop(
    listener: TcpListener,
    handler: StreamingHandler,
    tls: Option<tokio_rustls::TlsAcceptor>,
    mut stopped: watch::Receiver<bool>,
) {
    let mut connections = JoinSet::new();
    loop {
        while connections.try_join_next().is_some() {}
        tokio::select! {
            _ = stopped.changed() => break,
            accepted = listener.accept() => {
                let (stream, peer) = match accepted {
                    Ok(pair) => pair,
                    Err(error) => {
                        // Typically EMFILE: back off instead of spinning.
                        tracing::warn!(%error, "accept failed");
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        continue;
                    }
                };
                match &tls {
                    Some(acceptor) => connections.spawn(serve_tls_connection(
                        stream,
                        peer,
                        handler.clone(),
                        acceptor.clone(),
                        stopped.clone(),
                    )),
                    None => connections.spawn(serve_connection(stream, peer, handler.clone(), stopped.clone())),
                };
            }
        }
    }
    drop(listener);
    let drained = tokio::time::timeout(SHUTDOWN_GRACE, async {
        while connections.join_next().await.is_some() {}
    })
    .await;
    if drained.is_err() {
        tracing::debug!("dropping connections still busy after the shutdown grace period");
        connections.abort_all();
    }
}

async fn serve_connection<S>(
    stream: S,
    peer: SocketAddr,
    handler: StreamingHandler,
    mut stopped: watch::Receiver<bool>,
) where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let service = service_fn(move |request: hyper::Request<Incoming>| {
        let handler = handler.clone();
        async move { handler(request).await.ok_or(CloseConnection) }
    });
    let connection = http1::Builder::new().serve_connection(TokioIo::new(stream), service);
    tokio::pin!(connection);
    tokio::select! {
        result = connection.as_mut() => {
            if let Err(error) = result {
                tracing::debug!(%peer, %error, "connection ended with an error");
            }
        }
        _ = stopped.changed() => {
            connection.as_mut().graceful_shutdown();
            if let Err(error) = connection.await {
                tracing::debug!(%peer, %error, "connection ended with an error during shutdown");
            }
        }
    }
}

async fn dispatch(handler: Handler, request: hyper::Request<Incoming>) -> Response {
    let (parts, body) = request.into_parts();
    let body = match read_body(body, MAX_BODY_BYTES).await {
        Ok(body) => body,
        Err(error) => {
            return if error == BodyError::TooLarge {
                error_response(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    "invalid_request",
                    &format!("request body larger than {MAX_BODY_BYTES} bytes"),
                )
            } else {
                error_response(
                    StatusCode::BAD_REQUEST,
                    "invalid_request",
                    "request body could not be read",
                )
            };
        }
    };
    let method = parts.method.clone();
    let path = parts.uri.path().to_owned();
    let response = handler(hyper::Request::from_parts(parts, body)).await;
    tracing::debug!(%method, %path, status = response.status().as_u16(), "answered");
    response
}

/// A JSON answer.
pub fn json_response(status: StatusCode, body: &serde_json::Value) -> Response {
    let bytes = serde_json::to_vec(body).unwrap_or_else(|_| b"{}".to_vec());
    let mut response = hyper::Response::new(Full::new(Bytes::from(bytes)));
    *response.status_mut() = status;
    response
        .headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    response
}

/// An error answer in the shape OAuth2 (RFC 6749 section 5.2) and CSC API v2 share:
/// `{"error": code, "error_description": description}`.
pub fn error_response(status: StatusCode, code: &str, description: &str) -> Response {
    let mut response = json_response(
        status,
        &serde_json::json!({ "error": code, "error_description": description }),
    );
    if status == StatusCode::UNAUTHORIZED {
        // RFC 6750 section 3: a 401 names the scheme it expects.
        let challenge = format!("Bearer error=\"{code}\"");
        if let Ok(value) = HeaderValue::from_str(&challenge) {
            response
                .headers_mut()
                .insert(hyper::header::WWW_AUTHENTICATE, value);
        }
    }
    response
}

/// An error answer in the shape the NAP and mail APIs use: `{"error": code, "message": reason}`
/// (a 401 also names the Bearer scheme in `WWW-Authenticate`).
pub fn message_error(status: StatusCode, code: &str, message: &str) -> Response {
    let mut response = json_response(
        status,
        &serde_json::json!({ "error": code, "message": message }),
    );
    if status == StatusCode::UNAUTHORIZED {
        let challenge = format!("Bearer error=\"{code}\"");
        if let Ok(value) = HeaderValue::from_str(&challenge) {
            response
                .headers_mut()
                .insert(hyper::header::WWW_AUTHENTICATE, value);
        }
    }
    response
}

/// `true` for the methods a JSON API endpoint accepts a body with.
pub fn is_post(method: &Method) -> bool {
    method == Method::POST
}

/// Parses an `application/x-www-form-urlencoded` body into name/value pairs, in order.
///
/// # Errors
/// A description of the first malformed pair (bad percent escape, not UTF-8).
pub fn parse_form(body: &[u8]) -> Result<Vec<(String, String)>, String> {
    let mut pairs = Vec::new();
    for pair in body.split(|&b| b == b'&').filter(|p| !p.is_empty()) {
        let (name, value) = match pair.iter().position(|&b| b == b'=') {
            Some(at) => (&pair[..at], &pair[at + 1..]),
            None => (pair, &b""[..]),
        };
        pairs.push((form_decode(name)?, form_decode(value)?));
    }
    Ok(pairs)
}

/// Decodes one form-encoded component: `+` is a space, `%XX` a byte.
///
/// # Errors
/// A description of a bad escape or of bytes that are not UTF-8.
pub fn form_decode(raw: &[u8]) -> Result<String, String> {
    let mut out = Vec::with_capacity(raw.len());
    let mut i = 0;
    while i < raw.len() {
        match raw[i] {
            b'+' => out.push(b' '),
            b'%' => {
                let hex = raw
                    .get(i + 1..i + 3)
                    .and_then(|h| std::str::from_utf8(h).ok())
                    .and_then(|h| u8::from_str_radix(h, 16).ok())
                    .ok_or_else(|| {
                        format!(
                            "bad percent escape in {:?}",
                            String::from_utf8_lossy(raw)
                                .chars()
                                .take(40)
                                .collect::<String>()
                        )
                    })?;
                out.push(hex);
                i += 2;
            }
            other => out.push(other),
        }
        i += 1;
    }
    String::from_utf8(out).map_err(|_| "form value is not UTF-8".to_owned())
}

/// The `user:password` pair of an `Authorization: Basic ...` header, each part form-decoded as
/// RFC 6749 section 2.3.1 asks for client credentials.
pub fn basic_auth(headers: &HeaderMap) -> Option<(String, String)> {
    let value = headers.get(AUTHORIZATION)?.to_str().ok()?;
    let (scheme, encoded) = value.split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let decoded = Base64::decode_vec(encoded.trim()).ok()?;
    let text = String::from_utf8(decoded).ok()?;
    let (user, password) = text.split_once(':')?;
    Some((
        form_decode(user.as_bytes()).ok()?,
        form_decode(password.as_bytes()).ok()?,
    ))
}

/// The token of an `Authorization: Bearer ...` header.
pub fn bearer_token(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then_some(token.trim())
        .filter(|t| !t.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn form_decoding_handles_plus_and_escapes() {
        let pairs =
            parse_form(b"grant_type=client_credentials&client_id=a+b&client_secret=x%2By%3D")
                .unwrap();
        assert_eq!(
            pairs,
            vec![
                ("grant_type".into(), "client_credentials".into()),
                ("client_id".into(), "a b".into()),
                ("client_secret".into(), "x+y=".into()),
            ]
        );
    }

    #[test]
    fn form_decoding_rejects_bad_escapes() {
        assert!(parse_form(b"a=%zz").is_err());
        assert!(parse_form(b"a=%2").is_err());
        assert!(parse_form(b"a=%ff").is_err());
    }

    #[test]
    fn basic_and_bearer_credentials() {
        let mut headers = HeaderMap::new();
        let encoded = Base64::encode_string(b"client:s%3Acret");
        headers.insert(
            AUTHORIZATION,
            HeaderValue::from_str(&format!("Basic {encoded}")).unwrap(),
        );
        assert_eq!(
            basic_auth(&headers),
            Some(("client".into(), "s:cret".into()))
        );
        assert_eq!(bearer_token(&headers), None);
        headers.insert(AUTHORIZATION, HeaderValue::from_static("bearer abc"));
        assert_eq!(bearer_token(&headers), Some("abc"));
        assert_eq!(basic_auth(&headers), None);
    }
}
