//! The tenant's type-approval records (`PUT /v1/tenant/approvals`), and the check that a vehicle
//! stays inside the approval it names: type, variant, version, category, and the permitted ranges of
//! masses and dimensions.

use std::collections::BTreeMap;

use ivi::xml::Element;

use serde_json::Value;

use crate::document::{Document, Problems, token};
use crate::{FieldError, Result};

/// `{"approvals": [...]}`.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Approvals {
    /// The records.
    pub approvals: Vec<Approval>,
}

/// One type-approval record.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Approval {
    /// `TypeApprovalNumber`, e.g. `e4*2018/858*00123*01` or `g11*...`.
    pub approval_number: String,
    /// `Type`.
    #[serde(rename = "type")]
    pub vehicle_type: String,
    /// Permitted `Variant`s.
    pub variants: Vec<String>,
    /// Permitted `Version`s.
    pub versions: Vec<String>,
    /// `VehicleCategory`, when the approval names one.
    #[serde(default)]
    pub category: Option<String>,
    /// Permitted ranges, keyed by IVI element name (`MassInRunningOrder`, `Length`, ...).
    #[serde(default)]
    pub ranges: BTreeMap<String, Range>,
}

/// An inclusive range; either end may be open.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Range {
    /// Smallest permitted value.
    #[serde(default)]
    pub min: Option<f64>,
    /// Largest permitted value.
    #[serde(default)]
    pub max: Option<f64>,
}

impl Document for Approvals {
    /// Every mistake at once, each with its JSON pointer (`/approvals/0/ranges/Length/min`).
    fn problems(doc: &Value) -> Vec<FieldError> {
        let mut p = Problems::new("APPROVALS-INVALID");
        let Some(top) = p.object(doc, "", "an approvals document") else {
            return p.list;
        };
        p.keys(top, "", &["approvals"], &["approvals"]);
        let Some(list) = top.get("approvals") else {
            return p.list;
        };
        let Some(list) = list.as_array() else {
            p.push("/approvals", "`approvals` must be an array");
            return p.list;
        };
        let mut numbers: Vec<&str> = Vec::new();
        for (i, item) in list.iter().enumerate() {
            let at = format!("/approvals/{i}");
            let Some(a) = p.object(item, &at, "an approval") else {
                continue;
            };
            p.keys(
                a,
                &at,
                &[
                    "approval_number",
                    "type",
                    "variants",
                    "versions",
                    "category",
                    "ranges",
                ],
                &["approval_number", "type", "variants", "versions"],
            );
            if let Some(number) = p.text(a, "approval_number", &at, false) {
                if numbers.contains(&number) {
                    p.push(
                        &format!("{at}/approval_number"),
                        format!("approval_number `{number}` is listed twice"),
                    );
                }
                numbers.push(number);
            }
            p.text(a, "type", &at, false);
            p.texts(a, "variants", &at, 1);
            p.texts(a, "versions", &at, 1);
            p.text(a, "category", &at, true);
            match a.get("ranges") {
                None => {}
                Some(Value::Object(ranges)) => {
                    for (name, range) in ranges {
                        check_range(&mut p, name, range, &format!("{at}/ranges/{}", token(name)));
                    }
                }
                Some(_) => p.push(
                    &format!("{at}/ranges"),
                    "`ranges` must be an object of element name -> {min, max}",
                ),
            }
        }
        p.list
    }
}

/// One `ranges` entry: an element name and `{"min": .., "max": ..}` with at least one end.
fn check_range(p: &mut Problems, name: &str, range: &Value, at: &str) {
    let element_name = name.chars().next().is_some_and(|c| c.is_ascii_alphabetic())
        && name.chars().all(|c| c.is_ascii_alphanumeric());
    if !element_name {
        p.push(
            at,
            format!("`{name}` is not an IVI element name such as MassInRunningOrder"),
        );
    }
    let Some(r) = p.object(range, at, "a range") else {
        return;
    };
    p.keys(r, at, &["min", "max"], &[]);
    if !r.contains_key("min") && !r.contains_key("max") {
        p.push(at, "a range needs `min`, `max` or both");
    }
    let mut end = |key: &str| match r.get(key) {
        None | Some(Value::Null) => None,
        Some(Value::Number(n)) => n.as_f64(),
        Some(other) => {
            p.push(
                &format!("{at}/{key}"),
                format!("`{key}` must be a number, not {other}"),
            );
            None
        }
    };
    if let (Some(lo), Some(hi)) = (end("min"), end("max"))
        && lo > hi
    {
        p.push(at, format!("min {lo} is above max {hi}"));
    }
}

impl Approvals {
    /// Reads and checks an approvals document: every mistake at once (422), each with its pointer.
    pub fn from_json(bytes: &[u8]) -> Result<Self> {
        <Self as Document>::from_json(bytes)
    }

