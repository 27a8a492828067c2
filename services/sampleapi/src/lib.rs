//! `sampleapi`: the example HTTP API that Ferry releases. It validates tasks
//! submitted over HTTP and publishes them to SQS for `sampleworker`.
//!
//! It is a library as well as a binary so that tests (and the end-to-end test of
//! the worker) can run it in-process against a real SQS endpoint (moto).
#![warn(missing_docs)]
#![cfg_attr(test, allow(clippy::unwrap_used, clippy::expect_used))]

pub mod config;
pub mod delivery;
pub mod metrics;
pub mod task;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use aws_sdk_sqs::Client;
use aws_sdk_sqs::error::DisplayErrorContext;
use aws_sdk_sqs::types::MessageAttributeValue;
use axum::body::Body;
use axum::extract::{MatchedPath, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::{Value, json};
use service_telemetry::idempotency::{self, KeyError};
use service_telemetry::shutdown::Shutdown;
use service_telemetry::{current_trace_id, propagation};
use tokio::sync::Mutex;
use tracing::{Instrument as _, field};

pub use config::Config;
pub use delivery::Delivery;
pub use metrics::ApiMetrics;

/// The header carrying the request id, accepted from the client (or the load
/// balancer) and echoed in the response.
pub const REQUEST_ID_HEADER: &str = "x-request-id";

/// Shared state of the API: configuration, the SQS client, metrics, the cached
/// readiness result and the shutdown handle.
#[derive(Debug)]
pub struct App {
    config: Config,
    sqs: Client,
    metrics: ApiMetrics,
    ready_cache: Mutex<Option<(Instant, Result<(), String>)>>,
    shutdown: Shutdown,
}

impl App {
    /// Builds the state; `shutdown` flips `/ready` to 503 and stops the server.
    pub fn new(config: Config, sqs: Client, shutdown: Shutdown) -> Arc<Self> {
        let metrics = ApiMetrics::new(&config.telemetry.service_version);
        Arc::new(Self {
            config,
            sqs,
            metrics,
            ready_cache: Mutex::new(None),
            shutdown,
        })
    }

    /// The metrics, for tests that check counters directly.
    pub fn metrics(&self) -> &ApiMetrics {
        &self.metrics
    }
}

/// The SQS client configured for this service: region, and a deadline on every
/// operation (retries included) so that a slow or dead SQS endpoint gives a fast
/// 503 instead of a hanging request. `AWS_ENDPOINT_URL` (local SQS) and the
/// credentials come from the standard AWS environment.
pub async fn sqs_client(region: &str, timeout: Duration) -> Client {
    let timeouts = aws_config::timeout::TimeoutConfig::builder()
        .connect_timeout(timeout.min(Duration::from_secs(1)))
        .operation_attempt_timeout(timeout)
        .operation_timeout(timeout)
        .build();
    let shared = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .region(aws_config::Region::new(region.to_owned()))
        .timeout_config(timeouts)
        .retry_config(aws_config::retry::RetryConfig::standard().with_max_attempts(2))
        .load()
        .await;
    Client::new(&shared)
}

/// The API's routes with their middleware (request ids, spans, metrics, body
/// limit).
pub fn router(app: Arc<App>) -> Router {
    let metrics_registry = app.metrics.registry();
    Router::new()
        .route("/health", get(health))
        .route("/ready", get(ready))
        .route("/api/tasks", post(create_task))
        .with_state(app.clone())
        .route(
            "/metrics",
            get(service_telemetry::metrics::handler).with_state(metrics_registry),
        )
        .fallback(not_found)
        .layer(axum::middleware::from_fn_with_state(app, observe))
}

/// Serves the API on `listener` until `app`'s shutdown triggers, then drains:
/// `/ready` answers 503 for `SHUTDOWN_DRAIN_MS`, then the listener closes and
/// in-flight requests get up to `SHUTDOWN_TIMEOUT_MS` to finish.
pub async fn serve(listener: tokio::net::TcpListener, app: Arc<App>) -> std::io::Result<()> {
    let shutdown = app.shutdown.clone();
    let drain = app.config.shutdown_drain;
    let timeout = app.config.shutdown_timeout;
    let stop = shutdown.clone();
    let server = axum::serve(listener, router(app)).with_graceful_shutdown(async move {
        stop.wait().await;
        tracing::info!(drain_ms = drain.as_millis() as u64, "draining");
        tokio::time::sleep(drain).await;
    });
    let server = server.into_future();
    tokio::pin!(server);
    tokio::select! {
        res = &mut server => res,
        () = async {
            shutdown.wait().await;
            tokio::time::sleep(drain + timeout).await;
        } => {
            tracing::warn!("in-flight requests did not finish within SHUTDOWN_TIMEOUT_MS; exiting");
            Ok(())
        }
    }
}

/// A JSON error body: a stable code, a human message, the field when there is
/// one, and the request id to quote to support.
fn error_response(status: StatusCode, code: &str, message: &str, field: Option<&str>) -> Response {
    let mut body = json!({ "error": code, "message": message });
    if let Some(f) = field {
        body["field"] = Value::from(f);
    }
    (status, Json(body)).into_response()
}

async fn not_found() -> Response {
    error_response(StatusCode::NOT_FOUND, "not_found", "no such route", None)
}

/// Liveness: the process is up and serving. No dependency is checked, so a SQS
/// outage never gets healthy tasks killed.
async fn health() -> Response {
    (StatusCode::OK, Json(json!({"status": "ok"}))).into_response()
}

/// Readiness: SQS answers for our queue. The result is cached for
/// `READY_CACHE_MS`, and concurrent probes share one check.
async fn ready(State(app): State<Arc<App>>) -> Response {
    if app.shutdown.is_triggered() {
        return (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(json!({"status": "shutting_down"})),
        )
            .into_response();
    }
    let mut cache = app.ready_cache.lock().await;
    let fresh = cache
        .as_ref()
        .filter(|(at, _)| at.elapsed() < app.config.ready_cache)
        .map(|(_, r)| r.clone());
    let result = match fresh {
        Some(r) => r,
        None => {
            let r = check_queue(&app).await;
            if let Err(e) = &r {
                tracing::warn!(error = %e, "readiness check failed");
            }
            *cache = Some((Instant::now(), r.clone()));
            r
        }
    };
    drop(cache);
    match result {
        Ok(()) => (StatusCode::OK, Json(json!({"status": "ready"}))).into_response(),
        Err(e) => (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(json!({"status": "unavailable", "queue": e})),
        )
            .into_response(),
    }
}

async fn check_queue(app: &App) -> Result<(), String> {
    let call = app
        .sqs
        .get_queue_attributes()
        .queue_url(&app.config.queue_url)
        .attribute_names(aws_sdk_sqs::types::QueueAttributeName::QueueArn)
        .send();
    match tokio::time::timeout(app.config.sqs_timeout, call).await {
        Ok(Ok(_)) => Ok(()),
        Ok(Err(e)) => Err(format!("SQS error: {}", DisplayErrorContext(&e))),
        Err(_) => Err("SQS did not answer in time".to_owned()),
    }
}

fn is_json_content_type(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .map(|mime| {
            let mime = mime.trim().to_ascii_lowercase();
            mime == "application/json"
                || (mime.starts_with("application/") && mime.ends_with("+json"))
        })
        .unwrap_or(false)
}

/// The client's idempotency key, if it sent one: `Ok(None)` without the header,
/// an error for a malformed or repeated one.
fn idempotency_key(headers: &HeaderMap) -> Result<Option<String>, KeyError> {
    let mut values = headers.get_all(idempotency::HEADER).iter();
    let Some(first) = values.next() else {
        return Ok(None);
    };
    if values.next().is_some() {
        return Err(KeyError::Repeated);
    }
    idempotency::validate(first.as_bytes()).map(|k| Some(k.to_owned()))
}

/// The 503 a client gets when the task could not be handed to SQS, saying
/// whether it may have been queued anyway and whether a retry is safe.
fn unavailable(delivery: Delivery, has_key: bool) -> Response {
    let message = match (delivery, has_key) {
        (Delivery::NotQueued, _) => {
            "the task queue is unavailable and the task was not queued; retrying is safe"
        }
        (Delivery::Unknown, true) => {
            "the task queue did not confirm the task in time: it may have been queued. \
             Retrying with the same Idempotency-Key is safe: the worker runs a key once"
        }
        (Delivery::Unknown, false) => {
            "the task queue did not confirm the task in time: it may have been queued, \
             and a retry may run it twice. Send an Idempotency-Key header so that retries are safe"
        }
    };
    let body = json!({
        "error": "queue_unavailable",
        "delivery": delivery.as_str(),
        "message": message,
    });
    let mut response = (StatusCode::SERVICE_UNAVAILABLE, Json(body)).into_response();
    response
        .headers_mut()
        .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
    response
}

/// `POST /api/tasks`: validate, publish one SQS message carrying the trace
/// context (and the idempotency key, if any), answer 202 with the message id.
async fn create_task(State(app): State<Arc<App>>, headers: HeaderMap, body: Body) -> Response {
    if !is_json_content_type(&headers) {
        return error_response(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            "send the task as JSON with `Content-Type: application/json`",
            None,
        );
    }
    let key = match idempotency_key(&headers) {
        Ok(k) => k,
        Err(e) => {
            tracing::info!(reason = %e, "idempotency key rejected");
            return error_response(
                StatusCode::BAD_REQUEST,
                "invalid_idempotency_key",
                &e.to_string(),
                None,
            );
        }
    };
    let limit = app.config.max_body_bytes;
    let bytes = match axum::body::to_bytes(body, limit).await {
        Ok(b) => b,
        Err(_) => {
            return error_response(
                StatusCode::PAYLOAD_TOO_LARGE,
                "payload_too_large",
                &format!("the body is larger than {limit} bytes"),
                None,
            );
        }
    };
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return error_response(
            StatusCode::BAD_REQUEST,
            "invalid_json",
            "the body is empty; send a JSON object",
            None,
        );
    }
    let doc: Value = match serde_json::from_slice(&bytes) {
        Ok(v) => v,
        Err(e) => {
            return error_response(
                StatusCode::BAD_REQUEST,
                "invalid_json",
                &format!("the body is not valid JSON: {e}"),
                None,
            );
        }
    };
    let task = match task::validate(&doc) {
        Ok(t) => t,
        Err(inv) => {
            tracing::info!(field = %inv.field, reason = %inv.message, "task rejected");
            return error_response(
                StatusCode::UNPROCESSABLE_ENTITY,
                "validation_failed",
                &inv.message,
                Some(&inv.field),
            );
        }
    };

    match publish(&app, &task, &headers, key.as_deref()).await {
        Ok(message_id) => {
            tracing::info!(
                message_id = %message_id,
                task_type = task.kind(),
                idempotency_key = key.as_deref().unwrap_or(""),
                "task queued"
            );
            let mut body = json!({ "status": "queued", "message_id": message_id });
            if let Some(t) = current_trace_id() {
                body["trace_id"] = Value::from(t);
            }
            if let Some(k) = &key {
                body["idempotency_key"] = Value::from(k.as_str());
            }
            (StatusCode::ACCEPTED, Json(body)).into_response()
        }
        Err(failed) => {
            app.metrics.publish_errors.inc();
            tracing::error!(
                error = %failed.reason,
                attempts = failed.attempts,
                delivery = failed.delivery.as_str(),
                idempotency_key = key.as_deref().unwrap_or(""),
                "cannot publish the task to SQS"
            );
            unavailable(failed.delivery, key.is_some())
        }
    }
}

