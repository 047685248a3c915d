//! Interoperability with independent verifiers: `xmlsec1 --verify` (libxmlsec1/OpenSSL) and
//! Python `signxml` (`XMLVerifier`, `XAdESVerifier`), both profiles, RSA and P-256; and the
//! official XSD still accepting a signed specimen. Each test prints that it is skipped when the
//! tool is missing, and fails then if `CI` is set.

mod common;

use std::path::Path;
use std::process::Command;

use common::{IVI_LIKE, Issued, pki};
use dsig::{Profile, SignOptions};

fn sign_with(leaf: &Issued, profile: Profile, xml: &[u8], replace: bool) -> Vec<u8> {
    let chain = vec![leaf.der.clone(), pki().issuing.der.clone()];
    let mut o = SignOptions::new(profile, chain);
    o.replace_existing = replace;
    dsig::sign(xml, &o, &leaf.key.signer()).expect("sign")
}

fn cases() -> Vec<(&'static str, &'static Issued, Profile)> {
    let p = pki();
    vec![
        ("rsa-xmldsig", &p.rsa_leaf, Profile::XmlDsig),
        ("rsa-xades", &p.rsa_leaf, Profile::Xades),
        ("p256-xmldsig", &p.p256_leaf, Profile::XmlDsig),
        ("p256-xades", &p.p256_leaf, Profile::Xades),
    ]
}

fn xmlsec1_verify(dir: &Path, file: &Path, profile: Profile) -> std::process::Output {
    let mut cmd = Command::new("xmlsec1");
    cmd.arg("--verify")
        .arg("--trusted-pem")
        .arg(dir.join("root.pem"));
    match profile {
        Profile::XmlDsig => {
            cmd.args(["--enabled-reference-uris", "empty"]);
        }
        Profile::Xades => {
            cmd.args(["--enabled-reference-uris", "empty,same-doc"]);
            cmd.args([
                "--id-attr:Id",
                "http://uri.etsi.org/01903/v1.3.2#:SignedProperties",
            ]);
            cmd.args(["--id-attr:Id", "http://www.w3.org/2000/09/xmldsig#:KeyInfo"]);
        }
    }
    cmd.arg(file).output().expect("run xmlsec1")
}

const SIGNXML_SCRIPT: &str = r#"
import sys
from signxml import XMLVerifier
from signxml.xades import XAdESVerifier
data = open(sys.argv[1], 'rb').read()
if sys.argv[3] == 'xades':
    XAdESVerifier().verify(data, ca_pem_file=sys.argv[2])
else:
    XMLVerifier().verify(data, ca_pem_file=sys.argv[2])
print('ok')
"#;

fn signxml_verify(dir: &Path, file: &Path, profile: Profile) -> std::process::Output {
    Command::new("python3")
        .args(["-c", SIGNXML_SCRIPT])
        .arg(file)
        .arg(dir.join("root.pem"))
        .arg(profile.name())
        .output()
        .expect("run python3")
}

fn setup() -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(dir.path().join("root.pem"), pki().root.pem()).expect("write pem");
    dir
}

