//! `sampleapi` against a real SQS (moto) through the real aws-sdk-sqs: every
//! route, rejected bodies, SQS down or hanging, and the exported metric names.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::sync::{Arc, Once};
use std::time::{Duration, Instant};

use sampleapi::{App, Config};
use serde_json::{Value, json};
use service_telemetry::shutdown::Shutdown;
use service_telemetry::{Env, TelemetryConfig};

/// Installs the real telemetry once per test process, so spans get trace ids.
pub fn telemetry_once() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let cfg = TelemetryConfig::from_env(
            &Env::from_pairs(&[("LOG_LEVEL", "error")]),
            "sampleapi-test",
        )
        .unwrap();
        std::mem::forget(service_telemetry::init(&cfg).unwrap());
    });
}

struct Running {
    base: String,
    app: Arc<App>,
    shutdown: Shutdown,
    http: reqwest::Client,
}

async fn start(queue_url: &str, sqs_endpoint: &str, sqs_timeout_ms: u64) -> Running {
    telemetry_once();
    let env = Env::from_pairs(&[
        ("SQS_QUEUE_URL", queue_url),
        ("AWS_REGION", "us-east-1"),
        ("READY_CACHE_MS", "0"),
        ("MAX_BODY_BYTES", "4096"),
        // Every metric carries it as `version` (see the metrics test).
        ("SERVICE_VERSION", "2.0.1-test"),
    ]);
    let mut config = Config::from_env(&env).unwrap();
    config.sqs_timeout = Duration::from_millis(sqs_timeout_ms);
    let sqs = common::client_for(sqs_endpoint);
    let shutdown = Shutdown::new();
    let app = App::new(config, sqs, shutdown.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(sampleapi::serve(listener, app.clone()));
    Running {
        base,
        app,
        shutdown,
        http: reqwest::Client::new(),
    }
}

impl Running {
    async fn post_raw(&self, content_type: &str, body: Vec<u8>) -> (u16, Value) {
        let r = self
            .http
            .post(format!("{}/api/tasks", self.base))
            .header("content-type", content_type)
            .body(body)
            .send()
            .await
            .unwrap();
        let status = r.status().as_u16();
        let text = r.text().await.unwrap();
        (
            status,
            serde_json::from_str(&text).unwrap_or(Value::String(text)),
        )
    }
    async fn post(&self, body: &Value) -> (u16, Value) {
        self.post_raw("application/json", body.to_string().into_bytes())
            .await
    }
    async fn get(&self, path: &str) -> (u16, String) {
        let r = self
            .http
            .get(format!("{}{path}", self.base))
            .send()
            .await
            .unwrap();
        (r.status().as_u16(), r.text().await.unwrap())
    }
}

fn email() -> Value {
    json!({"type":"email","to":"user@example.com","subject":"Hello","body":"Hi there"})
}

#[tokio::test]
async fn health_and_ready() {
    let sqs = common::moto_client();
    let (queue, _) = common::queue_with_dlq(&sqs, "api-ready", 30, 3).await;
    let api = start(&queue, &common::moto_url(), 2000).await;
    let (s, body) = api.get("/health").await;
    assert_eq!((s, body.as_str()), (200, r#"{"status":"ok"}"#));
    let (s, body) = api.get("/ready").await;
    assert_eq!(s, 200, "{body}");

    // A queue that does not exist: not ready, with the reason.
    let missing = format!(
        "{}/123456789012/{}",
        common::moto_url(),
        common::unique_name("nope")
    );
    let api2 = start(&missing, &common::moto_url(), 2000).await;
    let (s, body) = api2.get("/ready").await;
    assert_eq!(s, 503, "{body}");
    assert!(body.contains("unavailable"), "{body}");
    let (s, _) = api2.get("/health").await;
    assert_eq!(s, 200, "liveness does not depend on SQS");

    // After shutdown is requested, /ready says so (the load balancer drains).
    api.shutdown.trigger();
}

#[tokio::test]
async fn ready_flips_to_503_on_shutdown() {
    let sqs = common::moto_client();
    let (queue, _) = common::queue_with_dlq(&sqs, "api-drain", 30, 3).await;
    telemetry_once();
    let env = Env::from_pairs(&[
        ("SQS_QUEUE_URL", queue.as_str()),
        ("AWS_REGION", "us-east-1"),
        ("SHUTDOWN_DRAIN_MS", "1500"),
    ]);
    let config = Config::from_env(&env).unwrap();
    let shutdown = Shutdown::new();
    let app = App::new(config, common::moto_client(), shutdown.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let server = tokio::spawn(sampleapi::serve(listener, app));
    let http = reqwest::Client::new();
    assert_eq!(
        http.get(format!("{base}/ready"))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    shutdown.trigger();
    tokio::time::sleep(Duration::from_millis(200)).await;
    // Still serving during the drain, but not ready.
    let r = http.get(format!("{base}/ready")).send().await.unwrap();
    assert_eq!(r.status(), 503);
    assert_eq!(
        http.get(format!("{base}/health"))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    // Then the server stops by itself.
    tokio::time::timeout(Duration::from_secs(10), server)
        .await
        .unwrap()
        .unwrap()
        .unwrap();
}

#[tokio::test]
async fn post_task_publishes_one_message_with_trace_context() {
    let sqs = common::moto_client();
    let (queue, _) = common::queue_with_dlq(&sqs, "api-post", 30, 3).await;
    let api = start(&queue, &common::moto_url(), 2000).await;
    let r = api
        .http
        .post(format!("{}/api/tasks", api.base))
        .header("x-request-id", "req-123")
        .json(&email())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 202);
    assert_eq!(r.headers()["x-request-id"], "req-123");
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["status"], "queued");
    let message_id = body["message_id"].as_str().unwrap().to_owned();
    let trace_id = body["trace_id"].as_str().unwrap().to_owned();
    assert_eq!(trace_id.len(), 32);

    let msgs = common::drain(&sqs, &queue).await;
    assert_eq!(msgs.len(), 1);
    let (body, attrs) = &msgs[0];
    assert_eq!(serde_json::from_str::<Value>(body).unwrap(), email());
    let traceparent = &attrs["traceparent"];
    assert!(
        traceparent.starts_with(&format!("00-{trace_id}-")),
        "{traceparent}"
    );
    assert_eq!(attrs["task_type"], "email");
    assert_eq!(attrs["request_id"], "req-123");
    assert!(!message_id.is_empty());

    // A generated request id when the client sends none.
    let r = api
        .http
        .get(format!("{}/health", api.base))
        .send()
        .await
        .unwrap();
    assert_eq!(r.headers()["x-request-id"].len(), 36);
}

#[tokio::test]
async fn incoming_trace_context_is_continued() {
    let sqs = common::moto_client();
    let (queue, _) = common::queue_with_dlq(&sqs, "api-trace", 30, 3).await;
    let api = start(&queue, &common::moto_url(), 2000).await;
    let trace = "4bf92f3577b34da6a3ce929d0e0e4736";
    let r = api
        .http
        .post(format!("{}/api/tasks", api.base))
        .header("traceparent", format!("00-{trace}-00f067aa0ba902b7-01"))
        .json(&email())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 202);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["trace_id"], trace);
    let msgs = common::drain(&sqs, &queue).await;
    assert!(msgs[0].1["traceparent"].starts_with(&format!("00-{trace}-")));
}

#[tokio::test]
async fn bad_bodies_are_rejected_and_nothing_is_sent() {
    let sqs = common::moto_client();
    let (queue, _) = common::queue_with_dlq(&sqs, "api-bad", 30, 3).await;
    let api = start(&queue, &common::moto_url(), 2000).await;
    let long_subject = "s".repeat(201);
    let json_cases: Vec<(Value, u16, Option<&str>, &str)> = vec![
        (json!([email()]), 422, Some("$"), "JSON object"),
        (json!("email"), 422, Some("$"), "JSON object"),
        (
            json!({"to":"a@b.io","subject":"s","body":"b"}),
            422,
            Some("type"),
            "required",
        ),
        (
            json!({"type":42,"to":"a@b.io","subject":"s","body":"b"}),
            422,
            Some("type"),
            "must be a string",
        ),
        (
            json!({"type":"sms","to":"a@b.io","subject":"s","body":"b"}),
            422,
            Some("type"),
            "unknown task type",
        ),
        (
            json!({"type":"email","subject":"s","body":"b"}),
            422,
            Some("to"),
            "required",
        ),
        (
            json!({"type":"email","to":["a@b.io"],"subject":"s","body":"b"}),
            422,
            Some("to"),
            "must be a string",
        ),
        (
            json!({"type":"email","to":"not-an-address","subject":"s","body":"b"}),
            422,
            Some("to"),
            "e-mail address",
        ),
        (
            json!({"type":"email","to":"a@b.io","body":"b"}),
            422,
            Some("subject"),
            "required",
        ),
        (
            json!({"type":"email","to":"a@b.io","subject":"   ","body":"b"}),
            422,
            Some("subject"),
            "empty",
        ),
        (
            json!({"type":"email","to":"a@b.io","subject":long_subject,"body":"b"}),
            422,
            Some("subject"),
            "longer than",
        ),
        (
            json!({"type":"email","to":"a@b.io","subject":"s","body":null}),
            422,
            Some("body"),
            "must be a string",
        ),
        (
            json!({"type":"email","to":"a@b.io","subject":"s","body":"b","bcc":"x@y.io"}),
            422,
            Some("bcc"),
            "unknown field",
        ),
    ];
    for (doc, status, field, needle) in &json_cases {
        let (s, body) = api.post(doc).await;
        assert_eq!(s, *status, "{doc} -> {body}");
        assert_eq!(body["field"].as_str(), *field, "{doc} -> {body}");
        assert!(
            body["message"].as_str().unwrap().contains(needle),
            "{doc} -> {body}"
        );
    }
    let raw_cases: Vec<(&str, Vec<u8>, u16, &str)> = vec![
        (
            "application/json",
            b"{not json".to_vec(),
            400,
            "not valid JSON",
        ),
        ("application/json", b"".to_vec(), 400, "empty"),
        (
            "application/json",
            b"{\"type\":\"email\",".to_vec(),
            400,
            "not valid JSON",
        ),
        (
            "application/json",
            vec![0xff, 0xfe, 0x00],
            400,
            "not valid JSON",
        ),
        (
            "text/plain",
            email().to_string().into_bytes(),
            415,
            "Content-Type",
        ),
        (
            "application/json",
            vec![b' '; 5000],
            413,
            "larger than 4096",
        ),
    ];
    for (ct, bytes, status, needle) in raw_cases {
        let (s, body) = api.post_raw(ct, bytes).await;
        assert_eq!(s, status, "{ct} -> {body}");
        assert!(body["message"].as_str().unwrap().contains(needle), "{body}");
        assert!(body["error"].is_string());
    }
    // Oversized but valid JSON (a body field of 5000 characters over a 4096 limit).
    let (s, _) = api
        .post(&json!({"type":"email","to":"a@b.io","subject":"s","body":"x".repeat(5000)}))
        .await;
    assert_eq!(s, 413);
    // Wrong method on the route.
    let (s, _) = api.get("/api/tasks").await;
    assert_eq!(s, 405);

    assert_eq!(
        common::counts(&sqs, &queue).await,
        (0, 0),
        "nothing was sent"
    );
    assert_eq!(api.app.metrics().publish_errors.get(), 0);
}

#[tokio::test]
async fn sqs_down_gives_503_fast() {
    // Nothing listens on this port: connection refused.
    let dead = format!("http://127.0.0.1:{}", common::free_port());
    let api = start(&format!("{dead}/123456789012/q"), &dead, 1000).await;
    let t = Instant::now();
    let (s, body) = api.post(&email()).await;
    assert_eq!(s, 503, "{body}");
    assert_eq!(body["error"], "queue_unavailable");
    // The connection was refused: certainly not queued, a retry is safe.
    assert_eq!(body["delivery"], "not_queued", "{body}");
    assert!(t.elapsed() < Duration::from_secs(3), "{:?}", t.elapsed());
    let (s, _) = api.get("/ready").await;
    assert_eq!(s, 503);
    assert_eq!(api.app.metrics().publish_errors.get(), 1);
    let (_, metrics) = api.get("/metrics").await;
    assert_eq!(
        common::sample(
            &metrics,
            r#"sqs_publish_errors_total{version="2.0.1-test"}"#
        ),
        Some(1.0)
    );
}

#[tokio::test]
async fn sqs_hanging_gives_503_within_the_timeout() {
    // Accepts connections and never answers.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let hang = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((sock, _)) = listener.accept().await {
            held.push(sock);
        }
    });
    let api = start(&format!("{hang}/123456789012/q"), &hang, 500).await;
    let t = Instant::now();
    let (s, body) = api.post(&email()).await;
    assert_eq!(s, 503, "{body}");
    assert!(t.elapsed() < Duration::from_secs(3), "{:?}", t.elapsed());
    // SQS may have the message: the client is told so, not "not queued".
    assert_eq!(body["delivery"], "unknown", "{body}");
}

