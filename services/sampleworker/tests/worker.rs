//! `sampleworker` as a process against a real SQS (moto) through the real
//! aws-sdk-sqs: end to end with the API, failures to the DLQ, malformed bodies,
//! SIGKILL and SIGTERM mid-batch, visibility extension, metric names, and
//! idempotency keys (retries after a slow queue's 503, reused keys, hostile
//! key attributes).
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "../../sampleapi/tests/common/mod.rs"]
mod common;

use std::collections::{HashMap, HashSet};
use std::io::BufRead as _;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex, Once};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use service_telemetry::shutdown::Shutdown;
use service_telemetry::{Env, TelemetryConfig};

struct WorkerProc {
    child: Child,
    lines: Arc<Mutex<Vec<String>>>,
    port: u16,
    http: reqwest::Client,
}

fn spawn_worker(queue: &str, env: &[(&str, &str)]) -> WorkerProc {
    let port = common::free_port();
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_sampleworker"));
    cmd.env_clear()
        .envs(common::aws_env())
        .env("SQS_QUEUE_URL", queue)
        .env("METRICS_PORT", port.to_string())
        .env("LOG_LEVEL", "info")
        .env("SQS_WAIT_TIME_SECONDS", "1")
        .env("EMAIL_SEND_DURATION_MS", "20")
        .env("OTEL_SERVICE_NAME", "sampleworker-test")
        // Every metric carries it as `version` (the monitoring compares a
        // canary with its baseline by it): the needles below include it.
        .env("SERVICE_VERSION", "2.0.1-test");
    for (k, v) in env {
        cmd.env(k, v);
    }
    let mut child = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let lines = Arc::new(Mutex::new(Vec::new()));
    let sink = lines.clone();
    std::thread::spawn(move || {
        for line in std::io::BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            sink.lock().unwrap().push(line);
        }
    });
    WorkerProc {
        child,
        lines,
        port,
        http: reqwest::Client::new(),
    }
}

