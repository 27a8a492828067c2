//! The SDK side of the [`Ecs`] port: [`Clients`] answers each call through
//! the functions of [`super`] and turns the SDK's values into the port's
//! plain ones.

use aws_sdk_ecs::types as t;
use serde_json::Value;

use super::port::{
    Call, Configuration, Deployment, Ecs, Event, Service, ServiceDeployment, Task, Update,
};
use super::port::{Launch, RunTask, TaskState};
use super::{Failure, Started, epoch, rfc3339};
use crate::aws::{AwsError, Clients};

/// A DescribeServices deployment as the port's.
pub fn deployment(d: &t::Deployment) -> Deployment {
    Deployment {
        id: d.id().unwrap_or_default().to_string(),
        status: d.status().unwrap_or_default().to_string(),
        task_definition: d.task_definition().unwrap_or_default().to_string(),
        rollout_state: d.rollout_state().map(|s| s.as_str().to_string()),
        rollout_state_reason: d.rollout_state_reason().map(str::to_string),
        desired: d.desired_count(),
        pending: d.pending_count(),
        running: d.running_count(),
        failed: d.failed_tasks(),
        created_at: epoch(d.created_at()),
    }
}

/// A DescribeServices service as the port's.
pub fn service(s: &t::Service) -> Service {
    Service {
        name: s.service_name().unwrap_or_default().to_string(),
        arn: s.service_arn().unwrap_or_default().to_string(),
        task_definition: s.task_definition().map(str::to_string),
        deployments: s.deployments().iter().map(deployment).collect(),
        events: s
            .events()
            .iter()
            .map(|e| Event {
                id: e.id().unwrap_or_default().to_string(),
                created_at: epoch(e.created_at()),
                at: rfc3339(e.created_at()),
                message: e.message().unwrap_or_default().to_string(),
            })
            .collect(),
        configuration: Configuration(s.deployment_configuration().cloned()),
    }
}

/// A service deployment as the port's.
pub fn service_deployment(d: &t::ServiceDeployment) -> ServiceDeployment {
    ServiceDeployment {
        arn: d.service_deployment_arn().unwrap_or_default().to_string(),
        status: d
            .status()
            .map(|s| s.as_str().to_string())
            .unwrap_or_default(),
        status_reason: d.status_reason().map(str::to_string),
        lifecycle_stage: d
            .lifecycle_stage()
            .map(|s| s.as_str().to_string())
            .unwrap_or_default(),
        traffic_weight: d
            .target_service_revision()
            .and_then(t::ServiceRevisionSummary::requested_production_traffic_weight),
    }
}

/// A stopped task as the port's.
pub fn task(task: &t::Task) -> Task {
    Task {
        arn: task.task_arn().unwrap_or_default().to_string(),
        stop_code: task.stop_code().map(|c| c.as_str().to_string()),
        stopped_reason: task.stopped_reason().map(str::to_string),
        containers: task
            .containers()
            .iter()
            .map(|c| {
                (
                    c.name().unwrap_or_default().to_string(),
                    c.exit_code(),
                    c.reason().map(str::to_string),
                )
            })
            .collect(),
    }
}

