//! Certificates and path validation (RFC 5280 section 6, the subset a signature verifier needs).

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::SystemTime;

use der::{Decode, Encode};
use x509_cert::ext::pkix::{BasicConstraints, KeyUsage};

use crate::keys::{Hash, PublicKey, SignatureAlgorithm};
use crate::{Error, Result};

/// Longest accepted certificate path (leaf, intermediates, anchor).
pub const MAX_CHAIN_LENGTH: usize = 8;

/// Critical extensions this validator understands (RFC 5280 section 4.2: any other critical
/// extension makes the certificate unusable).
const KNOWN_CRITICAL: &[&str] = &[
    "2.5.29.15", // keyUsage
    "2.5.29.19", // basicConstraints
    "2.5.29.37", // extKeyUsage
    "2.5.29.32", // certificatePolicies
    "2.5.29.17", // subjectAltName
];

/// An X.509 certificate with its original DER.
#[derive(Debug, Clone)]
pub struct Certificate {
    der: Vec<u8>,
    cert: x509_cert::Certificate,
}

impl PartialEq for Certificate {
    fn eq(&self, other: &Self) -> bool {
        self.der == other.der
    }
}

impl Certificate {
    /// Parses a DER certificate.
    pub fn from_der(der: &[u8]) -> Result<Self> {
        let cert = x509_cert::Certificate::from_der(der)
            .map_err(|e| Error::Certificate(format!("der: {e}")))?;
        Ok(Self {
            der: der.to_vec(),
            cert,
        })
    }

    /// The DER encoding.
    pub fn der(&self) -> &[u8] {
        &self.der
    }

    /// The parsed certificate.
    pub fn inner(&self) -> &x509_cert::Certificate {
        &self.cert
    }

    /// Subject as an RFC 4514 string.
    pub fn subject(&self) -> String {
        self.cert.tbs_certificate().subject().to_string()
    }

    /// Issuer as an RFC 4514 string.
    pub fn issuer(&self) -> String {
        self.cert.tbs_certificate().issuer().to_string()
    }

    /// Validity start.
    pub fn not_before(&self) -> SystemTime {
        self.cert
            .tbs_certificate()
            .validity()
            .not_before
            .to_system_time()
    }

    /// Validity end.
    pub fn not_after(&self) -> SystemTime {
        self.cert
            .tbs_certificate()
            .validity()
            .not_after
            .to_system_time()
    }

    /// The subject public key.
    pub fn public_key(&self) -> Result<PublicKey> {
        PublicKey::from_spki(self.cert.tbs_certificate().subject_public_key_info())
    }

    /// The algorithm the subject key signs with, checked as [`Self::public_key`] checks it but
    /// without building the key.
    pub fn key_algorithm(&self) -> Result<SignatureAlgorithm> {
        PublicKey::algorithm_of(self.cert.tbs_certificate().subject_public_key_info())
    }

    /// DER of `IssuerSerial` (RFC 5035): `SEQUENCE { GeneralNames { [4] issuer }, serialNumber }`,
    /// the content of XAdES `IssuerSerialV2`.
    pub fn issuer_serial_der(&self) -> Result<Vec<u8>> {
        let tbs = self.cert.tbs_certificate();
        let issuer = tbs
            .issuer()
            .to_der()
            .map_err(|e| Error::Certificate(format!("issuer: {e}")))?;
        let serial = tbs
            .serial_number()
            .to_der()
            .map_err(|e| Error::Certificate(format!("serial: {e}")))?;
        let directory_name = tlv(0xA4, &issuer);
        let general_names = tlv(0x30, &directory_name);
        let mut content = general_names;
        content.extend_from_slice(&serial);
        Ok(tlv(0x30, &content))
    }

    fn name_der(name: &x509_cert::name::Name) -> Vec<u8> {
        name.to_der().unwrap_or_default()
    }

    fn basic_constraints(&self) -> Result<Option<BasicConstraints>> {
        self.cert
            .tbs_certificate()
            .get_extension::<BasicConstraints>()
            .map(|o| o.map(|(_, bc)| bc))
            .map_err(|e| Error::Certificate(format!("basicConstraints of {}: {e}", self.subject())))
    }

