//! A small, strict, namespace-aware XML tree over quick-xml.
//!
//! C14N and signature processing need the XPath data model (namespace scopes, attribute
//! values after normalisation, parents), which a streaming reader does not give; this tree
//! keeps exactly that, plus byte spans into the source so the signer can splice text without
//! re-serialising the caller's document.

use std::rc::Rc;

use quick_xml::events::{BytesStart, Event};
use quick_xml::reader::Reader;

use crate::{Error, Result};

/// The XML namespace, bound to `xml` by definition.
pub(crate) const XML_NS: &str = "http://www.w3.org/XML/1998/namespace";

/// Limits applied while reading any XML document. Every limit has a name and a default.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Largest accepted document in bytes (default 4 MiB; the VCA accepts files below 1 MB).
    pub max_bytes: usize,
    /// Deepest element nesting (default 64).
    pub max_depth: usize,
    /// Most nodes (elements, texts, comments, PIs) in one document (default 200 000).
    pub max_nodes: usize,
    /// Most attributes, namespace declarations included, on one element (default 64).
    pub max_attributes: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_bytes: 4 * 1024 * 1024,
            max_depth: 64,
            max_nodes: 200_000,
            max_attributes: 64,
        }
    }
}

pub(crate) type NodeId = usize;

#[derive(Debug)]
pub(crate) enum Node {
    Element(Element),
    Text(String),
    Comment(String),
    Pi { target: String, data: String },
}

#[derive(Debug)]
pub(crate) struct Attr {
    pub qname: String,
    /// Length of the prefix in `qname` (0 when unprefixed).
    prefix_len: usize,
    ns_uri: Rc<str>,
    pub value: String,
}

impl Attr {
    pub fn prefix(&self) -> &str {
        &self.qname[..self.prefix_len]
    }

    pub fn local(&self) -> &str {
        local_of(&self.qname, self.prefix_len)
    }

    pub fn ns(&self) -> &str {
        &self.ns_uri
    }
}

fn local_of(qname: &str, prefix_len: usize) -> &str {
    if prefix_len == 0 {
        qname
    } else {
        &qname[prefix_len + 1..]
    }
}

#[derive(Debug)]
pub(crate) struct Element {
    pub qname: String,
    /// Length of the prefix in `qname` (0 when unprefixed).
    prefix_len: usize,
    ns_uri: Rc<str>,
    /// Namespace declarations made on this element: (prefix or "" for default, URI).
    pub ns_decls: Vec<(String, Rc<str>)>,
    pub attrs: Vec<Attr>,
    pub children: Vec<NodeId>,
    pub parent: Option<NodeId>,
    /// Byte range of the whole element (start tag to end of end tag).
    pub start: usize,
    pub end: usize,
    /// Byte offset where the end tag starts (`end` for an empty-element tag).
    pub end_tag_start: usize,
    pub self_closing: bool,
}

impl Element {
    pub fn prefix(&self) -> &str {
        &self.qname[..self.prefix_len]
    }

    pub fn local(&self) -> &str {
        local_of(&self.qname, self.prefix_len)
    }

    pub fn ns(&self) -> &str {
        &self.ns_uri
    }
}

#[derive(Debug)]
pub(crate) struct Document {
    pub nodes: Vec<Node>,
    /// Document-level children in order (comments, PIs and the root element).
    pub top: Vec<NodeId>,
    pub root: NodeId,
}

impl Document {
    pub fn element(&self, id: NodeId) -> Option<&Element> {
        match self.nodes.get(id) {
            Some(Node::Element(e)) => Some(e),
            _ => None,
        }
    }

