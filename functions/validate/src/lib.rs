//! `validate` (private): what a file must pass before anything is stored or signed.
//!
//! - `POST /admit` ([`pipeline::calls::Admit`]) -> 201 the new record, or the refusal (422 with
//!   every field error, 409 duplicate, 413 too large).
//! - `POST /admit-batch` ([`pipeline::calls::AdmitBatch`]) -> 200 one outcome per file
//!   ([`pipeline::calls::Admitted`]): one schema compile for many files (CSV batches).
//! - `POST /check` ([`pipeline::calls::Check`]) -> 200 what an upload would meet
//!   ([`pipeline::calls::Checked`]), storing nothing (the mapping preview).

#![allow(
    unsafe_code,
    reason = "the #[http_component] macro generates the unsafe export glue"
)]

use ivi::profile::ProfileValidator;
use pipeline::approvals::Approvals;
use pipeline::calls::{Admit, AdmitBatch, Call, Check, Retrieve, Retrieved};
use pipeline::validate::{self, Authority, Candidate};
use pipeline::{Error, Result, clock};
use spin_glue::{Reply, SpinStores, reply};
use spin_sdk::http::{Request, ResponseOutparam};
use spin_sdk::http_component;

mod official {
    include!(concat!(env!("OUT_DIR"), "/official_schema.rs"));
}

/// Pre-initialisation: `ecoc preinit` runs this export once at build time and snapshots the
/// instance, so every request starts with both profiles' schemas already compiled (compiling the
/// official set is most of an uncompiled `/admit`'s time). A component that was not pre-initialised
/// compiles the schema its request needs, as before.
mod preinit {
    spin_sdk::wit_bindgen::generate!({
        inline: "package ecoc:preinit; world preinit { export wizer-initialize: func(); }",
        runtime_path: "spin_sdk::wit_bindgen::rt",
    });

    struct Preinit;

    impl Guest for Preinit {
        fn wizer_initialize() {
            for profile in [ivi::Profile::Eu, ivi::Profile::Uk] {
                // A profile that cannot compile (no official XSD embedded) is compiled, and
                // refused, per request as before.
                let _ = super::with_checker(profile, |_| ());
            }
        }
    }

    export!(Preinit);
}

thread_local! {
    /// Compiled schemas of this instance (or of its pre-initialised snapshot), per profile.
    static CHECKERS: std::cell::RefCell<Vec<(ivi::Profile, &'static ProfileValidator)>> =
        const { std::cell::RefCell::new(Vec::new()) };
}

/// Runs `f` with the compiled schema of `profile`, compiling it on first use in this instance.
fn with_checker<T>(profile: ivi::Profile, f: impl FnOnce(&ProfileValidator) -> T) -> Result<T> {
    Ok(f(checker(profile)?))
}

/// The compiled schema of `profile`, compiled on first use in this instance.
fn checker(profile: ivi::Profile) -> Result<&'static ProfileValidator> {
    let known = CHECKERS.with_borrow(|c| c.iter().find(|(p, _)| *p == profile).map(|(_, v)| *v));
    if let Some(v) = known {
        return Ok(v);
    }
    let compiled = ProfileValidator::from_sources(profile, official::OFFICIAL).map_err(|e| {
        Error::Config(format!(
            "{e}; build the validate component with ECOC_IVI2_XSD set to the official ivi-2.0.xsd"
        ))
    })?;
    // Kept for the instance's life (a request, or the snapshot's every request).
    let leaked: &'static ProfileValidator = Box::leak(Box::new(compiled));
    CHECKERS.with_borrow_mut(|c| c.push((profile, leaked)));
    Ok(leaked)
}

#[http_component]
fn handle(req: Request, out: ResponseOutparam) {
    let result = match req.path() {
        Admit::PATH => admit(&req),
        AdmitBatch::PATH => admit_batch(&req),
        Check::PATH => check(&req),
        other => Err(Error::NotFound(format!("validate has no route {other}"))),
    };
    spin_glue::respond(out, reply("validate", result));
}

/// The compiled schemas an admission of the tenant needs: its profile's, and the other one's when
/// its routing table sends files to a destination of the other kind (the VCA takes `uk`, an EU
/// NAP `eu`).
type Checkers = (&'static ProfileValidator, Option<&'static ProfileValidator>);

/// What every admission needs: the tenant's approvals and the compiled schemas of its profiles.
fn with_tenant<T>(
    tenant: &str,
    f: impl FnOnce(&SpinStores, &Approvals, Checkers) -> T,
) -> Result<T> {
    let stores = spin_glue::stores();
    let tenant = pipeline::tenant::load_tenant(&stores.data, tenant)?;
    let approvals = pipeline::tenant::load_approvals(&stores.data, &tenant.id)?;
    let profile: ivi::Profile = tenant
        .profile
        .parse()
        .map_err(|e| Error::Config(format!("tenant {}: {e}", tenant.id)))?;
    let other = tenant
        .destinations
        .iter()
        .filter(|d| tenant.routes.iter().any(|r| r.to == d.id))
        .map(|d| d.adapter.profile())
        .find(|p| *p != profile);
    let also = other.map(checker).transpose()?;
    Ok(f(&stores, &approvals, (checker(profile)?, also)))
}

/// Asks `submit` for an earlier stage at the authority, through the tenant's own destinations.
fn from_authority(tenant: &str) -> impl Fn(&str, u32) -> Result<Retrieved> + '_ {
    move |vin, stage| {
        spin_glue::call(&Retrieve {
            tenant: tenant.to_owned(),
            vin: vin.to_owned(),
            stage,
        })
    }
}

fn admit(req: &Request) -> Result<Reply> {
    let call: Admit = spin_glue::json_body(req)?;
    let retrieve = from_authority(&call.tenant);
    let candidate = Candidate {
        tenant: &call.tenant,
        actor: &call.actor,
        source: call.source,
        xml: call.xml.as_bytes(),
        leased: call.leased,
        authority: Some(Authority(&retrieve)),
        also: None,
    };
    let record = with_tenant(&call.tenant, |stores, approvals, (checker, also)| {
        let candidate = Candidate { also, ..candidate };
        validate::admit_or_reject(stores, checker, approvals, candidate, clock::now_millis())
    })??;
    Ok(Reply::json(201, &record.to_view()))
}

fn admit_batch(req: &Request) -> Result<Reply> {
    let call: AdmitBatch = spin_glue::json_body(req)?;
    let retrieve = from_authority(&call.tenant);
    let base = Candidate {
        tenant: &call.tenant,
        actor: &call.actor,
        source: call.source,
        xml: b"",
        leased: call.leased,
        authority: Some(Authority(&retrieve)),
        also: None,
    };
    let admitted = with_tenant(&call.tenant, |stores, approvals, (checker, also)| {
        validate::admit_all(
            stores,
            checker,
            approvals,
            Candidate { also, ..base },
            &call.items,
            &clock::now_millis,
        )
    })?;
    Ok(Reply::json(200, &admitted))
}

fn check(req: &Request) -> Result<Reply> {
    let call: Check = spin_glue::json_body(req)?;
    let retrieve = from_authority(&call.tenant);
    let checked = with_tenant(&call.tenant, |stores, approvals, checkers| {
        validate::preview(
            stores,
            checkers,
            approvals,
            (&call.tenant, Some(Authority(&retrieve))),
            call.xml.as_bytes(),
        )
    })??;
    Ok(Reply::json(200, &checked))
}
