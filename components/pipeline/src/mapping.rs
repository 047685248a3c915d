//! The tenant's declarative mapping: one ERP record (JSON) -> one IVI 2.0 document.
//!
//! A mapping is data (stored in the key-value store, edited with `PUT /v1/tenant/mapping`), not code:
//!
//! ```json
//! {"profile": "eu", "fields": [
//!   {"path": "CocDataGroup/VehicleIdentificationNumber", "from": "/vin", "required": true},
//!   {"path": "Header/IviVersionNumber", "from": "/version", "type": "integer", "default": "1"},
//!   {"path": "CocDataGroup/AxleTable/AxleGroup", "each": "/axles", "fields": [
//!     {"path": "AxleNumber", "from": "/number", "type": "integer"},
//!     {"path": "PoweredAxleIndicator", "from": "/powered", "type": "yn"}]}]}
//! ```
//!
//! Each field names an IVI element path (relative to the root, or to the element its enclosing
//! `each` created) and one source: `from` (an RFC 6901 pointer into the record or the array item),
//! `const`, `generate` (`uuid`, `now`, `today`) or `each` (one new element per array item). Options:
//! `default`, `required`, `type` (`string`, `integer`, `decimal`, `date`, `datetime`, `yn`),
//! `decimals`, `codes` (ERP value -> IVI code). Walking a path re-uses the last element of that name,
//! so fields of one group land together. The header's reference id, schema version, version number
//! and timestamp get defaults; a placeholder `Signature` is appended for the schema (the `sign` step
//! replaces it). The tree then goes through the IVI model, whose writer puts elements in schema order.

use std::collections::BTreeMap;
use std::time::{SystemTime, UNIX_EPOCH};

use ivi::xml::{Element, Node};
use ivi::{IVI_NS, Ivi};
use serde_json::Value;

use crate::{FieldError, clock, gate, ids};

/// Longest value written into one element.
pub const MAX_VALUE_CHARS: usize = 4096;
/// Most elements one record may produce.
pub const MAX_ELEMENTS: usize = 10_000;
/// Deepest nesting of `each`.
pub const MAX_EACH_DEPTH: usize = 8;

/// A tenant's mapping.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Mapping {
    /// `eu` or `uk` (informative: the tenant's profile decides validation).
    #[serde(default = "eu")]
    pub profile: String,
    /// The fields, in any order.
    pub fields: Vec<Field>,
}

fn eu() -> String {
    "eu".into()
}

/// One mapped element, or one repeated group.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Field {
    /// IVI element names separated by `/`.
    pub path: String,
    /// JSON pointer into the record (or the current array item).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from: Option<String>,
    /// A fixed value.
    #[serde(default, rename = "const", skip_serializing_if = "Option::is_none")]
    pub constant: Option<String>,
    /// `uuid`, `now` or `today`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub generate: Option<String>,
    /// Used when `from` finds nothing (absent or null).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default: Option<String>,
    /// A missing value is an error (otherwise the element is left out).
    #[serde(default)]
    pub required: bool,
    /// How the value is read and written.
    #[serde(default, rename = "type", skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    /// Decimal places written (type `decimal`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub decimals: Option<usize>,
    /// ERP value -> IVI code.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub codes: Option<BTreeMap<String, String>>,
    /// Pointer to an array: one element at `path` per item, filled by `fields`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub each: Option<String>,
    /// The fields of each item (with `each`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fields: Option<Vec<Field>>,
}

/// A mapped record: the XML and its model.
#[derive(Debug, Clone)]
pub struct Mapped {
    /// Deterministic IVI XML with a placeholder signature.
    pub xml: String,
    /// The same document as the model.
    pub ivi: Ivi,
}

const TYPES: [&str; 6] = ["string", "integer", "decimal", "date", "datetime", "yn"];

fn invalid(at: &str, message: String) -> FieldError {
    FieldError::new(at, "MAPPING-INVALID", message)
}

fn valid_pointer(p: &str) -> bool {
    p.is_empty() || (p.starts_with('/') && !p.contains("~2"))
}

