//! `ecoc up --dev`: the whole product on one machine with no configuration. Starts the QTSP, NAP
//! (VCA), EU NAP and mail sandboxes in-process (state under `<state-dir>/sandbox/`), points the
//! app's variables at them (`naps` declares `vca` and `rdw`; `submit` reaches the EU NAP over
//! mutual TLS with its first account's certificate, a `[[client_tls]]` entry of the host's), and
//! seeds a demo tenant (mapping, type approvals, a primary token kept in `<state-dir>/demo-token`)
//! once the app serves.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::Path;

use transport::http::Method;
use transport::{Transport, UreqTransport};

/// The demo tenant's id.
pub const DEMO_TENANT: &str = "demo";

const DEMO_MAPPING: &str = include_str!("../../pipeline/demo/mapping.json");
const DEMO_APPROVALS: &str = include_str!("../../pipeline/demo/approvals.json");

/// The running sandboxes.
pub struct Sandboxes {
    qtsp: sandbox::qtsp::RunningSandbox,
    nap: sandbox::nap::RunningNap,
    eu_nap: sandbox::nap::RunningNap,
    mail: sandbox::mail::RunningMail,
    /// The `[[client_tls]]` entry that links `submit` to the EU NAP sandbox.
    pub client_tls: String,
}

impl Sandboxes {
    /// Starts the three sandboxes on free loopback ports; returns them and the app variables that
    /// point at them (secrets included: they are the sandboxes' own).
    pub async fn start(state_dir: &Path) -> anyhow::Result<(Self, BTreeMap<String, String>)> {
        let any: SocketAddr = ([127, 0, 0, 1], 0).into();
        let dir = state_dir.join("sandbox");
        let qtsp =
            sandbox::qtsp::start(sandbox::qtsp::QtspConfig::new(any, dir.join("qtsp"))).await?;
        let nap = sandbox::nap::start(sandbox::nap::NapConfig::new(any, dir.join("nap"))).await?;
        let mut eu = sandbox::nap::NapConfig::new(any, dir.join("eu-nap"));
        eu.eu = true;
        let eu_nap = sandbox::nap::start(eu).await?;
        let mail =
            sandbox::mail::start(sandbox::mail::MailConfig::new(any, dir.join("mail"))).await?;
        let q = qtsp.description();
        let credential = q
            .credentials
            .iter()
            .find(|c| c.id == "rsa-signer")
            .ok_or_else(|| anyhow::anyhow!("the QTSP sandbox has no rsa-signer credential"))?;
        let client = nap
            .description()
            .clients
            .first()
            .ok_or_else(|| anyhow::anyhow!("the NAP sandbox has no client"))?;
        let root = std::fs::read_to_string(qtsp.root_ca_pem())?;
        let vars: BTreeMap<String, String> = [
            ("qtsp_origin", qtsp.base_url().to_owned()),
            ("qtsp_client_id", q.client_id.clone()),
            ("qtsp_client_secret", q.client_secret.clone()),
            ("qtsp_credential", credential.id.clone()),
            ("qtsp_pin", credential.pin.clone()),
            ("trust_anchors", root),
            ("qtsps", format!("sandbox={}", qtsp.csc_url())),
            ("nap_origin", nap.base_url().to_owned()),
            (
                "naps",
                format!("vca={},rdw={}", nap.base_url(), eu_nap.base_url()),
            ),
            ("eu_nap_origin", eu_nap.base_url().to_owned()),
            ("sealing_keys", sealing_keys(state_dir)?),
            ("audit_signing_key", audit_signing_key(state_dir)?),
            ("nap_client_id", client.client_id.clone()),
            ("nap_client_secret", client.client_secret.clone()),
            ("mail_origin", mail.base_url().to_owned()),
            ("mail_api_key", mail.api_key().to_owned()),
            ("admin_token", admin_token(state_dir)?),
            ("callback_secret", "ecoc-dev-callback-secret".to_owned()),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v))
        .collect();
        let client_tls = eu_link(&eu_nap)?;
        Ok((
            Self {
                qtsp,
                nap,
                eu_nap,
                mail,
                client_tls,
            },
            vars,
        ))
    }

    /// One line per sandbox, for the start-up banner.
    pub fn describe(&self) -> String {
        format!(
            "  QTSP sandbox (CSC v2)  {}/csc/v2   trust anchor {}\n  NAP sandbox (VCA API)   {}   inbox {}\n  EU NAP sandbox (mTLS)  {}   inbox {}\n  mail sandbox            {}   outbox {}",
            self.qtsp.base_url(),
            self.qtsp.root_ca_pem().display(),
            self.nap.base_url(),
            self.nap.inbox_dir().display(),
            self.eu_nap.base_url(),
            self.eu_nap.inbox_dir().display(),
            self.mail.base_url(),
            self.mail.outbox_dir().display(),
        )
    }

    /// Stops the sandboxes.
    pub async fn shutdown(self) {
        self.qtsp.shutdown().await;
        self.nap.shutdown().await;
        self.eu_nap.shutdown().await;
        self.mail.shutdown().await;
    }
}

