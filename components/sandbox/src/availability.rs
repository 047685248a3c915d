//! Availability faults the NAP and mail sandboxes share: the service is down (503 or a closed
//! connection), slow, or answers a share of requests with a 5xx.
//!
//! These fields are flattened into each sandbox's own fault configuration (`nap::Faults`,
//! `mail::Faults`), which `POST /sandbox/faults` replaces as a whole.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::support::{SplitMix64, os_seed};
use crate::{Error, Result};

/// How a "down" sandbox answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum Down {
    /// Up: requests are served.
    #[default]
    Off,
    /// Every request (except `/sandbox/...`) gets `503 Service Unavailable` with `Retry-After`.
    Unavailable,
    /// Every request (except `/sandbox/...`) has its connection closed without an answer.
    Close,
}

/// The availability faults. Every field has a harmless default.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Availability {
    /// `off`, `unavailable` (503) or `close` (connection closed without an answer).
    pub down: Down,
    /// Fixed delay before every affected answer, in milliseconds.
    pub latency_ms: u64,
    /// Extra random delay, uniformly 0..=this many milliseconds.
    pub latency_jitter_ms: u64,
    /// Percentage (0-100) of affected requests answered with `error_status` instead.
    pub error_rate_percent: u8,
    /// The next this-many affected requests fail with `error_status`, then the count is spent.
    pub fail_next: u32,
    /// Status of injected failures (500..=599).
    pub error_status: u16,
    /// Seed for the random choices; `None` seeds from the operating system.
    pub seed: Option<u64>,
}

impl Default for Availability {
    fn default() -> Self {
        Self {
            down: Down::Off,
            latency_ms: 0,
            latency_jitter_ms: 0,
            error_rate_percent: 0,
            fail_next: 0,
            error_status: 503,
            seed: None,
        }
    }
}

/// The field names of [`Availability`], for strict parsing of the flattened configurations.
pub(crate) const FIELDS: &[&str] = &[
    "down",
    "latency_ms",
    "latency_jitter_ms",
    "error_rate_percent",
    "fail_next",
    "error_status",
    "seed",
];

impl Availability {
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
        if !matches!(self.error_status, 500..=599) {
            return Err(Error::Faults(format!(
                "error_status {} is not a 5xx status",
                self.error_status
            )));
        }
        Ok(())
    }
}

/// Parses a flat JSON fault configuration, refusing fields outside `known` (serde cannot combine
/// `flatten` with `deny_unknown_fields`).
pub(crate) fn parse_strict<T: serde::de::DeserializeOwned>(
    json: &str,
    known: &[&[&str]],
) -> Result<T> {
    let value: serde_json::Value =
        serde_json::from_str(json).map_err(|e| Error::Faults(e.to_string()))?;
    let Some(object) = value.as_object() else {
        return Err(Error::Faults(
            "the fault configuration is not a JSON object".into(),
        ));
    };
    if let Some(unknown) = object
        .keys()
        .find(|k| !known.iter().any(|list| list.contains(&k.as_str())))
    {
        return Err(Error::Faults(format!("unknown field {unknown:?}")));
    }
    serde_json::from_value(value).map_err(|e| Error::Faults(e.to_string()))
}

/// What the fault layer decided for one request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Decision {
    /// Serve it after this delay.
    Serve(Duration),
    /// Answer this 5xx status after this delay.
    Fail(Duration, u16),
    /// Answer 503 at once (down).
    Unavailable,
    /// Close the connection without answering (down).
    Close,
}

/// Availability faults plus the state of their random generator.
#[derive(Debug)]
pub(crate) struct AvailabilityState {
    pub config: Availability,
    rng: SplitMix64,
}

impl AvailabilityState {
    pub fn new(config: Availability) -> Self {
        let seed = config.seed.unwrap_or_else(os_seed);
        Self {
            config,
            rng: SplitMix64(seed),
        }
    }

    /// Decides what happens to one request, spending `fail_next` and random draws.
    pub fn decide(&mut self) -> Decision {
        match self.config.down {
            Down::Unavailable => return Decision::Unavailable,
            Down::Close => return Decision::Close,
            Down::Off => {}
        }
        let c = &mut self.config;
        let jitter = if c.latency_jitter_ms > 0 {
            self.rng.below(c.latency_jitter_ms + 1)
        } else {
            0
        };
        let delay = Duration::from_millis(c.latency_ms.saturating_add(jitter));
        if c.fail_next > 0 {
            c.fail_next -= 1;
            Decision::Fail(delay, c.error_status)
        } else if c.error_rate_percent > 0 && self.rng.percent(c.error_rate_percent) {
            Decision::Fail(delay, c.error_status)
        } else {
            Decision::Serve(delay)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seeded_choices_repeat_and_fail_next_is_spent() {
        let config = Availability {
            error_rate_percent: 50,
            seed: Some(7),
            ..Availability::default()
        };
        let run = || {
            let mut s = AvailabilityState::new(config.clone());
            (0..64).map(|_| s.decide()).collect::<Vec<_>>()
        };
        assert_eq!(run(), run());
        let mut s = AvailabilityState::new(Availability {
            fail_next: 1,
            ..Availability::default()
        });
        assert_eq!(s.decide(), Decision::Fail(Duration::ZERO, 503));
        assert_eq!(s.decide(), Decision::Serve(Duration::ZERO));
    }

    #[test]
    fn down_wins() {
        let mut s = AvailabilityState::new(Availability {
            down: Down::Close,
            fail_next: 3,
            ..Availability::default()
        });
        assert_eq!(s.decide(), Decision::Close);
    }
}
