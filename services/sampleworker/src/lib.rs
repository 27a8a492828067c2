//! `sampleworker`: the example SQS consumer that Ferry releases. It long-polls
//! the task queue that `sampleapi` feeds and "sends" the e-mails (simulated).
//!
//! Delivery semantics: at-least-once. A message is deleted only after its work
//! succeeded; a failure leaves it for redelivery, and the queue's redrive policy
//! moves it to the DLQ after 3 receives. On SIGTERM the worker stops receiving,
//! lets in-flight work finish for `SHUTDOWN_TIMEOUT_MS`, then releases what is
//! left (visibility 0) so another worker takes it at once.
//!
//! A task that carries an idempotency key (the API's `Idempotency-Key` header)
//! is processed once per key within `DEDUP_WINDOW_SECONDS` by this process: a
//! second message with a key already processed is deleted unprocessed
//! ([`dedup`]).
#![warn(missing_docs)]
#![cfg_attr(test, allow(clippy::unwrap_used, clippy::expect_used))]

pub mod config;
pub mod dedup;
pub mod metrics;

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use aws_sdk_sqs::Client;
use aws_sdk_sqs::error::DisplayErrorContext;
use aws_sdk_sqs::types::{
    ChangeMessageVisibilityBatchRequestEntry, DeleteMessageBatchRequestEntry, Message,
    MessageAttributeValue, MessageSystemAttributeName,
};
use axum::Router;
use axum::routing::get;
use serde::Deserialize;
use service_telemetry::shutdown::Shutdown;
use service_telemetry::{idempotency, propagation};
use tokio::sync::{Semaphore, mpsc};
use tokio::task::JoinSet;
use tracing::Instrument as _;

pub use config::Config;
pub use dedup::{Claim, SeenKeys};
pub use metrics::WorkerMetrics;

/// How long the deleter waits to fill a batch of 10 before flushing.
const DELETE_BATCH_WINDOW: Duration = Duration::from_millis(50);
/// First pause after a failed receive (doubling up to [`RECEIVE_ERROR_BACKOFF_MAX`]),
/// so an SQS outage neither becomes a busy loop nor floods the logs.
const RECEIVE_ERROR_BACKOFF: Duration = Duration::from_secs(1);
/// Longest pause between receives while SQS keeps failing.
const RECEIVE_ERROR_BACKOFF_MAX: Duration = Duration::from_secs(30);

/// A task as the API publishes it. Unknown fields are ignored so that a newer
/// API can add fields before the worker knows them.
#[derive(Debug, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
enum Task {
    Email {
        to: String,
        subject: String,
        #[allow(dead_code)]
        body: String,
    },
}

/// The SQS client for the worker: region, and operation timeouts long enough for
/// a 20 s long poll. Endpoint (`AWS_ENDPOINT_URL`) and credentials come from the
/// standard AWS environment.
pub async fn sqs_client(config: &Config) -> Client {
    let long_poll = Duration::from_secs(u64::try_from(config.wait_time_seconds).unwrap_or(20));
    let timeouts = aws_config::timeout::TimeoutConfig::builder()
        .connect_timeout(Duration::from_secs(2))
        .operation_attempt_timeout(long_poll + config.sqs_timeout)
        .operation_timeout(long_poll + 2 * config.sqs_timeout)
        .build();
    let shared = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .region(aws_config::Region::new(config.region.clone()))
        .timeout_config(timeouts)
        .load()
        .await;
    Client::new(&shared)
}

