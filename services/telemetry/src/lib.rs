//! Shared telemetry and runtime plumbing for the example services (`sampleapi`,
//! `sampleworker`).
//!
//! Every service of the platform needs the same things, and they must behave the
//! same way so that logs, traces and metrics line up in Loki, Jaeger and
//! Prometheus:
//! - [`config`]: configuration from the environment, validated at start, with one
//!   clear error line naming the bad variable;
//! - [`init`]: JSON logs on stdout carrying `trace_id`/`span_id`, OpenTelemetry
//!   traces over OTLP/HTTP when `OTEL_EXPORTER_OTLP_ENDPOINT` is set, W3C trace
//!   context propagation;
//! - [`propagation`]: carry the trace context through message attributes;
//! - [`metrics`]: the Prometheus text endpoint;
//! - [`shutdown`]: SIGTERM/SIGINT handling for graceful shutdown on ECS;
//! - [`healthcheck`]: `<binary> healthcheck URL`, the container health check;
//! - [`idempotency`]: what a valid `Idempotency-Key` is, for the API and the worker.
#![warn(missing_docs)]
#![cfg_attr(test, allow(clippy::unwrap_used, clippy::expect_used))]

pub mod config;
pub mod healthcheck;
pub mod idempotency;
pub mod logging;
pub mod metrics;
pub mod propagation;
pub mod shutdown;

use opentelemetry::trace::TracerProvider as _;
use opentelemetry_otlp::WithExportConfig as _;
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::trace::SdkTracerProvider;
use tracing_subscriber::Layer as _;
use tracing_subscriber::filter::{LevelFilter, Targets, filter_fn};
use tracing_subscriber::layer::SubscriberExt as _;

pub use config::{ConfigError, Env};

/// The variable that names the running version (set by the task definition).
pub const SERVICE_VERSION_VAR: &str = "SERVICE_VERSION";

/// The version label of a process started without [`SERVICE_VERSION_VAR`].
pub const UNKNOWN_VERSION: &str = "unknown";

/// A version fit for a metric label and a resource attribute: what an image
/// tag (or an algorithm-prefixed short digest) may contain.
fn valid_version(v: &str) -> bool {
    v.len() <= 128
        && v.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-' | '+' | ':'))
}

/// Telemetry settings read from the standard environment variables, so that the
/// services honour the same variables as every OpenTelemetry SDK.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TelemetryConfig {
    /// `OTEL_SERVICE_NAME`, the `service.name` resource of every span.
    pub service_name: String,
    /// `OTEL_EXPORTER_OTLP_ENDPOINT` (base URL, `/v1/traces` is appended); `None`
    /// disables the exporter entirely (no connection attempts, no error spam).
    pub otlp_endpoint: Option<String>,
    /// `LOG_LEVEL`: a level such as `info`, or per-target directives such as
    /// `info,sampleapi=debug`. It filters log lines only: spans are traced at
    /// `info` whatever the log level, so a `warn` line still carries its trace id.
    pub log_level: String,
    /// `SERVICE_VERSION`: the version this process runs (the task definition
    /// sets it from the image tag), or `unknown`. It labels every metric
    /// (`version`, see [`metrics::registry`]) and every span (`service.version`),
    /// so a canary can be compared with the baseline running beside it.
    pub service_version: String,
}

impl TelemetryConfig {
    /// Reads and validates the telemetry variables; `default_service_name` is used
    /// when `OTEL_SERVICE_NAME` is unset.
    pub fn from_env(env: &Env, default_service_name: &str) -> Result<Self, ConfigError> {
        let service_name = env
            .optional("OTEL_SERVICE_NAME")
            .unwrap_or_else(|| default_service_name.to_owned());
        let otlp_endpoint = match env.optional("OTEL_EXPORTER_OTLP_ENDPOINT") {
            None => None,
            Some(raw) => {
                if !(raw.starts_with("http://") || raw.starts_with("https://")) {
                    return Err(ConfigError::new(
                        "OTEL_EXPORTER_OTLP_ENDPOINT",
                        &raw,
                        "must be an http:// or https:// URL such as http://localhost:4318",
                    ));
                }
                Some(raw)
            }
        };
        let log_level = env
            .optional("LOG_LEVEL")
            .unwrap_or_else(|| "info".to_owned());
        let plain_level = !log_level.contains(['=', ',', '[']);
        let known = ["off", "error", "warn", "info", "debug", "trace"];
        if (plain_level && !known.contains(&log_level.to_ascii_lowercase().as_str()))
            || log_level.parse::<Targets>().is_err()
        {
            return Err(ConfigError::new(
                "LOG_LEVEL",
                &log_level,
                "must be a level (error, warn, info, debug, trace) or a filter such as info,sampleapi=debug",
            ));
        }
        let service_version = match env.optional(SERVICE_VERSION_VAR) {
            None => UNKNOWN_VERSION.to_owned(),
            Some(v) if valid_version(&v) => v,
            Some(v) => {
                return Err(ConfigError::new(
                    SERVICE_VERSION_VAR,
                    &v,
                    "must be an image tag or short digest: up to 128 letters, digits and . _ - + : (e.g. 1.4.2 or sha256:0123456789ab)",
                ));
            }
        };
        Ok(Self {
            service_name,
            otlp_endpoint,
            log_level,
            service_version,
        })
    }

