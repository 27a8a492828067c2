//! ECS: every call Ferry makes to it. Services (DescribeServices,
//! UpdateService), task definitions (DescribeTaskDefinition as the JSON
//! `render` produces, RegisterTaskDefinition from it — [`task_definition`]
//! converts both ways), service deployments, and the stopped tasks of a
//! deployment. These functions answer in SDK values; a stage reaches them
//! only through the [`Ecs`] port ([`port`], implemented for
//! [`crate::aws::Clients`] in [`sdk`]), whose values are plain.

pub mod port;
pub mod run_task;
pub mod sdk;
pub mod task_definition;

pub use port::{Configuration, Deployment, Ecs, Event, Service, ServiceDeployment, Task, Update};
pub use run_task::{Launch, RunTask, TaskState};

use aws_sdk_ecs::error::ProvideErrorMetadata;
use aws_sdk_ecs::types as t;
use serde_json::Value;

use super::{AwsError, call_error, retry_config};
use crate::manifest::{RolloutSettings, Strategy};
use task_definition::SdkTaskDefinition;

/// Seconds since the epoch of an SDK time.
pub fn epoch(t: Option<&aws_sdk_ecs::primitives::DateTime>) -> f64 {
    t.map(|t| t.as_secs_f64()).unwrap_or(0.0)
}

/// RFC 3339 text of an SDK time.
pub fn rfc3339(t: Option<&aws_sdk_ecs::primitives::DateTime>) -> String {
    t.and_then(|t| {
        t.fmt(aws_sdk_ecs::primitives::DateTimeFormat::DateTime)
            .ok()
    })
    .unwrap_or_default()
}

/// Whether an error code is ECS throttling.
pub fn is_throttling(code: Option<&str>) -> bool {
    matches!(
        code,
        Some(
            "ThrottlingException"
                | "Throttling"
                | "RequestLimitExceeded"
                | "TooManyRequestsException"
        )
    )
}

/// A failed call whose caller decides by its code (a poll goes on after
/// throttling; an endpoint without an API is noticed by it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    /// The service's error code, when it answered.
    pub code: Option<String>,
    /// The SDK's message, with its context.
    pub message: String,
}

impl Failure {
    fn of<E: ProvideErrorMetadata + std::error::Error + 'static>(e: &E) -> Self {
        Self {
            code: e.code().map(str::to_string),
            message: crate::outside::aws_detail(e),
        }
    }

    /// Whether ECS throttled the call.
    pub fn throttled(&self) -> bool {
        is_throttling(self.code.as_deref())
    }
}

/// The family a rendered task definition registers under; the whole
/// definition is converted first, so a field the SDK cannot take is said
/// before any call.
pub fn family_of(rendered: &crate::taskdef::TaskDefinition) -> Result<String, AwsError> {
    let sdk = task_definition::to_sdk(rendered)?;
    sdk.definition
        .family()
        .map(str::to_string)
        .ok_or_else(|| AwsError::Convert {
            field: "family".into(),
            message: "required".into(),
        })
}

/// The service as DescribeServices shows it; `None` when ECS does not know
/// it (or only as INACTIVE).
pub async fn describe_service(
    ecs: &aws_sdk_ecs::Client,
    cluster: &str,
    service: &str,
) -> Result<Option<t::Service>, AwsError> {
    let out = ecs
        .describe_services()
        .cluster(cluster)
        .services(service)
        .send()
        .await
        .map_err(|e| {
            call_error(
                "DescribeServices",
                &format!("{service} in {cluster}"),
                crate::aws::sdk_message(&e),
            )
        })?;
    Ok(out
        .services()
        .iter()
        .find(|s| s.status() != Some("INACTIVE"))
        .cloned())
}

/// DescribeServices for up to 10 services of one cluster (ECS's limit), as
/// ECS answers: a service it does not know is simply absent.
pub async fn describe_services(
    ecs: &aws_sdk_ecs::Client,
    cluster: &str,
    services: Vec<String>,
) -> Result<Vec<t::Service>, Failure> {
    ecs.describe_services()
        .cluster(cluster)
        .set_services(Some(services))
        .send()
        .await
        .map(|out| out.services().to_vec())
        .map_err(|e| Failure::of(&e))
}

