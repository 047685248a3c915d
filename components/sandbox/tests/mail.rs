//! The mail sink over real HTTP; Python's `email` package reads the stored `.eml` files back as an
//! independent oracle (skipped when python3 is missing, failing when `CI` is set).

#![allow(
    clippy::unwrap_used,
    reason = "test helpers: a panic is how a test reports failure"
)]

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use sandbox::mail::{self, MailConfig, RunningMail};
use serde_json::{Value, json};

struct Mail {
    runtime: tokio::runtime::Runtime,
    mail: Option<RunningMail>,
    agent: ureq::Agent,
}

impl Mail {
    fn start(dir: &Path) -> Self {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        let config = MailConfig::new("127.0.0.1:0".parse().unwrap(), dir.to_owned());
        let mail = runtime.block_on(mail::start(config)).expect("mail starts");
        let agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(Duration::from_secs(20)))
            .build()
            .into();
        Self {
            runtime,
            mail: Some(mail),
            agent,
        }
    }

    fn mail(&self) -> &RunningMail {
        self.mail.as_ref().unwrap()
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.mail().base_url())
    }

    fn send_raw(&self, key: &str, content_type: &str, body: &str) -> (u16, Value) {
        let response = self
            .agent
            .post(self.url("/v1/messages"))
            .header("Authorization", format!("Bearer {key}"))
            .header("Content-Type", content_type)
            .send(body)
            .unwrap();
        read(response)
    }

    fn send(&self, message: &Value) -> (u16, Value) {
        let key = self.mail().api_key().to_owned();
        self.send_raw(&key, "application/json", &message.to_string())
    }

    fn list(&self) -> (u16, Value) {
        let response = self
            .agent
            .get(self.url("/v1/messages"))
            .header("Authorization", format!("Bearer {}", self.mail().api_key()))
            .call()
            .unwrap();
        read(response)
    }

    fn set_faults(&self, faults: &Value) -> u16 {
        read(
            self.agent
                .post(self.url("/sandbox/faults"))
                .send_json(faults)
                .unwrap(),
        )
        .0
    }
}

impl Drop for Mail {
    fn drop(&mut self) {
        if let Some(mail) = self.mail.take() {
            self.runtime.block_on(mail.shutdown());
        }
    }
}

fn read(mut response: http::Response<ureq::Body>) -> (u16, Value) {
    let status = response.status().as_u16();
    let text = response.body_mut().read_to_string().unwrap();
    let body = if text.is_empty() {
        Value::Null
    } else {
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("not JSON ({e}): {text}"))
    };
    (status, body)
}

/// Python's `email` package (policy `default`) reading the file: subject, addresses, bodies.
const PY_ORACLE: &str = r#"
import email, email.policy, email.utils, json, sys
with open(sys.argv[1], "rb") as f:
    raw = f.read()
msg = email.message_from_bytes(raw, policy=email.policy.default)
out = {
    "subject": str(msg["subject"]),
    "from": [a.addr_spec for a in msg["from"].addresses],
    "from_name": [a.display_name for a in msg["from"].addresses],
    "to": [a.addr_spec for a in msg["to"].addresses],
    "message_id": str(msg["message-id"]),
    "date_ok": email.utils.parsedate_to_datetime(str(msg["date"])) is not None,
    "mime_version": str(msg["mime-version"]),
    "content_type": msg.get_content_type(),
    "x_tenant": str(msg["x-ecoc-tenant"]) if msg["x-ecoc-tenant"] else None,
    "defects": [type(d).__name__ for d in msg.defects],
    "crlf_only": b"\n" not in raw.replace(b"\r\n", b""),
    "max_line": max(len(l) for l in raw.split(b"\r\n")),
}
plain = msg.get_body(preferencelist=("plain",))
html = msg.get_body(preferencelist=("html",))
# Text parts are CRLF on the wire (RFC 2046 4.1.1): compare them as LF text.
out["text"] = plain.get_content().replace("\r\n", "\n") if plain is not None else None
out["html"] = html.get_content().replace("\r\n", "\n") if html is not None and html is not plain else None
out["cte"] = plain["content-transfer-encoding"] if plain is not None else None
print(json.dumps(out))
"#;

