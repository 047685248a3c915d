//! Every key-value key the pipeline reads or writes, built here and nowhere else.
//!
//! | label | key | value |
//! |---|---|---|
//! | `default` | [`tenant`] `tenant/{id}` | tenant settings |
//! | `default` | [`token`] `token/{sha256(token)}`, [`tokens`] `t/{id}/tokens` | token holder and role; the token list |
//! | `default` | [`mapping`] `t/{id}/mapping`, [`approvals`] `t/{id}/approvals` | ERP mapping; type-approval records |
//! | `default` | [`secrets`] `t/{id}/secrets` | the tenant's secrets, sealed ([`crate::identity`]) |
//! | `default` | [`record`] `t/{id}/r/{record}`, [`xml`] `t/{id}/x/{record}/{mapped,signed}` | the record; its XML |
//! | `default` | [`duplicate_holder`] `t/{id}/dup/{VIN}/{version}/{stage}` | the record holding a duplicate key |
//! | `default` | [`NAP_OUTAGE`] | when the NAP was first seen failing |
//! | `default` | [`HEALTH_PROBE`] | read by the health check, never written |
//! | `claims` | [`claim`] `{tenant}/{key}/{holder}` | in-flight claims (duplicate keys, digest markers, the sweep lock) |
//! | `work` | [`work`] `{tenant}/{record}` | due time (Unix seconds) of a record that still needs work |
//! | `vins` | [`vin_entry`] `{tenant}/{VIN}/{record}` | a new record's VIN, until the sweep folds it into the index |
//! | `default` | [`index_directory`] `t/{id}/ix/{vin,new}`, [`index_bucket`] `t/{id}/ix/{vin,new}/{n}` | the VIN index by VIN and by creation ([`crate::vin_index`]) |
//! | `failures` | [`failure`] `{date}/{tenant}/{record}` | the day's failures, for the digest |
//! | `seen` | [`webhook_seen`] `{tenant}/{timestamp}/{sha256(signature)}` | a webhook signature already used (its `ecoc-timestamp`) |
//! | `audit` | [`audit_pending`] `{tenant}/{at}/{what}` | an event or settings change not yet in the chain |
//! | `default` | [`audit_entry`] `t/{id}/audit/e/{seq}`, [`audit_head`] `t/{id}/audit/head` | the tenant's audit chain and its last entry |
//! | `default` | [`audit_chained`] `t/{id}/audit/done/{source}`, [`audit_checkpoints`] `t/{id}/audit/checkpoints` | pending keys already chained; signed checkpoints |
//! | `default` | [`AUDIT_TENANTS`], [`AUDIT_DAILY`] | tenants with a chain; the day of the last daily checkpoints |
//!
//! Tenant ids and record ids never contain `/` ([`crate::tenant::valid_tenant_id`],
//! [`crate::ids::is_record_id`]), so the `split_*` readers below are unambiguous.

/// `tenant/{id}`: a tenant's settings.
pub fn tenant(id: &str) -> String {
    format!("tenant/{id}")
}

/// `token/{hash}`: who holds the token whose SHA-256 is `hash`.
pub fn token(hash: &str) -> String {
    format!("token/{hash}")
}

/// `t/{tenant}/tokens`: the tenant's token list (names, roles, hashes).
pub fn tokens(tenant: &str) -> String {
    format!("t/{tenant}/tokens")
}

/// `t/{tenant}/mapping`: the tenant's ERP mapping (JSON as the primary user stored it).
pub fn mapping(tenant: &str) -> String {
    format!("t/{tenant}/mapping")
}

/// `t/{tenant}/approvals`: the tenant's type-approval records.
pub fn approvals(tenant: &str) -> String {
    format!("t/{tenant}/approvals")
}

/// `t/{tenant}/secrets`: the tenant's stored secrets, sealed, by name.
pub fn secrets(tenant: &str) -> String {
    format!("t/{tenant}/secrets")
}

/// The tenant of a [`secrets`] key.
pub fn split_secrets(key: &str) -> Option<&str> {
    key.strip_prefix("t/")?
        .strip_suffix("/secrets")
        .filter(|t| !t.contains('/'))
}

/// `{tenant}/{timestamp}/{hash}` (store `seen`): a used webhook signature whose SHA-256 is `hash`,
/// sent with `ecoc-timestamp` `timestamp` (Unix seconds).
pub fn webhook_seen(tenant: &str, timestamp: u64, signature_hash: &str) -> String {
    format!("{tenant}/{timestamp}/{signature_hash}")
}

