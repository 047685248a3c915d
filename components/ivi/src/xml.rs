//! A small namespace-aware XML tree with a bounded reader and a deterministic writer.
//!
//! The reader refuses any document type declaration (so no entity can ever be expanded), and bounds the
//! input size, the element depth and the element count ([`Limits`]). It keeps element and attribute
//! namespaces, the text, and each element's line and column; it drops comments and processing
//! instructions. The writer is deterministic: the same tree gives the same bytes, namespace declarations
//! are written only where an element's namespace is not already in scope, and element-only content is
//! indented with two spaces.

use std::fmt::Write as _;

use quick_xml::events::{BytesStart, Event};

use crate::{Error, Result};

/// The XML namespace bound to the `xml` prefix by definition.
const XML_NS: &str = "http://www.w3.org/XML/1998/namespace";

/// Bounds applied by [`parse`]. Each has a default sized for one eCoC file (the VCA refuses files of
/// 1 MB or more; the official specimens are under 20 KB and 8 levels deep).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Largest accepted input, in bytes. Default [`Limits::DEFAULT_MAX_BYTES`] (4 MiB).
    pub max_bytes: usize,
    /// Deepest accepted element nesting (the root is depth 1). Default [`Limits::DEFAULT_MAX_DEPTH`] (64).
    pub max_depth: usize,
    /// Most elements accepted in one document. Default [`Limits::DEFAULT_MAX_ELEMENTS`] (100,000).
    pub max_elements: usize,
}

impl Limits {
    /// Default for [`Limits::max_bytes`].
    pub const DEFAULT_MAX_BYTES: usize = 4 * 1024 * 1024;
    /// Default for [`Limits::max_depth`].
    pub const DEFAULT_MAX_DEPTH: usize = 64;
    /// Default for [`Limits::max_elements`].
    pub const DEFAULT_MAX_ELEMENTS: usize = 100_000;
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_bytes: Self::DEFAULT_MAX_BYTES,
            max_depth: Self::DEFAULT_MAX_DEPTH,
            max_elements: Self::DEFAULT_MAX_ELEMENTS,
        }
    }
}

/// An attribute: namespace (if any), local name, value. Namespace declarations are not attributes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attribute {
    /// Namespace URI of a prefixed attribute; `None` for an unprefixed one.
    pub ns: Option<String>,
    /// Prefix as read (kept so the writer can reuse it).
    pub prefix: Option<String>,
    /// Local name.
    pub name: String,
    /// Value after entity and white-space normalisation.
    pub value: String,
}

/// A child of an element.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Node {
    /// A child element.
    Element(Element),
    /// Character data (entities resolved, CDATA sections included, line ends normalised).
    Text(String),
}

/// An element with its namespace, attributes, children and source position.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Element {
    /// Namespace URI; `None` for an element in no namespace.
    pub ns: Option<String>,
    /// Prefix as read; the writer reuses it for foreign namespaces. `None` means the default namespace.
    pub prefix: Option<String>,
    /// Local name.
    pub name: String,
    /// Attributes in document order.
    pub attributes: Vec<Attribute>,
    /// Children in document order.
    pub children: Vec<Node>,
    /// 1-based line of the start tag (0 for an element built in memory).
    pub line: usize,
    /// 1-based column of the start tag (0 for an element built in memory).
    pub column: usize,
}

impl Element {
    /// A new element in namespace `ns`.
    pub fn new(ns: Option<&str>, name: &str) -> Self {
        Self {
            ns: ns.map(str::to_owned),
            name: name.to_owned(),
            ..Self::default()
        }
    }

    /// A new element in namespace `ns` holding only `text`.
    pub fn with_text(ns: Option<&str>, name: &str, text: impl Into<String>) -> Self {
        let mut e = Self::new(ns, name);
        e.children.push(Node::Text(text.into()));
        e
    }

