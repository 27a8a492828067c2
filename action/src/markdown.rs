//! Text from outside (resource addresses, `for_each` keys, import ids,
//! check messages, ECS events, stopped reasons, log lines, image names) made
//! safe to put in GitHub markdown: it cannot break a table, open HTML or a
//! hidden comment, end a code span or block, forge Ferry's markers, or ping
//! anyone with an `@mention` or link an issue with `#123`.
//!
//! One function per context a value lands in, and every template of Ferry
//! is rendered by [`tera`], where they are filters and where a value printed
//! without a filter is escaped as plain text (autoescape on, with [`text`]
//! as the escape function):
//!
//! | context | function | filter |
//! |---|---|---|
//! | prose, list item, table cell | [`text`] | `md` (also the default) |
//! | Ferry's message with `code` spans around outside values | [`prose`] | `prose` |
//! | a code span in prose | [`code`] | `code` |
//! | a code span in a table cell | [`cell_code`] | `cell_code` |
//! | inside an HTML element (`<summary>`, `<code>`) | [`html`] | `html` |
//! | one line of a fenced code block | [`line`] | `line` |
//! | a link target | [`url`] | `url` |
//! | a whole fenced block | [`fenced`] | – |

use std::collections::HashMap;

/// GitHub's limit on an issue comment, in characters.
pub const COMMENT_MAX_CHARS: usize = 65_536;
/// GitHub's limit on an issue comment, in bytes.
pub const COMMENT_MAX_BYTES: usize = 262_144;
/// GitHub's limit on a job summary, in bytes.
pub const SUMMARY_MAX_BYTES: usize = 1_048_576;

/// A zero-width space: `@\u{200b}name` shows as `@name` but mentions nobody.
const ZWSP: char = '\u{200b}';
/// Control characters and ANSI escape sequences removed, invisible
/// characters made visible, tabs and line breaks (Unicode's too) turned
/// into spaces (when `one_line`).
fn clean(text: &str, one_line: bool) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars().peekable();
    let mut previous = None;
    while let Some(c) = chars.next() {
        let hidden = crate::text::hidden_after(previous, c);
        previous = Some(c);
        match c {
            '\u{1b}' => {
                // CSI: ESC [ params final-byte (0x40..=0x7e).
                if chars.peek() == Some(&'[') {
                    chars.next();
                    for n in chars.by_ref() {
                        if ('\u{40}'..='\u{7e}').contains(&n) {
                            break;
                        }
                    }
                }
            }
            '\n' | '\r' | '\t' | '\u{85}' | '\u{2028}' | '\u{2029}' | '\u{0b}' | '\u{0c}'
                if one_line =>
            {
                out.push(' ')
            }
            '\n' | '\t' => out.push(c),
            c if c.is_control() => {}
            c if hidden => out.push_str(&crate::text::shown(c)),
            c => out.push(c),
        }
    }
    out
}

/// `@name` → `@\u{200b}name`, `#123` → `#\u{200b}123`, and `<!--` broken
/// so that no value can forge or close one of Ferry's hidden lines. For
/// contexts where markdown is not interpreted (code spans and blocks).
fn neutralise(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 4);
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        out.push(c);
        match c {
            '@' | '#' => out.push(ZWSP),
            '<' if chars.peek() == Some(&'!') => out.push(ZWSP),
            '-' if chars.peek() == Some(&'-') => {
                // `-->` ends an HTML comment: `-\u{200b}->`.
                out.push(ZWSP)
            }
            _ => {}
        }
    }
    out
}

/// One line of prose for markdown (a paragraph, a list item, a table cell,
/// a block quote): every character markdown or HTML would interpret is
/// escaped, line breaks become spaces, mentions and references are inert.
pub fn text(raw: &str) -> String {
    // Leading spaces would make an indented code block of a value that
    // starts a line; trailing ones a hard line break.
    warned(raw, escape_text(clean(raw, true).trim_matches(' '), true))
}

/// `shown` followed by ` (⚠ mixes Latin and Cyrillic)` when a word of
/// `raw` mixes look-alike scripts ([`crate::text::script_warning`]).
fn warned(raw: &str, shown: String) -> String {
    match crate::text::script_warning(raw) {
        Some(warning) => format!("{shown} (⚠ {warning})"),
        None => shown,
    }
}

