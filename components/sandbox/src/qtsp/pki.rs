//! The sandbox's test PKI: generated at first start, persisted in the state directory, reloaded on
//! every later start so verifiers can keep trusting the same root.
//!
//! Hierarchy (all certificates X.509 v3, CA keys P-256 with ecdsa-with-SHA256):
//!
//! ```text
//! CN=ecoc sandbox root CA            (self-signed, CA, keyCertSign|cRLSign)
//! └── CN=ecoc sandbox issuing CA     (CA, pathLen 0)
//!     ├── CN=ecoc sandbox RSA signer      RSA-2048   credential "rsa-signer"
//!     ├── CN=ecoc sandbox P-256 signer    P-256      credential "p256-signer"
//!     └── CN=ecoc sandbox expired signer  P-256      credential "expired-signer" (validity in the past)
//! ```
//!
//! Signing leaves carry keyUsage digitalSignature + nonRepudiation (critical, RFC 5280 section
//! 4.2.1.3) and basicConstraints CA:false, which is what XML-DSig verifiers such as signxml require.

use std::fs;
use std::io::Write;
use std::path::Path;
use std::str::FromStr;
use std::time::{Duration, SystemTime};

use der::asn1::OctetString;
use der::pem::LineEnding;
use der::{Decode, DecodePem, Encode, EncodePem};
use getrandom::SysRng;
use getrandom::rand_core::UnwrapErr;
use p256::ecdsa::signature::hazmat::PrehashSigner;
use p256::elliptic_curve::Generate;
use p256::pkcs8::{DecodePrivateKey, EncodePrivateKey};
use serde::{Deserialize, Serialize};
use spki::{SubjectPublicKeyInfoOwned, SubjectPublicKeyInfoRef};
use x509_cert::Certificate;
use x509_cert::builder::profile::BuilderProfile;
use x509_cert::builder::{Builder, CertificateBuilder};
use x509_cert::certificate::TbsCertificate;
use x509_cert::ext::pkix::{
    AuthorityKeyIdentifier, BasicConstraints, KeyUsage, KeyUsages, SubjectKeyIdentifier,
};
use x509_cert::ext::{Extension, ToExtension};
use x509_cert::name::Name;
use x509_cert::serial_number::SerialNumber;
use x509_cert::time::{Time, Validity};

use super::EcdsaFormat;
use super::rsa_signer::RsaSigner;
use crate::{Error, Result};

/// OID of SHA-256 (`hashAlgorithmOID`).
pub const OID_SHA256: &str = "2.16.840.1.101.3.4.2.1";
/// OID of SHA-384.
pub const OID_SHA384: &str = "2.16.840.1.101.3.4.2.2";
/// OID of SHA-512.
pub const OID_SHA512: &str = "2.16.840.1.101.3.4.2.3";
/// OID of rsaEncryption: PKCS#1 v1.5 with the hash named by `hashAlgorithmOID`.
pub const OID_RSA: &str = "1.2.840.113549.1.1.1";
/// OID of sha256WithRSAEncryption.
pub const OID_SHA256_WITH_RSA: &str = "1.2.840.113549.1.1.11";
/// OID of sha384WithRSAEncryption.
pub const OID_SHA384_WITH_RSA: &str = "1.2.840.113549.1.1.12";
/// OID of sha512WithRSAEncryption.
pub const OID_SHA512_WITH_RSA: &str = "1.2.840.113549.1.1.13";
/// OID of id-ecPublicKey: ECDSA with the hash named by `hashAlgorithmOID`.
pub const OID_EC_PUBLIC_KEY: &str = "1.2.840.10045.2.1";
/// OID of ecdsa-with-SHA256.
pub const OID_ECDSA_SHA256: &str = "1.2.840.10045.4.3.2";
/// OID of the P-256 curve (secp256r1).
pub const OID_P256: &str = "1.2.840.10045.3.1.7";

/// Name of the description file in the state directory.
pub const SANDBOX_JSON: &str = "sandbox.json";

/// Version 2: several OAuth2 clients, each owning its credentials (`rsa-signer-b`).
const FORMAT_VERSION: u32 = 2;
const DAY: Duration = Duration::from_secs(24 * 3600);
const YEAR: Duration = Duration::from_secs(365 * 24 * 3600);

/// The key type of a signing credential.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum KeyType {
    /// RSA with a 2048-bit modulus.
    #[serde(rename = "rsa-2048")]
    Rsa2048,
    /// ECDSA on NIST P-256.
    #[serde(rename = "p256")]
    P256,
}