fn valid_path(p: &str) -> bool {
    !p.is_empty()
        && p.split('/').all(|seg| {
            seg.chars().next().is_some_and(|c| c.is_ascii_alphabetic())
                && seg.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
        })
}

fn check_fields(fields: &[Field], at: &str, depth: usize, errors: &mut Vec<FieldError>) {
    for (i, f) in fields.iter().enumerate() {
        let here = format!("{at}[{i}]");
        if !valid_path(&f.path) {
            errors.push(invalid(
                &format!("{here}.path"),
                format!("`{}` is not a path of element names", f.path),
            ));
        }
        let sources = [
            f.from.is_some(),
            f.constant.is_some(),
            f.generate.is_some(),
            f.each.is_some(),
        ];
        if sources.iter().filter(|s| **s).count() != 1 {
            errors.push(invalid(
                &here,
                "needs exactly one of from, const, generate, each".into(),
            ));
        }
        for (name, p) in [("from", &f.from), ("each", &f.each)] {
            if let Some(p) = p
                && !valid_pointer(p)
            {
                errors.push(invalid(
                    &format!("{here}.{name}"),
                    format!("`{p}` is not a JSON pointer (it starts with `/`)"),
                ));
            }
        }
        if let Some(g) = &f.generate
            && !matches!(g.as_str(), "uuid" | "now" | "today")
        {
            errors.push(invalid(
                &format!("{here}.generate"),
                format!("`{g}` is not uuid, now or today"),
            ));
        }
        if let Some(k) = &f.kind
            && !TYPES.contains(&k.as_str())
        {
            errors.push(invalid(
                &format!("{here}.type"),
                format!("`{k}` is not one of {}", TYPES.join(", ")),
            ));
        }
        if f.decimals.is_some() && f.kind.as_deref() != Some("decimal") {
            errors.push(invalid(
                &format!("{here}.decimals"),
                "decimals needs type decimal".into(),
            ));
        }
        match (&f.each, &f.fields) {
            (Some(_), Some(sub)) => {
                if depth + 1 > MAX_EACH_DEPTH {
                    errors.push(invalid(
                        &here,
                        format!("`each` nests deeper than {MAX_EACH_DEPTH}"),
                    ));
                } else {
                    check_fields(sub, &format!("{here}.fields"), depth + 1, errors);
                }
            }
            (Some(_), None) => errors.push(invalid(&here, "`each` needs `fields`".into())),
            (None, Some(_)) => errors.push(invalid(&here, "`fields` needs `each`".into())),
            (None, None) => {}
        }
    }
}

/// One RFC 6901 pointer lookup; `None` for absent or null.
fn lookup<'v>(value: &'v Value, pointer: &str) -> Option<&'v Value> {
    value.pointer(pointer).filter(|v| !v.is_null())
}

struct Builder {
    now: u64,
    elements: usize,
    errors: Vec<FieldError>,
}

