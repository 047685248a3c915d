//! `status`: the public read side of ecoc. For now it answers `GET /v1/health` with the
//! app's state; submission queries arrive with the pipeline.

#![allow(
    unsafe_code,
    reason = "the #[http_component] macro generates the unsafe export glue"
)]

use spin_sdk::http::{IntoResponse, Method, Request, Response};
use spin_sdk::http_component;

#[http_component]
fn handle(req: Request) -> anyhow::Result<impl IntoResponse> {
    let path = req
        .header("spin-path-info")
        .and_then(|v| v.as_str())
        .unwrap_or_default()
        .to_string();
    Ok(match (req.method(), path.as_str()) {
        (Method::Get, "/health") => {
            let store_ok = spin_sdk::key_value::Store::open_default()
                .and_then(|s| s.exists("health-probe"))
                .is_ok();
            let body =
                format!("{{\"status\":\"ok\",\"service\":\"ecoc\",\"key_value\":{store_ok}}}");
            Response::builder()
                .status(200)
                .header("content-type", "application/json")
                .body(body)
                .build()
        }
        _ => Response::builder()
            .status(404)
            .header("content-type", "application/json")
            .body(format!(
                "{{\"error\":\"not_found\",\"message\":\"no resource at {path}\"}}"
            ))
            .build(),
    })
}
