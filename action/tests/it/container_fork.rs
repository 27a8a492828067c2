//! A fresh fork's first push: `uses: ./action` (the composite action of
//! action/action.yml) through its script, action/container-run, against the
//! test bed's docker daemon. With the placeholder pin it builds
//! action/Dockerfile once, the next job of the run reuses it (or loads the
//! tarball actions/cache restored); a pinned image built from the same
//! sources is used as it is; one built from other sources (a pull request
//! that changes action/) is not. `run` starts the image as the runner starts
//! a container action, and ferry's outputs land in the step's files.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::support;
use crate::support::container as container_support;
use crate::support::deploy as deploy_support;
use crate::support::root;

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;
use std::time::Instant;

use container_support::Docker;
use support::{git_in, parse_outputs, testbed_url};

const PLACEHOLDER: &str = "docker://ghcr.io/example-org/ferry-action@sha256:0000000000000000000000000000000000000000000000000000000000000000";

/// What the fork's checkout holds: the action, the workspace files its
/// source hash covers, what detect reads, and (for the test bed's local
/// build) the ferry binary cargo built, at the root.
fn fork() -> tempfile::TempDir {
    let dir = deploy_support::copy_repo(
        &[
            "action/Dockerfile",
            "action/container-run",
            "action/action.yml",
            "action/Cargo.toml",
        ]
        .into_iter()
        .chain(deploy_support::EXAMPLE_PATHS.iter().copied())
        .collect::<Vec<_>>(),
    );
    let script = dir.path().join("action/container-run");
    let status = Command::new("chmod")
        .arg("+x")
        .arg(&script)
        .status()
        .unwrap();
    assert!(status.success());
    let binary = dir.path().join("ferry");
    std::fs::copy(env!("CARGO_BIN_EXE_ferry"), &binary).unwrap();
    let _ = Command::new("strip").arg(&binary).status();
    let git = |args: &[&str]| git_in(dir.path(), args);
    support::init_repo(dir.path());
    std::fs::write(dir.path().join(".gitignore"), "/ferry\n").unwrap();
    git(&["add", "-A"]);
    git(&["commit", "-q", "-m", "the fork"]);
    dir
}

struct Script {
    code: i32,
    stderr: String,
    outputs: BTreeMap<String, String>,
    seconds: f64,
}

/// Runs `action/container-run args` in the fork as a composite step would.
fn container_run(
    docker: &Docker,
    fork: &Path,
    args: &[&str],
    env: &[(&str, &str)],
    steps: &Path,
) -> Script {
    let output = steps.join("set_output");
    std::fs::write(&output, "").unwrap();
    let base = container_support::base_image();
    let build_args = format!(
        "--build-arg DOCKER_CLI_IMAGE={base} --build-arg RUST_IMAGE={base} --build-arg RUNTIME_IMAGE={base} --build-arg FERRY_BINARY=context"
    );
    let started = Instant::now();
    let out = Command::new(fork.join("action/container-run"))
        .args(args)
        .current_dir(fork)
        .env("DOCKER_HOST", &docker.host)
        .env("DOCKER_BUILDKIT", "0")
        .env("GITHUB_OUTPUT", &output)
        .env("FERRY_IMAGE_BUILD_ARGS", build_args)
        .env("FERRY_IMAGE_BINARY", fork.join("ferry"))
        .envs(env.iter().copied())
        .output()
        .unwrap();
    Script {
        code: out.status.code().unwrap_or(-1),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        outputs: parse_outputs(&std::fs::read_to_string(&output).unwrap()),
        seconds: started.elapsed().as_secs_f64(),
    }
}

