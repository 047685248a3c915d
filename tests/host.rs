//! The embedded host, driven as a user drives it: `ecoc up` as a process, a real Spin
//! component (tests/components/probe, spin-sdk 5.2) and real HTTP.

#![allow(
    clippy::unwrap_used,
    reason = "test code: a failed unwrap is a failed test"
)]

use std::io::{Read, Write};
use std::net::TcpListener;
use std::path::PathBuf;
use std::process::Command;

use ecoc_tests::{AppDir, Host, RedisServer, build_component, delete, get, post, put, target_dir};

fn probe() -> PathBuf {
    static PROBE: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
    PROBE.get_or_init(|| build_component("probe")).clone()
}

fn app() -> AppDir {
    AppDir::new("host", &[("probe.wasm", probe())])
}

/// Runtime config where the `shared` label is a second SQLite file.
const SQLITE_ONLY: &str = "[key_value_store.shared]\ntype = \"spin\"\npath = \"shared.db\"\n";

fn cache_dir() -> String {
    target_dir().join("ecoc-test-cache").display().to_string()
}

fn start(app: &AppDir, extra: &[&str], env: &[(&str, &str)]) -> Host {
    app.write_runtime_config(SQLITE_ONLY);
    let state = app.path().join(".spin").display().to_string();
    let cache = cache_dir();
    let mut args = vec!["--state-dir", &state, "--cache-dir", &cache];
    args.extend_from_slice(extra);
    let mut env = env.to_vec();
    if !env.iter().any(|(k, _)| *k == "SPIN_VARIABLE_WHO") {
        env.push(("SPIN_VARIABLE_WHO", "ERP"));
    }
    Host::start(&app.manifest(), &args, &env)
        .unwrap_or_else(|f| panic!("host did not start:\n{}", f.log))
}

fn header_line<'a>(body: &'a str, name: &str) -> Option<&'a str> {
    body.lines()
        .find_map(|l| l.strip_prefix(&format!("{name}: ")))
}

#[test]
fn routes_headers_and_private_components() {
    let app = app();
    let host = start(&app, &[], &[]);

    assert_eq!(get(&host.url("/front/hello")).body, "hello");

    let h = get(&host.url("/front/headers?x=1")).body;
    assert_eq!(header_line(&h, "spin-component-route"), Some("/front"));
    assert_eq!(
        header_line(&h, "spin-raw-component-route"),
        Some("/front/...")
    );
    assert_eq!(header_line(&h, "spin-matched-route"), Some("/front/..."));
    assert_eq!(header_line(&h, "spin-path-info"), Some("/headers"));
    assert_eq!(header_line(&h, "spin-base-path"), Some("/"));
    assert_eq!(
        header_line(&h, "spin-full-url"),
        Some(format!("{}/front/headers?x=1", host.base).as_str())
    );
    assert!(header_line(&h, "spin-client-addr").is_some_and(|a| a.starts_with("127.0.0.1:")));

    // The exact route beats the wildcard that also covers it.
    let h = get(&host.url("/front/exact")).body;
    assert_eq!(
        header_line(&h, "spin-component-route"),
        Some("/front/exact")
    );
    assert_eq!(header_line(&h, "spin-path-info"), Some(""));

    // `:name` segments become spin-path-match-<name>.
    let h = get(&host.url("/items/42/headers")).body;
    assert_eq!(header_line(&h, "spin-path-match-id"), Some("42"));
    assert_eq!(header_line(&h, "spin-path-info"), Some("/headers"));

    // No route, and the private component has none.
    assert_eq!(get(&host.url("/nothing")).status, 404);
    assert_eq!(get(&host.url("/inner/hello")).status, 404);
    assert_eq!(get(&host.url("/.well-known/spin/health")).status, 200);
    assert!(host.stop(), "host should exit cleanly on SIGTERM");
}

