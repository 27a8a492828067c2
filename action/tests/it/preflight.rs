//! Preflight through the binary against moto: every reference of the task
//! definitions a deploy would register (Secrets Manager secrets in their
//! ARN forms with the JSON-key, version-stage and version-id suffixes, SSM
//! parameters by name with and without a leading `/` and by ARN, the
//! execution and task roles, the images by digest in ECR, the log groups,
//! the cluster and the services, the subnets and security groups of the
//! services' network configurations), looked up in moto's real APIs (EC2's
//! through Ferry's own Query client, `aws::ec2`, which the set-up also uses
//! to create the VPC, subnet and security group).
//!
//! Service Connect: moto keeps no `serviceConnectConfiguration` on a
//! service's deployments, so the test of a Service Connect port name the
//! task definition lacks answers ECS from the scripted stand-in of
//! `support/scripted.rs` (a PRIMARY deployment serving the port `grpc`),
//! and everything else from moto.
//!
//! Every AWS request goes through the recording proxy of
//! `support/recorder.rs`, so the tests assert which calls a run made: a
//! failed preflight makes no RegisterTaskDefinition and no UpdateService.
//!
//! What moto cannot do: `iam:SimulatePrincipalPolicy` (moto 5.2 answers
//! 500), so whether the deploy role may pass the roles is not simulated
//! here; the run says so in a note, and the tests check the rest. The
//! decision on a denied PassRole is tested on plain data in the library
//! (`preflight::tests::a_denied_pass_role_is_a_problem_and_an_unsimulated_one_a_note`).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;

use serde_json::{Value, json};

use crate::support::deploy::{
    ACCOUNT, Moto, REGION, create_service, ferry_against as ferry, repo_of, task_definition,
};
use crate::support::recorder::RecordingProxy;
use crate::support::{Run, everything};

const CLUSTER: &str = "shop-staging";

/// Every AWS operation that changes something: none may come before
/// preflight passed.
pub(crate) const MUTATING: &[&str] = &[
    "RegisterTaskDefinition",
    "UpdateService",
    "CreateService",
    "DeleteService",
    "RunTask",
    "PutImage",
    "CreateLogGroup",
    "DeregisterTaskDefinition",
];

/// The SDK config of the test's own moto.
async fn config(endpoint: &str) -> aws_config::SdkConfig {
    aws_config::defaults(aws_config::BehaviorVersion::latest())
        .endpoint_url(endpoint)
        .region(aws_config::Region::new(REGION))
        .credentials_provider(aws_sdk_ecs::config::Credentials::new(
            "test", "test", None, None, "test",
        ))
        .load()
        .await
}

/// The answer's text between `<tag>` and `</tag>`.
fn xml_text(body: &str, tag: &str) -> String {
    let open = format!("<{tag}>");
    let start = body
        .find(&open)
        .unwrap_or_else(|| panic!("no {tag} in {body}"))
        + open.len();
    let end = body[start..].find(&format!("</{tag}>")).unwrap() + start;
    body[start..end].to_string()
}

/// A VPC with a subnet and a security group in moto, created with Ferry's
/// EC2 client: (subnet, security group).
async fn network(endpoint: &str) -> (String, String) {
    let ec2 = ferry::aws::ec2::Ec2::from_config(&config(endpoint).await);
    let p = |k: &str, v: &str| (k.to_string(), v.to_string());
    let vpc = ec2
        .call("CreateVpc", &[p("CidrBlock", "10.20.0.0/16")], "")
        .await
        .unwrap();
    let vpc = xml_text(&vpc, "vpcId");
    let subnet = ec2
        .call(
            "CreateSubnet",
            &[p("VpcId", &vpc), p("CidrBlock", "10.20.1.0/24")],
            "",
        )
        .await
        .unwrap();
    let sg = ec2
        .call(
            "CreateSecurityGroup",
            &[
                p("VpcId", &vpc),
                p("GroupName", "shop-tasks"),
                p("GroupDescription", "shop tasks"),
            ],
            "",
        )
        .await
        .unwrap();
    (xml_text(&subnet, "subnetId"), xml_text(&sg, "groupId"))
}

