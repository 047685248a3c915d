//! XSD validation in pure Rust (also in `wasm32-wasip2`).
//!
//! # The engine, and why
//!
//! The engine is the [`xsd_schema`] crate (0.3, XSD 1.0 mode, no default features). It was adopted, not
//! written, because it passed the agreement test (`tests/agreement.rs`: every mutant of the nine official
//! specimens gets libxml2's verdict) natively and in `wasm32-wasip2`, while `xmlschema`, `fastxml` and
//! `xmloxide` did not (they ignore child namespaces or reject the specimens). Writing our own engine for
//! the subset IVI uses would have been possible for `ivi-2.0.xsd` alone, but its `xmldsig` import brings
//! `xs:choice`, nested repeated groups, wildcards, mixed content and attributes, which is most of XSD.
//!
//! Where the spec and libxml2 disagree we are the stricter of the two, with a thin layer on top of the
//! engine (rule `ecoc-lexical`): libxml2 refuses white space around an `xs:int`, `xs:short` or `xs:date`
//! value, and before an `xs:dateTime` or after one without a time zone (the spec collapses it all away;
//! libxml2 2.9's date parser skips trailing white space only after a zone), so we refuse the same. The
//! engine's one known case of being stricter than both the spec and libxml2 (it refuses line breaks and
//! spaces inside a `base64Binary` value, which signed XML commonly has) is undone: such a value is
//! accepted when it is valid base64 once its white space is removed.
//!
//! # Cost
//!
//! [`Validator::new`] parses and compiles the schema set and builds the content-model automata once
//! (the `bench_validate` example prints the time; about 20 ms natively here for the official set). A function that validates many documents keeps one `Validator`;
//! a fresh wasm instance per request pays the compile on each request unless the instance is
//! pre-initialised (e.g. `wizer`) — the `Validator` is plain data built once at start-up, so that door
//! is open.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use xsd_schema::validation::{
    CollectingValidationSink, DoctypeView, DriveWithError, ElementStartView, EndElementInfo,
    SchemaInfo, SchemaValidator, TextKind, ValidationEventHandler, ValidationFlags,
    drive_quick_xml_with,
};
use xsd_schema::{SchemaLoader, SchemaResult, SchemaSet, SchemaSetBuilder, TypeKey, XmlTypeCode};

use crate::xml::{self, Limits, LineIndex};
use crate::{Error, Result};

/// One problem found by the schema check.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Diagnostic {
    /// 1-based line (0 when unknown).
    pub line: usize,
    /// 1-based column (0 when unknown).
    pub column: usize,
    /// Element path, e.g. `/InitialVehicleInformation/CocDataGroup/VehicleCategory`.
    pub path: String,
    /// The rule broken: an XSD constraint code (`cvc-...`), `xml` for a well-formedness error, or
    /// `ecoc-lexical` for the strictness layer.
    pub rule: String,
    /// What is wrong, naming the value where there is one.
    pub message: String,
}

impl std::fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{}:{}: {} [{}] {}",
            self.line, self.column, self.path, self.rule, self.message
        )
    }
}

/// Schema documents held in memory, found by file name when one imports another.
#[derive(Debug, Default)]
struct MemoryLoader {
    docs: HashMap<String, String>,
    /// Directory to read further documents from (native and WASI with a preopened directory).
    dir: Option<PathBuf>,
}

fn file_name(location: &str) -> &str {
    location.rsplit(['/', '\\']).next().unwrap_or(location)
}

impl SchemaLoader for MemoryLoader {
    fn load(&self, location: &str) -> SchemaResult<String> {
        let name = file_name(location);
        if let Some(doc) = self.docs.get(name) {
            return Ok(doc.clone());
        }
        let dir = self
            .dir
            .as_ref()
            .ok_or_else(|| xsd_schema::SchemaError::ResolutionError {
                message: format!("schema document `{location}` is not available"),
            })?;
        std::fs::read_to_string(dir.join(name)).map_err(xsd_schema::SchemaError::IoError)
    }

    fn can_load(&self, _location: &str) -> bool {
        true
    }
}

