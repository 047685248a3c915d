//! Domain rules beyond the XSD.
//!
//! Each rule has a stable code (`IVI-<AREA>-<NNN>`; codes are never reused), a [`Severity`] and a
//! message that names the field. The XSD checks shape and code lists; these rules check what it cannot
//! say. Every rule names its source, in the `source` column below:
//!
//! - **manual**: EUCARIS, *eCoC IVI 2.0 setup manual* v1.5 (2026-03-30), by chapter title;
//! - **overview**: EReg, *IVI 2.0 change overview* v1.1 (2025-05-11), by section title;
//! - **XSD**: the official `ivi-2.0.xsd`, by type;
//! - **ISO 3779**: the content of a VIN.
//!
//! A rule that none of them states is the project's own plausibility check. It is a
//! [`Severity::Warning`]: reported, never a refusal on its own. Its source reads "none", followed by
//! what the rule rests on. [`RULES`] holds the same codes, severities and sources for programs.
//!
//! | code | severity | rule | source |
//! |---|---|---|---|
//! | `IVI-VIN-001` | error | the VIN has 17 characters | XSD `VehicleIdentificationNumber`; ISO 3779 |
//! | `IVI-VIN-002` | error | the VIN uses only `A-H J-N P R-Z 0-9` (no I, O, Q) | ISO 3779 (the XSD allows all of `A-Z 0-9`) |
//! | `IVI-VER-001` | error | `IviVersionNumber` is 1 or more | setup manual, Correction eCoC: the first version is 1 |
//! | `IVI-TAN-001` | warning | an EU-type approval number has the profile's shape: `e<n>*<act>*<seq>*<ext>` (eu, not `e11`); uk: `g11*` (GB), `n11*` (UK(NI)), retained `e11*`, and EU `e<n>*` (still valid in Northern Ireland) | none: the shape of the manual's examples ("How to enter stage information": `e4*2018/858*0000*00`); the UK shapes are the VCA's, whose schema is not public |
//! | `IVI-TAN-002` | error | the approval number's country is `DesignatedTypeApprovalCountry` | overview "DesignatedTypeApprovalCountry" (the field names the approval authority that the number names before its first `*`) |
//! | `IVI-TAC-001` | error | `DesignatedTypeApprovalCountry` is allowed in the profile (`e11`, `g11`, `n11` only for `uk`) | XSD `TypeApprovalCountryCode` (`e1` ... `e50` without `e11`, no `g11`, `n11`) |
//! | `IVI-STG-001` | error | stage 1 is `StageOfCompletion` I or C | manual "Multistage vehicles" (a vehicle goes from I or C) |
//! | `IVI-STG-002` | error | a later stage is `StageOfCompletion` V or I | manual "Multistage vehicles" (to V, or to I and then V) |
//! | `IVI-STG-003` | error | a later stage carries all four `PreviousStage*` fields | manual "How to enter stage information" (the second stage states the previous stage's TypeApprovalNumber, Type, Variant and Version) |
//! | `IVI-STG-004` | error | a later stage differs from the previous in approval number, variant or version | manual "How to enter stage information" ("At least Typeapprovalnumber or Variant or Version have to be different per stage") |
//! | `IVI-STG-005` | warning | stage 1 carries no `PreviousStage*` field | none: the manual's first stage states its number and address only, but nothing forbids more |
//! | `IVI-MAS-001` | warning | `TechnicallyPermissibleMaximumLadenMass` >= `MassInRunningOrder` | none: the laden mass includes the mass in running order |
//! | `IVI-MAS-002` | warning | the axles' `TechnicallyPermissibleMassAxle`, plus on a towed vehicle (O, R, S) its `TechnicallyPermissibleMaximumStaticVerticalMassCouplingPoint`, add up to at least the TPMLM | none: the axles and the coupling point carry the laden mass. The coupling point's share: manual "TechnicallyPermissibleMaximumStaticVerticalMassCouplingPoint", overview "TechnicallyPermissibleMaximumStaticVerticalMassCouplingPoint" (on a towed vehicle, the mass on its coupling point) |
//! | `IVI-MAS-003` | warning | no axle's `TechnicallyPermissibleMassAxle` exceeds the TPMLM | none: plausibility |
//! | `IVI-MAS-004` | warning | the axles' `DistributionMassRunningOrderAxle`, plus on a towed vehicle its coupling point's `MechanicalCouplingDistributionMassRunningOrder`, add up to `MassInRunningOrder` (±1 kg per share) | none: the shares distribute the mass in running order. The coupling point's share: XSD `MechanicalCouplingGroup` |
//! | `IVI-GRP-001` | error | every vehicle category carries `GeneralConstructionGroup`, `MassGroup` and `DimensionGroup` | overview "Mandatory fields in IVI 2.0" (tables and groups which have to be present, for all vehicle categories) |
//! | `IVI-ENC-001` | error | categories M, N, L, T, C carry at least one `EnergyConvertorGroup`, and each has `EnergyConvertorCodeMarkedOnEnergyConvertor` | manual "Emission/sound/power and consumption for different vehicle types" ("For all vehicles M,N,L,T,C an EnergyConvertorCodeMarkedOnEnergyConvertor must be present"; a hybrid's electric engine repeats the combustion engine's code if it has none) |
//! | `IVI-PWR-001` | error | an `EnergySourceGroup` with `EnergySource` 95 (electricity) has no `MaximumNetPowerCombustion`; one with any other energy source has no `MaximumNetPowerElectric` | manual "Emission/sound/power and consumption for different vehicle types" ("MaximumNetPowerCombustion only for the fossile fuels, and MaximumNetPowerElectric only for electricity"; also "Hybrid vehicles (NOVC-HEV)", "Plugin hybrid vehicles (OVC-HEV)") |
//! | `IVI-DAT-001` | warning | no date lies in the future | none: plausibility |
//!
//! `IVI-PWR-001` counts every energy source but 95 as a fuel: the manual's own example is petrol (10),
//! and an engine running on a biofuel or hydrogen states a combustion power too.
//!
//! Between two stages of one vehicle ([`check_stage_pair`]): the `IVI-STG-01x` findings mean the later
//! file does not continue the earlier one; the `IVI-DRF-*` findings mean its masses or dimensions left
//! the range the earlier stage declared, and the record is held for an explicit sign-off (the
//! `validate` step in `components/pipeline`).
//!
//! | code | severity | rule | source |
//! |---|---|---|---|
//! | `IVI-STG-010` | error | both stages carry the same VIN | manual "How to enter stage information" (the VIN "has to stay the same during all stages") |
//! | `IVI-STG-011` | error | the later stage is the next stage number | manual "How to enter stage information" (stages 1, 2, 3 in order, each naming the one before) |
//! | `IVI-STG-012` | error | the later stage's `PreviousStage*` fields are the earlier stage's approval, type, variant and version | manual "How to enter stage information" |
//! | `IVI-STG-013` | error | the later stage repeats every table the earlier one carries (the tables of `CocDataGroup` and of its groups), except a table the manual forbids for the later stage: `MechanicalCouplingCanBeFittedTable` at `StageOfCompletion` C or V and for M1, L, T, C, R, S; `MechanicalCouplingTable` for M1; `MaximumStaticVerticalMassCouplingPointTable` for T, C | manual "Processing the data" ("Data which is part of a table ... will have to be repeated in the second stage eCoC"); the exceptions: manual "Coupling devices", "TechnicallyPermissibleMaximumStaticVerticalMassCouplingPoint" |
//! | `IVI-DRF-001` | warning | the later TPMLM does not exceed the earlier TPMLM | none: the earlier stage's declared limits |
//! | `IVI-DRF-002` | warning | the later mass in running order lies between the earlier `MinimumMassCompleted` / `MassInRunningOrderIncomplete` and the earlier TPMLM | none: the earlier stage's declared limits |
//! | `IVI-DRF-003` | warning | the later length, width and height do not exceed the earlier `MaximumPermissible*` dimensions | none: the earlier stage's declared limits |

