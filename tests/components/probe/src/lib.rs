//! Probe: a real Spin component (spin-sdk 5.2) that the host tests drive over HTTP.
//!
//! Paths are relative to the component's route (`spin-path-info`), so the same `.wasm` can
//! sit behind several components of one manifest:
//!
//! | request | answer |
//! |---|---|
//! | `GET /hello` | `hello` |
//! | `GET /headers` | the `spin-*` request headers, one `name: value` per line |
//! | `POST /echo` | the body, unchanged |
//! | `GET /var?name=N` | the variable's value; 404 undefined, 400 invalid name |
//! | `GET/PUT/DELETE /kv?label=L&key=K` | read, write (body) or delete a key |
//! | `GET /kv-keys?label=L` | the store's keys, one per line |
//! | `GET /kv-bench` | writes then reads one key of the default store |
//! | `POST /timer` | stores the body under `timer-fired` in the default store |
//! | `GET /fetch?url=U` | an outbound GET: `status NNN` and the body, or 502 with the error |
//! | `GET /trap` | panics (a trap) |
//! | `GET /spin` | loops forever (the host's timeout must end it) |

#![allow(
    unsafe_code,
    reason = "the #[http_component] macro generates the unsafe export glue"
)]

use spin_sdk::http::{IntoResponse, Method, Request, Response};
use spin_sdk::http_component;
use spin_sdk::key_value::Store;

#[http_component]
async fn handle(req: Request) -> anyhow::Result<impl IntoResponse> {
    let path = header(&req, "spin-path-info");
    let query = req.query().to_string();
    let param = |name: &str| query_param(&query, name);
    Ok(match (req.method(), path.as_str()) {
        (Method::Get, "/hello") => text(200, "hello"),
        (Method::Get, "" | "/headers") => {
            let mut lines: Vec<String> = req
                .headers()
                .filter(|(name, _)| name.starts_with("spin-"))
                .map(|(name, value)| format!("{name}: {}", value.as_str().unwrap_or_default()))
                .collect();
            lines.sort();
            text(200, &lines.join("\n"))
        }
        (Method::Post, "/echo") => Response::builder()
            .status(200)
            .body(req.body().to_vec())
            .build(),
        (Method::Get, "/var") => match spin_sdk::variables::get(&param("name")) {
            Ok(v) => text(200, &v),
            Err(spin_sdk::variables::Error::Undefined(m)) => text(404, &format!("undefined: {m}")),
            Err(spin_sdk::variables::Error::InvalidName(m)) => {
                text(400, &format!("invalid name: {m}"))
            }
            Err(e) => text(500, &format!("error: {e}")),
        },
        (method, "/kv") => kv(method, &param("label"), &param("key"), req.body()),
        (Method::Get, "/kv-keys") => {
            match Store::open(&param("label")).and_then(|s| s.get_keys()) {
                Ok(keys) => text(200, &keys.join("\n")),
                Err(e) => text(500, &format!("{e:?}")),
            }
        }
        (Method::Post, "/timer") => {
            Store::open_default()?.set("timer-fired", req.body())?;
            text(200, "ok")
        }
        (Method::Get, "/kv-bench") => {
            let store = Store::open_default()?;
            store.set("bench", b"value")?;
            let v = store.get("bench")?.unwrap_or_default();
            text(200, &String::from_utf8_lossy(&v))
        }
        (Method::Get, "/fetch") => {
            let outbound = Request::get(param("url")).build();
            match spin_sdk::http::send::<_, Response>(outbound).await {
                Ok(resp) => text(
                    200,
                    &format!(
                        "status {}\n{}",
                        resp.status(),
                        String::from_utf8_lossy(resp.body())
                    ),
                ),
                Err(e) => text(502, &format!("outbound error: {e}")),
            }
        }
        (Method::Get, "/trap") => panic!("probe asked to trap"),
        (Method::Get, "/spin") => {
            let mut n: u64 = 0;
            loop {
                n = std::hint::black_box(n.wrapping_add(1));
            }
        }
        _ => text(404, &format!("probe has no {path}")),
    })
}

fn kv(method: &Method, label: &str, key: &str, body: &[u8]) -> Response {
    let store = match Store::open(label) {
        Ok(s) => s,
        Err(e) => return text(403, &format!("open {label}: {e:?}")),
    };
    let result = match method {
        Method::Get => match store.get(key) {
            Ok(Some(v)) => return Response::builder().status(200).body(v).build(),
            Ok(None) => return text(404, "no such key"),
            Err(e) => Err(e),
        },
        Method::Put => store.set(key, body),
        Method::Delete => store.delete(key),
        _ => return text(405, "method not allowed"),
    };
    match result {
        Ok(()) => text(200, "ok"),
        Err(e) => text(500, &format!("{e:?}")),
    }
}

fn header(req: &Request, name: &str) -> String {
    req.header(name)
        .and_then(|v| v.as_str())
        .unwrap_or_default()
        .to_string()
}

fn query_param(query: &str, name: &str) -> String {
    query
        .split('&')
        .filter_map(|pair| pair.split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| percent_decode(v))
        .unwrap_or_default()
}

fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' if i + 2 < bytes.len() => {
                let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).unwrap_or("");
                match u8::from_str_radix(hex, 16) {
                    Ok(b) => {
                        out.push(b);
                        i += 3;
                        continue;
                    }
                    Err(_) => out.push(b'%'),
                }
            }
            b'+' => out.push(b' '),
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn text(status: u16, body: &str) -> Response {
    Response::builder()
        .status(status)
        .header("content-type", "text/plain")
        .body(body.to_string())
        .build()
}