/// The metrics/health HTTP server on `METRICS_PORT`.
pub fn metrics_router(metrics: &WorkerMetrics) -> Router {
    Router::new()
        .route("/health", get(|| async { r#"{"status":"ok"}"# }))
        .route(
            "/metrics",
            get(service_telemetry::metrics::handler).with_state(metrics.registry()),
        )
}

/// What became of the messages a run handled, for logs and tests.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Summary {
    /// Messages released (visibility 0) at shutdown because they did not finish
    /// in time.
    pub released: usize,
}

/// Receipt handles of the messages being processed, by message id; what is still
/// here at the end of the shutdown grace period is released.
type Inflight = Arc<Mutex<HashMap<String, String>>>;

/// The consumer: receive loop, bounded processing, batched deletes, and the
/// record of idempotency keys that drops tasks queued twice.
#[derive(Debug, Clone)]
pub struct Worker {
    config: Arc<Config>,
    sqs: Client,
    metrics: Arc<WorkerMetrics>,
    seen: Arc<Mutex<SeenKeys>>,
}

/// The idempotency key a message carries, if any; an error (for the log, never
/// repeating the value) when the attribute is there but is not a valid key: not
/// a `String`, too long, or with characters the API never lets through.
pub fn message_key(
    attributes: Option<&HashMap<String, MessageAttributeValue>>,
) -> Result<Option<String>, String> {
    let Some(attr) = attributes.and_then(|a| a.get(idempotency::ATTRIBUTE)) else {
        return Ok(None);
    };
    let is_string = attr.data_type == "String" || attr.data_type.starts_with("String.");
    let value = match (is_string, attr.string_value.as_deref()) {
        (true, Some(v)) => v,
        _ => {
            return Err(format!(
                "the `{}` attribute is not a String",
                idempotency::ATTRIBUTE
            ));
        }
    };
    idempotency::validate(value.as_bytes())
        .map(|k| Some(k.to_owned()))
        .map_err(|e| format!("the `{}` attribute is invalid: {e}", idempotency::ATTRIBUTE))
}

/// A claim on a key in the record: released on drop (failure, panic or abort)
/// unless completed, so that a redelivery of a failed task is processed.
struct ClaimGuard<'a> {
    worker: &'a Worker,
    key: Option<String>,
}

impl ClaimGuard<'_> {
    fn complete(mut self, body: u64) {
        if let Some(key) = self.key.take() {
            self.worker
                .with_seen(|seen| seen.complete(&key, body, Instant::now()));
        }
    }
}

impl Drop for ClaimGuard<'_> {
    fn drop(&mut self) {
        if let Some(key) = self.key.take() {
            self.worker.with_seen(|seen| seen.release(&key));
        }
    }
}

impl Worker {
    /// A worker over `sqs` with the given configuration and metrics.
    pub fn new(config: Config, sqs: Client, metrics: Arc<WorkerMetrics>) -> Self {
        let seen = SeenKeys::new(config.dedup_window, config.dedup_max_keys);
        Self {
            config: Arc::new(config),
            sqs,
            metrics,
            seen: Arc::new(Mutex::new(seen)),
        }
    }

    /// Runs `f` on the key record (never across an await) and refreshes its
    /// metrics.
    fn with_seen<T>(&self, f: impl FnOnce(&mut SeenKeys) -> T) -> T {
        let mut seen = self.seen.lock().unwrap_or_else(PoisonError::into_inner);
        let evicted_before = seen.evicted_early();
        let out = f(&mut seen);
        self.metrics
            .dedup_evicted
            .inc_by(seen.evicted_early().saturating_sub(evicted_before));
        self.metrics
            .dedup_keys
            .set(i64::try_from(seen.len()).unwrap_or(i64::MAX));
        out
    }

