//! The typed IVI 2.0 model.
//!
//! Each struct is one `xs:all` group of the official schema, named as the schema names it, with one field
//! per child element (snake case). Mandatory children are plain fields, optional ones `Option`, tables
//! (`...Table`, an `xs:sequence` of one repeated group) `Vec`s of their group. Children the model does not
//! name — groups outside the ones listed in the crate docs, or anything unexpected — are kept verbatim in
//! each group's `other`, so a read followed by a write loses nothing.
//!
//! Each group also keeps, in its [`Lexical`], the lexical forms it read that are not the canonical form
//! of their value (`01` for `IviVersionNumber` 1, `2024-06-18+02:00` for a date with a time zone), and
//! writes them back while the field holds the value read: see [`Value`] (and the module docs of
//! `values.rs`) for the forms read and why.
//!
//! `Default` exists to make building easy: a default code is the list's first value and a default text
//! is empty, which validation reports, so a forgotten mandatory field never passes unnoticed.

mod codes;
mod groups;
mod values;

pub use codes::*;
pub use groups::*;
pub use values::{Date, DateTime, Decimal, Value};

use crate::xml::{self, Element, Node};
use crate::{Error, Result};

/// Namespace of IVI 2.0 documents.
pub const IVI_NS: &str = "http://eu.ereg.initialvehicleinformation.v2";
/// Namespace of XML-DSig (the `Signature` element).
pub const DSIG_NS: &str = "http://www.w3.org/2000/09/xmldsig#";

/// A group of the schema (an `xs:all` complex type) that maps to and from an element.
pub trait Group: Sized {
    /// The element (and type) name in the official schema.
    const NAME: &'static str;
    /// Reads the group from `el`; `path` names `el` in error messages.
    fn read(el: &Element, path: &str) -> Result<Self>;
    /// Writes the group as an element named `name`.
    fn write_as(&self, name: &str) -> Element;
}

pub(crate) fn ivi_text(name: &str, text: String) -> Element {
    Element::with_text(Some(IVI_NS), name, text)
}

/// Lexical forms a group read that are not the canonical form of their value (what
/// [`Value::format`] gives): `01` for `IviVersionNumber` 1, `2024-06-18+02:00` for a date, `-0` for 0.
/// The group writes such a form back instead of the canonical one while its field still holds the
/// value read, so a read -> write keeps each value as the file wrote it (less the white space around
/// it, which `whiteSpace="collapse"` does not count as part of the value); a field set to another
/// value is written in canonical form. Empty for a group built in memory or read from canonical text.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Lexical(Vec<LexicalForm>);

#[derive(Debug, Clone, PartialEq, Eq)]
struct LexicalForm {
    element: &'static str,
    canonical: String,
    text: String,
}

impl Lexical {
    /// The form read for child `element`, when it was not the canonical one.
    pub fn get(&self, element: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|f| f.element == element)
            .map(|f| f.text.as_str())
    }

    /// Whether every value was read in canonical form (or the group was built in memory).
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Forgets the forms read: the group then writes canonical forms only.
    pub fn clear(&mut self) {
        self.0.clear();
    }

    /// The text to write for `element` holding the value whose canonical form is `canonical`.
    pub(crate) fn text_for(&self, element: &str, canonical: String) -> String {
        match self
            .0
            .iter()
            .find(|f| f.element == element && f.canonical == canonical)
        {
            Some(f) => f.text.clone(),
            None => canonical,
        }
    }
}

/// Reads the simple value of `el` (a child `element` of a group): `None` when it has attributes or
/// child elements, or its text is not a lexical form of `T`. A non-canonical form is kept in `lexical`.
pub(crate) fn read_value<T: Value>(
    el: &Element,
    element: &'static str,
    lexical: &mut Lexical,
) -> Option<T> {
    let text = simple_text(el)?;
    let value = T::parse(&text)?;
    let canonical = value.format();
    if canonical != text {
        let form = values::collapse(&text);
        if canonical != form {
            lexical.0.push(LexicalForm {
                element,
                canonical,
                text: form.to_owned(),
            });
        }
    }
    Some(value)
}

/// The first child of `parent` named `element` in the IVI namespace.
fn ivi_child<'a>(parent: &'a Element, element: &str) -> Option<&'a Element> {
    parent
        .elements()
        .find(|c| c.ns.as_deref() == Some(IVI_NS) && c.name == element)
}

