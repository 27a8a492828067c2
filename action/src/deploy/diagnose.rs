//! Evidence of a failed rollout, captured when it fails (ECS forgets stopped
//! tasks after about an hour): the deployment's stopped tasks with their
//! stop codes and container exits, the service events since it started, and
//! the last log lines of the failed containers from CloudWatch Logs. Missing
//! evidence is a note in the diagnosis, never a second failure.

use super::model::{ContainerExit, Diagnosis, LogLine, ServiceEvent, StoppedTask};
use crate::aws::AwsError;
use crate::aws::ecs::{Ecs, Task};
use crate::taskdef::TaskDefinition;

/// How many stopped tasks' logs are read (the newest ones).
const TASKS_WITH_LOGS: usize = 3;

/// The stopped tasks ECS started for `deployment_id`, newest first.
pub async fn stopped_tasks(
    ecs: &dyn Ecs,
    cluster: &str,
    deployment_id: &str,
) -> Result<Vec<StoppedTask>, AwsError> {
    let tasks = ecs.stopped_tasks(cluster, deployment_id).await?;
    Ok(tasks.into_iter().map(stopped_task).collect())
}

fn stopped_task(task: Task) -> StoppedTask {
    StoppedTask {
        task_arn: task.arn,
        stop_code: task.stop_code,
        stopped_reason: task.stopped_reason,
        containers: task
            .containers
            .into_iter()
            .map(|(name, exit_code, reason)| ContainerExit {
                name,
                exit_code,
                reason,
            })
            .collect(),
    }
}

/// One line for a stopped task: `stopCode: stoppedReason (container: reason, exit N)`.
pub fn one_line(task: &StoppedTask) -> String {
    let mut line = match (&task.stop_code, &task.stopped_reason) {
        (Some(c), Some(r)) => format!("{c}: {r}"),
        (Some(c), None) => c.clone(),
        (None, Some(r)) => r.clone(),
        (None, None) => "stopped".into(),
    };
    let exits: Vec<String> = task
        .containers
        .iter()
        .filter(|c| c.reason.is_some() || c.exit_code.is_some_and(|x| x != 0))
        .map(|c| {
            let mut s = c.name.clone();
            if let Some(r) = &c.reason {
                s.push_str(&format!(": {r}"));
            }
            if let Some(x) = c.exit_code {
                s.push_str(&format!(", exit {x}"));
            }
            s
        })
        .collect();
    if !exits.is_empty() {
        line.push_str(&format!(" ({})", exits.join("; ")));
    }
    line
}

/// The task id: the last segment of its ARN.
pub fn task_id(arn: &str) -> &str {
    arn.rsplit('/').next().unwrap_or(arn)
}

/// `(container, group, stream)` of each awslogs container of a task, from
/// the task definition's logConfiguration: stream = `<prefix>/<container>/<task-id>`.
pub fn log_streams(
    task_definition: &TaskDefinition,
    task_arn: &str,
) -> Vec<(String, String, String)> {
    let id = task_id(task_arn);
    task_definition
        .containers()
        .filter_map(|c| {
            let name = c.name()?;
            let log = c.awslogs()?;
            let group = log.option("awslogs-group")?;
            let prefix = log.option("awslogs-stream-prefix")?;
            Some((
                name.to_string(),
                group.to_string(),
                format!("{prefix}/{name}/{id}"),
            ))
        })
        .collect()
}

/// What a diagnosis is about.
#[derive(Debug, Clone, Copy)]
pub struct Subject<'a> {
    /// The cluster.
    pub cluster: &'a str,
    /// Our deployment, when known.
    pub deployment_id: Option<&'a str>,
    /// The rendered task definition (for the log configuration).
    pub task_definition: &'a TaskDefinition,
}

/// Captures the diagnosis of a failed rollout now.
#[tracing::instrument(name = "diagnose", skip_all)]
pub async fn diagnose(
    ecs: &dyn Ecs,
    subject: Subject<'_>,
    reason: String,
    events: Vec<ServiceEvent>,
    log_lines: usize,
) -> Diagnosis {
    let mut d = Diagnosis {
        reason,
        events,
        ..Diagnosis::default()
    };
    let Some(deployment) = subject.deployment_id else {
        d.notes
            .push("the deployment id is unknown: no stopped tasks to show".into());
        return d;
    };
    match stopped_tasks(ecs, subject.cluster, deployment).await {
        Ok(tasks) => d.stopped_tasks = tasks,
        Err(e) => d.notes.push(format!("stopped tasks unavailable: {e}")),
    }
    if d.stopped_tasks.is_empty() {
        d.notes
            .push(format!("no stopped tasks of {deployment} were found"));
    }
    if log_lines == 0 {
        return d;
    }
    for task in d.stopped_tasks.iter().take(TASKS_WITH_LOGS) {
        for (_, group, stream) in log_streams(subject.task_definition, &task.task_arn) {
            match ecs.last_log_lines(&group, &stream, log_lines).await {
                Ok(lines) => {
                    if lines.is_empty() {
                        d.notes.push(format!("no log lines in {group} {stream}"));
                    }
                    d.log_lines.extend(lines.into_iter().map(|message| LogLine {
                        stream: stream.clone(),
                        message,
                    }));
                }
                Err(e) => d.notes.push(format!("no logs for {group} {stream}: {e}")),
            }
        }
    }
    d
}
