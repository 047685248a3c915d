//! The `sign` step: the QTSP signs each validated record's hash over the CSC API v2 (one session
//! for a batch), and every signature is verified against the tenant's trust anchors before it is
//! stored.

use dsig::Certificate;
use dsig::csc::{AuthData, CscClient, CscSigner};
use transport::Transport;

use crate::kv::{KeyValue, Stores};
use crate::record::{LEASE_SECS, Record, Status};
use crate::repo::{Repo, XmlKind};
use crate::retry::{RetryPolicy, fail_or_retry};
use crate::tenant::Tenant;
use crate::{Error, Result, Service};

/// Most hashes sent in one `signatures/signHash` call.
pub const MAX_HASHES_PER_CALL: usize = 50;

/// Signing through a QTSP over the CSC API v2. `Debug` shows no PIN.
pub struct CscSigning<T> {
    client: CscClient<T>,
    credential_id: String,
    pin: String,
}

impl<T> std::fmt::Debug for CscSigning<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CscSigning")
            .field("credential_id", &self.credential_id)
            .finish_non_exhaustive()
    }
}

fn qtsp_error(e: dsig::Error) -> Error {
    let retryable = match &e {
        dsig::Error::Transport(_) => true,
        dsig::Error::Csc { status, .. } => *status >= 500 || *status == 429,
        _ => false,
    };
    Error::Upstream {
        service: Service::Qtsp,
        message: e.to_string(),
        retryable,
    }
}

impl<T: Transport> CscSigning<T> {
    /// Signing with `credential_id` (PIN `pin`) through `client`.
    pub fn new(client: CscClient<T>, credential_id: &str, pin: &str) -> Self {
        Self {
            client,
            credential_id: credential_id.to_owned(),
            pin: pin.to_owned(),
        }
    }

    /// Signing as `signer` (a tenant's signer, resolved) over `transport`.
    pub fn for_signer(transport: T, signer: &crate::identity::SignerConfig) -> Self {
        let config = dsig::csc::CscConfig::new(
            signer.url.clone(),
            signer.client_id.clone(),
            signer.client_secret.clone(),
        );
        Self::new(
            CscClient::new(transport, config),
            &signer.credential,
            &signer.pin,
        )
    }

    /// Signs `xml` (replacing its placeholder signature) with `profile`; not verified, as
    /// [`CscSigning::sign_many`].
    pub fn sign(&self, xml: &[u8], profile: dsig::Profile) -> Result<Vec<u8>> {
        self.sign_many(&[xml], profile)
            .pop()
            .unwrap_or_else(|| Err(Error::Internal("no signature made".into())))
    }

    /// Signs several documents: one token and `credentials/info` for all, then one
    /// `credentials/authorize` + `signatures/signHash` per [`MAX_HASHES_PER_CALL`] hashes (fewer
    /// when the credential's `multisign` says so). One answer per document, in order.
    ///
    /// The values are embedded as the QTSP returned them: the caller verifies each signed
    /// document whole before it keeps it ([`sign_records`] does, with [`dsig::verify`]).
    pub fn sign_many(&self, xmls: &[&[u8]], profile: dsig::Profile) -> Vec<Result<Vec<u8>>> {
        let auth = AuthData {
            pin: Some(self.pin.clone()),
            otp: None,
        };
        let signer = match CscSigner::new(&self.client, &self.credential_id, auth) {
            Ok(s) => s,
            Err(e) => {
                let e = qtsp_error(e);
                return xmls.iter().map(|_| Err(e.clone())).collect();
            }
        };
        // The tenant's profile must take the credential's key: a configuration error, before
        // anything is signed (the records stay validated).
        if let Err(e) = profile.check_algorithm(dsig::Signer::algorithm(&signer)) {
            let e = Error::Config(format!("credential `{}`: {e}", self.credential_id));
            return xmls.iter().map(|_| Err(e.clone())).collect();
        }
        let mut options = dsig::SignOptions::new(profile, signer.certificates().to_vec());
        options.replace_existing = true;
        let mut answers: Vec<Result<Vec<u8>>> = Vec::with_capacity(xmls.len());
        let mut prepared = Vec::new();
        for xml in xmls {
            match dsig::prepare(xml, &options) {
                Ok(p) => {
                    prepared.push((answers.len(), p));
                    answers.push(Err(Error::Internal("not signed".into())));
                }
                Err(e) => answers.push(Err(qtsp_error(e))),
            }
        }
        let per_call = usize::try_from(signer.multisign())
            .unwrap_or(1)
            .clamp(1, MAX_HASHES_PER_CALL);
        let mut rest = prepared.into_iter().peekable();
        while rest.peek().is_some() {
            let chunk: Vec<_> = rest.by_ref().take(per_call).collect();
            let digests: Vec<[u8; 32]> = chunk.iter().map(|(_, p)| p.digest()).collect();
            let values = signer
                .sign_digests(&digests)
                .map_err(qtsp_error)
                .and_then(|values| {
                    if values.len() == chunk.len() {
                        Ok(values)
                    } else {
                        Err(Error::Upstream {
                            service: Service::Qtsp,
                            message: format!(
                                "signatures/signHash answered {} values for {} hashes",
                                values.len(),
                                chunk.len()
                            ),
                            retryable: true,
                        })
                    }
                });
            match values {
                Ok(values) => {
                    for ((at, p), value) in chunk.into_iter().zip(values) {
                        answers[at] = p.finish_unchecked(&value).map_err(qtsp_error);
                    }
                }
                Err(e) => {
                    for (at, _) in chunk {
                        answers[at] = Err(e.clone());
                    }
                }
            }
        }
        answers
    }
}

