//! The NAP sandbox over real HTTP: the VCA-like contract in the crate README, held by tests.
//!
//! Official specimens are read from `../shared/ivi2/samples` next to the project (never copied);
//! when that folder is missing the specimen test says SKIPPED, and fails when `CI` is set. The
//! other tests build small documents themselves.

#![allow(
    clippy::unwrap_used,
    reason = "test helpers: a panic is how a test reports failure"
)]

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use sandbox::nap::{self, Faults, NapConfig, RunningNap};
use serde_json::{Value, json};

const IVI_NS: &str = "http://eu.ereg.initialvehicleinformation.v2";
const DS_NS: &str = "http://www.w3.org/2000/09/xmldsig#";

/// The longest any test waits for an asynchronous status change.
const WAIT: Duration = Duration::from_secs(20);

struct Nap {
    runtime: tokio::runtime::Runtime,
    nap: Option<RunningNap>,
    agent: ureq::Agent,
    dir: PathBuf,
}

impl Nap {
    fn start(dir: &Path, faults: Faults) -> Self {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        let mut config = NapConfig::new("127.0.0.1:0".parse().unwrap(), dir.to_owned());
        config.faults = faults;
        let nap = runtime.block_on(nap::start(config)).expect("nap starts");
        let agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(Duration::from_secs(20)))
            .build()
            .into();
        Self {
            runtime,
            nap: Some(nap),
            agent,
            dir: dir.to_owned(),
        }
    }

    fn fast(dir: &Path) -> Self {
        Self::start(dir, fast_faults())
    }

    fn nap(&self) -> &RunningNap {
        self.nap.as_ref().unwrap()
    }

    fn stop(mut self) -> PathBuf {
        if let Some(nap) = self.nap.take() {
            self.runtime.block_on(nap.shutdown());
        }
        self.dir.clone()
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.nap().base_url())
    }

    fn client(&self, n: usize) -> (String, String) {
        let c = &self.nap().description().clients[n];
        (c.client_id.clone(), c.client_secret.clone())
    }

    fn token_form(&self, form: &str, basic: Option<(&str, &str)>) -> (u16, Value) {
        let mut request = self
            .agent
            .post(self.url("/oauth2/token"))
            .header("Content-Type", "application/x-www-form-urlencoded");
        if let Some((user, password)) = basic {
            let encoded = <base64ct::Base64 as base64ct::Encoding>::encode_string(
                format!("{user}:{password}").as_bytes(),
            );
            request = request.header("Authorization", format!("Basic {encoded}"));
        }
        read(request.send(form).unwrap()).0
    }

    fn token(&self, n: usize) -> String {
        let (id, secret) = self.client(n);
        let (status, body) = self.token_form(
            &format!("grant_type=client_credentials&client_id={id}&client_secret={secret}"),
            None,
        );
        assert_eq!(status, 200, "{body}");
        body["access_token"].as_str().unwrap().to_owned()
    }

    /// POSTs a file; returns status, JSON body and the Location header.
    fn submit_as(
        &self,
        token: Option<&str>,
        content_type: Option<&str>,
        body: &[u8],
    ) -> (u16, Value, Option<String>) {
        let mut request = self.agent.post(self.url("/ecoc/v1/submissions"));
        if let Some(t) = token {
            request = request.header("Authorization", format!("Bearer {t}"));
        }
        if let Some(ct) = content_type {
            request = request.header("Content-Type", ct);
        }
        let ((status, value), headers) = read(request.send(body).unwrap());
        (status, value, headers.get("location").cloned())
    }

    fn submit(&self, token: &str, body: &str) -> (u16, Value) {
        let (status, value, _) =
            self.submit_as(Some(token), Some("application/xml"), body.as_bytes());
        (status, value)
    }

    fn get(&self, path: &str, token: Option<&str>) -> (u16, Value) {
        let mut request = self.agent.get(self.url(path));
        if let Some(t) = token {
            request = request.header("Authorization", format!("Bearer {t}"));
        }
        read(request.call().unwrap()).0
    }

    fn status(&self, token: &str, id: &str) -> (u16, Value) {
        self.get(&format!("/ecoc/v1/submissions/{id}"), Some(token))
    }

    /// Polls until the submission is Succeeded or Failed; returns every status seen, in order.
    fn wait_final(&self, token: &str, id: &str) -> (Vec<String>, Value) {
        let started = Instant::now();
        let mut seen: Vec<String> = Vec::new();
        loop {
            let (status, body) = self.status(token, id);
            assert_eq!(status, 200, "{body}");
            let s = body["status"].as_str().unwrap().to_owned();
            if seen.last() != Some(&s) {
                seen.push(s.clone());
            }
            if s == "Succeeded" || s == "Failed" {
                return (seen, body);
            }
            assert!(started.elapsed() < WAIT, "{id} still {s} after {WAIT:?}");
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    fn set_faults(&self, faults: &Value) -> (u16, Value) {
        let response = self
            .agent
            .post(self.url("/sandbox/faults"))
            .send_json(faults)
            .unwrap();
        read(response).0
    }
}

impl Drop for Nap {
    fn drop(&mut self) {
        if let Some(nap) = self.nap.take() {
            self.runtime.block_on(nap.shutdown());
        }
    }
}

fn fast_faults() -> Faults {
    Faults {
        processing_ms: 20,
        ..Faults::default()
    }
}

type Headers = HashMap<String, String>;

fn read(mut response: http::Response<ureq::Body>) -> ((u16, Value), Headers) {
    let status = response.status().as_u16();
    let headers = response
        .headers()
        .iter()
        .map(|(k, v)| {
            (
                k.as_str().to_owned(),
                v.to_str().unwrap_or_default().to_owned(),
            )
        })
        .collect();
    let text = response.body_mut().read_to_string().unwrap();
    let body = if text.is_empty() {
        Value::Null
    } else {
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("not JSON ({e}): {text}"))
    };
    ((status, body), headers)
}