fn report(name: &str, tool: &str, out: &std::process::Output) -> Option<String> {
    eprintln!(
        "{name}: {tool}: {}{}",
        String::from_utf8_lossy(&out.stdout).trim(),
        String::from_utf8_lossy(&out.stderr).trim()
    );
    if out.status.success() {
        None
    } else {
        Some(format!(
            "{name}: {tool} refused:\n{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ))
    }
}

#[test]
fn xmlsec1_accepts_our_signatures() {
    if !common::tool_available("xmlsec1", &["--version"]) {
        return;
    }
    let dir = setup();
    let mut failures = Vec::new();
    for (name, leaf, profile) in cases() {
        let file = dir.path().join(format!("{name}.xml"));
        std::fs::write(&file, sign_with(leaf, profile, IVI_LIKE.as_bytes(), false)).expect("write");
        failures.extend(report(
            name,
            "xmlsec1",
            &xmlsec1_verify(dir.path(), &file, profile),
        ));
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn xmlsec1_refuses_a_tampered_signature() {
    if !common::tool_available("xmlsec1", &["--version"]) {
        return;
    }
    let dir = setup();
    for (name, leaf, profile) in cases() {
        let signed =
            String::from_utf8(sign_with(leaf, profile, IVI_LIKE.as_bytes(), false)).expect("utf8");
        let file = dir.path().join(format!("{name}-tampered.xml"));
        std::fs::write(
            &file,
            signed.replace("WDB12345678901234", "WDB12345678901235"),
        )
        .expect("write");
        let out = xmlsec1_verify(dir.path(), &file, profile);
        assert!(
            !out.status.success(),
            "{name}: xmlsec1 accepted a tampered document"
        );
    }
}

#[test]
fn signxml_accepts_our_signatures() {
    if !common::tool_available("python3", &["-c", "import signxml"]) {
        return;
    }
    let dir = setup();
    let mut failures = Vec::new();
    for (name, leaf, profile) in cases() {
        let file = dir.path().join(format!("{name}.xml"));
        std::fs::write(&file, sign_with(leaf, profile, IVI_LIKE.as_bytes(), false)).expect("write");
        failures.extend(report(
            name,
            "signxml",
            &signxml_verify(dir.path(), &file, profile),
        ));
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn signxml_refuses_a_tampered_signature() {
    if !common::tool_available("python3", &["-c", "import signxml"]) {
        return;
    }
    let dir = setup();
    for (name, leaf, profile) in cases() {
        let signed =
            String::from_utf8(sign_with(leaf, profile, IVI_LIKE.as_bytes(), false)).expect("utf8");
        let file = dir.path().join(format!("{name}-tampered.xml"));
        std::fs::write(
            &file,
            signed.replace("WDB12345678901234", "WDB12345678901235"),
        )
        .expect("write");
        let out = signxml_verify(dir.path(), &file, profile);
        assert!(
            !out.status.success(),
            "{name}: signxml accepted a tampered document"
        );
    }
}

#[test]
fn signed_specimens_still_validate_and_verify_everywhere() {
    let Some(samples) = common::specimens_dir() else {
        return;
    };
    let xsd = samples.join("../xsd/ivi-2.0.xsd");
    let have_xmllint = common::tool_available("xmllint", &["--version"]);
    let have_xmlsec = common::tool_available("xmlsec1", &["--version"]);
    let have_signxml = common::tool_available("python3", &["-c", "import signxml"]);
    let dir = setup();
    let mut failures = Vec::new();
    let mut paths: Vec<_> = std::fs::read_dir(&samples)
        .expect("samples")
        .map(|e| e.expect("entry").path())
        .collect();
    paths.sort();
    // Two specimens per run keep the test short; every profile and key type is covered.
    for (i, path) in paths.iter().take(2).enumerate() {
        let xml = std::fs::read(path).expect("read");
        for (name, leaf, profile) in cases() {
            let file = dir.path().join(format!("specimen{i}-{name}.xml"));
            std::fs::write(&file, sign_with(leaf, profile, &xml, true)).expect("write");
            if have_xmllint {
                let out = Command::new("xmllint")
                    .args(["--noout", "--nonet", "--schema"])
                    .arg(&xsd)
                    .arg(&file)
                    .output()
                    .expect("xmllint");
                failures.extend(report(name, "xmllint --schema", &out));
            }
            if have_xmlsec {
                failures.extend(report(
                    name,
                    "xmlsec1",
                    &xmlsec1_verify(dir.path(), &file, profile),
                ));
            }
            if have_signxml {
                failures.extend(report(
                    name,
                    "signxml",
                    &signxml_verify(dir.path(), &file, profile),
                ));
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// Our output with the reference digests and the signature value emptied: an xmlsec1 template.
/// (The certificate digest inside `SignedProperties` is data and stays.)
fn template_from(signed: &[u8]) -> String {
    let text = String::from_utf8(signed.to_vec()).expect("utf8");
    let (head, rest) = text.split_once("</ds:SignedInfo>").expect("SignedInfo");
    let blank = |t: &str, open: &str, close: &str| {
        let mut out = String::new();
        let mut rest = t;
        while let Some(i) = rest.find(open) {
            let j = rest[i..].find(close).expect("close") + i;
            out.push_str(&rest[..i + open.len()]);
            rest = &rest[j..];
        }
        out.push_str(rest);
        out
    };
    format!(
        "{}</ds:SignedInfo>{}",
        blank(head, "<ds:DigestValue>", "</ds:DigestValue>"),
        blank(rest, "<ds:SignatureValue>", "</ds:SignatureValue>")
    )
}

#[test]
fn we_verify_what_xmlsec1_signs() {
    if !common::tool_available("xmlsec1", &["--version"]) {
        return;
    }
    let dir = setup();
    let p = pki();
    let anchors = vec![
        dsig::Certificate::from_der(&p.root.der).expect("root"),
        dsig::Certificate::from_der(&p.issuing.der).expect("issuing"),
    ];
    let mut failures = Vec::new();
    for (name, leaf, profile) in cases() {
        let signed = sign_with(leaf, profile, IVI_LIKE.as_bytes(), false);
        let tpl = dir.path().join(format!("{name}.tpl.xml"));
        std::fs::write(&tpl, template_from(&signed)).expect("tpl");
        let key = dir.path().join(format!("{name}.key.pem"));
        std::fs::write(&key, leaf.key.pkcs8_pem()).expect("key");
        let out_file = dir.path().join(format!("{name}.xmlsec.xml"));
        let mut cmd = Command::new("xmlsec1");
        cmd.arg("--sign")
            .arg("--privkey-pem")
            .arg(&key)
            .arg("--output")
            .arg(&out_file);
        if profile == Profile::Xades {
            cmd.args([
                "--id-attr:Id",
                "http://uri.etsi.org/01903/v1.3.2#:SignedProperties",
            ]);
            cmd.args(["--id-attr:Id", "http://www.w3.org/2000/09/xmldsig#:KeyInfo"]);
        }
        let out = cmd.arg(&tpl).output().expect("xmlsec1 --sign");
        if let Some(f) = report(name, "xmlsec1 --sign", &out) {
            failures.push(f);
            continue;
        }
        let produced = std::fs::read(&out_file).expect("read");
        assert!(
            !String::from_utf8_lossy(&produced).contains("<ds:SignatureValue></ds:SignatureValue>"),
            "{name}: xmlsec1 left the template unsigned"
        );
        let opts = dsig::VerifyOptions {
            trust_anchors: anchors.clone(),
            ..dsig::VerifyOptions::default()
        };
        if let Err(e) = dsig::verify(&produced, &opts) {
            failures.push(format!("{name}: dsig refuses xmlsec1's signature: {e}"));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn inclusive_namespace_prefix_lists_match_xmlsec1() {
    if !common::tool_available("xmlsec1", &["--version"]) {
        return;
    }
    // A PrefixList makes exc-c14n render namespaces that are in scope but unused: here the
    // IVI default namespace on SignedInfo, and an unused prefix on the document root.
    let doc = IVI_LIKE.replacen(
        "<InitialVehicleInformation xmlns=",
        "<InitialVehicleInformation xmlns:x=\"urn:example:unused\" xmlns=",
        1,
    );
    let dir = setup();
    let p = pki();
    let signed = String::from_utf8(sign_with(
        &p.p256_leaf,
        Profile::XmlDsig,
        doc.as_bytes(),
        false,
    ))
    .expect("utf8");
    let exc = "http://www.w3.org/2001/10/xml-exc-c14n#";
    let with_list = |list: &str| {
        format!(
            r#"Algorithm="{exc}"><ec:InclusiveNamespaces xmlns:ec="{exc}" PrefixList="{list}"/></ds:"#
        )
    };
    let tpl = template_from(signed.as_bytes())
        .replacen(
            &format!(r#"<ds:CanonicalizationMethod Algorithm="{exc}"/>"#),
            &format!(
                "<ds:CanonicalizationMethod {}CanonicalizationMethod>",
                with_list("#default")
            ),
            1,
        )
        .replacen(
            &format!(r#"<ds:Transform Algorithm="{exc}"/>"#),
            &format!("<ds:Transform {}Transform>", with_list("x")),
            1,
        );
    assert!(tpl.contains("PrefixList=\"x\""), "{tpl}");
    let tpl_file = dir.path().join("prefixlist.tpl.xml");
    std::fs::write(&tpl_file, &tpl).expect("tpl");
    let key = dir.path().join("p256.key.pem");
    std::fs::write(&key, p.p256_leaf.key.pkcs8_pem()).expect("key");
    let out_file = dir.path().join("prefixlist.xml");
    let out = Command::new("xmlsec1")
        .arg("--sign")
        .arg("--privkey-pem")
        .arg(&key)
        .arg("--output")
        .arg(&out_file)
        .arg(&tpl_file)
        .output()
        .expect("xmlsec1");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let produced = std::fs::read(&out_file).expect("read");
    let opts = dsig::VerifyOptions {
        trust_anchors: vec![dsig::Certificate::from_der(&p.root.der).expect("root")],
        ..dsig::VerifyOptions::default()
    };
    dsig::verify(&produced, &opts).expect("dsig verifies an xmlsec1 signature with PrefixLists");
    // Without the list the canonical SignedInfo differs: dropping it must break the signature.
    let stripped = String::from_utf8(produced).expect("utf8").replacen(
        r##"PrefixList="#default""##,
        r#"PrefixList="""#,
        1,
    );
    assert!(dsig::verify(stripped.as_bytes(), &opts).is_err());
}

/// A hand-written template in the default-namespace style the official specimens use, with a
/// comment and `xml:lang` on the root: xmlsec1 signs it with each C14N method for `SignedInfo` and
/// no C14N transform on the reference (so the document is inclusive-canonicalised), and dsig must
/// verify it. Exercises subset canonicalisation with inherited namespaces and xml:* attributes.
#[test]
fn we_verify_xmlsec1_default_namespace_signatures_under_every_c14n() {
    if !common::tool_available("xmlsec1", &["--version"]) {
        return;
    }
    let dir = setup();
    let p = pki();
    let key = dir.path().join("rsa.key.pem");
    std::fs::write(&key, p.rsa_leaf.key.pkcs8_pem()).expect("key");
    let cert = dir.path().join("rsa.crt.pem");
    std::fs::write(&cert, p.rsa_leaf.pem()).expect("cert");
    let opts = dsig::VerifyOptions {
        trust_anchors: vec![
            dsig::Certificate::from_der(&p.root.der).expect("root"),
            dsig::Certificate::from_der(&p.issuing.der).expect("issuing"),
        ],
        ..dsig::VerifyOptions::default()
    };
    let body = IVI_LIKE
        .split_once("?>")
        .expect("declaration")
        .1
        .replacen(
            "<InitialVehicleInformation xmlns=",
            "<!-- a comment --><InitialVehicleInformation xml:lang=\"en\" xmlns:x=\"urn:example:x\" xmlns=",
            1,
        );
    let mut failures = Vec::new();
    for c14n in [
        "http://www.w3.org/2001/10/xml-exc-c14n#",
        "http://www.w3.org/2001/10/xml-exc-c14n#WithComments",
        "http://www.w3.org/TR/2001/REC-xml-c14n-20010315",
        "http://www.w3.org/TR/2001/REC-xml-c14n-20010315#WithComments",
    ] {
        let signature = format!(
            concat!(
                "\t<Signature xmlns=\"http://www.w3.org/2000/09/xmldsig#\">\n",
                "\t\t<SignedInfo>\n",
                "\t\t\t<CanonicalizationMethod Algorithm=\"{c14n}\"/>\n",
                "\t\t\t<SignatureMethod Algorithm=\"http://www.w3.org/2001/04/xmldsig-more#rsa-sha256\"/>\n",
                "\t\t\t<Reference URI=\"\">\n",
                "\t\t\t\t<Transforms><Transform Algorithm=\"http://www.w3.org/2000/09/xmldsig#enveloped-signature\"/></Transforms>\n",
                "\t\t\t\t<DigestMethod Algorithm=\"http://www.w3.org/2001/04/xmlenc#sha256\"/>\n",
                "\t\t\t\t<DigestValue></DigestValue>\n",
                "\t\t\t</Reference>\n",
                "\t\t</SignedInfo>\n",
                "\t\t<SignatureValue/>\n",
                "\t\t<KeyInfo><X509Data><X509Certificate/></X509Data></KeyInfo>\n",
                "\t</Signature>\n"
            ),
            c14n = c14n
        );
        let template = body.replacen(
            "</InitialVehicleInformation>",
            &format!("{signature}</InitialVehicleInformation>"),
            1,
        );
        let tpl = dir.path().join("default-ns.tpl.xml");
        std::fs::write(&tpl, &template).expect("tpl");
        let out_file = dir.path().join("default-ns.xml");
        let out = Command::new("xmlsec1")
            .arg("--sign")
            .arg("--privkey-pem")
            .arg(format!("{},{}", key.display(), cert.display()))
            .arg("--output")
            .arg(&out_file)
            .arg(&tpl)
            .output()
            .expect("xmlsec1");
        if !out.status.success() {
            failures.push(format!(
                "{c14n}: xmlsec1 --sign: {}",
                String::from_utf8_lossy(&out.stderr)
            ));
            continue;
        }
        let produced = std::fs::read(&out_file).expect("read");
        match dsig::verify(&produced, &opts) {
            Ok(v) => assert_eq!(v.profile, Profile::XmlDsig),
            Err(e) => failures.push(format!("{c14n}: dsig refuses xmlsec1's signature: {e}")),
        }
        // And a change in the signed document is still noticed.
        let tampered = String::from_utf8(produced)
            .expect("utf8")
            .replace("WDB12345678901234", "WDB12345678901235");
        assert!(dsig::verify(tampered.as_bytes(), &opts).is_err(), "{c14n}");
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