/// A compiled schema set, ready to validate documents.
///
/// The compiled set is leaked on purpose (`Box::leak`): the engine's validator, with its content-model
/// automata (a few milliseconds to build), borrows the set, and keeping both lets every document skip
/// that work. A `Validator` is built once per process (or wasm instance) and lives as long; building
/// one per document would leak, so don't.
pub struct Validator {
    set: &'static SchemaSet,
    engine: SchemaValidator<'static>,
    /// Time spent parsing and compiling the set.
    pub compile_time: std::time::Duration,
    limits: Limits,
}

impl std::fmt::Debug for Validator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Validator")
            .field("compile_time", &self.compile_time)
            .finish_non_exhaustive()
    }
}

impl Validator {
    /// Compiles a schema set from documents in memory: `main` is `(file name, text)`; `others` are the
    /// documents it imports or includes, found by file name.
    pub fn new(main: (&str, &str), others: &[(&str, &str)]) -> Result<Self> {
        let loader = MemoryLoader {
            docs: others
                .iter()
                .map(|(n, t)| (file_name(n).to_owned(), (*t).to_owned()))
                .collect(),
            dir: None,
        };
        Self::compile(main.0, main.1, loader)
    }

    /// Compiles the schema at `path`; the documents it imports are read from the same directory.
    pub fn from_path(path: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(path).map_err(|source| Error::Io {
            path: path.display().to_string(),
            source,
        })?;
        let loader = MemoryLoader {
            docs: HashMap::new(),
            dir: path.parent().map(Path::to_path_buf),
        };
        let name = path.file_name().map_or_else(
            || "schema.xsd".to_owned(),
            |n| n.to_string_lossy().into_owned(),
        );
        Self::compile(&name, &text, loader)
    }

    fn compile(name: &str, text: &str, loader: MemoryLoader) -> Result<Self> {
        let started = std::time::Instant::now();
        let err = |e: xsd_schema::SchemaError| Error::Schema {
            location: name.to_owned(),
            message: e.to_string(),
        };
        let base = format!("memory:/{name}");
        let compiled = SchemaSetBuilder::with_loader(Box::new(loader))
            .add_source(text, &base)
            .map_err(err)?
            .compile()
            .map_err(err)?;
        if let Some(f) = compiled.directive_failures().first() {
            return Err(Error::Schema {
                location: name.to_owned(),
                message: format!("cannot load {:?}", f.schema_location().unwrap_or_default()),
            });
        }
        let set: &'static SchemaSet = Box::leak(Box::new(compiled.into_schema_set()));
        let engine = SchemaValidator::new(
            set,
            ValidationFlags::default()
                - ValidationFlags::REPORT_WARNINGS
                - ValidationFlags::BUILD_PSVI_TYPED_VALUES,
        );
        Ok(Self {
            set,
            engine,
            compile_time: started.elapsed(),
            limits: Limits::default(),
        })
    }

    /// Replaces the reader limits applied to documents (the defaults of [`Limits`] otherwise).
    pub fn with_limits(mut self, limits: Limits) -> Self {
        self.limits = limits;
        self
    }

