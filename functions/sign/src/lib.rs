//! `sign` (private): `POST /sign` ([`pipeline::calls::Sign`]) signs the validated records among
//! its ids as their tenant's signer ([`pipeline::identity::tenant_signer`]: the tenant's credential
//! at a QTSP of the `qtsps` variable, its secrets opened with `sealing_keys`; or the deployment's
//! shared signer, variables `qtsp_url`, `qtsp_client_id`, `qtsp_client_secret`, `qtsp_credential`,
//! `qtsp_pin`) in one CSC API v2 session, verifies each signature against the signer's trust
//! anchors (else `trust_anchors`, PEM), and hands the signed ones to `submit` at once. Answers
//! every record as it then stands ([`pipeline::calls::Records`]).

#![allow(
    unsafe_code,
    reason = "the #[http_component] macro generates the unsafe export glue"
)]

use pipeline::calls::{Call, Deliver, Outcome, RecordIds, Records, Sign};
use pipeline::record::Status;
use pipeline::retry::RetryPolicy;
use pipeline::sign::{self, CscSigning};
use pipeline::{Error, Result, clock, identity};
use spin_glue::{Reply, SpinTransport, reply, variable};
use spin_sdk::http::{Request, ResponseOutparam};
use spin_sdk::http_component;

#[http_component]
fn handle(req: Request, out: ResponseOutparam) {
    let result = match req.path() {
        Sign::PATH => spin_glue::json_body(&req).and_then(|call: Sign| sign_and_deliver(call.0)),
        other => Err(Error::NotFound(format!("sign has no route {other}"))),
    };
    spin_glue::respond(out, reply("sign", result));
}

fn sign_and_deliver(call: RecordIds) -> Result<Reply> {
    let stores = spin_glue::stores();
    let tenant = pipeline::tenant::load_tenant(&stores.data, &call.tenant)?;
    let signer = spin_glue::with_secrets(&stores.data, &tenant.id, |secrets| {
        identity::tenant_signer(&tenant, secrets)
    })?;
    let (anchors, from) = match &signer.trust_anchors {
        Some(pem) => (pem.clone(), "the tenant's signer.trust_anchors"),
        None => (variable("trust_anchors")?, "variable `trust_anchors`"),
    };
    let anchors = dsig::parse_pem_certificates(&anchors)
        .map_err(|e| Error::Config(format!("{from}: {e}")))?;
    let signing = CscSigning::for_signer(SpinTransport::REMOTE, &signer);
    let ids: Vec<&str> = call.ids.iter().map(String::as_str).collect();
    let records = sign::sign_records(
        &stores,
        &tenant,
        &ids,
        (
            &|xmls, profile| signing.sign_many(xmls, profile),
            &signer.label,
        ),
        &anchors,
        &RetryPolicy::default(),
        clock::now_secs(),
    )?;
    let signed: Vec<String> = records
        .iter()
        .filter(|r| r.status == Status::Signed)
        .map(|r| r.id.clone())
        .collect();
    if signed.is_empty() {
        let records = records.iter().map(|r| Outcome::Ok(r.to_view())).collect();
        return Ok(Reply::json(200, &Records { records }));
    }
    // Delivery follows at once; what it cannot do now, the sweep does later. The records
    // delivered are answered as `submit` left them; when the hand-off fails they are answered
    // signed, as they are.
    let handed = spin_glue::call(&Deliver(RecordIds {
        tenant: call.tenant,
        ids: signed,
    }));
    let delivered = handed.unwrap_or_else(|e| {
        eprintln!("sign: delivery not started ({e}); the sweep will take it");
        Records {
            records: Vec::new(),
        }
    });
    let mut after = delivered.records.into_iter();
    let records = records
        .iter()
        .map(|r| match r.status {
            Status::Signed => after.next().unwrap_or_else(|| Outcome::Ok(r.to_view())),
            _ => Outcome::Ok(r.to_view()),
        })
        .collect();
    Ok(Reply::json(200, &Records { records }))
}
