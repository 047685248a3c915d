//! Harness for the end-to-end tests: builds the `ecoc` binary and wasm components, starts
//! `ecoc up` as a real process on a free port, and talks to it over real HTTP. [`app_dir`] lays
//! out the app as `spin.toml` expects it, [`DevApp`] runs it as `ecoc up --dev` does for a user,
//! and the demo helpers ([`demo_json`], [`held_stage_two`], [`refused_upload`]) make the records
//! the tests look at.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

/// The repository root.
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from(".."))
}

/// Cargo's target folder (honours `CARGO_TARGET_DIR`).
pub fn target_dir() -> PathBuf {
    match std::env::var_os("CARGO_TARGET_DIR") {
        Some(dir) => {
            let dir = PathBuf::from(dir);
            if dir.is_absolute() {
                dir
            } else {
                workspace_root().join(dir)
            }
        }
        None => workspace_root().join("target"),
    }
}

fn cargo(args: &[&str]) {
    static LOCK: Mutex<()> = Mutex::new(());
    let _guard = LOCK.lock().unwrap_or_else(|e| e.into_inner());
    let status = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
        .args(args)
        .current_dir(workspace_root())
        .status()
        .expect("cannot run cargo");
    assert!(status.success(), "cargo {} failed", args.join(" "));
}

/// The `ecoc` binary, built (or brought up to date) once per test process.
pub fn ecoc_bin() -> PathBuf {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| {
        cargo(&["build", "--quiet", "-p", "ecoc"]);
        target_dir().join("debug").join("ecoc")
    })
    .clone()
}

/// Builds a wasm component package for `wasm32-wasip2` (release) and returns its `.wasm`.
pub fn build_component(package: &str) -> PathBuf {
    cargo(&[
        "build",
        "--quiet",
        "--target",
        "wasm32-wasip2",
        "--release",
        "-p",
        package,
    ]);
    target_dir()
        .join("wasm32-wasip2")
        .join("release")
        .join(format!("{}.wasm", package.replace('-', "_")))
}

/// A copy of an app folder in a temp dir, with built components placed beside its manifest.
#[derive(Debug)]
pub struct AppDir {
    pub dir: tempfile::TempDir,
}

impl AppDir {
    /// Copies `tests/apps/<name>/*` and links each `(file name, built wasm)` into it.
    pub fn new(name: &str, components: &[(&str, PathBuf)]) -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        let src = workspace_root().join("tests").join("apps").join(name);
        for entry in std::fs::read_dir(&src).expect("app folder") {
            let entry = entry.expect("entry");
            std::fs::copy(entry.path(), dir.path().join(entry.file_name())).expect("copy");
        }
        for (file, wasm) in components {
            std::fs::copy(wasm, dir.path().join(file)).expect("copy wasm");
        }
        Self { dir }
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    pub fn manifest(&self) -> PathBuf {
        self.path().join("spin.toml")
    }

    /// Writes `runtime-config.toml` into the app folder.
    pub fn write_runtime_config(&self, text: &str) -> PathBuf {
        let p = self.path().join("runtime-config.toml");
        std::fs::write(&p, text).expect("write runtime config");
        p
    }
}

/// A running `ecoc up`.
#[derive(Debug)]
pub struct Host {
    child: Child,
    pub base: String,
    pub log: PathBuf,
}

/// Why a host did not start: its exit status and what it logged.
#[derive(Debug)]
pub struct StartFailure {
    pub log: String,
}

