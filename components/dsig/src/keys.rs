//! Keys, signature algorithms and the [`Signer`] seam between assembly and whoever holds the key.

use p256::ecdsa::signature::hazmat::{PrehashSigner, PrehashVerifier};
use rsa::pkcs8::DecodePrivateKey;
use rsa::traits::PublicKeyParts;
use rsa::{Pkcs1v15Sign, RsaPrivateKey, RsaPublicKey};
use sha2::{Sha256, Sha384, Sha512};
use spki::{SubjectPublicKeyInfoOwned, der::Decode};

use crate::{Error, Result, algorithms};

const OID_RSA: spki::ObjectIdentifier = spki::ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.1");
const OID_EC: spki::ObjectIdentifier = spki::ObjectIdentifier::new_unwrap("1.2.840.10045.2.1");
const OID_P256: spki::ObjectIdentifier = spki::ObjectIdentifier::new_unwrap("1.2.840.10045.3.1.7");

/// The signature algorithms this crate produces and accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SignatureAlgorithm {
    /// RSASSA-PKCS1-v1_5 with SHA-256.
    RsaSha256,
    /// ECDSA on P-256 with SHA-256, value raw r||s.
    EcdsaP256Sha256,
}

impl SignatureAlgorithm {
    /// The XML-DSig `SignatureMethod/@Algorithm` URI.
    pub fn uri(self) -> &'static str {
        match self {
            Self::RsaSha256 => algorithms::RSA_SHA256,
            Self::EcdsaP256Sha256 => algorithms::ECDSA_SHA256,
        }
    }

    /// The CSC `signAlgo` OID.
    pub fn sign_algo_oid(self) -> &'static str {
        match self {
            Self::RsaSha256 => algorithms::OID_SHA256_WITH_RSA,
            Self::EcdsaP256Sha256 => algorithms::OID_ECDSA_SHA256,
        }
    }

    /// From a `SignatureMethod/@Algorithm` URI.
    pub fn from_uri(uri: &str) -> Result<Self> {
        match uri {
            algorithms::RSA_SHA256 => Ok(Self::RsaSha256),
            algorithms::ECDSA_SHA256 => Ok(Self::EcdsaP256Sha256),
            algorithms::RSA_SHA1 => Err(Error::UnsupportedAlgorithm(format!(
                "{uri} (legacy sha-1, refused)"
            ))),
            _ => Err(Error::UnsupportedAlgorithm(uri.to_owned())),
        }
    }
}

/// Hash functions that appear in certificate signatures.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Hash {
    Sha256,
    Sha384,
    Sha512,
}

impl Hash {
    pub(crate) fn digest(self, data: &[u8]) -> Vec<u8> {
        use sha2::Digest;
        match self {
            Self::Sha256 => Sha256::digest(data).to_vec(),
            Self::Sha384 => Sha384::digest(data).to_vec(),
            Self::Sha512 => Sha512::digest(data).to_vec(),
        }
    }
}

/// A public key taken from a certificate.
#[derive(Debug, Clone)]
pub enum PublicKey {
    /// An RSA key (2048 bits or more are accepted).
    Rsa(Box<RsaPublicKey>),
    /// A P-256 key.
    P256(p256::ecdsa::VerifyingKey),
}

impl PublicKey {
    /// From a DER `SubjectPublicKeyInfo`.
    pub fn from_spki_der(der: &[u8]) -> Result<Self> {
        let spki = SubjectPublicKeyInfoOwned::from_der(der)
            .map_err(|e| Error::Certificate(format!("subject public key info: {e}")))?;
        Self::from_spki(&spki)
    }

