//! `[[client_tls]]` parsing, and mutual TLS end to end: a CA, a server certificate and client
//! certificates made here with `rcgen`, a tokio-rustls server that requires a client certificate
//! (`WebPkiClientVerifier`) and answers with the client's common name, and [`send_outside`] /
//! [`send_request`] as the outbound hook calls them.

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;

use http_body_util::{Empty, Full};
use hyper::service::service_fn;
use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose,
};
use rustls::server::WebPkiClientVerifier;
use tokio::net::TcpListener;

use super::*;
use crate::runtime_config::RuntimeConfig;

/// A certificate and its key, as PEM.
struct Pem {
    cert: String,
    key: String,
}

/// A test PKI: one CA, a server certificate for `localhost` / `127.0.0.1`, client certificates.
struct Pki {
    ca: Pem,
    ca_params: CertificateParams,
    ca_key: KeyPair,
}

impl Pki {
    fn new(name: &str) -> Self {
        let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
        params.distinguished_name.push(DnType::CommonName, name);
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        let key = KeyPair::generate().unwrap();
        let cert = params.self_signed(&key).unwrap();
        Self {
            ca: Pem {
                cert: cert.pem(),
                key: key.serialize_pem(),
            },
            ca_params: params,
            ca_key: key,
        }
    }

    fn issue(&self, common_name: &str, sans: &[&str], usage: ExtendedKeyUsagePurpose) -> Pem {
        let sans: Vec<String> = sans.iter().map(|s| s.to_string()).collect();
        let mut params = CertificateParams::new(sans).unwrap();
        params
            .distinguished_name
            .push(DnType::CommonName, common_name);
        params.extended_key_usages = vec![usage];
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        let key = KeyPair::generate().unwrap();
        let issuer = Issuer::from_params(&self.ca_params, &self.ca_key);
        let cert = params.signed_by(&key, &issuer).unwrap();
        Pem {
            cert: cert.pem(),
            key: key.serialize_pem(),
        }
    }
}

/// The subject common name of a DER certificate: the value after the last `id-at-commonName`
/// (2.5.4.3) OID, since the issuer's name comes before the subject's in `TBSCertificate`
/// (RFC 5280, 4.1) and rcgen writes no other name after it.
fn subject_cn(der: &[u8]) -> Option<String> {
    const CN_OID: [u8; 5] = [0x06, 0x03, 0x55, 0x04, 0x03];
    let at = der.windows(CN_OID.len()).rposition(|w| w == CN_OID)? + CN_OID.len();
    // The value: a short-form string (UTF8String 0x0c or PrintableString 0x13).
    let (tag, len) = (*der.get(at)?, usize::from(*der.get(at + 1)?));
    if !matches!(tag, 0x0c | 0x13) || len >= 0x80 {
        return None;
    }
    String::from_utf8(der.get(at + 2..at + 2 + len)?.to_vec()).ok()
}

/// A mutual-TLS server: trusts `client_ca` for client certificates (required), presents
/// `server`, answers every request with `200` and the client certificate's common name.
async fn mtls_server(server: &Pem, client_ca: &Pem) -> SocketAddr {
    let provider = provider();
    let mut client_roots = rustls::RootCertStore::empty();
    client_roots
        .add(CertificateDer::from_pem_slice(client_ca.cert.as_bytes()).unwrap())
        .unwrap();
    let verifier =
        WebPkiClientVerifier::builder_with_provider(Arc::new(client_roots), provider.clone())
            .build()
            .unwrap();
    let chain = vec![CertificateDer::from_pem_slice(server.cert.as_bytes()).unwrap()];
    let key = PrivateKeyDer::from_pem_slice(server.key.as_bytes()).unwrap();
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_client_cert_verifier(verifier)
        .with_single_cert(chain, key)
        .unwrap();
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        loop {
            let Ok((tcp, _)) = listener.accept().await else {
                return;
            };
            let acceptor = acceptor.clone();
            tokio::spawn(async move {
                // A refused client certificate ends here, with the alert sent to the client. The
                // connection stays open a moment (FIN, then what the client still sends is read):
                // closed with the client's request unread it would be reset, and a reset can
                // destroy the alert before the client reads it.
                let tls = match acceptor.accept(tcp).into_fallible().await {
                    Ok(tls) => tls,
                    Err((_, mut tcp)) => {
                        use tokio::io::{AsyncReadExt, AsyncWriteExt};
                        if tcp.shutdown().await.is_ok() {
                            let mut sink = [0u8; 4096];
                            let _ = tokio::time::timeout(Duration::from_secs(1), async {
                                while matches!(tcp.read(&mut sink).await, Ok(n) if n > 0) {}
                            })
                            .await;
                        }
                        return;
                    }
                };
                let cn = tls
                    .get_ref()
                    .1
                    .peer_certificates()
                    .and_then(|chain| chain.first())
                    .and_then(|leaf| subject_cn(leaf))
                    .unwrap_or_default();
                let service = service_fn(move |_req: Request<hyper::body::Incoming>| {
                    let cn = cn.clone();
                    async move {
                        Ok::<_, std::convert::Infallible>(Response::new(Full::new(Bytes::from(cn))))
                    }
                });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(tls), service)
                    .await;
            });
        }
    });
    addr
}

