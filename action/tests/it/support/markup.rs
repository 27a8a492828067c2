//! Reads a rendered comment the way GitHub does (CommonMark with GitHub's
//! tables) and reports what a reviewer would see: headings, tables,
//! `<details>` blocks, code spans and where they sit, raw HTML, links, and
//! the text that could mention someone. Shared by the plan and deploy
//! comment tests; hostile strings for property tests live here too.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use proptest::prelude::*;
use pulldown_cmark::{Event, Options, Parser, Tag, TagEnd};

/// What a reader sees of a rendered markdown document.
#[derive(Debug, Default)]
pub struct Seen {
    /// Heading texts, in order.
    pub headings: Vec<String>,
    /// Number of tables.
    pub tables: usize,
    /// Rows of all tables (header rows included) and their cell counts.
    pub table_rows: Vec<usize>,
    /// `<details` openings and `</details>` closings in raw HTML.
    pub details_open: usize,
    /// Closings.
    pub details_close: usize,
    /// Code spans: (text, inside how many open `<details>`).
    pub codes: Vec<(String, usize)>,
    /// Every line of raw HTML (blocks and inline), trimmed.
    pub html: Vec<String>,
    /// Plain text outside code (where GitHub links mentions and references).
    pub texts: Vec<String>,
    /// Link targets.
    pub links: Vec<String>,
    /// Images.
    pub images: usize,
    /// Code blocks' texts.
    pub blocks: Vec<String>,
}

/// GitHub's flavour as pulldown-cmark knows it.
fn options() -> Options {
    Options::ENABLE_TABLES | Options::ENABLE_STRIKETHROUGH | Options::ENABLE_TASKLISTS
}

/// Parses `md` and collects what is seen.
pub fn see(md: &str) -> Seen {
    let mut seen = Seen::default();
    let mut depth = 0usize;
    let mut heading: Option<String> = None;
    let mut cells = 0usize;
    let mut in_block: Option<String> = None;
    for event in Parser::new_ext(md, options()) {
        match event {
            Event::Start(Tag::Heading { .. }) => heading = Some(String::new()),
            Event::End(TagEnd::Heading(_)) => seen.headings.extend(heading.take()),
            Event::Start(Tag::Table(_)) => seen.tables += 1,
            Event::Start(Tag::TableHead | Tag::TableRow) => cells = 0,
            Event::Start(Tag::TableCell) => cells += 1,
            Event::End(TagEnd::TableHead | TagEnd::TableRow) => seen.table_rows.push(cells),
            Event::Start(Tag::CodeBlock(_)) => in_block = Some(String::new()),
            Event::End(TagEnd::CodeBlock) => seen.blocks.extend(in_block.take()),
            Event::Start(Tag::Link { dest_url, .. }) => seen.links.push(dest_url.to_string()),
            Event::Start(Tag::Image { .. }) => seen.images += 1,
            Event::Html(h) | Event::InlineHtml(h) => {
                for line in h.lines() {
                    let line = line.trim();
                    if line.is_empty() {
                        continue;
                    }
                    depth += line.matches("<details").count();
                    seen.details_open += line.matches("<details").count();
                    let closed = line.matches("</details>").count();
                    seen.details_close += closed;
                    depth = depth.saturating_sub(closed);
                    seen.html.push(line.to_string());
                }
            }
            Event::Code(c) => {
                if let Some(h) = heading.as_mut() {
                    h.push_str(&c);
                }
                seen.codes.push((c.to_string(), depth));
            }
            Event::Text(t) => {
                if let Some(b) = in_block.as_mut() {
                    b.push_str(&t);
                } else {
                    if let Some(h) = heading.as_mut() {
                        h.push_str(&t);
                    }
                    seen.texts.push(t.to_string());
                }
            }
            _ => {}
        }
    }
    seen
}

/// Text with Ferry's zero-width spaces (which neutralise mentions) removed.
pub fn visible(s: &str) -> String {
    s.replace('\u{200b}', "")
}

