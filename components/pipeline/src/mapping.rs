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
use serde_json::{Map, Value};

use crate::{FieldError, clock, ids, validate};

/// Longest value written into one element.
pub const MAX_VALUE_CHARS: usize = 4096;
/// Most elements one record may produce.
pub const MAX_ELEMENTS: usize = 10_000;
/// Deepest nesting of `each`.
pub const MAX_EACH_DEPTH: usize = 8;
/// Most decimal places a `decimal` field may ask for.
pub const MAX_DECIMALS: usize = 18;
/// Largest exponent shift accepted in a decimal value (`1e30` is fine, `1e999` is refused).
const MAX_DECIMAL_SHIFT: i64 = 64;

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
const FIELD_KEYS: [&str; 11] = [
    "path", "from", "const", "generate", "default", "required", "type", "decimals", "codes",
    "each", "fields",
];

fn invalid(at: &str, message: String) -> FieldError {
    FieldError::new(at, "MAPPING-INVALID", message)
}

/// RFC 6901: empty (the whole value) or `/`-led, with `~` only in the escapes `~0` and `~1`.
fn valid_pointer(p: &str) -> bool {
    (p.is_empty() || p.starts_with('/'))
        && p.split('~')
            .skip(1)
            .all(|after| after.starts_with('0') || after.starts_with('1'))
}

fn valid_path(p: &str) -> bool {
    !p.is_empty()
        && p.split('/').all(|seg| {
            seg.chars().next().is_some_and(|c| c.is_ascii_alphabetic())
                && seg.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
        })
}

/// The string under `key`, if present; a present non-string is reported.
fn text_key<'a>(
    f: &'a Map<String, Value>,
    key: &str,
    here: &str,
    errors: &mut Vec<FieldError>,
) -> Option<&'a str> {
    match f.get(key)? {
        Value::String(s) => Some(s),
        _ => {
            errors.push(invalid(
                &format!("{here}.{key}"),
                format!("`{key}` must be a string"),
            ));
            None
        }
    }
}

/// Checks a mapping document as JSON, so that every problem (unknown keys too) gets its own path.
fn check_document(doc: &Value, errors: &mut Vec<FieldError>) {
    let Some(obj) = doc.as_object() else {
        errors.push(invalid(
            "/",
            "a mapping is a JSON object with `profile` and `fields`".into(),
        ));
        return;
    };
    for key in obj
        .keys()
        .filter(|k| !matches!(k.as_str(), "profile" | "fields"))
    {
        errors.push(invalid(
            key,
            format!("unknown key `{key}`: a mapping has `profile` and `fields`"),
        ));
    }
    match obj.get("profile") {
        None => {}
        Some(Value::String(p)) if p == "eu" || p == "uk" => {}
        Some(other) => errors.push(invalid(
            "profile",
            format!("{other} is not \"eu\" or \"uk\""),
        )),
    }
    match obj.get("fields") {
        Some(Value::Array(fields)) => check_fields(fields, "fields", 0, errors),
        Some(_) => errors.push(invalid("fields", "`fields` must be an array".into())),
        None => errors.push(invalid("fields", "`fields` is missing".into())),
    }
}

