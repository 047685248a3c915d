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
//! | `POST /v1/admin/tenants` | `admin_token` | creates a tenant and its first primary token |
//!
//! Accepted files go on at once (`sign` -> `submit`) after the ERP has its answer.

#![allow(
    unsafe_code,
    reason = "the #[http_component] macro generates the unsafe export glue"
)]

use pipeline::csv_batch::CsvRows;
use pipeline::kv::KeyValue;
use pipeline::mapping::Mapping;
use pipeline::tenant::{self, Action, Principal, Role, Tenant};
use pipeline::{Error, Result, clock};
use serde_json::{Value, json};
use spin_glue::{Reply, SpinStores, Streaming, header, reply, reply_error};
use spin_sdk::http::{Method, Request, ResponseOutparam};
use spin_sdk::http_component;

/// Files per `validate` call in a batch (one schema compile each).
const BATCH_CHUNK: usize = 50;

/// `validate` calls a batch keeps in flight (one per core of a small host).
const ADMIT_IN_FLIGHT: usize = 2;

#[http_component]
fn handle(req: Request, out: ResponseOutparam) {
    let path = req.path().to_owned();
    if path == "/v1/batches" && *req.method() == Method::Post {
        return batch(&req, out);
    }
    let result = route(&req, &path);
    let follow_up = match &result {
        Ok((_, Some(id))) => Some(id.clone()),
        _ => None,
    };
    spin_glue::respond(out, reply("map", result.map(|(r, _)| r)));
    // The ERP has its answer; the chain goes on.
    if let Some((tenant, id)) = follow_up.as_ref().and_then(|f| f.split_once('/'))
        && let Err(e) = spin_glue::call("sign", "/sign", &json!({"tenant": tenant, "id": id}))
    {
        eprintln!("map: sign of {id} not started ({e}); the sweep will take it");
    }
}

type Routed = Result<(Reply, Option<String>)>;

fn route(req: &Request, path: &str) -> Routed {
    let stores = spin_glue::stores()?;
    let plain = |r: Result<Reply>| r.map(|r| (r, None));
    if path.starts_with("/v1/admin/") {
        require_admin(req)?;
        return plain(match (req.method(), path) {
            (Method::Post, "/v1/admin/tenants") => create_tenant(req, &stores),
            // For schedulers outside the host (Spin, SpinKube): the timers' calls, made public.
            (Method::Post, "/v1/admin/digest") => {
                forward("notify", &format!("/digest?{}", req.query()))
            }
            (Method::Post, "/v1/admin/sweep") => forward("submit", "/sweep"),
            (m, p) => Err(Error::NotFound(format!("no route {m:?} {p}"))),
        });
    }
    let who = tenant::authenticate(&stores.data, header(req, "authorization").as_deref())?;
    match (req.method(), path) {
        (Method::Post, "/v1/vehicles") => vehicle(req, &stores, &who),
        (Method::Post, "/v1/ivi") => ivi_file(req, &stores, &who),
        (Method::Get, "/v1/tenant") => {
            who.require(Action::View)?;
            let t = tenant::load_tenant(&stores.data, &who.tenant)?;
            plain(Ok(Reply::json(200, &json!(t))))
        }
        (Method::Put, "/v1/tenant") => plain(put_tenant(req, &stores, &who)),
        (Method::Get, "/v1/tenant/mapping") => plain(get_doc(&stores, &who, "mapping")),
        (Method::Put, "/v1/tenant/mapping") => plain(put_mapping(req, &stores, &who)),
        (Method::Post, "/v1/tenant/mapping:preview") => plain(preview(req, &stores, &who)),
        (Method::Get, "/v1/tenant/approvals") => plain(get_doc(&stores, &who, "approvals")),
        (Method::Put, "/v1/tenant/approvals") => plain(put_approvals(req, &stores, &who)),
        (Method::Get, "/v1/tenant/tokens") => {
            who.require(Action::Manage)?;
            let list = tenant::list_tokens(&stores.data, &who.tenant)?;
            plain(Ok(Reply::json(200, &json!({ "tokens": list }))))
        }
        (Method::Post, "/v1/tenant/tokens") => plain(new_token(req, &stores, &who)),
        (Method::Delete, p) if p.starts_with("/v1/tenant/tokens/") => {
            who.require(Action::Manage)?;
            tenant::revoke_token(&stores.data, &who.tenant, &p["/v1/tenant/tokens/".len()..])?;
            plain(Ok(Reply::json(
                200,
                &json!({ "revoked": &p["/v1/tenant/tokens/".len()..] }),
            )))
        }
        (m, p) => Err(Error::NotFound(format!("no route {m:?} {p}"))),
    }
}

