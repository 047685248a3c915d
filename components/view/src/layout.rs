//! The frame of every page (skip link, header with who is signed in, main navigation, `<main>`)
//! and the view's one stylesheet.

use crate::Who;
use crate::html::escape;

/// Where the stylesheet is served.
pub const CSS_PATH: &str = "/view/static/view.css";

/// Which part of the view a page belongs to (marked `aria-current` in the navigation).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Section {
    /// Today at a glance.
    Today,
    /// The submissions list and records.
    Submissions,
    /// The tenant's settings.
    Tenant,
    /// Login and error pages outside the navigation.
    Other,
}

const NAV: [(Section, &str, &str); 3] = [
    (Section::Today, "/view/", "Today"),
    (Section::Submissions, "/view/submissions", "Submissions"),
    (Section::Tenant, "/view/tenant", "Tenant"),
];

/// A whole page: `title` (plain text), the section it belongs to, who is signed in (the header
/// and navigation appear only then) and the `<main>` content (HTML).
pub fn page(title: &str, section: Section, who: Option<&Who>, main: &str) -> String {
    let mut header = String::from(
        "<header class=\"site-header\"><div class=\"bar\"><a class=\"brand\" href=\"/view/\">ecoc <span>readiness</span></a>",
    );
    if let Some(who) = who {
        header.push_str(&format!(
            "<p class=\"who\"><span class=\"who-tenant\">{}</span> <span class=\"who-token\">{} <span class=\"role\">{}</span></span></p>\
             <form class=\"logout\" method=\"post\" action=\"/view/logout\"><button type=\"submit\" class=\"btn btn-quiet\">Sign out</button></form>",
            escape(&who.tenant_name),
            escape(&who.token),
            escape(&who.role),
        ));
        header.push_str("</div><nav aria-label=\"Main\"><ul>");
        for (s, href, label) in NAV {
            let current = if s == section {
                " aria-current=\"page\""
            } else {
                ""
            };
            header.push_str(&format!("<li><a href=\"{href}\"{current}>{label}</a></li>"));
        }
        header.push_str("</ul></nav>");
    } else {
        header.push_str("</div>");
    }
    header.push_str("</header>");
    format!(
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>{} · ecoc</title><link rel=\"stylesheet\" href=\"{CSS_PATH}\"><link rel=\"icon\" href=\"data:,\"></head>\
         <body><a class=\"skip-link\" href=\"#main\">Skip to main content</a>{header}\
         <main id=\"main\" tabindex=\"-1\">{main}</main>\
         <footer class=\"site-footer\"><p>ecoc: signed IVI 2.0 eCoCs to the national access point.</p></footer></body></html>\n",
        escape(title)
    )
}

/// The stylesheet (served at [`CSS_PATH`]): mobile first, one column below 48rem, wider
/// layouts above; system fonts; visible focus; colours with at least 4.5:1 contrast for text.
pub const CSS: &str = r#":root {
  --ink: #1c2430; --muted: #566173; --line: #d9dee7; --soft: #f4f6f9; --page: #ffffff;
  --accent: #1d4ed8; --accent-ink: #ffffff; --focus: #f59e0b;
  --ok: #166534; --ok-bg: #dcfce7; --bad: #991b1b; --bad-bg: #fee2e2;
  --warn: #854d0e; --warn-bg: #fef3c7; --wait: #1e3a8a; --wait-bg: #dbeafe;
  --radius: 6px;
}
*, *::before, *::after { box-sizing: border-box; }
html { -webkit-text-size-adjust: 100%; }
body {
  margin: 0; background: var(--soft); color: var(--ink);
  font: 16px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif;
}
a { color: var(--accent); }
a:hover { text-decoration-thickness: 2px; }
:focus-visible { outline: 3px solid var(--focus); outline-offset: 2px; }
main:focus { outline: none; }
.skip-link {
  position: absolute; left: 0.5rem; top: -3rem; z-index: 10; padding: 0.5rem 0.75rem;
  background: var(--ink); color: #fff; border-radius: var(--radius);
}
.skip-link:focus { top: 0.5rem; }
.visually-hidden {
  position: absolute !important; width: 1px; height: 1px; padding: 0; margin: -1px;
  overflow: hidden; clip: rect(0 0 0 0); white-space: nowrap; border: 0;
}