/// What UpdateService started.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Started {
    /// The deployment running `arn` in UpdateService's answer.
    pub deployment_id: Option<String>,
    /// Its createdAt (seconds since the epoch).
    pub created_at: Option<f64>,
}

/// The deployment configuration to send for `rollout`: the service's own
/// (circuit breaker, alarms, percentages stay as Terraform set them) with
/// the strategy and its steps; `None` to leave it untouched (a rolling
/// update on a service that is rolling already: what Ferry always did).
pub fn deployment_configuration(
    current: Option<&t::DeploymentConfiguration>,
    rollout: &RolloutSettings,
) -> Option<t::DeploymentConfiguration> {
    let current_strategy = current
        .and_then(|c| c.strategy())
        .unwrap_or(&t::DeploymentStrategy::Rolling);
    if rollout.strategy == Strategy::Rolling && *current_strategy == t::DeploymentStrategy::Rolling
    {
        return None;
    }
    let minutes = |secs: u64| i32::try_from(secs / 60).unwrap_or(i32::MAX);
    let mut config = t::DeploymentConfiguration::builder()
        .set_deployment_circuit_breaker(
            current.and_then(|c| c.deployment_circuit_breaker().cloned()),
        )
        .set_maximum_percent(current.and_then(|c| c.maximum_percent()))
        .set_minimum_healthy_percent(current.and_then(|c| c.minimum_healthy_percent()))
        .set_alarms(current.and_then(|c| c.alarms().cloned()))
        .set_lifecycle_hooks(
            current
                .map(|c| c.lifecycle_hooks().to_vec())
                .filter(|h| !h.is_empty()),
        )
        .strategy(t::DeploymentStrategy::from(rollout.strategy.ecs_name()));
    match rollout.strategy {
        Strategy::Rolling => {}
        Strategy::BlueGreen => config = config.bake_time_in_minutes(minutes(rollout.bake_secs)),
        Strategy::Canary => {
            config = config
                .bake_time_in_minutes(minutes(rollout.bake_secs))
                .canary_configuration(
                    t::CanaryConfiguration::builder()
                        .canary_percent(rollout.canary_percent)
                        .canary_bake_time_in_minutes(minutes(rollout.step_bake_secs))
                        .build(),
                );
        }
        Strategy::Linear => {
            config = config
                .bake_time_in_minutes(minutes(rollout.bake_secs))
                .linear_configuration(
                    t::LinearConfiguration::builder()
                        .step_percent(rollout.step_percent)
                        .step_bake_time_in_minutes(minutes(rollout.step_bake_secs))
                        .build(),
                );
        }
    }
    Some(config.build())
}

/// The service deployments of a service (ListServiceDeployments): each
/// one's ARN and when it was created (seconds since the epoch).
pub async fn list_service_deployments(
    ecs: &aws_sdk_ecs::Client,
    cluster: &str,
    service: &str,
) -> Result<Vec<(String, f64)>, AwsError> {
    // Not retried: an endpoint without the API (moto answers 500) is said
    // at the first answer, within one poll; the caller follows the rolling
    // way from then on.
    let out = ecs
        .list_service_deployments()
        .cluster(cluster)
        .service(service)
        .customize()
        .config_override(
            aws_sdk_ecs::config::Builder::default()
                .retry_config(retry_config().with_max_attempts(1)),
        )
        .send()
        .await
        .map_err(|e| {
            call_error(
                "ListServiceDeployments",
                &format!("{service} in {cluster}"),
                crate::aws::sdk_message(&e),
            )
        })?;
    Ok(out
        .service_deployments()
        .iter()
        .filter_map(|d| {
            let created = epoch(d.created_at().or(d.started_at()));
            d.service_deployment_arn().map(|a| (a.to_string(), created))
        })
        .collect())
}

