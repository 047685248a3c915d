//! A tenant's own mapper: a WebAssembly component the tenant's team writes (in any language) when
//! its rules outgrow the mapping language. It is declared in `spin.toml` as a private component
//! with no key-value store and no outbound host, so it can reach neither ecoc's data nor the
//! network, and named in the tenant's settings (`"mapper": "nordbau-mapper"`). The deployment
//! lists the components tenants may name (the `mappers` variable), so no tenant can point its
//! uploads at one of ecoc's own steps.
//!
//! The `map` step POSTs the ERP payload, as it arrived, to `http://<id>.spin.internal/map`
//! (Spin's local service chaining: no network, the same on Spin and on `ecoc up`). The answer:
//!
//! - `200` with `application/json`: the *mapping input*, an object the tenant's mapping then maps;
//! - `200` with `application/xml`: the IVI document itself, checked like a `POST /v1/ivi` upload;
//! - `422` (or another 4xx): the mapper refuses the record; its text is the reason given to the ERP;
//! - anything else, or no answer: a 502 naming the mapper.
//!
//! `docs/mapping.md` ("Mapper components") says why HTTP and not a WIT interface.

use serde_json::Value;
use transport::http::Method;
use transport::{Request, Response};

use crate::error::Service;
use crate::mapping::Mapping;
use crate::{Error, FieldError, Result, validate};

/// The path the mapper is called on.
pub const PATH: &str = "/map";
/// Longest refusal text passed on to the ERP.
const MAX_REASON_CHARS: usize = 2000;

/// What a mapper gave back.
#[derive(Debug, Clone, PartialEq)]
pub enum Output {
    /// The mapping input: the tenant's mapping maps it.
    Record(Value),
    /// A whole IVI document.
    Ivi(String),
}

/// Whether `id` can name a Spin component (lower-case letters, digits and `-`, a letter first).
pub fn valid_id(id: &str) -> bool {
    (1..=64).contains(&id.len())
        && id.starts_with(|c: char| c.is_ascii_lowercase())
        && id
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
}

/// Refuses a mapper the deployment does not list in `declared` (comma-separated component ids,
/// the `mappers` variable).
pub fn check_declared(id: &str, declared: &str) -> Result<()> {
    if declared.split(',').map(str::trim).any(|d| d == id) {
        Ok(())
    } else {
        Err(Error::Fields(vec![FieldError::new(
            "/mapper",
            "TENANT-INVALID",
            format!(
                "`{id}` is not a mapper component of this deployment (its `mappers` variable lists: {})",
                if declared.trim().is_empty() {
                    "none"
                } else {
                    declared
                }
            ),
        )]))
    }
}

/// The request to mapper `id` for one ERP payload.
pub fn request(id: &str, payload: &[u8]) -> Result<Request> {
    transport::request(
        Method::POST,
        &format!("http://{id}.spin.internal{PATH}"),
        &[("content-type", "application/json")],
        payload.to_vec(),
    )
    .map_err(|e| Error::Internal(format!("mapper request: {e}")))
}

/// Sends one payload to the tenant's mapper and reads its answer (see [`request`], [`read_answer`]).
pub type Call<'a> = dyn Fn(&[u8]) -> Result<Output> + 'a;

/// One ERP record as IVI XML: through the tenant's mapper, when it has one, then through its
/// mapping when the mapper gave the mapping input (or there is no mapper). `mapping` is `None`
/// for a tenant that has none yet: fine when its mapper writes the IVI document itself. The
/// flag says whether the mapper wrote the document.
pub fn record_to_xml(
    record: &Value,
    mapper: Option<&Call<'_>>,
    mapping: Option<&Mapping>,
) -> Result<(String, bool)> {
    let input = match mapper {
        None => Output::Record(record.clone()),
        Some(call) => {
            let payload = serde_json::to_vec(record).map_err(|e| Error::Internal(e.to_string()))?;
            call(&payload)?
        }
    };
    match input {
        Output::Ivi(xml) => Ok((xml, true)),
        Output::Record(value) => {
            let mapping = mapping.ok_or_else(|| {
                Error::Conflict(
                    "the tenant has no mapping yet: a primary user sets it with PUT /v1/tenant/mapping"
                        .into(),
                )
            })?;
            let mapped = mapping
                .apply(&value, std::time::SystemTime::now())
                .map_err(Error::Fields)?;
            Ok((mapped.xml, false))
        }
    }
}