    /// Child elements in document order.
    pub fn elements(&self) -> impl Iterator<Item = &Element> {
        self.children.iter().filter_map(|n| match n {
            Node::Element(e) => Some(e),
            Node::Text(_) => None,
        })
    }

    /// First child element with this namespace and local name.
    pub fn child(&self, ns: Option<&str>, name: &str) -> Option<&Element> {
        self.elements()
            .find(|e| e.ns.as_deref() == ns && e.name == name)
    }

    /// The concatenated text children (not descendants).
    pub fn text(&self) -> String {
        let mut s = String::new();
        for n in &self.children {
            if let Node::Text(t) = n {
                s.push_str(t);
            }
        }
        s
    }

    /// Whether any text child holds something other than white space.
    fn has_significant_text(&self) -> bool {
        self.children
            .iter()
            .any(|n| matches!(n, Node::Text(t) if !t.trim().is_empty()))
    }

    /// Value of the unprefixed attribute `name`.
    pub fn attribute(&self, name: &str) -> Option<&str> {
        self.attributes
            .iter()
            .find(|a| a.ns.is_none() && a.name == name)
            .map(|a| a.value.as_str())
    }
}

/// A parsed document: its root element.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Document {
    /// The root element.
    pub root: Element,
}

/// Parses `bytes` into a [`Document`] with the default [`Limits`].
pub fn parse(bytes: &[u8]) -> Result<Document> {
    parse_with(bytes, &Limits::default())
}

/// Byte offset to 1-based line and column (columns count characters).
pub(crate) struct LineIndex {
    starts: Vec<usize>,
}

impl LineIndex {
    pub(crate) fn new(text: &str) -> Self {
        let mut starts = vec![0];
        for (i, b) in text.bytes().enumerate() {
            if b == b'\n' {
                starts.push(i + 1);
            }
        }
        Self { starts }
    }

    pub(crate) fn locate(&self, text: &str, offset: usize) -> (usize, usize) {
        let line = self.starts.partition_point(|&s| s <= offset).max(1);
        let start = self.starts[line - 1];
        let col = text
            .get(start..offset.min(text.len()))
            .map_or(1, |s| s.chars().count() + 1);
        (line, col)
    }
}

/// One entry of the namespace scope stack: the declarations made on one element.
type Scope = Vec<(Option<String>, String)>;

fn lookup<'a>(scopes: &'a [Scope], prefix: Option<&str>) -> Option<&'a str> {
    if prefix == Some("xml") {
        return Some(XML_NS);
    }
    for scope in scopes.iter().rev() {
        for (p, uri) in scope.iter().rev() {
            if p.as_deref() == prefix {
                return Some(uri.as_str());
            }
        }
    }
    None
}

fn split_qname(q: &str) -> (Option<&str>, &str) {
    match q.split_once(':') {
        Some((p, l)) => (Some(p), l),
        None => (None, q),
    }
}