    /// Runs until `shutdown` triggers, then drains as described in the crate docs.
    pub async fn run(&self, shutdown: Shutdown) -> Summary {
        let cfg = &self.config;
        let semaphore = Arc::new(Semaphore::new(cfg.concurrency));
        let inflight: Inflight = Arc::default();
        let (delete_tx, delete_rx) = mpsc::unbounded_channel::<String>();
        let deleter = tokio::spawn(delete_loop(
            self.sqs.clone(),
            cfg.queue_url.clone(),
            cfg.sqs_timeout,
            self.metrics.clone(),
            delete_rx,
        ));
        let mut tasks = JoinSet::new();
        let mut backoff = RECEIVE_ERROR_BACKOFF;
        tracing::info!(
            concurrency = cfg.concurrency,
            max_messages = cfg.max_messages,
            wait_time_seconds = cfg.wait_time_seconds,
            visibility_timeout_seconds = cfg.visibility_timeout_seconds,
            "worker started"
        );

        while !shutdown.is_triggered() {
            // Receive only as many messages as there are free slots: a message
            // received but not worked on would just sit out its visibility timeout.
            let first = tokio::select! {
                p = semaphore.clone().acquire_owned() => p,
                () = shutdown.wait() => break,
            };
            let Ok(first) = first else { break }; // the semaphore is never closed
            let mut permits = vec![first];
            while permits.len() < usize::try_from(cfg.max_messages).unwrap_or(10) {
                match semaphore.clone().try_acquire_owned() {
                    Ok(p) => permits.push(p),
                    Err(_) => break,
                }
            }
            let wanted = i32::try_from(permits.len()).unwrap_or(1);
            let receive = self
                .sqs
                .receive_message()
                .queue_url(&cfg.queue_url)
                .max_number_of_messages(wanted)
                .wait_time_seconds(cfg.wait_time_seconds)
                .visibility_timeout(cfg.visibility_timeout_seconds)
                .message_system_attribute_names(MessageSystemAttributeName::SentTimestamp)
                .message_system_attribute_names(MessageSystemAttributeName::ApproximateReceiveCount)
                .message_attribute_names("All")
                .send();
            // Cancelling a pending long poll on shutdown loses nothing: anything
            // SQS handed out in that instant reappears after its visibility timeout.
            let received = tokio::select! {
                r = receive => r,
                () = shutdown.wait() => break,
            };
            let messages = match received {
                Ok(out) => {
                    backoff = RECEIVE_ERROR_BACKOFF;
                    out.messages.unwrap_or_default()
                }
                Err(e) => {
                    self.metrics.sqs_error("receive");
                    tracing::error!(
                        error = %DisplayErrorContext(&e),
                        retry_in_ms = backoff.as_millis() as u64,
                        "receive failed; retrying"
                    );
                    drop(permits);
                    tokio::select! {
                        () = tokio::time::sleep(backoff) => {},
                        () = shutdown.wait() => {},
                    }
                    backoff = (backoff * 2).min(RECEIVE_ERROR_BACKOFF_MAX);
                    continue;
                }
            };
            for message in messages {
                // SQS returns at most `wanted` messages, one permit each.
                let Some(permit) = permits.pop() else {
                    tracing::error!("SQS returned more messages than asked for");
                    break;
                };
                let (Some(id), Some(receipt)) =
                    (message.message_id.clone(), message.receipt_handle.clone())
                else {
                    continue;
                };
                if let Ok(mut map) = inflight.lock() {
                    map.insert(id, receipt);
                }
                let this = self.clone();
                let inflight = inflight.clone();
                let delete_tx = delete_tx.clone();
                tasks.spawn(async move {
                    this.process(message, inflight, delete_tx).await;
                    drop(permit);
                });
            }
            while tasks.try_join_next().is_some() {}
        }

        tracing::info!(
            inflight = tasks.len(),
            timeout_ms = cfg.shutdown_timeout.as_millis() as u64,
            "stopped receiving; finishing in-flight messages"
        );
        let finished = tokio::time::timeout(cfg.shutdown_timeout, async {
            while tasks.join_next().await.is_some() {}
        })
        .await;
        if finished.is_err() {
            tasks.abort_all();
            while tasks.join_next().await.is_some() {}
        }
        let leftover: Vec<(String, String)> = inflight
            .lock()
            .map(|mut m| m.drain().collect())
            .unwrap_or_default();
        let released = leftover.len();
        if released > 0 {
            self.release(leftover).await;
        }
        drop(delete_tx);
        // The deleter ends once every sender is gone and its last batch is sent.
        let _ = deleter.await;
        tracing::info!(released, "worker stopped");
        Summary { released }
    }

