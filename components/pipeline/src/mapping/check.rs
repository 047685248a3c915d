//! Checks a mapping document as JSON before it is read, so that every mistake gets its own answer
//! with the JSON pointer (RFC 6901) of the place: `/fields/3/type`, `/fields/12/fields/0/jq`.
//! `schemas/mapping.schema.json` describes the same document for editors and other tools; what a
//! schema cannot say (a jq expression that does not compile, a unit of another dimension, a value
//! path that would also hold elements) is checked here only.

use serde_json::{Map, Value};

use super::expr::{Expr, Program};
use super::values;
use super::{MAX_DECIMALS, MAX_EACH_DEPTH};
use crate::FieldError;

/// The value types a field may name.
pub const TYPES: [&str; 6] = ["string", "integer", "decimal", "date", "datetime", "yn"];
/// The keys a field may have.
pub const FIELD_KEYS: [&str; 20] = [
    "path",
    "from",
    "jq",
    "const",
    "generate",
    "each",
    "fields",
    "when",
    "default",
    "required",
    "type",
    "decimals",
    "format",
    "zone",
    "decimal_separator",
    "thousands_separator",
    "unit",
    "source_unit",
    "codes",
    "otherwise",
];
/// The keys a mapping may have.
const MAPPING_KEYS: [&str; 4] = ["profile", "definitions", "variables", "fields"];
/// The keys that only make sense for a field that writes one value.
const VALUE_ONLY: [&str; 12] = [
    "default",
    "type",
    "decimals",
    "format",
    "zone",
    "decimal_separator",
    "thousands_separator",
    "unit",
    "source_unit",
    "codes",
    "otherwise",
    "generate",
];

pub(super) fn invalid(at: &str, message: String) -> FieldError {
    FieldError::new(at, "MAPPING-INVALID", message)
}

/// RFC 6901: empty (the whole value) or `/`-led, with `~` only in the escapes `~0` and `~1`.
pub fn valid_pointer(p: &str) -> bool {
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

/// One pointer token, escaped as RFC 6901 wants.
fn token(key: &str) -> String {
    key.replace('~', "~0").replace('/', "~1")
}

struct Checker<'a> {
    definitions: &'a str,
    variables: Vec<&'a str>,
    errors: Vec<FieldError>,
    /// Every expression met, with its place, compiled together at the end.
    pending: Vec<(String, String)>,
}

