//! `notify` (private): `POST /digest` ([`pipeline::calls::Digest`]: `{"date": "YYYY-MM-DD"}`,
//! default today UTC; an empty body or the host timer's tick is today) sends each tenant's digest
//! of the day's failures once, through the HTTP email API (`mail_url`, `mail_api_key`,
//! `mail_from`). The host's daily timer calls it; an external scheduler may too
//! (`POST /v1/admin/digest`), and a second call the same day sends nothing.

#![allow(
    unsafe_code,
    reason = "the #[http_component] macro generates the unsafe export glue"
)]

use pipeline::calls::{Call, Digest};
use pipeline::notify::{self, MailApi};
use pipeline::{Error, Result, clock, ids};
use spin_glue::{Reply, SpinTransport, reply, variable};
use spin_sdk::http::{Request, ResponseOutparam};
use spin_sdk::http_component;

#[http_component]
fn handle(req: Request, out: ResponseOutparam) {
    let result = match req.path() {
        Digest::PATH => spin_glue::call_body(&req).and_then(|call: Digest| run(&call)),
        other => Err(Error::NotFound(format!("notify has no route {other}"))),
    };
    spin_glue::respond(out, reply("notify", result));
}

fn run(call: &Digest) -> Result<Reply> {
    let date = notify::day(call.date.as_deref(), clock::now_secs())?;
    let mail = MailApi {
        transport: SpinTransport::REMOTE,
        url: variable("mail_url")?,
        api_key: variable("mail_api_key")?,
        from: variable("mail_from")?,
    };
    let run_id = ids::record_id(clock::now_millis())?;
    let report = notify::run(&spin_glue::stores(), &date, &run_id, &mut |email| {
        mail.send(email)
    })?;
    Ok(Reply::json(200, &report))
}