/// The document as UTF-8 bytes. UTF-8 (with or without a byte-order mark) is returned as is; UTF-16
/// (by byte-order mark or by the `<?` sniff of XML 1.0 appendix F) and ISO-8859-1 / US-ASCII (by the
/// encoding declaration) are transcoded, and the declaration's encoding is rewritten to `UTF-8` so that
/// the bytes and the declaration agree. Other declared encodings are refused by name.
pub fn decode(bytes: &[u8]) -> Result<std::borrow::Cow<'_, [u8]>> {
    use std::borrow::Cow;
    let err = |message: String| Error::Xml {
        line: 1,
        column: 1,
        message,
    };
    let utf16 = |body: &[u8], le: bool| -> Result<Vec<u8>> {
        if !body.len().is_multiple_of(2) {
            return Err(err("utf-16 input has an odd number of bytes".into()));
        }
        let units = body.chunks_exact(2).map(|c| {
            if le {
                u16::from_le_bytes([c[0], c[1]])
            } else {
                u16::from_be_bytes([c[0], c[1]])
            }
        });
        let text: String = char::decode_utf16(units)
            .collect::<std::result::Result<_, _>>()
            .map_err(|e| err(format!("invalid utf-16: {e}")))?;
        Ok(declare_utf8(&text).into_bytes())
    };
    match bytes {
        [0xFF, 0xFE, rest @ ..] => return utf16(rest, true).map(Cow::Owned),
        [0xFE, 0xFF, rest @ ..] => return utf16(rest, false).map(Cow::Owned),
        [b'<', 0, b'?', 0, ..] => return utf16(bytes, true).map(Cow::Owned),
        [0, b'<', 0, b'?', ..] => return utf16(bytes, false).map(Cow::Owned),
        _ => {}
    }
    let declared = declared_encoding(bytes).map(|e| e.to_ascii_uppercase());
    match declared.as_deref() {
        None | Some("UTF-8" | "UTF8") => Ok(Cow::Borrowed(bytes)),
        Some("US-ASCII" | "ASCII") if bytes.is_ascii() => Ok(Cow::Borrowed(bytes)),
        Some("ISO-8859-1" | "LATIN1" | "ISO_8859-1" | "L1") => {
            if bytes.is_ascii() {
                return Ok(Cow::Borrowed(bytes));
            }
            let text: String = bytes.iter().map(|&b| char::from(b)).collect();
            Ok(Cow::Owned(declare_utf8(&text).into_bytes()))
        }
        Some(other) => Err(err(format!(
            "unsupported encoding `{other}` (UTF-8, UTF-16, ISO-8859-1 and US-ASCII are read)"
        ))),
    }
}

/// The `encoding` of the XML declaration at the start of `bytes`, read as ASCII.
fn declared_encoding(bytes: &[u8]) -> Option<&str> {
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    if !bytes.starts_with(b"<?xml") {
        return None;
    }
    let end = bytes.iter().position(|&b| b == b'>')?;
    let decl = std::str::from_utf8(&bytes[..end]).ok()?;
    let rest = &decl[decl.find("encoding")? + "encoding".len()..];
    let rest = rest.trim_start().strip_prefix('=')?.trim_start();
    let quote = rest.chars().next().filter(|q| matches!(q, '"' | '\''))?;
    let rest = &rest[quote.len_utf8()..];
    Some(&rest[..rest.find(quote)?])
}

/// `text` with its XML declaration's encoding set to UTF-8 (same line structure).
fn declare_utf8(text: &str) -> String {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    if let Some(enc) = declared_encoding(text.as_bytes())
        && let Some(at) = text.find(enc)
    {
        return format!("{}UTF-8{}", &text[..at], &text[at + enc.len()..]);
    }
    text.to_owned()
}