impl WorkerProc {
    async fn metrics(&self) -> String {
        let start = Instant::now();
        loop {
            if let Ok(r) = self
                .http
                .get(format!("http://127.0.0.1:{}/metrics", self.port))
                .send()
                .await
            {
                return r.text().await.unwrap();
            }
            assert!(
                start.elapsed() < Duration::from_secs(20),
                "worker metrics never came up"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
    async fn metric(&self, name: &str) -> f64 {
        common::sample(&self.metrics().await, name).unwrap_or(0.0)
    }
    async fn wait_metric(&self, name: &str, what: impl Fn(f64) -> bool, timeout: Duration) -> f64 {
        let start = Instant::now();
        loop {
            let v = self.metric(name).await;
            if what(v) {
                return v;
            }
            assert!(
                start.elapsed() < timeout,
                "timed out on {name} (last {v})\nlogs:\n{}",
                self.logs_text()
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
    fn signal(&self, sig: &str) {
        let ok = Command::new("kill")
            .args([format!("-{sig}"), self.child.id().to_string()])
            .status()
            .unwrap()
            .success();
        assert!(ok, "kill -{sig} failed");
    }
    async fn wait_exit(&mut self, timeout: Duration) -> ExitStatus {
        let start = Instant::now();
        loop {
            if let Some(s) = self.child.try_wait().unwrap() {
                // Let the reader thread take the last lines.
                tokio::time::sleep(Duration::from_millis(100)).await;
                return s;
            }
            assert!(
                start.elapsed() < timeout,
                "worker did not exit in {timeout:?}"
            );
            // Async sleep: in-test servers (OTLP receiver, API) share this runtime.
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
    fn logs(&self) -> Vec<Value> {
        self.lines
            .lock()
            .unwrap()
            .iter()
            .map(|l| {
                serde_json::from_str(l).unwrap_or_else(|e| panic!("not a JSON log line ({e}): {l}"))
            })
            .collect()
    }
    fn logs_text(&self) -> String {
        self.lines.lock().unwrap().join("\n")
    }
    /// `to` address of every "email sent" line.
    fn sent_to(&self) -> Vec<String> {
        self.logs()
            .into_iter()
            .filter(|l| l["message"] == "email sent")
            .map(|l| l["to"].as_str().unwrap().to_owned())
            .collect()
    }
}

impl Drop for WorkerProc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

async fn send_tasks(sqs: &aws_sdk_sqs::Client, queue: &str, n: usize, tag: &str) -> Vec<String> {
    let mut to = Vec::new();
    for i in 0..n {
        let addr = format!("{tag}-{i}@example.com");
        let body = json!({"type":"email","to":addr,"subject":"s","body":"b"}).to_string();
        sqs.send_message()
            .queue_url(queue)
            .message_body(body)
            .send()
            .await
            .unwrap();
        to.push(addr);
    }
    to
}

/// Serves the API in-process on `queue_url` through `endpoint`, with
/// `SQS_TIMEOUT_MS` = `timeout_ms`; returns its base URL.
async fn start_api(queue_url: &str, endpoint: &str, timeout_ms: u64) -> String {
    let env = Env::from_pairs(&[
        ("SQS_QUEUE_URL", queue_url),
        ("AWS_REGION", "us-east-1"),
        ("SQS_TIMEOUT_MS", &timeout_ms.to_string()),
    ]);
    let config = sampleapi::Config::from_env(&env).unwrap();
    let app = sampleapi::App::new(config, common::client_for(endpoint), Shutdown::new());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(sampleapi::serve(listener, app));
    base
}

fn telemetry_once() {
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn end_to_end_100_tasks_processed_exactly_once_with_trace_ids() {
    telemetry_once();
    let sqs = common::moto_client();
    let (queue, dlq) = common::queue_with_dlq(&sqs, "e2e", 30, 3).await;

    // The API, in-process, on the same moto queue.
    let env = Env::from_pairs(&[
        ("SQS_QUEUE_URL", queue.as_str()),
        ("AWS_REGION", "us-east-1"),
    ]);
    let config = sampleapi::Config::from_env(&env).unwrap();
    let app = sampleapi::App::new(config, common::moto_client(), Shutdown::new());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(sampleapi::serve(listener, app));
    let http = reqwest::Client::new();
    let mut trace_of: HashMap<String, String> = HashMap::new(); // to -> trace id
    for i in 0..100 {
        let to = format!("e2e-{i}@example.com");
        let r = http
            .post(format!("{base}/api/tasks"))
            .json(&json!({"type":"email","to":to,"subject":"hi","body":"b"}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 202);
        let body: Value = r.json().await.unwrap();
        trace_of.insert(to, body["trace_id"].as_str().unwrap().to_owned());
    }
    let distinct: HashSet<_> = trace_of.values().collect();
    assert_eq!(distinct.len(), 100, "one trace per request");

    let mut worker = spawn_worker(&queue, &[("WORKER_CONCURRENCY", "20")]);
    let ok = r#"emails_sent_total{version="2.0.1-test",status="success"}"#;
    worker
        .wait_metric(ok, |v| v >= 100.0, Duration::from_secs(60))
        .await;
    common::eventually(Duration::from_secs(10), "queue empty", || async {
        common::counts(&sqs, &queue).await == (0, 0)
    })
    .await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let text = worker.metrics().await;
    assert_eq!(common::sample(&text, ok), Some(100.0), "exactly once");
    assert_eq!(
        common::sample(&text, r#"messages_received_total{version="2.0.1-test"}"#),
        Some(100.0)
    );
    assert_eq!(
        common::sample(
            &text,
            r#"emails_sent_total{version="2.0.1-test",status="failure"}"#
        ),
        None
    );
    assert_eq!(
        common::sample(
            &text,
            r#"email_send_duration_seconds_count{version="2.0.1-test"}"#
        ),
        Some(100.0)
    );
    assert_eq!(
        common::sample(&text, r#"message_age_seconds_count{version="2.0.1-test"}"#),
        Some(100.0)
    );
    assert_eq!(
        common::sample(&text, r#"inflight_messages{version="2.0.1-test"}"#),
        Some(0.0)
    );
    assert_eq!(common::counts(&sqs, &dlq).await, (0, 0));

    worker.signal("TERM");
    assert!(worker.wait_exit(Duration::from_secs(10)).await.success());

    // Every e-mail was sent once, in the trace the API started; and with no
    // OTLP endpoint configured nothing complains about a missing collector.
    let logs = worker.logs();
    let noisy: Vec<_> = logs
        .iter()
        .filter(|l| l["level"] == "WARN" || l["level"] == "ERROR")
        .collect();
    assert!(noisy.is_empty(), "{noisy:?}");
    let sent: Vec<&Value> = logs
        .iter()
        .filter(|l| l["message"] == "email sent")
        .collect();
    assert_eq!(sent.len(), 100);
    let mut seen = HashSet::new();
    for line in sent {
        let to = line["to"].as_str().unwrap();
        assert!(seen.insert(to.to_owned()), "{to} sent twice");
        assert_eq!(
            line["trace_id"].as_str(),
            Some(trace_of[to].as_str()),
            "{line}"
        );
        assert_eq!(line["span_id"].as_str().unwrap().len(), 16);
        assert!(line["message_id"].is_string());
    }
}

#[tokio::test]
async fn metric_names_are_exactly_the_ones_monitoring_uses() {
    let sqs = common::moto_client();
    let (queue, _) = common::queue_with_dlq(&sqs, "names", 30, 3).await;
    send_tasks(&sqs, &queue, 1, "names").await;
    let worker = spawn_worker(&queue, &[]);
    worker
        .wait_metric(
            r#"emails_sent_total{version="2.0.1-test",status="success"}"#,
            |v| v >= 1.0,
            Duration::from_secs(30),
        )
        .await;
    let text = worker.metrics().await;
    for needle in [
        "# TYPE emails_sent counter",
        r#"emails_sent_total{version="2.0.1-test",status="success"} 1"#,
        "# TYPE email_send_duration_seconds histogram",
        r#"email_send_duration_seconds_bucket{version="2.0.1-test",le="#,
        "# TYPE messages_received counter",
        r#"messages_received_total{version="2.0.1-test"} 1"#,
        "# TYPE message_age_seconds histogram",
        r#"message_age_seconds_bucket{version="2.0.1-test",le="#,
        "# TYPE inflight_messages gauge",
        r#"inflight_messages{version="2.0.1-test"} "#,
        "# TYPE emails_deduplicated counter",
        r#"emails_deduplicated_total{version="2.0.1-test"} 0"#,
        "# TYPE dedup_keys gauge",
        r#"dedup_keys{version="2.0.1-test"} 0"#,
        "# TYPE dedup_keys_evicted counter",
        r#"dedup_keys_evicted_total{version="2.0.1-test"} 0"#,
    ] {
        assert!(text.contains(needle), "{needle:?} missing in\n{text}");
    }
    let health = worker
        .http
        .get(format!("http://127.0.0.1:{}/health", worker.port))
        .send()
        .await
        .unwrap();
    assert_eq!(health.status(), 200);
}

#[tokio::test]
async fn failures_reach_the_dlq_after_3_receives_and_are_counted() {
    let sqs = common::moto_client();
    let (queue, dlq) = common::queue_with_dlq(&sqs, "fail", 1, 3).await;
    send_tasks(&sqs, &queue, 4, "fail").await;
    // A failed keyed task is retried too: its key is not "processed".
    send_with_attrs(
        &sqs,
        &queue,
        "fail-keyed@example.com",
        &[("idempotency_key", "String", "failing-key")],
    )
    .await;
    let worker = spawn_worker(
        &queue,
        &[
            ("FAIL_SIMULATE_ENABLED", "true"),
            ("SQS_VISIBILITY_TIMEOUT_SECONDS", "1"),
        ],
    );
    common::eventually(Duration::from_secs(40), "5 messages in the DLQ", || async {
        common::counts(&sqs, &dlq).await.0 == 5
    })
    .await;
    let text = worker.metrics().await;
    assert_eq!(
        common::sample(
            &text,
            r#"emails_sent_total{version="2.0.1-test",status="failure"}"#
        ),
        Some(15.0),
        "{text}"
    );
    assert_eq!(
        common::sample(
            &text,
            r#"emails_sent_total{version="2.0.1-test",status="success"}"#
        ),
        None
    );
    assert_eq!(common::counts(&sqs, &queue).await, (0, 0));
    let logs = worker.logs();
    assert!(logs.iter().any(|l| l["level"] == "WARN"
        && l["message"].as_str().unwrap().contains("send failed")
        && l["receive_count"] == 3));
}

#[tokio::test]
async fn malformed_messages_go_to_the_dlq_without_blocking_others() {
    let sqs = common::moto_client();
    let (queue, dlq) = common::queue_with_dlq(&sqs, "malformed", 1, 3).await;
    let bad = sqs
        .send_message()
        .queue_url(&queue)
        .message_body("this is not a task")
        .send()
        .await
        .unwrap()
        .message_id
        .unwrap();
    send_tasks(&sqs, &queue, 3, "good").await;
    let worker = spawn_worker(&queue, &[("SQS_VISIBILITY_TIMEOUT_SECONDS", "1")]);
    worker
        .wait_metric(
            r#"emails_sent_total{version="2.0.1-test",status="success"}"#,
            |v| v >= 3.0,
            Duration::from_secs(20),
        )
        .await;
    common::eventually(
        Duration::from_secs(30),
        "the malformed message in the DLQ",
        || async { common::counts(&sqs, &dlq).await.0 == 1 },
    )
    .await;
    assert_eq!(
        worker
            .metric(r#"messages_malformed_total{version="2.0.1-test"}"#)
            .await,
        3.0
    );
    let dead = common::drain(&sqs, &dlq).await;
    assert_eq!(dead[0].0, "this is not a task");
    let logs = worker.logs();
    assert!(
        logs.iter()
            .any(|l| l["level"] == "ERROR" && l["message_id"] == bad.as_str())
    );
}

#[tokio::test]
async fn sigkill_mid_batch_loses_no_message() {
    let sqs = common::moto_client();
    let (queue, dlq) = common::queue_with_dlq(&sqs, "kill", 2, 3).await;
    let all = send_tasks(&sqs, &queue, 30, "kill").await;
    let mut first = spawn_worker(
        &queue,
        &[
            ("EMAIL_SEND_DURATION_MS", "400"),
            ("SQS_VISIBILITY_TIMEOUT_SECONDS", "2"),
        ],
    );
    first
        .wait_metric(
            r#"emails_sent_total{version="2.0.1-test",status="success"}"#,
            |v| v >= 5.0,
            Duration::from_secs(20),
        )
        .await;
    first
        .wait_metric(
            r#"inflight_messages{version="2.0.1-test"}"#,
            |v| v >= 3.0,
            Duration::from_secs(10),
        )
        .await;
    first.signal("KILL");
    first.wait_exit(Duration::from_secs(5)).await;
    let before = first.sent_to();
    assert!(before.len() < 30, "killed mid-batch");

    let second = spawn_worker(&queue, &[("SQS_VISIBILITY_TIMEOUT_SECONDS", "2")]);
    common::eventually(Duration::from_secs(30), "queue empty", || async {
        common::counts(&sqs, &queue).await == (0, 0)
    })
    .await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let mut done: HashSet<String> = before.into_iter().collect();
    done.extend(second.sent_to());
    for (body, _) in common::drain(&sqs, &dlq).await {
        let v: Value = serde_json::from_str(&body).unwrap();
        done.insert(v["to"].as_str().unwrap().to_owned());
    }
    let missing: Vec<_> = all.iter().filter(|t| !done.contains(*t)).collect();
    assert!(missing.is_empty(), "lost: {missing:?}");
}

#[tokio::test]
async fn sigterm_lets_in_flight_work_finish() {
    let sqs = common::moto_client();
    let (queue, _) = common::queue_with_dlq(&sqs, "term", 30, 3).await;
    send_tasks(&sqs, &queue, 5, "term").await;
    let mut worker = spawn_worker(&queue, &[("EMAIL_SEND_DURATION_MS", "1500")]);
    worker
        .wait_metric(
            r#"inflight_messages{version="2.0.1-test"}"#,
            |v| v >= 5.0,
            Duration::from_secs(20),
        )
        .await;
    worker.signal("TERM");
    let status = worker.wait_exit(Duration::from_secs(10)).await;
    assert!(status.success(), "{status:?}");
    assert_eq!(worker.sent_to().len(), 5, "{}", worker.logs_text());
    assert_eq!(
        common::counts(&sqs, &queue).await,
        (0, 0),
        "all deleted before exit"
    );
}

#[tokio::test]
async fn sigterm_releases_work_that_cannot_finish_in_time() {
    let sqs = common::moto_client();
    let (queue, _) = common::queue_with_dlq(&sqs, "release", 30, 3).await;
    send_tasks(&sqs, &queue, 3, "release").await;
    let mut worker = spawn_worker(
        &queue,
        &[
            ("EMAIL_SEND_DURATION_MS", "60000"),
            ("SHUTDOWN_TIMEOUT_MS", "300"),
        ],
    );
    worker
        .wait_metric(
            r#"inflight_messages{version="2.0.1-test"}"#,
            |v| v >= 3.0,
            Duration::from_secs(20),
        )
        .await;
    let t = Instant::now();
    worker.signal("TERM");
    assert!(worker.wait_exit(Duration::from_secs(10)).await.success());
    assert!(t.elapsed() < Duration::from_secs(5), "{:?}", t.elapsed());
    // Visible again at once, not after the 30 s visibility timeout.
    assert_eq!(common::counts(&sqs, &queue).await, (3, 0));
    assert!(worker.sent_to().is_empty());
}

#[tokio::test]
async fn long_work_extends_visibility_and_is_not_redelivered() {
    let sqs = common::moto_client();
    let (queue, _) = common::queue_with_dlq(&sqs, "extend", 2, 3).await;
    send_tasks(&sqs, &queue, 1, "extend").await;
    // The work takes more than twice the visibility timeout; the heartbeat
    // (every half timeout) keeps the message hidden.
    let worker = spawn_worker(
        &queue,
        &[
            ("EMAIL_SEND_DURATION_MS", "4500"),
            ("SQS_VISIBILITY_TIMEOUT_SECONDS", "2"),
        ],
    );
    worker
        .wait_metric(
            r#"emails_sent_total{version="2.0.1-test",status="success"}"#,
            |v| v >= 1.0,
            Duration::from_secs(20),
        )
        .await;
    tokio::time::sleep(Duration::from_millis(2500)).await;
    let text = worker.metrics().await;
    assert_eq!(
        common::sample(&text, r#"messages_received_total{version="2.0.1-test"}"#),
        Some(1.0),
        "{text}"
    );
    assert_eq!(
        common::sample(
            &text,
            r#"emails_sent_total{version="2.0.1-test",status="success"}"#
        ),
        Some(1.0)
    );
    assert_eq!(common::counts(&sqs, &queue).await, (0, 0));
}

#[test]
fn bad_configuration_stops_with_one_line_naming_the_variable() {
    let out = Command::new(env!("CARGO_BIN_EXE_sampleworker"))
        .env_clear()
        .env("SQS_QUEUE_URL", "http://127.0.0.1:1/q")
        .env("AWS_REGION", "us-east-1")
        .env("SQS_MAX_MESSAGES", "50")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8(out.stderr).unwrap();
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.contains("SQS_MAX_MESSAGES"), "{err}");
    let out = Command::new(env!("CARGO_BIN_EXE_sampleworker"))
        .env_clear()
        .env("AWS_REGION", "us-east-1")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(
        String::from_utf8(out.stderr)
            .unwrap()
            .contains("SQS_QUEUE_URL is required")
    );
}

#[tokio::test]
async fn spans_are_exported_over_otlp_http_in_the_producers_trace() {
    // A minimal OTLP/HTTP receiver: records what is posted to /v1/traces.
    type Exports = Arc<Mutex<Vec<(String, Vec<u8>)>>>; // (content type, body)
    let received: Exports = Arc::default();
    let sink = received.clone();
    let app = axum::Router::new().route(
        "/v1/traces",
        axum::routing::post(
            move |headers: axum::http::HeaderMap, body: axum::body::Bytes| {
                let sink = sink.clone();
                async move {
                    let ct = headers
                        .get("content-type")
                        .and_then(|v| v.to_str().ok())
                        .unwrap_or("")
                        .to_owned();
                    sink.lock().unwrap().push((ct, body.to_vec()));
                    ""
                }
            },
        ),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let endpoint = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });

    let sqs = common::moto_client();
    let (queue, _) = common::queue_with_dlq(&sqs, "otlp", 30, 3).await;
    let trace = "0af7651916cd43dd8448eb211c80319c";
    sqs.send_message()
        .queue_url(&queue)
        .message_body(
            json!({"type":"email","to":"otlp@example.com","subject":"s","body":"b"}).to_string(),
        )
        .message_attributes(
            "traceparent",
            aws_sdk_sqs::types::MessageAttributeValue::builder()
                .data_type("String")
                .string_value(format!("00-{trace}-b7ad6b7169203331-01"))
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();
    let mut worker = spawn_worker(
        &queue,
        &[("OTEL_EXPORTER_OTLP_ENDPOINT", endpoint.as_str())],
    );
    worker
        .wait_metric(
            r#"emails_sent_total{version="2.0.1-test",status="success"}"#,
            |v| v >= 1.0,
            Duration::from_secs(20),
        )
        .await;
    worker.signal("TERM");
    assert!(worker.wait_exit(Duration::from_secs(10)).await.success());

    // The exporter flushed at shutdown: protobuf spans of our trace and service.
    let trace_bytes: Vec<u8> = (0..16)
        .map(|i| u8::from_str_radix(&trace[2 * i..2 * i + 2], 16).unwrap())
        .collect();
    let got = received.lock().unwrap().clone();
    assert!(!got.is_empty(), "no OTLP export received");
    let contains = |hay: &[u8], needle: &[u8]| hay.windows(needle.len()).any(|w| w == needle);
    assert!(
        got.iter().all(|(ct, _)| ct == "application/x-protobuf"),
        "{:?}",
        got.iter().map(|g| &g.0).collect::<Vec<_>>()
    );
    assert!(
        got.iter().any(|(_, b)| contains(b, &trace_bytes)),
        "the producer's trace id"
    );
    assert!(got.iter().any(|(_, b)| contains(b, b"process_message")));
    assert!(got.iter().any(|(_, b)| contains(b, b"sampleworker-test")));
    // The resource names the version the process runs (SERVICE_VERSION).
    assert!(
        got.iter()
            .any(|(_, b)| contains(b, b"service.version") && contains(b, b"2.0.1-test"))
    );
    let line = worker
        .logs()
        .into_iter()
        .find(|l| l["message"] == "email sent")
        .unwrap();
    assert_eq!(line["trace_id"], trace);
}

/// Sends one task with `attrs` as message attributes (name, data type, string
/// value or, for `Binary`, bytes).
async fn send_with_attrs(
    sqs: &aws_sdk_sqs::Client,
    queue: &str,
    to: &str,
    attrs: &[(&str, &str, &str)],
) {
    let mut req = sqs
        .send_message()
        .queue_url(queue)
        .message_body(json!({"type":"email","to":to,"subject":"s","body":"b"}).to_string());
    for (name, ty, value) in attrs {
        let b = aws_sdk_sqs::types::MessageAttributeValue::builder().data_type(*ty);
        let b = if *ty == "Binary" {
            b.binary_value(aws_sdk_sqs::primitives::Blob::new(
                value.as_bytes().to_vec(),
            ))
        } else {
            b.string_value(*value)
        };
        req = req.message_attributes(*name, b.build().unwrap());
    }
    req.send().await.unwrap();
}

/// The incident of the hardening issue, scaled down: many concurrent clients
/// against a queue that answers after the API's timeout. Every 503 says "may
/// have been queued"; the clients retry with the same key until they get 202;
/// every task was queued several times, and the worker sends each once.
/// `SLOW_TASKS` (default 100) sets the number of concurrent clients, for a
/// measurement at the issue's scale (`-- --nocapture` prints the figures).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retries_after_a_slow_queue_are_sent_exactly_once() {
    let n: usize = std::env::var("SLOW_TASKS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(100);
    let n_u64 = n as u64;
    let started = Instant::now();
    telemetry_once();
    let sqs = common::moto_client();
    let (queue, dlq) = common::queue_with_dlq(&sqs, "slow", 2, 3).await;
    let slow = common::slow_sqs(2500).await;
    let path = queue.splitn(4, '/').nth(3).unwrap();
    let slow_api = start_api(&format!("{}/{path}", slow.endpoint), &slow.endpoint, 1000).await;
    let http = reqwest::Client::new();
    let run = common::unique_name("k");
    let post = move |base: String, i: usize| {
        let http = http.clone();
        let key = format!("{run}-{i}");
        async move {
            let r = http
                .post(format!("{base}/api/tasks"))
                .header("idempotency-key", key)
                .json(&json!({"type":"email","to":format!("slow-{i}@example.com"),"subject":"s","body":"b"}))
                .send()
                .await
                .unwrap();
            let status = r.status().as_u16();
            (status, r.json::<Value>().await.unwrap())
        }
    };
    // Two rounds while the queue is slow: every answer is a 503 "unknown".
    for _round in 0..2 {
        let mut all = tokio::task::JoinSet::new();
        for i in 0..n {
            all.spawn(post(slow_api.clone(), i));
        }
        while let Some(res) = all.join_next().await {
            let (status, body) = res.unwrap();
            assert_eq!(status, 503, "{body}");
            assert_eq!(body["delivery"], "unknown", "{body}");
        }
    }
    // What the 503s "refused" was queued: every one of those requests that
    // reached moto (all of them, unless the machine is so loaded that the API
    // gave up before sending some) is a message in the queue.
    slow.wait_idle(Duration::from_secs(120 + n_u64)).await;
    let refused_but_queued = common::counts(&sqs, &queue).await.0;
    assert_eq!(
        refused_but_queued,
        slow.answered.load(std::sync::atomic::Ordering::Relaxed)
    );
    assert!(refused_but_queued > 0);
    // Then the queue recovers (an API without the slow link, with a deadline a
    // loaded machine does not miss); each client retries with the same key
    // until it gets 202 (an overloaded moto may still answer some with a 503).
    let recovered = start_api(&queue, &common::moto_url(), 30_000).await;
    let mut all = tokio::task::JoinSet::new();
    for i in 0..n {
        let (post, recovered) = (post.clone(), recovered.clone());
        all.spawn(async move {
            for _ in 0..10 {
                let (status, body) = post(recovered.clone(), i).await;
                if status == 202 {
                    return;
                }
                assert_eq!(status, 503, "{body}");
                tokio::time::sleep(Duration::from_millis(500)).await;
            }
            panic!("task {i} never accepted");
        });
    }
    while let Some(res) = all.join_next().await {
        res.unwrap();
    }
    let stored = common::counts(&sqs, &queue).await.0;
    assert!(stored >= refused_but_queued + n_u64, "{stored}");

    let worker = spawn_worker(
        &queue,
        &[
            ("WORKER_CONCURRENCY", "20"),
            ("SQS_VISIBILITY_TIMEOUT_SECONDS", "2"),
        ],
    );
    let dedup = r#"emails_deduplicated_total{version="2.0.1-test"}"#;
    let want_dedup = (stored - n_u64) as f64;
    let processing = Instant::now();
    common::eventually(Duration::from_secs(180 + n_u64), "queue empty", || async {
        common::counts(&sqs, &queue).await == (0, 0)
    })
    .await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let text = worker.metrics().await;
    assert_eq!(
        common::sample(
            &text,
            r#"emails_sent_total{version="2.0.1-test",status="success"}"#
        ),
        Some(n as f64),
        "each task sent once:\n{text}"
    );
    // Every copy beyond the first of each task was dropped (a copy moto stored
    // after the count above would be dropped too).
    assert!(
        common::sample(&text, dedup).is_some_and(|v| v >= want_dedup),
        "{text}"
    );
    assert_eq!(
        common::sample(&text, r#"dedup_keys{version="2.0.1-test"}"#),
        Some(n as f64)
    );
    assert_eq!(
        common::sample(&text, r#"dedup_keys_evicted_total{version="2.0.1-test"}"#),
        Some(0.0)
    );
    assert_eq!(common::counts(&sqs, &dlq).await, (0, 0));
    let sent = worker.sent_to();
    let distinct: HashSet<&String> = sent.iter().collect();
    assert_eq!((sent.len(), distinct.len()), (n, n));
    let logs = worker.logs();
    let late_deletes = logs
        .iter()
        .filter(|l| l["code"] == "ReceiptHandleIsInvalid")
        .count();
    println!(
        "{n} tasks, 2 rounds of 503 \"unknown\" ({refused_but_queued} of {} queued all the same), \
         then retries to 202: {stored} messages queued, {n} e-mails sent, {} duplicates dropped \
         ({late_deletes} deletes too late for the 2 s visibility timeout, their redeliveries \
         dropped as duplicates); worker {:.1} s, whole test {:.1} s",
        2 * n,
        common::sample(&text, dedup).unwrap_or(0.0),
        processing.elapsed().as_secs_f64(),
        started.elapsed().as_secs_f64()
    );
    // Nothing went wrong but, on a loaded machine, a delete that came after the
    // 2 s visibility timeout (its message was redelivered, and dropped as a
    // duplicate: counted above).
    let warnings: Vec<_> = logs
        .iter()
        .filter(|l| l["level"] != "INFO" && l["code"] != "ReceiptHandleIsInvalid")
        .collect();
    assert!(warnings.is_empty(), "{warnings:?}");
}

#[tokio::test]
async fn a_key_reused_for_a_different_task_is_dropped_with_a_warning() {
    let sqs = common::moto_client();
    let (queue, _) = common::queue_with_dlq(&sqs, "reuse", 30, 3).await;
    let key = [("idempotency_key", "String", "reused-key-1")];
    send_with_attrs(&sqs, &queue, "first@example.com", &key).await;
    let worker = spawn_worker(&queue, &[]);
    let ok = r#"emails_sent_total{version="2.0.1-test",status="success"}"#;
    worker
        .wait_metric(ok, |v| v >= 1.0, Duration::from_secs(20))
        .await;
    send_with_attrs(&sqs, &queue, "second@example.com", &key).await;
    send_with_attrs(&sqs, &queue, "first@example.com", &key).await;
    worker
        .wait_metric(
            r#"emails_deduplicated_total{version="2.0.1-test"}"#,
            |v| v >= 2.0,
            Duration::from_secs(20),
        )
        .await;
    common::eventually(Duration::from_secs(10), "queue empty", || async {
        common::counts(&sqs, &queue).await == (0, 0)
    })
    .await;
    assert_eq!(worker.metric(ok).await, 1.0);
    assert_eq!(worker.sent_to(), ["first@example.com"]);
    let logs = worker.logs();
    let warned: Vec<_> = logs.iter().filter(|l| l["level"] == "WARN").collect();
    assert_eq!(warned.len(), 1, "{warned:?}");
    assert!(
        warned[0]["message"]
            .as_str()
            .unwrap()
            .contains("reused for a different task")
    );
    assert_eq!(warned[0]["idempotency_key"], "reused-key-1");
    assert!(
        logs.iter().any(|l| l["level"] == "INFO"
            && l["message"].as_str().unwrap().starts_with("duplicate task"))
    );
}

#[tokio::test]
async fn hostile_key_attributes_go_to_the_dlq_and_block_nothing() {
    let sqs = common::moto_client();
    let (queue, dlq) = common::queue_with_dlq(&sqs, "hostile-key", 1, 3).await;
    let oversized = "K".repeat(5000);
    let injection = "a\n{\"level\":\"ERROR\",\"message\":\"forged\"}";
    let hostile: [(&str, &str); 5] = [
        ("Number", "12"),
        ("Binary", "binary-key"),
        ("String", oversized.as_str()),
        ("String", injection),
        ("String", "../../etc/passwd"),
    ];
    for (i, (ty, value)) in hostile.iter().enumerate() {
        send_with_attrs(
            &sqs,
            &queue,
            &format!("hostile-{i}@example.com"),
            &[("idempotency_key", ty, value)],
        )
        .await;
    }
    send_with_attrs(
        &sqs,
        &queue,
        "keyed@example.com",
        &[("idempotency_key", "String", "good-key")],
    )
    .await;
    send_tasks(&sqs, &queue, 1, "plain").await;
    let worker = spawn_worker(&queue, &[("SQS_VISIBILITY_TIMEOUT_SECONDS", "1")]);
    common::eventually(Duration::from_secs(40), "5 messages in the DLQ", || async {
        common::counts(&sqs, &dlq).await.0 == 5
    })
    .await;
    let mut sent = worker.sent_to();
    sent.sort();
    assert_eq!(sent, ["keyed@example.com", "plain-0@example.com"]);
    assert_eq!(
        worker
            .metric(r#"messages_malformed_total{version="2.0.1-test"}"#)
            .await,
        15.0
    );
    assert_eq!(common::counts(&sqs, &queue).await, (0, 0));
    // Nothing lost: every hostile message is in the DLQ, body intact.
    let mut dead: Vec<String> = common::drain(&sqs, &dlq)
        .await
        .into_iter()
        .map(|(b, _)| {
            serde_json::from_str::<Value>(&b).unwrap()["to"]
                .as_str()
                .unwrap()
                .to_owned()
        })
        .collect();
    dead.sort();
    assert_eq!(
        dead,
        (0..5)
            .map(|i| format!("hostile-{i}@example.com"))
            .collect::<Vec<_>>()
    );
    // The log says why, and never carries the hostile value.
    let text = worker.logs_text();
    assert!(!text.contains("KKKKKKKKKK") && !text.contains("forged") && !text.contains("passwd"));
    let errors: Vec<_> = worker
        .logs()
        .into_iter()
        .filter(|l| l["level"] == "ERROR")
        .collect();
    assert_eq!(errors.len(), 15, "{errors:?}");
    assert!(errors.iter().all(|l| {
        l["message"]
            .as_str()
            .unwrap()
            .contains("bad idempotency key")
    }));
    assert!(
        errors
            .iter()
            .any(|l| l["error"].as_str().unwrap().contains("is not a String"))
    );
    assert!(
        errors
            .iter()
            .any(|l| l["error"].as_str().unwrap().contains("5000 bytes long"))
    );
}
