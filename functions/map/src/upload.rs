//! Uploads: one ERP record, one ready IVI file, a CSV batch; and the mapping preview.

use pipeline::calls::{Admit, Check, Source};
use pipeline::mapper;
use pipeline::mapping::{Mapping, PreviewRequest};
use pipeline::record::RecordView;
use pipeline::tenant::{self, Action, Principal, Tenant};
use pipeline::{Error, Result, clock};
use spin_glue::{Reply, SpinStores, header};
use spin_sdk::http::Request;

use crate::{To, mark_used};

/// Who may upload, and the upload's webhook signature when the tenant asks for one (the marker
/// to write once the upload is accepted).
pub fn uploader(
    req: &Request,
    stores: &SpinStores,
    who: &Principal,
) -> Result<(Tenant, Option<String>)> {
    who.require(Action::Upload)?;
    let tenant = tenant::load_tenant(&stores.data, &who.tenant)?;
    let marker = tenant::check_webhook(
        &stores.seen,
        &tenant,
        header(req, tenant::WEBHOOK_TIMESTAMP_HEADER).as_deref(),
        header(req, tenant::WEBHOOK_SIGNATURE_HEADER).as_deref(),
        req.body(),
        clock::now_secs(),
    )?;
    Ok((tenant, marker))
}

/// `POST /v1/vehicles` (an ERP record, mapped: through the tenant's mapper component if it has
/// one, then its mapping) or `POST /v1/ivi` (a ready file): the record admitted.
pub fn one(to: To, req: &Request, stores: &SpinStores, who: &Principal) -> Result<RecordView> {
    let (source, xml) = if let To::Ivi = to {
        spin_glue::require_content_type(req, "application/xml")?;
        pipeline::validate::check_size(req.body().len())?;
        let xml = std::str::from_utf8(req.body())
            .map_err(|e| Error::BadRequest(format!("the IVI file is not UTF-8: {e}")))?;
        (Source::Ivi, xml.to_owned())
    } else {
        let record: serde_json::Value = spin_glue::json_body(req)?;
        let (xml, whole) = record_to_xml(&record, stores, who)?;
        (if whole { Source::Ivi } else { Source::Json }, xml)
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

/// One ERP record as IVI XML, as the tenant maps it (`true`: its mapper wrote the whole document).
fn record_to_xml(
    record: &serde_json::Value,
    stores: &SpinStores,
    who: &Principal,
) -> Result<(String, bool)> {
    let tenant = tenant::load_tenant(&stores.data, &who.tenant)?;
    let mapper = spin_glue::tenant_mapper(&tenant)?;
    let mapping = tenant::stored_mapping(&stores.data, &who.tenant)?;
    mapper::record_to_xml(record, mapper.as_deref(), mapping.as_ref())
}

/// `POST /v1/tenant/mapping:preview`: the mapped XML of a record (with a mapping to try, or the
/// stored one) and what an upload of it would meet (`validate`'s checks, storing nothing):
/// `{"xml", "check": {"outcome", "findings", "drift", "note"}}`. A record the mapping refuses is a
/// 422 listing the mapping's errors.
pub fn preview(req: &Request, stores: &SpinStores, who: &Principal) -> Result<Reply> {
    who.require(Action::Upload)?;
    let tenant = tenant::load_tenant(&stores.data, &who.tenant)?;
    let (mapping, record) = match spin_glue::json_body(req)? {
        PreviewRequest::Try(t) => {
            let json =
                serde_json::to_vec(&t.mapping).map_err(|e| Error::Internal(e.to_string()))?;
            (
                Some(Mapping::from_json(&json).map_err(Error::Fields)?),
                t.record,
            )
        }
        PreviewRequest::Stored(record) => {
            (tenant::stored_mapping(&stores.data, &who.tenant)?, record)
        }
    };
    let mapper = spin_glue::tenant_mapper(&tenant)?;
    let (xml, _) = mapper::record_to_xml(&record, mapper.as_deref(), mapping.as_ref())?;
    let mapper = tenant.mapper;
    // Then every check a real upload meets, storing nothing.
    let check = spin_glue::call(&Check {
        tenant: who.tenant.clone(),
        xml: xml.clone(),
    })?;
    let mut answer = serde_json::json!({"xml": xml, "check": check});
    if let Some(id) = mapper {
        answer["mapper"] = serde_json::Value::String(id);
    }
    Ok(Reply::json(200, &answer))
}