/// One service deployment (DescribeServiceDeployments), if ECS knows it.
pub async fn describe_service_deployment(
    ecs: &aws_sdk_ecs::Client,
    arn: &str,
) -> Result<Option<t::ServiceDeployment>, AwsError> {
    let out = ecs
        .describe_service_deployments()
        .service_deployment_arns(arn)
        .send()
        .await
        .map_err(|e| {
            call_error(
                "DescribeServiceDeployments",
                arn,
                crate::aws::sdk_message(&e),
            )
        })?;
    Ok(out.service_deployments().first().cloned())
}

/// Stops a service deployment and has ECS roll it back
/// (StopServiceDeployment, stopType ROLLBACK).
pub async fn stop_service_deployment(ecs: &aws_sdk_ecs::Client, arn: &str) -> Result<(), AwsError> {
    ecs.stop_service_deployment()
        .service_deployment_arn(arn)
        .stop_type(t::StopServiceDeploymentStopType::Rollback)
        .send()
        .await
        .map(|_| ())
        .map_err(|e| call_error("StopServiceDeployment", arn, crate::aws::sdk_message(&e)))
}

/// UpdateService(cluster, service, taskDefinition), with the deployment
/// configuration when the rollout's strategy asks for one.
pub async fn update_service(
    ecs: &aws_sdk_ecs::Client,
    cluster: &str,
    service: &str,
    arn: &str,
    configuration: Option<t::DeploymentConfiguration>,
) -> Result<Started, AwsError> {
    let out = ecs
        .update_service()
        .cluster(cluster)
        .service(service)
        .task_definition(arn)
        .set_deployment_configuration(configuration)
        .send()
        .await
        .map_err(|e| {
            call_error(
                "UpdateService",
                &format!("{service} in {cluster}"),
                crate::aws::sdk_message(&e),
            )
        })?;
    let ours = out.service().and_then(|s| {
        s.deployments()
            .iter()
            .find(|d| d.status() == Some("PRIMARY") && d.task_definition() == Some(arn))
    });
    Ok(Started {
        deployment_id: ours.and_then(|d| d.id()).map(str::to_string),
        created_at: ours.map(|d| epoch(d.created_at())),
    })
}

/// A task definition (family, `family:revision` or ARN; a family means its
/// latest ACTIVE revision) as RegisterTaskDefinition JSON with its tags, and
/// its ARN; `None` when there is none.
pub async fn task_definition(
    ecs: &aws_sdk_ecs::Client,
    name: &str,
) -> Result<Option<(String, Value)>, AwsError> {
    let out = ecs
        .describe_task_definition()
        .task_definition(name)
        .include(t::TaskDefinitionField::Tags)
        .send()
        .await;
    let out = match out {
        Ok(out) => out,
        Err(e) => {
            let text = crate::aws::sdk_message(&e);
            // ECS answers ClientException "Unable to describe task definition"
            // for a family with no ACTIVE revision.
            if e.as_service_error()
                .is_some_and(|s| s.is_client_exception() || s.is_invalid_parameter_exception())
            {
                return Ok(None);
            }
            return Err(call_error("DescribeTaskDefinition", name, text));
        }
    };
    let Some(td) = out.task_definition() else {
        return Ok(None);
    };
    let Some(arn) = td.task_definition_arn() else {
        return Ok(None);
    };
    let mut value = task_definition::from_sdk(td);
    let tags: Vec<Value> = out
        .tags()
        .iter()
        .map(|t| serde_json::json!({"key": t.key(), "value": t.value()}))
        .collect();
    value.insert("tags".into(), Value::Array(tags));
    Ok(Some((arn.to_string(), Value::Object(value))))
}

