//! Ferry's traces as a collector receives them: a small OTLP/HTTP receiver
//! (axum, decoding the protobuf with opentelemetry-proto) stands in for
//! Jaeger or Tempo. Checked: the span tree and names, the attributes a
//! person filters by (on `ferry render` and on a `ferry deploy` whose
//! rollout fails, is diagnosed and rolled back), one trace across two
//! commands given one `TRACEPARENT`, the `traceparent` output, no secret in
//! any span, no export without an endpoint, and a dead endpoint costs under
//! a second.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::support;
use crate::support::deploy as deploy_support;
use crate::support::root;
use crate::support::scripted::{self, Scripted};

use std::collections::BTreeMap;
use std::net::TcpListener;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::routing::post;
use deploy_support::{Moto, clients, image};
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::any_value::Value as AnyValue;
use prost::Message as _;
use serde_json::json;
use support::github_state::{GitHubState, TOKEN};
use support::{AWS_VARS, Run, ferry_with, ferry_without};

/// A span as received.
#[derive(Debug, Clone)]
struct Received {
    name: String,
    trace_id: String,
    span_id: String,
    parent_span_id: String,
    attributes: BTreeMap<String, String>,
    resource: BTreeMap<String, String>,
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn text(v: Option<&AnyValue>) -> String {
    match v {
        Some(AnyValue::StringValue(s)) => s.clone(),
        Some(AnyValue::IntValue(i)) => i.to_string(),
        Some(AnyValue::DoubleValue(d)) => d.to_string(),
        Some(AnyValue::BoolValue(b)) => b.to_string(),
        other => format!("{other:?}"),
    }
}

fn attributes(
    kvs: &[opentelemetry_proto::tonic::common::v1::KeyValue],
) -> BTreeMap<String, String> {
    kvs.iter()
        .map(|kv| {
            (
                kv.key.clone(),
                text(kv.value.as_ref().and_then(|v| v.value.as_ref())),
            )
        })
        .collect()
}

type Spans = Arc<Mutex<Vec<Received>>>;

async fn receive(State(spans): State<Spans>, body: Bytes) -> &'static str {
    let request = ExportTraceServiceRequest::decode(body).expect("OTLP protobuf");
    let mut out = spans.lock().unwrap();
    for rs in request.resource_spans {
        let resource = attributes(&rs.resource.map(|r| r.attributes).unwrap_or_default());
        for ss in rs.scope_spans {
            for s in ss.spans {
                out.push(Received {
                    name: s.name,
                    trace_id: hex(&s.trace_id),
                    span_id: hex(&s.span_id),
                    parent_span_id: hex(&s.parent_span_id),
                    attributes: attributes(&s.attributes),
                    resource: resource.clone(),
                });
            }
        }
    }
    ""
}

/// Starts the receiver; returns its base URL and what it received.
fn receiver() -> (String, Spans) {
    let spans: Spans = Arc::default();
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let app = Router::new()
        .route("/v1/traces", post(receive))
        .with_state(spans.clone());
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async move {
            let listener = tokio::net::TcpListener::from_std(listener).unwrap();
            axum::serve(listener, app).await.unwrap();
        });
    });
    (url, spans)
}

const TRACEPARENT: &str = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

fn render_check(env: &[(&str, &str)]) -> Run {
    let root = root();
    let mut all = vec![("GITHUB_ACTIONS", "true"), ("GITHUB_RUN_ID", "77")];
    all.extend_from_slice(env);
    ferry_with(
        &root,
        &["render", "--check", "--repo", root.to_str().unwrap()],
        &all,
    )
}

