//! `map` (public, the write side of `/v1`):
//!
//! | route | role | what |
//! |---|---|---|
//! | `POST /v1/vehicles` | upload | one ERP record (JSON) -> mapping -> `validate`; 202 with the record, or 422/409 |
//! | `POST /v1/ivi` | upload | one ready IVI file (`application/xml`, < 1 MB) -> `validate` |
//! | `POST /v1/batches` | upload | CSV, one vehicle per row; answers one JSON line per row, then a summary |
//! | `GET/PUT /v1/tenant` | view/primary | the tenant's settings |
//! | `GET/PUT /v1/tenant/mapping`, `POST /v1/tenant/mapping:preview` | view/primary, upload | the ERP mapping |
//! | `GET/PUT /v1/tenant/approvals` | view/primary | type-approval records |
//! | `GET/POST /v1/tenant/tokens`, `DELETE /v1/tenant/tokens/{name}` | primary | API tokens |
//! | `GET /v1/tenant/secrets`, `PUT/DELETE /v1/tenant/secrets/{name}` | primary | the signer's and accounts' secrets, sealed (`sealing_keys`); never answered back |
//! | `POST /v1/admin/tenants`, `/v1/admin/digest`, `/v1/admin/sweep` | `admin_token` | a new tenant and its first primary token; the timers' calls |
//! | `POST /v1/admin/reseal` | `admin_token` | every stored secret sealed again under the first sealing key (rotation) |
//!
//! Accepted files go on at once (`sign` -> `submit`) after the ERP has its answer.

#![allow(
    unsafe_code,
    reason = "the #[http_component] macro generates the unsafe export glue"
)]

mod admin;
mod batch;
mod settings;
mod upload;

use pipeline::calls::{RecordIds, Sign};
use pipeline::tenant;
use pipeline::{Result, clock};
use spin_glue::{Params, Reply, Route, SpinStores, header, reply, route};
use spin_sdk::http::{Request, ResponseOutparam};
use spin_sdk::http_component;

/// The routes of `map`.
#[derive(Debug, Clone, Copy)]
enum To {
    Vehicle,
    Ivi,
    Batch,
    Tenant,
    PutTenant,
    Mapping,
    PutMapping,
    Preview,
    Approvals,
    PutApprovals,
    Tokens,
    NewToken,
    RevokeToken,
    Secrets,
    PutSecret,
    DeleteSecret,
    Admin(admin::To),
}

const ROUTES: &[Route<To>] = &[
    route("POST", "/v1/vehicles", To::Vehicle),
    route("POST", "/v1/ivi", To::Ivi),
    route("POST", "/v1/batches", To::Batch),
    route("GET", "/v1/tenant", To::Tenant),
    route("PUT", "/v1/tenant", To::PutTenant),
    route("GET", "/v1/tenant/mapping", To::Mapping),
    route("PUT", "/v1/tenant/mapping", To::PutMapping),
    route("POST", "/v1/tenant/mapping:preview", To::Preview),
    route("GET", "/v1/tenant/approvals", To::Approvals),
    route("PUT", "/v1/tenant/approvals", To::PutApprovals),
    route("GET", "/v1/tenant/tokens", To::Tokens),
    route("POST", "/v1/tenant/tokens", To::NewToken),
    route("DELETE", "/v1/tenant/tokens/{name}", To::RevokeToken),
    route("GET", "/v1/tenant/secrets", To::Secrets),
    route("PUT", "/v1/tenant/secrets/{name}", To::PutSecret),
    route("DELETE", "/v1/tenant/secrets/{name}", To::DeleteSecret),
    route(
        "POST",
        "/v1/admin/tenants",
        To::Admin(admin::To::CreateTenant),
    ),
    route("POST", "/v1/admin/digest", To::Admin(admin::To::Digest)),
    route("POST", "/v1/admin/sweep", To::Admin(admin::To::Sweep)),
    route("POST", "/v1/admin/reseal", To::Admin(admin::To::Reseal)),
];

#[http_component]
fn handle(req: Request, out: ResponseOutparam) {
    let stores = spin_glue::stores();
    let routed = spin_glue::find_route(ROUTES, &req);
    if let Ok((To::Batch, _)) = routed {
        return batch::batch(&req, &stores, out);
    }
    let mut follow_up = None;
    let result = routed.and_then(|(to, params)| answer(to, &params, &req, &stores, &mut follow_up));
    spin_glue::respond(out, reply("map", result));
    // The ERP has its answer; the chain goes on.
    if let Some(sign) = follow_up
        && let Err(e) = spin_glue::call(&sign)
    {
        eprintln!(
            "map: sign of {:?} not started ({e}); the sweep will take it",
            sign.0.ids
        );
    }
}

fn answer(
    to: To,
    params: &Params<'_>,
    req: &Request,
    stores: &SpinStores,
    follow_up: &mut Option<Sign>,
) -> Result<Reply> {
    if let To::Admin(to) = to {
        return admin::answer(to, req, stores);
    }
    let who = tenant::authenticate(&stores.data, header(req, "authorization").as_deref())?;
    match to {
        To::Vehicle | To::Ivi => {
            let record = upload::one(to, req, stores, &who)?;
            if record.record.status == pipeline::record::Status::Validated {
                *follow_up = Some(Sign(RecordIds {
                    tenant: who.tenant.clone(),
                    // The file's records for the tenant's other destinations too.
                    ids: std::iter::once(record.record.id.clone())
                        .chain(record.record.siblings.iter().cloned())
                        .collect(),
                }));
            }
            Ok(Reply::json(202, &record))
        }
        To::Preview => upload::preview(req, stores, &who),
        To::Batch | To::Admin(_) => Err(pipeline::Error::Internal(
            "batch and admin routes are answered before".into(),
        )),
        settings => settings::answer(settings, params, req, stores, &who),
    }
}
/// Uses up the upload's webhook signature once the upload was accepted.
fn mark_used(stores: &SpinStores, marker: Option<&str>) -> Result<()> {
    tenant::mark_webhook_used(&stores.seen, marker, clock::now_secs())
}
