//! `submit` (private):
//! - `POST /deliver` ([`pipeline::calls::Deliver`]): gives each record its next delivery step:
//!   delivers a signed record to the NAP of its destination, under the tenant's account there
//!   ([`pipeline::identity::tenant_accounts`]: NAPs of the `naps` variable, secrets opened with
//!   `sealing_keys`; or the deployment's shared account, variables `nap_url`, `nap_client_id`,
//!   `nap_client_secret`), polls a submitted one, or writes a final one back to the ERP
//!   (`callback_secret` signs the write-back). Answers every record ([`pipeline::calls::Records`]).
//! - `POST /retrieve` ([`pipeline::calls::Retrieve`]): an earlier stage's eCoC from the authority,
//!   through the tenant's destinations, verified against `trust_anchors`
//!   ([`pipeline::retrieval`]); `validate` asks when a later stage's earlier one is not on record.
//! - `POST /sweep` ([`pipeline::calls::Sweep`]): the resume sweep ([`pipeline::sweep::run`]); this
//!   component only supplies the parallel dispatch of its batches to `sign` and `submit` instances.
//!   The host's interval timer calls it; on Spin, any scheduler can (`POST /v1/admin/sweep`).
//!   The same tick chains the audit trail ([`pipeline::audit::chain`]) and, once a day, signs
//!   its checkpoints with `audit_signing_key`, and folds new records into the VIN index
//!   ([`pipeline::vin_index::fold`]).

#![allow(
    unsafe_code,
    reason = "the #[http_component] macro generates the unsafe export glue"
)]

use pipeline::calls::{Call, Deliver, RecordIds, Records, Retrieve, Sign, Sweep};
use pipeline::identity::{self, Account, Adapter};
use pipeline::nap::{EuNap, Nap, Naps, VcaNap};
use pipeline::retry::RetryPolicy;
use pipeline::sweep::{self, Batch, Dispatch, Step};
use pipeline::{Error, Result, audit, clock, retrieval, submit, vin_index};
use spin_glue::{Pending, Reply, SpinTransport, optional_variable, reply, variable};
use spin_sdk::http::{Request, ResponseOutparam};
use spin_sdk::http_component;

/// Chained calls a sweep keeps in flight at once.
const SWEEP_IN_FLIGHT: usize = 4;

#[http_component]
fn handle(req: Request, out: ResponseOutparam) {
    let result = match req.path() {
        Deliver::PATH => spin_glue::json_body(&req).and_then(|call: Deliver| deliver(&call.0)),
        Sweep::PATH => spin_glue::call_body(&req).and_then(|_: Sweep| run_sweep()),
        Retrieve::PATH => spin_glue::json_body(&req).and_then(|call: Retrieve| retrieve(&call)),
        other => Err(Error::NotFound(format!("submit has no route {other}"))),
    };
    spin_glue::respond(out, reply("submit", result));
}

/// The NAP the sweep asks whether an outage is over: the deployment's `nap_url` (a refusal of the
/// shared account's credentials, or of none, is an answer too).
fn probe() -> Result<VcaNap<SpinTransport>> {
    Ok(VcaNap::new(
        SpinTransport::REMOTE,
        &variable("nap_url")?,
        &optional_variable("nap_client_id").unwrap_or_default(),
        &optional_variable("nap_client_secret").unwrap_or_default(),
    ))
}

/// A tenant's NAP connections, one per account.
struct TenantNaps(Vec<(Account, Box<dyn Nap>)>);

impl TenantNaps {
    fn load(stores: &spin_glue::SpinStores, tenant: &pipeline::tenant::Tenant) -> Result<Self> {
        let accounts = spin_glue::with_secrets(&stores.data, &tenant.id, |secrets| {
            identity::tenant_accounts(tenant, secrets)
        })?;
        Ok(Self(
            accounts
                .into_iter()
                .map(|a| {
                    let nap: Box<dyn Nap> = match a.adapter {
                        Adapter::Vca => Box::new(VcaNap::new(
                            SpinTransport::REMOTE,
                            &a.url,
                            &a.client_id,
                            a.client_secret.as_deref().unwrap_or_default(),
                        )),
                        // The client certificate is the runtime's ([[client_tls]]).
                        Adapter::Eu => Box::new(EuNap::new(SpinTransport::REMOTE, &a.url)),
                    };
                    (a, nap)
                })
                .collect(),
        ))
    }
}