    /// Processes one message inside a span that continues the producer's trace.
    async fn process(
        &self,
        message: Message,
        inflight: Inflight,
        delete_tx: mpsc::UnboundedSender<String>,
    ) {
        let metrics = &self.metrics;
        metrics.messages_received.inc();
        metrics.inflight.inc();
        let _inflight_gauge = GaugeGuard(&metrics.inflight);

        let id = message.message_id.clone().unwrap_or_default();
        let receipt = message.receipt_handle.clone().unwrap_or_default();
        let system = message.attributes.clone().unwrap_or_default();
        if let Some(age) = system
            .get(&MessageSystemAttributeName::SentTimestamp)
            .and_then(|t| t.parse::<u64>().ok())
            .and_then(message_age)
        {
            metrics.message_age.observe(age.as_secs_f64());
        }
        let receive_count = system
            .get(&MessageSystemAttributeName::ApproximateReceiveCount)
            .and_then(|c| c.parse::<u64>().ok())
            .unwrap_or(1);
        let carrier: HashMap<String, String> = message
            .message_attributes
            .as_ref()
            .map(|attrs| {
                attrs
                    .iter()
                    .filter_map(|(k, v)| Some((k.clone(), v.string_value.clone()?)))
                    .collect()
            })
            .unwrap_or_default();
        let span = tracing::info_span!(
            "process_message",
            otel.kind = "consumer",
            messaging.system = "aws_sqs",
            message_id = %id,
            receive_count,
            request_id = carrier.get("request_id").map(String::as_str).unwrap_or(""),
        );
        propagation::set_parent_from(&span, &carrier);

        async {
            let body = message.body.as_deref().unwrap_or("");
            let key = match message_key(message.message_attributes.as_ref()) {
                Ok(k) => k,
                Err(reason) => {
                    metrics.malformed.inc();
                    tracing::error!(
                        error = %reason,
                        "malformed message: bad idempotency key; leaving it for the DLQ"
                    );
                    forget(&inflight, &id);
                    return;
                }
            };
            let task: Task = match serde_json::from_str(body) {
                Ok(t) => t,
                Err(e) => {
                    metrics.malformed.inc();
                    tracing::error!(
                        error = %e,
                        body_bytes = body.len(),
                        "malformed message: not a valid task; leaving it for the DLQ"
                    );
                    forget(&inflight, &id);
                    return;
                }
            };
            let fingerprint = dedup::body_fingerprint(body);
            let key_field = key.as_deref().unwrap_or("");
            if let Some(k) = &key {
                match self.with_seen(|seen| seen.claim(k, fingerprint, Instant::now())) {
                    Claim::New => {}
                    Claim::Duplicate { same_body } => {
                        metrics.deduplicated.inc();
                        if same_body {
                            tracing::info!(
                                idempotency_key = key_field,
                                "duplicate task: its idempotency key was already processed; deleting it"
                            );
                        } else {
                            tracing::warn!(
                                idempotency_key = key_field,
                                "idempotency key reused for a different task: the first task won; deleting this one"
                            );
                        }
                        let _ = delete_tx.send(receipt.clone());
                        forget(&inflight, &id);
                        return;
                    }
                    Claim::Busy => {
                        tracing::info!(
                            idempotency_key = key_field,
                            "a task with the same idempotency key is being processed; leaving this one for later"
                        );
                        forget(&inflight, &id);
                        return;
                    }
                }
            }
            let claim = ClaimGuard {
                worker: self,
                key: key.clone(),
            };
            let Task::Email { to, subject, .. } = &task;
            let started = std::time::Instant::now();
            let result = self
                .with_heartbeat(&receipt, self.send_email(to, subject))
                .await;
            metrics
                .send_duration
                .observe(started.elapsed().as_secs_f64());
            match result {
                Ok(()) => {
                    metrics
                        .emails_sent
                        .get_or_create(&metrics::StatusLabel { status: "success" })
                        .inc();
                    tracing::info!(to = %to, idempotency_key = key_field, "email sent");
                    // Recording the key, handing the receipt to the deleter and
                    // forgetting the message happen with no await in between, so
                    // shutdown cannot split them; if the delete fails, the
                    // redelivery of a keyed task is dropped as a duplicate.
                    claim.complete(fingerprint);
                    let _ = delete_tx.send(receipt.clone());
                    forget(&inflight, &id);
                }
                Err(e) => {
                    drop(claim);
                    metrics
                        .emails_sent
                        .get_or_create(&metrics::StatusLabel { status: "failure" })
                        .inc();
                    tracing::warn!(
                        error = %e,
                        receive_count,
                        "email send failed; the message will be redelivered (DLQ after 3 receives)"
                    );
                    forget(&inflight, &id);
                }
            }
        }
        .instrument(span)
        .await;
    }

    /// The simulated e-mail send.
    async fn send_email(&self, to: &str, subject: &str) -> Result<(), String> {
        tracing::debug!(to, subject_chars = subject.chars().count(), "sending email");
        tokio::time::sleep(self.config.send_duration).await;
        if self.config.fail_simulate {
            return Err("simulated failure (FAIL_SIMULATE_ENABLED=true)".to_owned());
        }
        Ok(())
    }

