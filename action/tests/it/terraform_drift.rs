//! `ferry drift` through the binary, on hand-written refresh-only plans in
//! Terraform's shape (`tests/data/plans/drift/`, see its README: a
//! `terraform_data` resource cannot drift): what a deploy changes (task
//! definition revision, deployment configuration, deployment alarms, the
//! autoscaled count, the listener rule's weights under `ignore_changes`)
//! never reads as drift, with this repository's own `terraform/aws` as the
//! source of the `ignore_changes` lists; a hand edit does.
//!
//! The issue: opened when there is none, updated when Ferry's is open,
//! closed when the drift is gone; an issue by anyone else carrying the
//! marker is ignored. GitHub is a wiremock stand-in here (Prism answers
//! every list with the same example, so it cannot hold Ferry's issue); every
//! request is then replayed to Prism on GitHub's OpenAPI description.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use serde_json::json;
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::support::github_state::assert_valid_github_api;
use crate::support::{Run, ferry_with, root};

const TOKEN: &str = "ghs_drifttesttoken";

fn fixture(name: &str) -> String {
    root()
        .join("action/tests/data/plans/drift")
        .join(name)
        .display()
        .to_string()
}

fn drift(plan: &str, extra: &[(&str, &str)]) -> Run {
    let ignore = root().join("terraform/aws").display().to_string();
    let plan = fixture(plan);
    let mut args = vec![
        "drift",
        "--env",
        "prod",
        "--plan",
        plan.as_str(),
        "--ignore-from",
        ignore.as_str(),
    ];
    if extra.is_empty() {
        args.push("--dry-run");
    }
    let dir = tempfile::tempdir().unwrap();
    ferry_with(dir.path(), &args, extra)
}

#[test]
fn a_hand_edit_is_drift_and_what_a_deploy_sets_is_not() {
    let run = drift("refresh-only-drifted.json", &[]);
    assert_eq!(run.code, 0, "{run:#?}");
    let body = &run.stdout;
    assert!(body.starts_with("<!-- ferry:drift:prod -->\n"), "{body}");
    assert!(
        body.contains("`aws_security_group.alb` was changed outside Terraform"),
        "{body}"
    );
    assert!(body.contains("\"0.0.0.0/0\""), "{body}");
    assert!(
        body.contains("~ health_check_grace_period_seconds = 60 -> 0"),
        "{body}"
    );
    for owned in [
        "task_definition",
        "desired_count",
        "deployment_configuration",
        "alarms",
        "module.sampleapi.aws_ecs_service.this",
        "aws_lb_listener_rule",
    ] {
        assert!(!body.contains(owned), "{owned} is not drift: {body}");
    }
    assert!(
        body.contains("2 object(s) drifted only in attributes Ferry deploys"),
        "{body}"
    );

    let run = drift(
        "refresh-only-deploy-only.json",
        &[("GITHUB_ACTIONS", "true"), ("INPUT_DRY-RUN", "true")],
    );
    assert_eq!(run.code, 0, "{run:#?}");
    assert_eq!(run.output("drifted"), "false");
    assert!(
        !run.stdout.contains("was changed outside Terraform"),
        "{}",
        run.stdout
    );
}

fn issue(number: u64, login: &str, kind: &str, body: &str) -> serde_json::Value {
    json!({"number": number, "title": "Terraform drift in prod", "body": body, "state": "open",
        "user": {"login": login, "id": number, "type": kind}})
}

async fn github(issues: serde_json::Value) -> MockServer {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/repos/octo/shop/issues"))
        .respond_with(ResponseTemplate::new(200).set_body_json(issues))
        .mount(&server)
        .await;
    let answer = issue(12, "github-actions[bot]", "Bot", "");
    Mock::given(method("POST"))
        .and(path("/repos/octo/shop/issues"))
        .respond_with(ResponseTemplate::new(201).set_body_json(answer.clone()))
        .mount(&server)
        .await;
    Mock::given(method("PATCH"))
        .respond_with(ResponseTemplate::new(200).set_body_json(answer))
        .mount(&server)
        .await;
    server
}

async fn run_against(server: &MockServer, plan: &str) -> Run {
    let uri = server.uri();
    let plan = plan.to_string();
    tokio::task::spawn_blocking(move || {
        let env = [
            ("GITHUB_ACTIONS", "true"),
            ("GITHUB_REPOSITORY", "octo/shop"),
            ("GITHUB_API_URL", uri.as_str()),
            ("GITHUB_TOKEN", TOKEN),
            ("GITHUB_RUN_ID", "4242"),
        ];
        drift(&plan, &env)
    })
    .await
    .unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn the_issue_is_opened_updated_and_closed_and_a_forged_one_is_ignored() {
    let marker = "<!-- ferry:drift:prod -->\nold";
    // Only mallory's issue carries the marker: Ferry opens its own.
    let forged = issue(7, "mallory", "User", marker);
    let server = github(json!([forged])).await;
    let run = run_against(&server, "refresh-only-drifted.json").await;
    assert_eq!(run.code, 0, "{run:#?}");
    assert!(
        run.stdout.contains("drift (prod): opened an issue"),
        "{run:#?}"
    );
    assert!(
        run.stderr.contains("mallory"),
        "the forged issue is named: {run:#?}"
    );
    let received = server.received_requests().await.unwrap();
    let post = received
        .iter()
        .find(|r| r.method.as_str() == "POST")
        .unwrap();
    let sent: serde_json::Value = serde_json::from_slice(&post.body).unwrap();
    assert_eq!(sent["labels"], json!(["terraform-drift"]));
    assert!(
        sent["body"]
            .as_str()
            .unwrap()
            .contains("aws_security_group.alb")
    );
    assert!(received.iter().all(|r| r.method.as_str() != "PATCH"));
    let mut all = received;

    // Ferry's issue is open: updated while the drift lasts, closed once it is gone.
    let ours = issue(12, "github-actions[bot]", "Bot", marker);
    let server = github(json!([forged, ours])).await;
    let run = run_against(&server, "refresh-only-drifted.json").await;
    assert!(
        run.stdout.contains("drift (prod): updated issue #12"),
        "{run:#?}"
    );
    let run = run_against(&server, "refresh-only-deploy-only.json").await;
    assert!(
        run.stdout.contains("no drift: closed issue #12"),
        "{run:#?}"
    );
    let received = server.received_requests().await.unwrap();
    let patches: Vec<serde_json::Value> = received
        .iter()
        .filter(|r| r.method.as_str() == "PATCH")
        .map(|r| {
            assert_eq!(r.url.path(), "/repos/octo/shop/issues/12");
            serde_json::from_slice(&r.body).unwrap()
        })
        .collect();
    assert_eq!(patches.len(), 2);
    assert!(patches[0].get("state").is_none());
    assert_eq!(patches[1]["state"], "closed");
    all.extend(received);

    // No drift, no issue: nothing written.
    let server = github(json!([])).await;
    let run = run_against(&server, "refresh-only-deploy-only.json").await;
    assert!(run.stdout.contains("no drift, no issue"), "{run:#?}");
    let received = server.received_requests().await.unwrap();
    assert!(received.iter().all(|r| r.method.as_str() == "GET"));
    all.extend(received);

    assert_valid_github_api(&all).await;
}