    /// Checks the vehicle in `root` (an IVI document) against the approval it names.
    pub fn check(&self, root: &Element) -> Vec<FieldError> {
        let coc = root.elements().find(|e| e.name == "CocDataGroup");
        let text = |name: &str| {
            coc.and_then(|c| c.child(Some(ivi::IVI_NS), name))
                .map(|e| e.text().trim().to_owned())
                .unwrap_or_default()
        };
        let number = text("TypeApprovalNumber");
        let Some(approval) = self.approvals.iter().find(|a| a.approval_number == number) else {
            return vec![FieldError::new(
                "CocDataGroup/TypeApprovalNumber",
                "APR-UNKNOWN",
                format!(
                    "TypeApprovalNumber `{number}` is not among the tenant's type-approval records"
                ),
            )];
        };
        let mut errors = Vec::new();
        let mut expect = |field: &str, code: &str, ok: bool, allowed: String| {
            if !ok {
                errors.push(FieldError::new(
                    format!("CocDataGroup/{field}"),
                    code,
                    format!(
                        "{field} `{}` is not covered by approval {number} (allowed: {allowed})",
                        text(field)
                    ),
                ));
            }
        };
        expect(
            "Type",
            "APR-TYPE",
            text("Type") == approval.vehicle_type,
            approval.vehicle_type.clone(),
        );
        expect(
            "Variant",
            "APR-VARIANT",
            approval.variants.contains(&text("Variant")),
            approval.variants.join(", "),
        );
        expect(
            "Version",
            "APR-VERSION",
            approval.versions.contains(&text("Version")),
            approval.versions.join(", "),
        );
        if let Some(category) = &approval.category {
            expect(
                "VehicleCategory",
                "APR-CATEGORY",
                text("VehicleCategory") == *category,
                category.clone(),
            );
        }
        for (name, range) in &approval.ranges {
            let Some((path, value)) = coc.and_then(|c| find_number(c, name, "CocDataGroup")) else {
                continue;
            };
            let low = range.min.is_some_and(|lo| value < lo);
            let high = range.max.is_some_and(|hi| value > hi);
            if low || high {
                let show = |v: Option<f64>| v.map_or("open".to_owned(), |v| v.to_string());
                errors.push(FieldError::new(
                    path,
                    "APR-RANGE",
                    format!(
                        "{name} {value} is outside approval {number}'s permitted range {}..{}",
                        show(range.min),
                        show(range.max)
                    ),
                ));
            }
        }
        errors
    }
}

/// The first element named `name` under `parent` (depth first) whose text is a number, with its path.
fn find_number(parent: &Element, name: &str, path: &str) -> Option<(String, f64)> {
    for child in parent.elements() {
        let here = format!("{path}/{}", child.name);
        if child.name == name
            && let Ok(v) = child.text().trim().parse::<f64>()
        {
            return Some((here, v));
        }
        if let Some(found) = find_number(child, name, &here) {
            return Some(found);
        }
    }
    None
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "tests")]
    use super::*;

    const DOC: &str = r#"<InitialVehicleInformation xmlns="http://eu.ereg.initialvehicleinformation.v2"><CocDataGroup>
      <Type>T1</Type><Variant>A</Variant><Version>A01</Version><VehicleCategory>M1</VehicleCategory>
      <TypeApprovalNumber>e4*2018/858*00123*01</TypeApprovalNumber>
      <MassGroup><MassInRunningOrder>1540</MassInRunningOrder></MassGroup></CocDataGroup></InitialVehicleInformation>"#;

    fn approvals(extra: &str) -> Approvals {
        Approvals::from_json(format!(r#"{{"approvals":[{{"approval_number":"e4*2018/858*00123*01","type":"T1","variants":["A"],"versions":["A01"],"category":"M1"{extra}}}]}}"#).as_bytes()).unwrap()
    }

    #[test]
    fn inside_and_outside() {
        let root = ivi::xml::parse(DOC.as_bytes()).unwrap().root;
        assert!(
            approvals(r#","ranges":{"MassInRunningOrder":{"min":1400,"max":1600}}"#)
                .check(&root)
                .is_empty()
        );
        let out = approvals(r#","ranges":{"MassInRunningOrder":{"max":1500}}"#).check(&root);
        assert_eq!(out.len(), 1);
        assert_eq!(
            (out[0].code.as_str(), out[0].path.as_str()),
            ("APR-RANGE", "CocDataGroup/MassGroup/MassInRunningOrder")
        );
        let mut other = approvals("");
        other.approvals[0].versions = vec!["B01".into()];
        other.approvals[0].vehicle_type = "T2".into();
        let codes: Vec<String> = other.check(&root).into_iter().map(|e| e.code).collect();
        assert_eq!(codes, ["APR-TYPE", "APR-VERSION"]);
        other.approvals[0].approval_number = "e4*2018/858*99999*01".into();
        assert_eq!(other.check(&root)[0].code, "APR-UNKNOWN");
        assert!(Approvals::from_json(br#"{"approvals":[{"approval_number":"x","type":"t","variants":[],"versions":[],"ranges":{"Length":{"min":5,"max":1}}}]}"#).is_err());
        assert!(Approvals::from_json(br#"{"approvals":[],"extra":1}"#).is_err());
    }
}