/// Why the mandatory simple child `element` of `parent` (at `path`) gave no value: it is absent
/// ([`Error::Missing`]), or present and not a `T` ([`Error::Unreadable`], naming its text). A present
/// element is never reported missing.
pub(crate) fn value_error<T: Value>(parent: &Element, path: &str, element: &str) -> Error {
    let path = format!("{path}/{element}");
    match ivi_child(parent, element) {
        None => Error::Missing { path },
        Some(el) => Error::Unreadable {
            path,
            value: el.text(),
            expected: if simple_text(el).is_some() {
                T::KIND.to_owned()
            } else {
                format!("{} (it has attributes or child elements)", T::KIND)
            },
        },
    }
}

/// Why the mandatory table `element` of `parent` (at `path`) gave no `G` groups: it is absent, or
/// holds something else (named in the error).
pub(crate) fn table_error<G: Group>(parent: &Element, path: &str, element: &str) -> Error {
    let path = format!("{path}/{element}");
    match ivi_child(parent, element) {
        None => Error::Missing { path },
        Some(el) => Error::Unreadable {
            path,
            value: el
                .elements()
                .find(|c| c.ns.as_deref() != Some(IVI_NS) || c.name != G::NAME)
                .map_or_else(|| el.text().trim().to_owned(), |c| format!("<{}>", c.name)),
            expected: format!("a table of {} groups", G::NAME),
        },
    }
}

/// Reads a table: an element holding only repeated `G` groups. `None` when it holds anything else, in
/// which case the caller keeps the whole table verbatim.
pub(crate) fn read_table<G: Group>(el: &Element, path: &str) -> Result<Option<Vec<G>>> {
    if el
        .children
        .iter()
        .any(|n| matches!(n, Node::Text(t) if !t.trim().is_empty()))
    {
        return Ok(None);
    }
    let mut items = Vec::new();
    for (i, child) in el.elements().enumerate() {
        if child.ns.as_deref() != Some(IVI_NS) || child.name != G::NAME {
            return Ok(None);
        }
        items.push(G::read(child, &format!("{path}/{}[{}]", G::NAME, i + 1))?);
    }
    Ok(Some(items))
}

pub(crate) fn write_table<G: Group>(name: &str, items: &[G]) -> Element {
    let mut el = Element::new(Some(IVI_NS), name);
    for g in items {
        el.children.push(Node::Element(g.write_as(G::NAME)));
    }
    el
}

/// Whether an element can be read as a plain value: text only, no attributes.
pub(crate) fn simple_text(el: &Element) -> Option<String> {
    if el.attributes.is_empty() && el.elements().next().is_none() {
        Some(el.text())
    } else {
        None
    }
}

macro_rules! field_ty {
    (one $t:ty) => { $t };
    (opt $t:ty) => { Option<$t> };
    (grp $t:ty) => { Option<$t> };
    (tab $t:ty) => { Vec<$t> };
    (otab $t:ty) => { Option<Vec<$t>> };
}

macro_rules! slot_ty {
    (one $t:ty) => { $t };
    (opt $t:ty) => { $t };
    (grp $t:ty) => { $t };
    (tab $t:ty) => { Vec<$t> };
    (otab $t:ty) => { Vec<$t> };
}

macro_rules! read_field {
    (one, $t:ty, $el:expr, $path:expr, $slot:expr, $xml:expr, $lexical:expr) => {
        match {
            let _ = $path;
            $crate::model::read_value::<$t>($el, $xml, $lexical)
        } {
            Some(v) => {
                $slot = Some(v);
                true
            }
            None => false,
        }
    };
    (opt, $t:ty, $el:expr, $path:expr, $slot:expr, $xml:expr, $lexical:expr) => {
        read_field!(one, $t, $el, $path, $slot, $xml, $lexical)
    };
    (grp, $t:ty, $el:expr, $path:expr, $slot:expr, $xml:expr, $lexical:expr) => {{
        $slot = Some(<$t as Group>::read($el, $path)?);
        true
    }};
    (tab, $t:ty, $el:expr, $path:expr, $slot:expr, $xml:expr, $lexical:expr) => {
        match read_table::<$t>($el, $path)? {
            Some(v) => {
                $slot = Some(v);
                true
            }
            None => false,
        }
    };
    (otab, $t:ty, $el:expr, $path:expr, $slot:expr, $xml:expr, $lexical:expr) => {
        read_field!(tab, $t, $el, $path, $slot, $xml, $lexical)
    };
}

