//! The tenant (`GET /view/tenant`), from `GET /v1/tenant`, `/v1/tenant/mapping`,
//! `/v1/tenant/approvals` and (for a role that manages) `/v1/tenant/tokens`:
//!
//! - `#settings`: profile, signature profile, callback URL, digest recipients, signer,
//!   `table#destinations` and `table#routes`; `form#settings-form` for a role that manages.
//! - `#mapping-section`: `form#mapping-form` with `textarea#mapping` (the mapping JSON) and
//!   `textarea#sample` (an ERP record); "Preview" (`POST /view/tenant/preview`, roles that
//!   upload) and "Save" (`POST /view/tenant/mapping`, roles that manage). The preview's answer
//!   is `#preview`: the outcome, the findings and drift, and the XML (`#preview-xml`).
//! - `#approvals-section`: `textarea#approvals` and "Save" (roles that manage).
//! - `#tokens-section`: `table#tokens` with a revoke button per token, `form#new-token`; a token
//!   just issued is shown once in `#new-token-value`.
//!
//! A role that may not change something sees it read only, without the form.

use std::fmt::Write as _;

use serde_json::Value;

use super::{findings_table, or_dash};
use crate::html::{escape, notice, option, table, time, toned};
use crate::layout::{Section, page as frame};
use crate::web::path_segment;
use crate::{ApiError, Finding, Who, findings, text};

/// A part of the tenant page (where a notice is shown).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Part {
    /// The settings.
    Settings,
    /// The mapping editor.
    Mapping,
    /// The type-approval records.
    Approvals,
    /// The tokens.
    Tokens,
}

/// What the last action did, shown in its part of the page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Notice {
    /// Where.
    pub part: Part,
    /// A refusal (else a success).
    pub error: bool,
    /// What happened.
    pub message: String,
    /// The API's field errors, for a refusal.
    pub findings: Vec<Finding>,
}

impl Notice {
    /// A success.
    pub fn ok(part: Part, message: impl Into<String>) -> Self {
        Self {
            part,
            error: false,
            message: message.into(),
            findings: Vec::new(),
        }
    }

    /// The API's (or the view's) refusal.
    pub fn refused(part: Part, error: &ApiError) -> Self {
        Self {
            part,
            error: true,
            message: error.message.clone(),
            findings: error.errors.clone(),
        }
    }

    fn html(&self) -> String {
        let mut inner = format!("<p>{}</p>", escape(&self.message));
        if !self.findings.is_empty() {
            let rows: Vec<(&str, &Finding)> = self.findings.iter().map(|f| ("", f)).collect();
            inner.push_str(&findings_table(
                "notice-findings",
                "What was refused",
                &rows,
            ));
        }
        notice(if self.error { "error" } else { "ok" }, &inner)
    }
}

/// A mapping preview's result.
#[derive(Debug, Clone, Copy)]
pub enum Preview<'a> {
    /// `POST /v1/tenant/mapping:preview`'s answer: `{"xml", "check": {...}}`.
    Answer(&'a Value),
    /// Its refusal (the mapping or the record refused, or JSON the view could not read).
    Refused(&'a ApiError),
}

/// Everything the tenant page shows.
#[derive(Debug, Clone, Copy)]
pub struct TenantPage<'a> {
    /// `GET /v1/tenant`.
    pub settings: &'a Value,
    /// The mapping editor's text (the stored mapping, or what was just tried).
    pub mapping: &'a str,
    /// The sample record's text.
    pub sample: &'a str,
    /// The approvals editor's text.
    pub approvals: &'a str,
    /// `GET /v1/tenant/tokens` (only for a role that manages).
    pub tokens: Option<&'a Value>,
    /// A preview to show.
    pub preview: Option<Preview<'a>>,
    /// A token just issued (`{"name", "role", "token"}`), shown once.
    pub issued: Option<&'a Value>,
    /// What the last action did.
    pub notice: Option<&'a Notice>,
}

