//! `status` (public, the read side of `/v1`):
//!
//! | route | role | what |
//! |---|---|---|
//! | `GET /v1/health` | none | `{"status":"ok","service":"ecoc","key_value":true}` |
//! | `GET /v1/submissions?vin=WVW*&status=failed&from=&to=&limit=&cursor=` | view | search, newest first |
//! | `GET /v1/submissions/{id}` | view | the record: status (ours and the VCA's), timeline, errors |
//! | `GET /v1/submissions/{id}/xml?kind=mapped\|signed` | view | the XML (signed once it is; `kind` asks for one) |
//! | `POST /v1/submissions/{id}/sign-off` | primary | releases a record held for drift |
//! | `POST /v1/submissions/{id}/retry` | upload | sends a record ecoc gave up on again |
//! | `GET /v1/audit/log?after=&limit=` | view | the tenant's hash-chained audit trail, a page |
//! | `GET /v1/audit/checkpoints`, `POST /v1/audit/checkpoint` | view, primary | its signed checkpoints; one more, now |
//! | `GET /v1/cop?approval=&from=&to=&format=` | view | the Conformity of Production export |
//! | `GET /v1/openapi.json` | none | the API's OpenAPI 3.1 description (`schemas/openapi.json`) |
//! | `GET /v1/whoami` | any | the token's tenant, name, role and what it may do |
//! | `GET /v1/summary?days=30` | view | the day at a glance: counts, waits, today's problems, N days (1-90) |
//!
//! A token only ever sees its own tenant's records: another tenant's id answers 404.

#![allow(
    unsafe_code,
    reason = "the #[http_component] macro generates the unsafe export glue"
)]

use pipeline::calls::{RecordIds, Sign};
use pipeline::cop::{self, CopQuery};
use pipeline::ids::RecordId;
use pipeline::kv::KeyValue;
use pipeline::record::{Record, Status};
use pipeline::repo::{Query, Repo, XmlKind};
use pipeline::tenant::{self, Action, Principal};
use pipeline::{Result, audit, clock, keys, retry, summary, validate};
use serde_json::json;
use spin_glue::{Params, Reply, Route, SpinStores, header, reply, route};
use spin_sdk::http::{Request, ResponseOutparam};
use spin_sdk::http_component;

/// A step on one record of the tenant: sign-off, resend.
type StepFn<'a> = &'a dyn Fn(&SpinStores, &str, &str, &str, u64) -> Result<Record>;

/// The routes of `status`.
#[derive(Debug, Clone, Copy)]
enum To {
    Health,
    Search,
    Record,
    Xml,
    SignOff,
    Retry,
    AuditLog,
    AuditCheckpoints,
    AuditCheckpoint,
    Cop,
    OpenApi,
    WhoAmI,
    Summary,
}

const ROUTES: &[Route<To>] = &[
    route("GET", "/v1/health", To::Health),
    route("GET", "/v1/submissions", To::Search),
    route("GET", "/v1/submissions/{id}", To::Record),
    route("GET", "/v1/submissions/{id}/xml", To::Xml),
    route("POST", "/v1/submissions/{id}/sign-off", To::SignOff),
    route("POST", "/v1/submissions/{id}/retry", To::Retry),
    route("GET", "/v1/audit/log", To::AuditLog),
    route("GET", "/v1/audit/checkpoints", To::AuditCheckpoints),
    route("POST", "/v1/audit/checkpoint", To::AuditCheckpoint),
    route("GET", "/v1/cop", To::Cop),
    route("GET", "/v1/openapi.json", To::OpenApi),
    route("GET", "/v1/whoami", To::WhoAmI),
    route("GET", "/v1/summary", To::Summary),
];

/// The API's description, served as written.
const OPENAPI: &str = include_str!("../../../schemas/openapi.json");

#[http_component]
fn handle(req: Request, out: ResponseOutparam) {
    let mut follow_up = None;
    let result = spin_glue::find_route(ROUTES, &req)
        .and_then(|(to, params)| answer(to, &params, &req, &mut follow_up));
    spin_glue::respond(out, reply("status", result));
    // A released record goes on to `sign` once the user has the answer.
    if let Some(sign) = follow_up
        && let Err(e) = spin_glue::call(&sign)
    {
        eprintln!("status: sign after sign-off not started ({e}); the sweep will take it");
    }
}