/// One credential as `sandbox.json` describes it (no key material: that stays in its PEM file).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CredentialEntry {
    /// The CSC `credentialID`.
    pub id: String,
    /// Its key type.
    pub key_type: KeyType,
    /// The PIN `credentials/authorize` asks for.
    pub pin: String,
    /// Free text, shown by `credentials/info`.
    pub description: String,
    /// `true` for the deliberately expired credential.
    pub expired: bool,
    /// The leaf certificate, PEM, relative to the state directory.
    pub certificate: String,
    /// The private key, PKCS#8 PEM, relative to the state directory.
    pub key: String,
    /// The OAuth2 client that owns it (only that client sees and uses it); absent: the first
    /// client (`client_id` of the description).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_id: Option<String>,
}

/// A further OAuth2 client of the QTSP (another manufacturer's account).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct QtspClient {
    /// OAuth2 client id.
    pub client_id: String,
    /// OAuth2 client secret.
    pub client_secret: String,
}

/// The content of `sandbox.json`: what a client needs to use the sandbox.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SandboxDescription {
    /// Layout version of this file.
    pub version: u32,
    /// OAuth2 client id for `oauth2/token`.
    pub client_id: String,
    /// OAuth2 client secret for `oauth2/token`.
    pub client_secret: String,
    /// The root CA certificate, PEM (the trust anchor to give verifiers).
    pub root_ca: String,
    /// The issuing CA certificate, PEM.
    pub issuing_ca: String,
    /// Issuing CA then root CA, PEM.
    pub chain: String,
    /// The signing credentials.
    pub credentials: Vec<CredentialEntry>,
    /// Clients beside the first, each with the credentials it owns (a state folder written
    /// before there were several has none).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub clients: Vec<QtspClient>,
}

impl SandboxDescription {
    /// Reads `sandbox.json` from a state directory.
    ///
    /// # Errors
    /// [`Error::StateIo`] or [`Error::StateFormat`] when the file is missing or not valid.
    pub fn load(state_dir: &Path) -> Result<Self> {
        let path = state_dir.join(SANDBOX_JSON);
        let text = read_text(&path)?;
        let description: Self = serde_json::from_str(&text).map_err(|e| Error::StateFormat {
            path: path.clone(),
            reason: e.to_string(),
        })?;
        if description.version != FORMAT_VERSION {
            return Err(Error::StateFormat {
                path,
                reason: format!(
                    "version {} (this sandbox writes version {FORMAT_VERSION})",
                    description.version
                ),
            });
        }
        Ok(description)
    }

    /// The credential with this id.
    pub fn credential(&self, id: &str) -> Option<&CredentialEntry> {
        self.credentials.iter().find(|c| c.id == id)
    }

    /// The secret of client `client_id`, if the QTSP has that client.
    pub fn client_secret(&self, client_id: &str) -> Option<&str> {
        if client_id == self.client_id {
            return Some(&self.client_secret);
        }
        self.clients
            .iter()
            .find(|c| c.client_id == client_id)
            .map(|c| c.client_secret.as_str())
    }

    /// Whether `client_id` owns `credential` (may see and use it).
    pub fn owns(&self, client_id: &str, credential: &CredentialEntry) -> bool {
        credential.client_id.as_deref().unwrap_or(&self.client_id) == client_id
    }
}

/// A credential's private key.
enum PrivateKey {
    Rsa(Box<RsaSigner>),
    P256(p256::ecdsa::SigningKey),
}

/// A signing credential: its key, its certificate and what `credentials/info` says about it.
pub struct Credential {
    entry: CredentialEntry,
    key: PrivateKey,
    certificate: Certificate,
    certificate_der: Vec<u8>,
}

impl std::fmt::Debug for Credential {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never print key material or the PIN.
        f.debug_struct("Credential")
            .field("id", &self.entry.id)
            .field("key_type", &self.entry.key_type)
            .field("expired", &self.entry.expired)
            .finish_non_exhaustive()
    }
}

impl Credential {
    /// The CSC `credentialID`.
    pub fn id(&self) -> &str {
        &self.entry.id
    }

    /// The key type.
    pub fn key_type(&self) -> KeyType {
        self.entry.key_type
    }

    /// The `sandbox.json` entry (holds the PIN).
    pub fn entry(&self) -> &CredentialEntry {
        &self.entry
    }

    /// The leaf certificate.
    pub fn certificate(&self) -> &Certificate {
        &self.certificate
    }

