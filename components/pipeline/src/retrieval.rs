//! An earlier stage's eCoC from the authority: a body builder completing another manufacturer's
//! chassis does not hold the stage 1 file, the authority does (VCA Phase 2 retrieval by VIN, an
//! EU NAP's retrieval through EUCARIS). ecoc asks the tenant's destinations in order, verifies the
//! signature of what it gets against the deployment's trust anchors, and the gate checks the later
//! stage against it ([`crate::validate`]). It never reads another tenant's store.

use dsig::Certificate;

use crate::calls::{Retrieved, RetrievedFile};
use crate::nap::Nap;
use crate::{Error, Result, Service};

/// Asks each of `naps` (destination label, adapter) for stage `stage` of `vin`; the first file
/// found is verified against `anchors` and answered. A file that does not verify is an error, not
/// a stage: nothing unverified reaches the gate.
pub fn earlier_stage(
    naps: &[(String, &dyn Nap)],
    vin: &str,
    stage: u32,
    anchors: &[Certificate],
) -> Result<Retrieved> {
    let mut asked = Vec::new();
    for (label, nap) in naps {
        asked.push(label.clone());
        let Some((xml, id)) = nap.retrieve(vin, stage)? else {
            continue;
        };
        let options = dsig::VerifyOptions {
            trust_anchors: anchors.to_vec(),
            ..Default::default()
        };
        let verified = dsig::verify(&xml, &options).map_err(|e| Error::Upstream {
            service: Service::Nap,
            message: format!(
                "the stage {stage} eCoC of {vin} that {label} holds ({id}) does not verify: {e}"
            ),
            retryable: false,
        })?;
        let xml = String::from_utf8(xml).map_err(|_| Error::Upstream {
            service: Service::Nap,
            message: format!("the stage {stage} eCoC of {vin} from {label} is not UTF-8"),
            retryable: false,
        })?;
        return Ok(Retrieved {
            file: Some(RetrievedFile {
                xml,
                source: format!("{label}: {id}, signed by {}", verified.signer.subject()),
            }),
            asked,
        });
    }
    Ok(Retrieved { file: None, asked })
}
