//! `ferry build --builder docker` against the test bed's real docker daemon
//! (no buildx there: the classic builder, then `docker push`), pushing to a
//! registry that requires a login, with no AWS credentials (the AWS endpoint
//! is a recorder: no call is made): from this machine with the login
//! `docker/login-action` leaves in the Docker config file, and from inside
//! the action image through the mounted docker socket with the
//! `registry-username`/`registry-token` inputs (`docker login
//! --password-stdin`), as a workflow step runs it.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::support;
use crate::support::container as container_support;

use std::process::Command;

use base64::Engine;
use support::recorder::Recorder;

use container_support::{ContainerStep, Docker, chown_workspace, runner_inputs};
use support::{Repo, Run, everything, ferry_with, testbed_url, unique};

/// The password the test bed's login registry accepts for user AWS.
const TOKEN: &str = "123456789012-auth-token";

/// A one-service repository building a FROM scratch image with docker,
/// pushing to `registry`.
fn repository(registry: &str, name: &str) -> (Repo, String) {
    let r = Repo::new();
    r.write(
        ".github/ferry.yml",
        &format!(
            "project: ferrytest\nregion: us-east-1\nenvironments:\n  staging: {{ cluster: c }}\nbuild:\n  registry: http://{registry}\n  builder: docker\nservices:\n  hello:\n    paths: [hello/**]\n    dockerfile: hello/Dockerfile\n    context: hello\n    image-repository: {name}\n"
        ),
    )
    .write(
        "hello/Dockerfile",
        "FROM scratch\nCOPY hello.txt /hello.txt\n",
    )
    .write("hello/hello.txt", "hello\n");
    let sha = r.commit("hello");
    (r, sha)
}

/// The manifest digest of `reference` in the login registry, with or
/// without credentials (None: refused or absent).
fn registry_digest(registry: &str, reference: &str, login: bool) -> Option<String> {
    let (repo, tag) = reference.rsplit_once(':').unwrap();
    let mut cmd = Command::new("curl");
    cmd.args([
        "-s",
        "-o",
        "/dev/null",
        "-D",
        "-",
        "-H",
        "Accept: application/vnd.docker.distribution.manifest.v2+json",
        "-H",
        "Accept: application/vnd.oci.image.manifest.v1+json",
    ]);
    if login {
        cmd.args(["-u", &format!("AWS:{TOKEN}")]);
    }
    let out = cmd
        .arg(format!("http://{registry}/v2/{repo}/manifests/{tag}"))
        .output()
        .unwrap();
    let head = String::from_utf8_lossy(&out.stdout).to_lowercase();
    if !head.starts_with("http/1.1 200") {
        return None;
    }
    head.lines()
        .find_map(|l| l.strip_prefix("docker-content-digest: "))
        .map(|d| d.trim().to_string())
}

/// No AWS credentials; the AWS endpoint at a recorder.
fn aws_env(aws: &Recorder) -> Vec<(String, String)> {
    [
        ("AWS_ENDPOINT_URL", aws.url.as_str()),
        ("AWS_MAX_ATTEMPTS", "1"),
        ("AWS_EC2_METADATA_DISABLED", "true"),
    ]
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .into()
}

fn check_pushed(
    run_stdout: &str,
    outputs: &std::collections::BTreeMap<String, String>,
    registry: &str,
    name: &str,
) {
    assert!(
        run_stdout.contains("no buildx: `docker build` then `docker push`"),
        "the choice is logged: {run_stdout}"
    );
    let tag = &outputs["tag"];
    let image = &outputs["image"];
    let (uri, digest) = image.split_once('@').unwrap();
    assert_eq!(uri, format!("{registry}/{name}"));
    assert_eq!(
        registry_digest(registry, &format!("{name}:{tag}"), true).as_deref(),
        Some(digest),
        "the release tag names the reported digest"
    );
    let images: serde_json::Value = serde_json::from_str(&outputs["images"]).unwrap();
    let content = images["hello"]["content-tag"].as_str().unwrap();
    assert_eq!(
        registry_digest(registry, &format!("{name}:{content}"), true).as_deref(),
        Some(digest),
        "the content tag names the same digest"
    );
    // The registry really requires the login Ferry did.
    assert_eq!(
        registry_digest(registry, &format!("{name}:{tag}"), false),
        None
    );
}

#[test]
fn docker_without_buildx_builds_and_pushes_through_a_registry_login() {
    let Some(docker) =
        Docker::get("docker_without_buildx_builds_and_pushes_through_a_registry_login")
    else {
        return;
    };
    let aws = Recorder::start();
    let registry = testbed_url("AUTH_REGISTRY");
    let name = unique("ferry-docker/hello");
    let (repo, sha) = repository(&registry, &name);
    // What docker/login-action leaves: the login in the Docker config file.
    let config = tempfile::tempdir().unwrap();
    let auth = base64::engine::general_purpose::STANDARD.encode(format!("AWS:{TOKEN}"));
    std::fs::write(
        config.path().join("config.json"),
        serde_json::json!({ "auths": { registry.as_str(): { "auth": auth } } }).to_string(),
    )
    .unwrap();
    let mut env: Vec<(String, String)> = aws_env(&aws);
    env.extend([
        ("GITHUB_ACTIONS".into(), "true".into()),
        ("GITHUB_SHA".into(), sha.clone()),
        ("GITHUB_REPOSITORY".into(), "acme/platform".into()),
        ("DOCKER_HOST".into(), docker.host.clone()),
        ("DOCKER_CONFIG".into(), config.path().display().to_string()),
    ]);
    let env_refs: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let first: Run = ferry_with(repo.path(), &["build"], &env_refs);
    assert_eq!(first.code, 0, "{first:#?}");
    assert_eq!(first.output("reused"), "false");
    check_pushed(&first.stdout, &first.outputs, &registry, &name);
    assert!(
        !everything(&first).contains(TOKEN),
        "the registry password leaked"
    );

    // Same inputs: reused, nothing built.
    let again: Run = ferry_with(repo.path(), &["build"], &env_refs);
    assert_eq!(again.code, 0, "{again:#?}");
    assert_eq!(again.output("reused"), "true");
    assert_eq!(again.output("image"), first.output("image"));
    assert_eq!(aws.requests(), Vec::<String>::new(), "no AWS call");
}

