//! The tenant's declarative mapping: one ERP record (JSON) -> one IVI 2.0 document.
//!
//! A mapping is data (stored in the key-value store, edited with `PUT /v1/tenant/mapping`), not code.
//! Each field names a target IVI element path and one source: a JSON pointer (`from`), a jq
//! expression (`jq`), a fixed value (`const`), a generated one (`generate`), or, with `fields`, one
//! element per array item (`each`) or per value of a jq expression:
//!
//! ```json
//! {"profile": "eu",
//!  "definitions": "def ch($n): $record.characteristics[] | select(.ATNAM == $n);",
//!  "fields": [
//!   {"path": "CocDataGroup/VehicleIdentificationNumber", "from": "/vehicle/VHVIN", "required": true},
//!   {"path": "CocDataGroup/TypeApprovalIssueDate", "jq": "ch(\"ZV_TA_DATE\") | .ATWRT",
//!    "type": "date", "format": "YYYYMMDD"},
//!   {"path": "CocDataGroup/MassGroup/TechnicallyPermissibleMaximumLadenMass",
//!    "jq": "ch(\"ZV_TPMLM\") | {value: .ATFLV, unit: .ATAWE}", "type": "integer", "unit": "kg"},
//!   {"path": "CocDataGroup/AxleTable/AxleGroup", "each": "/axles", "fields": [
//!     {"path": "AxleNumber", "from": "/number", "type": "integer"}]}]}
//! ```
//!
//! A value goes through: source, `default`, `required`, `codes` (with `otherwise`), the number's
//! separators, `unit` conversion (exact, on the digits), then `type` (`string`, `integer`,
//! `decimal`, `date` and `datetime` with an optional input `format`, `yn`). `when` (jq) decides
//! whether a field or group is written at all. `docs/mapping.md` is the reference.
//!
//! Walking a path re-uses the last element of that name, so fields of one group land together. The
//! header's reference id, schema version, version number and timestamp get defaults; a placeholder
//! `Signature` is appended for the schema (the `sign` step replaces it). The tree then goes through
//! the IVI model, whose writer puts elements in schema order.

use std::collections::BTreeMap;
use std::time::{SystemTime, UNIX_EPOCH};

use ivi::xml::{Element, Node};
use ivi::{IVI_NS, Ivi};
use serde_json::Value;

use crate::{FieldError, clock, ids, validate};

pub mod check;
pub mod expr;
pub mod values;

use expr::Expr;

/// Longest value written into one element.
pub const MAX_VALUE_CHARS: usize = 4096;
/// Most elements one record may produce.
pub const MAX_ELEMENTS: usize = 10_000;
/// Deepest nesting of groups.
pub const MAX_EACH_DEPTH: usize = 8;
/// Most decimal places a `decimal` field may ask for.
pub const MAX_DECIMALS: usize = 18;

/// A tenant's mapping.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Mapping {
    /// `eu` or `uk` (informative: the tenant's profile decides validation).
    #[serde(default = "eu")]
    pub profile: String,
    /// jq `def`s that every expression of the mapping may call.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub definitions: Option<String>,
    /// Named jq expressions computed once per record (`.` and `$record` are the record), which
    /// every other expression reads as `$name`: an index built once instead of a search per field.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub variables: Option<BTreeMap<String, String>>,
    /// The fields, in any order.
    pub fields: Vec<Field>,
    /// The variables' expressions, compiled when the mapping is read.
    #[serde(skip)]
    compiled_variables: CompiledVariables,
}

/// The variables' names and compiled expressions, in name order.
#[derive(Debug, Clone, Default)]
struct CompiledVariables(Vec<(String, Expr)>);