impl Checker<'_> {
    fn push(&mut self, at: &str, message: String) {
        self.errors.push(invalid(at, message));
    }

    /// The string under `key`, if present; a present non-string is reported.
    fn text<'f>(&mut self, f: &'f Map<String, Value>, key: &str, here: &str) -> Option<&'f str> {
        match f.get(key)? {
            Value::String(s) => Some(s),
            _ => {
                self.push(
                    &format!("{here}/{key}"),
                    format!("`{key}` must be a string"),
                );
                None
            }
        }
    }

    /// A jq expression under `key`, compiled with the others at the end ([`Checker::compile_all`]).
    fn expression(&mut self, f: &Map<String, Value>, key: &str, here: &str) {
        if let Some(code) = self.text(f, key, here) {
            self.pending
                .push((format!("{here}/{key}"), code.to_owned()));
        }
    }

    /// Compiles every expression met as one program (a mapping's hundred expressions cost one
    /// compile of jaq's standard library, not a hundred); only when that fails, each on its own, to
    /// name every one that does not compile.
    fn compile_all(&mut self) {
        let pending = std::mem::take(&mut self.pending);
        let codes: Vec<&str> = pending.iter().map(|(_, c)| c.as_str()).collect();
        let Err(together) = Program::compile(self.definitions, &self.variables, &codes) else {
            return;
        };
        let before = self.errors.len();
        for (at, code) in &pending {
            if let Err(e) = Expr::compile(self.definitions, &self.variables, code) {
                self.push(at, format!("`{code}`: {e}"));
            }
        }
        if self.errors.len() == before {
            self.push("", format!("the mapping's jq does not compile: {together}"));
        }
    }

    /// A separator: one character that is no digit.
    fn separator(&mut self, f: &Map<String, Value>, key: &str, here: &str) -> Option<char> {
        let s = self.text(f, key, here)?;
        let mut chars = s.chars();
        match (chars.next(), chars.next()) {
            (Some(c), None) if !c.is_ascii_digit() && c != '-' && c != '+' => Some(c),
            _ => {
                self.push(
                    &format!("{here}/{key}"),
                    format!("`{s}` is not one character such as `,` `.` or a space"),
                );
                None
            }
        }
    }

    fn document(&mut self, doc: &Value) {
        let Some(obj) = doc.as_object() else {
            self.push(
                "",
                "a mapping is a JSON object with `profile` and `fields`".into(),
            );
            return;
        };
        for key in obj.keys().filter(|k| !MAPPING_KEYS.contains(&k.as_str())) {
            self.push(
                &format!("/{}", token(key)),
                format!(
                    "unknown key `{key}`: a mapping has {}",
                    MAPPING_KEYS.join(", ")
                ),
            );
        }
        match obj.get("profile") {
            None => {}
            Some(Value::String(p)) if p == "eu" || p == "uk" => {}
            Some(other) => self.push("/profile", format!("{other} is not \"eu\" or \"uk\"")),
        }
        match obj.get("fields") {
            Some(Value::Array(fields)) => self.fields(fields, "/fields", 0),
            Some(_) => self.push("/fields", "`fields` must be an array".into()),
            None => self.push("/fields", "`fields` is missing".into()),
        }
    }

    /// One list of fields; `depth` is the number of enclosing groups.
    fn fields(&mut self, fields: &[Value], at: &str, depth: usize) {
        // (index, path) of the fields that write a value, to find a value that would also be a group.
        let mut value_paths: Vec<(usize, &str)> = Vec::new();
        let mut all_paths: Vec<&str> = Vec::new();
        for (i, v) in fields.iter().enumerate() {
            let here = format!("{at}/{i}");
            let Some(f) = v.as_object() else {
                self.push(&here, "a field is a JSON object".into());
                continue;
            };
            for key in f.keys().filter(|k| !FIELD_KEYS.contains(&k.as_str())) {
                self.push(
                    &format!("{here}/{}", token(key)),
                    format!("unknown key `{key}` (known: {})", FIELD_KEYS.join(", ")),
                );
            }
            match self.text(f, "path", &here) {
                Some(p) if valid_path(p) => all_paths.push(p),
                Some(p) => self.push(
                    &format!("{here}/path"),
                    format!(
                        "`{p}` is not a path of element names such as MassGroup/MassInRunningOrder"
                    ),
                ),
                None if !f.contains_key("path") => {
                    self.push(&format!("{here}/path"), "`path` is missing".into());
                }
                None => {}
            }
            self.sources(f, &here);
            let group = f.contains_key("fields");
            if group {
                self.group(f, &here, depth);
            } else {
                self.value(f, &here);
                if let Some(Value::String(p)) = f.get("path") {
                    value_paths.push((i, p));
                }
            }
            if f.get("required").is_some_and(|r| !r.is_boolean()) {
                self.push(
                    &format!("{here}/required"),
                    "`required` must be true or false".into(),
                );
            }
            self.expression(f, "when", &here);
        }
        // A value written at `A/B` would wipe a group at `A/B/C` (or the other way round).
        for (i, value) in value_paths {
            if let Some(inner) = all_paths.iter().find(|p| {
                p.len() > value.len() && p.starts_with(value) && p.as_bytes()[value.len()] == b'/'
            }) {
                self.push(
                    &format!("{at}/{i}/path"),
                    format!("`{value}` holds a value, but `{inner}` puts elements inside it"),
                );
            }
        }
    }

    /// Exactly one source, each well formed.
    fn sources(&mut self, f: &Map<String, Value>, here: &str) {
        let sources: Vec<&str> = ["from", "jq", "const", "generate", "each"]
            .into_iter()
            .filter(|k| f.contains_key(*k))
            .collect();
        if sources.len() != 1 {
            self.push(
                here,
                format!(
                    "needs exactly one of from, jq, const, generate, each; found {}",
                    if sources.is_empty() {
                        "none".to_owned()
                    } else {
                        sources.join(", ")
                    }
                ),
            );
        }
        for key in ["from", "each"] {
            if let Some(p) = self.text(f, key, here)
                && !valid_pointer(p)
            {
                self.push(
                    &format!("{here}/{key}"),
                    format!(
                        "`{p}` is not a JSON pointer (RFC 6901: `/a/b`, `~0` and `~1` escapes)"
                    ),
                );
            }
        }
        self.expression(f, "jq", here);
        self.text(f, "const", here);
        if let Some(g) = self.text(f, "generate", here)
            && !matches!(g, "uuid" | "now" | "today")
        {
            self.push(
                &format!("{here}/generate"),
                format!("`{g}` is not uuid, now or today"),
            );
        }
    }

    /// A group: `fields` with `each` or `jq`, and none of the value options.
    fn group(&mut self, f: &Map<String, Value>, here: &str, depth: usize) {
        if !f.contains_key("each") && !f.contains_key("jq") {
            self.push(
                &format!("{here}/fields"),
                "`fields` needs `each` (a pointer to an array) or `jq` (one element per value)"
                    .into(),
            );
        }
        for key in VALUE_ONLY.iter().filter(|k| f.contains_key(**k)) {
            self.push(
                &format!("{here}/{key}"),
                format!("`{key}` does not apply to a group (a field with `fields`)"),
            );
        }
        match f.get("fields") {
            Some(Value::Array(sub)) if depth < MAX_EACH_DEPTH => {
                self.fields(sub, &format!("{here}/fields"), depth + 1);
            }
            Some(Value::Array(_)) => self.push(
                &format!("{here}/fields"),
                format!("groups nest deeper than {MAX_EACH_DEPTH}"),
            ),
            _ => self.push(
                &format!("{here}/fields"),
                "`fields` must be an array".into(),
            ),
        }
    }

    /// The options of a field that writes one value.
    fn value(&mut self, f: &Map<String, Value>, here: &str) {
        if f.contains_key("each") {
            self.push(here, "`each` needs `fields`".into());
        }
        let at = |key: &str| format!("{here}/{key}");
        if self.text(f, "default", here).is_some()
            && !f.contains_key("from")
            && !f.contains_key("jq")
        {
            self.push(
                &at("default"),
                "`default` applies to `from` and `jq` only".into(),
            );
        }
        let kind = self.text(f, "type", here);
        if let Some(k) = kind
            && !TYPES.contains(&k)
        {
            self.push(
                &at("type"),
                format!("`{k}` is not one of {}", TYPES.join(", ")),
            );
        }
        let numeric = matches!(kind, Some("integer" | "decimal"));
        if let Some(d) = f.get("decimals") {
            if d.as_u64().is_none_or(|n| n > MAX_DECIMALS as u64) {
                self.push(
                    &at("decimals"),
                    format!("`decimals` must be a whole number from 0 to {MAX_DECIMALS}"),
                );
            }
            if kind != Some("decimal") {
                self.push(
                    &at("decimals"),
                    "`decimals` needs \"type\": \"decimal\"".into(),
                );
            }
        }
        if let Some(format) = self.text(f, "format", here) {
            match kind {
                Some(k @ ("date" | "datetime")) => {
                    if let Err(e) = values::check_format(format, k == "datetime") {
                        self.push(&at("format"), format!("`{format}` is no {k} format: {e}"));
                    }
                }
                _ => self.push(
                    &at("format"),
                    "`format` needs \"type\": \"date\" or \"datetime\"".into(),
                ),
            }
        }
        if let Some(zone) = self.text(f, "zone", here) {
            if !values::zone(zone) {
                self.push(&at("zone"), format!("`{zone}` is not Z or +hh:mm / -hh:mm"));
            }
            if kind != Some("datetime") || !f.contains_key("format") {
                self.push(
                    &at("zone"),
                    "`zone` needs \"type\": \"datetime\" and a `format`".into(),
                );
            }
        }
        let decimal_mark = self.separator(f, "decimal_separator", here);
        let thousands = self.separator(f, "thousands_separator", here);
        if decimal_mark.is_some() && decimal_mark == thousands {
            self.push(
                &at("thousands_separator"),
                "the two separators must differ".into(),
            );
        }
        for key in ["decimal_separator", "thousands_separator", "unit"] {
            if f.contains_key(key) && !numeric {
                self.push(
                    &at(key),
                    format!("`{key}` needs \"type\": \"integer\" or \"decimal\""),
                );
            }
        }
        let unit = self.unit(f, "unit", here);
        let source = self.unit(f, "source_unit", here);
        match (unit, source) {
            (Some(to), Some(from)) if to.dimension != from.dimension => self.push(
                &at("source_unit"),
                format!(
                    "a {} cannot be written as a {}",
                    from.dimension, to.dimension
                ),
            ),
            (None, Some(_)) if !f.contains_key("unit") => {
                self.push(&at("source_unit"), "`source_unit` needs `unit`".into());
            }
            _ => {}
        }
        match f.get("codes") {
            None => {
                if f.contains_key("otherwise") {
                    self.push(&at("otherwise"), "`otherwise` needs `codes`".into());
                }
            }
            Some(Value::Object(codes)) if codes.values().all(Value::is_string) => {}
            Some(_) => self.push(
                &at("codes"),
                "`codes` must be an object of strings (ERP value -> IVI code)".into(),
            ),
        }
        self.text(f, "otherwise", here);
    }

    fn unit(&mut self, f: &Map<String, Value>, key: &str, here: &str) -> Option<values::Unit> {
        let name = self.text(f, key, here)?;
        let unit = values::unit(name);
        if unit.is_none() {
            self.push(
                &format!("{here}/{key}"),
                format!(
                    "`{name}` is not a unit ecoc converts (known: {})",
                    values::unit_names()
                ),
            );
        }
        unit
    }
}

