//! Ferry's own release (.github/workflows/release-action.yml), its shell
//! steps (scripts/release-action) rehearsed on the test bed: in a clone of
//! this repository tagged v1.2.3, the image is built from the local base
//! and pushed to the test bed's registry, labelled with the clone's source
//! hash; the pin commit (on top of the tag) points both action.yml files at
//! the pushed digest; v1 moves to it; and the composite action of the pin
//! commit recognises the pinned image as built from its own sources (the
//! pin changes only the action.yml files, which the hash leaves out).
//! The static binary step (a release build) is run by hand: README.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::support;
use crate::support::container::{self as container_support, Docker};

use std::process::Command;

use support::{git_in, parse_outputs, testbed_url, unique};

#[test]
fn the_release_steps_push_the_image_pin_it_and_move_the_major_tag() {
    let Some(docker) =
        Docker::get("the_release_steps_push_the_image_pin_it_and_move_the_major_tag")
    else {
        return;
    };
    let dir = support::clone_head();
    let clone = dir.path().join("ferry");
    let sha = git_in(&clone, &["rev-parse", "HEAD"]).trim().to_string();
    git_in(&clone, &["tag", "v1.2.3"]);
    let source = |dir: &std::path::Path| {
        let out = Command::new(dir.join("action/container-run"))
            .arg("source")
            .output()
            .unwrap();
        String::from_utf8(out.stdout).unwrap().trim().to_string()
    };
    let hash = source(&clone);

    let binary = dir.path().join("ferry-bin");
    std::fs::copy(env!("CARGO_BIN_EXE_ferry"), &binary).unwrap();
    let _ = Command::new("strip").arg(&binary).status();
    let base = container_support::base_image();
    let build_args = format!(
        "--build-arg DOCKER_CLI_IMAGE={base} --build-arg RUST_IMAGE={base} --build-arg RUNTIME_IMAGE={base} --build-arg FERRY_BINARY=context"
    );
    let script = |args: &[&str]| {
        let out = Command::new(clone.join("scripts/release-action"))
            .args(args)
            .env("DOCKER_HOST", &docker.host)
            .env("DOCKER_BUILDKIT", "0")
            .env("FERRY_IMAGE_BUILD_ARGS", &build_args)
            .env("FERRY_IMAGE_BINARY", &binary)
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
        assert!(out.status.success(), "release-action {args:?}: {stderr}");
        String::from_utf8(out.stdout).unwrap().trim().to_string()
    };

    // A tag that is not vX.Y.Z is refused before anything is built.
    let bad = Command::new(clone.join("scripts/release-action"))
        .args(["image", "127.0.0.1:1/x", "v1"])
        .output()
        .unwrap();
    assert_eq!(bad.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&bad.stderr).contains("vX.Y.Z"));

    let registry = testbed_url("REGISTRY");
    let image = format!("{registry}/{}", unique("ferry-release/ferry-action"));
    let digest = script(&["image", &image, "v1.2.3"]);
    assert!(
        digest.starts_with("sha256:") && digest.len() == 71,
        "{digest}"
    );
    let pinned = format!("{image}@{digest}");
    docker.ok(&["pull", "--quiet", &pinned]);
    let label = docker.ok(&[
        "image",
        "inspect",
        "--format",
        "{{index .Config.Labels \"dev.ferry.source\"}}",
        &pinned,
    ]);
    assert_eq!(
        label.trim(),
        hash,
        "the pushed image is labelled with its sources"
    );

    let commit = script(&["pin", &image, &digest, "v1.2.3"]);
    assert_eq!(commit.len(), 40, "{commit}");
    assert_eq!(
        git_in(&clone, &["rev-parse", &format!("{commit}^")]).trim(),
        sha,
        "the pin commit sits on the tag's commit"
    );
    let changed = git_in(&clone, &["diff", "--name-only", &sha, &commit]);
    assert_eq!(changed.trim(), "action.yml\naction/action.yml");
    for file in ["action.yml", "action/action.yml"] {
        let text = git_in(&clone, &["show", &format!("{commit}:{file}")]);
        assert!(text.contains(&format!("docker://{pinned}\n")), "{file}");
    }
    let major = script(&["move", "v1.2.3", &commit]);
    assert_eq!(major, "v1");
    assert_eq!(git_in(&clone, &["rev-parse", "v1^{commit}"]).trim(), commit);

    // The pin commit's composite action runs the image it pins.
    assert_eq!(source(&clone), hash, "pinning leaves the source hash alone");
    let output = dir.path().join("set_output");
    std::fs::write(&output, "").unwrap();
    docker.ok(&["rmi", "--force", &pinned]);
    let out = Command::new(clone.join("action/container-run"))
        .arg("image")
        .env("DOCKER_HOST", &docker.host)
        .env("GITHUB_OUTPUT", &output)
        .env("FERRY_PINNED_IMAGE", format!("docker://{pinned}"))
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(stderr.contains("was built from these sources"), "{stderr}");
    assert_eq!(
        parse_outputs(&std::fs::read_to_string(&output).unwrap())["image"],
        pinned
    );
}
