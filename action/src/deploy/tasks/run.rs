//! The effects of one-off tasks, over the [`Ecs`] port: each task of a
//! phase run with RunTask where the service runs (its network and
//! capacity), waited on until it stops or its timeout (then StopTask), its
//! exit judged and its last log lines read. One task after another; the
//! first that fails ends the phase.

use std::time::Duration;

use tokio::time::Instant;

use super::plan::{self, Phase, PlannedTask, TaskRun, TaskStatus};
use crate::aws::ecs::{Ecs, Launch, RunTask, Task};
use crate::deploy::budget::Budget;
use crate::deploy::diagnose::log_streams;
use crate::deploy::plan::ServicePlan;

/// Log lines kept of each task.
pub const TAIL: usize = 20;
/// Time between two DescribeTasks of a running task, when the deploy does
/// not say.
pub const DEFAULT_POLL: Duration = Duration::from_secs(6);

/// Runs `phase`'s tasks of `plan`, whose service is (or goes) on `arn`:
/// what each did, in order, stopping at the first that did not succeed.
/// `log` hears a line as each starts and ends.
pub async fn run_phase(
    ecs: &dyn Ecs,
    plan: &ServicePlan,
    arn: &str,
    phase: Phase,
    poll: Duration,
    log: &mut Vec<String>,
) -> Vec<TaskRun> {
    let tasks = plan::to_run(&plan.tasks, phase);
    if tasks.is_empty() {
        return Vec::new();
    }
    let name = format!("{} ({})", plan.service, plan.env);
    let mut runs = Vec::new();
    let mut launch: Option<Launch> = None;
    for (task, skip) in tasks {
        if skip {
            log.push(format!(
                "{name}: {} task {} already succeeded for {}: skipped (--rerun-tasks runs it again)",
                phase.as_str(),
                task.task.name,
                revision(arn)
            ));
            runs.push(skipped(phase, task, arn));
            continue;
        }
        if launch.is_none() {
            match ecs.service_launch(&plan.cluster, &plan.ecs_service).await {
                Ok(Some(l)) => launch = Some(l),
                Ok(None) => {
                    runs.push(not_started(
                        phase,
                        task,
                        format!(
                            "ECS service {} was not found in cluster {}: its network configuration is what the task runs with",
                            plan.ecs_service, plan.cluster
                        ),
                    ));
                    break;
                }
                Err(e) => {
                    runs.push(not_started(phase, task, e.to_string()));
                    break;
                }
            }
        }
        let Some(launch) = launch.as_ref() else {
            break;
        };
        log.push(format!(
            "{name}: {} {}",
            phase.as_str(),
            plan::describe(task, &plan.task_definition)
        ));
        let run = run_one(ecs, plan, arn, phase, task, launch, poll).await;
        log.push(format!(
            "{name}: {} task {} {}{}",
            phase.as_str(),
            run.name,
            run.status.as_str(),
            run.reason
                .as_deref()
                .map(|r| format!(": {r}"))
                .unwrap_or_default()
        ));
        let ok = run.status == TaskStatus::Succeeded;
        runs.push(run);
        if !ok {
            break;
        }
    }
    runs
}

/// `family:revision` of an ARN, or the ARN.
fn revision(arn: &str) -> String {
    crate::taskdef::arn_revision(arn).map_or_else(|| arn.to_string(), |(f, r)| format!("{f}:{r}"))
}

fn skipped(phase: Phase, task: &PlannedTask, arn: &str) -> TaskRun {
    TaskRun {
        phase,
        name: task.task.name.clone(),
        command: task.task.command.clone(),
        task_arn: None,
        status: TaskStatus::Skipped,
        exit_code: None,
        reason: Some(format!(
            "already succeeded for {} (recorded on the release's GitHub Deployment)",
            revision(arn)
        )),
        log_lines: Vec::new(),
        duration_secs: 0.0,
    }
}

fn not_started(phase: Phase, task: &PlannedTask, reason: String) -> TaskRun {
    TaskRun {
        phase,
        name: task.task.name.clone(),
        command: task.task.command.clone(),
        task_arn: None,
        status: TaskStatus::Failed,
        exit_code: None,
        reason: Some(format!("not started: {reason}")),
        log_lines: Vec::new(),
        duration_secs: 0.0,
    }
}

