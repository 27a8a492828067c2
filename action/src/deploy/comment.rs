//! The deploy comment and the job summary, as pure functions.
//!
//! One comment per pull request (marker `<!-- ferry:deploy -->`) holds a
//! table of environment × service. The staging job posts it and the prod
//! job edits it, so the comment carries its own state: a hidden, base64
//! JSON block on its last line, merged by (environment, service). A re-run
//! of an identical outcome keeps the first row as it was (duration
//! included), so it renders the same text and no edit is sent.

use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use serde::{Deserialize, Serialize};

use super::analysis::{self, Verdict};
use super::model::{DeployReport, Diagnosis, Rollback, ServiceOutcome, Status};
use super::progressive::{Progress, StepReport};
use super::trim::Trim;
use crate::markdown;
use crate::markdown::{COMMENT_MAX_BYTES, COMMENT_MAX_CHARS, SUMMARY_MAX_BYTES};
use crate::text::truncate_chars;

/// What the deploy summary may take of the job summary's 1 MiB (the rest is
/// left for other steps' summaries).
const SUMMARY_BUDGET_BYTES: usize = SUMMARY_MAX_BYTES - 128 * 1024;

/// The hidden first line the comment is found by.
pub const MARKER: &str = "<!-- ferry:deploy -->";
/// The start of the hidden state line (the comment's last line).
const STATE_PREFIX: &str = "<!-- ferry:deploy:state v1 ";
const STATE_SUFFIX: &str = " -->";
const TEMPLATE: &str = include_str!("../../templates/deploy-comment.md.tera");

mod view;
use view::{render_view, view, wave_of};

/// One row of the comment: one service in one environment.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Row {
    /// The environment.
    pub env: String,
    /// The manifest's service.
    pub service: String,
    /// The commit released.
    pub sha: String,
    /// The image deployed.
    pub image: Option<String>,
    /// The task definition put on the service.
    pub task_definition_arn: Option<String>,
    /// How it ended.
    pub status: Status,
    /// Seconds, from the first run of this outcome.
    pub duration_secs: f64,
    /// The workflow run that did it.
    pub run_url: Option<String>,
    /// Why it failed (kept short in the comment; the summary has it all).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub diagnosis: Option<Diagnosis>,
    /// The rollback, when one was attempted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rollback: Option<Rollback>,
    /// How big the diagnosis was before it was shortened.
    #[serde(default)]
    pub captured: Counts,
    /// The steps and analysis of a progressive rollout.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub progress: Option<Progress>,
    /// The wave (from 1) the service rolled out in, when its environment's
    /// release had two or more (`depends-on`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub wave: Option<usize>,
    /// Its one-off tasks (`before-deploy`, `after-deploy`) and how each
    /// ended; their logs are in the diagnosis (failed) and the summary.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tasks: Vec<TaskNote>,
}

/// One one-off task as the comment keeps it: what ran and how it ended.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TaskNote {
    /// `before-deploy` or `after-deploy`.
    pub phase: String,
    /// The manifest's name.
    pub name: String,
    /// `succeeded`, `failed`, `timed out` or `skipped`.
    pub status: String,
    /// The exit code of the container that ran the command.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exit_code: Option<i32>,
    /// Seconds it ran.
    pub duration_secs: f64,
}

/// Sizes of a diagnosis as captured.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Counts {
    /// Stopped tasks.
    pub tasks: usize,
    /// Service events.
    pub events: usize,
    /// Log lines.
    pub logs: usize,
}

