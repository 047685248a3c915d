//! The ecoc pipeline's logic, shared by the functions in `functions/` (map, validate, sign, submit,
//! notify, status). Plain Rust with no Spin dependency: each function is a short handler over this
//! crate (through `components/spin-glue`), and `cargo test` reaches all of it natively.
//!
//! | module | what |
//! |---|---|
//! | [`kv`] | the key-value operations Spin offers, per store label; an in-memory store for tests |
//! | [`tenant`] | tenants, hashed API tokens with roles (primary, upload, view), Ed25519 webhook signatures |
//! | [`mapping`], [`csv_batch`] | the tenant's declarative ERP -> IVI mapping; CSV batches, one vehicle per row |
//! | [`approvals`] | type-approval records and the check that a vehicle stays inside its approval |
//! | [`gate`] | the `validate` step: schema, rules, approvals, multi-stage drift, the duplicate claim |
//! | [`claims`] | claiming the duplicate key without compare-and-swap |
//! | [`record`], [`repo`] | the record's state machine and timeline; key layout and indexes; search |
//! | [`delivery`] | sign, submit, poll, ERP write-back, retries with backoff, the resume sweep |
//! | [`nap`] | NAP adapters (the VCA eCoC API first) |
//! | [`digest`] | the end-of-day failure digest |
//! | [`Error`] | the one error type, and its mapping to HTTP answers |

pub mod approvals;
pub mod claims;
pub mod clock;
pub mod csv_batch;
pub mod delivery;
pub mod digest;
mod error;
pub mod gate;
pub mod ids;
pub mod json;
pub mod kv;
pub mod mapping;
pub mod nap;
pub mod record;
pub mod repo;
pub mod tenant;

pub use error::{Error, Result};

/// One problem with one field of an input, as the ERP sees it in a 422 answer.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct FieldError {
    /// Where: an IVI element path (`CocDataGroup/VehicleIdentificationNumber`), a JSON pointer into
    /// the ERP record (`/masses/running_order`), or a CSV cell (`row 3, column /vin`).
    pub path: String,
    /// Stable rule code, e.g. `MAP-REQUIRED` or `IVI-VIN-CHARS`.
    pub code: String,
    /// What is wrong, in words.
    pub message: String,
}

impl FieldError {
    /// A field error.
    pub fn new(
        path: impl Into<String>,
        code: impl Into<String>,
        message: impl Into<String>,
    ) -> Self {
        Self {
            path: path.into(),
            code: code.into(),
            message: message.into(),
        }
    }
}
