//! Prometheus exposition helpers shared by the services' `/metrics` endpoints.

use std::borrow::Cow;
use std::sync::Arc;

use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use prometheus_client::registry::Registry;

/// Latency buckets (seconds) for HTTP request histograms, dense around the 300 ms
/// latency SLO so that `le="0.3"` is an exact bucket boundary.
pub const HTTP_LATENCY_BUCKETS: [f64; 12] = [
    0.005, 0.01, 0.025, 0.05, 0.1, 0.2, 0.25, 0.3, 0.5, 1.0, 2.5, 5.0,
];

/// Content type of the text format `prometheus-client` writes (OpenMetrics, which
/// Prometheus negotiates and parses).
pub const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// A registry whose every metric carries `version="<version>"`: the version
/// the process runs ([`crate::TelemetryConfig::service_version`]), so that
/// the monitoring rules can compare a canary with the baseline beside it.
pub fn registry(version: &str) -> Registry {
    Registry::with_labels(std::iter::once((
        Cow::Borrowed("version"),
        Cow::Owned(version.to_owned()),
    )))
}

/// Encodes the registry as the body of a `/metrics` response.
pub fn render(registry: &Registry) -> Response {
    let mut body = String::with_capacity(4096);
    match prometheus_client::encoding::text::encode(&mut body, registry) {
        Ok(()) => ([(header::CONTENT_TYPE, CONTENT_TYPE)], body).into_response(),
        Err(e) => (
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("cannot encode metrics: {e}"),
        )
            .into_response(),
    }
}

/// The axum handler for `GET /metrics` over a shared registry.
pub async fn handler(
    axum::extract::State(registry): axum::extract::State<Arc<Registry>>,
) -> Response {
    render(&registry)
}

#[cfg(test)]
mod tests {
    use prometheus_client::metrics::counter::Counter;

    use super::*;

    #[test]
    fn every_metric_of_the_registry_carries_the_version() {
        let mut registry = registry("1.4.2");
        let counter = Counter::<u64>::default();
        registry.register("requests", "Requests", counter.clone());
        counter.inc();
        let mut body = String::new();
        prometheus_client::encoding::text::encode(&mut body, &registry).unwrap();
        assert!(
            body.contains("requests_total{version=\"1.4.2\"} 1"),
            "{body}"
        );
    }
}
