//! The plain data a deploy produces: what happened to each service in one
//! environment, and why. The ECS adapter fills it, the GitHub records, the
//! deploy comment and the job summary read it; none of them talks to the
//! others directly, so each is tested on values like these.

use serde::{Deserialize, Serialize};

use super::analysis::{self, CheckResult, Verdict};

/// How one service's deploy ended (the `status` output).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Status {
    /// The new task definition is running at the desired count.
    Succeeded,
    /// The rendered task definition equals the one the service already
    /// runs at steady state: nothing was registered or updated.
    Unchanged,
    /// The rollout failed and the service was not rolled back (no earlier
    /// successful release, `--no-rollback`, or the rollback failed too).
    Failed,
    /// The rollout failed and the service is back on the last release that
    /// succeeded in this environment.
    RolledBack,
    /// Updated without waiting (`--no-wait`): the outcome is not known.
    Started,
    /// `--dry-run`: nothing was touched.
    DryRun,
}

impl Status {
    /// The word used in outputs, summaries and comments.
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Succeeded => "succeeded",
            Status::Unchanged => "unchanged",
            Status::Failed => "failed",
            Status::RolledBack => "rolled-back",
            Status::Started => "started",
            Status::DryRun => "dry-run",
        }
    }

    /// Whether the environment ended where the release wanted it.
    pub fn is_success(self) -> bool {
        matches!(
            self,
            Status::Succeeded | Status::Unchanged | Status::Started | Status::DryRun
        )
    }
}

/// What happened to one service in one environment.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ServiceOutcome {
    /// The manifest's service name.
    pub service: String,
    /// The environment.
    pub env: String,
    /// The ECS cluster (rendered from the manifest).
    pub cluster: String,
    /// The ECS service name (rendered from the manifest).
    pub ecs_service: String,
    /// The image deployed (`repository@sha256:…` or `repository:tag`).
    pub image: Option<String>,
    /// The task definition the release put on the service.
    pub task_definition_arn: Option<String>,
    /// False when an identical ACTIVE revision was reused.
    pub registered: bool,
    /// The ECS deployment this release created (`ecs-svc/…`), when known.
    pub deployment_id: Option<String>,
    /// The end state.
    pub status: Status,
    /// Wall time of this service's deploy, in seconds.
    pub duration_secs: f64,
    /// Why it failed, captured when it failed.
    pub diagnosis: Option<Diagnosis>,
    /// The rollback, when one was attempted.
    pub rollback: Option<Rollback>,
    /// The steps and the analysis of a progressive rollout.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub progress: Option<Progress>,
    /// The one-off tasks run for it (`before-deploy`, `after-deploy`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tasks: Vec<super::tasks::TaskRun>,
}

/// Evidence of a failed rollout, captured at failure time (ECS forgets
/// stopped tasks after about an hour).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Diagnosis {
    /// One line: why the rollout is considered failed (circuit breaker,
    /// superseded, deadline, …).
    pub reason: String,
    /// The stopped tasks of this deployment, newest first.
    pub stopped_tasks: Vec<StoppedTask>,
    /// The service events since the deployment started, oldest first.
    pub events: Vec<ServiceEvent>,
    /// The last log lines of the failed tasks' containers.
    pub log_lines: Vec<LogLine>,
    /// Evidence that could not be gathered, and why (logs missing, no
    /// earlier release to roll back to, …).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
}

/// A task of the failed deployment that stopped.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct StoppedTask {
    /// The task ARN.
    pub task_arn: String,
    /// ECS's `stopCode` (e.g. `EssentialContainerExited`, `TaskFailedToStart`).
    pub stop_code: Option<String>,
    /// ECS's `stoppedReason`.
    pub stopped_reason: Option<String>,
    /// Each container's exit.
    pub containers: Vec<ContainerExit>,
}

/// How one container of a stopped task ended.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ContainerExit {
    /// The container name.
    pub name: String,
    /// The exit code, when the container ran.
    pub exit_code: Option<i32>,
    /// ECS's reason (e.g. `CannotPullContainerError: …`).
    pub reason: Option<String>,
}

/// One ECS service event.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ServiceEvent {
    /// When, RFC 3339.
    pub at: String,
    /// ECS's message.
    pub message: String,
}

/// One log line of a failed task.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LogLine {
    /// The CloudWatch log stream.
    pub stream: String,
    /// The message.
    pub message: String,
}

/// A rollback to the last release that succeeded in the environment.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Rollback {
    /// The task definition put back.
    pub task_definition_arn: String,
    /// Whether the service reached steady state on it.
    pub succeeded: bool,
    /// Why the rollback failed, when it did.
    pub reason: Option<String>,
}

/// One `ferry deploy` call: one environment, one commit, its services.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DeployReport {
    /// The environment.
    pub env: String,
    /// The commit released.
    pub sha: String,
    /// Link to the workflow run, when in Actions.
    pub run_url: Option<String>,
    /// The environment's URL from the manifest.
    pub environment_url: Option<String>,
    /// One entry per service, in manifest order.
    pub outcomes: Vec<ServiceOutcome>,
    /// The waves the services rolled out in (`depends-on`), each a list of
    /// services: the deploy comment shows them when there are two or more.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub waves: Vec<Vec<String>>,
}

impl DeployReport {
    /// Whether every service ended where the release wanted it.
    pub fn succeeded(&self) -> bool {
        self.outcomes.iter().all(|o| o.status.is_success())
    }
}

/// One step of a progressive rollout as the report shows it: a lifecycle
/// stage at one traffic share, and the analysis during it.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct StepReport {
    /// 1-based.
    pub step: usize,
    /// The ECS lifecycle stage (`PRODUCTION_TRAFFIC_SHIFT`, `BAKE_TIME`).
    pub stage: String,
    /// The new version's share of production traffic, in percent, when
    /// the strategy says (a rolling update has no share).
    pub traffic_percent: Option<f64>,
    /// Seconds from the start of the rollout to the start of the step.
    pub started_secs: f64,
    /// Analysis rounds run during the step.
    pub rounds: u32,
    /// Of which failed.
    pub failed_rounds: u32,
    /// The last round's checks.
    pub checks: Vec<CheckResult>,
    /// The last round's verdict.
    pub verdict: Option<Verdict>,
}

impl StepReport {
    /// `step 2: 10% traffic (PRODUCTION_TRAFFIC_SHIFT)`, for logs and the
    /// GitHub status.
    pub fn title(&self) -> String {
        let share = self
            .traffic_percent
            .map(|p| format!("{}% traffic", analysis::figure(p)))
            .unwrap_or_else(|| "rolling".into());
        format!("step {}: {share} ({})", self.step, self.stage)
    }
}

/// What a progressive rollout did, for the outcome and the report.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Progress {
    /// `canary`, `linear`, `blue-green` or `rolling`.
    pub strategy: String,
    /// The version analysed (the `version` label of its metrics).
    pub version: String,
    /// The steps, in order.
    pub steps: Vec<StepReport>,
    /// What ended it: the step and the check that failed, or the last step
    /// when it completed.
    pub decided_by: Option<String>,
}