/// Who may upload, and the upload's signature when the tenant asks for one (with the marker to
/// write once the upload is accepted).
fn uploader(
    req: &Request,
    stores: &SpinStores,
    who: &Principal,
) -> Result<(Tenant, Option<String>)> {
    who.require(Action::Upload)?;
    let tenant = tenant::load_tenant(&stores.data, &who.tenant)?;
    let marker = tenant::check_webhook(
        &stores.data,
        &tenant,
        header(req, tenant::WEBHOOK_TIMESTAMP_HEADER).as_deref(),
        header(req, tenant::WEBHOOK_SIGNATURE_HEADER).as_deref(),
        req.body(),
        clock::now_secs(),
    )?;
    Ok((tenant, marker))
}

/// Uses up the upload's webhook signature once the upload was accepted.
fn accepted(stores: &SpinStores, marker: Option<String>, routed: Routed) -> Routed {
    if routed.is_ok() {
        tenant::mark_webhook_used(&stores.data, marker.as_deref(), clock::now_secs())?;
    }
    routed
}

fn load_mapping(stores: &SpinStores, tenant: &str) -> Result<Mapping> {
    let bytes = stores
        .data
        .get(&format!("t/{tenant}/mapping"))?
        .ok_or_else(|| {
            Error::Conflict(
                "the tenant has no mapping yet: a primary user sets it with PUT /v1/tenant/mapping"
                    .into(),
            )
        })?;
    Mapping::from_json(&bytes).map_err(|e| {
        Error::Internal(format!(
            "the stored mapping cannot be read: {} error(s)",
            e.len()
        ))
    })
}

/// Sends one file to `validate`; the accepted record's id comes back for the follow-up chain.
fn admit(tenant: &str, who: &Principal, source: &str, xml: &str) -> Routed {
    let (status, body) = spin_glue::call(
        "validate",
        "/admit",
        &json!({"tenant": tenant, "actor": who.actor(), "source": source, "xml": xml, "leased": true}),
    )?;
    if status >= 400 {
        return Err(spin_glue::relay(status, body));
    }
    let follow = (body["status"] == "validated")
        .then(|| format!("{tenant}/{}", body["id"].as_str().unwrap_or("")));
    Ok((Reply::json(202, &body), follow))
}

fn vehicle(req: &Request, stores: &SpinStores, who: &Principal) -> Routed {
    let (tenant, marker) = uploader(req, stores, who)?;
    let record: Value = spin_glue::json_body(req)?;
    let mapped = load_mapping(stores, &tenant.id)?
        .apply(&record, std::time::SystemTime::now())
        .map_err(Error::Fields)?;
    accepted(stores, marker, admit(&tenant.id, who, "json", &mapped.xml))
}

fn ivi_file(req: &Request, stores: &SpinStores, who: &Principal) -> Routed {
    spin_glue::require_content_type(req, "application/xml")?;
    let (tenant, marker) = uploader(req, stores, who)?;
    if req.body().len() > pipeline::gate::MAX_FILE_BYTES {
        return Err(Error::TooLarge(format!(
            "the IVI file has {} bytes; the NAP takes files under 1 MB",
            req.body().len()
        )));
    }
    let xml = std::str::from_utf8(req.body())
        .map_err(|e| Error::BadRequest(format!("the IVI file is not UTF-8: {e}")))?;
    accepted(stores, marker, admit(&tenant.id, who, "ivi", xml))
}

/// Where batch results go: held back until the first chunk is done (so a batch that fails whole can
/// still be answered 422), then streamed.
enum Sink {
    Held(ResponseOutparam, Vec<Value>),
    Streaming(Streaming),
    Done,
}

impl Sink {
    fn line(&mut self, v: Value) {
        match self {
            Self::Held(_, lines) => lines.push(v),
            Self::Streaming(stream) => {
                let mut bytes = v.to_string().into_bytes();
                bytes.push(b'\n');
                stream.write(bytes);
            }
            Self::Done => {}
        }
    }

    /// Starts streaming what was held (a 200 with one JSON line per row).
    fn open(&mut self) {
        if let Self::Held(..) = self
            && let Self::Held(out, lines) = std::mem::replace(self, Self::Done)
        {
            let mut stream = Streaming::start(out, 200, "application/x-ndjson");
            for v in lines {
                let mut bytes = v.to_string().into_bytes();
                bytes.push(b'\n');
                stream.write(bytes);
            }
            *self = Self::Streaming(stream);
        }
    }
}

