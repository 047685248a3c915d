//! [`SpinTransport`]: outbound HTTP through `wasi:http/outgoing-handler`, blocking, with timeouts
//! (feature `spin`).
//!
//! Written on the `wasi` crate's bindings of WASI 0.2 rather than spin-sdk's `send`, because that
//! one passes no request options: a stalled upstream then held the call until the host's
//! per-request limit killed the whole instance mid-step (a 504 with nothing recorded). With a
//! timeout the step gets an [`Error`] it records and retries like any other outage. Spin and
//! `ecoc up` both honour the three timeouts of `wasi:http/types.request-options`.

use std::time::Duration;

use http::header::{HeaderName, HeaderValue};
use http::{Method, StatusCode};
use wasi::http::outgoing_handler;
use wasi::http::types::{
    self as wasi_http, ErrorCode, Fields, IncomingBody, OutgoingBody, OutgoingRequest,
    RequestOptions, Scheme,
};
use wasi::io::streams::StreamError;

use crate::{Error, MAX_RESPONSE_BODY, Request, Response, Result, Transport};

/// How long a request may wait: for the connection, for the first byte of the answer, and between
/// two bytes of it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timeouts {
    /// Until the connection (TCP and TLS) is up.
    pub connect: Duration,
    /// From the request sent until the answer's first byte.
    pub first_byte: Duration,
    /// Between two reads of the answer's body.
    pub between_bytes: Duration,
}

impl Timeouts {
    /// Remote services (QTSP, NAP, mail): well inside the host's 30 s per request, so a stalled
    /// upstream is an error the step records, not an instance killed with its work half done.
    pub const REMOTE: Self = Self {
        connect: Duration::from_secs(5),
        first_byte: Duration::from_secs(20),
        between_bytes: Duration::from_secs(10),
    };
    /// The ERP write-back, which only waits for an acknowledgement: a callback URL that hangs
    /// holds the step a few seconds at most, then the write-back is retried later.
    pub const CALLBACK: Self = Self {
        connect: Duration::from_secs(3),
        first_byte: Duration::from_secs(5),
        between_bytes: Duration::from_secs(5),
    };
}

/// Outbound HTTP through Spin (`wasi:http`), blocking: the transport of the wasm functions (the
/// CSC client, the NAP adapter, the ERP write-back, mail, calls between the app's components).
///
/// Sends GET, HEAD, POST, PUT, DELETE, PATCH and OPTIONS; any other method is an [`Error`]
/// (`method X is not supported`), never sent as something else. Headers are copied both ways, a
/// repeated one as it is. An answer body over [`MAX_RESPONSE_BODY`] is an [`Error`].
#[derive(Debug, Clone, Copy)]
pub struct SpinTransport {
    timeouts: Option<Timeouts>,
}

impl SpinTransport {
    /// For remote services: [`Timeouts::REMOTE`].
    pub const REMOTE: Self = Self::with_timeouts(Timeouts::REMOTE);
    /// For the ERP write-back: [`Timeouts::CALLBACK`].
    pub const CALLBACK: Self = Self::with_timeouts(Timeouts::CALLBACK);
    /// For calls between the app's own components (`*.spin.internal`): no timeout of its own, as
    /// the callee's per-request limit bounds it (and a batch step may rightly take long).
    pub const INTERNAL: Self = Self { timeouts: None };

    /// A transport whose every request has `timeouts`.
    pub const fn with_timeouts(timeouts: Timeouts) -> Self {
        Self {
            timeouts: Some(timeouts),
        }
    }

    /// The timeouts its requests carry (`None`: the host's defaults).
    pub fn timeouts(&self) -> Option<Timeouts> {
        self.timeouts
    }
}

/// The `wasi:http` method for `method`, for the methods this transport sends.
fn wasi_method(method: &Method) -> Result<wasi_http::Method> {
    Ok(match *method {
        Method::GET => wasi_http::Method::Get,
        Method::HEAD => wasi_http::Method::Head,
        Method::POST => wasi_http::Method::Post,
        Method::PUT => wasi_http::Method::Put,
        Method::DELETE => wasi_http::Method::Delete,
        Method::PATCH => wasi_http::Method::Patch,
        Method::OPTIONS => wasi_http::Method::Options,
        ref other => return Err(Error(format!("method {other} is not supported"))),
    })
}

/// A duration as `wasi:clocks` counts it (nanoseconds), saturating.
fn nanos(duration: Duration) -> u64 {
    u64::try_from(duration.as_nanos()).unwrap_or(u64::MAX)
}

