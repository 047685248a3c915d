//! Canonical XML 1.0 (inclusive, W3C REC 2001-03-15) and Exclusive XML Canonicalization 1.0
//! (W3C REC 2002-07-18), for whole documents and for document subsets of the kinds XML-DSig
//! needs: a whole document minus one element (enveloped-signature transform) and one
//! element's subtree (same-document `#id` references, `SignedInfo`).
//!
//! Golden vectors produced by libxml2 (`xmllint --c14n` / `--exc-c14n`) live in
//! `tests/fixtures/c14n`.

use crate::dom::{self, Document, Node, NodeId, XML_NS};
use crate::{Limits, Result, algorithms};

/// A canonicalisation algorithm with its parameters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum C14nMethod {
    /// Canonical XML 1.0 (`http://www.w3.org/TR/2001/REC-xml-c14n-20010315`).
    Inclusive {
        /// Keep comments (`#WithComments`).
        with_comments: bool,
    },
    /// Exclusive XML Canonicalization 1.0 (`http://www.w3.org/2001/10/xml-exc-c14n#`).
    Exclusive {
        /// Keep comments (`#WithComments`).
        with_comments: bool,
        /// `InclusiveNamespaces/@PrefixList`; `#default` is stored as the empty string.
        inclusive_prefixes: Vec<String>,
    },
}

impl C14nMethod {
    /// Exclusive C14N without comments and without an inclusive prefix list.
    pub const fn exclusive() -> Self {
        Self::Exclusive {
            with_comments: false,
            inclusive_prefixes: Vec::new(),
        }
    }

    /// Inclusive C14N 1.0 without comments.
    pub const fn inclusive() -> Self {
        Self::Inclusive {
            with_comments: false,
        }
    }

    /// The algorithm for a `CanonicalizationMethod`/`Transform` URI (without parameters).
    pub fn from_uri(uri: &str) -> Option<Self> {
        Some(match uri {
            algorithms::EXC_C14N => Self::exclusive(),
            algorithms::EXC_C14N_WITH_COMMENTS => Self::Exclusive {
                with_comments: true,
                inclusive_prefixes: Vec::new(),
            },
            algorithms::C14N => Self::inclusive(),
            algorithms::C14N_WITH_COMMENTS => Self::Inclusive {
                with_comments: true,
            },
            _ => return None,
        })
    }

    fn with_comments(&self) -> bool {
        match self {
            Self::Inclusive { with_comments } | Self::Exclusive { with_comments, .. } => {
                *with_comments
            }
        }
    }

    /// The same method with comments dropped (for `URI=""` / `#id` references, whose node-sets
    /// exclude comments: XML-DSig 1.0 section 4.3.3.3).
    pub(crate) fn without_comments(&self) -> Self {
        match self {
            Self::Inclusive { .. } => Self::Inclusive {
                with_comments: false,
            },
            Self::Exclusive {
                inclusive_prefixes, ..
            } => Self::Exclusive {
                with_comments: false,
                inclusive_prefixes: inclusive_prefixes.clone(),
            },
        }
    }
}

/// Canonicalises a whole document.
///
/// ```
/// let out = dsig::canonicalize(br#"<a b="1" a="2"/>"#, &dsig::C14nMethod::exclusive()).unwrap();
/// assert_eq!(out, br#"<a a="2" b="1"></a>"#);
/// ```
pub fn canonicalize(xml: &[u8], method: &C14nMethod) -> Result<Vec<u8>> {
    let doc = dom::parse(xml, &Limits::default())?;
    Ok(canonicalize_doc(&doc, None, None, method))
}

/// Canonicalises the whole document (`apex = None`) or the subtree rooted at `apex`, leaving out
/// the subtree rooted at `exclude` (enveloped-signature transform).
pub(crate) fn canonicalize_doc(
    doc: &Document,
    apex: Option<NodeId>,
    exclude: Option<NodeId>,
    method: &C14nMethod,
) -> Vec<u8> {
    let mut w = Writer {
        doc,
        method,
        exclude,
        out: Vec::with_capacity(4096),
        rendered: Vec::new(),
        inscope: Vec::new(),
    };
    match apex {
        None => {
            let mut after_root = false;
            for &id in &doc.top {
                match doc.nodes.get(id) {
                    Some(Node::Element(_)) => {
                        w.element(id, false);
                        after_root = true;
                    }
                    Some(Node::Comment(_) | Node::Pi { .. }) => {
                        if matches!(doc.nodes.get(id), Some(Node::Comment(_)))
                            && !method.with_comments()
                        {
                            continue;
                        }
                        // C14N 1.0 section 2.3: a line feed separates document-level nodes from the root.
                        if after_root {
                            w.out.push(b'\n');
                        }
                        w.node(id);
                        if !after_root {
                            w.out.push(b'\n');
                        }
                    }
                    _ => {}
                }
            }
        }
        Some(apex) => {
            // Namespace context from the ancestors (the ancestors themselves are not output).
            for anc in doc.ancestors(apex) {
                if let Some(e) = doc.element(anc) {
                    w.inscope
                        .extend(e.ns_decls.iter().map(|(p, u)| (p.as_str(), &**u)));
                }
            }
            w.element(apex, true);
        }
    }
    w.out
}

