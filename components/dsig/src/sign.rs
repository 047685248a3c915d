//! Signature assembly, split so that only a SHA-256 digest leaves the process.
//!
//! [`prepare`] canonicalises the document, builds `SignedInfo` (and for XAdES the signed
//! properties) and returns a [`Prepared`] whose [`Prepared::digest`] is what a QTSP signs
//! (CSC `signatures/signHash`). [`Prepared::finish`] takes the value back, converts a DER
//! ECDSA value to raw r||s, checks it against the signing certificate and splices the
//! `ds:Signature` element in as the last child of the root. The caller's bytes are kept as they
//! are: the signature is inserted, nothing is re-serialised.

use std::time::SystemTime;

use base64ct::{Base64, Encoding};
use sha2::{Digest, Sha256};

use crate::algorithms::{
    DSIG_NS, ENVELOPED, EXC_C14N, SHA256, XADES_NS, XADES_SIGNED_PROPERTIES_TYPE,
};
use crate::c14n::{C14nMethod, canonicalize_doc};
use crate::dom::{self, Document};
use crate::keys::{SignatureAlgorithm, Signer, ecdsa_der_to_raw};
use crate::x509::{Certificate, fmt_time};
use crate::{Error, Limits, Result};

/// Which signature to produce.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Profile {
    /// Enveloped XML-DSig as the EUCARIS setup manual asks: one whole-document reference with
    /// the enveloped-signature and exc-c14n transforms, SHA-256, certificates in `KeyInfo`.
    #[default]
    XmlDsig,
    /// XAdES-B-B (ETSI EN 319 132-1): the above plus signed `QualifyingProperties`
    /// (`SigningTime`, `SigningCertificateV2`, `DataObjectFormat`) and references to
    /// `SignedProperties` and `KeyInfo`.
    Xades,
}

impl Profile {
    /// `xmldsig` or `xades`.
    pub fn name(self) -> &'static str {
        match self {
            Self::XmlDsig => "xmldsig",
            Self::Xades => "xades",
        }
    }

    /// Refuses a key the profile does not sign with: the EUCARIS profile names
    /// `xmldsig-more#rsa-sha256` as its signature method (setup manual, signature guidelines), so
    /// `xmldsig` signs with RSA only; XAdES-B-B takes RSA and ECDSA P-256.
    pub fn check_algorithm(self, algorithm: SignatureAlgorithm) -> Result<()> {
        match (self, algorithm) {
            (Self::XmlDsig, SignatureAlgorithm::EcdsaP256Sha256) => Err(Error::UnsupportedAlgorithm(
                "ECDSA P-256 in the xmldsig profile: the EUCARIS profile signs with RSA-SHA256 \
                 only; use an RSA credential, or the xades profile"
                    .into(),
            )),
            _ => Ok(()),
        }
    }
}

impl std::str::FromStr for Profile {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        match s {
            "xmldsig" => Ok(Self::XmlDsig),
            "xades" => Ok(Self::Xades),
            other => Err(Error::Sign(format!(
                "unknown profile {other} (xmldsig or xades)"
            ))),
        }
    }
}

/// What [`prepare`] needs besides the document.
#[derive(Debug, Clone)]
pub struct SignOptions {
    /// Signature profile.
    pub profile: Profile,
    /// Signing certificate first, then its chain (DER). All go into `KeyInfo/X509Data`.
    pub certificates: Vec<Vec<u8>>,
    /// XAdES `SigningTime`; `None` means now.
    pub signing_time: Option<SystemTime>,
    /// Replace a `ds:Signature` already present as a child of the root (e.g. a placeholder)
    /// instead of refusing the document.
    pub replace_existing: bool,
    /// Reader limits for the input document.
    pub limits: Limits,
}

impl SignOptions {
    /// Options with defaults: signing time now, no replacement, default limits.
    pub fn new(profile: Profile, certificates: Vec<Vec<u8>>) -> Self {
        Self {
            profile,
            certificates,
            signing_time: None,
            replace_existing: false,
            limits: Limits::default(),
        }
    }
}

/// A signature waiting for its value.
#[derive(Debug)]
pub struct Prepared {
    algorithm: SignatureAlgorithm,
    signer: Certificate,
    digest: [u8; 32],
    signed_info: Vec<u8>,
    head: String,
    tail: String,
}