/// Parses `bytes` into a [`Document`], refusing a DTD and enforcing `limits`.
pub fn parse_with(bytes: &[u8], limits: &Limits) -> Result<Document> {
    if bytes.len() > limits.max_bytes {
        return Err(Error::Limit {
            limit: "max_bytes",
            max: limits.max_bytes,
            found: bytes.len(),
        });
    }
    let decoded = decode(bytes)?;
    let bytes: &[u8] = &decoded;
    let text = std::str::from_utf8(bytes).map_err(|e| Error::Xml {
        line: 0,
        column: 0,
        message: format!("input is not utf-8 at byte {}", e.valid_up_to()),
    })?;
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let index = LineIndex::new(text);
    let mut reader = quick_xml::Reader::from_str(text);
    reader.config_mut().trim_text(false);
    reader.config_mut().check_end_names = true;
    reader.config_mut().check_comments = true;

    let mut stack: Vec<Element> = Vec::new();
    let mut scopes: Vec<Scope> = Vec::new();
    let mut root: Option<Element> = None;
    let mut count = 0usize;
    let xml_err = |reader: &quick_xml::Reader<&[u8]>, message: String| {
        let pos = usize::try_from(reader.buffer_position()).unwrap_or(usize::MAX);
        let (line, column) = index.locate(text, pos);
        Error::Xml {
            line,
            column,
            message,
        }
    };

    loop {
        let before = usize::try_from(reader.buffer_position()).unwrap_or(usize::MAX);
        let event = reader
            .read_event()
            .map_err(|e| xml_err(&reader, e.to_string()))?;
        match event {
            Event::DocType(_) => {
                return Err(xml_err(
                    &reader,
                    "document type declarations are refused".into(),
                ));
            }
            Event::Start(ref s) | Event::Empty(ref s) => {
                if root.is_some() {
                    return Err(xml_err(&reader, "content after the root element".into()));
                }
                count += 1;
                if count > limits.max_elements {
                    return Err(Error::Limit {
                        limit: "max_elements",
                        max: limits.max_elements,
                        found: count,
                    });
                }
                if stack.len() + 1 > limits.max_depth {
                    return Err(Error::Limit {
                        limit: "max_depth",
                        max: limits.max_depth,
                        found: stack.len() + 1,
                    });
                }
                let (line, column) = index.locate(text, before);
                let el = start_element(s, &mut scopes, line, column).map_err(|m| Error::Xml {
                    line,
                    column,
                    message: m,
                })?;
                let empty = matches!(event, Event::Empty(_));
                stack.push(el);
                if empty {
                    close(&mut stack, &mut scopes, &mut root);
                }
            }
            Event::End(_) => close(&mut stack, &mut scopes, &mut root),
            Event::Text(t) => {
                let s = t
                    .xml_content()
                    .map_err(|e| xml_err(&reader, e.to_string()))?;
                push_text(&mut stack, &s, &reader, &xml_err)?;
            }
            Event::CData(c) => {
                let s = c
                    .xml_content()
                    .map_err(|e| xml_err(&reader, e.to_string()))?;
                push_text(&mut stack, &s, &reader, &xml_err)?;
            }
            Event::GeneralRef(r) => {
                let resolved = if r.is_char_ref() {
                    r.resolve_char_ref()
                        .map_err(|e| xml_err(&reader, e.to_string()))?
                } else {
                    let name = r.decode().map_err(|e| xml_err(&reader, e.to_string()))?;
                    match name.as_ref() {
                        "lt" => Some('<'),
                        "gt" => Some('>'),
                        "amp" => Some('&'),
                        "apos" => Some('\''),
                        "quot" => Some('"'),
                        other => {
                            return Err(xml_err(&reader, format!("undeclared entity `{other}`")));
                        }
                    }
                };
                let Some(c) = resolved else {
                    return Err(xml_err(&reader, "invalid character reference".into()));
                };
                push_text(&mut stack, c.encode_utf8(&mut [0; 4]), &reader, &xml_err)?;
            }
            Event::Comment(_) | Event::PI(_) | Event::Decl(_) => {}
            Event::Eof => break,
        }
    }
    if !stack.is_empty() {
        return Err(Error::Xml {
            line: 0,
            column: 0,
            message: "unexpected end of input inside an element".into(),
        });
    }
    root.map(|root| Document { root }).ok_or(Error::Xml {
        line: 0,
        column: 0,
        message: "no root element".into(),
    })
}

fn push_text<F>(
    stack: &mut [Element],
    s: &str,
    reader: &quick_xml::Reader<&[u8]>,
    err: &F,
) -> Result<()>
where
    F: Fn(&quick_xml::Reader<&[u8]>, String) -> Error,
{
    match stack.last_mut() {
        Some(el) => {
            if let Some(Node::Text(prev)) = el.children.last_mut() {
                prev.push_str(s);
            } else {
                el.children.push(Node::Text(s.to_owned()));
            }
            Ok(())
        }
        None if s.trim().is_empty() => Ok(()),
        None => Err(err(reader, "text outside the root element".into())),
    }
}

fn close(stack: &mut Vec<Element>, scopes: &mut Vec<Scope>, root: &mut Option<Element>) {
    scopes.pop();
    if let Some(el) = stack.pop() {
        match stack.last_mut() {
            Some(parent) => parent.children.push(Node::Element(el)),
            None => *root = Some(el),
        }
    }
}

