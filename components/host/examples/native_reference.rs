//! The benchmark's reference: a plain native hyper server answering the same requests as the
//! probe component behind `ecoc up` — `GET /front/hello` and `GET /front/kv-bench` (one `set`,
//! made durable as the host does before it answers, then a `get`, on the same SQLite backend the
//! host uses) — with no wasm.
//!
//! `cargo run --release -p ecoc-host --example native_reference -- 127.0.0.1:0 STATE_DIR`
//! prints `listening on http://ADDR` and serves until killed.

use std::sync::Arc;

use bytes::Bytes;
use ecoc_host::kv::{Backend, SqliteBackend};
use http_body_util::Full;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::{TokioExecutor, TokioIo};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let addr = args.next().unwrap_or_else(|| "127.0.0.1:0".into());
    let state = args.next().unwrap_or_else(|| ".bench-native".into());
    let db = SqliteBackend::open(&std::path::Path::new(&state).join("native.db"))?;
    let kv = Arc::new(Backend::Sqlite(db));
    let listener = tokio::net::TcpListener::bind(&addr).await?;
    println!("listening on http://{}", listener.local_addr()?);
    loop {
        let (stream, _) = listener.accept().await?;
        let _ = stream.set_nodelay(true);
        let kv = kv.clone();
        tokio::spawn(async move {
            let service = hyper::service::service_fn(move |req: Request<hyper::body::Incoming>| {
                let kv = kv.clone();
                async move { Ok::<_, std::convert::Infallible>(answer(&kv, req.uri().path()).await) }
            });
            let _ = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new())
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
    }
}

async fn answer(kv: &Backend, path: &str) -> Response<Full<Bytes>> {
    let body = match path {
        "/front/hello" => Ok(Bytes::from_static(b"hello")),
        "/front/kv-bench" => match kv
            .set("default", "bench", b"value".to_vec())
            .await
            .and(kv.make_durable().await)
        {
            Ok(()) => kv
                .get("default", "bench")
                .await
                .map(|v| Bytes::from(v.unwrap_or_default()))
                .map_err(|e| e.to_string()),
            Err(e) => Err(e.to_string()),
        },
        _ => Err("not found".into()),
    };
    match body {
        Ok(b) => Response::new(Full::new(b)),
        Err(e) => {
            let mut r = Response::new(Full::new(Bytes::from(e)));
            *r.status_mut() = StatusCode::NOT_FOUND;
            r
        }
    }
}
