//! Delivery, polling, retries, the ERP write-back and the digest, with a NAP and an ERP that
//! answer as scripted (the real VCA-like sandbox is exercised end to end in tests/pipeline.rs).

#![allow(clippy::unwrap_used, reason = "tests: a panic is the failure report")]

use std::cell::RefCell;

use hmac::{KeyInit, Mac};
use pipeline::calls::{Outcome, Records};
use pipeline::kv::{MemoryKv, Stores};
use pipeline::nap::{Nap, Submitted};
use pipeline::notify;
use pipeline::record::{Receipt, Record, Status};
use pipeline::repo::{Repo, XmlKind};
use pipeline::retry::RetryPolicy;
use pipeline::submit;
use pipeline::sweep::{self, Batch, Dispatch, Step};
use pipeline::tenant::{self, Tenant};
use pipeline::{Error, Result, Service, ids};
use transport::{Request, Response, Transport};

/// A NAP that answers from scripts and counts deliveries.
#[derive(Default)]
struct ScriptedNap {
    submits: RefCell<Vec<Result<Submitted>>>,
    statuses: RefCell<Vec<Result<Receipt>>>,
    delivered: RefCell<usize>,
}

impl Nap for ScriptedNap {
    fn submit(&self, _: &[u8]) -> Result<Submitted> {
        *self.delivered.borrow_mut() += 1;
        self.submits.borrow_mut().remove(0)
    }
    fn status(&self, _: &str) -> Result<Receipt> {
        self.statuses.borrow_mut().remove(0)
    }
}

fn receipt(status: &str, reason: Option<&str>) -> Receipt {
    Receipt {
        submission_id: "5c1f0c55-0000-4000-8000-000000000001".into(),
        status: status.into(),
        reason: reason.map(str::to_owned),
        account: None,
    }
}

fn down() -> Error {
    Error::Upstream {
        service: Service::Nap,
        message: "503 unavailable".into(),
        retryable: true,
    }
}

fn signed_record(stores: &Stores<MemoryKv>, tenant: &str, vin: &str) -> Record {
    let id = ids::record_id(1_795_275_797_000).unwrap();
    let now = "2026-11-21T10:00:00Z".to_owned();
    let mut record = Record {
        id,
        tenant: tenant.into(),
        vin: vin.into(),
        version: 1,
        stage: 1,
        reference_id: ids::uuid_v4().unwrap(),
        approval_number: "e4*2018/858*00123*01".into(),
        category: "M1".into(),
        source: "json".into(),
        status: Status::Signed,
        created_at: now.clone(),
        updated_at: now,
        events: Vec::new(),
        errors: Vec::new(),
        drift: Vec::new(),
        receipt: None,
        attempts: 0,
        not_before: 0,
        callback: None,
        failure: None,
        audited: 0,
        replaces: None,
        payload_sha256: None,
        signed_by: None,
        destination: None,
        siblings: Vec::new(),
    };
    let repo = Repo::new(stores);
    repo.create(&mut record, b"<mapped/>").unwrap();
    repo.put_xml(&record, XmlKind::Signed, b"<signed/>")
        .unwrap();
    record
}

fn setup(callback: Option<&str>) -> (Stores<MemoryKv>, Tenant) {
    let stores = Stores::in_memory();
    let mut t = Tenant::new("acme", "Acme Vehicles");
    t.callback_url = callback.map(str::to_owned);
    t.digest_to = vec!["quality@acme.example".into()];
    tenant::create_tenant(&stores.data, &t, "owner", None).unwrap();
    (stores, t)
}

const POLICY: RetryPolicy = RetryPolicy {
    max_attempts: 3,
    base_secs: 2,
    cap_secs: 60,
};

