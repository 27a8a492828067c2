//! A jrsonnet error turned into a diagnostic located in the user's file,
//! with help on what to fix.

use std::path::{Path, PathBuf};

use jrsonnet_evaluator::Error;
use jrsonnet_evaluator::analyze::DiagLevel;
use jrsonnet_evaluator::error::ErrorKind;

use crate::diagnostic::Diagnostic;

/// Turns a jrsonnet error into a diagnostic at the innermost location in a
/// user's file: a syntax error at its token, otherwise the top frame of the
/// stack trace.
pub(super) fn diagnostic(root: &Path, file: &str, error: &Error) -> Diagnostic {
    let message = match error.error() {
        // jrsonnet's message lists its lint warnings ("local could be
        // hoisted") with the errors: only the errors stopped the render.
        ErrorKind::StaticAnalysisError(found) => {
            let errors: Vec<&str> = found
                .iter()
                .filter(|d| matches!(d.level, DiagLevel::Error))
                .map(|d| d.message.as_str())
                .collect();
            format!("static analysis errors: {}", errors.join("; "))
        }
        ErrorKind::StackOverflow => format!(
            "the evaluation recursed deeper than jrsonnet's limit ({})",
            "200 calls"
        ),
        other => other.to_string(),
    };
    let help = help_for(error.error());
    let located = match error.error() {
        ErrorKind::ImportSyntaxError {
            path,
            error: syntax,
        } => {
            let offset = syntax
                .location
                .1
                .min(u32::try_from(path.code().len()).unwrap_or(u32::MAX));
            let [loc] = path.map_source_locations(&[offset]);
            path.source_path()
                .path()
                .map(|p| (relative(root, p), loc.line, loc.column.max(1)))
        }
        // No stack yet: the first error's own span.
        ErrorKind::StaticAnalysisError(found) => found
            .iter()
            .filter(|d| matches!(d.level, DiagLevel::Error))
            .find_map(|d| {
                let span = d.span.as_ref()?;
                let p = span.0.source_path().path()?;
                let [loc] = span.0.map_source_locations(&[span.1]);
                Some((relative(root, p), loc.line, loc.column.max(1)))
            }),
        _ => error.trace().0.iter().find_map(|frame| {
            let span = frame.location.as_ref()?;
            let p = span.0.source_path().path()?;
            let [loc] = span.0.map_source_locations(&[span.1]);
            Some((relative(root, p), loc.line, loc.column.max(1)))
        }),
    };
    let first_line = message
        .lines()
        .next()
        .unwrap_or("")
        .trim()
        .replace(&format!("{}/", root.display()), "");
    let d = match located {
        Some((path, line, column)) => Diagnostic::new(path, first_line).at(line, column),
        None => Diagnostic::new(file, first_line),
    };
    d.help(help)
}

fn help_for(kind: &ErrorKind) -> String {
    match kind {
        ErrorKind::UndefinedExternalVariable(name) => format!(
            "pass ext-str {name}: `--ext-str {name}=VALUE`, the environment variable FERRY_EXT_{name}, or the environment's values file (task-definitions/environments/<env>.json)"
        ),
        ErrorKind::ImportSyntaxError { .. } => {
            "fix the Jsonnet syntax at this position".to_string()
        }
        ErrorKind::StackOverflow => {
            "look for a function that calls itself without an end".to_string()
        }
        _ => "fix the Jsonnet at this position (the message is jrsonnet's)".to_string(),
    }
}

/// `path` relative to the (canonical) root, for messages.
pub(super) fn relative(root: &Path, path: &Path) -> PathBuf {
    path.strip_prefix(root)
        .map(Path::to_path_buf)
        .unwrap_or_else(|_| path.to_path_buf())
}
