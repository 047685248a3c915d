//! Identifiers: record ids, UUID v4 and API tokens, from the operating system's CSPRNG (WASI
//! `random` inside a component).

use sha2::{Digest, Sha256};

use crate::{Error, Result};

/// `N` random bytes from the system.
pub fn random<const N: usize>() -> Result<[u8; N]> {
    let mut out = [0u8; N];
    getrandom::fill(&mut out).map_err(|e| Error::Internal(format!("no randomness: {e}")))?;
    Ok(out)
}

/// Lower-case hex of `bytes`.
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// A record id: 12 hex digits of milliseconds then 12 random: sorts by creation time, 28 characters,
/// safe in keys and URLs (`r0194f3a2b7c1a9e4c2d1f0b3`).
pub fn record_id(now_millis: u64) -> Result<String> {
    Ok(format!(
        "r{:012x}{}",
        now_millis & 0xffff_ffff_ffff,
        hex(&random::<6>()?)
    ))
}

/// The lowest [`record_id`] made at `secs` (Unix seconds) or later: ids sort by creation time, so
/// a day's records lie between two of these.
pub fn first_id_at(secs: u64) -> String {
    format!("r{:012x}", secs.saturating_mul(1000) & 0xffff_ffff_ffff)
}

/// When a [`record_id`] was made (Unix milliseconds, modulo 2^48), if `id` is one.
pub fn record_millis(id: &str) -> Option<u64> {
    if !is_record_id(id) {
        return None;
    }
    u64::from_str_radix(id.get(1..13)?, 16).ok()
}

/// Whether `id` has the shape of [`record_id`] (checked before it goes into a key).
pub fn is_record_id(id: &str) -> bool {
    id.len() == 25
        && id.starts_with('r')
        && id[1..]
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

/// A record id that came from outside (a URL path), checked: one that cannot be a record id is a
/// 404, as an unknown one is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordId(String);

impl RecordId {
    /// Checks `id`.
    pub fn parse(id: &str) -> Result<Self> {
        if is_record_id(id) {
            Ok(Self(id.to_owned()))
        } else {
            Err(Error::NotFound(format!("no submission `{id}`")))
        }
    }

    /// The id.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A random UUID version 4, lower case.
pub fn uuid_v4() -> Result<String> {
    let mut b = random::<16>()?;
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let h = hex(&b);
    Ok(format!(
        "{}-{}-{}-{}-{}",
        &h[0..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..32]
    ))
}

/// A new API token: `ecoc_` and 40 hex digits (160 random bits). Shown once, stored only hashed.
pub fn new_token() -> Result<String> {
    Ok(format!("ecoc_{}", hex(&random::<20>()?)))
}

/// SHA-256 of `text`, hex: the stored form of a token (tokens are random, so no salt or stretching
/// is needed) and a compact key for arbitrary strings.
pub fn sha256_hex(text: &[u8]) -> String {
    hex(&Sha256::digest(text))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shapes() {
        let id = record_id(1_795_275_797_000).unwrap_or_default();
        assert!(is_record_id(&id), "{id}");
        assert!(!is_record_id("r../../etc"));
        let later = record_id(1_795_275_797_001).unwrap_or_default();
        assert!(later > id);
        let u = uuid_v4().unwrap_or_default();
        assert_eq!((u.len(), &u[14..15]), (36, "4"));
        assert!(matches!(&u[19..20], "8" | "9" | "a" | "b"));
        let t = new_token().unwrap_or_default();
        assert_eq!(t.len(), 45);
        assert_ne!(t, new_token().unwrap_or_default());
    }
}
