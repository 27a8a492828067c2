//! `ferry build` end to end against the test bed: moto (ECR API: login,
//! describe, re-tag) paired with Debian's docker-registry (the images), and
//! buildah as the builder (no Docker daemon here). The docker buildx path
//! is covered by its exact argument vector (unit tests in build/tests.rs).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::support;

use std::process::Command;

use base64::Engine;
use support::{Repo, Run, everything, ferry, ferry_with, testbed_url, unique};

fn manifest(registry: &str, repo: &str) -> String {
    format!(
        "project: ferrytest\nregion: us-east-1\nenvironments:\n  staging: {{ cluster: c }}\nbuild:\n  registry: http://{registry}\n  builder: buildah\nservices:\n  hello:\n    paths: [hello/**]\n    dockerfile: hello/Dockerfile\n    context: hello\n    ecr-repository: {repo}\n"
    )
}

fn sdk_config(moto: &str) -> aws_sdk_ecr::Config {
    aws_sdk_ecr::Config::builder()
        .behavior_version(aws_sdk_ecr::config::BehaviorVersion::latest())
        .region(aws_sdk_ecr::config::Region::new("us-east-1"))
        .endpoint_url(moto)
        .credentials_provider(aws_sdk_ecr::config::Credentials::new(
            "test", "test", None, None, "test",
        ))
        .build()
}

/// Creates the ECR repository in moto; returns the password moto's
/// GetAuthorizationToken hands out (the canary).
fn create_repository(moto: &str, name: &str) -> String {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let ecr = aws_sdk_ecr::Client::from_conf(sdk_config(moto));
        ecr.create_repository()
            .repository_name(name)
            .send()
            .await
            .unwrap();
        let token = ecr.get_authorization_token().send().await.unwrap();
        let raw = token.authorization_data()[0]
            .authorization_token()
            .unwrap()
            .to_string();
        let decoded = base64::engine::general_purpose::STANDARD
            .decode(&raw)
            .unwrap();
        let text = String::from_utf8(decoded).unwrap();
        text.split_once(':').unwrap().1.to_string()
    })
}

fn build(repo: &Repo, sha: &str, extra: &[(&str, &str)]) -> Run {
    let moto = testbed_url("MOTO_URL");
    let mut env: Vec<(&str, &str)> = vec![
        ("GITHUB_ACTIONS", "true"),
        ("GITHUB_SHA", sha),
        ("GITHUB_REPOSITORY", "acme/platform"),
        ("AWS_ENDPOINT_URL", moto.as_str()),
        ("AWS_ACCESS_KEY_ID", "test"),
        ("AWS_SECRET_ACCESS_KEY", "test"),
        ("AWS_REGION", "us-east-1"),
        // Daemonless, unprivileged-friendly buildah settings for this machine.
        ("STORAGE_DRIVER", "vfs"),
        ("BUILDAH_ISOLATION", "chroot"),
    ];
    env.extend_from_slice(extra);
    ferry_with(repo.path(), &["build"], &env)
}

fn skopeo_inspect(reference: &str) -> Option<serde_json::Value> {
    let out = Command::new("skopeo")
        .args([
            "inspect",
            "--tls-verify=false",
            &format!("docker://{reference}"),
        ])
        .output()
        .unwrap();
    out.status
        .success()
        .then(|| serde_json::from_slice(&out.stdout).unwrap())
}

