//! The strict verifier: what ecoc checks before it submits a signed eCoC.
//!
//! Accepted shape (anything else is refused, with the reason):
//! - exactly one `ds:Signature` in the whole document, a child of the root element;
//! - `SignedInfo`, `SignatureValue`, `KeyInfo` with the signing certificate first, then `Object`s;
//! - exactly one whole-document reference (`URI=""`) whose first transform is
//!   enveloped-signature, optionally followed by one C14N transform;
//! - other references only as `#id` pointing inside this signature (XAdES `SignedProperties`,
//!   `KeyInfo`); every `Id` in the document is unique;
//! - SHA-256 digests, RSA-SHA256 or ECDSA-SHA256 (raw r||s) signature values;
//! - the signing certificate valid at the verification time (and at the XAdES `SigningTime`),
//!   with keyUsage digitalSignature or nonRepudiation, chained to a given trust anchor.
//!
//! References are checked before the signature value, as XML-DSig core validation orders it.

use std::time::{Duration, SystemTime};

use base64ct::{Base64, Encoding};
use sha2::{Digest, Sha256};

use crate::algorithms::{self, DSIG_NS, EXC_C14N, XADES_NS, XADES_SIGNED_PROPERTIES_TYPE};
use crate::c14n::{C14nMethod, canonicalize_doc, parse_prefix_list};
use crate::dom::{self, Document, Element, NodeId};
use crate::keys::SignatureAlgorithm;
use crate::sign::{Profile, signature_elements};
use crate::x509::{Certificate, VerifyCache, validate_chain};
use crate::{Error, Limits, Result};

/// How much a XAdES `SigningTime` may lie in the future of the verification time.
pub const MAX_CLOCK_SKEW: Duration = Duration::from_secs(300);
/// Most references accepted in one `SignedInfo`.
pub const MAX_REFERENCES: usize = 8;

/// What the verifier trusts and when it checks.
#[derive(Debug, Clone, Default)]
pub struct VerifyOptions {
    /// Trust anchors (root or issuing CA certificates). Without any, every signature is refused.
    pub trust_anchors: Vec<Certificate>,
    /// Verification time; `None` means now.
    pub at: Option<SystemTime>,
    /// Reader limits.
    pub limits: Limits,
    /// Certificate links and keys already worked out by this value or its clones (see
    /// [`VerifyCache`]).
    pub cache: VerifyCache,
}

/// What a successful verification found.
#[derive(Debug, Clone)]
pub struct VerifiedSignature {
    /// `xades` when signed properties are present, else `xmldsig`.
    pub profile: Profile,
    /// Signature algorithm.
    pub algorithm: SignatureAlgorithm,
    /// The signing certificate.
    pub signer: Certificate,
    /// The validated path, leaf first, trust anchor last.
    pub chain: Vec<Certificate>,
    /// XAdES `SigningTime`, if any.
    pub signing_time: Option<SystemTime>,
    /// The verified reference URIs, in order.
    pub references: Vec<String>,
}

fn structure(msg: impl Into<String>) -> Error {
    Error::Structure(msg.into())
}

fn is_ds(e: &Element, local: &str) -> bool {
    e.ns() == DSIG_NS && e.local() == local
}

fn attr<'e>(e: &'e Element, name: &str) -> Option<&'e str> {
    e.attrs
        .iter()
        .find(|a| a.ns().is_empty() && a.local() == name)
        .map(|a| a.value.as_str())
}

fn decode_b64(text: &str, what: &str) -> Result<Vec<u8>> {
    let compact: String = text.chars().filter(|c| !c.is_ascii_whitespace()).collect();
    Base64::decode_vec(&compact).map_err(|_| Error::Base64(what.to_owned()))
}

/// One `Transform`'s effect.
enum Step {
    Enveloped,
    C14n(C14nMethod),
}

