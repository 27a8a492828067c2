//! The ECS port: every call a deploy makes to ECS (and to CloudWatch Logs for
//! a failed task's last lines) as one trait over plain Ferry types. The SDK
//! implementation is [`super::sdk`]; a stage holds an `Arc<dyn Ecs>` and never
//! an SDK type, so its waiting loops and its progressive follow run in unit
//! tests on an in-memory port.

use std::future::Future;
use std::pin::Pin;

use serde_json::Value;

pub use super::run_task::{Launch, RunTask, TaskState};
use super::{Failure, Started};
use crate::aws::AwsError;
use crate::manifest::RolloutSettings;

/// The answer of one port call, to be awaited.
pub type Call<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// One deployment of a service as DescribeServices reports it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Deployment {
    /// `ecs-svc/…`
    pub id: String,
    /// `PRIMARY`, `ACTIVE` or `INACTIVE`.
    pub status: String,
    /// The task definition ARN it runs.
    pub task_definition: String,
    /// `IN_PROGRESS`, `COMPLETED` or `FAILED` (absent without a circuit breaker).
    pub rollout_state: Option<String>,
    /// ECS's explanation of the rollout state.
    pub rollout_state_reason: Option<String>,
    /// Desired task count.
    pub desired: i32,
    /// Pending task count.
    pub pending: i32,
    /// Running task count.
    pub running: i32,
    /// Tasks of this deployment that failed to start or stopped.
    pub failed: i32,
    /// Creation time, seconds since the epoch (0 when ECS did not say).
    pub created_at: f64,
}

/// One service event.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Event {
    /// ECS's event id.
    pub id: String,
    /// Seconds since the epoch.
    pub created_at: f64,
    /// The same time, RFC 3339.
    pub at: String,
    /// ECS's message.
    pub message: String,
}

/// A service's deployment configuration as ECS holds it (circuit breaker,
/// alarms, percentages, hooks, as Terraform set them). Opaque to the stages:
/// it is handed back to [`Ecs::update_service`] so that a change of strategy
/// keeps the rest.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Configuration(pub(crate) Option<aws_sdk_ecs::types::DeploymentConfiguration>);

/// A service as DescribeServices shows it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Service {
    /// The service name.
    pub name: String,
    /// The service ARN.
    pub arn: String,
    /// The task definition the service is set to.
    pub task_definition: Option<String>,
    /// Its deployments (PRIMARY first, as ECS lists them).
    pub deployments: Vec<Deployment>,
    /// Its events, newest first (as ECS gives them).
    pub events: Vec<Event>,
    /// Its deployment configuration.
    pub configuration: Configuration,
}

/// A service deployment (the service deployments API).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ServiceDeployment {
    /// Its ARN.
    pub arn: String,
    /// `PENDING`, `IN_PROGRESS`, `SUCCESSFUL`, `STOPPED`, `ROLLBACK_*`, …
    pub status: String,
    /// ECS's reason for the status.
    pub status_reason: Option<String>,
    /// The lifecycle stage (`PRODUCTION_TRAFFIC_SHIFT`, `BAKE_TIME`, …);
    /// empty before the first.
    pub lifecycle_stage: String,
    /// The new revision's share of production traffic ECS reports
    /// (`requestedProductionTrafficWeight`), in percent.
    pub traffic_weight: Option<f64>,
}

/// A stopped task.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Task {
    /// The task ARN.
    pub arn: String,
    /// ECS's `stopCode`.
    pub stop_code: Option<String>,
    /// ECS's `stoppedReason`.
    pub stopped_reason: Option<String>,
    /// Each container: name, exit code, reason.
    pub containers: Vec<(String, Option<i32>, Option<String>)>,
}

/// An UpdateService: which task definition on which service, and the
/// strategy to set (`None` leaves the deployment configuration untouched).
#[derive(Debug, Clone, Copy)]
pub struct Update<'a> {
    /// The cluster.
    pub cluster: &'a str,
    /// The ECS service.
    pub service: &'a str,
    /// The task definition ARN.
    pub task_definition: &'a str,
    /// The service's configuration now and the rollout wanted; the adapter
    /// sends what changes (nothing for a rolling update of a rolling service).
    pub rollout: Option<(&'a Configuration, &'a RolloutSettings)>,
}

