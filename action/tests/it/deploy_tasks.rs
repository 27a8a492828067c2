//! One-off tasks of a release (`before-deploy`) through the binary: a
//! failing migration stops its service's rollout (no UpdateService for it)
//! with its log tail, another service still rolls out; a migration that
//! succeeded is not run again on a re-run (the record on the release's
//! GitHub Deployment), unless `--rerun-tasks`; a migration past its timeout
//! is stopped; a dry run lists the tasks; a bad `before-deploy` is refused.
//!
//! Stand-ins: ECS is the scripted endpoint of `support/scripted.rs`
//! (`completing_ecs` for the services, `with_one_off_tasks` in front for
//! RunTask/DescribeTasks/StopTask: moto never gives a task an exit code,
//! see there); CloudWatch Logs is a private moto server holding the task's
//! log lines (`AWS_ENDPOINT_URL_ECS` sends ECS alone to the script); GitHub
//! is the stateful stand-in of `support/github_state.rs`, whose requests
//! are replayed to Prism.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;

use serde_json::{Value, json};

use crate::support::deploy::{ACCOUNT, clients, repo_of, task_definition};
use crate::support::github_state::{GitHubState, assert_valid_github_api};
use crate::support::scripted::{
    self, Reply, Request, Scripted, TASK_PREFIX, TaskEnding, with_one_off_tasks,
};
use crate::support::{AWS_VARS, Run, everything, ferry_without, testbed_url, unique};

const SHA: &str = "4242424242424242424242424242424242424242";
const SKIP: &str = "the scripted ECS stand-in answers ECS alone";

/// `worker` (with a `migrate` before-deploy task in staging, `timeout`,
/// logging to `group`) and `api` (none).
fn repository(timeout: &str, group: &str) -> tempfile::TempDir {
    let tds: Vec<(String, Value)> = ["worker", "api"]
        .iter()
        .map(|s| {
            let td = task_definition(
                s,
                &format!("arn:aws:iam::{ACCOUNT}:role/shop"),
                &[],
                &if *s == "worker" {
                    group.to_string()
                } else {
                    format!("/ecs/shop-staging/{s}")
                },
                "IMAGE",
                true,
            );
            (s.to_string(), td)
        })
        .collect();
    let dir = repo_of(&tds);
    let file = dir.path().join(".github/ferry.yml");
    let text = std::fs::read_to_string(&file).unwrap().replace(
        "  worker: { task-definition: task-definitions/worker.jsonnet }",
        &format!(
            "  worker:\n    task-definition: task-definitions/worker.jsonnet\n    before-deploy:\n      staging:\n        - {{ name: migrate, command: [./migrate, --up], timeout: {timeout} }}"
        ),
    );
    std::fs::write(&file, text).unwrap();
    dir
}

fn images(services: &[&str]) -> String {
    services
        .iter()
        .map(|s| {
            format!(
                "{s}={ACCOUNT}.dkr.ecr.us-east-1.amazonaws.com/shop/{s}@sha256:{}",
                "e".repeat(64)
            )
        })
        .collect::<Vec<_>>()
        .join(",")
}

/// `ferry deploy --env staging` in Actions mode: ECS from `ecs`, logs from
/// `logs` (moto), GitHub from `gh`.
fn deploy(dir: &Path, gh: &GitHubState, ecs: &str, logs: &str, extra: &[&str]) -> Run {
    let uri = gh.uri();
    let home = tempfile::tempdir().unwrap();
    let home = home.path().display().to_string();
    let config = format!("{home}/none");
    let mut env: Vec<(&str, &str)> = gh.env(&uri, SHA);
    env.extend([
        ("HOME", home.as_str()),
        ("AWS_CONFIG_FILE", config.as_str()),
        ("AWS_SHARED_CREDENTIALS_FILE", config.as_str()),
        ("AWS_EC2_METADATA_DISABLED", "true"),
        ("AWS_ENDPOINT_URL", logs),
        ("AWS_ENDPOINT_URL_ECS", ecs),
        ("AWS_ACCESS_KEY_ID", "test"),
        ("AWS_SECRET_ACCESS_KEY", "test"),
        ("INPUT_SKIP-PREFLIGHT", SKIP),
    ]);
    let mut args = vec![
        "deploy",
        "--env",
        "staging",
        "--poll-interval",
        "50ms",
        "--timeout",
        "30s",
    ];
    args.extend(extra);
    ferry_without(dir, &args, &env, AWS_VARS)
}

/// The test bed's moto (CloudWatch Logs), and a log group of this test's own.
fn logs_in_moto() -> (String, String) {
    (testbed_url("MOTO_URL"), unique("/ecs/shop-staging/worker"))
}

