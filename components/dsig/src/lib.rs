//! dsig (work in progress).
pub use p256;
pub use rsa;
pub use x509_cert;
