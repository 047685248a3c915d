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

/// Pre-initialisation: `ecoc preinit` runs this export once at build time and snapshots the
/// instance, so every request starts with both profiles' schemas already compiled (compiling the
/// official set is most of an uncompiled `/admit`'s time). A component that was not pre-initialised
/// compiles the schema its request needs, as before.
mod preinit {
    spin_sdk::wit_bindgen::generate!({
        inline: "package ecoc:preinit; world preinit { export wizer-initialize: func(); }",
        runtime_path: "spin_sdk::wit_bindgen::rt",
    });

    struct Preinit;

    impl Guest for Preinit {
        fn wizer_initialize() {
            for profile in [ivi::Profile::Eu, ivi::Profile::Uk] {
                // A profile that cannot compile (no official XSD embedded) is compiled, and
                // refused, per request as before.
                let _ = super::with_checker(profile, |_| ());
            }
        }
    }

    export!(Preinit);
}

thread_local! {
    /// Compiled schemas of this instance (or of its pre-initialised snapshot), per profile.
    static CHECKERS: std::cell::RefCell<Vec<(ivi::Profile, &'static ProfileValidator)>> =
        const { std::cell::RefCell::new(Vec::new()) };
}

/// Runs `f` with the compiled schema of `profile`, compiling it on first use in this instance.
fn with_checker<T>(profile: ivi::Profile, f: impl FnOnce(&ProfileValidator) -> T) -> Result<T> {
    let known = CHECKERS.with_borrow(|c| c.iter().find(|(p, _)| *p == profile).map(|(_, v)| *v));
    let checker = match known {
        Some(v) => v,
        None => {
            let compiled =
                ProfileValidator::from_sources(profile, official::OFFICIAL).map_err(|e| {
                    Error::Config(format!(
                        "{e}; build the validate component with ECOC_IVI2_XSD set to the official ivi-2.0.xsd"
                    ))
                })?;
            // Kept for the instance's life (a request, or the snapshot's every request).
            let leaked: &'static ProfileValidator = Box::leak(Box::new(compiled));
            CHECKERS.with_borrow_mut(|c| c.push((profile, leaked)));
            leaked
        }
    };
    Ok(f(checker))
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
    with_checker(profile, |checker| {
        admit_with(&body, &stores, &tenant, &approvals, checker, batch)
    })?
}

fn admit_with(
    body: &Value,
    stores: &pipeline::kv::Stores<spin_glue::SpinKv>,
    tenant: &pipeline::tenant::Tenant,
    approvals: &Approvals,
    checker: &ProfileValidator,
    batch: bool,
) -> Result<Reply> {
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
        gate::admit(stores, checker, approvals, candidate, clock::now_millis())
    };
    let answer = |result: Result<pipeline::record::Record>| match result {
        Ok(record) => (201, record.to_view()),
        Err(e) => {
            let r = reply_error("validate", &e);
            (r.status, e.to_json())
        }
    };
    if !batch {
        let xml = field(body, "xml")?;
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
