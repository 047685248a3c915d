//! The resume sweep: every record whose time has come gets its next step. It is how batches
//! (which are not driven on at once) are signed and delivered, how polls happen, and how work left
//! by a crash, an outage or a timed-out request is picked up.
//!
//! One sweep works at a time (a claim, [`crate::keys::SWEEP_LOCK`]); a sweep with nothing due
//! writes nothing. It plans in rounds ([`plan`]: batches of [`SWEEP_BATCH`] records per tenant and
//! step), hands each round's batches to a [`Dispatch`] (the `submit` component sends them to
//! parallel `sign` and `submit` instances; tests run them in process), and stops when its time
//! budget is spent, counting what is left in its [`SweepReport`]. Records that became due while a
//! round ran (new uploads, polls) are taken in the next round instead of waiting for the next tick.

use crate::calls::{Records, SweepReport};
use crate::kv::{KeyValue, Stores};
use crate::nap::Nap;
use crate::record::{LEASE_SECS, Status};
use crate::repo::Repo;
use crate::{Error, Result, claims, clock, ids, keys, submit};

/// Records per sweep batch: one QTSP authorisation, one NAP session, one chained call.
pub const SWEEP_BATCH: usize = 25;

/// Most records one planning round looks at.
pub const PLAN_LIMIT: usize = 20_000;

/// Planning rounds per sweep.
pub const ROUNDS: usize = 10;

/// How long one sweep may work before it returns, counting what it left (a host allows a request
/// 30 s; the next tick goes on).
pub const BUDGET_MS: u64 = 20_000;

/// Runs the step of each batch: one answer per batch, in order.
pub trait Dispatch {
    /// How many batches it runs at once; the sweep checks its budget between such groups.
    fn width(&self) -> usize {
        1
    }

    /// Runs `batches` (at most [`Dispatch::width`]); one answer per batch, in order.
    fn run(&mut self, batches: &[Batch]) -> Vec<Result<Records>>;
}

/// Which step a [`Batch`] of the sweep runs.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "lowercase")]
pub enum Step {
    /// Validated records, for the `sign` component (which then hands them to `submit`).
    Sign,
    /// Signed, submitted or processing records, and final ones owing a write-back, for `submit`
    /// ([`crate::submit::deliver_records`]).
    Deliver,
}

/// Records of one tenant due for the same step: one unit of sweep work, which the `submit`
/// component hands to another instance so several run at once.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Batch {
    /// The step.
    pub step: Step,
    /// The tenant.
    pub tenant: String,
    /// Record ids, oldest first.
    pub ids: Vec<String>,
}

/// Plans a sweep: every record whose time has come (at most `limit`), grouped by tenant and step
/// into batches of at most `batch_size`. Validated records are leased for [`LEASE_SECS`] as they
/// are planned, so a sweep running at the same time leaves them alone.
pub fn plan<K: KeyValue>(
    stores: &Stores<K>,
    limit: usize,
    batch_size: usize,
    now: u64,
) -> Result<Vec<Batch>> {
    let repo = Repo::new(stores);
    let mut open: std::collections::BTreeMap<(String, Step), Vec<String>> = Default::default();
    let mut batches = Vec::new();
    for (tenant_id, id) in repo.due(now, limit)? {
        let mut record = match repo.load(&tenant_id, &id) {
            Ok(r) => r,
            Err(Error::NotFound(_)) => {
                stores.work.delete(&keys::work(&tenant_id, &id))?;
                continue;
            }
            Err(e) => return Err(e),
        };
        let step = if record.status == Status::Validated {
            record.not_before = now + LEASE_SECS;
            repo.save(&mut record)?;
            Step::Sign
        } else {
            Step::Deliver
        };
        let ids = open.entry((tenant_id.clone(), step)).or_default();
        ids.push(id);
        if ids.len() >= batch_size.max(1) {
            batches.push(Batch {
                step,
                tenant: tenant_id,
                ids: std::mem::take(ids),
            });
        }
    }
    batches.extend(
        open.into_iter()
            .filter(|(_, ids)| !ids.is_empty())
            .map(|((tenant, step), ids)| Batch { step, tenant, ids }),
    );
    Ok(batches)
}

/// The sweep: drains the backlog after a NAP outage ([`submit::drain_after_outage`]), takes the
/// sweep lock (or answers `busy`), then plans and dispatches rounds until nothing is due, a step
/// failed, or [`BUDGET_MS`] is spent. `now_millis` is the clock (Unix milliseconds).
pub fn run<K: KeyValue>(
    stores: &Stores<K>,
    nap: &dyn Nap,
    dispatch: &mut dyn Dispatch,
    now_millis: &dyn Fn() -> u64,
) -> Result<SweepReport> {
    let started = now_millis();
    let now = || now_millis() / 1000;
    let budget_left = || now_millis().saturating_sub(started) < BUDGET_MS;
    submit::drain_after_outage(stores, nap, now())?;
    if Repo::new(stores).due(now(), 1)?.is_empty() {
        return Ok(SweepReport::default());
    }
    let run_id = ids::record_id(clock::now_millis())?;
    let (owner, lock) = keys::SWEEP_LOCK;
    match claims::claim(stores, owner, lock, &run_id) {
        Ok(()) => {}
        Err(Error::Duplicate { .. }) => {
            return Ok(SweepReport {
                busy: true,
                ..SweepReport::default()
            });
        }
        Err(e) => return Err(e),
    }
    let report = rounds(stores, dispatch, &now, &budget_left);
    claims::release(stores, owner, lock, &run_id)?;
    report
}

fn rounds<K: KeyValue>(
    stores: &Stores<K>,
    dispatch: &mut dyn Dispatch,
    now: &dyn Fn() -> u64,
    budget_left: &dyn Fn() -> bool,
) -> Result<SweepReport> {
    let mut report = SweepReport::default();
    for _ in 0..ROUNDS {
        let batches = plan(stores, PLAN_LIMIT, SWEEP_BATCH, now())?;
        let errors_before = report.errors;
        for (at, group) in batches.chunks(dispatch.width().max(1)).enumerate() {
            if !budget_left() {
                report.remaining += batches[at * dispatch.width().max(1)..]
                    .iter()
                    .map(|b| b.ids.len())
                    .sum::<usize>();
                return Ok(report);
            }
            for (batch, answer) in group.iter().zip(dispatch.run(group)) {
                report.visited += batch.ids.len();
                match batch.step {
                    Step::Sign => report.signed += batch.ids.len(),
                    Step::Deliver => report.delivered += batch.ids.len(),
                }
                match answer {
                    Ok(records) => {
                        report.finished += records.finished();
                        report.errors += records
                            .records
                            .iter()
                            .filter(|r| matches!(r, crate::calls::Outcome::Err(_)))
                            .count();
                    }
                    Err(_) => report.errors += batch.ids.len(),
                }
            }
        }
        // Nothing was due, or something failed: the next tick goes on.
        if batches.is_empty() || report.errors > errors_before || !budget_left() {
            break;
        }
    }
    Ok(report)
}
