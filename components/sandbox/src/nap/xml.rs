//! What the NAP reads from a submitted file: a streaming pass over hostile XML that checks the
//! envelope the VCA checks (well-formed, IVI 2.0 root, one vehicle, a signature present) and
//! extracts the duplicate key (VIN, `IviVersionNumber`, `ManufacturerStageNumber`).
//!
//! It is deliberately not a schema validator: the VCA runs its own. DTDs are refused outright (so
//! no entity can be declared, let alone expanded), depth and element count are bounded.

use quick_xml::NsReader;
use quick_xml::events::Event;
use quick_xml::name::{Namespace, ResolveResult};

/// IVI 2.0 namespace (`ivi-2.0.xsd` `targetNamespace`) and XML-DSig namespace (the `Signature`
/// the XSD references as `sig:Signature`), as the IVI library defines them.
pub use ivi::{DSIG_NS, IVI_NS};

/// Bounds on a submitted document.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct XmlLimits {
    /// Deepest element nesting accepted (the IVI XSD needs about 8; signatures about 10).
    pub max_depth: usize,
    /// Most elements accepted in one document.
    pub max_elements: usize,
}

/// Default depth bound.
pub const DEFAULT_MAX_DEPTH: usize = 64;
/// Default element-count bound (a large specimen has about 700 elements).
pub const DEFAULT_MAX_ELEMENTS: usize = 50_000;

impl Default for XmlLimits {
    fn default() -> Self {
        Self {
            max_depth: DEFAULT_MAX_DEPTH,
            max_elements: DEFAULT_MAX_ELEMENTS,
        }
    }
}

/// What the NAP learned from an accepted envelope.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Envelope {
    /// `CocDataGroup/VehicleIdentificationNumber`.
    pub vin: String,
    /// `Header/IviVersionNumber`.
    pub version: u32,
    /// The highest `CocDataGroup/ManufacturerTable/ManufacturerGroup/ManufacturerStageNumber`:
    /// the stage this file certifies (a later stage may repeat earlier stages' groups).
    pub stage: u32,
    /// `Header/IviReferenceId`, when present.
    pub reference_id: Option<String>,
    /// `CocDataGroup/TypeApprovalNumber`, when present (failure reasons name it).
    pub approval_number: Option<String>,
}

/// Why a document was refused: an error code for the JSON answer and a human reason.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refused {
    /// `malformed_xml`, `dtd_refused`, `limit_exceeded`, `not_ivi`, `multiple_vehicles`,
    /// `signature_missing`, `missing_field` or `invalid_field`.
    pub code: &'static str,
    /// Names the element or limit at fault.
    pub message: String,
}

impl Refused {
    fn new(code: &'static str, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
        }
    }

    /// `true` for refusals of the XML itself (400), `false` for refusals of its content (422).
    pub fn is_syntax(&self) -> bool {
        matches!(
            self.code,
            "malformed_xml" | "dtd_refused" | "limit_exceeded"
        )
    }
}

/// Where a text node sits, for the few fields the NAP reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Field {
    Vin,
    Version,
    Stage,
    ReferenceId,
    Approval,
}

