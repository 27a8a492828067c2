//! The driver of `scripts/bench-deploy`: N services deployed in one call
//! through Ferry's real code path (register, UpdateService, the first poll)
//! against an ECS endpoint (moto), plus the setup both contenders share.
//!
//!   bench_deploy setup ENDPOINT N DIR    cluster + N services; DIR/td-<i>.json inputs
//!   bench_deploy deploy ENDPOINT N DIR   time roll_out + one poll; print figures
//!
//! Credentials and region come from the standard AWS settings.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};
use std::time::Instant;

use ferry::aws::Clients;
use ferry::deploy::rollout::{Limits, Ours};
use ferry::deploy::wait::{Target, Waiter};
use ferry::deploy::{RolloutOptions, ServicePlan, Status, roll_out};

const CLUSTER: &str = "bench";

fn service(i: usize) -> String {
    format!("bench-{i:03}")
}

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

/// The repository's sampleapi definition for staging, one family per service.
fn inputs(n: usize, image: &str) -> Vec<ferry::taskdef::TaskDefinition> {
    let root = root();
    let manifest = ferry::manifest::Manifest::load(
        &root.join(".github/ferry.yml"),
        Path::new(".github/ferry.yml"),
    )
    .unwrap();
    let opts = ferry::render::Options {
        image: Some(image.into()),
        ..ferry::render::Options::default()
    };
    let td = ferry::render::render_one(&root, &manifest, "sampleapi", "staging", &opts)
        .unwrap()
        .task_definition;
    (0..n)
        .map(|i| {
            let mut td = td.clone();
            td.family = Some(ferry::taskdef::Field::Typed(service(i)));
            td
        })
        .collect()
}

async fn clients(endpoint: &str) -> Clients {
    let config = aws_config::from_env()
        .endpoint_url(endpoint)
        .retry_config(ferry::aws::retry_config())
        .load()
        .await;
    Clients::from_config(&config)
}

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    let [_, mode, endpoint, n, dir] = args.as_slice() else {
        eprintln!("usage: bench_deploy setup|deploy ENDPOINT N DIR");
        std::process::exit(2);
    };
    let n: usize = n.parse().unwrap();
    let dir = PathBuf::from(dir);
    let c = clients(endpoint).await;
    match mode.as_str() {
        "setup" => setup(&c, n, &dir).await,
        "deploy" => deploy(&c, n, &dir).await,
        other => panic!("unknown mode {other}"),
    }
}

/// What Terraform leaves: a cluster and services on a first revision. The
/// inputs of the deploy (a new image) go to DIR for both contenders.
async fn setup(c: &Clients, n: usize, dir: &Path) {
    c.ecs
        .create_cluster()
        .cluster_name(CLUSTER)
        .send()
        .await
        .unwrap();
    let first = inputs(
        n,
        "111111111111.dkr.ecr.us-east-1.amazonaws.com/bench:first",
    );
    for (i, td) in first.iter().enumerate() {
        let sdk = ferry::aws::ecs::task_definition::to_sdk(td)
            .unwrap()
            .definition;
        let arn = c
            .ecs
            .register_task_definition()
            .family(service(i))
            .set_container_definitions(sdk.container_definitions)
            .set_requires_compatibilities(sdk.requires_compatibilities)
            .set_network_mode(sdk.network_mode)
            .set_cpu(sdk.cpu)
            .set_memory(sdk.memory)
            .send()
            .await
            .unwrap()
            .task_definition()
            .unwrap()
            .task_definition_arn()
            .unwrap()
            .to_string();
        c.ecs
            .create_service()
            .cluster(CLUSTER)
            .service_name(service(i))
            .task_definition(arn)
            .desired_count(1)
            .send()
            .await
            .unwrap();
    }
    std::fs::create_dir_all(dir).unwrap();
    let next = inputs(
        n,
        "111111111111.dkr.ecr.us-east-1.amazonaws.com/bench@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
    );
    for (i, td) in next.iter().enumerate() {
        std::fs::write(
            dir.join(format!("td-{i}.json")),
            serde_json::to_string(td).unwrap(),
        )
        .unwrap();
    }
}

async fn deploy(c: &Clients, n: usize, dir: &Path) {
    let plans: Vec<ServicePlan> = (0..n)
        .map(|i| {
            let text = std::fs::read_to_string(dir.join(format!("td-{i}.json"))).unwrap();
            ServicePlan {
                service: service(i),
                env: "staging".into(),
                cluster: CLUSTER.into(),
                ecs_service: service(i),
                image: None,
                task_definition: serde_json::from_str(&text).unwrap(),
                rollback_to: None,
                registered: None,
                rollout: Default::default(),
                analysis: None,
                version: String::new(),
                verified: false,
                tasks: Default::default(),
            }
        })
        .collect();
    let burst: u32 = std::env::var("FERRY_BENCH_REGISTER_BURST")
        .ok()
        .and_then(|b| b.parse().ok())
        .unwrap_or(RolloutOptions::default().register_burst);
    let opts = RolloutOptions {
        wait: false,
        register_burst: burst,
        ..RolloutOptions::default()
    };
    let start = Instant::now();
    let outcomes = roll_out(&c.port(), plans, &opts, &mut |_| {}, None)
        .await
        .outcomes;
    // The first poll of the wait, on what roll_out started.
    let targets: Vec<Target> = outcomes
        .iter()
        .map(|o| Target {
            cluster: o.cluster.clone(),
            service: o.ecs_service.clone(),
            ours: Ours {
                deployment_id: o.deployment_id.clone(),
                task_definition: o.task_definition_arn.clone().unwrap_or_default(),
                previous_task_definition: None,
                started_at: None,
            },
        })
        .collect();
    let mut waiter = Waiter::new(c, targets, Limits::default());
    waiter.poll(&mut |_| {}).await;
    let elapsed = start.elapsed();
    for o in &outcomes {
        assert_eq!(o.status, Status::Started, "{o:#?}");
        assert!(o.registered, "{o:#?}");
    }
    println!(
        "{{\"seconds\": {:.3}, \"services\": {n}, \"register_burst\": {burst}, \"describe_services_per_poll\": {}, \"calls_first_poll\": {}}}",
        elapsed.as_secs_f64(),
        waiter.stats.describe_services,
        waiter.stats.calls
    );
}