/// The timestamp of a [`webhook_seen`] key.
pub fn webhook_seen_timestamp(key: &str) -> Option<u64> {
    let mut parts = key.splitn(3, '/');
    parts.next()?;
    let timestamp = parts.next()?.parse().ok()?;
    parts.next()?;
    Some(timestamp)
}

/// `t/{tenant}/r/{id}`: a record.
pub fn record(tenant: &str, id: &str) -> String {
    format!("t/{tenant}/r/{id}")
}

/// `t/{tenant}/x/{id}/{which}`: a record's XML (`mapped` or `signed`).
pub fn xml(tenant: &str, id: &str, which: &str) -> String {
    format!("t/{tenant}/x/{id}/{which}")
}

/// `{VIN}/{version}/{stage}`: the VCA duplicate key, as part of other keys.
pub fn duplicate_key(vin: &str, version: u32, stage: u32) -> String {
    format!("{vin}/{version}/{stage}")
}

/// The duplicate key of a file for one destination of a tenant that routes
/// ([`crate::identity::targets`]): `{VIN}/{version}/{stage}/{destination}`; without a destination,
/// the [`duplicate_key`].
pub fn destination_key(vin: &str, version: u32, stage: u32, destination: Option<&str>) -> String {
    match destination {
        Some(d) => format!("{vin}/{version}/{stage}/{d}"),
        None => duplicate_key(vin, version, stage),
    }
}

/// The parts of a [`duplicate_key`]: VIN, version, stage (as text; missing parts empty).
pub fn split_duplicate_key(key: &str) -> (&str, &str, &str) {
    let (vin, rest) = key.split_once('/').unwrap_or((key, ""));
    let (version, rest) = rest.split_once('/').unwrap_or((rest, ""));
    let stage = rest.split_once('/').map_or(rest, |(stage, _)| stage);
    (vin, version, stage)
}

/// The destination of a [`destination_key`], if it names one.
pub fn split_destination(key: &str) -> Option<&str> {
    key.splitn(4, '/').nth(3)
}

/// `t/{tenant}/dup/{key}`: the record (or run) holding a claimed key.
pub fn duplicate_holder(tenant: &str, key: &str) -> String {
    format!("t/{tenant}/dup/{key}")
}

/// `digest/{date}`: the claim key of one tenant's digest of one day.
pub fn digest_marker(date: &str) -> String {
    format!("digest/{date}")
}

/// The owner and claim key of the sweep's single-flight lock (a claim like any other).
pub const SWEEP_LOCK: (&str, &str) = ("_ecoc", "sweep");

/// The owner and claim key of the VIN index's fold lock ([`crate::vin_index::fold`]): one writer.
pub const VIN_INDEX_LOCK: (&str, &str) = ("_ecoc", "vin-index");

/// The owner and claim key of the audit chainer's lock: one writer of every chain at a time.
pub const AUDIT_LOCK: (&str, &str) = ("_ecoc", "audit");

/// `{tenant}/{at}/{what}`: an audit event waiting to be chained (store `audit`); `what` is
/// `r/{record}/{event index}` or `s/{time-ordered id}`.
pub fn audit_pending(tenant: &str, at: &str, what: &str) -> String {
    format!("{tenant}/{at}/{what}")
}

/// Tenant and source (`{at}/{what}`) of an [`audit_pending`] key.
pub fn split_audit_pending(key: &str) -> Option<(&str, &str)> {
    key.split_once('/')
}

/// `t/{tenant}/audit/e/{seq}`: entry `seq` of a tenant's audit chain (zero-padded, 1 first).
pub fn audit_entry(tenant: &str, seq: u64) -> String {
    format!("t/{tenant}/audit/e/{seq:012}")
}

/// `t/{tenant}/audit/head`: the last entry of the chain (`{"seq", "hash"}`).
pub fn audit_head(tenant: &str) -> String {
    format!("t/{tenant}/audit/head")
}

/// `t/{tenant}/audit/done/{source}`: the seq a pending audit key was chained as, so a key written
/// again (a save retried after a crash) is not chained twice.
pub fn audit_chained(tenant: &str, source: &str) -> String {
    format!("t/{tenant}/audit/done/{source}")
}

/// `t/{tenant}/audit/checkpoints`: the signed checkpoints of the chain, oldest first.
pub fn audit_checkpoints(tenant: &str) -> String {
    format!("t/{tenant}/audit/checkpoints")
}

/// `audit/tenants`: the tenants that have an audit chain (for the daily checkpoints).
pub const AUDIT_TENANTS: &str = "audit/tenants";

/// `audit/daily`: the UTC day the daily checkpoints were last made.
pub const AUDIT_DAILY: &str = "audit/daily";

/// `health-probe`: the key `GET /v1/health` reads to show the store answers (never written).
pub const HEALTH_PROBE: &str = "health-probe";

