//! Signatures per second, in-process, for both profiles and key types, beside one
//! `xmlsec1 --sign` process per document with the same key and document (xmldsig profile).
//!
//! `cargo run --release -p dsig --example bench [DOCUMENT.xml]` (default: the first official
//! specimen, read from ../shared/ivi2/samples, placeholder signature replaced).

#[path = "../tests/common/mod.rs"]
mod common;

use std::process::Command;
use std::time::{Duration, Instant};

use dsig::{Certificate, Profile, SignOptions, VerifyOptions};

fn rate(n: u32, elapsed: Duration) -> f64 {
    f64::from(n) / elapsed.as_secs_f64()
}

fn main() {
    let doc: Vec<u8> = match std::env::args().nth(1) {
        Some(path) => std::fs::read(path).expect("read document"),
        None => {
            let dir = common::specimens_dir().expect("specimens");
            let mut paths: Vec<_> = std::fs::read_dir(dir)
                .expect("dir")
                .map(|e| e.expect("e").path())
                .collect();
            paths.sort();
            std::fs::read(&paths[2]).expect("read specimen")
        }
    };
    let p = common::pki();
    let anchors = vec![
        Certificate::from_der(&p.root.der).expect("root"),
        // xmlsec1 puts only the signing certificate into KeyInfo: trust the issuing CA as well.
        Certificate::from_der(&p.issuing.der).expect("issuing"),
    ];
    println!("document: {} bytes", doc.len());
    println!("{:<14} {:>12} {:>12}", "case", "sign/s", "verify/s");
    let mut inproc = std::collections::HashMap::new();
    for (name, leaf, profile) in [
        ("rsa-xmldsig", &p.rsa_leaf, Profile::XmlDsig),
        ("rsa-xades", &p.rsa_leaf, Profile::Xades),
        ("p256-xmldsig", &p.p256_leaf, Profile::XmlDsig),
        ("p256-xades", &p.p256_leaf, Profile::Xades),
    ] {
        let mut o = SignOptions::new(profile, vec![leaf.der.clone(), p.issuing.der.clone()]);
        o.replace_existing = true;
        let signer = leaf.key.signer();
        let n = 200;
        let start = Instant::now();
        let mut signed = Vec::new();
        for _ in 0..n {
            signed = dsig::sign(&doc, &o, &signer).expect("sign");
        }
        let s = rate(n, start.elapsed());
        let vo = VerifyOptions {
            trust_anchors: anchors.clone(),
            ..VerifyOptions::default()
        };
        let start = Instant::now();
        for _ in 0..n {
            dsig::verify(&signed, &vo).expect("verify");
        }
        let v = rate(n, start.elapsed());
        println!("{name:<14} {s:>12.0} {v:>12.0}");
        inproc.insert(name, (s, signed));
    }

    rsa_public_operation(p);

    if !common::tool_available("xmlsec1", &["--version"]) {
        return;
    }
    // xmlsec1 --sign on a template: our own xmldsig output with the values emptied.
    let dir = tempfile::tempdir().expect("tmp");
    for (name, leaf) in [("rsa-xmldsig", &p.rsa_leaf), ("p256-xmldsig", &p.p256_leaf)] {
        let (ours, signed) = &inproc[name];
        let text = String::from_utf8(signed.clone()).expect("utf8");
        let blank = |t: &str, open: &str, close: &str| {
            let i = t.find(open).expect("open") + open.len();
            let j = t[i..].find(close).expect("close") + i;
            format!("{}{}", &t[..i], &t[j..])
        };
        let mut template = blank(&text, "<ds:DigestValue>", "</ds:DigestValue>");
        template = blank(&template, "<ds:SignatureValue>", "</ds:SignatureValue>");
        let i = template.find("<ds:X509Data>").expect("x509") + "<ds:X509Data>".len();
        let j = template.find("</ds:X509Data>").expect("x509 end");
        template = format!("{}<ds:X509Certificate/>{}", &template[..i], &template[j..]);
        let tpl = dir.path().join(format!("{name}.tpl.xml"));
        std::fs::write(&tpl, template).expect("tpl");
        let key = dir.path().join(format!("{name}.key.pem"));
        std::fs::write(&key, leaf.key.pkcs8_pem()).expect("key");
        let cert = dir.path().join(format!("{name}.crt.pem"));
        std::fs::write(&cert, leaf.pem()).expect("cert");
        let out = dir.path().join(format!("{name}.out.xml"));
        let n = 30;
        let start = Instant::now();
        for _ in 0..n {
            let st = Command::new("xmlsec1")
                .arg("--sign")
                .arg("--privkey-pem")
                .arg(format!("{},{}", key.display(), cert.display()))
                .arg("--output")
                .arg(&out)
                .arg(&tpl)
                .output()
                .expect("xmlsec1");
            assert!(
                st.status.success(),
                "xmlsec1 --sign: {}",
                String::from_utf8_lossy(&st.stderr)
            );
        }
        let x = rate(n, start.elapsed());
        // The xmlsec1 output must verify with our verifier too (same profile, same key).
        let produced = std::fs::read(&out).expect("out");
        let ok = dsig::verify(
            &produced,
            &VerifyOptions {
                trust_anchors: anchors.clone(),
                ..VerifyOptions::default()
            },
        );
        println!(
            "{name:<14} dsig in-process {ours:>8.0}/s  xmlsec1 --sign {x:>6.1}/s  ratio x{:.0}  (dsig verifies xmlsec1's output: {})",
            ours / x,
            match ok {
                Ok(_) => "yes".to_owned(),
                Err(e) => format!("no: {e}"),
            }
        );
    }
}

/// dsig's RSA PKCS#1 v1.5 verification beside the `rsa` crate's, same key, digest and value, in
/// this process: the ratio is what `dsig::keys` gains by its own public-exponent ladder.
fn rsa_public_operation(p: &common::Pki) {
    use dsig::Signer;
    use sha2::Digest;
    let common::Key::Rsa(private) = &p.rsa_leaf.key else {
        return;
    };
    let digest: [u8; 32] = sha2::Sha256::digest(b"signed info").into();
    let value = p.rsa_leaf.key.signer().sign_digest(&digest).expect("sign");
    let key = Certificate::from_der(&p.rsa_leaf.der)
        .expect("leaf")
        .public_key()
        .expect("key");
    let reference = private.to_public_key();
    let n = 2000;
    let start = Instant::now();
    for _ in 0..n {
        key.verify_xmldsig(&digest, &value).expect("dsig verifies");
    }
    let ours = rate(n, start.elapsed());
    let start = Instant::now();
    for _ in 0..n {
        reference
            .verify(rsa::Pkcs1v15Sign::new::<sha2::Sha256>(), &digest, &value)
            .expect("rsa verifies");
    }
    let theirs = rate(n, start.elapsed());
    println!(
        "rsa-2048 pkcs#1 v1.5 verify: dsig {ours:.0}/s, rsa crate {theirs:.0}/s, ratio x{:.2}",
        ours / theirs
    );
}
