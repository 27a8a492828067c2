//! `sampleapi`'s configuration, read once from the environment at start.

use std::time::Duration;

use service_telemetry::{ConfigError, Env, TelemetryConfig};

/// Everything the API reads from its environment; see `services/README.md`.
#[derive(Debug, Clone)]
pub struct Config {
    /// `PORT`: the HTTP port (default 8080).
    pub port: u16,
    /// `SQS_QUEUE_URL`: the queue tasks are published to (required).
    pub queue_url: String,
    /// `AWS_REGION`: the queue's region (required; ECS sets it).
    pub region: String,
    /// `SQS_TIMEOUT_MS`: the deadline of one SQS call, retries included
    /// (default 2000): past it the request gets 503 instead of hanging.
    pub sqs_timeout: Duration,
    /// `READY_CACHE_MS`: how long a `/ready` probe result is reused (default
    /// 5000), so probes do not hammer SQS.
    pub ready_cache: Duration,
    /// `MAX_BODY_BYTES`: the largest accepted request body (default 65536).
    pub max_body_bytes: usize,
    /// `SHUTDOWN_DRAIN_MS`: after SIGTERM, how long `/ready` answers 503 while
    /// requests are still served, so the load balancer stops routing first
    /// (default 0).
    pub shutdown_drain: Duration,
    /// `SHUTDOWN_TIMEOUT_MS`: the most the API waits for in-flight requests after
    /// SIGTERM (default 20000, under ECS's 30 s `stopTimeout`).
    pub shutdown_timeout: Duration,
    /// Logs and traces.
    pub telemetry: TelemetryConfig,
}

impl Config {
    /// Reads and validates the configuration.
    pub fn from_env(env: &Env) -> Result<Self, ConfigError> {
        let queue_url = env.required(
            "SQS_QUEUE_URL",
            "the URL of the queue to publish tasks to, e.g. https://sqs.us-east-1.amazonaws.com/123456789012/tasks",
        )?;
        if !(queue_url.starts_with("http://") || queue_url.starts_with("https://")) {
            return Err(ConfigError::new(
                "SQS_QUEUE_URL",
                &queue_url,
                "must be a queue URL starting with https://",
            ));
        }
        let region = env.required("AWS_REGION", "the AWS region of the queue, e.g. us-east-1")?;
        Ok(Self {
            port: env.port_or("PORT", 8080)?,
            queue_url,
            region,
            sqs_timeout: env.millis_or("SQS_TIMEOUT_MS", 2000, 50, 60_000)?,
            ready_cache: env.millis_or("READY_CACHE_MS", 5000, 0, 600_000)?,
            max_body_bytes: usize::try_from(env.range_or(
                "MAX_BODY_BYTES",
                65_536,
                256,
                262_144,
            )?)
            .unwrap_or(65_536),
            shutdown_drain: env.millis_or("SHUTDOWN_DRAIN_MS", 0, 0, 120_000)?,
            shutdown_timeout: env.millis_or("SHUTDOWN_TIMEOUT_MS", 20_000, 0, 600_000)?,
            telemetry: TelemetryConfig::from_env(env, "sampleapi")?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults() {
        let env = Env::from_pairs(&[
            ("SQS_QUEUE_URL", "http://localhost:4566/000000000000/tasks"),
            ("AWS_REGION", "us-east-1"),
        ]);
        let c = Config::from_env(&env).unwrap();
        assert_eq!(c.port, 8080);
        assert_eq!(c.sqs_timeout, Duration::from_secs(2));
        assert_eq!(c.max_body_bytes, 65_536);
    }

    #[test]
    fn errors_name_the_variable() {
        let e = Config::from_env(&Env::from_pairs(&[("AWS_REGION", "us-east-1")])).unwrap_err();
        assert_eq!(e.var, "SQS_QUEUE_URL");
        let e = Config::from_env(&Env::from_pairs(&[
            ("SQS_QUEUE_URL", "http://q"),
            ("AWS_REGION", "us-east-1"),
            ("PORT", "eighty"),
        ]))
        .unwrap_err();
        assert_eq!(e.var, "PORT");
        let e = Config::from_env(&Env::from_pairs(&[("SQS_QUEUE_URL", "http://q")])).unwrap_err();
        assert_eq!(e.var, "AWS_REGION");
    }
}