/// A small IVI-shaped document: enough for the NAP's checks, not a schema-valid eCoC.
fn doc(vin: &str, version: u32, stage: u32) -> String {
    doc_with(vin, version, stage, "", true)
}

fn doc_with(vin: &str, version: u32, stage: u32, extra_root: &str, signed: bool) -> String {
    let signature = if signed {
        format!(
            r#"<ds:Signature xmlns:ds="{DS_NS}"><ds:SignedInfo/><ds:SignatureValue>AAAA</ds:SignatureValue></ds:Signature>"#
        )
    } else {
        String::new()
    };
    format!(
        r#"<?xml version="1.0" encoding="UTF-8"?>
<InitialVehicleInformation xmlns="{IVI_NS}">
  <Header>
    <IviReferenceId>6f1c1f8e-4d2b-4b8e-9a3e-0c9f4b1d2e3f</IviReferenceId>
    <IviVersionNumberXsd>2.0</IviVersionNumberXsd>
    <IviVersionNumber>{version}</IviVersionNumber>
    <IviVersionDateTime>2026-11-21T10:00:00Z</IviVersionDateTime>
  </Header>
  <CocDataGroup>
    <VehicleIdentificationNumber>{vin}</VehicleIdentificationNumber>
    <TypeApprovalNumber>e4*2018/858*00123*01</TypeApprovalNumber>
    <ManufacturerTable>
      <ManufacturerGroup><ManufacturerStageNumber>{stage}</ManufacturerStageNumber><ManufacturerName>T</ManufacturerName></ManufacturerGroup>
    </ManufacturerTable>
  </CocDataGroup>{extra_root}
  {signature}
</InitialVehicleInformation>
"#
    )
}

/// A VIN made of allowed characters, distinct per `n`.
fn vin(n: u32) -> String {
    format!("WSBX0TEST{n:08}")
}

fn journal_statuses(dir: &Path, id: &str) -> Vec<String> {
    let text = std::fs::read_to_string(dir.join("submissions.jsonl")).unwrap();
    text.lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter(|v| v["submission_id"] == id)
        .map(|v| v["status"].as_str().unwrap().to_owned())
        .collect()
}

fn inbox_ids(dir: &Path) -> Vec<String> {
    let mut ids: Vec<String> = std::fs::read_dir(dir.join("inbox"))
        .unwrap()
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| !n.starts_with('.'))
        .filter_map(|n| n.strip_suffix(".xml").map(str::to_owned))
        .collect();
    ids.sort();
    ids
}

#[test]
fn token_flow() {
    let dir = tempfile::tempdir().unwrap();
    let nap = Nap::fast(dir.path());
    let (id, secret) = nap.client(0);

    // nap.json is private and holds both clients.
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(dir.path().join("nap.json"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    let file: Value =
        serde_json::from_str(&std::fs::read_to_string(dir.path().join("nap.json")).unwrap())
            .unwrap();
    assert_eq!(file["clients"].as_array().unwrap().len(), 2);

    // Form credentials and HTTP Basic.
    let (status, body) = nap.token_form(
        &format!("grant_type=client_credentials&client_id={id}&client_secret={secret}"),
        None,
    );
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(body["expires_in"], 3600);
    let (status, body) = nap.token_form("grant_type=client_credentials", Some((&id, &secret)));
    assert_eq!(status, 200, "{body}");
    let token = body["access_token"].as_str().unwrap().to_owned();

    // Refusals.
    let (status, body) = nap.token_form(
        &format!("grant_type=client_credentials&client_id={id}&client_secret=wrong"),
        None,
    );
    assert_eq!(
        (status, body["error"].as_str()),
        (401, Some("invalid_client")),
        "{body}"
    );
    assert!(!body.to_string().contains(&secret), "secret leaked: {body}");
    let (status, body) = nap.token_form("grant_type=password", Some((&id, &secret)));
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("unsupported_grant_type")),
        "{body}"
    );
    let (status, body) = nap.token_form("grant_type=client_credentials", None);
    assert_eq!(
        (status, body["error"].as_str()),
        (401, Some("invalid_client")),
        "{body}"
    );

    // The API wants a valid bearer token.
    let xml = doc(&vin(1), 1, 1);
    let (status, body, _) = nap.submit_as(None, Some("application/xml"), xml.as_bytes());
    assert_eq!(
        (status, body["error"].as_str()),
        (401, Some("invalid_token")),
        "{body}"
    );
    let (status, body, _) = nap.submit_as(Some("nope"), Some("application/xml"), xml.as_bytes());
    assert_eq!(
        (status, body["error"].as_str()),
        (401, Some("invalid_token")),
        "{body}"
    );
    let (status, body) = nap.submit(&token, &xml);
    assert_eq!(status, 202, "{body}");

    // Expired tokens are refused, and the lifetime is configurable.
    nap.nap().expire_tokens();
    let (status, body) = nap.submit(&token, &doc(&vin(2), 1, 1));
    assert_eq!(status, 401, "{body}");
    assert!(
        body["message"].as_str().unwrap().contains("expired"),
        "{body}"
    );
    let (status, _) = nap.set_faults(&json!({"token_lifetime_secs": 1, "processing_ms": 20}));
    assert_eq!(status, 200);
    let (status, body) = nap.token_form("grant_type=client_credentials", Some((&id, &secret)));
    assert_eq!(
        (status, body["expires_in"].as_u64()),
        (200, Some(1)),
        "{body}"
    );
}