/// One task: registered (its own definition), run, waited on, judged, its
/// log tail read.
async fn run_one(
    ecs: &dyn Ecs,
    plan: &ServicePlan,
    service_arn: &str,
    phase: Phase,
    task: &PlannedTask,
    launch: &Launch,
    poll: Duration,
) -> TaskRun {
    let start = Instant::now();
    let td = task.own.as_ref().unwrap_or(&plan.task_definition);
    let td_arn = match &task.own {
        None => service_arn.to_string(),
        Some(own) => {
            let budget = Budget::new(1.0, 1);
            match crate::deploy::register::ensure_registered(ecs, &budget, own).await {
                Ok(r) => r.arn,
                Err(e) => return not_started(phase, task, e.to_string()),
            }
        }
    };
    let container = match plan::container(&task.task, td) {
        Ok(c) => c,
        Err(e) => return not_started(phase, task, e),
    };
    let started_by = plan::started_by(phase, &task.task.name);
    let run = RunTask {
        cluster: &plan.cluster,
        task_definition: &td_arn,
        launch,
        command: task
            .task
            .command
            .as_deref()
            .map(|cmd| (container.as_str(), cmd)),
        started_by: &started_by,
    };
    let task_arn = match ecs.run_task(run).await {
        Ok(arn) => arn,
        Err(e) => return not_started(phase, task, e.to_string()),
    };
    let (stopped, timed_out) = wait(ecs, &plan.cluster, &task_arn, task, poll).await;
    let (mut status, exit_code, mut reason) = match &stopped {
        Ok(t) => plan::judge(t, &container),
        Err(why) => (TaskStatus::Failed, None, Some(why.clone())),
    };
    if timed_out {
        status = TaskStatus::TimedOut;
        reason = Some(format!(
            "ran past its timeout of {}: stopped (StopTask){}",
            crate::time::duration(task.task.timeout.as_secs_f64()),
            reason.map(|r| format!("; {r}")).unwrap_or_default()
        ));
    }
    let mut log_lines = Vec::new();
    for (_, group, stream) in log_streams(td, &task_arn)
        .into_iter()
        .filter(|(c, _, _)| *c == container)
    {
        match ecs.last_log_lines(&group, &stream, TAIL).await {
            Ok(lines) => log_lines.extend(lines),
            Err(e) => tracing::warn!("no log lines of {group} {stream}: {e}"),
        }
    }
    TaskRun {
        phase,
        name: task.task.name.clone(),
        command: task.task.command.clone(),
        task_arn: Some(task_arn),
        status,
        exit_code,
        reason,
        log_lines,
        duration_secs: start.elapsed().as_secs_f64(),
    }
}

/// Polls the task until it stops or its timeout passes (then StopTask and
/// one last look): the task as last seen (or why it is unknown), and
/// whether the timeout stopped it.
async fn wait(
    ecs: &dyn Ecs,
    cluster: &str,
    arn: &str,
    task: &PlannedTask,
    poll: Duration,
) -> (Result<Task, String>, bool) {
    let deadline = Instant::now() + task.task.timeout;
    let mut last: Result<Task, String> = Err("ECS never described the task".into());
    loop {
        let now = Instant::now();
        if now >= deadline {
            break;
        }
        tokio::time::sleep(poll.min(deadline - now)).await;
        match ecs.describe_task(cluster, arn).await {
            Ok(Some(state)) if state.stopped() => return (Ok(state.task), false),
            Ok(Some(state)) => last = Ok(state.task),
            Ok(None) => return (Err(format!("ECS does not know task {arn} any more")), false),
            Err(e) => last = Err(e.to_string()),
        }
    }
    let reason = format!(
        "Ferry: {} ran past its timeout",
        crate::text::truncate_chars(&task.task.name, 24)
    );
    if let Err(e) = ecs.stop_task(cluster, arn, &reason).await {
        return (Err(format!("StopTask failed: {e}")), true);
    }
    match ecs.describe_task(cluster, arn).await {
        Ok(Some(state)) => (Ok(state.task), true),
        _ => (last, true),
    }
}
