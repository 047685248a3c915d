//! Tenant secrets at rest (a QTSP client secret and PIN, a NAP account's secret): sealed with
//! XChaCha20-Poly1305 (RustCrypto) under a key ring the deployment gives as a secret Spin variable,
//! never stored or logged in the clear.
//!
//! The ring is `kid=KEY[,kid=KEY...]`, each KEY 32 bytes in base64; the first key seals, every key
//! opens, so a key is rotated by putting a new one first and keeping the old one until every secret
//! has been sealed again ([`KeyRing::needs_reseal`]). A sealed secret is
//! `ecoc-sealed:v1:<kid>:<base64(nonce || ciphertext)>`, with the tenant and the secret's name as
//! associated data: a sealed value copied into another tenant's settings, or into another slot,
//! does not open.

use base64ct::{Base64, Encoding};
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};

use crate::{Error, Result};

const PREFIX: &str = "ecoc-sealed:v1:";
const NONCE_LEN: usize = 24;

/// The deployment's sealing keys; the first seals.
pub struct KeyRing {
    keys: Vec<(String, [u8; 32])>,
}

impl std::fmt::Debug for KeyRing {
    /// Key ids only.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let ids: Vec<&str> = self.keys.iter().map(|(id, _)| id.as_str()).collect();
        f.debug_struct("KeyRing").field("ids", &ids).finish()
    }
}

