//! The pipeline's one error type, and the one place that turns an error into an HTTP answer.

use crate::FieldError;

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
        /// `qtsp`, `nap`, `erp` or `mail`.
        service: &'static str,
        /// What happened (never a secret).
        message: String,
        /// Whether trying again later may succeed.
        retryable: bool,
    },
    /// The key-value store failed.
    #[error("key-value store: {0}")]
    Store(String),
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
            Self::UnsupportedMediaType(_) => 415,
            Self::TooLarge(_) => 413,
            Self::Fields(_) => 422,
            Self::Duplicate { .. } | Self::Conflict(_) => 409,
            Self::Upstream { .. } => 502,
            Self::Store(_) | Self::Config(_) => 503,
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
            Self::UnsupportedMediaType(_) => "unsupported_media_type",
            Self::TooLarge(_) => "too_large",
            Self::Fields(_) => "invalid_fields",
            Self::Duplicate { .. } => "duplicate",
            Self::Conflict(_) => "conflict",
            Self::Upstream { .. } => "upstream_failed",
            Self::Store(_) => "store_unavailable",
            Self::Config(_) => "not_configured",
            Self::Internal(_) => "internal",
        }
    }

    /// The JSON body of the answer: `{"error", "message", "errors"?, "duplicate_of"?}`. Internal
    /// details stay in the log: a 500 says only that something broke.
    pub fn to_json(&self) -> serde_json::Value {
        let message = match self {
            Self::Internal(_) => "internal error; the operator's log has the details".to_owned(),
            other => other.to_string(),
        };
        let mut body = serde_json::json!({ "error": self.code(), "message": message });
        match self {
            Self::Fields(errors) => body["errors"] = serde_json::json!(errors),
            Self::Duplicate { existing, .. } if !existing.is_empty() => {
                body["duplicate_of"] = serde_json::json!(existing)
            }
            _ => {}
        }
        body
    }

    /// Whether a step failing with this error should be tried again later.
    pub fn is_retryable(&self) -> bool {
        matches!(
            self,
            Self::Upstream {
                retryable: true,
                ..
            } | Self::Store(_)
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
                service: "nap",
                message: "503".into(),
                retryable: true
            }
            .is_retryable()
        );
    }
}
