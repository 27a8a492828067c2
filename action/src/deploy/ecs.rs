//! The AWS side of a deploy: clients from the standard AWS settings (so
//! `AWS_ENDPOINT_URL` points them at a stand-in), the credentials check,
//! UpdateService, and reading DescribeServices answers into the plain views
//! of [`super::rollout`].

use std::time::Duration;

use aws_config::retry::RetryConfig;
use aws_sdk_ecs::types as t;

use super::model::ServiceEvent;
use super::rollout::{DeploymentView, EventView};
use crate::manifest::{RolloutSettings, Strategy};

/// Why a deploy step could not run.
#[derive(Debug, thiserror::Error)]
pub enum DeployError {
    /// No AWS credentials: a CI job that lost them must fail, not pass.
    #[error(
        "no AWS credentials: {0}. Configure them (in GitHub Actions: aws-actions/configure-aws-credentials with OIDC), or run with --dry-run to see what would be deployed without touching AWS"
    )]
    NoCredentials(String),
    /// A rendered field could not be converted for the SDK.
    #[error("task definition field `{field}`: {message}")]
    Convert {
        /// The JSON path of the field.
        field: String,
        /// What is wrong.
        message: String,
    },
    /// An AWS call failed.
    #[error("{op} {target}: {message}")]
    Aws {
        /// The operation.
        op: &'static str,
        /// What it was about (family, service, …).
        target: String,
        /// The SDK's message, with its context.
        message: String,
    },
}

/// An [`DeployError::Aws`].
pub fn aws_error(op: &'static str, target: &str, message: String) -> DeployError {
    DeployError::Aws {
        op,
        target: target.to_string(),
        message,
    }
}

/// The clients a deploy uses.
#[derive(Debug, Clone)]
pub struct Clients {
    /// ECS.
    pub ecs: aws_sdk_ecs::Client,
    /// CloudWatch Logs (the failed tasks' last lines).
    pub logs: aws_sdk_cloudwatchlogs::Client,
}

/// The SDK's retries: standard mode (exponential backoff with jitter on
/// throttling and transient errors), a few attempts.
pub fn retry_config() -> RetryConfig {
    RetryConfig::standard()
        .with_max_attempts(5)
        .with_initial_backoff(Duration::from_millis(200))
}

/// Clients for `region` from the standard AWS settings; fails early when no
/// credentials can be found.
pub async fn connect(region: &str) -> Result<Clients, DeployError> {
    let config = aws_config::from_env()
        .region(aws_config::Region::new(region.to_string()))
        .retry_config(retry_config())
        .load()
        .await;
    check_credentials(&config).await?;
    Ok(Clients::from_config(&config))
}

/// Fails with [`DeployError::NoCredentials`] unless the config's provider
/// yields credentials.
pub async fn check_credentials(config: &aws_config::SdkConfig) -> Result<(), DeployError> {
    use aws_sdk_ecs::config::ProvideCredentials;
    let Some(provider) = config.credentials_provider() else {
        return Err(DeployError::NoCredentials(
            "no credentials provider is configured".into(),
        ));
    };
    provider
        .provide_credentials()
        .await
        .map(|_| ())
        .map_err(|e| DeployError::NoCredentials(e.to_string()))
}

impl Clients {
    /// Clients sharing one loaded config.
    pub fn from_config(config: &aws_config::SdkConfig) -> Self {
        Self {
            ecs: aws_sdk_ecs::Client::new(config),
            logs: aws_sdk_cloudwatchlogs::Client::new(config),
        }
    }
}

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

/// A DescribeServices deployment as a view.
pub fn deployment_view(d: &t::Deployment) -> DeploymentView {
    DeploymentView {
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

/// A service's events as views.
pub fn event_views(s: &t::Service) -> Vec<EventView> {
    s.events()
        .iter()
        .map(|e| EventView {
            id: e.id().unwrap_or_default().to_string(),
            created_at: epoch(e.created_at()),
            event: ServiceEvent {
                at: rfc3339(e.created_at()),
                message: e.message().unwrap_or_default().to_string(),
            },
        })
        .collect()
}

/// Whether the service runs exactly `arn` at steady state: its task
/// definition, one deployment, COMPLETED (or no rollout state) and the
/// desired count running. Then a deploy of `arn` has nothing to do.
pub fn steady_on(s: &t::Service, arn: &str) -> bool {
    let [d] = s.deployments() else {
        return false;
    };
    s.task_definition() == Some(arn)
        && d.status() == Some("PRIMARY")
        && d.rollout_state()
            .is_none_or(|r| *r == t::DeploymentRolloutState::Completed)
        && d.running_count() == d.desired_count()
}

/// The service as DescribeServices shows it; `None` when ECS does not know it.
pub async fn describe_service(
    ecs: &aws_sdk_ecs::Client,
    cluster: &str,
    service: &str,
) -> Result<Option<t::Service>, DeployError> {
    let out = ecs
        .describe_services()
        .cluster(cluster)
        .services(service)
        .send()
        .await
        .map_err(|e| {
            aws_error(
                "DescribeServices",
                &format!("{service} in {cluster}"),
                aws_sdk_ecs::error::DisplayErrorContext(&e).to_string(),
            )
        })?;
    Ok(out
        .services()
        .iter()
        .find(|s| s.status() != Some("INACTIVE"))
        .cloned())
}

/// What UpdateService started.
#[derive(Debug, Clone, PartialEq)]
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

/// UpdateService(cluster, service, taskDefinition), with the deployment
/// configuration when the rollout's strategy asks for one.
pub async fn update_service(
    ecs: &aws_sdk_ecs::Client,
    cluster: &str,
    service: &str,
    arn: &str,
    configuration: Option<t::DeploymentConfiguration>,
) -> Result<Started, DeployError> {
    let out = ecs
        .update_service()
        .cluster(cluster)
        .service(service)
        .task_definition(arn)
        .set_deployment_configuration(configuration)
        .send()
        .await
        .map_err(|e| {
            aws_error(
                "UpdateService",
                &format!("{service} in {cluster}"),
                aws_sdk_ecs::error::DisplayErrorContext(&e).to_string(),
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

/// Whether an SDK error is ECS throttling.
pub fn is_throttling<E: aws_sdk_ecs::error::ProvideErrorMetadata>(e: &E) -> bool {
    matches!(
        e.code(),
        Some(
            "ThrottlingException"
                | "Throttling"
                | "RequestLimitExceeded"
                | "TooManyRequestsException"
        )
    )
}
