//! `ferry gate` as a user runs it: the binary, against a recorded-response
//! GitHub (wiremock, a dev-dependency: Prism is stateless and cannot hold a
//! deployment history; its requests are replayed to Prism for conformance)
//! and a real Prometheus (Debian's `prometheus`, fed recorded SLO series
//! with `promtool tsdb create-blocks-from openmetrics`).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::support;

use std::path::Path;

use serde_json::{Value, json};
use support::github_state::{assert_valid_github_api, rfc3339};
use support::prometheus::{Prometheus, free_port, gauge, now};
use support::{Run, ferry_with};
use wiremock::matchers::{method, path, query_param};
use wiremock::{Mock, MockServer, ResponseTemplate};

const SHA: &str = "0123456789abcdef0123456789abcdef01234567";
const D1: &str = "sha256:1111111111111111111111111111111111111111111111111111111111111111";
const D2: &str = "sha256:2222222222222222222222222222222222222222222222222222222222222222";

fn manifest(gate: &str) -> String {
    format!(
        "\
project: shop
region: us-east-1
environments:
  staging: {{ cluster: shop-staging }}
  prod:
    cluster: shop-prod
    promote-from: staging
{gate}services:
  api: {{}}
  worker: {{}}
"
    )
}

fn folder(manifest: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join(".github")).unwrap();
    std::fs::write(dir.path().join(".github/ferry.yml"), manifest).unwrap();
    dir
}

fn deployment(id: u64, service: &str, sha: &str, digest: &str, created: u64) -> Value {
    json!({
        "id": id, "sha": sha, "ref": sha, "task": format!("deploy:{service}"),
        "environment": "staging", "created_at": rfc3339(created),
        "creator": {"login": "github-actions[bot]", "type": "Bot"},
        "payload": {
            "service": service,
            "image": format!("123456789012.dkr.ecr.us-east-1.amazonaws.com/shop/{service}@{digest}"),
            "task_definition_arn": format!("arn:aws:ecs:us-east-1:123456789012:task-definition/shop-staging-{service}:3")
        }
    })
}

/// A GitHub whose staging history is: api at D1 (`api_state`), worker at D2 (success).
async fn github(api_state: &str) -> MockServer {
    let server = MockServer::start().await;
    let at = now() - 3600;
    Mock::given(method("GET"))
        .and(path("/repos/octo/shop/deployments"))
        .and(query_param("task", "deploy:api"))
        .and(query_param("environment", "staging"))
        .respond_with(
            ResponseTemplate::new(200).set_body_json(json!([deployment(11, "api", SHA, D1, at)])),
        )
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/repos/octo/shop/deployments"))
        .and(query_param("task", "deploy:worker"))
        .and(query_param("environment", "staging"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!([deployment(12, "worker", SHA, D2, at)])),
        )
        .mount(&server)
        .await;
    for (id, state) in [(11, api_state), (12, "success")] {
        Mock::given(method("GET"))
            .and(path(format!("/repos/octo/shop/deployments/{id}/statuses")))
            .respond_with(ResponseTemplate::new(200).set_body_json(json!([{"state": state, "creator": {"login": "github-actions[bot]", "type": "Bot"}}])))
            .mount(&server)
            .await;
    }
    server
}

fn gate(dir: &Path, api: &str, args: &[&str]) -> Run {
    let mut all = vec!["gate", "--env", "prod"];
    all.extend_from_slice(args);
    ferry_with(
        dir,
        &all,
        &[
            ("GITHUB_ACTIONS", "true"),
            ("GITHUB_REPOSITORY", "octo/shop"),
            ("GITHUB_API_URL", api),
            ("GITHUB_TOKEN", "ghs_gatetesttoken"),
            ("GITHUB_SHA", SHA),
        ],
    )
}

fn image(service: &str, digest: &str) -> String {
    format!("registry.example.com/shop/{service}:{service}-0123456-20240501@{digest}")
}

