//! Pure decisions about one-off tasks: which of a service's tasks run in
//! this release, in which container with which command, which are skipped
//! because a record says they already succeeded for this revision, what
//! the record of a success says, and how a stopped task is judged.

use serde::{Deserialize, Serialize};

use crate::aws::ecs::Task;
use crate::manifest::{Manifest, OneOffTask};
use crate::taskdef::TaskDefinition;

/// When a one-off task runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Phase {
    /// Before UpdateService; a failure stops the service's rollout.
    BeforeDeploy,
    /// After the service reached steady state.
    AfterDeploy,
}

impl Phase {
    /// The manifest key.
    pub fn as_str(self) -> &'static str {
        match self {
            Phase::BeforeDeploy => "before-deploy",
            Phase::AfterDeploy => "after-deploy",
        }
    }
}

/// A service's one-off tasks in one environment, and what the records say.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ServiceTasks {
    /// `before-deploy`, in manifest order.
    pub before: Vec<PlannedTask>,
    /// `after-deploy`, in manifest order.
    pub after: Vec<PlannedTask>,
    /// Names of before-deploy tasks a trusted record says succeeded for
    /// this release's task-definition revision (skipped unless re-run).
    pub done: Vec<String>,
    /// Time between two looks at a running task (`None`: the default).
    pub poll: Option<std::time::Duration>,
}

/// One task to run.
#[derive(Debug, Clone, PartialEq)]
pub struct PlannedTask {
    /// The manifest's task.
    pub task: OneOffTask,
    /// Its own task definition, rendered like the service's (`None`: the
    /// service's new revision runs it).
    pub own: Option<TaskDefinition>,
}

/// A one-off task's end.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum TaskStatus {
    /// It exited 0.
    Succeeded,
    /// It exited otherwise, or never ran.
    Failed,
    /// It ran past its timeout and was stopped.
    TimedOut,
    /// A record says it already succeeded for this revision.
    Skipped,
}

impl TaskStatus {
    /// The word in logs and the summary.
    pub fn as_str(self) -> &'static str {
        match self {
            TaskStatus::Succeeded => "succeeded",
            TaskStatus::Failed => "failed",
            TaskStatus::TimedOut => "timed out",
            TaskStatus::Skipped => "skipped",
        }
    }
}

/// What a one-off task did, for the outcome, the summary and the records.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TaskRun {
    /// before-deploy or after-deploy.
    pub phase: Phase,
    /// The manifest's name.
    pub name: String,
    /// The command override, when there is one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub command: Option<Vec<String>>,
    /// The task ARN, once started.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub task_arn: Option<String>,
    /// How it ended.
    pub status: TaskStatus,
    /// The exit code of the container that ran the command.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exit_code: Option<i32>,
    /// ECS's stop reason, or Ferry's (not started, stopped at the timeout).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// The last lines of its log (CloudWatch Logs), oldest first.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub log_lines: Vec<String>,
    /// Seconds it took.
    pub duration_secs: f64,
}

/// The tasks of `service` in `env` as the manifest declares them (their
/// own task definitions not rendered yet).
pub fn declared(manifest: &Manifest, service: &str, env: &str) -> ServiceTasks {
    let of = |per_env: Option<&Vec<OneOffTask>>| {
        per_env
            .into_iter()
            .flatten()
            .map(|task| PlannedTask {
                task: task.clone(),
                own: None,
            })
            .collect()
    };
    let s = manifest.services.get(service);
    ServiceTasks {
        before: of(s.and_then(|s| s.before_deploy.get(env))),
        after: of(s.and_then(|s| s.after_deploy.get(env))),
        done: Vec::new(),
        poll: None,
    }
}

/// The container a task's command runs in: the one it names, else the
/// task definition's first; an error naming the containers there are when
/// it names none of them.
pub fn container(task: &OneOffTask, td: &TaskDefinition) -> Result<String, String> {
    let names: Vec<&str> = td.containers().filter_map(|c| c.name()).collect();
    match &task.container {
        Some(wanted) if names.contains(&wanted.as_str()) => Ok(wanted.clone()),
        Some(wanted) => Err(format!(
            "task `{}` names container `{wanted}`, which its task definition does not have (it has {}): fix `container` in the manifest",
            task.name,
            names.join(", ")
        )),
        None => names
            .first()
            .map(|n| n.to_string())
            .ok_or_else(|| format!("task `{}`: its task definition has no container", task.name)),
    }
}