    pub(crate) fn from_spki(spki: &SubjectPublicKeyInfoOwned) -> Result<Self> {
        let bits = key_bits(spki)?;
        match Self::algorithm_of(spki)? {
            SignatureAlgorithm::RsaSha256 => {
                use rsa::pkcs1::DecodeRsaPublicKey;
                let key = RsaPublicKey::from_pkcs1_der(bits)
                    .map_err(|e| Error::Certificate(format!("rsa key: {e}")))?;
                Ok(Self::Rsa(Box::new(key)))
            }
            SignatureAlgorithm::EcdsaP256Sha256 => {
                let key = p256::ecdsa::VerifyingKey::from_sec1_bytes(bits)
                    .map_err(|e| Error::Certificate(format!("p-256 key: {e}")))?;
                Ok(Self::P256(key))
            }
        }
    }

    /// The algorithm a `SubjectPublicKeyInfo` signs with, from its identifiers and (for RSA) the
    /// modulus length alone: no key arithmetic, so a signer can ask per document for free.
    pub(crate) fn algorithm_of(spki: &SubjectPublicKeyInfoOwned) -> Result<SignatureAlgorithm> {
        if spki.algorithm.oid == OID_RSA {
            let key =
                rsa::pkcs1::RsaPublicKey::<spki::der::asn1::UintRef>::from_der(key_bits(spki)?)
                    .map_err(|e| Error::Certificate(format!("rsa key: {e}")))?;
            let octets = key.modulus.as_bytes().len();
            if octets < 256 {
                return Err(Error::Certificate(format!(
                    "rsa key of {} bits is too short",
                    octets * 8
                )));
            }
            Ok(SignatureAlgorithm::RsaSha256)
        } else if spki.algorithm.oid == OID_EC {
            let curve = spki
                .algorithm
                .parameters
                .as_ref()
                .and_then(|p| p.decode_as::<spki::ObjectIdentifier>().ok());
            if curve != Some(OID_P256) {
                return Err(Error::UnsupportedAlgorithm(format!(
                    "ec curve {}",
                    curve.map_or_else(|| "(none)".to_owned(), |c| c.to_string())
                )));
            }
            Ok(SignatureAlgorithm::EcdsaP256Sha256)
        } else {
            Err(Error::UnsupportedAlgorithm(format!(
                "public key algorithm {}",
                spki.algorithm.oid
            )))
        }
    }

    /// The XML-DSig algorithm this key signs with.
    pub fn algorithm(&self) -> SignatureAlgorithm {
        match self {
            Self::Rsa(_) => SignatureAlgorithm::RsaSha256,
            Self::P256(_) => SignatureAlgorithm::EcdsaP256Sha256,
        }
    }

    /// Verifies an XML-DSig `SignatureValue` over a SHA-256 digest. ECDSA values must be raw
    /// r||s; a DER value is refused with [`Error::DerEcdsaValue`].
    pub fn verify_xmldsig(&self, digest: &[u8], value: &[u8]) -> Result<()> {
        match self {
            Self::Rsa(_) => self.verify_prehash(Hash::Sha256, digest, value),
            Self::P256(_) => {
                if value.len() != 64 {
                    if value.first() == Some(&0x30)
                        && p256::ecdsa::Signature::from_der(value).is_ok()
                    {
                        return Err(Error::DerEcdsaValue { len: value.len() });
                    }
                    return Err(Error::SignatureValue(format!(
                        "ecdsa p-256 value has {} bytes, expected 64 (raw r||s)",
                        value.len()
                    )));
                }
                self.verify_prehash(Hash::Sha256, digest, value)
            }
        }
    }

    /// Verifies a signature over a prehashed message. ECDSA `value` is raw r||s here; certificate
    /// signatures (DER) are converted by the caller.
    pub(crate) fn verify_prehash(&self, hash: Hash, digest: &[u8], value: &[u8]) -> Result<()> {
        match self {
            Self::Rsa(key) => {
                let scheme = match hash {
                    Hash::Sha256 => Pkcs1v15Sign::new::<Sha256>(),
                    Hash::Sha384 => Pkcs1v15Sign::new::<Sha384>(),
                    Hash::Sha512 => Pkcs1v15Sign::new::<Sha512>(),
                };
                if rsa_pkcs1v15_verify(key, &scheme.prefix, digest, value) {
                    Ok(())
                } else {
                    Err(Error::SignatureValue(
                        "rsa pkcs#1 v1.5 signature does not verify".into(),
                    ))
                }
            }
            Self::P256(key) => {
                let sig = p256::ecdsa::Signature::from_slice(value).map_err(|_| {
                    Error::SignatureValue("ecdsa value is not a valid r||s pair".into())
                })?;
                key.verify_prehash(digest, &sig).map_err(|_| {
                    Error::SignatureValue("ecdsa p-256 signature does not verify".into())
                })
            }
        }
    }
}