pub(crate) fn get(url: &str) -> Request<WasiBody> {
    let uri: http::Uri = url.parse().unwrap();
    let host = uri.authority().unwrap().as_str().to_string();
    Request::builder()
        .uri(uri)
        .header(http::header::HOST, host)
        .body(Empty::new().map_err(|never| match never {}).boxed_unsync())
        .unwrap()
}

/// Writes `files` into `dir` and a runtime config with `toml`, and loads it.
fn load(dir: &Path, toml: &str, files: &[(&str, &str)]) -> crate::Result<RuntimeConfig> {
    for (name, text) in files {
        let path = dir.join(name);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    }
    let file = dir.join("runtime-config.toml");
    std::fs::write(&file, toml).unwrap();
    RuntimeConfig::load(Some(&file), Path::new("/state"))
}

fn dest(authority: &str) -> Destination {
    Destination::new("https", authority)
}

#[test]
fn a_full_entry_with_relative_paths() {
    let pki = Pki::new("NAP test CA");
    let client = pki.issue("ecoc-submit", &[], ExtendedKeyUsagePurpose::ClientAuth);
    let dir = tempfile::tempdir().unwrap();
    let rc = load(
        dir.path(),
        r#"
[key_value_store.default]
type = "spin"

[[client_tls]]
component_ids = ["submit", "status"]
hosts = ["NAP.example.eu", "127.0.0.1:8443"]
ca_roots_file = "certs/ca.pem"
client_cert_file = "certs/client.pem"
client_private_key_file = "certs/client.key"

[[client_tls]]
component_ids = ["submit"]
hosts = ["qtsp.example.com"]
"#,
        &[
            ("certs/ca.pem", &pki.ca.cert),
            ("certs/client.pem", &client.cert),
            ("certs/client.key", &client.key),
        ],
    )
    .unwrap();
    let entries = rc.client_tls.entries();
    assert_eq!(entries.len(), 2);
    assert_eq!(entries[0].component_ids(), ["submit", "status"]);
    // Relative to the runtime config's folder.
    assert_eq!(
        entries[0].identity(),
        Some(dir.path().join("certs/client.pem").as_path())
    );
    assert_eq!(
        entries[1].identity(),
        None,
        "roots only: no client identity"
    );

    let submit = rc.client_tls.for_component("submit");
    // Hosts match case-insensitively; a bare host matches any port, `host:port` only its port.
    assert_eq!(submit.lookup(&dest("nap.example.eu")).unwrap().entry(), 1);
    assert_eq!(
        submit.lookup(&dest("nap.example.eu:9443")).unwrap().entry(),
        1
    );
    assert_eq!(submit.lookup(&dest("127.0.0.1:8443")).unwrap().entry(), 1);
    assert!(submit.lookup(&dest("127.0.0.1:9443")).is_none());
    assert!(
        submit.lookup(&dest("127.0.0.1")).is_none(),
        "443 is not 8443"
    );
    assert_eq!(
        TlsHost::parse("[::1]:8443").unwrap(),
        TlsHost {
            host: "::1".into(),
            port: Some(8443)
        }
    );
    assert_eq!(
        TlsHost::parse("[::1]:8443").unwrap().to_string(),
        "[::1]:8443"
    );
    assert_eq!(submit.lookup(&dest("qtsp.example.com")).unwrap().entry(), 2);
    // Only `https`; only the components named.
    assert!(
        submit
            .lookup(&Destination::new("http", "nap.example.eu"))
            .is_none()
    );
    assert!(
        rc.client_tls
            .for_component("status")
            .lookup(&dest("qtsp.example.com"))
            .is_none()
    );
    assert!(
        rc.client_tls
            .for_component("map")
            .lookup(&dest("nap.example.eu"))
            .is_none()
    );
    // Debug output never carries key material.
    let debug = format!("{:?}", rc.client_tls);
    assert!(!debug.contains("PRIVATE"), "{debug}");
}

