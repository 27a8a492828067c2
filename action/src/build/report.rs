//! What `build` tells workflows (outputs) and people (the job summary, and
//! the builder's log folded in a group per service).

use serde::Serialize;
use serde_json::json;

use super::{Outcome, Status};
use crate::gha::Reporter;

const SUMMARY: &str = include_str!("../../templates/build-summary.md.tera");

/// The data the summary template receives.
#[derive(Debug, Serialize)]
struct SummaryData<'a> {
    built: usize,
    reused: usize,
    failed: usize,
    /// Each outcome plus `size_text` (`12.3 MB`, or `–`).
    outcomes: Vec<Row<'a>>,
}

#[derive(Debug, Serialize)]
struct Row<'a> {
    #[serde(flatten)]
    outcome: &'a Outcome,
    size_text: String,
}

fn size_text(bytes: Option<i64>) -> String {
    match bytes {
        None => "–".into(),
        Some(b) if b < 1_000_000 => format!("{:.1} kB", b as f64 / 1e3),
        Some(b) => format!("{:.1} MB", b as f64 / 1e6),
    }
}

/// The markdown summary: one row per service.
pub fn summary_markdown(outcomes: &[Outcome]) -> String {
    let count = |f: fn(&Status) -> bool| outcomes.iter().filter(|o| f(&o.status)).count();
    let data = SummaryData {
        built: count(|s| *s == Status::Built),
        reused: count(|s| *s == Status::Reused),
        failed: count(|s| matches!(s, Status::Failed(_))),
        outcomes: outcomes
            .iter()
            .map(|o| Row {
                outcome: o,
                size_text: size_text(o.size),
            })
            .collect(),
    };
    let mut tera = crate::markdown::tera();
    let rendered = tera
        .add_raw_template("build-summary", SUMMARY)
        .and_then(|_| tera::Context::from_serialize(&data))
        .and_then(|ctx| tera.render("build-summary", &ctx));
    rendered.unwrap_or_else(|e| format!("build summary could not be rendered: {e}\n"))
}

/// Writes the logs (folded), the outputs and the summary.
///
/// Outputs: `image`, `tag`, `reused` for the first service (a matrix job
/// builds one), and `images`, a JSON object with all of them by service.
pub fn write(reporter: &mut Reporter, outcomes: &[Outcome]) -> std::io::Result<()> {
    for o in outcomes {
        if !o.log.is_empty() {
            reporter.group(&format!("build {} ({})", o.service, o.tag))?;
            // The builder's output is not ours: one block through the
            // reporter, which fences it with `::stop-commands::` when any
            // line could run as a workflow command.
            reporter.info(o.log.trim_end_matches('\n'))?;
            reporter.end_group()?;
        }
        if let Status::Failed(why) = &o.status {
            reporter.info(&format!("✗ {}: {why}", o.service))?;
        }
    }
    let ok: Vec<&Outcome> = outcomes.iter().filter(|o| o.image.is_some()).collect();
    if let Some(first) = ok.first() {
        reporter.output("image", first.image.as_deref().unwrap_or_default())?;
        reporter.output("tag", &first.tag)?;
        reporter.output(
            "reused",
            if first.status == Status::Reused {
                "true"
            } else {
                "false"
            },
        )?;
    }
    let all: serde_json::Map<String, serde_json::Value> = ok
        .iter()
        .map(|o| {
            (
                o.service.clone(),
                json!({
                    "image": o.image,
                    "tag": o.tag,
                    "content-tag": o.content_tag,
                    "reused": o.status == Status::Reused,
                }),
            )
        })
        .collect();
    reporter.output("images", &serde_json::Value::Object(all).to_string())?;
    reporter.summary(&summary_markdown(outcomes))
}