/// Whether `name` is an XML 1.0 `Name`: a letter, `_` or `:` (or any non-ASCII character), then
/// also digits, `-` and `.`. (Non-ASCII characters are not checked against the exact ranges.)
fn is_xml_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || matches!(c, '_' | ':') || !c.is_ascii())
        && chars.all(|c| {
            c.is_ascii_alphanumeric() || matches!(c, '_' | ':' | '-' | '.') || !c.is_ascii()
        })
}

fn start_element(
    s: &BytesStart<'_>,
    scopes: &mut Vec<Scope>,
    line: usize,
    column: usize,
) -> std::result::Result<Element, String> {
    let qname = std::str::from_utf8(s.name().as_ref())
        .map_err(|e| e.to_string())?
        .to_owned();
    if !is_xml_name(&qname) {
        return Err(format!("`{}` is not an element name", qname.escape_debug()));
    }
    let mut scope: Scope = Vec::new();
    let mut raw_attrs = Vec::new();
    for a in s.attributes().with_checks(true) {
        let a = a.map_err(|e| e.to_string())?;
        let key = std::str::from_utf8(a.key.as_ref())
            .map_err(|e| e.to_string())?
            .to_owned();
        if !is_xml_name(&key) {
            return Err(format!("`{}` is not an attribute name", key.escape_debug()));
        }
        // Attribute-value normalisation (XML 1.0 §3.3.3): literal white-space characters become spaces.
        let value = a
            .unescape_value()
            .map_err(|e| e.to_string())?
            .replace(['\t', '\n', '\r'], " ");
        if key == "xmlns" {
            scope.push((None, value));
        } else if let Some(p) = key.strip_prefix("xmlns:") {
            if value.is_empty() {
                return Err(format!("prefix `{p}` cannot be undeclared in XML 1.0"));
            }
            scope.push((Some(p.to_owned()), value));
        } else {
            raw_attrs.push((key, value));
        }
    }
    // The element's own declarations are in scope for its name and attributes.
    scopes.push(scope);
    let all: &[Scope] = scopes;
    let (prefix, local) = split_qname(&qname);
    let ns = match lookup(all, prefix) {
        Some("") | None if prefix.is_none() => None,
        Some(uri) => Some(uri.to_owned()),
        None => {
            return Err(format!(
                "unbound namespace prefix `{}`",
                prefix.unwrap_or_default()
            ));
        }
    };
    let mut attributes = Vec::with_capacity(raw_attrs.len());
    for (key, value) in raw_attrs {
        let (p, l) = split_qname(&key);
        let ans = match p {
            None => None,
            Some(p) => Some(
                lookup(all, Some(p))
                    .ok_or_else(|| format!("unbound namespace prefix `{p}`"))?
                    .to_owned(),
            ),
        };
        if attributes
            .iter()
            .any(|x: &Attribute| x.ns == ans && x.name == l)
        {
            return Err(format!("duplicate attribute `{key}`"));
        }
        attributes.push(Attribute {
            ns: ans,
            prefix: p.map(str::to_owned),
            name: l.to_owned(),
            value,
        });
    }
    let el = Element {
        ns,
        prefix: prefix.map(str::to_owned),
        name: local.to_owned(),
        attributes,
        children: Vec::new(),
        line,
        column,
    };
    Ok(el)
}

/// Serialises `root` as a complete document (XML declaration, UTF-8, LF line ends, trailing newline).
pub fn write(root: &Element) -> String {
    let mut out = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    let mut scope: Vec<(Option<String>, String)> = Vec::new();
    write_element(root, &mut out, 0, &mut scope, true);
    out.push('\n');
    out
}

fn escape_text(s: &str, out: &mut String) {
    for c in s.chars() {
        match c {
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            '\r' => out.push_str("&#xD;"),
            c => out.push(c),
        }
    }
}

