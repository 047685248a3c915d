//! Today at a glance (`GET /view/`), from `GET /v1/summary`: `#figures` (refused and failed
//! today, held for sign-off, waiting on the QTSP and on the NAP), `#chart` (the days as inline
//! SVG bars, each with its `<title>`, and `table#chart-data` with the same numbers, visually
//! hidden, for screen readers), `table#counts` (records per status) and `table#problems` (today's
//! refused and failed records; `#no-problems` when there are none).

use std::fmt::Write as _;

use serde_json::Value;

use super::or_dash;
use crate::html::{badge, escape, table, time};
use crate::layout::{Section, page as frame};
use crate::{Who, count, findings, text};

/// Our statuses in pipeline order, with what each means on this page.
const STATUSES: [(&str, &str); 10] = [
    ("received", "Received from the ERP"),
    ("mapped", "Mapped"),
    ("validated", "Validated, waiting on the QTSP"),
    ("held", "Held for sign-off"),
    ("signed", "Signed, waiting on the NAP"),
    ("submitted", "At the NAP (Received)"),
    ("processing", "At the NAP (Processing)"),
    ("succeeded", "Succeeded"),
    ("failed", "Failed or not delivered"),
    ("rejected", "Rejected before signing"),
];

/// The dashboard for `who` from the summary's JSON.
pub fn page(who: &Who, summary: &Value) -> String {
    let days = summary
        .get("days")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let today = text(summary, "today");
    let mut main = format!(
        "<h1>Today at a glance</h1><p class=\"lead\">{} · {} UTC</p>",
        escape(&who.tenant_name),
        escape(&today)
    );
    main.push_str(&figures(summary));
    main.push_str(&problems(summary));
    main.push_str("<div class=\"grid-2\">");
    main.push_str(&chart(&days));
    main.push_str(&counts(summary, days.len()));
    main.push_str("</div>");
    frame("Today", Section::Today, Some(who), &main)
}

fn figures(summary: &Value) -> String {
    let figures = [
        (
            "fig-refused",
            "today_refused",
            "Refused today",
            "bad",
            Some("status=rejected"),
        ),
        (
            "fig-failed",
            "today_failed",
            "Failed today",
            "bad",
            Some("status=failed"),
        ),
        (
            "fig-held",
            "held",
            "Held for sign-off",
            "warn",
            Some("status=held"),
        ),
        (
            "fig-qtsp",
            "waiting_qtsp",
            "Waiting on the QTSP",
            "wait",
            Some("status=validated"),
        ),
        ("fig-nap", "waiting_nap", "Waiting on the NAP", "wait", None),
    ];
    let mut out = String::from(
        "<section id=\"at-a-glance\" aria-labelledby=\"glance-heading\"><h2 id=\"glance-heading\" class=\"visually-hidden\">Figures of the day</h2><ul class=\"figures\" id=\"figures\">",
    );
    for (id, key, label, tone, filter) in figures {
        let n = count(summary, key);
        let tone = if n == 0 { "none" } else { tone };
        let link = filter.map_or(String::new(), |q| {
            format!(
                "<a href=\"/view/submissions?{q}\">Show<span class=\"visually-hidden\"> {}</span></a>",
                label.to_lowercase()
            )
        });
        let _ = write!(
            out,
            "<li class=\"figure tone-{tone}\" id=\"{id}\"><span class=\"n\">{n}</span><span class=\"label\">{label}</span>{link}</li>"
        );
    }
    out.push_str("</ul></section>");
    out
}