/// Puts `service` on these subnets and security groups, as Terraform's
/// `network_configuration` does.
async fn on_network(endpoint: &str, service: &str, subnets: &[&str], groups: &[&str]) {
    use aws_sdk_ecs::types::{AwsVpcConfiguration, NetworkConfiguration};
    let vpc = AwsVpcConfiguration::builder()
        .set_subnets(Some(subnets.iter().map(|s| s.to_string()).collect()))
        .set_security_groups(Some(groups.iter().map(|s| s.to_string()).collect()))
        .build()
        .unwrap();
    aws_sdk_ecs::Client::new(&config(endpoint).await)
        .update_service()
        .cluster(CLUSTER)
        .service(format!("shop-staging-{service}"))
        .network_configuration(
            NetworkConfiguration::builder()
                .awsvpc_configuration(vpc)
                .build(),
        )
        .send()
        .await
        .unwrap();
}

/// What the set-up created, for the task definitions to name.
pub(crate) struct World {
    pub(crate) secret_arn: String,
    secret_version: String,
    /// The image of each service, pushed to ECR.
    pub(crate) images: Vec<String>,
}

/// Creates in moto what Terraform would for `api` and `worker`.
async fn world(endpoint: &str) -> World {
    world_of(endpoint, &["api".to_string(), "worker".to_string()]).await
}

/// Creates in moto what Terraform would: the roles, a secret, parameters
/// (`/shop/api/token`, `plain-token`, and `/shop/<service>/token` for each
/// service), the api's log group, an ECR image per service, the cluster
/// and its services.
pub(crate) async fn world_of(endpoint: &str, services: &[String]) -> World {
    let c = config(endpoint).await;
    let iam = aws_sdk_iam::Client::new(&c);
    let trust = json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow",
        "Principal": {"Service": "ecs-tasks.amazonaws.com"}, "Action": "sts:AssumeRole"}]})
    .to_string();
    for role in ["shop-exec", "shop-task"] {
        iam.create_role()
            .role_name(role)
            .assume_role_policy_document(&trust)
            .send()
            .await
            .unwrap();
    }
    let sm = aws_sdk_secretsmanager::Client::new(&c);
    let secret = sm
        .create_secret()
        .name("shop/db")
        .secret_string(r#"{"password":"hunter2-never-read"}"#)
        .send()
        .await
        .unwrap();
    let ssm = aws_sdk_ssm::Client::new(&c);
    let names = ["/shop/api/token".to_string(), "plain-token".to_string()]
        .into_iter()
        .chain(services.iter().map(|s| format!("/shop/{s}/token")))
        .collect::<std::collections::BTreeSet<_>>();
    for name in names {
        ssm.put_parameter()
            .name(name)
            .value("never-read")
            .r#type(aws_sdk_ssm::types::ParameterType::SecureString)
            .send()
            .await
            .unwrap();
    }
    aws_sdk_cloudwatchlogs::Client::new(&c)
        .create_log_group()
        .log_group_name("/ecs/shop-staging/api")
        .send()
        .await
        .unwrap();
    let ecr = aws_sdk_ecr::Client::new(&c);
    let mut images = Vec::new();
    for service in services {
        let repo = format!("shop/{service}");
        ecr.create_repository()
            .repository_name(&repo)
            .send()
            .await
            .unwrap();
        let manifest = json!({
            "schemaVersion": 2,
            "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
            "config": {"mediaType": "application/vnd.docker.container.image.v1+json",
                "size": 7, "digest": format!("sha256:{}", "c".repeat(64))},
            "layers": [{"mediaType": "application/vnd.docker.image.rootfs.diff.tar.gzip",
                "size": 9, "digest": format!("sha256:{:0>64}", service.len())}]
        })
        .to_string();
        let put = ecr
            .put_image()
            .repository_name(&repo)
            .image_manifest(&manifest)
            .image_tag("v1")
            .send()
            .await
            .unwrap();
        let digest = put
            .image()
            .unwrap()
            .image_id()
            .unwrap()
            .image_digest()
            .unwrap();
        images.push(format!(
            "{ACCOUNT}.dkr.ecr.{REGION}.amazonaws.com/{repo}@{digest}"
        ));
    }
    let ecs = aws_sdk_ecs::Client::new(&c);
    for service in services {
        let td = task_definition(
            service,
            "arn:aws:iam::1:role/x",
            &[],
            "/ecs/x",
            "img",
            false,
        );
        let td = ferry::taskdef::TaskDefinition::read(td).unwrap();
        create_service(&ecs, CLUSTER, &format!("shop-staging-{service}"), &td).await;
    }
    let version = sm
        .describe_secret()
        .secret_id(secret.arn().unwrap())
        .send()
        .await
        .unwrap()
        .version_ids_to_stages()
        .unwrap()
        .keys()
        .next()
        .unwrap()
        .clone();
    World {
        secret_arn: secret.arn().unwrap().to_string(),
        secret_version: version,
        images,
    }
}

