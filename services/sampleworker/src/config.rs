//! `sampleworker`'s configuration, read once from the environment at start.

use std::time::Duration;

use service_telemetry::{ConfigError, Env, TelemetryConfig};

/// Everything the worker reads from its environment; see `services/README.md`.
#[derive(Debug, Clone)]
pub struct Config {
    /// `METRICS_PORT`: port of `/metrics` and `/health` (default 9090).
    pub metrics_port: u16,
    /// `SQS_QUEUE_URL`: the queue to consume (required).
    pub queue_url: String,
    /// `AWS_REGION`: the queue's region (required; ECS sets it).
    pub region: String,
    /// `WORKER_CONCURRENCY`: messages processed at once (default 10).
    pub concurrency: usize,
    /// `SQS_MAX_MESSAGES`: messages asked per receive, 1-10 (default 10).
    pub max_messages: i32,
    /// `SQS_WAIT_TIME_SECONDS`: long-poll wait, 0-20 (default 20).
    pub wait_time_seconds: i32,
    /// `SQS_VISIBILITY_TIMEOUT_SECONDS`: how long a received message stays hidden;
    /// work that runs longer than half of it gets its visibility extended
    /// (default 30).
    pub visibility_timeout_seconds: i32,
    /// `SQS_TIMEOUT_MS`: deadline of delete/visibility calls (default 5000).
    pub sqs_timeout: Duration,
    /// `EMAIL_SEND_DURATION_MS`: simulated duration of sending one e-mail
    /// (default 5000).
    pub send_duration: Duration,
    /// `FAIL_SIMULATE_ENABLED`: every send fails (default false), for the SLO
    /// walkthrough.
    pub fail_simulate: bool,
    /// `SHUTDOWN_TIMEOUT_MS`: after SIGTERM, how long in-flight work may run
    /// before it is released to the queue (default 20000: with the release and
    /// the span flush it stays under ECS's default 30 s `stopTimeout`).
    pub shutdown_timeout: Duration,
    /// `DEDUP_WINDOW_SECONDS`: how long a processed idempotency key is remembered,
    /// so that a task queued again with the same key is dropped (default 86400).
    pub dedup_window: Duration,
    /// `DEDUP_MAX_KEYS`: most processed keys remembered at once (default
    /// 100000); past it the oldest are forgotten first.
    pub dedup_max_keys: usize,
    /// Logs and traces.
    pub telemetry: TelemetryConfig,
}

impl Config {
    /// Reads and validates the configuration.
    pub fn from_env(env: &Env) -> Result<Self, ConfigError> {
        let queue_url = env.required(
            "SQS_QUEUE_URL",
            "the URL of the queue to consume, e.g. https://sqs.us-east-1.amazonaws.com/123456789012/tasks",
        )?;
        if !(queue_url.starts_with("http://") || queue_url.starts_with("https://")) {
            return Err(ConfigError::new(
                "SQS_QUEUE_URL",
                &queue_url,
                "must be a queue URL starting with https://",
            ));
        }
        let region = env.required("AWS_REGION", "the AWS region of the queue, e.g. us-east-1")?;
        // The ranges below bound every value, so the integer conversions cannot fail.
        let int = |v: u64| i32::try_from(v).unwrap_or(i32::MAX);
        Ok(Self {
            metrics_port: env.port_or("METRICS_PORT", 9090)?,
            queue_url,
            region,
            concurrency: usize::try_from(env.range_or("WORKER_CONCURRENCY", 10, 1, 1000)?)
                .unwrap_or(10),
            max_messages: int(env.range_or("SQS_MAX_MESSAGES", 10, 1, 10)?),
            wait_time_seconds: int(env.range_or("SQS_WAIT_TIME_SECONDS", 20, 0, 20)?),
            visibility_timeout_seconds: int(env.range_or(
                "SQS_VISIBILITY_TIMEOUT_SECONDS",
                30,
                1,
                43_200,
            )?),
            sqs_timeout: env.millis_or("SQS_TIMEOUT_MS", 5000, 50, 60_000)?,
            send_duration: env.millis_or("EMAIL_SEND_DURATION_MS", 5000, 0, 3_600_000)?,
            fail_simulate: env.bool_or("FAIL_SIMULATE_ENABLED", false)?,
            shutdown_timeout: env.millis_or("SHUTDOWN_TIMEOUT_MS", 20_000, 0, 3_600_000)?,
            dedup_window: Duration::from_secs(env.range_or(
                "DEDUP_WINDOW_SECONDS",
                86_400,
                1,
                604_800,
            )?),
            dedup_max_keys: usize::try_from(env.range_or(
                "DEDUP_MAX_KEYS",
                100_000,
                1,
                10_000_000,
            )?)
            .unwrap_or(100_000),
            telemetry: TelemetryConfig::from_env(env, "sampleworker")?,
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
        assert_eq!(c.metrics_port, 9090);
        assert_eq!(c.max_messages, 10);
        assert_eq!(c.wait_time_seconds, 20);
        assert_eq!(c.send_duration, Duration::from_secs(5));
        assert!(!c.fail_simulate);
        assert_eq!(c.dedup_window, Duration::from_secs(86_400));
        assert_eq!(c.dedup_max_keys, 100_000);
    }

    #[test]
    fn errors_name_the_variable() {
        let base = [("SQS_QUEUE_URL", "http://q"), ("AWS_REGION", "us-east-1")];
        for (var, value) in [
            ("SQS_MAX_MESSAGES", "11"),
            ("SQS_WAIT_TIME_SECONDS", "-1"),
            ("FAIL_SIMULATE_ENABLED", "sometimes"),
            ("EMAIL_SEND_DURATION_MS", "5s"),
            ("METRICS_PORT", "70000"),
            ("DEDUP_WINDOW_SECONDS", "0"),
            ("DEDUP_WINDOW_SECONDS", "1d"),
            ("DEDUP_MAX_KEYS", "0"),
            ("DEDUP_MAX_KEYS", "20000000"),
        ] {
            let mut pairs = base.to_vec();
            pairs.push((var, value));
            let e = Config::from_env(&Env::from_pairs(&pairs)).unwrap_err();
            assert_eq!(e.var, var);
        }
    }
}