    /// Validates one document. An empty list means valid.
    ///
    /// One streaming pass: the engine checks well-formedness and the schema while the strictness layer
    /// refuses a DTD and enforces the [`Limits`] (size before reading, depth and element count while
    /// reading). Only when something is wrong is the document read again into a tree, to give each
    /// problem its line and column.
    pub fn validate(&self, bytes: &[u8]) -> Vec<Diagnostic> {
        let xml_diag = |line, column, message: String| Diagnostic {
            line,
            column,
            path: String::new(),
            rule: "xml".into(),
            message,
        };
        if bytes.len() > self.limits.max_bytes {
            let e = Error::Limit {
                limit: "max_bytes",
                max: self.limits.max_bytes,
                found: bytes.len(),
            };
            return vec![xml_diag(0, 0, e.to_string())];
        }
        let decoded = match xml::decode(bytes) {
            Ok(d) => d,
            Err(e) => return vec![xml_diag(1, 1, e.to_string())],
        };
        let bytes: &[u8] = &decoded;
        let mut errors = Vec::new();
        let mut warnings = Vec::new();
        let mut strict = Strictness {
            set: self.set,
            limits: self.limits,
            elements: 0,
            stack: Vec::new(),
            path: Vec::new(),
            pending: None,
            found: Vec::new(),
            base64_ok: Vec::new(),
        };
        let mut out = Vec::new();
        {
            let mut runtime = self.engine.start_run(CollectingValidationSink {
                errors: &mut errors,
                warnings: &mut warnings,
            });
            match drive_quick_xml_with(bytes, &mut runtime, self.set, &mut strict) {
                Ok(_) => {
                    if let Err(e) = runtime.end_validation() {
                        out.push(Diagnostic {
                            line: 0,
                            column: 0,
                            path: String::new(),
                            rule: e.constraint.into(),
                            message: e.message,
                        });
                    }
                }
                Err(DriveWithError::Hook(refused)) => {
                    return vec![xml_diag(0, 0, refused.to_string())];
                }
                Err(e) => {
                    // Not well-formed: our reader gives the position (and the same refusal).
                    return match xml::parse_with(bytes, &self.limits) {
                        Err(Error::Xml {
                            line,
                            column,
                            message,
                        }) => vec![xml_diag(line, column, message)],
                        _ => vec![xml_diag(0, 0, e.to_string())],
                    };
                }
            }
        }
        if errors.is_empty() && strict.found.is_empty() && out.is_empty() {
            return out;
        }
        // Something to report: read the document into a tree to place each problem. Offsets from the
        // engine count a byte-order mark; our tree's positions do not.
        let doc = xml::parse_with(bytes, &self.limits).ok();
        let full = String::from_utf8_lossy(bytes);
        let bom = if full.starts_with('\u{feff}') {
            '\u{feff}'.len_utf8()
        } else {
            0
        };
        let text = &full[bom..];
        let index = LineIndex::new(text);
        let at = |offset: usize| index.locate(text, offset.saturating_sub(bom));
        // Base64 values the engine refused for their line breaks or spaces, valid per the spec and
        // for libxml2: their errors are withdrawn.
        let base64_ok: Vec<(usize, usize)> = strict.base64_ok.iter().map(|&o| at(o)).collect();
        for e in errors {
            let located = doc.as_ref().and_then(|d| {
                e.instance_path()
                    .and_then(|p| locate(&d.root, &p.to_string()))
            });
            // Only the value's own errors, never a misplaced or duplicated element, nor an attribute's.
            let value_error = e.constraint.starts_with("cvc-datatype-valid")
                || matches!(e.constraint, "cvc-type.3.1.3" | "cvc-complex-type.2.2");
            if value_error
                && located.is_some_and(|pos| base64_ok.contains(&pos))
                && e.instance_path()
                    .is_some_and(|p| !p.to_string().contains('@'))
            {
                continue;
            }
            let (line, column) = match (&e.location, located) {
                (Some(l), _) => (l.line, l.column),
                (None, Some(pos)) => pos,
                (None, None) => (0, 0),
            };
            let path = e.element_path().map(str::to_owned).unwrap_or_default();
            out.push(Diagnostic {
                line,
                column,
                path,
                rule: e.constraint.to_owned(),
                message: e.message,
            });
        }
        if !strict.found.is_empty() {
            for (offset, path, message) in strict.found {
                let (line, column) = at(offset);
                out.push(Diagnostic {
                    line,
                    column,
                    path,
                    rule: "ecoc-lexical".into(),
                    message,
                });
            }
        }
        out.sort_by_key(|d| (d.line, d.column));
        out
    }
}

