//! The release rehearsal: `.github/workflows/release.yml`'s steps in order,
//! through the binary, on a temp copy of this repository — detect → build
//! (buildah, to the test bed's registry, ECR in the test bed's moto) →
//! deploy to staging → gate → deploy to prod; then a commit that breaks a
//! task definition (the release stops at render, nothing is deployed); then
//! a re-run of the first release (nothing changes). And `ferry release
//! --dry-run` prints the plan of the same commit.
//!
//! ECS is the scripted endpoint with the service deployments lifecycle
//! (`support/scripted/lifecycle.rs`): the gate needs a deployment that
//! SUCCEEDED in staging, moto never completes a rollout, and prod's
//! `sampleapi` is a canary (`.github/ferry.yml`) whose analysis reads a real
//! Prometheus, fed after the build with healthy series for the version built. GitHub is the stateful stand-in of
//! `support/github_state.rs` (Prism is stateless; every request is replayed
//! to Prism at the end). The real Dockerfiles need Docker Hub, so the copy's
//! are `FROM scratch` ones over the services' sources.
//!
//! The same rehearsal runs twice: with the binary on this machine (buildah
//! builds), and with every step inside the action image as the runner
//! starts a container action (docker builds through the mounted socket).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::support;
use crate::support::container as container_support;
use crate::support::deploy as deploy_support;
use crate::support::prometheus::{self, Prometheus};
use crate::support::root;
use crate::support::scripted::{self, Scripted};

use std::path::Path;

use container_support::{ContainerStep, Docker, runner_inputs};
use deploy_support::copy_repo;
use serde_json::{Value, json};
use support::github_state::{GitHubState, TOKEN, assert_valid_github_api};
use support::{AWS_VARS, Run, everything, ferry_without, git_in, testbed_url};

/// Why the rehearsal's deploys skip preflight: the scripted ECS stand-in
/// and moto hold none of the example's secrets, roles or log groups
/// (preflight is tested in `preflight.rs`).
const NO_PREFLIGHT: &str =
    "the rehearsal's stand-ins hold none of the example's secrets, roles or log groups";

const REPO: &str = "acme/email-platform";

/// What a release needs of the repository: the manifest, the task
/// definitions, the services' crates (detect follows Cargo dependencies).
const PATHS: &[&str] = &[
    ".github/ferry.yml",
    "task-definitions",
    "Cargo.lock",
    "services/sampleapi/Cargo.toml",
    "services/sampleapi/src",
    "services/sampleworker/Cargo.toml",
    "services/sampleworker/src",
    "services/telemetry/Cargo.toml",
    "services/telemetry/src",
];

/// The copy, committed on `main`, its analyses reading the Prometheus on
/// `prometheus_port`; returns the repository.
fn repository(prometheus_port: u16) -> tempfile::TempDir {
    let dir = platform_copy();
    let manifest = dir.path().join(".github/ferry.yml");
    let text = std::fs::read_to_string(&manifest).unwrap();
    let local = text.replace(
        "prometheus: https://prometheus.email-platform.example.com",
        &format!("prometheus: http://127.0.0.1:{prometheus_port}"),
    );
    assert_ne!(local, text, "the manifest's analysis moved");
    std::fs::write(&manifest, local).unwrap();
    support::init_repo(dir.path());
    commit(dir.path(), "the platform");
    dir
}