/// The `[[client_tls]]` entry for `submit` to reach the EU NAP sandbox as its first account.
fn eu_link(eu_nap: &sandbox::nap::RunningNap) -> anyhow::Result<String> {
    let files = eu_nap.eu_files();
    let account = eu_nap
        .description()
        .clients
        .first()
        .ok_or_else(|| anyhow::anyhow!("the EU NAP sandbox has no account"))?;
    let quoted = |p: std::path::PathBuf| toml::Value::String(p.display().to_string()).to_string();
    Ok(format!(
        "[[client_tls]]\ncomponent_ids = [\"submit\"]\nhosts = [\"127.0.0.1\"]\nca_roots_file = {}\nclient_cert_file = {}\nclient_private_key_file = {}\n",
        quoted(files.ca_pem()),
        quoted(files.client_cert(&account.client_id)),
        quoted(files.client_key(&account.client_id)),
    ))
}

/// A token kept in a 0600 file under the state directory, made at first use.
fn kept_token(state_dir: &Path, file: &str) -> anyhow::Result<String> {
    kept(state_dir, file, || {
        let mut bytes = [0u8; 20];
        getrandom::fill(&mut bytes).map_err(|e| anyhow::anyhow!("no randomness: {e}"))?;
        Ok(format!(
            "ecoc_{}",
            bytes.iter().map(|b| format!("{b:02x}")).collect::<String>()
        ))
    })
}

/// The development sealing key ring, kept in `<state-dir>/sealing-keys` (0600).
fn sealing_keys(state_dir: &Path) -> anyhow::Result<String> {
    kept(state_dir, "sealing-keys", || {
        Ok(pipeline::sealing::KeyRing::new_entry("dev")?)
    })
}

/// The development audit checkpoint key, kept in `<state-dir>/audit-signing-key` (0600); its
/// public key goes beside it (`audit-public-key`) for `ecoc audit verify --public-key`.
fn audit_signing_key(state_dir: &Path) -> anyhow::Result<String> {
    let seed = kept(state_dir, "audit-signing-key", || {
        Ok(pipeline::audit::new_signing_key()?)
    })?;
    let public = pipeline::audit::public_key(&pipeline::audit::signing_key(&seed)?);
    std::fs::write(state_dir.join("audit-public-key"), format!("{public}\n"))?;
    Ok(seed)
}

/// A secret kept in `<state-dir>/<file>` (0600), made by `fresh` the first time.
fn kept(
    state_dir: &Path,
    file: &str,
    fresh: impl FnOnce() -> anyhow::Result<String>,
) -> anyhow::Result<String> {
    let path = state_dir.join(file);
    if let Ok(t) = std::fs::read_to_string(&path)
        && t.trim().len() >= 20
    {
        return Ok(t.trim().to_owned());
    }
    std::fs::create_dir_all(state_dir)?;
    let token = fresh()?;
    std::fs::write(&path, &token)?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600))?;
    }
    Ok(token)
}

fn admin_token(state_dir: &Path) -> anyhow::Result<String> {
    kept_token(state_dir, "admin-token")
}

/// Creates the demo tenant if it is not there, and (re)sets its mapping and approvals. Returns the
/// demo tenant's primary token. Blocking: run it off the async runtime.
pub fn seed(app_url: &str, state_dir: &Path, admin: &str) -> anyhow::Result<String> {
    let token = kept_token(state_dir, "demo-token")?;
    let http = UreqTransport::default();
    let call = |method: Method, path: &str, bearer: &str, body: String| {
        let authorization = format!("Bearer {bearer}");
        let request = transport::request(
            method.clone(),
            &format!("{app_url}{path}"),
            &[
                ("content-type", "application/json"),
                ("authorization", &authorization),
            ],
            body.into_bytes(),
        )?;
        http.send(request)
            .map_err(|e| anyhow::anyhow!("{method} {path}: {e}"))
    };
    let tenant = format!(
        r#"{{"tenant": {{"id": "{DEMO_TENANT}", "name": "Demo Motors", "digest_to": ["quality@demo-motors.example"], "callback_url": null}}, "token_name": "demo-primary", "token": "{token}"}}"#
    );
    let created = call(Method::POST, "/v1/admin/tenants", admin, tenant)?;
    if created.status() != 201 && created.status() != 409 {
        anyhow::bail!(
            "creating the demo tenant answered {}: {}",
            created.status().as_u16(),
            String::from_utf8_lossy(created.body())
        );
    }
    for (path, body) in [
        ("/v1/tenant/mapping", DEMO_MAPPING),
        ("/v1/tenant/approvals", DEMO_APPROVALS),
    ] {
        let resp = call(Method::PUT, path, &token, body.to_owned())?;
        if resp.status() != 200 {
            anyhow::bail!(
                "seeding {path} answered {}: {}",
                resp.status().as_u16(),
                String::from_utf8_lossy(resp.body())
            );
        }
    }
    Ok(token)
}