use crate::model::{
    CocDataGroup, Date, MassGroup, StageOfCompletion, TypeApprovalCountry, TypeApprovalType,
};
use crate::xml::Element;
use crate::{Group, IVI_NS, Ivi, Profile};

/// How much a finding weighs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// A rule an official source states: the document is refused.
    Error,
    /// The project's own plausibility check, without an official source: reported, not a refusal.
    Warning,
}

impl Severity {
    /// `error` or `warning`, as serialised.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Error => "error",
            Self::Warning => "warning",
        }
    }
}

impl std::fmt::Display for Severity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One rule: its code, its weight and the source it implements (as in the module docs' tables).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct Rule {
    /// Stable rule code.
    pub code: &'static str,
    /// [`Severity::Error`] when an official source states the rule.
    pub severity: Severity,
    /// The document and section, or `none: ...` with what the rule rests on.
    pub source: &'static str,
}

const fn rule(code: &'static str, severity: Severity, source: &'static str) -> Rule {
    Rule {
        code,
        severity,
        source,
    }
}

const MANUAL_STAGES: &str = "manual \"How to enter stage information\"";
const MANUAL_POWER: &str =
    "manual \"Emission/sound/power and consumption for different vehicle types\"";
const LIMITS: &str = "none: the earlier stage's declared limits";