fn request_options(timeouts: Timeouts) -> std::result::Result<RequestOptions, String> {
    let options = RequestOptions::new();
    let refused = |what: &str| format!("the host does not support a {what} timeout");
    options
        .set_connect_timeout(Some(nanos(timeouts.connect)))
        .map_err(|()| refused("connect"))?;
    options
        .set_first_byte_timeout(Some(nanos(timeouts.first_byte)))
        .map_err(|()| refused("first-byte"))?;
    options
        .set_between_bytes_timeout(Some(nanos(timeouts.between_bytes)))
        .map_err(|()| refused("between-bytes"))?;
    Ok(options)
}

/// The outgoing request for `parts`: method, scheme, authority, path and query, headers.
fn outgoing_request(parts: &http::request::Parts) -> std::result::Result<OutgoingRequest, String> {
    let entries: Vec<(String, Vec<u8>)> = parts
        .headers
        .iter()
        .map(|(name, value)| (name.as_str().to_owned(), value.as_bytes().to_vec()))
        .collect();
    let headers = Fields::from_list(&entries).map_err(|e| format!("headers refused: {e:?}"))?;
    let request = OutgoingRequest::new(headers);
    let method = wasi_method(&parts.method).map_err(|e| e.0)?;
    let scheme = match parts.uri.scheme_str() {
        Some("http") => Scheme::Http,
        Some("https") => Scheme::Https,
        Some(other) => Scheme::Other(other.to_owned()),
        None => return Err("the URL has no scheme".into()),
    };
    let authority = parts
        .uri
        .authority()
        .ok_or_else(|| "the URL has no host".to_owned())?;
    let path = parts
        .uri
        .path_and_query()
        .map_or("/", |p| p.as_str())
        .to_owned();
    let refused = |what: &str| format!("the host refused the {what}");
    request
        .set_method(&method)
        .map_err(|()| refused("method"))?;
    request
        .set_scheme(Some(&scheme))
        .map_err(|()| refused("scheme"))?;
    request
        .set_authority(Some(authority.as_str()))
        .map_err(|()| refused("host"))?;
    request
        .set_path_with_query(Some(&path))
        .map_err(|()| refused("path"))?;
    Ok(request)
}

/// The words for a `wasi:http` error, the timeouts named as such.
fn describe(error: &ErrorCode, timeouts: Option<Timeouts>) -> String {
    let limit = |pick: fn(&Timeouts) -> Duration| {
        timeouts.map_or(String::new(), |t| format!(" ({} ms)", pick(&t).as_millis()))
    };
    match error {
        ErrorCode::ConnectionTimeout => format!("timed out connecting{}", limit(|t| t.connect)),
        ErrorCode::ConnectionReadTimeout | ErrorCode::HttpResponseTimeout => format!(
            "timed out waiting for the answer{}",
            limit(|t| t.first_byte)
        ),
        ErrorCode::ConnectionRefused => "connection refused".into(),
        ErrorCode::DnsTimeout => "timed out resolving the host name".into(),
        other => format!("{other:?}"),
    }
}

/// Writes `body` to the request's body stream and finishes it.
fn write_body(body: OutgoingBody, bytes: &[u8]) -> std::result::Result<(), String> {
    let stream = body
        .write()
        .map_err(|()| "the request body cannot be written".to_owned())?;
    // `blocking-write-and-flush` takes at most 4096 bytes a call.
    for chunk in bytes.chunks(4096) {
        stream
            .blocking_write_and_flush(chunk)
            .map_err(|e| format!("sending the body failed: {e:?}"))?;
    }
    drop(stream);
    OutgoingBody::finish(body, None).map_err(|e| format!("sending the body failed: {e:?}"))
}

/// Reads the answer's whole body, up to [`MAX_RESPONSE_BODY`].
fn read_body(
    body: IncomingBody,
    timeouts: Option<Timeouts>,
) -> std::result::Result<Vec<u8>, String> {
    let stream = body
        .stream()
        .map_err(|()| "the answer's body cannot be read".to_owned())?;
    let mut bytes = Vec::new();
    loop {
        match stream.blocking_read(64 * 1024) {
            Ok(chunk) => {
                bytes.extend_from_slice(&chunk);
                if bytes.len() as u64 > MAX_RESPONSE_BODY {
                    return Err(format!(
                        "the answer's body is over {MAX_RESPONSE_BODY} bytes"
                    ));
                }
            }
            Err(StreamError::Closed) => break,
            Err(StreamError::LastOperationFailed(e)) => {
                let why = wasi_http::http_error_code(&e).map_or_else(
                    || e.to_debug_string(),
                    |code| match code {
                        ErrorCode::ConnectionReadTimeout => format!(
                            "timed out between two bytes of the answer{}",
                            timeouts.map_or(String::new(), |t| format!(
                                " ({} ms)",
                                t.between_bytes.as_millis()
                            ))
                        ),
                        other => describe(&other, timeouts),
                    },
                );
                return Err(format!("reading the answer failed: {why}"));
            }
        }
    }
    drop(stream);
    drop(IncomingBody::finish(body));
    Ok(bytes)
}

