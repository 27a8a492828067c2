//! What `detect` tells people (the job summary) and workflows (the matrix).

use serde::Serialize;
use serde_json::{Value, json};

use super::Detection;
use crate::manifest::Manifest;

const SUMMARY: &str = include_str!("../../templates/detect-summary.md.tera");

/// The data the summary template receives.
#[derive(Debug, Serialize)]
struct SummaryData<'a> {
    /// Names of the affected services.
    affected: Vec<&'a str>,
    /// Every service: `name`, `affected`, `reasons` (sentences).
    services: Vec<ServiceRow<'a>>,
    /// How the changed files were found.
    source: &'a str,
    /// How many files changed.
    changed_files: usize,
    /// Notes (a deepened clone, a fallback).
    notes: &'a [String],
    /// Warnings (a fallback the user should fix).
    warnings: &'a [String],
}

#[derive(Debug, Serialize)]
struct ServiceRow<'a> {
    name: &'a str,
    affected: bool,
    reasons: Vec<String>,
}

/// `strategy.matrix` for the affected services: one `include` entry each,
/// with what a build job needs.
pub fn matrix(manifest: &Manifest, affected: &[&str]) -> Value {
    let include: Vec<Value> = affected
        .iter()
        .filter_map(|name| manifest.services.get(*name))
        .map(|s| {
            json!({
                "service": s.name,
                "dockerfile": s.dockerfile,
                "context": s.context,
                "task-definition": s.task_definition,
            })
        })
        .collect();
    json!({ "include": include })
}

/// Escapes text for a markdown table cell: no column breaks, no raw HTML,
/// no @-mentions.
fn cell(
    value: &tera::Value,
    _: &std::collections::HashMap<String, tera::Value>,
) -> tera::Result<tera::Value> {
    let text = match value {
        tera::Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    let escaped = text
        .replace('\\', "\\\\")
        .replace('|', "\\|")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('@', "@\u{200b}")
        .replace(['\r', '\n'], " ");
    Ok(tera::Value::String(escaped))
}

/// The markdown summary: a table of service, affected, why.
pub fn summary_markdown(d: &Detection) -> String {
    let data = SummaryData {
        affected: d.affected(),
        services: d
            .verdicts
            .iter()
            .map(|v| ServiceRow {
                name: &v.service,
                affected: v.affected(),
                reasons: v.reasons.iter().map(ToString::to_string).collect(),
            })
            .collect(),
        source: &d.source,
        changed_files: d.changed_files,
        notes: &d.notes,
        warnings: &d.warnings,
    };
    let mut tera = tera::Tera::default();
    tera.register_filter("cell", cell);
    let rendered = tera
        .add_raw_template("detect-summary", SUMMARY)
        .and_then(|_| tera::Context::from_serialize(&data))
        .and_then(|ctx| tera.render("detect-summary", &ctx));
    // The template ships in the binary and is covered by snapshot tests; if
    // it ever fails, say so rather than lose the result.
    rendered.unwrap_or_else(|e| format!("detect summary could not be rendered: {e}\n"))
}
