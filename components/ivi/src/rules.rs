//! Domain rules beyond the XSD.
//!
//! Each rule has a stable code (`IVI-<AREA>-<NNN>`; codes are never reused) and a message that names the
//! field. The XSD checks shape and code lists; these rules check what it cannot say. Sources: the
//! EUCARIS setup manual v1.5 ("Multistage vehicles", "How to enter stage information"), the VCA's
//! approval-number conventions (`g11*`, `n11*`, `e11*`), ISO 3779 (VIN).
//!
//! | code | rule |
//! |---|---|
//! | `IVI-VIN-001` | the VIN has 17 characters |
//! | `IVI-VIN-002` | the VIN uses only `A-H J-N P R-Z 0-9` (no I, O, Q) |
//! | `IVI-TAN-001` | an EU-type approval number has the profile's shape: `e<n>*<act>*<seq>*<ext>` (eu, not `e11`); uk: `g11*` (GB), `n11*` (UK(NI)), retained `e11*`, and EU `e<n>*` (still valid in Northern Ireland) |
//! | `IVI-TAN-002` | the approval number's country is `DesignatedTypeApprovalCountry` |
//! | `IVI-TAC-001` | `DesignatedTypeApprovalCountry` is allowed in the profile (`e11`, `g11`, `n11` only for `uk`) |
//! | `IVI-STG-001` | stage 1 is `StageOfCompletion` I or C |
//! | `IVI-STG-002` | a later stage is `StageOfCompletion` V or I |
//! | `IVI-STG-003` | a later stage carries all four `PreviousStage*` fields |
//! | `IVI-STG-004` | a later stage differs from the previous in approval number, variant or version |
//! | `IVI-STG-005` | stage 1 carries no `PreviousStage*` field |
//! | `IVI-MAS-001` | `TechnicallyPermissibleMaximumLadenMass` >= `MassInRunningOrder` |
//! | `IVI-MAS-002` | the axles' `TechnicallyPermissibleMassAxle` add up to at least the TPMLM |
//! | `IVI-MAS-003` | no axle's `TechnicallyPermissibleMassAxle` exceeds the TPMLM |
//! | `IVI-MAS-004` | the axles' `DistributionMassRunningOrderAxle` add up to `MassInRunningOrder` (±1 kg per axle) |
//! | `IVI-GRP-001` | categories M, N, O, L carry `GeneralConstructionGroup`, `MassGroup` and `DimensionGroup` |
//! | `IVI-DAT-001` | no date lies in the future |
//!
//! Between two stages of one vehicle ([`check_stage_pair`]): the `IVI-STG-01x` findings mean the later
//! file does not continue the earlier one; the `IVI-DRF-*` findings mean its masses or dimensions left
//! the range the earlier stage declared, and the record is held for an explicit sign-off (the
//! `validate` step in `components/pipeline`).
//!
//! | code | rule |
//! |---|---|
//! | `IVI-STG-010` | both stages carry the same VIN |
//! | `IVI-STG-011` | the later stage is the next stage number |
//! | `IVI-STG-012` | the later stage's `PreviousStage*` fields are the earlier stage's approval, type, variant and version |
//! | `IVI-DRF-001` | the later TPMLM does not exceed the earlier TPMLM |
//! | `IVI-DRF-002` | the later mass in running order lies between the earlier `MinimumMassCompleted` / `MassInRunningOrderIncomplete` and the earlier TPMLM |
//! | `IVI-DRF-003` | the later length, width and height do not exceed the earlier `MaximumPermissible*` dimensions |

use crate::model::{Date, StageOfCompletion, TypeApprovalCountry, TypeApprovalType};
use crate::{Ivi, Profile};

/// One rule broken.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Finding {
    /// Stable rule code, e.g. `IVI-VIN-002`.
    pub code: &'static str,
    /// The field, as an element path under `CocDataGroup` or `Header`.
    pub field: String,
    /// What is wrong, naming the field and the value.
    pub message: String,
}

impl std::fmt::Display for Finding {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}: {}", self.code, self.field, self.message)
    }
}

/// Checks every rule with today's date (UTC).
pub fn check(ivi: &Ivi, profile: Profile) -> Vec<Finding> {
    check_at(ivi, profile, Date::today())
}