/// Puts `lines` in the log stream of worker's one-off task `n` (moto).
async fn seed_task_logs(moto: &str, group: &str, n: usize, lines: &[&str]) {
    let logs = clients(moto).await.logs;
    let _ = logs.create_log_group().log_group_name(group).send().await;
    scripted::put_log_lines(&logs, group, &format!("worker/worker/oneoff{n}"), lines).await;
}

/// The ECS services of the UpdateService calls, in order.
fn updated(ecs: &Scripted) -> Vec<String> {
    ecs.calls("UpdateService")
        .into_iter()
        .map(|r| r.body["service"].as_str().unwrap().to_string())
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_failing_migration_stops_its_services_rollout_with_its_log_tail() {
    let (moto, group) = logs_in_moto();
    seed_task_logs(
        &moto,
        &group,
        0,
        &[
            "migrating 0042_add_users",
            "ERROR: relation \"users\" already exists",
            "cc @octocat <!-- ferry:deploy -->",
        ],
    )
    .await;
    let ecs = Scripted::start(with_one_off_tasks(scripted::completing_ecs(), |_| {
        TaskEnding::Exits(1)
    }))
    .await;
    let gh = GitHubState::start("octo/shop").await;
    let dir = repository("5m", &group);
    let run = deploy(
        dir.path(),
        &gh,
        &ecs.url,
        &moto,
        &["--images", &images(&["worker", "api"])],
    );
    let all = everything(&run);
    assert_ne!(run.code, 0, "{all}");
    let statuses: Value = serde_json::from_str(run.output("statuses")).unwrap();
    assert_eq!(statuses["worker"], "failed", "{all}");
    assert_eq!(statuses["api"], "succeeded", "{all}");
    // Nothing updated for worker; api rolled out as usual.
    assert_eq!(updated(&ecs), ["shop-staging-api"], "{all}");
    // The task ran on the service's network, with the command, on the new revision.
    let runs = ecs.calls("RunTask");
    assert_eq!(runs.len(), 1);
    let body = &runs[0].body;
    assert_eq!(body["cluster"], "shop-staging");
    assert!(
        body["taskDefinition"]
            .as_str()
            .unwrap()
            .ends_with("task-definition/shop-staging-worker:1"),
        "{body}"
    );
    assert_eq!(body["launchType"], "FARGATE");
    assert_eq!(body["startedBy"], "ferry-b-migrate");
    assert_eq!(
        body["networkConfiguration"]["awsvpcConfiguration"]["subnets"],
        json!(["subnet-0a", "subnet-0b"])
    );
    assert_eq!(
        body["networkConfiguration"]["awsvpcConfiguration"]["securityGroups"],
        json!(["sg-0app"])
    );
    assert_eq!(
        body["overrides"]["containerOverrides"][0],
        json!({"name": "worker", "command": ["./migrate", "--up"]})
    );
    // Why, with the exit, the stop reason and the log tail from CloudWatch Logs.
    assert!(
        all.contains("before-deploy task migrate failed (exit 1)"),
        "{all}"
    );
    assert!(all.contains("Essential container in task exited"), "{all}");
    assert!(run.summary.contains("### One-off tasks"), "{}", run.summary);
    assert!(
        run.summary
            .contains("ERROR: relation \"users\" already exists"),
        "{}",
        run.summary
    );
    // The task's words are inert in the summary.
    assert!(!run.summary.contains("@octocat"), "{}", run.summary);
    assert!(
        !run.summary.contains("<!-- ferry:deploy -->"),
        "{}",
        run.summary
    );
    // worker's GitHub Deployment is a failure, with no record of success.
    let worker = &gh.deployments_of("staging", "worker")[0];
    assert_eq!(worker.state(), Some("failure"));
    assert!(
        worker
            .statuses
            .iter()
            .all(|s| !s.description.contains("succeeded")),
        "{worker:#?}"
    );
    assert_valid_github_api(&gh.received().await).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_migration_that_succeeded_is_not_run_again_unless_rerun_tasks() {
    let (moto, group) = logs_in_moto();
    for n in 0..2 {
        seed_task_logs(&moto, &group, n, &["migrated"]).await;
    }
    // The first two UpdateService calls of worker are refused: its
    // rollout fails after the migration, and a re-run takes it up again.
    let completing = scripted::completing_ecs();
    let ecs = Scripted::start(with_one_off_tasks(
        move |r: &Request| {
            if r.op == "UpdateService" && r.nth < 2 {
                return Reply::Error(
                    "ServiceNotActiveException",
                    "Service was not ACTIVE.".into(),
                );
            }
            completing(r)
        },
        |_| TaskEnding::Exits(0),
    ))
    .await;
    let gh = GitHubState::start("octo/shop").await;
    let dir = repository("5m", &group);
    let worker = images(&["worker"]);
    let args = ["--images", worker.as_str()];

    let first = deploy(dir.path(), &gh, &ecs.url, &moto, &args);
    let all = everything(&first);
    assert_ne!(first.code, 0, "{all}");
    assert_eq!(ecs.calls("RunTask").len(), 1, "{all}");
    assert!(
        all.contains("before-deploy task migrate succeeded"),
        "{all}"
    );
    let record = &gh.deployments_of("staging", "worker")[0];
    assert!(
        record
            .statuses
            .iter()
            .any(|s| s.description
                == "before-deploy task migrate succeeded on shop-staging-worker:1"),
        "{record:#?}"
    );

    // The re-run: same release, same revision: the migration is skipped.
    let second = deploy(dir.path(), &gh, &ecs.url, &moto, &args);
    let all = everything(&second);
    assert_eq!(ecs.calls("RunTask").len(), 1, "{all}");
    assert!(
        all.contains(
            "before-deploy task migrate already succeeded for shop-staging-worker:1: skipped"
        ),
        "{all}"
    );
    assert_eq!(gh.deployments_of("staging", "worker").len(), 1);

    // --rerun-tasks runs it again; this time the rollout goes through.
    let mut rerun = args.to_vec();
    rerun.push("--rerun-tasks");
    let third = deploy(dir.path(), &gh, &ecs.url, &moto, &rerun);
    let all = everything(&third);
    assert_eq!(third.code, 0, "{all}");
    assert_eq!(ecs.calls("RunTask").len(), 2, "{all}");
    assert_eq!(updated(&ecs).len(), 3, "{all}");
    assert_valid_github_api(&gh.received().await).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_migration_past_its_timeout_is_stopped_and_the_service_not_updated() {
    let (moto, group) = logs_in_moto();
    let ecs = Scripted::start(with_one_off_tasks(scripted::completing_ecs(), |_| {
        TaskEnding::RunsUntilStopped
    }))
    .await;
    let gh = GitHubState::start("octo/shop").await;
    let dir = repository("2s", &group);
    let run = deploy(
        dir.path(),
        &gh,
        &ecs.url,
        &moto,
        &["--images", &images(&["worker"])],
    );
    let all = everything(&run);
    assert_ne!(run.code, 0, "{all}");
    let stops = ecs.calls("StopTask");
    assert_eq!(stops.len(), 1, "{all}");
    assert_eq!(stops[0].body["task"], format!("{TASK_PREFIX}0"));
    assert_eq!(
        stops[0].body["reason"],
        "Ferry: migrate ran past its timeout"
    );
    assert!(updated(&ecs).is_empty(), "{all}");
    assert!(
        all.contains("before-deploy task migrate timed out"),
        "{all}"
    );
    assert!(all.contains("ran past its timeout of 2s"), "{all}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_dry_run_lists_the_tasks_with_their_command_and_a_bad_one_is_refused() {
    let dir = repository("5m", "/ecs/shop-staging/worker");
    let run = crate::support::deploy::ferry_against(
        dir.path(),
        &[
            "deploy",
            "--env",
            "staging",
            "--images",
            &images(&["worker", "api"]),
            "--dry-run",
        ],
        "http://127.0.0.1:9",
    );
    let all = everything(&run);
    assert_eq!(run.code, 0, "{all}");
    assert!(
        all.contains("dry run: worker (staging) would run before-deploy task migrate: `./migrate --up` in container worker on the service's new revision (shop-staging-worker), timeout 5m"),
        "{all}"
    );
    assert!(
        !all.contains("api (staging) would run before-deploy"),
        "{all}"
    );

    let file = dir.path().join(".github/ferry.yml");
    let text = std::fs::read_to_string(&file)
        .unwrap()
        .replace("command: [./migrate, --up]", "command: ./migrate");
    std::fs::write(&file, text).unwrap();
    let run = crate::support::deploy::ferry_against(
        dir.path(),
        &[
            "deploy",
            "--env",
            "staging",
            "--images",
            &images(&["worker"]),
            "--dry-run",
        ],
        "http://127.0.0.1:9",
    );
    let all = everything(&run);
    assert_ne!(run.code, 0, "{all}");
    assert!(
        all.contains("services.worker.before-deploy.staging[0].command"),
        "{all}"
    );
    assert!(all.contains("command: [./migrate, --up]"), "{all}");
}