#[test]
fn builds_pushes_labels_then_reuses_and_never_leaks_the_token() {
    let moto = testbed_url("MOTO_URL");
    let registry = testbed_url("REGISTRY");
    let name = unique("ferry-e2e/hello");
    let canary = create_repository(&moto, &name);
    let repo = Repo::new();
    repo.write(".github/ferry.yml", &manifest(&registry, &name))
        .write(
            "hello/Dockerfile",
            "FROM scratch\nCOPY hello.txt /hello.txt\n",
        )
        .write("hello/hello.txt", "hello\n")
        .write("README.md", "readme\n");
    let sha = repo.commit("hello");

    let first = build(&repo, &sha, &[]);
    assert_eq!(first.code, 0, "{first:#?}");
    assert_eq!(first.output("reused"), "false");
    let tag = first.output("tag").to_string();
    assert!(tag.starts_with(&format!("hello-{}-", &sha[..7])), "{tag}");
    let image = first.output("image").to_string();
    let (uri, digest) = image.split_once('@').unwrap();
    assert_eq!(uri, format!("{registry}/{name}"));
    let inspected = skopeo_inspect(&format!("{registry}/{name}:{tag}")).expect("tag pushed");
    assert_eq!(inspected["Digest"], digest);
    let labels = &inspected["Labels"];
    assert_eq!(labels["org.opencontainers.image.revision"], sha.as_str());
    assert_eq!(labels["org.opencontainers.image.version"], tag.as_str());
    assert_eq!(labels["org.opencontainers.image.title"], "hello");
    assert_eq!(
        labels["org.opencontainers.image.source"],
        "https://github.com/acme/platform"
    );
    assert!(labels["org.opencontainers.image.created"].is_string());
    let images: serde_json::Value = serde_json::from_str(first.output("images")).unwrap();
    let content_tag = images["hello"]["content-tag"].as_str().unwrap().to_string();
    let by_content = skopeo_inspect(&format!("{registry}/{name}:{content_tag}")).unwrap();
    assert_eq!(by_content["Digest"], digest);
    assert!(first.summary.contains("| built |"), "{}", first.summary);
    assert!(first.stdout.contains("::group::build hello"));

    // Same inputs: nothing is built, the digest is re-tagged.
    std::thread::sleep(std::time::Duration::from_millis(1100));
    let second = build(&repo, &sha, &[]);
    assert_eq!(second.code, 0, "{second:#?}");
    assert_eq!(second.output("reused"), "true");
    assert_eq!(second.output("image"), image);
    assert!(!second.stdout.contains("::group::build"), "{second:#?}");
    assert!(second.summary.contains("| reused |"), "{}", second.summary);
    let second_tag = second.output("tag");
    assert_ne!(second_tag, tag);
    assert_eq!(
        skopeo_inspect(&format!("{registry}/{name}:{second_tag}")).unwrap()["Digest"],
        digest
    );

    // An unrelated change (outside the service's inputs) reuses too.
    repo.write("README.md", "changed\n");
    let sha2 = repo.commit("docs");
    let third = build(&repo, &sha2, &[]);
    assert_eq!(third.output("reused"), "true", "{third:#?}");

    // A change to the service's files builds a new image.
    repo.write("hello/hello.txt", "hello again\n");
    let sha3 = repo.commit("change");
    let fourth = build(&repo, &sha3, &[]);
    assert_eq!(fourth.output("reused"), "false", "{fourth:#?}");
    assert_ne!(fourth.output("image"), image);

    // Uncommitted changes to its inputs: built, never reused, no content tag.
    repo.write("hello/hello.txt", "hello\n");
    let dirty = build(&repo, &sha3, &[]);
    assert_eq!(dirty.code, 0, "{dirty:#?}");
    assert_eq!(dirty.output("reused"), "false", "{dirty:#?}");
    assert!(
        dirty.stdout.contains("the work tree differs from"),
        "{dirty:#?}"
    );
    assert_ne!(dirty.output("image"), fourth.output("image"));

    // The ECR password was masked and appears nowhere.
    assert!(first.stdout.contains("::add-mask::"));
    for run in [&first, &second, &third, &fourth, &dirty] {
        assert!(!everything(run).contains(&canary), "canary leaked");
    }
}

#[test]
fn a_failed_build_pushes_nothing_and_shows_the_builder_error() {
    let moto = testbed_url("MOTO_URL");
    let registry = testbed_url("REGISTRY");
    let name = unique("ferry-e2e/broken");
    let canary = create_repository(&moto, &name);
    let repo = Repo::new();
    repo.write(".github/ferry.yml", &manifest(&registry, &name))
        .write("hello/Dockerfile", "FROM scratch\nCOPY missing.txt /x\n");
    let sha = repo.commit("broken");
    let run = build(&repo, &sha, &[]);
    assert_ne!(run.code, 0);
    assert!(run.stdout.contains("::group::build hello"), "{run:#?}");
    assert!(run.stdout.contains("missing.txt"), "{run:#?}");
    assert!(
        run.stdout
            .contains("::error::1 of 1 image builds failed: hello:"),
        "{run:#?}"
    );
    assert!(run.summary.contains("failed"), "{}", run.summary);
    assert!(!run.outputs.contains_key("image"));
    let tags = Command::new("skopeo")
        .args([
            "list-tags",
            "--tls-verify=false",
            &format!("docker://{registry}/{name}"),
        ])
        .output()
        .unwrap();
    assert!(!String::from_utf8_lossy(&tags.stdout).contains("hello-"));
    assert!(!everything(&run).contains(&canary));
}

#[test]
fn an_unreachable_registry_fails_the_login_without_leaking_the_token() {
    let moto = testbed_url("MOTO_URL");
    let name = unique("ferry-e2e/unreachable");
    let canary = create_repository(&moto, &name);
    let repo = Repo::new();
    // Port 9 (discard) on loopback: nothing listens.
    repo.write(".github/ferry.yml", &manifest("127.0.0.1:9", &name))
        .write("hello/Dockerfile", "FROM scratch\n");
    let sha = repo.commit("x");
    let run = build(&repo, &sha, &[]);
    assert_ne!(run.code, 0);
    assert!(
        run.stdout.contains("buildah login to 127.0.0.1:9 failed"),
        "{run:#?}"
    );
    assert!(!everything(&run).contains(&canary));
}