impl Naps for TenantNaps {
    fn for_destination(&self, destination: Option<&str>) -> Result<(&dyn Nap, Option<String>)> {
        let found = match destination {
            None => self.0.first(),
            Some(id) => self.0.iter().find(|(a, _)| a.destination == id),
        };
        let (account, nap) = found.ok_or_else(|| {
            Error::Config(format!(
                "destination `{}` is not among the tenant's destinations",
                destination.unwrap_or("(first)")
            ))
        })?;
        Ok((nap.as_ref(), Some(account.label())))
    }
}

fn policy() -> RetryPolicy {
    let mut policy = RetryPolicy::default();
    if let Some(n) = optional_variable("max_attempts").and_then(|v| v.parse().ok()) {
        policy.max_attempts = n;
    }
    policy
}

fn deliver(call: &RecordIds) -> Result<Reply> {
    let stores = spin_glue::stores();
    let tenant = pipeline::tenant::load_tenant(&stores.data, &call.tenant)?;
    let secret = optional_variable("callback_secret");
    let erp: Option<pipeline::callback::Erp<'_>> = secret
        .as_deref()
        .map(|s| (&SpinTransport::CALLBACK as _, s));
    let ids: Vec<&str> = call.ids.iter().map(String::as_str).collect();
    let results = submit::deliver_records(
        &stores,
        &tenant,
        &ids,
        &TenantNaps::load(&stores, &tenant)?,
        erp,
        &policy(),
        clock::now_secs(),
    );
    Ok(Reply::json(200, &Records::from_results(results)))
}

/// An earlier stage from the authority, through each of the tenant's destinations in turn,
/// verified against `trust_anchors`.
fn retrieve(call: &Retrieve) -> Result<Reply> {
    let stores = spin_glue::stores();
    let tenant = pipeline::tenant::load_tenant(&stores.data, &call.tenant)?;
    let naps = TenantNaps::load(&stores, &tenant)?;
    let anchors = dsig::parse_pem_certificates(&variable("trust_anchors")?)
        .map_err(|e| Error::Config(format!("variable `trust_anchors`: {e}")))?;
    let asked: Vec<(String, &dyn Nap)> = naps
        .0
        .iter()
        .map(|(a, nap)| (a.label(), nap.as_ref()))
        .collect();
    let found = retrieval::earlier_stage(&asked, &call.vin, call.stage, &anchors)?;
    Ok(Reply::json(200, &found))
}

/// The sweep's batches, each to its own `sign` or `submit` instance, several at once.
#[derive(Debug)]
struct Parallel;

impl Dispatch for Parallel {
    fn width(&self) -> usize {
        SWEEP_IN_FLIGHT * 2
    }

    fn run(&mut self, batches: &[Batch]) -> Vec<Result<Records>> {
        let calls: Vec<Pending<'_, Records>> = batches
            .iter()
            .map(|b| {
                let ids = RecordIds {
                    tenant: b.tenant.clone(),
                    ids: b.ids.clone(),
                };
                match b.step {
                    Step::Sign => Box::pin(async move { spin_glue::call_async(&Sign(ids)).await })
                        as Pending<'_, Records>,
                    Step::Deliver => {
                        Box::pin(async move { spin_glue::call_async(&Deliver(ids)).await })
                    }
                }
            })
            .collect();
        spin_glue::all(calls, SWEEP_IN_FLIGHT)
    }
}

fn run_sweep() -> Result<Reply> {
    let stores = spin_glue::stores();
    let mut report = sweep::run(&stores, &probe()?, &mut Parallel, &clock::now_millis)?;
    // The same tick folds new records into the VIN index; what it leaves, the next tick takes.
    match vin_index::fold(&stores) {
        Ok(index) => report.index = index,
        Err(e) => eprintln!("submit: VIN index not folded ({e}); the next tick tries again"),
    }
    // The same tick chains the audit trail's queue (and signs the day's checkpoints); a failure
    // there leaves the queue for the next tick and does not fail the sweep.
    match spin_glue::audit_key()
        .and_then(|key| audit::chain(&stores, key.as_ref(), clock::now_secs()))
    {
        Ok(audit) => report.audit = audit,
        Err(e) => eprintln!("submit: audit chain not advanced ({e}); the next tick tries again"),
    }
    Ok(Reply::json(200, &report))
}
