//! What the readiness view shows first: who is calling ([`whoami`], `GET /v1/whoami`) and the
//! tenant's day at a glance ([`summary`], `GET /v1/summary?days=N`). Read only: nothing here writes.
//!
//! The summary covers a window of `days` calendar days (UTC) ending today:
//!
//! - `counts`, `held`, `waiting_qtsp`, `waiting_nap` and `days[].created` count the records
//!   **created** in the window. Record ids sort by creation time ([`crate::ids::record_id`]), so
//!   the `vins` index's keys select the window before a single record is read.
//! - `days[].succeeded`, `.failed`, `.rejected` count records on the day they **reached** that
//!   status (the first event of the run of events that ends in it): records created in the window,
//!   plus those the `failures` index lists for a day of the window (a record created earlier that
//!   failed inside it). `today_refused`, `today_failed` and `problems` are today's part of that,
//!   so they are complete: every failed or rejected record is in the `failures` index for the day
//!   it became so.
//!
//! Which statuses mean what ([`Status`], [`Record::status_name`]):
//!
//! | field | statuses | shown as |
//! |---|---|---|
//! | `held` | `held`: a later stage drifted from its earlier stage, waits for a primary's sign-off | Held |
//! | `waiting_qtsp` | `validated`: admitted (or signed off, or sent again), not signed yet: the QTSP's turn, retries included | Pending |
//! | `waiting_nap` | `signed`, `submitted`, `processing`: signed and verified, on its way to the NAP or delivered and awaiting the authority's verdict | Pending, Received, Processing |
//! | `today_refused` | `rejected` today: refused before signing (validation, duplicate key) | Rejected |
//! | `today_failed` | `failed` today: the authority answered Failed, or ecoc gave up on an outage | Failed, Not delivered |

use std::collections::{BTreeMap, BTreeSet};
use std::ops::ControlFlow;

use crate::kv::{KeyValue, Stores};
use crate::record::{Record, RecordView, Status};
use crate::repo::Repo;
use crate::tenant::{Action, Principal, Role, Tenant};
use crate::{Error, Result, clock, ids, keys, vin_index};

/// Days a summary covers when the query does not say.
pub const DEFAULT_DAYS: u32 = 30;
/// The longest window a summary covers (each day of it is read record by record).
pub const MAX_DAYS: u32 = 90;
/// At most this many of today's problems are listed.
pub const MAX_PROBLEMS: usize = 20;

const DAY_SECS: u64 = 86_400;

/// `GET /v1/whoami`: the caller's tenant, token and what its role may do.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct WhoAmI {
    /// The tenant's id.
    pub tenant: String,
    /// The tenant's display name.
    pub tenant_name: String,
    /// The token's name.
    pub token: String,
    /// The token's role.
    pub role: Role,
    /// What the role allows.
    pub may: May,
}

/// What a role allows ([`Action`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct May {
    /// Read records, XML, settings.
    pub view: bool,
    /// Upload; preview a mapping; send again a record ecoc gave up on.
    pub upload: bool,
    /// Tokens, settings, mapping, approvals; sign off held records.
    pub manage: bool,
}

/// Who `who` is, in `tenant`.
pub fn whoami(who: &Principal, tenant: &Tenant) -> WhoAmI {
    WhoAmI {
        tenant: tenant.id.clone(),
        tenant_name: tenant.name.clone(),
        token: who.name.clone(),
        role: who.role,
        may: May {
            view: who.role.allows(Action::View),
            upload: who.role.allows(Action::Upload),
            manage: who.role.allows(Action::Manage),
        },
    }
}

/// One day of the window.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Day {
    /// `YYYY-MM-DD` (UTC).
    pub date: String,
    /// Records created that day.
    pub created: usize,
    /// Records that reached `succeeded` that day.
    pub succeeded: usize,
    /// Records that reached `failed` that day.
    pub failed: usize,
    /// Records that reached `rejected` that day.
    pub rejected: usize,
}