fn c14n_of(doc: &Document, id: NodeId, attr_name: &str) -> Result<C14nMethod> {
    let e = doc
        .element(id)
        .ok_or_else(|| structure("missing element"))?;
    let uri =
        attr(e, attr_name).ok_or_else(|| structure(format!("{} without Algorithm", e.local())))?;
    let mut method =
        C14nMethod::from_uri(uri).ok_or_else(|| Error::UnsupportedAlgorithm(uri.to_owned()))?;
    if let C14nMethod::Exclusive {
        inclusive_prefixes, ..
    } = &mut method
    {
        for (_, child) in doc.child_elements(id) {
            if child.ns() == EXC_C14N && child.local() == "InclusiveNamespaces" {
                *inclusive_prefixes = parse_prefix_list(attr(child, "PrefixList").unwrap_or(""));
            }
        }
    }
    Ok(method)
}

/// Verifies the one enveloped signature of `xml`.
pub fn verify(xml: &[u8], opts: &VerifyOptions) -> Result<VerifiedSignature> {
    let doc = dom::parse(xml, &opts.limits)?;
    let now = opts.at.unwrap_or_else(SystemTime::now);

    // Wrapping defences: one signature, where the profile puts it.
    let sigs = signature_elements(&doc);
    let sig = match sigs.as_slice() {
        [] => return Err(structure("no ds:Signature element")),
        [one] => *one,
        many => {
            return Err(structure(format!(
                "{} ds:Signature elements, exactly one is accepted",
                many.len()
            )));
        }
    };
    let sig_el = doc.element(sig).ok_or_else(|| structure("signature"))?;
    if sig_el.parent != Some(doc.root) {
        return Err(structure("ds:Signature is not a child of the root element"));
    }
    // Unique Ids across the document: a duplicate is how wrapping attacks redirect references.
    let mut ids: Vec<(&str, NodeId)> = Vec::new();
    for id in doc.descendants(doc.root) {
        if let Some(v) = doc.element(id).and_then(|e| attr(e, "Id")) {
            if ids.iter().any(|(x, _)| *x == v) {
                return Err(structure(format!("duplicate Id \"{v}\"")));
            }
            ids.push((v, id));
        }
    }

    let children: Vec<(NodeId, &Element)> = doc.child_elements(sig).collect();
    let mut it = children.iter().peekable();
    let (si, _) = it
        .next()
        .filter(|(_, e)| is_ds(e, "SignedInfo"))
        .ok_or_else(|| structure("first child of ds:Signature is not ds:SignedInfo"))?;
    let (sv, _) = it
        .next()
        .filter(|(_, e)| is_ds(e, "SignatureValue"))
        .ok_or_else(|| structure("ds:SignatureValue does not follow ds:SignedInfo"))?;
    let key_info = it.next_if(|(_, e)| is_ds(e, "KeyInfo")).map(|(id, _)| *id);
    let mut objects = Vec::new();
    for (id, e) in it {
        if !is_ds(e, "Object") {
            return Err(structure(format!(
                "unexpected element {} in ds:Signature",
                e.qname
            )));
        }
        objects.push(*id);
    }

    // SignedInfo.
    let si_children: Vec<(NodeId, &Element)> = doc.child_elements(*si).collect();
    let [(cm, cm_el), (sm, _), refs @ ..] = si_children.as_slice() else {
        return Err(structure(
            "ds:SignedInfo lacks CanonicalizationMethod or SignatureMethod",
        ));
    };
    if !is_ds(cm_el, "CanonicalizationMethod") {
        return Err(structure(
            "first child of ds:SignedInfo is not ds:CanonicalizationMethod",
        ));
    }
    let si_method = c14n_of(&doc, *cm, "Algorithm")?;
    let sm_el = doc
        .element(*sm)
        .ok_or_else(|| structure("SignatureMethod"))?;
    if !is_ds(sm_el, "SignatureMethod") {
        return Err(structure(
            "second child of ds:SignedInfo is not ds:SignatureMethod",
        ));
    }
    let sm_uri = attr(sm_el, "Algorithm")
        .ok_or_else(|| structure("ds:SignatureMethod without Algorithm"))?;
    if refs.is_empty() {
        return Err(structure("ds:SignedInfo has no ds:Reference"));
    }
    if refs.len() > MAX_REFERENCES {
        return Err(structure(format!(
            "{} references, at most {MAX_REFERENCES} accepted",
            refs.len()
        )));
    }

    // References.
    let mut whole_doc = 0usize;
    let mut signed_props: Option<NodeId> = None;
    let mut uris = Vec::new();
    for (r, r_el) in refs {
        if !is_ds(r_el, "Reference") {
            return Err(structure(format!(
                "unexpected element {} in ds:SignedInfo",
                r_el.qname
            )));
        }
        let uri = attr(r_el, "URI").ok_or_else(|| structure("ds:Reference without URI"))?;
        let ty = attr(r_el, "Type");
        let mut parts = doc.child_elements(*r).peekable();
        let mut steps = Vec::new();
        if let Some((tr, _)) = parts.next_if(|(_, e)| is_ds(e, "Transforms")) {
            for (t, t_el) in doc.child_elements(tr) {
                if !is_ds(t_el, "Transform") {
                    return Err(structure(format!(
                        "unexpected element {} in ds:Transforms",
                        t_el.qname
                    )));
                }
                let alg = attr(t_el, "Algorithm")
                    .ok_or_else(|| structure("ds:Transform without Algorithm"))?;
                if alg == algorithms::ENVELOPED {
                    steps.push(Step::Enveloped);
                } else {
                    steps.push(Step::C14n(c14n_of(&doc, t, "Algorithm")?));
                }
            }
        }
        let (_, dm_el) = parts
            .next()
            .filter(|(_, e)| is_ds(e, "DigestMethod"))
            .ok_or_else(|| structure(format!("reference \"{uri}\" has no ds:DigestMethod")))?;
        let (dv, _) = parts
            .next()
            .filter(|(_, e)| is_ds(e, "DigestValue"))
            .ok_or_else(|| structure(format!("reference \"{uri}\" has no ds:DigestValue")))?;
        let dm = attr(dm_el, "Algorithm").unwrap_or("");
        let expected = decode_b64(
            &doc.text(dv),
            &format!("DigestValue of reference \"{uri}\""),
        )?;

        let (apex, exclude, c14n) = if uri.is_empty() {
            whole_doc += 1;
            let (first, rest) = steps.split_first().ok_or_else(|| {
                structure("whole-document reference without the enveloped-signature transform")
            })?;
            if !matches!(first, Step::Enveloped) {
                return Err(structure(
                    "the first transform of the whole-document reference is not enveloped-signature",
                ));
            }
            let c14n = match rest {
                [] => C14nMethod::inclusive(),
                [Step::C14n(m)] => m.without_comments(),
                _ => {
                    return Err(structure(
                        "whole-document reference: only one c14n transform may follow",
                    ));
                }
            };
            (None, Some(sig), c14n)
        } else if let Some(id) = uri.strip_prefix('#') {
            let target = ids
                .iter()
                .find(|(v, _)| *v == id)
                .map(|(_, n)| *n)
                .ok_or_else(|| structure(format!("reference \"{uri}\" points to no element")))?;
            if target == sig
                || !doc.is_ancestor_or_self(sig, target)
                || doc.is_ancestor_or_self(*si, target)
            {
                return Err(structure(format!(
                    "reference \"{uri}\" does not point inside this signature"
                )));
            }
            let c14n = match steps.as_slice() {
                [] => C14nMethod::inclusive(),
                [Step::C14n(m)] => m.without_comments(),
                _ => {
                    return Err(structure(format!(
                        "reference \"{uri}\": only one c14n transform is accepted"
                    )));
                }
            };
            let t_el = doc
                .element(target)
                .ok_or_else(|| structure("reference target"))?;
            if ty == Some(XADES_SIGNED_PROPERTIES_TYPE) {
                if !(t_el.ns() == XADES_NS && t_el.local() == "SignedProperties") {
                    return Err(structure(format!(
                        "reference \"{uri}\" of type SignedProperties points to {}",
                        t_el.qname
                    )));
                }
                if signed_props.replace(target).is_some() {
                    return Err(structure("more than one SignedProperties reference"));
                }
            }
            (Some(target), None, c14n)
        } else {
            return Err(structure(format!(
                "reference URI \"{uri}\" is neither the whole document nor inside the signature"
            )));
        };
        let octets = canonicalize_doc(&doc, apex, exclude, &c14n);
        let actual = match dm {
            algorithms::SHA256 => Sha256::digest(&octets).to_vec(),
            algorithms::SHA1 => {
                use sha1::Digest as _;
                sha1::Sha1::digest(&octets).to_vec()
            }
            other => return Err(Error::UnsupportedAlgorithm(format!("digest {other}"))),
        };
        if actual != expected {
            return Err(Error::DigestMismatch {
                uri: uri.to_owned(),
            });
        }
        if dm != algorithms::SHA256 {
            return Err(Error::UnsupportedAlgorithm(format!(
                "digest {dm} (legacy sha-1, refused)"
            )));
        }
        uris.push(uri.to_owned());
    }
    if whole_doc != 1 {
        return Err(structure(format!(
            "{whole_doc} whole-document references, exactly one is required"
        )));
    }

    // Signing certificate.
    let key_info = key_info.ok_or_else(|| structure("no ds:KeyInfo"))?;
    let mut certs = Vec::new();
    for (xd, _) in doc
        .child_elements(key_info)
        .filter(|(_, e)| is_ds(e, "X509Data"))
    {
        for (c, _) in doc
            .child_elements(xd)
            .filter(|(_, e)| is_ds(e, "X509Certificate"))
        {
            certs.push(Certificate::from_der(&decode_b64(
                &doc.text(c),
                "X509Certificate",
            )?)?);
        }
    }
    let leaf = certs
        .first()
        .cloned()
        .ok_or_else(|| structure("no X509Certificate in ds:KeyInfo"))?;
    let key = opts.cache.public_key(&leaf)?;

    // Signature value.
    let algorithm = SignatureAlgorithm::from_uri(sm_uri)?;
    if algorithm != key.algorithm() {
        return Err(Error::SignatureValue(format!(
            "SignatureMethod {sm_uri} does not match the signing certificate's {:?} key",
            key.algorithm()
        )));
    }
    let value = decode_b64(&doc.text(*sv), "SignatureValue")?;
    let signed_info = canonicalize_doc(&doc, Some(*si), None, &si_method);
    key.verify_xmldsig(&Sha256::digest(&signed_info), &value)?;

    // XAdES signed properties.
    let mut signing_time = None;
    let quals: Vec<NodeId> = objects
        .iter()
        .flat_map(|&o| doc.child_elements(o).map(|(id, _)| id).collect::<Vec<_>>())
        .filter(|&id| {
            doc.element(id)
                .is_some_and(|e| e.ns() == XADES_NS && e.local() == "QualifyingProperties")
        })
        .collect();
    let profile = match (signed_props, quals.as_slice()) {
        (None, []) => Profile::XmlDsig,
        (None, _) => {
            return Err(structure(
                "xades:QualifyingProperties present but not signed",
            ));
        }
        (Some(_), []) => {
            return Err(structure(
                "SignedProperties reference outside xades:QualifyingProperties",
            ));
        }
        (Some(sp), [q]) => {
            let q_el = doc
                .element(*q)
                .ok_or_else(|| structure("QualifyingProperties"))?;
            let sig_id = attr(sig_el, "Id").unwrap_or("");
            if sig_id.is_empty() || attr(q_el, "Target") != Some(&format!("#{sig_id}")) {
                return Err(Error::Xades(
                    "QualifyingProperties/@Target does not name this signature".into(),
                ));
            }
            if doc.element(sp).and_then(|e| e.parent) != Some(*q) {
                return Err(structure(
                    "signed SignedProperties is not in this signature's QualifyingProperties",
                ));
            }
            signing_time = check_signed_properties(&doc, sp, &leaf)?;
            Profile::Xades
        }
        (Some(_), _) => return Err(structure("more than one xades:QualifyingProperties")),
    };
    if let Some(t) = signing_time
        && t > now + MAX_CLOCK_SKEW
    {
        return Err(Error::Xades(format!(
            "SigningTime {} lies after the verification time {}",
            crate::x509::fmt_time(t),
            crate::x509::fmt_time(now)
        )));
    }

    // Certificate path at verification time, and the signing certificate at signing time too.
    let pool: Vec<Certificate> = certs.iter().skip(1).cloned().collect();
    let chain = validate_chain(&leaf, &pool, &opts.trust_anchors, now, &opts.cache)?;
    if let Some(t) = signing_time {
        // The same path must also have been valid when the signature claims to have been made.
        for (i, c) in chain.iter().enumerate() {
            let role = match i {
                0 => "signing",
                _ if i + 1 == chain.len() => "trust anchor",
                _ => "intermediate",
            };
            c.check_validity(t, role).map_err(|e| match e {
                Error::Chain(m) => Error::Chain(format!("at signing time: {m}")),
                other => other,
            })?;
        }
    }
    Ok(VerifiedSignature {
        profile,
        algorithm,
        signer: leaf,
        chain,
        signing_time,
        references: uris,
    })
}

