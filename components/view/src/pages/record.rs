//! A record (`GET /view/submissions/{id}`), from `GET /v1/submissions/{id}`: `#status-name`
//! (the status as users see it), `#findings` (refusal reasons and drift findings: field, rule,
//! message), `table#timeline`, `a#download-xml` (the XML, signed once it is; `a#download-mapped-xml` the XML as mapped once signed), and the forms the
//! role may use: `form#sign-off` on a held record for a role that may manage, `form#retry` on a
//! record ecoc gave up on (Not delivered) for a role that may upload.

use serde_json::Value;

use super::{findings_table, or_dash};
use crate::html::{badge, escape, notice, table, time};
use crate::layout::{Section, page as frame};
use crate::{Finding, Who, findings, text};

/// Whether the record has a signed file: it names its signer, or its timeline passed `signed`.
pub fn is_signed(record: &Value) -> bool {
    !text(record, "signed_by").is_empty()
        || record
            .get("events")
            .and_then(Value::as_array)
            .is_some_and(|events| events.iter().any(|e| text(e, "status") == "signed"))
}

/// Whether `who` may sign the record off (held, and a role that manages).
pub fn may_sign_off(who: &Who, record: &Value) -> bool {
    who.may.manage && text(record, "status") == "held"
}

/// Whether `who` may send the record again (ecoc gave up on it, and a role that uploads).
pub fn may_retry(who: &Who, record: &Value) -> bool {
    who.may.upload
        && text(record, "status") == "failed"
        && text(record, "status_name") == "Not delivered"
}

/// The record page; `done` is what the last action did (shown once, after its redirect).
pub fn page(who: &Who, record: &Value, done: Option<&str>) -> String {
    let id = text(record, "id");
    let vin = or_dash(&text(record, "vin"));
    let mut main = String::from("<p><a href=\"/view/submissions\">← Submissions</a></p>");
    main.push_str(&format!(
        "<div class=\"record-head\"><h1><span class=\"visually-hidden\">Vehicle </span><span class=\"vin\">{}</span></h1>{}</div>",
        escape(&vin),
        badge(&text(record, "status_name"), Some("status-name"))
    ));
    main.push_str(&format!(
        "<p class=\"lead\">Version {} · stage {} · {} · record <span class=\"mono\">{}</span></p>",
        escape(&or_dash(&text(record, "version"))),
        escape(&or_dash(&text(record, "stage"))),
        escape(&or_dash(&text(record, "category"))),
        escape(&id)
    ));
    if let Some(done) = done {
        main.push_str(&notice("ok", &format!("<p>{}</p>", escape(done))));
    }
    main.push_str(&actions(who, record, &id));
    main.push_str(&findings_section(record));
    main.push_str("<div class=\"grid-2\">");
    main.push_str(&facts(record));
    main.push_str(&timeline(record));
    main.push_str("</div>");
    frame(
        &format!("Vehicle {vin}"),
        Section::Submissions,
        Some(who),
        &main,
    )
}

fn actions(who: &Who, record: &Value, id: &str) -> String {
    let id = escape(id);
    let downloads = if is_signed(record) {
        format!(
            "<a id=\"download-xml\" class=\"btn btn-secondary\" href=\"/view/submissions/{id}/xml?kind=signed\" download>Download the signed XML</a>\
             <a id=\"download-mapped-xml\" class=\"btn btn-secondary\" href=\"/view/submissions/{id}/xml?kind=mapped\" download>Download the XML as mapped</a>"
        )
    } else {
        format!(
            "<a id=\"download-xml\" class=\"btn btn-secondary\" href=\"/view/submissions/{id}/xml\" download>Download the XML (as mapped, not signed yet)</a>"
        )
    };
    let mut out = format!(
        "<section id=\"actions\" class=\"panel\" aria-labelledby=\"actions-heading\"><h2 id=\"actions-heading\">File and actions</h2>\
         <div class=\"actions\">{downloads}</div>"
    );
    let status = text(record, "status");
    if may_sign_off(who, record) {
        out.push_str(&format!(
            "<form id=\"sign-off\" class=\"callout callout-warn\" method=\"post\" action=\"/view/submissions/{id}/sign-off\">\
             <p>This later stage left the range its earlier stage declared (the drift findings below). Signing off releases it as it is: it is signed and sent to the NAP, and the timeline records who signed it off.</p>\
             <div class=\"actions\"><button type=\"submit\" class=\"btn\">Sign off and send</button></div></form>"
        ));
    } else if status == "held" {
        out.push_str(
            "<p id=\"sign-off-needed\" class=\"callout callout-warn\">Held for a sign-off: a primary user must release it.</p>",
        );
    }
    if may_retry(who, record) {
        out.push_str(&format!(
            "<form id=\"retry\" class=\"callout\" method=\"post\" action=\"/view/submissions/{id}/retry\">\
             <p>ecoc gave up delivering this file for a technical reason; it never reached the authority. Sending it again keeps the same version.</p>\
             <div class=\"actions\"><button type=\"submit\" class=\"btn\">Send again</button></div></form>"
        ));
    }
    out.push_str("</section>");
    out
}

