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

use crate::support::deploy::{ACCOUNT, ferry_against as ferry, repo_of, task_definition};
use crate::support::everything;
use crate::support::scripted::{self, Reply, Scripted};

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

fn deploy(dir: &std::path::Path, ecs: &Scripted) -> crate::support::Run {
    ferry(
        dir,
        &[
            "deploy",
            "--env",
            "staging",
            "--images",
            &images(),
            "--poll-interval",
            "50ms",
            "--timeout",
            "30s",
            "--skip-preflight",
            SKIP,
        ],
        &ecs.url,
    )
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
    let run = deploy(dir.path(), &ecs);
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
}