/// RSASSA-PKCS1-v1_5 verification (RFC 8017 section 8.2.2): RSAVP1 with the public exponent
/// applied by left-to-right square-and-multiply, then the whole EMSA-PKCS1-v1_5 encoding of the
/// digest (section 9.2) compared with the recovered message.
///
/// Written here rather than taken from `RsaPublicKey::verify` for speed: the `rsa` crate raises
/// the signature to `e` with the fixed-window ladder it also uses for secret exponents, a table of
/// sixteen powers and about 39 Montgomery products for e = 65537 where square-and-multiply needs
/// 17. Everything here is public (key, signature, digest), so a variable-time ladder leaks
/// nothing; the arithmetic itself is crypto-bigint's, on the key's own Montgomery parameters. The
/// unit tests hold it to the `rsa` crate's verdict on good, altered and foreign signatures.
fn rsa_pkcs1v15_verify(key: &RsaPublicKey, prefix: &[u8], digest: &[u8], value: &[u8]) -> bool {
    use crypto_bigint::{BoxedUint, modular::BoxedMontyForm};
    let k = key.size();
    // Step 1: the signature is exactly k octets.
    if value.len() != k {
        return false;
    }
    let params = key.n_params();
    let Ok(s) = BoxedUint::from_be_slice(value, params.bits_precision()) else {
        return false;
    };
    // RSAVP1 step 1: the representative lies below n.
    if s >= *key.n().as_ref() {
        return false;
    }
    let e = key.e();
    let base = BoxedMontyForm::new(s, params);
    let mut power = base.clone();
    for bit in (0..e.bits_vartime().saturating_sub(1)).rev() {
        power = power.square();
        if e.bit_vartime(bit) {
            power = power.mul(&base);
        }
    }
    // I2OSP to k octets: the limb-aligned encoding only adds leading zeros, as m < n.
    let m = power.retrieve().to_be_bytes();
    let Some(em) = m.len().checked_sub(k).and_then(|skip| m.get(skip..)) else {
        return false;
    };
    // EMSA-PKCS1-v1_5: 0x00 0x01, at least eight 0xff, 0x00, DigestInfo prefix, digest.
    let t_len = prefix.len() + digest.len();
    let Some(padding) = k.checked_sub(t_len + 3).filter(|&p| p >= 8) else {
        return false;
    };
    let (head, rest) = em.split_at(2 + padding);
    let (separator, t) = rest.split_at(1);
    head[..2] == [0x00, 0x01]
        && head[2..].iter().all(|&b| b == 0xff)
        && separator == [0x00]
        && t.starts_with(prefix)
        && &t[prefix.len()..] == digest
}

fn key_bits(spki: &SubjectPublicKeyInfoOwned) -> Result<&[u8]> {
    spki.subject_public_key
        .as_bytes()
        .ok_or_else(|| Error::Certificate("public key bit string is not byte aligned".into()))
}

/// Converts a DER `ECDSA-Sig-Value` (as some QTSPs return it) into the raw r||s form XML-DSig
/// requires (RFC 6931 section 2.3.6). A 64-byte input is returned unchanged.
pub fn ecdsa_der_to_raw(value: &[u8]) -> Result<Vec<u8>> {
    if value.len() == 64 {
        return Ok(value.to_vec());
    }
    let sig = p256::ecdsa::Signature::from_der(value).map_err(|e| {
        Error::SignatureValue(format!("ecdsa value is neither raw r||s nor der: {e}"))
    })?;
    Ok(sig.to_bytes().to_vec())
}

