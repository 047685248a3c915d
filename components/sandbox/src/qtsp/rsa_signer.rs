//! The RSA private-key operation behind `signatures/signHash`: PKCS#1 v1.5 over a hash the client
//! computed (RFC 8017 section 8.2.1), the EUCARIS signature method.
//!
//! The key is always held as an [`rsa::RsaPrivateKey`], which signs by default. With the `openssl`
//! feature the same key is also loaded into OpenSSL, which then does the signing: its assembly
//! Montgomery multiplication makes an RSA-2048 signature about six times cheaper than the `rsa`
//! crate's portable one (0.24 against 1.5 ms on this project's 2-core bench machine), and in the
//! benchmark the sandbox's signing would otherwise cost more CPU than ecoc's own signing step.
//! PKCS#1 v1.5 is deterministic, so both give the same bytes; a test holds them to that.
//! OpenSSL is used through `EVP_PKEY_sign` with the digest named, which signs a given hash: the
//! pure-Rust crates with an optimised RSA (`ring`, `aws-lc-rs`) only sign whole messages.

use super::pki::HashAlg;

/// An RSA signing key.
pub(crate) struct RsaSigner {
    key: rsa::RsaPrivateKey,
    #[cfg(feature = "openssl")]
    openssl: openssl::pkey::PKey<openssl::pkey::Private>,
}

impl RsaSigner {
    /// Wraps `key` (and, with the `openssl` feature, loads it into OpenSSL).
    ///
    /// # Errors
    /// A reason when OpenSSL refuses the key.
    pub(crate) fn new(key: rsa::RsaPrivateKey) -> Result<Self, String> {
        #[cfg(feature = "openssl")]
        let openssl = {
            use rsa::pkcs8::EncodePrivateKey;
            let der = key.to_pkcs8_der().map_err(|e| e.to_string())?;
            openssl::pkey::PKey::private_key_from_pkcs8(der.as_bytes())
                .map_err(|e| format!("OpenSSL refused the key: {e}"))?
        };
        Ok(Self {
            key,
            #[cfg(feature = "openssl")]
            openssl,
        })
    }

    /// The modulus length in bytes.
    pub(crate) fn size(&self) -> usize {
        rsa::traits::PublicKeyParts::size(&self.key)
    }

    /// The PKCS#1 v1.5 signature of `hash`, a digest made with `hash_alg`.
    ///
    /// # Errors
    /// The key operation's reason.
    pub(crate) fn sign(&self, hash_alg: HashAlg, hash: &[u8]) -> Result<Vec<u8>, String> {
        #[cfg(feature = "openssl")]
        return self.sign_with_openssl(hash_alg, hash);
        #[cfg(not(feature = "openssl"))]
        self.sign_with_rsa_crate(hash_alg, hash)
    }

    #[cfg_attr(
        feature = "openssl",
        allow(dead_code, reason = "the reference in tests")
    )]
    fn sign_with_rsa_crate(&self, hash_alg: HashAlg, hash: &[u8]) -> Result<Vec<u8>, String> {
        let padding = match hash_alg {
            HashAlg::Sha256 => rsa::Pkcs1v15Sign::new::<sha2::Sha256>(),
            HashAlg::Sha384 => rsa::Pkcs1v15Sign::new::<sha2::Sha384>(),
            HashAlg::Sha512 => rsa::Pkcs1v15Sign::new::<sha2::Sha512>(),
        };
        self.key.sign(padding, hash).map_err(|e| e.to_string())
    }

    #[cfg(feature = "openssl")]
    fn sign_with_openssl(&self, hash_alg: HashAlg, hash: &[u8]) -> Result<Vec<u8>, String> {
        use openssl::md::Md;
        use openssl::pkey_ctx::PkeyCtx;
        use openssl::rsa::Padding;
        let md = match hash_alg {
            HashAlg::Sha256 => Md::sha256(),
            HashAlg::Sha384 => Md::sha384(),
            HashAlg::Sha512 => Md::sha512(),
        };
        let mut signature = Vec::with_capacity(self.size());
        PkeyCtx::new(&self.openssl)
            .and_then(|mut ctx| {
                ctx.sign_init()?;
                ctx.set_rsa_padding(Padding::PKCS1)?;
                ctx.set_signature_md(md)?;
                ctx.sign_to_vec(hash, &mut signature)
            })
            .map_err(|e| format!("OpenSSL: {e}"))?;
        Ok(signature)
    }
}

#[cfg(all(test, feature = "openssl"))]
mod tests {
    use sha2::Digest;

    use super::*;

    #[test]
    fn openssl_signs_the_same_bytes_as_the_rsa_crate() {
        let key = rsa::RsaPrivateKey::new(
            &mut getrandom::rand_core::UnwrapErr(getrandom::SysRng),
            2048,
        )
        .unwrap();
        let signer = RsaSigner::new(key).unwrap();
        let cases = [
            (HashAlg::Sha256, sha2::Sha256::digest(b"eCoC").to_vec()),
            (HashAlg::Sha384, sha2::Sha384::digest(b"eCoC").to_vec()),
            (HashAlg::Sha512, sha2::Sha512::digest(b"eCoC").to_vec()),
        ];
        for (alg, hash) in cases {
            let reference = signer.sign_with_rsa_crate(alg, &hash).unwrap();
            assert_eq!(
                signer.sign_with_openssl(alg, &hash).unwrap(),
                reference,
                "{alg:?}"
            );
            assert_eq!(reference.len(), 256);
        }
        // A hash of the wrong length for its algorithm is refused, as the rsa crate refuses it.
        let short = [0u8; 20];
        assert!(signer.sign_with_rsa_crate(HashAlg::Sha256, &short).is_err());
        assert!(signer.sign_with_openssl(HashAlg::Sha256, &short).is_err());
    }
}
