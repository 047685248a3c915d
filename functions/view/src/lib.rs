//! `view` (public, `/view/...`): the readiness web view. A session is an API token kept in a
//! cookie; every page asks the API (`status`, `map`) with that token over service chaining, so a
//! role sees and does here exactly what it may in the API. The pages are rendered by
//! `components/view` (`ecoc-view`); this handler routes, checks, calls and answers.
//!
//! | route | role | what |
//! |---|---|---|
//! | `GET /view` | none | 303 to `/view/` |
//! | `GET /view/login` | none | the login form (`input#token`) |
//! | `POST /view/login` | any token | checks the token (`GET /v1/whoami`): 303 to `/view/` with the session cookie, or the form again with 401 and the reason |
//! | `POST /view/logout` | none | ends the session (cookie cleared), 303 to the login |
//! | `GET /view/static/view.css` | none | the stylesheet (the view's only asset) |
//! | `GET /view/` | view | today at a glance (`GET /v1/summary`) |
//! | `GET /view/submissions?vin=&status=&from=&to=&cursor=` | view | search and pages (`GET /v1/submissions`) |
//! | `GET /view/submissions/{id}` | view | a record: status, findings, timeline, download, sign-off / retry by role |
//! | `GET /view/submissions/{id}/xml?kind=mapped\|signed` | view | the XML (signed once it is, or the kind asked), as an attachment |
//! | `POST /view/submissions/{id}/sign-off` | primary | `POST /v1/submissions/{id}/sign-off`, 303 back to the record |
//! | `POST /view/submissions/{id}/retry` | upload | `POST /v1/submissions/{id}/retry`, 303 back to the record |
//! | `GET /view/tenant` | view | settings, destinations, mapping, approvals; tokens for a primary |
//! | `POST /view/tenant/preview` | upload | `POST /v1/tenant/mapping:preview` with the editor's mapping and sample record |
//! | `POST /view/tenant/mapping`, `/view/tenant/approvals`, `/view/tenant/settings` | primary | `PUT /v1/tenant/mapping`, `/approvals`, `/v1/tenant`; 303 back |
//! | `POST /view/tenant/tokens`, `/view/tenant/tokens/{name}/revoke` | primary | issues a token (shown once), revokes one |
//!
//! Every answer is `text/html; charset=utf-8` (the stylesheet and XML aside) with a CSP that
//! allows no script, `nosniff`, `Referrer-Policy: same-origin` and `Cache-Control: no-store`.
//! The cookie is `HttpOnly; SameSite=Strict; Path=/view` (`Secure` over HTTPS), and every POST
//! whose `Origin` (or `Referer`) names another host is refused with 403. Without a valid session
//! a page is a 303 to `/view/login`; the API's errors are shown with its status and message.

#![allow(
    unsafe_code,
    reason = "the #[http_component] macro generates the unsafe export glue"
)]

mod api;
mod tenant;

use api::{Api, STATUS};
use ecoc_view::pages::{self, submissions::Filters};
use ecoc_view::{ApiError, Who, layout, web};
use pipeline::ids::RecordId;
use spin_glue::{Params, Reply, Route, header, route};
use spin_sdk::http::{Request, ResponseOutparam};
use spin_sdk::http_component;
use transport::http::Method;

/// The routes of `view`.
#[derive(Debug, Clone, Copy)]
enum To {
    Bare,
    Login,
    SignIn,
    SignOut,
    Stylesheet,
    Today,
    List,
    Record,
    Xml,
    SignOff,
    Retry,
    Tenant(tenant::To),
}

