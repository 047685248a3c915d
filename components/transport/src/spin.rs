//! [`SpinTransport`]: Spin's outbound HTTP, blocking (feature `spin`).

use http::header::{HeaderName, HeaderValue};
use http::{Method, StatusCode};
use spin_sdk::http as spin;

use crate::{Error, Request, Response, Result, Transport};

/// Outbound HTTP through Spin (`wasi:http`), blocking: the transport of the wasm functions (the
/// CSC client, the NAP adapter, the ERP write-back, mail).
///
/// Sends GET, HEAD, POST, PUT, DELETE, PATCH and OPTIONS; any other method is an [`Error`]
/// (`method X is not supported`), never sent as something else. Headers are copied both ways;
/// a request header given several times is sent once with its values joined by `, `
/// (RFC 9110 section 5.3; Spin's request type keeps one value per name).
#[derive(Debug, Clone, Copy, Default)]
pub struct SpinTransport;

/// Spin's method for `method`, for the methods this transport sends.
fn spin_method(method: &Method) -> Result<spin::Method> {
    Ok(match *method {
        Method::GET => spin::Method::Get,
        Method::HEAD => spin::Method::Head,
        Method::POST => spin::Method::Post,
        Method::PUT => spin::Method::Put,
        Method::DELETE => spin::Method::Delete,
        Method::PATCH => spin::Method::Patch,
        Method::OPTIONS => spin::Method::Options,
        ref other => return Err(Error(format!("method {other} is not supported"))),
    })
}

/// The request's headers for Spin: one entry per name, repeated values joined.
fn spin_headers(headers: &http::HeaderMap) -> Vec<(String, Vec<u8>)> {
    headers
        .keys()
        .map(|name| {
            let value = headers
                .get_all(name)
                .iter()
                .map(HeaderValue::as_bytes)
                .collect::<Vec<_>>()
                .join(&b", "[..]);
            (name.as_str().to_owned(), value)
        })
        .collect()
}

impl Transport for SpinTransport {
    fn send(&self, request: Request) -> Result<Response> {
        let (parts, body) = request.into_parts();
        let method = spin_method(&parts.method)?;
        let fail = |what: String| Error(format!("{} {}: {what}", parts.method, parts.uri));
        let outgoing = spin::Request::builder()
            .method(method)
            .uri(parts.uri.to_string())
            .headers(spin_headers(&parts.headers))
            .body(body)
            .build();
        let answer: spin::Response =
            spin_sdk::http::run(spin::send(outgoing)).map_err(|e| fail(e.to_string()))?;
        let status = StatusCode::from_u16(*answer.status())
            .map_err(|_| fail(format!("invalid status {}", answer.status())))?;
        let mut response = Response::new(Vec::new());
        *response.status_mut() = status;
        for (name, value) in answer.headers() {
            // Spin read them off the wire; a name or value http refuses is dropped.
            if let (Ok(name), Ok(value)) = (
                HeaderName::from_bytes(name.as_bytes()),
                HeaderValue::from_bytes(value.as_bytes()),
            ) {
                response.headers_mut().append(name, value);
            }
        }
        *response.body_mut() = answer.into_body();
        Ok(response)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_seven_methods_map_and_others_are_refused() {
        let cases = [
            (Method::GET, spin::Method::Get),
            (Method::HEAD, spin::Method::Head),
            (Method::POST, spin::Method::Post),
            (Method::PUT, spin::Method::Put),
            (Method::DELETE, spin::Method::Delete),
            (Method::PATCH, spin::Method::Patch),
            (Method::OPTIONS, spin::Method::Options),
        ];
        for (method, expected) in cases {
            assert!(spin_method(&method).ok() == Some(expected), "{method}");
        }
        for name in ["CONNECT", "TRACE", "PROPFIND"] {
            let method = Method::from_bytes(name.as_bytes()).expect("method");
            let err = spin_method(&method).err().map(|e| e.0);
            assert_eq!(
                err.as_deref(),
                Some(&*format!("method {name} is not supported"))
            );
        }
    }

    #[test]
    fn repeated_request_headers_are_joined() {
        let req = crate::request(
            Method::GET,
            "https://a.example/",
            &[("accept", "a/b"), ("x-one", "1"), ("accept", "c/d")],
            Vec::new(),
        )
        .expect("request");
        let mut headers = spin_headers(req.headers());
        headers.sort();
        assert_eq!(
            headers,
            [
                ("accept".to_owned(), b"a/b, c/d".to_vec()),
                ("x-one".to_owned(), b"1".to_vec()),
            ]
        );
    }
}
