//! What the deploy comment's template sees: each row, failure, progressive
//! rollout, wave and one-off task turned into the values the template
//! prints, with every outside value left for the template's filters.

use super::*;

/// `family:revision` of a task definition ARN for the table; an ARN that
/// names no revision ([`crate::taskdef::arn_revision`]) is shown whole.
pub(super) fn revision(arn: &str) -> String {
    crate::taskdef::arn_revision(arn).map_or_else(|| arn.to_string(), |(f, r)| format!("{f}:{r}"))
}

pub(super) fn status_emoji(status: Status) -> &'static str {
    match status {
        Status::Succeeded => "✅",
        Status::Unchanged => "➖",
        Status::Failed => "❌",
        Status::RolledBack => "↩️",
        Status::Started => "🚀",
        Status::DryRun => "📝",
    }
}

/// What the template sees of one one-off task.
#[derive(Debug, Serialize)]
pub(super) struct TaskView<'a> {
    env: &'a str,
    service: &'a str,
    phase: &'a str,
    name: &'a str,
    emoji: &'static str,
    status: &'a str,
    exit_code: Option<i32>,
    duration: String,
}

/// Every row's one-off tasks, in row order.
pub(super) fn tasks_view(rows: &[Row]) -> Vec<TaskView<'_>> {
    rows.iter()
        .flat_map(|r| {
            r.tasks.iter().map(move |t| TaskView {
                env: &r.env,
                service: &r.service,
                phase: &t.phase,
                name: &t.name,
                emoji: match t.status.as_str() {
                    "succeeded" => "✅",
                    "skipped" => "⏭️",
                    _ => "❌",
                },
                status: &t.status,
                exit_code: t.exit_code,
                duration: crate::time::duration(t.duration_secs),
            })
        })
        .collect()
}

/// The wave (from 1) of `service` when there are two or more waves.
pub(super) fn wave_of(waves: &[Vec<String>], service: &str) -> Option<usize> {
    if waves.len() < 2 {
        return None;
    }
    waves
        .iter()
        .position(|w| w.iter().any(|s| s == service))
        .map(|i| i + 1)
}

/// What the template sees of one environment's waves: each wave, its
/// services with their status emoji.
#[derive(Debug, Serialize)]
pub(super) struct WavesView<'a> {
    env: &'a str,
    waves: Vec<Vec<(&'a str, &'static str)>>,
}

/// The waves of each environment whose rows carry two or more, in the
/// order the environments first appear.
pub(super) fn waves_view(rows: &[Row]) -> Vec<WavesView<'_>> {
    let mut views: Vec<WavesView<'_>> = Vec::new();
    for r in rows {
        let Some(wave) = r.wave.filter(|w| *w >= 1) else {
            continue;
        };
        let at = match views.iter().position(|v| v.env == r.env) {
            Some(at) => at,
            None => {
                views.push(WavesView {
                    env: &r.env,
                    waves: Vec::new(),
                });
                views.len() - 1
            }
        };
        let waves = &mut views[at].waves;
        if waves.len() < wave {
            waves.resize_with(wave, Vec::new);
        }
        waves[wave - 1].push((&r.service, status_emoji(r.status)));
    }
    views.retain_mut(|v| {
        v.waves.retain(|w| !w.is_empty());
        v.waves.len() > 1
    });
    views
}

/// What the template sees of a row.
#[derive(Debug, Serialize)]
pub(super) struct RowView<'a> {
    env: &'a str,
    service: &'a str,
    image: Option<String>,
    revision: Option<String>,
    emoji: &'static str,
    status: &'static str,
    duration: String,
    run_url: Option<&'a str>,
}

/// What the template sees of a failure.
#[derive(Debug, Serialize)]
pub(super) struct FailureView<'a> {
    env: &'a str,
    service: &'a str,
    emoji: &'static str,
    status: &'static str,
    diagnosis: Diagnosis,
    omitted_events: usize,
    omitted_logs: usize,
    omitted_tasks: usize,
    /// The log lines as a fenced block (its fence outlasts any backticks).
    log_block: Option<String>,
    rollback: Option<RollbackView>,
}

/// What the template sees of a progressive rollout.
#[derive(Debug, Serialize)]
pub(super) struct ProgressView<'a> {
    env: &'a str,
    service: &'a str,
    strategy: &'a str,
    version: &'a str,
    decided_by: Option<&'a str>,
    steps: Vec<StepView>,
}

/// One step, its figures already words.
#[derive(Debug, Serialize)]
pub(super) struct StepView {
    step: usize,
    traffic: String,
    stage: String,
    at: String,
    rounds: String,
    checks: Vec<String>,
    verdict: &'static str,
}

