//! Strict JSON for ERP input: what `serde_json` reads, minus what makes a record ambiguous. Duplicate
//! keys are refused (serde_json keeps the last silently, so `{"vin": "A", "vin": "B"}` would map a VIN
//! the ERP may not have meant), and nesting is limited.

use serde::de::{self, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Value};

/// Deepest nesting accepted (serde_json's own limit is 128).
pub const MAX_DEPTH: usize = 64;

struct Strict(usize);

impl<'de> Visitor<'de> for Strict {
    type Value = Value;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("a JSON value")
    }
    fn visit_bool<E>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }
    fn visit_i64<E>(self, v: i64) -> Result<Value, E> {
        Ok(Value::from(v))
    }
    fn visit_u64<E>(self, v: u64) -> Result<Value, E> {
        Ok(Value::from(v))
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Value, E> {
        serde_json::Number::from_f64(v)
            .map(Value::Number)
            .ok_or_else(|| E::custom("number out of range"))
    }
    fn visit_str<E>(self, v: &str) -> Result<Value, E> {
        Ok(Value::String(v.to_owned()))
    }
    fn visit_string<E>(self, v: String) -> Result<Value, E> {
        Ok(Value::String(v))
    }
    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_none<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        if self.0 >= MAX_DEPTH {
            return Err(de::Error::custom(format!("nested deeper than {MAX_DEPTH}")));
        }
        let mut out = Vec::new();
        while let Some(v) = seq.next_element_seed(Strict(self.0 + 1))? {
            out.push(v);
        }
        Ok(Value::Array(out))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        if self.0 >= MAX_DEPTH {
            return Err(de::Error::custom(format!("nested deeper than {MAX_DEPTH}")));
        }
        let mut out = Map::new();
        while let Some(key) = map.next_key::<String>()? {
            if out.contains_key(&key) {
                return Err(de::Error::custom(format!("duplicate key `{key}`")));
            }
            let value = map.next_value_seed(Strict(self.0 + 1))?;
            out.insert(key, value);
        }
        Ok(Value::Object(out))
    }
}

impl<'de> de::DeserializeSeed<'de> for Strict {
    type Value = Value;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        d.deserialize_any(self)
    }
}

/// Parses `bytes` as one JSON value: no duplicate keys, at most [`MAX_DEPTH`] levels, nothing after it.
pub fn parse(bytes: &[u8]) -> Result<Value, String> {
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let value = de::DeserializeSeed::deserialize(Strict(0), &mut de).map_err(|e| e.to_string())?;
    de.end().map_err(|e| e.to_string())?;
    Ok(value)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strictness() {
        assert_eq!(
            parse(br#"{"a": [1, {"b": null}]}"#).ok(),
            Some(serde_json::json!({"a": [1, {"b": null}]}))
        );
        assert!(
            parse(br#"{"vin": "A", "vin": "B"}"#)
                .unwrap_err()
                .contains("duplicate key `vin`")
        );
        assert!(parse(br#"{"a": {"x": 1, "x": 2}}"#).is_err());
        assert!(parse(b"1e400").is_err());
        assert!(parse(b"{} {}").is_err());
        assert!(parse(b"\xef\xbb\xbf{}").is_err());
        let deep = format!("{}{}", "[".repeat(100), "]".repeat(100));
        assert!(parse(deep.as_bytes()).unwrap_err().contains("nested"));
    }
}