    fn key_usage(&self) -> Result<Option<KeyUsage>> {
        self.cert
            .tbs_certificate()
            .get_extension::<KeyUsage>()
            .map(|o| o.map(|(_, ku)| ku))
            .map_err(|e| Error::Certificate(format!("keyUsage of {}: {e}", self.subject())))
    }

    fn check_critical(&self) -> Result<()> {
        if let Some(exts) = self.cert.tbs_certificate().extensions() {
            for ext in exts.iter().filter(|ext| ext.critical) {
                let oid = ext.extn_id.to_string();
                if !KNOWN_CRITICAL.contains(&oid.as_str()) {
                    return Err(Error::Chain(format!(
                        "certificate {} has an unknown critical extension {oid}",
                        self.subject()
                    )));
                }
            }
        }
        Ok(())
    }

    pub(crate) fn check_validity(&self, at: SystemTime, role: &str) -> Result<()> {
        if at < self.not_before() {
            return Err(Error::Chain(format!(
                "{role} certificate {} is not yet valid at {} (valid from {})",
                self.subject(),
                fmt_time(at),
                fmt_time(self.not_before())
            )));
        }
        if at > self.not_after() {
            return Err(Error::Chain(format!(
                "{role} certificate {} expired at {} (checked at {})",
                self.subject(),
                fmt_time(self.not_after()),
                fmt_time(at)
            )));
        }
        Ok(())
    }

    /// The raw `tbsCertificate` TLV, sliced from the original DER (never re-encoded).
    fn tbs_der(&self) -> Result<&[u8]> {
        let bad = || Error::Certificate("certificate der framing".into());
        let (h, _) = tlv_header(&self.der).ok_or_else(bad)?;
        let inner = self.der.get(h..).ok_or_else(bad)?;
        let (h2, len2) = tlv_header(inner).ok_or_else(bad)?;
        inner.get(..h2 + len2).ok_or_else(bad)
    }

    /// Checks that `issuer`'s key signed this certificate.
    fn verify_signed_by(&self, issuer: &Certificate) -> Result<()> {
        let key = issuer.public_key()?;
        let alg = self.cert.signature_algorithm().oid.to_string();
        let sig = self
            .cert
            .signature()
            .as_bytes()
            .ok_or_else(|| Error::Certificate("signature bit string".into()))?;
        let tbs = self.tbs_der()?;
        let (hash, ecdsa) = match alg.as_str() {
            "1.2.840.113549.1.1.11" => (Hash::Sha256, false),
            "1.2.840.113549.1.1.12" => (Hash::Sha384, false),
            "1.2.840.113549.1.1.13" => (Hash::Sha512, false),
            "1.2.840.10045.4.3.2" => (Hash::Sha256, true),
            "1.2.840.10045.4.3.3" => (Hash::Sha384, true),
            other => {
                return Err(Error::UnsupportedAlgorithm(format!(
                    "certificate signature algorithm {other} on {}",
                    self.subject()
                )));
            }
        };
        let digest = hash.digest(tbs);
        let value = if ecdsa {
            if !matches!(key, PublicKey::P256(_)) {
                return Err(Error::Chain(format!(
                    "issuer key type does not match algorithm {alg}"
                )));
            }
            p256::ecdsa::Signature::from_der(sig)
                .map_err(|e| Error::Certificate(format!("ecdsa certificate signature: {e}")))?
                .to_bytes()
                .to_vec()
        } else {
            if !matches!(key, PublicKey::Rsa(_)) {
                return Err(Error::Chain(format!(
                    "issuer key type does not match algorithm {alg}"
                )));
            }
            sig.to_vec()
        };
        key.verify_prehash(hash, &digest, &value).map_err(|_| {
            Error::Chain(format!(
                "signature on certificate {} does not verify with the key of {}",
                self.subject(),
                issuer.subject()
            ))
        })
    }
}

