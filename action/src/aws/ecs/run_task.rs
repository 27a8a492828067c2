//! One-off tasks: RunTask on a service's own network configuration,
//! DescribeTasks until it stops, StopTask past its deadline. The plain
//! types the [`super::Ecs`] port speaks ([`Launch`], [`RunTask`],
//! [`TaskState`]) and the SDK calls behind it.

use aws_sdk_ecs::types as t;

use super::port::Task;
use crate::aws::{AwsError, call_error, sdk_message};

/// How a service launches its tasks, as DescribeServices shows it: what a
/// one-off task of its release copies so that it runs where the service
/// runs (same subnets, security groups, capacity).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Launch {
    /// `FARGATE`, `EC2` or `EXTERNAL`; `None` when the service uses a
    /// capacity provider strategy.
    pub launch_type: Option<String>,
    /// The capacity provider strategy: provider, weight, base.
    pub capacity_providers: Vec<(String, i32, i32)>,
    /// The Fargate platform version the service pins, if any.
    pub platform_version: Option<String>,
    /// awsvpc subnets (empty: not an awsvpc service).
    pub subnets: Vec<String>,
    /// awsvpc security groups.
    pub security_groups: Vec<String>,
    /// Whether tasks get a public IP (`assignPublicIp: ENABLED`).
    pub public_ip: bool,
}

/// A RunTask: which task definition, launched like the service, with an
/// optional command override on one container.
#[derive(Debug, Clone, Copy)]
pub struct RunTask<'a> {
    /// The cluster.
    pub cluster: &'a str,
    /// The task definition ARN.
    pub task_definition: &'a str,
    /// How the service launches (network, capacity).
    pub launch: &'a Launch,
    /// The container and the command it runs instead of its own.
    pub command: Option<(&'a str, &'a [String])>,
    /// `startedBy`, so the task can be found as Ferry's (36 characters at most).
    pub started_by: &'a str,
}

/// A one-off task as DescribeTasks shows it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct TaskState {
    /// `PROVISIONING`, `PENDING`, `RUNNING`, …, `STOPPED`.
    pub last_status: String,
    /// Its stop code, reason and container exits (once stopped).
    pub task: Task,
}

impl TaskState {
    /// Whether ECS says the task stopped.
    pub fn stopped(&self) -> bool {
        self.last_status == "STOPPED"
    }
}

/// The service's launch settings, or `None` when ECS does not know it.
pub async fn launch(
    ecs: &aws_sdk_ecs::Client,
    cluster: &str,
    service: &str,
) -> Result<Option<Launch>, AwsError> {
    let Some(s) = super::describe_service(ecs, cluster, service).await? else {
        return Ok(None);
    };
    let vpc = s
        .network_configuration()
        .and_then(t::NetworkConfiguration::awsvpc_configuration);
    Ok(Some(Launch {
        launch_type: s.launch_type().map(|l| l.as_str().to_string()),
        capacity_providers: s
            .capacity_provider_strategy()
            .iter()
            .map(|c| (c.capacity_provider().to_string(), c.weight(), c.base()))
            .collect(),
        platform_version: s.platform_version().map(str::to_string),
        subnets: vpc.map(|v| v.subnets().to_vec()).unwrap_or_default(),
        security_groups: vpc
            .map(|v| v.security_groups().to_vec())
            .unwrap_or_default(),
        public_ip: vpc.and_then(|v| v.assign_public_ip()) == Some(&t::AssignPublicIp::Enabled),
    }))
}

/// RunTask of one task; its ARN. A task ECS could not place is an error
/// with ECS's reason.
pub async fn run_task(ecs: &aws_sdk_ecs::Client, run: RunTask<'_>) -> Result<String, AwsError> {
    let l = run.launch;
    let mut req = ecs
        .run_task()
        .cluster(run.cluster)
        .task_definition(run.task_definition)
        .count(1)
        .started_by(run.started_by)
        .set_platform_version(l.platform_version.clone());
    if let Some(kind) = &l.launch_type {
        req = req.launch_type(t::LaunchType::from(kind.as_str()));
    }
    for (provider, weight, base) in &l.capacity_providers {
        req = req.capacity_provider_strategy(
            t::CapacityProviderStrategyItem::builder()
                .capacity_provider(provider)
                .weight(*weight)
                .base(*base)
                .build()
                .map_err(|e| call_error("RunTask", run.task_definition, e.to_string()))?,
        );
    }
    if !l.subnets.is_empty() {
        let vpc = t::AwsVpcConfiguration::builder()
            .set_subnets(Some(l.subnets.clone()))
            .set_security_groups(Some(l.security_groups.clone()))
            .assign_public_ip(if l.public_ip {
                t::AssignPublicIp::Enabled
            } else {
                t::AssignPublicIp::Disabled
            })
            .build()
            .map_err(|e| call_error("RunTask", run.task_definition, e.to_string()))?;
        req = req.network_configuration(
            t::NetworkConfiguration::builder()
                .awsvpc_configuration(vpc)
                .build(),
        );
    }
    if let Some((container, command)) = run.command {
        req = req.overrides(
            t::TaskOverride::builder()
                .container_overrides(
                    t::ContainerOverride::builder()
                        .name(container)
                        .set_command(Some(command.to_vec()))
                        .build(),
                )
                .build(),
        );
    }
    let out = req
        .send()
        .await
        .map_err(|e| call_error("RunTask", run.task_definition, sdk_message(&e)))?;
    if let Some(task) = out.tasks().first().and_then(t::Task::task_arn) {
        return Ok(task.to_string());
    }
    let reasons: Vec<String> = out
        .failures()
        .iter()
        .map(|f| {
            format!(
                "{}{}",
                f.reason().unwrap_or("no reason given"),
                f.detail().map(|d| format!(" ({d})")).unwrap_or_default()
            )
        })
        .collect();
    Err(call_error(
        "RunTask",
        run.task_definition,
        format!("ECS started no task: {}", reasons.join("; ")),
    ))
}

/// DescribeTasks of one task; `None` when ECS does not know it (any more).
pub async fn describe_task(
    ecs: &aws_sdk_ecs::Client,
    cluster: &str,
    arn: &str,
) -> Result<Option<TaskState>, AwsError> {
    let out = ecs
        .describe_tasks()
        .cluster(cluster)
        .tasks(arn)
        .send()
        .await
        .map_err(|e| call_error("DescribeTasks", arn, sdk_message(&e)))?;
    Ok(out.tasks().first().map(|task| TaskState {
        last_status: task.last_status().unwrap_or_default().to_string(),
        task: super::sdk::task(task),
    }))
}

/// StopTask with Ferry's reason.
pub async fn stop_task(
    ecs: &aws_sdk_ecs::Client,
    cluster: &str,
    arn: &str,
    reason: &str,
) -> Result<(), AwsError> {
    ecs.stop_task()
        .cluster(cluster)
        .task(arn)
        .reason(reason)
        .send()
        .await
        .map_err(|e| call_error("StopTask", arn, sdk_message(&e)))?;
    Ok(())
}