    /// Child elements of `id`, in document order.
    pub fn child_elements(&self, id: NodeId) -> impl Iterator<Item = (NodeId, &Element)> + '_ {
        self.element(id)
            .map(|e| e.children.as_slice())
            .unwrap_or_default()
            .iter()
            .filter_map(move |&c| self.element(c).map(|e| (c, e)))
    }

    /// Concatenated text of the direct text children of `id`.
    pub fn text(&self, id: NodeId) -> String {
        let mut out = String::new();
        if let Some(e) = self.element(id) {
            for &c in &e.children {
                if let Some(Node::Text(t)) = self.nodes.get(c) {
                    out.push_str(t);
                }
            }
        }
        out
    }

    /// Every element in document order (pre-order).
    pub fn descendants(&self, id: NodeId) -> Vec<NodeId> {
        let mut out = Vec::new();
        let mut stack = vec![id];
        while let Some(n) = stack.pop() {
            if let Some(e) = self.element(n) {
                out.push(n);
                stack.extend(e.children.iter().rev().copied());
            }
        }
        out
    }

    /// Is `anc` an ancestor-or-self of `id`?
    pub fn is_ancestor_or_self(&self, anc: NodeId, id: NodeId) -> bool {
        let mut cur = Some(id);
        while let Some(c) = cur {
            if c == anc {
                return true;
            }
            cur = self.element(c).and_then(|e| e.parent);
        }
        false
    }

    /// Ancestors of `id` from the root down to the parent (exclusive of `id`).
    pub fn ancestors(&self, id: NodeId) -> Vec<NodeId> {
        let mut out = Vec::new();
        let mut cur = self.element(id).and_then(|e| e.parent);
        while let Some(c) = cur {
            out.push(c);
            cur = self.element(c).and_then(|e| e.parent);
        }
        out.reverse();
        out
    }
}

/// XML 1.0 (fifth edition) `NameStartChar`.
fn is_name_start(c: char) -> bool {
    matches!(c,
        ':' | 'A'..='Z' | '_' | 'a'..='z' | '\u{C0}'..='\u{D6}' | '\u{D8}'..='\u{F6}'
        | '\u{F8}'..='\u{2FF}' | '\u{370}'..='\u{37D}' | '\u{37F}'..='\u{1FFF}'
        | '\u{200C}'..='\u{200D}' | '\u{2070}'..='\u{218F}' | '\u{2C00}'..='\u{2FEF}'
        | '\u{3001}'..='\u{D7FF}' | '\u{F900}'..='\u{FDCF}' | '\u{FDF0}'..='\u{FFFD}'
        | '\u{10000}'..='\u{EFFFF}')
}

/// XML 1.0 `Name`: a `NameStartChar`, then `NameChar`s. quick-xml does not check names, and a
/// name such as `a/` would not survive canonicalisation.
fn is_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars.next().is_some_and(is_name_start)
        && chars.all(|c| {
            is_name_start(c)
                || matches!(c, '-' | '.' | '0'..='9' | '\u{B7}' | '\u{300}'..='\u{36F}' | '\u{203F}'..='\u{2040}')
        })
}

fn xml_err(position: u64, reason: impl Into<String>) -> Error {
    Error::Xml {
        position,
        reason: reason.into(),
    }
}

/// XML 1.0 `Char` production.
fn is_xml_char(c: char) -> bool {
    matches!(c, '\u{9}' | '\u{A}' | '\u{D}' | '\u{20}'..='\u{D7FF}' | '\u{E000}'..='\u{FFFD}' | '\u{10000}'..='\u{10FFFF}')
}

/// Resolves one reference name (between `&` and `;`): the five predefined entities and
/// character references. Anything else would need a DTD, which is refused.
fn resolve_ref(name: &str, pos: u64) -> Result<char> {
    let c = match name {
        "lt" => '<',
        "gt" => '>',
        "amp" => '&',
        "apos" => '\'',
        "quot" => '"',
        _ => {
            let num = name
                .strip_prefix('#')
                .ok_or_else(|| Error::Refused(format!("undeclared entity reference &{name};")))?;
            let code = if let Some(hex) = num.strip_prefix('x') {
                u32::from_str_radix(hex, 16)
            } else {
                num.parse::<u32>()
            }
            .map_err(|_| xml_err(pos, format!("bad character reference &{name};")))?;
            let c = char::from_u32(code)
                .filter(|c| is_xml_char(*c))
                .ok_or_else(|| {
                    xml_err(
                        pos,
                        format!("character reference &{name}; is not an xml char"),
                    )
                })?;
            return Ok(c);
        }
    };
    Ok(c)
}

/// XML 1.0 section 2.11: CRLF and lone CR become LF before anything else.
fn normalize_eol(raw: &str) -> std::borrow::Cow<'_, str> {
    if !raw.contains('\r') {
        return std::borrow::Cow::Borrowed(raw);
    }
    let mut out = String::with_capacity(raw.len());
    let mut rest = raw;
    while let Some(i) = rest.find('\r') {
        out.push_str(&rest[..i]);
        out.push('\n');
        rest = &rest[i + 1..];
        if let Some(r) = rest.strip_prefix('\n') {
            rest = r;
        }
    }
    out.push_str(rest);
    std::borrow::Cow::Owned(out)
}