fn problems(summary: &Value) -> String {
    let list = summary
        .get("problems")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let mut out = String::from(
        "<section id=\"problem-list\" class=\"panel\" aria-labelledby=\"problems-heading\"><h2 id=\"problems-heading\">Refused and failed today</h2>",
    );
    if list.is_empty() {
        out.push_str(
            "<p id=\"no-problems\" class=\"muted\">Nothing was refused or failed today.</p>",
        );
    } else {
        let rows: Vec<Vec<String>> = list
            .iter()
            .map(|r| {
                let id = text(r, "id");
                let reason = findings(r, "errors")
                    .last()
                    .map(|f| format!("<code>{}</code> {}", escape(&f.code), escape(&f.message)))
                    .unwrap_or_default();
                vec![
                    format!(
                        "<a class=\"record-link vin\" href=\"/view/submissions/{}\">{}</a>",
                        escape(&id),
                        escape(&or_dash(&text(r, "vin")))
                    ),
                    badge(&text(r, "status_name"), None),
                    reason,
                    time(&text(r, "updated_at")),
                ]
            })
            .collect();
        out.push_str(&table(
            "problems",
            "Newest first (at most 20)",
            &["VIN", "Status", "Reason", "When"],
            &rows,
        ));
    }
    out.push_str("</section>");
    out
}

/// The days as bars: for each day a light bar of the records created and beside it one of the
/// outcomes reached (succeeded, failed, rejected stacked); each bar has its `<title>`.
fn chart(days: &[Value]) -> String {
    const SLOT: u64 = 20;
    const HEIGHT: u64 = 100;
    let n = days.len() as u64;
    let outcome = |d: &Value| count(d, "succeeded") + count(d, "failed") + count(d, "rejected");
    let highest = days
        .iter()
        .map(|d| count(d, "created").max(outcome(d)))
        .max()
        .unwrap_or(0)
        .max(1);
    let scale = |v: u64| v * (HEIGHT - 4) / highest;
    let mut bars = String::new();
    for (i, d) in days.iter().enumerate() {
        let date = escape(&text(d, "date"));
        let x = i as u64 * SLOT + 3;
        let created = count(d, "created");
        let h = scale(created);
        let _ = write!(
            bars,
            "<rect class=\"bar-created\" x=\"{x}\" y=\"{}\" width=\"7\" height=\"{h}\"><title>{date}: {created} created</title></rect>",
            HEIGHT - h
        );
        let mut top = HEIGHT;
        for key in ["succeeded", "failed", "rejected"] {
            let v = count(d, key);
            if v == 0 {
                continue;
            }
            let h = scale(v).max(1);
            top = top.saturating_sub(h);
            let _ = write!(
                bars,
                "<rect class=\"bar-{key}\" x=\"{}\" y=\"{top}\" width=\"7\" height=\"{h}\"><title>{date}: {v} {key}</title></rect>",
                x + 8
            );
        }
    }
    let width = (n * SLOT).max(SLOT);
    let first = days.first().map(|d| text(d, "date")).unwrap_or_default();
    let last = days.last().map(|d| text(d, "date")).unwrap_or_default();
    let rows: Vec<Vec<String>> = days
        .iter()
        .map(|d| {
            let mut row = vec![escape(&text(d, "date"))];
            for key in ["created", "succeeded", "failed", "rejected"] {
                row.push(count(d, key).to_string());
            }
            row
        })
        .collect();
    let data = table(
        "chart-data",
        &format!("Records per day, {first} to {last}"),
        &["Day", "Created", "Succeeded", "Failed", "Rejected"],
        &rows,
    );
    format!(
        "<section id=\"chart\" class=\"panel chart\" aria-labelledby=\"chart-heading\">\
         <div class=\"panel-head\"><h2 id=\"chart-heading\">Last {n} days</h2><span class=\"muted\">highest day: {highest}</span></div>\
         <svg viewBox=\"0 0 {width} {HEIGHT}\" preserveAspectRatio=\"none\" role=\"img\" aria-label=\"Records created and outcomes per day, {} to {}; the table after the chart has the figures\" focusable=\"false\">\
         <line class=\"axis\" x1=\"0\" y1=\"{HEIGHT}\" x2=\"{width}\" y2=\"{HEIGHT}\"></line>{bars}</svg>\
         <div class=\"chart-axis\" aria-hidden=\"true\"><span>{}</span><span>{}</span></div>\
         <ul class=\"legend\" aria-hidden=\"true\"><li><span class=\"key key-created\"></span>Created</li><li><span class=\"key key-succeeded\"></span>Succeeded</li><li><span class=\"key key-failed\"></span>Failed</li><li><span class=\"key key-rejected\"></span>Rejected</li></ul>\
         <div class=\"visually-hidden\">{data}</div></section>",
        escape(&first),
        escape(&last),
        escape(&first),
        escape(&last),
    )
}

