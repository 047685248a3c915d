//! `sign` (private): `POST /sign` `{tenant, id}` signs a validated record through the QTSP (CSC API
//! v2; Spin variables `qtsp_url`, `qtsp_client_id`, `qtsp_client_secret`, `qtsp_credential`,
//! `qtsp_pin`), verifies it against `trust_anchors` (PEM) and, once signed, hands it to `submit`.
//! Answers the record as it then stands.

#![allow(
    unsafe_code,
    reason = "the #[http_component] macro generates the unsafe export glue"
)]

use dsig::csc::{CscClient, CscConfig};
use pipeline::delivery::{self, CscSigning, RetryPolicy};
use pipeline::record::Status;
use pipeline::{Error, Result, clock};
use serde_json::{Value, json};
use spin_glue::{Reply, SpinHttp, reply, variable};
use spin_sdk::http::{Request, ResponseOutparam};
use spin_sdk::http_component;

#[http_component]
fn handle(req: Request, out: ResponseOutparam) {
    let result = match req.path() {
        "/sign" => sign(&req),
        other => Err(Error::NotFound(format!("sign has no route {other}"))),
    };
    spin_glue::respond(out, reply("sign", result));
}

fn sign(req: &Request) -> Result<Reply> {
    let body: Value = spin_glue::json_body(req)?;
    let tenant_id = body["tenant"].as_str().unwrap_or_default();
    let (ids, single) = spin_glue::record_ids(&body);
    let stores = spin_glue::stores()?;
    let tenant = pipeline::tenant::load_tenant(&stores.data, tenant_id)?;
    let anchors = dsig::parse_pem_certificates(&variable("trust_anchors")?)
        .map_err(|e| Error::Config(format!("variable `trust_anchors`: {e}")))?;
    let client = CscClient::new(
        SpinHttp,
        CscConfig::new(
            variable("qtsp_url")?,
            variable("qtsp_client_id")?,
            variable("qtsp_client_secret")?,
        ),
    );
    let signing = CscSigning::new(
        client,
        &variable("qtsp_credential")?,
        &variable("qtsp_pin")?,
    );
    let records = delivery::sign_records(
        &stores,
        &tenant,
        &ids,
        &|xmls, profile| signing.sign_many(xmls, profile),
        &anchors,
        &RetryPolicy::default(),
        clock::now_secs(),
    )?;
    let signed: Vec<&str> = records
        .iter()
        .filter(|r| r.status == Status::Signed)
        .map(|r| r.id.as_str())
        .collect();
    // Delivery follows at once; what it cannot do now, the sweep does later.
    let delivered = if signed.is_empty() {
        None
    } else {
        Some(spin_glue::call(
            "submit",
            "/deliver",
            &json!({"tenant": tenant_id, "ids": signed}),
        )?)
    };
    if single {
        // One record asked for: answer it as it now stands.
        return match delivered {
            Some((status, answer)) => Ok(Reply::json(
                status,
                answer["records"].get(0).unwrap_or(&answer),
            )),
            None => Ok(Reply::json(
                200,
                &records.first().map(|r| r.to_view()).unwrap_or_default(),
            )),
        };
    }
    let views: Vec<Value> = records.iter().map(|r| r.to_view()).collect();
    Ok(Reply::json(200, &json!({ "records": views })))
}
