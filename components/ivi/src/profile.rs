//! Validation profiles.

/// Which market's rules a document is checked against.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Profile {
    /// The EU: the official IVI 2.0 schema; approvals `e<n>*...`.
    #[default]
    Eu,
    /// The UK (VCA): the EU structure with GB (`g11*`), UK(NI) (`n11*`) and retained EU (`e11*`)
    /// approvals; validated against the project's own schema.
    Uk,
}

impl std::str::FromStr for Profile {
    type Err = crate::Error;
    fn from_str(s: &str) -> crate::Result<Self> {
        match s {
            "eu" => Ok(Self::Eu),
            "uk" => Ok(Self::Uk),
            other => Err(crate::Error::Profile(other.to_owned())),
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
