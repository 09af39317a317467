//! The status page as HTML: one self-contained document, no script at all, inline CSS that
//! fits a phone, landmarks and headings for screen readers, the mode in a `role="status"`
//! live region, and a `<meta http-equiv="refresh">` so an open page follows the incident.
//!
//! Every text that comes from the config or an operator is escaped here.

use super::time::utc;
use super::view::Public;
use super::REFRESH_SECS;
use crate::maintenance::escape_html as esc;
use std::fmt::Write;

const STYLE: &str = "\
*{box-sizing:border-box}\
body{margin:0;font:16px/1.5 system-ui,-apple-system,'Segoe UI',Roboto,sans-serif;background:#f4f6f8;color:#1d2733}\
header,main,footer{max-width:44rem;margin:0 auto;padding:0 1rem}\
header{padding-top:1.5rem}\
.service{margin:0;font-weight:600;color:#4a5868}\
h1{font-size:1.6rem;margin:.2rem 0 1rem}\
h2{font-size:1.15rem;margin:1.5rem 0 .5rem}\
section{background:#fff;border-radius:10px;padding:1rem 1.2rem;margin-bottom:1rem;box-shadow:0 2px 12px rgba(0,0,0,.06)}\
section>h2:first-child{margin-top:0}\
#mode{border-left:8px solid;padding:.2rem 0 .2rem .9rem}\
.normal #mode{border-color:#1f8a4c}.reduced #mode{border-color:#c98a00}.maintenance #mode{border-color:#c0392b}\
.headline{font-size:1.35rem;font-weight:700;margin:0}\
.since{margin:0;color:#4a5868}\
.message{font-weight:600;white-space:pre-line;overflow-wrap:anywhere}\
ol{list-style:none;padding:0;margin:0}\
li{border-top:1px solid #e3e7eb;padding:.6rem 0}li:first-child{border-top:0}\
.note{margin:.2rem 0 0;white-space:pre-line;overflow-wrap:anywhere}\
time{color:#4a5868;font-size:.9rem}\
footer{color:#4a5868;font-size:.85rem;padding-bottom:2rem}\
a{color:#1b5fa8}\
ul.off{margin:.3rem 0 0;padding-left:1.2rem}";

/// The page for `p`.
pub fn page(p: &Public) -> String {
    let mut out =
        String::with_capacity(4096 + p.notes.iter().map(|n| n.text.len() * 2).sum::<usize>());
    let service = esc(&p.service);
    let mode = p.mode.as_str();
    let since = utc(p.since);
    let _ = write!(
        out,
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <meta http-equiv=\"refresh\" content=\"{REFRESH_SECS}\">\n\
         <title>{service} status: {headline}</title>\n<style>{STYLE}</style></head>\n\
         <body class=\"{mode}\">\n<header><p class=\"service\">{service}</p><h1>Service status</h1></header>\n\
         <main>\n<section aria-labelledby=\"now-h\"><h2 id=\"now-h\">Right now</h2>\n\
         <div id=\"mode\" role=\"status\" aria-live=\"polite\" data-mode=\"{mode}\">\
         <p class=\"headline\">{headline}</p>\
         <p class=\"since\">since <time datetime=\"{since_iso}\">{since_human}</time></p></div>\n\
         <p id=\"summary\">{summary}</p>\n",
        headline = p.headline,
        summary = esc(&p.summary),
        since_iso = since.iso,
        since_human = since.human,
    );
    if let Some(m) = &p.message {
        let _ = writeln!(out, "<p class=\"message\" id=\"message\">{}</p>", esc(m));
    }
    if let Some(secs) = p.retry_after {
        let _ = writeln!(
            out,
            "<p id=\"retry\">Please try again in {}.</p>",
            human_duration(secs)
        );
    }
    if !p.features_off.is_empty() {
        out.push_str(
            "<p>Switched off until we are back on our main servers:</p>\n<ul class=\"off\" id=\"features-off\">",
        );
        for f in &p.features_off {
            let _ = write!(out, "<li>{}</li>", esc(f));
        }
        out.push_str("</ul>\n");
    }
    out.push_str(
        "</section>\n<section aria-labelledby=\"notes-h\"><h2 id=\"notes-h\">Updates</h2>\n",
    );
    if p.notes.is_empty() {
        out.push_str("<p id=\"no-notes\">No updates have been posted.</p>\n");
    } else {
        out.push_str("<ol id=\"notes\">\n");
        for n in &p.notes {
            let at = utc(n.at);
            let _ = writeln!(
                out,
                "<li><time datetime=\"{}\">{}</time><p class=\"note\">{}</p></li>",
                at.iso,
                at.human,
                esc(&n.text)
            );
        }
        out.push_str("</ol>\n");
    }
    let updated = utc(p.updated);
    let path = esc(&p.path);
    let _ = write!(
        out,
        "</section>\n</main>\n<footer><p>This page reloads itself every {REFRESH_SECS} seconds. \
         Last updated <time datetime=\"{}\">{}</time>. \
         <a href=\"{path}.json\">This status as JSON</a>.</p></footer>\n</body></html>\n",
        updated.iso, updated.human
    );
    out
}

/// `secs` for people: "45 seconds", "about 2 minutes", "about 3 hours".
pub fn human_duration(secs: u64) -> String {
    let unit = |n: u64, one: &str| {
        if n == 1 {
            format!("1 {one}")
        } else {
            format!("{n} {one}s")
        }
    };
    match secs {
        0..=89 => unit(secs.max(1), "second"),
        90..=5399 => format!("about {}", unit((secs + 30) / 60, "minute")),
        _ => format!("about {}", unit((secs + 1800) / 3600, "hour")),
    }
}
