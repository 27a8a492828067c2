//! Traces of a release: with `OTEL_EXPORTER_OTLP_ENDPOINT` (or
//! `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`) set, each command exports its spans
//! over OTLP HTTP/protobuf: one root span per command (`ferry deploy`), and
//! under it the stages' `tracing` spans (detect, render, build, register,
//! rollout, wait, diagnose, rollback, GitHub calls). The stages only use
//! `tracing`; this module bridges them to OpenTelemetry.
//!
//! Jobs join one trace: the root span continues `TRACEPARENT` (W3C) when it
//! is set, and [`Telemetry::traceparent`] is written as the `traceparent`
//! output for the next job to pass on.
//!
//! Never in a release's way: without an endpoint no exporter is built and
//! nothing is recorded; spans leave on a background thread; at exit the
//! flush waits at most [`FLUSH_TIMEOUT`]; export errors are logged at debug.
//! Only Ferry's own spans and their fields are exported, never log events
//! (which the AWS and HTTP libraries fill with headers).

use std::collections::HashMap;
use std::time::Duration;

use opentelemetry::propagation::{Extractor, Injector, TextMapPropagator as _};
use opentelemetry::trace::{TraceContextExt as _, Tracer as _, TracerProvider as _};
use opentelemetry::{Context, ContextGuard, KeyValue};
use opentelemetry_otlp::WithExportConfig as _;
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::propagation::TraceContextPropagator;
use opentelemetry_sdk::trace::SdkTracerProvider;
use tracing_subscriber::Layer as _;
use tracing_subscriber::registry::Registry;

/// The most the final flush may add to a command's run.
pub const FLUSH_TIMEOUT: Duration = Duration::from_millis(800);
/// The most one export may take (on the background thread).
pub const EXPORT_TIMEOUT: Duration = Duration::from_secs(3);
/// The instrumentation scope and default `service.name`.
pub const SCOPE: &str = "ferry";

/// The layer that turns Ferry's spans into OpenTelemetry spans.
pub type SpanLayer = Box<dyn tracing_subscriber::Layer<Registry> + Send + Sync>;

/// The OTLP/HTTP traces URL from the standard variables: the signal-specific
/// one as given, else the base endpoint + `/v1/traces`. None when unset,
/// empty, or not an http(s) URL (then nothing is exported).
pub fn traces_url(env: &dyn Fn(&str) -> Option<String>) -> Option<String> {
    let usable = |v: String| {
        let v = v.trim().to_string();
        (v.starts_with("http://") || v.starts_with("https://")).then_some(v)
    };
    if let Some(url) = env("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT").and_then(usable) {
        return Some(url);
    }
    env("OTEL_EXPORTER_OTLP_ENDPOINT")
        .and_then(usable)
        .map(|base| format!("{}/v1/traces", base.trim_end_matches('/')))
}

/// One service's deploy as telemetry records it: plain fields, so this
/// adapter needs nothing from the stage that deployed.
#[derive(Debug, Clone, Copy)]
pub struct ServiceRecord<'a> {
    /// The service.
    pub service: &'a str,
    /// The environment.
    pub environment: &'a str,
    /// The image reference deployed, if any.
    pub image: Option<&'a str>,
    /// The task definition ARN rolled out, if any.
    pub task_definition_arn: Option<&'a str>,
    /// The outcome's name (`succeeded`, `rolled-back`, …).
    pub outcome: &'a str,
    /// How long the service took.
    pub duration_secs: f64,
    /// The task definition ARN rolled back to, if any.
    pub rolled_back_to: Option<&'a str>,
}

/// Records one service's deploy as a span (`deploy.service`) with what a
/// person filters by: service, environment, image digest, task definition
/// revision, outcome, and how long it took.
pub fn record_service(r: &ServiceRecord<'_>) {
    let span = tracing::info_span!(
        "deploy.service",
        service = %r.service,
        environment = %r.environment,
        image.digest = r.image.and_then(crate::image::digest),
        task_definition.revision = r
            .task_definition_arn
            .and_then(crate::taskdef::arn_revision)
            .map(|(_, revision)| revision),
        task_definition.arn = r.task_definition_arn,
        outcome = r.outcome,
        duration_secs = r.duration_secs,
        rolled_back_to = r.rolled_back_to,
    );
    drop(span);
}