/// The tenant page.
pub fn page(who: &Who, t: &TenantPage<'_>) -> String {
    let mut main = format!(
        "<h1>Tenant</h1><p class=\"lead\">{} <span class=\"mono\">{}</span></p>",
        escape(&text(t.settings, "name")),
        escape(&text(t.settings, "id"))
    );
    main.push_str("<nav aria-label=\"On this page\" class=\"panel\"><ul class=\"legend\"><li><a href=\"#settings\">Settings</a></li><li><a href=\"#mapping-section\">Mapping</a></li><li><a href=\"#approvals-section\">Approvals</a></li><li><a href=\"#tokens-section\">Tokens</a></li></ul></nav>");
    main.push_str(&settings(who, t));
    main.push_str(&mapping(who, t));
    main.push_str(&approvals(who, t));
    main.push_str(&tokens(who, t));
    frame("Tenant", Section::Tenant, Some(who), &main)
}

fn notice_for(t: &TenantPage<'_>, part: Part) -> String {
    t.notice
        .filter(|n| n.part == part)
        .map_or(String::new(), Notice::html)
}

fn settings(who: &Who, t: &TenantPage<'_>) -> String {
    let s = t.settings;
    let recipients: Vec<String> = s
        .get("digest_to")
        .and_then(Value::as_array)
        .map(|l| {
            l.iter()
                .filter_map(Value::as_str)
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default();
    let signer = s.get("signer").filter(|v| v.is_object()).map_or_else(
        || "the deployment's shared signer".to_owned(),
        |signer| {
            format!(
                "QTSP <span class=\"mono\">{}</span>, credential <span class=\"mono\">{}</span>, client <span class=\"mono\">{}</span>",
                escape(&text(signer, "qtsp")),
                escape(&text(signer, "credential")),
                escape(&text(signer, "client_id"))
            )
        },
    );
    let facts = [
        ("Profile", escape(&or_dash(&text(s, "profile")))),
        (
            "Signature profile",
            escape(&or_dash(&text(s, "signature_profile"))),
        ),
        (
            "ERP callback URL",
            escape(&or_dash(&text(s, "callback_url"))),
        ),
        (
            "Digest recipients",
            escape(&or_dash(&recipients.join(", "))),
        ),
        ("Mapper component", escape(&or_dash(&text(s, "mapper")))),
        ("Signer", signer),
    ];
    let mut out = String::from(
        "<section id=\"settings\" class=\"panel\" aria-labelledby=\"settings-heading\"><h2 id=\"settings-heading\">Settings</h2>",
    );
    out.push_str(&notice_for(t, Part::Settings));
    out.push_str("<dl class=\"facts\">");
    for (k, v) in facts {
        let _ = write!(out, "<dt>{k}</dt><dd>{v}</dd>");
    }
    out.push_str("</dl>");
    let destinations: Vec<Vec<String>> = s
        .get("destinations")
        .and_then(Value::as_array)
        .map(|l| {
            l.iter()
                .map(|d| {
                    vec![
                        escape(&text(d, "id")),
                        escape(&text(d, "adapter")),
                        format!("<span class=\"mono\">{}</span>", escape(&text(d, "nap"))),
                        format!(
                            "<span class=\"mono\">{}</span>",
                            escape(&text(d, "client_id"))
                        ),
                    ]
                })
                .collect()
        })
        .unwrap_or_default();
    out.push_str("<h3>Destinations</h3>");
    if destinations.is_empty() {
        out.push_str("<p id=\"destinations\" class=\"muted\">None of its own: files go to the deployment's shared NAP account.</p>");
    } else {
        out.push_str(&table(
            "destinations",
            "NAP accounts of the tenant",
            &["Destination", "Adapter", "NAP", "Account"],
            &destinations,
        ));
        let routes: Vec<Vec<String>> = s
            .get("routes")
            .and_then(Value::as_array)
            .map(|l| {
                l.iter()
                    .map(|r| {
                        let list = |key: &str| {
                            let items: Vec<String> = r
                                .get(key)
                                .and_then(Value::as_array)
                                .map(|v| {
                                    v.iter()
                                        .filter_map(Value::as_str)
                                        .map(str::to_owned)
                                        .collect()
                                })
                                .unwrap_or_default();
                            if items.is_empty() {
                                "any".to_owned()
                            } else {
                                escape(&items.join(", "))
                            }
                        };
                        vec![
                            escape(&text(r, "to")),
                            list("countries"),
                            list("categories"),
                        ]
                    })
                    .collect()
            })
            .unwrap_or_default();
        if !routes.is_empty() {
            out.push_str(&table(
                "routes",
                "Routing: which files go where",
                &["Destination", "Countries", "Categories"],
                &routes,
            ));
        }
    }
    if who.may.manage {
        let profile = text(s, "profile");
        let sig = text(s, "signature_profile");
        let _ = write!(
            out,
            "<h3>Change settings</h3><form id=\"settings-form\" method=\"post\" action=\"/view/tenant/settings\"><div class=\"fields two\">\
             <div><label for=\"profile\">Validation profile</label><select id=\"profile\" name=\"profile\">{}{}</select></div>\
             <div><label for=\"signature_profile\">Signature profile</label><select id=\"signature_profile\" name=\"signature_profile\">{}{}</select></div>\
             <div><label for=\"callback_url\">ERP callback URL <span class=\"hint\">each final status is posted there, signed; empty: none</span></label><input id=\"callback_url\" name=\"callback_url\" type=\"url\" value=\"{}\"></div>\
             <div><label for=\"digest_to\">Digest recipients <span class=\"hint\">one email address per line</span></label><textarea id=\"digest_to\" name=\"digest_to\" class=\"short\">{}</textarea></div>\
             </div><div class=\"actions\"><button type=\"submit\" class=\"btn\">Save settings</button></div></form>",
            option("eu", "EU (official IVI 2.0 schema)", &profile),
            option("uk", "UK (GB g11*, NI n11* approvals)", &profile),
            option("xmldsig", "XML-DSig (EUCARIS)", &sig),
            option("xades", "XAdES-B-B", &sig),
            escape(&text(s, "callback_url")),
            escape(&recipients.join("\n"))
        );
    }
    out.push_str("</section>");
    out
}

fn mapping(who: &Who, t: &TenantPage<'_>) -> String {
    let mut out = String::from(
        "<section id=\"mapping-section\" class=\"panel\" aria-labelledby=\"mapping-heading\"><h2 id=\"mapping-heading\">Mapping</h2>\
         <p class=\"muted\">How an ERP record becomes IVI XML (docs/mapping.md). The preview maps the sample record and runs every check of an upload, storing nothing.</p>",
    );
    out.push_str(&notice_for(t, Part::Mapping));
    let editable = who.may.upload;
    let readonly = if who.may.manage { "" } else { " readonly" };
    let _ = write!(
        out,
        "<form id=\"mapping-form\" method=\"post\" action=\"/view/tenant/preview\">\
         <div class=\"fields two wide\"><div><label for=\"mapping\">Mapping (JSON){}</label>\
         <textarea id=\"mapping\" name=\"mapping\" class=\"code\" spellcheck=\"false\" rows=\"18\"{readonly}>{}</textarea></div>",
        if who.may.manage {
            " <span class=\"hint\">as stored; Save replaces it, Preview only tries it</span>"
        } else if editable {
            " <span class=\"hint\">you may try changes in the preview; saving needs a primary token</span>"
        } else {
            " <span class=\"hint\">read only for your role</span>"
        },
        escape(t.mapping)
    );
    if editable {
        let _ = write!(
            out,
            "<div><label for=\"sample\">Sample ERP record (JSON) <span class=\"hint\">what the preview maps and checks</span></label>\
             <textarea id=\"sample\" name=\"record\" class=\"code\" spellcheck=\"false\" rows=\"18\" placeholder=\"{{&quot;vin&quot;: &quot;WEX1M1AB2C3456789&quot;, ...}}\">{}</textarea></div>",
            escape(t.sample)
        );
    }
    out.push_str("</div>");
    if editable {
        out.push_str("<div class=\"actions\"><button type=\"submit\" class=\"btn btn-secondary\" formaction=\"/view/tenant/preview#preview\">Preview</button>");
        if who.may.manage {
            out.push_str("<button type=\"submit\" class=\"btn\" formaction=\"/view/tenant/mapping#mapping-section\">Save mapping</button>");
        }
        out.push_str("</div>");
    }
    out.push_str("</form>");
    if let Some(preview) = t.preview {
        out.push_str(&preview_html(preview));
    }
    out.push_str("</section>");
    out
}

fn preview_html(preview: Preview<'_>) -> String {
    let mut out = String::from(
        "<section id=\"preview\" aria-labelledby=\"preview-heading\"><h3 id=\"preview-heading\">Preview</h3>",
    );
    match preview {
        Preview::Refused(e) => {
            let rows: Vec<(&str, &Finding)> = e.errors.iter().map(|f| ("", f)).collect();
            let mut inner = format!(
                "<p id=\"preview-outcome\"><strong>Not mapped ({}).</strong> {}</p>",
                e.status,
                escape(&e.message)
            );
            if !rows.is_empty() {
                inner.push_str(&findings_table(
                    "preview-findings",
                    "What the mapping refused",
                    &rows,
                ));
            }
            out.push_str(&notice("error", &inner));
        }
        Preview::Answer(answer) => {
            let empty = Value::Null;
            let check = answer.get("check").unwrap_or(&empty);
            let outcome = text(check, "outcome");
            let tone = match outcome.as_str() {
                "validated" => "ok",
                "held" => "warn",
                "refused" => "bad",
                _ => "wait",
            };
            let _ = write!(
                out,
                "<p id=\"preview-outcome\">An upload of this record would be: {} <span class=\"mono\">{}</span></p>",
                toned(tone, &preview_word(&outcome), None),
                escape(&outcome)
            );
            let note = text(check, "note");
            if !note.is_empty() {
                let _ = write!(out, "<p class=\"muted\">{}</p>", escape(&note));
            }
            let refusals = findings(check, "findings");
            let drift = findings(check, "drift");
            let mut rows: Vec<(&str, &Finding)> = refusals.iter().map(|f| ("Refusal", f)).collect();
            rows.extend(drift.iter().map(|f| ("Drift", f)));
            if !rows.is_empty() {
                out.push_str(&findings_table(
                    "preview-findings",
                    "Findings of the checks",
                    &rows,
                ));
            }
            let _ = write!(
                out,
                "<h4>IVI XML</h4><pre id=\"preview-xml\" class=\"xml\" tabindex=\"0\" aria-label=\"The mapped IVI XML\">{}</pre>",
                escape(&text(answer, "xml"))
            );
        }
    }
    out.push_str("</section>");
    out
}

/// What a check's outcome means, in words.
fn preview_word(outcome: &str) -> String {
    match outcome {
        "validated" => "accepted".to_owned(),
        "held" => "held for a sign-off".to_owned(),
        "resent" => "sent again (same data as a record ecoc gave up on)".to_owned(),
        "refused" => "refused".to_owned(),
        other => other.to_owned(),
    }
}

fn approvals(who: &Who, t: &TenantPage<'_>) -> String {
    let mut out = String::from(
        "<section id=\"approvals-section\" class=\"panel\" aria-labelledby=\"approvals-heading\"><h2 id=\"approvals-heading\">Type approvals</h2>\
         <p class=\"muted\">The whole-vehicle type-approval records uploads are checked against.</p>",
    );
    out.push_str(&notice_for(t, Part::Approvals));
    if who.may.manage {
        let _ = write!(
            out,
            "<form id=\"approvals-form\" method=\"post\" action=\"/view/tenant/approvals\"><label for=\"approvals\">Approvals (JSON)</label>\
             <textarea id=\"approvals\" name=\"approvals\" class=\"code\" spellcheck=\"false\" rows=\"14\">{}</textarea>\
             <div class=\"actions\"><button type=\"submit\" class=\"btn\">Save approvals</button></div></form>",
            escape(t.approvals)
        );
    } else {
        let _ = write!(
            out,
            "<label for=\"approvals\">Approvals (JSON) <span class=\"hint\">read only for your role</span></label>\
             <textarea id=\"approvals\" class=\"code\" spellcheck=\"false\" rows=\"14\" readonly>{}</textarea>",
            escape(t.approvals)
        );
    }
    out.push_str("</section>");
    out
}

fn tokens(who: &Who, t: &TenantPage<'_>) -> String {
    let mut out = String::from(
        "<section id=\"tokens-section\" class=\"panel\" aria-labelledby=\"tokens-heading\"><h2 id=\"tokens-heading\">Tokens</h2>",
    );
    out.push_str(&notice_for(t, Part::Tokens));
    if let Some(issued) = t.issued {
        let _ = write!(
            out,
            "<div class=\"notice notice-ok\" role=\"status\"><p>Token <strong>{}</strong> ({}) issued. Copy it now: it is shown only this once, and ecoc keeps only its hash.</p>\
             <code id=\"new-token-value\" class=\"token-once\">{}</code></div>",
            escape(&text(issued, "name")),
            escape(&text(issued, "role")),
            escape(&text(issued, "token"))
        );
    }
    let (Some(list), true) = (t.tokens, who.may.manage) else {
        out.push_str("<p class=\"muted\">Only a primary token sees and manages the tenant's tokens.</p></section>");
        return out;
    };
    let rows: Vec<Vec<String>> = list
        .get("tokens")
        .and_then(Value::as_array)
        .map(|l| {
            l.iter()
                .map(|tok| {
                    let name = text(tok, "name");
                    let current = if name == who.token {
                        " <span class=\"muted\">(you)</span>"
                    } else {
                        ""
                    };
                    vec![
                        format!("{}{current}", escape(&name)),
                        escape(&text(tok, "role")),
                        time(&text(tok, "created_at")),
                        format!(
                            "<form class=\"inline-form\" method=\"post\" action=\"/view/tenant/tokens/{}/revoke\"><button type=\"submit\" class=\"btn btn-danger btn-small\">Revoke<span class=\"visually-hidden\"> {}</span></button></form>",
                            escape(&path_segment(&name)),
                            escape(&name)
                        ),
                    ]
                })
                .collect()
        })
        .unwrap_or_default();
    out.push_str(&table(
        "tokens",
        "API tokens (stored hashed; the last primary cannot be revoked)",
        &["Name", "Role", "Issued", "Action"],
        &rows,
    ));
    let _ = write!(
        out,
        "<h3>Issue a token</h3><form id=\"new-token\" method=\"post\" action=\"/view/tenant/tokens\"><div class=\"fields cols\">\
         <div><label for=\"token-name\">Name <span class=\"hint\">letters, digits, - _ .</span></label><input id=\"token-name\" name=\"name\" required maxlength=\"64\" pattern=\"[A-Za-z0-9._\\-]+\" spellcheck=\"false\"></div>\
         <div><label for=\"token-role\">Role</label><select id=\"token-role\" name=\"role\">{}{}{}</select></div>\
         <div class=\"actions\"><button type=\"submit\" class=\"btn\">Issue token</button></div></div></form>",
        option("view", "view: reads only", "view"),
        option("upload", "upload: uploads and reads", "view"),
        option("primary", "primary: manages everything", "view"),
    );
    out.push_str("</section>");
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::who;
    use serde_json::json;

    fn settings() -> Value {
        json!({"id": "demo", "name": "Demo <Motors>", "profile": "eu", "signature_profile": "xades",
            "callback_url": null, "digest_to": ["quality@demo.example"],
            "destinations": [{"id": "vca", "adapter": "vca", "nap": "vca", "client_id": "c<1>"}],
            "routes": [{"to": "vca", "countries": ["UK"]}]})
    }

    fn tokens() -> Value {
        json!({"tokens": [{"name": "primary-token", "role": "primary", "created_at": "2026-11-21T10:00:00Z"},
            {"name": "a b<c>", "role": "view", "created_at": "2026-11-21T10:00:00Z"}]})
    }

    fn base<'a>(s: &'a Value, t: Option<&'a Value>) -> TenantPage<'a> {
        TenantPage {
            settings: s,
            mapping: "{\"fields\": \"</textarea><script>x</script>\"}",
            sample: "",
            approvals: "[]",
            tokens: t,
            preview: None,
            issued: None,
            notice: None,
        }
    }

    #[test]
    fn a_primary_sees_every_form() {
        let (s, t) = (settings(), tokens());
        let html = page(&who("primary"), &base(&s, Some(&t)));
        for id in [
            "id=\"settings\"",
            "id=\"settings-form\"",
            "<table id=\"destinations\"",
            "<table id=\"routes\"",
            "id=\"mapping-form\"",
            "<textarea id=\"mapping\" name=\"mapping\" class=\"code\"",
            "id=\"sample\"",
            "formaction=\"/view/tenant/preview#preview\">Preview",
            "formaction=\"/view/tenant/mapping#mapping-section\">Save mapping",
            "id=\"approvals-form\"",
            "<table id=\"tokens\"",
            "id=\"new-token\"",
            "action=\"/view/tenant/tokens/a%20b%3Cc%3E/revoke\"",
        ] {
            assert!(html.contains(id), "{id}");
        }
        assert!(
            html.contains("&lt;/textarea&gt;&lt;script&gt;"),
            "the editor's text is escaped"
        );
        assert!(!html.contains("<script>"));
        assert!(html.contains("<option value=\"xades\" selected>"));
    }

    #[test]
    fn view_and_upload_roles_see_no_editing_forms() {
        let s = settings();
        let view = page(&who("view"), &base(&s, None));
        for absent in [
            "settings-form",
            "approvals-form",
            "new-token",
            "id=\"sample\"",
            "Save mapping",
            ">Preview<",
            "id=\"tokens\"",
        ] {
            assert!(!view.contains(absent), "view: {absent}");
        }
        assert!(view.contains(
            "<textarea id=\"mapping\" name=\"mapping\" class=\"code\" spellcheck=\"false\" rows=\"18\" readonly>"
        ));
        let upload = page(&who("upload"), &base(&s, None));
        assert!(upload.contains(">Preview<") && !upload.contains("Save mapping"));
        assert!(!upload.contains("settings-form"));
    }

    #[test]
    fn the_preview_shows_outcome_findings_and_xml() {
        let s = settings();
        let answer = json!({"xml": "<InitialVehicleInformation/>", "check": {"outcome": "refused",
            "findings": [{"path": "Header/TypeApprovalNumber", "code": "IVI-APR-001", "message": "not on record"}]}});
        let mut p = base(&s, None);
        p.preview = Some(Preview::Answer(&answer));
        let html = page(&who("upload"), &p);
        assert!(html.contains("id=\"preview\""));
        assert!(html.contains("id=\"preview-xml\" class=\"xml\" tabindex=\"0\" aria-label=\"The mapped IVI XML\">&lt;InitialVehicleInformation/&gt;</pre>"));
        assert!(html.contains("IVI-APR-001"));
        assert!(html.contains(">refused</span>"));
        let e = ApiError::from_answer(422, br#"{"message":"the mapping refused the record","errors":[{"path":"/vin","code":"MAP-REQUIRED","message":"missing"}]}"#);
        p.preview = Some(Preview::Refused(&e));
        let html = page(&who("upload"), &p);
        assert!(html.contains("MAP-REQUIRED") && html.contains("Not mapped (422)"));
    }

    #[test]
    fn a_new_token_is_shown_once_and_notices_land_in_their_part() {
        let (s, t) = (settings(), tokens());
        let issued = json!({"name": "viewer", "role": "view", "token": "ecoc_0123"});
        let n = Notice::ok(Part::Approvals, "2 approvals stored");
        let mut p = base(&s, Some(&t));
        p.issued = Some(&issued);
        p.notice = Some(&n);
        let html = page(&who("primary"), &p);
        assert!(
            html.contains("<code id=\"new-token-value\" class=\"token-once\">ecoc_0123</code>")
        );
        let approvals_at = html.find("id=\"approvals-section\"").unwrap_or(0);
        let notice_at = html.find("2 approvals stored").unwrap_or(0);
        assert!(notice_at > approvals_at);
    }
}