/// Checks the envelope of `bytes` and extracts its key.
///
/// # Errors
/// A [`Refused`] naming the rule and the element.
pub fn inspect(bytes: &[u8], limits: XmlLimits) -> Result<Envelope, Refused> {
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    let text = std::str::from_utf8(bytes).map_err(|e| {
        Refused::new(
            "malformed_xml",
            format!(
                "the file is not UTF-8 (invalid byte at offset {})",
                e.valid_up_to()
            ),
        )
    })?;
    let mut reader = NsReader::from_str(text);
    reader.config_mut().check_end_names = true;
    reader.config_mut().check_comments = true;

    // Local names of the open elements, each flagged when it is in the IVI namespace.
    let mut stack: Vec<(bool, String)> = Vec::new();
    let mut elements = 0usize;
    let mut roots = 0usize;
    let mut coc_groups = 0usize;
    let mut signatures = 0usize;
    let mut headers = 0usize;
    let mut vins: Vec<String> = Vec::new();
    let mut versions: Vec<String> = Vec::new();
    let mut stages: Vec<String> = Vec::new();
    let mut reference_id = None;
    let mut approval = None;
    let mut current: Option<(Field, String)> = None;

    let malformed =
        |pos: u64, what: String| Refused::new("malformed_xml", format!("{what} (near byte {pos})"));

    loop {
        let pos = reader.buffer_position();
        let (resolved, event) = reader
            .read_resolved_event()
            .map_err(|e| malformed(pos, format!("not well-formed XML: {e}")))?;
        match event {
            Event::DocType(_) => {
                return Err(Refused::new(
                    "dtd_refused",
                    "document type declarations (DTD) and entity declarations are refused",
                ));
            }
            Event::Start(ref start) | Event::Empty(ref start) => {
                for attribute in start.attributes() {
                    let attribute =
                        attribute.map_err(|e| malformed(pos, format!("bad attribute: {e}")))?;
                    check_attribute_value(&attribute.value).map_err(|(code, why)| {
                        Refused::new(
                            code,
                            format!(
                                "attribute {} {why}",
                                String::from_utf8_lossy(attribute.key.as_ref())
                            ),
                        )
                    })?;
                }
                elements += 1;
                if elements > limits.max_elements {
                    return Err(Refused::new(
                        "limit_exceeded",
                        format!("more than {} elements (max_elements)", limits.max_elements),
                    ));
                }
                if stack.len() >= limits.max_depth {
                    return Err(Refused::new(
                        "limit_exceeded",
                        format!(
                            "elements nested deeper than {} (max_depth)",
                            limits.max_depth
                        ),
                    ));
                }
                let namespace = match resolved {
                    ResolveResult::Bound(Namespace(ns)) => Some(ns),
                    ResolveResult::Unbound => None,
                    ResolveResult::Unknown(prefix) => {
                        return Err(malformed(
                            pos,
                            format!(
                                "undeclared namespace prefix {:?}",
                                String::from_utf8_lossy(&prefix)
                            ),
                        ));
                    }
                };
                let local = String::from_utf8_lossy(start.local_name().as_ref()).into_owned();
                let in_ivi = namespace == Some(IVI_NS.as_bytes());
                let in_dsig = namespace == Some(DSIG_NS.as_bytes());
                if stack.is_empty() {
                    roots += 1;
                    if roots > 1 {
                        return Err(Refused::new(
                            "multiple_vehicles",
                            "more than one root element: one vehicle (one InitialVehicleInformation) per file",
                        ));
                    }
                    if !(in_ivi && local == "InitialVehicleInformation") {
                        let ns = namespace
                            .map(|n| String::from_utf8_lossy(n).into_owned())
                            .unwrap_or_default();
                        return Err(Refused::new(
                            "not_ivi",
                            format!(
                                "root element is {{{ns}}}{local}, expected InitialVehicleInformation in namespace {IVI_NS}"
                            ),
                        ));
                    }
                }
                let parent: Vec<&str> = stack
                    .iter()
                    .map(|(ivi, name)| if *ivi { name.as_str() } else { "" })
                    .collect();
                let field = match (parent.as_slice(), local.as_str(), in_ivi, in_dsig) {
                    (["InitialVehicleInformation"], "CocDataGroup", true, _) => {
                        coc_groups += 1;
                        None
                    }
                    (["InitialVehicleInformation"], "Header", true, _) => {
                        headers += 1;
                        None
                    }
                    (["InitialVehicleInformation"], "Signature", _, true) => {
                        signatures += 1;
                        None
                    }
                    (
                        ["InitialVehicleInformation", "CocDataGroup"],
                        "VehicleIdentificationNumber",
                        true,
                        _,
                    ) => Some(Field::Vin),
                    (
                        ["InitialVehicleInformation", "CocDataGroup"],
                        "TypeApprovalNumber",
                        true,
                        _,
                    ) => Some(Field::Approval),
                    (["InitialVehicleInformation", "Header"], "IviVersionNumber", true, _) => {
                        Some(Field::Version)
                    }
                    (["InitialVehicleInformation", "Header"], "IviReferenceId", true, _) => {
                        Some(Field::ReferenceId)
                    }
                    (
                        [
                            "InitialVehicleInformation",
                            "CocDataGroup",
                            "ManufacturerTable",
                            "ManufacturerGroup",
                        ],
                        "ManufacturerStageNumber",
                        true,
                        _,
                    ) => Some(Field::Stage),
                    _ => None,
                };
                if matches!(event, Event::Start(_)) {
                    stack.push((in_ivi, local));
                    current = field.map(|f| (f, String::new()));
                } else if let Some(f) = field {
                    // An empty element: its value is the empty string.
                    record(
                        f,
                        String::new(),
                        &mut vins,
                        &mut versions,
                        &mut stages,
                        &mut reference_id,
                        &mut approval,
                    );
                }
            }
            Event::End(_) => {
                stack.pop();
                if let Some((f, value)) = current.take() {
                    record(
                        f,
                        value,
                        &mut vins,
                        &mut versions,
                        &mut stages,
                        &mut reference_id,
                        &mut approval,
                    );
                }
            }
            Event::Text(t) => {
                let decoded = t
                    .xml_content()
                    .map_err(|e| malformed(pos, format!("bad text: {e}")))?;
                if stack.is_empty() && !decoded.trim().is_empty() {
                    return Err(malformed(pos, "text outside the root element".into()));
                }
                if let Some((_, value)) = current.as_mut() {
                    value.push_str(&decoded);
                }
            }
            Event::CData(c) => {
                if stack.is_empty() {
                    return Err(malformed(pos, "CDATA outside the root element".into()));
                }
                let decoded = c
                    .xml_content()
                    .map_err(|e| malformed(pos, format!("bad CDATA: {e}")))?;
                if let Some((_, value)) = current.as_mut() {
                    value.push_str(&decoded);
                }
            }
            Event::GeneralRef(r) => {
                let c = if r.is_char_ref() {
                    r.resolve_char_ref()
                        .map_err(|e| malformed(pos, format!("bad character reference: {e}")))?
                } else {
                    let name = r
                        .decode()
                        .map_err(|e| malformed(pos, format!("bad reference: {e}")))?;
                    match name.as_ref() {
                        "lt" => Some('<'),
                        "gt" => Some('>'),
                        "amp" => Some('&'),
                        "apos" => Some('\''),
                        "quot" => Some('"'),
                        other => {
                            return Err(Refused::new(
                                "dtd_refused",
                                format!(
                                    "entity reference &{other}; is refused (no DTD, no entities)"
                                ),
                            ));
                        }
                    }
                };
                let Some(c) = c else {
                    return Err(malformed(pos, "invalid character reference".into()));
                };
                if stack.is_empty() {
                    return Err(malformed(pos, "reference outside the root element".into()));
                }
                if let Some((_, value)) = current.as_mut() {
                    value.push(c);
                }
            }
            Event::Decl(decl) => {
                if let Some(Ok(encoding)) = decl.encoding() {
                    let encoding = String::from_utf8_lossy(&encoding).to_ascii_lowercase();
                    if encoding != "utf-8" && encoding != "utf8" {
                        return Err(Refused::new(
                            "malformed_xml",
                            format!("encoding {encoding:?} is refused: send UTF-8"),
                        ));
                    }
                }
            }
            Event::Comment(_) | Event::PI(_) => {}
            Event::Eof => break,
        }
    }
    if !stack.is_empty() {
        return Err(Refused::new(
            "malformed_xml",
            format!(
                "the file ends inside element {}",
                stack.last().map_or("", |(_, n)| n.as_str())
            ),
        ));
    }
    if roots == 0 {
        return Err(Refused::new("malformed_xml", "no root element"));
    }
    match coc_groups {
        0 => {
            return Err(Refused::new(
                "missing_field",
                "CocDataGroup is missing: the file describes no vehicle",
            ));
        }
        1 => {}
        n => {
            return Err(Refused::new(
                "multiple_vehicles",
                format!("{n} CocDataGroup elements: one vehicle per file"),
            ));
        }
    }
    if headers != 1 {
        return Err(Refused::new(
            if headers == 0 {
                "missing_field"
            } else {
                "invalid_field"
            },
            format!("{headers} Header elements: exactly one is required"),
        ));
    }
    match signatures {
        0 => {
            return Err(Refused::new(
                "signature_missing",
                format!(
                    "no Signature element ({{{DSIG_NS}}}Signature) under InitialVehicleInformation: the file must be signed"
                ),
            ));
        }
        1 => {}
        n => {
            return Err(Refused::new(
                "invalid_field",
                format!(
                    "{n} Signature elements under InitialVehicleInformation: exactly one is required"
                ),
            ));
        }
    }
    if vins.len() > 1 {
        return Err(Refused::new(
            "multiple_vehicles",
            format!(
                "{} VehicleIdentificationNumber elements in CocDataGroup: one vehicle per file",
                vins.len()
            ),
        ));
    }
    let vin = single(vins, "CocDataGroup/VehicleIdentificationNumber")?;
    if vin.len() != 17
        || !vin.bytes().all(|b| {
            b.is_ascii_digit() || (b.is_ascii_uppercase() && !matches!(b, b'I' | b'O' | b'Q'))
        })
    {
        return Err(Refused::new(
            "invalid_field",
            format!("VehicleIdentificationNumber {vin:?} is not 17 characters of [A-HJ-NPR-Z0-9]"),
        ));
    }
    let version_text = single(versions, "Header/IviVersionNumber")?;
    let version = positive(&version_text, "IviVersionNumber")?;
    if stages.is_empty() {
        return Err(Refused::new(
            "missing_field",
            "CocDataGroup/ManufacturerTable/ManufacturerGroup/ManufacturerStageNumber is missing",
        ));
    }
    let mut stage = 0;
    for s in &stages {
        stage = stage.max(positive(s, "ManufacturerStageNumber")?);
    }
    Ok(Envelope {
        vin,
        version,
        stage,
        reference_id: reference_id.map(|r: String| r.trim().to_owned()),
        approval_number: approval.map(|a: String| a.trim().to_owned()),
    })
}