    /// The OpenTelemetry resource of every span: `service.name` and
    /// `service.version`.
    pub fn resource(&self) -> Resource {
        Resource::builder()
            .with_service_name(self.service_name.clone())
            .with_attribute(opentelemetry::KeyValue::new(
                "service.version",
                self.service_version.clone(),
            ))
            .build()
    }

    /// The OTLP/HTTP traces URL derived from the base endpoint, as the
    /// OpenTelemetry specification defines it.
    pub fn traces_url(&self) -> Option<String> {
        self.otlp_endpoint
            .as_deref()
            .map(|base| format!("{}/v1/traces", base.trim_end_matches('/')))
    }
}

/// Keeps the tracer provider alive; [`TelemetryGuard::shutdown`] flushes the
/// spans still buffered so that the last requests before a SIGTERM are not lost.
#[derive(Debug)]
pub struct TelemetryGuard {
    provider: SdkTracerProvider,
}

impl TelemetryGuard {
    /// Flushes and stops the span exporter, waiting at most 3 s for the collector
    /// (the whole shutdown must fit in ECS's `stopTimeout`). Call it once, last
    /// thing before exit.
    pub fn shutdown(self) {
        if let Err(e) = self
            .provider
            .shutdown_with_timeout(std::time::Duration::from_secs(3))
        {
            tracing::warn!(error = %e, "could not flush the last spans");
            eprintln!("telemetry: could not flush the last spans: {e}");
        }
    }
}

/// Error from [`init`]: the exporter could not be built or a global subscriber is
/// already installed.
#[derive(Debug)]
pub struct InitError(String);

impl std::fmt::Display for InitError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "telemetry: {}", self.0)
    }
}

impl std::error::Error for InitError {}

/// Installs the global tracing subscriber (JSON logs + OpenTelemetry layer) and
/// the W3C trace-context propagator.
///
/// Spans always get real trace ids (so log lines carry `trace_id` even without a
/// collector); they are exported only when an OTLP endpoint is configured.
pub fn init(config: &TelemetryConfig) -> Result<TelemetryGuard, InitError> {
    opentelemetry::global::set_text_map_propagator(
        opentelemetry_sdk::propagation::TraceContextPropagator::new(),
    );
    let mut builder = SdkTracerProvider::builder().with_resource(config.resource());
    if let Some(url) = config.traces_url() {
        let exporter = opentelemetry_otlp::SpanExporter::builder()
            .with_http()
            .with_protocol(opentelemetry_otlp::Protocol::HttpBinary)
            .with_endpoint(url)
            .build()
            .map_err(|e| InitError(format!("cannot build the OTLP exporter: {e}")))?;
        builder = builder.with_batch_exporter(exporter);
    }
    let provider = builder.build();
    let tracer = provider.tracer(config.service_name.clone());
    opentelemetry::global::set_tracer_provider(provider.clone());

    let targets: Targets = config
        .log_level
        .parse()
        .map_err(|e| InitError(format!("LOG_LEVEL: {e}")))?;
    // Spans always reach the log layer (their fields and trace ids decorate the
    // lines); LOG_LEVEL selects which events are written.
    let log_filter =
        filter_fn(move |meta| meta.is_span() || targets.would_enable(meta.target(), meta.level()));
    let subscriber = tracing_subscriber::registry()
        .with(
            tracing_opentelemetry::layer()
                .with_tracer(tracer)
                .with_filter(LevelFilter::INFO),
        )
        .with(logging::JsonLayer::stdout().with_filter(log_filter));
    tracing::subscriber::set_global_default(subscriber)
        .map_err(|e| InitError(format!("cannot install the subscriber: {e}")))?;
    Ok(TelemetryGuard { provider })
}