/// A copy of what a release needs of this repository, not yet a git
/// repository: the real Dockerfiles (which need Docker Hub) replaced by
/// `FROM scratch` ones over the services' sources.
pub(crate) fn platform_copy() -> tempfile::TempDir {
    let dir = copy_repo(PATHS);
    let root = root();
    // The workspace without the action crate (not copied).
    let cargo = std::fs::read_to_string(root.join("Cargo.toml"))
        .unwrap()
        .replace(
            r#"members = ["action", "services/*"]"#,
            r#"members = ["services/*"]"#,
        );
    assert!(cargo.contains(r#"members = ["services/*"]"#));
    std::fs::write(dir.path().join("Cargo.toml"), cargo).unwrap();
    for service in ["sampleapi", "sampleworker"] {
        std::fs::write(
            dir.path().join(format!("services/{service}/Dockerfile")),
            format!("FROM scratch\nCOPY services/{service}/src /src\n"),
        )
        .unwrap();
    }
    dir
}

pub(crate) fn commit(dir: &Path, message: &str) -> String {
    git_in(dir, &["add", "-A"]);
    git_in(dir, &["commit", "-q", "-m", message]);
    git_in(dir, &["rev-parse", "HEAD"]).trim().to_string()
}

/// The ECR repositories of both services in the test bed's moto.
pub(crate) async fn ecr_repositories(moto: &str) {
    let config = aws_sdk_ecr::Config::builder()
        .behavior_version(aws_sdk_ecr::config::BehaviorVersion::latest())
        .region(aws_sdk_ecr::config::Region::new("us-east-1"))
        .endpoint_url(moto)
        .credentials_provider(aws_sdk_ecr::config::Credentials::new(
            "test", "test", None, None, "test",
        ))
        .build();
    let ecr = aws_sdk_ecr::Client::from_conf(config);
    for service in ["sampleapi", "sampleworker"] {
        // Earlier runs may have created it: that is fine.
        let _ = ecr
            .create_repository()
            .repository_name(format!("email-platform/{service}"))
            .send()
            .await;
    }
}

/// Where the workflow's `ferry` steps run.
enum Runner {
    /// The binary on this machine; buildah builds.
    Host,
    /// The action image, started as the runner starts a container action;
    /// docker builds through the mounted socket.
    Image { docker: Docker, image: String },
}

impl Runner {
    fn builder(&self) -> &'static str {
        match self {
            Runner::Host => "buildah",
            Runner::Image { .. } => "docker",
        }
    }
}

/// One step of the workflow: `ferry <args>` in Actions mode on commit
/// `sha`, with AWS at `aws_endpoint` (None: no AWS at all).
fn step(
    runner: &Runner,
    dir: &Path,
    gh: &GitHubState,
    sha: &str,
    aws_endpoint: Option<&str>,
    args: &[&str],
) -> Run {
    if let Runner::Image { docker, image } = runner {
        return in_image(docker, image, dir, gh, sha, aws_endpoint, args);
    }
    step_on_host(dir, gh, sha, aws_endpoint, &[], args)
}

/// [`step`] on the runner itself, with `extra` variables (a second AWS
/// endpoint for one service).
fn step_on_host(
    dir: &Path,
    gh: &GitHubState,
    sha: &str,
    aws_endpoint: Option<&str>,
    extra: &[(&str, &str)],
    args: &[&str],
) -> Run {
    let uri = gh.uri();
    let home = tempfile::tempdir().unwrap();
    let (config, credentials) = (
        home.path().join("config").display().to_string(),
        home.path().join("credentials").display().to_string(),
    );
    let mut env = gh.env(&uri, sha);
    env.extend([
        ("HOME", home.path().to_str().unwrap()),
        ("AWS_CONFIG_FILE", config.as_str()),
        ("AWS_SHARED_CREDENTIALS_FILE", credentials.as_str()),
        ("AWS_EC2_METADATA_DISABLED", "true"),
        // Daemonless buildah settings for this machine.
        ("STORAGE_DRIVER", "vfs"),
        ("BUILDAH_ISOLATION", "chroot"),
    ]);
    if let Some(endpoint) = aws_endpoint {
        env.extend([
            ("AWS_ENDPOINT_URL", endpoint),
            ("AWS_ACCESS_KEY_ID", "test"),
            ("AWS_SECRET_ACCESS_KEY", "test"),
            ("AWS_REGION", "us-east-1"),
            ("INPUT_SKIP-PREFLIGHT", NO_PREFLIGHT),
        ]);
    }
    env.extend(extra.iter().copied());
    let run = ferry_without(dir, args, &env, AWS_VARS);
    assert!(
        !everything(&run).contains(TOKEN),
        "the token leaked: {run:#?}"
    );
    run
}

/// [`step`] in the action image: the same variables, the workspace and the
/// runner's mounts; the arguments as an action's `args:`.
fn in_image(
    docker: &Docker,
    image: &str,
    dir: &Path,
    gh: &GitHubState,
    sha: &str,
    aws_endpoint: Option<&str>,
    args: &[&str],
) -> Run {
    let uri = gh.uri();
    let mut env: Vec<(String, String)> = gh
        .env(&uri, sha)
        .into_iter()
        .filter(|(k, _)| *k != "GITHUB_ACTIONS")
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    env.push(("AWS_EC2_METADATA_DISABLED".into(), "true".into()));
    if let Some(endpoint) = aws_endpoint {
        env.extend(
            [
                ("AWS_ENDPOINT_URL", endpoint),
                ("AWS_ACCESS_KEY_ID", "test"),
                ("AWS_SECRET_ACCESS_KEY", "test"),
                ("AWS_REGION", "us-east-1"),
            ]
            .map(|(k, v)| (k.to_string(), v.to_string())),
        );
    }
    let run: Run = tokio::task::block_in_place(|| {
        ContainerStep {
            docker,
            image,
            args: args.iter().map(|a| a.to_string()).collect(),
            workspace: dir,
            event_name: "push",
            event: json!({
                "ref": "refs/heads/release", "before": sha, "after": sha,
                "forced": false, "created": false, "deleted": false,
                "repository": { "default_branch": "main", "full_name": REPO }
            }),
            inputs: runner_inputs(
                &[
                    ("command", args[0]),
                    (
                        "skip-preflight",
                        if aws_endpoint.is_some() {
                            NO_PREFLIGHT
                        } else {
                            ""
                        },
                    ),
                ],
                TOKEN,
            ),
            env,
        }
        .run()
    })
    .into();
    assert!(
        !everything(&run).contains(TOKEN),
        "the token leaked: {run:#?}"
    );
    run
}

fn count(script: &Scripted, op: &str) -> usize {
    script.calls(op).len()
}

#[tokio::test(flavor = "multi_thread")]
async fn the_release_workflow_rehearsed_end_to_end() {
    rehearse(&Runner::Host).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn the_release_workflow_rehearsed_in_the_action_image() {
    let Some(docker) = Docker::get("the_release_workflow_rehearsed_in_the_action_image") else {
        return;
    };
    let image = docker.action_image().tag.clone();
    rehearse(&Runner::Image { docker, image }).await;
}

async fn rehearse(runner: &Runner) {
    let moto = testbed_url("MOTO_URL");
    let registry = testbed_url("REGISTRY");
    ecr_repositories(&moto).await;
    // A minute of bake lasts 100 ms: prod's canary (5 + 5 minutes) takes
    // about a second, and each stage outlasts a few 50-ms polls.
    let ecs = Scripted::start(scripted::progressive_ecs(100)).await;
    let gh = GitHubState::start(REPO).await;
    // The manifest names its Prometheus before the version to analyse is
    // built: a server holds the port from now on (no other test can take
    // it), and is restarted there with the built version's series.
    let early = Prometheus::start("");
    let prometheus_port: u16 = early.url.rsplit(':').next().unwrap().parse().unwrap();
    let repo = repository(prometheus_port);
    let dir = repo.path();
    let base = git_in(dir, &["rev-parse", "HEAD"]).trim().to_string();

    // A pull request that changes sampleapi only, merged to `release`: its
    // image, not its crate (sampleworker depends on the sampleapi crate, so
    // detect rightly releases both when the crate changes).
    let dockerfile = dir.join("services/sampleapi/Dockerfile");
    let text = std::fs::read_to_string(&dockerfile).unwrap();
    std::fs::write(&dockerfile, format!("{text}LABEL rehearsal=1\n")).unwrap();
    let sha = commit(dir, "sampleapi: a change");
    gh.set_pulls(&sha, &[12]);

    // detect
    let detect = step(
        runner,
        dir,
        &gh,
        &sha,
        None,
        &["detect", "--base", &base, "--head", &sha, "--no-api"],
    );
    assert_eq!(detect.code, 0, "{detect:#?}");
    assert_eq!(detect.services(), ["sampleapi"], "{}", detect.summary);
    assert_eq!(detect.output("any"), "true");
    assert_eq!(detect.output("sampleworker"), "false");
    let services = detect.output("services").to_string();

    // build (the workflow's matrix has one job: sampleapi)
    let build = step(
        runner,
        dir,
        &gh,
        &sha,
        Some(&moto),
        &[
            "build",
            "--builder",
            runner.builder(),
            "--registry",
            &format!("http://{registry}"),
            "--services",
            &services,
        ],
    );
    assert_eq!(build.code, 0, "{build:#?}");
    if let Runner::Image { .. } = runner {
        // The image has no buildx: the classic builder, through the socket.
        assert!(
            build
                .stdout
                .contains("no buildx: `docker build` then `docker push`"),
            "{build:#?}"
        );
    }
    let images = build.output("images").to_string();
    let built: Value = serde_json::from_str(&images).unwrap();
    assert_eq!(
        built.as_object().unwrap().keys().collect::<Vec<_>>(),
        ["sampleapi"]
    );
    let image = build.output("image").to_string();
    // What prod's canary analysis will read: the version built and the one
    // it replaces, both healthy (0.1% errors, p99 120 ms).
    let version = ferry::image::version(&image);
    let now = prometheus::now();
    let mut series = String::new();
    for (name, value) in [
        ("slo_version:sli_events_bad:rate5m", 0.01),
        ("slo_version:sli_events_total:rate5m", 10.0),
        ("version:http_request_duration_seconds:p99_rate5m", 0.12),
    ] {
        let labels: Vec<String> = [version.as_str(), "bootstrap"]
            .iter()
            .map(|v| format!("slo=\"api-availability\",version=\"{v}\""))
            .collect();
        let samples: Vec<(&str, f64, u64)> = labels
            .iter()
            .flat_map(|l| {
                (now - 600..=now + 300)
                    .step_by(15)
                    .map(move |t| (l.as_str(), value, t))
            })
            .collect();
        series.push_str(&prometheus::gauge(name, samples));
    }
    let _prometheus = early.restart(&series);
    assert!(
        image.starts_with(&format!("{registry}/email-platform/sampleapi@sha256:")),
        "{image}"
    );
    let tag = build.output("tag").to_string();
    assert!(
        tag.starts_with(&format!("sampleapi-{}-", &sha[..7])),
        "{tag}"
    );

    // deploy to staging
    let deploy_args = |env: &'static str, images: &str| -> Vec<String> {
        [
            "deploy",
            "--env",
            env,
            "--services",
            &services,
            "--images",
            images,
            "--poll-interval",
            "50ms",
            "--timeout",
            "20s",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect()
    };
    let args = deploy_args("staging", &images);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let staging = step(runner, dir, &gh, &sha, Some(&ecs.url), &args);
    assert_eq!(staging.code, 0, "{staging:#?}");
    assert_eq!(staging.output("status"), "succeeded");
    let staging_arn = staging.output("task-definition-arn").to_string();
    assert!(
        staging_arn.ends_with(":task-definition/email-platform-staging-sampleapi:1"),
        "{staging_arn}"
    );
    assert_eq!(
        serde_json::from_str::<Value>(staging.output("statuses")).unwrap(),
        json!({"sampleapi": "succeeded"})
    );
    assert_eq!(
        staging
            .stdout
            .matches("sampleapi (staging): registered")
            .count(),
        1,
        "said once: {}",
        staging.stdout
    );
    assert!(staging.summary.contains("sampleapi"), "{}", staging.summary);
    assert!(staging.summary.contains("succeeded"), "{}", staging.summary);
    let records = gh.deployments_of("staging", "sampleapi");
    assert_eq!(records.len(), 1, "{records:#?}");
    assert_eq!(records[0].states(), ["in_progress", "success"]);
    assert_eq!(records[0].payload["image"], image);
    assert_eq!(records[0].payload["task_definition_arn"], staging_arn);
    assert!(gh.deployments_of("staging", "sampleworker").is_empty());
    let updates = ecs.calls("UpdateService");
    assert_eq!(updates.len(), 1);
    assert_eq!(updates[0].body["cluster"], "email-platform-staging");
    assert_eq!(
        updates[0].body["service"],
        "email-platform-staging-sampleapi"
    );

    // gate (after the prod environment's approval)
    let gate = step(
        runner,
        dir,
        &gh,
        &sha,
        None,
        &[
            "gate",
            "--env",
            "prod",
            "--services",
            &services,
            "--images",
            &images,
        ],
    );
    assert_eq!(gate.code, 0, "{gate:#?}");
    assert_eq!(gate.output("allowed"), "true");
    let promoted = gate.output("images").to_string();
    assert_eq!(
        serde_json::from_str::<Value>(&promoted).unwrap()["sampleapi"],
        image
    );
    assert!(
        gate.summary.contains("promotion to `prod` allowed"),
        "{}",
        gate.summary
    );

    // deploy to prod, with the gate's images
    let args = deploy_args("prod", &promoted);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let prod = step(runner, dir, &gh, &sha, Some(&ecs.url), &args);
    assert_eq!(prod.code, 0, "{prod:#?}");
    assert_eq!(prod.output("status"), "succeeded");
    let prod_arn = prod.output("task-definition-arn").to_string();
    assert!(
        prod_arn.ends_with(":task-definition/email-platform-prod-sampleapi:1"),
        "{prod_arn}"
    );
    let records = gh.deployments_of("prod", "sampleapi");
    assert_eq!(records.len(), 1, "{records:#?}");
    // Prod's sampleapi is a canary: a status per step, then success.
    let states = records[0].states();
    assert_eq!(states.first().copied(), Some("in_progress"));
    assert_eq!(states.last().copied(), Some("success"));
    let described: Vec<&str> = records[0]
        .statuses
        .iter()
        .map(|s| s.description.as_str())
        .collect();
    assert!(
        described.contains(&"step 1: 10% traffic (PRODUCTION_TRAFFIC_SHIFT)"),
        "{described:#?}"
    );
    assert!(
        described.iter().any(|d| d.ends_with("(BAKE_TIME)")),
        "{described:#?}"
    );
    assert!(
        prod.stdout
            .contains("error-ratio canary 0.001 baseline 0.001: ok"),
        "{prod:#?}"
    );
    // It completed: the last step decided, with all the traffic.
    let decided: Value = serde_json::from_str(prod.output("decided-by")).unwrap();
    let decided = decided["sampleapi"].as_str().unwrap();
    assert!(
        decided.starts_with("step ") && decided.contains(": 100% traffic ("),
        "{decided}"
    );
    assert!(records[0].production_environment);
    assert_eq!(
        records[0]
            .statuses
            .last()
            .unwrap()
            .environment_url
            .as_deref(),
        Some("https://email-platform.example.com")
    );
    // One comment on the pull request, with both environments.
    let comments = gh.comments();
    assert_eq!(comments.len(), 1, "{comments:#?}");
    let body = comments[0].body.clone();
    assert_eq!(comments[0].issue, 12);
    for needle in [
        "staging",
        "prod",
        "email-platform-staging-sampleapi:1",
        "email-platform-prod-sampleapi:1",
        "succeeded",
    ] {
        assert!(body.contains(needle), "`{needle}` missing:\n{body}");
    }
    assert!(!body.contains("sampleworker"), "{body}");
    let registered = count(&ecs, "RegisterTaskDefinition");
    let deployments = gh.deployments().len();
    assert_eq!((registered, deployments), (2, 2));

    // A second commit breaks the task definition: the release stops at render.
    let td = dir.join("task-definitions/sampleapi.jsonnet");
    let good = std::fs::read_to_string(&td).unwrap();
    std::fs::write(&td, good.replace("PORT: port,", "PORT: undefined_port,")).unwrap();
    let broken = commit(dir, "sampleapi: a broken task definition");
    gh.set_pulls(&broken, &[13]);
    let check = step(runner, dir, &gh, &broken, None, &["render", "--check"]);
    assert_eq!(check.code, 1, "{check:#?}");
    assert!(
        check
            .stdout
            .contains("::error file=task-definitions/sampleapi.jsonnet,line="),
        "{check:#?}"
    );
    assert!(check.stdout.contains("undefined_port"), "{}", check.stdout);
    let args = deploy_args("staging", &images);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let failed = step(runner, dir, &gh, &broken, Some(&ecs.url), &args);
    assert_eq!(failed.code, 1, "{failed:#?}");
    assert!(
        failed
            .stdout
            .contains("::error file=task-definitions/sampleapi.jsonnet,line="),
        "{failed:#?}"
    );
    assert_eq!(
        count(&ecs, "RegisterTaskDefinition"),
        registered,
        "no new revision"
    );
    assert_eq!(count(&ecs, "UpdateService"), 2, "no service touched");
    assert_eq!(gh.deployments().len(), deployments, "no new record");
    assert_eq!(gh.comments().len(), 1, "no comment on the broken commit");

    // A re-run of the first release (same commit, same images) changes nothing.
    git_in(dir, &["checkout", "-q", &sha]);
    let args = deploy_args("staging", &images);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let rerun = step(runner, dir, &gh, &sha, Some(&ecs.url), &args);
    assert_eq!(rerun.code, 0, "{rerun:#?}");
    assert_eq!(rerun.output("status"), "unchanged", "{rerun:#?}");
    assert_eq!(rerun.output("task-definition-arn"), staging_arn);
    assert!(rerun.summary.contains("unchanged"), "{}", rerun.summary);
    assert_eq!(count(&ecs, "RegisterTaskDefinition"), registered);
    assert_eq!(count(&ecs, "UpdateService"), 2);
    assert_eq!(gh.deployments().len(), deployments, "no second record");
    let comments = gh.comments();
    assert_eq!(comments.len(), 1, "{comments:#?}");
    assert!(comments[0].body.contains("email-platform-prod-sampleapi:1"));

    // `ferry release --dry-run` on the same commit prints the plan.
    let plan = step(
        runner,
        dir,
        &gh,
        &sha,
        None,
        &[
            "release",
            "--dry-run",
            "--base",
            &base,
            "--head",
            &sha,
            "--no-api",
        ],
    );
    assert_eq!(plan.code, 0, "{plan:#?}");
    let printed = format!("{}\n{}", plan.stdout, plan.summary);
    for needle in [
        "sampleapi",
        &format!("sampleapi-{}-", &sha[..7]),
        ".ferry/release/sampleapi.staging.json",
        "Not affected: `sampleworker`",
        ferry::deploy::comment::MARKER,
    ] {
        assert!(printed.contains(needle), "`{needle}` missing:\n{printed}");
    }
    assert!(!printed.contains("sampleworker-"), "{printed}");
    // The rendered task definition it names, with the planned image.
    let rendered: Value = serde_json::from_str(
        &std::fs::read_to_string(dir.join(".ferry/release/sampleapi.staging.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(rendered["family"], "email-platform-staging-sampleapi");
    let planned = rendered["containerDefinitions"][0]["image"]
        .as_str()
        .unwrap();
    assert!(
        planned.contains(&format!(
            "email-platform/sampleapi:sampleapi-{}-",
            &sha[..7]
        )),
        "{planned}"
    );
    assert!(
        !dir.join(".ferry/release/sampleworker.staging.json")
            .exists()
    );

    // `ferry release` for real on the next commit, in one command: the plan
    // rendered once with the image by tag, the build pinning it to the
    // digest it pushed, and that exact image registered and rolled out.
    if matches!(runner, Runner::Host) {
        std::fs::write(&dockerfile, format!("{text}LABEL rehearsal=2\n")).unwrap();
        let next = commit(dir, "sampleapi: another change");
        gh.set_pulls(&next, &[14]);
        let (registered, updated) = (
            count(&ecs, "RegisterTaskDefinition"),
            count(&ecs, "UpdateService"),
        );
        let release = step_on_host(
            dir,
            &gh,
            &next,
            Some(&moto),
            &[("AWS_ENDPOINT_URL_ECS", ecs.url.as_str())],
            &[
                "release",
                "--base",
                &sha,
                "--head",
                &next,
                "--no-api",
                "--builder",
                runner.builder(),
                "--registry",
                &format!("http://{registry}"),
                "--poll-interval",
                "50ms",
                "--timeout",
                "20s",
            ],
        );
        assert_eq!(release.code, 0, "{release:#?}");
        assert_eq!(release.output("services"), r#"["sampleapi"]"#);
        assert_eq!(release.output("status"), "succeeded", "{release:#?}");
        let image = release.output("image").to_string();
        assert!(
            image.starts_with(&format!("{registry}/email-platform/sampleapi@sha256:")),
            "{image}"
        );
        let calls = ecs.calls("RegisterTaskDefinition");
        assert_eq!(calls.len(), registered + 1, "one new revision");
        let td = &calls.last().unwrap().body;
        assert_eq!(td["family"], "email-platform-staging-sampleapi");
        assert_eq!(td["containerDefinitions"][0]["image"], image.as_str());
        assert_eq!(count(&ecs, "UpdateService"), updated + 1);
    }

    assert_valid_github_api(&gh.received().await).await;
}