macro_rules! finish_field {
    (one, $t:ty, $slot:expr, $el:expr, $path:expr, $xml:expr) => {
        $slot.ok_or_else(|| $crate::model::value_error::<$t>($el, $path, $xml))?
    };
    (tab, $t:ty, $slot:expr, $el:expr, $path:expr, $xml:expr) => {
        $slot.ok_or_else(|| $crate::model::table_error::<$t>($el, $path, $xml))?
    };
    (opt, $t:ty, $slot:expr, $el:expr, $path:expr, $xml:expr) => {
        $slot
    };
    (grp, $t:ty, $slot:expr, $el:expr, $path:expr, $xml:expr) => {
        $slot
    };
    (otab, $t:ty, $slot:expr, $el:expr, $path:expr, $xml:expr) => {
        $slot
    };
}

macro_rules! write_field {
    (one, $v:expr, $xml:expr, $out:expr, $lexical:expr) => {
        $out.push(ivi_text($xml, $lexical.text_for($xml, Value::format($v))))
    };
    (opt, $v:expr, $xml:expr, $out:expr, $lexical:expr) => {
        if let Some(v) = $v {
            $out.push(ivi_text($xml, $lexical.text_for($xml, Value::format(v))))
        }
    };
    (grp, $v:expr, $xml:expr, $out:expr, $lexical:expr) => {
        if let Some(v) = $v {
            $out.push(Group::write_as(v, $xml))
        }
    };
    (tab, $v:expr, $xml:expr, $out:expr, $lexical:expr) => {
        $out.push(write_table($xml, $v))
    };
    (otab, $v:expr, $xml:expr, $out:expr, $lexical:expr) => {
        if let Some(v) = $v {
            $out.push(write_table($xml, v))
        }
    };
}

