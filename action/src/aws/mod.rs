//! The AWS adapter: the only place that talks to AWS. One SDK config per
//! region ([`config`]: the standard AWS settings, so `AWS_ENDPOINT_URL*`
//! point it at a stand-in, with Ferry's retry settings), the ECS, ECR and
//! CloudWatch Logs clients built from it ([`Clients`], [`ecr::Ecr`]), the
//! credentials check, and the calls each stage needs as typed results:
//! [`ecs`] (services, task definitions, deployments, tasks), [`ecr`] (login,
//! image records) and [`logs`] (a stream's last lines).

pub mod ecr;
pub mod ecs;
pub mod logs;

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

/// The longest fallback [`sdk_message`] writes (an endpoint's HTML page
/// parsed as JSON says a lot).
const MESSAGE_CHARS: usize = 300;

/// An SDK error in one line: the service's code and message when it
/// answered, else the chain of causes, each as it displays itself (a
/// timeout, a refused connection, an answer that is not AWS's: `service
/// error: unhandled error: Error at offset 0: unexpected token '<'…`). The
/// raw response (headers, body) never reaches a message: the SDK's
/// `DisplayErrorContext` appends its debug form, with the raw response, so
/// it is not used.
pub fn sdk_message<E>(e: &E) -> String
where
    E: aws_sdk_ecs::error::ProvideErrorMetadata + std::error::Error,
{
    match (e.code(), e.message()) {
        (Some(code), Some(message)) => one_line(&format!("{code}: {message}")),
        (Some(code), None) => one_line(code),
        _ => {
            let mut parts = vec![e.to_string()];
            let mut cause = e.source();
            while let Some(c) = cause {
                let text = c.to_string();
                if !parts.iter().any(|p| p.contains(&text)) {
                    parts.push(text);
                }
                cause = c.source();
            }
            one_line(&parts.join(": "))
        }
    }
}

/// Whitespace (newlines included) folded to single spaces, and at most
/// [`MESSAGE_CHARS`] characters.
fn one_line(text: &str) -> String {
    let folded = text.split_whitespace().collect::<Vec<_>>().join(" ");
    match folded.char_indices().nth(MESSAGE_CHARS) {
        Some((at, _)) => format!("{}…", &folded[..at]),
        None => folded,
    }
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
        .map_err(|e| AwsError::NoCredentials(e.to_string()))
}

/// Whether the standard AWS settings yield credentials for `region` within
/// a few seconds (a dry run asks, and goes on without AWS when not).
pub async fn has_credentials(region: &str) -> bool {
    let config = config(region).await;
    tokio::time::timeout(CREDENTIALS_PROBE, check_credentials(&config))
        .await
        .is_ok_and(|r| r.is_ok())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn an_error_line_is_one_short_line() {
        assert_eq!(one_line("a\n  b\tc"), "a b c");
        let long = one_line(&"x ".repeat(400));
        assert_eq!(long.chars().count(), MESSAGE_CHARS + 1);
        assert!(long.ends_with('…'));
    }
}