/// An attribute value may hold only the five predefined entity references and character
/// references (no DTD declares any other), and no `<` (XML 1.0 section 3.1, `AttValue`).
fn check_attribute_value(raw: &[u8]) -> Result<(), (&'static str, String)> {
    let mut rest = raw;
    while let Some(at) = rest.iter().position(|&b| b == b'&' || b == b'<') {
        if rest[at] == b'<' {
            return Err(("malformed_xml", "contains a raw '<'".into()));
        }
        let after = &rest[at + 1..];
        let Some(end) = after.iter().position(|&b| b == b';') else {
            return Err(("malformed_xml", "has an unterminated reference".into()));
        };
        let name = &after[..end];
        let ok = match name {
            b"lt" | b"gt" | b"amp" | b"apos" | b"quot" => true,
            [b'#', b'x', hex @ ..] => {
                !hex.is_empty()
                    && hex.iter().all(u8::is_ascii_hexdigit)
                    && std::str::from_utf8(hex)
                        .ok()
                        .and_then(|h| u32::from_str_radix(h, 16).ok())
                        .and_then(char::from_u32)
                        .is_some()
            }
            [b'#', dec @ ..] => {
                !dec.is_empty()
                    && dec.iter().all(u8::is_ascii_digit)
                    && std::str::from_utf8(dec)
                        .ok()
                        .and_then(|d| d.parse::<u32>().ok())
                        .and_then(char::from_u32)
                        .is_some()
            }
            _ => {
                return Err((
                    "dtd_refused",
                    format!(
                        "has the entity reference &{}; (no DTD, no entities)",
                        String::from_utf8_lossy(name)
                    ),
                ));
            }
        };
        if !ok {
            return Err(("malformed_xml", "has an invalid character reference".into()));
        }
        rest = &after[end + 1..];
    }
    Ok(())
}