fn tlv(tag: u8, content: &[u8]) -> Vec<u8> {
    let mut out = vec![tag];
    let n = content.len();
    if n < 0x80 {
        out.push(n as u8);
    } else {
        let bytes = n.to_be_bytes();
        let skip = bytes.iter().take_while(|b| **b == 0).count();
        out.push(0x80 | (bytes.len() - skip) as u8);
        out.extend_from_slice(&bytes[skip..]);
    }
    out.extend_from_slice(content);
    out
}

/// (header length, content length) of a DER TLV.
fn tlv_header(b: &[u8]) -> Option<(usize, usize)> {
    let first = *b.get(1)?;
    if first < 0x80 {
        return Some((2, first as usize));
    }
    let n = (first & 0x7f) as usize;
    if n == 0 || n > 4 {
        return None;
    }
    let mut len = 0usize;
    for i in 0..n {
        len = (len << 8) | *b.get(2 + i)? as usize;
    }
    Some((2 + n, len))
}

/// Formats a time as an xs:dateTime in UTC (`2026-07-05T10:00:00Z`).
pub(crate) fn fmt_time(t: SystemTime) -> String {
    let secs = match t.duration_since(SystemTime::UNIX_EPOCH) {
        Ok(d) => d.as_secs(),
        Err(_) => return "before 1970".into(),
    };
    match der::DateTime::from_unix_duration(std::time::Duration::from_secs(secs)) {
        Ok(dt) => format!(
            "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}Z",
            dt.year(),
            dt.month(),
            dt.day(),
            dt.hour(),
            dt.minutes(),
            dt.seconds()
        ),
        Err(_) => format!("{secs}s after 1970"),
    }
}

/// Parses every `CERTIFICATE` block of a PEM text (all of them: unlike `xmlsec1 --trusted-pem`,
/// which reads only the first).
pub fn parse_pem_certificates(pem: &str) -> Result<Vec<Certificate>> {
    let mut out = Vec::new();
    let mut rest = pem;
    while let Some(start) = rest.find("-----BEGIN ") {
        let block = &rest[start..];
        let end_marker = block
            .find("-----END ")
            .ok_or_else(|| Error::Certificate("pem block without END line".into()))?;
        let after = block[end_marker + 9..]
            .find("-----")
            .map(|i| end_marker + 9 + i + 5)
            .ok_or_else(|| Error::Certificate("pem END line is cut".into()))?;
        let (label, der) = der::pem::decode_vec(&block.as_bytes()[..after])
            .map_err(|e| Error::Certificate(format!("pem: {e}")))?;
        if label == "CERTIFICATE" {
            out.push(Certificate::from_der(&der)?);
        }
        rest = &block[after..];
    }
    if out.is_empty() {
        return Err(Error::Certificate("no CERTIFICATE block in pem".into()));
    }
    Ok(out)
}

/// What a verifier need not work out twice, shared by the clones of one
/// [`crate::VerifyOptions`]: verifying a batch of documents signed with the same chain checks each
/// certificate link's signature and builds each signing key once instead of once per document.
/// Links are kept only when good, keyed by both certificates' DER, and keys by their certificate's
/// DER, so a different certificate is always checked afresh. Each table is emptied when it holds
/// [`VerifyCache::CAPACITY`] entries, which bounds a long-lived cache.
#[derive(Debug, Clone, Default)]
pub struct VerifyCache(Arc<Mutex<CacheTables>>);

#[derive(Debug, Default)]
struct CacheTables {
    links: HashSet<[u8; 32]>,
    keys: HashMap<Vec<u8>, PublicKey>,
}

impl VerifyCache {
    /// Most entries in each table.
    pub const CAPACITY: usize = 256;

    pub(crate) fn signed_by(&self, cert: &Certificate, issuer: &Certificate) -> bool {
        use sha2::Digest;
        let mut hasher = sha2::Sha256::new();
        hasher.update((cert.der.len() as u64).to_be_bytes());
        hasher.update(&cert.der);
        hasher.update(&issuer.der);
        let link: [u8; 32] = hasher.finalize().into();
        if self.0.lock().is_ok_and(|t| t.links.contains(&link)) {
            return true;
        }
        let good = cert.verify_signed_by(issuer).is_ok();
        if good && let Ok(mut tables) = self.0.lock() {
            if tables.links.len() >= Self::CAPACITY {
                tables.links.clear();
            }
            tables.links.insert(link);
        }
        good
    }