fn findings_section(record: &Value) -> String {
    let errors = findings(record, "errors");
    let drift = findings(record, "drift");
    let mut rows: Vec<(&str, &Finding)> = errors.iter().map(|f| ("Refusal", f)).collect();
    rows.extend(drift.iter().map(|f| ("Drift", f)));
    let body = if rows.is_empty() {
        "<p class=\"muted\">No findings: nothing was refused or held.</p>".to_owned()
    } else {
        let caption = match (errors.is_empty(), drift.is_empty()) {
            (false, true) => "Why it was refused or failed",
            (true, false) => "Why it is held",
            _ => "Reasons and drift",
        };
        findings_table("findings-table", caption, &rows)
    };
    format!(
        "<section id=\"findings\" class=\"panel\" aria-labelledby=\"findings-heading\"><h2 id=\"findings-heading\">Findings</h2>{body}</section>"
    )
}

fn facts(record: &Value) -> String {
    let mut list: Vec<(&str, String)> = vec![
        (
            "Record",
            format!(
                "<span class=\"mono\">{}</span>",
                escape(&text(record, "id"))
            ),
        ),
        (
            "VIN",
            format!(
                "<span class=\"vin\">{}</span>",
                escape(&or_dash(&text(record, "vin")))
            ),
        ),
        (
            "Status (ours)",
            format!(
                "<span class=\"mono\">{}</span>",
                escape(&text(record, "status"))
            ),
        ),
        (
            "Status at the NAP",
            escape(&or_dash(&text(record, "vca_status"))),
        ),
        (
            "Approval",
            format!(
                "<span class=\"mono\">{}</span>",
                escape(&or_dash(&text(record, "approval_number")))
            ),
        ),
        (
            "IVI reference",
            format!(
                "<span class=\"mono\">{}</span>",
                escape(&or_dash(&text(record, "reference_id")))
            ),
        ),
        ("Arrived as", escape(&or_dash(&text(record, "source")))),
        (
            "Destination",
            escape(&or_dash(&text(record, "destination"))),
        ),
        ("Signed by", escape(&or_dash(&text(record, "signed_by")))),
        ("Created", time(&text(record, "created_at"))),
        ("Last change", time(&text(record, "updated_at"))),
    ];
    if let Some(receipt) = record.get("receipt").filter(|r| r.is_object()) {
        list.push((
            "NAP receipt",
            format!(
                "<span class=\"mono\">{}</span> {}",
                escape(&text(receipt, "submission_id")),
                escape(&text(receipt, "status"))
            ),
        ));
        let reason = text(receipt, "reason");
        if !reason.is_empty() {
            list.push(("NAP reason", escape(&reason)));
        }
        let account = text(receipt, "account");
        if !account.is_empty() {
            list.push(("Account", escape(&account)));
        }
    }
    let replaces = text(record, "replaces");
    if !replaces.is_empty() {
        list.push((
            "Corrects",
            format!(
                "<a href=\"/view/submissions/{0}\" class=\"mono\">{0}</a>",
                escape(&replaces)
            ),
        ));
    }
    if let Some(siblings) = record.get("siblings").and_then(Value::as_array)
        && !siblings.is_empty()
    {
        let links: Vec<String> = siblings
            .iter()
            .filter_map(Value::as_str)
            .map(|s| {
                format!(
                    "<a href=\"/view/submissions/{0}\" class=\"mono\">{0}</a>",
                    escape(s)
                )
            })
            .collect();
        list.push(("Same file, other destinations", links.join(", ")));
    }
    let sha = text(record, "payload_sha256");
    if !sha.is_empty() {
        list.push((
            "Refused upload (SHA-256)",
            format!("<span class=\"mono\">{}</span>", escape(&sha)),
        ));
    }
    let items: String = list
        .iter()
        .map(|(k, v)| format!("<dt>{k}</dt><dd>{v}</dd>"))
        .collect();
    format!(
        "<section class=\"panel\" aria-labelledby=\"facts-heading\"><h2 id=\"facts-heading\">Record</h2><dl class=\"facts\">{items}</dl></section>"
    )
}

