//! Shared helpers of the deploy tests: a private moto server, SDK clients
//! pointed at an endpoint, rendering the repository's task definitions, the
//! ECS clusters and services Terraform would have created, and repositories
//! of hand-written task definitions run through the binary against an AWS
//! endpoint (preflight, deploy waves).
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use ferry::aws::Clients;
use ferry::deploy::{DeployReport, ServiceOutcome, Status};
use ferry::manifest::Manifest;
use ferry::taskdef::TaskDefinition;

use serde_json::{Value, json};

use super::{AWS_VARS, Run, ferry_without, root};

/// The AWS account and region of the moto-backed deploy and preflight tests.
pub const ACCOUNT: &str = "123456789012";
pub const REGION: &str = "us-east-1";

pub fn manifest() -> Manifest {
    let root = root();
    Manifest::load(
        &root.join(".github/ferry.yml"),
        Path::new(".github/ferry.yml"),
    )
    .unwrap()
}

/// The image a test deploys: a digest made from `tag`.
pub fn image(service: &str, tag: &str) -> String {
    let hex: String = format!("{tag:0>64}").chars().rev().take(64).collect();
    let hex: String = hex
        .chars()
        .map(|c| if c.is_ascii_hexdigit() { c } else { 'a' })
        .collect();
    format!("111111111111.dkr.ecr.us-east-1.amazonaws.com/email-platform/{service}@sha256:{hex}")
}

/// The repository's task definition of `service` in `env`, rendered.
pub fn render(service: &str, env: &str, image: &str) -> TaskDefinition {
    let root = root();
    let opts = ferry::render::Options {
        image: Some(image.to_string()),
        ..ferry::render::Options::default()
    };
    ferry::render::render_one(&root, &manifest(), service, env, &opts)
        .unwrap()
        .task_definition
}

/// A moto server of this test's own: `MOTO_ECS_SERVICE_RUNNING` must be
/// set per server (it makes services report a COMPLETED deployment with
/// that many tasks running), so tests that need it cannot share the test
/// bed's. Killed (by its PID) when dropped.
pub struct Moto {
    child: Child,
    pub url: String,
}