#[test]
fn service_chaining_runs_in_process_and_outbound_is_enforced() {
    // A real upstream on loopback, reached through a templated allowed host.
    let upstream = TcpListener::bind("127.0.0.1:0").unwrap();
    let upstream_addr = upstream.local_addr().unwrap().to_string();
    std::thread::spawn(move || {
        for stream in upstream.incoming().flatten().take(4) {
            let mut stream = stream;
            let mut buf = [0u8; 4096];
            let _ = stream.read(&mut buf);
            let _ = stream.write_all(
                b"HTTP/1.1 200 OK\r\ncontent-length: 8\r\nconnection: close\r\n\r\nupstream",
            );
        }
    });
    let app = app();
    let host = start(&app, &[], &[("SPIN_VARIABLE_SANDBOX_HOST", &upstream_addr)]);

    let chained = get(&host.url("/front/fetch?url=http://inner.spin.internal/hello"));
    assert_eq!(chained.status, 200, "{}", chained.body);
    assert_eq!(chained.body, "status 200\nhello");
    // The private component sees Spin's synthetic route for a chained request.
    let h = get(&host.url("/front/fetch?url=http://inner.spin.internal/headers")).body;
    assert_eq!(header_line(&h, "spin-matched-route"), Some("/..."));
    assert_eq!(header_line(&h, "spin-path-info"), Some("/headers"));

    let allowed = get(&host.url(&format!("/front/fetch?url=http://{upstream_addr}/")));
    assert_eq!(allowed.body, "status 200\nupstream");

    // Not in front's list: another port, another host.
    let denied = get(&host.url("/front/fetch?url=http://127.0.0.1:1/"));
    assert_eq!(denied.status, 502);
    assert!(denied.body.contains("HttpRequestDenied"), "{}", denied.body);
    // `locked` may call nothing, not even another component.
    let denied = get(&host.url("/locked/fetch?url=http://inner.spin.internal/hello"));
    assert_eq!(denied.status, 502);
    assert!(denied.body.contains("HttpRequestDenied"), "{}", denied.body);
    let log = host.log_text();
    assert!(
        log.lines().any(|l| l.contains("denied")
            && l.contains("locked")
            && l.contains("inner.spin.internal")),
        "the host must log which component tried which host:\n{log}"
    );
}

#[test]
fn variables_from_defaults_templates_and_environment() {
    let app = app();
    let host = start(&app, &[], &[("SPIN_VARIABLE_GREETING", "Hi")]);
    assert_eq!(get(&host.url("/front/var?name=message")).body, "Hi, ERP!");
    assert_eq!(
        get(&host.url("/front/var?name=token")).body,
        "not-a-real-token"
    );
    assert_eq!(
        get(&host.url("/front/fetch?url=http://inner.spin.internal/var%3Fname%3Dmessage")).body,
        "status 200\ninner"
    );
    assert_eq!(get(&host.url("/front/var?name=nope")).status, 404);
    assert_eq!(get(&host.url("/front/var?name=Bad-Name")).status, 400);
    assert_eq!(
        get(&host.url("/exact/var?name=message")).status,
        404,
        "no route"
    );
    assert!(
        !host.log_text().contains("not-a-real-token"),
        "a secret reached the log"
    );
}

#[test]
fn missing_required_variable_stops_start_with_its_name() {
    let app = app();
    app.write_runtime_config(SQLITE_ONLY);
    let state = app.path().join(".spin").display().to_string();
    let failure = Host::start(
        &app.manifest(),
        &["--state-dir", &state, "--cache-dir", &cache_dir()],
        &[],
    )
    .expect_err("the host must refuse to start");
    assert!(failure.log.contains("`who`"), "{}", failure.log);
    assert!(failure.log.contains("SPIN_VARIABLE_WHO"), "{}", failure.log);
}