impl Row {
    fn from_outcome(o: &ServiceOutcome, report: &DeployReport, trim: Trim) -> Row {
        Row {
            env: o.env.clone(),
            service: o.service.clone(),
            sha: report.sha.clone(),
            image: o.image.clone(),
            task_definition_arn: o.task_definition_arn.clone(),
            status: o.status,
            duration_secs: o.duration_secs,
            run_url: report.run_url.clone(),
            diagnosis: o.diagnosis.as_ref().map(|d| trim.apply(d)),
            rollback: o.rollback.clone(),
            captured: o
                .diagnosis
                .as_ref()
                .map_or_else(Counts::default, |d| Counts {
                    tasks: d.stopped_tasks.len(),
                    events: d.events.len(),
                    logs: d.log_lines.len(),
                }),
            progress: o.progress.clone(),
            wave: wave_of(&report.waves, &o.service),
            tasks: o
                .tasks
                .iter()
                .map(|t| TaskNote {
                    phase: t.phase.as_str().to_string(),
                    name: t.name.clone(),
                    status: t.status.as_str().to_string(),
                    exit_code: t.exit_code,
                    duration_secs: t.duration_secs,
                })
                .collect(),
        }
    }

    /// The same outcome: a re-run changes nothing the comment shows.
    fn same_outcome(&self, other: &Row) -> bool {
        self.env == other.env
            && self.service == other.service
            && self.sha == other.sha
            && self.image == other.image
            && self.task_definition_arn == other.task_definition_arn
            && self.status == other.status
    }
}

/// What the comment shows, merged over every job that edited it.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct CommentState {
    /// Rows in the order they first appeared (staging before prod).
    pub rows: Vec<Row>,
    /// Problems reading the previous comment (a corrupt state block).
    #[serde(skip)]
    pub warnings: Vec<String>,
}

/// Reads the state of a previous comment body; a missing state is empty,
/// a corrupt or foreign one is ignored with a warning.
pub fn parse_state(body: &str) -> CommentState {
    let Some(last) = body.lines().rev().find(|l| !l.trim().is_empty()) else {
        return CommentState::default();
    };
    let last = last.trim();
    let Some(encoded) = last
        .strip_prefix(STATE_PREFIX)
        .and_then(|r| r.strip_suffix(STATE_SUFFIX))
    else {
        let warning = if body.contains("<!-- ferry:deploy:state") {
            "the previous deploy comment's state block is not on its last line or has an unknown version; its rows are dropped".to_string()
        } else {
            "the previous deploy comment has no state block; its rows are dropped".to_string()
        };
        return CommentState {
            rows: Vec::new(),
            warnings: vec![warning],
        };
    };
    let decoded = BASE64
        .decode(encoded.trim())
        .map_err(|e| e.to_string())
        .and_then(|bytes| {
            serde_json::from_slice::<CommentState>(&bytes).map_err(|e| e.to_string())
        });
    match decoded {
        Ok(state) => state,
        Err(e) => CommentState {
            rows: Vec::new(),
            warnings: vec![format!(
                "the previous deploy comment's state block is corrupt ({}); its rows are dropped",
                truncate_chars(&e, 120)
            )],
        },
    }
}

/// The previous comment's rows with this report's outcomes merged in by
/// (environment, service). An identical outcome keeps the earlier row.
pub fn merge(previous: Option<&str>, report: &DeployReport) -> CommentState {
    let mut state = previous.map(parse_state).unwrap_or_default();
    for o in &report.outcomes {
        let row = Row::from_outcome(o, report, Trim::COMMENT);
        match state
            .rows
            .iter_mut()
            .find(|r| r.env == row.env && r.service == row.service)
        {
            Some(old) if old.same_outcome(&row) => {}
            Some(old) => *old = row,
            None => state.rows.push(row),
        }
    }
    state
}

fn state_line(state: &CommentState) -> String {
    let json = serde_json::to_vec(state).unwrap_or_default();
    format!("{STATE_PREFIX}{}{STATE_SUFFIX}", BASE64.encode(json))
}

fn title(rows: &[Row]) -> String {
    let mut shas: Vec<&str> = rows.iter().map(|r| r.sha.as_str()).collect();
    shas.dedup();
    match shas.as_slice() {
        [one] => format!(
            "Ferry deploy of {}",
            markdown::code(&one.chars().take(7).collect::<String>())
        ),
        _ => "Ferry deploy".to_string(),
    }
}