#[test]
fn ecr_unreachable_is_reported() {
    let repo = Repo::new();
    repo.write(".github/ferry.yml", &manifest("127.0.0.1:9", "x/y"))
        .write("hello/Dockerfile", "FROM scratch\n");
    let sha = repo.commit("x");
    let run = ferry_with(
        repo.path(),
        &["build"],
        &[
            ("GITHUB_SHA", sha.as_str()),
            ("AWS_ENDPOINT_URL", "http://127.0.0.1:9"),
            ("AWS_ACCESS_KEY_ID", "test"),
            ("AWS_SECRET_ACCESS_KEY", "test"),
            ("AWS_MAX_ATTEMPTS", "1"),
        ],
    );
    assert_ne!(run.code, 0);
    assert!(
        run.stderr
            .contains("cannot reach ECR (GetAuthorizationToken)"),
        "{run:#?}"
    );
}

#[test]
fn unknown_service_and_missing_dockerfile_fail_before_any_call() {
    let repo = Repo::new();
    repo.write(".github/ferry.yml", &manifest("127.0.0.1:9", "x/y"))
        .write("hello/app.txt", "x\n");
    repo.commit("no dockerfile");
    let run = ferry(repo.path(), &["build", "--services", "nope"]);
    assert_ne!(run.code, 0);
    assert!(run.stderr.contains("unknown service `nope`"), "{run:#?}");
    // Inputs the runner sets empty are absent; bad ones are named.
    let run = ferry_with(
        repo.path(),
        &["build", "--services", "nope"],
        &[
            ("INPUT_BUILDER", ""),
            ("INPUT_PARALLEL", ""),
            ("INPUT_REGISTRY", ""),
        ],
    );
    assert!(run.stderr.contains("unknown service `nope`"), "{run:#?}");
    let run = ferry(repo.path(), &["build", "--builder", "podman"]);
    assert!(
        run.stderr.contains("invalid value 'podman' for '--builder")
            && run.stderr.contains("[possible values: docker, buildah]"),
        "{run:#?}"
    );
    let run = ferry(repo.path(), &["build", "--parallel", "0"]);
    assert!(run.stderr.contains("from 1 to 16"), "{run:#?}");
    let run = ferry(repo.path(), &["build"]);
    assert_ne!(run.code, 0);
    assert!(
        run.stderr
            .contains("hello/Dockerfile: the Dockerfile of `hello` does not exist"),
        "{run:#?}"
    );
}

/// The benchmark of the issue: a no-change re-run of both services (built in
/// parallel the first time) reuses both images. The services here are
/// stand-ins named like the real ones, with `FROM scratch` Dockerfiles: the
/// real Dockerfiles need Docker Hub. A reuse builds nothing, so its time
/// does not depend on the Dockerfile.
#[test]
fn a_no_change_rerun_of_both_services_reuses_both_quickly() {
    let moto = testbed_url("MOTO_URL");
    let registry = testbed_url("REGISTRY");
    let prefix = unique("ferry-bench");
    let repo = Repo::new();
    let mut text = format!(
        "project: ferrytest\nregion: us-east-1\nenvironments:\n  staging: {{ cluster: c }}\nbuild:\n  registry: http://{registry}\n  builder: buildah\n  parallel: 2\nservices:\n"
    );
    for service in ["sampleapi", "sampleworker"] {
        create_repository(&moto, &format!("{prefix}/{service}"));
        text.push_str(&format!(
            "  {service}:\n    context: services/{service}\n    ecr-repository: {prefix}/{service}\n"
        ));
        repo.write(
            &format!("services/{service}/Dockerfile"),
            "FROM scratch\nCOPY bin /bin\n",
        )
        .write(&format!("services/{service}/bin"), service);
    }
    repo.write(".github/ferry.yml", &text);
    let sha = repo.commit("two services");
    let started = std::time::Instant::now();
    let first = build(&repo, &sha, &[]);
    let first_time = started.elapsed();
    assert_eq!(first.code, 0, "{first:#?}");
    let started = std::time::Instant::now();
    let again = build(&repo, &sha, &[]);
    let again_time = started.elapsed();
    assert_eq!(again.code, 0, "{again:#?}");
    let images: serde_json::Value = serde_json::from_str(again.output("images")).unwrap();
    for service in ["sampleapi", "sampleworker"] {
        assert_eq!(images[service]["reused"], true, "{again:#?}");
    }
    assert!(
        again.summary.contains("0 built, 2 reused"),
        "{}",
        again.summary
    );
    eprintln!(
        "bench: first run (2 builds) {:.2} s; no-change re-run (2 reused) {:.2} s",
        first_time.as_secs_f64(),
        again_time.as_secs_f64()
    );
    assert!(again_time.as_secs() < 10, "a reuse must cost seconds");
}