/// Every rule of [`check_at`] and [`check_stage_pair`], in the order of the module docs.
pub const RULES: &[Rule] = {
    use Severity::{Error, Warning};
    &[
        rule(
            "IVI-VIN-001",
            Error,
            "XSD `VehicleIdentificationNumber`; ISO 3779",
        ),
        rule("IVI-VIN-002", Error, "ISO 3779"),
        rule(
            "IVI-VER-001",
            Error,
            "setup manual, Correction eCoC: the first version is 1",
        ),
        rule(
            "IVI-TAN-001",
            Warning,
            "none: the shape of the manual's examples",
        ),
        rule(
            "IVI-TAN-002",
            Error,
            "overview \"DesignatedTypeApprovalCountry\"",
        ),
        rule("IVI-TAC-001", Error, "XSD `TypeApprovalCountryCode`"),
        rule("IVI-STG-001", Error, "manual \"Multistage vehicles\""),
        rule("IVI-STG-002", Error, "manual \"Multistage vehicles\""),
        rule("IVI-STG-003", Error, MANUAL_STAGES),
        rule("IVI-STG-004", Error, MANUAL_STAGES),
        rule(
            "IVI-STG-005",
            Warning,
            "none: the manual's first stage states its number and address only",
        ),
        rule(
            "IVI-MAS-001",
            Warning,
            "none: the laden mass includes the mass in running order",
        ),
        rule(
            "IVI-MAS-002",
            Warning,
            "none: the axles and the coupling point carry the laden mass",
        ),
        rule("IVI-MAS-003", Warning, "none: plausibility"),
        rule(
            "IVI-MAS-004",
            Warning,
            "none: the shares distribute the mass in running order",
        ),
        rule(
            "IVI-GRP-001",
            Error,
            "overview \"Mandatory fields in IVI 2.0\"",
        ),
        rule("IVI-ENC-001", Error, MANUAL_POWER),
        rule("IVI-PWR-001", Error, MANUAL_POWER),
        rule("IVI-DAT-001", Warning, "none: plausibility"),
        rule("IVI-STG-010", Error, MANUAL_STAGES),
        rule("IVI-STG-011", Error, MANUAL_STAGES),
        rule("IVI-STG-012", Error, MANUAL_STAGES),
        rule("IVI-STG-013", Error, "manual \"Processing the data\""),
        rule("IVI-DRF-001", Warning, LIMITS),
        rule("IVI-DRF-002", Warning, LIMITS),
        rule("IVI-DRF-003", Warning, LIMITS),
    ]
};

/// The severity of a rule code ([`Severity::Error`] for a code not in [`RULES`]).
pub fn severity(code: &str) -> Severity {
    RULES
        .iter()
        .find(|r| r.code == code)
        .map_or(Severity::Error, |r| r.severity)
}

/// One rule broken.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Finding {
    /// Stable rule code, e.g. `IVI-VIN-002`.
    pub code: &'static str,
    /// The rule's [`Severity`]: `error` (the document is refused) or `warning` (reported only).
    pub severity: Severity,
    /// The field, as an element path under `CocDataGroup` or `Header`.
    pub field: String,
    /// What is wrong, naming the field and the value.
    pub message: String,
}