/// Checks one list of fields; `depth` is the number of enclosing `each`.
fn check_fields(fields: &[Value], at: &str, depth: usize, errors: &mut Vec<FieldError>) {
    // (index, path) of the fields that write a value, to find a value that would also be a group.
    let mut value_paths: Vec<(usize, &str)> = Vec::new();
    let mut all_paths: Vec<&str> = Vec::new();
    for (i, v) in fields.iter().enumerate() {
        let here = format!("{at}[{i}]");
        let Some(f) = v.as_object() else {
            errors.push(invalid(&here, "a field is a JSON object".into()));
            continue;
        };
        for key in f.keys().filter(|k| !FIELD_KEYS.contains(&k.as_str())) {
            errors.push(invalid(
                &format!("{here}.{key}"),
                format!("unknown key `{key}` (known: {})", FIELD_KEYS.join(", ")),
            ));
        }
        match text_key(f, "path", &here, errors) {
            Some(p) if valid_path(p) => all_paths.push(p),
            Some(p) => errors.push(invalid(
                &format!("{here}.path"),
                format!(
                    "`{p}` is not a path of element names such as MassGroup/MassInRunningOrder"
                ),
            )),
            None if !f.contains_key("path") => {
                errors.push(invalid(&format!("{here}.path"), "`path` is missing".into()));
            }
            None => {}
        }
        let sources: Vec<&str> = ["from", "const", "generate", "each"]
            .into_iter()
            .filter(|k| f.contains_key(*k))
            .collect();
        if sources.len() != 1 {
            errors.push(invalid(
                &here,
                format!(
                    "needs exactly one of from, const, generate, each; found {}",
                    if sources.is_empty() {
                        "none".to_owned()
                    } else {
                        sources.join(", ")
                    }
                ),
            ));
        }
        for key in ["from", "each"] {
            if let Some(p) = text_key(f, key, &here, errors)
                && !valid_pointer(p)
            {
                errors.push(invalid(
                    &format!("{here}.{key}"),
                    format!(
                        "`{p}` is not a JSON pointer (RFC 6901: `/a/b`, `~0` and `~1` escapes)"
                    ),
                ));
            }
        }
        text_key(f, "const", &here, errors);
        if let Some(g) = text_key(f, "generate", &here, errors)
            && !matches!(g, "uuid" | "now" | "today")
        {
            errors.push(invalid(
                &format!("{here}.generate"),
                format!("`{g}` is not uuid, now or today"),
            ));
        }
        if text_key(f, "default", &here, errors).is_some() && !f.contains_key("from") {
            errors.push(invalid(
                &format!("{here}.default"),
                "`default` applies to `from` only".into(),
            ));
        }
        if f.get("required").is_some_and(|r| !r.is_boolean()) {
            errors.push(invalid(
                &format!("{here}.required"),
                "`required` must be true or false".into(),
            ));
        }
        let kind = text_key(f, "type", &here, errors);
        if let Some(k) = kind
            && !TYPES.contains(&k)
        {
            errors.push(invalid(
                &format!("{here}.type"),
                format!("`{k}` is not one of {}", TYPES.join(", ")),
            ));
        }
        if let Some(d) = f.get("decimals") {
            match d.as_u64() {
                Some(n) if n <= MAX_DECIMALS as u64 => {}
                _ => errors.push(invalid(
                    &format!("{here}.decimals"),
                    format!("`decimals` must be a whole number from 0 to {MAX_DECIMALS}"),
                )),
            }
            if kind != Some("decimal") {
                errors.push(invalid(
                    &format!("{here}.decimals"),
                    "`decimals` needs \"type\": \"decimal\"".into(),
                ));
            }
        }
        match f.get("codes") {
            None => {}
            Some(Value::Object(codes)) if codes.values().all(Value::is_string) => {}
            Some(_) => errors.push(invalid(
                &format!("{here}.codes"),
                "`codes` must be an object of strings (ERP value -> IVI code)".into(),
            )),
        }
        match (f.contains_key("each"), f.get("fields")) {
            (true, Some(Value::Array(sub))) => {
                for key in ["type", "decimals", "codes", "default"] {
                    if f.contains_key(key) {
                        errors.push(invalid(
                            &format!("{here}.{key}"),
                            format!("`{key}` does not apply to an `each` group"),
                        ));
                    }
                }
                if depth + 1 > MAX_EACH_DEPTH {
                    errors.push(invalid(
                        &format!("{here}.each"),
                        format!("`each` nests deeper than {MAX_EACH_DEPTH}"),
                    ));
                } else {
                    check_fields(sub, &format!("{here}.fields"), depth + 1, errors);
                }
            }
            (true, Some(_)) => errors.push(invalid(
                &format!("{here}.fields"),
                "`fields` must be an array".into(),
            )),
            (true, None) => errors.push(invalid(&here, "`each` needs `fields`".into())),
            (false, Some(_)) => errors.push(invalid(
                &format!("{here}.fields"),
                "`fields` needs `each`".into(),
            )),
            (false, None) => {
                if let Some(Value::String(p)) = f.get("path") {
                    value_paths.push((i, p));
                }
            }
        }
    }
    // A value written at `A/B` would wipe a group at `A/B/C` (or the other way round).
    for (i, value) in value_paths {
        if let Some(inner) = all_paths.iter().find(|p| {
            p.len() > value.len() && p.starts_with(value) && p.as_bytes()[value.len()] == b'/'
        }) {
            errors.push(invalid(
                &format!("{at}[{i}].path"),
                format!("`{value}` holds a value, but `{inner}` puts elements inside it"),
            ));
        }
    }
}