impl Host {
    /// Starts `ecoc up` for `manifest` with extra arguments and environment, on a free port,
    /// and waits until it serves.
    pub fn start(
        manifest: &Path,
        extra_args: &[&str],
        env: &[(&str, &str)],
    ) -> Result<Self, StartFailure> {
        let log = manifest.with_file_name(format!(
            "ecoc-{}.log",
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_nanos())
                .unwrap_or_default()
        ));
        let log_file = std::fs::File::create(&log).expect("log file");
        let mut cmd = Command::new(ecoc_bin());
        cmd.arg("up")
            .arg("--manifest")
            .arg(manifest)
            .args(["--listen", "127.0.0.1:0"])
            .args(extra_args)
            .current_dir(manifest.parent().unwrap_or(Path::new(".")))
            .stdout(Stdio::piped())
            .stderr(log_file)
            .env("ECOC_LOG", "info");
        for (k, v) in env {
            cmd.env(k, v);
        }
        let mut child = cmd.spawn().expect("spawn ecoc up");
        let stdout = child.stdout.take().expect("stdout");
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if let Some(url) = line
                    .strip_prefix("ecoc: serving ")
                    .and_then(|l| l.split(" on http://").nth(1))
                {
                    let _ = tx.send(format!("http://{}", url.trim()));
                }
            }
        });
        // Generous: a debug host compiles seven components cold in about two minutes on two cores.
        let deadline = Instant::now() + Duration::from_secs(400);
        loop {
            if let Ok(base) = rx.recv_timeout(Duration::from_millis(100)) {
                return Ok(Self { child, base, log });
            }
            if let Ok(Some(_)) = child.try_wait() {
                return Err(StartFailure {
                    log: std::fs::read_to_string(&log).unwrap_or_default(),
                });
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                return Err(StartFailure {
                    log: std::fs::read_to_string(&log).unwrap_or_default(),
                });
            }
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// What the host logged so far.
    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Kills the host with SIGKILL, as a crash or an out-of-memory killer would, and waits for it.
    pub fn kill(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Sends SIGTERM and waits for a clean exit; returns whether it exited successfully.
    pub fn stop(mut self) -> bool {
        let pid = self.child.id().to_string();
        let _ = Command::new("kill").args(["-TERM", &pid]).status();
        let deadline = Instant::now() + Duration::from_secs(20);
        while Instant::now() < deadline {
            if let Ok(Some(status)) = self.child.try_wait() {
                return status.success();
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.child.kill();
        false
    }
}

impl Drop for Host {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The official IVI 2.0 reference folder (`../shared/ivi2`), the oracle some tests read.
/// `None` (with a SKIPPED line) on a machine without it; in CI its absence is a failure.
pub fn shared_ivi2() -> Option<PathBuf> {
    let dir = workspace_root().join("..").join("shared").join("ivi2");
    if dir.join("samples").is_dir() {
        return Some(dir);
    }
    assert!(
        std::env::var_os("CI").is_none(),
        "{} is missing: CI must have ../shared beside the checkout",
        dir.display()
    );
    eprintln!("SKIPPED: {} is not beside this checkout", dir.display());
    None
}

/// A free loopback port (bound and released; fine for tests on one machine).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("free port")
}

/// Waits until something accepts TCP connections on `port`.
pub fn wait_for_port(port: u16, timeout: Duration) -> bool {
    let deadline = Instant::now() + timeout;
    while Instant::now() < deadline {
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    false
}

/// A child process killed when dropped.
#[derive(Debug)]
pub struct Background(pub Child);

impl Drop for Background {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Runs `ecoc` with `args` (and extra environment), returning (success, stdout, stderr).
pub fn ecoc(args: &[&str], env: &[(&str, &str)]) -> (bool, String, String) {
    let mut cmd = Command::new(ecoc_bin());
    cmd.args(args);
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = cmd.output().expect("run ecoc");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// An HTTP answer reduced to what tests look at.
#[derive(Debug)]
pub struct Answer {
    pub status: u16,
    pub body: String,
    /// The answer's headers, names in lowercase.
    pub headers: Vec<(String, String)>,
}

impl Answer {
    /// The first value of header `name` (lowercase).
    pub fn header(&self, name: &str) -> Option<String> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.clone())
    }
}

fn agent() -> ureq::Agent {
    agent_following(10)
}

/// An agent that follows at most `redirects` redirects (0: answers a 3xx as it is).
fn agent_following(redirects: u32) -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .max_redirects(redirects)
        .timeout_global(Some(Duration::from_secs(60)))
        .build()
        .new_agent()
}

fn answer(result: Result<ureq::http::Response<ureq::Body>, ureq::Error>) -> Answer {
    let mut resp = result.expect("HTTP request failed");
    let status = resp.status().as_u16();
    let headers = resp
        .headers()
        .iter()
        .map(|(n, v)| {
            (
                n.as_str().to_owned(),
                v.to_str().unwrap_or_default().to_owned(),
            )
        })
        .collect();
    let body = resp
        .body_mut()
        .with_config()
        .limit(64 * 1024 * 1024)
        .read_to_string()
        .unwrap_or_default();
    Answer {
        status,
        body,
        headers,
    }
}

pub fn get(url: &str) -> Answer {
    answer(agent().get(url).call())
}

pub fn put(url: &str, body: &[u8]) -> Answer {
    answer(agent().put(url).send(body))
}

pub fn post(url: &str, body: &[u8]) -> Answer {
    answer(agent().post(url).send(body))
}

pub fn delete(url: &str) -> Answer {
    answer(agent().delete(url).call())
}

/// Any request, with headers.
pub fn request(method: &str, url: &str, headers: &[(&str, &str)], body: &[u8]) -> Answer {
    try_request(method, url, headers, body).unwrap_or_else(|e| panic!("HTTP request failed: {e}"))
}

/// [`request`], or why no answer came (connection refused or closed, timeout).
pub fn try_request(
    method: &str,
    url: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> Result<Answer, String> {
    let mut builder = ureq::http::Request::builder().method(method).uri(url);
    for (k, v) in headers {
        builder = builder.header(*k, *v);
    }
    let req = builder.body(body.to_vec()).expect("request");
    match agent().run(req) {
        Ok(resp) => Ok(answer(Ok(resp))),
        Err(e) => Err(format!("{method} {url}: {e}")),
    }
}

/// One exchange, as a browser's first request sees it: a redirect is answered as it is (status,
/// `location`), not followed; the answer's headers with it (names lower case).
pub fn exchange(
    method: &str,
    url: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> (Answer, Vec<(String, String)>) {
    run_with_headers(&agent_following(0), method, url, headers, body)
}

/// [`request`], with the answer's headers (names lower case).
pub fn request_with_headers(
    method: &str,
    url: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> (Answer, Vec<(String, String)>) {
    run_with_headers(&agent(), method, url, headers, body)
}

fn run_with_headers(
    agent: &ureq::Agent,
    method: &str,
    url: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> (Answer, Vec<(String, String)>) {
    let mut builder = ureq::http::Request::builder().method(method).uri(url);
    for (k, v) in headers {
        builder = builder.header(*k, *v);
    }
    let req = builder.body(body.to_vec()).expect("request");
    let resp = agent.run(req);
    let seen = resp
        .as_ref()
        .map(|r| {
            r.headers()
                .iter()
                .map(|(k, v)| (k.as_str().to_owned(), v.to_str().unwrap_or("").to_owned()))
                .collect()
        })
        .unwrap_or_default();
    (answer(resp), seen)
}

/// A private `redis-server` on a free loopback port, stopped when dropped.
#[derive(Debug)]
pub struct RedisServer {
    child: Child,
    pub port: u16,
    dir: PathBuf,
    durable: bool,
}

impl RedisServer {
    /// Starts one with its files in `dir`, keeping nothing on disk; `None` when `redis-server` is
    /// not installed (a test then says it is skipped, and fails in CI: see
    /// [`RedisServer::required`]).
    pub fn start(dir: &Path) -> Option<Self> {
        Self::launch(dir, false)
    }

    /// As operators are told to run it for ecoc (README.md): every write in the append-only file
    /// and fsynced before Redis answers (`appendonly yes`, `appendfsync always`), so a restart,
    /// even after SIGKILL, loses nothing it acknowledged.
    pub fn start_durable(dir: &Path) -> Option<Self> {
        Self::launch(dir, true)
    }

    fn launch(dir: &Path, durable: bool) -> Option<Self> {
        let port = free_port();
        let child = Self::spawn(dir, port, durable)?;
        Some(Self {
            child,
            port,
            dir: dir.to_owned(),
            durable,
        })
    }

    /// `redis-server` on `port`, once it accepts connections.
    fn spawn(dir: &Path, port: u16, durable: bool) -> Option<Child> {
        let persistence: &[&str] = if durable {
            &["--appendonly", "yes", "--appendfsync", "always"]
        } else {
            &["--appendonly", "no"]
        };
        let child = Command::new("redis-server")
            .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
            .args(["--save", ""])
            .args(persistence)
            .current_dir(dir)
            .stdout(Stdio::null())
            .spawn()
            .ok()?;
        wait_for_port(port, Duration::from_secs(10)).then_some(child)
    }

    /// Kills the server with SIGKILL, waits `down`, and starts it again on the same port and files.
    pub fn crash_and_restart(&mut self, down: Duration) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        std::thread::sleep(down);
        self.child =
            Self::spawn(&self.dir, self.port, self.durable).expect("redis-server restarts");
    }

    /// [`RedisServer::start`], or `None` after saying the test is skipped; panics in CI.
    pub fn required(dir: &Path) -> Option<Self> {
        Self::or_skip(Self::start(dir))
    }

    /// [`RedisServer::start_durable`], or `None` after saying the test is skipped; panics in CI.
    pub fn required_durable(dir: &Path) -> Option<Self> {
        Self::or_skip(Self::start_durable(dir))
    }

    fn or_skip(server: Option<Self>) -> Option<Self> {
        if server.is_none() {
            assert!(
                std::env::var_os("CI").is_none(),
                "redis-server is required in CI"
            );
            eprintln!("SKIPPED: redis-server is not installed (apt-get install redis-server)");
        }
        server
    }

    /// `redis-cli` against this server, with `args`; its output.
    pub fn cli(&self, args: &[&str]) -> String {
        let out = Command::new("redis-cli")
            .args(["-p", &self.port.to_string()])
            .args(args)
            .output()
            .expect("redis-cli");
        String::from_utf8_lossy(&out.stdout).into_owned()
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A sandbox served by `ecoc sandbox <kind>` as its own process, on a free port.
#[derive(Debug)]
pub struct SandboxProcess {
    pub _child: Background,
    pub base: String,
    pub state_dir: PathBuf,
}

impl SandboxProcess {
    /// Starts `ecoc sandbox <kind> --listen 127.0.0.1:<free> --state-dir <dir> <extra>` and waits
    /// for its port.
    pub fn start(kind: &str, state_dir: &Path, extra: &[&str]) -> Self {
        let port = free_port();
        let listen = format!("127.0.0.1:{port}");
        let log = std::fs::File::create(state_dir.with_extension("log")).expect("sandbox log");
        let child = Command::new(ecoc_bin())
            .args(["sandbox", kind, "--listen", &listen, "--state-dir"])
            .arg(state_dir)
            .args(extra)
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("spawn sandbox");
        let child = Background(child);
        assert!(
            wait_for_port(port, Duration::from_secs(60)),
            "{kind} sandbox did not start"
        );
        Self {
            _child: child,
            base: format!("http://{listen}"),
            state_dir: state_dir.to_owned(),
        }
    }

    /// A JSON file of the sandbox's state folder.
    pub fn state_json(&self, file: &str) -> serde_json::Value {
        let text = std::fs::read_to_string(self.state_dir.join(file)).expect("sandbox state file");
        serde_json::from_str(&text).expect("sandbox state JSON")
    }
}

/// The functions of `spin.toml`, as `functions/<name>` builds them.
pub const FUNCTIONS: [&str; 7] = [
    "map", "validate", "sign", "submit", "notify", "status", "view",
];

/// A file of the demo tenant (`components/pipeline/demo/...`).
pub fn demo(path: &str) -> PathBuf {
    workspace_root().join("components/pipeline/demo").join(path)
}

/// A JSON file of the demo tenant.
pub fn demo_json(path: &str) -> serde_json::Value {
    let text = std::fs::read_to_string(demo(path)).expect("demo file");
    serde_json::from_str(&text).expect("demo JSON")
}

/// An answer's body as JSON (a test failure naming the answer when it is not).
pub fn body(answer: &Answer) -> serde_json::Value {
    serde_json::from_str(&answer.body)
        .unwrap_or_else(|e| panic!("not JSON ({e}): {} {}", answer.status, answer.body))
}

/// Builds the functions once and lays them out as `spin.toml` expects, in a fresh app folder
/// `<root>/app` (SQLite stores in `<root>/state/ecoc.db`).
pub fn app_dir(root: &Path) -> PathBuf {
    static BUILT: OnceLock<Vec<(String, PathBuf)>> = OnceLock::new();
    let built = BUILT.get_or_init(|| {
        FUNCTIONS
            .iter()
            .map(|f| {
                let wasm = build_component(f);
                if *f != "validate" {
                    return (f.to_string(), wasm);
                }
                // As `ecoc build` ships it (spin.toml: tool.ecoc.preinit): schemas compiled into
                // the snapshot, so these tests run the pre-initialised component.
                // Not under ecoc-test-cache: wasmtime's cache cleanup deletes files it did not write.
                let preinit = target_dir().join("ecoc-test-preinit/validate.wasm");
                std::fs::create_dir_all(preinit.parent().expect("a folder")).expect("preinit dir");
                let (ok, out, err) = ecoc(
                    &[
                        "preinit",
                        &wasm.display().to_string(),
                        "-o",
                        &preinit.display().to_string(),
                    ],
                    &[],
                );
                assert!(
                    ok && out.contains("pre-initialised"),
                    "ecoc preinit: {out}{err}"
                );
                (f.to_string(), preinit)
            })
            .collect()
    });
    let app = root.join("app");
    let wasm_dir = app.join("target/wasm32-wasip2/release");
    std::fs::create_dir_all(&wasm_dir).expect("app folder");
    std::fs::copy(workspace_root().join("spin.toml"), app.join("spin.toml")).expect("spin.toml");
    for (name, wasm) in built {
        std::fs::copy(wasm, wasm_dir.join(format!("{name}.wasm"))).expect("copy wasm");
    }
    let config: String = pipeline::kv::STORE_LABELS
        .iter()
        .map(|l| format!("[key_value_store.{l}]\ntype = \"spin\"\npath = \"ecoc.db\"\n"))
        .collect();
    std::fs::write(app.join("runtime-config.toml"), config).expect("runtime config");
    app
}

/// `ecoc up --dev` on a fresh state folder: the app with its sandboxes and the demo tenant, as
/// `make up` gives a user.
#[derive(Debug)]
pub struct DevApp {
    /// The running host.
    pub host: Host,
    /// `--state-dir` (sandbox state under `sandbox/`).
    pub state: PathBuf,
    /// The demo tenant's primary token.
    pub token: String,
    /// Holds the app and state folders.
    pub root: tempfile::TempDir,
}

impl DevApp {
    /// Builds the components, starts `ecoc up --dev` and reads the demo token.
    pub fn start() -> Self {
        let root = tempfile::tempdir().expect("temp dir");
        let app = app_dir(root.path());
        let state = root.path().join("state");
        let cache = target_dir().join("ecoc-test-cache");
        let host = Host::start(
            &app.join("spin.toml"),
            &[
                "--dev",
                "--state-dir",
                &state.display().to_string(),
                "--cache-dir",
                &cache.display().to_string(),
            ],
            &[],
        )
        .unwrap_or_else(|f| panic!("ecoc up --dev did not start:\n{}", f.log));
        let token = std::fs::read_to_string(state.join("demo-token"))
            .expect("demo token")
            .trim()
            .to_owned();
        Self {
            host,
            state,
            token,
            root,
        }
    }

    /// A JSON request with `token` as the bearer.
    pub fn call(&self, token: &str, method: &str, path: &str, value: &serde_json::Value) -> Answer {
        let auth = format!("Bearer {token}");
        request(
            method,
            &self.host.url(path),
            &[
                ("authorization", &auth),
                ("content-type", "application/json"),
            ],
            value.to_string().as_bytes(),
        )
    }

    /// A `GET` with `token` as the bearer.
    pub fn get(&self, token: &str, path: &str) -> Answer {
        let auth = format!("Bearer {token}");
        request(
            "GET",
            &self.host.url(path),
            &[("authorization", &auth)],
            b"",
        )
    }
}

/// Posts the demo's stage 1 of an N2 truck and then its stage 2 that drifted from it (heavier than
/// stage 1 allows) with `post`; asserts the stage 2 is held for a sign-off and returns its record.
/// `vin` replaces the demo's VIN when given (a second held truck in the same tenant).
pub fn held_stage_two(
    post: &dyn Fn(&serde_json::Value) -> Answer,
    vin: Option<&str>,
) -> serde_json::Value {
    let mut stage1 = demo_json("records/n2-stage1.json");
    let mut stage2 = demo_json("records/n2-stage2-drifted.json");
    if let Some(vin) = vin {
        stage1["vin"] = serde_json::json!(vin);
        stage2["vin"] = serde_json::json!(vin);
    }
    let first = post(&stage1);
    assert_eq!(first.status, 202, "{}", first.body);
    let drifted = post(&stage2);
    assert_eq!(drifted.status, 202, "{}", drifted.body);
    let held = body(&drifted);
    assert_eq!(held["status"], "held", "{held:#}");
    assert!(
        held["drift"][0]["code"]
            .as_str()
            .is_some_and(|c| c.starts_with("IVI-DRF")),
        "{held:#}"
    );
    held
}

/// The demo M1 car as VIN `vin` with a type-approval number the tenant does not hold: an upload of
/// it is refused (422, rule `APR-UNKNOWN` at `CocDataGroup/TypeApprovalNumber`) and kept as a
/// rejected record.
pub fn refused_upload(vin: &str) -> serde_json::Value {
    let mut record = demo_json("records/m1.json");
    record["vin"] = serde_json::json!(vin);
    record["approval"]["number"] = serde_json::json!("e4*2018/858*09999*01");
    record
}