fn timeline(record: &Value) -> String {
    let events = record
        .get("events")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let rows: Vec<Vec<String>> = events
        .iter()
        .map(|e| {
            vec![
                time(&text(e, "at")),
                format!("<span class=\"mono\">{}</span>", escape(&text(e, "actor"))),
                escape(&text(e, "status")),
                escape(&text(e, "note")),
            ]
        })
        .collect();
    format!(
        "<section class=\"panel\" aria-labelledby=\"timeline-heading\"><h2 id=\"timeline-heading\">Timeline</h2>{}</section>",
        table(
            "timeline",
            "What happened, oldest first",
            &["When", "Who", "Status", "Note"],
            &rows
        )
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::who;
    use serde_json::json;

    fn record(status: &str, status_name: &str) -> Value {
        json!({
            "id": "r019a0000000000000000aaaa", "vin": "WEX1M1REFUSED0001", "version": 1, "stage": 2,
            "status": status, "status_name": status_name, "category": "N2",
            "created_at": "2026-11-21T10:00:00Z", "updated_at": "2026-11-21T10:00:01Z",
            "events": [
                {"at": "2026-11-21T10:00:00Z", "actor": "token:demo-primary", "status": "received", "note": "via json"},
                {"at": "2026-11-21T10:00:00Z", "actor": "validate", "status": status, "note": "<img src=x onerror=alert(1)>"}
            ],
            "errors": [{"path": "Header/TypeApprovalNumber", "code": "IVI-APR-001", "message": "approval <script>alert(1)</script> is not on record"}],
            "drift": [{"path": "CocDataGroup/MassInRunningOrder", "code": "IVI-DRF-001", "message": "heavier than stage 1 declared"}]
        })
    }

    #[test]
    fn findings_timeline_and_status_are_shown_escaped() {
        let html = page(&who("view"), &record("rejected", "Rejected"), None);
        assert!(html.contains("id=\"status-name\" class=\"badge badge-bad\">Rejected</span>"));
        assert!(html.contains("id=\"findings\""));
        assert!(html.contains("<code class=\"path\">Header/TypeApprovalNumber</code>"));
        assert!(html.contains("<code class=\"rule\">IVI-APR-001</code>"));
        assert!(html.contains("approval &lt;script&gt;alert(1)&lt;/script&gt; is not on record"));
        assert!(html.contains("IVI-DRF-001"));
        assert!(html.contains("<table id=\"timeline\""));
        assert!(!html.contains("<script>") && !html.contains("<img"));
        assert!(html.contains("href=\"/view/submissions/r019a0000000000000000aaaa/xml\""));
        assert!(html.contains("as mapped, not signed yet"));
    }

    #[test]
    fn sign_off_only_for_a_held_record_and_a_managing_role() {
        let held = record("held", "Held");
        assert!(page(&who("primary"), &held, None).contains("<form id=\"sign-off\" class=\"callout callout-warn\" method=\"post\" action=\"/view/submissions/r019a0000000000000000aaaa/sign-off\">"));
        for role in ["upload", "view"] {
            let html = page(&who(role), &held, None);
            assert!(!html.contains("id=\"sign-off\""), "{role}");
            assert!(html.contains("id=\"sign-off-needed\""), "{role}");
        }
        let succeeded = record("succeeded", "Succeeded");
        assert!(!page(&who("primary"), &succeeded, None).contains("id=\"sign-off\""));
    }

    #[test]
    fn retry_only_when_not_delivered_and_a_role_that_uploads() {
        let not_delivered = record("failed", "Not delivered");
        for (role, shown) in [("primary", true), ("upload", true), ("view", false)] {
            let html = page(&who(role), &not_delivered, None);
            assert_eq!(
                html.contains("<form id=\"retry\" class=\"callout\""),
                shown,
                "{role}"
            );
        }
        // The authority refused it: correct and upload again, no retry.
        let refused = record("failed", "Failed");
        assert!(!page(&who("primary"), &refused, None).contains("id=\"retry\""));
    }

    #[test]
    fn a_signed_record_offers_its_signed_file() {
        let mut r = record("succeeded", "Succeeded");
        r["signed_by"] = json!("sandbox/rsa-signer (CN=Example)");
        r["receipt"] = json!({"submission_id": "nap-1", "status": "Succeeded"});
        let html = page(&who("view"), &r, Some("Signed off."));
        assert!(html.contains("Download the signed XML"));
        assert!(
            html.contains("/xml?kind=signed\""),
            "both files, each asked by kind"
        );
        assert!(html.contains("/xml?kind=mapped\""));
        assert!(html.contains("nap-1"));
        assert!(html.contains("Signed off."));
    }
}
