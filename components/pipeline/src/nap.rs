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
    /// The NAP's current status of a submission; [`Error::NotFound`] when the NAP does not know it
    /// (it lost a file it had accepted: the caller delivers it again).
    fn status(&self, submission_id: &str) -> Result<Receipt>;
    /// Whether the NAP answers again after an outage (a cheap call, no file sent).
    fn reachable(&self) -> bool {
        true
    }
    /// The authority's copy of a vehicle's eCoC at `stage` (the newest version it accepted, from
    /// any manufacturer): the signed file and the authority's id for it, or `None` when it holds
    /// none.
    fn retrieve(&self, vin: &str, stage: u32) -> Result<Option<(Vec<u8>, String)>> {
        let _ = (vin, stage);
        Err(Error::Config(
            "this NAP adapter cannot retrieve earlier stages".into(),
        ))
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

/// A status lookup answered 404: the NAP does not know a submission it accepted.
fn lost(submission_id: &str, resp: &Response) -> Error {
    Error::NotFound(format!(
        "status of {submission_id} answered 404: {}",
        reason(resp)
    ))
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

    /// `GET url` with a bearer token.
    fn get(&self, url: &str) -> Result<Response> {
        self.authorised(&|token| {
            transport::request(
                Method::GET,
                url,
                &[("authorization", &format!("Bearer {token}"))],
                Vec::new(),
            )
        })
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

/// A retrieval's answer: 200 the file (its id in `X-Submission-Id`), 404 none.
fn retrieved(resp: &Response, vin: &str, stage: u32) -> Result<Option<(Vec<u8>, String)>> {
    match resp.status().as_u16() {
        200 => {
            let id = transport::header(resp, "x-submission-id")
                .unwrap_or("(no id)")
                .to_owned();
            Ok(Some((resp.body().to_vec(), id)))
        }
        404 => Ok(None),
        s => Err(upstream(
            format!(
                "retrieval of stage {stage} of {vin} answered {s}: {}",
                reason(resp)
            ),
            retryable_status(s),
        )),
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

    fn retrieve(&self, vin: &str, stage: u32) -> Result<Option<(Vec<u8>, String)>> {
        // Phase 2 retrieval by VIN: any manufacturer's accepted file of that stage.
        let resp = self.get(&format!(
            "{}/ecoc/v1/vehicles/{vin}/stages/{stage}",
            self.base_url
        ))?;
        retrieved(&resp, vin, stage)
    }

    fn status(&self, submission_id: &str) -> Result<Receipt> {
        let resp = self.get(&format!(
            "{}/ecoc/v1/submissions/{submission_id}",
            self.base_url
        ))?;
        let status = resp.status().as_u16();
        if status == 404 {
            return Err(lost(submission_id, &resp));
        }
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

/// An EU member state's NAP (EUCARIS-style API, as the NAP sandbox's EU mode serves it): the
/// client is known by the certificate it presents on the mutual-TLS link, which the runtime sets up
/// (`[[client_tls]]` in `runtime-config.toml`), so no credentials travel in the requests.
///
/// | method | path | what |
/// |---|---|---|
/// | POST | `/eucaris/v1/ivi` | one signed file; 202 `{"messageId", "status": "RECEIVED"}`, 409 a duplicate (with the earlier `messageId`), 4xx `{"status": "REJECTED", "errors": [...]}` |
/// | GET | `/eucaris/v1/ivi/{messageId}` | `{"messageId", "status": RECEIVED / PROCESSING / ACCEPTED / REJECTED, "errors"}` |
/// | GET | `/eucaris/v1/vehicles/{vin}/stages/{stage}` | an accepted file of that stage, or 404 |
#[derive(Debug)]
pub struct EuNap<T> {
    transport: T,
    base_url: String,
}

impl<T: Transport> EuNap<T> {
    /// An adapter for the NAP at `base_url` (`https://nap.example`).
    pub fn new(transport: T, base_url: &str) -> Self {
        Self {
            transport,
            base_url: base_url.trim_end_matches('/').to_owned(),
        }
    }

    fn send(&self, method: Method, path: &str, body: Option<&[u8]>) -> Result<Response> {
        let url = format!("{}{path}", self.base_url);
        let headers: &[(&str, &str)] = if body.is_some() {
            &[("content-type", "application/xml")]
        } else {
            &[]
        };
        let req = transport::request(
            method.clone(),
            &url,
            headers,
            body.unwrap_or_default().to_vec(),
        )
        .map_err(|e| Error::Config(format!("nap url: {e}")))?;
        self.transport
            .send(req)
            .map_err(|e| upstream(format!("{method} {url}: {e}"), true))
    }
}

/// The EUCARIS-style answer: a message id, a status, errors.
#[derive(serde::Deserialize)]
struct EuAnswer {
    #[serde(rename = "messageId")]
    message_id: Option<String>,
    status: Option<String>,
    #[serde(default)]
    errors: Vec<EuError>,
}

#[derive(serde::Deserialize)]
struct EuError {
    code: Option<String>,
    text: Option<String>,
}

impl EuAnswer {
    fn read(resp: &Response) -> Option<Self> {
        serde_json::from_slice(resp.body()).ok()
    }

    fn reasons(&self) -> Option<String> {
        let all: Vec<String> = self
            .errors
            .iter()
            .map(|e| {
                format!(
                    "{}: {}",
                    e.code.as_deref().unwrap_or("?"),
                    e.text.as_deref().unwrap_or("")
                )
            })
            .collect();
        (!all.is_empty()).then(|| all.join("; "))
    }

    /// The receipt in the VCA's words, which the records use.
    fn receipt(self) -> Result<Receipt> {
        let reason = self.reasons();
        let status = match self.status.as_deref() {
            Some("RECEIVED") | None => "Received",
            Some("PROCESSING") => "Processing",
            Some("ACCEPTED") => "Succeeded",
            Some("REJECTED") => "Failed",
            Some(other) => {
                return Err(upstream(format!("unknown EUCARIS status `{other}`"), true));
            }
        };
        Ok(Receipt {
            submission_id: self
                .message_id
                .ok_or_else(|| upstream("the answer has no messageId".into(), true))?,
            status: status.into(),
            reason,
            account: None,
        })
    }
}

impl<T: Transport> Nap for EuNap<T> {
    fn reachable(&self) -> bool {
        // Any HTTP answer at all: the link is up.
        self.send(Method::GET, "/eucaris/v1/ivi/ping", None).is_ok()
    }

    fn submit(&self, signed_xml: &[u8]) -> Result<Submitted> {
        let resp = self.send(Method::POST, "/eucaris/v1/ivi", Some(signed_xml))?;
        let status = resp.status().as_u16();
        let answer = EuAnswer::read(&resp);
        match (status, answer) {
            (200..=202, Some(a)) => Ok(Submitted {
                receipt: a.receipt()?,
                already_there: false,
            }),
            (409, Some(a)) if a.message_id.is_some() => Ok(Submitted {
                receipt: Receipt {
                    status: "Received".into(),
                    reason: None,
                    ..a.receipt()?
                },
                already_there: true,
            }),
            (s, a) => Err(upstream(
                format!(
                    "submission answered {s}: {}",
                    a.and_then(|a| a.reasons()).unwrap_or_else(|| reason(&resp))
                ),
                retryable_status(s),
            )),
        }
    }

    fn status(&self, submission_id: &str) -> Result<Receipt> {
        let resp = self.send(
            Method::GET,
            &format!("/eucaris/v1/ivi/{submission_id}"),
            None,
        )?;
        let status = resp.status().as_u16();
        match (status, EuAnswer::read(&resp)) {
            (200, Some(a)) => a.receipt(),
            (404, _) => Err(lost(submission_id, &resp)),
            (s, _) => Err(upstream(
                format!("status of {submission_id} answered {s}: {}", reason(&resp)),
                retryable_status(s),
            )),
        }
    }

    fn retrieve(&self, vin: &str, stage: u32) -> Result<Option<(Vec<u8>, String)>> {
        let resp = self.send(
            Method::GET,
            &format!("/eucaris/v1/vehicles/{vin}/stages/{stage}"),
            None,
        )?;
        retrieved(&resp, vin, stage)
    }
}