#[test]
fn a_command_exports_its_stages_under_one_root_that_continues_traceparent() {
    let (url, spans) = receiver();
    let run = render_check(&[
        ("OTEL_EXPORTER_OTLP_ENDPOINT", &url),
        ("TRACEPARENT", TRACEPARENT),
    ]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let spans = spans.lock().unwrap().clone();
    let root = spans
        .iter()
        .find(|s| s.name == "ferry render")
        .unwrap_or_else(|| panic!("no root span in {spans:#?}"));
    // The root continues the job before it.
    assert_eq!(root.trace_id, "4bf92f3577b34da6a3ce929d0e0e4736");
    assert_eq!(root.parent_span_id, "00f067aa0ba902b7");
    assert_eq!(root.attributes["ferry.command"], "render");
    assert_eq!(root.attributes["ferry.outcome"], "succeeded");
    assert_eq!(root.attributes["github.run_id"], "77");
    assert_eq!(root.resource["service.name"], "ferry");
    // One render span per service × environment, each a child of the root.
    let renders: Vec<&Received> = spans.iter().filter(|s| s.name == "render").collect();
    let targets: std::collections::BTreeSet<(String, String)> = renders
        .iter()
        .map(|s| {
            (
                s.attributes["service"].clone(),
                s.attributes["environment"].clone(),
            )
        })
        .collect();
    assert!(
        targets.contains(&("sampleapi".into(), "prod".into())),
        "{targets:?}"
    );
    assert!(
        targets.contains(&("sampleworker".into(), "staging".into())),
        "{targets:?}"
    );
    assert_eq!(targets.len(), renders.len());
    for r in &renders {
        assert_eq!(r.trace_id, root.trace_id);
        assert_eq!(r.parent_span_id, root.span_id, "{r:#?}");
    }
    // The next job continues from this command's root span.
    assert_eq!(
        run.output("traceparent"),
        format!("00-{}-{}-01", root.trace_id, root.span_id)
    );
    // Spans only: no log event (libraries log headers) becomes span data.
    assert!(
        spans
            .iter()
            .all(|s| s.name == "ferry render" || s.name == "render"),
        "{spans:#?}"
    );
}

#[test]
fn two_jobs_given_one_traceparent_land_in_one_trace() {
    let (url, spans) = receiver();
    let first = render_check(&[("OTEL_EXPORTER_OTLP_ENDPOINT", &url)]);
    assert_eq!(first.code, 0, "{}", first.stderr);
    let handed_on = first.output("traceparent").to_string();
    let second = render_check(&[
        ("OTEL_EXPORTER_OTLP_ENDPOINT", &url),
        ("TRACEPARENT", &handed_on),
    ]);
    assert_eq!(second.code, 0, "{}", second.stderr);
    let spans = spans.lock().unwrap().clone();
    let roots: Vec<&Received> = spans.iter().filter(|s| s.name == "ferry render").collect();
    assert_eq!(roots.len(), 2);
    assert_eq!(roots[0].trace_id, roots[1].trace_id);
    // The second job hangs under the first job's root.
    assert_eq!(roots[1].parent_span_id, roots[0].span_id);
    let traces: std::collections::BTreeSet<&str> =
        spans.iter().map(|s| s.trace_id.as_str()).collect();
    assert_eq!(traces.len(), 1);
}

#[test]
fn without_an_endpoint_nothing_is_sent_and_traceparent_passes_through() {
    let (url, spans) = receiver();
    // The receiver is up, but nobody names it.
    let _ = url;
    let run = render_check(&[("TRACEPARENT", TRACEPARENT)]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    std::thread::sleep(Duration::from_millis(200));
    assert!(spans.lock().unwrap().is_empty());
    assert_eq!(run.output("traceparent"), TRACEPARENT);
    // A malformed one (or a workflow command in it) is not passed on.
    let run = render_check(&[("TRACEPARENT", "00-xyz\n::add-mask::x")]);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(!run.outputs.contains_key("traceparent"));
}

#[test]
fn a_dead_or_silent_endpoint_costs_under_a_second_and_fails_nothing() {
    // Baseline: no endpoint.
    let started = Instant::now();
    assert_eq!(render_check(&[]).code, 0);
    let baseline = started.elapsed();
    // Refused: nothing listens there.
    let refused = {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}", l.local_addr().unwrap());
        drop(l);
        url
    };
    // Silent: accepts connections, never answers.
    let silent = TcpListener::bind("127.0.0.1:0").unwrap();
    let silent_url = format!("http://{}", silent.local_addr().unwrap());
    for url in [refused.as_str(), silent_url.as_str()] {
        let started = Instant::now();
        let run = render_check(&[("OTEL_EXPORTER_OTLP_ENDPOINT", url)]);
        let took = started.elapsed();
        assert_eq!(run.code, 0, "{url}: {}", run.stderr);
        assert!(
            took < baseline + Duration::from_secs(1),
            "{url}: {took:?} against {baseline:?} without an endpoint"
        );
        assert!(
            !run.stderr.contains("OTLP") && !run.stdout.contains("OTLP"),
            "{}",
            run.stderr
        );
    }
    drop(silent);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_failed_deploy_traces_rollout_register_wait_diagnosis_rollback_and_github() {
    let (url, spans) = receiver();
    // The scenario of deploy_cli.rs: the circuit breaker rolls the new
    // revision back; Ferry diagnoses it and rolls back to revision 5.
    let moto = Moto::start(0);
    let logs = clients(&moto.url).await.logs;
    scripted::seed_logs(&logs, &["starting sampleapi", "exiting with status 1"]).await;
    let message = scripted::failing_event();
    let script = Scripted::start(move |r| scripted::circuit_breaker(r, &message)).await;
    let gh = GitHubState::start("acme/email-platform").await;
    let sha = "5e1f0c2a9b8d7e6f5a4b3c2d1e0f9a8b7c6d5e4f";
    gh.seed_deployment(
        "0000000000000000000000000000000000000005",
        "staging",
        "sampleapi",
        json!({"service": "sampleapi", "image": image("sampleapi", "5"), "task_definition_arn": scripted::arn(5)}),
        &["in_progress", "success"],
    );
    let home = tempfile::tempdir().unwrap();
    let home_s = home.path().display().to_string();
    let missing = home.path().join("none").display().to_string();
    let uri = gh.uri();
    let mut env: Vec<(&str, &str)> = gh.env(&uri, sha);
    env.extend([
        ("HOME", home_s.as_str()),
        ("AWS_CONFIG_FILE", missing.as_str()),
        ("AWS_SHARED_CREDENTIALS_FILE", missing.as_str()),
        ("AWS_EC2_METADATA_DISABLED", "true"),
        ("AWS_ENDPOINT_URL", script.url.as_str()),
        ("AWS_ENDPOINT_URL_CLOUDWATCH_LOGS", moto.url.as_str()),
        ("AWS_ACCESS_KEY_ID", "test"),
        ("AWS_SECRET_ACCESS_KEY", "testsecretkeythatmustnotleak"),
        // The scripted ECS holds none of the example's secrets or roles.
        (
            "INPUT_SKIP-PREFLIGHT",
            "the scripted ECS stand-in holds no secrets or roles",
        ),
        ("OTEL_EXPORTER_OTLP_ENDPOINT", url.as_str()),
        ("FERRY_LOG", "trace"),
    ]);
    let img = image("sampleapi", "8");
    let images = format!("sampleapi={img}");
    let root = root();
    let run = ferry_without(
        &root,
        &[
            "deploy",
            "--env",
            "staging",
            "--images",
            &images,
            "--poll-interval",
            "50ms",
            "--timeout",
            "20s",
        ],
        &env,
        AWS_VARS,
    );
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert_eq!(run.output("status"), "rolled-back");
    let spans = spans.lock().unwrap().clone();
    let by_name = |n: &str| -> Vec<&Received> { spans.iter().filter(|s| s.name == n).collect() };
    let root_span = by_name("ferry deploy");
    assert_eq!(root_span.len(), 1, "{spans:#?}");
    let root_span = root_span[0];
    assert_eq!(root_span.attributes["ferry.outcome"], "failed");
    for name in [
        "render",
        "rollout",
        "register",
        "wait",
        "diagnose",
        "rollback",
        "github",
        "deploy.service",
    ] {
        assert!(!by_name(name).is_empty(), "no `{name}` span in {spans:#?}");
    }
    // Every span is in the command's trace, under its root.
    let ids: std::collections::BTreeMap<&str, &Received> =
        spans.iter().map(|s| (s.span_id.as_str(), s)).collect();
    for s in &spans {
        assert_eq!(s.trace_id, root_span.trace_id, "{s:#?}");
        let mut at: &Received = s;
        while at.span_id != root_span.span_id {
            at = ids
                .get(at.parent_span_id.as_str())
                .unwrap_or_else(|| panic!("{} has no parent in the trace", at.name));
        }
    }
    let rollout = by_name("rollout")[0];
    assert_eq!(rollout.attributes["service"], "sampleapi");
    assert_eq!(rollout.attributes["environment"], "staging");
    assert_eq!(
        rollout.attributes["image.digest"],
        img.rsplit_once('@').unwrap().1
    );
    // deploy registers every definition first (the GitHub records name the
    // ARN), then rolls out: both are stages of the command.
    let register = by_name("register")[0];
    assert_eq!(register.parent_span_id, root_span.span_id);
    assert_eq!(rollout.parent_span_id, root_span.span_id);
    let diagnose = by_name("diagnose")[0];
    assert_eq!(diagnose.trace_id, root_span.trace_id);
    let outcome = by_name("deploy.service")[0];
    assert_eq!(outcome.attributes["service"], "sampleapi");
    assert_eq!(outcome.attributes["environment"], "staging");
    assert_eq!(outcome.attributes["outcome"], "rolled-back");
    assert_eq!(outcome.attributes["task_definition.revision"], "8");
    assert_eq!(outcome.attributes["rolled_back_to"], scripted::arn(5));
    assert_eq!(
        outcome.attributes["image.digest"],
        img.rsplit_once('@').unwrap().1
    );
    let github: Vec<&Received> = by_name("github");
    assert!(
        github
            .iter()
            .any(|g| g.attributes["http.request.method"] == "POST")
    );
    // No secret in any span, whatever FERRY_LOG asks for.
    let everything = format!("{spans:?}");
    assert!(!everything.contains(TOKEN));
    assert!(!everything.contains("testsecretkeythatmustnotleak"));
}
