//! What `detect` tells people (the job summary) and workflows (the matrix).

use serde::Serialize;
use serde_json::{Value, json};

use super::{Detection, Reason};
use crate::manifest::Manifest;
use crate::markdown;

const SUMMARY: &str = include_str!("../../templates/detect-summary.md.tera");

/// The data the summary template receives.
#[derive(Debug, Serialize)]
struct SummaryData<'a> {
    /// Names of the affected services.
    affected: Vec<&'a str>,
    /// Every service: `name`, `affected`, `reasons` (Markdown for a table
    /// cell, built by [`reason_cell`]: print with `| safe`).
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

/// A reason as Markdown for a table cell: Ferry's words as they are, every
/// name from the repository (globs, crates, changed paths, a lockfile's
/// packages) escaped: a file named ``a`|</details>@team`` is just a name.
pub fn reason_cell(reason: &Reason) -> String {
    use markdown::{cell_code as c, text as t};
    match reason {
        Reason::Paths { glob, files } => format!("matches {}: {}", c(glob), t(&files.to_string())),
        Reason::Dockerfile { file } => format!("its Dockerfile {} changed", t(file)),
        Reason::TaskDefinition { file } => format!("its task definition {} changed", t(file)),
        Reason::JsonnetImport { file } => {
            format!("its task definition imports {}, which changed", t(file))
        }
        Reason::OwnCrate { krate, files } => {
            format!("its crate {} changed: {}", c(krate), t(&files.to_string()))
        }
        Reason::DependsOnCrate { krate, files } => format!(
            "depends on crate {}, which changed: {}",
            c(krate),
            t(&files.to_string())
        ),
        Reason::DependsOnPackage { kind, name, files } => format!(
            "depends on {kind} {}, which changed: {}",
            c(name),
            t(&files.to_string())
        ),
        Reason::ProjectFile { file } => format!("its project file {} changed", t(file)),
        Reason::PackageLock { file, packages } => {
            format!("{}: {}", t(file), t(&packages.join("; ")))
        }
        Reason::PackageLockAll { file, why } => format!(
            "{} changed and {}: every service using it is affected",
            t(file),
            t(why)
        ),
        Reason::GraphUnknown { file, why } => format!(
            "{} cannot be read ({}) and its folder changed: which services depend on it is unknown",
            t(file),
            t(why)
        ),
        Reason::Lockfile { packages } => format!("Cargo.lock: {}", t(&packages.join("; "))),
        Reason::LockfileUnknown { why } => format!("Cargo.lock changed ({})", t(why)),
        Reason::Global { glob, files } => {
            format!("global path {} changed: {}", c(glob), t(&files.to_string()))
        }
        Reason::WorkspaceManifest | Reason::ManifestEntry | Reason::ManifestSettings => {
            t(&reason.to_string())
        }
        Reason::Forced { why } => t(why),
    }
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
                reasons: v.reasons.iter().map(reason_cell).collect(),
            })
            .collect(),
        source: &d.source,
        changed_files: d.changed_files,
        notes: &d.notes,
        warnings: &d.warnings,
    };
    let mut tera = crate::markdown::tera();
    let rendered = tera
        .add_raw_template("detect-summary", SUMMARY)
        .and_then(|_| tera::Context::from_serialize(&data))
        .and_then(|ctx| tera.render("detect-summary", &ctx));
    // The template ships in the binary and is covered by snapshot tests; if
    // it ever fails, say so rather than lose the result.
    rendered.unwrap_or_else(|e| format!("detect summary could not be rendered: {e}\n"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::detect::affected::Examples;
    use proptest::prelude::*;
    use pulldown_cmark::{Event, Options, Parser, Tag};

    const PIECES: &[&str] = &[
        "`",
        "```",
        "|",
        "\\|",
        "</details>",
        "<!--",
        "-->",
        "@team",
        "#12",
        "\n",
        "*",
        "_",
        "[l](javascript:x)",
        "![i](x)",
        "a",
        "src/",
        ".rs",
        "\u{202e}",
    ];

    fn name() -> impl Strategy<Value = String> {
        prop::collection::vec(prop::sample::select(PIECES), 1..8).prop_map(|p| p.concat())
    }

    proptest! {
        /// A changed path, glob or crate name from the repository cannot add
        /// a cell, a row, HTML, an image, a link or a mention to the table.
        #[test]
        fn names_from_the_repository_stay_in_their_cell(
            glob in name(), krate in name(), files in prop::collection::vec(name(), 1..3),
        ) {
            let files = Examples { files, more: 2 };
            for reason in [
                Reason::Paths { glob: glob.clone(), files: files.clone() },
                Reason::DependsOnCrate { krate: krate.clone(), files: files.clone() },
                Reason::DependsOnPackage { kind: "package".into(), name: krate.clone(), files: files.clone() },
                Reason::PackageLock { file: glob.clone(), packages: vec![krate.clone()] },
                Reason::Global { glob: glob.clone(), files: files.clone() },
                Reason::Dockerfile { file: glob.clone() },
                Reason::Forced { why: krate.clone() },
            ] {
                let md = format!("| service | why |\n|---|---|\n| `api` | {} |\n", reason_cell(&reason));
                let (mut rows, mut cells) = (0, 0);
                let mut codes = Vec::new();
                for e in Parser::new_ext(&md, Options::ENABLE_TABLES) {
                    match e {
                        Event::Code(c) => codes.push(c.replace('\u{200b}', "").trim().to_string()),
                        Event::Start(Tag::TableRow) => rows += 1,
                        Event::Start(Tag::TableCell) => cells += 1,
                        Event::Html(h) | Event::InlineHtml(h) => prop_assert!(false, "HTML {h:?} in {md}"),
                        Event::Start(Tag::Image { .. } | Tag::Link { .. }) => prop_assert!(false, "{md}"),
                        Event::Text(t) => prop_assert!(!t.contains("@team") && !t.contains("#12"), "{md}"),
                        _ => {}
                    }
                }
                prop_assert_eq!((rows, cells), (1, 4), "{}", md);
                // The name is one code span, whole, in its cell.
                let shown = |s: &str| crate::text::visible(&s.replace('\n', " ")).trim().to_string();
                let whole = match &reason {
                    Reason::Paths { glob, .. } | Reason::Global { glob, .. } => Some(shown(glob)),
                    Reason::DependsOnCrate { krate, .. }
                    | Reason::DependsOnPackage { name: krate, .. } => Some(shown(krate)),
                    _ => None,
                };
                if let Some(w) = whole {
                    prop_assert!(w.is_empty() || codes.contains(&w), "{:?} not in {:?}: {}", w, codes, md);
                }
            }
        }
    }
}