fn escape_attr(s: &str, out: &mut String) {
    for c in s.chars() {
        match c {
            '<' => out.push_str("&lt;"),
            '&' => out.push_str("&amp;"),
            '"' => out.push_str("&quot;"),
            '\t' => out.push_str("&#x9;"),
            '\n' => out.push_str("&#xA;"),
            '\r' => out.push_str("&#xD;"),
            c => out.push(c),
        }
    }
}

fn bound<'a>(scope: &'a [(Option<String>, String)], prefix: Option<&str>) -> Option<&'a str> {
    scope
        .iter()
        .rev()
        .find(|(p, _)| p.as_deref() == prefix)
        .map(|(_, u)| u.as_str())
}

fn write_element(
    el: &Element,
    out: &mut String,
    depth: usize,
    scope: &mut Vec<(Option<String>, String)>,
    pretty: bool,
) {
    let mark = scope.len();
    let mut decls: Vec<(Option<String>, String)> = Vec::new();
    // The element's own name: unprefixed (default namespace) unless it was read with a prefix.
    let prefix = match (&el.ns, &el.prefix) {
        (Some(_), Some(p)) => Some(p.clone()),
        _ => None,
    };
    let want = el.ns.clone().unwrap_or_default();
    if bound(scope, prefix.as_deref()).unwrap_or("") != want {
        decls.push((prefix.clone(), want));
        scope.push(decls[decls.len() - 1].clone());
    }
    let mut attrs = String::new();
    for (i, a) in el.attributes.iter().enumerate() {
        let mut name = a.name.clone();
        if let Some(ns) = &a.ns {
            let p = if ns == XML_NS {
                "xml".to_owned()
            } else {
                let p = a.prefix.clone().unwrap_or_else(|| format!("ns{i}"));
                if bound(scope, Some(&p)) != Some(ns.as_str()) {
                    decls.push((Some(p.clone()), ns.clone()));
                    scope.push((Some(p.clone()), ns.clone()));
                }
                p
            };
            name = format!("{p}:{name}");
        }
        let _ = write!(attrs, " {name}=\"");
        escape_attr(&a.value, &mut attrs);
        attrs.push('"');
    }
    let qname = match &prefix {
        Some(p) => format!("{p}:{}", el.name),
        None => el.name.clone(),
    };
    out.push('<');
    out.push_str(&qname);
    for (p, uri) in &decls {
        match p {
            Some(p) => {
                let _ = write!(out, " xmlns:{p}=\"");
            }
            None => out.push_str(" xmlns=\""),
        }
        escape_attr(uri, out);
        out.push('"');
    }
    out.push_str(&attrs);
    let only_space = !el.has_significant_text();
    let has_elements = el.elements().next().is_some();
    if el.children.is_empty() || (only_space && !has_elements && el.text().is_empty()) {
        out.push_str("/>");
    } else if pretty && only_space && has_elements {
        out.push('>');
        for child in el.elements() {
            out.push('\n');
            out.push_str(&"  ".repeat(depth + 1));
            write_element(child, out, depth + 1, scope, true);
        }
        out.push('\n');
        out.push_str(&"  ".repeat(depth));
        let _ = write!(out, "</{qname}>");
    } else {
        // Text or mixed content is written exactly as held.
        out.push('>');
        for child in &el.children {
            match child {
                Node::Text(t) => escape_text(t, out),
                Node::Element(e) => write_element(e, out, depth + 1, scope, false),
            }
        }
        let _ = write!(out, "</{qname}>");
    }
    scope.truncate(mark);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_utf16_and_latin1() {
        let text = "<?xml version=\"1.0\" encoding=\"UTF-16\"?><a>Prévost</a>";
        let mut le = vec![0xFF, 0xFE];
        le.extend(text.encode_utf16().flat_map(u16::to_le_bytes));
        assert_eq!(parse(&le).unwrap().root.text(), "Prévost");
        let latin: Vec<u8> = "<?xml version='1.0' encoding='ISO-8859-1'?><a>Prévost</a>"
            .chars()
            .map(|c| c as u8)
            .collect();
        assert_eq!(parse(&latin).unwrap().root.text(), "Prévost");
        let err = parse(b"<?xml version='1.0' encoding='EBCDIC'?><a/>").unwrap_err();
        assert!(err.to_string().contains("EBCDIC"), "{err}");
    }

    /// Found by the `xml_reader` fuzz target: `<\r/>` was read as an element with an empty name,
    /// which the writer could not write back.
    #[test]
    fn an_element_needs_a_name() {
        for doc in ["<\r/>", "< a/>", "<1a/>", "<a 1b='x'/>", "<a\u{0}/>"] {
            assert!(parse(doc.as_bytes()).is_err(), "{doc:?} was read");
        }
        assert!(parse("<a:b-c.d_e xmlns:a='urn:x' f.g='1'/>".as_bytes()).is_ok());
        assert!(parse("<Prüfung/>".as_bytes()).is_ok());
    }

    /// Found by the `xml_reader` fuzz target: a declaration whose `encoding=` is followed by a
    /// multi-byte character instead of a quote made the reader slice inside that character.
    #[test]
    fn an_unquoted_encoding_is_an_error_not_a_panic() {
        let doc = "<?xml version=\"1.0\" encoding=\u{7a1}TF-8\" ?><a/>";
        assert!(declared_encoding(doc.as_bytes()).is_none());
        // Read as UTF-8 (the default when no encoding is named); what matters is no panic.
        let _ = parse(doc.as_bytes());
        let fuzzed = b"<?xml version=?xm#\0\0\0encoding=\xde\xa1TF-8\"\"1.0\" enco>";
        assert!(parse(fuzzed).is_err());
    }

    #[test]
    fn refuses_a_doctype_and_its_entities() {
        let doc = b"<?xml version=\"1.0\"?><!DOCTYPE a [<!ENTITY x \"boom\">]><a>&x;</a>";
        let err = parse(doc).unwrap_err();
        assert!(
            err.to_string()
                .contains("document type declarations are refused"),
            "{err}"
        );
    }

    #[test]
    fn enforces_depth_and_size_limits() {
        let deep = format!("{}{}", "<a>".repeat(70), "</a>".repeat(70));
        let err = parse(deep.as_bytes()).unwrap_err();
        assert!(
            matches!(
                err,
                Error::Limit {
                    limit: "max_depth",
                    ..
                }
            ),
            "{err}"
        );
        let small = Limits {
            max_bytes: 10,
            ..Limits::default()
        };
        let err = parse_with(b"<a>0123456789</a>", &small).unwrap_err();
        assert!(
            matches!(
                err,
                Error::Limit {
                    limit: "max_bytes",
                    ..
                }
            ),
            "{err}"
        );
    }

    #[test]
    fn resolves_namespaces_and_positions() {
        let doc = parse(b"<r xmlns='urn:a' xmlns:b='urn:b'>\n  <b:x b:k='1'>t&amp;u</b:x><y/></r>")
            .unwrap();
        let x = doc.root.child(Some("urn:b"), "x").unwrap();
        assert_eq!((x.line, x.column), (2, 3));
        assert_eq!(x.text(), "t&u");
        assert_eq!(x.attributes[0].ns.as_deref(), Some("urn:b"));
        assert!(doc.root.child(Some("urn:a"), "y").is_some());
    }

    #[test]
    fn writer_is_deterministic_and_round_trips() {
        let src = b"<r xmlns='urn:a'><x>1 &lt; 2</x><s xmlns='urn:s'><v>q</v></s><e/></r>";
        let doc = parse(src).unwrap();
        let a = write(&doc.root);
        let b = write(&parse(a.as_bytes()).unwrap().root);
        assert_eq!(a, b);
        assert!(a.contains("<s xmlns=\"urn:s\">"), "{a}");
        assert!(a.contains("<x>1 &lt; 2</x>"), "{a}");
    }
}
