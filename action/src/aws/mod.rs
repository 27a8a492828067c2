//! The AWS adapter: the only place that talks to AWS. One SDK config per
//! region ([`config`]: the standard AWS settings, so `AWS_ENDPOINT_URL*`
//! point it at a stand-in, with Ferry's retry settings), the ECS, ECR and
//! CloudWatch Logs clients built from it ([`Clients`], [`ecr::Ecr`]), the
//! credentials check, and the calls each stage needs as typed results:
//! [`ecs`] (services, task definitions, deployments, tasks), [`ecr`] (login,
//! image records), [`logs`] (a stream's last lines), [`preflight`]
//! (whether the secrets, roles and log groups a deploy names exist) and
//! [`events`] (the EventBridge rules that run scheduled jobs).

pub mod ec2;
pub mod ecr;
pub mod ecs;
pub mod events;
pub mod logs;
pub mod preflight;

use std::time::Duration;

use aws_config::retry::RetryConfig;

/// How long the credentials probe of [`has_credentials`] may take: IMDS
/// probing on a laptop must not hang a dry run.
const CREDENTIALS_PROBE: Duration = Duration::from_secs(5);

/// Why an AWS step could not run.
#[derive(Debug, thiserror::Error)]
pub enum AwsError {
    /// No AWS credentials: a CI job that lost them must fail, not pass.
    #[error(
        "no AWS credentials: {0}\n  help: configure them (in GitHub Actions: aws-actions/configure-aws-credentials with OIDC), or run with --dry-run to see the plan without AWS"
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
    #[error("{}", crate::outside::line(&format!("{op} {target}"), crate::outside::System::Aws, message, crate::outside::aws_check(message)))]
    Call {
        /// The operation.
        op: &'static str,
        /// What it was about (family, service, …).
        target: String,
        /// The SDK's message, with its context.
        message: String,
    },
}

/// An [`AwsError::Call`].
pub fn call_error(op: &'static str, target: &str, message: String) -> AwsError {
    AwsError::Call {
        op,
        target: target.to_string(),
        message,
    }
}

/// An SDK error in one line: AWS's code and message when it answered, the
/// causes (never their debug form) when it did not, "no AWS credentials"
/// when none were found. The one formatter is [`crate::outside`].
pub fn sdk_message<E>(e: &E) -> String
where
    E: aws_sdk_ecs::error::ProvideErrorMetadata + std::error::Error + 'static,
{
    crate::outside::aws_detail(e)
}

/// The SDK's retries: standard mode (exponential backoff with jitter on
/// throttling and transient errors), a few attempts.
pub fn retry_config() -> RetryConfig {
    RetryConfig::standard()
        .with_max_attempts(5)
        .with_initial_backoff(Duration::from_millis(200))
}

/// The SDK config for `region` from the standard AWS settings (credentials
/// chain, `AWS_ENDPOINT_URL*`), with [`retry_config`]: every client Ferry
/// builds comes from here.
pub async fn config(region: &str) -> aws_config::SdkConfig {
    aws_config::defaults(aws_config::BehaviorVersion::latest())
        .region(aws_config::Region::new(region.to_string()))
        .retry_config(retry_config())
        .load()
        .await
}

/// The clients of one config a deploy uses (`build`'s ECR client is
/// [`ecr::Ecr`], from the same [`config`]).
#[derive(Debug, Clone)]
pub struct Clients {
    /// ECS.
    pub ecs: aws_sdk_ecs::Client,
    /// CloudWatch Logs (the failed tasks' last lines).
    pub logs: aws_sdk_cloudwatchlogs::Client,
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

/// Clients for `region` from the standard AWS settings; fails early when no
/// credentials can be found.
pub async fn connect(region: &str) -> Result<Clients, AwsError> {
    let config = config(region).await;
    check_credentials(&config).await?;
    Ok(Clients::from_config(&config))
}

/// Fails with [`AwsError::NoCredentials`] unless the config's provider
/// yields credentials.
pub async fn check_credentials(config: &aws_config::SdkConfig) -> Result<(), AwsError> {
    use aws_sdk_ecs::config::ProvideCredentials;
    let Some(provider) = config.credentials_provider() else {
        return Err(AwsError::NoCredentials(
            "no credentials provider is configured".into(),
        ));
    };
    provider
        .provide_credentials()
        .await
        .map(|_| ())
        .map_err(|e| AwsError::NoCredentials(crate::outside::chain(&e)))
}

/// Whether the standard AWS settings yield credentials for `region` within
/// a few seconds (a dry run asks, and goes on without AWS when not).
pub async fn has_credentials(region: &str) -> bool {
    let config = config(region).await;
    tokio::time::timeout(CREDENTIALS_PROBE, check_credentials(&config))
        .await
        .is_ok_and(|r| r.is_ok())
}