struct Writer<'a> {
    doc: &'a Document,
    method: &'a C14nMethod,
    exclude: Option<NodeId>,
    out: Vec<u8>,
    /// Namespace declarations emitted by output ancestors: (prefix, uri).
    rendered: Vec<(&'a str, &'a str)>,
    /// In-scope namespace bindings: (prefix, uri), innermost last.
    inscope: Vec<(&'a str, &'a str)>,
}

fn lookup<'v>(list: &[(&'v str, &'v str)], prefix: &str) -> Option<&'v str> {
    list.iter()
        .rev()
        .find(|(p, _)| *p == prefix)
        .map(|(_, u)| *u)
}

impl<'a> Writer<'a> {
    fn node(&mut self, id: NodeId) {
        if Some(id) == self.exclude {
            return;
        }
        match self.doc.nodes.get(id) {
            Some(Node::Element(_)) => self.element(id, false),
            Some(Node::Text(t)) => escape_text(&mut self.out, t),
            Some(Node::Comment(c)) if self.method.with_comments() => {
                self.out.extend_from_slice(b"<!--");
                self.out.extend_from_slice(c.as_bytes());
                self.out.extend_from_slice(b"-->");
            }
            Some(Node::Comment(_)) => {}
            Some(Node::Pi { target, data }) => {
                self.out.extend_from_slice(b"<?");
                self.out.extend_from_slice(target.as_bytes());
                if !data.is_empty() {
                    self.out.push(b' ');
                    self.out.extend_from_slice(data.as_bytes());
                }
                self.out.extend_from_slice(b"?>");
            }
            None => {}
        }
    }

