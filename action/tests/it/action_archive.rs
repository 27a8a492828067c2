//! The action as GitHub delivers it to another repository: `git archive`
//! output of this repository (no `.git`), outside the workspace, as the
//! runner unpacks `uses: owner/ferry@ref` into `_actions/`.
//!
//! The image's source identity (`container-run source`, the
//! `dev.ferry.source` label) is the same from the archive as from a clone
//! of the same commit, and covers exactly what the image build reads (the
//! context `container-run context` makes): each kind of file it reads
//! changes it, nothing else does. The composite action then builds its image
//! from the archive's own files, in a fresh repository whose default branch
//! is `master`, against the test bed's docker daemon, labelled with the hash
//! a clone computes, and runs Ferry in it there.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::support;
use crate::support::container::{self as container_support, Docker};

use std::path::{Path, PathBuf};
use std::process::Command;

use support::{git_in, parse_outputs, root};

/// `git archive HEAD` of this repository, unpacked (no .git).
fn archive() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let tar = dir.path().join("ferry.tar");
    git_in(
        &root(),
        &["archive", "--output", tar.to_str().unwrap(), "HEAD"],
    );
    let unpacked = dir.path().join("ferry");
    std::fs::create_dir_all(&unpacked).unwrap();
    let status = Command::new("tar")
        .arg("-xf")
        .arg(&tar)
        .arg("-C")
        .arg(&unpacked)
        .status()
        .unwrap();
    assert!(status.success());
    std::fs::remove_file(&tar).unwrap();
    assert!(!unpacked.join(".git").exists());
    dir
}

/// A clone of this repository at the same commit.
/// `action/container-run args` of the action in `action_root`.
fn container_run(action_root: &Path, args: &[&str]) -> String {
    let out = Command::new(action_root.join("action/container-run"))
        .args(args)
        .current_dir(std::env::temp_dir())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "container-run {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

fn hash(action_root: &Path) -> String {
    container_run(action_root, &["source"]).trim().to_string()
}

/// Every file under `dir`, relative, sorted.
fn files_under(dir: &Path) -> Vec<String> {
    fn walk(base: &Path, dir: &Path, out: &mut Vec<String>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                walk(base, &path, out);
            } else {
                out.push(
                    path.strip_prefix(base)
                        .unwrap()
                        .to_string_lossy()
                        .into_owned(),
                );
            }
        }
    }
    let mut out = Vec::new();
    walk(dir, dir, &mut out);
    out.sort();
    out
}