/// The queue URL of `queue` (on moto) as seen through `endpoint`.
fn via(endpoint: &str, queue: &str) -> String {
    let path = queue.splitn(4, '/').nth(3).unwrap();
    format!("{endpoint}/{path}")
}

impl Running {
    async fn post_with_key(&self, key: Option<&str>, body: &Value) -> (u16, Value, Option<String>) {
        let mut req = self
            .http
            .post(format!("{}/api/tasks", self.base))
            .json(body);
        if let Some(k) = key {
            req = req.header("idempotency-key", k);
        }
        let r = req.send().await.unwrap();
        let status = r.status().as_u16();
        let retry_after = r
            .headers()
            .get("retry-after")
            .map(|v| v.to_str().unwrap().to_owned());
        (status, r.json().await.unwrap(), retry_after)
    }
}

#[tokio::test]
async fn a_503_after_a_timeout_says_the_task_may_be_queued_and_it_was() {
    let sqs = common::moto_client();
    let (queue, _) = common::queue_with_dlq(&sqs, "api-slow", 30, 3).await;
    let slow = common::slow_sqs(3000).await;
    let api = start(&via(&slow.endpoint, &queue), &slow.endpoint, 1000).await;
    let key = "3c0d6a1e-6a43-4a59-9bd4-1f9f0c1e2b7d";

    let t = Instant::now();
    let (s, body, retry_after) = api.post_with_key(Some(key), &email()).await;
    assert_eq!(s, 503, "{body}");
    assert!(
        t.elapsed() < Duration::from_millis(2900),
        "{:?}",
        t.elapsed()
    );
    assert_eq!(body["error"], "queue_unavailable");
    assert_eq!(body["delivery"], "unknown");
    let message = body["message"].as_str().unwrap();
    assert!(message.contains("may have been queued"), "{message}");
    assert!(
        message.contains("Retrying with the same Idempotency-Key is safe"),
        "{message}"
    );
    assert_eq!(retry_after.as_deref(), Some("1"));

    // Without a key the client is told that a retry may duplicate the task.
    let (s, body, _) = api.post_with_key(None, &email()).await;
    assert_eq!((s, body["delivery"].as_str()), (503, Some("unknown")));
    let message = body["message"].as_str().unwrap();
    assert!(message.contains("a retry may run it twice"), "{message}");
    assert!(
        message.contains("Send an Idempotency-Key header"),
        "{message}"
    );

    // Both "503" requests were in fact queued (this is why the 503 must not say
    // "not queued").
    slow.wait_answered(2, Duration::from_secs(60)).await;
    assert_eq!(common::counts(&sqs, &queue).await, (2, 0));
    assert_eq!(api.app.metrics().publish_errors.get(), 2);

    // The retry once SQS is fast again (an API on the queue without the slow
    // link, and a deadline no loaded machine misses): 202, the key echoed.
    let recovered = start(&queue, &common::moto_url(), 30_000).await;
    let (s, body, _) = recovered.post_with_key(Some(key), &email()).await;
    assert_eq!(s, 202, "{body}");
    assert_eq!(body["idempotency_key"], key);

    // The keyed copies carry the key for the worker.
    let msgs = common::drain(&sqs, &queue).await;
    assert_eq!(msgs.len(), 3, "{msgs:?}");
    let keyed: Vec<_> = msgs
        .iter()
        .filter_map(|(_, a)| a.get("idempotency_key"))
        .collect();
    assert_eq!(keyed, [key, key]);
}