/// Checks every rule as of `today`.
pub fn check_at(ivi: &Ivi, profile: Profile, today: Date) -> Vec<Finding> {
    let mut out = Vec::new();
    let mut add = |code: &'static str, field: &str, message: String| {
        out.push(Finding {
            code,
            field: field.to_owned(),
            message,
        });
    };
    let coc = &ivi.coc;

    // VIN (ISO 3779: 17 characters from [A-HJ-NPR-Z0-9]; I, O and Q never appear).
    let vin = &coc.vehicle_identification_number;
    let f = "CocDataGroup/VehicleIdentificationNumber";
    if vin.chars().count() != 17 {
        add(
            "IVI-VIN-001",
            f,
            format!(
                "VehicleIdentificationNumber `{vin}` has {} characters, not 17",
                vin.chars().count()
            ),
        );
    }
    let bad: String = vin
        .chars()
        .filter(|c| !matches!(c, 'A'..='H' | 'J'..='N' | 'P' | 'R'..='Z' | '0'..='9'))
        .collect();
    if !bad.is_empty() {
        add(
            "IVI-VIN-002",
            f,
            format!(
                "VehicleIdentificationNumber `{vin}` contains `{bad}`; only A-H, J-N, P, R-Z and 0-9 are allowed"
            ),
        );
    }

    // Approval country and number.
    let country = ivi.header.designated_type_approval_country;
    let uk_only = matches!(
        country,
        TypeApprovalCountry::E11 | TypeApprovalCountry::G11 | TypeApprovalCountry::N11
    );
    if profile == Profile::Eu && uk_only {
        add(
            "IVI-TAC-001",
            "Header/DesignatedTypeApprovalCountry",
            format!(
                "DesignatedTypeApprovalCountry `{country}` is a UK approval country, not allowed in profile eu"
            ),
        );
    }
    let tan = &coc.type_approval_number;
    let f = "CocDataGroup/TypeApprovalNumber";
    match approval_country(tan, profile) {
        Some(prefix) if prefix != country.as_str() => {
            add(
                "IVI-TAN-002",
                f,
                format!(
                    "TypeApprovalNumber `{tan}` is issued by `{prefix}` but DesignatedTypeApprovalCountry is `{country}`"
                ),
            );
        }
        Some(_) => {}
        None if coc.type_approval_type == TypeApprovalType::EU => {
            let shape = match profile {
                Profile::Eu => "e<n>*<act>*<seq>*<ext>, e.g. e4*2018/858*00123*01",
                Profile::Uk => "g11*, n11* or e<n>*<act>*<seq>*<ext>, e.g. g11*2018/858*00123*00",
            };
            add(
                "IVI-TAN-001",
                f,
                format!(
                    "TypeApprovalNumber `{tan}` does not have the shape {shape} (profile {profile})"
                ),
            );
        }
        None => {}
    }

    // Stages (setup manual v1.5, "How to enter stage information").
    let stage = ivi.stage().unwrap_or(1);
    let group = coc
        .manufacturer_table
        .iter()
        .find(|m| m.manufacturer_stage_number == stage);
    let soc = coc.stage_of_completion;
    let f = "CocDataGroup/StageOfCompletion";
    if stage <= 1 {
        if !matches!(soc, StageOfCompletion::I | StageOfCompletion::C) {
            add(
                "IVI-STG-001",
                f,
                format!(
                    "StageOfCompletion `{soc}` at stage 1; stage 1 is I (incomplete) or C (complete)"
                ),
            );
        }
        if let Some(g) = group {
            let prev = [
                g.previous_stage_type_approval_number.is_some(),
                g.previous_stage_type.is_some(),
                g.previous_stage_variant.is_some(),
                g.previous_stage_version.is_some(),
            ];
            if prev.iter().any(|p| *p) {
                add("IVI-STG-005", "CocDataGroup/ManufacturerTable/ManufacturerGroup", "stage 1 carries PreviousStage* fields; only a later stage names a previous one".into());
            }
        }
    } else {
        if !matches!(soc, StageOfCompletion::V | StageOfCompletion::I) {
            add(
                "IVI-STG-002",
                f,
                format!(
                    "StageOfCompletion `{soc}` at stage {stage}; a later stage is V (completed) or I (still incomplete)"
                ),
            );
        }
        let f = "CocDataGroup/ManufacturerTable/ManufacturerGroup";
        match group {
            None => add(
                "IVI-STG-003",
                f,
                format!("no ManufacturerGroup for stage {stage}"),
            ),
            Some(g) => {
                let fields = [
                    (
                        "PreviousStageTypeApprovalNumber",
                        &g.previous_stage_type_approval_number,
                    ),
                    ("PreviousStageType", &g.previous_stage_type),
                    ("PreviousStageVariant", &g.previous_stage_variant),
                    ("PreviousStageVersion", &g.previous_stage_version),
                ];
                let missing: Vec<&str> = fields
                    .iter()
                    .filter(|(_, v)| v.as_deref().is_none_or(str::is_empty))
                    .map(|(n, _)| *n)
                    .collect();
                if !missing.is_empty() {
                    add(
                        "IVI-STG-003",
                        f,
                        format!("stage {stage} lacks {}", missing.join(", ")),
                    );
                }
                let same = |prev: &Option<String>, now: &str| prev.as_deref() == Some(now);
                if same(&g.previous_stage_type_approval_number, tan)
                    && same(&g.previous_stage_variant, &coc.variant)
                    && same(&g.previous_stage_version, &coc.version)
                {
                    add(
                        "IVI-STG-004",
                        f,
                        format!(
                            "stage {stage} repeats the previous stage's TypeApprovalNumber `{tan}`, Variant `{}` and Version `{}`; at least one must differ",
                            coc.variant, coc.version
                        ),
                    );
                }
            }
        }
    }

    // Masses.
    if let Some(m) = &coc.mass_group {
        let tpmlm = m.technically_permissible_maximum_laden_mass;
        if let (Some(t), Some(miro)) = (tpmlm, m.mass_in_running_order)
            && t < miro
        {
            add(
                "IVI-MAS-001",
                "CocDataGroup/MassGroup/TechnicallyPermissibleMaximumLadenMass",
                format!(
                    "TechnicallyPermissibleMaximumLadenMass {t} kg is below MassInRunningOrder {miro} kg"
                ),
            );
        }
        let axles = coc.axle_table.as_deref().unwrap_or_default();
        if let Some(t) = tpmlm {
            let masses: Vec<u32> = axles
                .iter()
                .filter_map(|a| a.technically_permissible_mass_axle)
                .collect();
            if !masses.is_empty() && masses.len() == axles.len() {
                let sum: u32 = masses.iter().sum();
                if sum < t {
                    add(
                        "IVI-MAS-002",
                        "CocDataGroup/AxleTable",
                        format!(
                            "TechnicallyPermissibleMassAxle adds up to {sum} kg, below TechnicallyPermissibleMaximumLadenMass {t} kg"
                        ),
                    );
                }
            }
            for a in axles {
                if let Some(am) = a.technically_permissible_mass_axle
                    && am > t
                {
                    add(
                        "IVI-MAS-003",
                        "CocDataGroup/AxleTable/AxleGroup/TechnicallyPermissibleMassAxle",
                        format!(
                            "axle {}: TechnicallyPermissibleMassAxle {am} kg exceeds TechnicallyPermissibleMaximumLadenMass {t} kg",
                            a.axle_number
                        ),
                    );
                }
            }
        }
        if let Some(miro) = m.mass_in_running_order {
            let dist: Vec<u32> = axles
                .iter()
                .filter_map(|a| a.distribution_mass_running_order_axle)
                .collect();
            if !dist.is_empty() && dist.len() == axles.len() {
                let sum: u32 = dist.iter().sum();
                let n = u32::try_from(dist.len()).unwrap_or(u32::MAX);
                if sum.abs_diff(miro) > n {
                    add(
                        "IVI-MAS-004",
                        "CocDataGroup/AxleTable",
                        format!(
                            "DistributionMassRunningOrderAxle adds up to {sum} kg, not MassInRunningOrder {miro} kg"
                        ),
                    );
                }
            }
        }
    }

    // Groups the category needs.
    let category = coc.vehicle_category.as_str();
    if category.starts_with(['M', 'N', 'O', 'L']) {
        for (name, present) in [
            (
                "GeneralConstructionGroup",
                coc.general_construction_group.is_some(),
            ),
            ("MassGroup", coc.mass_group.is_some()),
            ("DimensionGroup", coc.dimension_group.is_some()),
        ] {
            if !present {
                add(
                    "IVI-GRP-001",
                    &format!("CocDataGroup/{name}"),
                    format!("vehicle category {category} needs {name}"),
                );
            }
        }
    }

    // Dates not in the future.
    let mut dates: Vec<(&str, Date)> = vec![
        (
            "Header/IviVersionDateTime",
            ivi.header.ivi_version_date_time.date(),
        ),
        (
            "CocDataGroup/TypeApprovalIssueDate",
            coc.type_approval_issue_date,
        ),
    ];
    if let Some(d) = coc.date_manufacture_vehicle {
        dates.push(("CocDataGroup/DateManufactureVehicle", d));
    }
    for s in &coc.signing_authority_table {
        dates.push((
            "CocDataGroup/SigningAuthorityTable/SigningAuthorityGroup/SignatureDate",
            s.signature_date,
        ));
    }
    for (field, d) in dates {
        if d > today && d != Date::default() {
            let name = field.rsplit('/').next().unwrap_or(field);
            add(
                "IVI-DAT-001",
                field,
                format!(
                    "{name} {} is in the future (today is {})",
                    crate::model::Value::format(&d),
                    crate::model::Value::format(&today)
                ),
            );
        }
    }
    out
}

