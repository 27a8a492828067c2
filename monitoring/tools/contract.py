"""The services' contract as the monitoring relies on it: metric names and
environment variables of sampleapi and sampleworker. monitoring/check checks the
dashboards and docker-compose.local.yml against it; monitoring/live-test checks
it against the running services' /metrics."""

# name -> type; a histogram is exposed as its _bucket, _sum and _count series.
METRICS = {
    "sampleapi": {
        "http_requests_total": "counter",
        "http_request_duration_seconds": "histogram",
        "sqs_publish_errors_total": "counter",
    },
    "sampleworker": {
        "emails_sent_total": "counter",
        "email_send_duration_seconds": "histogram",
        "messages_received_total": "counter",
        "message_age_seconds": "histogram",
        "inflight_messages": "gauge",
        "emails_deduplicated_total": "counter",
        "dedup_keys_evicted_total": "counter",
        "dedup_keys": "gauge",
    },
}

# Metrics of this directory's own queue exporter (monitoring/sqs/queue_exporter.py).
EXPORTER_METRICS = {"sqs_queue_messages": "gauge"}

# What `ferry metrics` writes (the DORA keys, pushed weekly by
# .github/workflows/metrics.yml to a Pushgateway); every series is labelled
# service (`*` = the whole environment) and environment. action/tests/it/metrics_outputs.rs
# checks the binary writes exactly these.
FERRY_METRICS = {
    "ferry_dora_window_seconds": "gauge",
    "ferry_dora_deployments": "gauge",
    "ferry_dora_change_failures": "gauge",
    "ferry_dora_deployment_frequency_per_week": "gauge",
    "ferry_dora_lead_time_median_seconds": "gauge",
    "ferry_dora_change_failure_ratio": "gauge",
    "ferry_dora_time_to_restore_median_seconds": "gauge",
    "ferry_dora_unrestored_failures": "gauge",
    "ferry_dora_lead_time_samples": "gauge",
}

# Series every Prometheus has: scrape health and alert state.
PROMETHEUS_BUILTIN = {"up", "scrape_duration_seconds", "scrape_samples_scraped", "ALERTS", "ALERTS_FOR_STATE"}

ENV = {
    "sampleapi": {"PORT", "SQS_QUEUE_URL", "AWS_REGION", "AWS_ENDPOINT_URL", "LOG_LEVEL",
                  "OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_SERVICE_NAME", "SERVICE_VERSION"},
    "sampleworker": {"METRICS_PORT", "SQS_QUEUE_URL", "AWS_REGION", "AWS_ENDPOINT_URL", "LOG_LEVEL",
                     "OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_SERVICE_NAME", "FAIL_SIMULATE_ENABLED",
                     "EMAIL_SEND_DURATION_MS", "DEDUP_WINDOW_SECONDS", "DEDUP_MAX_KEYS", "SERVICE_VERSION"},
}
# The label every metric of the services carries: the version the process runs
# (SERVICE_VERSION, from the image tag; "unknown" without it). The per-version
# rules (prometheus/rules/version.rules.yml) group by it.
VERSION_LABEL = "version"

# Read by the AWS SDKs themselves (aws-sdk-rust, boto3), not by our code.
AWS_SDK_ENV = {"AWS_REGION", "AWS_ENDPOINT_URL", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_DEFAULT_REGION"}


def series_names(metrics: dict) -> set:
    out = set()
    for name, kind in metrics.items():
        if kind == "histogram":  # exposed only as its three series
            out |= {f"{name}_bucket", f"{name}_sum", f"{name}_count"}
        else:
            out.add(name)
    return out


def all_service_series() -> set:
    out = set()
    for m in METRICS.values():
        out |= series_names(m)
    return out