#[test]
fn key_value_persists_across_restart_in_spins_sqlite_layout() {
    let app = app();
    let host = start(&app, &[], &[]);
    assert_eq!(
        put(&host.url("/front/kv?label=default&key=vin-1"), b"stage-1").body,
        "ok"
    );
    assert_eq!(
        put(&host.url("/front/kv?label=default&key=vin-2"), b"gone").body,
        "ok"
    );
    assert_eq!(
        delete(&host.url("/front/kv?label=default&key=vin-2")).body,
        "ok"
    );
    assert_eq!(
        put(&host.url("/front/kv?label=shared&key=other"), b"x").body,
        "ok"
    );
    // Same label, another component: same data.
    let via_inner =
        get(&host
            .url("/front/fetch?url=http://inner.spin.internal/kv%3Flabel%3Ddefault%26key%3Dvin-1"));
    assert_eq!(via_inner.body, "status 200\nstage-1");
    // A label the component did not declare is refused.
    let refused = get(&host.url("/locked/kv?label=default&key=vin-1"));
    assert_eq!(refused.status, 403);
    assert!(refused.body.contains("AccessDenied"), "{}", refused.body);
    assert!(host.stop());

    let host = start(&app, &[], &[]);
    assert_eq!(
        get(&host.url("/front/kv?label=default&key=vin-1")).body,
        "stage-1"
    );
    assert_eq!(
        get(&host.url("/front/kv?label=default&key=vin-2")).status,
        404
    );
    assert_eq!(get(&host.url("/front/kv-keys?label=default")).body, "vin-1");
    drop(host);

    // Read the file with Python's sqlite3: Spin's table, Spin's columns.
    let db = app.path().join(".spin").join("sqlite_key_value.db");
    let out = Command::new("python3")
        .arg("-c")
        .arg("import sqlite3,sys; c=sqlite3.connect(sys.argv[1]); print(c.execute(\"select store, key, value from spin_key_value order by key\").fetchall())")
        .arg(&db)
        .output()
        .expect("python3");
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        "[('default', 'vin-1', b'stage-1')]"
    );
}

#[test]
fn a_component_is_refused_a_store_it_did_not_declare() {
    let app = app();
    let host = start(&app, &[], &[]);
    // `shared` is configured and `front` declares it: the store exists and holds a key.
    assert_eq!(
        put(&host.url("/front/kv?label=shared&key=vin-1"), b"front's").body,
        "ok"
    );
    // `default-only` declares only `default`: Spin's `access-denied`, not `no-such-store`, for
    // the store another component uses and for a label nobody declares.
    for label in ["shared", "nowhere"] {
        let refused = get(&host.url(&format!("/default-only/kv?label={label}&key=vin-1")));
        assert_eq!(refused.status, 403, "{label}: {}", refused.body);
        assert!(
            refused.body.contains(&format!("open {label}: "))
                && refused.body.contains("AccessDenied"),
            "{label}: {}",
            refused.body
        );
    }
    let listed = get(&host.url("/default-only/kv-keys?label=shared"));
    assert_eq!(listed.status, 500, "{}", listed.body);
    assert!(listed.body.contains("AccessDenied"), "{}", listed.body);
    // The store it declares works.
    assert_eq!(
        put(
            &host.url("/default-only/kv?label=default&key=vin-2"),
            b"mine"
        )
        .body,
        "ok"
    );
    assert_eq!(
        get(&host.url("/default-only/kv?label=default&key=vin-2")).body,
        "mine"
    );
    let log = host.log_text();
    assert!(
        log.lines().any(|l| l.contains("access denied")
            && l.contains("default-only")
            && l.contains("shared")),
        "the host must log which component was refused which store:\n{log}"
    );
}

