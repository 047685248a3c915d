//! National access point adapters. The first: the UK VCA eCoC API (OAuth2 client credentials, one
//! signed XML file per POST, 202 with a submission id, statuses polled until Succeeded or Failed), as
//! the NAP sandbox serves it (components/sandbox, "NAP sandbox").

use std::cell::RefCell;

use transport::http::Method;
use transport::{Request, Response, Transport};

use crate::record::Receipt;
use crate::{Error, Result, Service};

/// What the pipeline needs from a NAP.
pub trait Nap {
    /// Delivers one signed file. A file the NAP already holds (same VIN + version + stage) comes back
    /// as that earlier submission's receipt, so a retried delivery never sends twice.
    fn submit(&self, signed_xml: &[u8]) -> Result<Submitted>;
    /// The NAP's current status of a submission.
    fn status(&self, submission_id: &str) -> Result<Receipt>;
    /// Whether the NAP answers again after an outage (a cheap call, no file sent).
    fn reachable(&self) -> bool {
        true
    }
}

/// A tenant's NAP connections, one per destination (see [`crate::identity::Destination`]).
pub trait Naps {
    /// The NAP a record for `destination` goes to (`None`: the tenant's first destination, or the
    /// deployment's shared account), and the account label its receipt keeps.
    fn for_destination(&self, destination: Option<&str>) -> Result<(&dyn Nap, Option<String>)>;
}

/// One NAP serves every destination (tests, a single-account deployment).
impl<N: Nap> Naps for N {
    fn for_destination(&self, _: Option<&str>) -> Result<(&dyn Nap, Option<String>)> {
        Ok((self, None))
    }
}

/// The answer to a delivery.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Submitted {
    /// The NAP's receipt.
    pub receipt: Receipt,
    /// Whether the NAP already had the file (a retried delivery).
    pub already_there: bool,
}

/// The VCA eCoC API.
#[derive(Debug)]
pub struct VcaNap<T> {
    transport: T,
    base_url: String,
    client_id: String,
    client_secret: String,
    token: RefCell<Option<String>>,
}

fn upstream(message: String, retryable: bool) -> Error {
    Error::Upstream {
        service: Service::Nap,
        message,
        retryable,
    }
}

/// The `message` (or `error_description`) of an error body, else the start of the body.
fn reason(resp: &Response) -> String {
    /// The NAP's error body (its own `message`, or OAuth2's `error_description`).
    #[derive(serde::Deserialize)]
    struct Refusal {
        message: Option<String>,
        error_description: Option<String>,
    }
    let body = resp.body();
    serde_json::from_slice::<Refusal>(body)
        .ok()
        .and_then(|r| r.message.or(r.error_description))
        .unwrap_or_else(|| String::from_utf8_lossy(&body[..body.len().min(200)]).into_owned())
}

fn retryable_status(status: u16) -> bool {
    status >= 500 || status == 429 || status == 408
}

impl<T: Transport> VcaNap<T> {
    /// An adapter for the API at `base_url` (e.g. `https://nap.example`; the paths `/oauth2/token` and
    /// `/ecoc/v1/submissions` are appended).
    pub fn new(transport: T, base_url: &str, client_id: &str, client_secret: &str) -> Self {
        Self {
            transport,
            base_url: base_url.trim_end_matches('/').to_owned(),
            client_id: client_id.to_owned(),
            client_secret: client_secret.to_owned(),
            token: RefCell::new(None),
        }
    }

    fn send(&self, req: transport::Result<Request>) -> Result<Response> {
        let req = req.map_err(|e| Error::Config(format!("nap_url: {e}")))?;
        let what = format!("{} {}", req.method(), req.uri());
        self.transport
            .send(req)
            .map_err(|e| upstream(format!("{what}: {e}"), true))
    }

