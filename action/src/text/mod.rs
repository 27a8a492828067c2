//! Outside text on its way to a person, in one place that no adapter owns
//! (so `gha`, `git` and the shared model all use it without importing each
//! other): [`quote`] puts a value in an error message on one line, and the
//! neutraliser ([`visible`], [`script_warning`], …) makes what cannot be seen
//! visible wherever outside text reaches a comment, the summary or the log.

mod neutral;

pub use neutral::{
    Script, hidden_after, is_invisible, mixed_scripts, script, script_warning, shown, visible,
};

/// An outside value for an error message: in backquotes, on one line
/// whatever it holds (control characters and line breaks escaped as `\n`,
/// `\u{2028}`), cut to 80 characters.
pub fn quote(value: &str) -> String {
    let cut = truncate_chars(value, 80);
    format!("`{}`", cut.escape_debug())
}

/// `text` cut to `max` characters, on a character boundary, with `…` when cut.
pub fn truncate_chars(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_string();
    }
    let mut out: String = text.chars().take(max.saturating_sub(1)).collect();
    out.push('…');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn descriptions_are_cut_on_a_character_boundary() {
        let long = "é".repeat(200);
        let cut = truncate_chars(&long, 140);
        assert_eq!(cut.chars().count(), 140);
        assert!(cut.ends_with('…'));
        assert_eq!(truncate_chars("short", 140), "short");
    }

    #[test]
    fn quoted_values_stay_on_one_line() {
        assert_eq!(quote("a\nb"), "`a\\nb`");
        assert_eq!(quote(&"x".repeat(100)).chars().count(), 82);
    }
}
