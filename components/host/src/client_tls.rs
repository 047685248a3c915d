//! `[[client_tls]]` of `runtime-config.toml`, in Spin's format: which roots and which client
//! certificate the host uses when a component calls a given host over HTTPS (mutual TLS, e.g.
//! the "secure link" an EU national access point requires).
//!
//! ```toml
//! [[client_tls]]
//! component_ids = ["submit"]                 # components this entry applies to
//! hosts = ["nap.example.eu"]                 # `host` (any port) or `host:port`
//! ca_roots_file = "certs/nap-ca.pem"         # extra trusted roots (PEM), optional
//! ca_use_webpki_roots = false                # default: true unless ca_roots_file is given
//! client_cert_file = "certs/client.pem"      # client certificate chain (PEM), leaf first
//! client_private_key_file = "certs/client.key" # its private key (PEM: PKCS#8, PKCS#1 or SEC1)
//! ```
//!
//! Paths are relative to the runtime-config file's folder. Every entry is read and checked when
//! the app loads: an unreadable or invalid PEM file, a certificate without its key (or a key
//! without its certificate), empty `component_ids` / `hosts` and unknown fields stop the host
//! with a message naming the file and the entry. The first entry matching a (component, host)
//! pair wins, as in Spin.
//!
//! At request time, an `https` request that leaves the app (not service chaining, not `self`,
//! and after the `allowed_outbound_hosts` check) and matches an entry is sent by
//! [`send_request`]: the host connects, does the TLS handshake with the entry's roots and client
//! certificate (rustls on the ring provider) and speaks HTTP/1.1 over it, with the timeouts of
//! the guest's `request-options` and the `wasi:http` error codes `default_send_request` gives.
//! Without a matching entry the request goes through `wasmtime_wasi_http::default_send_request`
//! unchanged.

use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use http::{Request, Response};
use http_body_util::BodyExt;
use hyper_util::rt::TokioIo;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use serde::Deserialize;
use tokio::net::TcpStream;
use wasmtime_wasi_http::{Error as HttpError, RequestOptions, WasiBody};

use crate::manifest::check_component_id;
use crate::outbound::Destination;

/// The I/O future `wasi:http` gets with a response: it drives the connection to the end.
pub(crate) type IoFuture = Box<dyn Future<Output = Result<(), HttpError>> + Send>;

/// What a timeout of `request-options` defaults to when the guest sets none
/// (`default_send_request`'s value).
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(600);

/// Field names people reach for that Spin spells differently, with Spin's name.
const SPIN_SPELLING: &[(&str, &str)] = &[
    ("cert_chain_file", "client_cert_file"),
    ("private_key_file", "client_private_key_file"),
    ("client_key_file", "client_private_key_file"),
    ("component_id", "component_ids"),
    ("host", "hosts"),
];

/// One `[[client_tls]]` entry as written (Spin's field names; unknown fields refused).
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawClientTls {
    component_ids: Vec<String>,
    hosts: Vec<String>,
    #[serde(default)]
    ca_use_webpki_roots: Option<bool>,
    /// Spin 4's switch for the operating system's store; only `false` can be honoured here.
    #[serde(default)]
    ca_use_platform_roots: Option<bool>,
    #[serde(default)]
    ca_roots_file: Option<PathBuf>,
    #[serde(default)]
    client_cert_file: Option<PathBuf>,
    #[serde(default)]
    client_private_key_file: Option<PathBuf>,
}

/// A host an entry applies to: `host` matches every port, `host:port` only that one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsHost {
    /// Lowercase, IPv6 literals without brackets (as [`Destination::host`]).
    pub host: String,
    pub port: Option<u16>,
}

impl TlsHost {
    fn parse(text: &str) -> Result<Self, String> {
        if text.is_empty() {
            return Err("a host is empty".into());
        }
        if text.contains("://") || text.contains('/') {
            return Err(format!(
                "host {text:?} must be `name` or `name:port`, without scheme or path"
            ));
        }
        if text.contains('*') {
            return Err(format!(
                "host {text:?}: wildcards are not supported here (Spin matches hosts exactly)"
            ));
        }
        let authority: http::uri::Authority = text
            .parse()
            .map_err(|e| format!("host {text:?} is not a valid `host[:port]`: {e}"))?;
        if authority.as_str().contains('@') {
            return Err(format!("host {text:?} must not contain user information"));
        }
        let host = authority.host();
        let port = match authority.as_str().strip_prefix(host) {
            Some("") => None,
            Some(rest) => Some(
                rest.strip_prefix(':')
                    .and_then(|p| p.parse::<u16>().ok())
                    .ok_or_else(|| format!("host {text:?}: the port must be a number"))?,
            ),
            None => return Err(format!("host {text:?} is not a valid `host[:port]`")),
        };
        let host = host.trim_start_matches('[').trim_end_matches(']');
        if host.is_empty() {
            return Err(format!("host {text:?} has no host name"));
        }
        Ok(Self {
            host: host.to_ascii_lowercase(),
            port,
        })
    }