macro_rules! group {
    ($(#[$m:meta])* $name:ident { $( $field:ident : $kind:ident $t:ty = $xml:literal ),* $(,)? }) => {
        $(#[$m])*
        #[derive(Debug, Clone, PartialEq, Eq, Default)]
        pub struct $name {
            $(
                #[doc = concat!("`", $xml, "`.")]
                pub $field: field_ty!($kind $t),
            )*
            /// Children this model does not name, kept verbatim.
            pub other: Vec<Element>,
            /// Non-canonical lexical forms read, written back while their value is unchanged.
            pub lexical: $crate::model::Lexical,
        }

        impl Group for $name {
            const NAME: &'static str = stringify!($name);

            fn read(el: &Element, path: &str) -> Result<Self> {
                $( let mut $field: Option<slot_ty!($kind $t)> = None; )*
                let mut other = Vec::new();
                let mut lexical = $crate::model::Lexical::default();
                for child in el.elements() {
                    let taken = if child.ns.as_deref() != Some(IVI_NS) {
                        false
                    } else {
                        match child.name.as_str() {
                            $( $xml if $field.is_none() => {
                                let p = format!("{}/{}", path, $xml);
                                read_field!($kind, $t, child, &p, $field, $xml, &mut lexical)
                            } )*
                            _ => false,
                        }
                    };
                    if !taken {
                        other.push(child.clone());
                    }
                }
                Ok(Self {
                    $( $field: finish_field!($kind, $t, $field, el, path, $xml), )*
                    other,
                    lexical,
                })
            }

            fn write_as(&self, name: &str) -> Element {
                let mut children: Vec<Element> = Vec::with_capacity(8);
                $( write_field!($kind, &self.$field, $xml, children, self.lexical); )*
                children.extend(self.other.iter().cloned());
                let mut el = Element::new(Some(IVI_NS), name);
                el.children = children.into_iter().map(Node::Element).collect();
                el
            }
        }
    };
}

macro_rules! code_list {
    ($(#[$m:meta])* $name:ident { $( $(#[$vm:meta])* $variant:ident = $code:literal ),* $(,)? }) => {
        $(#[$m])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, serde::Serialize, serde::Deserialize)]
        pub enum $name {
            #[default]
            $(
                #[doc = concat!("`", $code, "`")]
                #[serde(rename = $code)]
                $variant,
            )*
        }

        impl $name {
            /// Every code of the list, in schema order.
            pub const ALL: &'static [Self] = &[$(Self::$variant),*];

            /// The code as written in IVI XML.
            pub fn as_str(self) -> &'static str {
                match self { $(Self::$variant => $code),* }
            }
        }

        impl std::str::FromStr for $name {
            type Err = Error;
            fn from_str(s: &str) -> Result<Self> {
                match s {
                    $($code => Ok(Self::$variant),)*
                    other => Err(Error::Code { list: stringify!($name), value: other.to_owned() }),
                }
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl Value for $name {
            const KIND: &'static str = concat!("a code of ", stringify!($name));
            fn parse(s: &str) -> Option<Self> { s.parse().ok() }
            fn format(&self) -> String { self.as_str().to_owned() }
        }
    };
}

pub(crate) use {code_list, field_ty, finish_field, group, read_field, slot_ty, write_field};

/// The VCA's duplicate key: VIN + `IviVersionNumber` + `ManufacturerStageNumber` (a second file with
/// the same key is refused; a correction bumps the version).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
pub struct DuplicateKey {
    /// `VehicleIdentificationNumber`.
    pub vin: String,
    /// `IviVersionNumber`.
    pub version: u32,
    /// `ManufacturerStageNumber` of this file's stage.
    pub stage: u32,
}

impl std::fmt::Display for DuplicateKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/v{}/stage{}", self.vin, self.version, self.stage)
    }
}

/// A whole IVI 2.0 document: one vehicle at one stage.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Ivi {
    /// `Header`.
    pub header: Header,
    /// `CocDataGroup`.
    pub coc: CocDataGroup,
    /// The XML-DSig `Signature` element, kept verbatim (`None` before signing).
    pub signature: Option<Element>,
    /// Other children of the root, kept verbatim.
    pub other: Vec<Element>,
}

impl Ivi {
    /// Reads a document from bytes (bounded, DTDs refused: see [`xml::Limits`]).
    pub fn from_xml(bytes: &[u8]) -> Result<Self> {
        Self::from_element(&xml::parse(bytes)?.root)
    }

    /// Reads a document from its root element.
    pub fn from_element(root: &Element) -> Result<Self> {
        if root.ns.as_deref() != Some(IVI_NS) || root.name != "InitialVehicleInformation" {
            return Err(Error::Root {
                found: format!("{{{}}}{}", root.ns.as_deref().unwrap_or(""), root.name),
            });
        }
        let path = "/InitialVehicleInformation";
        let (mut header, mut coc, mut signature, mut other) = (None, None, None, Vec::new());
        for child in root.elements() {
            match (child.ns.as_deref(), child.name.as_str()) {
                (Some(IVI_NS), "Header") if header.is_none() => {
                    header = Some(Header::read(child, &format!("{path}/Header"))?);
                }
                (Some(IVI_NS), "CocDataGroup") if coc.is_none() => {
                    coc = Some(CocDataGroup::read(child, &format!("{path}/CocDataGroup"))?);
                }
                (Some(DSIG_NS), "Signature") if signature.is_none() => {
                    signature = Some(child.clone())
                }
                _ => other.push(child.clone()),
            }
        }
        Ok(Self {
            header: header.ok_or_else(|| Error::Missing {
                path: format!("{path}/Header"),
            })?,
            coc: coc.ok_or_else(|| Error::Missing {
                path: format!("{path}/CocDataGroup"),
            })?,
            signature,
            other,
        })
    }

    /// The document as an element tree.
    pub fn to_element(&self) -> Element {
        let mut root = Element::new(Some(IVI_NS), "InitialVehicleInformation");
        root.children
            .push(Node::Element(self.header.write_as("Header")));
        root.children
            .push(Node::Element(self.coc.write_as("CocDataGroup")));
        if let Some(sig) = &self.signature {
            root.children.push(Node::Element(sig.clone()));
        }
        root.children
            .extend(self.other.iter().cloned().map(Node::Element));
        root
    }

    /// Deterministic XML: the same model always gives the same bytes. Fields are written in schema order,
    /// kept-verbatim children after them.
    pub fn to_xml(&self) -> String {
        xml::write(&self.to_element())
    }

    /// The VCA's duplicate key of this file: VIN + `IviVersionNumber` + stage. A second submission with
    /// the same key is refused before signing; a correction bumps the version.
    pub fn duplicate_key(&self) -> DuplicateKey {
        DuplicateKey {
            vin: self.coc.vehicle_identification_number.clone(),
            version: self.header.ivi_version_number,
            stage: self.stage().unwrap_or(1),
        }
    }

    /// The stage this document describes (`ManufacturerStageNumber` of the last manufacturer group).
    pub fn stage(&self) -> Option<u32> {
        self.coc
            .manufacturer_table
            .iter()
            .map(|m| m.manufacturer_stage_number)
            .max()
    }
}