impl StepView {
    fn of(s: &StepReport) -> StepView {
        let checks = s
            .checks
            .iter()
            .map(|c| {
                let value = |v: Option<f64>| v.map_or("no data".into(), analysis::figure);
                let mut limits = Vec::new();
                if let Some(max) = c.max {
                    limits.push(format!("max {}", analysis::figure(max)));
                }
                if let Some(min) = c.min {
                    limits.push(format!("min {}", analysis::figure(min)));
                }
                if let Some(k) = c.max_vs_baseline {
                    limits.push(format!(
                        "≤ {}× max(baseline, {})",
                        analysis::figure(k),
                        analysis::figure(c.floor.unwrap_or_default())
                    ));
                }
                format!(
                    "{} {} {} (baseline {}; {})",
                    if c.passed() { "✅" } else { "❌" },
                    c.name,
                    value(c.canary),
                    value(c.baseline),
                    limits.join(", ")
                )
            })
            .collect();
        StepView {
            step: s.step,
            traffic: s
                .traffic_percent
                .map_or("–".into(), |p| format!("{}%", analysis::figure(p))),
            stage: s.stage.clone(),
            at: crate::time::duration(s.started_secs),
            rounds: match (s.rounds, s.failed_rounds) {
                (0, _) => "–".into(),
                (n, 0) => n.to_string(),
                (n, f) => format!("{n} ({f} failed)"),
            },
            checks,
            verdict: match s.verdict {
                None => "–",
                Some(Verdict::Healthy) => "healthy",
                Some(Verdict::Tolerated) => "tolerated",
                Some(Verdict::Abort) => "abort",
            },
        }
    }
}

#[derive(Debug, Serialize)]
pub(super) struct RollbackView {
    revision: String,
    succeeded: bool,
    reason: Option<String>,
}

#[derive(Debug, Serialize)]
pub(super) struct View<'a> {
    summary: bool,
    marker: &'static str,
    title: String,
    rows: Vec<RowView<'a>>,
    failures: Vec<FailureView<'a>>,
    progress: Vec<ProgressView<'a>>,
    /// The waves of each environment (the comment only: the job summary
    /// has its own section).
    waves: Vec<WavesView<'a>>,
    /// The one-off tasks of every row (the comment only: the job summary
    /// has its own section, with the log lines).
    tasks: Vec<TaskView<'a>>,
    /// True when diagnoses were cut to fit the comment.
    shortened: bool,
}

pub(super) fn view<'a>(
    rows: &'a [Row],
    trim: Trim,
    summary: bool,
    title: String,
    shortened: bool,
) -> View<'a> {
    let rows_view = rows
        .iter()
        .map(|r| RowView {
            env: &r.env,
            service: &r.service,
            image: r.image.as_deref().map(crate::image::short_image),
            revision: r.task_definition_arn.as_deref().map(revision),
            emoji: status_emoji(r.status),
            status: r.status.as_str(),
            duration: crate::time::duration(r.duration_secs),
            run_url: r.run_url.as_deref(),
        })
        .collect();
    let failures: Vec<FailureView<'_>> = rows
        .iter()
        .filter(|r| r.diagnosis.is_some() || r.rollback.is_some())
        .map(|r| {
            let full = r.diagnosis.clone().unwrap_or_default();
            let diagnosis = trim.apply(&full);
            let log_block = (!diagnosis.log_lines.is_empty()).then(|| {
                // Like `tail` over several files: the stream once, then its lines.
                let mut lines = Vec::with_capacity(diagnosis.log_lines.len() + 2);
                let mut stream: Option<&str> = None;
                for l in &diagnosis.log_lines {
                    if stream != Some(l.stream.as_str()) {
                        lines.push(format!("==> {} <==", l.stream));
                        stream = Some(&l.stream);
                    }
                    lines.push(l.message.clone());
                }
                markdown::fenced(&lines)
            });
            FailureView {
                env: &r.env,
                service: &r.service,
                emoji: status_emoji(r.status),
                status: r.status.as_str(),
                omitted_events: r.captured.events.max(full.events.len()) - diagnosis.events.len(),
                omitted_logs: r.captured.logs.max(full.log_lines.len()) - diagnosis.log_lines.len(),
                omitted_tasks: r.captured.tasks.max(full.stopped_tasks.len())
                    - diagnosis.stopped_tasks.len(),
                diagnosis,
                log_block,
                rollback: r.rollback.as_ref().map(|rb| RollbackView {
                    revision: revision(&rb.task_definition_arn),
                    succeeded: rb.succeeded,
                    reason: rb.reason.clone(),
                }),
            }
        })
        .collect();
    let shortened = shortened
        || failures
            .iter()
            .any(|f| f.omitted_events + f.omitted_logs + f.omitted_tasks > 0);
    let progress = rows
        .iter()
        .filter_map(|r| {
            let p = r.progress.as_ref()?;
            Some(ProgressView {
                env: &r.env,
                service: &r.service,
                strategy: &p.strategy,
                version: &p.version,
                decided_by: p.decided_by.as_deref(),
                steps: p.steps.iter().map(StepView::of).collect(),
            })
        })
        .collect();
    View {
        summary,
        marker: MARKER,
        title,
        rows: rows_view,
        failures,
        progress,
        waves: if summary {
            Vec::new()
        } else {
            waves_view(rows)
        },
        tasks: if summary {
            Vec::new()
        } else {
            tasks_view(rows)
        },
        shortened,
    }
}

pub(super) fn render_view(view: &View<'_>) -> String {
    let mut tera = markdown::tera();
    let rendered = tera
        .add_raw_template("deploy-comment.md", TEMPLATE)
        .and_then(|_| tera::Context::from_serialize(view))
        .and_then(|ctx| tera.render("deploy-comment.md", &ctx));
    // The template is built in and tested by snapshots; a failure here is a
    // bug, reported in place of the comment rather than as a crash.
    rendered.unwrap_or_else(|e| {
        format!(
            "{MARKER}\nThe deploy comment could not be rendered ({}); see the job summary.\n",
            markdown::text(&e.to_string())
        )
    })
}