/// How a hostile value is expected to read inside a code span: on one
/// line, control characters dropped, invisible characters shown as `⟨U+XXXX⟩`.
pub fn shown(raw: &str) -> String {
    let mut out = String::new();
    let mut chars = raw.chars().peekable();
    let mut previous = None;
    while let Some(c) = chars.next() {
        let hidden = ferry::text::hidden_after(previous, c);
        previous = Some(c);
        match c {
            '\u{1b}' => {
                if chars.peek() == Some(&'[') {
                    chars.next();
                    for n in chars.by_ref() {
                        if ('\u{40}'..='\u{7e}').contains(&n) {
                            break;
                        }
                    }
                }
            }
            '\n' | '\r' | '\t' | '\u{85}' | '\u{2028}' | '\u{2029}' | '\u{0b}' | '\u{0c}' => {
                out.push(' ')
            }
            c if c.is_control() => {}
            c if hidden => out.push_str(&ferry::text::shown(c)),
            c => out.push(c),
        }
    }
    out
}

/// A code span's text compared with [`shown`]: CommonMark drops one space
/// each side of a padded span, and Ferry may pad.
pub fn same_code(code: &str, raw: &str) -> bool {
    let code = visible(code);
    let want = shown(raw);
    code == want || code.trim() == want.trim()
}

/// No mention, issue reference, image, foreign link or raw HTML other
/// than `allowed` lines is live in `seen`.
pub fn assert_inert(seen: &Seen, allowed_html: &[&regex::Regex], allowed_links: &[&str], md: &str) {
    let mention = regex::Regex::new(r"(^|[^\w])@[A-Za-z0-9]").unwrap();
    let reference = regex::Regex::new(r"(^|[^\w&])#[0-9]").unwrap();
    for t in &seen.texts {
        assert!(!mention.is_match(t), "live mention in {t:?}\n---\n{md}");
        assert!(!reference.is_match(t), "live reference in {t:?}\n---\n{md}");
    }
    for h in &seen.html {
        assert!(
            allowed_html.iter().any(|re| re.is_match(h)),
            "raw HTML that Ferry did not write: {h:?}\n---\n{md}"
        );
    }
    assert_eq!(seen.images, 0, "an image is shown\n---\n{md}");
    for l in &seen.links {
        assert!(
            allowed_links.iter().any(|a| l.starts_with(a)),
            "a link Ferry did not write: {l:?}\n---\n{md}"
        );
    }
    assert_eq!(
        seen.details_open, seen.details_close,
        "unbalanced <details>\n---\n{md}"
    );
}

/// Pieces of hostile text: everything that markdown, HTML, GitHub or a
/// terminal would read as more than text.
pub const PIECES: &[&str] = &[
    "`",
    "``",
    "```",
    "````````",
    "~~~",
    "\n",
    "\r\n",
    "\n\n",
    "</details>",
    "<details open>",
    "<summary>",
    "</summary>",
    "-->",
    "<!--",
    "<!-- ferry:plan:staging -->",
    "<!-- ferry:plan-meta hash=sha256:00 -->",
    "<!-- ferry:deploy -->",
    "<!-- ferry:deploy:state v1 e30= -->",
    "@team",
    "@octo-org/admins",
    "#123",
    "GH-1",
    "|",
    "\\",
    "\\|",
    "[link](javascript:alert(1))",
    "![img](https://evil.example/x.png)",
    "<https://evil.example>",
    "<script>alert(1)</script>",
    "<img src=x onerror=alert(1)>",
    "\u{2028}",
    "\u{2029}",
    "\u{200b}",
    "\u{202e}",
    "\u{feff}",
    "\u{1b}[31m",
    "\u{0}",
    "*",
    "**",
    "_",
    "# ",
    "- ",
    "> ",
    "1. ",
    "---",
    "===",
    "&lt;",
    "&#96;",
    "::error::x",
    "\t",
    " ",
    "a",
    "key",
    "é",
    "🔥",
];

/// A hostile string: 1 to 8 pieces.
pub fn hostile() -> impl Strategy<Value = String> {
    prop::collection::vec(prop::sample::select(PIECES), 1..8).prop_map(|p| p.concat())
}

/// A hostile string or plain printable text.
pub fn any_text() -> impl Strategy<Value = String> {
    prop_oneof![hostile(), "[ -~]{0,12}", any::<String>()]
}