/// [`text`] of cleaned text; `line_start` when it may start a line.
fn escape_text(cleaned: &str, line_start: bool) -> String {
    let mut out = String::with_capacity(cleaned.len() + 8);
    // A value that starts a line must not open a list or a setext heading.
    let mut at_start = line_start;
    let mut prev = ' ';
    let mut digits = false;
    let mut chars = cleaned.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '|' => out.push_str("&#124;"),
            '`' => out.push_str("&#96;"),
            '_' if prev.is_alphanumeric() && chars.peek().is_some_and(|n| n.is_alphanumeric()) => {
                // Inside a word (`workflow_dispatch`) it cannot emphasise.
                out.push(c)
            }
            '\\' | '*' | '_' | '[' | ']' | '~' | '!' => {
                out.push('\\');
                out.push(c);
            }
            '#' => {
                out.push_str("\\#");
                out.push(ZWSP);
            }
            '@' => {
                out.push('@');
                out.push(ZWSP);
            }
            '-' | '+' | '=' if at_start => {
                out.push('\\');
                out.push(c);
            }
            '.' | ')' if digits && matches!(chars.peek(), None | Some(' ')) => {
                // `1. ` would start an ordered list.
                out.push('\\');
                out.push(c);
            }
            c => out.push(c),
        }
        digits = (at_start || digits) && c.is_ascii_digit();
        at_start = at_start && c == ' ';
        prev = c;
    }
    out
}

/// A message Ferry wrote around outside values, using backticks for code:
/// each `…` pair becomes a code span ([`cell_code`], so that it is safe in
/// a table cell too), the rest plain text ([`text`]). Whatever the values
/// hold, every piece is escaped; unpaired backticks make it all text.
pub fn prose(raw: &str) -> String {
    let parts: Vec<&str> = raw.split('`').collect();
    if parts.len().is_multiple_of(2) {
        return text(raw);
    }
    let last = parts.len() - 1;
    parts
        .iter()
        .enumerate()
        .map(|(i, p)| {
            if i % 2 == 1 {
                return cell_code(p);
            }
            let cleaned = clean(p, true);
            let mut piece = cleaned.as_str();
            if i == 0 {
                piece = piece.trim_start_matches(' ');
            }
            if i == last {
                piece = piece.trim_end_matches(' ');
            }
            escape_text(piece, i == 0)
        })
        .collect()
}

/// The backticks that open and close a code span around `content`: one
/// more than the longest run inside, so nothing in it can close the span.
fn span(content: &str) -> String {
    let longest = content
        .split(|c| c != '`')
        .map(str::len)
        .max()
        .unwrap_or_default();
    let ticks = "`".repeat(longest + 1);
    // CommonMark strips one space each side when both are there, and a
    // backtick next to the fence would join it: pad in both cases.
    let pad = content.starts_with('`')
        || content.ends_with('`')
        || (content.starts_with(' ') && content.ends_with(' '));
    match (content.trim().is_empty(), pad) {
        (true, _) => "` `".to_string(),
        (false, true) => format!("{ticks} {content} {ticks}"),
        (false, false) => format!("{ticks}{content}{ticks}"),
    }
}

/// A whole code span (backticks included) showing `raw` on one line, for
/// prose and list items (not table cells: see [`cell_code`]).
pub fn code(raw: &str) -> String {
    warned(raw, span(&neutralise(&clean(raw, true))))
}

/// A whole code span for a table cell: as [`code`], with `|` escaped the
/// way GitHub's tables want it even inside code.
pub fn cell_code(raw: &str) -> String {
    warned(
        raw,
        span(&neutralise(&clean(raw, true)).replace('|', "\\|")),
    )
}