/// Checks a later stage's file against the earlier stage's file of the same vehicle.
pub fn check_stage_pair(previous: &Ivi, next: &Ivi) -> Vec<Finding> {
    let mut out = Vec::new();
    let mut add = |code: &'static str, field: &str, message: String| {
        out.push(Finding {
            code,
            field: field.to_owned(),
            message,
        });
    };
    let (p, n) = (&previous.coc, &next.coc);
    if p.vehicle_identification_number != n.vehicle_identification_number {
        add(
            "IVI-STG-010",
            "CocDataGroup/VehicleIdentificationNumber",
            format!(
                "VehicleIdentificationNumber `{}` differs from the earlier stage's `{}`",
                n.vehicle_identification_number, p.vehicle_identification_number
            ),
        );
    }
    let (ps, ns) = (previous.stage().unwrap_or(1), next.stage().unwrap_or(1));
    if ns != ps + 1 {
        add(
            "IVI-STG-011",
            "CocDataGroup/ManufacturerTable/ManufacturerGroup/ManufacturerStageNumber",
            format!("ManufacturerStageNumber {ns} does not follow the earlier stage {ps}"),
        );
    }
    if let Some(g) = n
        .manufacturer_table
        .iter()
        .find(|m| m.manufacturer_stage_number == ns)
    {
        for (name, named, actual) in [
            (
                "PreviousStageTypeApprovalNumber",
                &g.previous_stage_type_approval_number,
                &p.type_approval_number,
            ),
            ("PreviousStageType", &g.previous_stage_type, &p.vehicle_type),
            (
                "PreviousStageVariant",
                &g.previous_stage_variant,
                &p.variant,
            ),
            (
                "PreviousStageVersion",
                &g.previous_stage_version,
                &p.version,
            ),
        ] {
            if named.as_deref() != Some(actual.as_str()) {
                add(
                    "IVI-STG-012",
                    &format!("CocDataGroup/ManufacturerTable/ManufacturerGroup/{name}"),
                    format!(
                        "{name} `{}` is not the earlier stage's `{actual}`",
                        named.as_deref().unwrap_or("")
                    ),
                );
            }
        }
    }
    let (pm, nm) = (
        p.mass_group.clone().unwrap_or_default(),
        n.mass_group.clone().unwrap_or_default(),
    );
    let f = "CocDataGroup/MassGroup";
    if let (Some(a), Some(b)) = (
        pm.technically_permissible_maximum_laden_mass,
        nm.technically_permissible_maximum_laden_mass,
    ) && b > a
    {
        add(
            "IVI-DRF-001",
            f,
            format!(
                "TechnicallyPermissibleMaximumLadenMass {b} kg exceeds the earlier stage's {a} kg"
            ),
        );
    }
    if let Some(m) = nm.mass_in_running_order {
        let floor = pm
            .minimum_mass_completed
            .or(pm.mass_in_running_order_incomplete);
        if let Some(lo) = floor
            && m < lo
        {
            add(
                "IVI-DRF-002",
                f,
                format!("MassInRunningOrder {m} kg is below the earlier stage's minimum {lo} kg"),
            );
        }
        if let Some(hi) = pm.technically_permissible_maximum_laden_mass
            && m > hi
        {
            add(
                "IVI-DRF-002",
                f,
                format!(
                    "MassInRunningOrder {m} kg is above the earlier stage's TechnicallyPermissibleMaximumLadenMass {hi} kg"
                ),
            );
        }
    }
    if let (Some(pd), Some(nd)) = (&p.dimension_group, &n.dimension_group) {
        for (name, max, actual) in [
            ("Length", pd.maximum_permissible_length, nd.length),
            ("Width", pd.maximum_permissible_width, nd.width),
            ("Height", pd.maximum_permissible_height, nd.height),
        ] {
            if let (Some(max), Some(v)) = (max, actual)
                && v > max
            {
                add(
                    "IVI-DRF-003",
                    &format!("CocDataGroup/DimensionGroup/{name}"),
                    format!(
                        "{name} {v} mm exceeds the earlier stage's MaximumPermissible{name} {max} mm"
                    ),
                );
            }
        }
    }
    out
}

