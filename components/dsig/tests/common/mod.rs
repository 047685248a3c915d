//! Test PKI: a root CA and signing leaves (RSA-2048 and P-256), minted in the test from a seeded
//! RNG with `x509-cert`'s builder. Nothing here comes from source control.

#![allow(
    dead_code,
    reason = "each test binary uses a different part of this module"
)]

use std::path::PathBuf;
use std::str::FromStr;
use std::sync::OnceLock;
use std::time::{Duration, SystemTime};

use der::{Encode, EncodePem, pem::LineEnding};
use dsig::LocalSigner;
use rand_chacha::ChaCha20Rng;
use rand_chacha::rand_core::SeedableRng;
use rsa::RsaPrivateKey;
use spki::{EncodePublicKey, SubjectPublicKeyInfoOwned, SubjectPublicKeyInfoRef};
use x509_cert::builder::profile::BuilderProfile;
use x509_cert::builder::{Builder, CertificateBuilder};
use x509_cert::certificate::TbsCertificate;
use x509_cert::ext::pkix::{BasicConstraints, KeyUsage, KeyUsages};
use x509_cert::ext::{Extension, ToExtension};
use x509_cert::name::Name;
use x509_cert::serial_number::SerialNumber;
use x509_cert::time::{Time, Validity};

/// A key able to issue certificates.
#[derive(Clone)]
pub enum Key {
    Rsa(Box<RsaPrivateKey>),
    P256(p256::ecdsa::SigningKey),
}

impl Key {
    pub fn rsa(seed: u64) -> Self {
        let mut rng = ChaCha20Rng::seed_from_u64(seed);
        Self::Rsa(Box::new(
            RsaPrivateKey::new(&mut rng, 2048).expect("rsa keygen"),
        ))
    }

    pub fn p256(seed: u64) -> Self {
        let mut rng = ChaCha20Rng::seed_from_u64(seed);
        use p256::elliptic_curve::Generate;
        Self::P256(p256::ecdsa::SigningKey::generate_from_rng(&mut rng))
    }

    pub fn spki(&self) -> SubjectPublicKeyInfoOwned {
        let der = match self {
            Self::Rsa(k) => k.to_public_key().to_public_key_der().expect("spki"),
            Self::P256(k) => k.verifying_key().to_public_key_der().expect("spki"),
        };
        SubjectPublicKeyInfoOwned::try_from(der.as_bytes()).expect("spki")
    }

    pub fn signer(&self) -> LocalSigner {
        match self {
            Self::Rsa(k) => LocalSigner::Rsa(k.clone()),
            Self::P256(k) => LocalSigner::P256(k.clone()),
        }
    }

    /// PKCS#8 PEM, for xmlsec1 --privkey-pem.
    pub fn pkcs8_pem(&self) -> String {
        use rsa::pkcs8::EncodePrivateKey;
        match self {
            Self::Rsa(k) => k.to_pkcs8_pem(LineEnding::LF).expect("pem").to_string(),
            Self::P256(k) => k.to_pkcs8_pem(LineEnding::LF).expect("pem").to_string(),
        }
    }
}

struct Profile {
    issuer: Name,
    subject: Name,
    ca: bool,
    usage: KeyUsage,
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
        _spk: SubjectPublicKeyInfoRef<'_>,
        _issuer_spk: SubjectPublicKeyInfoRef<'_>,
        tbs: &TbsCertificate,
    ) -> x509_cert::builder::Result<Vec<Extension>> {
        let mut out = Vec::new();
        let bc = BasicConstraints {
            ca: self.ca,
            path_len_constraint: None,
        }
        .to_extension(tbs.subject(), &out)?;
        out.push(bc);
        out.push(self.usage.to_extension(tbs.subject(), &out)?);
        Ok(out)
    }
}

pub struct Issued {
    pub der: Vec<u8>,
    pub key: Key,
}

impl Issued {
    pub fn pem(&self) -> String {
        let cert = <x509_cert::Certificate as der::Decode>::from_der(&self.der).expect("cert");
        cert.to_pem(LineEnding::LF).expect("pem")
    }
}