fn counts(summary: &Value, days: usize) -> String {
    let empty = Value::Null;
    let counts = summary.get("counts").unwrap_or(&empty);
    let rows: Vec<Vec<String>> = STATUSES
        .iter()
        .map(|(status, meaning)| {
            let n = count(counts, status);
            let link = if n > 0 {
                format!(
                    "<a href=\"/view/submissions?status={status}\">{n}<span class=\"visually-hidden\"> {status}</span></a>"
                )
            } else {
                "0".to_owned()
            };
            vec![
                format!("{meaning} <span class=\"muted mono\">{status}</span>"),
                link,
            ]
        })
        .collect();
    let total: u64 = STATUSES.iter().map(|(s, _)| count(counts, s)).sum();
    format!(
        "<section class=\"panel\" aria-labelledby=\"counts-heading\"><div class=\"panel-head\"><h2 id=\"counts-heading\">By status</h2><span class=\"muted\">{total} records</span></div>{}</section>",
        table(
            "counts",
            &format!("Records created in the last {days} days, by status"),
            &["Status", "Records"],
            &rows,
        )
    )
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "tests")]
    use super::*;
    use crate::testing::who;
    use serde_json::json;

    fn summary() -> Value {
        let days: Vec<Value> = (1..=30)
            .map(|d| json!({"date": format!("2026-11-{d:02}"), "created": d % 4, "succeeded": d % 3, "failed": d % 2, "rejected": 0}))
            .collect();
        json!({
            "today": "2026-11-30",
            "counts": {"held": 2, "failed": 1, "succeeded": 5, "rejected": 1, "validated": 0},
            "today_refused": 1, "today_failed": 1, "held": 2, "waiting_qtsp": 0, "waiting_nap": 3,
            "days": days,
            "problems": [{"id": "r019a0000000000000000aaaa", "vin": "<script>alert(1)</script>",
                "status_name": "Rejected", "updated_at": "2026-11-30T10:00:00Z",
                "errors": [{"path": "Header/TypeApprovalNumber", "code": "IVI-APR-001", "message": "not on record <b>"}]}]
        })
    }

    #[test]
    fn figures_chart_counts_and_problems_are_there() {
        let html = page(&who("view"), &summary());
        for id in [
            "id=\"figures\"",
            "id=\"fig-refused\"",
            "id=\"fig-held\"",
            "id=\"fig-nap\"",
            "id=\"chart\"",
            "id=\"chart-data\"",
            "id=\"counts\"",
            "id=\"problems\"",
        ] {
            assert!(html.contains(id), "{id}");
        }
        assert_eq!(html.matches("<rect class=\"bar-created\"").count(), 30);
        assert!(html.contains("<title>2026-11-03: 3 created</title>"));
        assert!(html.contains("<caption>Records per day, 2026-11-01 to 2026-11-30</caption>"));
        assert!(html.contains("&lt;script&gt;alert(1)&lt;/script&gt;"));
        assert!(!html.contains("<script>"));
        assert!(html.contains("IVI-APR-001"));
        assert!(html.contains("href=\"/view/submissions?status=held\""));
        assert!(html.contains("aria-current=\"page\">Today<"));
    }

    #[test]
    fn a_quiet_day_says_so() {
        let mut s = summary();
        s["problems"] = json!([]);
        s["days"] = json!([]);
        let html = page(&who("view"), &s);
        assert!(html.contains("id=\"no-problems\""));
        assert!(!html.contains("id=\"problems\""));
    }
}