impl PartialEq for CompiledVariables {
    /// Compiled forms follow from the text, which the mapping compares.
    fn eq(&self, _: &Self) -> bool {
        true
    }
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
    /// JSON pointer into the record (or the current item).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from: Option<String>,
    /// A jq expression on the record (or the current item); with `fields`, one element per value.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub jq: Option<String>,
    /// A fixed value.
    #[serde(default, rename = "const", skip_serializing_if = "Option::is_none")]
    pub constant: Option<String>,
    /// `uuid`, `now` or `today`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub generate: Option<String>,
    /// Pointer to an array: one element at `path` per item, filled by `fields`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub each: Option<String>,
    /// The fields of each item (with `each` or `jq`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fields: Option<Vec<Field>>,
    /// A jq condition: the field (or group) is written only when it holds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub when: Option<String>,
    /// Used when the source finds nothing (absent, null or blank).
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
    /// The ERP's date or date-time format (`DD.MM.YYYY`, `YYYYMMDD`, `DD-MM-YYYY hh:mm`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub format: Option<String>,
    /// The UTC offset of a formatted date-time (`Z` unless given).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub zone: Option<String>,
    /// The ERP's decimal mark (`,` in `1,5`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub decimal_separator: Option<String>,
    /// The ERP's thousands separator (`.` in `4.780`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub thousands_separator: Option<String>,
    /// The unit the IVI element is in (`kg`, `mm`, `kW`); the value is converted exactly.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unit: Option<String>,
    /// The unit the ERP value is in, unless the value says (`{"value": 11.99, "unit": "TO"}`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_unit: Option<String>,
    /// ERP value -> IVI code.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub codes: Option<BTreeMap<String, String>>,
    /// The code written for a value the table does not list (otherwise such a value is an error).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub otherwise: Option<String>,
    /// The field's expressions, compiled when the mapping is read.
    #[serde(skip)]
    compiled: Compiled,
}

/// A field's compiled `jq` and `when`.
#[derive(Debug, Clone, Default)]
struct Compiled {
    jq: Option<Expr>,
    when: Option<Expr>,
}

impl PartialEq for Compiled {
    /// Compiled forms follow from the text, which the field compares.
    fn eq(&self, _: &Self) -> bool {
        true
    }
}

/// A mapped record: the XML and its model.
#[derive(Debug, Clone)]
pub struct Mapped {
    /// Deterministic IVI XML with a placeholder signature.
    pub xml: String,
    /// The same document as the model.
    pub ivi: Ivi,
}

/// Every expression of `fields` in walk order (each field's `jq`, then its `when`, then its
/// group's fields), with the JSON pointer of its place (`at` is the fields' pointer).
fn collect<'f>(fields: &'f [Field], at: &str, out: &mut Vec<(String, &'f str)>) {
    for (i, f) in fields.iter().enumerate() {
        let here = format!("{at}/{i}");
        for (key, code) in [("jq", &f.jq), ("when", &f.when)] {
            if let Some(code) = code {
                out.push((format!("{here}/{key}"), code));
            }
        }
        if let Some(sub) = &f.fields {
            collect(sub, &format!("{here}/fields"), out);
        }
    }
}

/// Gives each field its compiled expressions, in [`collect`]'s order.
fn assign(fields: &mut [Field], exprs: &mut impl Iterator<Item = Expr>) {
    for f in fields {
        f.compiled = Compiled {
            jq: f.jq.as_ref().and_then(|_| exprs.next()),
            when: f.when.as_ref().and_then(|_| exprs.next()),
        };
        if let Some(sub) = &mut f.fields {
            assign(sub, exprs);
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

/// Where a value came from, for messages: `` `/vin` `` or `` jq `.a | .b` at the whole record ``.
fn source_of<'a>(f: &'a Field, base: &'a str) -> SourceName<'a> {
    SourceName { field: f, base }
}

/// Where a field's value comes from, as messages name it. Written out only when a message is:
/// most fields map without one.
struct SourceName<'a> {
    field: &'a Field,
    base: &'a str,
}

impl std::fmt::Display for SourceName<'_> {
    fn fmt(&self, out: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let base = self.base;
        match (&self.field.from, &self.field.jq, &self.field.generate) {
            (Some(p), _, _) => out.write_str(&shown(&format!("{base}{p}"))),
            (None, Some(code), _) => write!(out, "jq `{code}` at {}", shown(base)),
            (None, None, Some(g)) => write!(out, "generate `{g}`"),
            _ => out.write_str("the mapping's const"),
        }
    }
}

/// One ERP value before it is written: its text, and the unit it says it is in.
struct Raw {
    text: String,
    unit: Option<String>,
}

/// A single JSON value as text; `None` for null, blank and absent; arrays and objects are refused
/// except a quantity `{"value": 11.99, "unit": "TO"}`.
fn raw_text(
    value: Option<&Value>,
    source: &SourceName<'_>,
    path: &str,
) -> Result<Option<Raw>, FieldError> {
    let plain = |text: String| Raw { text, unit: None };
    Ok(match value {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) if s.trim().is_empty() => None,
        Some(Value::String(s)) => Some(plain(s.trim().to_owned())),
        Some(Value::Number(n)) => Some(plain(n.to_string())),
        Some(Value::Bool(b)) => Some(plain(b.to_string())),
        Some(Value::Object(q)) if q.contains_key("value") => {
            let unit = match q.get("unit") {
                None | Some(Value::Null) => None,
                Some(Value::String(u)) => Some(u.clone()),
                Some(other) => {
                    return Err(FieldError::new(
                        path,
                        "MAP-TYPE",
                        format!(
                            "{source} gives a unit that is {}, not a name",
                            json_kind(other)
                        ),
                    ));
                }
            };
            raw_text(q.get("value"), source, path)?.map(|r| Raw { text: r.text, unit })
        }
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
    })
}