    /// The leaf certificate, DER.
    pub fn certificate_der(&self) -> &[u8] {
        &self.certificate_der
    }

    /// The key length in bits (CSC `key/len`).
    pub fn key_bits(&self) -> usize {
        match &self.key {
            PrivateKey::Rsa(key) => key.size() * 8,
            PrivateKey::P256(_) => 256,
        }
    }

    /// The key algorithm OIDs `credentials/info` lists under `key/algo`.
    pub fn key_algorithms(&self) -> &'static [&'static str] {
        match self.entry.key_type {
            KeyType::Rsa2048 => &[OID_RSA, OID_SHA256_WITH_RSA],
            KeyType::P256 => &[OID_EC_PUBLIC_KEY, OID_ECDSA_SHA256],
        }
    }

    /// `true` when `sign_algo` (a CSC `signAlgo` OID) fits this credential's key.
    pub fn supports(&self, sign_algo: &str) -> bool {
        match self.entry.key_type {
            KeyType::Rsa2048 => matches!(
                sign_algo,
                OID_RSA | OID_SHA256_WITH_RSA | OID_SHA384_WITH_RSA | OID_SHA512_WITH_RSA
            ),
            KeyType::P256 => matches!(sign_algo, OID_EC_PUBLIC_KEY | OID_ECDSA_SHA256),
        }
    }

    /// Signs one precomputed hash, as `signatures/signHash` does.
    ///
    /// `sign_algo` is the CSC `signAlgo` OID; `hash_algo` the `hashAlgorithmOID`, which may be
    /// omitted when `sign_algo` names the hash (sha256WithRSAEncryption, ecdsa-with-SHA256). RSA
    /// answers are PKCS#1 v1.5 signature blocks; ECDSA answers are DER `ECDSA-Sig-Value` or raw
    /// `r || s` (32 + 32 bytes) as `ecdsa_format` asks.
    ///
    /// # Errors
    /// [`Error::UnsupportedAlgorithm`] for an algorithm the key cannot do, [`Error::BadHash`] for a
    /// hash of the wrong length, [`Error::Sign`] if the key operation fails.
    pub fn sign_hash(
        &self,
        hash: &[u8],
        sign_algo: &str,
        hash_algo: Option<&str>,
        ecdsa_format: EcdsaFormat,
    ) -> Result<Vec<u8>> {
        let unsupported = |algorithm: &str| Error::UnsupportedAlgorithm {
            credential: self.entry.id.clone(),
            algorithm: algorithm.to_owned(),
        };
        let hash_alg = resolve_hash_algorithm(sign_algo, hash_algo).ok_or_else(|| {
            unsupported(&match hash_algo {
                Some(h) => format!("{sign_algo} with {h}"),
                None => sign_algo.to_owned(),
            })
        })?;
        if hash.len() != hash_alg.len() {
            return Err(Error::BadHash {
                len: hash.len(),
                algorithm: hash_alg.oid().to_owned(),
            });
        }
        let failed = |reason: String| Error::Sign {
            credential: self.entry.id.clone(),
            reason,
        };
        match (&self.key, sign_algo) {
            (
                PrivateKey::Rsa(key),
                OID_RSA | OID_SHA256_WITH_RSA | OID_SHA384_WITH_RSA | OID_SHA512_WITH_RSA,
            ) => key.sign(hash_alg, hash).map_err(failed),
            (PrivateKey::P256(key), OID_EC_PUBLIC_KEY | OID_ECDSA_SHA256)
                if hash_alg == HashAlg::Sha256 =>
            {
                let signature: p256::ecdsa::Signature =
                    key.sign_prehash(hash).map_err(|e| failed(e.to_string()))?;
                Ok(match ecdsa_format {
                    EcdsaFormat::Der => signature.to_der().as_bytes().to_vec(),
                    EcdsaFormat::Raw => signature.to_bytes().to_vec(),
                })
            }
            _ => Err(unsupported(sign_algo)),
        }
    }
}

/// Hash algorithms the sandbox signs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum HashAlg {
    Sha256,
    Sha384,
    Sha512,
}

impl HashAlg {
    pub(crate) fn from_oid(oid: &str) -> Option<Self> {
        match oid {
            OID_SHA256 => Some(Self::Sha256),
            OID_SHA384 => Some(Self::Sha384),
            OID_SHA512 => Some(Self::Sha512),
            _ => None,
        }
    }

