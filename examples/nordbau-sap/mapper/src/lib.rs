//! An example of a tenant's own mapper component (see `docs/mapping.md`, "Mapper components").
//!
//! Nordbau's SAP system posts one sales-order item per vehicle, its data a list of variant
//! configuration characteristics. This component turns one item into the record shape of ecoc's
//! demo mapping (`components/pipeline/demo/mapping.json`), so the tenant stores that mapping
//! unchanged. It has no key-value store and no outbound host (its `spin.toml` entry says so):
//! it sees the payload and nothing else.
//!
//! `POST /map` with the SAP item -> `200 application/json` (the mapping input), or `422 text/plain`
//! naming the characteristic that is missing or wrong.

#![allow(
    unsafe_code,
    reason = "the #[http_component] macro generates the unsafe export glue"
)]

pub mod sap;

use spin_sdk::http::{Request, Response};
use spin_sdk::http_component;

#[http_component]
fn handle(req: Request) -> Response {
    let answer = serde_json::from_slice(req.body())
        .map_err(|e| format!("the SAP item is not JSON: {e}"))
        .and_then(|item| sap::to_record(&item));
    match answer {
        Ok(record) => Response::builder()
            .status(200)
            .header("content-type", "application/json")
            .body(record.to_string())
            .build(),
        Err(reason) => Response::builder()
            .status(422)
            .header("content-type", "text/plain; charset=utf-8")
            .body(reason)
            .build(),
    }
}