#[test]
fn a_fork_builds_its_image_once_then_reuses_a_pin_of_the_same_sources_only() {
    let Some(docker) =
        Docker::get("a_fork_builds_its_image_once_then_reuses_a_pin_of_the_same_sources_only")
    else {
        return;
    };
    let fork = fork();
    let steps = tempfile::tempdir().unwrap();
    let tar = steps.path().join("cache/ferry-action-image.tar");
    let tar_s = tar.display().to_string();
    let call = |pin: &str| {
        container_run(
            &docker,
            fork.path(),
            &["image"],
            &[("FERRY_PINNED_IMAGE", pin), ("FERRY_IMAGE_TAR", &tar_s)],
            steps.path(),
        )
    };

    // The first job: nothing published, nothing cached: it builds.
    let hash = {
        let out = Command::new(fork.path().join("action/container-run"))
            .arg("source")
            .current_dir(fork.path())
            .output()
            .unwrap();
        String::from_utf8(out.stdout).unwrap().trim().to_string()
    };
    assert_eq!(hash.len(), 32, "{hash}");
    let local = format!("ferry-action:src-{hash}");
    let _ = docker.cmd().args(["rmi", "--force", &local]).output();
    let first = call(PLACEHOLDER);
    assert_eq!(first.code, 0, "{}", first.stderr);
    assert!(
        first
            .stderr
            .contains("no published image is pinned: building"),
        "{}",
        first.stderr
    );
    assert_eq!(first.outputs["image"], local);
    assert_eq!(first.outputs["source"], hash);
    assert!(tar.exists(), "saved for actions/cache");
    eprintln!("first job: built the image in {:.1} s", first.seconds);

    // A later job on the same machine: the image is there.
    let second = call(PLACEHOLDER);
    assert_eq!(second.code, 0, "{}", second.stderr);
    assert!(
        second.stderr.contains("built earlier in this workflow run"),
        "{}",
        second.stderr
    );
    assert!(
        !second.stderr.contains("built ferry-action"),
        "{}",
        second.stderr
    );
    eprintln!("same machine: {:.1} s", second.seconds);

    // A later job on another machine: actions/cache restored the tarball.
    docker.ok(&["rmi", "--force", &local]);
    let third = call(PLACEHOLDER);
    assert_eq!(third.code, 0, "{}", third.stderr);
    assert!(third.stderr.contains("from the cache"), "{}", third.stderr);
    assert!(
        !third.stderr.contains("built ferry-action"),
        "{}",
        third.stderr
    );
    eprintln!("another machine (docker load): {:.1} s", third.seconds);

    // Published: the pin names an image built from these sources.
    let registry = testbed_url("REGISTRY");
    let remote = format!("{registry}/ferry-action-fork:{hash}");
    docker.ok(&["tag", &local, &remote]);
    let pushed = docker.ok(&["push", &remote]);
    let digest = pushed
        .lines()
        .find_map(|l| l.split_once(": digest: "))
        .map(|(_, rest)| rest.split_whitespace().next().unwrap().to_string())
        .unwrap();
    let pin = format!("docker://{registry}/ferry-action-fork@{digest}");
    docker.ok(&["rmi", "--force", &remote]);
    let published = call(&pin);
    assert_eq!(published.code, 0, "{}", published.stderr);
    assert_eq!(
        published.outputs["image"],
        pin.trim_start_matches("docker://")
    );
    assert!(
        published.stderr.contains("was built from these sources"),
        "{}",
        published.stderr
    );
    eprintln!("pinned image (pull): {:.1} s", published.seconds);

    // A pull request that changes action/: the pin is not its code.
    std::fs::write(fork.path().join("action/NOTES.md"), "a change\n").unwrap();
    git_in(fork.path(), &["add", "-A"]);
    git_in(fork.path(), &["commit", "-q", "-m", "change the action"]);
    let changed = call(&pin);
    assert_eq!(changed.code, 0, "{}", changed.stderr);
    assert!(
        changed.stderr.contains("was not built from these sources"),
        "{}",
        changed.stderr
    );
    assert_ne!(changed.outputs["source"], hash);
    assert_eq!(
        changed.outputs["image"],
        format!("ferry-action:src-{}", changed.outputs["source"])
    );
    // A change outside the action keeps the hash.
    std::fs::write(fork.path().join("services/sampleapi/src/extra.rs"), "\n").unwrap();
    git_in(fork.path(), &["add", "-A"]);
    git_in(fork.path(), &["commit", "-q", "-m", "a service change"]);
    let after_service = Command::new(fork.path().join("action/container-run"))
        .arg("source")
        .current_dir(fork.path())
        .output()
        .unwrap();
    assert_eq!(
        String::from_utf8(after_service.stdout).unwrap().trim(),
        changed.outputs["source"]
    );
}

/// `container-run run`: what the composite's `ferry` step does, with the
/// host paths a runner gives a step; ferry's outputs land in the step's
/// GITHUB_OUTPUT file, hyphenated inputs (INPUT_DRY-RUN) included.
#[test]
fn the_composite_step_runs_ferry_with_the_runner_s_mounts_and_variables() {
    let Some(docker) =
        Docker::get("the_composite_step_runs_ferry_with_the_runner_s_mounts_and_variables")
    else {
        return;
    };
    let image = docker.action_image();
    let fork = fork();
    let main_rs = fork.path().join("services/sampleworker/src/main.rs");
    let before = git_in(fork.path(), &["rev-parse", "HEAD"])
        .trim()
        .to_string();
    let text = std::fs::read_to_string(&main_rs).unwrap();
    std::fs::write(&main_rs, format!("{text}\n// change\n")).unwrap();
    git_in(fork.path(), &["commit", "-q", "-am", "worker change"]);
    let after = git_in(fork.path(), &["rev-parse", "HEAD"])
        .trim()
        .to_string();
    container_support::chown_workspace(fork.path());

    let started = Instant::now();
    let step = container_support::CompositeStep {
        docker: &docker,
        action_root: fork.path(),
        image: &image.tag,
        workspace: fork.path(),
        event_name: "push",
        event: serde_json::json!({
            "ref": "refs/heads/main", "before": before, "after": after,
            "forced": false, "created": false, "deleted": false,
            "repository": { "default_branch": "main" }
        }),
        env: [
            ("GITHUB_SHA", after.as_str()),
            ("GITHUB_REPOSITORY", "acme/email-platform"),
            ("INPUT_COMMAND", "detect"),
            ("INPUT_DRY-RUN", "false"),
            ("INPUT_MANIFEST", ".github/ferry.yml"),
            ("INPUT_VALUES", ""),
            ("INPUT_GITHUB-TOKEN", "ghs_x"),
        ]
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .into(),
    }
    .run();
    assert_eq!(step.code, 0, "{step:#?}");
    assert_eq!(step.outputs["services"], r#"["sampleworker"]"#, "{step:#?}");
    assert!(step.summary.contains("sampleworker"));
    eprintln!(
        "composite step (docker run of a local image, detect): {:.1} s",
        started.elapsed().as_secs_f64()
    );
    // The script the composite runs is the one in this repository.
    assert_eq!(
        std::fs::read(fork.path().join("action/container-run")).unwrap(),
        std::fs::read(root().join("action/container-run")).unwrap()
    );
}