fn record(
    field: Field,
    value: String,
    vins: &mut Vec<String>,
    versions: &mut Vec<String>,
    stages: &mut Vec<String>,
    reference_id: &mut Option<String>,
    approval: &mut Option<String>,
) {
    match field {
        Field::Vin => vins.push(value),
        Field::Version => versions.push(value),
        Field::Stage => stages.push(value),
        Field::ReferenceId => *reference_id = Some(value),
        Field::Approval => *approval = Some(value),
    }
}

/// The one value of a field that must occur exactly once, trimmed (xs:token-like whitespace).
fn single(values: Vec<String>, path: &str) -> Result<String, Refused> {
    let count = values.len();
    let mut values = values.into_iter();
    match (values.next(), count) {
        (Some(v), 1) if !v.trim().is_empty() => Ok(v.trim().to_owned()),
        (Some(_), 1) => Err(Refused::new("missing_field", format!("{path} is empty"))),
        (None, _) => Err(Refused::new("missing_field", format!("{path} is missing"))),
        (Some(_), n) => Err(Refused::new(
            "invalid_field",
            format!("{path} occurs {n} times: exactly once is required"),
        )),
    }
}

/// A positive integer field (`IviVersionNumber`, `ManufacturerStageNumber`).
fn positive(text: &str, name: &str) -> Result<u32, Refused> {
    let trimmed = text.trim();
    match trimmed.parse::<u32>() {
        Ok(n) if n >= 1 && trimmed.bytes().all(|b| b.is_ascii_digit()) => Ok(n),
        _ => Err(Refused::new(
            "invalid_field",
            format!("{name} {trimmed:?} is not a positive integer"),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn doc(header: &str, coc: &str, tail: &str) -> String {
        format!(
            r#"<?xml version="1.0" encoding="UTF-8"?>
<InitialVehicleInformation xmlns="{IVI_NS}">
<Header><IviReferenceId>r</IviReferenceId>{header}</Header>
<CocDataGroup>{coc}</CocDataGroup>{tail}
</InitialVehicleInformation>"#
        )
    }

    const COC: &str = "<VehicleIdentificationNumber>WVWZZZ1JZXW000001</VehicleIdentificationNumber>\
        <TypeApprovalNumber>e4*2018/858*00123*01</TypeApprovalNumber>\
        <ManufacturerTable><ManufacturerGroup><ManufacturerStageNumber>1</ManufacturerStageNumber></ManufacturerGroup>\
        <ManufacturerGroup><ManufacturerStageNumber>2</ManufacturerStageNumber></ManufacturerGroup></ManufacturerTable>";
    const SIG: &str = r#"<ds:Signature xmlns:ds="http://www.w3.org/2000/09/xmldsig#"><ds:SignedInfo/></ds:Signature>"#;

    #[test]
    fn extracts_the_key() {
        let xml = doc("<IviVersionNumber>3</IviVersionNumber>", COC, SIG);
        let e = inspect(xml.as_bytes(), XmlLimits::default()).unwrap();
        assert_eq!(e.vin, "WVWZZZ1JZXW000001");
        assert_eq!((e.version, e.stage), (3, 2));
        assert_eq!(e.approval_number.as_deref(), Some("e4*2018/858*00123*01"));
    }

    #[test]
    fn refusals_name_the_rule() {
        let limits = XmlLimits::default();
        let v = "<IviVersionNumber>1</IviVersionNumber>";
        let code = |xml: &str| inspect(xml.as_bytes(), limits).unwrap_err().code;
        assert_eq!(code(&doc(v, COC, "")), "signature_missing");
        assert_eq!(
            code(&doc(
                v,
                COC,
                &format!("<CocDataGroup>{COC}</CocDataGroup>{SIG}")
            )),
            "multiple_vehicles"
        );
        assert_eq!(code(&doc("", COC, SIG)), "missing_field");
        assert_eq!(
            code(&doc("<IviVersionNumber>0</IviVersionNumber>", COC, SIG)),
            "invalid_field"
        );
        assert_eq!(
            code(&doc(
                v,
                &COC.replace("WVWZZZ1JZXW000001", "WVWZZZ1JZXW00000I"),
                SIG
            )),
            "invalid_field"
        );
        assert_eq!(
            code(&doc(v, COC, SIG).replace(IVI_NS, "urn:other")),
            "not_ivi"
        );
        assert_eq!(
            code("<!DOCTYPE x [<!ENTITY a 'b'>]><x>&a;</x>"),
            "dtd_refused"
        );
        assert_eq!(
            code(&doc(v, COC, SIG).replace("<Header>", "<Header>&xxe;")),
            "dtd_refused"
        );
        assert_eq!(
            code(&doc(v, COC, SIG).replace("</CocDataGroup>", "")),
            "malformed_xml"
        );
        let two = format!(
            "{}{}",
            doc(v, COC, SIG),
            doc(v, COC, SIG).replace(r#"<?xml version="1.0" encoding="UTF-8"?>"#, "")
        );
        assert_eq!(code(&two), "multiple_vehicles");
        let attr =
            |value: &str| doc(v, COC, SIG).replace("<Header>", &format!("<Header a=\"{value}\">"));
        assert_eq!(code(&attr("&ext;")), "dtd_refused");
        assert_eq!(code(&attr("a<b")), "malformed_xml");
        assert_eq!(code(&attr("&#xD800;")), "malformed_xml");
        assert!(inspect(attr("&amp;&#65;&#x42;").as_bytes(), limits).is_ok());
        let deep = format!("{}{}", "<a>".repeat(100), "</a>".repeat(100));
        let deep = doc(v, COC, &format!("{SIG}<x>{deep}</x>"));
        assert_eq!(code(&deep), "limit_exceeded");
    }
}