/// Two hosts on one SQLite file would each sweep, claim and seed a store the other changes under
/// it: the second `ecoc up` is refused at start, naming the file; once the first is gone (killed,
/// even) the file is free again.
#[test]
fn a_second_host_on_the_same_sqlite_file_is_refused() {
    let app = app();
    let first = start(&app, &[], &[]);
    app.write_runtime_config(SQLITE_ONLY);
    let state = app.path().join(".spin").display().to_string();
    let cache = cache_dir();
    let args = ["--state-dir", state.as_str(), "--cache-dir", cache.as_str()];
    let env = [("SPIN_VARIABLE_WHO", "ERP")];
    let Err(refused) = Host::start(&app.manifest(), &args, &env) else {
        panic!("a second ecoc up served the same SQLite file");
    };
    assert!(
        refused.log.contains("is in use by another ecoc up") && refused.log.contains(".db"),
        "the refusal names the file:\n{}",
        refused.log
    );
    first.kill();
    let again = Host::start(&app.manifest(), &args, &env).unwrap_or_else(|f| panic!("{}", f.log));
    drop(again);
}

/// Issue 17 item 5: `ecoc up --state-dir X` keeps every store under `X`, the runtime config's
/// relative paths included, so two hosts started from one app folder with different state folders
/// each have their own stores (and neither is refused for the other's).
#[test]
fn each_state_dir_keeps_its_own_stores() {
    let app = app();
    app.write_runtime_config(SQLITE_ONLY);
    let cache = cache_dir();
    let env = [("SPIN_VARIABLE_WHO", "ERP")];
    let [a, b] = ["a", "b"].map(|name| app.path().join("state").join(name));
    let start_in = |state: &PathBuf| {
        let state = state.display().to_string();
        let args = ["--state-dir", state.as_str(), "--cache-dir", cache.as_str()];
        Host::start(&app.manifest(), &args, &env).unwrap_or_else(|f| panic!("{}", f.log))
    };
    let (first, second) = (start_in(&a), start_in(&b));
    for (host, value) in [(&first, "first's"), (&second, "second's")] {
        let url = host.url("/front/kv?label=shared&key=vin-1");
        assert_eq!(put(&url, value.as_bytes()).body, "ok");
    }
    for (host, value) in [(&first, "first's"), (&second, "second's")] {
        assert_eq!(
            get(&host.url("/front/kv?label=shared&key=vin-1")).body,
            value
        );
    }
    for state in [&a, &b] {
        for file in ["shared.db", "sqlite_key_value.db"] {
            assert!(
                state.join(file).exists(),
                "{} is missing",
                state.join(file).display()
            );
        }
    }
    assert!(
        !app.path().join("shared.db").exists() && !app.path().join(".spin").exists(),
        "a store outside the state folders"
    );
}

/// Two labels on one Redis database would list and delete each other's keys: `ecoc up` refuses the
/// configuration before it serves, naming both labels (no Redis server is needed to be refused).
#[test]
fn two_labels_on_one_redis_database_are_refused_at_start() {
    let app = app();
    app.write_runtime_config(
        "[key_value_store.shared]\ntype = \"redis\"\nurl = \"redis://127.0.0.1:6379\"\n\
         [key_value_store.default]\ntype = \"redis\"\nurl = \"redis://127.0.0.1:6379/0\"\n",
    );
    let state = app.path().join(".spin").display().to_string();
    let cache = cache_dir();
    let args = ["--state-dir", state.as_str(), "--cache-dir", cache.as_str()];
    let Err(refused) = Host::start(&app.manifest(), &args, &[]) else {
        panic!("ecoc up served with two labels on one Redis database");
    };
    assert!(
        refused.log.contains("`default`") && refused.log.contains("`shared`"),
        "the refusal names both labels:\n{}",
        refused.log
    );
}

