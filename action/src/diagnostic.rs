//! A problem in a user's file, located precisely enough to fix.
//!
//! Every command that reads user input (the manifest, Jsonnet, a plan, an
//! event payload) reports bad input as diagnostics: printed as
//! `file:line:col: message` with a `help:` line, and emitted as a GitHub
//! `::error file=..,line=..,col=..::` annotation so the problem shows on the
//! pull request's diff.

use std::fmt;
use std::path::PathBuf;

/// An error that may come from problems in the user's files: every command's
/// error implements it, so the binary reports any of them the same way (the
/// message, then one annotation per located problem).
pub trait Diagnose {
    /// The located problems behind the error (often none).
    fn diagnostics(&self) -> Vec<Diagnostic>;
}

/// One problem in one file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    /// The file, as the user would name it (relative to the repository when possible).
    pub file: PathBuf,
    /// 1-based line, when known.
    pub line: Option<usize>,
    /// 1-based column, when known.
    pub column: Option<usize>,
    /// What is wrong.
    pub message: String,
    /// How to fix it.
    pub help: Option<String>,
}

impl Diagnostic {
    /// A diagnostic for `file` with no position yet.
    pub fn new(file: impl Into<PathBuf>, message: impl Into<String>) -> Self {
        Self {
            file: file.into(),
            line: None,
            column: None,
            message: message.into(),
            help: None,
        }
    }

    /// Sets the position.
    pub fn at(mut self, line: usize, column: usize) -> Self {
        self.line = Some(line);
        self.column = Some(column);
        self
    }

    /// Sets the help line.
    pub fn help(mut self, help: impl Into<String>) -> Self {
        self.help = Some(help.into());
        self
    }

    /// `file:line:col`, as editors and terminals link it.
    pub fn location(&self) -> String {
        let file = self.file.display();
        match (self.line, self.column) {
            (Some(l), Some(c)) => format!("{file}:{l}:{c}"),
            (Some(l), None) => format!("{file}:{l}"),
            _ => file.to_string(),
        }
    }
}

/// Displayed as `file:line:col: message` and an indented `help:` line.
/// Messages quote user input, so control characters and Unicode line
/// breaks are escaped here (`\n`, `\u{2028}`): the text is always those two
/// lines, and no line of it can pass for a workflow command when a caller
/// prints it to an Actions log.
impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}: {}",
            OneLine(&self.location()),
            OneLine(&self.message)
        )?;
        if let Some(help) = &self.help {
            write!(f, "\n  help: {}", OneLine(help))?;
        }
        Ok(())
    }
}

/// Text displayed with its line breaks and control characters escaped.
struct OneLine<'a>(&'a str);

impl fmt::Display for OneLine<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for c in self.0.chars() {
            if c.is_control() || matches!(c, '\u{2028}' | '\u{2029}') {
                write!(f, "{}", c.escape_default())?;
            } else {
                write!(f, "{c}")?;
            }
        }
        Ok(())
    }
}

/// Several diagnostics, displayed one after another.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostics(pub Vec<Diagnostic>);

impl fmt::Display for Diagnostics {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, d) in self.0.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(f, "{d}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_diagnostic_displays_as_its_two_lines_whatever_it_quotes() {
        for hostile in [
            "a\n::error::forged",
            "a\r\n::set-output name=x::y",
            "a\u{2028}::error::b",
            "a\u{85}::error::b",
            "\u{1b}[31mred",
        ] {
            let d = Diagnostic::new(format!("f{hostile}"), hostile)
                .help(hostile)
                .at(1, 2);
            let shown = d.to_string();
            let lines: Vec<&str> = shown.split(['\n', '\r', '\u{2028}', '\u{85}']).collect();
            assert_eq!(lines.len(), 2, "{shown:?}");
            assert!(
                lines[0].starts_with("f") && lines[1].starts_with("  help: "),
                "{shown:?}"
            );
            assert!(!shown.contains('\u{1b}'), "{shown:?}");
        }
        let plain = Diagnostic::new("f", "plain `x` é").help("h");
        assert_eq!(plain.to_string(), "f: plain `x` é\n  help: h");
    }
}