#[test]
fn minimal_entry_uses_the_webpki_roots() {
    let dir = tempfile::tempdir().unwrap();
    let rc = load(
        dir.path(),
        "[[client_tls]]\ncomponent_ids = [\"submit\"]\nhosts = [\"nap.example.eu\"]\n",
        &[],
    )
    .unwrap();
    assert_eq!(rc.client_tls.entries().len(), 1);
    // Own roots only, webpki roots switched off by Spin's rule: accepted.
    let pki = Pki::new("CA");
    load(
        dir.path(),
        "[[client_tls]]\ncomponent_ids = [\"submit\"]\nhosts = [\"nap.example.eu\"]\n\
         ca_roots_file = \"ca.pem\"\n",
        &[("ca.pem", &pki.ca.cert)],
    )
    .unwrap();
}

/// The message of a runtime config that must be refused.
fn refused(toml: &str, files: &[(&str, &str)]) -> String {
    let dir = tempfile::tempdir().unwrap();
    let err = load(dir.path(), toml, files).unwrap_err().to_string();
    assert!(err.contains("runtime-config.toml"), "names the file: {err}");
    err
}

#[test]
fn certificate_and_key_come_together() {
    let pki = Pki::new("CA");
    let client = pki.issue("c", &[], ExtendedKeyUsagePurpose::ClientAuth);
    let files = [
        ("c.pem", client.cert.as_str()),
        ("c.key", client.key.as_str()),
    ];
    let head = "[[client_tls]]\ncomponent_ids = [\"submit\"]\nhosts = [\"nap.example.eu\"]\n";
    let err = refused(&format!("{head}client_cert_file = \"c.pem\"\n"), &files);
    assert!(
        err.contains("[[client_tls]] #1") && err.contains("without `client_private_key_file`"),
        "{err}"
    );
    let err = refused(
        &format!("{head}client_private_key_file = \"c.key\"\n"),
        &files,
    );
    assert!(err.contains("without `client_cert_file`"), "{err}");
    // A key that does not belong to the certificate.
    let other = pki.issue("d", &[], ExtendedKeyUsagePurpose::ClientAuth);
    let err = refused(
        &format!("{head}client_cert_file = \"c.pem\"\nclient_private_key_file = \"d.key\"\n"),
        &[("c.pem", &client.cert), ("d.key", &other.key)],
    );
    assert!(err.contains("c.pem") && err.contains("d.key"), "{err}");
}

#[test]
fn bad_pem_names_the_file_and_the_entry() {
    let pki = Pki::new("CA");
    let client = pki.issue("c", &[], ExtendedKeyUsagePurpose::ClientAuth);
    let second = "[[client_tls]]\ncomponent_ids = [\"a\"]\nhosts = [\"a.example\"]\n\n\
                  [[client_tls]]\ncomponent_ids = [\"submit\"]\nhosts = [\"nap.example.eu\"]\n";
    // Not PEM at all.
    let err = refused(
        &format!("{second}ca_roots_file = \"roots.pem\"\n"),
        &[("roots.pem", "not a certificate\n")],
    );
    assert!(
        err.contains("[[client_tls]] #2 (hosts \"nap.example.eu\")") && err.contains("roots.pem"),
        "{err}"
    );
    // A certificate file that is missing.
    let err = refused(
        &format!("{second}client_cert_file = \"gone.pem\"\nclient_private_key_file = \"c.key\"\n"),
        &[("c.key", &client.key)],
    );
    assert!(err.contains("#2") && err.contains("gone.pem"), "{err}");
    // A key file holding a certificate.
    let err = refused(
        &format!("{second}client_cert_file = \"c.pem\"\nclient_private_key_file = \"c.key\"\n"),
        &[("c.pem", &client.cert), ("c.key", &client.cert)],
    );
    assert!(
        err.contains("c.key") && err.contains("private key"),
        "{err}"
    );
    // A truncated PEM block.
    let truncated = &pki.ca.cert[..pki.ca.cert.len() / 2];
    let err = refused(
        &format!("{second}ca_roots_file = \"ca.pem\"\n"),
        &[("ca.pem", truncated)],
    );
    assert!(err.contains("ca.pem"), "{err}");
}

