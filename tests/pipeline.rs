//! The pipeline end to end, as a manufacturer runs it: `ecoc up` as a process with the real
//! components (map, validate, sign, submit, notify, status), a real SQLite file, and the QTSP, NAP and
//! mail sandboxes as separate processes over real HTTP. The NAP inbox is judged by independent tools:
//! `xmllint` against the official XSD and `xmlsec1 --verify`.

#![allow(
    clippy::unwrap_used,
    reason = "test code: a failed unwrap is a failed test"
)]

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use ecoc_tests::{
    Answer, Host, SandboxProcess, build_component, request, shared_ivi2, target_dir, workspace_root,
};
use serde_json::{Value, json};

const FUNCTIONS: [&str; 6] = ["map", "validate", "sign", "submit", "notify", "status"];
const ADMIN: &str = "test-admin-token-0123456789abcdef";

fn demo(path: &str) -> PathBuf {
    workspace_root().join("components/pipeline/demo").join(path)
}

fn demo_json(path: &str) -> Value {
    serde_json::from_str(&std::fs::read_to_string(demo(path)).unwrap()).unwrap()
}

/// Builds the six functions once and lays them out as `spin.toml` expects, in a fresh app folder.
fn app_dir(root: &Path) -> PathBuf {
    static BUILT: std::sync::OnceLock<Vec<(String, PathBuf)>> = std::sync::OnceLock::new();
    let built = BUILT.get_or_init(|| {
        FUNCTIONS
            .iter()
            .map(|f| (f.to_string(), build_component(f)))
            .collect()
    });
    let app = root.join("app");
    let wasm_dir = app.join("target/wasm32-wasip2/release");
    std::fs::create_dir_all(&wasm_dir).unwrap();
    std::fs::copy(workspace_root().join("spin.toml"), app.join("spin.toml")).unwrap();
    for (name, wasm) in built {
        std::fs::copy(wasm, wasm_dir.join(format!("{name}.wasm"))).unwrap();
    }
    let labels = ["default", "claims", "work", "vins", "failures"];
    let config: String = labels
        .iter()
        .map(|l| format!("[key_value_store.{l}]\ntype = \"spin\"\npath = \"../state/ecoc.db\"\n"))
        .collect();
    std::fs::write(app.join("runtime-config.toml"), config).unwrap();
    app
}

/// Sandboxes, the app, and one tenant (`acme`) with the demo mapping and approvals.
struct Stack {
    root: tempfile::TempDir,
    qtsp: SandboxProcess,
    nap: SandboxProcess,
    mail: SandboxProcess,
    host: Option<Host>,
    env: Vec<(String, String)>,
    token: String,
}

impl Stack {
    fn start(nap_flags: &[&str]) -> Self {
        let root = tempfile::tempdir().unwrap();
        let sandboxes = root.path().join("sandboxes");
        std::fs::create_dir_all(&sandboxes).unwrap();
        let qtsp = SandboxProcess::start("qtsp", &sandboxes.join("qtsp"), &[]);
        let mut flags = vec!["--processing-ms", "200"];
        flags.extend_from_slice(nap_flags);
        let nap = SandboxProcess::start("nap", &sandboxes.join("nap"), &flags);
        let mail = SandboxProcess::start("mail", &sandboxes.join("mail"), &[]);
        let q = qtsp.state_json("sandbox.json");
        let pin = q["credentials"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["id"] == "p256-signer")
            .unwrap()["pin"]
            .as_str()
            .unwrap()
            .to_owned();
        let n = nap.state_json("nap.json");
        let m = mail.state_json("mail.json");
        let root_ca = std::fs::read_to_string(qtsp.state_dir.join("root-ca.pem")).unwrap();
        let env: Vec<(String, String)> = [
            ("QTSP_ORIGIN", qtsp.base.clone()),
            (
                "QTSP_CLIENT_SECRET",
                q["client_secret"].as_str().unwrap().to_owned(),
            ),
            ("QTSP_PIN", pin),
            ("TRUST_ANCHORS", root_ca),
            ("NAP_ORIGIN", nap.base.clone()),
            (
                "NAP_CLIENT_ID",
                n["clients"][0]["client_id"].as_str().unwrap().to_owned(),
            ),
            (
                "NAP_CLIENT_SECRET",
                n["clients"][0]["client_secret"]
                    .as_str()
                    .unwrap()
                    .to_owned(),
            ),
            ("MAIL_ORIGIN", mail.base.clone()),
            ("MAIL_API_KEY", m["api_key"].as_str().unwrap().to_owned()),
            ("ADMIN_TOKEN", ADMIN.to_owned()),
            ("MAX_ATTEMPTS", "4".to_owned()),
        ]
        .into_iter()
        .map(|(k, v)| (format!("SPIN_VARIABLE_{k}"), v))
        .collect();
        let mut stack = Self {
            root,
            qtsp,
            nap,
            mail,
            host: None,
            env,
            token: String::new(),
        };
        stack.boot();
        stack.token = stack.tenant("acme");
        stack
    }

