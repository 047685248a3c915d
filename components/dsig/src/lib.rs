//! # dsig: signing and verifying eCoC documents
//!
//! The `sign` step of the ecoc pipeline (map -> validate -> **sign** -> submit) and the check
//! ecoc runs before it submits anything. It provides:
//!
//! - canonicalisation: Exclusive XML C14N 1.0 and Canonical XML 1.0 ([`canonicalize`]);
//! - signature assembly split around a remote signature ([`prepare`] -> [`Prepared::digest`] ->
//!   [`Prepared::finish`]) for two profiles: enveloped XML-DSig as the EUCARIS setup manual asks
//!   ([`Profile::XmlDsig`]) and XAdES-B-B ([`Profile::Xades`], ETSI EN 319 132-1);
//! - a CSC API v2 client ([`csc`]) that reaches a QTSP through the workspace's HTTP vocabulary,
//!   the [`transport::Transport`] trait, so a Spin function can pass its outbound HTTP
//!   (`transport::SpinTransport`) and the CLI a blocking one (`transport::UreqTransport`);
//! - a strict verifier ([`verify()`]): reference digests, signature value, certificate validity and
//!   chain to given trust anchors, and the structure (one `Signature`, child of the root).
//!
//! Everything except the `native-http` and `cli` features builds for `wasm32-wasip2`.
//!
//! ## Why the canonicaliser is handwritten
//!
//! There is no maintained pure-Rust exclusive-C14N crate over quick-xml (the crates that exist
//! wrap libxml2, which does not build for `wasm32-wasip2` without a C toolchain, or are
//! unmaintained and inclusive-only). C14N is small, fully specified and testable against
//! libxml2: the golden vectors in `tests/fixtures/c14n` were produced by `xmllint`.
//!
//! ## Why RSA verification is handwritten (in part)
//!
//! The `rsa` crate parses the key and holds its Montgomery parameters; dsig applies the public
//! exponent itself (square-and-multiply, `crypto-bigint` arithmetic) and compares the whole
//! EMSA-PKCS1-v1_5 encoding, because `rsa` raises to `e` with the windowed ladder made for secret
//! exponents: more than twice the products for e = 65537. Checking the QTSP's value is most of the
//! public-key work ecoc does per eCoC, before anything is submitted.
//!
//! ## Signature shape
//!
//! The signature uses the explicit `ds:` prefix **and** exclusive C14N for `SignedInfo`: the
//! EUCARIS profile asks for exc-c14n, and the prefix keeps the IVI default namespace out of the
//! signed bytes, which sidesteps a known signxml/lxml 6.1 bug with default-namespace signatures.
//!
//! ```
//! use dsig::{LocalSigner, Profile, SignOptions};
//! # fn demo(key: LocalSigner, chain: Vec<Vec<u8>>, xml: &[u8]) -> dsig::Result<()> {
//! let prepared = dsig::prepare(xml, &SignOptions::new(Profile::XmlDsig, chain))?;
//! // The 32-byte digest leaves the process (CSC signatures/signHash) ...
//! let value = dsig::Signer::sign_digest(&key, &prepared.digest())?;
//! // ... and the value comes back.
//! let signed = prepared.finish(&value)?;
//! # let _ = signed; Ok(()) }
//! ```

pub mod algorithms;
mod c14n;
pub mod csc;
mod dom;
mod error;
mod keys;
mod sign;
mod verify;
mod x509;

#[cfg(feature = "cli")]
pub mod cli;

pub use c14n::{C14nMethod, canonicalize};
pub use dom::Limits;
pub use error::{Error, Result};
pub use keys::{LocalSigner, PublicKey, SignatureAlgorithm, Signer, ecdsa_der_to_raw};
pub use sign::{Prepared, Profile, SignOptions, prepare, sign};
pub use verify::{VerifiedSignature, VerifyOptions, verify};
pub use x509::{Certificate, VerifyCache, parse_pem_certificates};
