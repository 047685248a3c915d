//! One module per page. Each `page` function takes who is signed in and the API's JSON, and
//! returns the whole document; the ids named in each module are stable (tests and the browser
//! check find things by them).

pub mod dashboard;
pub mod error;
pub mod login;
pub mod record;
pub mod submissions;
pub mod tenant;

use crate::Finding;
use crate::html::{escape, table};

/// The findings as a table (`id`): field, rule, message; `kind` names each row's list
/// (`Refusal`, `Drift`) when the table mixes them.
pub(crate) fn findings_table(id: &str, caption: &str, findings: &[(&str, &Finding)]) -> String {
    let with_kind = findings.iter().any(|(kind, _)| !kind.is_empty());
    let mut columns = vec!["Field", "Rule", "Message"];
    if with_kind {
        columns.push("Kind");
    }
    let rows: Vec<Vec<String>> = findings
        .iter()
        .map(|(kind, f)| {
            let mut row = vec![
                format!("<code class=\"path\">{}</code>", escape(&f.path)),
                format!("<code class=\"rule\">{}</code>", escape(&f.code)),
                escape(&f.message),
            ];
            if with_kind {
                row.push(escape(kind));
            }
            row
        })
        .collect();
    table(id, caption, &columns, &rows)
}

/// `text`, or a dash for nothing.
pub(crate) fn or_dash(text: &str) -> String {
    if text.is_empty() {
        "–".to_owned()
    } else {
        text.to_owned()
    }
}