/// Attribute-value normalisation for CDATA attributes (XML 1.0 section 3.3.3; no DTD, so
/// every attribute is CDATA): literal whitespace becomes a space, references are resolved.
fn normalize_attr(raw: &str, pos: u64) -> Result<String> {
    let raw = normalize_eol(raw);
    let mut out = String::with_capacity(raw.len());
    let mut rest: &str = &raw;
    while let Some(i) = rest.find(['&', '\t', '\n', '<']) {
        out.push_str(&rest[..i]);
        let c = rest.as_bytes()[i];
        match c {
            b'&' => {
                let end = rest[i..]
                    .find(';')
                    .ok_or_else(|| xml_err(pos, "unterminated reference in attribute value"))?;
                out.push(resolve_ref(&rest[i + 1..i + end], pos)?);
                rest = &rest[i + end + 1..];
            }
            b'<' => return Err(xml_err(pos, "'<' in attribute value")),
            _ => {
                out.push(' ');
                rest = &rest[i + 1..];
            }
        }
    }
    out.push_str(rest);
    check_chars(&out, pos)?;
    Ok(out)
}

fn check_chars(s: &str, pos: u64) -> Result<()> {
    if let Some(c) = s.chars().find(|c| !is_xml_char(*c)) {
        return Err(xml_err(
            pos,
            format!("character U+{:04X} is not allowed in xml", c as u32),
        ));
    }
    Ok(())
}

fn utf8(bytes: &[u8], pos: u64) -> Result<&str> {
    std::str::from_utf8(bytes).map_err(|_| xml_err(pos, "not utf-8"))
}

fn split_qname(q: &str) -> (&str, &str) {
    match q.split_once(':') {
        Some((p, l)) => (p, l),
        None => ("", q),
    }
}

struct Builder {
    nodes: Vec<Node>,
    top: Vec<NodeId>,
    root: Option<NodeId>,
    /// Open elements.
    stack: Vec<NodeId>,
    /// Namespace scopes: (prefix, uri), with the length of this list at each open element.
    scopes: Vec<(String, Rc<str>)>,
    scope_marks: Vec<usize>,
    limits: Limits,
    empty: Rc<str>,
    xml_ns: Rc<str>,
}

impl Builder {
    fn lookup(&self, prefix: &str) -> Option<Rc<str>> {
        if prefix == "xml" {
            return Some(self.xml_ns.clone());
        }
        self.scopes
            .iter()
            .rev()
            .find(|(p, _)| p == prefix)
            .map(|(_, u)| u.clone())
    }

    fn push_node(&mut self, node: Node) -> Result<NodeId> {
        if self.nodes.len() >= self.limits.max_nodes {
            return Err(Error::Limit {
                limit: "max_nodes",
                max: self.limits.max_nodes,
            });
        }
        let id = self.nodes.len();
        self.nodes.push(node);
        match self.stack.last() {
            Some(&parent) => {
                if let Some(Node::Element(p)) = self.nodes.get_mut(parent) {
                    p.children.push(id);
                }
            }
            None => self.top.push(id),
        }
        Ok(id)
    }

    fn text(&mut self, s: &str) -> Result<()> {
        if s.is_empty() {
            return Ok(());
        }
        if self.stack.is_empty() {
            if s.chars().all(|c| matches!(c, ' ' | '\t' | '\n' | '\r')) {
                return Ok(());
            }
            return Err(xml_err(0, "text outside the root element"));
        }
        // Merge adjacent text (text, references and CDATA form one XPath text node).
        if let Some(&parent) = self.stack.last() {
            let last = match self.nodes.get(parent) {
                Some(Node::Element(p)) => p.children.last().copied(),
                _ => None,
            };
            if let Some(last) = last
                && let Some(Node::Text(t)) = self.nodes.get_mut(last)
            {
                t.push_str(s);
                return Ok(());
            }
        }
        self.push_node(Node::Text(s.to_owned()))?;
        Ok(())
    }

