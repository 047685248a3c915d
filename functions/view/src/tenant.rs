//! `/view/tenant...`: the tenant page and its forms, each a call of `map`'s `/v1/tenant...`.
//! A change that works is a 303 back to the page (which then says so); a refusal shows the page
//! again with what was typed, the API's message and field errors, and the API's status.

use ecoc_view::pages::tenant::{Notice, Part, Preview, TenantPage, page};
use ecoc_view::web::Form;
use ecoc_view::{ApiError, Who};
use serde_json::{Value, json};
use spin_glue::{Params, Reply};
use spin_sdk::http::Request;
use transport::http::Method;

use crate::api::{Api, MAP};
use crate::{html, see_other};

/// The tenant routes.
#[derive(Debug, Clone, Copy)]
pub enum To {
    Show,
    Preview,
    Mapping,
    Approvals,
    Settings,
    NewToken,
    Revoke,
}

/// What the page shows beyond what is stored.
#[derive(Debug, Default)]
struct Shown {
    status: Option<u16>,
    mapping: Option<String>,
    sample: String,
    approvals: Option<String>,
    preview: Option<Result<Value, ApiError>>,
    issued: Option<Value>,
    notice: Option<Notice>,
}

pub fn answer(
    to: To,
    params: &Params<'_>,
    req: &Request,
    api: &Api<'_>,
    who: &Who,
) -> Result<Reply, ApiError> {
    let form = Form::parse(req.body());
    match to {
        To::Show => {
            let saved = Form::parse(req.query().as_bytes());
            let notice = match saved.value("saved") {
                "mapping" => Some(Notice::ok(
                    Part::Mapping,
                    "Mapping saved: uploads map with it from now on.",
                )),
                "approvals" => Some(Notice::ok(Part::Approvals, "Type approvals saved.")),
                "settings" => Some(Notice::ok(Part::Settings, "Settings saved.")),
                "revoked" => Some(Notice::ok(
                    Part::Tokens,
                    "Token revoked: it no longer opens the API or the view.",
                )),
                _ => None,
            };
            show(
                api,
                who,
                Shown {
                    notice,
                    ..Shown::default()
                },
            )
        }
        To::Preview => {
            let mapping = form.get("mapping").unwrap_or_default().to_owned();
            let sample = form.get("record").unwrap_or_default().to_owned();
            let tried = preview(api, &mapping, &sample);
            if let Err(e) = &tried
                && matches!(e.status, 401 | 403)
            {
                return Err(e.clone());
            }
            let status = tried.as_ref().err().map(|e| e.status);
            show(
                api,
                who,
                Shown {
                    status,
                    mapping: Some(mapping),
                    sample,
                    preview: Some(tried),
                    ..Shown::default()
                },
            )
        }
        To::Mapping | To::Approvals => {
            let (field, path, part) = if let To::Mapping = to {
                ("mapping", "/v1/tenant/mapping", Part::Mapping)
            } else {
                ("approvals", "/v1/tenant/approvals", Part::Approvals)
            };
            let text = form.get(field).unwrap_or_default().to_owned();
            let body = Some(("application/json", text.clone().into_bytes()));
            match api.send(Method::PUT, MAP, path, body) {
                Ok(_) => Ok(saved(field)),
                Err(e) if matches!(e.status, 401 | 403) => Err(e),
                Err(e) => {
                    let mut shown = refused(part, &e);
                    if part == Part::Mapping {
                        shown.mapping = Some(text);
                        shown.sample = form.get("record").unwrap_or_default().to_owned();
                    } else {
                        shown.approvals = Some(text);
                    }
                    show(api, who, shown)
                }
            }
        }
        To::Settings => {
            let mut settings = api.get(MAP, "/v1/tenant")?;
            settings["profile"] = json!(form.value("profile"));
            settings["signature_profile"] = json!(form.value("signature_profile"));
            let callback = form.value("callback_url");
            settings["callback_url"] = if callback.is_empty() {
                Value::Null
            } else {
                json!(callback)
            };
            let recipients: Vec<&str> = form
                .value("digest_to")
                .lines()
                .map(str::trim)
                .filter(|l| !l.is_empty())
                .collect();
            settings["digest_to"] = json!(recipients);
            match api.json(Method::PUT, MAP, "/v1/tenant", &settings) {
                Ok(_) => Ok(saved("settings")),
                Err(e) if matches!(e.status, 401 | 403) => Err(e),
                Err(e) => show(api, who, refused(Part::Settings, &e)),
            }
        }
        To::NewToken => {
            let asked = json!({"name": form.value("name"), "role": form.value("role")});
            match api.json(Method::POST, MAP, "/v1/tenant/tokens", &asked) {
                Ok(issued) => show(
                    api,
                    who,
                    Shown {
                        issued: Some(issued),
                        ..Shown::default()
                    },
                ),
                Err(e) if matches!(e.status, 401 | 403) => Err(e),
                Err(e) => show(api, who, refused(Part::Tokens, &e)),
            }
        }
        To::Revoke => {
            let name: String = params
                .get("name")
                .map_err(|e| ApiError::new(e.status(), e.to_string()))?;
            // Token names are letters, digits, `-`, `_`, `.`: anything else names no token.
            if !ecoc_view::web::plausible_token(&name) {
                return Err(ApiError::new(404, format!("no token named `{name}`")));
            }
            let path = format!("/v1/tenant/tokens/{name}");
            match api.send(Method::DELETE, MAP, &path, None) {
                Ok(_) => Ok(saved("revoked")),
                Err(e) if matches!(e.status, 401 | 403) => Err(e),
                Err(e) => show(api, who, refused(Part::Tokens, &e)),
            }
        }
    }
}