    fn token(&self) -> Result<String> {
        if let Some(t) = self.token.borrow().as_ref() {
            return Ok(t.clone());
        }
        let body = transport::form(&[
            ("grant_type", "client_credentials"),
            ("client_id", &self.client_id),
            ("client_secret", &self.client_secret),
        ]);
        let resp = self.send(transport::request(
            Method::POST,
            &format!("{}/oauth2/token", self.base_url),
            &[("content-type", "application/x-www-form-urlencoded")],
            body.into_bytes(),
        ))?;
        let status = resp.status().as_u16();
        if status != 200 {
            return Err(upstream(
                format!("token endpoint answered {status}: {}", reason(&resp)),
                retryable_status(status),
            ));
        }
        /// OAuth2's token answer (RFC 6749 section 5.1), as much as is used.
        #[derive(serde::Deserialize)]
        struct TokenAnswer {
            access_token: String,
        }
        let token = serde_json::from_slice::<TokenAnswer>(resp.body())
            .map_err(|e| upstream(format!("token answer is not the JSON expected: {e}"), true))?
            .access_token;
        *self.token.borrow_mut() = Some(token.clone());
        Ok(token)
    }

    /// Sends with a bearer token; fetches a new token once when the NAP says it expired.
    fn authorised(&self, make: &dyn Fn(String) -> transport::Result<Request>) -> Result<Response> {
        let resp = self.send(make(self.token()?))?;
        if resp.status() != 401 {
            return Ok(resp);
        }
        self.token.borrow_mut().take();
        self.send(make(self.token()?))
    }
}

fn receipt_from(body: &[u8]) -> Result<Receipt> {
    /// The VCA's submission answer.
    #[derive(serde::Deserialize)]
    struct Answer {
        submission_id: String,
        status: Option<String>,
        reason: Option<String>,
    }
    let answer: Answer = serde_json::from_slice(body)
        .map_err(|e| upstream(format!("answer is not the receipt expected: {e}"), true))?;
    Ok(Receipt {
        submission_id: answer.submission_id,
        status: answer.status.unwrap_or_else(|| "Received".into()),
        reason: answer.reason,
        account: None,
    })
}

impl<T: Transport> Nap for VcaNap<T> {
    fn reachable(&self) -> bool {
        // A fresh token: the token endpoint answers exactly when the API does. A refusal of the
        // credentials is an answer too.
        self.token.borrow_mut().take();
        match self.token() {
            Ok(_) => true,
            Err(e) => !e.is_retryable(),
        }
    }

    fn submit(&self, signed_xml: &[u8]) -> Result<Submitted> {
        let url = format!("{}/ecoc/v1/submissions", self.base_url);
        let resp = self.authorised(&|token| {
            transport::request(
                Method::POST,
                &url,
                &[
                    ("authorization", &format!("Bearer {token}")),
                    ("content-type", "application/xml"),
                ],
                signed_xml.to_vec(),
            )
        })?;
        match resp.status().as_u16() {
            200..=202 => Ok(Submitted {
                receipt: receipt_from(resp.body())?,
                already_there: false,
            }),
            409 => {
                let earlier = transport::header(&resp, "x-duplicate-of").map(str::to_owned);
                match earlier {
                    Some(id) => Ok(Submitted {
                        receipt: Receipt {
                            submission_id: id,
                            status: "Received".into(),
                            reason: None,
                            account: None,
                        },
                        already_there: true,
                    }),
                    None => Err(upstream(
                        format!("refused as a duplicate: {}", reason(&resp)),
                        false,
                    )),
                }
            }
            s => Err(upstream(
                format!("submission answered {s}: {}", reason(&resp)),
                retryable_status(s),
            )),
        }
    }

    fn status(&self, submission_id: &str) -> Result<Receipt> {
        let url = format!("{}/ecoc/v1/submissions/{submission_id}", self.base_url);
        let resp = self.authorised(&|token| {
            transport::request(
                Method::GET,
                &url,
                &[("authorization", &format!("Bearer {token}"))],
                Vec::new(),
            )
        })?;
        let status = resp.status().as_u16();
        if status != 200 {
            return Err(upstream(
                format!(
                    "status of {submission_id} answered {status}: {}",
                    reason(&resp)
                ),
                retryable_status(status),
            ));
        }
        receipt_from(resp.body())
    }
}