/// One line for inside an HTML element (`<summary>`, `<code>`): entities only.
pub fn html(raw: &str) -> String {
    let mut out = String::with_capacity(raw.len() + 8);
    for c in clean(raw, true).chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            '|' => out.push_str("&#124;"),
            '`' => out.push_str("&#96;"),
            '*' | '_' | '[' | ']' | '~' | '\\' | '!' => {
                // GitHub renders markdown inside inline HTML of a paragraph.
                out.push_str(&format!("&#{};", u32::from(c)))
            }
            '@' => {
                out.push('@');
                out.push(ZWSP);
            }
            '#' => {
                out.push_str("&#35;");
                out.push(ZWSP);
            }
            c => out.push(c),
        }
    }
    warned(raw, out)
}

/// One line inside a fenced code block whose fence the template writes
/// (three backticks): no line break, and no fence at its start.
pub fn line(raw: &str) -> String {
    let body = neutralise(&clean(raw, true));
    let start = body.trim_start_matches(' ');
    let body = if start.starts_with("```") || start.starts_with("~~~") {
        format!("{ZWSP}{body}")
    } else {
        body
    };
    warned(raw, body)
}

/// A link target: only http(s), with characters that would end the link encoded.
pub fn url(raw: &str) -> Option<String> {
    let t = raw.trim();
    if !(t.starts_with("https://") || t.starts_with("http://")) {
        return None;
    }
    let mut out = String::with_capacity(t.len());
    for c in t.chars() {
        match c {
            ' ' => out.push_str("%20"),
            '(' => out.push_str("%28"),
            ')' => out.push_str("%29"),
            '<' => out.push_str("%3C"),
            '>' => out.push_str("%3E"),
            '"' => out.push_str("%22"),
            '\'' => out.push_str("%27"),
            '|' => out.push_str("%7C"),
            '`' => out.push_str("%60"),
            '[' => out.push_str("%5B"),
            ']' => out.push_str("%5D"),
            '\\' => out.push_str("%5C"),
            c if c.is_control() || c.is_whitespace() || crate::text::is_invisible(c) => {}
            c => out.push(c),
        }
    }
    Some(out)
}

/// Lines as a fenced code block whose fence is longer than any run of
/// backticks inside, so no line can close it; mentions neutralised.
pub fn fenced(lines: &[String]) -> String {
    fenced_as("text", lines)
}

/// [`fenced`] with another info string (`diff`).
pub fn fenced_as(lang: &str, lines: &[String]) -> String {
    let body: Vec<String> = lines.iter().map(|l| neutralise(&clean(l, true))).collect();
    let longest = body
        .iter()
        .map(|l| {
            l.split(|c| c != '`')
                .map(str::len)
                .max()
                .unwrap_or_default()
        })
        .max()
        .unwrap_or_default();
    let fence = "`".repeat(longest.max(2) + 1);
    format!("{fence}{lang}\n{}\n{fence}", body.join("\n"))
}

/// One context's escaping function.
type Escape = fn(&str) -> String;

/// A tera filter whose output is already escaped for its context, so
/// autoescaping leaves it alone.
struct Escaper(Escape);

impl tera::Filter for Escaper {
    fn filter(
        &self,
        value: &tera::Value,
        _: &HashMap<String, tera::Value>,
    ) -> tera::Result<tera::Value> {
        let text = match value {
            tera::Value::String(s) => s.clone(),
            tera::Value::Null => String::new(),
            other => other.to_string(),
        };
        Ok(tera::Value::String((self.0)(&text)))
    }

    fn is_safe(&self) -> bool {
        true
    }
}

fn url_or_empty(raw: &str) -> String {
    url(raw).unwrap_or_default()
}

