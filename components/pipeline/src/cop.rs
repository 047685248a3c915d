//! The Conformity of Production export: for one type approval and a period, every vehicle that
//! got an eCoC under it, with the whole version history of each and who signed each version.
//!
//! A vehicle is in the export when one of its records under the approval was created in the
//! period; its history then holds every record under that approval, whenever made (a
//! correction after the period belongs to the vehicle's story).

use std::collections::BTreeMap;

use serde::Serialize;

use crate::kv::{KeyValue, Stores};
use crate::record::Record;
use crate::repo::{Repo, percent_decode, query_pairs};
use crate::{Error, Result, clock, ids, vin_index};

/// `GET /v1/cop` parameters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CopQuery {
    /// The type-approval number, exactly as on the eCoC (`e1*2007/46*1234*05`).
    pub approval: String,
    /// First day (YYYY-MM-DD, by creation), inclusive.
    pub from: Option<String>,
    /// Last day, inclusive.
    pub to: Option<String>,
    /// Answer as CSV rather than JSON.
    pub csv: bool,
}

impl CopQuery {
    /// Reads `approval=...&from=YYYY-MM-DD&to=YYYY-MM-DD&format=json|csv`.
    pub fn parse(query: &str) -> Result<Self> {
        let mut approval = None;
        let (mut from, mut to, mut csv) = (None, None, false);
        for (k, v) in query_pairs(query) {
            let v = percent_decode(v)?;
            match k {
                "approval" if !v.trim().is_empty() && v.len() <= 100 => approval = Some(v),
                "approval" => {
                    return Err(Error::BadRequest(
                        "approval must be a type-approval number (1-100 characters)".into(),
                    ));
                }
                "from" | "to" => {
                    if clock::parse_date(&v).is_none() {
                        return Err(Error::BadRequest(format!(
                            "{k} `{v}` must be a date YYYY-MM-DD"
                        )));
                    }
                    *(if k == "from" { &mut from } else { &mut to }) = Some(v);
                }
                "format" => {
                    csv = match v.as_str() {
                        "csv" => true,
                        "json" => false,
                        other => {
                            return Err(Error::BadRequest(format!(
                                "format `{other}` must be json or csv"
                            )));
                        }
                    }
                }
                other => {
                    return Err(Error::BadRequest(format!(
                        "unknown query parameter `{other}` (approval, from, to, format)"
                    )));
                }
            }
        }
        let approval = approval.ok_or_else(|| {
            Error::BadRequest("approval is required: the type-approval number to export".into())
        })?;
        Ok(Self {
            approval,
            from,
            to,
            csv,
        })
    }

    fn in_period(&self, day: &str) -> bool {
        self.from.as_deref().is_none_or(|f| day >= f) && self.to.as_deref().is_none_or(|t| day <= t)
    }
}

/// The export.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CopReport {
    /// The type approval.
    pub approval: String,
    /// The period's first day, if bounded.
    pub from: Option<String>,
    /// Its last day, if bounded.
    pub to: Option<String>,
    /// The vehicles, by VIN.
    pub vehicles: Vec<CopVehicle>,
}

/// One vehicle of the export.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CopVehicle {
    /// Its VIN.
    pub vin: String,
    /// Its eCoC records under the approval, oldest first.
    pub versions: Vec<CopVersion>,
}

/// One eCoC record of a vehicle.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CopVersion {
    /// The record id.
    pub id: String,
    /// `IviVersionNumber`.
    pub version: u32,
    /// `ManufacturerStageNumber`.
    pub stage: u32,
    /// Our status.
    pub status: String,
    /// The status as shown (the authority's name once it has one).
    pub status_name: String,
    /// Created (RFC 3339).
    pub created_at: String,
    /// Who signed it, once signed.
    pub signed_by: Option<String>,
    /// The authority's submission id, once delivered.
    pub submission_id: Option<String>,
    /// The destination, for a tenant that routes.
    pub destination: Option<String>,
}

impl From<&Record> for CopVersion {
    fn from(r: &Record) -> Self {
        Self {
            id: r.id.clone(),
            version: r.version,
            stage: r.stage,
            status: r.status.as_str().to_owned(),
            status_name: r.status_name().to_owned(),
            created_at: r.created_at.clone(),
            signed_by: r.signed_by.clone(),
            submission_id: r.receipt.as_ref().map(|x| x.submission_id.clone()),
            destination: r.destination.clone(),
        }
    }
}