/// Checks `SigningCertificateV2` against the signing certificate; returns `SigningTime`.
fn check_signed_properties(
    doc: &Document,
    sp: NodeId,
    leaf: &Certificate,
) -> Result<Option<SystemTime>> {
    let is_x = |e: &Element, l: &str| e.ns() == XADES_NS && e.local() == l;
    let ssp = doc
        .child_elements(sp)
        .find(|(_, e)| is_x(e, "SignedSignatureProperties"))
        .map(|(id, _)| id)
        .ok_or_else(|| Error::Xades("no SignedSignatureProperties".into()))?;
    let mut signing_time = None;
    let mut cert_checked = false;
    for (id, e) in doc.child_elements(ssp) {
        if is_x(e, "SigningTime") {
            signing_time = Some(parse_date_time(doc.text(id).trim())?);
        } else if is_x(e, "SigningCertificateV2") || is_x(e, "SigningCertificate") {
            let (cert, _) = doc
                .child_elements(id)
                .find(|(_, c)| is_x(c, "Cert"))
                .ok_or_else(|| Error::Xades("SigningCertificateV2 without Cert".into()))?;
            let (digest, _) = doc
                .child_elements(cert)
                .find(|(_, c)| is_x(c, "CertDigest"))
                .ok_or_else(|| Error::Xades("Cert without CertDigest".into()))?;
            let mut alg = None;
            let mut value = None;
            for (d, de) in doc.child_elements(digest) {
                if is_ds(de, "DigestMethod") {
                    alg = attr(de, "Algorithm").map(str::to_owned);
                } else if is_ds(de, "DigestValue") {
                    value = Some(decode_b64(&doc.text(d), "CertDigest/DigestValue")?);
                }
            }
            if alg.as_deref() != Some(algorithms::SHA256) {
                return Err(Error::UnsupportedAlgorithm(format!(
                    "signing certificate digest {}",
                    alg.unwrap_or_default()
                )));
            }
            if value.as_deref() != Some(Sha256::digest(leaf.der()).as_slice()) {
                return Err(Error::Xades(format!(
                    "SigningCertificateV2 digest does not match the signing certificate {}",
                    leaf.subject()
                )));
            }
            if let Some((isv, _)) = doc
                .child_elements(cert)
                .find(|(_, c)| is_x(c, "IssuerSerialV2"))
            {
                let got = decode_b64(&doc.text(isv), "IssuerSerialV2")?;
                if got != leaf.issuer_serial_der()? {
                    return Err(Error::Xades(
                        "IssuerSerialV2 does not match the signing certificate".into(),
                    ));
                }
            }
            cert_checked = true;
        }
    }
    if !cert_checked {
        return Err(Error::Xades("no SigningCertificateV2".into()));
    }
    Ok(signing_time)
}