/// Line and column of the element an instance path (`/Q{uri}local[n]/...`) names in `root`.
fn locate(root: &xml::Element, path: &str) -> Option<(usize, usize)> {
    let mut steps = Vec::new();
    let mut rest = path;
    while let Some(r) = rest.strip_prefix("/Q{") {
        let (uri, r) = r.split_once('}')?;
        let (local, r) = r.split_once('[')?;
        let (n, r) = r.split_once(']')?;
        steps.push((uri, local, n.parse::<usize>().ok()?));
        rest = r;
    }
    let (first, tail) = steps.split_first()?;
    if root.ns.as_deref().unwrap_or("") != first.0 || root.name != first.1 {
        return None;
    }
    let mut el = root;
    for (uri, local, n) in tail {
        match el
            .elements()
            .filter(|c| c.ns.as_deref().unwrap_or("") == *uri && c.name == *local)
            .nth(n.checked_sub(1)?)
        {
            Some(c) => el = c,
            None => break,
        }
    }
    Some((el.line, el.column))
}

/// What the strictness layer does with an element's text, from its governing simple type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Watch {
    /// A type libxml2 parses without white-space collapsing: refuse surrounding white space.
    Lexical(&'static str),
    /// `base64Binary`: the engine refuses line breaks and spaces, which the spec and libxml2 allow.
    Base64,
}

/// The strictness layer: watches each element's governing simple type and its text, refuses a DTD and
/// enforces the element limits.
struct Strictness<'a> {
    set: &'a SchemaSet,
    limits: Limits,
    elements: usize,
    /// Per open element: what to watch, the text so far, the start offset.
    stack: Vec<(Option<Watch>, String, usize)>,
    /// Local names of the open elements.
    path: Vec<String>,
    pending: Option<usize>,
    /// White-space problems: (offset, path, message).
    found: Vec<(usize, String, String)>,
    /// Start offsets of `base64Binary` elements whose value is valid base64 once white space is
    /// removed: the engine's complaints about them are withdrawn.
    base64_ok: Vec<usize>,
}

impl Strictness<'_> {
    /// What to watch for an element of type `key`, from its first built-in ancestor.
    fn watch(&self, key: Option<TypeKey>) -> Option<Watch> {
        let arenas = &self.set.arenas;
        let mut key = key?;
        for _ in 0..64 {
            let simple = match key {
                TypeKey::Simple(s) => s,
                TypeKey::Complex(c) => {
                    // Simple content: an inline restriction's type, else the base (an extension of a
                    // simple type, as XML-DSig's SignatureValue). Complex content ends at xs:anyType.
                    let ct = arenas.get_complex_type(c)?;
                    key = ct.resolved_simple_content_type.or(ct.resolved_base_type)?;
                    continue;
                }
            };
            if let Some(code) = self.set.get_type_code(simple) {
                return match code {
                    XmlTypeCode::Int => Some(Watch::Lexical("xs:int")),
                    XmlTypeCode::Short => Some(Watch::Lexical("xs:short")),
                    XmlTypeCode::Date => Some(Watch::Lexical("xs:date")),
                    XmlTypeCode::DateTime => Some(Watch::Lexical("xs:dateTime")),
                    XmlTypeCode::Base64Binary => Some(Watch::Base64),
                    _ => None,
                };
            }
            key = arenas.get_simple_type(simple)?.resolved_base_type?;
        }
        None
    }
}

/// Where `text`, the value of an element of built-in type `builtin`, has white space libxml2 refuses,
/// if it has: around an `xs:int`, `xs:short` or `xs:date`; before an `xs:dateTime`, or after one that
/// does not end in a time zone. libxml2 2.9.14 checked: `2024-06-18T10:00:00Z ` and
/// `...T10:00:00+02:00\t` are valid, `...T10:00:00 ` and ` ...T10:00:00Z` are not (the spec,
/// `whiteSpace="collapse"`, accepts all four: `tests/lexical_forms.rs`).
fn white_space_libxml2_refuses(builtin: &str, text: &str) -> Option<&'static str> {
    if builtin != "xs:dateTime" {
        return (text.trim() != text).then_some("around it");
    }
    let value = text.trim_end_matches([' ', '\t', '\n', '\r']);
    let zoned = value.ends_with('Z')
        || value
            .len()
            .checked_sub(6)
            .and_then(|i| value.as_bytes().get(i))
            .is_some_and(|b| matches!(b, b'+' | b'-'));
    if text.trim_start() != text {
        Some("before it")
    } else if value != text && !zoned {
        Some("after it (a value without a time zone)")
    } else {
        None
    }
}