#[tokio::test]
async fn bad_idempotency_keys_are_400_and_nothing_is_sent() {
    let sqs = common::moto_client();
    let (queue, _) = common::queue_with_dlq(&sqs, "api-badkey", 30, 3).await;
    let api = start(&queue, &common::moto_url(), 2000).await;
    let long = "k".repeat(129);
    let huge = "k".repeat(6000);
    let cases: Vec<(Vec<u8>, &str)> = vec![
        (b"".to_vec(), "is empty"),
        (long.clone().into_bytes(), "129 bytes long, more than 128"),
        (huge.into_bytes(), "6000 bytes long"),
        (b"has space".to_vec(), "not allowed at byte 3"),
        (b"tab\there".to_vec(), "not allowed at byte 3"),
        ("cl\u{e9}".as_bytes().to_vec(), "not allowed at byte 2"),
        (vec![b'k', 0xff, b'k'], "not allowed at byte 1"),
        (b"a/../../etc".to_vec(), "not allowed at byte 1"),
        (b"$(id)".to_vec(), "not allowed at byte 0"),
        (b"a,b".to_vec(), "not allowed at byte 1"),
        (b"{\"json\":1}".to_vec(), "not allowed at byte 0"),
        (b"<script>".to_vec(), "not allowed at byte 0"),
    ];
    for (raw, needle) in &cases {
        let r = api
            .http
            .post(format!("{}/api/tasks", api.base))
            .header(
                "idempotency-key",
                reqwest::header::HeaderValue::from_bytes(raw).unwrap(),
            )
            .json(&email())
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 400, "{raw:?}");
        let body: Value = r.json().await.unwrap();
        assert_eq!(body["error"], "invalid_idempotency_key", "{body}");
        let message = body["message"].as_str().unwrap();
        assert!(message.contains(needle), "{raw:?}: {message}");
        assert!(message.contains("A-Z a-z 0-9"), "{message}");
        assert!(
            !message.contains("etc") && !message.contains("script"),
            "{message}"
        );
    }
    // The header twice, even with two valid keys.
    let r = api
        .http
        .post(format!("{}/api/tasks", api.base))
        .header("idempotency-key", "a")
        .header("idempotency-key", "b")
        .json(&email())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    let body: Value = r.json().await.unwrap();
    assert!(body["message"].as_str().unwrap().contains("more than once"));

    assert_eq!(
        common::counts(&sqs, &queue).await,
        (0, 0),
        "nothing was sent"
    );
    // The longest valid key passes.
    let (s, body, _) = api.post_with_key(Some(&long[..128]), &email()).await;
    assert_eq!(s, 202, "{body}");
}

