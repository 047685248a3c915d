//! The JSON documents a tenant's users write (settings, type approvals), read in two passes: first
//! as JSON, so that every mistake is listed at once with the JSON pointer (RFC 6901) of its place,
//! then into the typed value. `schemas/*.schema.json` describe the same documents for editors and
//! other tools; a test holds each schema and its checker to the same verdicts.

use serde::de::DeserializeOwned;
use serde_json::{Map, Value};

use crate::{Error, FieldError, Result};

/// A document a user writes.
pub trait Document: DeserializeOwned {
    /// Every problem of `doc`, each with its JSON pointer.
    fn problems(doc: &Value) -> Vec<FieldError>;

    /// The document, or every problem at once (422).
    fn from_value(doc: Value) -> Result<Self> {
        let problems = Self::problems(&doc);
        if !problems.is_empty() {
            return Err(Error::Fields(problems));
        }
        serde_json::from_value(doc).map_err(|e| Error::BadRequest(format!("the document: {e}")))
    }

    /// Reads JSON text (see [`Document::from_value`]).
    fn from_json(bytes: &[u8]) -> Result<Self> {
        let doc = crate::json::parse(bytes)
            .map_err(|e| Error::BadRequest(format!("the body is not valid JSON: {e}")))?;
        Self::from_value(doc)
    }
}

/// One RFC 6901 reference token (`~` and `/` escaped).
pub fn token(key: &str) -> String {
    key.replace('~', "~0").replace('/', "~1")
}

/// Problems found so far, each under one code.
#[derive(Debug)]
pub struct Problems {
    code: &'static str,
    /// What was found.
    pub list: Vec<FieldError>,
}

impl Problems {
    /// No problems yet; each will carry `code`.
    pub fn new(code: &'static str) -> Self {
        Self {
            code,
            list: Vec::new(),
        }
    }

    /// Adds one.
    pub fn push(&mut self, at: &str, message: impl Into<String>) {
        self.list.push(FieldError::new(at, self.code, message));
    }

    /// `value` as an object, or a problem.
    pub fn object<'v>(
        &mut self,
        value: &'v Value,
        at: &str,
        what: &str,
    ) -> Option<&'v Map<String, Value>> {
        let object = value.as_object();
        if object.is_none() {
            self.push(at, format!("{what} is a JSON object"));
        }
        object
    }

    /// A problem per key not in `known`, and per key of `required` that is missing.
    pub fn keys(&mut self, map: &Map<String, Value>, at: &str, known: &[&str], required: &[&str]) {
        for key in map.keys().filter(|k| !known.contains(&k.as_str())) {
            self.push(
                &format!("{at}/{}", token(key)),
                format!("unknown key `{key}` (known: {})", known.join(", ")),
            );
        }
        for key in required.iter().filter(|k| !map.contains_key(**k)) {
            self.push(&format!("{at}/{key}"), format!("`{key}` is missing"));
        }
    }

    /// The string under `key`; a present value that is neither a string nor (with `nullable`)
    /// null is a problem, and so is a blank one.
    pub fn text<'v>(
        &mut self,
        map: &'v Map<String, Value>,
        key: &str,
        at: &str,
        nullable: bool,
    ) -> Option<&'v str> {
        match map.get(key)? {
            Value::String(s) if s.trim().is_empty() => {
                self.push(&format!("{at}/{key}"), format!("`{key}` is blank"));
                None
            }
            Value::String(s) => Some(s),
            Value::Null if nullable => None,
            other => {
                self.push(
                    &format!("{at}/{key}"),
                    format!(
                        "`{key}` must be a string{}, not {other}",
                        if nullable { " or null" } else { "" }
                    ),
                );
                None
            }
        }
    }

    /// The string under `key`, which must be one of `allowed`.
    pub fn choice(&mut self, map: &Map<String, Value>, key: &str, at: &str, allowed: &[&str]) {
        if let Some(s) = self.text(map, key, at, false)
            && !allowed.contains(&s)
        {
            self.push(
                &format!("{at}/{key}"),
                format!("`{s}` is not one of {}", allowed.join(", ")),
            );
        }
    }

    /// The array of non-blank strings under `key` (at least `min` of them).
    pub fn texts<'v>(
        &mut self,
        map: &'v Map<String, Value>,
        key: &str,
        at: &str,
        min: usize,
    ) -> Vec<&'v str> {
        let here = format!("{at}/{key}");
        match map.get(key) {
            None => Vec::new(),
            Some(Value::Array(items)) => {
                if items.len() < min {
                    self.push(&here, format!("`{key}` needs at least {min} entry"));
                }
                items
                    .iter()
                    .enumerate()
                    .filter_map(|(i, item)| match item {
                        Value::String(s) if !s.trim().is_empty() => Some(s.as_str()),
                        _ => {
                            self.push(
                                &format!("{here}/{i}"),
                                format!("an entry of `{key}` is a non-blank string"),
                            );
                            None
                        }
                    })
                    .collect()
            }
            Some(_) => {
                self.push(&here, format!("`{key}` must be an array of strings"));
                Vec::new()
            }
        }
    }

    /// Done: the problems, if any, as the 422 error.
    pub fn into_result(self) -> Result<()> {
        if self.list.is_empty() {
            Ok(())
        } else {
            Err(Error::Fields(self.list))
        }
    }
}