/// `nap/outage`: set when a delivery fails for a reason that may pass.
pub const NAP_OUTAGE: &str = "nap/outage";

/// `{tenant}/{key}/`: the prefix of every claim on `key` (store `claims`).
pub fn claim_prefix(tenant: &str, key: &str) -> String {
    format!("{tenant}/{key}/")
}

/// `{tenant}/{key}/{holder}`: one claim (store `claims`).
pub fn claim(tenant: &str, key: &str, holder: &str) -> String {
    format!("{tenant}/{key}/{holder}")
}

/// `{tenant}/{id}`: a record that still needs work (store `work`).
pub fn work(tenant: &str, id: &str) -> String {
    format!("{tenant}/{id}")
}

/// Tenant and record of a [`work`] key.
pub fn split_work(key: &str) -> Option<(&str, &str)> {
    key.split_once('/')
}

/// `t/{tenant}/ix/{name}`: the directory of one of the tenant's sorted indexes
/// ([`crate::vin_index::SortedIndex`]).
pub fn index_directory(tenant: &str, name: &str) -> String {
    format!("t/{tenant}/ix/{name}")
}

/// `t/{tenant}/ix/{name}/{bucket}`: one bucket of a sorted index, its entries one per line.
pub fn index_bucket(tenant: &str, name: &str, bucket: u64) -> String {
    format!("t/{tenant}/ix/{name}/{bucket}")
}

/// `{tenant}/{VIN}/{id}`: a record's VIN entry not yet folded into the VIN index (store `vins`,
/// [`crate::vin_index`]).
pub fn vin_entry(tenant: &str, vin: &str, id: &str) -> String {
    format!("{tenant}/{vin}/{id}")
}

/// `{tenant}/{VIN}/`: the prefix of a VIN's index entries.
pub fn vin_prefix(tenant: &str, vin: &str) -> String {
    format!("{tenant}/{vin}/")
}

/// `{tenant}/`: the prefix of a tenant's entries in an index keyed by tenant first.
pub fn tenant_prefix(tenant: &str) -> String {
    format!("{tenant}/")
}

/// VIN and record of a [`vin_entry`] key of `tenant`.
pub fn split_vin_entry<'k>(key: &'k str, tenant: &str) -> Option<(&'k str, &'k str)> {
    key.strip_prefix(tenant)?.strip_prefix('/')?.split_once('/')
}

/// `{date}/{tenant}/{id}`: a record that failed or was rejected on `date` (store `failures`).
pub fn failure(date: &str, tenant: &str, id: &str) -> String {
    format!("{date}/{tenant}/{id}")
}

/// Tenant and record of a [`failure`] key of `date`.
pub fn split_failure<'k>(key: &'k str, date: &str) -> Option<(&'k str, &'k str)> {
    key.strip_prefix(date)?.strip_prefix('/')?.split_once('/')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn index_keys_read_back() {
        assert_eq!(split_work(&work("acme", "r01")), Some(("acme", "r01")));
        let vin = vin_entry("acme", "WVWZZZ1JZXW000001", "r01");
        assert_eq!(
            split_vin_entry(&vin, "acme"),
            Some(("WVWZZZ1JZXW000001", "r01"))
        );
        assert_eq!(
            split_vin_entry(&vin, "acm"),
            None,
            "no prefix match across tenants"
        );
        let failed = failure("2026-12-02", "acme", "r01");
        assert_eq!(split_failure(&failed, "2026-12-02"), Some(("acme", "r01")));
        assert_eq!(split_failure(&failed, "2026-12-0"), None);
        let dup = duplicate_key("WVWZZZ1JZXW000001", 2, 1);
        assert_eq!(split_duplicate_key(&dup), ("WVWZZZ1JZXW000001", "2", "1"));
        assert_eq!(split_destination(&dup), None);
        let routed = destination_key("WVWZZZ1JZXW000001", 2, 1, Some("rdw"));
        assert_eq!(
            split_duplicate_key(&routed),
            ("WVWZZZ1JZXW000001", "2", "1")
        );
        assert_eq!(split_destination(&routed), Some("rdw"));
        assert!(claim("acme", &dup, "r01").starts_with(&claim_prefix("acme", &dup)));
        let pending = audit_pending("acme", "2026-12-03T05:00:00Z", "r/r01/00002");
        assert_eq!(
            split_audit_pending(&pending),
            Some(("acme", "2026-12-03T05:00:00Z/r/r01/00002"))
        );
        assert!(
            audit_entry("acme", 2) < audit_entry("acme", 10),
            "entries sort by seq"
        );
    }
}
