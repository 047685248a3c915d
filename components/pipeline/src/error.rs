//! The pipeline's one error type, and the one place that turns an error into an HTTP answer
//! ([`Error::status`] and [`Error::to_body`]) and an answer back into the error
//! ([`Error::from_answer`]), so an error raised in one step reaches the ERP unchanged through the
//! steps that called it.

use crate::FieldError;

/// A remote service the pipeline calls.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Service {
    /// The qualified trust service provider (CSC API v2).
    Qtsp,
    /// The national access point.
    Nap,
    /// The tenant's ERP (write-back).
    Erp,
    /// The HTTP email API (digests).
    Mail,
    /// A tenant's mapper component (`http://<id>.spin.internal`).
    Mapper,
}

impl Service {
    /// Its name in messages and answers.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Qtsp => "qtsp",
            Self::Nap => "nap",
            Self::Erp => "erp",
            Self::Mail => "mail",
            Self::Mapper => "mapper",
        }
    }
}

impl std::fmt::Display for Service {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The body of every error answer: `{"error", "message", "errors"?, "duplicate_of"?, "service"?,
/// "allow"?}`. The HTTP status goes with it; [`Error::from_answer`] reads both back.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ErrorBody {
    /// The stable code ([`Error::code`]).
    pub error: String,
    /// What went wrong, in words.
    pub message: String,
    /// Every field error (422).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<FieldError>,
    /// The record already holding the duplicate key (409 `duplicate`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub duplicate_of: Option<String>,
    /// The remote service that failed (502).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service: Option<Service>,
    /// Whether trying again later may succeed (502).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub retryable: bool,
    /// The methods the path takes (405).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub allow: Vec<String>,
}

/// Everything that can go wrong in the pipeline, grouped by who must act.
#[derive(Debug, Clone, thiserror::Error)]
pub enum Error {
    /// No token, or a token nobody issued.
    #[error("{0}")]
    Unauthorized(String),
    /// A valid token whose role does not allow the action.
    #[error("{0}")]
    Forbidden(String),
    /// No such record, tenant resource or route (or one of another tenant).
    #[error("{0}")]
    NotFound(String),
    /// The request cannot be read (malformed JSON, bad query, missing header).
    #[error("{0}")]
    BadRequest(String),
    /// The path exists, but not for this method.
    #[error("{message}")]
    MethodNotAllowed {
        /// Which method and path, in words.
        message: String,
        /// The methods the path takes (the answer's `Allow` header).
        allow: Vec<String>,
    },
    /// The content type is not the one the route takes.
    #[error("{0}")]
    UnsupportedMediaType(String),
    /// The body is over a limit of the route.
    #[error("{0}")]
    TooLarge(String),
    /// The input was read but breaks rules: every field error is listed.
    #[error("{} field error(s): {}", .0.len(), .0.first().map(|e| e.message.as_str()).unwrap_or(""))]
    Fields(Vec<FieldError>),
    /// The VCA duplicate key (VIN + version + stage) is already taken by `existing`.
    #[error("{message}")]
    Duplicate {
        /// Why, naming the key.
        message: String,
        /// The record holding the key (empty while a concurrent claim is in flight).
        existing: String,
    },
    /// The action does not fit the record's state (e.g. sign-off of a record not held).
    #[error("{0}")]
    Conflict(String),
    /// A remote service (QTSP, NAP, ERP, mail API) failed; `retryable` for 5xx, 429 and transport
    /// failures.
    #[error("{service}: {message}")]
    Upstream {
        /// Which service.
        service: Service,
        /// What happened (never a secret).
        message: String,
        /// Whether trying again later may succeed.
        retryable: bool,
    },
    /// The key-value store failed.
    #[error("key-value store: {0}")]
    Store(String),
    /// The runtime has no capacity for the request now (every instance of a step in use): send it
    /// again in a moment. Nothing of the request was kept.
    #[error("busy: {0}")]
    Busy(String),
    /// A setting the deployment must provide is missing or wrong.
    #[error("configuration: {0}")]
    Config(String),
    /// A bug: stored data that cannot be read, an impossible state.
    #[error("internal error: {0}")]
    Internal(String),
}

/// Result with the pipeline's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// The HTTP status the caller gets: 4xx for the caller's mistakes, 502 for an upstream's, 503
    /// for the deployment's.
    pub fn status(&self) -> u16 {
        match self {
            Self::Unauthorized(_) => 401,
            Self::Forbidden(_) => 403,
            Self::NotFound(_) => 404,
            Self::BadRequest(_) => 400,
            Self::MethodNotAllowed { .. } => 405,
            Self::UnsupportedMediaType(_) => 415,
            Self::TooLarge(_) => 413,
            Self::Fields(_) => 422,
            Self::Duplicate { .. } | Self::Conflict(_) => 409,
            Self::Upstream { .. } => 502,
            Self::Store(_) | Self::Busy(_) | Self::Config(_) => 503,
            Self::Internal(_) => 500,
        }
    }

