//! Shared set-up for the sandbox's integration tests: one test PKI per test binary (RSA-2048
//! generation is slow in debug builds), one sandbox server per test, a blocking HTTP client.

#![allow(
    dead_code,
    reason = "each test binary uses a different subset of these helpers"
)]

use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::time::Duration;

use sandbox::qtsp::{self, Faults, QtspConfig, RunningSandbox, SandboxDescription};
use serde_json::{Value, json};

/// The state directory with the shared test PKI, generated on first use.
pub fn shared_state_dir(binary: &str) -> PathBuf {
    static DIRS: OnceLock<std::sync::Mutex<std::collections::HashMap<String, PathBuf>>> =
        OnceLock::new();
    let dirs = DIRS.get_or_init(Default::default);
    let mut dirs = dirs
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    dirs.entry(binary.to_owned())
        .or_insert_with(|| {
            // Kept under the target directory so reruns reuse (and so also test reloading) the PKI.
            let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("sandbox-pki-{binary}"));
            let started = std::time::Instant::now();
            qtsp::TestPki::load_or_create(&dir).expect("test pki");
            eprintln!(
                "test pki ready in {:?} at {}",
                started.elapsed(),
                dir.display()
            );
            dir
        })
        .clone()
}

/// A running sandbox and the runtime it runs on.
pub struct Fixture {
    pub runtime: tokio::runtime::Runtime,
    pub sandbox: Option<RunningSandbox>,
    pub agent: ureq::Agent,
}

impl Fixture {
    pub fn start(binary: &str, faults: Faults) -> Self {
        Self::start_in(&shared_state_dir(binary), faults)
    }

    pub fn start_in(state_dir: &Path, faults: Faults) -> Self {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("runtime");
        let mut config = QtspConfig::new("127.0.0.1:0".parse().unwrap(), state_dir.to_owned());
        config.faults = faults;
        let sandbox = runtime
            .block_on(qtsp::start(config))
            .expect("sandbox starts");
        Self {
            runtime,
            sandbox: Some(sandbox),
            agent: agent(Duration::from_secs(20)),
        }
    }

    pub fn sandbox(&self) -> &RunningSandbox {
        self.sandbox.as_ref().expect("running")
    }

    pub fn description(&self) -> &SandboxDescription {
        self.sandbox().description()
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.sandbox().base_url())
    }

    pub fn pin(&self, credential: &str) -> String {
        self.description()
            .credential(credential)
            .expect("credential")
            .pin
            .clone()
    }

    /// POSTs JSON, returns status and JSON body.
    pub fn post(&self, path: &str, token: Option<&str>, body: &Value) -> (u16, Value) {
        let mut request = self.agent.post(self.url(path));
        if let Some(token) = token {
            request = request.header("Authorization", format!("Bearer {token}"));
        }
        let response = request.send_json(body).expect("http exchange");
        read(response)
    }

    pub fn post_form(&self, path: &str, basic: Option<(&str, &str)>, form: &str) -> (u16, Value) {
        let mut request = self
            .agent
            .post(self.url(path))
            .header("Content-Type", "application/x-www-form-urlencoded");
        if let Some((user, password)) = basic {
            let encoded = <base64ct::Base64 as base64ct::Encoding>::encode_string(
                format!("{user}:{password}").as_bytes(),
            );
            request = request.header("Authorization", format!("Basic {encoded}"));
        }
        read(request.send(form).expect("http exchange"))
    }

    pub fn get(&self, path: &str) -> (u16, Value) {
        read(
            self.agent
                .get(self.url(path))
                .call()
                .expect("http exchange"),
        )
    }

    /// A fresh access token through the form-encoded client credentials grant.
    pub fn token(&self) -> String {
        let d = self.description();
        let (status, body) = self.post_form(
            "/oauth2/token",
            None,
            &format!(
                "grant_type=client_credentials&client_id={}&client_secret={}",
                d.client_id, d.client_secret
            ),
        );
        assert_eq!(status, 200, "{body}");
        body["access_token"]
            .as_str()
            .expect("access_token")
            .to_owned()
    }

    /// Authorises `hashes` (raw bytes) for `credential` and returns the SAD.
    pub fn authorize(&self, token: &str, credential: &str, hashes: &[Vec<u8>]) -> String {
        let (status, body) = self.post(
            "/csc/v2/credentials/authorize",
            Some(token),
            &json!({
                "credentialID": credential,
                "numSignatures": hashes.len(),
                "hashes": hashes.iter().map(|h| b64(h)).collect::<Vec<_>>(),
                "hashAlgorithmOID": qtsp::pki::OID_SHA256,
                "authData": [{"id": "PIN", "value": self.pin(credential)}],
            }),
        );
        assert_eq!(status, 200, "{body}");
        body["SAD"].as_str().expect("SAD").to_owned()
    }

    pub fn set_faults(&self, faults: &Value) -> (u16, Value) {
        self.post("/sandbox/faults", None, faults)
    }
}

impl Drop for Fixture {
    fn drop(&mut self) {
        if let Some(sandbox) = self.sandbox.take() {
            self.runtime.block_on(sandbox.shutdown());
        }
    }
}

pub fn agent(timeout: Duration) -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(timeout))
        .build()
        .into()
}

pub fn read(mut response: http::Response<ureq::Body>) -> (u16, Value) {
    let status = response.status().as_u16();
    let text = response.body_mut().read_to_string().expect("body");
    let body = if text.is_empty() {
        Value::Null
    } else {
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("not JSON ({e}): {text}"))
    };
    (status, body)
}

pub fn b64(bytes: &[u8]) -> String {
    <base64ct::Base64 as base64ct::Encoding>::encode_string(bytes)
}

pub fn unb64(text: &str) -> Vec<u8> {
    <base64ct::Base64 as base64ct::Encoding>::decode_vec(text).expect("base64")
}

pub fn sha256(data: &[u8]) -> Vec<u8> {
    use sha2::Digest;
    sha2::Sha256::digest(data).to_vec()
}
