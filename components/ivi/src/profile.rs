//! Validation profiles: which schema and which rules a document is checked against.
//!
//! - `eu`: the official `ivi-2.0.xsd` (with its `xmldsig-core-schema.xsd` import), then [`crate::rules`]
//!   with EU approval numbers.
//! - `uk`: the project's own schema, `schemas/ivi-uk-2.0.xsd` (embedded as [`UK_SCHEMA`], replaceable by
//!   a file), which widens the approval countries to `g11`, `n11` and `e11`; then, when the official
//!   schema is available, the official schema too, where only a UK approval country is forgiven; then
//!   the rules with UK approval numbers.
//!
//! The official schema is never shipped in this crate: it is read from the path given, or from
//! `ECOC_IVI2_XSD`, or (for developers) from `../shared/ivi2/xsd/ivi-2.0.xsd` next to the repository.

use std::path::{Path, PathBuf};

use crate::rules::{self, Finding};
use crate::validate::{Diagnostic, Validator};
use crate::{Error, Ivi, Result};

/// The project's UK profile schema (`schemas/ivi-uk-2.0.xsd`), written by the ecoc project.
pub const UK_SCHEMA: &str = include_str!("../../../schemas/ivi-uk-2.0.xsd");

/// Environment variable naming the official `ivi-2.0.xsd`.
pub const OFFICIAL_XSD_ENV: &str = "ECOC_IVI2_XSD";

/// Which market's rules a document is checked against.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Profile {
    /// The EU: the official IVI 2.0 schema; approvals `e<n>*...`.
    #[default]
    Eu,
    /// The UK (VCA): the EU structure with GB (`g11*`), UK(NI) (`n11*`) and retained EU (`e11*`)
    /// approvals; validated against the project's own schema.
    Uk,
}

impl std::str::FromStr for Profile {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        match s {
            "eu" => Ok(Self::Eu),
            "uk" => Ok(Self::Uk),
            other => Err(Error::Profile(other.to_owned())),
        }
    }
}

impl std::fmt::Display for Profile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Eu => "eu",
            Self::Uk => "uk",
        })
    }
}

/// Where the official `ivi-2.0.xsd` is: `ECOC_IVI2_XSD`, else `../shared/ivi2/xsd/ivi-2.0.xsd` beside the
/// repository this crate was built from, if it exists.
pub fn official_xsd() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os(OFFICIAL_XSD_ENV) {
        return Some(PathBuf::from(p));
    }
    let dev = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/ivi2/xsd/ivi-2.0.xsd");
    dev.is_file().then_some(dev)
}

/// Everything found in one document.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct Report {
    /// Schema problems (empty when the document is schema-valid).
    pub schema: Vec<Diagnostic>,
    /// Domain-rule findings (run when the document could be read into the model).
    pub rules: Vec<Finding>,
}

impl Report {
    /// Whether the document passed both the schema and the rules.
    pub fn is_valid(&self) -> bool {
        // A warning (a rule without an official source) never makes a file invalid.
        self.schema.is_empty() && !self.rules.iter().any(crate::rules::Finding::is_error)
    }
}

/// A profile's compiled schemas, ready to check documents.
#[derive(Debug)]
pub struct ProfileValidator {
    profile: Profile,
    primary: Validator,
    /// For `uk`: the official schema, when available.
    official: Option<Validator>,
}