    /// A stable, machine-readable code for the `error` field of the answer.
    pub fn code(&self) -> &'static str {
        match self {
            Self::Unauthorized(_) => "unauthorized",
            Self::Forbidden(_) => "forbidden",
            Self::NotFound(_) => "not_found",
            Self::BadRequest(_) => "bad_request",
            Self::MethodNotAllowed { .. } => "method_not_allowed",
            Self::UnsupportedMediaType(_) => "unsupported_media_type",
            Self::TooLarge(_) => "too_large",
            Self::Fields(_) => "invalid_fields",
            Self::Duplicate { .. } => "duplicate",
            Self::Conflict(_) => "conflict",
            Self::Upstream { .. } => "upstream_failed",
            Self::Store(_) => "store_unavailable",
            Self::Busy(_) => "busy",
            Self::Config(_) => "not_configured",
            Self::Internal(_) => "internal",
        }
    }

    /// The body of the answer. Internal details stay in the log: a 500 says only that something
    /// broke.
    pub fn to_body(&self) -> ErrorBody {
        let mut body = ErrorBody {
            error: self.code().to_owned(),
            message: match self {
                Self::Internal(_) => {
                    "internal error; the operator's log has the details".to_owned()
                }
                other => other.to_string(),
            },
            errors: Vec::new(),
            duplicate_of: None,
            service: None,
            retryable: false,
            allow: Vec::new(),
        };
        match self {
            Self::Fields(errors) => body.errors = errors.clone(),
            Self::Duplicate { existing, .. } if !existing.is_empty() => {
                body.duplicate_of = Some(existing.clone())
            }
            Self::Upstream {
                service, retryable, ..
            } => {
                body.service = Some(*service);
                body.retryable = *retryable;
            }
            Self::MethodNotAllowed { allow, .. } => body.allow = allow.clone(),
            _ => {}
        }
        body
    }

    /// [`Error::to_body`] as JSON.
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::to_value(self.to_body()).unwrap_or_default()
    }

    /// The error another step answered with `status` and `body`, as that step raised it: the same
    /// status, code, message and field errors when its answer passes on to a client. An answer
    /// that is not an [`ErrorBody`] is an internal error naming the status.
    pub fn from_answer(status: u16, body: &[u8]) -> Self {
        match serde_json::from_slice::<ErrorBody>(body) {
            Ok(body) => Self::from_body(status, body),
            Err(_) => Self::Internal(format!(
                "answer {status} without an error body: {}",
                String::from_utf8_lossy(&body[..body.len().min(200)])
            )),
        }
    }

    /// The error an [`ErrorBody`] describes (see [`Error::from_answer`]).
    pub fn from_body(status: u16, body: ErrorBody) -> Self {
        let ErrorBody {
            error,
            message,
            errors,
            duplicate_of,
            service,
            retryable,
            allow,
        } = body;
        // Messages of variants whose text has a fixed lead-in come back without it.
        let after = |lead: &str| message.strip_prefix(lead).unwrap_or(&message).to_owned();
        match error.as_str() {
            "unauthorized" => Self::Unauthorized(message),
            "forbidden" => Self::Forbidden(message),
            "not_found" => Self::NotFound(message),
            "bad_request" => Self::BadRequest(message),
            "method_not_allowed" => Self::MethodNotAllowed { message, allow },
            "unsupported_media_type" => Self::UnsupportedMediaType(message),
            "too_large" => Self::TooLarge(message),
            "invalid_fields" => Self::Fields(errors),
            "duplicate" => Self::Duplicate {
                message,
                existing: duplicate_of.unwrap_or_default(),
            },
            "conflict" => Self::Conflict(message),
            "upstream_failed" => match service {
                Some(service) => Self::Upstream {
                    message: after(&format!("{service}: ")),
                    service,
                    retryable,
                },
                None => Self::Internal(format!(
                    "{status} upstream_failed without a service: {message}"
                )),
            },
            "store_unavailable" => Self::Store(after("key-value store: ")),
            "busy" => Self::Busy(after("busy: ")),
            "not_configured" => Self::Config(after("configuration: ")),
            _ => Self::Internal(format!("{status} {error}: {message}")),
        }
    }

    /// Whether a step failing with this error should be tried again later.
    pub fn is_retryable(&self) -> bool {
        matches!(
            self,
            Self::Upstream {
                retryable: true,
                ..
            } | Self::Store(_)
                | Self::Busy(_)
        )
    }

    pub(crate) fn corrupt(what: &str, e: impl std::fmt::Display) -> Self {
        Self::Internal(format!("stored {what} cannot be read: {e}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_and_bodies() {
        let e = Error::Fields(vec![FieldError::new(
            "CocDataGroup/X",
            "MAP-REQUIRED",
            "x missing",
        )]);
        assert_eq!(e.status(), 422);
        assert_eq!(e.to_json()["errors"][0]["code"], "MAP-REQUIRED");
        let d = Error::Duplicate {
            message: "dup".into(),
            existing: "r1".into(),
        };
        assert_eq!(
            (d.status(), d.to_json()["duplicate_of"].as_str()),
            (409, Some("r1"))
        );
        let i = Error::Internal("secret detail".into());
        assert!(!i.to_json().to_string().contains("secret detail"));
        assert!(
            Error::Upstream {
                service: Service::Nap,
                message: "503".into(),
                retryable: true
            }
            .is_retryable()
        );
    }

    /// Every variant survives the hop between two steps: what the inner step raised is what the
    /// outer step answers (status, code, message, field errors, duplicate, service, allow).
    #[test]
    fn an_error_crosses_a_step_unchanged() {
        let all = [
            Error::Unauthorized("unknown or revoked token".into()),
            Error::Forbidden("the role `view` of token `v` may not upload vehicles".into()),
            Error::NotFound("no submission `r1`".into()),
            Error::BadRequest("`date` must be YYYY-MM-DD".into()),
            Error::MethodNotAllowed {
                message: "DELETE is not allowed on /v1/tenant/mapping".into(),
                allow: vec!["GET".into(), "PUT".into()],
            },
            Error::UnsupportedMediaType("this route takes Content-Type text/csv".into()),
            Error::TooLarge("the IVI file has 1000001 bytes".into()),
            Error::Fields(vec![FieldError::new(
                "/vin",
                "MAP-REQUIRED",
                "vin is missing",
            )]),
            Error::Duplicate {
                message: "VIN X was already submitted as r1".into(),
                existing: "r1".into(),
            },
            Error::Duplicate {
                message: "VIN X is being submitted by a concurrent request".into(),
                existing: String::new(),
            },
            Error::Conflict("record r1 is signed; it cannot become held".into()),
            Error::Upstream {
                service: Service::Qtsp,
                message: "signatures/signHash answered 503".into(),
                retryable: true,
            },
            Error::Upstream {
                service: Service::Mail,
                message: "the email API answered 400".into(),
                retryable: false,
            },
            Error::Store("cannot open store `work`: access denied".into()),
            Error::Busy("every instance of component `validate` is in use".into()),
            Error::Config("variable `nap_url` is not set".into()),
        ];
        for inner in all {
            let wire = serde_json::to_vec(&inner.to_body()).unwrap();
            let outer = Error::from_answer(inner.status(), &wire);
            assert_eq!(
                (outer.status(), outer.to_body()),
                (inner.status(), inner.to_body()),
                "{inner:?} came back as {outer:?}"
            );
            assert_eq!(outer.is_retryable(), inner.is_retryable());
        }
        // A 500 stays without detail on both sides; a body that is not an error body is internal.
        let hidden = Error::Internal("secret detail".into());
        let wire = serde_json::to_vec(&hidden.to_body()).unwrap();
        assert_eq!(Error::from_answer(500, &wire).status(), 500);
        assert!(matches!(
            Error::from_answer(502, b"<html>"),
            Error::Internal(_)
        ));
    }
}
