//! Uploads: one ERP record, one ready IVI file, a CSV batch; and the mapping preview.

use pipeline::batch::{self, Lines, RowResult, SummaryLine};
use pipeline::calls::{Admit, AdmitBatch, Source, Sweep};
use pipeline::csv_batch::CsvRows;
use pipeline::record::RecordView;
use pipeline::tenant::{self, Action, Principal, Tenant};
use pipeline::{Error, Result, clock};
use spin_glue::{Reply, SpinStores, Streaming, header, reply_error};
use spin_sdk::http::{Request, ResponseOutparam};

use crate::{To, mark_used};

/// Who may upload, and the upload's webhook signature when the tenant asks for one (the marker
/// to write once the upload is accepted).
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

/// `POST /v1/vehicles` (an ERP record, mapped) or `POST /v1/ivi` (a ready file): the record admitted.
pub fn one(to: To, req: &Request, stores: &SpinStores, who: &Principal) -> Result<RecordView> {
    let (source, xml) = if let To::Ivi = to {
        spin_glue::require_content_type(req, "application/xml")?;
        if req.body().len() > pipeline::validate::MAX_FILE_BYTES {
            return Err(Error::TooLarge(format!(
                "the IVI file has {} bytes; the NAP takes files under 1 MB",
                req.body().len()
            )));
        }
        let xml = std::str::from_utf8(req.body())
            .map_err(|e| Error::BadRequest(format!("the IVI file is not UTF-8: {e}")))?;
        (Source::Ivi, xml.to_owned())
    } else {
        let record: serde_json::Value = spin_glue::json_body(req)?;
        let mapping = tenant::load_mapping(&stores.data, &who.tenant)?;
        let mapped = mapping
            .apply(&record, std::time::SystemTime::now())
            .map_err(Error::Fields)?;
        (Source::Json, mapped.xml)
    };
    let (tenant, marker) = uploader(req, stores, who)?;
    let admitted = spin_glue::call(&Admit {
        tenant: tenant.id,
        actor: who.actor(),
        source,
        xml,
        leased: true,
    })?;
    mark_used(stores, marker.as_deref())?;
    Ok(admitted)
}

/// `POST /v1/tenant/mapping:preview`: `{"mapping": {...}, "record": {...}}` tries a mapping before
/// storing it; a bare record uses the stored mapping. Answers the mapped XML.
pub fn preview(req: &Request, stores: &SpinStores, who: &Principal) -> Result<Reply> {
    who.require(Action::Upload)?;
    let body: serde_json::Value = spin_glue::json_body(req)?;
    let (mapping, record) = match (body.get("mapping"), body.get("record")) {
        (Some(m), Some(r)) => (
            pipeline::mapping::Mapping::from_json(m.to_string().as_bytes())
                .map_err(Error::Fields)?,
            r,
        ),
        _ => (tenant::load_mapping(&stores.data, &who.tenant)?, &body),
    };
    let mapped = mapping
        .apply(record, std::time::SystemTime::now())
        .map_err(Error::Fields)?;
    Ok(Reply::xml(mapped.xml.into_bytes()))
}

/// Where batch lines go: held back until the library opens the stream (so a batch that fails
/// whole can still be answered 4xx), then streamed.
enum Sink {
    Held(ResponseOutparam, Vec<RowResult>),
    Streaming(Streaming),
    Done,
}

impl Lines for Sink {
    fn line(&mut self, line: RowResult) {
        match self {
            Self::Held(_, lines) => lines.push(line),
            Self::Streaming(stream) => {
                stream.line(&line);
            }
            Self::Done => {}
        }
    }

    fn open(&mut self) {
        if let Self::Held(..) = self
            && let Self::Held(out, lines) = std::mem::replace(self, Self::Done)
        {
            let mut stream = Streaming::start(out, 200, "application/x-ndjson");
            for line in &lines {
                stream.line(line);
            }
            *self = Self::Streaming(stream);
        }
    }
}

/// `POST /v1/batches`: CSV, one vehicle per row; one JSON line per row, then a summary.
pub fn batch(req: &Request, stores: &SpinStores, out: ResponseOutparam) {
    let started = (|| {
        let who = tenant::authenticate(&stores.data, header(req, "authorization").as_deref())?;
        spin_glue::require_content_type(req, "text/csv")?;
        let (tenant, marker) = uploader(req, stores, &who)?;
        let mapping = tenant::load_mapping(&stores.data, &tenant.id)?;
        let rows = CsvRows::new(req.body()).map_err(|e| Error::Fields(vec![e]))?;
        Ok((who, tenant, marker, mapping, rows))
    })();
    let (who, tenant, marker, mapping, rows) = match started {
        Ok(s) => s,
        Err(e) => return spin_glue::respond(out, reply_error("map", &e)),
    };
    let mut sink = Sink::Held(out, Vec::new());
    let mut admit = |chunks: &[Vec<String>]| {
        let calls = chunks
            .iter()
            .map(|items| {
                let call = AdmitBatch {
                    tenant: tenant.id.clone(),
                    actor: who.actor(),
                    source: Source::Csv,
                    items: items.clone(),
                    leased: false,
                };
                Box::pin(async move { spin_glue::call_async(&call).await })
                    as spin_glue::Pending<'_, _>
            })
            .collect();
        spin_glue::all(calls, batch::IN_FLIGHT)
    };
    let summary = batch::run(rows, &mapping, &mut admit, &mut sink);
    match sink {
        Sink::Held(out, lines) => {
            // Every row was refused before anything was stored: the batch as a whole is refused.
            let refused = batch::refused(summary, lines);
            return spin_glue::respond(out, Reply::json(refused.status(), &refused));
        }
        Sink::Streaming(mut stream) => {
            stream.line(&SummaryLine { summary });
        }
        Sink::Done => {}
    }
    if summary.accepted > 0 {
        if let Err(e) = mark_used(stores, marker.as_deref()) {
            eprintln!("map: webhook signature not marked used: {e}");
        }
        // Batch records are not leased: the sweep signs and delivers them.
        if let Err(e) = spin_glue::call(&Sweep {}) {
            eprintln!("map: sweep after batch not started ({e}); the timer will run it");
        }
    }
}