/// Whoever holds the private key: an in-process key ([`LocalSigner`]) or a remote QTSP
/// ([`crate::csc::CscSigner`]).
pub trait Signer {
    /// The algorithm of the key.
    fn algorithm(&self) -> SignatureAlgorithm;
    /// Signs a SHA-256 digest: RSA PKCS#1 v1.5 (the signer adds the DigestInfo), or ECDSA
    /// (raw r||s or DER; [`crate::Prepared::finish`] converts DER).
    fn sign_digest(&self, digest: &[u8; 32]) -> Result<Vec<u8>>;
}

/// An in-process private key. Used by tests, benchmarks and the QTSP sandbox.
#[derive(Debug, Clone)]
pub enum LocalSigner {
    /// RSA private key.
    Rsa(Box<RsaPrivateKey>),
    /// P-256 private key.
    P256(p256::ecdsa::SigningKey),
}

impl LocalSigner {
    /// From a PKCS#8 `PrivateKeyInfo` (DER), RSA or P-256.
    pub fn from_pkcs8_der(der: &[u8]) -> Result<Self> {
        if let Ok(k) = RsaPrivateKey::from_pkcs8_der(der) {
            return Ok(Self::Rsa(Box::new(k)));
        }
        p256::ecdsa::SigningKey::from_pkcs8_der(der)
            .map(Self::P256)
            .map_err(|e| Error::Signer(format!("private key is neither rsa nor p-256 pkcs#8: {e}")))
    }

    /// From a PEM `PRIVATE KEY` block.
    pub fn from_pkcs8_pem(pem: &str) -> Result<Self> {
        let (label, der) =
            der::pem::decode_vec(pem.as_bytes()).map_err(|e| Error::Signer(format!("pem: {e}")))?;
        if label != "PRIVATE KEY" {
            return Err(Error::Signer(format!(
                "pem label {label}, expected PRIVATE KEY"
            )));
        }
        Self::from_pkcs8_der(&der)
    }
}

impl Signer for LocalSigner {
    fn algorithm(&self) -> SignatureAlgorithm {
        match self {
            Self::Rsa(_) => SignatureAlgorithm::RsaSha256,
            Self::P256(_) => SignatureAlgorithm::EcdsaP256Sha256,
        }
    }