#[test]
fn the_source_identity_is_the_same_from_an_archive_and_covers_what_the_image_reads() {
    let archive = archive();
    let clone = support::clone_head();
    let (archived, cloned) = (archive.path().join("ferry"), clone.path().join("ferry"));
    let base = hash(&cloned);
    assert_eq!(base.len(), 32, "{base}");
    assert!(base.bytes().all(|b| b.is_ascii_hexdigit()), "{base}");
    assert_eq!(hash(&archived), base, "the archive and the clone agree");
    assert_eq!(
        container_run(&archived, &["files"]),
        container_run(&cloned, &["files"])
    );

    // The build context holds exactly those files (and empty sources for
    // the other members), and cargo loads the workspace from it as it is
    // locked.
    let listed: Vec<String> = container_run(&archived, &["files"])
        .lines()
        .map(str::to_string)
        .collect();
    let context = tempfile::tempdir().unwrap();
    container_run(&archived, &["context", context.path().to_str().unwrap()]);
    let copied = files_under(context.path());
    let stubs: Vec<&String> = copied.iter().filter(|f| !listed.contains(f)).collect();
    assert!(
        stubs
            .iter()
            .all(|f| f.starts_with("services/") && f.ends_with("/src/lib.rs")),
        "{stubs:?}"
    );
    for f in &listed {
        assert!(copied.contains(f), "{f} is hashed but not in the context");
    }
    assert!(
        stubs
            .iter()
            .all(|f| std::fs::read(context.path().join(f)).unwrap().is_empty())
    );
    let target = tempfile::tempdir().unwrap();
    let metadata = Command::new("cargo")
        .args(["metadata", "--locked", "--offline", "--format-version", "1"])
        .current_dir(context.path())
        .env("CARGO_TARGET_DIR", target.path())
        .output()
        .unwrap();
    assert!(
        metadata.status.success(),
        "cargo cannot load the image's context: {}",
        String::from_utf8_lossy(&metadata.stderr)
    );

    // Each kind of file the build reads changes the identity; back as it
    // was, the identity is back.
    let change = |path: &str, edit: &dyn Fn(&Path)| -> String {
        let file: PathBuf = cloned.join(path);
        let before = std::fs::read(&file).ok();
        edit(&file);
        let changed = hash(&cloned);
        match before {
            Some(bytes) => std::fs::write(&file, bytes).unwrap(),
            None => std::fs::remove_file(&file).unwrap(),
        }
        assert_eq!(hash(&cloned), base, "{path} restored");
        changed
    };
    let append = |f: &Path| {
        let mut text = std::fs::read_to_string(f).unwrap();
        text.push_str("\n# a change\n");
        std::fs::write(f, text).unwrap();
    };
    let create = |f: &Path| {
        std::fs::create_dir_all(f.parent().unwrap()).unwrap();
        std::fs::write(f, "[build]\nrustflags = [\"-C\", \"target-cpu=native\"]\n").unwrap();
    };
    for (path, edit) in [
        ("action/src/lib.rs", &append as &dyn Fn(&Path)),
        ("action/Cargo.toml", &append),
        ("action/Dockerfile", &append),
        ("action/templates/deploy-comment.md.tera", &append),
        ("Cargo.toml", &append),
        ("Cargo.lock", &append),
        ("services/sampleapi/Cargo.toml", &append),
        ("services/telemetry/Cargo.toml", &append),
        (".cargo/config.toml", &create),
        ("rust-toolchain.toml", &create),
        ("action/NEW.md", &create),
    ] {
        assert_ne!(change(path, edit), base, "{path} is read by the build");
    }
    // What the build does not read leaves it alone.
    for (path, edit) in [
        ("action/action.yml", &append as &dyn Fn(&Path)),
        ("action.yml", &append),
        ("README.md", &append),
        ("services/sampleapi/src/main.rs", &append),
        ("services/sampleapi/Dockerfile", &append),
        ("terraform/NEW.tf", &create),
    ] {
        assert_eq!(change(path, edit), base, "{path} is not read by the build");
    }
    // The executable bit is part of a file's identity.
    let script = cloned.join("action/container-run");
    let status = Command::new("chmod")
        .arg("-x")
        .arg(&script)
        .status()
        .unwrap();
    assert!(status.success());
    let changed = Command::new("bash")
        .arg(&script)
        .arg("source")
        .output()
        .unwrap();
    assert_ne!(String::from_utf8_lossy(&changed.stdout).trim(), base);
}