/// One RFC 6901 pointer lookup; `None` for absent or null.
fn lookup<'v>(value: &'v Value, pointer: &str) -> Option<&'v Value> {
    value.pointer(pointer).filter(|v| !v.is_null())
}

/// A pointer for a message: `/axles/1/tyres/0/size`, or the whole record.
fn shown(pointer: &str) -> String {
    if pointer.is_empty() {
        "the whole record".to_owned()
    } else {
        format!("`{pointer}`")
    }
}

fn json_kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// Two ASCII digits.
fn two_digits(text: &str, at: usize) -> Option<u32> {
    let s = text.get(at..at + 2)?;
    s.bytes()
        .all(|b| b.is_ascii_digit())
        .then(|| s.parse().ok())
        .flatten()
}

/// An RFC 3339 date-time (`2026-11-21T15:43:17Z`, optional fraction, `Z` or `+hh:mm`), written with
/// an upper-case `T` and `Z` as `xs:dateTime` wants.
fn datetime(raw: &str) -> Option<String> {
    let text = raw.to_ascii_uppercase();
    let b = text.as_bytes();
    if b.len() < 20 || b[10] != b'T' || b[13] != b':' || b[16] != b':' {
        return None;
    }
    clock::parse_date(text.get(..10)?)?;
    let (h, m, s) = (
        two_digits(&text, 11)?,
        two_digits(&text, 14)?,
        two_digits(&text, 17)?,
    );
    if h > 23 || m > 59 || s > 59 {
        return None;
    }
    let mut rest = text.get(19..)?;
    if let Some(fraction) = rest.strip_prefix('.') {
        let n = fraction.bytes().take_while(u8::is_ascii_digit).count();
        if n == 0 {
            return None;
        }
        rest = fraction.get(n..)?;
    }
    let zone_ok = rest == "Z"
        || (rest.len() == 6
            && (rest.starts_with('+') || rest.starts_with('-'))
            && rest.as_bytes()[3] == b':'
            && two_digits(rest, 1).is_some_and(|zh| zh <= 14)
            && two_digits(rest, 4).is_some_and(|zm| zm <= 59));
    zone_ok.then_some(text)
}

/// The plain `xs:decimal` form of `raw`, which may carry an exponent as JSON numbers do (`1.5e2`),
/// rounded half away from zero to `places` when given. Digit arithmetic on the text, so `0.125`
/// with 2 places is `0.13` (a float would give `0.12`).
fn decimal(raw: &str, places: Option<usize>) -> Option<String> {
    let (negative, body) = match raw.as_bytes().first()? {
        b'-' => (true, raw.get(1..)?),
        b'+' => (false, raw.get(1..)?),
        _ => (false, raw),
    };
    let (mantissa, exponent) = match body.find(['e', 'E']) {
        Some(i) => (body.get(..i)?, body.get(i + 1..)?.parse::<i64>().ok()?),
        None => (body, 0),
    };
    let (int, frac) = mantissa.split_once('.').unwrap_or((mantissa, ""));
    let digits_only = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
    if (int.is_empty() && frac.is_empty()) || !digits_only(int) || !digits_only(frac) {
        return None;
    }
    let mut digits: Vec<u8> = int.bytes().chain(frac.bytes()).map(|b| b - b'0').collect();
    // Where the decimal point sits, counted from the left of `digits`.
    let mut point = i64::try_from(int.len()).ok()? + exponent;
    if !(-MAX_DECIMAL_SHIFT..=MAX_DECIMAL_SHIFT).contains(&point) {
        return None;
    }
    if point < 0 {
        let pad = usize::try_from(-point).ok()?;
        digits.splice(0..0, std::iter::repeat_n(0, pad));
        point = 0;
    }
    let point = usize::try_from(point).ok()?;
    if point > digits.len() {
        digits.resize(point, 0);
    }
    let mut fraction = digits.split_off(point);
    let mut whole = digits;
    if let Some(p) = places {
        if fraction.len() > p {
            let up = fraction[p] >= 5;
            fraction.truncate(p);
            if up {
                let mut carry = true;
                for d in fraction.iter_mut().rev().chain(whole.iter_mut().rev()) {
                    if *d == 9 {
                        *d = 0;
                    } else {
                        *d += 1;
                        carry = false;
                        break;
                    }
                }
                if carry {
                    whole.insert(0, 1);
                }
            }
        } else {
            fraction.resize(p, 0);
        }
    }
    let first = whole.iter().position(|d| *d != 0).unwrap_or(whole.len());
    let mut out = String::new();
    if negative && whole.iter().chain(&fraction).any(|d| *d != 0) {
        out.push('-');
    }
    if first == whole.len() {
        out.push('0');
    }
    out.extend(whole[first..].iter().map(|d| char::from(b'0' + d)));
    if !fraction.is_empty() {
        out.push('.');
        out.extend(fraction.iter().map(|d| char::from(b'0' + d)));
    }
    Some(out)
}

