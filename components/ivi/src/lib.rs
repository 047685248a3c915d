//! IVI 2.0, the EU electronic Certificate of Conformity format, for ecoc.
//!
//! This crate is the base of the pipeline (`map -> validate -> sign -> submit`): `map` builds an
//! [`Ivi`] and writes it with [`Ivi::to_xml`]; `validate` runs [`validate::Validator`] (the XSD of the
//! chosen [`Profile`]) and [`rules::check`] (what the XSD cannot say); `sign` canonicalises the bytes
//! this crate wrote. It has no host dependency and builds for `wasm32-wasip2`.
//!
//! - [`model`]: typed IVI 2.0 groups with the official element names; code lists are enums; whatever
//!   the model does not name is kept, so read -> write does not drop data.
//! - [`xml`]: a bounded reader (DTDs refused, depth, size and element count limited) and a
//!   deterministic writer (same input, same bytes).
//! - [`validate`]: XSD validation in pure Rust. The engine is the `xsd-schema` crate, adopted after it
//!   matched libxml2 on the mutant agreement test (`tests/agreement.rs`), plus a strictness layer where
//!   libxml2 is stricter than the spec (surrounding white space in numbers and dates). Schemas are loaded
//!   at run time: the official `ivi-2.0.xsd` with its `xmldsig` import, or the project's UK schema.
//! - [`rules`]: domain rules beyond the XSD, each with a stable code.
//! - [`Profile`]: `eu` (official schema) or `uk` (the project's own schema, `schemas/ivi-uk-2.0.xsd`).
//! - `cli` (feature `cli`): `ecoc validate`.
//!
//! ```
//! use ivi::{Ivi, rules, Profile};
//! # fn demo(bytes: &[u8]) -> ivi::Result<()> {
//! let ivi = Ivi::from_xml(bytes)?;
//! for finding in rules::check(&ivi, Profile::Eu) {
//!     println!("{}: {}", finding.code, finding.message);
//! }
//! let again = Ivi::from_xml(ivi.to_xml().as_bytes())?;
//! assert_eq!(again.to_xml(), ivi.to_xml());
//! # Ok(()) }
//! ```

pub mod model;
pub mod profile;
pub mod rules;
pub mod validate;
pub mod xml;

#[cfg(feature = "cli")]
pub mod cli;

pub use model::{DSIG_NS, Group, IVI_NS, Ivi};
pub use profile::Profile;

/// Errors of this crate.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The document is not well-formed XML, or is refused (a DTD).
    #[error("xml error at {line}:{column}: {message}")]
    Xml {
        /// 1-based line (0 when unknown).
        line: usize,
        /// 1-based column (0 when unknown).
        column: usize,
        /// What is wrong.
        message: String,
    },
    /// A reader limit was exceeded.
    #[error("limit {limit} exceeded: {found} > {max}")]
    Limit {
        /// The limit's name (a field of [`xml::Limits`]).
        limit: &'static str,
        /// The limit.
        max: usize,
        /// What the document has.
        found: usize,
    },
    /// The root element is not IVI's.
    #[error(
        "root element {found} is not {{http://eu.ereg.initialvehicleinformation.v2}}InitialVehicleInformation"
    )]
    Root {
        /// The root found, as `{namespace}name`.
        found: String,
    },
    /// A mandatory element is missing.
    #[error("missing mandatory element {path}")]
    Missing {
        /// Path of the element.
        path: String,
    },
    /// A mandatory element is present but its content is not a lexical form of its type (which the
    /// schema refuses too; see [`model::Value`] for the forms read).
    #[error("mandatory element {path} holds {value:?}, which is not {expected}")]
    Unreadable {
        /// Path of the element.
        path: String,
        /// Its text (or, for a table, what it holds that is not one of its groups).
        value: String,
        /// What it should hold, e.g. `an xs:date`.
        expected: String,
    },
    /// A value is not in its code list.
    #[error("`{value}` is not a code of {list}")]
    Code {
        /// The code list.
        list: &'static str,
        /// The value.
        value: String,
    },
    /// A schema could not be read or compiled.
    #[error("schema {location}: {message}")]
    Schema {
        /// The schema's location.
        location: String,
        /// What is wrong.
        message: String,
    },
    /// An unknown profile name.
    #[error("unknown profile `{0}` (expected eu or uk)")]
    Profile(String),
    /// An I/O error on a named file.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// The error.
        #[source]
        source: std::io::Error,
    },
}

/// Result with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;