    /// Starts (or restarts) `ecoc up` on the same state.
    fn boot(&mut self) {
        let app = app_dir(self.root.path());
        let state = self.root.path().join("state");
        let cache = target_dir().join("ecoc-test-cache");
        let env: Vec<(&str, &str)> = self
            .env
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        let args = [
            "--state-dir",
            state.to_str().unwrap(),
            "--cache-dir",
            cache.to_str().unwrap(),
        ];
        self.host = Some(
            Host::start(&app.join("spin.toml"), &args, &env)
                .unwrap_or_else(|f| panic!("host did not start:\n{}", f.log)),
        );
    }

    fn host(&self) -> &Host {
        self.host.as_ref().unwrap()
    }

    /// Creates tenant `id` with the demo mapping and approvals; returns its primary token.
    fn tenant(&self, id: &str) -> String {
        let created = self.call(
            ADMIN,
            "POST",
            "/v1/admin/tenants",
            &json!({"tenant": {"id": id, "name": format!("{id} Vehicles"), "digest_to": [format!("quality@{id}.example")]}, "token_name": "owner"}),
        );
        assert_eq!(created.status, 201, "{}", created.body);
        let token = body(&created)["token"].as_str().unwrap().to_owned();
        for (path, file) in [
            ("/v1/tenant/mapping", "mapping.json"),
            ("/v1/tenant/approvals", "approvals.json"),
        ] {
            let put = self.call(&token, "PUT", path, &demo_json(file));
            assert_eq!(put.status, 200, "{path}: {}", put.body);
        }
        token
    }

    fn call(&self, token: &str, method: &str, path: &str, value: &Value) -> Answer {
        let auth = format!("Bearer {token}");
        request(
            method,
            &self.host().url(path),
            &[
                ("authorization", &auth),
                ("content-type", "application/json"),
            ],
            value.to_string().as_bytes(),
        )
    }

    fn get(&self, token: &str, path: &str) -> Answer {
        let auth = format!("Bearer {token}");
        request(
            "GET",
            &self.host().url(path),
            &[("authorization", &auth)],
            b"",
        )
    }

    fn post_vehicle(&self, token: &str, record: &Value) -> Answer {
        self.call(token, "POST", "/v1/vehicles", record)
    }

    /// Polls a record until its status is one of `wanted`.
    fn wait_for(&self, token: &str, id: &str, wanted: &[&str]) -> Value {
        let deadline = Instant::now() + Duration::from_secs(120);
        loop {
            let answer = self.get(token, &format!("/v1/submissions/{id}"));
            assert_eq!(answer.status, 200, "{}", answer.body);
            let record = body(&answer);
            if wanted.contains(&record["status"].as_str().unwrap()) {
                return record;
            }
            assert!(
                Instant::now() < deadline,
                "{id} stayed {} (wanted {wanted:?}):\n{record:#}\nlog:\n{}",
                record["status"],
                self.host().log_text()
            );
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    fn nap_inbox(&self) -> Vec<Value> {
        let answer = request("GET", &format!("{}/sandbox/inbox", self.nap.base), &[], b"");
        body(&answer)["files"].as_array().unwrap().clone()
    }
}

fn body(answer: &Answer) -> Value {
    serde_json::from_str(&answer.body)
        .unwrap_or_else(|e| panic!("not JSON ({e}): {} {}", answer.status, answer.body))
}

/// `xmlsec1 --verify` of a signed file with the sandbox QTSP's root as the only trust anchor.
fn xmlsec_verifies(qtsp_state: &Path, file: &Path) -> Result<(), String> {
    let out = Command::new("xmlsec1")
        .arg("--verify")
        .arg("--trusted-pem")
        .arg(qtsp_state.join("ca.pem"))
        .arg("--untrusted-pem")
        .arg(qtsp_state.join("issuing-ca.pem"))
        .args(["--enabled-reference-uris", "empty"])
        .arg(file)
        .output()
        .map_err(|e| format!("xmlsec1 not runnable (scripts/setup.sh installs it): {e}"))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(String::from_utf8_lossy(&out.stderr).into_owned())
    }
}

/// `xmllint --schema` with the official XSD; `None` when ../shared is absent outside CI.
fn xmllint_valid(file: &Path) -> Option<Result<(), String>> {
    let xsd = shared_ivi2()?.join("xsd/ivi-2.0.xsd");
    let out = Command::new("xmllint")
        .args(["--noout", "--nonet", "--schema"])
        .arg(xsd)
        .arg(file)
        .output()
        .expect("xmllint (scripts/setup.sh installs libxml2-utils)");
    Some(if out.status.success() {
        Ok(())
    } else {
        Err(String::from_utf8_lossy(&out.stderr).into_owned())
    })
}