/// `GET /v1/summary`: see the module documentation for what each number counts.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Summary {
    /// Today (UTC).
    pub today: String,
    /// Records created in the window, per status (every status, zeros included).
    pub counts: BTreeMap<&'static str, usize>,
    /// Records rejected today.
    pub today_refused: usize,
    /// Records failed today.
    pub today_failed: usize,
    /// Held for a sign-off.
    pub held: usize,
    /// Waiting on the QTSP (validated, not signed yet).
    pub waiting_qtsp: usize,
    /// Waiting on the NAP (signed, submitted, processing).
    pub waiting_nap: usize,
    /// Each day of the window, oldest first.
    pub days: Vec<Day>,
    /// Records rejected or failed today, newest first, at most [`MAX_PROBLEMS`].
    pub problems: Vec<RecordView>,
}

/// Reads `days=N` of a query string (1..=[`MAX_DAYS`], [`DEFAULT_DAYS`] when absent); any other
/// parameter is refused, as the search refuses them.
pub fn parse_days(query: &str) -> Result<u32> {
    let mut days = DEFAULT_DAYS;
    for (k, v) in crate::repo::query_pairs(query) {
        if k != "days" {
            return Err(Error::BadRequest(format!(
                "unknown query parameter `{k}` (the summary takes days)"
            )));
        }
        days = v
            .parse::<u32>()
            .ok()
            .filter(|n| (1..=MAX_DAYS).contains(n))
            .ok_or_else(|| {
                Error::BadRequest(format!(
                    "days `{v}` must be a whole number of days from 1 to {MAX_DAYS}"
                ))
            })?;
    }
    Ok(days)
}

/// When `record` reached its current status: the time of the first event of the run of events
/// at the end of its timeline that carry that status (its last change when it has none).
fn reached(record: &Record) -> &str {
    record
        .events
        .iter()
        .rev()
        .take_while(|e| e.status == record.status)
        .last()
        .map_or(record.updated_at.as_str(), |e| e.at.as_str())
}