    pub(crate) fn oid(self) -> &'static str {
        match self {
            Self::Sha256 => OID_SHA256,
            Self::Sha384 => OID_SHA384,
            Self::Sha512 => OID_SHA512,
        }
    }

    pub(crate) fn len(self) -> usize {
        match self {
            Self::Sha256 => 32,
            Self::Sha384 => 48,
            Self::Sha512 => 64,
        }
    }
}

/// The hash a `signAlgo` / `hashAlgorithmOID` pair means, or `None` when they contradict each other
/// or the hash is missing where the signature algorithm does not imply one.
pub(crate) fn resolve_hash_algorithm(sign_algo: &str, hash_algo: Option<&str>) -> Option<HashAlg> {
    let implied = match sign_algo {
        OID_SHA256_WITH_RSA | OID_ECDSA_SHA256 => Some(HashAlg::Sha256),
        OID_SHA384_WITH_RSA => Some(HashAlg::Sha384),
        OID_SHA512_WITH_RSA => Some(HashAlg::Sha512),
        OID_RSA | OID_EC_PUBLIC_KEY => None,
        _ => return None,
    };
    let named = match hash_algo {
        Some(oid) => Some(HashAlg::from_oid(oid)?),
        None => None,
    };
    match (implied, named) {
        (Some(i), Some(n)) if i != n => None,
        (Some(i), _) => Some(i),
        (None, n) => n,
    }
}

/// The whole test PKI, loaded from (or freshly written to) a state directory.
#[derive(Debug)]
pub struct TestPki {
    description: SandboxDescription,
    root_der: Vec<u8>,
    issuing_der: Vec<u8>,
    credentials: Vec<Credential>,
}

impl TestPki {
    /// Loads the PKI from `state_dir`, generating and writing it first when `sandbox.json` is absent.
    ///
    /// Generation writes every key and certificate before `sandbox.json`, so an interrupted first
    /// start is simply redone.
    ///
    /// # Errors
    /// [`Error::StateIo`] / [`Error::StateFormat`] for unreadable or foreign state files,
    /// [`Error::Pki`] / [`Error::Random`] when generation fails.
    pub fn load_or_create(state_dir: &Path) -> Result<Self> {
        fs::create_dir_all(state_dir).map_err(|source| Error::StateIo {
            path: state_dir.to_owned(),
            source,
        })?;
        let path = state_dir.join(SANDBOX_JSON);
        // The layout version written, if the file is there (unreadable: `load` says why).
        let written = path.exists().then(|| {
            fs::read_to_string(&path)
                .ok()
                .and_then(|text| serde_json::from_str::<serde_json::Value>(&text).ok())
                .and_then(|v| v["version"].as_u64())
                .unwrap_or(u64::from(FORMAT_VERSION))
        });
        match written {
            None => {
                tracing::info!(state_dir = %state_dir.display(), "generating the sandbox test PKI");
                generate(state_dir)?;
            }
            // A state folder of an older sandbox: a test PKI, so simply made anew.
            Some(v) if v < u64::from(FORMAT_VERSION) => {
                tracing::info!(state_dir = %state_dir.display(), version = v, "the sandbox test PKI has an older layout: generating it anew");
                generate(state_dir)?;
            }
            Some(_) => {}
        }
        Self::load(state_dir)
    }

    /// Loads an existing PKI from `state_dir`.
    ///
    /// # Errors
    /// [`Error::StateIo`] / [`Error::StateFormat`] when a file is missing or not what the sandbox wrote.
    pub fn load(state_dir: &Path) -> Result<Self> {
        let description = SandboxDescription::load(state_dir)?;
        let root_der = load_certificate(&state_dir.join(&description.root_ca))?.1;
        let issuing_der = load_certificate(&state_dir.join(&description.issuing_ca))?.1;
        let mut credentials = Vec::with_capacity(description.credentials.len());
        for entry in &description.credentials {
            let (certificate, certificate_der) =
                load_certificate(&state_dir.join(&entry.certificate))?;
            let key_path = state_dir.join(&entry.key);
            let pem = read_text(&key_path)?;
            let bad_key = |reason: String| Error::StateFormat {
                path: key_path.clone(),
                reason,
            };
            let key = match entry.key_type {
                KeyType::Rsa2048 => PrivateKey::Rsa(Box::new(
                    rsa::RsaPrivateKey::from_pkcs8_pem(&pem)
                        .map_err(|e| e.to_string())
                        .and_then(RsaSigner::new)
                        .map_err(bad_key)?,
                )),
                KeyType::P256 => PrivateKey::P256(
                    p256::ecdsa::SigningKey::from_pkcs8_pem(&pem)
                        .map_err(|e| bad_key(e.to_string()))?,
                ),
            };
            credentials.push(Credential {
                entry: entry.clone(),
                key,
                certificate,
                certificate_der,
            });
        }
        Ok(Self {
            description,
            root_der,
            issuing_der,
            credentials,
        })
    }