fn string_attribute(value: String) -> Result<MessageAttributeValue, String> {
    MessageAttributeValue::builder()
        .data_type("String")
        .string_value(value)
        .build()
        .map_err(|e| format!("cannot build a message attribute: {e}"))
}

/// Whether a queue URL names a FIFO queue (SQS requires the `.fifo` suffix),
/// which needs a group id and deduplicates by `MessageDeduplicationId` itself.
pub fn is_fifo(queue_url: &str) -> bool {
    queue_url.trim_end_matches('/').ends_with(".fifo")
}

/// Why a task was not confirmed by SQS, after every attempt.
#[derive(Debug)]
struct PublishFailed {
    delivery: Delivery,
    attempts: usize,
    reason: String,
}

/// Sends one message; the trace context of the producer span travels in the
/// message attributes (`traceparent`, `tracestate`), the idempotency key in
/// `idempotency_key` (and, on a FIFO queue, as the `MessageDeduplicationId`).
/// The SDK's own retries are off: [`delivery::should_retry`] decides, so that no
/// retry can duplicate a task without a key, and all attempts share one
/// `SQS_TIMEOUT_MS` deadline.
async fn publish(
    app: &App,
    task: &Task,
    headers: &HeaderMap,
    key: Option<&str>,
) -> Result<String, PublishFailed> {
    let not_built = |reason: String| PublishFailed {
        delivery: Delivery::NotQueued,
        attempts: 0,
        reason,
    };
    let span = tracing::info_span!(
        "sqs.send_message",
        otel.kind = "producer",
        messaging.system = "aws_sqs",
        messaging.operation = "publish",
    );
    let body = serde_json::to_string(task)
        .map_err(|e| not_built(format!("cannot encode the task: {e}")))?;
    let mut attributes: HashMap<String, MessageAttributeValue> = HashMap::new();
    for (k, v) in propagation::inject(&span) {
        attributes.insert(k, string_attribute(v).map_err(not_built)?);
    }
    attributes.insert(
        "task_type".into(),
        string_attribute(task.kind().to_owned()).map_err(not_built)?,
    );
    if let Some(id) = headers.get(REQUEST_ID_HEADER).and_then(|v| v.to_str().ok()) {
        attributes.insert(
            "request_id".into(),
            string_attribute(id.to_owned()).map_err(not_built)?,
        );
    }
    if let Some(k) = key {
        attributes.insert(
            idempotency::ATTRIBUTE.into(),
            string_attribute(k.to_owned()).map_err(not_built)?,
        );
    }
    // FIFO: one group per task (tasks are independent, so consumers keep their
    // parallelism), and SQS drops a repeated deduplication id for 5 minutes. Without
    // a key the id is per request, so our own retries are still deduplicated.
    let fifo_id = is_fifo(&app.config.queue_url)
        .then(|| key.map_or_else(|| uuid::Uuid::new_v4().to_string(), str::to_owned));
    let no_retries = aws_sdk_sqs::config::Builder::default()
        .retry_config(aws_sdk_sqs::config::retry::RetryConfig::disabled());

    let deadline = tokio::time::Instant::now() + app.config.sqs_timeout;
    let mut failures: Vec<delivery::Failure> = Vec::new();
    let mut last_reason;
    loop {
        let call = app
            .sqs
            .send_message()
            .queue_url(&app.config.queue_url)
            .message_body(body.clone())
            .set_message_attributes(Some(attributes.clone()))
            .set_message_group_id(fifo_id.clone())
            .set_message_deduplication_id(fifo_id.clone())
            .customize()
            .config_override(no_retries.clone())
            .send();
        let result = tokio::time::timeout_at(deadline, call)
            .instrument(span.clone())
            .await;
        let failure = match result {
            Ok(Ok(out)) => {
                return out.message_id.ok_or_else(|| PublishFailed {
                    // SQS said OK: the message is stored, only its id is missing.
                    delivery: Delivery::Unknown,
                    attempts: failures.len() + 1,
                    reason: "SQS returned no message id".to_owned(),
                });
            }
            Ok(Err(e)) => {
                last_reason = format!("SQS error: {}", DisplayErrorContext(&e));
                delivery::Failure::from_sdk(&e)
            }
            Err(_) => {
                last_reason = format!(
                    "SQS did not answer within {} ms",
                    app.config.sqs_timeout.as_millis()
                );
                delivery::Failure::Timeout
            }
        };
        failures.push(failure);
        let time_left = deadline.saturating_duration_since(tokio::time::Instant::now());
        if !delivery::should_retry(&failures, key.is_some())
            || time_left < Duration::from_millis(20)
        {
            break;
        }
        tracing::warn!(error = %last_reason, "SQS send failed; retrying once");
    }
    Err(PublishFailed {
        delivery: delivery::outcome(&failures),
        attempts: failures.len(),
        reason: last_reason,
    })
}