/// Every problem of the mapping document `doc`, each with its JSON pointer.
pub fn document(doc: &Value) -> Vec<FieldError> {
    let mut errors = Vec::new();
    // The variables' names first: the definitions and every expression may read them.
    let mut names: Vec<&str> = Vec::new();
    let mut codes: Vec<(String, &str)> = Vec::new();
    match doc.get("variables") {
        None => {}
        Some(Value::Object(vars)) => {
            for (name, code) in vars {
                let at = format!("/variables/{}", crate::document::token(name));
                let identifier = name.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_')
                    && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
                if !identifier || name == "record" {
                    errors.push(invalid(
                        &at,
                        format!(
                            "`{name}` is not a variable name (letters, digits, `_`; not `record`)"
                        ),
                    ));
                    continue;
                }
                names.push(name);
                match code {
                    Value::String(code) => codes.push((at, code)),
                    _ => errors.push(invalid(
                        &at,
                        "a variable is a jq expression (a string)".into(),
                    )),
                }
            }
        }
        Some(_) => errors.push(invalid(
            "/variables",
            "`variables` must be an object of name -> jq expression".into(),
        )),
    }
    let definitions = match doc.get("definitions") {
        None => Ok(""),
        Some(Value::String(d)) => match Expr::compile(d, &names, ".") {
            Ok(_) => Ok(d.as_str()),
            Err(e) => Err(invalid("/definitions", e)),
        },
        Some(_) => Err(invalid(
            "/definitions",
            "`definitions` must be a string of jq `def`s".into(),
        )),
    };
    let mut checker = Checker {
        definitions: definitions.as_ref().map_or("", |d| d),
        variables: names,
        errors,
        pending: codes
            .into_iter()
            .map(|(at, c)| (at, c.to_owned()))
            .collect(),
    };
    if let Err(e) = &definitions {
        checker.errors.push(e.clone());
    }
    checker.document(doc);
    checker.compile_all();
    checker.errors
}

#[cfg(test)]
mod tests {
    use super::*;

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