impl Finding {
    fn new(code: &'static str, field: &str, message: String) -> Self {
        Self {
            code,
            severity: severity(code),
            field: field.to_owned(),
            message,
        }
    }

    /// Whether this finding refuses the document (its rule has an official source).
    pub fn is_error(&self) -> bool {
        self.severity == Severity::Error
    }
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
        out.push(Finding::new(code, field, message));
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

    // Versions count from 1 (setup manual, "Correction eCoC": the first version is 1).
    if ivi.header.ivi_version_number == 0 {
        add(
            "IVI-VER-001",
            "Header/IviVersionNumber",
            "IviVersionNumber 0: the first version of a vehicle's data is 1, a correction 2 and up"
                .into(),
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

    // Masses. A towed vehicle (O, R, S) rests partly on its towing vehicle: its coupling point carries
    // a share of its masses (change overview, "TechnicallyPermissibleMaximumStaticVerticalMassCouplingPoint":
    // on a towed vehicle the value is the mass on its coupling point). On a towing vehicle the value is
    // what a trailer puts on it, which its own axles carry: no share of its own masses.
    let category = coc.vehicle_category.as_str();
    let towed = category.starts_with(['O', 'R', 'S']);
    if let Some(m) = &coc.mass_group {
        let coupling = if towed {
            CouplingPoint::of(coc, m)
        } else {
            CouplingPoint::default()
        };
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
                let sum: u64 = masses.iter().copied().map(u64::from).sum();
                let total = sum + coupling.permissible.map_or(0, u64::from);
                if total < u64::from(t) {
                    let plus = coupling
                        .permissible
                        .map(|c| {
                            format!(
                                " plus TechnicallyPermissibleMaximumStaticVerticalMassCouplingPoint {c} kg"
                            )
                        })
                        .unwrap_or_default();
                    add(
                        "IVI-MAS-002",
                        "CocDataGroup/AxleTable",
                        format!(
                            "TechnicallyPermissibleMassAxle adds up to {sum} kg{plus}, below TechnicallyPermissibleMaximumLadenMass {t} kg"
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
                let sum: u64 = dist.iter().copied().map(u64::from).sum();
                let total = sum + coupling.running_order.map_or(0, u64::from);
                let shares = dist.len() + usize::from(coupling.running_order.is_some());
                let tolerance = u64::try_from(shares).unwrap_or(u64::MAX);
                if total.abs_diff(u64::from(miro)) > tolerance {
                    let plus = coupling
                        .running_order
                        .map(|c| {
                            format!(" plus MechanicalCouplingDistributionMassRunningOrder {c} kg")
                        })
                        .unwrap_or_default();
                    add(
                        "IVI-MAS-004",
                        "CocDataGroup/AxleTable",
                        format!(
                            "DistributionMassRunningOrderAxle adds up to {sum} kg{plus}, not MassInRunningOrder {miro} kg"
                        ),
                    );
                }
            }
        }
    }

    // Groups every category needs (change overview, "Mandatory fields in IVI 2.0").
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

    // Energy convertors and their power (manual, "EMISSION/SOUND/POWER AND CONSUMPTION FOR DIFFERENT
    // VEHICLE TYPES").
    let convertors = coc.energy_convertor_table.as_deref().unwrap_or_default();
    if category.starts_with(['M', 'N', 'L', 'T', 'C']) {
        if convertors.is_empty() {
            add(
                "IVI-ENC-001",
                "CocDataGroup/EnergyConvertorTable",
                format!(
                    "vehicle category {category} needs an EnergyConvertorGroup with EnergyConvertorCodeMarkedOnEnergyConvertor; there is none"
                ),
            );
        }
        for (i, g) in convertors.iter().enumerate() {
            if g.energy_convertor_code_marked_on_energy_convertor
                .as_deref()
                .is_none_or(|c| c.trim().is_empty())
            {
                add(
                    "IVI-ENC-001",
                    "CocDataGroup/EnergyConvertorTable/EnergyConvertorGroup/EnergyConvertorCodeMarkedOnEnergyConvertor",
                    format!(
                        "EnergyConvertorGroup {} lacks EnergyConvertorCodeMarkedOnEnergyConvertor, which vehicle category {category} needs (an electric engine without a code of its own repeats the combustion engine's)",
                        i + 1
                    ),
                );
            }
        }
    }
    let power = "CocDataGroup/EnergyConvertorTable/EnergyConvertorGroup/EnergySourceTable/EnergySourceGroup/PowerGroup";
    for (i, g) in convertors.iter().enumerate() {
        for s in g.energy_source_table.as_deref().unwrap_or_default() {
            let Some(p) = &s.power_group else { continue };
            let source = s.energy_source.as_str();
            let electricity = source == ELECTRICITY;
            if electricity && let Some(v) = &p.maximum_net_power_combustion {
                add(
                    "IVI-PWR-001",
                    &format!("{power}/MaximumNetPowerCombustion"),
                    format!(
                        "EnergyConvertorGroup {}, EnergySource {source} (electricity): MaximumNetPowerCombustion {} is only for a fuel; electricity states MaximumNetPowerElectric",
                        i + 1,
                        crate::model::Value::format(v)
                    ),
                );
            }
            if !electricity && let Some(v) = &p.maximum_net_power_electric {
                add(
                    "IVI-PWR-001",
                    &format!("{power}/MaximumNetPowerElectric"),
                    format!(
                        "EnergyConvertorGroup {}, EnergySource {source}: MaximumNetPowerElectric {} is only for EnergySource {ELECTRICITY} (electricity); a fuel states MaximumNetPowerCombustion",
                        i + 1,
                        crate::model::Value::format(v)
                    ),
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
        out.push(Finding::new(code, field, message));
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
    // Tables the later stage must repeat (manual, "Processing the data").
    let later = tables(n);
    let category = n.vehicle_category.as_str();
    for table in tables(p) {
        let name = table.rsplit('/').next().unwrap_or(&table);
        if !later.contains(&table) && !forbidden_table(name, category, n.stage_of_completion) {
            add(
                "IVI-STG-013",
                &format!("CocDataGroup/{table}"),
                format!(
                    "the earlier stage carries {name}, stage {ns} does not; a later stage repeats every table of the earlier one in full"
                ),
            );
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

/// `EnergySource` electricity.
const ELECTRICITY: &str = "95";

/// The share of a towed vehicle's masses its coupling point carries. Read from the kept-verbatim
/// children (`other`) while the model does not name `MassGroup/MaximumStaticVerticalMassCouplingPointTable`
/// and `CocDataGroup/MechanicalCouplingTable`.
#[derive(Debug, Default)]
struct CouplingPoint {
    /// `TechnicallyPermissibleMaximumStaticVerticalMassCouplingPoint`.
    permissible: Option<u32>,
    /// `MechanicalCouplingDistributionMassRunningOrder`.
    running_order: Option<u32>,
}

impl CouplingPoint {
    /// The coupling point of a towed vehicle: a vehicle-level value (no `MechanicalCouplingNumberVerticalMass`)
    /// or a coupling's, leaving out a coupling at the rear (`MechanicalCouplingLocation` REAR: there the
    /// vehicle tows, and its axles carry the load). With several couplings, the largest value.
    fn of(coc: &CocDataGroup, m: &MassGroup) -> Self {
        let couplings: Vec<&Element> = kept(&coc.other, "MechanicalCouplingTable")
            .map(|t| children(t, "MechanicalCouplingGroup").collect())
            .unwrap_or_default();
        let at_rear =
            |g: &Element| text(g, "MechanicalCouplingLocation").as_deref() == Some("REAR");
        let rear_number = |n: u32| {
            couplings
                .iter()
                .any(|g| number(g, "MechanicalCouplingNumber") == Some(n) && at_rear(g))
        };
        let permissible = kept(&m.other, "MaximumStaticVerticalMassCouplingPointTable")
            .into_iter()
            .flat_map(|t| children(t, "MaximumStaticVerticalMassCouplingPointGroup"))
            .filter(|g| !number(g, "MechanicalCouplingNumberVerticalMass").is_some_and(rear_number))
            .filter_map(|g| {
                number(
                    g,
                    "TechnicallyPermissibleMaximumStaticVerticalMassCouplingPoint",
                )
            })
            .max();
        let running_order = couplings
            .iter()
            .filter(|g| !at_rear(g))
            .filter_map(|g| number(g, "MechanicalCouplingDistributionMassRunningOrder"))
            .max();
        Self {
            permissible,
            running_order,
        }
    }
}

/// The kept-verbatim IVI element `name` among `others`.
fn kept<'a>(others: &'a [Element], name: &str) -> Option<&'a Element> {
    others
        .iter()
        .find(|e| e.ns.as_deref() == Some(IVI_NS) && e.name == name)
}

/// The IVI child elements of `el` named `name`.
fn children<'a>(el: &'a Element, name: &'a str) -> impl Iterator<Item = &'a Element> {
    el.elements()
        .filter(move |e| e.ns.as_deref() == Some(IVI_NS) && e.name == name)
}

/// The text of `el`'s IVI child `name`, trimmed.
fn text(el: &Element, name: &str) -> Option<String> {
    el.child(Some(IVI_NS), name)
        .map(|c| c.text().trim().to_owned())
}

/// The number in `el`'s IVI child `name` (the schema has checked its lexical form).
fn number(el: &Element, name: &str) -> Option<u32> {
    text(el, name).and_then(|t| t.parse().ok())
}

/// The tables of a stage: `CocDataGroup`'s own (`AxleTable`) and those of its groups
/// (`MassGroup/MaximumStaticVerticalMassCouplingPointTable`), as paths below `CocDataGroup`.
fn tables(coc: &CocDataGroup) -> Vec<String> {
    let el = coc.write_as("CocDataGroup");
    let ivi = |e: &&Element| e.ns.as_deref() == Some(IVI_NS);
    let mut out = Vec::new();
    for c in el.elements().filter(ivi) {
        if c.name.ends_with("Table") {
            out.push(c.name.clone());
        } else if c.name.ends_with("Group") {
            for t in c
                .elements()
                .filter(ivi)
                .filter(|t| t.name.ends_with("Table"))
            {
                out.push(format!("{}/{}", c.name, t.name));
            }
        }
    }
    out
}

/// Whether the manual forbids `table` for a stage of `category` at `completion`, so that a later stage
/// drops it rightly ("Coupling devices"; "TechnicallyPermissibleMaximumStaticVerticalMassCouplingPoint").
fn forbidden_table(table: &str, category: &str, completion: StageOfCompletion) -> bool {
    let m1 = category.starts_with("M1");
    match table {
        "MechanicalCouplingCanBeFittedTable" => {
            m1 || category.starts_with(['L', 'T', 'C', 'R', 'S'])
                || matches!(completion, StageOfCompletion::C | StageOfCompletion::V)
        }
        "MechanicalCouplingTable" => m1,
        "MaximumStaticVerticalMassCouplingPointTable" => category.starts_with(['T', 'C']),
        _ => false,
    }
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

    /// The module docs' tables and [`RULES`] name the same codes, severities and sources.
    #[test]
    fn every_rule_is_documented_with_its_severity_and_source() {
        let docs: Vec<&str> = include_str!("rules.rs")
            .lines()
            .filter_map(|l| l.strip_prefix("//! | `IVI-")?.strip_suffix(" |"))
            .collect();
        assert_eq!(docs.len(), RULES.len(), "{docs:?}");
        for (row, rule) in docs.iter().zip(RULES) {
            let cells: Vec<&str> = row.split(" | ").collect();
            assert_eq!(format!("IVI-{}", cells[0]), format!("{}`", rule.code));
            assert_eq!(cells[1], rule.severity.as_str(), "{}", rule.code);
            let source = cells[cells.len() - 1];
            assert!(source.starts_with(rule.source), "{}: {source}", rule.code);
            assert_eq!(
                source.starts_with("none"),
                rule.severity == Severity::Warning,
                "{}: a rule without an official source is a warning, one with a source an error",
                rule.code
            );
        }
    }

    #[test]
    fn a_finding_serialises_its_severity_in_lowercase() {
        let f = Finding::new("IVI-DAT-001", "Header/IviVersionDateTime", "late".into());
        assert_eq!(
            serde_json::to_string(&f).unwrap_or_default(),
            r#"{"code":"IVI-DAT-001","severity":"warning","field":"Header/IviVersionDateTime","message":"late"}"#
        );
        assert!(Finding::new("IVI-VIN-001", "x", String::new()).is_error());
    }

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
