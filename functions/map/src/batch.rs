//! `POST /v1/batches`: CSV, one vehicle per row; one JSON line per row as results come, then a
//! summary ([`pipeline::batch`] does the work; this module streams its lines).

use pipeline::Error;
use pipeline::batch::{self, Lines, RowResult, SummaryLine};
use pipeline::calls::{AdmitBatch, Source, Sweep};
use pipeline::csv_batch::CsvRows;
use pipeline::tenant;
use spin_glue::{Reply, SpinStores, Streaming, header, reply_error};
use spin_sdk::http::{Request, ResponseOutparam};

use crate::mark_used;
use crate::upload::uploader;

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
        let mapper = spin_glue::tenant_mapper(&tenant)?;
        let mapping = match &mapper {
            Some(_) => tenant::stored_mapping(&stores.data, &tenant.id)?,
            None => Some(tenant::load_mapping(&stores.data, &tenant.id)?),
        };
        let rows = CsvRows::with_delimiter(req.body(), tenant.csv_delimiter)
            .map_err(|e| Error::Fields(vec![e]))?;
        Ok((who, tenant, marker, (mapper, mapping), rows))
    })();
    let (who, tenant, marker, (mapper, mapping), rows) = match started {
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
    let mut to_xml = |record: &serde_json::Value| {
        pipeline::mapper::record_to_xml(record, mapper.as_deref(), mapping.as_ref())
            .map(|(xml, _)| xml)
    };
    let summary = batch::run(rows, &mut to_xml, &mut admit, &mut sink);
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