/// A repository whose two services' Jsonnet returns these definitions (the
/// image comes from the deploy, as in every Ferry task definition).
fn repo(api: &Value, worker: &Value) -> tempfile::TempDir {
    repo_of(&[
        ("api".into(), api.clone()),
        ("worker".into(), worker.clone()),
    ])
}

/// `ferry preflight --env staging --images <images>` against `endpoint`.
fn preflight_staging(dir: &Path, images: &str, endpoint: &str) -> Run {
    ferry(
        dir,
        &["preflight", "--env", "staging", "--images", images],
        endpoint,
    )
}

/// `ferry deploy --env staging --images <images> --no-wait <extra>` against `endpoint`.
fn deploy_staging(dir: &Path, images: &str, extra: &[&str], endpoint: &str) -> Run {
    let mut args = vec![
        "deploy",
        "--env",
        "staging",
        "--images",
        images,
        "--no-wait",
    ];
    args.extend(extra);
    ferry(dir, &args, endpoint)
}

pub(crate) fn images_arg(w: &World) -> String {
    format!("api={},worker={}", w.images[0], w.images[1])
}

/// The service names of the benchmark.
fn bench_services(n: usize) -> Vec<String> {
    (1..=n).map(|i| format!("svc{i:02}")).collect()
}

/// Both services with every reference present, in every form.
pub(crate) fn all_present(w: &World) -> (Value, Value) {
    let arn = &w.secret_arn;
    let partial = arn.rsplit_once('-').unwrap().0;
    let api = task_definition(
        "api",
        &format!("arn:aws:iam::{ACCOUNT}:role/shop"),
        &[
            arn,
            &format!("{arn}:password::"),
            &format!("{partial}::AWSCURRENT:"),
            &format!("{arn}:password::{}", w.secret_version),
            "/shop/api/token",
            "plain-token",
            &format!("arn:aws:ssm:{REGION}:{ACCOUNT}:parameter/shop/api/token"),
            &format!("arn:aws:ssm:{REGION}:{ACCOUNT}:parameter/plain-token"),
        ],
        "/ecs/shop-staging/api",
        "IMAGE",
        false,
    );
    // The worker's log group does not exist yet: ECS creates it.
    let worker = task_definition(
        "worker",
        &format!("arn:aws:iam::{ACCOUNT}:role/shop"),
        &[&format!("{arn}:password:AWSCURRENT:")],
        "/ecs/shop-staging/worker",
        "IMAGE",
        true,
    );
    (api, worker)
}