    /// The subject public key of `cert` (see [`Certificate::public_key`]).
    pub(crate) fn public_key(&self, cert: &Certificate) -> Result<PublicKey> {
        if let Some(key) = self
            .0
            .lock()
            .ok()
            .and_then(|t| t.keys.get(&cert.der).cloned())
        {
            return Ok(key);
        }
        let key = cert.public_key()?;
        if let Ok(mut tables) = self.0.lock() {
            if tables.keys.len() >= Self::CAPACITY {
                tables.keys.clear();
            }
            tables.keys.insert(cert.der.clone(), key.clone());
        }
        Ok(key)
    }
}

/// Validates a path from `leaf` through `pool` (certificates carried in the signature) to one of
/// `anchors`, at `at`. Returns the path, leaf first, anchor last.
pub(crate) fn validate_chain(
    leaf: &Certificate,
    pool: &[Certificate],
    anchors: &[Certificate],
    at: SystemTime,
    cache: &VerifyCache,
) -> Result<Vec<Certificate>> {
    if anchors.is_empty() {
        return Err(Error::Chain("no trust anchors given".into()));
    }
    leaf.check_validity(at, "signing")?;
    leaf.check_critical()?;
    // The leaf signs documents: it must say so, and must not be a CA.
    match leaf.key_usage()? {
        Some(ku) if ku.digital_signature() || ku.non_repudiation() => {}
        Some(_) => {
            return Err(Error::Chain(format!(
                "signing certificate {} has neither digitalSignature nor nonRepudiation key usage",
                leaf.subject()
            )));
        }
        None => {
            return Err(Error::Chain(format!(
                "signing certificate {} has no keyUsage extension",
                leaf.subject()
            )));
        }
    }
    if leaf.basic_constraints()?.is_some_and(|bc| bc.ca) {
        return Err(Error::Chain(format!(
            "signing certificate {} is a ca",
            leaf.subject()
        )));
    }
    let mut path = vec![leaf.clone()];
    let mut current = leaf.clone();
    for _ in 0..MAX_CHAIN_LENGTH {
        let issuer_name = Certificate::name_der(current.cert.tbs_certificate().issuer());
        // A trust anchor that issued `current` ends the path (anchors are trusted as given,
        // but must still be valid now-or-then and be CAs).
        for anchor in anchors {
            if Certificate::name_der(anchor.cert.tbs_certificate().subject()) == issuer_name
                && cache.signed_by(&current, anchor)
            {
                anchor.check_validity(at, "trust anchor")?;
                check_ca(anchor)?;
                path.push(anchor.clone());
                return Ok(path);
            }
        }
        let next = pool.iter().find(|c| {
            *c != &current
                && Certificate::name_der(c.cert.tbs_certificate().subject()) == issuer_name
                && cache.signed_by(&current, c)
        });
        let Some(next) = next else {
            return Err(Error::Chain(format!(
                "chain does not lead to a trust anchor: no trusted issuer {} for {}",
                current.issuer(),
                current.subject()
            )));
        };
        next.check_validity(at, "intermediate")?;
        next.check_critical()?;
        check_ca(next)?;
        path.push(next.clone());
        current = next.clone();
    }
    Err(Error::Chain(format!(
        "path longer than {MAX_CHAIN_LENGTH} certificates"
    )))
}

fn check_ca(c: &Certificate) -> Result<()> {
    if !c.basic_constraints()?.is_some_and(|bc| bc.ca) {
        return Err(Error::Chain(format!(
            "issuer {} is not a ca (basicConstraints)",
            c.subject()
        )));
    }
    if let Some(ku) = c.key_usage()?
        && !ku.key_cert_sign()
    {
        return Err(Error::Chain(format!(
            "issuer {} lacks keyCertSign key usage",
            c.subject()
        )));
    }
    Ok(())
}
