//! `ferry deploy` as a workflow runs it: the binary, in Actions mode, with
//! AWS reached through the standard settings (`AWS_ENDPOINT_URL`) and GitHub
//! through `GITHUB_API_URL`.
//!
//! Stand-ins: a private moto per test (`MOTO_ECS_SERVICE_RUNNING=1`, which
//! the shared test bed's moto cannot set) for registration and updates; the
//! scripted ECS endpoint of `support/scripted.rs` for a rollout that
//! fails (moto never advances a rollout); and the stateful GitHub of
//! `support/github_state.rs` (Prism is stateless), whose every request is
//! replayed to Prism to prove it valid GitHub API.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::support;
use crate::support::deploy as deploy_support;
use crate::support::root;
use crate::support::scripted::{self, Scripted};

use std::path::Path;

use deploy_support::{Moto, clients, copy_repo, create_environment, image, revisions};
use serde_json::{Value, json};
use support::github_state::{GitHubState, TOKEN, assert_valid_github_api};
use support::{AWS_VARS, Run, everything, ferry_without};

/// Why these deploys skip preflight: their moto and scripted ECS hold none
/// of the example's secrets, roles or log groups (preflight is tested in
/// `preflight.rs`).
const NO_PREFLIGHT: &str =
    "these stand-ins hold none of the example's secrets, roles or log groups";

const REPO: &str = "acme/email-platform";
const SHA: &str = "5e1f0c2a9b8d7e6f5a4b3c2d1e0f9a8b7c6d5e4f";
const SERVICES: [&str; 2] = ["sampleapi", "sampleworker"];

fn images(tag: &str) -> String {
    json!({
        "sampleapi": image("sampleapi", tag),
        "sampleworker": image("sampleworker", tag),
    })
    .to_string()
}

/// No credentials anywhere: no keys, profile files that do not exist, no
/// instance metadata.
fn no_aws(home: &Path) -> Vec<(String, String)> {
    vec![
        ("HOME".into(), home.display().to_string()),
        (
            "AWS_CONFIG_FILE".into(),
            home.join("nonexistent-config").display().to_string(),
        ),
        (
            "AWS_SHARED_CREDENTIALS_FILE".into(),
            home.join("nonexistent-credentials").display().to_string(),
        ),
        ("AWS_EC2_METADATA_DISABLED".into(), "true".into()),
    ]
}

/// Test credentials for a stand-in at `endpoint`.
fn aws(home: &Path, endpoint: &str) -> Vec<(String, String)> {
    let mut env = no_aws(home);
    env.extend([
        ("AWS_ENDPOINT_URL".into(), endpoint.to_string()),
        ("AWS_ACCESS_KEY_ID".into(), "test".into()),
        ("AWS_SECRET_ACCESS_KEY".into(), "test".into()),
        ("INPUT_SKIP-PREFLIGHT".into(), NO_PREFLIGHT.into()),
    ]);
    env
}

/// Runs `ferry deploy <args>` in `dir` with `env` and the GitHub context.
fn deploy(dir: &Path, gh: &GitHubState, args: &[&str], env: &[(String, String)]) -> Run {
    let uri = gh.uri();
    let mut all: Vec<(&str, &str)> = gh.env(&uri, SHA);
    all.extend(env.iter().map(|(k, v)| (k.as_str(), v.as_str())));
    let mut argv = vec!["deploy"];
    argv.extend_from_slice(args);
    ferry_without(dir, &argv, &all, AWS_VARS)
}