    fn sign_digest(&self, digest: &[u8; 32]) -> Result<Vec<u8>> {
        match self {
            Self::Rsa(key) => key
                .sign(Pkcs1v15Sign::new::<Sha256>(), digest)
                .map_err(|e| Error::Signer(format!("rsa: {e}"))),
            Self::P256(key) => {
                let sig: p256::ecdsa::Signature = key
                    .sign_prehash(digest)
                    .map_err(|e| Error::Signer(format!("ecdsa: {e}")))?;
                Ok(sig.to_bytes().to_vec())
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hex(s: &str) -> Vec<u8> {
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).expect("hex"))
            .collect()
    }

    /// RFC 6979 appendix A.2.5, ECDSA P-256 with SHA-256, message "sample": deterministic
    /// signing must give exactly this (r, s).
    #[test]
    fn p256_rfc6979_known_answer() {
        let key = p256::ecdsa::SigningKey::from_slice(&hex(
            "C9AFA9D845BA75166B5C215767B1D6934E50C3DB36E89B127B8A622B120F6721",
        ))
        .expect("key");
        let signer = LocalSigner::P256(key);
        use sha2::Digest;
        let digest: [u8; 32] = Sha256::digest(b"sample").into();
        let sig = signer.sign_digest(&digest).expect("sign");
        let expected = hex(concat!(
            "EFD48B2AACB6A8FD1140DD9CD45E81D69D2C877B56AAF991C34D0EA84EAF3716",
            "F7CB1C942D657C41D436C7A1B6E29F65F3E900DBB9AFF4064DC4AB2F843ACDA8"
        ));
        assert_eq!(sig, expected);
    }

    /// The hand-written RSA verification gives the `rsa` crate's verdict on every case, and a
    /// good signature passes: public exponents 65537 and 3 (another ladder), good values, values
    /// with one byte altered, the wrong digest, the wrong hash's DigestInfo, another key's value,
    /// wrong lengths and a representative not below n.
    #[test]
    fn rsa_verification_agrees_with_the_rsa_crate() {
        use rand_chacha::rand_core::SeedableRng;
        use sha2::Digest;
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(7);
        let keys = [
            RsaPrivateKey::new(&mut rng, 2048).expect("keygen"),
            RsaPrivateKey::new_with_exp(&mut rng, 2048, 3u64.into()).expect("keygen e=3"),
        ];
        let sha256 = || Pkcs1v15Sign::new::<Sha256>();
        let check = |key: &RsaPublicKey, scheme: Pkcs1v15Sign, digest: &[u8], value: &[u8]| {
            let ours = rsa_pkcs1v15_verify(key, &scheme.prefix, digest, value);
            let theirs = key.verify(scheme, digest, value).is_ok();
            assert_eq!(ours, theirs, "verdicts differ");
            ours
        };
        for (i, private) in keys.iter().enumerate() {
            let public = private.to_public_key();
            let other = keys[1 - i].to_public_key();
            let digest = Sha256::digest(format!("document {i}")).to_vec();
            let value = private.sign(sha256(), &digest).expect("sign");
            assert!(
                check(&public, sha256(), &digest, &value),
                "good value refused"
            );
            for at in [0, 1, 100, value.len() - 1] {
                let mut altered = value.clone();
                altered[at] ^= 0x04;
                assert!(!check(&public, sha256(), &digest, &altered));
            }
            let mut wrong_digest = digest.clone();
            wrong_digest[31] ^= 1;
            assert!(!check(&public, sha256(), &wrong_digest, &value));
            let sha512 = Sha512::digest(format!("document {i}")).to_vec();
            let sha512_value = private
                .sign(Pkcs1v15Sign::new::<Sha512>(), &sha512)
                .expect("sign sha-512");
            assert!(check(
                &public,
                Pkcs1v15Sign::new::<Sha512>(),
                &sha512,
                &sha512_value
            ));
            assert!(!check(&public, sha256(), &sha512[..32], &sha512_value));
            assert!(!check(&other, sha256(), &digest, &value));
            assert!(!check(&public, sha256(), &digest, &value[1..]));
            let mut longer = vec![0];
            longer.extend_from_slice(&value);
            assert!(!check(&public, sha256(), &digest, &longer));
            let n = public.n().to_be_bytes();
            assert!(!check(
                &public,
                sha256(),
                &digest,
                &n[n.len() - value.len()..]
            ));
        }
    }

    #[test]
    fn der_ecdsa_values_become_fixed_size_raw() {
        // r = 1 (short), s = 0x80..01 (high bit set: DER adds a leading zero).
        let mut s = vec![0x80];
        s.extend_from_slice(&[0u8; 30]);
        s.push(1);
        let mut der = vec![0x30, 0x00, 0x02, 0x01, 0x01, 0x02, 0x21, 0x00];
        der.extend_from_slice(&s);
        der[1] = (der.len() - 2) as u8;
        let raw = ecdsa_der_to_raw(&der).expect("convert");
        assert_eq!(raw.len(), 64);
        assert_eq!(&raw[..31], &[0u8; 31]);
        assert_eq!(raw[31], 1);
        assert_eq!(&raw[32..], s.as_slice());
        // Raw input passes through; garbage is refused.
        assert_eq!(ecdsa_der_to_raw(&raw).expect("raw"), raw);
        assert!(ecdsa_der_to_raw(&[0x30, 0x02, 0x05, 0x00]).is_err());
    }
}