    fn matches(&self, host: &str, port: Option<u16>) -> bool {
        self.host == host && (self.port.is_none() || self.port == port)
    }
}

impl std::fmt::Display for TlsHost {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let host = if self.host.contains(':') {
            format!("[{}]", self.host)
        } else {
            self.host.clone()
        };
        match self.port {
            Some(port) => write!(f, "{host}:{port}"),
            None => f.write_str(&host),
        }
    }
}

/// One parsed, checked `[[client_tls]]` entry with its ready TLS client configuration.
pub struct ClientTls {
    /// 1-based position in the file, for messages.
    entry: usize,
    component_ids: Vec<String>,
    hosts: Vec<TlsHost>,
    /// The client certificate chain file, when the entry has a client identity.
    identity: Option<PathBuf>,
    config: Arc<rustls::ClientConfig>,
}

impl std::fmt::Debug for ClientTls {
    // Never the configuration itself: it holds the private key.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClientTls")
            .field("entry", &self.entry)
            .field("component_ids", &self.component_ids)
            .field("hosts", &self.hosts)
            .field("identity", &self.identity)
            .finish_non_exhaustive()
    }
}

impl ClientTls {
    /// 1-based position of the entry in the runtime-config file.
    pub fn entry(&self) -> usize {
        self.entry
    }

    pub fn component_ids(&self) -> &[String] {
        &self.component_ids
    }

    pub fn hosts(&self) -> &[TlsHost] {
        &self.hosts
    }

    /// The client certificate chain file presented to servers, if any (never the key).
    pub fn identity(&self) -> Option<&Path> {
        self.identity.as_deref()
    }

    /// Reads one entry; `base` resolves relative paths; `entry` is 1-based.
    fn from_table(entry: usize, table: toml::Table, base: &Path) -> Result<Self, String> {
        let name = entry_name(entry, &table);
        let fail = |message: String| format!("{name}: {message}");
        for (wrong, right) in SPIN_SPELLING {
            if table.contains_key(*wrong) {
                return Err(fail(format!(
                    "unknown field `{wrong}`: Spin's runtime config calls it `{right}`"
                )));
            }
        }
        let raw = RawClientTls::deserialize(toml::Value::Table(table))
            .map_err(|e| fail(e.message().to_string()))?;
        if raw.component_ids.is_empty() {
            return Err(fail("`component_ids` may not be empty".into()));
        }
        for id in &raw.component_ids {
            check_component_id(id).map_err(fail)?;
        }
        if raw.hosts.is_empty() {
            return Err(fail("`hosts` may not be empty".into()));
        }
        let hosts = raw
            .hosts
            .iter()
            .map(|h| TlsHost::parse(h))
            .collect::<Result<Vec<_>, _>>()
            .map_err(fail)?;
        // Spin 3.x: the webpki roots unless the entry names its own roots. Spin 4 adds the
        // operating system's store (`ca_use_platform_roots`), which this host does not read.
        let use_webpki = match (raw.ca_use_platform_roots, raw.ca_use_webpki_roots) {
            (Some(true), _) => {
                return Err(fail(
                    "`ca_use_platform_roots = true` is not supported by ecoc up (it does not \
                     read the operating system's certificate store): use `ca_roots_file` and/or \
                     `ca_use_webpki_roots = true`"
                        .into(),
                ));
            }
            (_, Some(webpki)) => webpki,
            (Some(false), None) => false,
            (None, None) => raw.ca_roots_file.is_none(),
        };
        let mut roots = rustls::RootCertStore::empty();
        if let Some(file) = &raw.ca_roots_file {
            let path = base.join(file);
            for cert in read_certs(&path).map_err(fail)? {
                roots.add(cert).map_err(|e| {
                    fail(format!(
                        "{} holds a certificate that cannot be a trust root: {e}",
                        path.display()
                    ))
                })?;
            }
        }
        if use_webpki {
            roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
        }
        if roots.is_empty() {
            return Err(fail(
                "no trusted roots: give `ca_roots_file` or set `ca_use_webpki_roots = true`".into(),
            ));
        }
        let builder = rustls::ClientConfig::builder_with_provider(provider())
            .with_safe_default_protocol_versions()
            .map_err(|e| fail(format!("TLS set-up: {e}")))?
            .with_root_certificates(roots);
        let (config, identity) = match (raw.client_cert_file, raw.client_private_key_file) {
            (Some(cert_file), Some(key_file)) => {
                let cert_path = base.join(cert_file);
                let key_path = base.join(key_file);
                let chain = read_certs(&cert_path).map_err(fail)?;
                let key = PrivateKeyDer::from_pem_file(&key_path).map_err(|e| {
                    fail(format!(
                        "cannot read a private key from {}: {e}",
                        key_path.display()
                    ))
                })?;
                let config = builder.with_client_auth_cert(chain, key).map_err(|e| {
                    fail(format!(
                        "client certificate {} with key {}: {e}",
                        cert_path.display(),
                        key_path.display()
                    ))
                })?;
                (config, Some(cert_path))
            }
            (None, None) => (builder.with_no_client_auth(), None),
            (Some(_), None) => {
                return Err(fail(
                    "`client_cert_file` is given without `client_private_key_file`".into(),
                ));
            }
            (None, Some(_)) => {
                return Err(fail(
                    "`client_private_key_file` is given without `client_cert_file`".into(),
                ));
            }
        };
        Ok(Self {
            entry,
            component_ids: raw.component_ids,
            hosts,
            identity,
            config: Arc::new(config),
        })
    }
}