#[tokio::test(flavor = "multi_thread")]
async fn the_same_digests_that_succeeded_in_staging_are_allowed() {
    let server = github("success").await;
    let dir = folder(&manifest(""));
    let images = json!({"api": image("api", D1), "worker": image("worker", D2)}).to_string();
    let run = gate(dir.path(), &server.uri(), &["--images", &images]);
    assert_eq!(run.code, 0, "{run:#?}");
    assert_eq!(run.output("allowed"), "true");
    let out: Value = serde_json::from_str(run.output("images")).unwrap();
    assert_eq!(out["api"], image("api", D1));
    assert!(
        run.summary.contains("promotion to `prod` allowed"),
        "{}",
        run.summary
    );
    assert!(
        run.summary
            .contains("| `api` | `sha256:111111111111` | [11]"),
        "{}",
        run.summary
    );
    assert!(
        run.stdout.contains("no SLO check configured"),
        "{}",
        run.stdout
    );
    assert!(!format!("{}{}", run.stderr, run.summary).contains("ghs_gatetesttoken"));
    assert_valid_github_api(&server.received_requests().await.unwrap()).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_different_digest_or_a_failed_deployment_is_refused() {
    let server = github("success").await;
    let dir = folder(&manifest(""));
    let run = gate(
        dir.path(),
        &server.uri(),
        &["--images", &format!("api={}", image("api", D2))],
    );
    assert_eq!(run.code, 1, "{run:#?}");
    assert_eq!(run.output("allowed"), "false");
    assert_eq!(run.output("images"), "{}");
    assert!(
        run.stdout.contains("api: sha256:222222222222 was never deployed to staging; staging's latest deployment has sha256:111111111111"),
        "{}",
        run.stdout
    );

    let failed = github("failure").await;
    let run = gate(
        dir.path(),
        &failed.uri(),
        &["--images", &format!("api={}", image("api", D1))],
    );
    assert_eq!(run.code, 1, "{run:#?}");
    assert!(
        run.stdout
            .contains("did not succeed there (latest status: failure)"),
        "{}",
        run.stdout
    );
    assert!(run.summary.contains("refused"), "{}", run.summary);
}

#[tokio::test(flavor = "multi_thread")]
async fn without_images_the_commit_brings_what_staging_ran() {
    let server = github("success").await;
    let dir = folder(&manifest(""));
    let run = gate(dir.path(), &server.uri(), &[]);
    assert_eq!(run.code, 0, "{run:#?}");
    let out: Value = serde_json::from_str(run.output("images")).unwrap();
    assert!(out["api"].as_str().unwrap().ends_with(D1), "{out}");
    assert!(out["worker"].as_str().unwrap().ends_with(D2), "{out}");
    let requests = server.received_requests().await.unwrap();
    assert!(requests.iter().all(|r| {
        r.url.path().ends_with("/statuses")
            || r.url
                .query()
                .unwrap_or_default()
                .contains(&format!("sha={SHA}"))
    }));
    assert_valid_github_api(&requests).await;

    // A commit staging never saw.
    let run = ferry_with(
        dir.path(),
        &[
            "gate",
            "--env",
            "prod",
            "--sha",
            "ffffffffffffffffffffffffffffffffffffffff",
            "--services",
            "api",
        ],
        &[
            ("GITHUB_ACTIONS", "true"),
            ("GITHUB_REPOSITORY", "octo/shop"),
            ("GITHUB_API_URL", &server.uri()),
            ("GITHUB_TOKEN", "ghs_gatetesttoken"),
        ],
    );
    assert_eq!(run.code, 1, "{run:#?}");
    assert!(
        run.stdout
            .contains("commit fffffff was never deployed to staging"),
        "{}",
        run.stdout
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn an_environment_without_promote_from_or_bad_input_is_refused() {
    let server = github("success").await;
    let dir = folder(&manifest(""));
    let run = ferry_with(
        dir.path(),
        &[
            "gate",
            "--env",
            "staging",
            "--images",
            &format!("api={}", image("api", D1)),
        ],
        &[
            ("GITHUB_ACTIONS", "true"),
            ("GITHUB_API_URL", &server.uri()),
        ],
    );
    assert_eq!(run.code, 1, "{run:#?}");
    assert_eq!(run.output("allowed"), "false");
    assert!(
        run.stdout.contains("has no `promote-from`"),
        "{}",
        run.stdout
    );

    for (args, expected) in [
        (vec!["--images", "api"], "`api` is not service=URI"),
        (vec!["--images", "{\"api\": 1}"], "`api` has no image"),
        (
            vec!["--images", "billing=x@sha256:1"],
            "unknown service `billing`",
        ),
    ] {
        let run = gate(dir.path(), &server.uri(), &args);
        assert_eq!(run.code, 1, "{args:?}: {run:#?}");
        assert!(run.stdout.contains(expected), "{args:?}: {}", run.stdout);
        assert_eq!(run.output("allowed"), "false");
    }
    let run = gate(dir.path(), &server.uri(), &["--env", "qa"]);
    assert_ne!(run.code, 0);
}

/// Two hours of the per-SLO recorded series, every 30 s up to now:
/// api-availability errs 0.1% of 10 req/s (burn 0.2 against 99.5%),
/// api-latency 5% (burn 5 against 99%).
fn start_prometheus() -> Prometheus {
    let end = now();
    let series = [
        (
            "slo:sli_events_bad:rate5m",
            [("api-availability", 0.01), ("api-latency", 0.5)],
        ),
        (
            "slo:sli_events_total:rate5m",
            [("api-availability", 10.0), ("api-latency", 10.0)],
        ),
        (
            "slo:objective:ratio",
            [("api-availability", 0.995), ("api-latency", 0.99)],
        ),
    ];
    let mut om = String::new();
    for (name, values) in series {
        let labels: Vec<(String, f64)> = values
            .iter()
            .map(|(slo, v)| (format!("slo=\"{slo}\""), *v))
            .collect();
        om.push_str(&gauge(
            name,
            labels.iter().flat_map(|(l, v)| {
                (end - 7200..=end)
                    .step_by(30)
                    .map(move |t| (l.as_str(), *v, t))
            }),
        ));
    }
    Prometheus::start(&om)
}

fn slo_gate(url: &str, slos: &str) -> String {
    format!("    gate:\n      prometheus: {url}\n      max-burn-rate: 2\n      slos: [{slos}]\n")
}

#[tokio::test(flavor = "multi_thread")]
async fn the_slo_check_reads_stagings_burn_from_prometheus() {
    let prom = start_prometheus();
    let server = github("success").await;
    let images = format!("api={}", image("api", D1));

    let dir = folder(&manifest(&slo_gate(&prom.url, "api-availability")));
    let run = gate(dir.path(), &server.uri(), &["--images", &images]);
    assert_eq!(run.code, 0, "{run:#?}");
    assert_eq!(run.output("allowed"), "true");
    assert!(
        run.summary
            // The deployment was an hour ago; the gate runs a second or two later.
            .contains(&format!(
                "(last {}, allowed 2×): ✅ within budget",
                window(&run.summary)
            )),
        "{}",
        run.summary
    );
    assert!(
        run.summary.contains("- `api-availability`: 0.20×"),
        "{}",
        run.summary
    );

    let dir = folder(&manifest(&slo_gate(
        &prom.url,
        "api-availability, api-latency",
    )));
    let run = gate(dir.path(), &server.uri(), &["--images", &images]);
    assert_eq!(run.code, 1, "{run:#?}");
    assert_eq!(run.output("allowed"), "false");
    assert!(
        run.stdout.contains(&format!(
            "SLO `api-latency` burned its error budget at 5.00× over the last {} (allowed: 2×)",
            window(&run.stdout)
        )),
        "{}",
        run.stdout
    );

    // Unreachable: refused, and says why (the gate fails closed).
    let closed = format!("http://127.0.0.1:{}", free_port());
    let dir = folder(&manifest(&slo_gate(&closed, "api-availability")));
    let run = gate(dir.path(), &server.uri(), &["--images", &images]);
    assert_eq!(run.code, 1, "{run:#?}");
    assert!(
        run.stdout.contains(&format!(
            "cannot check the SLOs, so the gate stays closed: Prometheus at {closed}: unreachable"
        )),
        "{}",
        run.stdout
    );
}

/// The window the gate reported (`3600s`, or `3601s` when a second ticked
/// between the recorded deployment and the check), checked to be about an hour.
fn window(text: &str) -> String {
    let re = regex::Regex::new(r"last (\d+)s").unwrap();
    let secs: u64 = re
        .captures(text)
        .and_then(|c| c[1].parse().ok())
        .unwrap_or_else(|| panic!("no window in:\n{text}"));
    assert!((3600..=3630).contains(&secs), "window {secs}s in:\n{text}");
    format!("{secs}s")
}