fn python_reads(path: &Path) -> Option<Value> {
    match Command::new("python3")
        .arg("-c")
        .arg(PY_ORACLE)
        .arg(path)
        .output()
    {
        Ok(output) => {
            assert!(
                output.status.success(),
                "python3: {}",
                String::from_utf8_lossy(&output.stderr)
            );
            Some(serde_json::from_slice(&output.stdout).unwrap())
        }
        Err(e) => {
            assert!(
                std::env::var_os("CI").is_none(),
                "python3 is required when CI is set: {e}"
            );
            eprintln!("SKIPPED: python3 is not available ({e})");
            None
        }
    }
}

#[test]
fn messages_become_eml_files_python_reads_back() {
    let dir = tempfile::tempdir().unwrap();
    let mail = Mail::start(dir.path());
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(dir.path().join("mail.json"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }

    let subject = "Échecs du jour — 3 eCoC refusés ✓ (tenant Zürich) with a rather long tail to force folding of encoded words";
    let text = format!(
        "Bonjour,\n\n3 submissions failed today: VIN WSBX0TEST00000001 = Failed.\nTrailing space here \n{}\nÜbersicht: naïve café.\n",
        "long line ".repeat(30)
    );
    let html = "<p>3 submissions <b>failed</b> &mdash; détails=ci-dessous</p>\n";
    let cases = [
        json!({
            "from": "Ecoc Notifier Café <notify@ecoc.example>",
            "to": ["ops@manufacturer-a.example", "Quality Team <quality@manufacturer-a.example>"],
            "subject": subject,
            "text": text,
            "headers": {"X-Ecoc-Tenant": "manufacturer-a"},
        }),
        json!({
            "from": "notify@ecoc.example",
            "to": ["ops@manufacturer-b.example"],
            "subject": "plain ascii subject",
            "text": text,
            "html": html,
        }),
    ];
    for case in &cases {
        let (status, body) = mail.send(case);
        assert_eq!(status, 202, "{body}");
        let id = body["id"].as_str().unwrap();
        let path = dir.path().join(format!("outbox/{id}.eml"));
        assert!(path.is_file(), "{} missing", path.display());
        let Some(parsed) = python_reads(&path) else {
            return;
        };
        assert_eq!(parsed["subject"], case["subject"], "{parsed}");
        assert_eq!(parsed["text"], case["text"], "{parsed}");
        assert_eq!(parsed["defects"], json!([]), "{parsed}");
        assert_eq!(parsed["crlf_only"], true);
        // RFC 5322 2.1.1: lines SHOULD stay within 78 characters (and MUST within 998).
        assert!(parsed["max_line"].as_u64().unwrap() <= 78, "{parsed}");
        assert_eq!(parsed["mime_version"], "1.0");
        assert_eq!(parsed["date_ok"], true);
        assert!(
            parsed["message_id"].as_str().unwrap().contains(id),
            "{parsed}"
        );
        assert_eq!(parsed["cte"], "quoted-printable");
        let to: Vec<String> = case["to"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| {
                let t = t.as_str().unwrap();
                t.rsplit_once('<')
                    .map_or(t, |(_, a)| a.trim_end_matches('>'))
                    .to_owned()
            })
            .collect();
        assert_eq!(parsed["to"], json!(to), "{parsed}");
        if case.get("html").is_some() {
            assert_eq!(parsed["content_type"], "multipart/alternative");
            assert_eq!(parsed["html"], html, "{parsed}");
        } else {
            assert_eq!(parsed["content_type"], "text/plain");
            assert_eq!(
                parsed["from_name"],
                json!(["Ecoc Notifier Café"]),
                "{parsed}"
            );
            assert_eq!(parsed["x_tenant"], "manufacturer-a");
        }
    }

    // The list, and again after a restart.
    let (status, list) = mail.list();
    assert_eq!(status, 200);
    let subjects: Vec<&str> = list["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["subject"].as_str().unwrap())
        .collect();
    assert_eq!(subjects, [subject, "plain ascii subject"]);
    drop(mail);
    let mail = Mail::start(dir.path());
    assert_eq!(mail.list().1["messages"].as_array().unwrap().len(), 2);
}

#[test]
fn refusals_name_the_field() {
    let dir = tempfile::tempdir().unwrap();
    let mail = Mail::start(dir.path());
    let good = json!({"from": "a@x.example", "to": ["b@y.example"], "subject": "s", "text": "t\n"});
    let with = |field: &str, value: Value| {
        let mut m = good.clone();
        m[field] = value;
        m
    };
    let cases = [
        (with("from", json!("not-an-address")), 422, "from"),
        (with("to", json!([])), 422, "to"),
        (
            with("to", json!(["ok@y.example", "bad@@y.example"])),
            422,
            "to[1]",
        ),
        (
            with("subject", json!("hi\r\nBcc: victim@z.example")),
            422,
            "subject",
        ),
        (
            with("headers", json!({"Bcc": "victim@z.example"})),
            422,
            "Bcc",
        ),
        (
            with("headers", json!({"X-Bad Name": "v"})),
            422,
            "X-Bad Name",
        ),
        (
            with("headers", json!({"X-Ok": "v\r\nBcc: victim@z.example"})),
            422,
            "X-Ok",
        ),
        (with("cc", json!(["c@z.example"])), 400, "cc"),
        (
            json!({"from": "a@x.example", "to": ["b@y.example"], "text": "t"}),
            400,
            "subject",
        ),
    ];
    for (message, want, named) in &cases {
        let (status, body) = mail.send(message);
        assert_eq!(status, *want, "{message}: {body}");
        assert!(
            body["message"].as_str().unwrap().contains(named),
            "{body} does not name {named}"
        );
    }
    let (status, body) = mail.send_raw("wrong-key", "application/json", &good.to_string());
    assert_eq!(
        (status, body["error"].as_str()),
        (401, Some("unauthorized")),
        "{body}"
    );
    assert!(!body.to_string().contains(mail.mail().api_key()));
    let key = mail.mail().api_key().to_owned();
    let (status, _) = mail.send_raw(&key, "text/plain", &good.to_string());
    assert_eq!(status, 415);
    let (status, _) = mail.send_raw(&key, "application/json", "{not json");
    assert_eq!(status, 400);
    // Nothing was stored.
    assert_eq!(
        std::fs::read_dir(dir.path().join("outbox"))
            .unwrap()
            .count(),
        0
    );
    assert_eq!(mail.send(&good).0, 202);
}

#[test]
fn availability_faults() {
    let dir = tempfile::tempdir().unwrap();
    let mail = Mail::start(dir.path());
    let good = json!({"from": "a@x.example", "to": ["b@y.example"], "subject": "s", "text": "t\n"});
    assert_eq!(mail.set_faults(&json!({"down": "unavailable"})), 200);
    assert_eq!(mail.send(&good).0, 503);
    assert_eq!(mail.set_faults(&json!({"down": "close"})), 200);
    let key = mail.mail().api_key().to_owned();
    let closed = mail
        .agent
        .post(mail.url("/v1/messages"))
        .header("Authorization", format!("Bearer {key}"))
        .header("Content-Type", "application/json")
        .send(good.to_string());
    assert!(
        closed.is_err(),
        "a closed connection must not look like an answer"
    );
    assert_eq!(
        mail.set_faults(&json!({"fail_next": 1, "error_status": 500, "latency_ms": 5})),
        200
    );
    assert_eq!(mail.send(&good).0, 500);
    assert_eq!(mail.send(&good).0, 202);
    assert_eq!(mail.set_faults(&json!({"processing_ms": 5})), 400);
    let stats = read(mail.agent.get(mail.url("/sandbox/stats")).call().unwrap()).1;
    assert_eq!(
        (
            stats["accepted"].as_u64(),
            stats["injected_failures"].as_u64(),
            stats["closed_connections"].as_u64()
        ),
        (Some(1), Some(2), Some(1)),
        "{stats}"
    );
}