/// A record's values as the expressions see them: the record once, each item once.
struct Scope<'a> {
    item: &'a Value,
    /// The item as jq sees it, converted on first use.
    converted: std::cell::OnceCell<expr::Input>,
    /// The pointer of the item in the record (`""` for the record).
    base: String,
}

impl<'a> Scope<'a> {
    fn new(item: &'a Value, base: String) -> Self {
        Self {
            item,
            converted: std::cell::OnceCell::new(),
            base,
        }
    }

    fn input(&self) -> &expr::Input {
        self.converted.get_or_init(|| expr::Input::new(self.item))
    }
}

struct Builder {
    now: u64,
    elements: usize,
    errors: Vec<FieldError>,
    /// `$record` and the variables.
    globals: expr::Globals,
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

    /// An expression's failure, naming the rule (IVI path and expression), the item and the error.
    fn expr_error(path: &str, key: &str, e: &Expr, scope: &Scope, message: &str) -> FieldError {
        FieldError::new(
            path,
            "MAP-EXPR",
            format!(
                "{path}: {key} `{}` at {} (value {}) failed: {message}",
                e.code(),
                shown(&scope.base),
                short(scope.item)
            ),
        )
    }

    /// The items of a group: the array at `each`, or the values of its `jq`.
    fn items<'v>(
        &mut self,
        f: &Field,
        scope: &Scope<'v>,
        path: &str,
    ) -> Option<Vec<(String, Value)>> {
        if let Some(expr) = &f.compiled.jq {
            return match expr.run(scope.input(), &self.globals) {
                Ok(values) => Some(
                    values
                        .into_iter()
                        .enumerate()
                        .filter(|(_, v)| !v.is_null())
                        .map(|(n, v)| (format!("{}[jq #{n}]", scope.base), v))
                        .collect(),
                ),
                Err(e) => {
                    self.errors
                        .push(Self::expr_error(path, "jq", expr, scope, &e));
                    None
                }
            };
        }
        let each = f.each.as_deref().unwrap_or("");
        let pointer = format!("{}{each}", scope.base);
        match lookup(scope.item, each) {
            None => Some(Vec::new()),
            // A null item is a hole (a CSV row may fill axle 2 and not axle 1).
            Some(Value::Array(items)) => Some(
                items
                    .iter()
                    .enumerate()
                    .filter(|(_, e)| !e.is_null())
                    .map(|(n, e)| (format!("{pointer}/{n}"), e.clone()))
                    .collect(),
            ),
            Some(other) => {
                self.errors.push(FieldError::new(
                    path,
                    "MAP-ARRAY",
                    format!(
                        "{} must be an array (one {} per item), found {}",
                        shown(&pointer),
                        f.path,
                        json_kind(other)
                    ),
                ));
                None
            }
        }
    }

    /// Applies `fields` to the item in `scope` under `parent` (the element at IVI path `at`).
    /// `false` when the element limit stopped the work.
    fn apply(&mut self, parent: &mut Element, fields: &[Field], scope: &Scope, at: &str) -> bool {
        for f in fields {
            let path = if at.is_empty() {
                f.path.clone()
            } else {
                format!("{at}/{}", f.path)
            };
            if let Some(when) = &f.compiled.when {
                match when.holds(scope.input(), &self.globals) {
                    Ok(true) => {}
                    Ok(false) => continue,
                    Err(e) => {
                        self.errors
                            .push(Self::expr_error(&path, "when", when, scope, &e));
                        continue;
                    }
                }
            }
            if let Some(sub) = &f.fields {
                let Some(items) = self.items(f, scope, &path) else {
                    continue;
                };
                if f.required && items.is_empty() {
                    self.errors.push(FieldError::new(
                        &path,
                        "MAP-REQUIRED",
                        format!(
                            "{path} is required: {} gives no item",
                            source_of(f, &scope.base)
                        ),
                    ));
                }
                for (n, (base, item)) in items.iter().enumerate() {
                    let Some(group) = self.walk(parent, &f.path, true) else {
                        self.too_many(&path);
                        return false;
                    };
                    let inner = Scope::new(item, base.clone());
                    if !self.apply(group, sub, &inner, &format!("{path}[{n}]")) {
                        return false;
                    }
                }
                continue;
            }
            match self.value(f, scope, &path) {
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

    /// The value the field's source gives, before defaults.
    fn source(&self, f: &Field, scope: &Scope, path: &str) -> Result<Option<Raw>, FieldError> {
        let source = source_of(f, &scope.base);
        let plain = |text: String| Ok(Some(Raw { text, unit: None }));
        if let Some(c) = &f.constant {
            return plain(c.clone());
        }
        if let Some(g) = &f.generate {
            return plain(match g.as_str() {
                "uuid" => ids::uuid_v4()
                    .map_err(|e| FieldError::new(path, "MAP-GENERATE", e.to_string()))?,
                "now" => clock::rfc3339(self.now),
                _ => clock::date(self.now),
            });
        }
        if let Some(expr) = &f.compiled.jq {
            let values = expr
                .run(scope.input(), &self.globals)
                .map_err(|e| Self::expr_error(path, "jq", expr, scope, &e))?;
            let mut given = values.iter().filter(|v| !v.is_null());
            let first = given.next();
            if given.next().is_some() {
                return Err(Self::expr_error(
                    path,
                    "jq",
                    expr,
                    scope,
                    &format!(
                        "it yields {} values and {path} takes one (pick with first(...) or join them)",
                        values.iter().filter(|v| !v.is_null()).count()
                    ),
                ));
            }
            return raw_text(first, &source, path);
        }
        let pointer = f.from.as_deref().unwrap_or("");
        raw_text(lookup(scope.item, pointer), &source, path)
    }

    /// The text one field writes, `None` when it is absent and optional.
    fn value(&self, f: &Field, scope: &Scope, path: &str) -> Result<Option<String>, FieldError> {
        let source = source_of(f, &scope.base);
        let raw = match self.source(f, scope, path)? {
            Some(raw) => Some(raw),
            None => f.default.clone().map(|text| Raw { text, unit: None }),
        };
        let Some(Raw { text: raw, unit }) = raw else {
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
            Some(codes) => match (codes.get(&raw), &f.otherwise) {
                (Some(code), _) => code.clone(),
                (None, Some(otherwise)) => otherwise.clone(),
                (None, None) => {
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
        let fail = |code: &str, what: String| {
            FieldError::new(path, code, format!("{source} value `{raw}` {what}"))
        };
        let wrong = |what: &str| fail("MAP-TYPE", format!("is not {what}"));
        let kind = f.kind.as_deref().unwrap_or("string");
        let number = if matches!(kind, "integer" | "decimal") {
            let mark = |s: &Option<String>| s.as_deref().and_then(|s| s.chars().next());
            let plain = values::plain_number(
                &raw,
                mark(&f.decimal_separator),
                mark(&f.thousands_separator),
            )
            .ok_or_else(|| {
                wrong(&format!(
                    "a number written with decimal mark `{}` and thousands separator `{}`",
                    f.decimal_separator.as_deref().unwrap_or("."),
                    f.thousands_separator.as_deref().unwrap_or("none")
                ))
            })?;
            Some(self.converted(f, plain, unit.as_deref(), &fail)?)
        } else {
            None
        };
        let text = match kind {
            "integer" => values::integer(number.as_deref().unwrap_or(&raw))
                .ok_or_else(|| wrong("a whole number (64-bit)"))?,
            "decimal" => values::decimal(number.as_deref().unwrap_or(&raw), f.decimals)
                .ok_or_else(|| wrong("a decimal number such as 110 or 110.5"))?,
            "date" => match &f.format {
                Some(format) => values::reformat(&raw, format, "", true)
                    .ok_or_else(|| fail("MAP-DATE", format!("is not a date {format}")))?,
                None => {
                    clock::parse_date(&raw)
                        .ok_or_else(|| fail("MAP-DATE", "is not a date YYYY-MM-DD".into()))?;
                    raw
                }
            },
            "datetime" => match &f.format {
                Some(format) => {
                    values::reformat(&raw, format, f.zone.as_deref().unwrap_or("Z"), false)
                        .ok_or_else(|| fail("MAP-DATE", format!("is not a date-time {format}")))?
                }
                None => values::datetime(&raw).ok_or_else(|| {
                    fail(
                        "MAP-DATE",
                        "is not an RFC 3339 date-time such as 2026-11-21T15:43:17Z".into(),
                    )
                })?,
            },
            "yn" => match raw.to_ascii_lowercase().as_str() {
                "y" | "yes" | "true" | "1" | "x" | "j" | "ja" => "Y".into(),
                "n" | "no" | "false" | "0" | "nee" | "nein" => "N".into(),
                _ => {
                    return Err(wrong(
                        "yes or no (true/false, Y/N, yes/no, 1/0, X for SAP's flag, ja/nee)",
                    ));
                }
            },
            _ => raw,
        };
        Ok(Some(text))
    }

    /// A number in the field's `unit`, from the unit the value gives or the field's `source_unit`.
    fn converted(
        &self,
        f: &Field,
        plain: String,
        given: Option<&str>,
        fail: &dyn Fn(&str, String) -> FieldError,
    ) -> Result<String, FieldError> {
        let Some(target) = f.unit.as_deref() else {
            return Ok(plain);
        };
        let Some(from_name) = given.or(f.source_unit.as_deref()) else {
            return Err(fail(
                "MAP-UNIT",
                format!(
                    "has no unit to convert to {target} from (give `source_unit`, or a value {{\"value\": ..., \"unit\": ...}})"
                ),
            ));
        };
        let from = values::unit(from_name).ok_or_else(|| {
            fail(
                "MAP-UNIT",
                format!(
                    "is in `{from_name}`, not a unit ecoc converts (known: {})",
                    values::unit_names()
                ),
            )
        })?;
        let to = values::unit(target)
            .ok_or_else(|| fail("MAP-UNIT", format!("cannot be written in `{target}`")))?;
        values::convert(&plain, from, to).ok_or_else(|| {
            fail(
                "MAP-UNIT",
                format!(
                    "in {from_name} ({}) cannot be written in {target} ({})",
                    from.dimension, to.dimension
                ),
            )
        })
    }
}

/// A value for a message, cut to 80 characters.
fn short(v: &Value) -> String {
    let text = v.to_string();
    if text.chars().count() > 80 {
        format!("{}...", text.chars().take(80).collect::<String>())
    } else {
        text
    }
}

impl Mapping {
    /// Reads and checks a mapping and compiles its expressions; every problem is listed, each
    /// with its JSON pointer in the document (`/fields/3/type`) and the code `MAPPING-INVALID`.
    pub fn from_json(bytes: &[u8]) -> Result<Self, Vec<FieldError>> {
        // Strict JSON: a key given twice (two `jq` for one field) is refused, not silently the last.
        let doc: Value = crate::json::parse(bytes)
            .map_err(|e| vec![check::invalid("", format!("not JSON: {e}"))])?;
        let errors = check::document(&doc);
        if !errors.is_empty() {
            return Err(errors);
        }
        let mut mapping: Self = serde_json::from_value(doc)
            .map_err(|e| vec![check::invalid("", format!("not a mapping: {e}"))])?;
        let errors = mapping.compile();
        if errors.is_empty() {
            Ok(mapping)
        } else {
            Err(errors)
        }
    }

    /// Compiles every expression (variables, `jq`, `when`) as one program.
    fn compile(&mut self) -> Vec<FieldError> {
        let definitions = self.definitions.clone().unwrap_or_default();
        let variables: Vec<(String, String)> = self
            .variables
            .clone()
            .unwrap_or_default()
            .into_iter()
            .collect();
        let names: Vec<&str> = variables.iter().map(|(n, _)| n.as_str()).collect();
        let mut codes: Vec<(String, &str)> = variables
            .iter()
            .map(|(n, c)| {
                (
                    format!("/variables/{}", crate::document::token(n)),
                    c.as_str(),
                )
            })
            .collect();
        collect(&self.fields, "/fields", &mut codes);
        let texts: Vec<&str> = codes.iter().map(|(_, c)| *c).collect();
        let program = match expr::Program::compile(&definitions, &names, &texts) {
            Ok(p) => p,
            Err(together) => {
                // Name each expression that fails on its own (the variables may be used by all).
                let mut errors: Vec<FieldError> = codes
                    .iter()
                    .filter_map(|(at, code)| {
                        Expr::compile(&definitions, &names, code)
                            .err()
                            .map(|e| check::invalid(at, e))
                    })
                    .collect();
                if errors.is_empty() {
                    errors.push(check::invalid("", format!("the mapping's jq: {together}")));
                }
                return errors;
            }
        };
        let mut exprs = program.exprs().into_iter();
        let compiled: Vec<(String, Expr)> = variables
            .iter()
            .filter_map(|(n, _)| exprs.next().map(|e| (n.clone(), e)))
            .collect();
        self.compiled_variables = CompiledVariables(compiled);
        assign(&mut self.fields, &mut exprs);
        Vec::new()
    }

    /// Reads a mapping stored after [`Self::from_json`] checked it: the expressions compiled, the
    /// document not checked again (each upload reads the stored mapping).
    pub fn from_stored(bytes: &[u8]) -> Result<Self, Vec<FieldError>> {
        let mut mapping: Self = serde_json::from_slice(bytes)
            .map_err(|e| vec![check::invalid("", format!("not a mapping: {e}"))])?;
        let errors = mapping.compile();
        if errors.is_empty() {
            Ok(mapping)
        } else {
            Err(errors)
        }
    }

    /// `$record` and every variable's value for `record`.
    fn globals(&self, record: &expr::Input) -> Result<expr::Globals, Vec<FieldError>> {
        let mut globals = expr::Globals::record(record);
        // What the variables' own expressions see: the record, every variable still null.
        let mut own = expr::Globals::record(record);
        for _ in &self.compiled_variables.0 {
            own.push(None);
        }
        let mut errors = Vec::new();
        for (name, e) in &self.compiled_variables.0 {
            match e.run(record, &own) {
                Ok(values) => globals.push(values.into_iter().find(|v| !v.is_null())),
                Err(message) => {
                    globals.push(None);
                    errors.push(FieldError::new(
                        format!("/variables/{name}"),
                        "MAP-EXPR",
                        format!("variable `{name}`: jq `{}` failed: {message}", e.code()),
                    ));
                }
            }
        }
        if errors.is_empty() {
            Ok(globals)
        } else {
            Err(errors)
        }
    }

    /// Whether the mapping uses jq anywhere (`definitions`, `jq`, `when`).
    pub fn has_expressions(&self) -> bool {
        fn any(fields: &[Field]) -> bool {
            fields
                .iter()
                .any(|f| f.jq.is_some() || f.when.is_some() || f.fields.as_deref().is_some_and(any))
        }
        self.definitions.is_some() || self.variables.is_some() || any(&self.fields)
    }

    /// True when some expression has not been compiled (a mapping built without [`Self::from_json`]).
    fn uncompiled_fields(fields: &[Field]) -> bool {
        fields.iter().any(|f| {
            (f.jq.is_some() && f.compiled.jq.is_none())
                || (f.when.is_some() && f.compiled.when.is_none())
                || f.fields.as_deref().is_some_and(Self::uncompiled_fields)
        })
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
        let variables = self.variables.as_ref().map_or(0, BTreeMap::len);
        if Self::uncompiled_fields(&self.fields) || self.compiled_variables.0.len() != variables {
            let mut compiled = self.clone();
            let errors = compiled.compile();
            if !errors.is_empty() {
                return Err(errors);
            }
            return compiled.apply(record, now);
        }
        let now = now.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
        let mut builder = Builder {
            now,
            elements: 0,
            errors: Vec::new(),
            globals: self.globals(&expr::Input::new(record))?,
        };
        let mut root = Element::new(Some(IVI_NS), "InitialVehicleInformation");
        builder.apply(
            &mut root,
            &self.fields,
            &Scope::new(record, String::new()),
            "",
        );
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
