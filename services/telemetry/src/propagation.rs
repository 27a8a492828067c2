//! W3C trace-context propagation through string maps (HTTP headers, SQS message
//! attributes), so that the worker continues the trace the API started.

use std::collections::HashMap;

use opentelemetry::propagation::{Extractor, Injector};
use tracing_opentelemetry::OpenTelemetrySpanExt as _;

struct MapInjector<'a>(&'a mut HashMap<String, String>);

impl Injector for MapInjector<'_> {
    fn set(&mut self, key: &str, value: String) {
        self.0.insert(key.to_owned(), value);
    }
}

struct MapExtractor<'a>(&'a HashMap<String, String>);

impl Extractor for MapExtractor<'_> {
    fn get(&self, key: &str) -> Option<&str> {
        self.0.get(key).map(String::as_str)
    }
    fn keys(&self) -> Vec<&str> {
        self.0.keys().map(String::as_str).collect()
    }
}

/// The trace context of `span` as carrier entries (`traceparent`, `tracestate`).
pub fn inject(span: &tracing::Span) -> HashMap<String, String> {
    let mut carrier = HashMap::new();
    let cx = span.context();
    opentelemetry::global::get_text_map_propagator(|p| {
        p.inject_context(&cx, &mut MapInjector(&mut carrier));
    });
    carrier
}

/// Makes `span` a child of the remote context found in `carrier` (if any). Call it
/// right after creating the span, before anything is logged in it.
pub fn set_parent_from(span: &tracing::Span, carrier: &HashMap<String, String>) {
    let cx = opentelemetry::global::get_text_map_propagator(|p| p.extract(&MapExtractor(carrier)));
    // Fails only if the span was already started; then it keeps its own trace.
    let _ = span.set_parent(cx);
}

/// Reads a carrier from HTTP headers (only the propagation fields).
pub fn from_headers(headers: &axum::http::HeaderMap) -> HashMap<String, String> {
    ["traceparent", "tracestate"]
        .into_iter()
        .filter_map(|k| {
            let v = headers.get(k)?.to_str().ok()?;
            Some((k.to_owned(), v.to_owned()))
        })
        .collect()
}