impl Ecs for Clients {
    fn describe_service<'a>(
        &'a self,
        cluster: &'a str,
        name: &'a str,
    ) -> Call<'a, Result<Option<Service>, AwsError>> {
        Box::pin(async move {
            let found = super::describe_service(&self.ecs, cluster, name).await?;
            Ok(found.as_ref().map(service))
        })
    }

    fn describe_services<'a>(
        &'a self,
        cluster: &'a str,
        services: Vec<String>,
    ) -> Call<'a, Result<Vec<Service>, Failure>> {
        Box::pin(async move {
            let found = super::describe_services(&self.ecs, cluster, services).await?;
            Ok(found.iter().map(service).collect())
        })
    }

    fn update_service<'a>(&'a self, update: Update<'a>) -> Call<'a, Result<Started, AwsError>> {
        Box::pin(async move {
            let configuration = update.rollout.and_then(|(current, rollout)| {
                super::deployment_configuration(current.0.as_ref(), rollout)
            });
            super::update_service(
                &self.ecs,
                update.cluster,
                update.service,
                update.task_definition,
                configuration,
            )
            .await
        })
    }

    fn latest_task_definition<'a>(
        &'a self,
        family: &'a str,
    ) -> Call<'a, Result<Option<(String, Value)>, AwsError>> {
        Box::pin(super::task_definition(&self.ecs, family))
    }

    fn register_task_definition<'a>(
        &'a self,
        rendered: &'a crate::taskdef::TaskDefinition,
    ) -> Call<'a, Result<String, AwsError>> {
        Box::pin(async move {
            let family = super::family_of(rendered)?;
            let sdk = super::task_definition::to_sdk(rendered)?;
            super::register_task_definition(&self.ecs, &family, sdk).await
        })
    }

    fn list_service_deployments<'a>(
        &'a self,
        cluster: &'a str,
        service: &'a str,
    ) -> Call<'a, Result<Vec<(String, f64)>, AwsError>> {
        Box::pin(super::list_service_deployments(&self.ecs, cluster, service))
    }

    fn newest_service_deployment<'a>(
        &'a self,
        cluster: &'a str,
        service: &'a str,
        since: Option<f64>,
    ) -> Call<'a, Result<Option<String>, Failure>> {
        Box::pin(super::newest_service_deployment(
            &self.ecs, cluster, service, since,
        ))
    }

    fn describe_service_deployment<'a>(
        &'a self,
        arn: &'a str,
    ) -> Call<'a, Result<Option<ServiceDeployment>, AwsError>> {
        Box::pin(async move {
            let found = super::describe_service_deployment(&self.ecs, arn).await?;
            Ok(found.as_ref().map(service_deployment))
        })
    }

    fn describe_service_deployments<'a>(
        &'a self,
        arns: Vec<String>,
    ) -> Call<'a, Result<Vec<ServiceDeployment>, Failure>> {
        Box::pin(async move {
            let found = super::describe_service_deployments(&self.ecs, arns).await?;
            Ok(found.iter().map(service_deployment).collect())
        })
    }

    fn stop_service_deployment<'a>(&'a self, arn: &'a str) -> Call<'a, Result<(), AwsError>> {
        Box::pin(super::stop_service_deployment(&self.ecs, arn))
    }

    fn stopped_tasks<'a>(
        &'a self,
        cluster: &'a str,
        deployment_id: &'a str,
    ) -> Call<'a, Result<Vec<Task>, AwsError>> {
        Box::pin(async move {
            let tasks = super::stopped_tasks(&self.ecs, cluster, deployment_id).await?;
            Ok(tasks.iter().map(task).collect())
        })
    }

    fn last_log_lines<'a>(
        &'a self,
        group: &'a str,
        stream: &'a str,
        limit: usize,
    ) -> Call<'a, Result<Vec<String>, String>> {
        Box::pin(crate::aws::logs::last_lines(
            &self.logs, group, stream, limit,
        ))
    }

    fn service_launch<'a>(
        &'a self,
        cluster: &'a str,
        service: &'a str,
    ) -> Call<'a, Result<Option<Launch>, AwsError>> {
        Box::pin(super::run_task::launch(&self.ecs, cluster, service))
    }

    fn run_task<'a>(&'a self, run: RunTask<'a>) -> Call<'a, Result<String, AwsError>> {
        Box::pin(super::run_task::run_task(&self.ecs, run))
    }

    fn describe_task<'a>(
        &'a self,
        cluster: &'a str,
        arn: &'a str,
    ) -> Call<'a, Result<Option<TaskState>, AwsError>> {
        Box::pin(super::run_task::describe_task(&self.ecs, cluster, arn))
    }

    fn stop_task<'a>(
        &'a self,
        cluster: &'a str,
        arn: &'a str,
        reason: &'a str,
    ) -> Call<'a, Result<(), AwsError>> {
        Box::pin(super::run_task::stop_task(&self.ecs, cluster, arn, reason))
    }
}

impl Clients {
    /// These clients as the [`Ecs`] port a deploy holds.
    pub fn port(&self) -> std::sync::Arc<dyn Ecs> {
        std::sync::Arc::new(self.clone())
    }
}