#[test]
fn empty_lists_unknown_fields_and_bad_hosts_are_refused() {
    let entry = |body: &str| format!("[[client_tls]]\n{body}\n");
    let err = refused(&entry("component_ids = []\nhosts = [\"a.example\"]"), &[]);
    assert!(err.contains("`component_ids` may not be empty"), "{err}");
    let err = refused(&entry("component_ids = [\"a\"]\nhosts = []"), &[]);
    assert!(err.contains("`hosts` may not be empty"), "{err}");
    let err = refused(
        &entry("component_ids = [\"Submit_1\"]\nhosts = [\"a.example\"]"),
        &[],
    );
    assert!(err.contains("kebab-case"), "{err}");
    let err = refused(&entry("hosts = [\"a.example\"]"), &[]);
    assert!(err.contains("component_ids"), "{err}");
    let err = refused(
        &entry("component_ids = [\"a\"]\nhosts = [\"a.example\"]\nverify = false"),
        &[],
    );
    assert!(err.contains("unknown field `verify`"), "{err}");
    // The names people guess get Spin's spelling in the answer.
    let err = refused(
        &entry("component_ids = [\"a\"]\nhosts = [\"a.example\"]\ncert_chain_file = \"c.pem\""),
        &[],
    );
    assert!(err.contains("`client_cert_file`"), "{err}");
    for host in [
        "https://a.example",
        "a.example/path",
        "*.example",
        "a.example:port",
        "",
    ] {
        let err = refused(
            &entry(&format!("component_ids = [\"a\"]\nhosts = [{host:?}]")),
            &[],
        );
        assert!(err.contains("[[client_tls]] #1"), "{host}: {err}");
    }
    let err = refused(
        &entry("component_ids = [\"a\"]\nhosts = [\"a.example\"]\nca_use_webpki_roots = false"),
        &[],
    );
    assert!(err.contains("no trusted roots"), "{err}");
    let err = refused(
        &entry("component_ids = [\"a\"]\nhosts = [\"a.example\"]\nca_use_platform_roots = true"),
        &[],
    );
    assert!(err.contains("ca_use_platform_roots"), "{err}");
    let err = refused("client_tls = 3\n", &[]);
    assert!(err.contains("[[client_tls]]"), "{err}");
}

/// What the end-to-end tests share: a PKI, a running mTLS server and a runtime config
/// that gives component `submit` a client certificate for it.
pub(crate) struct Fixture {
    _dir: tempfile::TempDir,
    pub(crate) addr: SocketAddr,
    pub(crate) rc: RuntimeConfig,
}

pub(crate) async fn fixture() -> Fixture {
    let pki = Pki::new("NAP test CA");
    let server = pki.issue(
        "nap.test",
        &["localhost", "127.0.0.1"],
        ExtendedKeyUsagePurpose::ServerAuth,
    );
    let client = pki.issue(
        "ecoc-submit.tenant-a",
        &[],
        ExtendedKeyUsagePurpose::ClientAuth,
    );
    let addr = mtls_server(&server, &pki.ca).await;
    let dir = tempfile::tempdir().unwrap();
    let port = addr.port();
    let rc = load(
        dir.path(),
        &format!(
            r#"
[[client_tls]]
component_ids = ["submit"]
hosts = ["localhost:{port}", "127.0.0.1:{port}"]
ca_roots_file = "ca.pem"
client_cert_file = "client.pem"
client_private_key_file = "client.key"

[[client_tls]]
component_ids = ["anonymous"]
hosts = ["localhost:{port}"]
ca_roots_file = "ca.pem"
"#
        ),
        &[
            ("ca.pem", &pki.ca.cert),
            ("client.pem", &client.cert),
            ("client.key", &client.key),
        ],
    )
    .unwrap();
    Fixture {
        _dir: dir,
        addr,
        rc,
    }
}

/// Sends `url` as component `component` would: its matching entry, if any, else the default.
async fn send_as(
    rc: &RuntimeConfig,
    component: &str,
    url: &str,
) -> Result<(u16, String), HttpError> {
    let request = get(url);
    let uri = request.uri().clone();
    let destination =
        Destination::new(uri.scheme_str().unwrap(), uri.authority().unwrap().as_str());
    let entries = rc.client_tls.for_component(component);
    let tls = entries.lookup(&destination);
    let (response, io) = send_outside(request, None, tls.map(|t| &**t)).await?;
    let io = tokio::spawn(Box::into_pin(io));
    let status = response.status().as_u16();
    let body = response.into_body().collect().await?.to_bytes();
    drop(io);
    Ok((status, String::from_utf8(body.to_vec()).unwrap()))
}