/// A whole number that fits `i64`: `1540`, `"1540"`, or a JSON number such as `1540.0` or `1.54e3`.
fn integer(raw: &str) -> Option<String> {
    if let Ok(n) = raw.parse::<i64>() {
        return Some(n.to_string());
    }
    let plain = decimal(raw, None)?;
    let (whole, fraction) = plain.split_once('.').unwrap_or((&plain, ""));
    if fraction.bytes().all(|b| b == b'0') {
        whole.parse::<i64>().ok().map(|n| n.to_string())
    } else {
        None
    }
}

struct Builder {
    now: u64,
    elements: usize,
    errors: Vec<FieldError>,
}

impl Builder {
    /// The element at `path` under `parent`, re-using the last of each name, creating what is missing;
    /// with `fresh`, the last segment is always a new element. `None` past [`MAX_ELEMENTS`].
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

    fn too_many(&mut self, path: &str) {
        self.errors.push(FieldError::new(
            path,
            "MAP-LIMIT",
            format!("the record makes more than {MAX_ELEMENTS} elements"),
        ));
    }

    /// Applies `fields` to `item` (the record, or one array item at pointer `base`), under `parent`
    /// (the element at IVI path `at`). `false` when the element limit stopped the work.
    fn apply(
        &mut self,
        parent: &mut Element,
        fields: &[Field],
        item: &Value,
        at: &str,
        base: &str,
    ) -> bool {
        for f in fields {
            let path = if at.is_empty() {
                f.path.clone()
            } else {
                format!("{at}/{}", f.path)
            };
            if let Some(each) = &f.each {
                let sub = f.fields.as_deref().unwrap_or_default();
                let pointer = format!("{base}{each}");
                match lookup(item, each) {
                    None if f.required => self.errors.push(FieldError::new(
                        &path,
                        "MAP-REQUIRED",
                        format!("{path} is required: {} has no array", shown(&pointer)),
                    )),
                    None => {}
                    Some(Value::Array(items)) => {
                        if f.required && items.iter().all(Value::is_null) {
                            self.errors.push(FieldError::new(
                                &path,
                                "MAP-REQUIRED",
                                format!(
                                    "{path} is required: the array {} is empty",
                                    shown(&pointer)
                                ),
                            ));
                        }
                        // A null item is a hole (a CSV row may fill axle 2 and not axle 1).
                        for (n, element) in items.iter().enumerate().filter(|(_, e)| !e.is_null()) {
                            let Some(group) = self.walk(parent, &f.path, true) else {
                                self.too_many(&path);
                                return false;
                            };
                            let (at, base) = (format!("{path}[{n}]"), format!("{pointer}/{n}"));
                            if !self.apply(group, sub, element, &at, &base) {
                                return false;
                            }
                        }
                    }
                    Some(other) => self.errors.push(FieldError::new(
                        &path,
                        "MAP-ARRAY",
                        format!(
                            "{} must be an array (one {} per item), found {}",
                            shown(&pointer),
                            f.path,
                            json_kind(other)
                        ),
                    )),
                }
                continue;
            }
            match self.value(f, item, &path, base) {
                Ok(Some(text)) => match self.walk(parent, &f.path, false) {
                    Some(e) => {
                        e.children.clear();
                        e.children.push(Node::Text(text));
                    }
                    None => {
                        self.too_many(&path);
                        return false;
                    }
                },
                Ok(None) => {}
                Err(e) => self.errors.push(e),
            }
        }
        true
    }

