//! One-off tasks of a release (`before-deploy`, `after-deploy` in the
//! manifest): a migration before a service's rollout, a smoke test after.
//! [`plan`] decides (which tasks, which command, skipped on a record of
//! success); [`run`] carries them out over the ECS port. The functions here
//! are the few calls the deploy makes: attach the tasks to the plans, run
//! the before-deploy tasks before UpdateService (a failure stops that
//! service, nothing updated), the after-deploy tasks once the service
//! succeeded, and say what they did in the log, the summary and the records.

pub mod plan;
pub mod run;

pub use plan::{Phase, PlannedTask, ServiceTasks, TaskRun, TaskStatus};

use super::model::{Diagnosis, ServiceOutcome, Status, StoppedTask};
use super::options::RolloutOptions;
use super::plan::{DeployPlan, ServicePlan};
use crate::diagnostic::Diagnostic;
use crate::markdown;
use crate::project::Project;

/// Renders the tasks' own task definitions (`task-definition:`) like their
/// service's (same image, variables and checks), every problem at once,
/// so a broken one stops the deploy before anything is touched.
pub fn render_own(
    project: &Project,
    services: &mut [ServicePlan],
    env_vars: &std::collections::BTreeMap<String, String>,
) -> Result<(), Vec<Diagnostic>> {
    let mut problems = Vec::new();
    for p in services.iter_mut() {
        let ServicePlan {
            service,
            env,
            image,
            tasks,
            ..
        } = p;
        for task in tasks.before.iter_mut().chain(tasks.after.iter_mut()) {
            let Some(file) = task.task.task_definition.clone() else {
                continue;
            };
            // The service rendered from the task's file instead of its own.
            let mut manifest = project.manifest.clone();
            if let Some(s) = manifest.services.get_mut(service.as_str()) {
                s.task_definition = file;
            }
            let opts = crate::render::Options {
                image: image.clone(),
                env_vars: env_vars.clone(),
                ..crate::render::Options::default()
            };
            match crate::render::render_one(&project.root, &manifest, service, env, &opts) {
                Ok(r) => task.own = Some(r.task_definition),
                Err(d) => problems.extend(d),
            }
        }
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(problems)
    }
}

/// The deploy's options applied to every plan's tasks: the poll interval,
/// and `--rerun-tasks`, which forgets the records of success.
pub fn apply_options(plan: &mut DeployPlan, opts: &RolloutOptions) {
    for p in &mut plan.services {
        p.tasks.poll = Some(opts.poll_interval);
        if opts.rerun_tasks {
            p.tasks.done.clear();
        }
    }
}

/// Runs the before-deploy tasks of a service going on `arn`; false (and
/// `out` failed, with the task's exit, stop reason and log tail) when one
/// did not succeed: then the service must not be updated.
pub async fn before_deploy(
    ecs: &dyn crate::aws::ecs::Ecs,
    plan: &ServicePlan,
    arn: &str,
    out: &mut ServiceOutcome,
    log: &mut Vec<String>,
) -> bool {
    let poll = plan.tasks.poll.unwrap_or(run::DEFAULT_POLL);
    let runs = run::run_phase(ecs, plan, arn, Phase::BeforeDeploy, poll, log).await;
    let failed = runs.iter().find(|r| failed(r)).cloned();
    out.tasks.extend(runs);
    let Some(run) = failed else {
        return true;
    };
    out.status = Status::Failed;
    out.diagnosis = Some(diagnosis(&run, "the service was not updated"));
    false
}

/// Runs the after-deploy tasks of each service that succeeded; a failure
/// marks the service failed (it stays on the new revision). The log lines.
pub async fn after_deploy(
    ecs: &dyn crate::aws::ecs::Ecs,
    plans: &[ServicePlan],
    outcomes: &mut [ServiceOutcome],
) -> Vec<String> {
    let mut log = Vec::new();
    for out in outcomes.iter_mut() {
        let Some(plan) = plans.iter().find(|p| p.service == out.service) else {
            continue;
        };
        if out.status != Status::Succeeded || plan.tasks.after.is_empty() {
            continue;
        }
        let Some(arn) = out.task_definition_arn.clone() else {
            continue;
        };
        let poll = plan.tasks.poll.unwrap_or(run::DEFAULT_POLL);
        let runs = run::run_phase(ecs, plan, &arn, Phase::AfterDeploy, poll, &mut log).await;
        let failed = runs.iter().find(|r| failed(r)).cloned();
        out.tasks.extend(runs);
        if let Some(run) = failed {
            out.status = Status::Failed;
            out.diagnosis = Some(diagnosis(
                &run,
                "the service runs the new revision: it was not rolled back",
            ));
        }
    }
    log
}

