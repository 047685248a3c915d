//! The one escaping function, and the few HTML pieces every page repeats.
//!
//! Every value that did not come from this crate's own string literals goes through [`escape`]
//! before it is written into a page: element text and attribute values alike (attributes are
//! always written double-quoted, so escaping `"` and `'` makes them safe too).

use std::fmt::Write as _;

/// `text` safe in HTML element content and in a quoted attribute value: `&`, `<`, `>`, `"` and
/// `'` become character references; everything else is kept.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + text.len() / 8);
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// A data table: `<table id>` with its `<caption>`, column headers (`<th scope="col">`) and
/// rows whose cells are already HTML; the first cell of each row is its header
/// (`<th scope="row">`). Wrapped so a wide table scrolls on its own. A table of more than two
/// columns is `stack`: on a phone each row becomes a card whose cells carry their column's
/// name (`data-label`); the explicit ARIA roles keep it a table for screen readers, whose
/// browsers drop table semantics of elements restyled that way.
pub fn table(id: &str, caption: &str, columns: &[&str], rows: &[Vec<String>]) -> String {
    let stack = columns.len() > 2;
    let role = |r: &str| {
        if stack {
            format!(" role=\"{r}\"")
        } else {
            String::new()
        }
    };
    let mut out = format!(
        "<div class=\"table-wrap\"><table id=\"{}\"{}{}><caption>{}</caption><thead{}><tr{}>",
        escape(id),
        if stack { " class=\"stack\"" } else { "" },
        role("table"),
        escape(caption),
        role("rowgroup"),
        role("row"),
    );
    for c in columns {
        let _ = write!(
            out,
            "<th scope=\"col\"{}>{}</th>",
            role("columnheader"),
            escape(c)
        );
    }
    let _ = write!(out, "</tr></thead><tbody{}>", role("rowgroup"));
    for row in rows {
        let _ = write!(out, "<tr{}>", role("row"));
        for (n, cell) in row.iter().enumerate() {
            let label = columns.get(n).map_or(String::new(), |c| {
                if stack {
                    format!(" data-label=\"{}\"", escape(c))
                } else {
                    String::new()
                }
            });
            if n == 0 {
                let _ = write!(
                    out,
                    "<th scope=\"row\"{}{label}>{cell}</th>",
                    role("rowheader")
                );
            } else {
                let _ = write!(out, "<td{}{label}>{cell}</td>", role("cell"));
            }
        }
        out.push_str("</tr>");
    }
    out.push_str("</tbody></table></div>");
    out
}

/// A status as users see it (`status_name`: Pending, Held, Rejected, Not delivered, or the VCA's
/// Received, Processing, Succeeded, Failed) as a badge whose colour says good, bad, waiting.
pub fn badge(status_name: &str, id: Option<&str>) -> String {
    let tone = match status_name {
        "Succeeded" => "ok",
        "Failed" | "Rejected" | "Not delivered" => "bad",
        "Held" => "warn",
        _ => "wait",
    };
    toned(tone, status_name, id)
}

/// A badge of `tone` (`ok`, `bad`, `warn`, `wait`) reading `label`.
pub fn toned(tone: &str, label: &str, id: Option<&str>) -> String {
    let id = id.map_or(String::new(), |id| format!(" id=\"{}\"", escape(id)));
    format!(
        "<span{id} class=\"badge badge-{}\">{}</span>",
        escape(tone),
        escape(label)
    )
}

/// A notice: `kind` `info`, `ok` or `error` (an error is announced at once: `role="alert"`).
pub fn notice(kind: &str, html: &str) -> String {
    let role = if kind == "error" {
        " role=\"alert\""
    } else {
        " role=\"status\""
    };
    format!("<div class=\"notice notice-{kind}\"{role}>{html}</div>")
}

/// An `<option>` of a `<select>`, selected when its value is `current`.
pub fn option(value: &str, label: &str, current: &str) -> String {
    let selected = if value == current { " selected" } else { "" };
    format!(
        "<option value=\"{}\"{selected}>{}</option>",
        escape(value),
        escape(label)
    )
}

/// A `YYYY-MM-DDTHH:MM:SSZ` time as `YYYY-MM-DD HH:MM UTC` inside a `<time>` element (any
/// other text is shown as it is).
pub fn time(rfc3339: &str) -> String {
    let shown = match (rfc3339.get(..10), rfc3339.get(11..16)) {
        (Some(day), Some(hm)) if rfc3339.len() >= 20 && rfc3339.ends_with('Z') => {
            format!("{day} {hm} UTC")
        }
        _ => rfc3339.to_owned(),
    };
    format!(
        "<time datetime=\"{}\">{}</time>",
        escape(rfc3339),
        escape(&shown)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_text_and_attribute_contexts() {
        assert_eq!(
            escape("<script>alert('x')</script> & \"q\""),
            "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &amp; &quot;q&quot;"
        );
        assert_eq!(escape("WVWZZZ1JZXW000001"), "WVWZZZ1JZXW000001");
        assert_eq!(escape("Müller – 5 € "), "Müller – 5 € ");
        let b = badge("\"><script>", Some("x\" onload=\"y"));
        assert!(!b.contains("<script>") && !b.contains("\" onload"), "{b}");
    }

    #[test]
    fn tables_have_captions_and_scoped_headers() {
        let t = table("t", "Cap <b>", &["A", "B"], &[vec!["1".into(), "2".into()]]);
        assert!(t.contains("<caption>Cap &lt;b&gt;</caption>"));
        assert!(t.contains("<th scope=\"col\">A</th>"));
        assert!(t.contains("<th scope=\"row\">1</th><td>2</td>"));
        let wide = table(
            "w",
            "c",
            &["A", "B", "C"],
            &[vec!["1".into(), "2".into(), "3".into()]],
        );
        assert!(wide.contains("<table id=\"w\" class=\"stack\" role=\"table\">"));
        assert!(wide.contains("<td role=\"cell\" data-label=\"C\">3</td>"));
    }

    #[test]
    fn times_read_as_utc() {
        assert!(time("2026-11-21T15:43:17Z").contains(">2026-11-21 15:43 UTC<"));
        assert!(time("soon").contains(">soon<"));
    }
}
