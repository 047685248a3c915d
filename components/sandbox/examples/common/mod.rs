//! Pieces the signing benchmarks share: the sandbox's signing code as a [`Signer`], and an
//! xmlsec1 template made from one of dsig's signatures.

use anyhow::{Context, Result};
use dsig::{SignatureAlgorithm, Signer};
use sandbox::qtsp::EcdsaFormat;
use sandbox::qtsp::TestPki;
use sandbox::qtsp::pki::{KeyType, OID_ECDSA_SHA256, OID_SHA256, OID_SHA256_WITH_RSA};

/// The XML-DSig signature algorithm a sandbox key of `key_type` signs with.
pub fn algorithm_of(key_type: KeyType) -> SignatureAlgorithm {
    match key_type {
        KeyType::Rsa2048 => SignatureAlgorithm::RsaSha256,
        KeyType::P256 => SignatureAlgorithm::EcdsaP256Sha256,
    }
}

/// The sandbox's signing code, called in-process (what `signatures/signHash` runs).
pub struct InProcess<'a> {
    pub pki: &'a TestPki,
    pub credential: &'a str,
    pub algorithm: SignatureAlgorithm,
}

impl Signer for InProcess<'_> {
    fn algorithm(&self) -> SignatureAlgorithm {
        self.algorithm
    }

    fn sign_digest(&self, digest: &[u8; 32]) -> dsig::Result<Vec<u8>> {
        let sign_algo = match self.algorithm {
            SignatureAlgorithm::RsaSha256 => OID_SHA256_WITH_RSA,
            SignatureAlgorithm::EcdsaP256Sha256 => OID_ECDSA_SHA256,
        };
        self.pki
            .sign_hash(
                self.credential,
                digest,
                sign_algo,
                Some(OID_SHA256),
                EcdsaFormat::Raw,
            )
            .map_err(|e| dsig::Error::Signer(e.to_string()))
    }
}

/// Blanks `DigestValue`, `SignatureValue` and the certificates of a dsig signature: an xmlsec1
/// template for exactly the same signature shape.
pub fn xmlsec1_template(signed: &str) -> Result<String> {
    let mut out = signed.to_owned();
    for local in ["DigestValue", "SignatureValue", "X509Data"] {
        let open = format!("<ds:{local}");
        let close = format!("</ds:{local}>");
        let mut from = 0;
        while let Some(at) = out[from..].find(&open).map(|i| i + from) {
            let content = out[at..].find('>').context("tag end")? + at + 1;
            let end = out[content..].find(&close).context("closing tag")? + content;
            out.replace_range(content..end, "");
            from = content + close.len();
        }
    }
    Ok(out)
}