fn saved(what: &str) -> Reply {
    let anchor = match what {
        "mapping" => "#mapping-section",
        "approvals" => "#approvals-section",
        "revoked" => "#tokens-section",
        _ => "#settings",
    };
    see_other(&format!("/view/tenant?saved={what}{anchor}"))
}

fn refused(part: Part, e: &ApiError) -> Shown {
    Shown {
        status: Some(e.status),
        notice: Some(Notice::refused(part, e)),
        ..Shown::default()
    }
}

/// `POST /v1/tenant/mapping:preview` of the editor's mapping and sample record.
fn preview(api: &Api<'_>, mapping: &str, sample: &str) -> Result<Value, ApiError> {
    let read = |what: &str, text: &str| -> Result<Value, ApiError> {
        if text.trim().is_empty() {
            return Err(ApiError::new(
                400,
                format!("give the {what} to preview (JSON)"),
            ));
        }
        serde_json::from_str(text)
            .map_err(|e| ApiError::new(400, format!("the {what} is not valid JSON: {e}")))
    };
    let body = json!({
        "mapping": read("mapping", mapping)?,
        "record": read("sample record", sample)?,
    });
    api.json(Method::POST, MAP, "/v1/tenant/mapping:preview", &body)
}

/// A stored setting document as the editor shows it: pretty JSON; empty when none is stored.
fn document(api: &Api<'_>, path: &str) -> Result<String, ApiError> {
    match api.get(MAP, path) {
        Ok(value) => Ok(serde_json::to_string_pretty(&value).unwrap_or_default()),
        Err(e) if e.status == 404 => Ok(String::new()),
        Err(e) => Err(e),
    }
}

fn show(api: &Api<'_>, who: &Who, shown: Shown) -> Result<Reply, ApiError> {
    let settings = api.get(MAP, "/v1/tenant")?;
    let mapping = match shown.mapping {
        Some(text) => text,
        None => document(api, "/v1/tenant/mapping")?,
    };
    let approvals = match shown.approvals {
        Some(text) => text,
        None => document(api, "/v1/tenant/approvals")?,
    };
    let tokens = if who.may.manage {
        Some(api.get(MAP, "/v1/tenant/tokens")?)
    } else {
        None
    };
    let preview = shown.preview.as_ref().map(|p| match p {
        Ok(answer) => Preview::Answer(answer),
        Err(e) => Preview::Refused(e),
    });
    let html_page = page(
        who,
        &TenantPage {
            settings: &settings,
            mapping: &mapping,
            sample: &shown.sample,
            approvals: &approvals,
            tokens: tokens.as_ref(),
            preview,
            issued: shown.issued.as_ref(),
            notice: shown.notice.as_ref(),
        },
    );
    Ok(html(shown.status.unwrap_or(200), html_page))
}
