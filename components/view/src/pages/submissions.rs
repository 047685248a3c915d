//! The submissions list (`GET /view/submissions?vin=&status=&from=&to=&cursor=`), over
//! `GET /v1/submissions` with the same filters: `form#search` (`#vin`, `#status`, `#from`,
//! `#to`), `table#submissions` whose rows link to their record (`a.record-link`), and
//! `a#next-page` (and `a#first-page` past the first) carrying the filters. An empty result is
//! `#no-results`; a filter the API refuses is shown in `#search-error`.

use serde_json::Value;

use super::or_dash;
use crate::html::{badge, escape, notice, option, table, time};
use crate::layout::{Section, page as frame};
use crate::web::{Form, query, with_query};
use crate::{ApiError, Who, text};

/// The statuses the search offers: the API's words, and what users read.
const STATUS_OPTIONS: [(&str, &str); 11] = [
    ("", "Any status"),
    ("pending", "Pending"),
    ("held", "Held"),
    ("rejected", "Rejected"),
    ("validated", "Validated (waiting on the QTSP)"),
    ("signed", "Signed (waiting on the NAP)"),
    ("received", "Received by the NAP"),
    ("processing", "Processing"),
    ("succeeded", "Succeeded"),
    ("failed", "Failed or not delivered"),
    ("not_delivered", "Not delivered"),
];

/// The list's filters, as the view's query string gives them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Filters {
    /// VIN pattern (`*` any run, `?` one character).
    pub vin: String,
    /// A status word of the API.
    pub status: String,
    /// First creation day, `YYYY-MM-DD`.
    pub from: String,
    /// Last creation day.
    pub to: String,
    /// The page after this record id.
    pub cursor: String,
}

impl Filters {
    /// Reads the view's query string (empty fields are no filter).
    pub fn from_query(query: &str) -> Self {
        let form = Form::parse(query.as_bytes());
        Self {
            vin: form.value("vin").to_ascii_uppercase(),
            status: form.value("status").to_owned(),
            from: form.value("from").to_owned(),
            to: form.value("to").to_owned(),
            cursor: form.value("cursor").to_owned(),
        }
    }

    fn pairs<'a>(&'a self, cursor: &'a str) -> [(&'a str, &'a str); 5] {
        [
            ("vin", &self.vin),
            ("status", &self.status),
            ("from", &self.from),
            ("to", &self.to),
            ("cursor", cursor),
        ]
    }

    /// The query string of `GET /v1/submissions` for these filters.
    pub fn api_query(&self) -> String {
        query(&self.pairs(&self.cursor))
    }

    /// The view's link to the page after `cursor` with the same filters (`cursor` empty: the
    /// first page).
    pub fn link(&self, cursor: &str) -> String {
        with_query("/view/submissions", &query(&self.pairs(cursor)))
    }
}

/// The list page: the filters, and the API's page of results or its refusal of the filters.
pub fn page(who: &Who, filters: &Filters, results: Result<&Value, &ApiError>) -> String {
    let mut main = String::from(
        "<h1>Submissions</h1><p class=\"lead\">Every vehicle file of your tenant, newest first.</p>",
    );
    main.push_str(&search_form(filters));
    match results {
        Ok(answer) => main.push_str(&list(filters, answer)),
        Err(e) => main.push_str(&format!(
            "<div id=\"search-error\">{}</div>",
            notice(
                "error",
                &format!(
                    "<p><strong>The search was refused ({}).</strong> {}</p>",
                    e.status,
                    escape(&e.message)
                )
            )
        )),
    }
    frame("Submissions", Section::Submissions, Some(who), &main)
}

fn search_form(f: &Filters) -> String {
    let options: String = STATUS_OPTIONS
        .iter()
        .map(|(value, label)| option(value, label, &f.status))
        .collect();
    format!(
        "<section class=\"panel\" aria-labelledby=\"search-heading\"><h2 id=\"search-heading\">Search</h2>\
         <form id=\"search\" method=\"get\" action=\"/view/submissions\" role=\"search\"><div class=\"fields cols\">\
         <div><label for=\"vin\">VIN <span class=\"hint\"><code>*</code> any run, <code>?</code> one character</span></label>\
         <input id=\"vin\" name=\"vin\" type=\"search\" value=\"{}\" maxlength=\"17\" autocapitalize=\"characters\" spellcheck=\"false\" placeholder=\"WEX1M1*\"></div>\
         <div><label for=\"status\">Status <span class=\"hint\">ours or the NAP's</span></label><select id=\"status\" name=\"status\">{options}</select></div>\
         <div><label for=\"from\">Created from <span class=\"hint\">first day</span></label><input id=\"from\" name=\"from\" type=\"date\" value=\"{}\"></div>\
         <div><label for=\"to\">Created to <span class=\"hint\">last day</span></label><input id=\"to\" name=\"to\" type=\"date\" value=\"{}\"></div>\
         <div class=\"actions\"><button type=\"submit\" class=\"btn\">Search</button><a href=\"/view/submissions\">Clear</a></div>\
         </div></form></section>",
        escape(&f.vin),
        escape(&f.from),
        escape(&f.to)
    )
}