fn fits(text: &str) -> bool {
    text.len() <= COMMENT_MAX_BYTES && text.chars().count() <= COMMENT_MAX_CHARS
}

/// The comment body: the table, failures in collapsed blocks, the state.
/// Diagnoses are shortened step by step until it fits GitHub's limit; the
/// comment then says so and points to the job summary.
pub fn render_comment(state: &CommentState) -> String {
    let mut last = String::new();
    for (i, trim) in Trim::SHORTER.iter().enumerate() {
        let mut kept = state.clone();
        for r in &mut kept.rows {
            r.diagnosis = r.diagnosis.as_ref().map(|d| trim.apply(d));
        }
        let body = render_view(&view(&kept.rows, *trim, false, title(&kept.rows), i > 0));
        last = format!("{body}\n{}\n", state_line(&kept));
        if fits(&last) {
            return last;
        }
    }
    // Even one line per failure is too much (hundreds of services): the table only.
    let mut bare = state.clone();
    for r in &mut bare.rows {
        r.diagnosis = None;
    }
    let body = render_view(&view(
        &bare.rows,
        Trim::SHORTER[3],
        false,
        title(&bare.rows),
        true,
    ));
    let text = format!("{body}\n{}\n", state_line(&bare));
    if fits(&text) { text } else { last }
}

/// What a dry run shows of the comment it would post: the text reviewers
/// would read, without the hidden state line (machine data, noise on a
/// terminal).
pub fn preview(report: &DeployReport) -> String {
    render_comment(&merge(None, report))
        .lines()
        .filter(|l| !l.starts_with(STATE_PREFIX))
        .collect::<Vec<_>>()
        .join("\n")
}

