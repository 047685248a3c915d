//! The NAP's EU mode: a member state's NAP (the RDW, say) reached over a "secure link" with a client
//! certificate the NAP issues. At first start it makes, in `<state-dir>/eu/`, its own CA, a server
//! certificate for `localhost` / `127.0.0.1`, and a client certificate per account of `nap.json`
//! (subject CN = the client id); it then serves HTTPS that requires a client certificate chaining
//! to that CA (rustls' `WebPkiClientVerifier`). The certificate's CN is the client: no OAuth2.
//!
//! | file | what |
//! |---|---|
//! | `eu/ca.pem`, `eu/ca.key.pem` | the NAP's CA (it signs the server's and the clients' certificates) |
//! | `eu/server.pem`, `eu/server.key.pem` | the server certificate (SAN `localhost`, `127.0.0.1`) and key |
//! | `eu/clients/<client_id>.pem`, `.key.pem` | a client's certificate (then the CA) and its PKCS#8 key |
//!
//! Keys are mode 0600. The certificates are made with `rcgen` (ECDSA P-256).

use std::path::{Path, PathBuf};
use std::sync::Arc;

use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose,
};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::WebPkiClientVerifier;

use crate::support;
use crate::{Error, Result};

use super::store::NapClient;

/// The folder of the EU mode's certificates inside the state directory.
pub const EU_DIR: &str = "eu";

/// Where the EU mode's certificates are.
#[derive(Debug, Clone)]
pub struct EuFiles {
    dir: PathBuf,
}

impl EuFiles {
    /// The files under `<state_dir>/eu`.
    pub fn new(state_dir: &Path) -> Self {
        Self {
            dir: state_dir.join(EU_DIR),
        }
    }

    /// The NAP's CA certificate (the trust anchor clients need for the server, and the only
    /// issuer of client certificates).
    pub fn ca_pem(&self) -> PathBuf {
        self.dir.join("ca.pem")
    }

    /// A client's certificate chain (leaf, then the CA).
    pub fn client_cert(&self, client_id: &str) -> PathBuf {
        self.dir.join("clients").join(format!("{client_id}.pem"))
    }

    /// A client's private key (PKCS#8 PEM).
    pub fn client_key(&self, client_id: &str) -> PathBuf {
        self.dir
            .join("clients")
            .join(format!("{client_id}.key.pem"))
    }

    fn server_cert(&self) -> PathBuf {
        self.dir.join("server.pem")
    }

    fn server_key(&self) -> PathBuf {
        self.dir.join("server.key.pem")
    }
}

fn pki_error(what: &str) -> impl Fn(rcgen::Error) -> Error + '_ {
    move |e| Error::Pki(format!("{what}: {e}"))
}

/// Makes the CA, the server certificate and the clients' certificates, unless they are there.
///
/// # Errors
/// [`Error::Pki`] when a certificate cannot be made, [`Error::StateIo`] when it cannot be written.
pub fn load_or_create(files: &EuFiles, clients: &[NapClient]) -> Result<()> {
    if files.ca_pem().exists() {
        return Ok(());
    }
    support::create_dir(&files.dir.join("clients"))?;
    let mut ca = CertificateParams::new(Vec::<String>::new()).map_err(pki_error("ca"))?;
    ca.distinguished_name
        .push(DnType::CommonName, "ecoc sandbox EU NAP CA");
    ca.distinguished_name
        .push(DnType::OrganizationName, "ecoc sandbox");
    ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    let ca_key = KeyPair::generate().map_err(pki_error("ca key"))?;
    let ca_cert = ca.self_signed(&ca_key).map_err(pki_error("ca"))?;
    let issuer = Issuer::from_params(&ca, &ca_key);
    let issue = |name: &str, sans: Vec<String>, usage: ExtendedKeyUsagePurpose| {
        let mut params = CertificateParams::new(sans).map_err(pki_error(name))?;
        params.distinguished_name.push(DnType::CommonName, name);
        params.extended_key_usages = vec![usage];
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        let key = KeyPair::generate().map_err(pki_error(name))?;
        let cert = params.signed_by(&key, &issuer).map_err(pki_error(name))?;
        Ok::<_, Error>((cert.pem(), key.serialize_pem()))
    };
    let (server, server_key) = issue(
        "localhost",
        vec!["localhost".into(), "127.0.0.1".into()],
        ExtendedKeyUsagePurpose::ServerAuth,
    )?;
    support::write_atomic(&files.server_key(), server_key.as_bytes(), true)?;
    support::write_atomic(&files.server_cert(), server.as_bytes(), false)?;
    for client in clients {
        let (cert, key) = issue(
            &client.client_id,
            Vec::new(),
            ExtendedKeyUsagePurpose::ClientAuth,
        )?;
        support::write_atomic(&files.client_key(&client.client_id), key.as_bytes(), true)?;
        let chain = format!("{cert}{}", ca_cert.pem());
        support::write_atomic(
            &files.client_cert(&client.client_id),
            chain.as_bytes(),
            false,
        )?;
    }
    support::write_atomic(
        &files.dir.join("ca.key.pem"),
        ca_key.serialize_pem().as_bytes(),
        true,
    )?;
    // Last: its presence says the rest is there.
    support::write_atomic(&files.ca_pem(), ca_cert.pem().as_bytes(), false)
}

fn read_pem<T>(path: &Path, parse: impl FnOnce(&[u8]) -> Option<T>) -> Result<T> {
    let bytes = std::fs::read(path).map_err(|source| Error::StateIo {
        path: path.to_owned(),
        source,
    })?;
    parse(&bytes).ok_or_else(|| Error::StateFormat {
        path: path.to_owned(),
        reason: "not the PEM expected".into(),
    })
}

/// The TLS configuration of the EU mode: the server certificate, and a client certificate
/// required, chaining to the NAP's CA.
///
/// # Errors
/// [`Error::StateIo`] / [`Error::StateFormat`] for the files, [`Error::Pki`] for rustls.
pub fn server_config(files: &EuFiles) -> Result<Arc<rustls::ServerConfig>> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let ca = read_pem(&files.ca_pem(), |b| CertificateDer::from_pem_slice(b).ok())?;
    let mut roots = rustls::RootCertStore::empty();
    roots
        .add(ca)
        .map_err(|e| Error::Pki(format!("the EU CA: {e}")))?;
    let verifier = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider.clone())
        .build()
        .map_err(|e| Error::Pki(format!("client verifier: {e}")))?;
    let chain = read_pem(&files.server_cert(), |b| {
        CertificateDer::pem_slice_iter(b)
            .collect::<std::result::Result<Vec<_>, _>>()
            .ok()
    })?;
    let key = read_pem(&files.server_key(), |b| {
        PrivateKeyDer::from_pem_slice(b).ok()
    })?;
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| Error::Pki(format!("tls versions: {e}")))?
        .with_client_cert_verifier(verifier)
        .with_single_cert(chain, key)
        .map_err(|e| Error::Pki(format!("server certificate: {e}")))?;
    Ok(Arc::new(config))
}

/// The subject CN of a client's leaf certificate (DER).
pub fn common_name(der: &[u8]) -> Option<String> {
    use der::Decode;
    let cert = x509_cert::Certificate::from_der(der).ok()?;
    cert.tbs_certificate()
        .subject()
        .to_string()
        .split(',')
        .find_map(|part| part.trim().strip_prefix("CN=").map(str::to_owned))
}