#[test]
fn key_value_on_a_real_redis_server() {
    let app = app();
    let Some(redis) = RedisServer::required(app.path()) else {
        return;
    };
    let port = redis.port;
    let state = app.path().join(".spin").display().to_string();
    app.write_runtime_config(&format!(
        "[key_value_store.shared]\ntype = \"redis\"\nurl = \"redis://127.0.0.1:{port}\"\n"
    ));
    let cache = cache_dir();
    let args = ["--state-dir", state.as_str(), "--cache-dir", cache.as_str()];
    let env = [("SPIN_VARIABLE_WHO", "ERP")];
    let host = Host::start(&app.manifest(), &args, &env).unwrap_or_else(|f| panic!("{}", f.log));
    assert_eq!(
        put(&host.url("/front/kv?label=shared&key=eu:vin"), b"signed").body,
        "ok"
    );
    assert_eq!(
        get(&host.url("/front/kv?label=shared&key=eu:vin")).body,
        "signed"
    );
    assert!(host.stop());
    // The value is in Redis itself, under the key as given.
    assert_eq!(redis.cli(&["GET", "eu:vin"]).trim(), "signed");
    let host = Host::start(&app.manifest(), &args, &env).unwrap_or_else(|f| panic!("{}", f.log));
    assert_eq!(
        get(&host.url("/front/kv?label=shared&key=eu:vin")).body,
        "signed"
    );
    drop(host);
}

#[test]
fn a_trap_is_a_500_and_the_host_keeps_serving() {
    let app = app();
    let host = start(&app, &[], &[]);
    let trapped = get(&host.url("/front/trap"));
    assert_eq!(trapped.status, 500);
    assert!(trapped.body.contains("`front`"), "{}", trapped.body);
    assert!(
        !trapped.body.contains("panicked"),
        "no internal detail in the body"
    );
    assert_eq!(get(&host.url("/front/hello")).body, "hello");
}

#[test]
fn a_component_that_never_answers_gets_504() {
    let app = app();
    let host = start(&app, &["--request-timeout", "1s"], &[]);
    let started = std::time::Instant::now();
    let slow = get(&host.url("/front/spin"));
    assert_eq!(slow.status, 504, "{}", slow.body);
    assert!(started.elapsed() < std::time::Duration::from_secs(20));
    assert_eq!(get(&host.url("/front/hello")).body, "hello");
}

/// With every instance slot taken, a request is refused 503 `busy` with `Retry-After`, in the
/// pipeline's error shape, instead of a 500; once the slot is free the host serves again.
#[test]
fn a_request_beyond_the_instance_limit_gets_503_busy() {
    let app = app();
    let host = start(
        &app,
        &["--max-instances", "1", "--request-timeout", "3s"],
        &[],
    );
    let spinning_url = host.url("/front/spin");
    let spinning = std::thread::spawn(move || get(&spinning_url));
    std::thread::sleep(std::time::Duration::from_millis(1000));
    let refused = get(&host.url("/front/hello"));
    assert_eq!(refused.status, 503, "{}", refused.body);
    assert_eq!(refused.header("retry-after").as_deref(), Some("1"));
    let body: serde_json::Value = serde_json::from_str(&refused.body).unwrap();
    assert_eq!(body["error"], "busy", "{body}");
    assert!(
        body["message"].as_str().unwrap().contains("`front`"),
        "{body}"
    );
    assert_eq!(spinning.join().unwrap().status, 504);
    // The slot comes back once the timed-out instance is torn down (its next epoch check).
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    let served = loop {
        let answer = get(&host.url("/front/hello"));
        if answer.status != 503 || std::time::Instant::now() > deadline {
            break answer;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    };
    assert_eq!(served.body, "hello");
}

#[test]
fn oversized_bodies_get_413() {
    let app = app();
    let host = start(&app, &["--max-body-bytes", "1024"], &[]);
    let small = vec![b'a'; 1000];
    let echoed = post(&host.url("/front/echo"), &small);
    assert_eq!(echoed.status, 200);
    assert_eq!(echoed.body.len(), 1000);
    let big = vec![b'a'; 4000];
    let refused = post(&host.url("/front/echo"), &big);
    assert_eq!(refused.status, 413);
    assert!(refused.body.contains("1024"), "{}", refused.body);
    // A client that writes its whole body before it reads (as most do) still gets the reason:
    // the host reads and drops the rest instead of closing on unread bytes, whose reset would
    // destroy the 413 on its way.
    let addr = host.base.trim_start_matches("http://").to_string();
    let huge = vec![b'a'; 8 * 1024 * 1024];
    for attempt in 0..5 {
        let mut stream = std::net::TcpStream::connect(&addr).unwrap();
        let head = format!(
            "POST /front/echo HTTP/1.1\r\nhost: {addr}\r\ncontent-length: {}\r\n\r\n",
            huge.len()
        );
        stream.write_all(head.as_bytes()).unwrap();
        stream
            .write_all(&huge)
            .unwrap_or_else(|e| panic!("attempt {attempt}: the host broke off the upload: {e}"));
        let mut answer = String::new();
        stream.read_to_string(&mut answer).unwrap();
        assert!(
            answer.starts_with("HTTP/1.1 413"),
            "attempt {attempt}: {answer}"
        );
        assert!(answer.contains("1024"), "attempt {attempt}: {answer}");
    }
    // A client that asks first (`expect: 100-continue`) is told at once, before it sends a byte.
    let mut stream = std::net::TcpStream::connect(&addr).unwrap();
    let head = format!(
        "POST /front/echo HTTP/1.1\r\nhost: {addr}\r\nexpect: 100-continue\r\ncontent-length: {}\r\n\r\n",
        huge.len()
    );
    stream.write_all(head.as_bytes()).unwrap();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).unwrap();
    assert!(answer.starts_with("HTTP/1.1 413"), "{answer}");
    assert_eq!(get(&host.url("/front/hello")).body, "hello");
}