/// A subcommand's name from its value's `Debug` text (`PlanComment(…)` →
/// `plan-comment`): only the leading identifier is read.
pub fn command_name(debug: &str) -> String {
    let mut out = String::new();
    for c in debug.chars().take_while(char::is_ascii_alphanumeric) {
        if c.is_ascii_uppercase() && !out.is_empty() {
            out.push('-');
        }
        out.push(c.to_ascii_lowercase());
    }
    out
}

struct Carrier<'a>(&'a HashMap<String, String>);

impl Extractor for Carrier<'_> {
    fn get(&self, key: &str) -> Option<&str> {
        self.0.get(key).map(String::as_str)
    }
    fn keys(&self) -> Vec<&str> {
        self.0.keys().map(String::as_str).collect()
    }
}

struct Out<'a>(&'a mut HashMap<String, String>);

impl Injector for Out<'_> {
    fn set(&mut self, key: &str, value: String) {
        self.0.insert(key.to_string(), value);
    }
}

/// Why a `TRACEPARENT` was refused (the value itself is never echoed).
pub const REFUSED_TRACEPARENT: &str = "TRACEPARENT is not a W3C traceparent (version 00: `00-<32 hex>-<16 hex>-<2 hex>`, lowercase, ids not all zero, nothing else; a later version: the same four fields, then `-` and printable ASCII); it is ignored and this run starts a new trace";

/// A `TRACEPARENT` value checked against the W3C trace-context grammar,
/// in its version-00 form: version `00` exactly as the grammar says; a later
/// version (not `ff`) by its first four fields, followed by nothing or by
/// `-` and printable ASCII. Lowercase hex, ids not all zero, no control
/// character or space anywhere. `None` for anything else.
pub fn valid_traceparent(value: &str) -> Option<String> {
    let bytes = value.as_bytes();
    if bytes.len() < 55 || !bytes.iter().all(|b| (0x21..=0x7e).contains(b)) {
        return None;
    }
    let hex = |s: &[u8]| {
        s.iter()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(b))
    };
    let zero = |s: &[u8]| s.iter().all(|b| *b == b'0');
    let (version, trace, parent, flags) =
        (&bytes[0..2], &bytes[3..35], &bytes[36..52], &bytes[53..55]);
    let dashes = bytes[2] == b'-' && bytes[35] == b'-' && bytes[52] == b'-';
    let shaped = dashes && hex(version) && hex(trace) && hex(parent) && hex(flags);
    if !shaped || version == b"ff" || zero(trace) || zero(parent) {
        return None;
    }
    let rest_ok = match version {
        b"00" => bytes.len() == 55,
        _ => bytes.len() == 55 || bytes[55] == b'-',
    };
    rest_ok.then(|| format!("00{}", &value[2..55]))
}

/// The remote parent a `TRACEPARENT` value names (W3C trace context); None
/// when it is absent or malformed (the command then starts a new trace).
pub fn remote_parent(traceparent: Option<&str>) -> Option<Context> {
    let value = valid_traceparent(traceparent?)?;
    let value = value.as_str();
    let carrier = HashMap::from([("traceparent".to_string(), value.to_string())]);
    let cx = TraceContextPropagator::new().extract(&Carrier(&carrier));
    cx.span().span_context().is_valid().then_some(cx)
}

/// The W3C `traceparent` of a context's span (None if it has none).
pub fn traceparent_of(cx: &Context) -> Option<String> {
    if !cx.span().span_context().is_valid() {
        return None;
    }
    let mut carrier = HashMap::new();
    TraceContextPropagator::new().inject_context(cx, &mut Out(&mut carrier));
    carrier.remove("traceparent")
}

