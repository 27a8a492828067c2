//! Prometheus exposition helpers shared by the services' `/metrics` endpoints.

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