#[test]
fn submitted_polled_and_finished_once() {
    let (stores, t) = setup(None);
    let r = signed_record(&stores, "acme", "WVWZZZ1JZXW000001");
    let nap = ScriptedNap::default();
    nap.submits.borrow_mut().push(Ok(Submitted {
        receipt: receipt("Received", None),
        already_there: false,
    }));
    nap.statuses.borrow_mut().extend([
        Ok(receipt("Processing", None)),
        Ok(receipt("Succeeded", None)),
    ]);
    let deliver =
        |now| submit::deliver_record(&stores, &t, &r.id, &nap, None, &POLICY, now).unwrap();
    assert_eq!(deliver(100).status, Status::Submitted);
    assert_eq!(deliver(200).status, Status::Processing);
    assert_eq!(deliver(300).status, Status::Succeeded);
    // A repeated step after the end changes nothing and sends nothing.
    let last = deliver(400);
    assert_eq!(
        (last.status, *nap.delivered.borrow()),
        (Status::Succeeded, 1)
    );
    assert!(
        stores.work.is_empty(),
        "a finished record leaves the work list"
    );
    let statuses: Vec<Status> = last.events.iter().map(|e| e.status).collect();
    assert_eq!(
        statuses,
        [Status::Submitted, Status::Processing, Status::Succeeded]
    );
}

#[test]
fn retries_back_off_then_fail_with_the_last_reason_into_the_digest() {
    let (stores, t) = setup(None);
    let r = signed_record(&stores, "acme", "WVWZZZ1JZXW000002");
    let nap = ScriptedNap::default();
    nap.submits
        .borrow_mut()
        .extend([Err(down()), Err(down()), Err(down())]);
    let first = submit::deliver_record(&stores, &t, &r.id, &nap, None, &POLICY, 1_000).unwrap();
    assert_eq!((first.status, first.attempts), (Status::Signed, 1));
    assert!(
        (1_001..=1_002).contains(&first.not_before),
        "{}",
        first.not_before
    );
    // The sweep leaves it alone until its time has come.
    assert!(Repo::new(&stores).due(1_000, 10).unwrap().is_empty());
    let second = submit::deliver_record(&stores, &t, &r.id, &nap, None, &POLICY, 1_010).unwrap();
    assert!(
        (1_012..=1_014).contains(&second.not_before),
        "{}",
        second.not_before
    );
    let last = submit::deliver_record(&stores, &t, &r.id, &nap, None, &POLICY, 1_100).unwrap();
    assert_eq!(last.status, Status::Failed);
    assert!(
        last.errors[0].message.contains("gave up after 3 attempts"),
        "{:?}",
        last.errors
    );
    assert!(last.errors[0].message.contains("503 unavailable"));

    let mut sent = Vec::new();
    let report = notify::run(&stores, &pipeline::clock::date(1_100), "run-1", &mut |e| {
        sent.push(e.clone());
        Ok(())
    })
    .unwrap();
    assert_eq!(
        report.tenants.into_iter().collect::<Vec<_>>(),
        vec![("acme".to_owned(), "sent".to_owned())]
    );
    assert!(sent[0].text.contains("WVWZZZ1JZXW000002") && sent[0].text.contains("503 unavailable"));
    assert_eq!(sent[0].to, ["quality@acme.example"]);
    let again = notify::run(&stores, &pipeline::clock::date(1_100), "run-2", &mut |_| {
        panic!("sent twice")
    })
    .unwrap();
    assert_eq!(again.tenants["acme"], "already_sent");

    // A hundred and one days later, that day's index entry goes; the record stays.
    let later = pipeline::clock::date(1_100 + 101 * 86_400);
    let pruned = notify::run(&stores, &later, "run-3", &mut |_| Ok(())).unwrap();
    assert_eq!(pruned.pruned, 1);
    assert!(
        Repo::new(&stores)
            .failures_on(&pipeline::clock::date(1_100))
            .unwrap()
            .is_empty()
    );
    assert!(Repo::new(&stores).load("acme", &r.id).is_ok());
}

