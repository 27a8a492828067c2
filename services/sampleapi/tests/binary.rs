//! The `sampleapi` binary as ECS runs it: configuration errors, JSON log lines
//! with request ids and trace ids, graceful exit on SIGTERM.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::io::BufRead as _;
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

#[test]
fn bad_configuration_stops_with_one_line_naming_the_variable() {
    for (env, var) in [
        (vec![("AWS_REGION", "us-east-1")], "SQS_QUEUE_URL"),
        (
            vec![
                ("SQS_QUEUE_URL", "http://127.0.0.1:1/q"),
                ("AWS_REGION", "us-east-1"),
                ("PORT", "http"),
            ],
            "PORT",
        ),
        (
            vec![
                ("SQS_QUEUE_URL", "http://127.0.0.1:1/q"),
                ("AWS_REGION", "us-east-1"),
                ("LOG_LEVEL", "loud"),
            ],
            "LOG_LEVEL",
        ),
        (
            vec![("SQS_QUEUE_URL", "http://127.0.0.1:1/q")],
            "AWS_REGION",
        ),
    ] {
        let out = Command::new(env!("CARGO_BIN_EXE_sampleapi"))
            .env_clear()
            .envs(env)
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2));
        let err = String::from_utf8(out.stderr).unwrap();
        assert_eq!(err.lines().count(), 1, "{err}");
        assert!(
            err.starts_with(&format!("configuration error: {var} ")),
            "{err}"
        );
    }
}

#[tokio::test]
async fn serves_logs_json_with_request_and_trace_ids_and_stops_on_sigterm() {
    let sqs = common::moto_client();
    let (queue, _) = common::queue_with_dlq(&sqs, "api-bin", 30, 3).await;
    let port = common::free_port();
    let mut child = Command::new(env!("CARGO_BIN_EXE_sampleapi"))
        .env_clear()
        .envs(common::aws_env())
        .env("SQS_QUEUE_URL", &queue)
        .env("PORT", port.to_string())
        .env("LOG_LEVEL", "info")
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let lines = Arc::new(Mutex::new(Vec::<String>::new()));
    let sink = lines.clone();
    let reader = std::thread::spawn(move || {
        for line in std::io::BufReader::new(stdout)
            .lines()
            .map_while(Result::ok)
        {
            sink.lock().unwrap().push(line);
        }
    });
    let http = reqwest::Client::new();
    let base = format!("http://127.0.0.1:{port}");
    common::eventually(Duration::from_secs(20), "the API is up", || async {
        http.get(format!("{base}/health")).send().await.is_ok()
    })
    .await;
    let r = http
        .post(format!("{base}/api/tasks"))
        .header("x-request-id", "bin-req-1")
        .json(&json!({"type":"email","to":"a@example.com","subject":"s","body":"b"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 202);
    let body: Value = r.json().await.unwrap();
    let trace_id = body["trace_id"].as_str().unwrap().to_owned();

    // The task definition's container health check: the binary probes itself.
    let probe = |url: String| {
        Command::new(env!("CARGO_BIN_EXE_sampleapi"))
            .env_clear()
            .args(["healthcheck", &url])
            .output()
            .unwrap()
    };
    let healthy = probe(format!("{base}/health"));
    assert!(
        healthy.status.success(),
        "{}",
        String::from_utf8_lossy(&healthy.stderr)
    );
    let missing = probe(format!("{base}/no-such-route"));
    assert_eq!(missing.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&missing.stderr).contains("answered 404"));

    let t = Instant::now();
    let ok = Command::new("kill")
        .args(["-TERM".to_owned(), child.id().to_string()])
        .status()
        .unwrap()
        .success();
    assert!(ok);
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        assert!(
            t.elapsed() < Duration::from_secs(10),
            "no exit after SIGTERM"
        );
        std::thread::sleep(Duration::from_millis(20));
    };
    assert!(status.success(), "{status:?}");
    reader.join().unwrap();

    let logs: Vec<Value> = lines
        .lock()
        .unwrap()
        .iter()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .collect();
    let queued = logs
        .iter()
        .find(|l| l["message"] == "task queued")
        .expect("a 'task queued' line");
    assert_eq!(queued["request_id"], "bin-req-1");
    assert_eq!(queued["trace_id"], trace_id.as_str());
    assert_eq!(queued["http.route"], "/api/tasks");
    assert!(queued["timestamp"].as_str().unwrap().ends_with('Z'));
    let done = logs
        .iter()
        .find(|l| l["message"] == "request completed" && l["request_id"] == "bin-req-1")
        .expect("an access log line");
    assert_eq!(done["status"], 202);
    assert_eq!(done["trace_id"], trace_id.as_str());
    assert!(
        logs.iter()
            .any(|l| l["message"] == "shutdown requested" && l["signal"] == "SIGTERM")
    );
    assert!(logs.iter().any(|l| l["message"] == "sampleapi stopped"));
}
