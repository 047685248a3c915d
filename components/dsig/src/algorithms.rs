//! Algorithm identifiers (URIs from XML-DSig 1.0/1.1 and RFC 6931, OIDs from RFC 5754/5758).

/// XML-DSig namespace, as the IVI library defines it.
pub use ivi::DSIG_NS;
/// XAdES 1.3.2 namespace (ETSI EN 319 132-1).
pub const XADES_NS: &str = "http://uri.etsi.org/01903/v1.3.2#";
/// `Reference/@Type` of the XAdES signed-properties reference.
pub const XADES_SIGNED_PROPERTIES_TYPE: &str = "http://uri.etsi.org/01903#SignedProperties";

/// Exclusive C14N 1.0 without comments.
pub const EXC_C14N: &str = "http://www.w3.org/2001/10/xml-exc-c14n#";
/// Exclusive C14N 1.0 with comments.
pub const EXC_C14N_WITH_COMMENTS: &str = "http://www.w3.org/2001/10/xml-exc-c14n#WithComments";
/// Inclusive C14N 1.0 without comments.
pub const C14N: &str = "http://www.w3.org/TR/2001/REC-xml-c14n-20010315";
/// Inclusive C14N 1.0 with comments.
pub const C14N_WITH_COMMENTS: &str = "http://www.w3.org/TR/2001/REC-xml-c14n-20010315#WithComments";
/// Enveloped-signature transform.
pub const ENVELOPED: &str = "http://www.w3.org/2000/09/xmldsig#enveloped-signature";

/// SHA-256 digest.
pub const SHA256: &str = "http://www.w3.org/2001/04/xmlenc#sha256";
/// SHA-1 digest: read (to report digest mismatches on legacy files), never accepted.
pub const SHA1: &str = "http://www.w3.org/2000/09/xmldsig#sha1";
/// RSASSA-PKCS1-v1_5 with SHA-256 (RFC 6931 section 2.3.2).
pub const RSA_SHA256: &str = "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256";
/// ECDSA P-256 with SHA-256 (RFC 6931 section 2.3.6); the value is raw r||s.
pub const ECDSA_SHA256: &str = "http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha256";
/// Legacy RSA-SHA1: recognised to give a precise refusal.
pub const RSA_SHA1: &str = "http://www.w3.org/2000/09/xmldsig#rsa-sha1";

/// OID of SHA-256 (`hashAlgorithmOID` in CSC `signatures/signHash`).
pub const OID_SHA256: &str = "2.16.840.1.101.3.4.2.1";
/// OID of sha256WithRSAEncryption (CSC `signAlgo` for RSA keys).
pub const OID_SHA256_WITH_RSA: &str = "1.2.840.113549.1.1.11";
/// OID of rsaEncryption (CSC `key/algo` for RSA keys; `signAlgo` with a separate hash OID).
pub const OID_RSA_ENCRYPTION: &str = "1.2.840.113549.1.1.1";
/// OID of ecdsa-with-SHA256 (CSC `signAlgo` for EC keys).
pub const OID_ECDSA_SHA256: &str = "1.2.840.10045.4.3.2";
/// OID of id-ecPublicKey (CSC `key/algo` for EC keys).
pub const OID_EC_PUBLIC_KEY: &str = "1.2.840.10045.2.1";