    /// Runs `work`, extending the message's visibility every half visibility
    /// timeout so that long work is not redelivered to another consumer.
    async fn with_heartbeat<T>(&self, receipt: &str, work: impl Future<Output = T>) -> T {
        let vis = self.config.visibility_timeout_seconds;
        let period = Duration::from_millis(u64::try_from(vis).unwrap_or(30) * 500);
        let mut ticker = tokio::time::interval_at(tokio::time::Instant::now() + period, period);
        tokio::pin!(work);
        loop {
            tokio::select! {
                out = &mut work => return out,
                _ = ticker.tick() => {
                    let call = self
                        .sqs
                        .change_message_visibility()
                        .queue_url(&self.config.queue_url)
                        .receipt_handle(receipt)
                        .visibility_timeout(vis)
                        .send();
                    match tokio::time::timeout(self.config.sqs_timeout, call).await {
                        Ok(Ok(_)) => tracing::debug!(visibility_timeout_seconds = vis, "visibility extended"),
                        Ok(Err(e)) => {
                            self.metrics.sqs_error("change_visibility");
                            tracing::warn!(error = %DisplayErrorContext(&e), "cannot extend visibility");
                        }
                        Err(_) => {
                            self.metrics.sqs_error("change_visibility");
                            tracing::warn!("cannot extend visibility: SQS timed out");
                        }
                    }
                }
            }
        }
    }

    /// Makes unfinished messages visible again at once (visibility 0).
    async fn release(&self, messages: Vec<(String, String)>) {
        for chunk in messages.chunks(10) {
            let entries: Vec<_> = chunk
                .iter()
                .enumerate()
                .filter_map(|(i, (_, receipt))| {
                    ChangeMessageVisibilityBatchRequestEntry::builder()
                        .id(i.to_string())
                        .receipt_handle(receipt)
                        .visibility_timeout(0)
                        .build()
                        .ok()
                })
                .collect();
            let call = self
                .sqs
                .change_message_visibility_batch()
                .queue_url(&self.config.queue_url)
                .set_entries(Some(entries))
                .send();
            let ids: Vec<&str> = chunk.iter().map(|(id, _)| id.as_str()).collect();
            match tokio::time::timeout(self.config.sqs_timeout, call).await {
                Ok(Ok(out)) if out.failed.is_empty() => {
                    tracing::info!(?ids, "released unfinished messages");
                }
                Ok(Ok(out)) => {
                    self.metrics.sqs_error("change_visibility");
                    tracing::warn!(
                        ?ids,
                        failed = out.failed.len(),
                        "some messages not released; they reappear after their visibility timeout"
                    );
                }
                Ok(Err(e)) => {
                    self.metrics.sqs_error("change_visibility");
                    tracing::warn!(?ids, error = %DisplayErrorContext(&e), "release failed; the messages reappear after their visibility timeout");
                }
                Err(_) => {
                    self.metrics.sqs_error("change_visibility");
                    tracing::warn!(
                        ?ids,
                        "release timed out; the messages reappear after their visibility timeout"
                    );
                }
            }
        }
    }
}

fn forget(inflight: &Inflight, id: &str) {
    if let Ok(mut m) = inflight.lock() {
        m.remove(id);
    }
}

/// Age of a message sent at `sent_ms` (epoch milliseconds), if not in the future.
fn message_age(sent_ms: u64) -> Option<Duration> {
    let now = SystemTime::now().duration_since(UNIX_EPOCH).ok()?;
    now.checked_sub(Duration::from_millis(sent_ms))
}

/// Decrements the in-flight gauge however processing ends (even on abort).
struct GaugeGuard<'a>(&'a prometheus_client::metrics::gauge::Gauge);

impl Drop for GaugeGuard<'_> {
    fn drop(&mut self) {
        self.0.dec();
    }
}

/// Deletes processed messages in batches of up to 10, flushing at least every
/// [`DELETE_BATCH_WINDOW`]; ends when every sender is dropped.
async fn delete_loop(
    sqs: Client,
    queue_url: String,
    timeout: Duration,
    metrics: Arc<WorkerMetrics>,
    mut rx: mpsc::UnboundedReceiver<String>,
) {
    while let Some(first) = rx.recv().await {
        let mut batch = vec![first];
        let deadline = tokio::time::Instant::now() + DELETE_BATCH_WINDOW;
        while batch.len() < 10 {
            tokio::select! {
                next = rx.recv() => match next {
                    Some(r) => batch.push(r),
                    None => break,
                },
                () = tokio::time::sleep_until(deadline) => break,
            }
        }
        delete_batch(&sqs, &queue_url, timeout, &metrics, &batch).await;
    }
}