#[test]
fn a_daily_timer_calls_its_component() {
    let app = app();
    // A first start fills the compile cache, so the timed start below is quick.
    assert!(start(&app, &[], &[]).stop());
    // Five seconds from now (start-up included), UTC, as the manifest's time of day.
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
        + 5;
    let at = format!(
        "{:02}:{:02}:{:02}",
        now % 86_400 / 3600,
        now % 3600 / 60,
        now % 60
    );
    let mut manifest = std::fs::read_to_string(app.manifest()).unwrap();
    manifest.push_str(&format!(
        "\n[[application.tool.ecoc.timers]]\ncomponent = \"inner\"\npath = \"/timer\"\nat = \"{at}\"\n"
    ));
    std::fs::write(app.manifest(), manifest).unwrap();
    let host = start(&app, &[], &[]);
    let mut fired = None;
    for _ in 0..200 {
        let r = get(&host.url("/front/kv?label=default&key=timer-fired"));
        if r.status == 200 {
            fired = Some(r.body);
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    let fired = fired.expect("the timer did not call the private component within 20 s");
    assert!(fired.contains("\"timer\":\"inner/timer\""), "{fired}");
    assert!(fired.contains(&format!("T{at}Z")), "{fired}");
}

#[test]
fn compiled_components_are_cached_under_a_relative_state_dir() {
    let app = app();
    app.write_runtime_config(SQLITE_ONLY);
    // As a user runs it: `--state-dir .spin` relative to the working folder (the app's).
    let host = Host::start(
        &app.manifest(),
        &["--state-dir", ".spin"],
        &[("SPIN_VARIABLE_WHO", "ERP")],
    )
    .unwrap_or_else(|f| panic!("{}", f.log));
    assert_eq!(get(&host.url("/front/hello")).body, "hello");
    assert!(
        !host.log_text().contains("compile cache disabled"),
        "{}",
        host.log_text()
    );
    assert!(host.stop());
    let cache = app.path().join(".spin").join("cache");
    let entries = walk_files(&cache);
    assert!(entries > 0, "nothing cached in {}", cache.display());
}

fn walk_files(dir: &std::path::Path) -> usize {
    std::fs::read_dir(dir)
        .map(|rd| {
            rd.flatten()
                .map(|e| {
                    if e.path().is_dir() {
                        walk_files(&e.path())
                    } else {
                        1
                    }
                })
                .sum()
        })
        .unwrap_or(0)
}