/// The W3C trace id (32 hex digits) of the current span, if it has a valid one:
/// returned to clients and written in logs to look the trace up in Jaeger.
pub fn current_trace_id() -> Option<String> {
    use opentelemetry::trace::TraceContextExt as _;
    use tracing_opentelemetry::OpenTelemetrySpanExt as _;
    let cx = tracing::Span::current().context();
    let span = cx.span();
    let sc = span.span_context();
    sc.is_valid().then(|| sc.trace_id().to_string())
}

/// The start-up every service binary shares, so each `main` is one call: the
/// `healthcheck` probe mode, the configuration read from the environment (a
/// bad value exits 2 naming the variable), a multi-thread runtime, and
/// telemetry installed before `body` runs and flushed after it. Exits with
/// `body`'s code.
pub fn run_service<C, F, Fut>(
    read_config: impl FnOnce(&Env) -> Result<C, ConfigError>,
    telemetry: impl FnOnce(&C) -> &TelemetryConfig,
    body: F,
) -> !
where
    F: FnOnce(C) -> Fut,
    Fut: std::future::Future<Output = i32>,
{
    // ECS's container health check runs `<binary> healthcheck URL` (no shell in the image).
    if let Some(code) = healthcheck::from_args() {
        std::process::exit(code);
    }
    let config = match read_config(&Env::from_process()) {
        Ok(c) => c,
        Err(e) => config::exit_with(&e),
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("cannot start the async runtime: {e}");
            std::process::exit(1);
        }
    };
    let code = runtime.block_on(async move {
        let guard = match init(telemetry(&config)) {
            Ok(t) => t,
            Err(e) => {
                eprintln!("{e}");
                return 1;
            }
        };
        let code = body(config).await;
        guard.shutdown();
        code
    });
    std::process::exit(code)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_without_variables() {
        let env = Env::from_pairs(&[]);
        let c = TelemetryConfig::from_env(&env, "svc").unwrap();
        assert_eq!(c.service_name, "svc");
        assert_eq!(c.otlp_endpoint, None);
        assert_eq!(c.traces_url(), None);
        assert_eq!(c.log_level, "info");
        assert_eq!(c.service_version, "unknown");
    }

    #[test]
    fn the_version_comes_from_service_version_and_reaches_the_resource() {
        let env = Env::from_pairs(&[("SERVICE_VERSION", "1.4.2")]);
        let c = TelemetryConfig::from_env(&env, "svc").unwrap();
        assert_eq!(c.service_version, "1.4.2");
        let resource = c.resource();
        let version = resource.get(&opentelemetry::Key::new("service.version"));
        assert_eq!(version.map(|v| v.to_string()).as_deref(), Some("1.4.2"));
        let name = resource.get(&opentelemetry::Key::new("service.name"));
        assert_eq!(name.map(|v| v.to_string()).as_deref(), Some("svc"));
        // A digest-only image gets its short digest (task-definitions/lib).
        let env = Env::from_pairs(&[("SERVICE_VERSION", "sha256:0123456789ab")]);
        let c = TelemetryConfig::from_env(&env, "svc").unwrap();
        assert_eq!(c.service_version, "sha256:0123456789ab");
    }

    #[test]
    fn a_version_unfit_for_a_label_names_the_variable() {
        for bad in ["1.0 beta", "v1\"", &"x".repeat(129)] {
            let env = Env::from_pairs(&[("SERVICE_VERSION", bad)]);
            let e = TelemetryConfig::from_env(&env, "svc").unwrap_err();
            assert!(e.to_string().contains("SERVICE_VERSION"), "{e}");
        }
    }

    #[test]
    fn endpoint_gets_the_traces_path() {
        let env = Env::from_pairs(&[
            ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://collector:4318/"),
            ("OTEL_SERVICE_NAME", "x"),
        ]);
        let c = TelemetryConfig::from_env(&env, "svc").unwrap();
        assert_eq!(c.service_name, "x");
        assert_eq!(
            c.traces_url().as_deref(),
            Some("http://collector:4318/v1/traces")
        );
    }

    #[test]
    fn bad_values_name_the_variable() {
        let env = Env::from_pairs(&[("OTEL_EXPORTER_OTLP_ENDPOINT", "collector:4318")]);
        let e = TelemetryConfig::from_env(&env, "svc").unwrap_err();
        assert!(e.to_string().contains("OTEL_EXPORTER_OTLP_ENDPOINT"), "{e}");
        let env = Env::from_pairs(&[("LOG_LEVEL", "loud")]);
        let e = TelemetryConfig::from_env(&env, "svc").unwrap_err();
        assert!(e.to_string().contains("LOG_LEVEL"), "{e}");
    }
}
