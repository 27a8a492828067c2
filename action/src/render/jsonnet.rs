//! In-process Jsonnet evaluation with jrsonnet: no `jsonnet` binary on the
//! runner, and an error located precisely enough to annotate the pull request.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use jrsonnet_evaluator::analyze::DiagLevel;
use jrsonnet_evaluator::error::ErrorKind;
use jrsonnet_evaluator::manifest::{JsonFormat, manifest_json_ex};
use jrsonnet_evaluator::trace::PathResolver;
use jrsonnet_evaluator::{Error, FileImportResolver, State};

use crate::diagnostic::Diagnostic;

/// Evaluates `file` (relative to `root`) with `ext_strs`; library imports
/// resolve against `root/task-definitions` (so `import 'lib/base.libsonnet'`
/// works from anywhere). Returns the manifested JSON value.
pub fn evaluate(
    root: &Path,
    file: &str,
    ext_strs: &BTreeMap<String, String>,
) -> Result<serde_json::Value, Box<Diagnostic>> {
    let path = root.join(file);
    let resolver = FileImportResolver::new(vec![root.join("task-definitions")]);
    let context = jrsonnet_stdlib::ContextInitializer::new(PathResolver::Relative(root.into()));
    for (name, value) in ext_strs {
        context.add_ext_str(name.as_str().into(), value.as_str().into());
    }
    let mut builder = State::builder();
    builder
        .import_resolver(resolver)
        .context_initializer(context);
    let state = builder.build();
    let _guard = state.enter();
    let text = state
        .import(path.as_path())
        .and_then(|value| manifest_json_ex(&value, &JsonFormat::default()))
        .map_err(|e| Box::new(diagnostic(root, file, &e)))?;
    serde_json::from_str(&text).map_err(|e| {
        Box::new(
            Diagnostic::new(file, format!("the Jsonnet output is not JSON: {e}"))
                .help("return an object from the file"),
        )
    })
}

/// Turns a jrsonnet error into a diagnostic at the innermost location in a
/// user's file: a syntax error at its token, otherwise the top frame of the
/// stack trace.
fn diagnostic(root: &Path, file: &str, error: &Error) -> Diagnostic {
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
        ErrorKind::ImportFileNotFound(from, wanted) => from.path().and_then(|p| {
            // No frame points at the import: find its text in the importing file.
            let text = std::fs::read_to_string(p).ok()?;
            let offset = text.find(&wanted.to_string())?;
            let line = text[..offset].matches('\n').count() + 1;
            let column = offset - text[..offset].rfind('\n').map_or(0, |i| i + 1) + 1;
            Some((relative(root, p), line, column))
        }),
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
    let canonical = root.canonicalize().unwrap_or_else(|_| root.to_path_buf());
    let first_line = message
        .lines()
        .next()
        .unwrap_or("")
        .trim()
        .replace(&format!("{}/", canonical.display()), "");
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
        ErrorKind::ImportFileNotFound(_, path) => format!(
            "no file {path} next to the importing file nor under task-definitions/: fix the import path"
        ),
        ErrorKind::ImportSyntaxError { .. } => {
            "fix the Jsonnet syntax at this position".to_string()
        }
        _ => "fix the Jsonnet at this position (the message is jrsonnet's)".to_string(),
    }
}

fn relative(root: &Path, path: &Path) -> PathBuf {
    let root = root.canonicalize().unwrap_or_else(|_| root.to_path_buf());
    path.strip_prefix(&root)
        .map(Path::to_path_buf)
        .unwrap_or_else(|_| path.to_path_buf())
}