fn list(filters: &Filters, answer: &Value) -> String {
    let items = answer
        .get("items")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let mut out = String::from(
        "<section class=\"panel\" aria-labelledby=\"results-heading\"><h2 id=\"results-heading\">Results</h2>",
    );
    if items.is_empty() {
        out.push_str(
            "<p id=\"no-results\" class=\"muted\">No submission matches these filters.</p>",
        );
    } else {
        let rows: Vec<Vec<String>> = items
            .iter()
            .map(|r| {
                let destination = text(r, "destination");
                vec![
                    format!(
                        "<a class=\"record-link vin\" href=\"/view/submissions/{}\">{}</a>",
                        escape(&text(r, "id")),
                        escape(&or_dash(&text(r, "vin")))
                    ),
                    badge(&text(r, "status_name"), None),
                    escape(&text(r, "version")),
                    escape(&text(r, "stage")),
                    format!(
                        "<span class=\"mono\">{}</span>",
                        escape(&or_dash(&text(r, "approval_number")))
                    ),
                    escape(&or_dash(&destination)),
                    time(&text(r, "created_at")),
                ]
            })
            .collect();
        out.push_str(&table(
            "submissions",
            "Submissions, newest first",
            &[
                "VIN",
                "Status",
                "Version",
                "Stage",
                "Approval",
                "Destination",
                "Created",
            ],
            &rows,
        ));
    }
    let next = text(answer, "next");
    let mut pager = String::new();
    if !filters.cursor.is_empty() {
        pager.push_str(&format!(
            "<a id=\"first-page\" href=\"{}\">First page</a>",
            escape(&filters.link(""))
        ));
    }
    if !next.is_empty() {
        pager.push_str(&format!(
            "<a id=\"next-page\" rel=\"next\" class=\"btn btn-secondary\" href=\"{}\">Next page</a>",
            escape(&filters.link(&next))
        ));
    }
    if !pager.is_empty() {
        out.push_str(&format!(
            "<nav class=\"pager\" aria-label=\"Pages of results\">{pager}</nav>"
        ));
    }
    out.push_str("</section>");
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::who;
    use serde_json::json;

    #[test]
    fn filters_read_and_carry_on_to_the_api_and_the_next_page() {
        let f = Filters::from_query("vin=wex1m1*&status=rejected&from=2026-11-01&to=&cursor=");
        assert_eq!(f.vin, "WEX1M1*");
        assert_eq!(f.api_query(), "vin=WEX1M1*&status=rejected&from=2026-11-01");
        assert_eq!(
            f.link("r019a0000000000000000aaaa"),
            "/view/submissions?vin=WEX1M1*&status=rejected&from=2026-11-01&cursor=r019a0000000000000000aaaa"
        );
        let answer = json!({"items": [{"id": "r019a0000000000000000bbbb", "vin": "WEX1M1REFUSED0001",
            "status_name": "Rejected", "version": 1, "stage": 1, "created_at": "2026-11-21T10:00:00Z"}],
            "next": "r019a0000000000000000bbbb"});
        let html = page(&who("view"), &f, Ok(&answer));
        assert!(html.contains(
            "<a id=\"next-page\" rel=\"next\" class=\"btn btn-secondary\" href=\"/view/submissions?vin=WEX1M1*&amp;status=rejected&amp;from=2026-11-01&amp;cursor=r019a0000000000000000bbbb\">"
        ));
        assert!(html.contains(
            "<a class=\"record-link vin\" href=\"/view/submissions/r019a0000000000000000bbbb\">WEX1M1REFUSED0001</a>"
        ));
        for id in [
            "id=\"search\"",
            "id=\"vin\"",
            "id=\"status\"",
            "id=\"from\"",
            "id=\"to\"",
            "<table id=\"submissions\"",
        ] {
            assert!(html.contains(id), "{id}");
        }
        assert!(html.contains("<option value=\"rejected\" selected>"));
        assert!(!html.contains("id=\"first-page\""));
        let later = Filters {
            cursor: "r019a0000000000000000cccc".into(),
            ..f
        };
        let html = page(
            &who("view"),
            &later,
            Ok(&json!({"items": [], "next": null})),
        );
        assert!(html.contains("id=\"no-results\""));
        assert!(html.contains(
            "<a id=\"first-page\" href=\"/view/submissions?vin=WEX1M1*&amp;status=rejected&amp;from=2026-11-01\">"
        ));
        assert!(!html.contains("id=\"next-page\""));
    }

    #[test]
    fn hostile_filters_and_values_are_escaped() {
        let f = Filters::from_query("vin=%22%3E%3Cscript%3E");
        let e = ApiError::new(400, "vin `\"><SCRIPT>` must be up to 17 letters");
        let html = page(&who("view"), &f, Err(&e));
        assert!(!html.contains("<script>") && !html.contains("<SCRIPT>"));
        assert!(html.contains("value=\"&quot;&gt;&lt;SCRIPT&gt;\""));
        assert!(html.contains("id=\"search-error\""));
        let answer = json!({"items": [{"id": "r1\"><script>", "vin": "<script>x</script>", "status_name": "<i>"}]});
        let html = page(&who("view"), &Filters::default(), Ok(&answer));
        assert!(!html.contains("<script>") && !html.contains("<i>"));
    }
}