/// Parses an `xs:dateTime` (`2026-07-05T10:00:00Z`, fractions and `+hh:mm` offsets allowed; a
/// missing zone is read as UTC).
pub(crate) fn parse_date_time(s: &str) -> Result<SystemTime> {
    let bad = || Error::Xades(format!("SigningTime \"{s}\" is not an xs:dateTime"));
    let num =
        |r: std::ops::Range<usize>| s.get(r).and_then(|x| x.parse::<u32>().ok()).ok_or_else(bad);
    if s.len() < 19 || s.as_bytes().get(10) != Some(&b'T') {
        return Err(bad());
    }
    let (year, month, day) = (num(0..4)?, num(5..7)?, num(8..10)?);
    let (h, m, sec) = (num(11..13)?, num(14..16)?, num(17..19)?);
    let mut rest = s.get(19..).ok_or_else(bad)?;
    if let Some(frac) = rest.strip_prefix('.') {
        let n = frac.bytes().take_while(u8::is_ascii_digit).count();
        if n == 0 {
            return Err(bad());
        }
        rest = &frac[n..];
    }
    let offset: i64 = match rest {
        "" | "Z" => 0,
        z if z.len() == 6 && (z.starts_with('+') || z.starts_with('-')) => {
            let oh = z
                .get(1..3)
                .and_then(|x| x.parse::<i64>().ok())
                .ok_or_else(bad)?;
            let om = z
                .get(4..6)
                .and_then(|x| x.parse::<i64>().ok())
                .ok_or_else(bad)?;
            let v = oh * 3600 + om * 60;
            if z.starts_with('-') { -v } else { v }
        }
        _ => return Err(bad()),
    };
    let dt = der::DateTime::new(
        u16::try_from(year).map_err(|_| bad())?,
        u8::try_from(month).map_err(|_| bad())?,
        u8::try_from(day).map_err(|_| bad())?,
        u8::try_from(h).map_err(|_| bad())?,
        u8::try_from(m).map_err(|_| bad())?,
        u8::try_from(sec).map_err(|_| bad())?,
    )
    .map_err(|_| bad())?;
    let local = dt.unix_duration().as_secs() as i64;
    let utc = u64::try_from(local - offset).map_err(|_| bad())?;
    Ok(SystemTime::UNIX_EPOCH + Duration::from_secs(utc))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn date_times() {
        let t = |s: &str| {
            parse_date_time(s)
                .expect("parse")
                .duration_since(SystemTime::UNIX_EPOCH)
                .expect("after epoch")
                .as_secs()
        };
        // 2026-07-05T10:00:00Z = 1_783_245_600 (date -u -d 2026-07-05T10:00:00Z +%s).
        assert_eq!(t("2026-07-05T10:00:00Z"), 1_783_245_600);
        assert_eq!(t("2026-07-05T12:00:00.500+02:00"), 1_783_245_600);
        assert_eq!(t("2026-07-05T08:30:00-01:30"), 1_783_245_600);
        assert_eq!(t("2026-07-05T10:00:00"), 1_783_245_600);
        for bad in [
            "2026-07-05",
            "2026-13-05T10:00:00Z",
            "2026-07-05T10:00:00+2",
            "2026-07-05T10:00:00.Z",
            "2026-07-05T10:00:0\u{e9}",
            "2026-07-05T10:00:00\u{e9}",
        ] {
            assert!(parse_date_time(bad).is_err(), "{bad}");
        }
    }
}
