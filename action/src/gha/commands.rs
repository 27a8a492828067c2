//! Workflow commands hidden in outside text.
//!
//! The runner reads every line a step writes to stdout *or* stderr and
//! executes the ones that parse as a workflow command: `::name props::data`
//! once leading whitespace is trimmed, or the legacy `##[name props]data`
//! anywhere in the line. A service name, an ECS event, a builder's log line
//! or an error message echoed as-is could therefore set outputs, add masks or
//! stop command processing (hiding Ferry's own masks). This module decides
//! which lines are dangerous and makes them inert; the [`super::Reporter`]
//! (stdout) and the log writer (stderr) are the only callers.
//!
//! The test is deliberately wider than the runner's parser: it splits lines at
//! every Unicode line break (the runner splits at CR and LF), and ignores
//! whitespace, control, format and combining characters wherever they are (the
//! runner's `StartsWith`/`IndexOf` are culture-sensitive, so invisible
//! characters between the two colons may not stop a match).

use std::borrow::Cow;
use std::hash::{BuildHasher, Hasher};

/// Characters that end a line for some reader of the log: the runner (CR,
/// LF), and anything that treats Unicode line breaks as such.
pub fn is_line_break(c: char) -> bool {
    matches!(
        c,
        '\n' | '\r' | '\u{0B}' | '\u{0C}' | '\u{85}' | '\u{2028}' | '\u{2029}'
    )
}

/// Characters a culture-sensitive comparison may skip: whitespace, controls,
/// the neutraliser's invisible set ([`crate::text::is_invisible`]) and
/// every combining mark (wider than the neutraliser, which shows accents).
fn invisible(c: char) -> bool {
    c.is_whitespace()
        || c.is_control()
        || crate::text::is_invisible(c)
        || matches!(c,
            '\u{300}'..='\u{36F}' | '\u{1AB0}'..='\u{1AFF}' | '\u{1DC0}'..='\u{1DFF}'
            | '\u{20D0}'..='\u{20FF}' | '\u{FE20}'..='\u{FE2F}')
}

fn visible(text: &str) -> String {
    text.chars().filter(|c| !invisible(*c)).collect()
}

/// Whether the runner could execute `line` (one line as the runner splits
/// them, at CR or LF) as a workflow command.
pub fn is_command(line: &str) -> bool {
    visible(line).contains("##[")
        || line
            .split(is_line_break)
            .any(|segment| visible(segment).starts_with("::"))
}

/// Whether any line of `text` could run as a workflow command.
pub fn has_command(text: &str) -> bool {
    text.split(['\n', '\r']).any(is_command)
}

/// `line` with `%`, `:` and `[` percent-encoded (the runner's own escapes):
/// with no `:` or `[` left, neither command form can match, whatever
/// invisible characters surround them.
fn defuse(line: &str) -> String {
    line.replace('%', "%25")
        .replace(':', "%3A")
        .replace('[', "%5B")
}

/// `text` with every line that could run as a workflow command defused; the
/// other lines are untouched. For streams where Ferry never writes its own
/// commands (stderr), so a stateless rewrite is the safe choice.
pub fn neutralise(text: &str) -> Cow<'_, str> {
    if !has_command(text) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 16);
    let mut rest = text;
    while !rest.is_empty() {
        let end = rest.find(['\n', '\r']).unwrap_or(rest.len());
        let (line, tail) = rest.split_at(end);
        if is_command(line) {
            out.push_str(&defuse(line));
        } else {
            out.push_str(line);
        }
        let brk = tail.chars().next().map_or(0, char::len_utf8);
        out.push_str(&tail[..brk]);
        rest = &tail[brk..];
    }
    Cow::Owned(out)
}

/// A token no outside text can predict: for `::stop-commands::<token>` and
/// `$GITHUB_OUTPUT` heredoc delimiters. 128 bits from the standard library's
/// randomly keyed hasher (seeded by the operating system).
pub fn random_token() -> String {
    let mut words = [0u64; 2];
    for (i, w) in words.iter_mut().enumerate() {
        let mut h = std::collections::hash_map::RandomState::new().build_hasher();
        h.write_usize(i);
        h.write_u128(
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_nanos())
                .unwrap_or_default(),
        );
        *w = h.finish();
    }
    format!("{:016x}{:016x}", words[0], words[1])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_command_forms_are_recognised_through_disguises() {
        for line in [
            "::error::x",
            "   ::add-mask::x",
            "\t::set-output name=a::b",
            "\u{A0}\u{3000}::warning::x",
            ":\u{200B}:error::x",
            "\u{FEFF}::error::x",
            "ok\u{2028}::error::x",
            "ok\u{85}::debug::x",
            "##[error]x",
            "text then ##[add-mask]x",
            "#\u{200D}#[set-output name=a;]b",
            "::\u{301}stop-commands::x",
        ] {
            assert!(is_command(line), "{line:?}");
            let safe = neutralise(line);
            assert!(!is_command(&safe), "{line:?} → {safe:?}");
        }
        for line in [
            "ferry: done",
            "a::b",
            "service::name in the middle",
            "## heading",
            "#[attr]",
            "50% of [tasks]",
        ] {
            assert!(!is_command(line), "{line:?}");
            assert_eq!(neutralise(line), line);
        }
    }

    #[test]
    fn only_the_dangerous_lines_change_and_line_breaks_stay() {
        let text = "first\n::error::x\r\nthird 100%\r##[group]y\n";
        assert_eq!(
            neutralise(text),
            "first\n%3A%3Aerror%3A%3Ax\r\nthird 100%\r##%5Bgroup]y\n"
        );
    }

    #[test]
    fn tokens_differ_and_are_long() {
        let (a, b) = (random_token(), random_token());
        assert_ne!(a, b);
        assert_eq!(a.len(), 32);
        assert!(a.chars().all(|c| c.is_ascii_hexdigit()));
    }

    mod properties {
        use proptest::prelude::*;

        use super::super::*;

        proptest! {
            #![proptest_config(ProptestConfig::with_cases(1024))]

            /// Whatever the text, no line of the result can run, the line
            /// breaks are kept, and lines that could not run are unchanged.
            #[test]
            fn neutralised_text_never_runs(
                text in prop_oneof![
                    any::<String>(),
                    "([ \t\u{A0}\u{200B}\u{FEFF}]{0,2}(::|##\\[|:\u{200B}:|#\u{200D}#\\[)?[a-z-]{0,8}( [a-z]=[a-z%:,]{0,4})?(::|\\])?[a-z%]{0,6}[\r\n\u{2028}\u{85}]{0,2}){0,6}",
                ],
            ) {
                let out = neutralise(&text);
                prop_assert!(!has_command(&out), "{text:?} → {out:?}");
                let breaks = |t: &str| t.chars().filter(|c| *c == '\n' || *c == '\r').count();
                prop_assert_eq!(breaks(&out), breaks(&text));
                for (before, after) in text.split(['\n', '\r']).zip(out.split(['\n', '\r'])) {
                    if !is_command(before) {
                        prop_assert_eq!(before, after);
                    }
                }
            }
        }
    }
}
