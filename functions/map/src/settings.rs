//! `/v1/tenant...`: the tenant's settings, mapping, type-approval records and tokens.

use pipeline::Result;
use pipeline::audit::{self, Change};
use pipeline::identity;
use pipeline::tenant::{self, Action, Principal, Setting};
use serde_json::json;
use spin_glue::{Params, Reply, SpinStores};
use spin_sdk::http::Request;

use crate::To;

pub fn answer(
    to: To,
    params: &Params<'_>,
    req: &Request,
    stores: &SpinStores,
    who: &Principal,
) -> Result<Reply> {
    let kv = &stores.data;
    let needs = |action| who.require(action);
    let change = |subject: &str, what: &str| Change::settings(&who.actor(), subject, what);
    match to {
        To::Tenant => needs(Action::View)
            .and_then(|()| tenant::load_tenant(kv, &who.tenant))
            .map(|t| Reply::json(200, &t)),
        To::PutTenant => {
            needs(Action::Manage)?;
            let settings: tenant::Tenant = spin_glue::document_body(req)?;
            // A mapper must be one the deployment declares, and it is checked now, not at upload.
            spin_glue::tenant_mapper(&settings)?;
            // So are the QTSP and NAPs its signer and destinations name.
            spin_glue::check_tenant_identity(&settings)?;
            let stored = tenant::update_tenant(kv, &who.tenant, &settings)?;
            let as_stored = serde_json::to_vec(&stored).unwrap_or_default();
            logged(stores, who, change("tenant", "updated").content(&as_stored))?;
            Ok(Reply::json(200, &stored))
        }
        To::Mapping => setting(who, stores, Setting::Mapping),
        To::Approvals => setting(who, stores, Setting::Approvals),
        To::PutMapping => {
            needs(Action::Manage)?;
            spin_glue::require_content_type(req, "application/json")?;
            tenant::save_mapping(kv, &who.tenant, req.body())?;
            logged(
                stores,
                who,
                change("mapping", "updated").content(req.body()),
            )?;
            Ok(Reply::json(200, &json!({"mapping": "stored"})))
        }
        To::PutApprovals => {
            needs(Action::Manage)?;
            spin_glue::require_content_type(req, "application/json")?;
            let count = tenant::save_approvals(kv, &who.tenant, req.body())?;
            let what = change("approvals", "updated").content(req.body());
            logged(stores, who, what.because(format!("{count} type approvals")))?;
            Ok(Reply::json(200, &json!({"approvals": count})))
        }
        To::Tokens => needs(Action::Manage)
            .and_then(|()| tenant::list_tokens(kv, &who.tenant))
            .map(|tokens| Reply::json(200, &json!({ "tokens": tokens }))),
        To::NewToken => {
            needs(Action::Manage)?;
            let asked: tenant::NewToken = spin_glue::json_body(req)?;
            let issued = tenant::issue_named_token(kv, &who.tenant, asked)?;
            let what = change(&format!("tokens/{}", issued.name), "created");
            logged(
                stores,
                who,
                what.because(format!("role {}", issued.role.name())),
            )?;
            Ok(Reply::json(201, &issued))
        }
        To::RevokeToken => {
            needs(Action::Manage)?;
            let name: String = params.get("name")?;
            tenant::revoke_token(kv, &who.tenant, &name)?;
            logged(stores, who, change(&format!("tokens/{name}"), "revoked"))?;
            Ok(Reply::json(200, &json!({ "revoked": name })))
        }
        To::Secrets => needs(Action::Manage)
            .and_then(|()| identity::list_secrets(kv, &who.tenant))
            .map(|secrets| Reply::json(200, &json!({ "secrets": secrets }))),
        To::PutSecret => {
            needs(Action::Manage)?;
            let name: String = params.get("name")?;
            let given: identity::NewSecret = spin_glue::json_body(req)?;
            let ring = spin_glue::key_ring()?.ok_or_else(|| {
                pipeline::Error::Config(
                    "the deployment has no sealing keys (variable `sealing_keys`): secrets cannot be stored"
                        .into(),
                )
            })?;
            let stored = identity::put_secret(kv, &ring, &who.tenant, &name, &given.value)?;
            // Which secret changed, never its value (nor a digest of it: secrets are guessable).
            logged(stores, who, change(&format!("secrets/{name}"), "updated"))?;
            Ok(Reply::json(200, &stored))
        }
        To::DeleteSecret => {
            needs(Action::Manage)?;
            let name: String = params.get("name")?;
            identity::delete_secret(kv, &who.tenant, &name)?;
            logged(stores, who, change(&format!("secrets/{name}"), "deleted"))?;
            Ok(Reply::json(200, &json!({ "deleted": name })))
        }
        _ => Err(pipeline::Error::Internal("not a settings route".into())),
    }
}

/// Puts a settings change made by `who` in the audit trail's queue (after the change: an entry
/// is never written for a change that did not happen).
fn logged(stores: &SpinStores, who: &Principal, change: Change) -> Result<()> {
    audit::queue_change(stores, &who.tenant, &change)
}

fn setting(who: &Principal, stores: &SpinStores, what: Setting) -> Result<Reply> {
    who.require(Action::View)?;
    let value = tenant::setting_json(&stores.data, &who.tenant, what)?;
    Ok(Reply::json(200, &value))
}
