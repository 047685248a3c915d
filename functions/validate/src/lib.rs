//! `validate` (private): the gate before anything is stored or signed.
//!
//! - `POST /admit` `{tenant, actor, source, xml, leased}` -> 201 the new record, or the refusal
//!   (422 with every field error, 409 duplicate, 413 too large).
//! - `POST /admit-batch` `{tenant, actor, source, items: [xml...]}` -> `{results: [{status, body}]}`:
//!   one schema compile for many files (CSV batches).

#![allow(
    unsafe_code,
    reason = "the #[http_component] macro generates the unsafe export glue"
)]

use ivi::profile::ProfileValidator;
use pipeline::approvals::Approvals;
use pipeline::gate::{self, Candidate};
use pipeline::{Error, Result, clock, kv::KeyValue};
use serde_json::{Value, json};
use spin_glue::{Reply, reply, reply_error};
use spin_sdk::http::{Request, ResponseOutparam};
use spin_sdk::http_component;

mod official {
    include!(concat!(env!("OUT_DIR"), "/official_schema.rs"));
}

#[http_component]
fn handle(req: Request, out: ResponseOutparam) {
    let result = match req.path() {
        "/admit" => admit(&req, false),
        "/admit-batch" => admit(&req, true),
        other => Err(Error::NotFound(format!("validate has no route {other}"))),
    };
    spin_glue::respond(out, reply("validate", result));
}

fn field<'a>(body: &'a Value, name: &str) -> Result<&'a str> {
    body[name]
        .as_str()
        .ok_or_else(|| Error::BadRequest(format!("`{name}` is missing")))
}

fn admit(req: &Request, batch: bool) -> Result<Reply> {
    let body: Value = spin_glue::json_body(req)?;
    let stores = spin_glue::stores()?;
    let tenant = pipeline::tenant::load_tenant(&stores.data, field(&body, "tenant")?)?;
    let approvals: Approvals = stores
        .data
        .get_json(&format!("t/{}/approvals", tenant.id))?
        .unwrap_or_default();
    let profile: ivi::Profile = tenant
        .profile
        .parse()
        .map_err(|e| Error::Config(format!("tenant {}: {e}", tenant.id)))?;
    let checker = ProfileValidator::from_sources(profile, official::OFFICIAL).map_err(|e| {
        Error::Config(format!(
            "{e}; build the validate component with ECOC_IVI2_XSD set to the official ivi-2.0.xsd"
        ))
    })?;
    let base = Candidate {
        tenant: &tenant.id,
        actor: body["actor"].as_str().unwrap_or("unknown"),
        source: body["source"].as_str().unwrap_or("json"),
        xml: b"",
        leased: body["leased"].as_bool().unwrap_or(false),
    };
    let admit_one = |xml: &str| {
        let candidate = Candidate {
            xml: xml.as_bytes(),
            ..base
        };
        gate::admit(
            &stores,
            &checker,
            &approvals,
            candidate,
            clock::now_millis(),
        )
    };
    let answer = |result: Result<pipeline::record::Record>| match result {
        Ok(record) => (201, record.to_view()),
        Err(e) => {
            let r = reply_error("validate", &e);
            (r.status, e.to_json())
        }
    };
    if !batch {
        let xml = field(&body, "xml")?;
        let (status, value) = answer(admit_one(xml));
        return Ok(Reply::json(status, &value));
    }
    let items = body["items"]
        .as_array()
        .ok_or_else(|| Error::BadRequest("`items` must be an array of XML strings".into()))?;
    let results: Vec<Value> = items
        .iter()
        .map(|item| {
            let (status, value) = match item.as_str() {
                Some(xml) => answer(admit_one(xml)),
                None => (
                    400,
                    json!({"error": "bad_request", "message": "item is not a string"}),
                ),
            };
            json!({"status": status, "body": value})
        })
        .collect();
    Ok(Reply::json(200, &json!({ "results": results })))
}