    /// The text one field writes, `None` when it is absent and optional.
    fn value(
        &self,
        f: &Field,
        item: &Value,
        path: &str,
        base: &str,
    ) -> Result<Option<String>, FieldError> {
        let source = match (&f.from, &f.generate) {
            (Some(p), _) => shown(&format!("{base}{p}")),
            (None, Some(g)) => format!("generate `{g}`"),
            (None, None) => "the mapping's const".to_owned(),
        };
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
                Some(other) => {
                    return Err(FieldError::new(
                        path,
                        "MAP-TYPE",
                        format!(
                            "{source} holds {}; {path} needs a single value",
                            json_kind(other)
                        ),
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
            "integer" => integer(&raw).ok_or_else(|| wrong("a whole number (64-bit)"))?,
            "decimal" => decimal(&raw, f.decimals)
                .ok_or_else(|| wrong("a decimal number such as 110 or 110.5"))?,
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
            "datetime" => datetime(&raw).ok_or_else(|| {
                FieldError::new(
                    path,
                    "MAP-DATE",
                    format!(
                        "{source} value `{raw}` is not an RFC 3339 date-time such as 2026-11-21T15:43:17Z"
                    ),
                )
            })?,
            "yn" => match raw.to_ascii_lowercase().as_str() {
                "y" | "yes" | "true" => "Y".into(),
                "n" | "no" | "false" => "N".into(),
                _ => return Err(wrong("yes or no (true, false, Y, N)")),
            },
            _ => raw,
        };
        Ok(Some(text))
    }
}

impl Mapping {
    /// Reads and checks a mapping; every problem is listed, each with its place in the document
    /// (`fields[3].type`) and the code `MAPPING-INVALID`.
    pub fn from_json(bytes: &[u8]) -> Result<Self, Vec<FieldError>> {
        let doc: Value = serde_json::from_slice(bytes)
            .map_err(|e| vec![invalid("/", format!("not JSON: {e}"))])?;
        let mut errors = Vec::new();
        check_document(&doc, &mut errors);
        if !errors.is_empty() {
            return Err(errors);
        }
        serde_json::from_value(doc).map_err(|e| vec![invalid("/", format!("not a mapping: {e}"))])
    }

    /// The profile named by the mapping.
    pub fn profile(&self) -> ivi::Profile {
        if self.profile == "uk" {
            ivi::Profile::Uk
        } else {
            ivi::Profile::Eu
        }
    }

    /// Maps one ERP record; every field error is listed, each with the IVI path, and a message that
    /// names the ERP pointer and the rule.
    pub fn apply(&self, record: &Value, now: SystemTime) -> Result<Mapped, Vec<FieldError>> {
        if !record.is_object() {
            return Err(vec![FieldError::new(
                "/",
                "MAP-TYPE",
                format!(
                    "the ERP record must be a JSON object, found {}",
                    json_kind(record)
                ),
            )]);
        }
        let now = now.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
        let mut builder = Builder {
            now,
            elements: 0,
            errors: Vec::new(),
        };
        let mut root = Element::new(Some(IVI_NS), "InitialVehicleInformation");
        builder.apply(&mut root, &self.fields, record, "", "");
        if !builder.errors.is_empty() {
            return Err(builder.errors);
        }
        let reference = ids::uuid_v4().map_err(|e| {
            vec![FieldError::new(
                "Header/IviReferenceId",
                "MAP-GENERATE",
                e.to_string(),
            )]
        })?;
        // What the schema requires of every header, unless the mapping set it.
        let defaults = [
            ("IviReferenceId", reference),
            ("IviVersionNumberXsd", "2.0".to_owned()),
            ("IviVersionNumber", "1".to_owned()),
            ("IviVersionDateTime", clock::rfc3339(now)),
        ];
        let Some(header) = builder.walk(&mut root, "Header", false) else {
            return Err(vec![FieldError::new(
                "Header",
                "MAP-LIMIT",
                format!("the record makes more than {MAX_ELEMENTS} elements"),
            )]);
        };
        for (name, value) in defaults {
            if header.child(Some(IVI_NS), name).is_none() {
                header
                    .children
                    .push(Node::Element(Element::with_text(Some(IVI_NS), name, value)));
            }
        }
        // The schema requires a Signature; `sign` replaces this one (`replace_existing`).
        root.children
            .push(Node::Element(validate::placeholder_signature()));
        let ivi = Ivi::from_element(&root)
            .map_err(|e| vec![FieldError::new("/", "MAP-IVI", e.to_string())])?;
        Ok(Mapped {
            xml: ivi.to_xml(),
            ivi,
        })
    }
}

/// `POST /v1/tenant/mapping:preview`: a mapping to try on a record before storing it, or a bare
/// ERP record for the stored mapping.
#[derive(Debug, Clone, PartialEq, serde::Deserialize)]
#[serde(untagged)]
pub enum PreviewRequest {
    /// `{"mapping": {...}, "record": {...}}`.
    Try(TryMapping),
    /// Any other object: an ERP record.
    Stored(Value),
}

/// A mapping and a record to try it on.
#[derive(Debug, Clone, PartialEq, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TryMapping {
    /// The mapping, as `PUT /v1/tenant/mapping` would take it.
    pub mapping: Value,
    /// The ERP record.
    pub record: Value,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decimals_are_written_exactly() {
        let cases: [(&str, Option<usize>, Option<&str>); 14] = [
            ("110", Some(2), Some("110.00")),
            ("110.0", None, Some("110.0")),
            ("0.125", Some(2), Some("0.13")),
            ("-0.125", Some(2), Some("-0.13")),
            ("9.995", Some(2), Some("10.00")),
            ("1.5e2", None, Some("150")),
            ("1.5E-3", Some(4), Some("0.0015")),
            (".5", None, Some("0.5")),
            ("-0.001", Some(1), Some("0.0")),
            ("+7", Some(0), Some("7")),
            ("1e999", None, None),
            ("NaN", None, None),
            ("inf", None, None),
            ("1,5", None, None),
        ];
        for (raw, places, want) in cases {
            assert_eq!(decimal(raw, places).as_deref(), want, "{raw} {places:?}");
        }
    }

    #[test]
    fn integers_fit_i64() {
        assert_eq!(integer("1540").as_deref(), Some("1540"));
        assert_eq!(integer("1540.0").as_deref(), Some("1540"));
        assert_eq!(integer("1.54e3").as_deref(), Some("1540"));
        assert_eq!(integer("1.5"), None);
        assert_eq!(integer("abc"), None);
        assert_eq!(integer("9223372036854775808"), None);
        assert_eq!(integer("1e30"), None);
    }

    #[test]
    fn datetimes_follow_rfc_3339() {
        assert_eq!(
            datetime("2026-11-21t15:43:17z").as_deref(),
            Some("2026-11-21T15:43:17Z")
        );
        for ok in ["2026-11-21T15:43:17.250Z", "2026-11-21T15:43:17+01:00"] {
            assert_eq!(datetime(ok).as_deref(), Some(ok));
        }
        for bad in [
            "2026-11-21",
            "2026-11-21 15:43:17Z",
            "2026-11-21T25:00:00Z",
            "2026-02-30T10:00:00Z",
            "2026-11-21T15:43:17",
            "2026-11-21T15:43:17.Z",
            "2026-11-21T15:43:17+1:00",
            "2026-11-21T+5:43:17Z",
        ] {
            assert_eq!(datetime(bad), None, "{bad}");
        }
    }

    #[test]
    fn pointers_follow_rfc_6901() {
        for ok in ["", "/vin", "/a~1b/~0", "/axles/0"] {
            assert!(valid_pointer(ok), "{ok}");
        }
        for bad in ["vin", "/a~2", "/a~", "#/vin"] {
            assert!(!valid_pointer(bad), "{bad}");
        }
    }
}