/// The export of `tenant` for `query`. Only VINs with a record made in the period (record ids
/// carry their creation time) are read.
pub fn report<K: KeyValue>(
    stores: &Stores<K>,
    tenant: &str,
    query: &CopQuery,
) -> Result<CopReport> {
    let mut by_vin: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for (vin, id) in vin_index::by_vin_prefix(stores, tenant, "")? {
        by_vin.entry(vin).or_default().push(id);
    }
    let made_in_period = |id: &String| {
        ids::record_millis(id).is_some_and(|ms| query.in_period(&clock::date(ms / 1000)))
    };
    let repo = Repo::new(stores);
    let mut vehicles = Vec::new();
    for (vin, mut record_ids) in by_vin {
        if !record_ids.iter().any(made_in_period) {
            continue;
        }
        record_ids.sort();
        let mut records = Vec::new();
        for id in &record_ids {
            match repo.load(tenant, id) {
                Ok(r) if r.approval_number == query.approval => records.push(r),
                Ok(_) | Err(Error::NotFound(_)) => {}
                Err(e) => return Err(e),
            }
        }
        let in_period = records.iter().any(|r| {
            r.created_at
                .get(..10)
                .is_some_and(|day| query.in_period(day))
        });
        if in_period {
            records.sort_by(|a, b| {
                (a.version, a.stage, &a.created_at).cmp(&(b.version, b.stage, &b.created_at))
            });
            vehicles.push(CopVehicle {
                vin,
                versions: records.iter().map(CopVersion::from).collect(),
            });
        }
    }
    Ok(CopReport {
        approval: query.approval.clone(),
        from: query.from.clone(),
        to: query.to.clone(),
        vehicles,
    })
}

impl CopReport {
    /// The export as CSV: one row per eCoC record, the vehicle's VIN first.
    pub fn to_csv(&self) -> Result<Vec<u8>> {
        let mut out = csv::Writer::from_writer(Vec::new());
        let failed = |e: csv::Error| Error::Internal(format!("CoP export as CSV: {e}"));
        out.write_record([
            "approval",
            "vin",
            "id",
            "version",
            "stage",
            "status",
            "status_name",
            "created_at",
            "signed_by",
            "submission_id",
            "destination",
        ])
        .map_err(failed)?;
        for vehicle in &self.vehicles {
            for v in &vehicle.versions {
                out.write_record([
                    self.approval.as_str(),
                    &vehicle.vin,
                    &v.id,
                    &v.version.to_string(),
                    &v.stage.to_string(),
                    &v.status,
                    &v.status_name,
                    &v.created_at,
                    v.signed_by.as_deref().unwrap_or_default(),
                    v.submission_id.as_deref().unwrap_or_default(),
                    v.destination.as_deref().unwrap_or_default(),
                ])
                .map_err(failed)?;
            }
        }
        out.into_inner()
            .map_err(|e| Error::Internal(format!("CoP export as CSV: {e}")))
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::indexing_slicing, reason = "tests")]
    use super::*;
    use crate::record::{Status, sample};

    fn stored(
        stores: &Stores<crate::kv::MemoryKv>,
        at_ms: u64,
        vin: &str,
        approval: &str,
        version: u32,
    ) {
        let mut r = sample(&ids::record_id(at_ms).unwrap(), vin);
        r.approval_number = approval.into();
        r.version = version;
        r.created_at = clock::rfc3339(at_ms / 1000);
        r.status = Status::Succeeded;
        r.signed_by = Some("sandbox/p256-signer CN=Acme".into());
        Repo::new(stores).create(&mut r, b"<x/>").unwrap();
    }

    #[test]
    fn a_vehicle_made_in_the_period_comes_with_its_whole_history() {
        let stores = crate::kv::Stores::in_memory();
        let day = 1_764_720_000_000; // 2025-12-03
        let approval = "e4*2018/858*00123*01";
        stored(&stores, day, "WVWZZZ1JZXW000001", approval, 1);
        stored(
            &stores,
            day + 40 * 86_400_000,
            "WVWZZZ1JZXW000001",
            approval,
            2,
        );
        stored(&stores, day, "WVWZZZ1JZXW000002", "e1*other", 1);
        stored(
            &stores,
            day - 40 * 86_400_000,
            "WVWZZZ1JZXW000003",
            approval,
            1,
        );
        let q = CopQuery::parse(&format!(
            "approval={}&from=2025-12-01&to=2025-12-31",
            approval.replace('*', "%2A")
        ))
        .unwrap();
        let report = report(&stores, "acme", &q).unwrap();
        assert_eq!(report.vehicles.len(), 1, "{report:?}");
        let vehicle = &report.vehicles[0];
        assert_eq!(vehicle.vin, "WVWZZZ1JZXW000001");
        assert_eq!(
            vehicle
                .versions
                .iter()
                .map(|v| v.version)
                .collect::<Vec<_>>(),
            [1, 2],
            "the later correction belongs to the history"
        );
        assert!(
            vehicle.versions[0]
                .signed_by
                .as_deref()
                .unwrap()
                .contains("Acme")
        );
        let csv = String::from_utf8(report.to_csv().unwrap()).unwrap();
        assert_eq!(csv.lines().count(), 3, "{csv}");
        assert!(
            csv.lines()
                .nth(1)
                .unwrap()
                .starts_with("e4*2018/858*00123*01,WVWZZZ1JZXW000001,")
        );
    }

    #[test]
    fn the_approval_is_required_and_dates_are_checked() {
        let missing = CopQuery::parse("from=2026-01-01").unwrap_err();
        assert!(
            missing.to_string().contains("approval is required"),
            "{missing}"
        );
        let bad = CopQuery::parse("approval=x&to=2026-13-01").unwrap_err();
        assert!(bad.to_string().contains("to `2026-13-01`"), "{bad}");
        assert!(CopQuery::parse("approval=x&format=csv").unwrap().csv);
    }
}