/// Runs have time-ordered ids (as the `notify` component gives them): a digest sent by a run more
/// than the claim's stale time ago stays sent, while a run killed mid-send does not block the day.
#[test]
fn a_digest_sent_hours_ago_is_not_sent_again() {
    let (stores, t) = setup(None);
    let r = signed_record(&stores, "acme", "WVWZZZ1JZXW000009");
    let nap = ScriptedNap::default();
    nap.submits.borrow_mut().push(Err(Error::Upstream {
        service: Service::Nap,
        message: "422 not_ivi".into(),
        retryable: false,
    }));
    submit::deliver_record(&stores, &t, &r.id, &nap, None, &POLICY, 5).unwrap();
    let day = pipeline::clock::date(1_100);
    let now = pipeline::clock::now_millis();
    let hours_ago = ids::record_id(now - 3 * 3_600_000).unwrap();
    let sent = notify::run(&stores, &day, &hours_ago, &mut |_| Ok(())).unwrap();
    assert_eq!(sent.tenants["acme"], "sent");
    let later = ids::record_id(now).unwrap();
    let again = notify::run(&stores, &day, &later, &mut |_| panic!("sent twice")).unwrap();
    assert_eq!(again.tenants["acme"], "already_sent");

    // A run that claimed the marker and died before sending: stale after the claim's time, so the
    // next run sends.
    let (stores, t) = setup(None);
    let r = signed_record(&stores, "acme", "WVWZZZ1JZXW000010");
    nap.submits.borrow_mut().push(Err(Error::Upstream {
        service: Service::Nap,
        message: "422 not_ivi".into(),
        retryable: false,
    }));
    submit::deliver_record(&stores, &t, &r.id, &nap, None, &POLICY, 5).unwrap();
    let died = ids::record_id(now - 3 * 3_600_000).unwrap();
    pipeline::claims::claim_with(
        &stores,
        "acme",
        &pipeline::keys::digest_marker(&day),
        &died,
        &|_| Ok(true),
    )
    .unwrap();
    let mut count = 0;
    let next = notify::run(&stores, &day, &later, &mut |_| {
        count += 1;
        Ok(())
    })
    .unwrap();
    assert_eq!((next.tenants["acme"].as_str(), count), ("sent", 1));
}

#[test]
fn a_failed_mail_send_is_retried_by_the_next_call() {
    let (stores, t) = setup(None);
    let r = signed_record(&stores, "acme", "WVWZZZ1JZXW000003");
    let nap = ScriptedNap::default();
    nap.submits.borrow_mut().push(Err(Error::Upstream {
        service: Service::Nap,
        message: "422 not_ivi".into(),
        retryable: false,
    }));
    let failed = submit::deliver_record(&stores, &t, &r.id, &nap, None, &POLICY, 5).unwrap();
    assert_eq!(
        failed.status,
        Status::Failed,
        "a permanent refusal fails at once"
    );
    let down = notify::run(&stores, &pipeline::clock::date(1_100), "a", &mut |_| {
        Err(down())
    })
    .unwrap();
    assert!(down.tenants["acme"].starts_with("error"));
    let mut count = 0;
    notify::run(&stores, &pipeline::clock::date(1_100), "b", &mut |_| {
        count += 1;
        Ok(())
    })
    .unwrap();
    assert_eq!(count, 1);
}

#[test]
fn a_file_the_nap_already_holds_is_not_sent_again() {
    let (stores, t) = setup(None);
    let r = signed_record(&stores, "acme", "WVWZZZ1JZXW000004");
    let nap = ScriptedNap::default();
    nap.submits.borrow_mut().push(Ok(Submitted {
        receipt: receipt("Received", None),
        already_there: true,
    }));
    let rec = submit::deliver_record(&stores, &t, &r.id, &nap, None, &POLICY, 5).unwrap();
    assert_eq!(rec.status, Status::Submitted);
    assert!(
        rec.events
            .last()
            .unwrap()
            .note
            .as_deref()
            .unwrap()
            .contains("already held")
    );
}

/// An ERP that records what it is sent and answers with scripted statuses.
struct Erp {
    answers: RefCell<Vec<u16>>,
    seen: RefCell<Vec<Request>>,
}

impl Transport for Erp {
    fn send(&self, req: Request) -> transport::Result<Response> {
        self.seen.borrow_mut().push(req);
        let mut answer = Response::new(Vec::new());
        *answer.status_mut() =
            transport::http::StatusCode::from_u16(self.answers.borrow_mut().remove(0)).unwrap();
        Ok(answer)
    }
}