    /// What `sandbox.json` says: client id and secret, credentials and their PINs.
    pub fn description(&self) -> &SandboxDescription {
        &self.description
    }

    /// The root CA certificate, DER.
    pub fn root_der(&self) -> &[u8] {
        &self.root_der
    }

    /// The issuing CA certificate, DER.
    pub fn issuing_der(&self) -> &[u8] {
        &self.issuing_der
    }

    /// All credentials.
    pub fn credentials(&self) -> &[Credential] {
        &self.credentials
    }

    /// The credential with this id.
    pub fn credential(&self, id: &str) -> Option<&Credential> {
        self.credentials.iter().find(|c| c.entry.id == id)
    }

    /// Signs one hash with credential `id`: the in-process equivalent of `signatures/signHash`
    /// without OAuth2 or SAD, for benchmarks and tests.
    ///
    /// # Errors
    /// [`Error::UnknownCredential`], or what [`Credential::sign_hash`] returns.
    pub fn sign_hash(
        &self,
        id: &str,
        hash: &[u8],
        sign_algo: &str,
        hash_algo: Option<&str>,
        ecdsa_format: EcdsaFormat,
    ) -> Result<Vec<u8>> {
        self.credential(id)
            .ok_or_else(|| Error::UnknownCredential(id.to_owned()))?
            .sign_hash(hash, sign_algo, hash_algo, ecdsa_format)
    }
}

// ---------------------------------------------------------------------------------------------
// Generation

/// Which certificate a profile builds.
enum Role {
    Root,
    IssuingCa,
    Signer,
}

/// A minimal RFC 5280 profile for the three kinds of certificate the sandbox issues.
struct Profile {
    subject: Name,
    issuer: Name,
    role: Role,
}

impl BuilderProfile for Profile {
    fn get_issuer(&self, _subject: &Name) -> Name {
        self.issuer.clone()
    }

    fn get_subject(&self) -> Name {
        self.subject.clone()
    }

    fn build_extensions(
        &self,
        spk: SubjectPublicKeyInfoRef<'_>,
        issuer_spk: SubjectPublicKeyInfoRef<'_>,
        tbs: &TbsCertificate,
    ) -> x509_cert::builder::Result<Vec<Extension>> {
        let mut extensions: Vec<Extension> = Vec::new();
        let ski = SubjectKeyIdentifier::try_from(spk)?;
        let aki = SubjectKeyIdentifier::try_from(issuer_spk)?;
        let (ca, path_len, usages) = match self.role {
            Role::Root => (true, None, KeyUsages::KeyCertSign | KeyUsages::CRLSign),
            Role::IssuingCa => (true, Some(0), KeyUsages::KeyCertSign | KeyUsages::CRLSign),
            // RFC 5280 4.2.1.3; ETSI EN 319 412-2 asks for nonRepudiation (contentCommitment) on
            // certificates for qualified signatures and seals.
            Role::Signer => (
                false,
                None,
                KeyUsages::DigitalSignature | KeyUsages::NonRepudiation,
            ),
        };
        extensions.push(
            BasicConstraints {
                ca,
                path_len_constraint: path_len,
            }
            .to_extension(tbs.subject(), &extensions)?,
        );
        extensions.push(KeyUsage(usages).to_extension(tbs.subject(), &extensions)?);
        extensions.push(ski.to_extension(tbs.subject(), &extensions)?);
        extensions.push(
            AuthorityKeyIdentifier {
                key_identifier: Some(OctetString::new(aki.0.as_bytes())?),
                ..Default::default()
            }
            .to_extension(tbs.subject(), &extensions)?,
        );
        Ok(extensions)
    }
}

fn pki_error(what: &str) -> impl Fn(String) -> Error + '_ {
    move |reason| Error::Pki(format!("{what}: {reason}"))
}

fn name(rfc4514: &str) -> Result<Name> {
    Name::from_str(rfc4514).map_err(|e| Error::Pki(format!("name {rfc4514:?}: {e}")))
}