/// `[[client_tls]] #2 (hosts "a.example", "b.example")`, or just the number when `hosts` is unreadable.
fn entry_name(entry: usize, table: &toml::Table) -> String {
    let hosts: Vec<String> = table
        .get("hosts")
        .and_then(toml::Value::as_array)
        .map(|hosts| {
            hosts
                .iter()
                .filter_map(toml::Value::as_str)
                .map(|h| format!("{h:?}"))
                .collect()
        })
        .unwrap_or_default();
    if hosts.is_empty() {
        format!("[[client_tls]] #{entry}")
    } else {
        format!("[[client_tls]] #{entry} (hosts {})", hosts.join(", "))
    }
}

/// Every certificate of a PEM file; none is an error.
fn read_certs(path: &Path) -> Result<Vec<CertificateDer<'static>>, String> {
    let certs = CertificateDer::pem_file_iter(path)
        .and_then(|certs| certs.collect::<Result<Vec<_>, _>>())
        .map_err(|e| format!("cannot read certificates from {}: {e}", path.display()))?;
    if certs.is_empty() {
        return Err(format!(
            "{} holds no PEM certificate (`-----BEGIN CERTIFICATE-----`)",
            path.display()
        ));
    }
    Ok(certs)
}

/// The crypto provider: ring, as wasmtime-wasi-http's own client (named, so no process-wide
/// default has to be installed).
fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// All `[[client_tls]]` entries of a runtime config, in file order.
#[derive(Debug, Clone, Default)]
pub struct ClientTlsConfigs {
    entries: Vec<Arc<ClientTls>>,
}

impl ClientTlsConfigs {
    /// Reads the `client_tls` array of a runtime-config table; `base` resolves relative paths.
    pub(crate) fn from_value(value: Option<&toml::Value>, base: &Path) -> Result<Self, String> {
        let Some(value) = value else {
            return Ok(Self::default());
        };
        let toml::Value::Array(items) = value else {
            return Err("`client_tls` must be an array of tables: write `[[client_tls]]`".into());
        };
        let mut entries = Vec::with_capacity(items.len());
        for (i, item) in items.iter().enumerate() {
            let toml::Value::Table(table) = item else {
                return Err(format!(
                    "[[client_tls]] #{}: must be a table, write `[[client_tls]]`",
                    i + 1
                ));
            };
            entries.push(Arc::new(ClientTls::from_table(i + 1, table.clone(), base)?));
        }
        Ok(Self { entries })
    }

