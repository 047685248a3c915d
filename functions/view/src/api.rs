//! The API as the view calls it: `status` (reads, sign-off, retry) and `map` (the tenant's
//! settings) over Spin service chaining, with the session's token as the bearer, exactly as any
//! API client would. A non-2xx answer comes back as the API's own error (status and message).

use ecoc_view::ApiError;
use serde_json::Value;
use transport::Transport as _;
use transport::http::Method;

/// `status`, the read side of `/v1` (and sign-off, retry).
pub const STATUS: &str = "http://status.spin.internal";
/// `map`, the write side (`/v1/tenant...`).
pub const MAP: &str = "http://map.spin.internal";

/// The API with one session's token.
#[derive(Debug, Clone, Copy)]
pub struct Api<'t> {
    token: &'t str,
}

impl<'t> Api<'t> {
    /// The API as the holder of `token`.
    pub fn new(token: &'t str) -> Self {
        Self { token }
    }

    /// Sends a request to `base` + `path` (with a body of `content_type`); the 2xx answer, or
    /// the API's error.
    pub fn send(
        &self,
        method: Method,
        base: &str,
        path: &str,
        body: Option<(&str, Vec<u8>)>,
    ) -> Result<transport::Response, ApiError> {
        let bearer = format!("Bearer {}", self.token);
        let mut headers = vec![("authorization", bearer.as_str())];
        let bytes = match &body {
            Some((content_type, bytes)) => {
                headers.push(("content-type", content_type));
                bytes.clone()
            }
            None => Vec::new(),
        };
        let url = format!("{base}{path}");
        let unreachable = |e: transport::Error| {
            eprintln!("view: {method} {base}{path}: {e}");
            ApiError::new(502, "the API did not answer; try again in a moment")
        };
        let request =
            transport::request(method.clone(), &url, &headers, bytes).map_err(unreachable)?;
        let answer = transport::SpinTransport::INTERNAL
            .send(request)
            .map_err(unreachable)?;
        let status = answer.status().as_u16();
        if (200..300).contains(&status) {
            Ok(answer)
        } else {
            Err(ApiError::from_answer(status, answer.body()))
        }
    }

    /// `GET` of a JSON document.
    pub fn get(&self, base: &str, path: &str) -> Result<Value, ApiError> {
        json_of(&self.send(Method::GET, base, path, None)?)
    }

    /// A JSON request answered with JSON.
    pub fn json(
        &self,
        method: Method,
        base: &str,
        path: &str,
        body: &Value,
    ) -> Result<Value, ApiError> {
        let bytes = serde_json::to_vec(body)
            .map_err(|e| ApiError::new(500, format!("the request could not be written: {e}")))?;
        json_of(&self.send(method, base, path, Some(("application/json", bytes)))?)
    }
}

fn json_of(answer: &transport::Response) -> Result<Value, ApiError> {
    serde_json::from_slice(answer.body())
        .map_err(|_| ApiError::new(502, "the API answered with something other than JSON"))
}