fn failed(run: &TaskRun) -> bool {
    matches!(run.status, TaskStatus::Failed | TaskStatus::TimedOut)
}

/// A failed task as the service's diagnosis: the reason, the task with its
/// exit, and its log tail (rendered by the comment and the summary through
/// their escaping, as any diagnosis).
fn diagnosis(run: &TaskRun, note: &str) -> Diagnosis {
    let reason = format!(
        "{} task {} {}{}",
        run.phase.as_str(),
        run.name,
        run.status.as_str(),
        match (run.exit_code, &run.reason) {
            (Some(code), _) if code != 0 => format!(" (exit {code})"),
            _ => String::new(),
        }
    );
    let stream = run
        .task_arn
        .as_deref()
        .map(|a| format!("{} task {}", run.name, super::diagnose::task_id(a)))
        .unwrap_or_else(|| run.name.clone());
    Diagnosis {
        reason,
        stopped_tasks: run
            .task_arn
            .iter()
            .map(|arn| StoppedTask {
                task_arn: arn.clone(),
                stop_code: None,
                stopped_reason: run.reason.clone(),
                containers: Vec::new(),
            })
            .collect(),
        events: Vec::new(),
        log_lines: run
            .log_lines
            .iter()
            .map(|message| super::model::LogLine {
                stream: stream.clone(),
                message: message.clone(),
            })
            .collect(),
        notes: std::iter::once(note.to_string())
            .chain(
                run.reason
                    .iter()
                    .filter(|_| run.task_arn.is_none())
                    .cloned(),
            )
            .collect(),
    }
}

/// The before-deploy tasks that succeeded in this report, as GitHub
/// deployment status descriptions for each service's release record.
pub fn records_of(out: &ServiceOutcome) -> Vec<String> {
    let Some(arn) = out.task_definition_arn.as_deref() else {
        return Vec::new();
    };
    out.tasks
        .iter()
        .filter(|r| r.phase == Phase::BeforeDeploy && r.status == TaskStatus::Succeeded)
        .map(|r| plan::record_line(&r.name, arn))
        .collect()
}

/// What a dry run says of each service's tasks: which would run, with which
/// command, on which task definition.
pub fn dry_lines(plan: &DeployPlan) -> Vec<String> {
    let mut lines = Vec::new();
    for p in &plan.services {
        for (phase, list) in [
            (Phase::BeforeDeploy, &p.tasks.before),
            (Phase::AfterDeploy, &p.tasks.after),
        ] {
            for task in list {
                lines.push(format!(
                    "dry run: {} ({}) would run {} {}",
                    p.service,
                    p.env,
                    phase.as_str(),
                    plan::describe(task, &p.task_definition)
                ));
            }
        }
    }
    lines
}

/// The summary's tasks section: one line per task that ran (or was
/// skipped), its log tail in a fenced block. Every value from outside (the
/// command, ECS's reason, the log lines) goes through [`markdown`].
pub fn markdown(outcomes: &[ServiceOutcome]) -> String {
    if outcomes.iter().all(|o| o.tasks.is_empty()) {
        return String::new();
    }
    let mut md = String::from("### One-off tasks\n\n");
    for o in outcomes {
        for r in &o.tasks {
            let emoji = match r.status {
                TaskStatus::Succeeded => "✅",
                TaskStatus::Skipped => "➖",
                TaskStatus::Failed | TaskStatus::TimedOut => "❌",
            };
            let mut line = format!(
                "- {emoji} {} · {} {}: {}",
                markdown::code(&o.service),
                r.phase.as_str(),
                markdown::code(&r.name),
                r.status.as_str()
            );
            if let Some(code) = r.exit_code {
                line.push_str(&format!(" (exit {code})"));
            }
            if let Some(cmd) = &r.command {
                line.push_str(&format!(" · {}", markdown::code(&cmd.join(" "))));
            }
            if let Some(reason) = &r.reason {
                line.push_str(&format!(" · {}", markdown::text(reason)));
            }
            line.push_str(&format!(" · {}\n", crate::time::duration(r.duration_secs)));
            md.push_str(&line);
            if !r.log_lines.is_empty() {
                md.push('\n');
                md.push_str(&markdown::fenced(&r.log_lines));
                md.push('\n');
            }
        }
    }
    md
}

#[cfg(test)]
mod tests;
