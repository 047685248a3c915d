//! # transport: the one HTTP vocabulary of ecoc
//!
//! Every crate that talks HTTP to the outside (the CSC client in `dsig`, the NAP adapter and the
//! ERP write-back in `pipeline`, the CLI's seeding) speaks these types, so a request built in one
//! place can be sent by whichever transport the caller runs on:
//!
//! - [`Request`] / [`Response`]: the [`http`] crate's types (re-exported) with a `Vec<u8>` body;
//! - [`Transport`]: a small blocking trait, *any* HTTP status is an `Ok` answer, an [`Error`] means
//!   no answer at all (connection refused, DNS, TLS, timeout, a method the transport cannot send);
//! - [`request`] / [`json`] build requests without panicking, [`header`] reads an answer's header;
//! - `UreqTransport` (feature `native`): blocking `ureq`, for the CLI, sandboxes and tests;
//! - `SpinTransport` (feature `spin`): `wasi:http` outbound with connect, first-byte and
//!   between-bytes timeouts (`Timeouts`), for the wasm functions.
//!
//! Requests carry secrets (bearer tokens, client secrets, PINs in bodies): print one with
//! [`Redacted`], never with `{:?}` (the `http` crate's `Debug` shows the body, and header values
//! other than the credential headers [`request`] marks sensitive).
//!
//! ```
//! use transport::http::{Method, StatusCode};
//! use transport::{Request, Response, Transport};
//!
//! /// A transport that answers every request with 404 (tests use fakes like this one).
//! struct NotFound;
//!
//! impl Transport for NotFound {
//!     fn send(&self, request: Request) -> transport::Result<Response> {
//!         let mut answer = Response::new(format!("no {}", request.uri().path()).into_bytes());
//!         *answer.status_mut() = StatusCode::NOT_FOUND;
//!         answer.headers_mut().insert("retry-after", "30".parse().expect("header value"));
//!         Ok(answer)
//!     }
//! }
//!
//! # fn main() -> transport::Result<()> {
//! let body = serde_json::json!({"vin": "WVWZZZ1JZXW000001"});
//! let request = transport::json(
//!     Method::POST,
//!     "https://erp.example/v1/ecoc",
//!     &[("authorization", "Bearer secret-token")],
//!     &body,
//! )?;
//! assert!(!format!("{:?}", transport::Redacted(&request)).contains("secret-token"));
//!
//! let answer = NotFound.send(request)?; // a 404 is an answer, not an error
//! assert_eq!(answer.status(), StatusCode::NOT_FOUND);
//! assert_eq!(answer.body(), b"no /v1/ecoc");
//! assert_eq!(transport::header(&answer, "Retry-After"), Some("30"));
//!
//! // Bad input is an error naming what is wrong, never a panic.
//! let bad = transport::request(Method::GET, "https://erp.example/", &[("x-id", "a\nb")], Vec::new());
//! assert!(bad.expect_err("newline in a header").to_string().contains("x-id"));
//! # Ok(()) }
//! ```

pub use http;

use http::header::{CONTENT_TYPE, HeaderName, HeaderValue};
use http::{Method, Uri};

#[cfg(feature = "native")]
mod native;
#[cfg(feature = "spin")]
mod spin;

#[cfg(feature = "native")]
pub use native::UreqTransport;
#[cfg(feature = "spin")]
pub use spin::{SpinTransport, Timeouts};

/// The largest answer body a transport reads (4 MiB); a longer one is an [`Error`].
pub const MAX_RESPONSE_BODY: u64 = 4 * 1024 * 1024;

/// An HTTP request with its whole body.
pub type Request = http::Request<Vec<u8>>;

/// An HTTP answer with its whole body.
pub type Response = http::Response<Vec<u8>>;

/// A request that never got an answer (connection refused, DNS, TLS, timeout, a method the
/// transport cannot send), or one that could not be built. The message names the method and URL,
/// never a header value or the body.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct Error(pub String);

/// `Result` with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Sends one HTTP request, blocking until the whole answer is there.
///
/// Object safe: `&dyn Transport` works where the transport is chosen at run time.
pub trait Transport {
    /// Sends `request` and waits for the whole answer. Any HTTP status is an Ok answer.
    fn send(&self, request: Request) -> Result<Response>;
}

impl<T: Transport + ?Sized> Transport for &T {
    fn send(&self, request: Request) -> Result<Response> {
        (**self).send(request)
    }
}