async fn delete_batch(
    sqs: &Client,
    queue_url: &str,
    timeout: Duration,
    metrics: &WorkerMetrics,
    batch: &[String],
) {
    let entries: Vec<_> = batch
        .iter()
        .enumerate()
        .filter_map(|(i, r)| {
            DeleteMessageBatchRequestEntry::builder()
                .id(i.to_string())
                .receipt_handle(r)
                .build()
                .ok()
        })
        .collect();
    // One retry on a failed call: a delete that never happens means a duplicate
    // e-mail after the visibility timeout.
    for attempt in 1..=2 {
        let call = sqs
            .delete_message_batch()
            .queue_url(queue_url)
            .set_entries(Some(entries.clone()))
            .send();
        match tokio::time::timeout(timeout, call).await {
            Ok(Ok(out)) => {
                if !out.failed.is_empty() {
                    metrics.sqs_error("delete");
                    for f in &out.failed {
                        tracing::error!(
                            code = %f.code,
                            message = f.message.as_deref().unwrap_or(""),
                            "delete failed; the message will be redelivered"
                        );
                    }
                }
                return;
            }
            Ok(Err(e)) => {
                metrics.sqs_error("delete");
                tracing::warn!(attempt, error = %DisplayErrorContext(&e), "delete batch failed");
            }
            Err(_) => {
                metrics.sqs_error("delete");
                tracing::warn!(attempt, "delete batch timed out");
            }
        }
    }
    tracing::error!(
        messages = batch.len(),
        "could not delete processed messages; they will be redelivered"
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_tasks_and_ignores_unknown_fields() {
        let t: Task = serde_json::from_str(
            r#"{"type":"email","to":"a@b.io","subject":"s","body":"b","extra":1}"#,
        )
        .unwrap();
        let Task::Email { to, .. } = t;
        assert_eq!(to, "a@b.io");
        assert!(serde_json::from_str::<Task>(r#"{"type":"sms"}"#).is_err());
        assert!(serde_json::from_str::<Task>("not json").is_err());
    }

    fn attrs(pairs: &[(&str, &str, Option<&str>)]) -> HashMap<String, MessageAttributeValue> {
        pairs
            .iter()
            .map(|(name, ty, value)| {
                let mut b = MessageAttributeValue::builder().data_type(*ty);
                b = match value {
                    Some(v) => b.string_value(*v),
                    None => b.binary_value(aws_sdk_sqs::primitives::Blob::new(b"k".to_vec())),
                };
                (name.to_string(), b.build().unwrap())
            })
            .collect()
    }

    #[test]
    fn message_keys_from_attributes() {
        let k = idempotency::ATTRIBUTE;
        assert_eq!(message_key(None), Ok(None));
        assert_eq!(
            message_key(Some(&attrs(&[("other", "String", Some("x"))]))),
            Ok(None)
        );
        assert_eq!(
            message_key(Some(&attrs(&[(k, "String", Some("abc-1"))]))),
            Ok(Some("abc-1".into()))
        );
        assert_eq!(
            message_key(Some(&attrs(&[(k, "String.uuid", Some("abc-1"))]))),
            Ok(Some("abc-1".into()))
        );
        let long = "k".repeat(100_000);
        let hostile = [
            (k, "Number", Some("12")),
            (k, "Binary", None),
            (k, "String", Some("")),
            (k, "String", Some(long.as_str())),
            (k, "String", Some("a b")),
            (k, "String", Some("a\n{\"level\":\"ERROR\"}")),
            (k, "String", Some("pwned/../x")),
            (k, "Stringy", Some("abc")),
        ];
        for attr in hostile {
            let err = message_key(Some(&attrs(&[attr]))).unwrap_err();
            assert!(err.contains("idempotency_key"), "{err}");
            assert!(err.len() < 300, "the value is never repeated: {err}");
            assert!(!err.contains("pwned") && !err.contains("ERROR"), "{err}");
        }
    }

    #[test]
    fn ages() {
        assert!(message_age(u64::MAX / 2).is_none());
        assert!(message_age(0).unwrap() > Duration::from_secs(1_000_000));
    }
}