/// The exporting side of a command's telemetry (nothing when disabled).
#[derive(Debug, Default)]
pub struct Telemetry {
    provider: Option<SdkTracerProvider>,
    incoming: Option<String>,
    /// `TRACEPARENT` was set but refused ([`REFUSED_TRACEPARENT`]).
    refused: bool,
    root: Option<Context>,
    guard: Option<ContextGuard>,
}

/// The GitHub run's variables recorded on the root span.
const RUN_ATTRIBUTES: &[(&str, &str)] = &[
    ("GITHUB_REPOSITORY", "github.repository"),
    ("GITHUB_RUN_ID", "github.run_id"),
    ("GITHUB_RUN_ATTEMPT", "github.run_attempt"),
    ("GITHUB_WORKFLOW", "github.workflow"),
    ("GITHUB_JOB", "github.job"),
    ("GITHUB_SHA", "github.sha"),
    ("GITHUB_REF_NAME", "github.ref_name"),
];

/// Sets up tracing export from the environment: the layer to install with
/// the log ([`crate::gha::logging::init_with`]; None without an endpoint),
/// and the handle that starts, passes on and flushes the trace.
pub fn init(env: &dyn Fn(&str) -> Option<String>) -> (Option<SpanLayer>, Telemetry) {
    let given = env("TRACEPARENT").filter(|t| !t.is_empty());
    let incoming = given
        .as_deref()
        .and_then(valid_traceparent)
        .filter(|t| remote_parent(Some(t)).is_some());
    let refused = given.is_some() && incoming.is_none();
    let Some(url) = traces_url(env) else {
        return (
            None,
            Telemetry {
                incoming,
                refused,
                ..Telemetry::default()
            },
        );
    };
    let exporter = match opentelemetry_otlp::SpanExporter::builder()
        .with_http()
        .with_protocol(opentelemetry_otlp::Protocol::HttpBinary)
        .with_endpoint(url)
        .with_timeout(EXPORT_TIMEOUT)
        .build()
    {
        Ok(e) => e,
        Err(e) => {
            tracing::debug!("traces: cannot build the OTLP exporter: {e}");
            return (
                None,
                Telemetry {
                    incoming,
                    refused,
                    ..Telemetry::default()
                },
            );
        }
    };
    let service = env("OTEL_SERVICE_NAME")
        .filter(|s| !s.trim().is_empty())
        .unwrap_or_else(|| SCOPE.to_string());
    let provider = SdkTracerProvider::builder()
        .with_resource(
            Resource::builder()
                .with_service_name(service)
                .with_attribute(KeyValue::new("service.version", env!("CARGO_PKG_VERSION")))
                .build(),
        )
        .with_batch_exporter(exporter)
        .build();
    let layer = tracing_opentelemetry::layer()
        .with_tracer(provider.tracer(SCOPE))
        .with_tracked_inactivity(false)
        // Ferry's spans only: no event (libraries log headers), no
        // library's span.
        .with_filter(tracing_subscriber::filter::filter_fn(|meta| {
            meta.is_span() && meta.target().starts_with("ferry")
        }));
    (
        Some(Box::new(layer)),
        Telemetry {
            provider: Some(provider),
            incoming,
            refused,
            root: None,
            guard: None,
        },
    )
}

impl Telemetry {
    /// Whether spans are exported.
    pub fn enabled(&self) -> bool {
        self.provider.is_some()
    }

    /// Starts the command's root span (`ferry <command>`), child of
    /// `TRACEPARENT` when set, and makes it the parent of every span until
    /// [`Telemetry::finish`].
    pub fn start(&mut self, command: &str, env: &dyn Fn(&str) -> Option<String>) {
        let Some(provider) = &self.provider else {
            return;
        };
        let parent = remote_parent(self.incoming.as_deref()).unwrap_or_default();
        let mut attributes = vec![KeyValue::new("ferry.command", command.to_string())];
        for (var, key) in RUN_ATTRIBUTES {
            if let Some(v) = env(var).filter(|v| !v.is_empty()) {
                attributes.push(KeyValue::new(*key, v));
            }
        }
        let span = provider
            .tracer(SCOPE)
            .span_builder(format!("ferry {command}"))
            .with_attributes(attributes)
            .start_with_context(&provider.tracer(SCOPE), &parent);
        let cx = parent.with_span(span);
        self.guard = Some(cx.clone().attach());
        self.root = Some(cx);
    }