/// Whether a header carries a credential: its value is marked sensitive (the `http` crate's
/// `Debug` then prints `Sensitive`, HTTP/2 never indexes it).
fn is_secret(name: &HeaderName) -> bool {
    let name = name.as_str();
    matches!(name, "authorization" | "proxy-authorization" | "cookie")
        || ["key", "token", "secret", "password"]
            .iter()
            .any(|word| name.contains(word))
}

/// Builds a request: method, absolute URL, headers (appended in order, so a name may repeat) and
/// body. Fails with an [`Error`] naming the bad URL or header (never its value), no panic.
/// Credential headers (`authorization`, `cookie`, names with `key`, `token`, `secret`,
/// `password`) are marked sensitive.
pub fn request(
    method: Method,
    url: &str,
    headers: &[(&str, &str)],
    body: Vec<u8>,
) -> Result<Request> {
    let fail = |what: String| Error(format!("{method} {url}: {what}"));
    let uri: Uri = url.parse().map_err(|e| fail(format!("invalid URL: {e}")))?;
    if uri.scheme().is_none() || uri.authority().is_none() {
        return Err(fail("the URL is not absolute".to_owned()));
    }
    let mut out = http::Request::new(body);
    for (name, value) in headers {
        let name = HeaderName::from_bytes(name.as_bytes())
            .map_err(|_| fail(format!("invalid header name `{}`", name.escape_debug())))?;
        let mut value = HeaderValue::from_str(value)
            .map_err(|_| fail(format!("invalid value for header `{name}`")))?;
        if is_secret(&name) {
            value.set_sensitive(true);
        }
        out.headers_mut().append(name, value);
    }
    *out.method_mut() = method;
    *out.uri_mut() = uri;
    Ok(out)
}

/// A request with `body` as JSON (`content-type: application/json`, replacing any given in
/// `headers`); otherwise as [`request`].
pub fn json(
    method: Method,
    url: &str,
    headers: &[(&str, &str)],
    body: &serde_json::Value,
) -> Result<Request> {
    let bytes = serde_json::to_vec(body)
        .map_err(|e| Error(format!("{method} {url}: the body is not JSON: {e}")))?;
    let mut out = request(method, url, headers, bytes)?;
    out.headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    Ok(out)
}

/// `application/x-www-form-urlencoded` of `pairs` (OAuth2 token requests, RFC 6749 appendix B):
/// `a=1&b=x+y`.
pub fn form(pairs: &[(&str, &str)]) -> String {
    form_urlencoded::Serializer::new(String::new())
        .extend_pairs(pairs)
        .finish()
}

/// One value form-urlencoded (RFC 6749 section 2.3.1 encodes the client id and secret so before
/// HTTP Basic).
pub fn form_value(value: &str) -> String {
    form_urlencoded::byte_serialize(value.as_bytes()).collect()
}

/// A header of an answer as text (the first one when it repeats; the name is case-insensitive),
/// if present and valid UTF-8.
pub fn header<'a>(response: &'a Response, name: &str) -> Option<&'a str> {
    let value = response.headers().get(name)?;
    std::str::from_utf8(value.as_bytes()).ok()
}

/// Shows a request without its secrets: method, URL, header *names* and body length.
///
/// `format!("{:?}", Redacted(&request))`; the `http` crate's own `Debug` prints header values
/// (except sensitive ones) and the body.
#[derive(Clone, Copy)]
pub struct Redacted<'a>(pub &'a Request);