/// `tenant`'s summary over the `days` calendar days ending on the day of `now` (Unix seconds).
pub fn summary<K: KeyValue>(
    stores: &Stores<K>,
    tenant: &str,
    days: u32,
    now: u64,
) -> Result<Summary> {
    let days = days.clamp(1, MAX_DAYS);
    let today_start = now - now % DAY_SECS;
    let start = today_start.saturating_sub(u64::from(days - 1) * DAY_SECS);
    let dates: Vec<String> = (0..u64::from(days))
        .map(|i| clock::date(start + i * DAY_SECS))
        .collect();
    let today = clock::date(now);
    let (first_date, lowest_id) = (dates[0].clone(), ids::first_id_at(start));

    // Created in the window: selected by id from the VIN index, before anything is read.
    let mut created = BTreeSet::new();
    vin_index::newest_first(stores, tenant, None, |id, _| {
        if id < lowest_id.as_str() {
            return Ok(ControlFlow::Break(()));
        }
        created.insert(id.to_owned());
        Ok(ControlFlow::Continue(()))
    })?;
    // Failed or rejected on a day of the window, whenever created.
    let mut failed_in_window = BTreeSet::new();
    for key in stores.failures.get_keys()? {
        let Some(date) = key.get(..10) else { continue };
        if date < first_date.as_str() || date > today.as_str() {
            continue;
        }
        if let Some((t, id)) = keys::split_failure(&key, date)
            && t == tenant
            && !created.contains(id)
        {
            failed_in_window.insert(id.to_owned());
        }
    }

    let repo = Repo::new(stores);
    let load = |id: &str| match repo.load(tenant, id) {
        Ok(r) => Ok(Some(r)),
        // An index entry written just before its record, or left by a crash: nothing to count.
        Err(Error::NotFound(_)) => Ok(None),
        Err(e) => Err(e),
    };
    let mut counts: BTreeMap<&'static str, usize> =
        Status::ALL.iter().map(|s| (s.as_str(), 0)).collect();
    let mut by_date: BTreeMap<&str, Day> = dates
        .iter()
        .map(|d| {
            let day = Day {
                date: d.clone(),
                created: 0,
                succeeded: 0,
                failed: 0,
                rejected: 0,
            };
            (d.as_str(), day)
        })
        .collect();
    let (mut held, mut waiting_qtsp, mut waiting_nap) = (0, 0, 0);
    let mut problems: Vec<Record> = Vec::new();
    let mut count_reached = |record: Record, by_date: &mut BTreeMap<&str, Day>| {
        let at = reached(&record).get(..10).unwrap_or("").to_owned();
        let Some(day) = by_date.get_mut(at.as_str()) else {
            return;
        };
        match record.status {
            Status::Succeeded => day.succeeded += 1,
            Status::Failed => day.failed += 1,
            Status::Rejected => day.rejected += 1,
            _ => return,
        }
        if at == today && matches!(record.status, Status::Failed | Status::Rejected) {
            problems.push(record);
        }
    };

    for id in &created {
        let Some(record) = load(id)? else { continue };
        *counts.entry(record.status.as_str()).or_default() += 1;
        match record.status {
            Status::Held => held += 1,
            Status::Validated => waiting_qtsp += 1,
            Status::Signed | Status::Submitted | Status::Processing => waiting_nap += 1,
            _ => {}
        }
        if let Some(day) = by_date.get_mut(record.created_at.get(..10).unwrap_or("")) {
            day.created += 1;
        }
        count_reached(record, &mut by_date);
    }
    for id in &failed_in_window {
        if let Some(record) = load(id)? {
            count_reached(record, &mut by_date);
        }
    }

    let today_refused = problems
        .iter()
        .filter(|r| r.status == Status::Rejected)
        .count();
    let today_failed = problems.len() - today_refused;
    // Newest first: by when each became a problem, then by creation.
    problems.sort_by(|a, b| reached(b).cmp(reached(a)).then_with(|| b.id.cmp(&a.id)));
    problems.truncate(MAX_PROBLEMS);
    Ok(Summary {
        today,
        counts,
        today_refused,
        today_failed,
        held,
        waiting_qtsp,
        waiting_nap,
        days: by_date.into_values().collect(),
        problems: problems.iter().map(Record::to_view).collect(),
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "tests")]
    use super::*;
    use crate::ids;
    use crate::record::{Event, Failure, sample};

    /// 2026-11-21T15:43:17Z (`date -u -d 2026-11-21T15:43:17Z +%s`).
    const NOW: u64 = 1_795_275_797;

    /// A record created at `created` (Unix seconds) that went through `statuses`, the last one at
    /// `last` (Unix seconds).
    fn record(created: u64, vin: &str, statuses: &[Status], last: u64) -> Record {
        let mut r = sample(&ids::record_id(created * 1000).unwrap(), vin);
        r.created_at = clock::rfc3339(created);
        r.events = statuses
            .iter()
            .enumerate()
            .map(|(n, s)| Event {
                at: clock::rfc3339(if n + 1 == statuses.len() {
                    last
                } else {
                    created
                }),
                actor: "test".into(),
                status: *s,
                note: None,
            })
            .collect();
        r.status = *statuses.last().unwrap();
        r.updated_at = clock::rfc3339(last);
        r
    }

    #[test]
    fn days_are_checked() {
        assert_eq!(parse_days("").unwrap(), DEFAULT_DAYS);
        assert_eq!(parse_days("days=1").unwrap(), 1);
        assert_eq!(parse_days("days=90").unwrap(), 90);
        for bad in ["days=0", "days=91", "days=x", "days=", "days=-1", "from=1"] {
            let e = parse_days(bad).unwrap_err();
            assert_eq!(e.status(), 400, "{bad}");
        }
        assert!(
            parse_days("days=91")
                .unwrap_err()
                .to_string()
                .contains("from 1 to 90")
        );
    }

    #[test]
    fn whoami_says_what_each_role_may_do() {
        let tenant = Tenant::new("acme", "Acme Vehicles");
        let who = |role| Principal {
            tenant: "acme".into(),
            role,
            name: "t".into(),
        };
        let view = serde_json::to_value(whoami(&who(Role::View), &tenant)).unwrap();
        assert_eq!(
            view,
            serde_json::json!({"tenant": "acme", "tenant_name": "Acme Vehicles", "token": "t",
                "role": "view", "may": {"view": true, "upload": false, "manage": false}})
        );
        assert_eq!(
            whoami(&who(Role::Upload), &tenant).may,
            May {
                view: true,
                upload: true,
                manage: false
            }
        );
        assert!(whoami(&who(Role::Primary), &tenant).may.manage);
    }

    #[test]
    fn the_window_counts_states_days_and_today_s_problems() {
        use Status::*;
        let stores = Stores::in_memory();
        let repo = Repo::new(&stores);
        let today = NOW - 3_600;
        let yesterday = NOW - 86_400;
        let long_ago = NOW - 40 * 86_400;
        let mut technical = record(today, "WVWZZZ1JZXW000004", &[Validated, Failed], NOW - 60);
        technical.failure = Some(Failure::Technical);
        let mut records = [
            record(today, "WVWZZZ1JZXW000001", &[Received, Held], today),
            record(today, "WVWZZZ1JZXW000002", &[Received, Validated], today),
            record(today, "WVWZZZ1JZXW000003", &[Validated, Rejected], today),
            technical,
            record(
                yesterday,
                "WVWZZZ1JZXW000005",
                &[Signed, Submitted],
                yesterday,
            ),
            record(yesterday, "WVWZZZ1JZXW000006", &[Signed, Succeeded], today),
            // Created before the window: not counted, except that it failed today.
            record(
                long_ago,
                "WVWZZZ1JZXW000007",
                &[Submitted, Failed],
                NOW - 30,
            ),
            record(long_ago, "WVWZZZ1JZXW000008", &[Received, Held], long_ago),
        ];
        for r in &mut records {
            repo.create(r, b"<x/>").unwrap();
        }
        // Another tenant's failure today is not this tenant's.
        let mut other = record(today, "WVWZZZ1JZXW000009", &[Validated, Rejected], today);
        other.tenant = "other".into();
        repo.create(&mut other, b"<x/>").unwrap();

        let s = summary(&stores, "acme", 30, NOW).unwrap();
        assert_eq!(s.today, "2026-11-21");
        assert_eq!(s.days.len(), 30);
        assert_eq!(s.days[0].date, "2026-10-23");
        assert_eq!(s.days[29].date, "2026-11-21");
        assert_eq!(s.counts.len(), Status::ALL.len());
        assert_eq!(
            (s.counts["held"], s.counts["failed"], s.counts["succeeded"]),
            (1, 1, 1),
            "{:?}",
            s.counts
        );
        assert_eq!(s.counts.values().sum::<usize>(), 6, "created in the window");
        assert_eq!((s.held, s.waiting_qtsp, s.waiting_nap), (1, 1, 1));
        let t = &s.days[29];
        assert_eq!((t.created, t.succeeded, t.failed, t.rejected), (4, 1, 2, 1));
        assert_eq!(s.days[28].created, 2);
        assert_eq!((s.today_refused, s.today_failed), (1, 2));
        let problem_vins: Vec<&str> = s.problems.iter().map(|p| p.record.vin.as_str()).collect();
        assert_eq!(
            problem_vins,
            [
                "WVWZZZ1JZXW000007",
                "WVWZZZ1JZXW000004",
                "WVWZZZ1JZXW000003"
            ],
            "newest first"
        );
        let view = serde_json::to_value(&s).unwrap();
        assert_eq!(view["problems"][1]["status_name"], "Not delivered");
        assert_eq!(view["counts"]["rejected"], 1);

        // One day: only today's records.
        let one = summary(&stores, "acme", 1, NOW).unwrap();
        assert_eq!(one.days.len(), 1);
        assert_eq!(one.counts.values().sum::<usize>(), 4);
        assert_eq!((one.today_refused, one.today_failed), (1, 2));
        assert_eq!(one.waiting_nap, 0, "the submitted record is yesterday's");
    }

    #[test]
    fn a_record_failed_yesterday_and_touched_today_is_yesterday_s() {
        let stores = Stores::in_memory();
        let repo = Repo::new(&stores);
        let yesterday = NOW - 86_400;
        let mut r = record(
            yesterday,
            "WVWZZZ1JZXW000001",
            &[Status::Submitted, Status::Failed],
            yesterday,
        );
        repo.create(&mut r, b"<x/>").unwrap();
        // The ERP write-back noted today: the failures index lists it today too.
        r.note("submit", "callback delivered".into(), NOW - 10);
        repo.save(&mut r).unwrap();
        let s = summary(&stores, "acme", 2, NOW).unwrap();
        assert_eq!((s.days[0].failed, s.days[1].failed), (1, 0));
        assert_eq!(s.today_failed, 0);
        assert!(s.problems.is_empty());
    }
}
