//! [`UreqTransport`]: blocking HTTP over `ureq` (feature `native`).

use std::time::Duration;

use crate::{Error, MAX_RESPONSE_BODY, Request, Response, Result, Transport};

/// A blocking transport over a `ureq` agent (rustls), for native code: the CLI, the sandboxes,
/// tests. Not for wasm functions (use `SpinTransport`).
///
/// Every HTTP status is an answer. Redirects are not followed: a 3xx comes back as it is, since
/// following one may change the method (a POST answered 303 becomes a GET) or drop credentials.
/// Methods are sent as given; one `ureq` refuses to send is an [`Error`].
#[derive(Debug, Clone)]
pub struct UreqTransport {
    agent: ureq::Agent,
}

impl UreqTransport {
    /// A transport with a global per-request timeout (connect, send, whole answer).
    pub fn new(timeout: Duration) -> Self {
        let agent = ureq::Agent::config_builder()
            .timeout_global(Some(timeout))
            .http_status_as_error(false)
            .max_redirects(0)
            .build()
            .into();
        Self { agent }
    }
}

impl Default for UreqTransport {
    /// A 30 s timeout.
    fn default() -> Self {
        Self::new(Duration::from_secs(30))
    }
}

impl Transport for UreqTransport {
    fn send(&self, request: Request) -> Result<Response> {
        let method = request.method().clone();
        let uri = request.uri().clone();
        let mut answer = self
            .agent
            .run(request)
            .map_err(|e| Error(format!("{method} {uri}: {e}")))?;
        let body = answer
            .body_mut()
            .with_config()
            .limit(MAX_RESPONSE_BODY)
            .read_to_vec()
            .map_err(|e| Error(format!("{method} {uri}: reading the answer: {e}")))?;
        let (parts, _) = answer.into_parts();
        Ok(Response::from_parts(parts, body))
    }
}

#[cfg(test)]
mod tests {
    use std::io::{BufRead, BufReader, Read, Write};
    use std::net::{SocketAddr, TcpListener};
    use std::thread::JoinHandle;

    use http::{Method, StatusCode};

    use super::*;

    /// What the tiny server saw: request line, header lines, body.
    struct Seen {
        line: String,
        headers: Vec<String>,
        body: Vec<u8>,
    }

    /// Answers one connection on 127.0.0.1 with `answer` (raw HTTP/1.1), then stops.
    fn serve_once(answer: &'static str) -> (SocketAddr, JoinHandle<Seen>) {
        let listener = TcpListener::bind(("127.0.0.1", 0)).expect("bind");
        let addr = listener.local_addr().expect("addr");
        let handle = std::thread::spawn(move || {
            let (stream, _) = listener.accept().expect("accept");
            stream
                .set_read_timeout(Some(Duration::from_secs(10)))
                .expect("timeout");
            let mut reader = BufReader::new(stream.try_clone().expect("clone"));
            let mut line = String::new();
            reader.read_line(&mut line).expect("request line");
            let mut headers = Vec::new();
            let mut length = 0usize;
            loop {
                let mut h = String::new();
                reader.read_line(&mut h).expect("header");
                let h = h.trim_end().to_owned();
                if h.is_empty() {
                    break;
                }
                if let Some((name, value)) = h.split_once(':')
                    && name.eq_ignore_ascii_case("content-length")
                {
                    length = value.trim().parse().expect("content-length");
                }
                headers.push(h);
            }
            let mut body = vec![0; length];
            reader.read_exact(&mut body).expect("body");
            let mut stream = stream;
            stream.write_all(answer.as_bytes()).expect("answer");
            stream.flush().expect("flush");
            Seen {
                line: line.trim_end().to_owned(),
                headers,
                body,
            }
        });
        (addr, handle)
    }

    #[test]
    fn a_404_is_an_answer_with_its_status_headers_and_body() {
        let (addr, server) = serve_once(
            "HTTP/1.1 404 Not Found\r\ncontent-length: 9\r\nretry-after: 7\r\nconnection: close\r\n\r\nnot here!",
        );
        let url = format!("http://{addr}/v1/thing?id=3");
        let req = crate::json(
            Method::PUT,
            &url,
            &[("authorization", "Bearer t0k")],
            &serde_json::json!({"a": 1}),
        )
        .expect("request");
        let answer = UreqTransport::new(Duration::from_secs(10))
            .send(req)
            .expect("an answer");
        assert_eq!(answer.status(), StatusCode::NOT_FOUND);
        assert_eq!(answer.body(), b"not here!");
        assert_eq!(crate::header(&answer, "Retry-After"), Some("7"));

        let seen = server.join().expect("server");
        assert_eq!(seen.line, "PUT /v1/thing?id=3 HTTP/1.1");
        assert!(
            seen.headers
                .iter()
                .any(|h| h.eq_ignore_ascii_case("authorization: Bearer t0k")),
            "{:?}",
            seen.headers
        );
        assert!(
            seen.headers
                .iter()
                .any(|h| h.eq_ignore_ascii_case("content-type: application/json")),
            "{:?}",
            seen.headers
        );
        assert_eq!(seen.body, br#"{"a":1}"#);
    }

    #[test]
    fn a_redirect_is_an_answer_not_a_method_change() {
        let (addr, server) = serve_once(
            "HTTP/1.1 303 See Other\r\nlocation: /elsewhere\r\ncontent-length: 0\r\nconnection: close\r\n\r\n",
        );
        let req = crate::request(
            Method::POST,
            &format!("http://{addr}/submit"),
            &[],
            b"x".to_vec(),
        )
        .expect("request");
        let answer = UreqTransport::default().send(req).expect("an answer");
        assert_eq!(answer.status(), StatusCode::SEE_OTHER);
        assert_eq!(crate::header(&answer, "location"), Some("/elsewhere"));
        assert_eq!(server.join().expect("server").line, "POST /submit HTTP/1.1");
    }

    #[test]
    fn connection_refused_is_an_error_naming_the_url() {
        // A port that was free a moment ago: nothing listens on it now.
        let addr = TcpListener::bind(("127.0.0.1", 0))
            .and_then(|l| l.local_addr())
            .expect("free port");
        let url = format!("http://{addr}/csc/v2/info");
        let req = crate::request(Method::POST, &url, &[], Vec::new()).expect("request");
        let err = UreqTransport::new(Duration::from_secs(5))
            .send(req)
            .expect_err("nothing listens");
        assert!(err.0.starts_with(&format!("POST {url}: ")), "{err}");
    }

    #[test]
    fn an_oversized_answer_is_an_error() {
        let (addr, _server) = serve_once(
            "HTTP/1.1 200 OK\r\ncontent-length: 99999999\r\nconnection: close\r\n\r\nshort",
        );
        let req = crate::request(Method::GET, &format!("http://{addr}/big"), &[], Vec::new())
            .expect("request");
        let err = UreqTransport::new(Duration::from_secs(10))
            .send(req)
            .expect_err("over the limit");
        assert!(err.0.contains("reading the answer"), "{err}");
    }
}