fn validity(from: SystemTime, to: SystemTime) -> Result<Validity> {
    let time = |t: SystemTime| Time::try_from(t).map_err(|e| Error::Pki(format!("time: {e}")));
    Ok(Validity::new(time(from)?, time(to)?))
}

fn serial() -> Result<SerialNumber> {
    let mut bytes = [0u8; 16];
    getrandom::fill(&mut bytes).map_err(|e| Error::Random(e.to_string()))?;
    // Positive and without a leading zero octet (RFC 5280 4.1.2.2).
    bytes[0] = (bytes[0] & 0x7f) | 0x01;
    SerialNumber::new(&bytes).map_err(|e| Error::Pki(format!("serial number: {e}")))
}

fn issue(
    profile: Profile,
    validity: Validity,
    subject_key: SubjectPublicKeyInfoOwned,
    issuer_key: &p256::ecdsa::SigningKey,
) -> Result<Certificate> {
    let what = profile.subject.to_string();
    let builder = CertificateBuilder::new(profile, serial()?, validity, subject_key)
        .map_err(|e| pki_error(&what)(e.to_string()))?;
    builder
        .build::<_, p256::ecdsa::DerSignature>(issuer_key)
        .map_err(|e| pki_error(&what)(e.to_string()))
}

fn p256_spki(key: &p256::ecdsa::SigningKey) -> Result<SubjectPublicKeyInfoOwned> {
    SubjectPublicKeyInfoOwned::from_key(key.verifying_key())
        .map_err(|e| Error::Pki(format!("p256 public key: {e}")))
}

fn random_digits(count: usize) -> Result<String> {
    let mut bytes = vec![0u8; count];
    getrandom::fill(&mut bytes).map_err(|e| Error::Random(e.to_string()))?;
    // 250 is the largest multiple of 10 below 256: reject above it to avoid modulo bias.
    let mut digits = String::with_capacity(count);
    let mut pool = bytes.into_iter();
    while digits.len() < count {
        let b = match pool.next() {
            Some(b) => b,
            None => {
                let mut one = [0u8; 1];
                getrandom::fill(&mut one).map_err(|e| Error::Random(e.to_string()))?;
                one[0]
            }
        };
        if b < 250 {
            digits.push(char::from(b'0' + b % 10));
        }
    }
    Ok(digits)
}

/// `count` random bytes as lowercase hex.
pub(crate) fn random_hex(count: usize) -> Result<String> {
    let mut bytes = vec![0u8; count];
    getrandom::fill(&mut bytes).map_err(|e| Error::Random(e.to_string()))?;
    Ok(bytes.iter().map(|b| format!("{b:02x}")).collect())
}