/// Issues a certificate for `key`, signed by `issuer` (self-signed when `None`).
pub fn issue(
    subject: &str,
    key: &Key,
    issuer: Option<(&str, &Key)>,
    ca: bool,
    usage: KeyUsage,
    validity: (SystemTime, SystemTime),
    serial: u32,
) -> Issued {
    let (issuer_name, issuer_key) = issuer.unwrap_or((subject, key));
    let profile = Profile {
        issuer: Name::from_str(issuer_name).expect("issuer name"),
        subject: Name::from_str(subject).expect("subject name"),
        ca,
        usage,
    };
    let validity = Validity::new(
        Time::try_from(validity.0).expect("time"),
        Time::try_from(validity.1).expect("time"),
    );
    let builder =
        CertificateBuilder::new(profile, SerialNumber::from(serial), validity, key.spki())
            .expect("builder");
    let cert = match issuer_key {
        Key::Rsa(k) => {
            let signer = rsa::pkcs1v15::SigningKey::<sha2::Sha256>::new((**k).clone());
            builder
                .build::<_, rsa::pkcs1v15::Signature>(&signer)
                .expect("build")
        }
        Key::P256(k) => builder
            .build::<_, p256::ecdsa::DerSignature>(k)
            .expect("build"),
    };
    Issued {
        der: cert.to_der().expect("der"),
        key: key.clone(),
    }
}

pub const ROOT_NAME: &str = "CN=dsig test root CA,O=ecoc tests,C=NL";
pub const ISSUING_NAME: &str = "CN=dsig test issuing CA,O=ecoc tests,C=NL";

pub fn years(n: u64) -> Duration {
    Duration::from_secs(n * 365 * 86_400)
}

/// The shared test PKI: root -> issuing CA (RSA) -> leaves; built once per test binary.
pub struct Pki {
    pub root: Issued,
    pub issuing: Issued,
    pub rsa_leaf: Issued,
    pub p256_leaf: Issued,
    pub expired_leaf: Issued,
}

pub fn pki() -> &'static Pki {
    static PKI: OnceLock<Pki> = OnceLock::new();
    PKI.get_or_init(|| {
        let now = SystemTime::now();
        let long = (now - years(1), now + years(10));
        let ca_usage = KeyUsage(KeyUsages::KeyCertSign | KeyUsages::CRLSign);
        let leaf_usage = KeyUsage(KeyUsages::DigitalSignature | KeyUsages::NonRepudiation);
        let root_key = Key::p256(1);
        let root = issue(ROOT_NAME, &root_key, None, true, ca_usage, long, 1);
        let issuing_key = Key::rsa(2);
        let issuing = issue(
            ISSUING_NAME,
            &issuing_key,
            Some((ROOT_NAME, &root_key)),
            true,
            ca_usage,
            long,
            2,
        );
        let rsa_leaf = issue(
            "CN=eCoC signer RSA,O=Example Motors,C=NL",
            &Key::rsa(3),
            Some((ISSUING_NAME, &issuing_key)),
            false,
            leaf_usage,
            long,
            3,
        );
        let p256_leaf = issue(
            "CN=eCoC signer P-256,O=Example Motors,C=NL",
            &Key::p256(4),
            Some((ISSUING_NAME, &issuing_key)),
            false,
            leaf_usage,
            long,
            4,
        );
        let expired_leaf = issue(
            "CN=eCoC signer expired,O=Example Motors,C=NL",
            &Key::p256(5),
            Some((ISSUING_NAME, &issuing_key)),
            false,
            leaf_usage,
            (now - years(3), now - years(1)),
            5,
        );
        Pki {
            root,
            issuing,
            rsa_leaf,
            p256_leaf,
            expired_leaf,
        }
    })
}

/// A small IVI-shaped document (not an official specimen).
pub const IVI_LIKE: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<InitialVehicleInformation xmlns="http://eu.ereg.initialvehicleinformation.v2">
	<Header>
		<IviReferenceId>3f1d9c2e-7b4a-4e21-9a55-0c8f1e2d3b4a</IviReferenceId>
		<IviVersionNumberXsd>2.0</IviVersionNumberXsd>
		<IviVersionNumber>1</IviVersionNumber>
		<IviVersionDateTime>2026-07-05T10:00:00Z</IviVersionDateTime>
	</Header>
	<CocDataGroup>
		<VehicleIdentificationNumber>WDB12345678901234</VehicleIdentificationNumber>
		<Remark attr="a &amp; b">Mass &lt; 3500 kg, tyres “R17”</Remark>
	</CocDataGroup>
</InitialVehicleInformation>
"#;

/// Where the nine official specimens live (read-only reference data, never copied).
pub fn specimens_dir() -> Option<PathBuf> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/ivi2/samples");
    if dir.is_dir() {
        return Some(dir);
    }
    assert!(
        std::env::var_os("CI").is_none(),
        "specimens folder {} is missing and CI is set",
        dir.display()
    );
    eprintln!("skipped: specimens folder {} is missing", dir.display());
    None
}

/// Is an external tool available? Skips (prints) when not, fails when CI is set.
pub fn tool_available(cmd: &str, probe: &[&str]) -> bool {
    let ok = std::process::Command::new(cmd)
        .args(probe)
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false);
    if !ok {
        assert!(
            std::env::var_os("CI").is_none(),
            "{cmd} is not available and CI is set"
        );
        eprintln!("skipped: {cmd} is not available");
    }
    ok
}