const ROUTES: &[Route<To>] = &[
    route("GET", "/view", To::Bare),
    route("GET", "/view/login", To::Login),
    route("POST", "/view/login", To::SignIn),
    route("POST", "/view/logout", To::SignOut),
    route("GET", layout::CSS_PATH, To::Stylesheet),
    route("GET", "/view/", To::Today),
    route("GET", "/view/submissions", To::List),
    route("GET", "/view/submissions/{id}", To::Record),
    route("GET", "/view/submissions/{id}/xml", To::Xml),
    route("POST", "/view/submissions/{id}/sign-off", To::SignOff),
    route("POST", "/view/submissions/{id}/retry", To::Retry),
    route("GET", "/view/tenant", To::Tenant(tenant::To::Show)),
    route(
        "POST",
        "/view/tenant/preview",
        To::Tenant(tenant::To::Preview),
    ),
    route(
        "POST",
        "/view/tenant/mapping",
        To::Tenant(tenant::To::Mapping),
    ),
    route(
        "POST",
        "/view/tenant/approvals",
        To::Tenant(tenant::To::Approvals),
    ),
    route(
        "POST",
        "/view/tenant/settings",
        To::Tenant(tenant::To::Settings),
    ),
    route(
        "POST",
        "/view/tenant/tokens",
        To::Tenant(tenant::To::NewToken),
    ),
    route(
        "POST",
        "/view/tenant/tokens/{name}/revoke",
        To::Tenant(tenant::To::Revoke),
    ),
];

#[http_component]
fn handle(req: Request, out: ResponseOutparam) {
    let reply = match spin_glue::find_route(ROUTES, &req) {
        Ok((to, params)) => answer(to, &params, &req),
        Err(e) => {
            let allow = e.to_body().allow.join(", ");
            let reply = error_page(None, &ApiError::new(e.status(), e.to_string()));
            if allow.is_empty() {
                reply
            } else {
                reply.with_header("allow", &allow)
            }
        }
    };
    let reply = web::SECURITY_HEADERS
        .iter()
        .fold(reply, |r, (name, value)| r.with_header(name, value));
    spin_glue::respond(out, reply);
}

fn answer(to: To, params: &Params<'_>, req: &Request) -> Reply {
    if matches!(req.method(), spin_sdk::http::Method::Post)
        && !web::same_origin(
            web::request_host(
                header(req, "host").as_deref(),
                header(req, "spin-full-url").as_deref(),
                Some(req.uri()),
            ),
            header(req, "origin").as_deref(),
            header(req, "referer").as_deref(),
        )
    {
        return error_page(
            None,
            &ApiError::new(403, "this form was not sent from the view's own pages"),
        );
    }
    match to {
        To::Bare => see_other("/view/"),
        To::Stylesheet => Reply {
            status: 200,
            content_type: "text/css; charset=utf-8",
            headers: Vec::new(),
            body: layout::CSS.as_bytes().to_vec(),
        },
        To::Login => html(200, pages::login::page(None)),
        To::SignIn => sign_in(req),
        To::SignOut => see_other("/view/login")
            .with_header("set-cookie", &web::clear_session_cookie(over_https(req))),
        _ => match session(req) {
            Ok((token, who)) => signed_in(to, params, req, &Api::new(&token), &who)
                .unwrap_or_else(|e| error_page(Some(&who), &e)),
            Err(reply) => reply,
        },
    }
}

/// The pages and actions of someone signed in.
fn signed_in(
    to: To,
    params: &Params<'_>,
    req: &Request,
    api: &Api<'_>,
    who: &Who,
) -> Result<Reply, ApiError> {
    match to {
        To::Today => {
            let summary = api.get(STATUS, "/v1/summary?days=30")?;
            Ok(html(200, pages::dashboard::page(who, &summary)))
        }
        To::List => {
            let filters = Filters::from_query(req.query());
            let path = web::with_query("/v1/submissions", &filters.api_query());
            match api.get(STATUS, &path) {
                Ok(found) => Ok(html(
                    200,
                    pages::submissions::page(who, &filters, Ok(&found)),
                )),
                // A filter the API refuses is shown beside the form, with the API's status.
                Err(e) if e.status == 400 => {
                    Ok(html(400, pages::submissions::page(who, &filters, Err(&e))))
                }
                Err(e) => Err(e),
            }
        }
        To::Record => {
            let id = record_id(params)?;
            let record = api.get(STATUS, &format!("/v1/submissions/{id}"))?;
            let done = match web::Form::parse(req.query().as_bytes()).value("done") {
                "sign-off" => Some("Signed off: the record goes on to signing and the NAP."),
                "retry" => Some("Sent again as it is, under the same version."),
                _ => None,
            };
            Ok(html(200, pages::record::page(who, &record, done)))
        }
        To::Xml => {
            let id = record_id(params)?;
            // `?kind=mapped|signed` passes through: the record page offers both once signed.
            let kind = match req.query() {
                "kind=mapped" => "?kind=mapped",
                "kind=signed" => "?kind=signed",
                _ => "",
            };
            let answer = api.send(
                Method::GET,
                STATUS,
                &format!("/v1/submissions/{id}/xml{kind}"),
                None,
            )?;
            let kind = match transport::header(&answer, "ecoc-xml") {
                Some("signed") => "signed",
                _ => "unsigned",
            };
            Ok(Reply::xml(answer.into_body()).with_header(
                "content-disposition",
                &format!("attachment; filename=\"{id}-{kind}.xml\""),
            ))
        }
        To::SignOff | To::Retry => {
            let id = record_id(params)?;
            let step = if let To::SignOff = to {
                "sign-off"
            } else {
                "retry"
            };
            api.send(
                Method::POST,
                STATUS,
                &format!("/v1/submissions/{id}/{step}"),
                None,
            )?;
            Ok(see_other(&format!("/view/submissions/{id}?done={step}")))
        }
        To::Tenant(to) => tenant::answer(to, params, req, api, who),
        To::Bare | To::Login | To::SignIn | To::SignOut | To::Stylesheet => Err(ApiError::new(
            500,
            "a page without a session was routed as one with",
        )),
    }
}

