//! The readiness view end to end: `ecoc up --dev` with every component, a refused upload with a
//! known VIN, a held stage 2 and a view token made through the API, then a real browser
//! (`tests/browser/view_check.py`: Selenium driving headless Chromium) signs in, searches, reads
//! the refusal, photographs each page at 1280 and 390 px, is refused the sign-off with the view
//! token and signs off with the primary one until the record reads Succeeded.
//!
//! Needs Debian's `chromium` and `chromium-driver` and Python's `selenium` (`scripts/setup.sh`
//! installs them). Without them the test says SKIPPED, and fails in CI.

#![allow(
    clippy::unwrap_used,
    reason = "test code: a failed unwrap is a failed test"
)]

use std::path::PathBuf;
use std::process::Command;

use ecoc_tests::{DevApp, body, held_stage_two, refused_upload, target_dir, workspace_root};
use serde_json::json;

/// The refused upload's VIN, and the part of it the browser searches with a `*`.
const REFUSED_VIN: &str = "WEX1M1REFUSED0001";
const VIN_FRAGMENT: &str = "WEX1M1REF";

fn found(program: &str) -> bool {
    Command::new("sh")
        .args(["-c", &format!("command -v {program}")])
        .output()
        .is_ok_and(|o| o.status.success())
}

/// What the browser check needs and this machine lacks, in words.
fn missing_browser() -> Vec<&'static str> {
    let mut missing = Vec::new();
    if !found("python3") {
        missing.push("python3");
    }
    if !(found("chromium") || found("chromium-browser")) {
        missing.push("chromium (apt-get install chromium)");
    }
    if !found("chromedriver") {
        missing.push("chromedriver (apt-get install chromium-driver)");
    }
    let selenium = Command::new("python3")
        .args(["-c", "import selenium"])
        .output()
        .is_ok_and(|o| o.status.success());
    if !selenium {
        missing.push("selenium (python3 -m pip install selenium)");
    }
    missing
}

/// Where the screenshots go.
fn artifacts() -> PathBuf {
    target_dir().join("view-artifacts")
}

#[test]
fn a_browser_finds_a_refusal_and_signs_off_a_held_record() {
    let missing = missing_browser();
    if !missing.is_empty() {
        assert!(
            std::env::var_os("CI").is_none(),
            "the browser check needs {} (scripts/setup.sh installs them)",
            missing.join(", ")
        );
        eprintln!(
            "SKIPPED: the browser check needs {} (scripts/setup.sh installs them)",
            missing.join(", ")
        );
        return;
    }
    let dev = DevApp::start();
    let primary = dev.token.clone();
    let post = |doc: &serde_json::Value| dev.call(&primary, "POST", "/v1/vehicles", doc);

    // A refused upload, kept as a rejected record with its reason.
    let refused = post(&refused_upload(REFUSED_VIN));
    assert_eq!(refused.status, 422, "{}", refused.body);
    assert_eq!(
        body(&refused)["errors"][0]["code"],
        "APR-UNKNOWN",
        "{}",
        refused.body
    );
    // A stage 2 held for a sign-off.
    let held = held_stage_two(&post, None);
    let held_id = held["id"].as_str().unwrap().to_owned();
    // A view token, issued by the primary.
    let issued = dev.call(
        &primary,
        "POST",
        "/v1/tenant/tokens",
        &json!({"name": "viewer", "role": "view"}),
    );
    assert_eq!(issued.status, 201, "{}", issued.body);
    let view = body(&issued)["token"].as_str().unwrap().to_owned();

    // The two read routes the view stands on.
    let who = body(&dev.get(&view, "/v1/whoami"));
    assert_eq!(
        (who["role"].as_str(), who["may"]["manage"].as_bool()),
        (Some("view"), Some(false)),
        "{who:#}"
    );
    let summary = body(&dev.get(&view, "/v1/summary?days=7"));
    assert_eq!(summary["days"].as_array().unwrap().len(), 7, "{summary:#}");
    assert!(summary["today_refused"].as_u64() >= Some(1), "{summary:#}");
    assert_eq!(summary["held"], 1, "{summary:#}");
    assert_eq!(summary["problems"][0]["vin"], REFUSED_VIN, "{summary:#}");
    assert_eq!(dev.get(&view, "/v1/summary?days=91").status, 400);

    let out_dir = artifacts();
    eprintln!("view check: screenshots go to {}", out_dir.display());
    let script = workspace_root().join("tests/browser/view_check.py");
    let run = Command::new("python3")
        .arg(&script)
        .args([
            dev.host.base.as_str(),
            &primary,
            &view,
            VIN_FRAGMENT,
            &held_id,
            &out_dir.display().to_string(),
            "--expect-field",
            "CocDataGroup/TypeApprovalNumber",
            "--expect-rule",
            "APR-UNKNOWN",
        ])
        .output()
        .expect("run python3");
    let stdout = String::from_utf8_lossy(&run.stdout);
    let stderr = String::from_utf8_lossy(&run.stderr);
    eprintln!("{stdout}{stderr}");
    assert!(
        run.status.success(),
        "the browser check failed ({}):\n{stdout}{stderr}\nhost log:\n{}",
        run.status,
        dev.host.log_text()
    );
    // The API agrees with what the browser saw.
    let done = body(&dev.get(&primary, &format!("/v1/submissions/{held_id}")));
    assert_eq!(done["status"], "succeeded", "{done:#}");
}