#[test]
fn refusals_name_the_reason() {
    let dir = tempfile::tempdir().unwrap();
    let nap = Nap::fast(dir.path());
    let token = nap.token(0);
    let good = doc(&vin(10), 1, 1);

    // 415: XML only.
    for ct in [
        Some("text/plain"),
        Some("application/json"),
        Some("application/xml; charset=latin1"),
        None,
    ] {
        let (status, body, _) = nap.submit_as(Some(&token), ct, good.as_bytes());
        assert_eq!(
            (status, body["error"].as_str()),
            (415, Some("unsupported_media_type")),
            "{ct:?}: {body}"
        );
        assert!(
            body["message"]
                .as_str()
                .unwrap()
                .contains("application/xml"),
            "{body}"
        );
    }
    let (status, body, _) = nap.submit_as(
        Some(&token),
        Some("application/xml; charset=UTF-8"),
        good.as_bytes(),
    );
    assert_eq!(status, 202, "{body}");

    // 413 at 1,000,000 bytes; one byte less is accepted (the padding is a comment).
    let padded = |total: usize, n: u32| {
        let base = doc(&vin(n), 1, 1);
        let pad = total - base.len() - "<!---->".len();
        format!("{base}<!--{}-->", "x".repeat(pad))
    };
    let big = padded(nap::MAX_FILE_BYTES, 11);
    assert_eq!(big.len(), 1_000_000);
    let (status, body) = nap.submit(&token, &big);
    assert_eq!(
        (status, body["error"].as_str()),
        (413, Some("too_large")),
        "{body}"
    );
    let (status, body) = nap.submit(&token, &padded(nap::MAX_FILE_BYTES - 1, 12));
    assert_eq!(status, 202, "{body}");
    let (status, _) = nap.submit(&token, &"y".repeat(3 * nap::MAX_FILE_BYTES));
    assert_eq!(status, 413);

    // 400: not well-formed, DTD, entities.
    let cases: Vec<(String, u16, &str, &str)> = vec![
        (good.replace("</CocDataGroup>", ""), 400, "malformed_xml", "CocDataGroup"),
        (
            format!("<!DOCTYPE InitialVehicleInformation [<!ENTITY x \"y\">]>{}", good.replace(r#"<?xml version="1.0" encoding="UTF-8"?>"#, "")),
            400,
            "dtd_refused",
            "DTD",
        ),
        (good.replace("<TypeApprovalNumber>", "<TypeApprovalNumber>&x;"), 400, "dtd_refused", "&x;"),
        (String::new(), 400, "malformed_xml", "root"),
        // 422: well-formed, but not what the NAP takes.
        (doc_with(&vin(13), 1, 1, "", false), 422, "signature_missing", "Signature"),
        (
            doc_with(&vin(14), 1, 1, &format!("<CocDataGroup><VehicleIdentificationNumber>{}</VehicleIdentificationNumber></CocDataGroup>", vin(15)), true),
            422,
            "multiple_vehicles",
            "CocDataGroup",
        ),
        (
            good.replace(
                "</VehicleIdentificationNumber>",
                &format!("</VehicleIdentificationNumber><VehicleIdentificationNumber>{}</VehicleIdentificationNumber>", vin(16)),
            ),
            422,
            "multiple_vehicles",
            "VehicleIdentificationNumber",
        ),
        (good.replace(IVI_NS, "urn:not-ivi"), 422, "not_ivi", "InitialVehicleInformation"),
        (good.replace(DS_NS, "urn:not-dsig"), 422, "signature_missing", "Signature"),
        (doc(&vin(17), 1, 1).replace("<IviVersionNumber>1</IviVersionNumber>", ""), 422, "missing_field", "IviVersionNumber"),
        (doc(&vin(18), 1, 1).replace("<IviVersionNumber>1<", "<IviVersionNumber>one<"), 422, "invalid_field", "IviVersionNumber"),
        (doc("TOO-SHORT", 1, 1), 422, "invalid_field", "VehicleIdentificationNumber"),
        (doc(&vin(19), 1, 1).replace("<ManufacturerStageNumber>1</ManufacturerStageNumber>", ""), 422, "missing_field", "ManufacturerStageNumber"),
    ];
    for (xml, want_status, want_code, named) in &cases {
        let (status, body) = nap.submit(&token, xml);
        assert_eq!(
            (status, body["error"].as_str()),
            (*want_status, Some(*want_code)),
            "{body}"
        );
        let message = body["message"].as_str().unwrap();
        assert!(
            message.contains(named),
            "{want_code}: {message:?} does not name {named}"
        );
    }
    // Only the two accepted files reached the inbox.
    assert_eq!(inbox_ids(dir.path()).len(), 2);
    let (_, stats) = nap.get("/sandbox/stats", None);
    assert_eq!(stats["accepted"], 2, "{stats}");
    assert_eq!(stats["refused"]["unsupported_media_type"], 4, "{stats}");
    assert_eq!(stats["refused"]["too_large"], 2, "{stats}");
    assert_eq!(stats["refused"]["multiple_vehicles"], 2, "{stats}");
}

#[test]
fn duplicates_are_refused_and_corrections_accepted() {
    let dir = tempfile::tempdir().unwrap();
    let nap = Nap::fast(dir.path());
    let token = nap.token(0);
    let v = vin(20);

    let (status, first, location) = nap.submit_as(
        Some(&token),
        Some("application/xml"),
        doc(&v, 1, 1).as_bytes(),
    );
    assert_eq!(status, 202, "{first}");
    assert_eq!(first["status"], "Received");
    let first_id = first["submission_id"].as_str().unwrap().to_owned();
    let location = location.expect("Location header");
    assert!(
        location.ends_with(&format!("/ecoc/v1/submissions/{first_id}")),
        "{location}"
    );
    let response = nap
        .agent
        .get(&location)
        .header("Authorization", format!("Bearer {token}"))
        .call()
        .unwrap();
    let ((status, body), _) = read(response);
    assert_eq!(
        (status, body["submission_id"].as_str()),
        (200, Some(first_id.as_str()))
    );

    // Same VIN + version + stage: refused, naming the earlier submission (even after it succeeded,
    // and even when the rest of the file changed: a technical resend keeps the version).
    let (status, body) = nap.submit(&token, &doc(&v, 1, 1));
    assert_eq!(
        (status, body["error"].as_str()),
        (409, Some("duplicate")),
        "{body}"
    );
    assert!(
        body["message"].as_str().unwrap().contains(&first_id),
        "{body}"
    );
    nap.wait_final(&token, &first_id);
    let changed = doc(&v, 1, 1).replace("00123*01", "00123*02");
    let (status, body) = nap.submit(&token, &changed);
    assert_eq!(
        (status, body["error"].as_str()),
        (409, Some("duplicate")),
        "{body}"
    );

    // A correction bumps the version; a later stage has its own key.
    let (status, body) = nap.submit(&token, &doc(&v, 2, 1));
    assert_eq!(status, 202, "{body}");
    let (status, body) = nap.submit(&token, &doc(&v, 2, 2));
    assert_eq!(status, 202, "{body}");
    let (status, body) = nap.submit(&token, &doc(&v, 2, 1));
    assert_eq!(status, 409, "{body}");

    let (_, stats) = nap.get("/sandbox/stats", None);
    assert_eq!(
        (
            stats["accepted"].as_u64(),
            stats["duplicates_refused"].as_u64()
        ),
        (Some(3), Some(3)),
        "{stats}"
    );
}

#[test]
fn concurrent_duplicates_yield_one_acceptance() {
    let dir = tempfile::tempdir().unwrap();
    let nap = Nap::fast(dir.path());
    let token = nap.token(0);
    let xml = doc(&vin(30), 1, 1);
    let statuses: Vec<u16> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..8)
            .map(|_| s.spawn(|| nap.submit(&token, &xml).0))
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    assert_eq!(
        statuses.iter().filter(|s| **s == 202).count(),
        1,
        "{statuses:?}"
    );
    assert_eq!(
        statuses.iter().filter(|s| **s == 409).count(),
        7,
        "{statuses:?}"
    );
    assert_eq!(inbox_ids(dir.path()).len(), 1);
}

#[test]
fn status_goes_received_processing_then_final() {
    let dir = tempfile::tempdir().unwrap();
    let nap = Nap::start(
        dir.path(),
        Faults {
            processing_ms: 100,
            ..Faults::default()
        },
    );
    let token = nap.token(0);
    let (status, body) = nap.submit(&token, &doc(&vin(40), 1, 1));
    assert_eq!(status, 202, "{body}");
    let id = body["submission_id"].as_str().unwrap().to_owned();
    let (seen, last) = nap.wait_final(&token, &id);
    // Polling may miss a short state, but what it saw is in lifecycle order.
    let order = ["Received", "Processing", "Succeeded"];
    let positions: Vec<usize> = seen
        .iter()
        .map(|s| order.iter().position(|o| o == s).unwrap())
        .collect();
    assert!(positions.windows(2).all(|w| w[0] < w[1]), "{seen:?}");
    assert_eq!(last["status"], "Succeeded");
    assert!(last.get("reason").is_none(), "{last}");
    for field in ["received_at", "updated_at", "vin", "version", "stage"] {
        assert!(!last[field].is_null(), "{field} missing: {last}");
    }
    assert_eq!(
        (
            last["vin"].as_str(),
            last["version"].as_u64(),
            last["stage"].as_u64()
        ),
        (Some(vin(40).as_str()), Some(1), Some(1))
    );
    assert!(last["updated_at"].as_str() >= last["received_at"].as_str());
    // The journal holds every transition.
    assert_eq!(journal_statuses(dir.path(), &id), order);
    // The metadata JSON beside the file follows the status.
    let meta: Value = serde_json::from_str(
        &std::fs::read_to_string(dir.path().join(format!("inbox/{id}.json"))).unwrap(),
    )
    .unwrap();
    assert_eq!(meta["status"], "Succeeded");

    // The client's list, filtered.
    let (status, list) = nap.get("/ecoc/v1/submissions?status=Succeeded", Some(&token));
    assert_eq!(status, 200);
    assert_eq!(list["submissions"][0]["submission_id"], id.as_str());
    let (status, list) = nap.get("/ecoc/v1/submissions?status=Failed", Some(&token));
    assert_eq!(
        (status, list["submissions"].as_array().map(Vec::len)),
        (200, Some(0))
    );
    let (status, _) = nap.get("/ecoc/v1/submissions?status=Lost", Some(&token));
    assert_eq!(status, 400);
}

/// Submits `count` fresh documents and returns the final status and reason of each.
fn outcomes(nap: &Nap, first_vin: u32, count: u32) -> Vec<(String, Option<String>)> {
    let token = nap.token(0);
    let ids: Vec<String> = (0..count)
        .map(|i| {
            let (status, body) = nap.submit(&token, &doc(&vin(first_vin + i), 1, 1));
            assert_eq!(status, 202, "{body}");
            body["submission_id"].as_str().unwrap().to_owned()
        })
        .collect();
    ids.iter()
        .map(|id| {
            let (_, last) = nap.wait_final(&token, id);
            (
                last["status"].as_str().unwrap().to_owned(),
                last["reason"].as_str().map(str::to_owned),
            )
        })
        .collect()
}

#[test]
fn seeded_failure_rate_yields_failed_with_a_reason() {
    let seeded = Faults {
        processing_ms: 10,
        failure_rate_percent: 50,
        availability: sandbox::availability::Availability {
            seed: Some(2026),
            ..Default::default()
        },
        ..Faults::default()
    };
    let a = tempfile::tempdir().unwrap();
    let b = tempfile::tempdir().unwrap();
    let first = outcomes(&Nap::start(a.path(), seeded.clone()), 100, 12);
    let second = outcomes(&Nap::start(b.path(), seeded), 100, 12);
    // Same seed, same files: same outcomes, in two separate sandboxes.
    assert_eq!(first, second);
    for (status, reason) in &first {
        match status.as_str() {
            "Succeeded" => assert!(reason.is_none()),
            "Failed" => assert!(
                reason.as_deref().is_some_and(|r| !r.is_empty()),
                "{reason:?}"
            ),
            other => panic!("unexpected final status {other}"),
        }
    }

    // Everything fails at 100 %, with a reason naming what was looked up.
    let c = tempfile::tempdir().unwrap();
    let nap = Nap::start(
        c.path(),
        Faults {
            processing_ms: 10,
            failure_rate_percent: 100,
            ..Faults::default()
        },
    );
    for (status, reason) in outcomes(&nap, 200, 3) {
        assert_eq!(status, "Failed");
        let reason = reason.unwrap();
        assert!(
            reason.contains("e4*2018/858*00123*01") || reason.contains("WSB"),
            "{reason}"
        );
    }
    // A failed file does not block sending the same key again.
    nap.set_faults(&json!({"processing_ms": 10}));
    let token = nap.token(0);
    let (status, body) = nap.submit(&token, &doc(&vin(200), 1, 1));
    assert_eq!(status, 202, "{body}");
    let (_, last) = nap.wait_final(&token, body["submission_id"].as_str().unwrap());
    assert_eq!(last["status"], "Succeeded");
    let (_, stats) = nap.get("/sandbox/stats", None);
    assert_eq!(
        (
            stats["statuses"]["Failed"].as_u64(),
            stats["statuses"]["Succeeded"].as_u64()
        ),
        (Some(3), Some(1)),
        "{stats}"
    );
}

#[test]
fn clients_only_see_their_own_submissions() {
    let dir = tempfile::tempdir().unwrap();
    let nap = Nap::fast(dir.path());
    let (a, b) = (nap.token(0), nap.token(1));
    let (status, body) = nap.submit(&a, &doc(&vin(50), 1, 1));
    assert_eq!(status, 202, "{body}");
    let id = body["submission_id"].as_str().unwrap().to_owned();
    assert_eq!(nap.status(&a, &id).0, 200);
    let (status, body) = nap.status(&b, &id);
    assert_eq!(
        (status, body["error"].as_str()),
        (404, Some("not_found")),
        "{body}"
    );
    assert_eq!(nap.status(&a, "no-such-id").0, 404);
    let (_, list) = nap.get("/ecoc/v1/submissions", Some(&b));
    assert_eq!(list["submissions"].as_array().unwrap().len(), 0, "{list}");
    let (_, list) = nap.get("/ecoc/v1/submissions", Some(&a));
    assert_eq!(list["submissions"].as_array().unwrap().len(), 1, "{list}");
    // Duplicates are judged within a manufacturer's own submissions.
    let (status, body) = nap.submit(&b, &doc(&vin(50), 1, 1));
    assert_eq!(status, 202, "{body}");
}

#[test]
fn restart_keeps_duplicates_statuses_and_pending_work() {
    let dir = tempfile::tempdir().unwrap();
    // Slow processing: the submission is still Received when the sandbox stops.
    let nap = Nap::start(
        dir.path(),
        Faults {
            processing_ms: 600_000,
            ..Faults::default()
        },
    );
    let token = nap.token(0);
    let (status, body) = nap.submit(&token, &doc(&vin(60), 1, 1));
    assert_eq!(status, 202, "{body}");
    let pending = body["submission_id"].as_str().unwrap().to_owned();
    let secret = nap.client(0).1;
    nap.stop();

    // Restarted with fast processing: same clients, the pending one finishes, duplicates refused.
    let nap = Nap::fast(dir.path());
    assert_eq!(nap.client(0).1, secret);
    let token = nap.token(0);
    let (status, body) = nap.submit(&token, &doc(&vin(60), 1, 1));
    assert_eq!(
        (status, body["error"].as_str()),
        (409, Some("duplicate")),
        "{body}"
    );
    assert!(
        body["message"].as_str().unwrap().contains(&pending),
        "{body}"
    );
    let (seen, _) = nap.wait_final(&token, &pending);
    assert_eq!(
        seen.last().map(String::as_str),
        Some("Succeeded"),
        "{seen:?}"
    );
    let (status, body) = nap.submit(&token, &doc(&vin(61), 1, 1));
    assert_eq!(status, 202, "{body}");
    let done = body["submission_id"].as_str().unwrap().to_owned();
    nap.wait_final(&token, &done);
    nap.stop();

    // And again: final statuses are remembered.
    let nap = Nap::fast(dir.path());
    let token = nap.token(0);
    for id in [&pending, &done] {
        let (status, body) = nap.status(&token, id);
        assert_eq!(
            (status, body["status"].as_str()),
            (200, Some("Succeeded")),
            "{body}"
        );
    }
    assert_eq!(nap.submit(&token, &doc(&vin(61), 1, 1)).0, 409);
    assert_eq!(inbox_ids(dir.path()), {
        let mut v = vec![pending, done];
        v.sort();
        v
    });
}

#[test]
fn availability_faults() {
    let dir = tempfile::tempdir().unwrap();
    let nap = Nap::fast(dir.path());
    let token = nap.token(0);

    let (status, body) = nap.set_faults(&json!({"down": "unavailable"}));
    assert_eq!(status, 200, "{body}");
    let (status, body) = nap.submit(&token, &doc(&vin(70), 1, 1));
    assert_eq!(
        (status, body["error"].as_str()),
        (503, Some("unavailable")),
        "{body}"
    );

    nap.set_faults(&json!({"down": "close"}));
    let closed = nap
        .agent
        .post(nap.url("/ecoc/v1/submissions"))
        .header("Authorization", format!("Bearer {token}"))
        .header("Content-Type", "application/xml")
        .send(doc(&vin(70), 1, 1).as_bytes());
    assert!(
        closed.is_err(),
        "a closed connection must not look like an answer"
    );
    // The admin endpoints keep working while down.
    let (status, stats) = nap.get("/sandbox/stats", None);
    assert_eq!(status, 200);
    assert_eq!(stats["closed_connections"], 1, "{stats}");

    nap.set_faults(
        &json!({"fail_next": 2, "error_status": 502, "latency_ms": 5, "processing_ms": 20}),
    );
    assert_eq!(nap.submit(&token, &doc(&vin(70), 1, 1)).0, 502);
    assert_eq!(nap.get("/ecoc/v1/submissions", Some(&token)).0, 502);
    assert_eq!(nap.submit(&token, &doc(&vin(70), 1, 1)).0, 202);

    // Seeded error rate: the same pattern twice.
    let pattern = |nap: &Nap| -> Vec<u16> {
        nap.set_faults(&json!({"error_rate_percent": 50, "seed": 9, "processing_ms": 20}));
        (0..16)
            .map(|_| nap.get("/ecoc/v1/submissions", Some(&token)).0)
            .collect()
    };
    let first = pattern(&nap);
    assert_eq!(first, pattern(&nap));
    assert!(first.iter().all(|s| *s == 200 || *s == 503), "{first:?}");

    let (status, body) = nap.set_faults(&json!({"down": "sideways"}));
    assert_eq!(status, 400, "{body}");
    let (status, body) = nap.set_faults(&json!({"latency": 5}));
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_faults")),
        "{body}"
    );
    assert!(
        body["message"].as_str().unwrap().contains("latency"),
        "{body}"
    );
    let (status, faults) = nap.get("/sandbox/faults", None);
    assert_eq!(
        (status, faults["seed"].as_u64()),
        (200, Some(9)),
        "{faults}"
    );
}