/// Signs XML with a profile (the QTSP in production, a local key in tests).
pub type SignFn<'a> = dyn Fn(&[u8], dsig::Profile) -> Result<Vec<u8>> + 'a;

/// Signs several documents at once with one profile: one answer per document, in order (the QTSP
/// signs all their hashes under one authorisation).
pub type SignManyFn<'a> = dyn Fn(&[&[u8]], dsig::Profile) -> Vec<Result<Vec<u8>>> + 'a;

/// The `sign` step: signs a validated record, verifies the signature against the tenant's trust
/// anchors before anything else sees it, stores the signed XML.
pub fn sign_record<K: KeyValue>(
    stores: &Stores<K>,
    tenant: &Tenant,
    id: &str,
    sign: &SignFn<'_>,
    anchors: &[Certificate],
    policy: &RetryPolicy,
    now: u64,
) -> Result<Record> {
    let one_by_one = |xmls: &[&[u8]], profile| xmls.iter().map(|x| sign(x, profile)).collect();
    let mut records = sign_records(
        stores,
        tenant,
        &[id],
        (&one_by_one, "local key"),
        anchors,
        policy,
        now,
    )?;
    records
        .pop()
        .ok_or_else(|| Error::Internal("sign_records answered nothing".into()))
}

/// [`sign_record`] for several records of one tenant, with one call to `sign` for all of those still
/// `validated` (the others are answered as they stand); `signer` is the signing and who it signs as
/// (the tenant's signer's label, kept in each record's `signed_by`). A record that cannot be read fails the
/// whole call; a signature that fails or does not verify fails (or retries) only its record.
pub fn sign_records<K: KeyValue>(
    stores: &Stores<K>,
    tenant: &Tenant,
    ids: &[&str],
    (sign, signed_as): (&SignManyFn<'_>, &str),
    anchors: &[Certificate],
    policy: &RetryPolicy,
    now: u64,
) -> Result<Vec<Record>> {
    let repo = Repo::new(stores);
    let profile: dsig::Profile = tenant
        .signature_profile
        .parse()
        .map_err(|e| Error::Config(format!("tenant {}: {e}", tenant.id)))?;
    let mut records = Vec::with_capacity(ids.len());
    let mut pending = Vec::new();
    for id in ids {
        let record = repo.load(&tenant.id, id)?;
        if record.status == Status::Validated {
            let mapped = repo
                .xml(&tenant.id, id, XmlKind::Mapped)?
                .ok_or_else(|| Error::corrupt("record XML", format!("{id} has none")))?;
            pending.push((records.len(), mapped));
        }
        records.push(record);
    }
    if pending.is_empty() {
        return Ok(records);
    }
    let xmls: Vec<&[u8]> = pending.iter().map(|(_, x)| x.as_slice()).collect();
    let mut answers = sign(&xmls, profile);
    // A signing set-up the deployment must fix fails the call, not the records.
    if let Some(Err(e)) = answers.iter().find(|a| matches!(a, Err(Error::Config(_)))) {
        return Err(e.clone());
    }
    answers.resize_with(xmls.len(), || {
        Err(Error::Internal(
            "the signer gave fewer answers than documents".into(),
        ))
    });
    let options = dsig::VerifyOptions {
        trust_anchors: anchors.to_vec(),
        ..Default::default()
    };
    for ((at, _), answer) in pending.iter().zip(answers) {
        let record = &mut records[*at];
        let verified = answer.and_then(|signed| {
            let verified = dsig::verify(&signed, &options).map_err(|e| Error::Upstream {
                service: Service::Qtsp,
                message: format!("the signature made does not verify: {e}"),
                retryable: false,
            })?;
            Ok((signed, verified))
        });
        match verified {
            Ok((signed, verified)) => {
                repo.put_xml(record, XmlKind::Signed, &signed)?;
                let subject = verified.signer.subject();
                record.signed_by = Some(format!("{signed_as}: {subject}"));
                record.advance(
                    Status::Signed,
                    "sign",
                    Some(format!(
                        "{} signature by {subject} ({signed_as}), verified",
                        verified.profile.name()
                    )),
                    now,
                )?;
                record.not_before = now + LEASE_SECS;
            }
            Err(e) => fail_or_retry(record, "sign", &e, policy, now)?,
        }
        repo.save(record)?;
    }
    Ok(records)
}
