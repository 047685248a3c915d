//! `submit` (private):
//! - `POST /deliver` `{tenant, id}`: delivers a signed record to the NAP (Spin variables `nap_url`,
//!   `nap_client_id`, `nap_client_secret`), or polls a submitted one, or writes a final one back to
//!   the ERP (`callback_secret` signs the write-back);
//! - `POST /sweep`: the resume sweep: every record that still needs work and whose time has come
//!   gets its next step (the host's interval timer calls it; on Spin, any scheduler can).

#![allow(
    unsafe_code,
    reason = "the #[http_component] macro generates the unsafe export glue"
)]

use dsig::csc::HttpTransport;
use pipeline::delivery::{self, RetryPolicy};
use pipeline::nap::VcaNap;
use pipeline::{Error, Result, clock};
use serde_json::{Value, json};
use spin_glue::{Reply, SpinHttp, optional_variable, reply, variable};
use spin_sdk::http::{Request, ResponseOutparam};
use spin_sdk::http_component;

/// How long one sweep call may work before it returns (the host allows 30 s per request).
const SWEEP_BUDGET_MS: u64 = 20_000;

#[http_component]
fn handle(req: Request, out: ResponseOutparam) {
    let result = match req.path() {
        "/deliver" => deliver(&req),
        "/sweep" => sweep(),
        other => Err(Error::NotFound(format!("submit has no route {other}"))),
    };
    spin_glue::respond(out, reply("submit", result));
}

fn nap() -> Result<VcaNap<SpinHttp>> {
    Ok(VcaNap::new(
        SpinHttp,
        &variable("nap_url")?,
        &variable("nap_client_id")?,
        &variable("nap_client_secret")?,
    ))
}

fn policy() -> RetryPolicy {
    let mut policy = RetryPolicy::default();
    if let Some(n) = optional_variable("max_attempts").and_then(|v| v.parse().ok()) {
        policy.max_attempts = n;
    }
    policy
}

fn deliver(req: &Request) -> Result<Reply> {
    let body: Value = spin_glue::json_body(req)?;
    let stores = spin_glue::stores()?;
    let tenant =
        pipeline::tenant::load_tenant(&stores.data, body["tenant"].as_str().unwrap_or_default())?;
    let secret = optional_variable("callback_secret");
    let erp = secret
        .as_deref()
        .map(|s| (&SpinHttp as &dyn HttpTransport, s));
    let record = delivery::deliver_record(
        &stores,
        &tenant,
        body["id"].as_str().unwrap_or_default(),
        &nap()?,
        erp,
        &policy(),
        clock::now_secs(),
    )?;
    Ok(Reply::json(200, &record.to_view()))
}

fn sweep() -> Result<Reply> {
    let stores = spin_glue::stores()?;
    let started = clock::now_millis();
    let secret = optional_variable("callback_secret");
    let erp = secret
        .as_deref()
        .map(|s| (&SpinHttp as &dyn HttpTransport, s));
    let mut sign = |tenant: &str, id: &str| -> Result<()> {
        let (status, body) =
            spin_glue::call("sign", "/sign", &json!({"tenant": tenant, "id": id}))?;
        if status >= 400 {
            return Err(spin_glue::relay(status, body));
        }
        Ok(())
    };
    let report = delivery::sweep(
        &stores,
        &nap()?,
        erp,
        &mut sign,
        &policy(),
        5_000,
        &clock::now_secs,
        &|| clock::now_millis().saturating_sub(started) < SWEEP_BUDGET_MS,
    )?;
    Ok(Reply::json(200, &json!(report)))
}