// ---------------------------------------------------------------------------------------------
// The official specimens

fn in_ci() -> bool {
    std::env::var_os("CI").is_some()
}

fn specimens() -> Option<Vec<PathBuf>> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/ivi2/samples");
    let Ok(entries) = std::fs::read_dir(&dir) else {
        assert!(
            !in_ci(),
            "the IVI specimen folder {} is required when CI is set",
            dir.display()
        );
        eprintln!(
            "SKIPPED: the IVI specimen folder {} is missing",
            dir.display()
        );
        return None;
    };
    let mut paths: Vec<PathBuf> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "xml"))
        .collect();
    paths.sort();
    assert!(!paths.is_empty(), "no specimens in {}", dir.display());
    Some(paths)
}

/// The text of the first `<name>` element, by plain string search: an oracle independent of the
/// sandbox's XML reader (the specimens use the default namespace, no prefixes).
fn first_text(xml: &str, name: &str) -> String {
    let open = format!("<{name}>");
    let start = xml.find(&open).unwrap_or_else(|| panic!("no {name}")) + open.len();
    let end = start + xml[start..].find('<').unwrap();
    xml[start..end].trim().to_owned()
}

#[test]
fn specimens_are_accepted_and_duplicates_among_them_refused() {
    let Some(paths) = specimens() else { return };
    let dir = tempfile::tempdir().unwrap();
    let nap = Nap::fast(dir.path());
    let token = nap.token(0);
    let mut keys: HashMap<(String, String, String), String> = HashMap::new();
    let mut accepted: Vec<(String, Vec<u8>)> = Vec::new();
    for path in &paths {
        let bytes = std::fs::read(path).unwrap();
        let text = String::from_utf8(bytes.clone()).unwrap();
        let key = (
            first_text(&text, "VehicleIdentificationNumber"),
            first_text(&text, "IviVersionNumber"),
            first_text(&text, "ManufacturerStageNumber"),
        );
        let (status, body, _) = nap.submit_as(Some(&token), Some("application/xml"), &bytes);
        match keys.get(&key) {
            None => {
                assert_eq!(status, 202, "{}: {body}", path.display());
                let id = body["submission_id"].as_str().unwrap().to_owned();
                keys.insert(key, id.clone());
                accepted.push((id, bytes));
            }
            Some(earlier) => {
                assert_eq!(
                    (status, body["error"].as_str()),
                    (409, Some("duplicate")),
                    "{}: {body}",
                    path.display()
                );
                assert!(
                    body["message"].as_str().unwrap().contains(earlier.as_str()),
                    "{body}"
                );
            }
        }
    }
    eprintln!(
        "{} specimens, {} accepted, {} duplicates",
        paths.len(),
        accepted.len(),
        paths.len() - accepted.len()
    );
    // The inbox holds exactly the accepted files, byte for byte.
    let mut want: Vec<String> = accepted.iter().map(|(id, _)| id.clone()).collect();
    want.sort();
    assert_eq!(inbox_ids(dir.path()), want);
    for (id, bytes) in &accepted {
        assert_eq!(
            &std::fs::read(dir.path().join(format!("inbox/{id}.xml"))).unwrap(),
            bytes
        );
    }
    let (status, inbox) = nap.get("/sandbox/inbox", None);
    assert_eq!(status, 200);
    let listed: Vec<&str> = inbox["files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["submission_id"].as_str().unwrap())
        .collect();
    assert_eq!(
        listed,
        accepted
            .iter()
            .map(|(id, _)| id.as_str())
            .collect::<Vec<_>>()
    );
    // Every accepted specimen ends Succeeded (no failure rate configured).
    for (id, _) in &accepted {
        let (_, last) = nap.wait_final(&token, id);
        assert_eq!(last["status"], "Succeeded", "{last}");
    }
    // The specimens stay refused without their signature.
    let text = std::fs::read_to_string(&paths[0]).unwrap();
    let start = text.find("<Signature xmlns").unwrap();
    let end = text.find("</Signature>").unwrap() + "</Signature>".len();
    let unsigned = format!("{}{}", &text[..start], &text[end..])
        .replace("<IviVersionNumber>1<", "<IviVersionNumber>7<");
    let (status, body) = nap.submit(&token, &unsigned);
    assert_eq!(
        (status, body["error"].as_str()),
        (422, Some("signature_missing")),
        "{body}"
    );
}

#[test]
fn any_manufacturer_retrieves_an_accepted_stage_by_vin_and_nothing_else() {
    let dir = tempfile::tempdir().unwrap();
    let nap = Nap::fast(dir.path());
    let (chassis_maker, body_builder) = (nap.token(0), nap.token(1));
    let retrieve = |token: Option<&str>, vin: &str, stage: &str| {
        let mut request = nap
            .agent
            .get(nap.url(&format!("/ecoc/v1/vehicles/{vin}/stages/{stage}")));
        if let Some(t) = token {
            request = request.header("Authorization", format!("Bearer {t}"));
        }
        let mut response = request.call().unwrap();
        let status = response.status().as_u16();
        let header = |name: &str| {
            response
                .headers()
                .get(name)
                .map(|v| v.to_str().unwrap().to_owned())
        };
        let meta = (
            header("x-submission-id"),
            header("x-submitted-by"),
            header("x-ivi-version-number"),
        );
        (status, response.body_mut().read_to_string().unwrap(), meta)
    };
    let chassis = vin(60);
    // Not there yet: 404; no token: 401; no VIN: 400.
    assert_eq!(retrieve(Some(&body_builder), &chassis, "1").0, 404);
    assert_eq!(retrieve(None, &chassis, "1").0, 401);
    assert_eq!(retrieve(Some(&body_builder), "NOT-A-VIN", "1").0, 400);
    // Version 1, then a correction, both accepted: the body builder gets the newest.
    let mut ids = Vec::new();
    for version in [1, 2] {
        let (status, body) = nap.submit(&chassis_maker, &doc(&chassis, version, 1));
        assert_eq!(status, 202, "{body}");
        let id = body["submission_id"].as_str().unwrap().to_owned();
        assert_eq!(nap.wait_final(&chassis_maker, &id).1["status"], "Succeeded");
        ids.push(id);
    }
    let (status, file, (id, by, version)) = retrieve(Some(&body_builder), &chassis, "1");
    assert_eq!(status, 200, "{file}");
    assert_eq!(
        file,
        doc(&chassis, 2, 1),
        "the file as the chassis maker sent it"
    );
    assert_eq!(id.as_deref(), Some(ids[1].as_str()));
    assert_eq!(by, Some(nap.client(0).0));
    assert_eq!(version.as_deref(), Some("2"));
    // Another stage of the same VIN is not that one.
    assert_eq!(retrieve(Some(&body_builder), &chassis, "2").0, 404);

    // A file seeded as another manufacturer's, accepted, is retrievable; a second time is a duplicate.
    let elsewhere = vin(61);
    let response = nap
        .agent
        .post(nap.url("/sandbox/vehicles"))
        .header("Content-Type", "application/xml")
        .send(doc(&elsewhere, 1, 1).as_bytes())
        .unwrap();
    let ((status, seeded), _) = read(response);
    assert_eq!(
        (status, seeded["status"].as_str()),
        (201, Some("Succeeded")),
        "{seeded}"
    );
    let (status, _, (_, by, _)) = retrieve(Some(&chassis_maker), &elsewhere, "1");
    assert_eq!((status, by.as_deref()), (200, Some(nap::SEED_CLIENT)));
    let response = nap
        .agent
        .post(nap.url("/sandbox/vehicles"))
        .send(doc(&elsewhere, 1, 1).as_bytes())
        .unwrap();
    assert_eq!(read(response).0.0, 409);
}

/// An HTTPS agent trusting the EU NAP's CA, presenting `client`'s certificate when given.
fn eu_agent(nap: &RunningNap, client: Option<&str>) -> ureq::Agent {
    use ureq::tls::{Certificate, ClientCert, PrivateKey, RootCerts, TlsConfig};
    let files = nap.eu_files();
    let ca = Certificate::from_pem(&std::fs::read(files.ca_pem()).unwrap()).unwrap();
    let mut tls = TlsConfig::builder().root_certs(RootCerts::new_with_certs(&[ca]));
    if let Some(id) = client {
        let pem = std::fs::read(files.client_cert(id)).unwrap();
        let leaf = Certificate::from_pem(&pem).unwrap();
        let key = PrivateKey::from_pem(&std::fs::read(files.client_key(id)).unwrap()).unwrap();
        tls = tls.client_cert(Some(ClientCert::new_with_certs(&[leaf], key)));
    }
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(20)))
        .tls_config(tls.build())
        .build()
        .into()
}