fn generate(state_dir: &Path) -> Result<()> {
    let now = SystemTime::now();
    let ago = |d: Duration| now.checked_sub(d).unwrap_or(SystemTime::UNIX_EPOCH);

    let root_key = p256::ecdsa::SigningKey::generate_from_rng(&mut UnwrapErr(SysRng));
    let root_name = name("CN=ecoc sandbox root CA,O=ecoc sandbox,C=NL")?;
    let root = issue(
        Profile {
            subject: root_name.clone(),
            issuer: root_name.clone(),
            role: Role::Root,
        },
        // Starts well before the expired leaf so every leaf lies within its CAs' lifetimes.
        validity(ago(3 * YEAR), now + 10 * YEAR)?,
        p256_spki(&root_key)?,
        &root_key,
    )?;

    let issuing_key = p256::ecdsa::SigningKey::generate_from_rng(&mut UnwrapErr(SysRng));
    let issuing_name = name("CN=ecoc sandbox issuing CA,O=ecoc sandbox,C=NL")?;
    let issuing = issue(
        Profile {
            subject: issuing_name.clone(),
            issuer: root_name,
            role: Role::IssuingCa,
        },
        validity(ago(3 * YEAR), now + 8 * YEAR)?,
        p256_spki(&issuing_key)?,
        &root_key,
    )?;

    let signer = |cn: &str| -> Result<Profile> {
        Ok(Profile {
            subject: name(&format!("CN={cn},O=ecoc sandbox,C=NL"))?,
            issuer: issuing_name.clone(),
            role: Role::Signer,
        })
    };

    tracing::info!("generating the RSA-2048 signing key (slow in debug builds)");
    let rsa_key = rsa::RsaPrivateKey::new(&mut UnwrapErr(SysRng), 2048)
        .map_err(|e| Error::Pki(format!("rsa key generation: {e}")))?;
    let rsa_spki = SubjectPublicKeyInfoOwned::from_key(&rsa_key.to_public_key())
        .map_err(|e| Error::Pki(format!("rsa public key: {e}")))?;
    let rsa_cert = issue(
        signer("ecoc sandbox RSA signer")?,
        validity(ago(DAY), now + 2 * YEAR)?,
        rsa_spki,
        &issuing_key,
    )?;

    // A second manufacturer's credential, owned by a second client.
    let rsa_key_b = rsa::RsaPrivateKey::new(&mut UnwrapErr(SysRng), 2048)
        .map_err(|e| Error::Pki(format!("rsa key generation: {e}")))?;
    let rsa_spki_b = SubjectPublicKeyInfoOwned::from_key(&rsa_key_b.to_public_key())
        .map_err(|e| Error::Pki(format!("rsa public key: {e}")))?;
    let rsa_cert_b = issue(
        signer("ecoc sandbox RSA signer B")?,
        validity(ago(DAY), now + 2 * YEAR)?,
        rsa_spki_b,
        &issuing_key,
    )?;

    let p256_key = p256::ecdsa::SigningKey::generate_from_rng(&mut UnwrapErr(SysRng));
    let p256_cert = issue(
        signer("ecoc sandbox P-256 signer")?,
        validity(ago(DAY), now + 2 * YEAR)?,
        p256_spki(&p256_key)?,
        &issuing_key,
    )?;

    let expired_key = p256::ecdsa::SigningKey::generate_from_rng(&mut UnwrapErr(SysRng));
    let expired_cert = issue(
        signer("ecoc sandbox expired signer")?,
        validity(ago(2 * YEAR), ago(YEAR))?,
        p256_spki(&expired_key)?,
        &issuing_key,
    )?;

    let pem = |cert: &Certificate| {
        cert.to_pem(LineEnding::LF)
            .map_err(|e| Error::Pki(format!("pem encoding: {e}")))
    };
    let root_pem = pem(&root)?;
    let issuing_pem = pem(&issuing)?;

    let key_pem = |result: std::result::Result<der::zeroize::Zeroizing<String>, String>| {
        result.map_err(|e| Error::Pki(format!("pkcs8 encoding: {e}")))
    };
    write_secret(
        &state_dir.join("root-ca.key.pem"),
        &key_pem(
            root_key
                .to_pkcs8_pem(LineEnding::LF)
                .map_err(|e| e.to_string()),
        )?,
    )?;
    write_secret(
        &state_dir.join("issuing-ca.key.pem"),
        &key_pem(
            issuing_key
                .to_pkcs8_pem(LineEnding::LF)
                .map_err(|e| e.to_string()),
        )?,
    )?;
    write_public(&state_dir.join("root-ca.pem"), &root_pem)?;
    // xmlsec1 --trusted-pem reads only the first certificate of a file: ca.pem is the root alone.
    write_public(&state_dir.join("ca.pem"), &root_pem)?;
    write_public(&state_dir.join("issuing-ca.pem"), &issuing_pem)?;
    write_public(
        &state_dir.join("chain.pem"),
        &format!("{issuing_pem}{root_pem}"),
    )?;

    let mut credentials = Vec::new();
    let mut add = |id: &str,
                   key_type: KeyType,
                   (description, owner): (&str, Option<&str>),
                   expired: bool,
                   key_pem: der::zeroize::Zeroizing<String>,
                   cert: &Certificate|
     -> Result<()> {
        let certificate = format!("{id}.pem");
        let key = format!("{id}.key.pem");
        write_secret(&state_dir.join(&key), &key_pem)?;
        write_public(&state_dir.join(&certificate), &pem(cert)?)?;
        credentials.push(CredentialEntry {
            id: id.to_owned(),
            key_type,
            pin: random_digits(6)?,
            description: description.to_owned(),
            expired,
            certificate,
            key,
            client_id: owner.map(str::to_owned),
        });
        Ok(())
    };
    add(
        "rsa-signer",
        KeyType::Rsa2048,
        ("RSA-2048 eSeal test credential", None),
        false,
        key_pem(
            rsa_key
                .to_pkcs8_pem(LineEnding::LF)
                .map_err(|e| e.to_string()),
        )?,
        &rsa_cert,
    )?;
    add(
        "p256-signer",
        KeyType::P256,
        ("ECDSA P-256 eSeal test credential", None),
        false,
        key_pem(
            p256_key
                .to_pkcs8_pem(LineEnding::LF)
                .map_err(|e| e.to_string()),
        )?,
        &p256_cert,
    )?;
    add(
        "expired-signer",
        KeyType::P256,
        (
            "ECDSA P-256 credential whose certificate has expired (for negative tests)",
            None,
        ),
        true,
        key_pem(
            expired_key
                .to_pkcs8_pem(LineEnding::LF)
                .map_err(|e| e.to_string()),
        )?,
        &expired_cert,
    )?;
    add(
        "rsa-signer-b",
        KeyType::Rsa2048,
        (
            "RSA-2048 eSeal test credential of a second manufacturer",
            Some(SECOND_CLIENT),
        ),
        false,
        key_pem(
            rsa_key_b
                .to_pkcs8_pem(LineEnding::LF)
                .map_err(|e| e.to_string()),
        )?,
        &rsa_cert_b,
    )?;

    let description = SandboxDescription {
        version: FORMAT_VERSION,
        client_id: "ecoc-sandbox".to_owned(),
        client_secret: random_hex(24)?,
        root_ca: "root-ca.pem".to_owned(),
        issuing_ca: "issuing-ca.pem".to_owned(),
        chain: "chain.pem".to_owned(),
        credentials,
        clients: vec![QtspClient {
            client_id: SECOND_CLIENT.to_owned(),
            client_secret: random_hex(24)?,
        }],
    };
    let json = serde_json::to_string_pretty(&description)
        .map_err(|e| Error::Pki(format!("sandbox.json: {e}")))?;
    // Holds the client secret and the PINs: owner-only like the keys.
    write_secret(&state_dir.join(SANDBOX_JSON), &format!("{json}\n"))
}