#[tokio::test]
async fn a_fifo_queue_drops_retries_with_the_same_key_itself() {
    let sqs = common::moto_client();
    let queue = sqs
        .create_queue()
        .queue_name(format!("{}.fifo", common::unique_name("api-fifo")))
        .attributes(aws_sdk_sqs::types::QueueAttributeName::FifoQueue, "true")
        .send()
        .await
        .unwrap()
        .queue_url
        .unwrap();
    assert!(sampleapi::is_fifo(&queue));
    let slow = common::slow_sqs(3000).await;
    let api = start(&via(&slow.endpoint, &queue), &slow.endpoint, 1000).await;
    let (s, body, _) = api.post_with_key(Some("fifo-key-1"), &email()).await;
    assert_eq!((s, body["delivery"].as_str()), (503, Some("unknown")));
    slow.wait_answered(1, Duration::from_secs(60)).await;
    let api = start(&queue, &common::moto_url(), 30_000).await;
    let (s, _, _) = api.post_with_key(Some("fifo-key-1"), &email()).await;
    assert_eq!(s, 202);
    // Without a key a FIFO queue still takes the task (a group and a
    // deduplication id of its own).
    let (s, body, _) = api.post_with_key(None, &email()).await;
    assert_eq!(s, 202, "{body}");
    let msgs = common::drain(&sqs, &queue).await;
    assert_eq!(
        msgs.len(),
        2,
        "the keyed retry was dropped by SQS: {msgs:?}"
    );
}