#[test]
fn the_eu_mode_knows_clients_by_the_certificate_it_issued() {
    let dir = tempfile::tempdir().unwrap();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let mut config = NapConfig::new("127.0.0.1:0".parse().unwrap(), dir.path().to_owned());
    config.faults = fast_faults();
    config.eu = true;
    let nap = runtime
        .block_on(nap::start(config))
        .expect("the EU NAP starts");
    assert!(
        nap.base_url().starts_with("https://127.0.0.1:"),
        "{}",
        nap.base_url()
    );
    let url = |path: &str| format!("{}{path}", nap.base_url());
    let clients: Vec<String> = nap
        .description()
        .clients
        .iter()
        .map(|c| c.client_id.clone())
        .collect();
    // Keys are the owner's only.
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(nap.eu_files().client_key(&clients[0]))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o077, 0, "{mode:o}");
    }
    let a = eu_agent(&nap, Some(&clients[0]));
    let b = eu_agent(&nap, Some(&clients[1]));
    let vehicle = doc(&vin(70), 1, 1);
    let send = |agent: &ureq::Agent, body: &str| {
        read(
            agent
                .post(url("/eucaris/v1/ivi"))
                .header("Content-Type", "application/xml")
                .send(body.as_bytes())
                .unwrap(),
        )
        .0
    };
    let (status, answer) = send(&a, &vehicle);
    assert_eq!(
        (status, answer["status"].as_str()),
        (202, Some("RECEIVED")),
        "{answer}"
    );
    let id = answer["messageId"].as_str().unwrap().to_owned();
    let started = Instant::now();
    let last = loop {
        let (status, answer) = read(a.get(url(&format!("/eucaris/v1/ivi/{id}"))).call().unwrap()).0;
        assert_eq!(status, 200, "{answer}");
        if answer["status"] == "ACCEPTED" || answer["status"] == "REJECTED" {
            break answer;
        }
        assert!(started.elapsed() < WAIT, "{answer}");
        std::thread::sleep(Duration::from_millis(10));
    };
    assert_eq!(last["status"], "ACCEPTED", "{last}");
    // The inbox says who sent it: the certificate's account.
    let meta: Value = serde_json::from_str(
        &std::fs::read_to_string(dir.path().join(format!("inbox/{id}.json"))).unwrap(),
    )
    .unwrap();
    assert_eq!(meta["client_id"], clients[0].as_str());
    // Another account does not see it, but retrieves the accepted file by VIN.
    assert_eq!(
        read(b.get(url(&format!("/eucaris/v1/ivi/{id}"))).call().unwrap())
            .0
            .0,
        404
    );
    let mut retrieved = b
        .get(url(&format!("/eucaris/v1/vehicles/{}/stages/1", vin(70))))
        .call()
        .unwrap();
    assert_eq!(retrieved.status().as_u16(), 200);
    assert_eq!(retrieved.body_mut().read_to_string().unwrap(), vehicle);
    // The same file again: 409 naming the earlier message.
    let (status, again) = send(&a, &vehicle);
    assert_eq!(
        (status, again["messageId"].as_str()),
        (409, Some(id.as_str())),
        "{again}"
    );
    assert_eq!(again["errors"][0]["code"], "DUPLICATE");
    // Not XML: rejected with the reason.
    let (status, refused) = send(&a, "<not-ivi/>");
    assert_eq!(
        (status, refused["status"].as_str()),
        (422, Some("REJECTED")),
        "{refused}"
    );
    // Without a certificate the link is refused at the handshake: no HTTP answer at all.
    let anonymous = eu_agent(&nap, None);
    assert!(
        anonymous.get(url("/eucaris/v1/ivi")).call().is_err(),
        "a client without a certificate got an answer"
    );
    // And plain HTTP gets nothing either.
    let plain = ureq::Agent::config_builder()
        .timeout_global(Some(Duration::from_secs(5)))
        .build();
    let plain: ureq::Agent = plain.into();
    assert!(
        plain
            .get(url("/eucaris/v1/ivi").replace("https://", "http://"))
            .call()
            .is_err()
    );
    runtime.block_on(nap.shutdown());
}