/// The composite action (action/action.yml's steps through container-run)
/// and the container action (the root action.yml) from the archive, in
/// another repository whose default branch is `master`: the composite
/// builds the image from its own files and labels it with the hash a clone
/// computes, then runs Ferry there; the container action's Dockerfile is
/// built with the action's folder as the context and runs Ferry there too.
#[test]
fn both_actions_from_an_archive_build_and_run_in_another_repository() {
    let Some(docker) =
        Docker::get("both_actions_from_an_archive_build_and_run_in_another_repository")
    else {
        return;
    };
    let archive = archive();
    let action = archive.path().join("ferry");
    let expected = hash(&support::clone_head().path().join("ferry"));

    // Another team's repository: default branch master, one service.
    let other = tempfile::tempdir().unwrap();
    let repo = other.path();
    git_in(repo, &["init", "-q", "-b", "master"]);
    git_in(repo, &["config", "user.email", "dev@example.com"]);
    git_in(repo, &["config", "user.name", "Dev"]);
    std::fs::create_dir_all(repo.join(".github")).unwrap();
    std::fs::create_dir_all(repo.join("api")).unwrap();
    std::fs::write(
        repo.join(".github/ferry.yml"),
        "project: shop\nregion: us-east-1\nenvironments:\n  staging: { cluster: shop-staging }\nservices:\n  api:\n    paths: [api/**]\n    dockerfile: api/Dockerfile\n    context: api\n",
    )
    .unwrap();
    std::fs::write(
        repo.join("api/Dockerfile"),
        "FROM scratch\nCOPY main.go /\n",
    )
    .unwrap();
    std::fs::write(repo.join("api/main.go"), "package main\n").unwrap();
    git_in(repo, &["add", "-A"]);
    git_in(repo, &["commit", "-q", "-m", "first"]);
    let sha = git_in(repo, &["rev-parse", "HEAD"]).trim().to_string();
    container_support::chown_workspace(repo);

    // The image step, as the composite runs it, from the archive.
    let steps = tempfile::tempdir().unwrap();
    let output = steps.path().join("set_output");
    std::fs::write(&output, "").unwrap();
    let binary = steps.path().join("ferry");
    std::fs::copy(env!("CARGO_BIN_EXE_ferry"), &binary).unwrap();
    let _ = Command::new("strip").arg(&binary).status();
    let local = format!("ferry-action:src-{expected}");
    let _ = docker.cmd().args(["rmi", "--force", &local]).output();
    let base = container_support::base_image();
    let out = Command::new(action.join("action/container-run"))
        .arg("image")
        .current_dir(repo)
        .env("DOCKER_HOST", &docker.host)
        .env("DOCKER_BUILDKIT", "0")
        .env("GITHUB_OUTPUT", &output)
        .env("GITHUB_WORKSPACE", repo)
        .env(
            "FERRY_PINNED_IMAGE",
            "docker://ghcr.io/example-org/ferry-action@sha256:0000000000000000000000000000000000000000000000000000000000000000",
        )
        .env(
            "FERRY_IMAGE_BUILD_ARGS",
            format!(
                "--build-arg DOCKER_CLI_IMAGE={base} --build-arg RUST_IMAGE={base} --build-arg RUNTIME_IMAGE={base} --build-arg FERRY_BINARY=context"
            ),
        )
        .env("FERRY_IMAGE_BINARY", &binary)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(!stderr.contains("fatal"), "{stderr}");
    let outputs = parse_outputs(&std::fs::read_to_string(&output).unwrap());
    assert_eq!(outputs["source"], expected);
    assert_eq!(outputs["image"], local);
    let label = docker.ok(&[
        "image",
        "inspect",
        "--format",
        "{{index .Config.Labels \"dev.ferry.source\"}}",
        &local,
    ]);
    assert_eq!(label.trim(), expected, "the label is what a clone computes");

    // The ferry step: detect on the first push of master.
    let event = serde_json::json!({
        "ref": "refs/heads/master", "before": "0".repeat(40), "after": sha,
        "created": true, "forced": false, "deleted": false,
        "repository": { "default_branch": "master", "full_name": "shop/platform" }
    });
    let step = container_support::CompositeStep {
        docker: &docker,
        action_root: &action,
        image: &local,
        workspace: repo,
        event_name: "push",
        event: event.clone(),
        env: [
            ("GITHUB_REF", "refs/heads/master"),
            ("GITHUB_SHA", sha.as_str()),
            ("GITHUB_REPOSITORY", "shop/platform"),
            ("INPUT_COMMAND", "detect"),
            ("INPUT_MANIFEST", ".github/ferry.yml"),
            ("INPUT_GITHUB-TOKEN", "ghs_x"),
        ]
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .into(),
    }
    .run();
    assert_eq!(step.code, 0, "{step:#?}");
    assert_eq!(step.output("services"), r#"["api"]"#);

    // The container action (the root action.yml, `image: Dockerfile` before
    // the first publish), as the runner builds it: `docker build -f
    // <action>/Dockerfile <action>`, the action's own folder the context.
    // The test bed's only difference: local bases and the ferry binary
    // cargo built (Docker Hub is out of reach), passed as build arguments.
    let root_action: serde_yaml_ng::Value =
        serde_yaml_ng::from_str(&std::fs::read_to_string(action.join("action.yml")).unwrap())
            .unwrap();
    assert_eq!(root_action["runs"]["image"].as_str(), Some("Dockerfile"));
    std::fs::copy(&binary, action.join("ferry")).unwrap();
    let tag = "ferry-root-action:archive";
    let built = docker
        .cmd()
        .env("DOCKER_BUILDKIT", "0")
        .args(["build", "--quiet", "--tag", tag, "--file"])
        .arg(action.join("Dockerfile"))
        .args(["--build-arg", &format!("DOCKER_CLI_IMAGE={base}")])
        .args(["--build-arg", &format!("RUST_IMAGE={base}")])
        .args(["--build-arg", &format!("RUNTIME_IMAGE={base}")])
        .args(["--build-arg", "FERRY_BINARY=context"])
        .arg(&action)
        .output()
        .unwrap();
    assert!(
        built.status.success(),
        "the runner's build of the root action: {}",
        String::from_utf8_lossy(&built.stderr)
    );
    let step = container_support::ContainerStep {
        docker: &docker,
        image: tag,
        args: vec![],
        workspace: repo,
        event_name: "push",
        event,
        inputs: container_support::runner_inputs(&[("command", "detect")], "ghs_x"),
        env: vec![
            ("GITHUB_SHA".into(), sha.clone()),
            ("GITHUB_REF".into(), "refs/heads/master".into()),
        ],
    }
    .run();
    assert_eq!(step.code, 0, "{step:#?}");
    assert_eq!(step.output("services"), r#"["api"]"#);
    docker.ok(&["rmi", "--force", tag]);
}