    fn start(&mut self, e: &BytesStart<'_>, start: usize, end: usize, empty: bool) -> Result<()> {
        let pos = start as u64;
        if self.stack.is_empty() && self.root.is_some() {
            return Err(xml_err(pos, "second root element"));
        }
        if self.stack.len() >= self.limits.max_depth {
            return Err(Error::Limit {
                limit: "max_depth",
                max: self.limits.max_depth,
            });
        }
        let qname = utf8(e.name().as_ref(), pos)?.to_owned();
        if !is_name(&qname) {
            return Err(xml_err(pos, format!("{qname:?} is not an element name")));
        }
        let mut ns_decls: Vec<(String, Rc<str>)> = Vec::new();
        let mut raw_attrs: Vec<(String, String)> = Vec::new();
        let mut attrs_iter = e.attributes();
        attrs_iter.with_checks(true);
        for a in attrs_iter {
            let a = a.map_err(|err| xml_err(pos, format!("attribute: {err}")))?;
            if ns_decls.len() + raw_attrs.len() >= self.limits.max_attributes {
                return Err(Error::Limit {
                    limit: "max_attributes",
                    max: self.limits.max_attributes,
                });
            }
            let key = utf8(a.key.as_ref(), pos)?.to_owned();
            if !is_name(&key) {
                return Err(xml_err(pos, format!("{key:?} is not an attribute name")));
            }
            let value = normalize_attr(utf8(&a.value, pos)?, pos)?;
            if key == "xmlns" {
                ns_decls.push((String::new(), Rc::from(value)));
            } else if let Some(p) = key.strip_prefix("xmlns:") {
                if value.is_empty() {
                    return Err(xml_err(
                        pos,
                        format!("prefix {p} undeclared with xmlns:{p}=\"\""),
                    ));
                }
                if p == "xmlns"
                    || (p == "xml" && value != XML_NS)
                    || (p != "xml" && value == XML_NS)
                {
                    return Err(xml_err(pos, format!("illegal binding of prefix {p}")));
                }
                ns_decls.push((p.to_owned(), Rc::from(value)));
            } else {
                raw_attrs.push((key, value));
            }
        }
        self.scope_marks.push(self.scopes.len());
        for (p, u) in &ns_decls {
            if p != "xml" {
                self.scopes.push((p.clone(), u.clone()));
            }
        }
        let (prefix, _) = split_qname(&qname);
        let prefix_len = prefix.len();
        let ns = match self.lookup(prefix) {
            Some(u) => u,
            None if prefix.is_empty() => self.empty.clone(),
            None => {
                return Err(xml_err(
                    pos,
                    format!("unbound prefix {prefix} on element {qname}"),
                ));
            }
        };
        let mut attrs: Vec<Attr> = Vec::with_capacity(raw_attrs.len());
        for (key, value) in raw_attrs {
            let (p, l) = split_qname(&key);
            let ans = if p.is_empty() {
                self.empty.clone()
            } else {
                self.lookup(p)
                    .ok_or_else(|| xml_err(pos, format!("unbound prefix {p} on attribute {key}")))?
            };
            if attrs.iter().any(|x| *x.ns_uri == *ans && x.local() == l) {
                return Err(xml_err(pos, format!("duplicate attribute {key}")));
            }
            let prefix_len = p.len();
            attrs.push(Attr {
                prefix_len,
                ns_uri: ans,
                qname: key,
                value,
            });
        }
        let element = Element {
            prefix_len,
            qname,
            ns_uri: ns,
            ns_decls,
            attrs,
            children: Vec::new(),
            parent: self.stack.last().copied(),
            start,
            end,
            end_tag_start: end,
            self_closing: empty,
        };
        let id = self.push_node(Node::Element(element))?;
        if self.stack.is_empty() {
            self.root = Some(id);
        }
        if empty {
            self.close_scope();
        } else {
            self.stack.push(id);
        }
        Ok(())
    }

    fn close_scope(&mut self) {
        if let Some(m) = self.scope_marks.pop() {
            self.scopes.truncate(m);
        }
    }
}