/// Whether `text` is a valid `base64Binary` once its white space is removed (XML Schema Part 2 §3.2.16:
/// groups of four, `=` padding only at the end, and the padded character's unused bits zero).
fn valid_base64_with_spaces(text: &str) -> bool {
    let b: Vec<u8> = text
        .bytes()
        .filter(|c| !matches!(c, b' ' | b'\t' | b'\n' | b'\r'))
        .collect();
    if !b.len().is_multiple_of(4) {
        return false;
    }
    let pad = b.iter().rev().take_while(|&&c| c == b'=').count();
    let body = &b[..b.len() - pad];
    let alphabet = |c: &u8| c.is_ascii_alphanumeric() || *c == b'+' || *c == b'/';
    if pad > 2 || !body.iter().all(alphabet) {
        return false;
    }
    match (pad, body.last()) {
        (0, _) => true,
        (1, Some(c)) => b"AEIMQUYcgkosw048".contains(c),
        (2, Some(c)) => b"AQgw".contains(c),
        _ => false,
    }
}

/// Why the strictness layer stopped reading a document.
#[derive(Debug)]
enum Refused {
    Doctype,
    Limit(Error),
}

impl std::fmt::Display for Refused {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Doctype => f.write_str("document type declarations are refused"),
            Self::Limit(e) => write!(f, "{e}"),
        }
    }
}