fn answer(
    to: To,
    params: &Params<'_>,
    req: &Request,
    follow_up: &mut Option<Sign>,
) -> Result<Reply> {
    let stores = spin_glue::stores();
    match to {
        To::Health => {
            let ok = stores.data.get(keys::HEALTH_PROBE).is_ok();
            return Ok(Reply::json(
                200,
                &json!({"status": "ok", "service": "ecoc", "key_value": ok}),
            ));
        }
        To::OpenApi => {
            return Ok(Reply::new(
                200,
                "application/json",
                OPENAPI.as_bytes().to_vec(),
            ));
        }
        _ => {}
    }
    let who = tenant::authenticate(&stores.data, header(req, "authorization").as_deref())?;
    match to {
        To::Search => search(&stores, &who, req.query()),
        To::Health | To::OpenApi => Err(pipeline::Error::Internal("answered above".into())),
        To::AuditLog | To::AuditCheckpoints | To::AuditCheckpoint => {
            audit_trail(to, &stores, &who, req.query())
        }
        To::Cop => {
            who.require(Action::View)?;
            let query = CopQuery::parse(req.query())?;
            let report = cop::report(&stores, &who.tenant, &query)?;
            if query.csv {
                return Ok(Reply::new(200, "text/csv; charset=utf-8", report.to_csv()?));
            }
            Ok(Reply::json(200, &report))
        }
        To::WhoAmI => {
            let tenant = tenant::load_tenant(&stores.data, &who.tenant)?;
            Ok(Reply::json(200, &summary::whoami(&who, &tenant)))
        }
        To::Summary => {
            who.require(Action::View)?;
            let days = summary::parse_days(req.query())?;
            let at_a_glance = summary::summary(&stores, &who.tenant, days, clock::now_secs())?;
            Ok(Reply::json(200, &at_a_glance))
        }
        To::Record => {
            who.require(Action::View)?;
            let id: RecordId = params.get("id")?;
            let record = Repo::new(&stores).load(&who.tenant, id.as_str())?;
            Ok(Reply::json(200, &record.to_view()))
        }
        To::Xml => {
            who.require(Action::View)?;
            let id: RecordId = params.get("id")?;
            let asked = XmlKind::from_query(req.query())?;
            let (kind, xml) = Repo::new(&stores).record_xml(&who.tenant, id.as_str(), asked)?;
            let kind = if kind == XmlKind::Signed {
                "signed"
            } else {
                "unsigned"
            };
            Ok(Reply::xml(xml).with_header("ecoc-xml", kind))
        }
        To::SignOff | To::Retry => {
            // A held record signed off, or one ecoc gave up on sent again: it goes on to `sign`
            // once the user has the answer (a re-queued signed record is the sweep's).
            let (action, step): (_, StepFn<'_>) = match to {
                To::SignOff => (Action::Manage, &validate::sign_off),
                _ => (Action::Upload, &retry::resend),
            };
            who.require(action)?;
            let id: RecordId = params.get("id")?;
            let record = step(
                &stores,
                &who.tenant,
                id.as_str(),
                &who.actor(),
                clock::now_secs(),
            )?;
            if record.status == Status::Validated {
                *follow_up = Some(Sign(RecordIds {
                    tenant: who.tenant.clone(),
                    ids: vec![record.id.clone()],
                }));
            }
            Ok(Reply::json(202, &record.to_view()))
        }
    }
}

fn audit_trail(to: To, stores: &SpinStores, who: &Principal, query: &str) -> Result<Reply> {
    let key = spin_glue::audit_key()?;
    match to {
        To::AuditCheckpoint => {
            who.require(Action::Manage)?;
            let key = key.ok_or_else(|| {
                pipeline::Error::Config(
                    "the deployment has no audit key (variable `audit_signing_key`): checkpoints cannot be signed"
                        .into(),
                )
            })?;
            let made = audit::checkpoint_now(stores, &who.tenant, &key, clock::now_secs())?;
            Ok(Reply::json(201, &made))
        }
        To::AuditCheckpoints => {
            who.require(Action::View)?;
            let checkpoints = audit::checkpoints(stores, &who.tenant)?;
            let public_key = key.as_ref().map(audit::public_key);
            Ok(Reply::json(
                200,
                &json!({"public_key": public_key, "checkpoints": checkpoints}),
            ))
        }
        _ => {
            who.require(Action::View)?;
            let (after, limit) = audit::page_query(query)?;
            Ok(Reply::json(
                200,
                &audit::page(stores, &who.tenant, after, limit)?,
            ))
        }
    }
}

fn search(stores: &SpinStores, who: &Principal, query: &str) -> Result<Reply> {
    who.require(Action::View)?;
    let page = Repo::new(stores).search(&who.tenant, &Query::parse(query)?)?;
    let items: Vec<_> = page.items.iter().map(|r| r.to_view()).collect();
    Ok(Reply::json(
        200,
        &json!({"items": items, "next": page.next}),
    ))
}