    fn element(&mut self, id: NodeId, is_apex: bool) {
        let Some(e) = self.doc.element(id) else {
            return;
        };
        let rendered_mark = self.rendered.len();
        let inscope_mark = self.inscope.len();
        self.inscope
            .extend(e.ns_decls.iter().map(|(p, u)| (p.as_str(), &**u)));

        // Namespace nodes to consider, as (prefix, uri) with the innermost binding.
        let mut candidates: Vec<(&'a str, &'a str)> = Vec::new();
        let consider = |p: &'a str,
                        inscope: &[(&'a str, &'a str)],
                        candidates: &mut Vec<(&'a str, &'a str)>| {
            if p == "xml" || candidates.iter().any(|(q, _)| *q == p) {
                return;
            }
            let uri = lookup(inscope, p).unwrap_or("");
            // A non-default prefix with no binding cannot occur in a parsed document.
            if !p.is_empty() && uri.is_empty() {
                return;
            }
            candidates.push((p, uri));
        };
        match self.method {
            C14nMethod::Inclusive { .. } => {
                for &(p, _) in self.inscope.iter().rev() {
                    consider(p, &self.inscope, &mut candidates);
                }
            }
            C14nMethod::Exclusive {
                inclusive_prefixes, ..
            } => {
                // Visibly utilised prefixes (exc-c14n section 3): the element's own and those of
                // its attributes (an unprefixed attribute uses no namespace).
                consider(e.prefix(), &self.inscope, &mut candidates);
                for a in &e.attrs {
                    if !a.prefix().is_empty() {
                        consider(a.prefix(), &self.inscope, &mut candidates);
                    }
                }
                // InclusiveNamespaces PrefixList: treated as in inclusive C14N, but only when bound.
                for p in inclusive_prefixes {
                    if p.is_empty() || lookup(&self.inscope, p).is_some() {
                        consider(p, &self.inscope, &mut candidates);
                    }
                }
            }
        }
        let mut decls: Vec<(&'a str, &'a str)> = Vec::new();
        for (p, u) in candidates {
            let current = lookup(&self.rendered, p);
            let emit = if p.is_empty() && u.is_empty() {
                // xmlns="" only undoes a non-empty default rendered by an output ancestor.
                matches!(current, Some(c) if !c.is_empty())
            } else {
                current != Some(u)
            };
            if emit {
                decls.push((p, u));
            }
        }
        decls.sort_by(|a, b| a.0.cmp(b.0));

        // Attributes, sorted by (namespace URI, local name); unqualified ones (empty URI) first.
        let mut attrs: Vec<(&str, &str, &str, &str)> = e
            .attrs
            .iter()
            .map(|a| (a.ns(), a.local(), a.qname.as_str(), a.value.as_str()))
            .collect();
        let mut inherited: Vec<(String, String)> = Vec::new();
        if is_apex && matches!(self.method, C14nMethod::Inclusive { .. }) {
            // C14N 1.0 section 2.4: an apex whose parent is not in the node-set inherits the
            // xml:* attributes of its ancestors (nearest wins).
            for anc in self.doc.ancestors(id).into_iter().rev() {
                if let Some(ae) = self.doc.element(anc) {
                    for a in &ae.attrs {
                        if a.ns() == XML_NS
                            && !e
                                .attrs
                                .iter()
                                .any(|x| x.ns() == XML_NS && x.local() == a.local())
                            && !inherited.iter().any(|(l, _)| l == a.local())
                        {
                            inherited.push((a.local().to_owned(), a.value.clone()));
                        }
                    }
                }
            }
        }
        let inherited_q: Vec<(String, &str, &str)> = inherited
            .iter()
            .map(|(l, v)| (format!("xml:{l}"), l.as_str(), v.as_str()))
            .collect();
        for (q, l, v) in &inherited_q {
            attrs.push((XML_NS, l, q.as_str(), v));
        }
        attrs.sort_by(|a, b| (a.0, a.1).cmp(&(b.0, b.1)));

        self.out.push(b'<');
        self.out.extend_from_slice(e.qname.as_bytes());
        for &(p, u) in &decls {
            if p.is_empty() {
                self.out.extend_from_slice(b" xmlns=\"");
            } else {
                self.out.extend_from_slice(b" xmlns:");
                self.out.extend_from_slice(p.as_bytes());
                self.out.extend_from_slice(b"=\"");
            }
            escape_attr(&mut self.out, u);
            self.out.push(b'"');
        }
        for (_, _, q, v) in &attrs {
            self.out.push(b' ');
            self.out.extend_from_slice(q.as_bytes());
            self.out.extend_from_slice(b"=\"");
            escape_attr(&mut self.out, v);
            self.out.push(b'"');
        }
        self.out.push(b'>');
        self.rendered.extend(decls);
        for &c in &e.children {
            self.node(c);
        }
        self.out.extend_from_slice(b"</");
        self.out.extend_from_slice(e.qname.as_bytes());
        self.out.push(b'>');
        self.rendered.truncate(rendered_mark);
        self.inscope.truncate(inscope_mark);
    }
}

/// Appends `s`, replacing the bytes `escape` maps; runs of other bytes are copied at once.
fn escape_with(out: &mut Vec<u8>, s: &str, escape: fn(u8) -> Option<&'static [u8]>) {
    let bytes = s.as_bytes();
    let mut start = 0;
    for (i, &b) in bytes.iter().enumerate() {
        if let Some(rep) = escape(b) {
            out.extend_from_slice(&bytes[start..i]);
            out.extend_from_slice(rep);
            start = i + 1;
        }
    }
    out.extend_from_slice(&bytes[start..]);
}

/// C14N 1.0 section 2.3, text nodes.
fn escape_text(out: &mut Vec<u8>, s: &str) {
    escape_with(out, s, |b| match b {
        b'&' => Some(b"&amp;"),
        b'<' => Some(b"&lt;"),
        b'>' => Some(b"&gt;"),
        b'\r' => Some(b"&#xD;"),
        _ => None,
    });
}

/// C14N 1.0 section 2.3, attribute nodes.
fn escape_attr(out: &mut Vec<u8>, s: &str) {
    escape_with(out, s, |b| match b {
        b'&' => Some(b"&amp;"),
        b'<' => Some(b"&lt;"),
        b'"' => Some(b"&quot;"),
        b'\t' => Some(b"&#x9;"),
        b'\n' => Some(b"&#xA;"),
        b'\r' => Some(b"&#xD;"),
        _ => None,
    });
}

/// Parses an `InclusiveNamespaces/@PrefixList` value.
pub(crate) fn parse_prefix_list(list: &str) -> Vec<String> {
    list.split_ascii_whitespace()
        .map(|p| {
            if p == "#default" {
                String::new()
            } else {
                p.to_owned()
            }
        })
        .collect()
}
