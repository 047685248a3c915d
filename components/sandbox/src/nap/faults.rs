//! The NAP's behaviour and failure modes, switchable at start (`faults.json`, CLI flags) and at run
//! time (`POST /sandbox/faults`, which replaces the whole configuration; `{}` restores defaults).

use serde::{Deserialize, Serialize};

use crate::availability::{self, Availability};
use crate::{Error, Result};

pub use crate::support::FAULTS_JSON;

/// Default time a submission stays in each of Received and Processing, in milliseconds.
pub const DEFAULT_PROCESSING_MS: u64 = 1000;

/// Behaviour and faults of the NAP sandbox. JSON is flat: the [`Availability`] fields sit beside
/// the NAP's own.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Faults {
    /// Down, latency and injected 5xx for the API and token endpoints.
    #[serde(flatten)]
    pub availability: Availability,
    /// Lifetime of new access tokens, in seconds (`expires_in`).
    pub token_lifetime_secs: u64,
    /// How long a submission stays Received, then Processing, in milliseconds each.
    pub processing_ms: u64,
    /// Percentage (0-100) of submissions that end Failed (with a reason) instead of Succeeded.
    /// With `seed` set, the outcome of a given VIN + version + stage is always the same.
    pub failure_rate_percent: u8,
    /// The next this-many submissions are answered 202 with an id, then lost: never stored, so
    /// their status answers 404 and they are not in the inbox (a NAP that loses what it took).
    pub lose_next: u32,
}

const NAP_FIELDS: &[&str] = &[
    "token_lifetime_secs",
    "processing_ms",
    "failure_rate_percent",
    "lose_next",
];

impl Default for Faults {
    fn default() -> Self {
        Self {
            availability: Availability::default(),
            token_lifetime_secs: 3600,
            processing_ms: DEFAULT_PROCESSING_MS,
            failure_rate_percent: 0,
            lose_next: 0,
        }
    }
}

impl Faults {
    /// Parses and checks a JSON configuration; unknown fields are refused.
    ///
    /// # Errors
    /// [`Error::Faults`] naming the offending field or value.
    pub fn from_json(json: &str) -> Result<Self> {
        let faults: Self = availability::parse_strict(json, &[availability::FIELDS, NAP_FIELDS])?;
        faults.check()?;
        Ok(faults)
    }

    /// Checks value ranges.
    ///
    /// # Errors
    /// [`Error::Faults`] naming the first out-of-range field.
    pub fn check(&self) -> Result<()> {
        self.availability.check()?;
        if self.token_lifetime_secs == 0 {
            return Err(Error::Faults("token_lifetime_secs 0 is not allowed".into()));
        }
        if self.failure_rate_percent > 100 {
            return Err(Error::Faults(format!(
                "failure_rate_percent {} is above 100",
                self.failure_rate_percent
            )));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flat_json_strict_fields() {
        let f = Faults::from_json(r#"{"down":"close","processing_ms":5,"seed":1}"#).unwrap();
        assert_eq!(f.availability.down, availability::Down::Close);
        assert_eq!(f.processing_ms, 5);
        assert_eq!(f.availability.seed, Some(1));
        assert_eq!(Faults::from_json("{}").unwrap(), Faults::default());
        let err = Faults::from_json(r#"{"latency":5}"#)
            .unwrap_err()
            .to_string();
        assert!(err.contains("latency"), "{err}");
        let err = Faults::from_json(r#"{"failure_rate_percent":150}"#)
            .unwrap_err()
            .to_string();
        assert!(err.contains("150"), "{err}");
    }
}