impl Prepared {
    /// The algorithm the value must be made with (from the signing certificate's key).
    pub fn algorithm(&self) -> SignatureAlgorithm {
        self.algorithm
    }

    /// SHA-256 of the canonical `SignedInfo`: the hash to send to the QTSP.
    pub fn digest(&self) -> [u8; 32] {
        self.digest
    }

    /// The canonical `SignedInfo` bytes (exc-c14n) the digest was computed over.
    pub fn signed_info(&self) -> &[u8] {
        &self.signed_info
    }

    /// Embeds the signature value and returns the signed document.
    ///
    /// A DER ECDSA value is converted to raw r||s. The value is verified against the signing
    /// certificate's key first: a value that does not verify is never embedded.
    pub fn finish(self, value: &[u8]) -> Result<Vec<u8>> {
        let value = self.raw_value(value)?;
        let key = self.signer.public_key()?;
        key.verify_xmldsig(&self.digest, &value).map_err(|e| {
            Error::Signer(format!(
                "the returned signature value does not verify with the signing certificate ({e})"
            ))
        })?;
        Ok(self.embed(&value))
    }

    /// Embeds the signature value without checking it, for a caller that verifies the signed
    /// document whole next ([`crate::verify`] checks the same value against the same key, and the
    /// references and the chain besides): one public-key operation instead of two per document.
    pub fn finish_unchecked(self, value: &[u8]) -> Result<Vec<u8>> {
        let value = self.raw_value(value)?;
        Ok(self.embed(&value))
    }

    fn raw_value(&self, value: &[u8]) -> Result<Vec<u8>> {
        match self.algorithm {
            SignatureAlgorithm::EcdsaP256Sha256 => ecdsa_der_to_raw(value),
            SignatureAlgorithm::RsaSha256 => Ok(value.to_vec()),
        }
    }

    fn embed(self, value: &[u8]) -> Vec<u8> {
        let b64 = Base64::encode_string(value);
        let mut out = String::with_capacity(self.head.len() + b64.len() + self.tail.len());
        out.push_str(&self.head);
        out.push_str(&b64);
        out.push_str(&self.tail);
        out.into_bytes()
    }
}

/// Signs in one go with `signer` (in-process key or a remote QTSP).
pub fn sign(xml: &[u8], opts: &SignOptions, signer: &dyn Signer) -> Result<Vec<u8>> {
    let prepared = prepare(xml, opts)?;
    if signer.algorithm() != prepared.algorithm() {
        return Err(Error::Sign(format!(
            "signer key is {:?} but the signing certificate's key is {:?}",
            signer.algorithm(),
            prepared.algorithm()
        )));
    }
    let value = signer.sign_digest(&prepared.digest())?;
    prepared.finish(&value)
}

/// Finds every `ds:Signature` element of a document.
pub(crate) fn signature_elements(doc: &Document) -> Vec<dom::NodeId> {
    doc.descendants(doc.root)
        .into_iter()
        .filter(|&id| {
            doc.element(id)
                .is_some_and(|e| e.ns() == DSIG_NS && e.local() == "Signature")
        })
        .collect()
}

