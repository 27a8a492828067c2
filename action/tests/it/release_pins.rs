//! `ferry release` pins the image it built into every container whose
//! image is the release's image reference, and only those: a second
//! container of the service's image (a migration runner) is pinned too, a
//! log router and an OpenTelemetry collector keep the images they were
//! written with.
//!
//! Through the binary on this machine: buildah builds a `FROM scratch`
//! image of a copy of the example platform and pushes it to the test bed's
//! registry; ECS is the scripted stand-in whose rollouts complete
//! (`support/scripted.rs`: moto never brings a service to the new
//! revision), which records the RegisterTaskDefinition request.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use serde_json::Value;

use crate::release_rehearsal::{commit, ecr_repositories, platform_copy};
use crate::support::github_state::GitHubState;
use crate::support::scripted::{self, Scripted};
use crate::support::{AWS_VARS, ferry_without, git_in, testbed_url};

const REPO: &str = "acme/email-platform";
const LOG_ROUTER: &str = "public.ecr.aws/aws-observability/aws-for-fluent-bit:2.32.4";
const COLLECTOR: &str = "public.ecr.aws/aws-observability/aws-otel-collector:v0.43.1";

/// The example platform with sampleapi's task definition given three more
/// containers: a migration runner on the service's image, a log router and
/// a collector on images of their own.
fn repository() -> tempfile::TempDir {
    let dir = platform_copy();
    let file = dir.path().join("task-definitions/sampleapi.jsonnet");
    let text = std::fs::read_to_string(&file).unwrap();
    let sidecars = format!(
        "  }}),\n  base.container('migrate', image, {{ essential: false, command: ['/usr/local/bin/sampleapi', 'migrate'] }}),\n  base.container('log-router', '{LOG_ROUTER}', {{ firelensConfiguration: {{ type: 'fluentbit' }} }}),\n  base.container('otel-collector', '{COLLECTOR}', {{ essential: false }}),\n], {{"
    );
    let changed = text.replace("  }),\n], {", &sidecars);
    assert_ne!(changed, text, "sampleapi.jsonnet's container list moved");
    std::fs::write(&file, changed).unwrap();
    crate::support::init_repo(dir.path());
    commit(dir.path(), "the platform");
    dir
}

#[tokio::test(flavor = "multi_thread")]
async fn a_release_pins_every_container_of_its_image_and_no_sidecar() {
    let moto = testbed_url("MOTO_URL");
    let registry = testbed_url("REGISTRY");
    ecr_repositories(&moto).await;
    let ecs = Scripted::start(scripted::completing_ecs()).await;
    let gh = GitHubState::start(REPO).await;
    let repo = repository();
    let dir = repo.path();
    let base = git_in(dir, &["rev-parse", "HEAD"]).trim().to_string();
    let dockerfile = dir.join("services/sampleapi/Dockerfile");
    let text = std::fs::read_to_string(&dockerfile).unwrap();
    std::fs::write(&dockerfile, format!("{text}LABEL pins=1\n")).unwrap();
    let head = commit(dir, "sampleapi: a change");

    let uri = gh.uri();
    let home = tempfile::tempdir().unwrap();
    let none = home.path().join("none").display().to_string();
    let mut env = gh.env(&uri, &head);
    env.extend([
        ("HOME", home.path().to_str().unwrap()),
        ("AWS_CONFIG_FILE", none.as_str()),
        ("AWS_SHARED_CREDENTIALS_FILE", none.as_str()),
        ("AWS_EC2_METADATA_DISABLED", "true"),
        ("STORAGE_DRIVER", "vfs"),
        ("BUILDAH_ISOLATION", "chroot"),
        ("AWS_ENDPOINT_URL", moto.as_str()),
        ("AWS_ENDPOINT_URL_ECS", ecs.url.as_str()),
        ("AWS_ACCESS_KEY_ID", "test"),
        ("AWS_SECRET_ACCESS_KEY", "test"),
        ("AWS_REGION", "us-east-1"),
    ]);
    let registry_url = format!("http://{registry}");
    let run = ferry_without(
        dir,
        &[
            "release",
            "--base",
            &base,
            "--head",
            &head,
            "--no-api",
            "--builder",
            "buildah",
            "--registry",
            &registry_url,
            "--poll-interval",
            "50ms",
            "--timeout",
            "20s",
            "--skip-preflight",
            "the stand-ins hold none of the example's secrets, roles or log groups",
        ],
        &env,
        AWS_VARS,
    );
    assert_eq!(run.code, 0, "{run:#?}");
    assert_eq!(run.output("services"), r#"["sampleapi"]"#);
    let image = run.output("image").to_string();
    assert!(
        image.starts_with(&format!("{registry}/email-platform/sampleapi@sha256:")),
        "{image}"
    );
    let calls = ecs.calls("RegisterTaskDefinition");
    assert_eq!(calls.len(), 1, "{run:#?}");
    let images: Vec<(String, String)> = calls[0].body["containerDefinitions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c: &Value| {
            (
                c["name"].as_str().unwrap().to_string(),
                c["image"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    let expected = [
        ("sampleapi", image.as_str()),
        ("migrate", image.as_str()),
        ("log-router", LOG_ROUTER),
        ("otel-collector", COLLECTOR),
    ]
    .map(|(n, i)| (n.to_string(), i.to_string()));
    assert_eq!(images, expected);
}