#[tokio::test]
async fn the_configured_client_certificate_is_presented() {
    let f = fixture().await;
    for host in ["localhost", "127.0.0.1"] {
        let url = format!("https://{host}:{}/whoami", f.addr.port());
        let (status, body) = send_as(&f.rc, "submit", &url).await.unwrap();
        assert_eq!(status, 200, "{host}");
        assert_eq!(
            body, "ecoc-submit.tenant-a",
            "{host}: the server saw our CN"
        );
    }
}

#[tokio::test]
async fn without_a_matching_entry_the_handshake_fails() {
    let f = fixture().await;
    let url = format!("https://localhost:{}/whoami", f.addr.port());
    // Another component: no entry, so `default_send_request` with the webpki roots, which do not
    // know the test CA.
    let err = send_as(&f.rc, "map", &url).await.unwrap_err();
    assert!(
        matches!(err, HttpError::Tls(_) | HttpError::TlsCertificateError),
        "{err:?}"
    );
    // Trusts the server but has no client certificate: the server refuses the handshake with
    // TLS 1.3's `certificate_required` alert, which reaches the guest as such.
    let err = send_as(&f.rc, "anonymous", &url).await.unwrap_err();
    assert!(
        matches!(
            &err,
            HttpError::TlsAlertReceived {
                alert_message: Some(m),
                ..
            } if m == "CertificateRequired"
        ),
        "{err:?}"
    );
    // A port the entry does not name: not matched, refused like any unknown server.
    let other = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!(
        "https://localhost:{}/whoami",
        other.local_addr().unwrap().port()
    );
    drop(other);
    assert!(send_as(&f.rc, "submit", &url).await.is_err());
}

#[tokio::test]
async fn the_server_certificate_is_checked_against_the_entry_roots() {
    // The entry trusts another CA than the one that issued the server's certificate.
    let pki = Pki::new("NAP test CA");
    let server = pki.issue(
        "nap.test",
        &["localhost"],
        ExtendedKeyUsagePurpose::ServerAuth,
    );
    let addr = mtls_server(&server, &pki.ca).await;
    let stranger = Pki::new("Someone else");
    let client = stranger.issue("c", &[], ExtendedKeyUsagePurpose::ClientAuth);
    let dir = tempfile::tempdir().unwrap();
    let rc = load(
        dir.path(),
        "[[client_tls]]\ncomponent_ids = [\"submit\"]\nhosts = [\"localhost\"]\n\
         ca_roots_file = \"ca.pem\"\nclient_cert_file = \"c.pem\"\nclient_private_key_file = \"c.key\"\n",
        &[
            ("ca.pem", &stranger.ca.cert),
            ("c.pem", &client.cert),
            ("c.key", &client.key),
        ],
    )
    .unwrap();
    let url = format!("https://localhost:{}/", addr.port());
    let err = send_as(&rc, "submit", &url).await.unwrap_err();
    assert!(matches!(err, HttpError::TlsCertificateError), "{err:?}");
}

/// The error of a send that must fail (a response and its I/O future have no `Debug`).
fn failed<T>(result: Result<T, HttpError>) -> HttpError {
    match result {
        Ok(_) => panic!("expected an error, got a response"),
        Err(e) => e,
    }
}

#[tokio::test]
async fn connect_errors_and_timeouts_are_the_default_ones() {
    let f = fixture().await;
    let entry = f.rc.client_tls.entries()[0].clone();
    // Nothing listens: `Connect`, which wasi:http reports as connection-refused.
    let closed = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = closed.local_addr().unwrap().port();
    drop(closed);
    let err = failed(send_request(get(&format!("https://127.0.0.1:{port}/")), None, &entry).await);
    assert!(matches!(err, HttpError::Connect(_)), "{err:?}");
    // A server that accepts and never answers the ClientHello: the connect timeout.
    let silent = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = silent.local_addr().unwrap().port();
    let options = RequestOptions {
        connect_timeout: Some(Duration::from_millis(200)),
        ..Default::default()
    };
    let err = failed(
        send_request(
            get(&format!("https://127.0.0.1:{port}/")),
            Some(options),
            &entry,
        )
        .await,
    );
    assert!(matches!(err, HttpError::ConnectionTimeout), "{err:?}");
    drop(silent);
}
