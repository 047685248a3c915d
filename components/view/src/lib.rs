//! # ecoc-view: the readiness web view's pages
//!
//! The `view` function (`functions/view`, public routes `/view/...`) is a thin Spin handler: it
//! reads the session cookie, asks the API (`status` and `map`, over service chaining, with the
//! session's token as the bearer), and hands the JSON answers to this crate, which turns them into
//! pages. Nothing here talks HTTP or depends on Spin, so every page is tested natively.
//!
//! - [`pages`]: one function per page, the API's JSON in, a whole HTML document out: the login,
//!   today at a glance, the submissions list, a record, the tenant, an error.
//! - [`html::escape`]: the one escaping function; every value from outside goes through it.
//! - [`layout`]: the frame of every page and the stylesheet ([`layout::CSS`], served at
//!   `/view/static/view.css`): semantic HTML5, a skip link, labelled controls, visible focus,
//!   mobile first. No script at all: plain links and forms.
//! - [`web`]: the session cookie, the same-origin check of POSTs, the security headers, forms.
//!
//! ```
//! use ecoc_view::{Who, pages};
//!
//! let who: Who = serde_json::from_value(serde_json::json!({
//!     "tenant": "demo", "tenant_name": "Demo Motors", "token": "viewer", "role": "view",
//!     "may": {"view": true, "upload": false, "manage": false}
//! }))?;
//! let record = serde_json::json!({
//!     "id": "r019a0000000000000000aaaa", "vin": "WEX1M1<script>", "status": "held",
//!     "status_name": "Held", "events": [], "errors": [], "drift": []
//! });
//! let html = pages::record::page(&who, &record, None);
//! assert!(html.contains("WEX1M1&lt;script&gt;"));
//! assert!(!html.contains("id=\"sign-off\""), "a view token cannot sign off");
//! # Ok::<(), serde_json::Error>(())
//! ```

pub mod html;
pub mod layout;
pub mod pages;
pub mod web;

use serde_json::Value;

/// Who is signed in: the answer of `GET /v1/whoami`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Deserialize)]
pub struct Who {
    /// The tenant's id.
    pub tenant: String,
    /// The tenant's display name.
    pub tenant_name: String,
    /// The token's name.
    pub token: String,
    /// `primary`, `upload` or `view`.
    pub role: String,
    /// What the role may do.
    pub may: May,
}

/// What a role may do (`GET /v1/whoami`'s `may`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Deserialize)]
pub struct May {
    /// Read records and settings.
    pub view: bool,
    /// Upload, preview a mapping, send a record again.
    pub upload: bool,
    /// Settings, mapping, approvals, tokens; sign-off.
    pub manage: bool,
}

/// One finding: where, which rule, what (a refusal's field error, a drift finding).
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Deserialize)]
pub struct Finding {
    /// An IVI element path, a JSON pointer, or a CSV cell.
    #[serde(default)]
    pub path: String,
    /// The rule's code (`IVI-VIN-CHARS`, `MAP-REQUIRED`).
    #[serde(default)]
    pub code: String,
    /// What is wrong.
    #[serde(default)]
    pub message: String,
}

/// An error answer of the API: its status and `{"error", "message", "errors"?}`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    /// The HTTP status the API answered (the view answers the same).
    pub status: u16,
    /// The API's message (or, for an answer not of the API's shape, a generic one).
    pub message: String,
    /// Field errors of a 422.
    pub errors: Vec<Finding>,
}

impl ApiError {
    /// Reads an error answer.
    pub fn from_answer(status: u16, body: &[u8]) -> Self {
        let parsed: Option<Value> = serde_json::from_slice(body).ok();
        let message = parsed
            .as_ref()
            .and_then(|v| v.get("message"))
            .and_then(Value::as_str)
            .map(str::to_owned)
            .unwrap_or_else(|| format!("the API answered {status}"));
        let errors = parsed
            .as_ref()
            .map(|v| findings(v, "errors"))
            .unwrap_or_default();
        Self {
            status,
            message,
            errors,
        }
    }

    /// An error of the view itself (a form it cannot read, say).
    pub fn new(status: u16, message: impl Into<String>) -> Self {
        Self {
            status,
            message: message.into(),
            errors: Vec::new(),
        }
    }
}

/// The findings listed under `key` of `value` (entries that are not findings are skipped).
pub fn findings(value: &Value, key: &str) -> Vec<Finding> {
    value
        .get(key)
        .and_then(Value::as_array)
        .map(|list| {
            list.iter()
                .filter_map(|f| serde_json::from_value(f.clone()).ok())
                .collect()
        })
        .unwrap_or_default()
}

/// `value[key]` as text: a string as it is, a number or boolean written out, anything else
/// (absent, null) empty.
pub(crate) fn text(value: &Value, key: &str) -> String {
    match value.get(key) {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Number(n)) => n.to_string(),
        Some(Value::Bool(b)) => b.to_string(),
        _ => String::new(),
    }
}

/// `value[key]` as a count (0 when absent or not a whole number).
pub(crate) fn count(value: &Value, key: &str) -> u64 {
    value.get(key).and_then(Value::as_u64).unwrap_or(0)
}

#[cfg(test)]
pub(crate) mod testing {
    //! What the page tests share.
    use super::{May, Who};

    /// Someone of `role` signed in to "Demo <Motors>" (a name that needs escaping).
    pub fn who(role: &str) -> Who {
        Who {
            tenant: "demo".into(),
            tenant_name: "Demo <Motors>".into(),
            token: format!("{role}-token"),
            role: role.into(),
            may: May {
                view: true,
                upload: role != "view",
                manage: role == "primary",
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn api_errors_keep_the_message_and_findings() {
        let e = ApiError::from_answer(
            422,
            br#"{"error":"invalid","message":"2 problems","errors":[{"path":"/vin","code":"MAP-REQUIRED","message":"missing"}]}"#,
        );
        assert_eq!((e.status, e.message.as_str()), (422, "2 problems"));
        assert_eq!(e.errors[0].code, "MAP-REQUIRED");
        let odd = ApiError::from_answer(502, b"<html>bad gateway</html>");
        assert_eq!(odd.message, "the API answered 502");
    }
}