fn valid_id(id: &str) -> bool {
    (1..=32).contains(&id.len())
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

fn associated(tenant: &str, name: &str) -> String {
    format!("ecoc/v1/{tenant}/{name}")
}

impl KeyRing {
    /// Reads `kid=KEY,...` (the secret variable's value); the message never shows a key.
    pub fn parse(text: &str) -> Result<Self> {
        let bad = |why: String| Error::Config(format!("sealing keys: {why}"));
        let mut keys: Vec<(String, [u8; 32])> = Vec::new();
        for (i, entry) in text
            .split(',')
            .map(str::trim)
            .filter(|e| !e.is_empty())
            .enumerate()
        {
            let (id, key) = entry
                .split_once('=')
                .ok_or_else(|| bad(format!("entry {} is not kid=KEY", i + 1)))?;
            if !valid_id(id) {
                return Err(bad(format!(
                    "entry {}: `{id}` is not a key id (1-32 of A-Z a-z 0-9 - _)",
                    i + 1
                )));
            }
            if keys.iter().any(|(k, _)| k == id) {
                return Err(bad(format!("key id `{id}` is given twice")));
            }
            let bytes = Base64::decode_vec(key.trim())
                .map_err(|_| bad(format!("key `{id}` is not base64")))?;
            let key: [u8; 32] = bytes
                .try_into()
                .map_err(|_| bad(format!("key `{id}` is not 32 bytes")))?;
            keys.push((id.to_owned(), key));
        }
        if keys.is_empty() {
            return Err(bad(
                "no key (give kid=KEY, KEY 32 random bytes in base64)".into()
            ));
        }
        Ok(Self { keys })
    }

    /// The id of the key that seals.
    pub fn current(&self) -> &str {
        &self.keys[0].0
    }

    fn cipher(&self, id: &str) -> Option<XChaCha20Poly1305> {
        self.keys
            .iter()
            .find(|(k, _)| k == id)
            .map(|(_, key)| XChaCha20Poly1305::new(key.into()))
    }

    /// Seals `secret` as tenant `tenant`'s secret `name`, under the current key.
    pub fn seal(&self, tenant: &str, name: &str, secret: &str) -> Result<String> {
        let mut nonce = [0u8; NONCE_LEN];
        getrandom::fill(&mut nonce)
            .map_err(|e| Error::Internal(format!("no randomness for a nonce: {e}")))?;
        let cipher = self
            .cipher(self.current())
            .ok_or_else(|| Error::Internal("the current key is missing".into()))?;
        let aad = associated(tenant, name);
        let sealed = cipher
            .encrypt(
                &XNonce::from(nonce),
                Payload {
                    msg: secret.as_bytes(),
                    aad: aad.as_bytes(),
                },
            )
            .map_err(|_| Error::Internal("sealing failed".into()))?;
        let mut body = nonce.to_vec();
        body.extend_from_slice(&sealed);
        Ok(format!(
            "{PREFIX}{}:{}",
            self.current(),
            Base64::encode_string(&body)
        ))
    }

    /// A new ring entry `kid=KEY` with 32 random bytes, to put first in the ring (a new deployment,
    /// a rotation).
    pub fn new_entry(kid: &str) -> Result<String> {
        if !valid_id(kid) {
            return Err(Error::BadRequest(format!(
                "key id `{kid}` must be 1-32 characters of A-Z, a-z, 0-9, `-` and `_`"
            )));
        }
        let mut key = [0u8; 32];
        getrandom::fill(&mut key)
            .map_err(|e| Error::Internal(format!("no randomness for a key: {e}")))?;
        Ok(format!("{kid}={}", Base64::encode_string(&key)))
    }

    /// The key id a sealed value names.
    pub fn key_id(sealed: &str) -> Option<&str> {
        sealed
            .strip_prefix(PREFIX)?
            .split_once(':')
            .map(|(id, _)| id)
    }

    /// Whether `sealed` should be sealed again under the current key (rotation).
    pub fn needs_reseal(&self, sealed: &str) -> bool {
        Self::key_id(sealed) != Some(self.current())
    }

    /// Opens tenant `tenant`'s secret `name`. The error names the key id, never the secret.
    pub fn open(&self, tenant: &str, name: &str, sealed: &str) -> Result<String> {
        let fail =
            |why: String| Error::Config(format!("secret `{name}` of tenant `{tenant}`: {why}"));
        let rest = sealed
            .strip_prefix(PREFIX)
            .ok_or_else(|| fail("not a sealed value".into()))?;
        let (id, body) = rest
            .split_once(':')
            .ok_or_else(|| fail("not a sealed value".into()))?;
        let cipher = self.cipher(id).ok_or_else(|| {
            fail(format!(
                "sealed with key `{id}`, which the sealing keys no longer hold"
            ))
        })?;
        let body = Base64::decode_vec(body).map_err(|_| fail("not a sealed value".into()))?;
        if body.len() < NONCE_LEN {
            return Err(fail("not a sealed value".into()));
        }
        let (nonce, ciphertext) = body.split_at(NONCE_LEN);
        let nonce: [u8; NONCE_LEN] = nonce
            .try_into()
            .map_err(|_| fail("not a sealed value".into()))?;
        let aad = associated(tenant, name);
        let plain = cipher
            .decrypt(
                &XNonce::from(nonce),
                Payload {
                    msg: ciphertext,
                    aad: aad.as_bytes(),
                },
            )
            .map_err(|_| {
                fail(format!(
                    "does not open with key `{id}` (changed, or sealed for another tenant or slot)"
                ))
            })?;
        String::from_utf8(plain).map_err(|_| fail("the opened value is not UTF-8".into()))
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "tests: a panic is the failure report")]
    use super::*;

    const K1: &str = "k1=AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";
    const K2: &str = "k2=HxAeHRwbGhkYFxYVFBMSERAPDg0MCwoJCAcGBQQDAgE=";

    #[test]
    fn a_sealed_secret_opens_only_for_its_tenant_and_slot() {
        let ring = KeyRing::parse(K1).unwrap();
        let sealed = ring.seal("nordbau", "qtsp_pin", "123456").unwrap();
        assert!(sealed.starts_with("ecoc-sealed:v1:k1:") && !sealed.contains("123456"));
        assert_eq!(ring.open("nordbau", "qtsp_pin", &sealed).unwrap(), "123456");
        assert!(ring.open("vandam", "qtsp_pin", &sealed).is_err());
        assert!(ring.open("nordbau", "nap_secret", &sealed).is_err());
        // Two seals of one secret differ (a fresh nonce each time).
        assert_ne!(sealed, ring.seal("nordbau", "qtsp_pin", "123456").unwrap());
        let mut flipped = sealed.clone();
        flipped.pop();
        flipped.push(if sealed.ends_with('A') { 'B' } else { 'A' });
        assert!(ring.open("nordbau", "qtsp_pin", &flipped).is_err());
    }

    #[test]
    fn rotation_keeps_old_secrets_open_until_they_are_sealed_again() {
        let old = KeyRing::parse(K1).unwrap();
        let sealed = old.seal("nordbau", "pin", "s3cret").unwrap();
        let rotated = KeyRing::parse(&format!("{K2},{K1}")).unwrap();
        assert_eq!(rotated.current(), "k2");
        assert!(rotated.needs_reseal(&sealed));
        assert_eq!(rotated.open("nordbau", "pin", &sealed).unwrap(), "s3cret");
        let resealed = rotated.seal("nordbau", "pin", "s3cret").unwrap();
        assert!(!rotated.needs_reseal(&resealed));
        let retired = KeyRing::parse(K2).unwrap();
        let e = retired
            .open("nordbau", "pin", &sealed)
            .unwrap_err()
            .to_string();
        assert!(e.contains("`k1`") && !e.contains("s3cret"), "{e}");
    }

    #[test]
    fn a_bad_ring_is_refused_without_showing_a_key() {
        for bad in [
            "",
            "k1",
            "k 1=AAAA",
            "k1=notbase64!",
            "k1=AAAA",
            &format!("{K1},{K1}"),
        ] {
            let e = KeyRing::parse(bad).unwrap_err().to_string();
            assert!(!e.contains("AAECAwQF"), "{e}");
        }
        assert!(!format!("{:?}", KeyRing::parse(K1).unwrap()).contains("AAECAwQF"));
    }
}