#[tokio::test(flavor = "multi_thread")]
async fn a_dry_run_needs_no_aws_and_touches_nothing() {
    let gh = GitHubState::start(REPO).await;
    let home = tempfile::tempdir().unwrap();
    let run = deploy(
        &root(),
        &gh,
        &["--env", "staging", "--dry-run", "--images", &images("1")],
        &no_aws(home.path()),
    );
    assert_eq!(run.code, 0, "{run:#?}");
    assert_eq!(run.output("status"), "dry-run");
    let statuses: Value = serde_json::from_str(run.output("statuses")).unwrap();
    assert_eq!(
        statuses,
        json!({"sampleapi": "dry-run", "sampleworker": "dry-run"})
    );
    for service in SERVICES {
        assert!(
            run.stdout.contains(&format!(
                "dry run: {service} (staging) would run {} on ECS service email-platform-staging-{service} in cluster email-platform-staging",
                image(service, "1")
            )),
            "{}",
            run.stdout
        );
    }
    // The comment preview: its marker and a row per service.
    assert!(
        run.stdout
            .contains("dry run: the deploy comment would read:"),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout.contains(ferry::deploy::comment::MARKER),
        "{}",
        run.stdout
    );
    assert!(gh.received().await.is_empty(), "GitHub was called");
    assert!(!everything(&run).contains(TOKEN));
}

#[tokio::test(flavor = "multi_thread")]
async fn missing_credentials_fail_and_suggest_a_dry_run() {
    let gh = GitHubState::start(REPO).await;
    let home = tempfile::tempdir().unwrap();
    let run = deploy(
        &root(),
        &gh,
        &["--env", "staging", "--images", &images("1")],
        &no_aws(home.path()),
    );
    assert_eq!(run.code, 1, "{run:#?}");
    let text = everything(&run);
    assert!(text.contains("no AWS credentials"), "{text}");
    assert!(text.contains("--dry-run"), "{text}");
    assert!(
        !run.outputs.contains_key("status"),
        "a run that deployed nothing reports no status: {run:#?}"
    );
    assert!(gh.deployments().is_empty() && gh.comments().is_empty());
}

#[tokio::test(flavor = "multi_thread")]
async fn a_broken_task_definition_is_annotated_and_nothing_is_registered() {
    let moto = Moto::start(1);
    let c = clients(&moto.url).await;
    create_environment(&c.ecs, &moto.url, "staging").await;
    let repo = copy_repo(&[".github/ferry.yml", "task-definitions"]);
    let file = repo.path().join("task-definitions/sampleapi.jsonnet");
    let text = std::fs::read_to_string(&file).unwrap();
    assert!(text.contains("PORT: port,"));
    std::fs::write(&file, text.replace("PORT: port,", "PORT: undefined_port,")).unwrap();
    let gh = GitHubState::start(REPO).await;
    let home = tempfile::tempdir().unwrap();
    let run = deploy(
        repo.path(),
        &gh,
        &["--env", "staging", "--images", &images("2")],
        &aws(home.path(), &moto.url),
    );
    assert_eq!(run.code, 1, "{run:#?}");
    assert!(
        run.stdout
            .contains("::error file=task-definitions/sampleapi.jsonnet,line="),
        "{run:#?}"
    );
    for service in SERVICES {
        let family = format!("email-platform-staging-{service}");
        assert_eq!(
            revisions(&c.ecs, &family).await.len(),
            1,
            "{family}: only Terraform's bootstrap revision"
        );
    }
    assert!(gh.received().await.is_empty(), "GitHub was called");
}