/// The second OAuth2 client, owner of `rsa-signer-b`.
pub const SECOND_CLIENT: &str = "ecoc-sandbox-b";

fn read_text(path: &Path) -> Result<String> {
    fs::read_to_string(path).map_err(|source| Error::StateIo {
        path: path.to_owned(),
        source,
    })
}

fn load_certificate(path: &Path) -> Result<(Certificate, Vec<u8>)> {
    let pem = read_text(path)?;
    let bad = |reason: String| Error::StateFormat {
        path: path.to_owned(),
        reason,
    };
    let certificate = Certificate::from_pem(pem.as_bytes()).map_err(|e| bad(e.to_string()))?;
    let der = certificate.to_der().map_err(|e| bad(e.to_string()))?;
    // Round trip check: what we serve is exactly what is on disk.
    Certificate::from_der(&der).map_err(|e| bad(e.to_string()))?;
    Ok((certificate, der))
}

fn write_public(path: &Path, text: &str) -> Result<()> {
    fs::write(path, text).map_err(|source| Error::StateIo {
        path: path.to_owned(),
        source,
    })
}

fn write_secret(path: &Path, text: &str) -> Result<()> {
    let io = |source| Error::StateIo {
        path: path.to_owned(),
        source,
    };
    let mut options = fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options.open(path).map_err(io)?;
    file.write_all(text.as_bytes()).map_err(io)?;
    file.sync_all().map_err(io)
}

/// Formats a certificate time the way CSC `credentials/info` does (GeneralizedTime, `YYYYMMDDHHMMSSZ`).
pub(crate) fn generalized_time(time: &Time) -> String {
    let t = time.to_date_time();
    format!(
        "{:04}{:02}{:02}{:02}{:02}{:02}Z",
        t.year(),
        t.month(),
        t.day(),
        t.hour(),
        t.minutes(),
        t.seconds()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hash_algorithm_resolution() {
        assert_eq!(
            resolve_hash_algorithm(OID_SHA256_WITH_RSA, None),
            Some(HashAlg::Sha256)
        );
        assert_eq!(
            resolve_hash_algorithm(OID_RSA, Some(OID_SHA512)),
            Some(HashAlg::Sha512)
        );
        assert_eq!(resolve_hash_algorithm(OID_RSA, None), None);
        assert_eq!(
            resolve_hash_algorithm(OID_ECDSA_SHA256, Some(OID_SHA384)),
            None
        );
        assert_eq!(resolve_hash_algorithm("1.2.3", Some(OID_SHA256)), None);
    }

    #[test]
    fn pins_are_digits() {
        let pin = random_digits(6).unwrap();
        assert_eq!(pin.len(), 6);
        assert!(pin.bytes().all(|b| b.is_ascii_digit()));
    }
}
