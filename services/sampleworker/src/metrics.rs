//! The worker's Prometheus metrics. The names are a contract with the monitoring
//! rules and dashboards (`monitoring/`): change them only together.

use std::sync::Arc;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;

/// Label of `emails_sent_total`.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct StatusLabel {
    /// `success` or `failure`.
    pub status: &'static str,
}

/// The worker's metrics and the registry that exposes them.
#[derive(Debug)]
pub struct WorkerMetrics {
    registry: Arc<Registry>,
    /// `emails_sent_total{status="success|failure"}`.
    pub emails_sent: Family<StatusLabel, Counter>,
    /// `email_send_duration_seconds`: time spent sending one e-mail.
    pub send_duration: Histogram,
    /// `messages_received_total`: messages received from SQS (redeliveries
    /// included).
    pub messages_received: Counter,
    /// `message_age_seconds`: age of a message when received (now minus its
    /// `SentTimestamp`): the queue's backlog delay.
    pub message_age: Histogram,
    /// `inflight_messages`: messages being processed now.
    pub inflight: Gauge,
    /// `messages_malformed_total`: bodies that are not a valid task (left to the
    /// DLQ).
    pub malformed: Counter,
    /// `sqs_errors_total{operation}`: failed SQS calls.
    pub sqs_errors: Family<OperationLabel, Counter>,
    /// `emails_deduplicated_total`: messages deleted unprocessed because their
    /// idempotency key was already processed within the window.
    pub deduplicated: Counter,
    /// `dedup_keys_evicted_total`: processed keys forgotten before the end of
    /// their window because `DEDUP_MAX_KEYS` was reached (raise it if this grows).
    pub dedup_evicted: Counter,
    /// `dedup_keys`: idempotency keys remembered now (processing and processed).
    pub dedup_keys: Gauge,
}

/// Label of `sqs_errors_total`.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct OperationLabel {
    /// `receive`, `delete` or `change_visibility`.
    pub operation: &'static str,
}

impl Default for WorkerMetrics {
    /// Metrics of a process whose version is unknown.
    fn default() -> Self {
        Self::new(service_telemetry::UNKNOWN_VERSION)
    }
}

impl WorkerMetrics {
    /// Creates and registers the metrics, each labelled `version="<version>"`
    /// (the version this process runs: `TelemetryConfig::service_version`).
    pub fn new(version: &str) -> Self {
        let mut registry = service_telemetry::metrics::registry(version);
        let emails_sent = Family::<StatusLabel, Counter>::default();
        let send_duration = Histogram::new([
            0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 7.5, 10.0, 30.0, 60.0,
        ]);
        let messages_received = Counter::default();
        let message_age = Histogram::new([
            0.1, 0.5, 1.0, 5.0, 10.0, 30.0, 60.0, 300.0, 900.0, 3600.0, 14_400.0,
        ]);
        let inflight = Gauge::default();
        let malformed = Counter::default();
        let sqs_errors = Family::<OperationLabel, Counter>::default();
        let deduplicated = Counter::default();
        let dedup_evicted = Counter::default();
        let dedup_keys = Gauge::default();
        // prometheus-client appends `_total` to counters.
        registry.register(
            "emails_sent",
            "E-mails sent, by outcome",
            emails_sent.clone(),
        );
        registry.register(
            "email_send_duration_seconds",
            "Time spent sending one e-mail",
            send_duration.clone(),
        );
        registry.register(
            "messages_received",
            "Messages received from SQS, redeliveries included",
            messages_received.clone(),
        );
        registry.register(
            "message_age_seconds",
            "Age of a message when received (now - SentTimestamp)",
            message_age.clone(),
        );
        registry.register(
            "inflight_messages",
            "Messages being processed",
            inflight.clone(),
        );
        registry.register(
            "messages_malformed",
            "Messages whose body is not a valid task (left for the DLQ)",
            malformed.clone(),
        );
        registry.register(
            "sqs_errors",
            "Failed SQS calls by operation",
            sqs_errors.clone(),
        );
        registry.register(
            "emails_deduplicated",
            "Messages deleted without processing: their idempotency key was already processed",
            deduplicated.clone(),
        );
        registry.register(
            "dedup_keys_evicted",
            "Processed idempotency keys forgotten before their window ended (DEDUP_MAX_KEYS reached)",
            dedup_evicted.clone(),
        );
        registry.register(
            "dedup_keys",
            "Idempotency keys remembered (being processed or processed within the window)",
            dedup_keys.clone(),
        );
        Self {
            registry: Arc::new(registry),
            emails_sent,
            send_duration,
            messages_received,
            message_age,
            inflight,
            malformed,
            sqs_errors,
            deduplicated,
            dedup_evicted,
            dedup_keys,
        }
    }

    /// The registry, for the `/metrics` handler.
    pub fn registry(&self) -> Arc<Registry> {
        self.registry.clone()
    }

    /// Counts one failed SQS call.
    pub fn sqs_error(&self, operation: &'static str) {
        self.sqs_errors
            .get_or_create(&OperationLabel { operation })
            .inc();
    }
}
