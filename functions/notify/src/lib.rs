//! `notify` (private): `POST /digest` (optionally `?date=YYYY-MM-DD`, default today UTC) sends each
//! tenant's digest of the day's failures once, through the HTTP email API (`mail_url`,
//! `mail_api_key`, `mail_from`). The host's daily timer calls it; an external scheduler may too, and
//! a second call the same day sends nothing.

#![allow(
    unsafe_code,
    reason = "the #[http_component] macro generates the unsafe export glue"
)]

use dsig::csc::{HttpRequest, HttpTransport};
use pipeline::digest::{self, Email};
use pipeline::{Error, Result, clock, ids};
use serde_json::json;
use spin_glue::{Reply, SpinHttp, reply, variable};
use spin_sdk::http::{Request, ResponseOutparam};
use spin_sdk::http_component;

#[http_component]
fn handle(req: Request, out: ResponseOutparam) {
    let result = match req.path() {
        "/digest" => run(&req),
        other => Err(Error::NotFound(format!("notify has no route {other}"))),
    };
    spin_glue::respond(out, reply("notify", result));
}

fn run(req: &Request) -> Result<Reply> {
    let date = match req.query().strip_prefix("date=") {
        Some(d) if clock::parse_date(d).is_some() => d.to_owned(),
        Some(d) => return Err(Error::BadRequest(format!("date `{d}` must be YYYY-MM-DD"))),
        None => clock::date(clock::now_secs()),
    };
    let stores = spin_glue::stores()?;
    let (url, key, from) = (
        variable("mail_url")?,
        variable("mail_api_key")?,
        variable("mail_from")?,
    );
    let mut send = |email: &Email| -> Result<()> {
        let body =
            json!({"from": from, "to": email.to, "subject": email.subject, "text": email.text});
        let resp = SpinHttp
            .send(HttpRequest {
                method: "POST".into(),
                url: format!("{}/v1/messages", url.trim_end_matches('/')),
                headers: vec![
                    ("content-type".into(), "application/json".into()),
                    ("authorization".into(), format!("Bearer {key}")),
                ],
                body: body.to_string().into_bytes(),
            })
            .map_err(|e| Error::Upstream {
                service: "mail",
                message: e.to_string(),
                retryable: true,
            })?;
        if (200..300).contains(&resp.status) {
            Ok(())
        } else {
            Err(Error::Upstream {
                service: "mail",
                message: format!("the email API answered {}", resp.status),
                retryable: resp.status >= 500,
            })
        }
    };
    let report = digest::run(
        &stores,
        &date,
        &ids::record_id(clock::now_millis())?,
        &mut send,
    )?;
    let tenants: serde_json::Map<String, serde_json::Value> =
        report.into_iter().map(|(t, r)| (t, json!(r))).collect();
    Ok(Reply::json(200, &json!({"date": date, "tenants": tenants})))
}