    /// Adds `more`'s entries after these (the first matching entry wins, so these keep priority).
    pub fn extend(&mut self, more: Self) {
        self.entries.extend(more.entries);
    }

    pub fn entries(&self) -> &[Arc<ClientTls>] {
        &self.entries
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The entries that apply to component `id`, in file order.
    pub fn for_component(&self, id: &str) -> ComponentClientTls {
        ComponentClientTls(
            self.entries
                .iter()
                .filter(|e| e.component_ids.iter().any(|c| c == id))
                .cloned()
                .collect(),
        )
    }
}

/// The `[[client_tls]]` entries of one component.
#[derive(Debug, Clone, Default)]
pub struct ComponentClientTls(Vec<Arc<ClientTls>>);

impl ComponentClientTls {
    /// The first entry for `dest`, when it is an `https` destination one of them names.
    pub fn lookup(&self, dest: &Destination) -> Option<&Arc<ClientTls>> {
        if dest.scheme != "https" {
            return None;
        }
        let port = dest.effective_port();
        self.0
            .iter()
            .find(|e| e.hosts.iter().any(|h| h.matches(&dest.host, port)))
    }
}

/// Sends a request that leaves the app: through the host's own TLS client when `tls` (the
/// matching `[[client_tls]]` entry) is given, else through `default_send_request`.
pub(crate) async fn send_outside(
    request: Request<WasiBody>,
    options: Option<RequestOptions>,
    tls: Option<&ClientTls>,
) -> Result<(Response<WasiBody>, IoFuture), HttpError> {
    match tls {
        Some(tls) => send_request(request, options, tls).await,
        None => {
            let (response, io) = wasmtime_wasi_http::default_send_request(request, options).await?;
            let io: IoFuture = Box::new(io);
            Ok((response.map(BodyExt::boxed_unsync), io))
        }
    }
}

/// Sends an `https` request over a TLS connection set up with `tls`'s roots and client
/// certificate, HTTP/1.1, as `wasmtime_wasi_http::default_send_request` does otherwise: the same
/// timeouts (connect, first byte, between bytes; 600 s when the guest sets none) and the same
/// errors (`Connect` for DNS and refused connections, `Tls` for handshake failures,
/// `TlsCertificateError` when the server's certificate is refused, `TlsAlertReceived` when the
/// server refuses ours).
pub async fn send_request(
    mut request: Request<WasiBody>,
    options: Option<RequestOptions>,
    tls: &ClientTls,
) -> Result<(Response<WasiBody>, IoFuture), HttpError> {
    let authority = request
        .uri()
        .authority()
        .ok_or(HttpError::HttpRequestUriInvalid)?
        .clone();
    let dest = Destination::new("https", authority.as_str());
    let port = dest.effective_port().unwrap_or(443);
    let connect_timeout = options
        .and_then(|o| o.connect_timeout)
        .unwrap_or(DEFAULT_TIMEOUT);
    let first_byte_timeout = options
        .and_then(|o| o.first_byte_timeout)
        .unwrap_or(DEFAULT_TIMEOUT);
    let between_bytes_timeout = options
        .and_then(|o| o.between_bytes_timeout)
        .unwrap_or(DEFAULT_TIMEOUT)
        .max(Duration::from_nanos(1));

    let server_name = match dest.host.parse::<std::net::IpAddr>() {
        Ok(ip) => ServerName::from(ip),
        Err(_) => ServerName::try_from(dest.host.clone())?,
    };
    let connector = tokio_rustls::TlsConnector::from(tls.config.clone());
    let connect = async {
        let tcp = TcpStream::connect((dest.host.as_str(), port))
            .await
            .map_err(HttpError::Connect)?;
        connector
            .connect(server_name, tcp)
            .await
            .map_err(tls_io_error)
    };
    // Unlike `default_send_request`, the handshake counts against the connect timeout too: a
    // server that accepts the connection and never answers the ClientHello must not hang the guest.
    let stream = tokio::time::timeout(connect_timeout, connect)
        .await
        .map_err(|_| HttpError::ConnectionTimeout)??;
    let (mut sender, conn) = tokio::time::timeout(
        connect_timeout,
        hyper::client::conn::http1::handshake(TokioIo::new(stream)),
    )
    .await
    .map_err(|_| HttpError::ConnectionTimeout)?
    .map_err(hyper_error)?;

    // The request line carries only the path (the authority is in `Host`), as for any
    // request not addressed to a proxy.
    let path = request
        .uri()
        .path_and_query()
        .map_or("/", |p| p.as_str())
        .to_string();
    *request.uri_mut() = http::Uri::builder()
        .path_and_query(path)
        .build()
        .map_err(|_| HttpError::HttpRequestUriInvalid)?;

    // Wait for the response head while driving the connection.
    let mut conn = Some(Box::pin(conn));
    let response = tokio::time::timeout(first_byte_timeout, async {
        let send = sender.send_request(request);
        tokio::pin!(send);
        let mut finished = None;
        if let Some(running) = conn.as_mut() {
            tokio::select! {
                response = &mut send => return response.map_err(hyper_error),
                done = running => finished = Some(done),
            }
        }
        if let Some(done) = finished {
            // The connection ended first (the server answered and closed): the response is
            // ready, or the error says why not.
            conn = None;
            done.map_err(hyper_error)?;
        }
        send.await.map_err(hyper_error)
    })
    .await
    .map_err(|_| HttpError::ConnectionReadTimeout)??;

    let io: IoFuture = Box::new(async move {
        match conn {
            Some(conn) => conn.await.map_err(|e| {
                if e.is_timeout() {
                    HttpError::HttpResponseTimeout
                } else {
                    hyper_error(e)
                }
            }),
            None => Ok(()),
        }
    });
    let response = response.map(|incoming| {
        TimedBody {
            incoming,
            between_bytes: between_bytes_timeout,
            deadline: Box::pin(tokio::time::sleep(between_bytes_timeout)),
        }
        .boxed_unsync()
    });
    Ok((response, io))
}

/// A response body that fails with `ConnectionReadTimeout` when no frame arrives within the
/// guest's between-bytes timeout.
struct TimedBody {
    incoming: hyper::body::Incoming,
    between_bytes: Duration,
    deadline: Pin<Box<tokio::time::Sleep>>,
}

impl http_body::Body for TimedBody {
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
                Poll::Ready(Some(Ok(frame)))
            }
            Poll::Ready(Some(Err(e))) => Poll::Ready(Some(Err(if e.is_timeout() {
                HttpError::HttpResponseTimeout
            } else {
                hyper_error(e)
            }))),
            Poll::Ready(None) => Poll::Ready(None),
            Poll::Pending => match this.deadline.as_mut().poll(cx) {
                Poll::Ready(()) => Poll::Ready(Some(Err(HttpError::ConnectionReadTimeout))),
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

/// The `wasi:http` error for a rustls error the guest should see precisely, if it is one.
fn classify_rustls(err: &rustls::Error) -> Option<HttpError> {
    match err {
        rustls::Error::InvalidCertificate(_) => Some(HttpError::TlsCertificateError),
        rustls::Error::AlertReceived(alert) => Some(HttpError::TlsAlertReceived {
            alert_id: Some(u8::from(*alert)),
            alert_message: Some(format!("{alert:?}")),
        }),
        _ => None,
    }
}

/// A handshake error: the server's certificate refused, an alert from the server, or any other
/// TLS failure (`Tls`, which `wasi:http` reports as `TLS-protocol-error`).
fn tls_io_error(err: std::io::Error) -> HttpError {
    err.get_ref()
        .and_then(|inner| inner.downcast_ref::<rustls::Error>())
        .and_then(classify_rustls)
        .unwrap_or(HttpError::Tls(err))
}

/// A hyper error; a TLS alert behind it (with TLS 1.3 a server refuses the client certificate
/// after the client's side of the handshake is done, so it surfaces on the first read) is
/// reported as the alert it is.
fn hyper_error(err: hyper::Error) -> HttpError {
    let mut cause: Option<&(dyn std::error::Error + 'static)> = std::error::Error::source(&err);
    while let Some(e) = cause {
        let rustls_err = e.downcast_ref::<rustls::Error>().or_else(|| {
            e.downcast_ref::<std::io::Error>()
                .and_then(|io| io.get_ref())
                .and_then(|inner| inner.downcast_ref::<rustls::Error>())
        });
        if let Some(mapped) = rustls_err.and_then(classify_rustls) {
            return mapped;
        }
        cause = e.source();
    }
    HttpError::Hyper(err)
}

#[cfg(test)]
pub(crate) mod tests;
