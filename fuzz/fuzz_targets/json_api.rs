//! Any bytes as a JSON API body: the strict reader, then each document a user sends (tenant
//! settings, a new tenant, type approvals, a mapping, a token, a secret). No panic; a body the strict
//! reader refuses is refused by every document.
#![no_main]
use pipeline::approvals::Approvals;
use pipeline::document::Document;
use pipeline::mapping::Mapping;
use pipeline::tenant::{NewTenant, NewToken, Tenant};

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let strict = pipeline::json::parse(data);
    let tenant = Tenant::from_json(data);
    let new_tenant = NewTenant::from_json(data);
    let approvals = Approvals::from_json(data);
    let mapping = Mapping::from_json(data);
    if strict.is_err() {
        assert!(tenant.is_err() && new_tenant.is_err() && approvals.is_err() && mapping.is_err());
        return;
    }
    if let Ok(tenant) = tenant {
        // The id comes from the path in the service, so only "no panic" holds here.
        let _ = tenant.check();
    }
    let value = strict.unwrap_or_default();
    let _ = serde_json::from_value::<NewToken>(value.clone());
    let _ = serde_json::from_value::<pipeline::identity::NewSecret>(value);
});