impl Transport for SpinTransport {
    fn send(&self, request: Request) -> Result<Response> {
        let (parts, body) = request.into_parts();
        let fail = |what: String| Error(format!("{} {}: {what}", parts.method, parts.uri));
        wasi_method(&parts.method)?;
        let outgoing = outgoing_request(&parts).map_err(fail)?;
        let options = self
            .timeouts
            .map(request_options)
            .transpose()
            .map_err(fail)?;
        let outgoing_body = outgoing
            .body()
            .map_err(|()| fail("the request body cannot be written".into()))?;
        let future = outgoing_handler::handle(outgoing, options)
            .map_err(|e| fail(describe(&e, self.timeouts)))?;
        write_body(outgoing_body, &body).map_err(fail)?;
        let answer = loop {
            match future.get() {
                Some(Ok(Ok(answer))) => break answer,
                Some(Ok(Err(e))) => return Err(fail(describe(&e, self.timeouts))),
                Some(Err(())) => return Err(fail("the answer was already taken".into())),
                None => future.subscribe().block(),
            }
        };
        let status = StatusCode::from_u16(answer.status())
            .map_err(|_| fail(format!("invalid status {}", answer.status())))?;
        let mut response = Response::new(Vec::new());
        *response.status_mut() = status;
        for (name, value) in answer.headers().entries() {
            // The host read them off the wire; a name or value http refuses is dropped.
            if let (Ok(name), Ok(value)) = (
                HeaderName::from_bytes(name.as_bytes()),
                HeaderValue::from_bytes(&value),
            ) {
                response.headers_mut().append(name, value);
            }
        }
        let body = answer
            .consume()
            .map_err(|()| fail("the answer's body cannot be read".into()))?;
        *response.body_mut() = read_body(body, self.timeouts).map_err(fail)?;
        Ok(response)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_seven_methods_map_and_others_are_refused() {
        for method in [
            Method::GET,
            Method::HEAD,
            Method::POST,
            Method::PUT,
            Method::DELETE,
            Method::PATCH,
            Method::OPTIONS,
        ] {
            let mapped = wasi_method(&method).expect("sent");
            assert_eq!(
                format!("{mapped:?}").to_uppercase(),
                format!("METHOD::{method}")
            );
        }
        for name in ["CONNECT", "TRACE", "PROPFIND"] {
            let method = Method::from_bytes(name.as_bytes()).expect("method");
            let err = wasi_method(&method).err().map(|e| e.0);
            assert_eq!(
                err.as_deref(),
                Some(&*format!("method {name} is not supported"))
            );
        }
    }

    #[test]
    fn timeouts_are_in_nanoseconds_and_stay_inside_the_hosts_limit() {
        assert_eq!(nanos(Duration::from_millis(1500)), 1_500_000_000);
        assert_eq!(nanos(Duration::MAX), u64::MAX);
        // The host answers 504 after 30 s: every remote wait must give up before that.
        for t in [Timeouts::REMOTE, Timeouts::CALLBACK] {
            assert!(t.connect + t.first_byte < Duration::from_secs(30), "{t:?}");
        }
        assert!(SpinTransport::INTERNAL.timeouts().is_none());
        assert_eq!(SpinTransport::REMOTE.timeouts(), Some(Timeouts::REMOTE));
    }

    #[test]
    fn a_timeout_names_itself_and_its_limit() {
        let t = Some(Timeouts::CALLBACK);
        assert_eq!(
            describe(&ErrorCode::ConnectionReadTimeout, t),
            "timed out waiting for the answer (5000 ms)"
        );
        assert_eq!(
            describe(&ErrorCode::ConnectionTimeout, t),
            "timed out connecting (3000 ms)"
        );
        assert_eq!(
            describe(&ErrorCode::ConnectionRefused, None),
            "connection refused"
        );
    }
}