use task::Task;

/// A request id from the client if it is sane (printable ASCII, at most 128
/// characters), else a fresh UUID.
fn request_id(headers: &HeaderMap) -> String {
    headers
        .get(REQUEST_ID_HEADER)
        .and_then(|v| v.to_str().ok())
        .filter(|v| !v.is_empty() && v.len() <= 128 && v.bytes().all(|b| b.is_ascii_graphic()))
        .map(str::to_owned)
        .unwrap_or_else(|| uuid::Uuid::new_v4().to_string())
}

/// Per-request middleware: request id, a server span continuing the caller's
/// W3C trace, the access log line, and the HTTP metrics by route template.
async fn observe(
    State(app): State<Arc<App>>,
    matched: Option<MatchedPath>,
    mut req: Request,
    next: Next,
) -> Response {
    let start = Instant::now();
    let method = req.method().as_str().to_owned();
    let route = matched
        .as_ref()
        .map(|m| m.as_str().to_owned())
        .unwrap_or_else(|| "unmatched".to_owned());
    let rid = request_id(req.headers());
    if let Ok(v) = HeaderValue::from_str(&rid) {
        req.headers_mut().insert(REQUEST_ID_HEADER, v);
    }
    let span = tracing::info_span!(
        "http_request",
        otel.name = format!("{method} {route}"),
        otel.kind = "server",
        http.request.method = %method,
        http.route = %route,
        request_id = %rid,
        http.response.status_code = field::Empty,
    );
    propagation::set_parent_from(&span, &propagation::from_headers(req.headers()));

    let mut response = next.run(req).instrument(span.clone()).await;
    let elapsed = start.elapsed();
    let status = response.status().as_u16();
    span.record("http.response.status_code", status);
    app.metrics.observe(&method, &route, status, elapsed);
    let quiet = matches!(route.as_str(), "/health" | "/ready" | "/metrics");
    span.in_scope(|| {
        let ms = elapsed.as_secs_f64() * 1000.0;
        if quiet && status < 500 {
            tracing::debug!(status, duration_ms = ms, "request completed");
        } else {
            tracing::info!(status, duration_ms = ms, "request completed");
        }
    });
    if let Ok(v) = HeaderValue::from_str(&rid) {
        response.headers_mut().insert(REQUEST_ID_HEADER, v);
    }
    response
}