/// The issuing country of an approval number with the profile's shape (`e4` of `e4*2018/858*00123*01`),
/// or `None` when the shape is wrong.
pub fn approval_country(number: &str, profile: Profile) -> Option<&str> {
    let parts: Vec<&str> = number.split('*').collect();
    let [country, act, seq, ext] = parts.as_slice() else {
        return None;
    };
    let digits = |s: &str, min: usize, max: usize| {
        (min..=max).contains(&s.len()) && s.bytes().all(|b| b.is_ascii_digit())
    };
    let eu_country = country
        .strip_prefix('e')
        .is_some_and(|n| digits(n, 1, 2) && !n.starts_with('0'));
    let ok_country = match profile {
        Profile::Eu => eu_country && *country != "e11",
        Profile::Uk => eu_country || *country == "g11" || *country == "n11",
    };
    // The act: an EU/UN act number such as 2018/858, 168/2013 or 2007/46, optionally with a letter
    // prefix (KS for small series).
    let act_body = act.trim_start_matches(|c: char| c.is_ascii_uppercase());
    let ok_act = act.len() - act_body.len() <= 3
        && act_body
            .split_once('/')
            .is_some_and(|(a, b)| digits(a, 2, 4) && digits(b, 1, 4));
    (ok_country && ok_act && digits(seq, 4, 6) && digits(ext, 2, 2)).then_some(*country)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn approval_number_shapes_per_profile() {
        assert_eq!(
            approval_country("e4*2018/858*00123*01", Profile::Eu),
            Some("e4")
        );
        assert_eq!(
            approval_country("e13*168/2013*01303*00", Profile::Eu),
            Some("e13")
        );
        assert_eq!(approval_country("g11*2018/858*00123*00", Profile::Eu), None);
        assert_eq!(
            approval_country("g11*2018/858*00123*00", Profile::Uk),
            Some("g11")
        );
        assert_eq!(
            approval_country("n11*2018/858*00007*00", Profile::Uk),
            Some("n11")
        );
        assert_eq!(
            approval_country("e11*2007/46*1234*05", Profile::Uk),
            Some("e11")
        );
        assert_eq!(approval_country("e11*2007/46*1234*05", Profile::Eu), None);
        assert_eq!(approval_country("e4*2018/858*00123", Profile::Eu), None);
        assert_eq!(approval_country("e04*2018/858*00123*01", Profile::Eu), None);
        assert_eq!(approval_country("e4*2018-858*00123*01", Profile::Eu), None);
    }
}