/// What a task runs, in one line for logs and the dry run.
pub fn describe(task: &PlannedTask, service_td: &TaskDefinition) -> String {
    let td = task.own.as_ref().unwrap_or(service_td);
    let family = td
        .family
        .as_ref()
        .and_then(crate::taskdef::Field::typed)
        .map_or("?", String::as_str);
    let what = match (&task.task.command, container(&task.task, td)) {
        (Some(cmd), Ok(c)) => format!("`{}` in container {c}", cmd.join(" ")),
        (Some(cmd), Err(_)) => format!("`{}`", cmd.join(" ")),
        (None, _) => "its own command".to_string(),
    };
    let whose = if task.own.is_some() {
        format!("task definition {family}")
    } else {
        format!("the service's new revision ({family})")
    };
    format!(
        "task {}: {what} on {whose}, timeout {}",
        task.task.name,
        crate::time::duration(task.task.timeout.as_secs_f64())
    )
}

/// The tasks of a phase, each with whether it is skipped because a record
/// says it succeeded for this revision (only before-deploy tasks are;
/// `--rerun-tasks` empties the records first, [`super::apply_options`]).
pub fn to_run(tasks: &ServiceTasks, phase: Phase) -> Vec<(&PlannedTask, bool)> {
    let list = match phase {
        Phase::BeforeDeploy => &tasks.before,
        Phase::AfterDeploy => &tasks.after,
    };
    list.iter()
        .map(|t| {
            let skip = phase == Phase::BeforeDeploy && tasks.done.contains(&t.task.name);
            (t, skip)
        })
        .collect()
}

/// The description of the GitHub deployment status that records a
/// before-deploy task's success on the release's Deployment (whose payload
/// names the task-definition revision): what [`recorded`] reads back.
pub fn record_line(name: &str, arn: &str) -> String {
    let revision = crate::taskdef::arn_revision(arn)
        .map(|(f, r)| format!("{f}:{r}"))
        .unwrap_or_default();
    format!("{RECORD_PREFIX}{name}{RECORD_SUFFIX} on {revision}")
}

const RECORD_PREFIX: &str = "before-deploy task ";
const RECORD_SUFFIX: &str = " succeeded";

/// The names of before-deploy tasks recorded as succeeded among status
/// descriptions (of statuses Ferry's own identity set: the reader keeps
/// only those).
pub fn recorded(descriptions: &[String]) -> Vec<String> {
    let mut names: Vec<String> = descriptions
        .iter()
        .filter_map(|d| {
            let rest = d.strip_prefix(RECORD_PREFIX)?;
            let (name, _) = rest.split_once(RECORD_SUFFIX)?;
            (!name.is_empty() && !name.contains(' ')).then(|| name.to_string())
        })
        .collect();
    names.sort();
    names.dedup();
    names
}

/// A stopped task judged: succeeded when the container that ran the
/// command exited 0; else failed, with ECS's reason and the exit code.
pub fn judge(task: &Task, container: &str) -> (TaskStatus, Option<i32>, Option<String>) {
    let exit = task
        .containers
        .iter()
        .find(|(name, _, _)| name == container)
        .and_then(|(_, code, _)| *code);
    let why = |extra: Option<&str>| {
        let mut parts: Vec<String> = Vec::new();
        if let Some(code) = &task.stop_code {
            parts.push(code.clone());
        }
        if let Some(r) = &task.stopped_reason {
            parts.push(r.clone());
        }
        if let Some(e) = extra {
            parts.push(e.to_string());
        }
        (!parts.is_empty()).then(|| parts.join(": "))
    };
    match exit {
        Some(0) => (TaskStatus::Succeeded, Some(0), why(None)),
        Some(code) => (
            TaskStatus::Failed,
            Some(code),
            why(Some(&format!("{container} exited {code}"))),
        ),
        None => {
            let reason = task
                .containers
                .iter()
                .find(|(name, _, _)| name == container)
                .and_then(|(_, _, r)| r.clone());
            (
                TaskStatus::Failed,
                None,
                why(Some(&reason.unwrap_or_else(|| {
                    format!("{container} has no exit code (it never ran)")
                }))),
            )
        }
    }
}

/// `startedBy` of a one-off task: Ferry's, the phase and the name (ECS
/// takes 36 characters; task names are at most 24).
pub fn started_by(phase: Phase, name: &str) -> String {
    let p = match phase {
        Phase::BeforeDeploy => "b",
        Phase::AfterDeploy => "a",
    };
    crate::text::truncate_chars(&format!("ferry-{p}-{name}"), 36)
}
