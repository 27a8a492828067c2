//! The API's Prometheus metrics. The names are a contract with the monitoring
//! rules and dashboards (`monitoring/`): change them only together.

use std::sync::Arc;
use std::time::Duration;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;

/// Labels of `http_requests_total`.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RequestLabels {
    /// HTTP method.
    pub method: String,
    /// Route template (`/api/tasks`), never the raw path, to bound cardinality.
    pub route: String,
    /// Response status code.
    pub status: String,
}

/// Labels of `http_request_duration_seconds`.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RouteLabels {
    /// HTTP method.
    pub method: String,
    /// Route template.
    pub route: String,
}

fn latency_histogram() -> Histogram {
    Histogram::new(service_telemetry::metrics::HTTP_LATENCY_BUCKETS)
}

/// The API's metrics and the registry that exposes them.
#[derive(Debug)]
pub struct ApiMetrics {
    registry: Arc<Registry>,
    /// `http_requests_total{method,route,status}`.
    pub requests: Family<RequestLabels, Counter>,
    /// `http_request_duration_seconds{method,route}`, buckets around the 300 ms SLO.
    pub duration: Family<RouteLabels, Histogram, fn() -> Histogram>,
    /// `sqs_publish_errors_total`: tasks refused because SQS failed or timed out.
    pub publish_errors: Counter,
}

impl Default for ApiMetrics {
    /// Metrics of a process whose version is unknown.
    fn default() -> Self {
        Self::new(service_telemetry::UNKNOWN_VERSION)
    }
}

impl ApiMetrics {
    /// Creates and registers the metrics, each labelled `version="<version>"`
    /// (the version this process runs: `TelemetryConfig::service_version`).
    pub fn new(version: &str) -> Self {
        let mut registry = service_telemetry::metrics::registry(version);
        let requests = Family::<RequestLabels, Counter>::default();
        let duration: Family<RouteLabels, Histogram, fn() -> Histogram> =
            Family::new_with_constructor(latency_histogram);
        let publish_errors = Counter::default();
        // prometheus-client appends `_total` to counters.
        registry.register(
            "http_requests",
            "HTTP requests by method, route template and status",
            requests.clone(),
        );
        registry.register(
            "http_request_duration_seconds",
            "HTTP request latency by method and route template",
            duration.clone(),
        );
        registry.register(
            "sqs_publish_errors",
            "Tasks that could not be published to SQS (error or timeout)",
            publish_errors.clone(),
        );
        Self {
            registry: Arc::new(registry),
            requests,
            duration,
            publish_errors,
        }
    }

    /// The registry, for the `/metrics` handler.
    pub fn registry(&self) -> Arc<Registry> {
        self.registry.clone()
    }

    /// Records one finished request.
    pub fn observe(&self, method: &str, route: &str, status: u16, elapsed: Duration) {
        self.requests
            .get_or_create(&RequestLabels {
                method: method.to_owned(),
                route: route.to_owned(),
                status: status.to_string(),
            })
            .inc();
        self.duration
            .get_or_create(&RouteLabels {
                method: method.to_owned(),
                route: route.to_owned(),
            })
            .observe(elapsed.as_secs_f64());
    }
}