/// The job summary: the same table for this run, and every diagnosis in full.
pub fn render_summary(report: &DeployReport) -> String {
    let rows: Vec<Row> = report
        .outcomes
        .iter()
        .map(|o| Row::from_outcome(o, report, Trim::FULL))
        .collect();
    let title = format!("{} to {}", title(&rows), markdown::code(&report.env));
    let text = render_view(&view(&rows, Trim::FULL, true, title.clone(), false));
    if text.len() <= SUMMARY_BUDGET_BYTES {
        return text;
    }
    // A summary has 1 MiB: thousands of lines still fit, tens of thousands do not.
    for trim in [
        Trim {
            logs: 2000,
            events: 500,
            ..Trim::FULL
        },
        Trim::COMMENT,
    ] {
        let text = render_view(&view(&rows, trim, true, title.clone(), true));
        if text.len() <= SUMMARY_BUDGET_BYTES {
            return text;
        }
    }
    render_view(&view(&rows, Trim::SHORTER[3], true, title, true))
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::view::revision;
    use super::*;

    #[test]
    fn a_preview_is_the_comment_without_its_state_line() {
        let report = DeployReport {
            env: "staging".into(),
            sha: "3f29666aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa".into(),
            run_url: None,
            environment_url: None,
            outcomes: Vec::new(),
            waves: Vec::new(),
        };
        let full = render_comment(&merge(None, &report));
        let preview = preview(&report);
        assert!(full.contains(STATE_PREFIX));
        assert!(!preview.contains(STATE_PREFIX), "{preview}");
        assert!(preview.starts_with(MARKER), "{preview}");
    }

    #[test]
    fn names_are_shortened_for_the_table() {
        assert_eq!(
            revision("arn:aws:ecs:us-east-1:123456789012:task-definition/shop-staging-api:12"),
            "shop-staging-api:12"
        );
        // An ARN that names no revision is shown whole, not as one.
        assert_eq!(
            revision("arn:aws:ecs:us-east-1:1:task-definition/x"),
            "arn:aws:ecs:us-east-1:1:task-definition/x"
        );
    }

    fn canary_progress(version: &str) -> Progress {
        use crate::deploy::analysis::CheckResult;
        let check = |canary: Option<f64>, failure: Option<&str>| CheckResult {
            name: "error-ratio".into(),
            canary,
            baseline: Some(0.001),
            max: Some(0.01),
            min: None,
            max_vs_baseline: Some(2.0),
            floor: Some(0.001),
            failure: failure.map(str::to_string),
        };
        Progress {
            strategy: "canary".into(),
            version: version.into(),
            steps: vec![
                StepReport {
                    step: 1,
                    stage: "SCALE_UP".into(),
                    traffic_percent: None,
                    started_secs: 0.4,
                    ..StepReport::default()
                },
                StepReport {
                    step: 2,
                    stage: "PRODUCTION_TRAFFIC_SHIFT".into(),
                    traffic_percent: Some(10.0),
                    started_secs: 31.0,
                    rounds: 2,
                    failed_rounds: 2,
                    checks: vec![check(Some(0.2), Some("error-ratio = 0.2 is above 0.01"))],
                    verdict: Some(Verdict::Abort),
                },
            ],
            decided_by: Some(
                "analysis failed at step 2: 10% traffic (PRODUCTION_TRAFFIC_SHIFT): error-ratio = 0.2 is above 0.01 (2 of 2 rounds failed)".into(),
            ),
        }
    }

    /// The reviewer sees each step with its traffic, the figures against
    /// their thresholds and the verdict; a hostile version stays text.
    #[test]
    fn a_progressive_rollout_shows_its_steps_and_what_decided() {
        let report = DeployReport {
            env: "prod".into(),
            sha: "0123456789abcdef".into(),
            run_url: None,
            environment_url: None,
            outcomes: vec![ServiceOutcome {
                service: "sampleapi".into(),
                env: "prod".into(),
                cluster: "c".into(),
                ecs_service: "s".into(),
                image: Some("r/p/sampleapi:v2".into()),
                task_definition_arn: Some(
                    "arn:aws:ecs:us-east-1:1:task-definition/p-sampleapi:7".into(),
                ),
                registered: true,
                deployment_id: None,
                status: Status::RolledBack,
                duration_secs: 95.0,
                diagnosis: None,
                rollback: None,
                progress: Some(canary_progress("v2</summary><img src=x>`|")),
                tasks: Vec::new(),
            }],
            waves: Vec::new(),
        };
        let text = preview(&report);
        assert!(!text.contains("<img"), "{text}");
        insta::assert_snapshot!(text);
    }

    #[test]
    fn a_state_block_round_trips_and_garbage_is_a_warning() {
        let state = CommentState {
            rows: vec![Row {
                env: "staging".into(),
                service: "api".into(),
                sha: "abc".into(),
                image: None,
                task_definition_arn: None,
                status: Status::Succeeded,
                duration_secs: 12.5,
                run_url: None,
                diagnosis: None,
                rollback: None,
                captured: Counts::default(),
                progress: Some(canary_progress("v2")),
                wave: Some(2),
                tasks: vec![TaskNote {
                    phase: "before-deploy".into(),
                    name: "migrate".into(),
                    status: "succeeded".into(),
                    exit_code: Some(0),
                    duration_secs: 41.0,
                }],
            }],
            warnings: vec![],
        };
        let body = render_comment(&state);
        assert_eq!(parse_state(&body), state);
        assert!(
            body.contains(
                "**One-off tasks**: `staging` / `api` before-deploy `migrate` ✅ succeeded (exit 0) in 41s"
            ),
            "{body}"
        );
        let corrupt = body.replace(STATE_PREFIX, &format!("{STATE_PREFIX}!!"));
        let read = parse_state(&corrupt);
        assert!(read.rows.is_empty());
        assert!(read.warnings[0].contains("corrupt"), "{:?}", read.warnings);
        assert!(parse_state("").warnings.is_empty());
    }
}