impl ProfileValidator {
    /// Compiles the schemas of `profile`. `xsd` replaces the profile's schema (for `eu` the official
    /// one, for `uk` the project's UK schema); without it `eu` uses [`official_xsd`] and `uk` the
    /// embedded [`UK_SCHEMA`] (plus the official schema when [`official_xsd`] finds it).
    pub fn new(profile: Profile, xsd: Option<&Path>) -> Result<Self> {
        match profile {
            Profile::Eu => {
                let path = xsd.map(Path::to_path_buf).or_else(official_xsd).ok_or_else(|| Error::Schema {
                    location: "ivi-2.0.xsd".into(),
                    message: format!("profile eu needs the official schema: pass its path or set {OFFICIAL_XSD_ENV}"),
                })?;
                Ok(Self {
                    profile,
                    primary: Validator::from_path(&path)?,
                    official: None,
                })
            }
            Profile::Uk => {
                let primary = match xsd {
                    Some(p) => Validator::from_path(p)?,
                    None => Validator::new(("ivi-uk-2.0.xsd", UK_SCHEMA), &[])?,
                };
                let official = match official_xsd() {
                    Some(p) if p.is_file() => Some(Validator::from_path(&p)?),
                    _ => None,
                };
                Ok(Self {
                    profile,
                    primary,
                    official,
                })
            }
        }
    }

    /// Compiles the schemas of `profile` from text in memory (a wasm component that embedded them at
    /// build time): `official` is `(ivi-2.0.xsd, xmldsig-core-schema.xsd)`. `eu` needs it; `uk` uses the
    /// embedded [`UK_SCHEMA`] and adds the official pass when it is given.
    pub fn from_sources(profile: Profile, official: Option<(&str, &str)>) -> Result<Self> {
        let official = official
            .map(|(ivi, dsig)| {
                Validator::new(("ivi-2.0.xsd", ivi), &[("xmldsig-core-schema.xsd", dsig)])
            })
            .transpose()?;
        match profile {
            Profile::Eu => Ok(Self {
                profile,
                primary: official.ok_or_else(|| Error::Schema {
                    location: "ivi-2.0.xsd".into(),
                    message: "profile eu needs the official schema, and none was embedded".into(),
                })?,
                official: None,
            }),
            Profile::Uk => Ok(Self {
                profile,
                primary: Validator::new(("ivi-uk-2.0.xsd", UK_SCHEMA), &[])?,
                official,
            }),
        }
    }

    /// The profile.
    pub fn profile(&self) -> Profile {
        self.profile
    }

    /// Whether the `uk` profile also runs the official schema.
    pub fn has_official_pass(&self) -> bool {
        self.official.is_some()
    }

    /// Schema compile time (all schemas of the profile).
    pub fn compile_time(&self) -> std::time::Duration {
        self.primary.compile_time
            + self
                .official
                .as_ref()
                .map_or_else(Default::default, |v| v.compile_time)
    }

    /// Checks one document: schema(s), then the domain rules.
    pub fn check(&self, bytes: &[u8]) -> Report {
        self.check_model(bytes, &Ivi::from_xml(bytes))
    }

    /// [`Self::check`] for a caller that has read the document's model already: `ivi` must be
    /// [`Ivi::from_xml`] of the same `bytes` (or [`Ivi::from_element`] of their tree). Saves a
    /// parse and a model per document.
    pub fn check_model(&self, bytes: &[u8], ivi: &crate::Result<Ivi>) -> Report {
        let mut schema = self.primary.validate(bytes);
        if let Some(official) = &self.official {
            // The official schema cannot express UK approval countries: forgive exactly that element
            // when it holds one (the UK schema above has checked it), nothing else.
            let uk_country = ivi.as_ref().is_ok_and(|i| {
                matches!(
                    i.header.designated_type_approval_country.as_str(),
                    "e11" | "g11" | "n11"
                )
            });
            for d in official.validate(bytes) {
                let forgiven =
                    uk_country && d.path.ends_with("/Header/DesignatedTypeApprovalCountry");
                if !forgiven && !schema.contains(&d) {
                    schema.push(d);
                }
            }
            schema.sort_by_key(|d| (d.line, d.column));
        }
        let rules = match ivi {
            Ok(ivi) => rules::check(ivi, self.profile),
            Err(e) => {
                if schema.is_empty() {
                    schema.push(Diagnostic {
                        line: 0,
                        column: 0,
                        path: String::new(),
                        rule: "ivi-model".into(),
                        message: e.to_string(),
                    });
                }
                Vec::new()
            }
        };
        Report { schema, rules }
    }
}