/* Header and navigation */
.site-header { background: #111827; color: #e5e7eb; }
.site-header .bar {
  display: flex; flex-wrap: wrap; align-items: center; gap: 0.5rem 1rem;
  max-width: 72rem; margin: 0 auto; padding: 0.75rem 1rem;
}
.brand { color: #fff; font-weight: 700; font-size: 1.125rem; text-decoration: none; margin-right: auto; }
.brand span { color: #93c5fd; font-weight: 500; }
.who { margin: 0; font-size: 0.875rem; color: #d1d5db; display: flex; flex-wrap: wrap; gap: 0 0.5rem; order: 3; flex-basis: 100%; }
.who-tenant { font-weight: 600; color: #fff; }
.role {
  display: inline-block; padding: 0 0.4rem; border: 1px solid #4b5563; border-radius: 999px;
  font-size: 0.75rem; text-transform: uppercase; letter-spacing: 0.04em;
}
.logout { margin: 0; }
.site-header nav { border-top: 1px solid #1f2937; }
.site-header nav ul {
  display: flex; gap: 0.25rem; margin: 0 auto; padding: 0 0.5rem; list-style: none;
  max-width: 72rem; overflow-x: auto;
}
.site-header nav a {
  display: block; padding: 0.6rem 0.75rem; color: #e5e7eb; text-decoration: none;
  border-bottom: 3px solid transparent;
}
.site-header nav a:hover { color: #fff; border-bottom-color: #4b5563; }
.site-header nav a[aria-current="page"] { color: #fff; border-bottom-color: #60a5fa; font-weight: 600; }

main { display: block; max-width: 72rem; margin: 0 auto; padding: 1rem; }
h1 { font-size: 1.5rem; line-height: 1.25; margin: 0.5rem 0 1rem; }
h2 { font-size: 1.125rem; margin: 0 0 0.75rem; }
h3 { font-size: 1rem; margin: 1rem 0 0.5rem; }
p { margin: 0 0 0.75rem; }
.lead { color: var(--muted); margin-top: -0.5rem; }
.site-footer { max-width: 72rem; margin: 0 auto; padding: 1rem; color: var(--muted); font-size: 0.8125rem; }

/* Panels */
.panel {
  background: var(--page); border: 1px solid var(--line); border-radius: var(--radius);
  padding: 1rem; margin: 0 0 1rem;
}
.panel > :last-child { margin-bottom: 0; }
.panel-head { display: flex; flex-wrap: wrap; align-items: baseline; justify-content: space-between; gap: 0.5rem; }

/* Figures of the day */
.figures { display: grid; grid-template-columns: repeat(2, minmax(0, 1fr)); gap: 0.75rem; margin: 0 0 1rem; padding: 0; list-style: none; }
.figure {
  background: var(--page); border: 1px solid var(--line); border-left: 4px solid var(--line);
  border-radius: var(--radius); padding: 0.75rem;
}
.figure .n { display: block; font-size: 1.75rem; font-weight: 700; line-height: 1.1; font-variant-numeric: tabular-nums; }
.figure .label { display: block; color: var(--muted); font-size: 0.875rem; }
.figure a { font-size: 0.8125rem; }
.figure.tone-bad { border-left-color: #dc2626; }
.figure.tone-warn { border-left-color: #d97706; }
.figure.tone-wait { border-left-color: #2563eb; }

/* Tables */
.table-wrap { overflow-x: auto; margin: 0 0 1rem; -webkit-overflow-scrolling: touch; }
table { width: 100%; border-collapse: collapse; background: var(--page); font-size: 0.9375rem; }
caption { text-align: left; font-weight: 600; padding: 0 0 0.5rem; }
th, td { text-align: left; vertical-align: top; padding: 0.5rem 0.625rem; border-bottom: 1px solid var(--line); }
thead th { background: var(--soft); font-size: 0.8125rem; color: var(--muted); text-transform: uppercase; letter-spacing: 0.03em; white-space: nowrap; }
tbody th { font-weight: 600; }
time { white-space: nowrap; }
code.rule { white-space: nowrap; }
code.path { overflow-wrap: anywhere; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; }
.mono, code, pre { font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; font-size: 0.875rem; }
.vin { font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; letter-spacing: 0.02em; white-space: nowrap; }
.muted { color: var(--muted); }

/* Badges */
.badge {
  display: inline-block; padding: 0.1rem 0.55rem; border-radius: 999px; font-size: 0.8125rem;
  font-weight: 600; white-space: nowrap; border: 1px solid transparent;
}
.badge-ok { color: var(--ok); background: var(--ok-bg); border-color: #86efac; }
.badge-bad { color: var(--bad); background: var(--bad-bg); border-color: #fca5a5; }
.badge-warn { color: var(--warn); background: var(--warn-bg); border-color: #fcd34d; }
.badge-wait { color: var(--wait); background: var(--wait-bg); border-color: #93c5fd; }

/* Forms */
form { margin: 0; }
.fields { display: grid; grid-template-columns: 1fr; gap: 0.75rem; margin: 0 0 0.75rem; }
label { display: block; font-weight: 600; font-size: 0.875rem; margin: 0 0 0.25rem; }
.hint { display: block; font-weight: 400; color: var(--muted); font-size: 0.8125rem; }
input, select, textarea {
  width: 100%; font: inherit; color: var(--ink); background: #fff;
  border: 1px solid #9aa4b2; border-radius: var(--radius); padding: 0.5rem 0.625rem; min-height: 2.5rem;
}
textarea { font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; font-size: 0.8125rem; line-height: 1.45; min-height: 12rem; resize: vertical; }
textarea.short { min-height: 5rem; }
textarea[readonly] { background: var(--soft); }
textarea.code { white-space: pre; overflow-wrap: normal; overflow: auto; }
input:focus-visible, select:focus-visible, textarea:focus-visible { border-color: var(--accent); }
.actions { display: flex; flex-wrap: wrap; gap: 0.5rem; align-items: center; margin: 0.75rem 0 0; }
.btn {
  display: inline-flex; align-items: center; justify-content: center; gap: 0.375rem; min-height: 2.5rem;
  padding: 0.45rem 1rem; border-radius: var(--radius); border: 1px solid var(--accent);
  background: var(--accent); color: var(--accent-ink); font: inherit; font-weight: 600;
  text-decoration: none; cursor: pointer;
}
.btn:hover { background: #1e40af; border-color: #1e40af; }
.btn-secondary { background: #fff; color: var(--accent); }
.btn-secondary:hover { background: var(--wait-bg); }
.btn-danger { background: #b91c1c; border-color: #b91c1c; }
.btn-danger:hover { background: #991b1b; border-color: #991b1b; }
.btn-quiet { background: transparent; border-color: #4b5563; color: #e5e7eb; min-height: 2rem; padding: 0.2rem 0.75rem; font-weight: 500; }
.btn-quiet:hover { background: #1f2937; border-color: #6b7280; }
.btn-small { min-height: 2rem; padding: 0.2rem 0.7rem; font-size: 0.875rem; }

/* Notices */
.notice { border-radius: var(--radius); padding: 0.75rem 1rem; margin: 0 0 1rem; border: 1px solid; }
.notice-error { color: var(--bad); background: var(--bad-bg); border-color: #fca5a5; }
.notice-ok { color: var(--ok); background: var(--ok-bg); border-color: #86efac; }
.notice-info { color: var(--wait); background: var(--wait-bg); border-color: #93c5fd; }
.notice p:last-child { margin-bottom: 0; }

/* Key-value lists */
.facts { display: grid; grid-template-columns: 1fr; gap: 0.25rem 1rem; margin: 0; }
.facts dt { color: var(--muted); font-size: 0.8125rem; }
.facts dd { margin: 0 0 0.5rem; overflow-wrap: anywhere; }

/* Chart */
.chart svg { display: block; width: 100%; height: 10rem; background: var(--page); }
.chart .bar-created { fill: #93c5fd; }
.chart .bar-succeeded { fill: #16a34a; }
.chart .bar-failed { fill: #dc2626; }
.chart .bar-rejected { fill: #d97706; }
.chart .axis { stroke: #9aa4b2; stroke-width: 1; }
.chart-axis { display: flex; justify-content: space-between; color: var(--muted); font-size: 0.8125rem; margin: 0.25rem 0 0.5rem; }
.legend { display: flex; flex-wrap: wrap; gap: 0.25rem 1rem; margin: 0; padding: 0; list-style: none; font-size: 0.8125rem; color: var(--muted); }
.legend .key { display: inline-block; width: 0.75rem; height: 0.75rem; border-radius: 2px; margin-right: 0.35rem; vertical-align: -0.05rem; }
.key-created { background: #93c5fd; } .key-succeeded { background: #16a34a; }
.key-failed { background: #dc2626; } .key-rejected { background: #d97706; }

/* Code and XML */
pre.xml { max-height: 28rem; overflow: auto; background: #0f172a; color: #e2e8f0; padding: 0.75rem; border-radius: var(--radius); margin: 0 0 0.75rem; white-space: pre; }
.token-once { display: block; padding: 0.5rem 0.75rem; background: #fff; border: 1px dashed var(--ok); border-radius: var(--radius); overflow-wrap: anywhere; font-size: 1rem; }

/* Record header */
.record-head { display: flex; flex-wrap: wrap; align-items: center; gap: 0.5rem 0.75rem; margin: 0.5rem 0 1rem; }
.record-head h1 { margin: 0; }
.pager { display: flex; flex-wrap: wrap; gap: 0.75rem; align-items: center; justify-content: space-between; }
.inline-form { display: inline; }
.login { max-width: 30rem; margin: 1rem auto 0; }
@media (min-width: 40rem) { .login { margin-top: 3rem; } }
#error { max-width: 48rem; }
.callout { margin: 1rem 0 0; padding: 0.75rem 1rem; border-left: 4px solid #2563eb; background: var(--wait-bg); border-radius: 0 var(--radius) var(--radius) 0; }
.callout-warn { border-left-color: #d97706; background: var(--warn-bg); }
.callout p { margin: 0; }
.callout .actions { margin-top: 0.75rem; }

/* Tables as cards on a phone: each cell named by its column */
@media (max-width: 39.99rem) {
  table.stack thead tr { position: absolute; width: 1px; height: 1px; overflow: hidden; clip: rect(0 0 0 0); white-space: nowrap; }
  table.stack, table.stack tbody, table.stack tr, table.stack tbody th, table.stack td { display: block; width: 100%; }
  table.stack { background: transparent; }
  table.stack caption { display: block; }
  table.stack tbody th, table.stack td { overflow-wrap: anywhere; }
  table.stack tbody tr { background: var(--page); border: 1px solid var(--line); border-radius: var(--radius); margin: 0 0 0.625rem; padding: 0.375rem 0; }
  table.stack tbody th, table.stack td { border: 0; padding: 0.25rem 0.75rem 0.25rem 7.5rem; position: relative; min-height: 1.9rem; }
  table.stack tbody th::before, table.stack td::before {
    content: attr(data-label); position: absolute; left: 0.75rem; top: 0.35rem; width: 6.25rem;
    color: var(--muted); font-size: 0.75rem; font-weight: 600; text-transform: uppercase; letter-spacing: 0.03em;
  }
  .table-wrap { overflow-x: visible; }
}

@media (min-width: 40rem) {
  .who { order: 0; flex-basis: auto; }
  .figures { grid-template-columns: repeat(3, minmax(0, 1fr)); }
  .fields.cols, .fields.two { grid-template-columns: repeat(2, minmax(0, 1fr)); }
  .fields.two.wide { grid-template-columns: 1fr; }
  .facts { grid-template-columns: max-content 1fr; }
  .facts dd { margin: 0; }
}
@media (min-width: 64rem) {
  main { padding: 1.5rem 1rem; }
  h1 { font-size: 1.75rem; }
  .figures { grid-template-columns: repeat(5, minmax(0, 1fr)); }
  .fields.cols { grid-template-columns: repeat(4, minmax(0, 1fr)) auto; align-items: end; }
  .grid-2 { display: grid; grid-template-columns: minmax(0, 1fr) minmax(0, 1fr); gap: 1rem; align-items: start; }
  .fields.two.wide { grid-template-columns: 3fr 2fr; }
  .chart svg { height: 12rem; }
}
@media (prefers-reduced-motion: no-preference) { .btn { transition: background-color 0.15s; } }
@media print { .site-header nav, .logout, .actions, .skip-link { display: none; } body { background: #fff; } }
"#;
