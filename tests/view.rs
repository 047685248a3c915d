//! The readiness view end to end: `ecoc up --dev` with every component, a refused upload with a
//! known VIN, a held stage 2 and a view token made through the API, then a real browser
//! (`tests/browser/view_check.py`: Selenium driving headless Chromium) signs in, searches, reads
//! the refusal, photographs each page at 1280 and 390 px, is refused the sign-off with the view
//! token and signs off with the primary one until the record reads Succeeded.
//!
//! Before the browser, plain HTTP checks what every client gets: the security headers, the
//! session cookie's flags, 303s to the login, a bad token's 401, a foreign `Origin`'s 403.
//!
//! The browser part needs Debian's `chromium` and `chromium-driver` and Python's `selenium`
//! (`scripts/setup.sh` installs them). Without them it says SKIPPED, and fails in CI.

#![allow(
    clippy::unwrap_used,
    reason = "test code: a failed unwrap is a failed test"
)]

use std::path::PathBuf;
use std::process::Command;

use ecoc_tests::{
    DevApp, body, exchange, held_stage_two, refused_upload, target_dir, workspace_root,
};
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

    // What any client sees, browser or not: headers, the cookie, same-origin POSTs.
    the_view_answers_as_promised(&dev, &primary);

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

fn header<'h>(headers: &'h [(String, String)], name: &str) -> Option<&'h str> {
    headers
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

/// The view's security headers, its session cookie and its same-origin rule, over plain HTTP.
fn the_view_answers_as_promised(dev: &DevApp, primary: &str) {
    let base = dev.host.base.as_str();
    let (page, headers) = exchange("GET", &dev.host.url("/view/login"), &[], b"");
    assert_eq!(page.status, 200, "{}", page.body);
    for (name, value) in [
        ("content-type", "text/html; charset=utf-8"),
        (
            "content-security-policy",
            "default-src 'none'; style-src 'self'; img-src 'self' data:; form-action 'self'; frame-ancestors 'none'",
        ),
        ("x-content-type-options", "nosniff"),
        ("referrer-policy", "same-origin"),
        ("cache-control", "no-store"),
    ] {
        assert_eq!(header(&headers, name), Some(value), "{name}: {headers:?}");
    }
    // No session: to the login.
    let (to_login, headers) = exchange("GET", &dev.host.url("/view/"), &[], b"");
    assert_eq!(to_login.status, 303);
    assert_eq!(header(&headers, "location"), Some("/view/login"));
    let (bare, headers) = exchange("GET", &dev.host.url("/view"), &[], b"");
    assert_eq!(
        (bare.status, header(&headers, "location")),
        (303, Some("/view/"))
    );
    // Signing in sets a strict cookie; a bad token is the form again with 401.
    let form = format!("token={primary}");
    let form_type = ("content-type", "application/x-www-form-urlencoded");
    let (signed_in, headers) = exchange(
        "POST",
        &dev.host.url("/view/login"),
        &[form_type, ("origin", base)],
        form.as_bytes(),
    );
    assert_eq!(signed_in.status, 303, "{}", signed_in.body);
    assert_eq!(
        header(&headers, "set-cookie"),
        Some(format!("ecoc_session={primary}; HttpOnly; SameSite=Strict; Path=/view").as_str())
    );
    let (refused, _) = exchange(
        "POST",
        &dev.host.url("/view/login"),
        &[form_type, ("origin", base)],
        b"token=ecoc_0000000000000000000000000000000000000000",
    );
    assert_eq!(refused.status, 401);
    assert!(
        refused.body.contains("id=\"login-error\""),
        "{}",
        refused.body
    );
    // A POST from another site is refused before anything is done.
    let cookie = format!("ecoc_session={primary}");
    let (foreign, _) = exchange(
        "POST",
        &dev.host.url("/view/logout"),
        &[("cookie", &cookie), ("origin", "http://evil.example")],
        b"",
    );
    assert_eq!(foreign.status, 403, "{}", foreign.body);
    // With the session, the dashboard; an unknown record is the API's 404.
    let (today, _) = exchange("GET", &dev.host.url("/view/"), &[("cookie", &cookie)], b"");
    assert_eq!(today.status, 200, "{}", today.body);
    assert!(today.body.contains("id=\"figures\""));
    let (unknown, _) = exchange(
        "GET",
        &dev.host.url("/view/submissions/r000000000000000000000000"),
        &[("cookie", &cookie)],
        b"",
    );
    assert_eq!(unknown.status, 404, "{}", unknown.body);
}
