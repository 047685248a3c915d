//! One SAP VC item (header, vehicle, partner, characteristics) as the demo mapping's record.

use serde_json::{Map, Value, json};

/// A characteristic: `ATNAM` name, `ATWRT` text, `ATFLV` number, `ATAWE` unit, `ATZHL` counter.
struct Characteristics<'a>(Vec<&'a Map<String, Value>>);

impl<'a> Characteristics<'a> {
    fn of(item: &'a Value) -> Result<Self, String> {
        let list = item
            .pointer("/characteristics")
            .and_then(Value::as_array)
            .ok_or("the item has no `characteristics` array")?;
        Ok(Self(list.iter().filter_map(Value::as_object).collect()))
    }

    fn all(&self, name: &str) -> impl Iterator<Item = &&'a Map<String, Value>> {
        self.0
            .iter()
            .filter(move |c| c.get("ATNAM").and_then(Value::as_str) == Some(name))
    }

    fn first(&self, name: &str) -> Option<&'a Map<String, Value>> {
        self.all(name).next().copied()
    }

    fn text(&self, name: &str) -> Option<&'a str> {
        self.first(name)?.get("ATWRT")?.as_str()
    }

    fn required_text(&self, name: &str) -> Result<&'a str, String> {
        self.text(name)
            .ok_or_else(|| format!("characteristic {name} (ATWRT) is missing"))
    }

    /// A number in kilograms or millimetres: `ATFLV` scaled by its `ATAWE` (`TO` tonnes, `M`).
    fn metric(&self, c: &Map<String, Value>) -> Result<i64, String> {
        let name = c.get("ATNAM").and_then(Value::as_str).unwrap_or("?");
        let value = c
            .get("ATFLV")
            .and_then(Value::as_f64)
            .ok_or_else(|| format!("characteristic {name} has no number (ATFLV)"))?;
        let factor = match c.get("ATAWE").and_then(Value::as_str).unwrap_or("") {
            "TO" | "M" => 1000.0,
            "KG" | "MM" | "KW" | "KMH" | "CCM" | "" => 1.0,
            other => {
                return Err(format!(
                    "characteristic {name}: unit {other} is not one this mapper reads"
                ));
            }
        };
        // Rounded to whole kilograms / millimetres: 11.99 t is 11990 kg, not 11989.999...
        Ok((value * factor).round() as i64)
    }

    fn number(&self, name: &str) -> Result<Option<i64>, String> {
        self.first(name).map(|c| self.metric(c)).transpose()
    }

    fn required(&self, name: &str) -> Result<i64, String> {
        self.number(name)?
            .ok_or_else(|| format!("characteristic {name} (ATFLV) is missing"))
    }
}

/// `YYYYMMDD` as `YYYY-MM-DD`.
fn date(text: &str, what: &str) -> Result<String, String> {
    if text.len() == 8 && text.bytes().all(|b| b.is_ascii_digit()) {
        Ok(format!("{}-{}-{}", &text[..4], &text[4..6], &text[6..]))
    } else {
        Err(format!("{what} `{text}` is not a date YYYYMMDD"))
    }
}

fn field<'a>(item: &'a Value, pointer: &str) -> Result<&'a str, String> {
    item.pointer(pointer)
        .and_then(Value::as_str)
        .ok_or_else(|| format!("{pointer} is missing"))
}