/// A tera instance for markdown templates: every value printed without a
/// filter is escaped as plain text ([`text`]); the filters `md`, `prose`, `code`,
/// `cell_code`, `html`, `line` and `url` (an unsafe URL becomes empty)
/// choose another context. Only `| safe` prints a value as it is: for
/// markdown Ferry built itself.
pub fn tera() -> tera::Tera {
    let mut tera = tera::Tera::default();
    // Every template name ends with "": autoescape applies to all of them.
    tera.autoescape_on(vec![""]);
    tera.set_escape_fn(text);
    let filters: [(&str, Escape); 7] = [
        ("md", text),
        ("prose", prose),
        ("code", code),
        ("cell_code", cell_code),
        ("html", html),
        ("line", line),
        ("url", url_or_empty),
    ];
    for (name, f) in filters {
        tera.register_filter(name, Escaper(f));
    }
    tera
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use pulldown_cmark::{Event, Options, Parser, Tag, TagEnd};

    /// What markdown, HTML and GitHub read as more than text.
    const PIECES: &[&str] = &[
        "`",
        "``",
        "```",
        "````````",
        "~~~",
        "\n",
        "\r\n",
        "\n\n",
        "</details>",
        "<details>",
        "<summary>",
        "-->",
        "<!--",
        "<!-- ferry:plan:x -->",
        "@team",
        "@org/admins",
        "#123",
        "|",
        "\\",
        "\\|",
        "[l](javascript:alert(1))",
        "![i](https://e.x/i.png)",
        "<https://e.x>",
        "<b>",
        "&lt;",
        "&#96;",
        "\u{2028}",
        "\u{2029}",
        "\u{200b}",
        "\u{202e}",
        "\u{1b}[31m",
        "\u{0}",
        "*",
        "_",
        "# ",
        "- ",
        "> ",
        "1. ",
        "---",
        "===",
        "a",
        " ",
        "a_b",
        "é",
    ];

    fn hostile() -> impl Strategy<Value = String> {
        prop_oneof![
            prop::collection::vec(prop::sample::select(PIECES), 1..10).prop_map(|p| p.concat()),
            any::<String>(),
        ]
    }

    /// One document with a value in every context, as Ferry's templates
    /// place them.
    fn document(v: &str) -> String {
        format!(
            "<!-- ferry:test -->\n### Title {code}\n\n{text}\n\n- item {code} {text} {prose}\n\n\
             | a | b | c |\n|---|---|---|\n| {cell} | {text} | {prose} |\n\n\
             <details><summary>{html} <code>{html}</code></summary>\n\n> {text}\n\n{fenced}\n\n\
             ```diff\n+ {line}\n{line}\n```\n</details>\n\n[run]({url})\n",
            code = code(v),
            text = text(v),
            prose = prose(v),
            cell = cell_code(v),
            html = html(v),
            fenced = fenced(&[v.to_string(), v.to_string()]),
            line = line(v),
            url = url(&format!("https://github.com/o/r/{v}")).unwrap_or_default(),
        )
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

        /// Whatever the value, the document keeps its shape: one heading,
        /// one list item, one table of one row and three cells, one
        /// `<details>`, two code blocks, one link, no image, no HTML but
        /// the document's own, no live mention or reference, one marker.
        #[test]
        fn no_value_changes_the_shape_of_the_document(v in hostile()) {
            let md = document(&v);
            let mut headings = 0;
            let mut items = 0;
            let mut tables = 0;
            let mut rows = 0;
            let mut blocks = 0;
            let mut links = 0;
            let mut in_row = false;
            let mut cells = 0;
            let mut closed = 0;
            let entity = regex::Regex::new(r"&#?[0-9A-Za-z]+;").unwrap_or_else(|e| panic!("{e}"));
            let allowed = [
                "<!-- ferry:test -->", "<details><summary>", "<code>", "</code>", "</summary>",
                "</details>",
            ];
            for e in Parser::new_ext(&md, Options::ENABLE_TABLES | Options::ENABLE_STRIKETHROUGH) {
                match e {
                    Event::Start(Tag::Heading { .. }) => headings += 1,
                    Event::Start(Tag::Item) => items += 1,
                    Event::Start(Tag::Table(_)) => tables += 1,
                    Event::Start(Tag::TableRow) => { rows += 1; in_row = true; }
                    Event::End(TagEnd::TableRow) => in_row = false,
                    Event::Start(Tag::TableCell) if in_row => cells += 1,
                    Event::Start(Tag::CodeBlock(_)) => blocks += 1,
                    Event::Start(Tag::Link { .. }) => links += 1,
                    Event::Start(Tag::Image { .. }) => prop_assert!(false, "image\n{md}"),
                    Event::Html(h) | Event::InlineHtml(h) => {
                        closed += h.matches("</details>").count();
                        // The <summary> line: Ferry's tags around entity-escaped text.
                        let rest = allowed.iter().fold(h.to_string(), |acc, t| acc.replace(t, ""));
                        prop_assert!(!rest.contains('<') && !rest.contains('>'), "HTML {h:?}\n{md}");
                        let rest = entity.replace_all(&rest, "");
                        prop_assert!(!rest.contains("@t") && !rest.contains("@o") && !rest.contains("#1"), "{h:?}");
                    }
                    Event::Text(t) => {
                        prop_assert!(!t.contains("@team") && !t.contains("@org"), "mention {t:?}\n{md}");
                        prop_assert!(!t.contains("#123"), "reference {t:?}\n{md}");
                    }
                    _ => {}
                }
            }
            prop_assert_eq!(headings, 1, "{}", md);
            prop_assert_eq!(items, 1, "{}", md);
            prop_assert_eq!((tables, rows, cells), (1, 1, 3), "{}", md);
            prop_assert_eq!(blocks, 2, "{}", md);
            prop_assert_eq!(links, 1, "{}", md);
            prop_assert_eq!(md.matches("<!-- ferry:").count(), 1, "{}", md);
            prop_assert_eq!(closed, 1, "{}", md);
        }
    }

    #[test]
    fn prose_cannot_break_tables_html_or_ping() {
        let t = text("a|b `x` <!-- c --> @octocat *bold* [l](u) #12\nnext\u{1b}[31m");
        assert!(!t.contains('|') && !t.contains('`') && !t.contains('<'));
        assert!(!t.contains("@octocat") && t.contains("@\u{200b}octocat"));
        assert!(t.contains("\\#\u{200b}12"), "{t}");
        assert!(!t.contains('\n') && !t.contains('\u{1b}'));
        assert!(t.contains("\\*bold\\*"));
        assert_eq!(text("- x"), "\\- x");
    }

    #[test]
    fn prose_keeps_ferrys_code_spans_and_escapes_the_rest() {
        assert_eq!(prose("crate `a_b` is <new>"), "crate `a_b` is &lt;new&gt;");
        assert_eq!(prose("`x` and ` y"), "&#96;x&#96; and &#96; y");
        assert_eq!(text("workflow_dispatch _x_"), "workflow_dispatch \\_x\\_");
    }

    #[test]
    fn code_spans_outlast_backticks_and_html_is_closed_tight() {
        assert_eq!(code("a`b"), "``a`b``");
        assert_eq!(code("`a"), "`` `a ``");
        assert_eq!(code("x"), "`x`");
        assert_eq!(code(""), "` `");
        assert_eq!(cell_code("a|b"), "`a\\|b`");
        assert_eq!(code("@x"), "`@\u{200b}x`");
        assert_eq!(
            html("<b>\"@x\"</b>"),
            "&lt;b&gt;&quot;@\u{200b}x&quot;&lt;/b&gt;"
        );
    }

    #[test]
    fn a_fence_outlasts_every_backtick_run() {
        let block = fenced(&["```".into(), "a ```````` b".into()]);
        assert!(block.starts_with("`````````text\n"), "{block}");
        assert!(block.ends_with("\n`````````"));
        assert_eq!(fenced(&["x".into()]), "```text\nx\n```");
        assert_eq!(line("```x"), "\u{200b}```x");
    }

    #[test]
    fn only_web_links_are_kept() {
        assert_eq!(url("javascript:alert(1)"), None);
        assert_eq!(
            url("https://github.com/o/r/actions/runs/1 (x)").as_deref(),
            Some("https://github.com/o/r/actions/runs/1%20%28x%29")
        );
    }

    #[test]
    fn templates_escape_by_default() {
        let mut t = tera();
        t.add_raw_template("t.md", "{{ v }}|{{ v | code }}|{{ v | safe }}")
            .unwrap_or_default();
        let mut ctx = tera::Context::new();
        ctx.insert("v", "<b>`x`");
        let out = t.render("t.md", &ctx).unwrap_or_default();
        assert_eq!(out, "&lt;b&gt;&#96;x&#96;|`` <b>`x` ``|<b>`x`");
    }
}