/// Canonicalises `xml` and builds everything but the signature value.
pub fn prepare(xml: &[u8], opts: &SignOptions) -> Result<Prepared> {
    let leaf_der = opts
        .certificates
        .first()
        .ok_or_else(|| Error::Sign("no signing certificate given".into()))?;
    let leaf = Certificate::from_der(leaf_der)?;
    let algorithm = leaf.key_algorithm()?;

    let doc = dom::parse(xml, &opts.limits)?;
    let source = std::str::from_utf8(xml).map_err(|_| Error::Refused("not utf-8".into()))?;
    let existing = signature_elements(&doc);
    // A signature being replaced stays in the parsed document but out of everything digested
    // (as the enveloped-signature transform leaves it out) and out of the text the new one goes
    // into: no second parse of the document without it.
    let replaced = match existing.as_slice() {
        [] => None,
        _ if !opts.replace_existing => {
            return Err(Error::Sign(
                "document already contains a ds:Signature".into(),
            ));
        }
        [only] => {
            let el = doc
                .element(*only)
                .ok_or_else(|| Error::Sign("signature element".into()))?;
            if el.parent != Some(doc.root) {
                return Err(Error::Sign(
                    "the existing ds:Signature is not a child of the root".into(),
                ));
            }
            Some((*only, el.start..el.end))
        }
        _ => {
            return Err(Error::Sign(format!(
                "document contains {} ds:Signature elements",
                existing.len()
            )));
        }
    };
    let root = doc
        .element(doc.root)
        .ok_or_else(|| Error::Sign("no root element".into()))?;
    if root.self_closing {
        return Err(Error::Sign(format!("root element {} is empty", root.qname)));
    }
    let (base, insert_at) = match &replaced {
        None => (source.to_owned(), root.end_tag_start),
        Some((_, span)) => {
            let mut base = String::with_capacity(source.len());
            base.push_str(source.get(..span.start).unwrap_or_default());
            base.push_str(source.get(span.end..).unwrap_or_default());
            (base, root.end_tag_start - span.len())
        }
    };
    let replaced_node = replaced.as_ref().map(|(id, _)| *id);

    let doc_digest = Sha256::digest(canonicalize_doc(
        &doc,
        None,
        replaced_node,
        &C14nMethod::exclusive(),
    ));
    let tag: String = doc_digest
        .iter()
        .take(6)
        .map(|b| format!("{b:02x}"))
        .collect();
    let sig_id = format!("ecoc-sig-{tag}");
    let ref_id = format!("{sig_id}-ref-doc");
    let ki_id = format!("{sig_id}-keyinfo");
    let sp_id = format!("{sig_id}-signedprops");
    for id in doc.descendants(doc.root) {
        if let Some(e) = doc.element(id)
            && e.attrs.iter().any(|a| a.value.starts_with(&sig_id))
            && !replaced_node.is_some_and(|old| doc.is_ancestor_or_self(old, id))
        {
            return Err(Error::Sign(format!(
                "document already uses the id {sig_id}"
            )));
        }
    }

    let mut certs_xml = String::new();
    for (i, c) in opts.certificates.iter().enumerate() {
        // The leaf was parsed above; the rest must parse too before they are embedded.
        if i > 0 {
            Certificate::from_der(c)?;
        }
        certs_xml.push_str("<ds:X509Certificate>");
        certs_xml.push_str(&Base64::encode_string(c));
        certs_xml.push_str("</ds:X509Certificate>");
    }
    let sig_open = format!(r#"<ds:Signature xmlns:ds="{DSIG_NS}" Id="{sig_id}">"#);
    let xades = opts.profile == Profile::Xades;
    let key_info = if xades {
        format!(r#"<ds:KeyInfo Id="{ki_id}"><ds:X509Data>{certs_xml}</ds:X509Data></ds:KeyInfo>"#)
    } else {
        format!(r#"<ds:KeyInfo><ds:X509Data>{certs_xml}</ds:X509Data></ds:KeyInfo>"#)
    };
    let object = if xades {
        let time = fmt_time(opts.signing_time.unwrap_or_else(SystemTime::now));
        let cert_digest = Base64::encode_string(&Sha256::digest(leaf.der()));
        let issuer_serial = Base64::encode_string(&leaf.issuer_serial_der()?);
        format!(
            concat!(
                r##"<ds:Object><xades:QualifyingProperties xmlns:xades="{xades_ns}" Target="#{sig_id}">"##,
                r#"<xades:SignedProperties Id="{sp_id}"><xades:SignedSignatureProperties>"#,
                r#"<xades:SigningTime>{time}</xades:SigningTime>"#,
                r#"<xades:SigningCertificateV2><xades:Cert><xades:CertDigest>"#,
                r#"<ds:DigestMethod Algorithm="{sha256}"/><ds:DigestValue>{cert_digest}</ds:DigestValue>"#,
                r#"</xades:CertDigest><xades:IssuerSerialV2>{issuer_serial}</xades:IssuerSerialV2></xades:Cert>"#,
                r#"</xades:SigningCertificateV2></xades:SignedSignatureProperties>"#,
                r##"<xades:SignedDataObjectProperties><xades:DataObjectFormat ObjectReference="#{ref_id}">"##,
                r#"<xades:MimeType>text/xml</xades:MimeType></xades:DataObjectFormat>"#,
                r#"</xades:SignedDataObjectProperties></xades:SignedProperties>"#,
                r#"</xades:QualifyingProperties></ds:Object>"#
            ),
            xades_ns = XADES_NS,
            sig_id = sig_id,
            sp_id = sp_id,
            time = time,
            sha256 = SHA256,
            cert_digest = cert_digest,
            issuer_serial = issuer_serial,
            ref_id = ref_id,
        )
    } else {
        String::new()
    };

    let reference = |id: Option<&str>,
                     ty: Option<&str>,
                     uri: &str,
                     enveloped: bool,
                     digest: &[u8]| {
        let mut r = String::from("<ds:Reference");
        if let Some(id) = id {
            r.push_str(&format!(r#" Id="{id}""#));
        }
        if let Some(ty) = ty {
            r.push_str(&format!(r#" Type="{ty}""#));
        }
        r.push_str(&format!(r#" URI="{uri}"><ds:Transforms>"#));
        if enveloped {
            r.push_str(&format!(r#"<ds:Transform Algorithm="{ENVELOPED}"/>"#));
        }
        r.push_str(&format!(
            r#"<ds:Transform Algorithm="{EXC_C14N}"/></ds:Transforms><ds:DigestMethod Algorithm="{SHA256}"/><ds:DigestValue>{}</ds:DigestValue></ds:Reference>"#,
            Base64::encode_string(digest)
        ));
        r
    };
    let mut refs = reference(Some(&ref_id), None, "", true, &doc_digest);
    if xades {
        // Digest the signed properties and KeyInfo as they will sit in the signature: with
        // exc-c14n only the prefixes they use matter, and those are declared inside the fragment.
        let fragment = format!("{sig_open}{key_info}{object}</ds:Signature>");
        let frag = dom::parse(fragment.as_bytes(), &Limits::default())?;
        let find = |id: &str| {
            frag.descendants(frag.root)
                .into_iter()
                .find(|&n| {
                    frag.element(n)
                        .is_some_and(|e| e.attrs.iter().any(|a| a.local() == "Id" && a.value == id))
                })
                .ok_or_else(|| Error::Sign(format!("internal: element {id} missing")))
        };
        let sp = find(&sp_id)?;
        let ki = find(&ki_id)?;
        let sp_digest = Sha256::digest(canonicalize_doc(
            &frag,
            Some(sp),
            None,
            &C14nMethod::exclusive(),
        ));
        let ki_digest = Sha256::digest(canonicalize_doc(
            &frag,
            Some(ki),
            None,
            &C14nMethod::exclusive(),
        ));
        refs.push_str(&reference(
            None,
            Some(XADES_SIGNED_PROPERTIES_TYPE),
            &format!("#{sp_id}"),
            false,
            &sp_digest,
        ));
        refs.push_str(&reference(
            None,
            None,
            &format!("#{ki_id}"),
            false,
            &ki_digest,
        ));
    }
    let signed_info = format!(
        r#"<ds:SignedInfo><ds:CanonicalizationMethod Algorithm="{EXC_C14N}"/><ds:SignatureMethod Algorithm="{}"/>{refs}</ds:SignedInfo>"#,
        algorithm.uri()
    );
    let frag = dom::parse(
        format!("{sig_open}{signed_info}</ds:Signature>").as_bytes(),
        &Limits::default(),
    )?;
    let si = frag
        .child_elements(frag.root)
        .next()
        .map(|(id, _)| id)
        .ok_or_else(|| Error::Sign("internal: SignedInfo missing".into()))?;
    let signed_info_c14n = canonicalize_doc(&frag, Some(si), None, &C14nMethod::exclusive());
    let digest: [u8; 32] = Sha256::digest(&signed_info_c14n).into();

    let mut head = String::with_capacity(base.len() + signed_info.len() + 64);
    head.push_str(base.get(..insert_at).unwrap_or_default());
    head.push_str(&sig_open);
    head.push_str(&signed_info);
    head.push_str("<ds:SignatureValue>");
    let mut tail = String::from("</ds:SignatureValue>");
    tail.push_str(&key_info);
    tail.push_str(&object);
    tail.push_str("</ds:Signature>");
    tail.push_str(base.get(insert_at..).unwrap_or_default());
    Ok(Prepared {
        algorithm,
        signer: leaf,
        digest,
        signed_info: signed_info_c14n,
        head,
        tail,
    })
}
