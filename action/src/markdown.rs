//! Text from outside (ECS events, stopped reasons, log lines, image names) made
//! safe to put in GitHub markdown: it cannot break a table, open HTML or a
//! hidden comment, end a code block, or ping anyone with an `@mention`.
//!
//! The functions are also tera filters ([`register`]), so templates say
//! which context a value lands in: `md` (prose, table cells), `code` (inside
//! a backtick code span), `html` (inside an HTML element such as `<summary>`).

use std::collections::HashMap;

/// A zero-width space: `@\u{200b}name` shows as `@name` but mentions nobody.
const ZWSP: char = '\u{200b}';

/// Control characters and ANSI escape sequences removed, tabs and line
/// breaks turned into spaces (when `one_line`).
fn clean(text: &str, one_line: bool) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
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
            '\n' | '\r' | '\t' if one_line => out.push(' '),
            '\n' | '\t' => out.push(c),
            c if c.is_control() => {}
            c => out.push(c),
        }
    }
    out
}

/// `@name` → `@\u{200b}name`.
fn unmention(text: &str) -> String {
    text.replace('@', &format!("@{ZWSP}"))
}

/// One line of prose for markdown (a paragraph, a list item, a table cell):
/// every character markdown or HTML would interpret is escaped.
pub fn text(raw: &str) -> String {
    let mut out = String::with_capacity(raw.len() + 8);
    for c in clean(raw, true).chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '|' => out.push_str("&#124;"),
            '`' => out.push_str("&#96;"),
            '\\' | '*' | '_' | '[' | ']' | '~' | '#' | '!' => {
                out.push('\\');
                out.push(c);
            }
            '@' => {
                out.push('@');
                out.push(ZWSP);
            }
            c => out.push(c),
        }
    }
    out
}

/// One line for inside a backtick code span in a table: no backtick to
/// close it, no pipe to split the row, no mention.
pub fn code(raw: &str) -> String {
    unmention(
        &clean(raw, true)
            .replace('`', "'")
            .replace('|', "\\|")
            .trim()
            .replace("  ", " "),
    )
}

/// One line for inside an HTML element (`<summary>`): entities only.
pub fn html(raw: &str) -> String {
    let mut out = String::with_capacity(raw.len() + 8);
    for c in clean(raw, true).chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '|' => out.push_str("&#124;"),
            '@' => {
                out.push('@');
                out.push(ZWSP);
            }
            c => out.push(c),
        }
    }
    out
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
            '|' => out.push_str("%7C"),
            '`' => out.push_str("%60"),
            c if c.is_control() => {}
            c => out.push(c),
        }
    }
    Some(out)
}

/// Lines as a fenced code block whose fence is longer than any run of
/// backticks inside, so no line can close it; mentions neutralised.
pub fn fenced(lines: &[String]) -> String {
    let body: Vec<String> = lines.iter().map(|l| unmention(&clean(l, true))).collect();
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
    format!("{fence}text\n{}\n{fence}", body.join("\n"))
}

fn string_filter(
    f: fn(&str) -> String,
) -> impl Fn(&tera::Value, &HashMap<String, tera::Value>) -> tera::Result<tera::Value> + Sync + Send
{
    move |value, _| {
        let text = value
            .as_str()
            .map_or_else(|| value.to_string(), str::to_string);
        Ok(tera::Value::String(f(&text)))
    }
}

/// Registers the filters `md`, `code`, `html` and `url` (an unsafe URL
/// becomes empty).
pub fn register(tera: &mut tera::Tera) {
    tera.register_filter("md", string_filter(text));
    tera.register_filter("code", string_filter(code));
    tera.register_filter("html", string_filter(html));
    tera.register_filter("url", string_filter(|u| url(u).unwrap_or_default()));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prose_cannot_break_tables_html_or_ping() {
        let t = text("a|b `x` <!-- c --> @octocat *bold* [l](u)\nnext\u{1b}[31m");
        assert!(!t.contains('|') && !t.contains('`') && !t.contains('<'));
        assert!(!t.contains("@octocat") && t.contains("@\u{200b}octocat"));
        assert!(!t.contains('\n') && !t.contains('\u{1b}'));
        assert!(t.contains("\\*bold\\*"));
    }

    #[test]
    fn code_spans_and_html_are_closed_tight() {
        assert_eq!(code("a`b|c @x"), "a'b\\|c @\u{200b}x");
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
    }

    #[test]
    fn only_web_links_are_kept() {
        assert_eq!(url("javascript:alert(1)"), None);
        assert_eq!(
            url("https://github.com/o/r/actions/runs/1 (x)").as_deref(),
            Some("https://github.com/o/r/actions/runs/1%20%28x%29")
        );
    }
}
