//! Service Connect port names through the binary: offline, `render
//! --check` holds the task definition's port mappings against the
//! manifest's `service-connect`; before a deploy, preflight holds them
//! against the service's live Service Connect configuration, reported with
//! the other problems, before any change.
//!
//! Stand-ins: moto for everything preflight looks up except ECS, and the
//! scripted ECS of `support/scripted.rs` for DescribeClusters and
//! DescribeServices: moto keeps no `serviceConnectConfiguration` on a
//! service's deployments, so the PRIMARY deployment serving `grpc` is
//! scripted here.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use serde_json::{Value, json};

use crate::preflight::{MUTATING, all_present, images_arg, world_of};
use crate::support::deploy::{Moto, repo_of};
use crate::support::scripted::{Reply, Scripted, dep, service, set, unknown};
use crate::support::{AWS_VARS, everything, ferry_without};

/// A repository of `api` (its port mapping named `http`) and `worker`,
/// the manifest giving `api` these Service Connect port names.
fn repository(api: &Value, worker: &Value, api_connect: &str) -> tempfile::TempDir {
    let mut api = api.clone();
    api["containerDefinitions"][0]["portMappings"] =
        json!([{"containerPort": 8080, "protocol": "tcp", "name": "http"}]);
    let dir = repo_of(&[("api".into(), api), ("worker".into(), worker.clone())]);
    let file = dir.path().join(".github/ferry.yml");
    let text = std::fs::read_to_string(&file).unwrap();
    let changed = text.replace(
        "  api: { task-definition: task-definitions/api.jsonnet }",
        &format!("  api: {{ task-definition: task-definitions/api.jsonnet{api_connect} }}"),
    );
    assert!(
        api_connect.is_empty() || changed != text,
        "repo_of's manifest moved"
    );
    std::fs::write(&file, changed).unwrap();
    dir
}

fn ferry(dir: &std::path::Path, args: &[&str], moto: &str, ecs: &str) -> crate::support::Run {
    let home = tempfile::tempdir().unwrap();
    let home_s = home.path().display().to_string();
    let none = home.path().join("none").display().to_string();
    let env = [
        ("HOME", home_s.as_str()),
        ("AWS_CONFIG_FILE", none.as_str()),
        ("AWS_SHARED_CREDENTIALS_FILE", none.as_str()),
        ("AWS_EC2_METADATA_DISABLED", "true"),
        ("AWS_ENDPOINT_URL", moto),
        ("AWS_ENDPOINT_URL_ECS", ecs),
        ("AWS_ACCESS_KEY_ID", "test"),
        ("AWS_SECRET_ACCESS_KEY", "test"),
    ];
    ferry_without(dir, args, &env, AWS_VARS)
}

/// ECS as the services run: both ACTIVE, `api`'s PRIMARY deployment
/// serving the Service Connect port `grpc` (Terraform's
/// `service_connect_configuration`), the worker without Service Connect.
fn ecs() -> impl Fn(&crate::support::scripted::Request) -> Reply + Send + Sync + 'static {
    |r| match r.op.as_str() {
        "DescribeClusters" => Reply::Ok(json!({"clusters": [{
            "clusterName": "shop-staging",
            "clusterArn": "arn:aws:ecs:us-east-1:123456789012:cluster/shop-staging",
            "status": "ACTIVE"
        }], "failures": []})),
        "DescribeServices" => {
            let list: Vec<Value> = r.body["services"]
                .as_array()
                .unwrap()
                .iter()
                .map(|name| {
                    let name = name.as_str().unwrap();
                    let mut d = dep("ecs-svc/1", "PRIMARY", "arn:aws:ecs:us-east-1:123456789012:task-definition/x:1", "COMPLETED", 2);
                    if name.ends_with("-api") {
                        d = set(
                            d,
                            "serviceConnectConfiguration",
                            json!({"enabled": true, "namespace": "shop.local",
                                   "services": [{"portName": "grpc", "clientAliases": [{"port": 9090}]}]}),
                        );
                    }
                    service(name, vec![d], vec![])
                })
                .collect();
            Reply::Ok(json!({"services": list, "failures": []}))
        }
        op => unknown(op),
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn render_check_holds_the_port_names_against_the_manifest() {
    let moto = Moto::start(1);
    let w = world_of(&moto.url, &["api".to_string(), "worker".to_string()]).await;
    let (api, worker) = all_present(&w);

    // The names agree: the check passes.
    let dir = repository(&api, &worker, ", service-connect: [http]");
    let run = ferry(
        dir.path(),
        &["render", "--all", "--check", "--image", "r/shop:1"],
        &moto.url,
        &moto.url,
    );
    assert_eq!(run.code, 0, "{}", everything(&run));

    // The manifest says the service serves `grpc`: the definition has none.
    let dir = repository(&api, &worker, ", service-connect: [grpc]");
    let run = ferry(
        dir.path(),
        &["render", "--all", "--check", "--image", "r/shop:1"],
        &moto.url,
        &moto.url,
    );
    let all = everything(&run);
    assert_ne!(run.code, 0, "{all}");
    let line = all
        .lines()
        .find(|l| l.contains("service-connect names the port `grpc`"))
        .unwrap_or_else(|| panic!("{all}"));
    assert!(line.contains("task-definitions/api.jsonnet"), "{line}");
    assert!(line.contains("(its names: `http`)"), "{line}");
    assert!(
        all.contains("correct services.api.service-connect"),
        "{all}"
    );

    // A bad shape fails fast, naming the key.
    let dir = repository(&api, &worker, ", service-connect: [HTTP]");
    let run = ferry(
        dir.path(),
        &["render", "--all", "--check", "--image", "r/shop:1"],
        &moto.url,
        &moto.url,
    );
    let all = everything(&run);
    assert_ne!(run.code, 0, "{all}");
    assert!(all.contains("\"HTTP\" is no port mapping name"), "{all}");
    assert!(all.contains(".github/ferry.yml"), "{all}");
}

#[tokio::test(flavor = "multi_thread")]
async fn preflight_holds_the_port_names_against_the_live_service() {
    let moto = Moto::start(1);
    let w = world_of(&moto.url, &["api".to_string(), "worker".to_string()]).await;
    let (api, worker) = all_present(&w);
    let scripted = Scripted::start(ecs()).await;
    // No `service-connect` in the manifest: render passes, the live
    // service disagrees.
    let dir = repository(&api, &worker, "");
    let images = images_arg(&w);
    let run = ferry(
        dir.path(),
        &[
            "deploy",
            "--env",
            "staging",
            "--images",
            &images,
            "--no-wait",
        ],
        &moto.url,
        &scripted.url,
    );
    let all = everything(&run);
    assert_ne!(run.code, 0, "{all}");
    assert!(
        all.contains("preflight: 1 problem(s) in staging; nothing was registered or updated"),
        "{all}"
    );
    let line = all
        .lines()
        .find(|l| {
            l.contains("serves the Service Connect port name `grpc`")
                && l.contains("task-definitions/api.jsonnet")
        })
        .unwrap_or_else(|| panic!("{all}"));
    assert!(
        line.contains("api: containerDefinitions[].portMappings[].name"),
        "{line}"
    );
    assert!(line.contains("(its names: `http`)"), "{line}");
    assert!(all.contains("name the port mapping `grpc`"), "{all}");
    for op in MUTATING {
        assert!(scripted.calls(op).is_empty(), "{op} was called");
    }
}