/// Parses `xml` into a [`Document`], refusing DTDs, non-UTF-8 encodings and anything over `limits`.
pub(crate) fn parse(xml: &[u8], limits: &Limits) -> Result<Document> {
    if xml.len() > limits.max_bytes {
        return Err(Error::Limit {
            limit: "max_bytes",
            max: limits.max_bytes,
        });
    }
    let (xml, bom) = match xml.strip_prefix(b"\xEF\xBB\xBF") {
        Some(rest) => (rest, 3usize),
        None => (xml, 0),
    };
    let text = std::str::from_utf8(xml)
        .map_err(|e| xml_err((e.valid_up_to() + bom) as u64, "not utf-8"))?;
    let mut reader = Reader::from_str(text);
    let cfg = reader.config_mut();
    cfg.check_end_names = true;
    cfg.check_comments = true;
    cfg.expand_empty_elements = false;
    cfg.trim_text(false);

    let mut b = Builder {
        // Roughly one node per 24 bytes of markup in IVI documents: avoids regrowing.
        nodes: Vec::with_capacity(text.len() / 24 + 8),
        top: Vec::new(),
        root: None,
        stack: Vec::new(),
        scopes: Vec::new(),
        scope_marks: Vec::new(),
        limits: *limits,
        empty: Rc::from(""),
        xml_ns: Rc::from(XML_NS),
    };
    let mut seen_decl = false;
    loop {
        let before = reader.buffer_position() as usize;
        let ev = reader
            .read_event()
            .map_err(|e| xml_err(reader.error_position() + bom as u64, e.to_string()))?;
        let after = reader.buffer_position() as usize;
        let pos = (before + bom) as u64;
        match ev {
            Event::Decl(d) => {
                if seen_decl || before != 0 {
                    return Err(xml_err(pos, "xml declaration not at the start"));
                }
                seen_decl = true;
                if let Some(enc) = d.encoding() {
                    let enc = enc.map_err(|e| xml_err(pos, e.to_string()))?;
                    let enc = utf8(&enc, pos)?.to_ascii_lowercase();
                    if enc != "utf-8" && enc != "utf8" {
                        return Err(Error::Refused(format!(
                            "encoding {enc}; only utf-8 is accepted"
                        )));
                    }
                }
            }
            Event::DocType(_) => {
                return Err(Error::Refused("document type declaration (dtd)".into()));
            }
            Event::Start(e) => b.start(&e, before + bom, after + bom, false)?,
            Event::Empty(e) => b.start(&e, before + bom, after + bom, true)?,
            Event::End(_) => {
                let id = b
                    .stack
                    .pop()
                    .ok_or_else(|| xml_err(pos, "unmatched end tag"))?;
                if let Some(Node::Element(el)) = b.nodes.get_mut(id) {
                    el.end = after + bom;
                    el.end_tag_start = before + bom;
                }
                b.close_scope();
            }
            Event::Text(t) => {
                let s = utf8(&t, pos)?;
                if s.contains(']') && s.contains("]]>") {
                    return Err(xml_err(pos, "']]>' in text"));
                }
                let s = normalize_eol(s);
                check_chars(&s, pos)?;
                b.text(&s)?;
            }
            Event::CData(t) => {
                if b.stack.is_empty() {
                    return Err(xml_err(pos, "cdata outside the root element"));
                }
                let s = normalize_eol(utf8(&t, pos)?).into_owned();
                check_chars(&s, pos)?;
                b.text(&s)?;
            }
            Event::GeneralRef(r) => {
                if b.stack.is_empty() {
                    return Err(xml_err(pos, "reference outside the root element"));
                }
                let name = utf8(&r, pos)?;
                let c = resolve_ref(name, pos)?;
                let mut buf = [0u8; 4];
                b.text(c.encode_utf8(&mut buf))?;
            }
            Event::Comment(t) => {
                let s = normalize_eol(utf8(&t, pos)?).into_owned();
                check_chars(&s, pos)?;
                b.push_node(Node::Comment(s))?;
            }
            Event::PI(p) => {
                let target = utf8(p.target(), pos)?.to_owned();
                if target.eq_ignore_ascii_case("xml") {
                    return Err(xml_err(pos, "misplaced xml declaration"));
                }
                let data = normalize_eol(utf8(p.content(), pos)?.trim_start()).into_owned();
                b.push_node(Node::Pi { target, data })?;
            }
            Event::Eof => break,
        }
    }
    if !b.stack.is_empty() {
        return Err(xml_err(
            text.len() as u64,
            "unclosed element at end of document",
        ));
    }
    let root = b.root.ok_or_else(|| xml_err(0, "no root element"))?;
    Ok(Document {
        nodes: b.nodes,
        top: b.top,
        root,
    })
}