/// RegisterTaskDefinition; the new revision's ARN.
pub async fn register_task_definition(
    ecs: &aws_sdk_ecs::Client,
    family: &str,
    sdk: SdkTaskDefinition,
) -> Result<String, AwsError> {
    let d = sdk.definition;
    let out = ecs
        .register_task_definition()
        .family(family)
        .set_task_role_arn(d.task_role_arn)
        .set_execution_role_arn(d.execution_role_arn)
        .set_network_mode(d.network_mode)
        .set_container_definitions(Some(d.container_definitions.unwrap_or_default()))
        .set_volumes(d.volumes)
        .set_placement_constraints(d.placement_constraints)
        .set_requires_compatibilities(d.requires_compatibilities)
        .set_cpu(d.cpu)
        .set_memory(d.memory)
        .set_pid_mode(d.pid_mode)
        .set_ipc_mode(d.ipc_mode)
        .set_proxy_configuration(d.proxy_configuration)
        .set_ephemeral_storage(d.ephemeral_storage)
        .set_runtime_platform(d.runtime_platform)
        .set_enable_fault_injection(d.enable_fault_injection)
        .set_tags((!sdk.tags.is_empty()).then_some(sdk.tags))
        .send()
        .await
        .map_err(|e| {
            call_error(
                "RegisterTaskDefinition",
                family,
                crate::aws::sdk_message(&e),
            )
        })?;
    out.task_definition()
        .and_then(|t| t.task_definition_arn())
        .map(str::to_string)
        .ok_or_else(|| {
            call_error(
                "RegisterTaskDefinition",
                family,
                "the answer has no taskDefinitionArn".into(),
            )
        })
}

/// ListServiceDeployments of a service created after `since` (seconds
/// since the epoch, less a minute of clock skew): the newest one's ARN.
/// One attempt: the first failure tells whether the endpoint has the API.
pub async fn newest_service_deployment(
    ecs: &aws_sdk_ecs::Client,
    cluster: &str,
    service: &str,
    since: Option<f64>,
) -> Result<Option<String>, Failure> {
    let since = since.map(|s| aws_sdk_ecs::primitives::DateTime::from_secs_f64(s - 60.0));
    let list = ecs
        .list_service_deployments()
        .cluster(cluster)
        .service(service)
        .set_created_at(since.map(|s| t::CreatedAt::builder().after(s).build()))
        .customize()
        .config_override(
            aws_sdk_ecs::config::Builder::default()
                .retry_config(retry_config().with_max_attempts(1)),
        )
        .send()
        .await
        .map_err(|e| Failure::of(&e))?;
    Ok(list
        .service_deployments()
        .iter()
        .max_by(|a, b| epoch(a.created_at()).total_cmp(&epoch(b.created_at())))
        .and_then(|d| d.service_deployment_arn())
        .map(str::to_string))
}

/// DescribeServiceDeployments of up to 20 ARNs (ECS's limit).
pub async fn describe_service_deployments(
    ecs: &aws_sdk_ecs::Client,
    arns: Vec<String>,
) -> Result<Vec<t::ServiceDeployment>, Failure> {
    ecs.describe_service_deployments()
        .set_service_deployment_arns(Some(arns))
        .send()
        .await
        .map(|out| out.service_deployments().to_vec())
        .map_err(|e| Failure::of(&e))
}

/// The stopped tasks ECS started for `deployment_id` (at most 100), newest
/// first.
pub async fn stopped_tasks(
    ecs: &aws_sdk_ecs::Client,
    cluster: &str,
    deployment_id: &str,
) -> Result<Vec<t::Task>, AwsError> {
    let listed = ecs
        .list_tasks()
        .cluster(cluster)
        .started_by(deployment_id)
        .desired_status(t::DesiredStatus::Stopped)
        .send()
        .await
        .map_err(|e| call_error("ListTasks", deployment_id, crate::aws::sdk_message(&e)))?;
    let arns: Vec<String> = listed.task_arns().iter().take(100).cloned().collect();
    if arns.is_empty() {
        return Ok(Vec::new());
    }
    let described = ecs
        .describe_tasks()
        .cluster(cluster)
        .set_tasks(Some(arns))
        .send()
        .await
        .map_err(|e| call_error("DescribeTasks", deployment_id, crate::aws::sdk_message(&e)))?;
    let mut tasks: Vec<t::Task> = described.tasks().to_vec();
    tasks.sort_by(|a, b| epoch(b.stopped_at()).total_cmp(&epoch(a.stopped_at())));
    Ok(tasks)
}
