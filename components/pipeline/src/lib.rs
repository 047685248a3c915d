//! The ecoc pipeline's logic, shared by the functions in `functions/`. Plain Rust with no Spin
//! dependency: each function is a short handler over this crate (through `components/spin-glue`),
//! and `cargo test` reaches all of it natively. The modules are the pipeline:
//!
//! | step | module | what |
//! |---|---|---|
//! | map | [`mapping`], [`csv_batch`], [`batch`] | the tenant's declarative ERP -> IVI mapping; CSV batches, one vehicle per row, streamed results |
//! | validate | [`validate`] | schema, rules, [`approvals`], multi-stage drift, the duplicate [`claims`]; creates the record |
//! | sign | [`sign`] | the QTSP signs over the CSC API v2 (one session per batch); every signature verified |
//! | submit | [`submit`], [`nap`] | delivery to the NAP, status polls, the outage drain |
//! | submit | [`callback`] | the ERP write-back, HMAC-signed |
//! | (every step) | [`retry`] | capped exponential backoff with jitter; when a record fails |
//! | submit | [`sweep`] | the resume sweep: planning, rounds, budget, report |
//! | notify | [`notify`] | the end-of-day digest of failures, through an HTTP email API |
//! | (every change) | [`audit`] | the hash-chained audit trail per tenant and its signed checkpoints |
//! | status | [`cop`] | the Conformity of Production export: per type approval and period, every vehicle's eCoC history |
//! | status | [`summary`] | who is calling; the tenant's day at a glance (counts, waits, today's problems, a series of days) |
//!
//! Beside them: [`calls`], the typed requests and answers between the steps; [`record`] and [`repo`],
//! the record's state machine and where records live; [`keys`], every key-value key; [`kv`], the
//! store labels; [`tenant`], tenants, settings, tokens and roles, webhook signatures; [`Error`], the
//! one error type and its HTTP answer.
//!
//! ```
//! use pipeline::kv::{KeyValue, Stores};
//! use pipeline::tenant::{self, Tenant};
//!
//! let stores = Stores::in_memory();
//! let token = tenant::create_tenant(&stores.data, &Tenant::new("acme", "Acme"), "owner", None)?;
//! let who = tenant::authenticate(&stores.data, Some(&format!("Bearer {token}")))?;
//! assert_eq!(who.tenant, "acme");
//! # Ok::<(), pipeline::Error>(())
//! ```

pub mod approvals;
pub mod audit;
pub mod batch;
pub mod callback;
pub mod calls;
pub mod claims;
pub mod clock;
pub mod cop;
pub mod csv_batch;
pub mod document;
mod error;
pub mod identity;
pub mod ids;
pub mod json;
pub mod keys;
pub mod kv;
pub mod mapper;
pub mod mapping;
pub mod nap;
pub mod notify;
pub mod record;
pub mod repo;
pub mod retrieval;
pub mod retry;
pub mod sealing;
pub mod sign;
pub mod submit;
pub mod summary;
pub mod sweep;
pub mod tenant;
pub mod validate;
pub mod vin_index;

pub use error::{Error, ErrorBody, Result, Service};

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
