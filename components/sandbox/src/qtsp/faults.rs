//! Failure modes a CSC client must survive, switchable at start (`faults.json`, CLI flags) and at
//! run time (`POST /sandbox/faults`).
//!
//! Random choices (jitter, which answers fail) come from a small seeded generator, so a run with a
//! fixed `seed` misbehaves identically every time.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::EcdsaFormat;
use crate::support::{SplitMix64, os_seed};
use crate::{Error, Result};

pub use crate::support::FAULTS_JSON;

/// A QTSP that lies: every answer is well-formed and 200, and wrong.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Lie {
    /// `signatures/signHash` signs other hashes than those it was given (each with its first
    /// byte flipped): valid signatures, over something else.
    OtherHashes,
    /// `credentials/info` names another credential's certificate (another key, as another
    /// manufacturer's account would have) in place of the one that signs.
    OtherCertificate,
    /// `credentials/info` names the expired credential's certificate.
    ExpiredCertificate,
    /// `credentials/info` returns a changed chain: the root CA where the issuing CA should be.
    ChangedChain,
}

/// The switchable failure modes. Every field has a harmless default, so `{}` means "behave".
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Faults {
    /// Fixed delay added before every affected answer, in milliseconds.
    pub latency_ms: u64,
    /// Extra random delay, uniformly 0..=this many milliseconds.
    pub latency_jitter_ms: u64,
    /// Percentage (0-100) of affected requests answered with `error_status` instead.
    pub error_rate_percent: u8,
    /// The next this-many affected requests fail with `error_status`, then the count is spent.
    pub fail_next: u32,
    /// Status of injected failures (500, 502, 503 or 504).
    pub error_status: u16,
    /// If non-zero, affected requests stall this long (longer than a client's timeout) before
    /// being answered with `error_status`.
    pub hang_ms: u64,
    /// Percentage (0-100) of affected requests that stall when `hang_ms` is set.
    pub hang_rate_percent: u8,
    /// The next this-many affected requests stall for `hang_ms`, then the count is spent. When
    /// set, only these requests stall (`hang_rate_percent` is ignored).
    pub hang_next: u32,
    /// Lifetime of new access tokens, in seconds (`expires_in`).
    pub token_lifetime_secs: u64,
    /// Lifetime of new SADs, in seconds (`expiresIn`).
    pub sad_lifetime_secs: u64,
    /// When `true`, `signatures/signHash` refuses every SAD as invalid.
    pub reject_sad: bool,
    /// How `signatures/signHash` encodes ECDSA values: `der` (what many QTSPs return) or `raw`
    /// (`r || s`, what XML-DSig wants).
    pub ecdsa_format: EcdsaFormat,
    /// Answers that look right and are not, for a client that must verify what it gets back
    /// (`null`: none). See [`Lie`].
    pub lie: Option<Lie>,
    /// Paths (or path suffixes such as `signatures/signHash`) the latency, error and hang faults
    /// apply to; empty means every CSC and OAuth2 endpoint. `/sandbox/...` is never affected.
    pub endpoints: Vec<String>,
    /// Seed for the random choices; `None` seeds from the operating system.
    pub seed: Option<u64>,
}

impl Default for Faults {
    fn default() -> Self {
        Self {
            latency_ms: 0,
            latency_jitter_ms: 0,
            error_rate_percent: 0,
            fail_next: 0,
            error_status: 503,
            hang_ms: 0,
            hang_rate_percent: 100,
            hang_next: 0,
            token_lifetime_secs: 3600,
            sad_lifetime_secs: 300,
            reject_sad: false,
            ecdsa_format: EcdsaFormat::Der,
            lie: None,
            endpoints: Vec::new(),
            seed: None,
        }
    }
}

impl Faults {
    /// Parses and checks a JSON fault configuration.
    ///
    /// # Errors
    /// [`Error::Faults`] naming the offending field or value.
    pub fn from_json(json: &str) -> Result<Self> {
        let faults: Self = serde_json::from_str(json).map_err(|e| Error::Faults(e.to_string()))?;
        faults.check()?;
        Ok(faults)
    }

    /// Checks value ranges.
    ///
    /// # Errors
    /// [`Error::Faults`] naming the first out-of-range field.
    pub fn check(&self) -> Result<()> {
        if self.error_rate_percent > 100 {
            return Err(Error::Faults(format!(
                "error_rate_percent {} is above 100",
                self.error_rate_percent
            )));
        }
        if self.hang_rate_percent > 100 {
            return Err(Error::Faults(format!(
                "hang_rate_percent {} is above 100",
                self.hang_rate_percent
            )));
        }
        if !matches!(self.error_status, 500..=599) {
            return Err(Error::Faults(format!(
                "error_status {} is not a 5xx status",
                self.error_status
            )));
        }
        if self.hang_next > 0 && self.hang_ms == 0 {
            return Err(Error::Faults(format!(
                "hang_next {} needs hang_ms above 0",
                self.hang_next
            )));
        }
        if self.token_lifetime_secs == 0 {
            return Err(Error::Faults("token_lifetime_secs 0 is not allowed".into()));
        }
        if self.sad_lifetime_secs == 0 {
            return Err(Error::Faults("sad_lifetime_secs 0 is not allowed".into()));
        }
        Ok(())
    }