impl std::fmt::Debug for Redacted<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let request = self.0;
        f.debug_struct("Request")
            .field("method", request.method())
            .field("uri", request.uri())
            .field(
                "headers",
                &request
                    .headers()
                    .keys()
                    .map(HeaderName::as_str)
                    .collect::<Vec<_>>(),
            )
            .field("body_len", &request.body().len())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn form_bodies_escape_what_they_must() {
        assert_eq!(
            form(&[
                ("grant_type", "client_credentials"),
                ("client_secret", "a b&c=d/é")
            ]),
            "grant_type=client_credentials&client_secret=a+b%26c%3Dd%2F%C3%A9"
        );
        assert_eq!(form_value("id:with space"), "id%3Awith+space");
    }

    #[test]
    fn request_builds_what_it_says() {
        let req = request(
            Method::PUT,
            "https://app.example/v1/tenant/mapping?x=1",
            &[
                ("Content-Type", "text/plain"),
                ("accept", "a/b"),
                ("accept", "c/d"),
            ],
            b"hello".to_vec(),
        )
        .expect("request");
        assert_eq!(req.method(), Method::PUT);
        assert_eq!(
            req.uri().to_string(),
            "https://app.example/v1/tenant/mapping?x=1"
        );
        assert_eq!(req.headers()["content-type"], "text/plain");
        let accept: Vec<_> = req.headers().get_all("accept").iter().collect();
        assert_eq!(accept, ["a/b", "c/d"]);
        assert_eq!(req.body(), b"hello");
    }

    #[test]
    fn json_sets_the_body_and_content_type() {
        let value = serde_json::json!({"a": [1, "two"]});
        let req = json(
            Method::POST,
            "http://127.0.0.1:8080/x",
            &[
                ("content-type", "text/plain"),
                ("accept", "application/json"),
            ],
            &value,
        )
        .expect("json");
        assert_eq!(req.method(), Method::POST);
        assert_eq!(
            req.headers().get_all("content-type").iter().count(),
            1,
            "content type replaced, not repeated"
        );
        assert_eq!(req.headers()["content-type"], "application/json");
        assert_eq!(req.headers()["accept"], "application/json");
        let back: serde_json::Value = serde_json::from_slice(req.body()).expect("json body");
        assert_eq!(back, value);
    }

    #[test]
    fn bad_headers_and_urls_are_errors_naming_them() {
        let err = request(
            Method::GET,
            "https://a.example/",
            &[("authorization", "Bearer s3cret\r\nx: y")],
            Vec::new(),
        )
        .expect_err("newline in a value");
        assert!(err.0.contains("authorization"), "{err}");
        assert!(!err.0.contains("s3cret"), "the value stays out: {err}");

        let err = request(
            Method::GET,
            "https://a.example/",
            &[("bad name", "v")],
            Vec::new(),
        )
        .expect_err("space in a name");
        assert!(err.0.contains("`bad name`"), "{err}");

        for url in ["not a url", "/relative/path", "https://a b.example/"] {
            let err = request(Method::GET, url, &[], Vec::new()).expect_err(url);
            assert!(err.0.contains(url), "{err}");
        }
    }

    #[test]
    fn credentials_stay_out_of_debug() {
        let req = json(
            Method::POST,
            "https://qtsp.example/oauth2/token",
            &[
                ("Authorization", "Basic c2VjcmV0"),
                ("x-api-key", "k-123"),
                ("accept", "application/json"),
            ],
            &serde_json::json!({"pin": "123456"}),
        )
        .expect("json");
        let shown = format!("{:?}", Redacted(&req));
        for secret in ["c2VjcmV0", "k-123", "123456"] {
            assert!(!shown.contains(secret), "{shown}");
        }
        assert!(
            shown.contains("authorization") && shown.contains("body_len"),
            "{shown}"
        );
        // Even the http crate's Debug hides the credential headers.
        let raw = format!("{req:?}");
        assert!(!raw.contains("c2VjcmV0") && !raw.contains("k-123"), "{raw}");
        assert!(raw.contains("application/json"), "{raw}");
    }

    #[test]
    fn header_reads_text_case_insensitively() {
        let mut resp = Response::new(Vec::new());
        resp.headers_mut()
            .append("x-duplicate-of", HeaderValue::from_static("ecoc-1"));
        resp.headers_mut()
            .append("x-duplicate-of", HeaderValue::from_static("ecoc-2"));
        resp.headers_mut().append(
            "x-binary",
            HeaderValue::from_bytes(b"\xff\xfe").expect("opaque bytes"),
        );
        assert_eq!(header(&resp, "X-Duplicate-Of"), Some("ecoc-1"));
        assert_eq!(header(&resp, "x-binary"), None, "not UTF-8");
        assert_eq!(header(&resp, "retry-after"), None);
        assert_eq!(header(&resp, "not a header name"), None);
    }

    #[test]
    fn a_reference_is_a_transport_and_so_is_dyn() {
        struct Echo;
        impl Transport for Echo {
            fn send(&self, request: Request) -> Result<Response> {
                Ok(Response::new(request.into_body()))
            }
        }
        fn through(t: impl Transport) -> Vec<u8> {
            let req =
                request(Method::POST, "http://x.example/", &[], b"ping".to_vec()).expect("request");
            t.send(req).expect("answer").into_body()
        }
        let dynamic: &dyn Transport = &Echo;
        assert_eq!(through(&Echo), b"ping");
        assert_eq!(through(dynamic), b"ping");
    }
}