fn batch(req: &Request, out: ResponseOutparam) {
    let started = (|| {
        let stores = spin_glue::stores()?;
        let who = tenant::authenticate(&stores.data, header(req, "authorization").as_deref())?;
        spin_glue::require_content_type(req, "text/csv")?;
        let (tenant, marker) = uploader(req, &stores, &who)?;
        let mapping = load_mapping(&stores, &tenant.id)?;
        let rows = CsvRows::new(req.body()).map_err(|e| Error::Fields(vec![e]))?;
        Ok((stores, who, tenant, marker, mapping, rows))
    })();
    let (stores, who, tenant, marker, mapping, rows) = match started {
        Ok(s) => s,
        Err(e) => return spin_glue::respond(out, reply_error("map", &e)),
    };
    let mut sink = Sink::Held(out, Vec::new());
    let (mut accepted, mut refused, mut total) = (0usize, 0usize, 0usize);
    let mut pending: Vec<(usize, String)> = Vec::new();
    // Validates the pending files; returns how many were accepted and refused.
    let flush = |sink: &mut Sink, pending: &mut Vec<(usize, String)>| -> (usize, usize) {
        let (mut accepted, mut refused) = (0, 0);
        if pending.is_empty() {
            return (0, 0);
        }
        let full_chunk = pending.len() >= BATCH_CHUNK;
        // Chunks go to several `validate` instances at once; answers come back in order.
        let calls: Vec<(&str, &str, Value)> = pending
            .chunks(BATCH_CHUNK)
            .map(|chunk| {
                let items: Vec<&str> = chunk.iter().map(|(_, x)| x.as_str()).collect();
                (
                    "validate",
                    "/admit-batch",
                    json!({"tenant": tenant.id, "actor": who.actor(), "source": "csv", "items": items, "leased": false}),
                )
            })
            .collect();
        let answers = spin_glue::call_all(&calls, ADMIT_IN_FLIGHT);
        let results: Vec<Value> = pending
            .chunks(BATCH_CHUNK)
            .zip(answers)
            .flat_map(|(chunk, answer)| match answer {
                Ok((200, body)) => body["results"].as_array().cloned().unwrap_or_default(),
                Ok((status, body)) => vec![json!({"status": status, "body": body}); chunk.len()],
                Err(e) => vec![json!({"status": e.status(), "body": e.to_json()}); chunk.len()],
            })
            .collect();
        for ((row, _), result) in pending.drain(..).zip(results) {
            let status = result["status"].as_u64().unwrap_or(500);
            let body = &result["body"];
            if status < 300 {
                accepted += 1;
                sink.line(json!({"row": row, "status": 202, "id": body["id"], "vin": body["vin"], "state": body["status"]}));
            } else {
                refused += 1;
                sink.line(json!({"row": row, "status": status, "error": body["error"], "message": body["message"], "errors": body["errors"], "duplicate_of": body["duplicate_of"]}));
            }
        }
        // Once something is stored, or more rows may follow, the answer is a 200 stream.
        if accepted > 0 || full_chunk {
            sink.open();
        }
        (accepted, refused)
    };
    let mut add = |(a, r): (usize, usize)| {
        accepted += a;
        refused += r;
    };
    for row in rows {
        total += 1;
        let mapped = row
            .record
            .and_then(|record| mapping.apply(&record, std::time::SystemTime::now()));
        match mapped {
            Ok(m) => pending.push((row.number, m.xml)),
            Err(errors) => {
                add((0, 1));
                sink.line(json!({"row": row.number, "status": 422, "error": "invalid_fields", "errors": errors}));
            }
        }
        if pending.len() >= BATCH_CHUNK * ADMIT_IN_FLIGHT {
            add(flush(&mut sink, &mut pending));
        }
    }
    add(flush(&mut sink, &mut pending));
    let summary = json!({"rows": total, "accepted": accepted, "refused": refused});
    if let Sink::Held(out, lines) = sink {
        // Every row was refused before anything was stored: the batch as a whole is refused.
        let status = if total == 0 { 400 } else { 422 };
        let message = if total == 0 {
            "the CSV has a header but no rows"
        } else {
            "no row of the batch was accepted"
        };
        let body = json!({"error": "invalid_fields", "message": message, "rows": lines, "summary": summary});
        return spin_glue::respond(out, Reply::json(status, &body));
    }
    sink.line(json!({ "summary": summary }));
    drop(sink);
    if accepted > 0 {
        if let Err(e) =
            tenant::mark_webhook_used(&stores.data, marker.as_deref(), clock::now_secs())
        {
            eprintln!("map: webhook signature not marked used: {e}");
        }
        // Batch records are not leased: the sweep signs and delivers them.
        if let Err(e) = spin_glue::call("submit", "/sweep", &json!({})) {
            eprintln!("map: sweep after batch not started ({e}); the timer will run it");
        }
    }
}