/// Reads mapper `id`'s answer.
pub fn read_answer(id: &str, answer: &Response) -> Result<Output> {
    let status = answer.status().as_u16();
    let kind = transport::header(answer, "content-type")
        .unwrap_or_default()
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase();
    let upstream = |message: String| Error::Upstream {
        service: Service::Mapper,
        message,
        retryable: status >= 500,
    };
    match status {
        200 => match kind.as_str() {
            "application/json" => {
                let value = crate::json::parse(answer.body()).map_err(|e| {
                    upstream(format!(
                        "mapper `{id}` answered JSON that does not read: {e}"
                    ))
                })?;
                if value.is_object() {
                    Ok(Output::Record(value))
                } else {
                    Err(upstream(format!(
                        "mapper `{id}` answered JSON that is not an object"
                    )))
                }
            }
            "application/xml" | "text/xml" => {
                validate::check_size(answer.body().len())?;
                String::from_utf8(answer.body().clone())
                    .map(Output::Ivi)
                    .map_err(|_| upstream(format!("mapper `{id}` answered XML that is not UTF-8")))
            }
            other => Err(upstream(format!(
                "mapper `{id}` answered 200 with content type `{other}` (application/json: the mapping input; application/xml: the IVI document)"
            ))),
        },
        400..=499 => {
            let text = String::from_utf8_lossy(answer.body());
            let reason: String = text.trim().chars().take(MAX_REASON_CHARS).collect();
            Err(Error::Fields(vec![FieldError::new(
                "",
                "MAPPER-REFUSED",
                format!("mapper `{id}` refused the record ({status}): {reason}"),
            )]))
        }
        _ => Err(upstream(format!("mapper `{id}` answered {status}"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn answer(status: u16, kind: &str, body: &str) -> Response {
        let mut r = Response::new(body.as_bytes().to_vec());
        *r.status_mut() = transport::http::StatusCode::from_u16(status).expect("status");
        r.headers_mut()
            .insert("content-type", kind.parse().expect("header"));
        r
    }

    #[test]
    fn the_answer_says_what_the_mapper_gave() {
        assert_eq!(
            read_answer(
                "m",
                &answer(200, "application/json; charset=utf-8", r#"{"vin": "X"}"#)
            )
            .ok(),
            Some(Output::Record(serde_json::json!({"vin": "X"})))
        );
        assert_eq!(
            read_answer("m", &answer(200, "application/xml", "<a/>")).ok(),
            Some(Output::Ivi("<a/>".into()))
        );
        let refused = read_answer(
            "m",
            &answer(422, "text/plain", "no axle data for ZV_AXLE_MAX"),
        );
        assert!(
            matches!(&refused, Err(Error::Fields(f)) if f[0].code == "MAPPER-REFUSED" && f[0].message.contains("ZV_AXLE_MAX")),
            "{refused:?}"
        );
        for bad in [
            answer(200, "application/json", "[1]"),
            answer(200, "text/html", "<html/>"),
            answer(500, "text/plain", "boom"),
        ] {
            assert!(matches!(
                read_answer("m", &bad),
                Err(Error::Upstream {
                    service: Service::Mapper,
                    ..
                })
            ));
        }
    }

    #[test]
    fn only_declared_mappers_are_called() {
        assert!(check_declared("nordbau-mapper", "nordbau-mapper, other").is_ok());
        assert!(check_declared("validate", "nordbau-mapper").is_err());
        assert!(check_declared("x", "").is_err());
        assert!(
            valid_id("nordbau-mapper") && !valid_id("Nordbau") && !valid_id("a.b") && !valid_id("")
        );
    }
}