#[test]
fn the_final_status_is_written_back_signed_and_retried() {
    let (stores, t) = setup(Some("http://127.0.0.1:9/erp/ecoc"));
    let r = signed_record(&stores, "acme", "WVWZZZ1JZXW000005");
    let nap = ScriptedNap::default();
    nap.submits.borrow_mut().push(Ok(Submitted {
        receipt: receipt("Received", None),
        already_there: false,
    }));
    nap.statuses
        .borrow_mut()
        .push(Ok(receipt("Failed", Some("approval number not found"))));
    let erp = Erp {
        answers: RefCell::new(vec![500, 204]),
        seen: RefCell::new(Vec::new()),
    };
    let secret = "callback-secret";
    let run = |now| {
        submit::deliver_record(&stores, &t, &r.id, &nap, Some((&erp, secret)), &POLICY, now)
            .unwrap()
    };
    run(10);
    let failed = run(20);
    assert_eq!(failed.status, Status::Failed);
    assert!(
        !failed.callback.as_ref().unwrap().done,
        "first write-back got a 500"
    );
    assert!(
        failed.needs_work(),
        "the write-back keeps it on the work list"
    );
    let done = run(failed.not_before);
    assert!(done.callback.as_ref().unwrap().done);
    assert!(!done.needs_work());
    let seen = erp.seen.borrow();
    assert_eq!(seen.len(), 2);
    let req = &seen[1];
    let header = |n: &str| req.headers()[n].to_str().unwrap().to_owned();
    let ts = header("ecoc-timestamp");
    let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(format!("{ts}.").as_bytes());
    mac.update(req.body());
    let expected: String = mac
        .finalize()
        .into_bytes()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    assert_eq!(header("ecoc-signature"), format!("sha256={expected}"));
    let body: serde_json::Value = serde_json::from_slice(req.body()).unwrap();
    assert_eq!(
        (body["status"].as_str(), body["vca_status"].as_str()),
        (Some("failed"), Some("Failed"))
    );
    assert!(
        body["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("approval number not found")
    );
}

#[test]
fn the_sweep_resumes_interrupted_records() {
    let (stores, _t) = setup(None);
    let signed = signed_record(&stores, "acme", "WVWZZZ1JZXW000006");
    let mut validated = signed_record(&stores, "acme", "WVWZZZ1JZXW000007");
    validated.status = Status::Validated;
    Repo::new(&stores).save(&mut validated).unwrap();
    let nap = ScriptedNap::default();
    nap.submits.borrow_mut().push(Ok(Submitted {
        receipt: receipt("Received", None),
        already_there: false,
    }));
    /// The sweep's batches run in this process: sign batches are only noted (the record stays
    /// leased to its sign call), deliver batches go through `submit`'s step.
    struct InProcess<'a> {
        stores: &'a Stores<MemoryKv>,
        nap: &'a ScriptedNap,
        asked: Vec<String>,
        now: u64,
    }
    impl Dispatch for InProcess<'_> {
        fn run(&mut self, batches: &[Batch]) -> Vec<Result<Records>> {
            batches
                .iter()
                .map(|b| {
                    let ids: Vec<&str> = b.ids.iter().map(String::as_str).collect();
                    if b.step == Step::Sign {
                        self.asked
                            .extend(ids.iter().map(|id| format!("{}/{id}", b.tenant)));
                        return Ok(Records {
                            records: Vec::new(),
                        });
                    }
                    let tenant = tenant::load_tenant(&self.stores.data, &b.tenant)?;
                    let records = submit::deliver_records(
                        self.stores,
                        &tenant,
                        &ids,
                        self.nap,
                        None,
                        &POLICY,
                        self.now,
                    );
                    Ok(Records {
                        records: records
                            .into_iter()
                            .map(|r| Outcome::from(r.map(|r| r.to_view())))
                            .collect(),
                    })
                })
                .collect()
        }
    }
    let mut dispatch = InProcess {
        stores: &stores,
        nap: &nap,
        asked: Vec::new(),
        now: 50,
    };
    let report = sweep::run(&stores, &nap, &mut dispatch, &|| 50_000).unwrap();
    assert_eq!((report.visited, report.signed, report.delivered), (2, 1, 1));
    assert_eq!(dispatch.asked, [format!("acme/{}", validated.id)]);
    let repo = Repo::new(&stores);
    assert_eq!(
        repo.load("acme", &signed.id).unwrap().status,
        Status::Submitted
    );
    // The validated record is leased to its sign call: the next sweep leaves it alone.
    dispatch.asked.clear();
    dispatch.now = 51;
    let next = sweep::run(&stores, &nap, &mut dispatch, &|| 51_000).unwrap();
    assert!(dispatch.asked.is_empty(), "signed twice");
    assert_eq!(next.visited, 0);
    // Out of budget before the first batch: nothing is dispatched, everything due is counted.
    // A clock that jumps past the budget at each reading.
    let ticks = std::cell::Cell::new(1_000_000);
    let jumping = || ticks.replace(ticks.get() + sweep::BUDGET_MS + 1);
    let late = sweep::run(&stores, &nap, &mut dispatch, &jumping).unwrap();
    assert_eq!((late.visited, late.remaining), (0, 2));
}