fn get_doc(stores: &SpinStores, who: &Principal, what: &str) -> Result<Reply> {
    who.require(Action::View)?;
    let bytes = stores
        .data
        .get(&format!("t/{}/{what}", who.tenant))?
        .ok_or_else(|| Error::NotFound(format!("the tenant has no {what} yet")))?;
    let value: Value =
        serde_json::from_slice(&bytes).map_err(|e| Error::Internal(e.to_string()))?;
    Ok(Reply::json(200, &value))
}

fn put_mapping(req: &Request, stores: &SpinStores, who: &Principal) -> Result<Reply> {
    who.require(Action::Manage)?;
    spin_glue::require_content_type(req, "application/json")?;
    Mapping::from_json(req.body()).map_err(Error::Fields)?;
    stores
        .data
        .set(&format!("t/{}/mapping", who.tenant), req.body())?;
    Ok(Reply::json(200, &json!({"mapping": "stored"})))
}

fn put_approvals(req: &Request, stores: &SpinStores, who: &Principal) -> Result<Reply> {
    who.require(Action::Manage)?;
    spin_glue::require_content_type(req, "application/json")?;
    let approvals = pipeline::approvals::Approvals::from_json(req.body())?;
    stores
        .data
        .set_json(&format!("t/{}/approvals", who.tenant), &approvals)?;
    Ok(Reply::json(
        200,
        &json!({"approvals": approvals.approvals.len()}),
    ))
}

fn preview(req: &Request, stores: &SpinStores, who: &Principal) -> Result<Reply> {
    who.require(Action::Upload)?;
    let body: Value = spin_glue::json_body(req)?;
    // `{"mapping": {...}, "record": {...}}` tries a mapping before storing it; a bare record uses the
    // stored mapping.
    let (mapping, record) = match (body.get("mapping"), body.get("record")) {
        (Some(m), Some(r)) => (
            Mapping::from_json(m.to_string().as_bytes()).map_err(Error::Fields)?,
            r.clone(),
        ),
        _ => (load_mapping(stores, &who.tenant)?, body),
    };
    let mapped = mapping
        .apply(&record, std::time::SystemTime::now())
        .map_err(Error::Fields)?;
    Ok(Reply::xml(mapped.xml.into_bytes()))
}

fn put_tenant(req: &Request, stores: &SpinStores, who: &Principal) -> Result<Reply> {
    who.require(Action::Manage)?;
    let mut settings: Tenant = spin_glue::json_body(req)?;
    if settings.id != who.tenant {
        return Err(Error::BadRequest(format!(
            "the settings name tenant `{}`, but the token belongs to `{}`",
            settings.id, who.tenant
        )));
    }
    settings.id = who.tenant.clone();
    tenant::save_tenant(&stores.data, &settings)?;
    Ok(Reply::json(200, &json!(settings)))
}

fn new_token(req: &Request, stores: &SpinStores, who: &Principal) -> Result<Reply> {
    who.require(Action::Manage)?;
    let body: Value = spin_glue::json_body(req)?;
    let name = body["name"].as_str().unwrap_or_default();
    let role: Role = serde_json::from_value(body["role"].clone())
        .map_err(|_| Error::BadRequest("`role` must be primary, upload or view".into()))?;
    let token = tenant::issue_token(&stores.data, &who.tenant, name, role, None)?;
    Ok(Reply::json(
        201,
        &json!({"name": name, "role": role, "token": token}),
    ))
}

fn require_admin(req: &Request) -> Result<()> {
    let admin = spin_glue::optional_variable("admin_token")
        .ok_or_else(|| Error::Forbidden("administration is off: no admin_token variable".into()))?;
    let given = header(req, "authorization").unwrap_or_default();
    if given.strip_prefix("Bearer ").map(str::trim) != Some(admin.as_str()) {
        return Err(Error::Unauthorized("the admin token is required".into()));
    }
    Ok(())
}

fn forward(component: &str, path: &str) -> Result<Reply> {
    let (status, body) = spin_glue::call(component, path, &json!({}))?;
    Ok(Reply::json(status, &body))
}

fn create_tenant(req: &Request, stores: &SpinStores) -> Result<Reply> {
    let body: Value = spin_glue::json_body(req)?;
    let settings: Tenant = serde_json::from_value(body["tenant"].clone())
        .map_err(|e| Error::BadRequest(format!("`tenant`: {e}")))?;
    let name = body["token_name"].as_str().unwrap_or("primary");
    let token = tenant::create_tenant(&stores.data, &settings, name, body["token"].as_str())?;
    Ok(Reply::json(
        201,
        &json!({"tenant": settings, "token_name": name, "token": token}),
    ))
}
