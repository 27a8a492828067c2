//! A release in waves (`depends-on`) through the binary: `db` and `cache`
//! first, `api` (which depends on both) after they reached steady state; a
//! failed first wave leaves the second undeployed and says why, without
//! rolling back the healthy service of the first.
//!
//! Stand-in: the scripted ECS of `support/scripted.rs` whose rollouts
//! complete (`completing_ecs`): moto never brings a service to the new
//! revision (its deployment stays on the old one), so a wave could never
//! reach steady state there. Its request log gives the order of the calls.
//! These deploys skip preflight (the scripted endpoint answers ECS alone;
//! preflight is tested in `preflight.rs`).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use serde_json::Value;

use ferry::deploy::comment::{merge, render_comment};
use ferry::deploy::{DeployReport, ServiceOutcome, Status};

use crate::support::deploy::{ACCOUNT, ferry_against as ferry, repo_of, task_definition};
use crate::support::github_state::GitHubState;
use crate::support::scripted::{self, Reply, Scripted};
use crate::support::{AWS_VARS, everything, ferry_without};

const SERVICES: [&str; 3] = ["db", "cache", "api"];
const SKIP: &str = "the scripted ECS stand-in answers ECS alone";

/// A repository of the three services, `api` depending on the other two.
fn repository() -> tempfile::TempDir {
    let tds: Vec<(String, Value)> = SERVICES
        .iter()
        .map(|s| {
            let td = task_definition(
                s,
                &format!("arn:aws:iam::{ACCOUNT}:role/shop"),
                &[],
                &format!("/ecs/shop-staging/{s}"),
                "IMAGE",
                true,
            );
            (s.to_string(), td)
        })
        .collect();
    let dir = repo_of(&tds);
    let file = dir.path().join(".github/ferry.yml");
    let text = std::fs::read_to_string(&file).unwrap().replace(
        "  api: { task-definition: task-definitions/api.jsonnet }",
        "  api: { task-definition: task-definitions/api.jsonnet, depends-on: [db, cache] }",
    );
    std::fs::write(&file, text).unwrap();
    dir
}

