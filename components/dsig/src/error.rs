//! The crate's error type.

/// Everything that can go wrong while reading, canonicalising, signing or verifying.
///
/// Messages are lowercase and name the offending value; verifier errors say exactly why a
/// signature is refused, because that text is what `ecoc verify` prints.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The input is not well-formed XML (or not UTF-8).
    #[error("malformed xml at byte {position}: {reason}")]
    Xml {
        /// Byte offset where the problem was noticed.
        position: u64,
        /// What is wrong.
        reason: String,
    },
    /// The input uses a feature this reader refuses on purpose (DTD, entity, foreign encoding).
    #[error("refused xml: {0}")]
    Refused(String),
    /// A named reader limit was exceeded.
    #[error("xml limit exceeded: {limit} is {max}, document needs more")]
    Limit {
        /// The limit's name (a field of [`crate::Limits`]).
        limit: &'static str,
        /// Its configured value.
        max: usize,
    },
    /// The document cannot receive a signature (for example it already has one).
    #[error("cannot sign: {0}")]
    Sign(String),
    /// An algorithm URI or OID this crate does not accept.
    #[error("unsupported algorithm {0}")]
    UnsupportedAlgorithm(String),
    /// A signature's structure is not the accepted profile (wrapping defences included).
    #[error("signature structure refused: {0}")]
    Structure(String),
    /// A reference's digest does not match the data it points to.
    #[error("digest mismatch for reference URI \"{uri}\"")]
    DigestMismatch {
        /// The `Reference/@URI` value.
        uri: String,
    },
    /// The `SignatureValue` does not verify over `SignedInfo` with the signing certificate's key.
    #[error("signature value invalid: {0}")]
    SignatureValue(String),
    /// An ECDSA `SignatureValue` is DER-encoded instead of raw r||s (RFC 6931 section 2.3.6).
    #[error(
        "ecdsa signature value is der-encoded ({len} bytes); xml-dsig requires raw r||s of 64 bytes"
    )]
    DerEcdsaValue {
        /// Length of the value found.
        len: usize,
    },
    /// A certificate or key could not be decoded.
    #[error("certificate: {0}")]
    Certificate(String),
    /// Certificate validity, key usage or path problems.
    #[error("certificate chain: {0}")]
    Chain(String),
    /// The XAdES signed properties do not match the signature.
    #[error("xades: {0}")]
    Xades(String),
    /// Base64 content that does not decode.
    #[error("invalid base64 in {0}")]
    Base64(String),
    /// The CSC API answered with an error body (`{"error", "error_description"}`).
    #[error("qtsp error {status} {error}: {description}")]
    Csc {
        /// HTTP status.
        status: u16,
        /// CSC `error` code, e.g. `invalid_request`.
        error: String,
        /// CSC `error_description`.
        description: String,
    },
    /// The CSC API answered something this client cannot use.
    #[error("qtsp protocol: {0}")]
    CscProtocol(String),
    /// The HTTP transport failed (connect, timeout, TLS).
    #[error("qtsp transport: {0}")]
    Transport(String),
    /// A signer (local key or remote QTSP) failed.
    #[error("signer: {0}")]
    Signer(String),
    /// Input/output error (CLI only).
    #[error("{context}: {source}")]
    Io {
        /// What was being read or written.
        context: String,
        /// The underlying error.
        source: std::io::Error,
    },
}

/// Result with [`Error`] as the default error.
pub type Result<T, E = Error> = std::result::Result<T, E>;