    /// The warning to log when `TRACEPARENT` was set but refused.
    pub fn refused(&self) -> Option<&'static str> {
        self.refused.then_some(REFUSED_TRACEPARENT)
    }

    /// The trace context the next job continues: the root span's, else the
    /// `TRACEPARENT` this command was given (validated, in version-00 form).
    pub fn traceparent(&self) -> Option<String> {
        self.root
            .as_ref()
            .and_then(traceparent_of)
            .or_else(|| self.incoming.clone())
    }

    /// Ends the root span with the command's outcome and flushes, waiting
    /// at most [`FLUSH_TIMEOUT`]; a failure is logged at debug only.
    pub fn finish(mut self, ok: bool) {
        if let Some(cx) = self.root.take() {
            let span = cx.span();
            span.set_attribute(KeyValue::new(
                "ferry.outcome",
                if ok { "succeeded" } else { "failed" },
            ));
            if !ok {
                span.set_status(opentelemetry::trace::Status::error("the command failed"));
            }
            span.end();
        }
        drop(self.guard.take());
        if let Some(provider) = self.provider.take()
            && let Err(e) = provider.shutdown_with_timeout(FLUSH_TIMEOUT)
        {
            tracing::debug!("traces: the last spans were not exported: {e}");
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    fn env(vars: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let vars: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        move |k| vars.get(k).cloned()
    }

    #[test]
    fn command_names_are_the_typed_ones() {
        assert_eq!(
            command_name("PlanComment(PlanArgs { env: \"x\" })"),
            "plan-comment"
        );
        assert_eq!(command_name("PlanVerify { plan: .. }"), "plan-verify");
        assert_eq!(command_name("Deploy(DeployArgs)"), "deploy");
    }

    #[test]
    fn the_standard_variables_name_the_endpoint() {
        assert_eq!(traces_url(&env(&[])), None);
        assert_eq!(
            traces_url(&env(&[("OTEL_EXPORTER_OTLP_ENDPOINT", "http://c:4318/")])).as_deref(),
            Some("http://c:4318/v1/traces")
        );
        assert_eq!(
            traces_url(&env(&[
                ("OTEL_EXPORTER_OTLP_ENDPOINT", "http://c:4318"),
                ("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "https://t/x")
            ]))
            .as_deref(),
            Some("https://t/x")
        );
        for bad in ["", "  ", "c:4318", "file:///etc/passwd", "ftp://x"] {
            assert_eq!(
                traces_url(&env(&[("OTEL_EXPORTER_OTLP_ENDPOINT", bad)])),
                None,
                "{bad}"
            );
        }
    }

    #[test]
    fn traceparents_round_trip_and_malformed_ones_start_a_new_trace() {
        let tp = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01";
        let cx = remote_parent(Some(tp)).unwrap();
        assert_eq!(traceparent_of(&cx).as_deref(), Some(tp));
        for bad in [
            "",
            "00-00000000000000000000000000000000-b7ad6b7169203331-01",
            "00-0af7651916cd43dd8448eb211c80319c-0000000000000000-01",
            "zz-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
            "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331",
            "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01\n::stop-commands::x",
        ] {
            assert!(remote_parent(Some(bad)).is_none(), "{bad:?}");
        }
    }

    #[test]
    fn without_an_endpoint_nothing_is_built_and_traceparent_passes_through() {
        let tp = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01";
        let (layer, mut t) = init(&env(&[("TRACEPARENT", tp)]));
        assert!(layer.is_none());
        assert!(!t.enabled());
        t.start("render", &env(&[]));
        assert_eq!(t.traceparent().as_deref(), Some(tp));
        t.finish(true);
        let (_, t) = init(&env(&[("TRACEPARENT", "garbage")]));
        assert_eq!(t.traceparent(), None);
    }
}