#[tokio::test(flavor = "multi_thread")]
async fn both_services_to_staging_are_recorded_commented_and_a_rerun_changes_nothing() {
    let moto = Moto::start(1);
    let c = clients(&moto.url).await;
    create_environment(&c.ecs, &moto.url, "staging").await;
    let gh = GitHubState::start(REPO).await;
    gh.set_pulls(SHA, &[42]);
    let home = tempfile::tempdir().unwrap();
    let env = aws(home.path(), &moto.url);
    let args = ["--env", "staging", "--no-wait", "--images", &images("3")];

    let first = deploy(&root(), &gh, &args, &env);
    assert_eq!(first.code, 0, "{first:#?}");
    assert_eq!(first.output("status"), "started");
    let arns: Value = serde_json::from_str(first.output("task-definition-arns")).unwrap();
    for service in SERVICES {
        let arn = arns[service].as_str().unwrap();
        assert!(
            arn.ends_with(&format!(
                ":task-definition/email-platform-staging-{service}:2"
            )),
            "{arn}"
        );
        let records = gh.deployments_of("staging", service);
        assert_eq!(records.len(), 1, "{records:#?}");
        let d = &records[0];
        assert_eq!((d.sha.as_str(), d.git_ref.as_str()), (SHA, SHA));
        assert_eq!(d.payload["service"], service);
        assert_eq!(d.payload["image"], image(service, "3"));
        assert_eq!(d.payload["task_definition_arn"], arn, "the output ARN");
        assert!(!d.production_environment);
        // --no-wait: the rollout was started, its end is not known. Before
        // it, sampleworker's before-deploy task (check-queue, in the example
        // manifest) ran in moto and its success is recorded on the same
        // Deployment, which a re-run reads back to skip it.
        if service == "sampleworker" {
            assert_eq!(d.states(), ["in_progress", "in_progress"], "{d:#?}");
            assert!(
                d.statuses.iter().any(|s| s.description
                    == "before-deploy task check-queue succeeded on email-platform-staging-sampleworker:2"),
                "{d:#?}"
            );
        } else {
            assert_eq!(d.states(), ["in_progress"], "{d:#?}");
        }
        let status = &d.statuses[0];
        assert_eq!(
            status.log_url.as_deref(),
            Some("https://github.com/acme/email-platform/actions/runs/4242")
        );
        assert_eq!(
            status.environment_url.as_deref(),
            Some("https://staging.email-platform.example.com")
        );
    }
    assert_eq!(
        first.output("task-definition-arn"),
        arns["sampleapi"].as_str().unwrap()
    );
    let comments = gh.comments();
    assert_eq!(comments.len(), 1, "{comments:#?}");
    let body = &comments[0].body;
    assert_eq!(comments[0].issue, 42);
    assert!(body.starts_with(ferry::deploy::comment::MARKER), "{body}");
    for needle in [
        "staging",
        "sampleapi",
        "sampleworker",
        "email-platform-staging-sampleapi:2",
        "email-platform-staging-sampleworker:2",
    ] {
        assert!(body.contains(needle), "`{needle}` missing:\n{body}");
    }
    assert!(
        first.stdout.contains("deploy comment on #42: posted"),
        "{}",
        first.stdout
    );
    assert!(first.summary.contains("sampleworker"), "{}", first.summary);
    let revisions_after_first: Vec<usize> = {
        let mut v = Vec::new();
        for service in SERVICES {
            v.push(
                revisions(&c.ecs, &format!("email-platform-staging-{service}"))
                    .await
                    .len(),
            );
        }
        v
    };
    assert_eq!(revisions_after_first, [2, 2]);

    // The same deploy again: nothing registered, nothing recorded twice.
    let again = deploy(&root(), &gh, &args, &env);
    assert_eq!(again.code, 0, "{again:#?}");
    assert_eq!(again.output("status"), "unchanged", "{again:#?}");
    assert_eq!(
        serde_json::from_str::<Value>(again.output("task-definition-arns")).unwrap(),
        arns
    );
    for service in SERVICES {
        assert_eq!(
            revisions(&c.ecs, &format!("email-platform-staging-{service}"))
                .await
                .len(),
            2,
            "{service}: no new revision"
        );
        let records = gh.deployments_of("staging", service);
        assert_eq!(records.len(), 1, "no second record: {records:#?}");
        assert_eq!(records[0].state(), Some("success"), "{records:#?}");
    }
    let comments = gh.comments();
    assert_eq!(comments.len(), 1, "still one comment: {comments:#?}");
    assert!(
        comments[0].body.contains("unchanged"),
        "{}",
        comments[0].body
    );
    assert!(!everything(&first).contains(TOKEN) && !everything(&again).contains(TOKEN));
    assert_valid_github_api(&gh.received().await).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_failed_rollout_is_diagnosed_rolled_back_and_reported_everywhere() {
    // CloudWatch Logs in a private moto, reached through the SDK's
    // service-specific endpoint variable; ECS is the scripted endpoint.
    let moto = Moto::start(0);
    let logs = clients(&moto.url).await.logs;
    scripted::seed_logs(
        &logs,
        &[
            "starting sampleapi",
            "error: cannot reach SQS: connection refused; paging @oncall",
            "exiting with status 1",
        ],
    )
    .await;
    let failing = scripted::failing_event();
    let message = failing.clone();
    let script = Scripted::start(move |r| scripted::circuit_breaker(r, &message)).await;

    let gh = GitHubState::start(REPO).await;
    gh.set_pulls(SHA, &[7]);
    // The last release that succeeded in staging ran revision 5.
    let earlier = "0000000000000000000000000000000000000005";
    gh.seed_deployment(
        earlier,
        "staging",
        "sampleapi",
        json!({"service": "sampleapi", "image": image("sampleapi", "5"), "task_definition_arn": scripted::arn(5)}),
        &["in_progress", "success"],
    );
    let home = tempfile::tempdir().unwrap();
    let mut env = aws(home.path(), &script.url);
    env.push(("AWS_ENDPOINT_URL_CLOUDWATCH_LOGS".into(), moto.url.clone()));
    let started = std::time::Instant::now();
    let run = deploy(
        &root(),
        &gh,
        &[
            "--env",
            "staging",
            "--images",
            &format!("sampleapi={}", image("sampleapi", "8")),
            "--poll-interval",
            "50ms",
            "--timeout",
            "20s",
        ],
        &env,
    );
    assert!(started.elapsed().as_secs() < 30);
    assert_eq!(run.code, 1, "{run:#?}");
    assert_eq!(run.output("status"), "rolled-back");
    assert_eq!(
        run.output("task-definition-arn"),
        scripted::arn(8),
        "{run:#?}"
    );

    // The summary: why, the stopped task, its logs, the rollback.
    for needle in [
        "EssentialContainerExited",
        "Essential container in task exited",
        "circuit breaker",
        "cannot reach SQS",
        "email-platform-staging-sampleapi:5",
    ] {
        assert!(
            run.summary.contains(needle),
            "`{needle}` missing from the summary:\n{}",
            run.summary
        );
    }
    // ECS was put back on the last good release.
    let updates: Vec<Value> = script
        .calls("UpdateService")
        .into_iter()
        .map(|r| r.body["taskDefinition"].clone())
        .collect();
    assert_eq!(updates, [json!(scripted::arn(8)), json!(scripted::arn(5))]);

    // GitHub: the new record failed; the earlier one is untouched.
    let records = gh.deployments_of("staging", "sampleapi");
    assert_eq!(records.len(), 2, "{records:#?}");
    let ours = &records[1];
    assert_eq!(ours.sha, SHA);
    assert_eq!(ours.payload["task_definition_arn"], scripted::arn(8));
    assert_eq!(ours.states(), ["in_progress", "failure"]);
    assert!(
        ours.statuses[1].description.contains("circuit breaker"),
        "{:?}",
        ours.statuses[1]
    );
    assert_eq!(records[0].states(), ["in_progress", "success"]);

    // The comment: the diagnosis folded, nobody pinged.
    let comments = gh.comments();
    assert_eq!(comments.len(), 1, "{comments:#?}");
    let body = &comments[0].body;
    assert_eq!(comments[0].issue, 7);
    assert!(body.contains("<details>"), "{body}");
    let details = &body[body.find("<details>").unwrap()..];
    for needle in [
        "EssentialContainerExited",
        "cannot reach SQS",
        "rolled-back",
    ] {
        assert!(
            body.contains(needle),
            "`{needle}` missing from the comment:\n{body}"
        );
    }
    assert!(details.contains("cannot reach SQS"), "{details}");
    assert!(!body.contains("@oncall"), "a mention got through:\n{body}");
    assert!(body.contains("@\u{200b}oncall"), "{body}");
    assert!(!everything(&run).contains(TOKEN));
    assert_valid_github_api(&gh.received().await).await;
}