/// The demo mapping's record for one SAP item, or what is missing.
pub fn to_record(item: &Value) -> Result<Value, String> {
    let ch = Characteristics::of(item)?;
    let approval = ch.required_text("ZV_TA_NUMBER")?;
    let electric = ch.text("ZV_FUEL") == Some("ELEKTRISCH");
    let stage = match ch.required_text("ZV_STAGE")? {
        "COMPLETE" => "complete",
        "INCOMPLETE" => "incomplete",
        other => return Err(format!("ZV_STAGE `{other}` is not COMPLETE or INCOMPLETE")),
    };
    let country = match field(item, "/partner/LAND1")? {
        "NL" => "NETHERLANDS",
        "BE" => "BELGIUM",
        "DE" => "GERMANY",
        other => {
            return Err(format!(
                "/partner/LAND1 `{other}` has no country name in this mapper"
            ));
        }
    };
    let powered: Vec<i64> = ch
        .required_text("ZV_POWERED_AXLES")?
        .split(',')
        .filter_map(|n| n.trim().parse().ok())
        .collect();
    let mut axle_numbers: Vec<i64> =
        ch.0.iter()
            .filter_map(|c| c.get("ATZHL")?.as_str()?.parse().ok())
            .collect();
    axle_numbers.sort_unstable();
    axle_numbers.dedup();
    let per_axle = |name: &str, n: i64| {
        ch.all(name).copied().find(|c| {
            c.get("ATZHL")
                .and_then(Value::as_str)
                .and_then(|z| z.parse().ok())
                == Some(n)
        })
    };
    let mut axles = Vec::new();
    for n in axle_numbers {
        let max = per_axle("ZV_AXLE_MAX", n).ok_or(format!("axle {n} has no ZV_AXLE_MAX"))?;
        let tyre = per_axle("ZV_TYRE", n)
            .and_then(|c| c.get("ATWRT")?.as_str())
            .ok_or(format!("axle {n} has no ZV_TYRE"))?;
        axles.push(json!({
            "number": n,
            "twin_wheels": per_axle("ZV_AXLE_TWIN", n).is_some(),
            "powered": powered.contains(&n),
            "max_mass_kg": ch.metric(max)?,
            "tyres": [{"number": 1, "size": tyre}]
        }));
    }
    let power = ch.required("ZV_POWER")?;
    let mut engine = json!({
        "manufacturer": ch.required_text("ZV_ENGINE_MFR")?,
        "code": ch.required_text("ZV_ENGINE_CODE")?,
        "energy_source": if electric { "95" } else { "20" },
    });
    if !electric {
        engine["max_net_power_kw"] = json!(power);
    }
    let running_order = match ch.number("ZV_MASS_RO")? {
        Some(kg) => kg,
        None => ch.required("ZV_MASS_INCOMPLETE_RO")?,
    };
    let mut record = json!({
        "vin": field(item, "/vehicle/VHVIN")?,
        "approval": {
            "country": approval.split('*').next().unwrap_or(""),
            "kind": "EU",
            "provisional": false,
            "number": approval,
            "issued": date(ch.required_text("ZV_TA_DATE")?, "ZV_TA_DATE")?,
        },
        "stage_of_completion": stage,
        "type": ch.required_text("ZV_TYPE")?,
        "variant": ch.required_text("ZV_VARIANT")?,
        "version_code": ch.required_text("ZV_VERSION")?,
        "category": ch.required_text("ZV_CATEGORY")?,
        "signed_by": {
            "name": ch.required_text("ZV_SIGNER")?,
            "position": ch.required_text("ZV_SIGNER_ROLE")?,
            "place": field(item, "/partner/ORT01")?,
            "date": date(field(item, "/header/ERDAT")?, "/header/ERDAT")?,
        },
        "make": field(item, "/vehicle/MAKE")?,
        "commercial_name": field(item, "/vehicle/MODEL_TXT")?,
        "manufacturers": [{
            "stage": 1,
            "name": field(item, "/partner/NAME1")?,
            "address": field(item, "/partner/STRAS")?,
            "city": field(item, "/partner/ORT01")?,
            "country": country,
        }],
        "construction": {"axles": ch.required("ZV_AXLES")?, "wheels": ch.required("ZV_WHEELS")?},
        "dimensions_mm": {
            "wheelbase": ch.number("ZV_WHEELBASE")?,
            "length": ch.number("ZV_LENGTH")?,
            "width": ch.number("ZV_WIDTH")?,
            "height": ch.number("ZV_HEIGHT")?,
        },
        "masses_kg": {
            "running_order": running_order,
            "running_order_incomplete": ch.number("ZV_MASS_INCOMPLETE_RO")?,
            "max_laden": ch.required("ZV_TPMLM")?,
        },
        "axles": axles,
        "engines": [engine],
    });
    if !electric {
        record["emissions"] = json!({"fuel_type": "M"});
    }
    if let Some(body) = ch.text("ZV_BODY") {
        record["bodywork"] = json!([{"code": body}]);
    }
    Ok(record)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "tests: a panic is the failure report")]
    use super::*;

    fn chassis() -> Value {
        json!({
            "header": {"ERDAT": "20261118", "LAND1": "NL"},
            "vehicle": {"VHVIN": "XNB2CC3TZRB100201", "MAKE": "NORDBAU", "MODEL_TXT": "K2"},
            "partner": {"NAME1": "Nordbau", "STRAS": "Industrieweg 12", "ORT01": "Eindhoven", "LAND1": "NL"},
            "characteristics": [
                {"ATNAM": "ZV_CATEGORY", "ATWRT": "N2"}, {"ATNAM": "ZV_STAGE", "ATWRT": "INCOMPLETE"},
                {"ATNAM": "ZV_TA_NUMBER", "ATWRT": "e4*2018/858*00777*01"}, {"ATNAM": "ZV_TA_DATE", "ATWRT": "20250214"},
                {"ATNAM": "ZV_TYPE", "ATWRT": "K2"}, {"ATNAM": "ZV_VARIANT", "ATWRT": "K2C"}, {"ATNAM": "ZV_VERSION", "ATWRT": "K2C-45"},
                {"ATNAM": "ZV_AXLES", "ATFLV": 2}, {"ATNAM": "ZV_WHEELS", "ATFLV": 6}, {"ATNAM": "ZV_POWERED_AXLES", "ATWRT": "2"},
                {"ATNAM": "ZV_AXLE_MAX", "ATZHL": "0001", "ATFLV": 4.1, "ATAWE": "TO"},
                {"ATNAM": "ZV_AXLE_MAX", "ATZHL": "0002", "ATFLV": 7.5, "ATAWE": "TO"},
                {"ATNAM": "ZV_AXLE_TWIN", "ATZHL": "0002", "ATWRT": "X"},
                {"ATNAM": "ZV_TYRE", "ATZHL": "0001", "ATWRT": "245/70R19.5"}, {"ATNAM": "ZV_TYRE", "ATZHL": "0002", "ATWRT": "245/70R19.5"},
                {"ATNAM": "ZV_MASS_INCOMPLETE_RO", "ATFLV": 3120, "ATAWE": "KG"}, {"ATNAM": "ZV_TPMLM", "ATFLV": 11.99, "ATAWE": "TO"},
                {"ATNAM": "ZV_ENGINE_MFR", "ATWRT": "Nordbau Motoren"}, {"ATNAM": "ZV_ENGINE_CODE", "ATWRT": "NM45D"},
                {"ATNAM": "ZV_FUEL", "ATWRT": "DIESEL"}, {"ATNAM": "ZV_POWER", "ATFLV": 160, "ATAWE": "KW"},
                {"ATNAM": "ZV_SIGNER", "ATWRT": "J. de Vries"}, {"ATNAM": "ZV_SIGNER_ROLE", "ATWRT": "Homologatie"}
            ]
        })
    }

    #[test]
    fn tonnes_become_kilograms_and_axles_their_own_items() {
        let r = to_record(&chassis()).unwrap();
        assert_eq!(r["masses_kg"]["max_laden"], 11990);
        assert_eq!(r["axles"][0]["max_mass_kg"], 4100);
        assert_eq!(r["axles"][1]["twin_wheels"], true);
        assert_eq!(r["axles"][1]["powered"], true);
        assert_eq!(r["axles"][0]["powered"], false);
        assert_eq!(r["approval"]["issued"], "2025-02-14");
        assert_eq!(r["stage_of_completion"], "incomplete");
    }

    #[test]
    fn a_missing_characteristic_is_named() {
        let mut item = chassis();
        item["characteristics"]
            .as_array_mut()
            .unwrap()
            .retain(|c| c["ATNAM"] != "ZV_TPMLM");
        assert_eq!(
            to_record(&item).unwrap_err(),
            "characteristic ZV_TPMLM (ATFLV) is missing"
        );
    }
}