impl Moto {
    pub fn start(running: u32) -> Self {
        let bin = std::env::var("FERRY_MOTO_SERVER")
            .map(PathBuf::from)
            .unwrap_or_else(|_| root().join(".testbed/venv-moto/bin/moto_server"));
        assert!(
            bin.exists(),
            "{} is missing: this test needs the test bed. Run `scripts/testbed install` first",
            bin.display()
        );
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let child = Command::new(&bin)
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .env("MOTO_ECS_SERVICE_RUNNING", running.to_string())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let url = format!("http://127.0.0.1:{port}");
        let moto = Self { child, url };
        for _ in 0..100 {
            if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
                return moto;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        panic!("moto did not start on {}", moto.url);
    }
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Clients for `endpoint` with test credentials.
pub async fn clients(endpoint: &str) -> Clients {
    let config = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .endpoint_url(endpoint)
        .region(aws_config::Region::new("us-east-1"))
        .credentials_provider(aws_sdk_ecs::config::Credentials::new(
            "test", "test", None, None, "test",
        ))
        .retry_config(ferry::aws::retry_config())
        .load()
        .await;
    ferry::aws::check_credentials(&config).await.unwrap();
    Clients::from_config(&config)
}

/// The cluster and a service running a first revision of the family (as
/// Terraform's bootstrap definition does), with moto's default launch
/// settings: enough for a deploy without one-off tasks.
pub async fn create_service(
    ecs: &aws_sdk_ecs::Client,
    cluster: &str,
    service: &str,
    td: &TaskDefinition,
) {
    create_service_on(ecs, cluster, service, td, None).await;
}

/// The cluster and the service as Terraform creates them: a first revision,
/// Fargate, awsvpc on one of moto's default subnets with a security group.
/// A one-off task (RunTask) copies these, and moto places an awsvpc task
/// only on a subnet it knows and a Fargate task only without instances.
pub async fn create_fargate_service(
    ecs: &aws_sdk_ecs::Client,
    moto: &str,
    cluster: &str,
    service: &str,
    td: &TaskDefinition,
) {
    let subnet = moto_ec2_first(moto, "DescribeSubnets", "subnetId");
    let group = moto_ec2_first(moto, "DescribeSecurityGroups", "groupId");
    create_service_on(ecs, cluster, service, td, Some((&subnet, &group))).await;
}

/// The first `<field>` EC2's `action` lists in moto's us-east-1 (its
/// default VPC's subnets and security group), asked by hand: the crate has
/// no EC2 client.
fn moto_ec2_first(moto: &str, action: &str, field: &str) -> String {
    use std::io::{Read, Write};
    let address = moto.trim_start_matches("http://");
    let body = format!("Action={action}&Version=2016-11-15");
    let mut s = std::net::TcpStream::connect(address).unwrap();
    write!(
        s,
        "POST / HTTP/1.0\r\nHost: {address}\r\n\
         Content-Type: application/x-www-form-urlencoded\r\n\
         Authorization: AWS4-HMAC-SHA256 Credential=test/20260101/{REGION}/ec2/aws4_request, \
         SignedHeaders=host, Signature=0\r\n\
         Content-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut answer = String::new();
    s.read_to_string(&mut answer).unwrap();
    answer
        .split(&format!("<{field}>"))
        .nth(1)
        .and_then(|rest| rest.split('<').next())
        .unwrap_or_else(|| panic!("moto's {action} listed no {field}: {answer}"))
        .to_string()
}

async fn create_service_on(
    ecs: &aws_sdk_ecs::Client,
    cluster: &str,
    service: &str,
    td: &TaskDefinition,
    network: Option<(&str, &str)>,
) {
    ecs.create_cluster()
        .cluster_name(cluster)
        .send()
        .await
        .unwrap();
    let sdk = ferry::aws::ecs::task_definition::to_sdk(td)
        .unwrap()
        .definition;
    let arn = ecs
        .register_task_definition()
        .family(sdk.family().unwrap())
        .set_container_definitions(sdk.container_definitions)
        .set_network_mode(sdk.network_mode)
        .set_requires_compatibilities(sdk.requires_compatibilities)
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
    let mut create = ecs
        .create_service()
        .cluster(cluster)
        .service_name(service)
        .task_definition(arn)
        .desired_count(1);
    if let Some((subnet, group)) = network {
        use aws_sdk_ecs::types::{AwsVpcConfiguration, LaunchType, NetworkConfiguration};
        create = create
            .launch_type(LaunchType::Fargate)
            .network_configuration(
                NetworkConfiguration::builder()
                    .awsvpc_configuration(
                        AwsVpcConfiguration::builder()
                            .subnets(subnet)
                            .security_groups(group)
                            .build()
                            .unwrap(),
                    )
                    .build(),
            );
    }
    create.send().await.unwrap();
}

/// Both services of `env` as Terraform creates them, on a first revision
/// rendered with image tag `0`.
pub async fn create_environment(ecs: &aws_sdk_ecs::Client, moto: &str, env: &str) {
    for service in ["sampleapi", "sampleworker"] {
        create_fargate_service(
            ecs,
            moto,
            &format!("email-platform-{env}"),
            &format!("email-platform-{env}-{service}"),
            &render(service, env, &image(service, "0")),
        )
        .await;
    }
}

/// The ACTIVE revisions of a family.
pub async fn revisions(ecs: &aws_sdk_ecs::Client, family: &str) -> Vec<String> {
    ecs.list_task_definitions()
        .family_prefix(family)
        .send()
        .await
        .unwrap()
        .task_definition_arns()
        .to_vec()
}

/// The task definition a service runs.
pub async fn service_task_definition(
    ecs: &aws_sdk_ecs::Client,
    cluster: &str,
    service: &str,
) -> String {
    ecs.describe_services()
        .cluster(cluster)
        .services(service)
        .send()
        .await
        .unwrap()
        .services()[0]
        .task_definition()
        .unwrap()
        .to_string()
}

/// What detect and render need of the repository: the manifest, the task
/// definitions, the Cargo workspace and the services' crates.
pub const EXAMPLE_PATHS: &[&str] = &[
    ".github/ferry.yml",
    "task-definitions",
    "Cargo.toml",
    "Cargo.lock",
    "services/sampleapi/Cargo.toml",
    "services/sampleapi/src",
    "services/sampleworker/Cargo.toml",
    "services/sampleworker/src",
    "services/telemetry/Cargo.toml",
    "services/telemetry/src",
];

/// A copy of the repository's `paths` (files or folders, relative to the
/// root) in a temp folder: a repository a test may break or commit to.
pub fn copy_repo(paths: &[&str]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let root = root();
    for p in paths {
        copy_tree(&root.join(p), &dir.path().join(p));
    }
    dir
}

fn copy_tree(from: &Path, to: &Path) {
    if from.is_dir() {
        for entry in std::fs::read_dir(from).unwrap() {
            let entry = entry.unwrap();
            copy_tree(&entry.path(), &to.join(entry.file_name()));
        }
    } else {
        std::fs::create_dir_all(to.parent().unwrap()).unwrap();
        std::fs::copy(from, to).unwrap();
    }
}

/// A Fargate task definition naming these references.
pub fn task_definition(
    service: &str,
    role_prefix: &str,
    secrets: &[&str],
    log_group: &str,
    image: &str,
    create_group: bool,
) -> Value {
    let mut options = json!({"awslogs-group": log_group, "awslogs-region": REGION,
        "awslogs-stream-prefix": service});
    if create_group {
        options["awslogs-create-group"] = json!("true");
    }
    json!({
        "family": format!("shop-staging-{service}"),
        "networkMode": "awsvpc",
        "requiresCompatibilities": ["FARGATE"],
        "cpu": "256",
        "memory": "512",
        "executionRoleArn": format!("{role_prefix}-exec"),
        "taskRoleArn": format!("{role_prefix}-task"),
        "containerDefinitions": [{
            "name": service,
            "image": image,
            "essential": true,
            "secrets": secrets.iter().enumerate()
                .map(|(i, v)| json!({"name": format!("S{i}"), "valueFrom": v}))
                .collect::<Vec<_>>(),
            "logConfiguration": {"logDriver": "awslogs", "options": options},
        }],
    })
}

/// A repository of these services, each Jsonnet file returning its definition.
pub fn repo_of(services: &[(String, Value)]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let write = |path: &str, text: &str| {
        let p = dir.path().join(path);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, text).unwrap();
    };
    let mut manifest = String::from(
        "project: shop\nregion: us-east-1\nenvironments:\n  staging: { cluster: shop-staging }\nservices:\n",
    );
    for (service, _) in services {
        manifest.push_str(&format!(
            "  {service}: {{ task-definition: task-definitions/{service}.jsonnet }}\n"
        ));
    }
    write(".github/ferry.yml", &manifest);
    for (service, td) in services {
        let mut td = td.clone();
        td["containerDefinitions"][0]["image"] = json!("IMAGE");
        let text = serde_json::to_string_pretty(&td)
            .unwrap()
            .replace("\"IMAGE\"", "std.extVar('IMAGE')");
        write(&format!("task-definitions/{service}.jsonnet"), &text);
    }
    dir
}

/// Runs `ferry <args>` in `dir` with AWS reached through `endpoint`.
pub fn ferry_against(dir: &Path, args: &[&str], endpoint: &str) -> Run {
    let home = tempfile::tempdir().unwrap();
    let home_s = home.path().display().to_string();
    let config = home.path().join("none").display().to_string();
    let env = [
        ("HOME", home_s.as_str()),
        ("AWS_CONFIG_FILE", config.as_str()),
        ("AWS_SHARED_CREDENTIALS_FILE", config.as_str()),
        ("AWS_EC2_METADATA_DISABLED", "true"),
        ("AWS_ENDPOINT_URL", endpoint),
        ("AWS_ACCESS_KEY_ID", "test"),
        ("AWS_SECRET_ACCESS_KEY", "test"),
    ];
    ferry_without(dir, args, &env, AWS_VARS)
}

/// The report of a staging deploy of `api` at `sha` that succeeded on
/// `image` with `task_definition_arn` registered: what the deploy comment
/// and the Deployment records are written from.
pub fn staging_api_report(sha: &str, image: &str, task_definition_arn: &str) -> DeployReport {
    DeployReport {
        env: "staging".into(),
        sha: sha.into(),
        run_url: Some("https://github.com/octo/shop/actions/runs/42".into()),
        environment_url: None,
        outcomes: vec![ServiceOutcome {
            service: "api".into(),
            env: "staging".into(),
            cluster: "shop-staging".into(),
            ecs_service: "shop-staging-api".into(),
            image: Some(image.into()),
            task_definition_arn: Some(task_definition_arn.into()),
            registered: true,
            deployment_id: None,
            status: Status::Succeeded,
            duration_secs: 61.0,
            diagnosis: None,
            rollback: None,
            progress: None,
            tasks: Vec::new(),
        }],
        waves: Vec::new(),
    }
}