/// A signing set-up the deployment must fix (an ECDSA credential for the RSA-only EUCARIS profile)
/// fails the sign call and leaves the records as they were: nothing failed, nothing retried.
#[test]
fn a_credential_the_profile_does_not_take_fails_the_call_not_the_records() {
    let (stores, t) = setup(None);
    let mut record = signed_record(&stores, "acme", "WVWZZZ1JZXW000011");
    record.status = Status::Validated;
    Repo::new(&stores).save(&mut record).unwrap();
    let refuse = |xmls: &[&[u8]], _| {
        xmls.iter()
            .map(|_| {
                Err(Error::Config(
                    "credential `p256-signer`: RSA-SHA256 only".into(),
                ))
            })
            .collect()
    };
    let e = pipeline::sign::sign_records(
        &stores,
        &t,
        &[&record.id],
        (&refuse, "test"),
        &[],
        &POLICY,
        10,
    )
    .unwrap_err();
    assert_eq!((e.status(), e.code()), (503, "not_configured"));
    let after = Repo::new(&stores).load("acme", &record.id).unwrap();
    assert_eq!((after.status, after.attempts), (Status::Validated, 0));
    assert!(
        dsig::Profile::XmlDsig
            .check_algorithm(dsig::SignatureAlgorithm::EcdsaP256Sha256)
            .is_err()
    );
    assert!(
        dsig::Profile::Xades
            .check_algorithm(dsig::SignatureAlgorithm::EcdsaP256Sha256)
            .is_ok()
    );
}

/// A NAP outage leaves records in growing backoff; once the NAP answers again the sweep makes
/// them all due at once instead of at the end of each pause.
#[test]
fn a_nap_back_from_an_outage_drains_the_backlog_at_once() {
    let (stores, t) = setup(None);
    let records: Vec<Record> = (0..3)
        .map(|i| signed_record(&stores, "acme", &format!("WVWZZZ1JZXW00010{i}")))
        .collect();
    let nap = ScriptedNap::default();
    for _ in &records {
        nap.submits.borrow_mut().push(Err(down()));
    }
    for r in &records {
        submit::deliver_record(&stores, &t, &r.id, &nap, None, &POLICY, 100).unwrap();
    }
    let repo = Repo::new(&stores);
    assert!(
        repo.due(100, 10).unwrap().is_empty(),
        "all wait out their backoff"
    );
    // Still down: nothing changes.
    struct Down;
    impl Nap for Down {
        fn submit(&self, _: &[u8]) -> Result<Submitted> {
            Err(down())
        }
        fn status(&self, _: &str) -> Result<Receipt> {
            Err(down())
        }
        fn reachable(&self) -> bool {
            false
        }
    }
    assert_eq!(submit::drain_after_outage(&stores, &Down, 100).unwrap(), 0);
    assert!(repo.due(100, 10).unwrap().is_empty());
    // Back: every waiting record is due now, once.
    assert_eq!(submit::drain_after_outage(&stores, &nap, 100).unwrap(), 3);
    assert_eq!(repo.due(100, 10).unwrap().len(), 3);
    assert_eq!(submit::drain_after_outage(&stores, &nap, 100).unwrap(), 0);
}
