//! `status` (public, the read side of `/v1`):
//!
//! | route | role | what |
//! |---|---|---|
//! | `GET /v1/health` | none | `{"status":"ok","service":"ecoc","key_value":true}` |
//! | `GET /v1/submissions?vin=WVW*&status=failed&from=&to=&limit=&cursor=` | view | search, newest first |
//! | `GET /v1/submissions/{id}` | view | the record: status (ours and the VCA's), timeline, errors |
//! | `GET /v1/submissions/{id}/xml` | view | the XML (signed once it is) |
//! | `POST /v1/submissions/{id}/sign-off` | primary | releases a record held for drift |
//!
//! A token only ever sees its own tenant's records: another tenant's id answers 404.

#![allow(
    unsafe_code,
    reason = "the #[http_component] macro generates the unsafe export glue"
)]

use pipeline::repo::{Query, Repo, XmlKind};
use pipeline::tenant::{self, Action};
use pipeline::{Error, Result, clock, gate};
use serde_json::json;
use spin_glue::{Reply, header, reply};
use spin_sdk::http::{Method, Request, ResponseOutparam};
use spin_sdk::http_component;

#[http_component]
fn handle(req: Request, out: ResponseOutparam) {
    let mut follow_up = None;
    let result = route(&req, &mut follow_up);
    spin_glue::respond(out, reply("status", result));
    if let Some((tenant, id)) = follow_up
        && let Err(e) = spin_glue::call("sign", "/sign", &json!({"tenant": tenant, "id": id}))
    {
        eprintln!("status: sign of {id} not started after sign-off ({e}); the sweep will take it");
    }
}

fn route(req: &Request, follow_up: &mut Option<(String, String)>) -> Result<Reply> {
    let path = req.path();
    if path == "/v1/health" {
        let ok = spin_sdk::key_value::Store::open_default()
            .and_then(|s| s.exists("health-probe"))
            .is_ok();
        return Ok(Reply::json(
            200,
            &json!({"status": "ok", "service": "ecoc", "key_value": ok}),
        ));
    }
    let Some(rest) = path.strip_prefix("/v1/submissions") else {
        return Err(Error::NotFound(format!("no resource at {path}")));
    };
    let stores = spin_glue::stores()?;
    let who = tenant::authenticate(&stores.data, header(req, "authorization").as_deref())?;
    let repo = Repo::new(&stores);
    let parts: Vec<&str> = rest.split('/').filter(|p| !p.is_empty()).collect();
    match (req.method(), parts.as_slice()) {
        (Method::Get, []) => {
            who.require(Action::View)?;
            let page = repo.search(&who.tenant, &Query::parse(req.query())?)?;
            let items: Vec<_> = page.items.iter().map(|r| r.to_view()).collect();
            Ok(Reply::json(
                200,
                &json!({"items": items, "next": page.next}),
            ))
        }
        (Method::Get, [id]) => {
            who.require(Action::View)?;
            Ok(Reply::json(200, &repo.load(&who.tenant, id)?.to_view()))
        }
        (Method::Get, [id, "xml"]) => {
            who.require(Action::View)?;
            let (kind, xml) = gate::record_xml(&stores, &who.tenant, id)?;
            let kind = if kind == XmlKind::Signed {
                "signed"
            } else {
                "unsigned"
            };
            Ok(Reply::xml(xml).with_header("ecoc-xml", kind))
        }
        (Method::Post, [id, "sign-off"]) => {
            who.require(Action::Manage)?;
            let record = gate::sign_off(&stores, &who.tenant, id, &who.actor(), clock::now_secs())?;
            *follow_up = Some((who.tenant.clone(), record.id.clone()));
            Ok(Reply::json(202, &record.to_view()))
        }
        (m, _) => Err(Error::NotFound(format!("no route {m:?} {path}"))),
    }
}