#[tokio::test(flavor = "multi_thread")]
async fn every_reference_present_in_every_form_passes_and_the_deploy_goes_on() {
    let moto = Moto::start(1);
    let proxy = RecordingProxy::start(&moto.url);
    let w = world(&moto.url).await;
    let (subnet, sg) = network(&moto.url).await;
    for service in ["api", "worker"] {
        on_network(&moto.url, service, &[&subnet], &[&sg]).await;
    }
    let (api, worker) = all_present(&w);
    let dir = repo(&api, &worker);
    let images = images_arg(&w);

    let run = preflight_staging(dir.path(), &images, &proxy.url);
    let all = everything(&run);
    assert_eq!(run.code, 0, "{all}");
    assert_eq!(run.output("status"), "passed", "{all}");
    assert_eq!(run.output("problems"), "[]");
    // Per service 2 roles, its image, its secrets (8 and 1), its log group,
    // the cluster and its service, its subnet and security group.
    assert!(all.contains("25 references checked, 0 problem(s)"), "{all}");
    assert!(all.contains("All 25 references exist"), "{all}");
    // What moto cannot do is said, not hidden.
    assert!(all.contains("iam:PassRole was not simulated"), "{all}");
    assert!(
        !all.contains("never-read") && !all.contains("hunter2"),
        "{all}"
    );
    let ops = proxy.ops();
    for op in MUTATING {
        assert!(!ops.iter().any(|o| o == op), "{op} in {ops:?}");
    }
    // Each distinct thing once: one secret, one SSM page, two roles.
    let count = |name: &str| ops.iter().filter(|o| *o == name).count();
    assert_eq!(count("DescribeSecret"), 2, "{ops:?}"); // full and partial ARN
    assert_eq!(count("DescribeParameters"), 1, "{ops:?}");
    assert_eq!(count("GetRole"), 2, "{ops:?}");
    // The services' subnets and security groups: one call each.
    assert_eq!(count("DescribeSubnets"), 1, "{ops:?}");
    assert_eq!(count("DescribeSecurityGroups"), 1, "{ops:?}");
    assert_eq!(
        count("GetParameters"),
        0,
        "values are never asked for: {ops:?}"
    );
    assert_eq!(count("GetSecretValue"), 0, "{ops:?}");

    // The deploy runs the same preflight first, then registers and updates.
    let before = proxy.calls().len();
    let run = deploy_staging(dir.path(), &images, &[], &proxy.url);
    let all = everything(&run);
    assert_eq!(run.code, 0, "{all}");
    assert!(all.contains("### Preflight (staging)"), "{all}");
    let ops: Vec<String> = proxy.ops().split_off(before);
    let first_register = ops
        .iter()
        .position(|o| o == "RegisterTaskDefinition")
        .unwrap_or_else(|| panic!("{ops:?}"));
    let last_lookup = ops
        .iter()
        .rposition(|o| o == "DescribeSecret" || o == "DescribeParameters" || o == "GetRole")
        .unwrap();
    assert!(last_lookup < first_register, "{ops:?}");
    assert_eq!(
        ops.iter().filter(|o| *o == "UpdateService").count(),
        2,
        "{ops:?}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_missing_secret_parameter_role_and_image_are_all_reported_before_any_change() {
    let moto = Moto::start(1);
    let proxy = RecordingProxy::start(&moto.url);
    let w = world(&moto.url).await;
    // api's network names a subnet and a security group that do not exist
    // (deleted, or a typo in Terraform); the worker's exist.
    let (subnet, sg) = network(&moto.url).await;
    on_network(
        &moto.url,
        "api",
        &[&subnet, "subnet-0123456789abcdef0"],
        &["sg-0123456789abcdef0"],
    )
    .await;
    on_network(&moto.url, "worker", &[&subnet], &[&sg]).await;
    let c = config(&moto.url).await;
    aws_sdk_iam::Client::new(&c)
        .delete_role()
        .role_name("shop-exec")
        .send()
        .await
        .unwrap();
    let (mut api, worker) = all_present(&w);
    let missing_secret =
        format!("arn:aws:secretsmanager:{REGION}:{ACCOUNT}:secret:shop/gone-AbCdEf:password::");
    api["containerDefinitions"][0]["secrets"] = json!([
        {"name": "GONE", "valueFrom": missing_secret},
        {"name": "OK", "valueFrom": "/shop/api/token"},
        {"name": "NOPE", "valueFrom": "/shop/api/missing"},
    ]);
    let dir = repo(&api, &worker);
    // The worker's image was never pushed.
    let unpushed = format!(
        "{ACCOUNT}.dkr.ecr.{REGION}.amazonaws.com/shop/worker@sha256:{}",
        "d".repeat(64)
    );
    let images = format!("api={},worker={unpushed}", w.images[0]);

    let run = deploy_staging(dir.path(), &images, &[], &proxy.url);
    let all = everything(&run);
    assert_ne!(run.code, 0, "{all}");
    assert!(
        all.contains("preflight: 7 problem(s) in staging; nothing was registered or updated"),
        "{all}"
    );
    for (file, field, what) in [
        (
            "task-definitions/api.jsonnet",
            "api: executionRoleArn",
            "the IAM role `shop-exec` does not exist",
        ),
        (
            "task-definitions/worker.jsonnet",
            "worker: executionRoleArn",
            "the IAM role `shop-exec` does not exist",
        ),
        (
            "task-definitions/api.jsonnet",
            "api: containerDefinitions[0].secrets[0].valueFrom",
            "secret:shop/gone-AbCdEf` does not exist in us-east-1",
        ),
        (
            "task-definitions/api.jsonnet",
            "api: containerDefinitions[0].secrets[2].valueFrom",
            "the SSM parameter `/shop/api/missing` does not exist in us-east-1",
        ),
        (
            "task-definitions/worker.jsonnet",
            "worker: containerDefinitions[0].image",
            "is not in its registry",
        ),
        (
            ".github/ferry.yml",
            "api: ecs-service networkConfiguration.awsvpcConfiguration.subnets[1]",
            "the subnet `subnet-0123456789abcdef0` of the ECS service `shop-staging-api`'s network configuration does not exist",
        ),
        (
            ".github/ferry.yml",
            "api: ecs-service networkConfiguration.awsvpcConfiguration.securityGroups[0]",
            "the security group `sg-0123456789abcdef0` of the ECS service `shop-staging-api`'s network configuration does not exist",
        ),
    ] {
        let line = all
            .lines()
            .find(|l| l.contains(field) && l.contains(what))
            .unwrap_or_else(|| panic!("no `{field}` … `{what}` in\n{all}"));
        assert!(line.contains(file), "{line}");
    }
    // Each with its fix, in the summary's table too.
    assert!(
        all.contains("create it (Terraform: aws_ssm_parameter)"),
        "{all}"
    );
    assert!(all.contains("build and push it (ferry build)"), "{all}");
    assert!(all.contains("create it (Terraform: aws_subnet)"), "{all}");
    assert!(
        all.contains("create it (Terraform: aws_security_group)"),
        "{all}"
    );
    assert!(all.contains("| service | field | problem | fix |"), "{all}");
    assert_eq!(
        all.matches("secrets\\[1\\]").count() + all.matches("secrets[1]").count(),
        0
    );
    let ops = proxy.ops();
    for op in MUTATING {
        assert!(!ops.iter().any(|o| o == op), "{op} in {ops:?}");
    }
    assert!(ops.iter().any(|o| o == "BatchGetImage"), "{ops:?}");

    // `ferry preflight` says the same, as outputs.
    let run = preflight_staging(dir.path(), &images, &proxy.url);
    assert_ne!(run.code, 0);
    assert_eq!(run.output("status"), "failed");
    let problems: Vec<Value> = serde_json::from_str(run.output("problems")).unwrap();
    assert_eq!(problems.len(), 7, "{problems:#?}");
    assert!(
        problems
            .iter()
            .all(|p| p["fix"].as_str().is_some_and(|f| !f.is_empty()))
    );

    // Skipping needs a reason, and the reason is recorded.
    let run = deploy_staging(dir.path(), &images, &["--skip-preflight", " "], &proxy.url);
    assert_ne!(run.code, 0);
    assert!(everything(&run).contains("--skip-preflight needs a reason"));
    let run = deploy_staging(
        dir.path(),
        &images,
        &[
            "--skip-preflight",
            "IAM outage, roles unchanged since yesterday",
        ],
        &proxy.url,
    );
    let all = everything(&run);
    assert!(
        all.contains(
            "Skipped with `--skip-preflight`: IAM outage, roles unchanged since yesterday"
        ),
        "{all}"
    );
    assert!(proxy.ops().iter().any(|o| o == "RegisterTaskDefinition"));
}

/// The closing note's figures: a release of 20 services (render, preflight,
/// register, update; `--no-wait`, as moto never advances a rollout) against
/// moto, with preflight and, as the peer run, with `--skip-preflight`; each
/// on a fresh moto set up the same way. Prints the wall times, their ratio,
/// and the AWS calls of each run by operation. Run with
/// `cargo test -p ferry --test it preflight::bench -- --ignored --nocapture`.
#[tokio::test(flavor = "multi_thread")]
#[ignore = "a benchmark: prints figures, asserts only that both runs deploy"]
async fn bench_twenty_services_with_and_without_preflight() {
    let n = 20;
    let services = bench_services(n);
    let mut figures = Vec::new();
    for skip in [false, true] {
        let moto = Moto::start(1);
        let proxy = RecordingProxy::start(&moto.url);
        let w = world_of(&moto.url, &services).await;
        let tds: Vec<(String, Value)> = services
            .iter()
            .map(|s| {
                let td = task_definition(
                    s,
                    &format!("arn:aws:iam::{ACCOUNT}:role/shop"),
                    &[
                        &format!("{}:password::", w.secret_arn),
                        &format!("/shop/{s}/token"),
                    ],
                    &format!("/ecs/shop-staging/{s}"),
                    "IMAGE",
                    true,
                );
                (s.clone(), td)
            })
            .collect();
        let dir = repo_of(&tds);
        let images = services
            .iter()
            .zip(&w.images)
            .map(|(s, i)| format!("{s}={i}"))
            .collect::<Vec<_>>()
            .join(",");
        let mut alone = None;
        if !skip {
            let t0 = std::time::Instant::now();
            let run = preflight_staging(dir.path(), &images, &proxy.url);
            assert_eq!(run.code, 0, "{}", everything(&run));
            alone = Some((t0.elapsed(), proxy.calls().len()));
        }
        let extra: &[&str] = if skip {
            &["--skip-preflight", "the peer run of the benchmark"]
        } else {
            &[]
        };
        let before = proxy.calls().len();
        let t0 = std::time::Instant::now();
        let run = deploy_staging(dir.path(), &images, extra, &proxy.url);
        let elapsed = t0.elapsed();
        assert_eq!(run.code, 0, "{}", everything(&run));
        let ops = proxy.ops().split_off(before);
        let mut by_op = std::collections::BTreeMap::<String, usize>::new();
        for op in &ops {
            *by_op.entry(op.clone()).or_default() += 1;
        }
        figures.push((skip, elapsed, ops.len(), by_op));
        if let Some((t, calls)) = alone {
            println!(
                "bench: `ferry preflight` alone, {n} services: {:.2} s, {calls} AWS calls",
                t.as_secs_f64()
            );
        }
    }
    let (with, without) = (&figures[0], &figures[1]);
    println!(
        "bench: {n} services, deploy --no-wait against moto: with preflight {:.2} s ({} AWS calls), with --skip-preflight {:.2} s ({} AWS calls); ratio {:.2}x",
        with.1.as_secs_f64(),
        with.2,
        without.1.as_secs_f64(),
        without.2,
        with.1.as_secs_f64() / without.1.as_secs_f64()
    );
    println!("calls with preflight: {:?}", with.3);
    println!("calls without: {:?}", without.3);
}