fn images() -> String {
    SERVICES
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

/// `ferry deploy` of the three services to staging, polling fast.
fn deploy_args(images: &str) -> [&str; 11] {
    [
        "deploy",
        "--env",
        "staging",
        "--images",
        images,
        "--poll-interval",
        "50ms",
        "--timeout",
        "30s",
        "--skip-preflight",
        SKIP,
    ]
}

fn deploy(dir: &std::path::Path, ecs: &Scripted) -> crate::support::Run {
    ferry(dir, &deploy_args(&images()), &ecs.url)
}

/// The services of the UpdateService calls, in the order they arrived.
fn updates(ecs: &Scripted) -> Vec<String> {
    ecs.calls("UpdateService")
        .into_iter()
        .map(|r| {
            let service = r.body["service"].as_str().unwrap();
            service.trim_start_matches("shop-staging-").to_string()
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn three_services_roll_out_in_two_waves_in_dependency_order() {
    let ecs = Scripted::start(scripted::completing_ecs()).await;
    let dir = repository();

    // The dry run shows the waves.
    let run = ferry(
        dir.path(),
        &[
            "deploy",
            "--env",
            "staging",
            "--images",
            &images(),
            "--dry-run",
        ],
        &ecs.url,
    );
    let all = everything(&run);
    assert_eq!(run.code, 0, "{all}");
    assert!(all.contains("dry run: wave 1/2: db, cache"), "{all}");
    assert!(all.contains("dry run: wave 2/2: api"), "{all}");
    // The comment it would post shows them too.
    assert!(
        all.contains("**Waves** in `staging` (`depends-on`): 1. `db` 📝, `cache` 📝 → 2. `api` 📝"),
        "{all}"
    );

    let run = deploy(dir.path(), &ecs);
    let all = everything(&run);
    assert_eq!(run.code, 0, "{all}");
    assert_eq!(updates(&ecs).len(), 3);
    assert_eq!(updates(&ecs)[2], "api", "{:?}", updates(&ecs));
    // api was updated only after a poll saw both of the first wave at
    // steady state.
    let ops: Vec<(String, String)> = ecs
        .requests()
        .into_iter()
        .map(|r| {
            (
                r.op,
                r.body["service"].as_str().unwrap_or_default().to_string(),
            )
        })
        .collect();
    let second_update = ops
        .iter()
        .enumerate()
        .filter(|(_, (op, _))| op == "UpdateService")
        .map(|(i, _)| i)
        .nth(1)
        .unwrap();
    let api_update = ops
        .iter()
        .position(|(op, s)| op == "UpdateService" && s == "shop-staging-api")
        .unwrap();
    assert!(
        ops[second_update..api_update]
            .iter()
            .any(|(op, _)| op == "DescribeServices"),
        "{ops:?}"
    );
    assert!(all.contains("wave 1/2: db, cache"), "{all}");
    assert!(all.contains("### Waves"), "{all}");
    assert!(all.contains("2. `api` (succeeded)"), "{all}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_failed_first_wave_stops_the_second_and_keeps_the_healthy_one() {
    let completing = scripted::completing_ecs();
    // db's UpdateService is refused: its rollout fails in wave 1.
    let ecs = Scripted::start(move |r: &scripted::Request| {
        if r.op == "UpdateService" && r.body["service"] == "shop-staging-db" {
            return Reply::Error(
                "ServiceNotActiveException",
                "Service was not ACTIVE.".into(),
            );
        }
        completing(r)
    })
    .await;
    let dir = repository();
    let gh = GitHubState::start(REPO).await;
    gh.set_pulls(SHA, &[7]);
    let run = deploy_in_actions(dir.path(), &ecs, &gh);
    let all = everything(&run);
    assert_ne!(run.code, 0, "{all}");
    let statuses: Value = serde_json::from_str(run.output("statuses")).unwrap();
    assert_eq!(statuses["cache"], "succeeded", "{all}");
    assert_eq!(statuses["db"], "failed", "{all}");
    assert_eq!(statuses["api"], "failed", "{all}");
    // api was never updated; cache was not rolled back (one update only).
    let names = updates(&ecs);
    assert!(!names.contains(&"api".to_string()), "{names:?}");
    assert_eq!(
        names.iter().filter(|n| *n == "cache").count(),
        1,
        "{names:?}"
    );
    assert!(
        all.contains("not deployed: wave 1 failed (db), and this service starts after it"),
        "{all}"
    );
    assert!(
        all.contains("wave 1 failed (db): the later waves are not deployed; the earlier ones stay"),
        "{all}"
    );
    assert!(all.contains("2. `api` (not deployed)"), "{all}");
    // The deploy comment on the pull request shows the waves, each
    // service with its outcome.
    let comments = gh.comments();
    assert_eq!(comments.len(), 1, "{all}");
    assert!(
        comments[0].body.contains(
            "**Waves** in `staging` (`depends-on`): 1. `db` ❌, `cache` ✅ → 2. `api` ❌"
        ),
        "{}",
        comments[0].body
    );
}

const REPO: &str = "octo/shop";
const SHA: &str = "0123456789abcdef0123456789abcdef01234567";

/// [`deploy`] in GitHub Actions, against the GitHub stand-in: the deploy
/// comment is posted.
fn deploy_in_actions(
    dir: &std::path::Path,
    ecs: &Scripted,
    gh: &GitHubState,
) -> crate::support::Run {
    let home = tempfile::tempdir().unwrap();
    let home_s = home.path().display().to_string();
    let config = home.path().join("none").display().to_string();
    let uri = gh.uri();
    let mut env = gh.env(&uri, SHA);
    env.extend([
        ("HOME", home_s.as_str()),
        ("AWS_CONFIG_FILE", config.as_str()),
        ("AWS_SHARED_CREDENTIALS_FILE", config.as_str()),
        ("AWS_EC2_METADATA_DISABLED", "true"),
        ("AWS_ENDPOINT_URL", ecs.url.as_str()),
        ("AWS_ACCESS_KEY_ID", "test"),
        ("AWS_SECRET_ACCESS_KEY", "test"),
    ]);
    ferry_without(dir, &deploy_args(&images()), &env, AWS_VARS)
}

fn outcome(env: &str, service: &str, status: Status) -> ServiceOutcome {
    ServiceOutcome {
        service: service.into(),
        env: env.into(),
        cluster: format!("shop-{env}"),
        ecs_service: format!("shop-{env}-{service}"),
        image: Some(format!(
            "{ACCOUNT}.dkr.ecr.us-east-1.amazonaws.com/shop/{service}:v2"
        )),
        task_definition_arn: Some(format!(
            "arn:aws:ecs:us-east-1:{ACCOUNT}:task-definition/shop-{env}-{service}:3"
        )),
        registered: true,
        deployment_id: None,
        status,
        duration_secs: 42.0,
        diagnosis: None,
        rollback: None,
        progress: None,
        tasks: Vec::new(),
    }
}

fn waves() -> Vec<Vec<String>> {
    vec![vec!["db".into(), "cache".into()], vec!["api".into()]]
}

/// The comment of a release in two waves, staging then prod: each
/// environment's waves under the table, each service with its outcome; a
/// release in one wave shows none.
#[test]
fn the_deploy_comment_shows_each_environments_waves() {
    let staging = DeployReport {
        env: "staging".into(),
        sha: SHA.into(),
        run_url: None,
        environment_url: None,
        outcomes: ["db", "cache", "api"]
            .iter()
            .map(|s| outcome("staging", s, Status::Succeeded))
            .collect(),
        waves: waves(),
    };
    let first = render_comment(&merge(None, &staging));
    let prod = DeployReport {
        env: "prod".into(),
        outcomes: vec![
            outcome("prod", "db", Status::Failed),
            outcome("prod", "cache", Status::Succeeded),
            outcome("prod", "api", Status::Failed),
        ],
        ..staging.clone()
    };
    let body = render_comment(&merge(Some(&first), &prod));
    let visible = body.trim_end().rsplit_once('\n').unwrap().0;
    insta::assert_snapshot!("waves_in_two_environments", visible);
    assert!(
        visible.contains(
            "**Waves** in `staging` (`depends-on`): 1. `db` ✅, `cache` ✅ → 2. `api` ✅"
        ),
        "{visible}"
    );
    assert!(
        visible
            .contains("**Waves** in `prod` (`depends-on`): 1. `db` ❌, `cache` ✅ → 2. `api` ❌"),
        "{visible}"
    );

    // One wave: no waves line, the comment as before.
    let one = DeployReport {
        waves: vec![vec!["db".into(), "cache".into(), "api".into()]],
        ..staging.clone()
    };
    let plain = DeployReport {
        waves: Vec::new(),
        ..staging
    };
    let body = render_comment(&merge(None, &one));
    assert!(!body.contains("**Waves**"), "{body}");
    assert_eq!(body, render_comment(&merge(None, &plain)));
}