impl Builder {
    /// The element at `path` under `parent`, re-using the last of each name, creating what is missing;
    /// with `fresh`, the last segment is always a new element.
    fn walk<'e>(
        &mut self,
        parent: &'e mut Element,
        path: &str,
        fresh: bool,
    ) -> Option<&'e mut Element> {
        let segments: Vec<&str> = path.split('/').collect();
        let mut current = parent;
        for (i, name) in segments.iter().enumerate() {
            let last = i + 1 == segments.len();
            let existing = current
                .children
                .iter()
                .rposition(|n| matches!(n, Node::Element(e) if e.name == *name));
            let index = match existing {
                Some(idx) if !(last && fresh) => idx,
                _ => {
                    self.elements += 1;
                    if self.elements > MAX_ELEMENTS {
                        return None;
                    }
                    current
                        .children
                        .push(Node::Element(Element::new(Some(IVI_NS), name)));
                    current.children.len() - 1
                }
            };
            current = match &mut current.children[index] {
                Node::Element(e) => e,
                _ => return None,
            };
        }
        Some(current)
    }

    fn apply(&mut self, parent: &mut Element, fields: &[Field], item: &Value, at: &str) {
        for f in fields {
            let path = if at.is_empty() {
                f.path.clone()
            } else {
                format!("{at}/{}", f.path)
            };
            if let (Some(each), Some(sub)) = (&f.each, &f.fields) {
                match lookup(item, each) {
                    None if f.required => self.errors.push(FieldError::new(
                        &path,
                        "MAP-REQUIRED",
                        format!("{path} needs the array at `{each}`, which is missing"),
                    )),
                    None => {}
                    Some(Value::Array(items)) => {
                        if items.is_empty() && f.required {
                            self.errors.push(FieldError::new(
                                &path,
                                "MAP-REQUIRED",
                                format!("the array at `{each}` is empty"),
                            ));
                        }
                        for (n, element) in items.iter().enumerate() {
                            let Some(group) = self.walk(parent, &f.path, true) else {
                                self.errors.push(FieldError::new(
                                    &path,
                                    "MAP-LIMIT",
                                    format!("more than {MAX_ELEMENTS} elements"),
                                ));
                                return;
                            };
                            self.apply(group, sub, element, &format!("{path}[{n}]"));
                        }
                    }
                    Some(_) => self.errors.push(FieldError::new(
                        &path,
                        "MAP-ARRAY",
                        format!("`{each}` must be an array"),
                    )),
                }
                continue;
            }
            match self.value(f, item, &path) {
                Ok(Some(text)) => match self.walk(parent, &f.path, false) {
                    Some(e) => {
                        e.children.clear();
                        e.children.push(Node::Text(text));
                    }
                    None => {
                        self.errors.push(FieldError::new(
                            &path,
                            "MAP-LIMIT",
                            format!("more than {MAX_ELEMENTS} elements"),
                        ));
                        return;
                    }
                },
                Ok(None) => {}
                Err(e) => self.errors.push(e),
            }
        }
    }

    fn value(&self, f: &Field, item: &Value, path: &str) -> Result<Option<String>, FieldError> {
        let source = f
            .from
            .as_deref()
            .map_or_else(|| "the mapping".to_owned(), |p| format!("`{p}`"));
        let raw: Option<String> = if let Some(c) = &f.constant {
            Some(c.clone())
        } else if let Some(g) = &f.generate {
            Some(match g.as_str() {
                "uuid" => ids::uuid_v4()
                    .map_err(|e| FieldError::new(path, "MAP-GENERATE", e.to_string()))?,
                "now" => clock::rfc3339(self.now),
                _ => clock::date(self.now),
            })
        } else {
            let pointer = f.from.as_deref().unwrap_or("");
            match lookup(item, pointer) {
                None => f.default.clone(),
                Some(Value::String(s)) if s.trim().is_empty() => f.default.clone(),
                Some(Value::String(s)) => Some(s.trim().to_owned()),
                Some(Value::Number(n)) => Some(n.to_string()),
                Some(Value::Bool(b)) => Some(b.to_string()),
                Some(_) => {
                    return Err(FieldError::new(
                        path,
                        "MAP-TYPE",
                        format!("{source} holds an object or array; {path} needs a single value"),
                    ));
                }
            }
        };
        let Some(raw) = raw else {
            return if f.required {
                Err(FieldError::new(
                    path,
                    "MAP-REQUIRED",
                    format!("{path} is required and {source} has no value"),
                ))
            } else {
                Ok(None)
            };
        };
        if raw.chars().count() > MAX_VALUE_CHARS {
            return Err(FieldError::new(
                path,
                "MAP-TOO-LONG",
                format!("{source} has more than {MAX_VALUE_CHARS} characters"),
            ));
        }
        let raw = match &f.codes {
            Some(codes) => match codes.get(&raw) {
                Some(code) => code.clone(),
                None => {
                    return Err(FieldError::new(
                        path,
                        "MAP-CODE",
                        format!(
                            "{source} value `{raw}` is not in the mapping's code table ({})",
                            codes.keys().cloned().collect::<Vec<_>>().join(", ")
                        ),
                    ));
                }
            },
            None => raw,
        };
        let wrong = |what: &str| {
            FieldError::new(
                path,
                "MAP-TYPE",
                format!("{source} value `{raw}` is not {what}"),
            )
        };
        let text = match f.kind.as_deref().unwrap_or("string") {
            "integer" => match raw.parse::<i64>() {
                Ok(n) => n.to_string(),
                Err(_) => match raw.parse::<f64>() {
                    Ok(x) if x.fract() == 0.0 && x.abs() < 9.0e15 => format!("{}", x as i64),
                    _ => return Err(wrong("an integer")),
                },
            },
            "decimal" => {
                let x: f64 = raw.parse().map_err(|_| wrong("a decimal number"))?;
                if !x.is_finite() || x.abs() >= 1.0e15 {
                    return Err(wrong("a finite decimal number"));
                }
                match f.decimals {
                    Some(d) => format!("{x:.d$}"),
                    None => raw.clone(),
                }
            }
            "date" => {
                clock::parse_date(&raw).ok_or_else(|| {
                    FieldError::new(
                        path,
                        "MAP-DATE",
                        format!("{source} value `{raw}` is not a date YYYY-MM-DD"),
                    )
                })?;
                raw
            }
            "datetime" => {
                let ok = raw.len() >= 20
                    && clock::parse_date(&raw[..10]).is_some()
                    && raw.as_bytes()[10] == b'T';
                if !ok {
                    return Err(FieldError::new(
                        path,
                        "MAP-DATE",
                        format!("{source} value `{raw}` is not an RFC 3339 date-time"),
                    ));
                }
                raw
            }
            "yn" => match raw.to_ascii_lowercase().as_str() {
                "y" | "yes" | "true" | "1" => "Y".into(),
                "n" | "no" | "false" | "0" => "N".into(),
                _ => return Err(wrong("yes/no (Y, N, true, false)")),
            },
            _ => raw,
        };
        Ok(Some(text))
    }
}