/// Every ECS call of a deploy. Errors are Ferry's: [`AwsError`] for a call
/// that failed, [`Failure`] (with ECS's code) where the caller decides by it.
pub trait Ecs: Send + Sync {
    /// DescribeServices of one service; `None` when ECS does not know it
    /// (or only as INACTIVE).
    fn describe_service<'a>(
        &'a self,
        cluster: &'a str,
        service: &'a str,
    ) -> Call<'a, Result<Option<Service>, AwsError>>;

    /// DescribeServices of up to 10 services of one cluster; a service ECS
    /// does not know is absent.
    fn describe_services<'a>(
        &'a self,
        cluster: &'a str,
        services: Vec<String>,
    ) -> Call<'a, Result<Vec<Service>, Failure>>;

    /// UpdateService; what it started.
    fn update_service<'a>(&'a self, update: Update<'a>) -> Call<'a, Result<Started, AwsError>>;

    /// The latest ACTIVE revision of `family` as RegisterTaskDefinition JSON
    /// with its tags, and its ARN; `None` when there is none.
    fn latest_task_definition<'a>(
        &'a self,
        family: &'a str,
    ) -> Call<'a, Result<Option<(String, Value)>, AwsError>>;

    /// RegisterTaskDefinition of the rendered JSON; the new revision's ARN.
    fn register_task_definition<'a>(
        &'a self,
        rendered: &'a crate::taskdef::TaskDefinition,
    ) -> Call<'a, Result<String, AwsError>>;

    /// ListServiceDeployments: each one's ARN and creation time.
    fn list_service_deployments<'a>(
        &'a self,
        cluster: &'a str,
        service: &'a str,
    ) -> Call<'a, Result<Vec<(String, f64)>, AwsError>>;

    /// The newest service deployment created after `since` (less a minute of
    /// clock skew); one attempt, so the first failure tells whether the
    /// endpoint has the API.
    fn newest_service_deployment<'a>(
        &'a self,
        cluster: &'a str,
        service: &'a str,
        since: Option<f64>,
    ) -> Call<'a, Result<Option<String>, Failure>>;

    /// DescribeServiceDeployments of one ARN, if ECS knows it.
    fn describe_service_deployment<'a>(
        &'a self,
        arn: &'a str,
    ) -> Call<'a, Result<Option<ServiceDeployment>, AwsError>>;

    /// DescribeServiceDeployments of up to 20 ARNs.
    fn describe_service_deployments<'a>(
        &'a self,
        arns: Vec<String>,
    ) -> Call<'a, Result<Vec<ServiceDeployment>, Failure>>;

    /// StopServiceDeployment with a rollback.
    fn stop_service_deployment<'a>(&'a self, arn: &'a str) -> Call<'a, Result<(), AwsError>>;

    /// The stopped tasks ECS started for a deployment, newest first.
    fn stopped_tasks<'a>(
        &'a self,
        cluster: &'a str,
        deployment_id: &'a str,
    ) -> Call<'a, Result<Vec<Task>, AwsError>>;

    /// The last `limit` lines of a CloudWatch Logs stream, oldest first.
    fn last_log_lines<'a>(
        &'a self,
        group: &'a str,
        stream: &'a str,
        limit: usize,
    ) -> Call<'a, Result<Vec<String>, String>>;

    /// How a service launches its tasks (network, capacity); `None` when
    /// ECS does not know the service.
    fn service_launch<'a>(
        &'a self,
        cluster: &'a str,
        service: &'a str,
    ) -> Call<'a, Result<Option<Launch>, AwsError>>;

    /// RunTask of one one-off task; its ARN.
    fn run_task<'a>(&'a self, run: RunTask<'a>) -> Call<'a, Result<String, AwsError>>;

    /// DescribeTasks of one task; `None` when ECS does not know it.
    fn describe_task<'a>(
        &'a self,
        cluster: &'a str,
        arn: &'a str,
    ) -> Call<'a, Result<Option<TaskState>, AwsError>>;

    /// StopTask with a reason.
    fn stop_task<'a>(
        &'a self,
        cluster: &'a str,
        arn: &'a str,
        reason: &'a str,
    ) -> Call<'a, Result<(), AwsError>>;
}