/// `POST /view/login`: the token checked with the API, then the session.
fn sign_in(req: &Request) -> Reply {
    let form = web::Form::parse(req.body());
    let token = form.value("token");
    if !web::plausible_token(token) {
        return html(
            401,
            pages::login::page(Some(
                "That is not an API token: paste the whole token, it starts with ecoc_.",
            )),
        );
    }
    match Api::new(token).get(STATUS, "/v1/whoami") {
        Ok(_) => see_other("/view/")
            .with_header("set-cookie", &web::session_cookie(token, over_https(req))),
        Err(e) if e.status == 401 => html(401, pages::login::page(Some(&e.message))),
        Err(e) => error_page(None, &e),
    }
}

/// The session's token and who holds it; else the answer to give (to the login when there is no
/// valid session).
fn session(req: &Request) -> Result<(String, Who), Reply> {
    let Some(token) = web::session_token(header(req, "cookie").as_deref()) else {
        return Err(see_other("/view/login"));
    };
    match Api::new(&token).get(STATUS, "/v1/whoami") {
        Ok(value) => serde_json::from_value::<Who>(value)
            .map(|who| (token, who))
            .map_err(|_| {
                error_page(
                    None,
                    &ApiError::new(502, "the API's whoami answer is not of its contract"),
                )
            }),
        // Revoked, or never valid: the session ends here.
        Err(e) if e.status == 401 => Err(see_other("/view/login")
            .with_header("set-cookie", &web::clear_session_cookie(over_https(req)))),
        Err(e) => Err(error_page(None, &e)),
    }
}

fn record_id(params: &Params<'_>) -> Result<String, ApiError> {
    params
        .get::<RecordId>("id")
        .map(|id| id.as_str().to_owned())
        .map_err(|e| ApiError::new(e.status(), e.to_string()))
}

fn over_https(req: &Request) -> bool {
    web::came_over_https(
        header(req, "spin-full-url").as_deref(),
        header(req, "x-forwarded-proto").as_deref(),
    )
}

/// A page.
fn html(status: u16, body: String) -> Reply {
    Reply {
        status,
        content_type: web::HTML,
        headers: Vec::new(),
        body: body.into_bytes(),
    }
}

/// `303 See Other` to `location` (after a POST, and to the login).
fn see_other(location: &str) -> Reply {
    let link = ecoc_view::html::escape(location);
    html(
        303,
        format!("<!DOCTYPE html><html lang=\"en\"><title>See other</title><p><a href=\"{link}\">Continue</a></p></html>"),
    )
    .with_header("location", location)
}

/// The error page for `error`, with its status; a 401 (the session ended meanwhile) goes to
/// the login instead.
fn error_page(who: Option<&Who>, error: &ApiError) -> Reply {
    if error.status == 401 {
        return see_other("/view/login");
    }
    html(error.status, pages::error::page(who, error))
}