    /// `true` when the latency, error and hang faults apply to `path`.
    pub fn applies_to(&self, path: &str) -> bool {
        self.endpoints.is_empty()
            || self
                .endpoints
                .iter()
                .any(|e| path == e || path.ends_with(&format!("/{}", e.trim_start_matches('/'))))
    }

    /// Latency and errors are off, tokens and SADs live normally.
    pub fn is_quiet(&self) -> bool {
        self.latency_ms == 0
            && self.latency_jitter_ms == 0
            && self.error_rate_percent == 0
            && self.fail_next == 0
            && self.hang_ms == 0
            && !self.reject_sad
    }
}

/// What the fault layer decided for one request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Decision {
    /// Wait this long first.
    pub delay: Duration,
    /// Then answer with this status instead of handling the request.
    pub fail: Option<u16>,
}

/// Faults plus the state of their random generator.
#[derive(Debug)]
pub(crate) struct FaultState {
    pub faults: Faults,
    rng: SplitMix64,
    /// `hang_next` was configured: hangs are counted, not drawn.
    counted_hangs: bool,
}

impl FaultState {
    pub fn new(faults: Faults) -> Self {
        let seed = faults.seed.unwrap_or_else(os_seed);
        Self {
            counted_hangs: faults.hang_next > 0,
            faults,
            rng: SplitMix64(seed),
        }
    }

    /// Decides what happens to a request for `path`, spending `fail_next` and random draws.
    pub fn decide(&mut self, path: &str) -> Decision {
        let mut decision = Decision {
            delay: Duration::ZERO,
            fail: None,
        };
        if !self.faults.applies_to(path) {
            return decision;
        }
        let f = &self.faults;
        let jitter = if f.latency_jitter_ms > 0 {
            self.rng.below(f.latency_jitter_ms + 1)
        } else {
            0
        };
        decision.delay = Duration::from_millis(f.latency_ms.saturating_add(jitter));
        let f = &mut self.faults;
        let hang = if self.counted_hangs {
            let next = f.hang_next > 0;
            f.hang_next = f.hang_next.saturating_sub(1);
            next
        } else {
            f.hang_ms > 0 && self.rng.percent(f.hang_rate_percent)
        };
        if hang && f.hang_ms > 0 {
            decision.delay += Duration::from_millis(f.hang_ms);
            decision.fail = Some(f.error_status);
        } else if f.fail_next > 0 {
            f.fail_next -= 1;
            decision.fail = Some(f.error_status);
        } else if f.error_rate_percent > 0 && self.rng.percent(f.error_rate_percent) {
            decision.fail = Some(f.error_status);
        }
        decision
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_quiet_and_empty_json_is_default() {
        let faults = Faults::from_json("{}").unwrap();
        assert_eq!(faults, Faults::default());
        assert!(faults.is_quiet());
    }

    #[test]
    fn unknown_fields_and_bad_ranges_are_refused() {
        let err = Faults::from_json(r#"{"latency":5}"#)
            .unwrap_err()
            .to_string();
        assert!(err.contains("latency"), "{err}");
        let err = Faults::from_json(r#"{"error_rate_percent":101}"#)
            .unwrap_err()
            .to_string();
        assert!(err.contains("101"), "{err}");
        let err = Faults::from_json(r#"{"error_status":404}"#)
            .unwrap_err()
            .to_string();
        assert!(err.contains("404"), "{err}");
    }

    #[test]
    fn seeded_decisions_repeat() {
        let faults = Faults {
            error_rate_percent: 50,
            latency_jitter_ms: 20,
            seed: Some(42),
            ..Faults::default()
        };
        let run = || {
            let mut state = FaultState::new(faults.clone());
            (0..64)
                .map(|_| state.decide("/csc/v2/signatures/signHash"))
                .collect::<Vec<_>>()
        };
        let first = run();
        assert_eq!(first, run());
        let failures = first.iter().filter(|d| d.fail.is_some()).count();
        assert!((10..=54).contains(&failures), "{failures} of 64 failed");
    }

    #[test]
    fn hang_next_stalls_only_the_counted_requests() {
        let mut state = FaultState::new(Faults {
            hang_next: 1,
            hang_ms: 1000,
            ..Faults::default()
        });
        let first = state.decide("/csc/v2/info");
        assert_eq!(first.delay, Duration::from_millis(1000));
        assert_eq!(first.fail, Some(503));
        assert_eq!(state.decide("/csc/v2/info").delay, Duration::ZERO);
        assert!(Faults::from_json(r#"{"hang_next":1}"#).is_err());
    }

    #[test]
    fn fail_next_is_spent_and_endpoints_filter() {
        let mut state = FaultState::new(Faults {
            fail_next: 2,
            endpoints: vec!["signatures/signHash".into()],
            ..Faults::default()
        });
        assert_eq!(state.decide("/csc/v2/credentials/info").fail, None);
        assert_eq!(state.decide("/csc/v2/signatures/signHash").fail, Some(503));
        assert_eq!(state.decide("/csc/v2/signatures/signHash").fail, Some(503));
        assert_eq!(state.decide("/csc/v2/signatures/signHash").fail, None);
    }
}
