//! `POST /v1/admin/...`: for the operator (the `admin_token` variable), and for schedulers outside
//! the host (Spin, SpinKube), the timers' calls made public.

use pipeline::audit::{self, Change};
use pipeline::calls::{Digest, Sweep};
use pipeline::tenant::{self, NewTenant};
use pipeline::{Error, Result};
use spin_glue::{Reply, SpinStores, header};
use spin_sdk::http::Request;

/// The admin routes.
#[derive(Debug, Clone, Copy)]
pub enum To {
    CreateTenant,
    Digest,
    Sweep,
    Reseal,
}

pub fn answer(to: To, req: &Request, stores: &SpinStores) -> Result<Reply> {
    require_admin(req)?;
    match to {
        To::CreateTenant => {
            let asked: NewTenant = spin_glue::document_body(req)?;
            let created = tenant::create_named_tenant(&stores.data, asked)?;
            let settings = serde_json::to_vec(&created.tenant).unwrap_or_default();
            let change = Change::settings("admin", "tenant", "created")
                .because(format!("first token `{}` (primary)", created.token_name))
                .content(&settings);
            audit::queue_change(stores, &created.tenant.id, &change)?;
            Ok(Reply::json(201, &created))
        }
        To::Digest => {
            // `?date=YYYY-MM-DD` (curl from a CronJob), else a JSON body, else today.
            let date = req
                .query()
                .split('&')
                .find_map(|pair| pair.strip_prefix("date="))
                .map(str::to_owned);
            let call = match date {
                Some(date) => Digest { date: Some(date) },
                None => spin_glue::call_body(req)?,
            };
            Ok(Reply::json(200, &spin_glue::call(&call)?))
        }
        To::Sweep => Ok(Reply::json(200, &spin_glue::call(&Sweep {})?)),
        To::Reseal => {
            let ring = spin_glue::key_ring()?.ok_or_else(|| {
                Error::Config("the deployment has no sealing keys (variable `sealing_keys`)".into())
            })?;
            let count = pipeline::identity::reseal_all(&stores.data, &ring)?;
            Ok(Reply::json(
                200,
                &serde_json::json!({ "resealed": count, "key_id": ring.current() }),
            ))
        }
    }
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