impl ValidationEventHandler for Strictness<'_> {
    type Error = Refused;

    fn on_doctype(&mut self, _doctype: DoctypeView<'_>) -> Result<(), Self::Error> {
        Err(Refused::Doctype)
    }

    fn on_element_start_offset(&mut self, byte_pos: usize) -> Result<(), Self::Error> {
        self.pending = Some(byte_pos);
        Ok(())
    }

    fn before_element(&mut self, view: ElementStartView<'_>) -> Result<(), Self::Error> {
        self.elements += 1;
        if self.elements > self.limits.max_elements {
            return Err(Refused::Limit(Error::Limit {
                limit: "max_elements",
                max: self.limits.max_elements,
                found: self.elements,
            }));
        }
        if self.path.len() + 1 > self.limits.max_depth {
            return Err(Refused::Limit(Error::Limit {
                limit: "max_depth",
                max: self.limits.max_depth,
                found: self.path.len() + 1,
            }));
        }
        self.path.push(view.local_name.to_owned());
        Ok(())
    }

    fn after_element(
        &mut self,
        _view: ElementStartView<'_>,
        info: &SchemaInfo,
    ) -> Result<(), Self::Error> {
        let watch = self.watch(info.schema_type);
        self.stack
            .push((watch, String::new(), self.pending.take().unwrap_or(0)));
        Ok(())
    }

    fn on_text(&mut self, _kind: TextKind, text: &str) -> Result<(), Self::Error> {
        if let Some(top) = self.stack.last_mut()
            && top.0.is_some()
        {
            top.1.push_str(text);
        }
        Ok(())
    }

    fn after_end_element(
        &mut self,
        _info: &EndElementInfo,
        _depth: usize,
    ) -> Result<(), Self::Error> {
        match self.stack.pop() {
            Some((Some(Watch::Lexical(builtin)), text, offset))
                if let Some(place) = white_space_libxml2_refuses(builtin, &text) =>
            {
                let path = format!("/{}", self.path.join("/"));
                self.found.push((
                    offset,
                    path,
                    format!("value {text:?} has white space {place}, which libxml2 refuses for {builtin}"),
                ));
            }
            Some((Some(Watch::Base64), text, offset))
                if text.trim().contains(char::is_whitespace) && valid_base64_with_spaces(&text) =>
            {
                self.base64_ok.push(offset);
            }
            _ => {}
        }
        self.path.pop();
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const XSD: &str = r#"<xs:schema xmlns:xs="http://www.w3.org/2001/XMLSchema" targetNamespace="urn:t" xmlns="urn:t" elementFormDefault="qualified">
      <xs:simpleType name="Small"><xs:restriction base="xs:short"><xs:maxInclusive value="99"/></xs:restriction></xs:simpleType>
      <xs:element name="r"><xs:complexType><xs:all>
        <xs:element name="n" type="Small"/>
        <xs:element name="d" type="xs:date" minOccurs="0"/>
        <xs:element name="t" type="xs:dateTime" minOccurs="0"/>
        <xs:element name="s" type="xs:string" minOccurs="0"/>
      </xs:all></xs:complexType></xs:element></xs:schema>"#;

    #[test]
    fn reports_line_column_path_and_rule() {
        let v = Validator::new(("t.xsd", XSD), &[]).unwrap();
        assert!(v.validate(b"<r xmlns='urn:t'><n>5</n></r>").is_empty());
        let d = v.validate(b"<r xmlns='urn:t'>\n  <n>500</n></r>");
        assert_eq!(d.len(), 1, "{d:?}");
        assert_eq!(d[0].line, 2);
        assert!(d[0].path.contains('n'), "{d:?}");
        assert!(d[0].rule.starts_with("cvc-"), "{d:?}");
        assert!(d[0].message.contains("500"), "{d:?}");
    }

    #[test]
    fn is_as_strict_as_libxml2_about_white_space() {
        let v = Validator::new(("t.xsd", XSD), &[]).unwrap();
        let d = v.validate(b"<r xmlns='urn:t'><n> 5 </n><d>2024-01-01 </d><s> x </s></r>");
        let rules: Vec<&str> = d.iter().map(|d| d.rule.as_str()).collect();
        assert_eq!(rules, ["ecoc-lexical", "ecoc-lexical"], "{d:?}");
        // xs:dateTime: libxml2 skips white space after a time zone, and only there.
        for (time, valid) in [
            ("2024-01-01T10:00:00Z ", true),
            ("2024-01-01T10:00:00+02:00\n\t", true),
            ("2024-01-01T10:00:00 ", false),
            (" 2024-01-01T10:00:00Z", false),
        ] {
            let doc = format!("<r xmlns='urn:t'><n>5</n><t>{time}</t></r>");
            let d = v.validate(doc.as_bytes());
            assert_eq!(d.is_empty(), valid, "{time:?}: {d:?}");
            assert!(d.iter().all(|d| d.rule == "ecoc-lexical"), "{d:?}");
        }
    }

    #[test]
    fn enforces_the_reader_limits() {
        let v = Validator::new(("t.xsd", XSD), &[])
            .unwrap()
            .with_limits(Limits {
                max_elements: 2,
                ..Limits::default()
            });
        let d = v.validate(b"<r xmlns='urn:t'><n>5</n><s>x</s></r>");
        assert_eq!(d.len(), 1, "{d:?}");
        assert!(d[0].message.contains("max_elements"), "{d:?}");
        let v = Validator::new(("t.xsd", XSD), &[])
            .unwrap()
            .with_limits(Limits {
                max_bytes: 20,
                ..Limits::default()
            });
        assert!(
            v.validate(b"<r xmlns='urn:t'><n>5</n></r>")[0]
                .message
                .contains("max_bytes")
        );
    }

    #[test]
    fn base64_with_line_breaks_is_valid_but_broken_base64_is_not() {
        assert!(valid_base64_with_spaces("QUJD\nREVG"));
        assert!(valid_base64_with_spaces(" QU JD\r\nRA== "));
        assert!(!valid_base64_with_spaces("QUJD\nREV"));
        assert!(!valid_base64_with_spaces("QUJ=\nREVG"));
        assert!(!valid_base64_with_spaces("QUJD\nRB=="));
    }

    #[test]
    fn refuses_a_dtd() {
        let v = Validator::new(("t.xsd", XSD), &[]).unwrap();
        let d = v.validate(b"<!DOCTYPE r [<!ENTITY e 'x'>]><r xmlns='urn:t'><n>5</n></r>");
        assert_eq!(d[0].rule, "xml");
    }
}