impl Mapping {
    /// Reads and checks a mapping; every problem is listed.
    pub fn from_json(bytes: &[u8]) -> Result<Self, Vec<FieldError>> {
        let mapping: Mapping = serde_json::from_slice(bytes)
            .map_err(|e| vec![invalid("/", format!("not a mapping document: {e}"))])?;
        let mut errors = Vec::new();
        if !matches!(mapping.profile.as_str(), "eu" | "uk") {
            errors.push(invalid(
                "profile",
                format!("`{}` is not eu or uk", mapping.profile),
            ));
        }
        check_fields(&mapping.fields, "fields", 0, &mut errors);
        if errors.is_empty() {
            Ok(mapping)
        } else {
            Err(errors)
        }
    }

    /// The profile named by the mapping.
    pub fn profile(&self) -> ivi::Profile {
        if self.profile == "uk" {
            ivi::Profile::Uk
        } else {
            ivi::Profile::Eu
        }
    }

    /// Maps one ERP record; every field error is listed.
    pub fn apply(&self, record: &Value, now: SystemTime) -> Result<Mapped, Vec<FieldError>> {
        if !record.is_object() {
            return Err(vec![FieldError::new(
                "/",
                "MAP-TYPE",
                "the ERP record must be a JSON object",
            )]);
        }
        let now = now.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
        let mut builder = Builder {
            now,
            elements: 0,
            errors: Vec::new(),
        };
        let mut root = Element::new(Some(IVI_NS), "InitialVehicleInformation");
        builder.apply(&mut root, &self.fields, record, "");
        if !builder.errors.is_empty() {
            return Err(builder.errors);
        }
        let defaults = [
            ("IviReferenceId", ids::uuid_v4().unwrap_or_default()),
            ("IviVersionNumberXsd", "2.0".to_owned()),
            ("IviVersionNumber", "1".to_owned()),
            ("IviVersionDateTime", clock::rfc3339(now)),
        ];
        if let Some(header) = builder.walk(&mut root, "Header", false) {
            for (name, value) in defaults {
                if header.child(Some(IVI_NS), name).is_none() {
                    header.children.push(Node::Element(Element::with_text(
                        Some(IVI_NS),
                        name,
                        value,
                    )));
                }
            }
        }
        root.children
            .push(Node::Element(gate::placeholder_signature()));
        let ivi = Ivi::from_element(&root)
            .map_err(|e| vec![FieldError::new("/", "MAP-IVI", e.to_string())])?;
        Ok(Mapped {
            xml: ivi.to_xml(),
            ivi,
        })
    }
}