#[test]
fn build_runs_in_the_action_image_through_the_mounted_docker_socket() {
    let Some(docker) =
        Docker::get("build_runs_in_the_action_image_through_the_mounted_docker_socket")
    else {
        return;
    };
    let image = docker.action_image();
    let aws = Recorder::start();
    let registry = testbed_url("AUTH_REGISTRY");
    let name = unique("ferry-container/hello");
    let (repo, sha) = repository(&registry, &name);
    chown_workspace(repo.path());
    let mut env = aws_env(&aws);
    env.extend([
        ("GITHUB_SHA".into(), sha.clone()),
        ("GITHUB_REF".into(), "refs/heads/main".into()),
    ]);
    let run = ContainerStep {
        docker: &docker,
        image: &image.tag,
        args: vec![],
        workspace: repo.path(),
        event_name: "push",
        event: serde_json::json!({
            "ref": "refs/heads/main", "before": "0".repeat(40), "after": sha,
            "created": true, "forced": false, "deleted": false,
            "repository": { "default_branch": "main", "full_name": "acme/platform" }
        }),
        inputs: runner_inputs(
            &[
                ("command", "build"),
                ("builder", "docker"),
                ("services", "all"),
                ("registry-username", "AWS"),
                ("registry-token", TOKEN),
            ],
            "ghs_test",
        ),
        env,
    }
    .run();
    assert_eq!(run.code, 0, "{run:#?}");
    check_pushed(&run.stdout, &run.outputs, &registry, &name);
    // Only the `::add-mask::` line (the runner's way to hide it) names it.
    let shown: Vec<&str> = run
        .stdout
        .lines()
        .chain(run.stderr.lines())
        .chain(run.summary.lines())
        .filter(|l| !l.starts_with("::add-mask::"))
        .collect();
    assert!(
        !shown.iter().any(|l| l.contains(TOKEN)),
        "the registry password leaked"
    );
    assert!(run.summary.contains("| built |"), "{}", run.summary);
    assert_eq!(aws.requests(), Vec::<String>::new(), "no AWS call");
}

/// The composite action's step (`action/container-run run`) on a runner
/// where docker/login-action logged in: the runner's Docker config file,
/// mounted read-only into the container, gives Ferry the login (no inputs),
/// and Ferry hands it to docker inside; the file is left as it was.
#[test]
fn the_runner_s_docker_login_reaches_the_container_action() {
    let Some(docker) = Docker::get("the_runner_s_docker_login_reaches_the_container_action") else {
        return;
    };
    let image = docker.action_image();
    let aws = Recorder::start();
    let registry = testbed_url("AUTH_REGISTRY");
    let name = unique("ferry-runner-login/hello");
    let (repo, sha) = repository(&registry, &name);
    chown_workspace(repo.path());
    // The runner's home, as docker/login-action leaves it.
    let home = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(home.path().join(".docker")).unwrap();
    let auth = base64::engine::general_purpose::STANDARD.encode(format!("AWS:{TOKEN}"));
    let config_text =
        serde_json::json!({ "auths": { registry.as_str(): { "auth": auth } } }).to_string();
    let config = home.path().join(".docker/config.json");
    std::fs::write(&config, &config_text).unwrap();
    let mut env: Vec<(String, String)> = [
        ("HOME", home.path().to_str().unwrap()),
        ("GITHUB_SHA", sha.as_str()),
        ("GITHUB_REPOSITORY", "acme/platform"),
        ("INPUT_COMMAND", "build"),
        ("INPUT_SERVICES", "all"),
        ("INPUT_REGISTRY-USERNAME", ""),
        ("INPUT_REGISTRY-TOKEN", ""),
        ("INPUT_GITHUB-TOKEN", "ghs_x"),
    ]
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .into();
    env.extend(aws_env(&aws));
    let step = container_support::CompositeStep {
        docker: &docker,
        action_root: &support::root(),
        image: &image.tag,
        workspace: repo.path(),
        event_name: "workflow_dispatch",
        event: serde_json::json!({}),
        env,
    };
    let job = tempfile::tempdir().unwrap();
    let run = step.run_in(job.path());
    assert_eq!(run.code, 0, "{run:#?}");
    check_pushed(&run.stdout, &run.outputs, &registry, &name);
    let shown: Vec<&str> = run
        .stdout
        .lines()
        .chain(run.stderr.lines())
        .filter(|l| !l.starts_with("::add-mask::"))
        .collect();
    assert!(
        !shown.iter().any(|l| l.contains(TOKEN)),
        "the registry password leaked"
    );
    assert_eq!(
        std::fs::read_to_string(&config).unwrap(),
        config_text,
        "the runner's Docker config is read, never written"
    );
    assert_eq!(aws.requests(), Vec::<String>::new(), "no AWS call");

    // Without the runner's login (and in another job: the container's own
    // Docker config, in the job's temp folder, is gone too) it is refused.
    std::fs::remove_file(&config).unwrap();
    let refused = step.run();
    assert_ne!(refused.code, 0, "{refused:#?}");
    assert!(refused.stdout.contains("UNAUTHORIZED"), "{refused:#?}");
}
