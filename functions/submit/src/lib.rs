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

fn erp_transport(secret: Option<&str>) -> Option<(&dyn HttpTransport, &str)> {
    secret.map(|s| (&SpinHttp as &dyn HttpTransport, s))
}

/// `POST /deliver` `{tenant, id}` (answers the record) or `{tenant, ids: [...]}` (answers
/// `{records: [...]}`): delivers, polls or writes back each record, whichever is its next step.
fn deliver(req: &Request) -> Result<Reply> {
    let body: Value = spin_glue::json_body(req)?;
    let stores = spin_glue::stores()?;
    let tenant =
        pipeline::tenant::load_tenant(&stores.data, body["tenant"].as_str().unwrap_or_default())?;
    let secret = optional_variable("callback_secret");
    let (ids, single) = spin_glue::record_ids(&body);
    let mut results = delivery::deliver_records(
        &stores,
        &tenant,
        &ids,
        &nap()?,
        erp_transport(secret.as_deref()),
        &policy(),
        clock::now_secs(),
    );
    if single {
        let record = results
            .pop()
            .unwrap_or_else(|| Err(Error::Internal("nothing delivered".into())))?;
        return Ok(Reply::json(200, &record.to_view()));
    }
    let views: Vec<Value> = results
        .into_iter()
        .map(|r| r.map_or_else(|e| e.to_json(), |r| r.to_view()))
        .collect();
    Ok(Reply::json(200, &json!({ "records": views })))
}

/// Chained calls a sweep keeps in flight at once.
const SWEEP_IN_FLIGHT: usize = 4;

/// `POST /sweep`: plans the due work ([`delivery::plan_sweep`]) and hands each batch to a `sign`
/// or `submit` instance, several at a time. One sweep works at a time (the others answer
/// `{"busy": true}` at once).
fn sweep() -> Result<Reply> {
    let stores = spin_glue::stores()?;
    let started = clock::now_millis();
    // After a NAP outage, the waiting records are due as soon as it answers again.
    delivery::drain_after_outage(&stores, &nap()?, clock::now_secs())?;
    if !delivery::anything_due(&stores, clock::now_secs())? {
        return Ok(Reply::json(200, &json!(delivery::SweepReport::default())));
    }
    let run_id = pipeline::ids::record_id(started)?;
    if !delivery::sweep_lock(&stores, &run_id)? {
        return Ok(Reply::json(200, &json!({"busy": true})));
    }
    let outcome = run_sweep(&stores, started);
    delivery::sweep_unlock(&stores, &run_id)?;
    outcome
}

/// Planning rounds per sweep: records that became due while a round ran (new uploads, polls)
/// are taken in the next round instead of waiting for the next timer tick.
const SWEEP_ROUNDS: usize = 10;

fn run_sweep(stores: &pipeline::kv::Stores<spin_glue::SpinKv>, started: u64) -> Result<Reply> {
    let mut report = delivery::SweepReport::default();
    let budget_left = || clock::now_millis().saturating_sub(started) < SWEEP_BUDGET_MS;
    for _ in 0..SWEEP_ROUNDS {
        let batches =
            delivery::plan_sweep(stores, 20_000, delivery::SWEEP_BATCH, clock::now_secs())?;
        let errors_before = report.errors;
        let mut rest = batches.as_slice();
        while !rest.is_empty() {
            if !budget_left() {
                report.remaining += rest.iter().map(|b| b.ids.len()).sum::<usize>();
                return Ok(Reply::json(200, &json!(report)));
            }
            let (now, later) = rest.split_at(rest.len().min(SWEEP_IN_FLIGHT * 2));
            rest = later;
            dispatch(now, &mut report);
        }
        // Nothing was due, or something failed: the next timer tick goes on.
        if batches.is_empty() || report.errors > errors_before || !budget_left() {
            break;
        }
    }
    Ok(Reply::json(200, &json!(report)))
}

/// Hands batches to `sign` / `submit` instances, [`SWEEP_IN_FLIGHT`] at a time.
fn dispatch(batches: &[delivery::Batch], report: &mut delivery::SweepReport) {
    let calls: Vec<(&str, &str, Value)> = batches
        .iter()
        .map(|b| {
            let (target, path) = match b.step {
                delivery::Step::Sign => ("sign", "/sign"),
                delivery::Step::Deliver => ("submit", "/deliver"),
            };
            (target, path, json!({"tenant": b.tenant, "ids": b.ids}))
        })
        .collect();
    for (batch, answer) in batches
        .iter()
        .zip(spin_glue::call_all(&calls, SWEEP_IN_FLIGHT))
    {
        report.visited += batch.ids.len();
        match batch.step {
            delivery::Step::Sign => report.signed += batch.ids.len(),
            delivery::Step::Deliver => report.delivered += batch.ids.len(),
        }
        match answer {
            Ok((status, body)) if status < 400 => {
                report.finished += body["records"].as_array().map_or(0, |records| {
                    records
                        .iter()
                        .filter(|r| matches!(r["status"].as_str(), Some("succeeded" | "failed")))
                        .count()
                });
            }
            _ => report.errors += batch.ids.len(),
        }
    }
}