#[test]
fn fifo_queues_are_told_by_their_url() {
    assert!(sampleapi::is_fifo(
        "https://sqs.eu-west-1.amazonaws.com/1/tasks.fifo"
    ));
    assert!(sampleapi::is_fifo(
        "https://sqs.eu-west-1.amazonaws.com/1/tasks.fifo/"
    ));
    assert!(!sampleapi::is_fifo(
        "https://sqs.eu-west-1.amazonaws.com/1/tasks"
    ));
    assert!(!sampleapi::is_fifo(
        "https://sqs.eu-west-1.amazonaws.com/1/fifo"
    ));
}

#[tokio::test]
async fn metrics_use_the_names_the_monitoring_rules_use() {
    let sqs = common::moto_client();
    let (queue, _) = common::queue_with_dlq(&sqs, "api-metrics", 30, 3).await;
    let api = start(&queue, &common::moto_url(), 2000).await;
    assert_eq!(api.post(&email()).await.0, 202);
    assert_eq!(api.post(&json!({})).await.0, 422);
    assert_eq!(api.get("/health").await.0, 200);
    assert_eq!(api.get("/no/such/path/123").await.0, 404);
    let r = api
        .http
        .get(format!("{}/metrics", api.base))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert!(
        r.headers()["content-type"]
            .to_str()
            .unwrap()
            .contains("text")
    );
    let text = r.text().await.unwrap();
    for (sample, value) in [
        (
            r#"http_requests_total{version="2.0.1-test",method="POST",route="/api/tasks",status="202"}"#,
            1.0,
        ),
        (
            r#"http_requests_total{version="2.0.1-test",method="POST",route="/api/tasks",status="422"}"#,
            1.0,
        ),
        (
            r#"http_requests_total{version="2.0.1-test",method="GET",route="/health",status="200"}"#,
            1.0,
        ),
        (
            r#"http_requests_total{version="2.0.1-test",method="GET",route="unmatched",status="404"}"#,
            1.0,
        ),
        (
            r#"http_request_duration_seconds_count{version="2.0.1-test",method="POST",route="/api/tasks"}"#,
            2.0,
        ),
        (r#"sqs_publish_errors_total{version="2.0.1-test"}"#, 0.0),
    ] {
        assert_eq!(
            common::sample(&text, sample),
            Some(value),
            "{sample} in\n{text}"
        );
    }
    assert!(
        text.contains(
            r#"http_request_duration_seconds_bucket{version="2.0.1-test",le="0.3",method="POST",route="/api/tasks"}"#
        ),
        "an exact 300 ms bucket:\n{text}"
    );
    for family in [
        "# TYPE http_requests counter",
        "# TYPE http_request_duration_seconds histogram",
        "# TYPE sqs_publish_errors counter",
    ] {
        assert!(text.contains(family), "{family} in\n{text}");
    }
    assert!(
        !text.contains("/no/such/path"),
        "raw paths never become labels"
    );
}
