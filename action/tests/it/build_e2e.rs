//! `ferry build` end to end against the test bed's registries, with no AWS
//! credentials at all: ECR is one registry among others, and these are not
//! ECR hosts. The AWS endpoint points at a recorder that proves no AWS call
//! was made. buildah is the builder (daemonless); the docker paths are in
//! container_build.rs and their argument vectors in build/tests.rs.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::support;

use std::process::Command;

use base64::Engine;
use support::recorder::Recorder;
use support::{Repo, Run, everything, ferry, ferry_with, ferry_without, testbed_url, unique};

/// The login the test bed's login registry accepts (its htpasswd).
const USER: &str = "AWS";
const TOKEN: &str = "123456789012-auth-token";

/// AWS variables a runner (or this machine) might hold: all removed.
const NO_AWS: &[&str] = &[
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "AWS_PROFILE",
    "AWS_REGION",
    "AWS_DEFAULT_REGION",
    "AWS_ROLE_ARN",
    "AWS_WEB_IDENTITY_TOKEN_FILE",
];

fn manifest(registry: &str, repo: &str) -> String {
    format!(
        "project: ferrytest\nregion: us-east-1\nenvironments:\n  staging: {{ cluster: c }}\nbuild:\n  registry: http://{registry}\n  builder: buildah\nservices:\n  hello:\n    paths: [hello/**]\n    dockerfile: hello/Dockerfile\n    context: hello\n    image-repository: {repo}\n"
    )
}

/// `ferry build` with no AWS credentials, the AWS endpoint at `aws` (a
/// recorder), the Docker config in `docker_config`.
fn build_in(
    repo: &Repo,
    sha: &str,
    args: &[&str],
    aws: &Recorder,
    docker_config: &std::path::Path,
    extra: &[(&str, &str)],
) -> Run {
    let config = docker_config.display().to_string();
    let mut env: Vec<(&str, &str)> = vec![
        ("GITHUB_ACTIONS", "true"),
        ("GITHUB_SHA", sha),
        ("GITHUB_REPOSITORY", "acme/platform"),
        ("AWS_ENDPOINT_URL", aws.url.as_str()),
        ("AWS_MAX_ATTEMPTS", "1"),
        ("AWS_EC2_METADATA_DISABLED", "true"),
        ("DOCKER_CONFIG", config.as_str()),
        // Daemonless, unprivileged-friendly buildah settings for this machine.
        ("STORAGE_DRIVER", "vfs"),
        ("BUILDAH_ISOLATION", "chroot"),
    ];
    env.extend_from_slice(extra);
    let mut argv = vec!["build"];
    argv.extend_from_slice(args);
    ferry_without(repo.path(), &argv, &env, NO_AWS)
}

fn build(repo: &Repo, sha: &str, aws: &Recorder) -> Run {
    let config = tempfile::tempdir().unwrap();
    build_in(repo, sha, &[], aws, config.path(), &[])
}

/// A Docker config file as `docker/login-action` leaves it.
fn docker_config_with_login(registry: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let auth = base64::engine::general_purpose::STANDARD.encode(format!("{USER}:{TOKEN}"));
    std::fs::write(
        dir.path().join("config.json"),
        serde_json::json!({ "auths": { registry: { "auth": auth } } }).to_string(),
    )
    .unwrap();
    dir
}

fn skopeo_inspect(reference: &str) -> Option<serde_json::Value> {
    skopeo_inspect_as(reference, None)
}

fn skopeo_inspect_as(reference: &str, creds: Option<&str>) -> Option<serde_json::Value> {
    let mut cmd = Command::new("skopeo");
    cmd.args(["inspect", "--tls-verify=false"]);
    if let Some(creds) = creds {
        cmd.args(["--creds", creds]);
    }
    let out = cmd.arg(format!("docker://{reference}")).output().unwrap();
    out.status
        .success()
        .then(|| serde_json::from_slice(&out.stdout).unwrap())
}

#[test]
fn builds_pushes_labels_then_reuses_through_the_registry_api_without_aws() {
    let aws = Recorder::start();
    let registry = testbed_url("REGISTRY");
    let name = unique("ferry-e2e/hello");
    let repo = Repo::new();
    repo.write(".github/ferry.yml", &manifest(&registry, &name))
        .write(
            "hello/Dockerfile",
            "FROM scratch\nCOPY hello.txt /hello.txt\n",
        )
        .write("hello/hello.txt", "hello\n")
        .write("README.md", "readme\n");
    let sha = repo.commit("hello");

    let first = build(&repo, &sha, &aws);
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
    let second = build(&repo, &sha, &aws);
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
    let third = build(&repo, &sha2, &aws);
    assert_eq!(third.output("reused"), "true", "{third:#?}");

    // A change to the service's files builds a new image.
    repo.write("hello/hello.txt", "hello again\n");
    let sha3 = repo.commit("change");
    let fourth = build(&repo, &sha3, &aws);
    assert_eq!(fourth.output("reused"), "false", "{fourth:#?}");
    assert_ne!(fourth.output("image"), image);

    // Uncommitted changes to its inputs: built, never reused, no content tag.
    repo.write("hello/hello.txt", "hello\n");
    let dirty = build(&repo, &sha3, &aws);
    assert_eq!(dirty.code, 0, "{dirty:#?}");
    assert_eq!(dirty.output("reused"), "false", "{dirty:#?}");
    assert!(
        dirty.stdout.contains("the work tree differs from"),
        "{dirty:#?}"
    );
    assert_ne!(dirty.output("image"), fourth.output("image"));

    // An anonymous registry: no login, and not one AWS call.
    assert_eq!(aws.requests(), Vec::<String>::new());
}

#[test]
fn a_failed_build_pushes_nothing_and_shows_the_builder_error() {
    let aws = Recorder::start();
    let registry = testbed_url("REGISTRY");
    let name = unique("ferry-e2e/broken");
    let repo = Repo::new();
    repo.write(".github/ferry.yml", &manifest(&registry, &name))
        .write("hello/Dockerfile", "FROM scratch\nCOPY missing.txt /x\n");
    let sha = repo.commit("broken");
    let run = build(&repo, &sha, &aws);
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
}

#[test]
fn an_unreachable_registry_is_named_in_one_line() {
    let aws = Recorder::start();
    let name = unique("ferry-e2e/unreachable");
    let repo = Repo::new();
    // Port 9 (discard) on loopback: nothing listens.
    repo.write(".github/ferry.yml", &manifest("127.0.0.1:9", &name))
        .write("hello/Dockerfile", "FROM scratch\n");
    let sha = repo.commit("x");
    let run = build(&repo, &sha, &aws);
    assert_ne!(run.code, 0);
    assert!(
        run.stdout.contains(&format!(
            "registry 127.0.0.1:9 GET manifest {name}:hello-content-"
        )) && run.stdout.contains(": UNREACHABLE: "),
        "{run:#?}"
    );
    assert_eq!(aws.requests(), Vec::<String>::new());
}

/// An ECR host, and only an ECR host, logs in through AWS.
#[test]
fn ecr_unreachable_is_reported() {
    let repo = Repo::new();
    repo.write(
        ".github/ferry.yml",
        &manifest("123456789012.dkr.ecr.us-east-1.amazonaws.com", "x/y"),
    )
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
    let aws = Recorder::start();
    let registry = testbed_url("REGISTRY");
    let prefix = unique("ferry-bench");
    let repo = Repo::new();
    let mut text = format!(
        "project: ferrytest\nregion: us-east-1\nenvironments:\n  staging: {{ cluster: c }}\nbuild:\n  registry: http://{registry}\n  builder: buildah\n  parallel: 2\nservices:\n"
    );
    for service in ["sampleapi", "sampleworker"] {
        text.push_str(&format!(
            "  {service}:\n    context: services/{service}\n    image-repository: {prefix}/{service}\n"
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
    let first = build(&repo, &sha, &aws);
    let first_time = started.elapsed();
    assert_eq!(first.code, 0, "{first:#?}");
    let started = std::time::Instant::now();
    let again = build(&repo, &sha, &aws);
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

/// `--no-push` on a pull request: builds and reports with no credentials,
/// no login, no registry request and no AWS call.
#[test]
fn no_push_builds_and_reports_without_credentials() {
    let aws = Recorder::start();
    // The login registry: a push or a lookup would be refused.
    let registry = testbed_url("AUTH_REGISTRY");
    let name = unique("ferry-nopush/hello");
    let repo = Repo::new();
    // Still on the old key name: it builds, with a deprecation warning.
    let old = manifest(&registry, &name).replace("image-repository:", "ecr-repository:");
    repo.write(".github/ferry.yml", &old)
        .write(
            "hello/Dockerfile",
            "FROM scratch\nCOPY hello.txt /hello.txt\n",
        )
        .write("hello/hello.txt", "hello\n");
    let sha = repo.commit("hello");
    let empty = tempfile::tempdir().unwrap();
    let run = build_in(&repo, &sha, &["--no-push"], &aws, empty.path(), &[]);
    assert_eq!(run.code, 0, "{run:#?}");
    let tag = run.output("tag").to_string();
    assert!(tag.starts_with(&format!("hello-{}-", &sha[..7])), "{tag}");
    assert_eq!(run.output("image"), format!("{registry}/{name}:{tag}"));
    assert_eq!(run.output("reused"), "false");
    assert!(run.stdout.contains("--no-push"), "{run:#?}");
    assert!(
        run.stdout
            .contains("::warning file=.github/ferry.yml,line=13,col=5::")
            && run.stdout.contains(
                "services.hello.ecr-repository is deprecated: it is now image-repository"
            ),
        "{run:#?}"
    );
    assert!(run.summary.contains("| built |"), "{}", run.summary);
    // Built for real: buildah holds the image, labelled.
    let inspect = Command::new("buildah")
        .args([
            "inspect",
            "--type",
            "image",
            &format!("{registry}/{name}:{tag}"),
        ])
        .env("STORAGE_DRIVER", "vfs")
        .output()
        .unwrap();
    assert!(inspect.status.success(), "{inspect:?}");
    let info: serde_json::Value = serde_json::from_slice(&inspect.stdout).unwrap();
    assert_eq!(
        info["OCIv1"]["config"]["Labels"]["org.opencontainers.image.revision"],
        sha.as_str()
    );
    // Nothing reached the registry, nor AWS.
    assert!(
        skopeo_inspect_as(
            &format!("{registry}/{name}:{tag}"),
            Some(&format!("{USER}:{TOKEN}"))
        )
        .is_none()
    );
    assert_eq!(aws.requests(), Vec::<String>::new());
}

/// A registry that requires a login, with the login `docker/login-action`
/// leaves in the Docker config file: build + push, then content-tag reuse
/// through the registry's own API; then the login as inputs; no AWS call,
/// and the password shows nowhere.
#[test]
fn a_login_registry_builds_pushes_and_reuses_without_aws() {
    let aws = Recorder::start();
    let registry = testbed_url("AUTH_REGISTRY");
    let name = unique("ferry-login/hello");
    let repo = Repo::new();
    repo.write(".github/ferry.yml", &manifest(&registry, &name))
        .write(
            "hello/Dockerfile",
            "FROM scratch\nCOPY hello.txt /hello.txt\n",
        )
        .write("hello/hello.txt", "hello\n");
    let sha = repo.commit("hello");
    let creds = format!("{USER}:{TOKEN}");

    // No login anywhere: refused, and the error says where a login comes from.
    let empty = tempfile::tempdir().unwrap();
    let refused = build_in(&repo, &sha, &[], &aws, empty.path(), &[]);
    assert_ne!(refused.code, 0, "{refused:#?}");
    assert!(
        refused
            .stdout
            .contains("requires a login and Ferry has none for it")
            && refused.stdout.contains("docker/login-action"),
        "{refused:#?}"
    );

    // The Docker config file's login.
    let config = docker_config_with_login(&registry);
    let first = build_in(&repo, &sha, &[], &aws, config.path(), &[]);
    assert_eq!(first.code, 0, "{first:#?}");
    assert_eq!(first.output("reused"), "false");
    let tag = first.output("tag").to_string();
    let image = first.output("image").to_string();
    let (uri, digest) = image.split_once('@').unwrap();
    assert_eq!(uri, format!("{registry}/{name}"));
    let pushed = skopeo_inspect_as(&format!("{registry}/{name}:{tag}"), Some(&creds)).unwrap();
    assert_eq!(pushed["Digest"], digest);
    let images: serde_json::Value = serde_json::from_str(first.output("images")).unwrap();
    let content_tag = images["hello"]["content-tag"].as_str().unwrap().to_string();
    assert_eq!(
        skopeo_inspect_as(&format!("{registry}/{name}:{content_tag}"), Some(&creds)).unwrap()["Digest"],
        digest
    );
    // The registry really requires it.
    assert!(skopeo_inspect(&format!("{registry}/{name}:{tag}")).is_none());
    assert!(
        first.summary.contains("kB"),
        "the size is read from the manifest: {}",
        first.summary
    );

    // Same inputs: reused through the registry's API, re-tagged there.
    std::thread::sleep(std::time::Duration::from_millis(1100));
    let second = build_in(&repo, &sha, &[], &aws, config.path(), &[]);
    assert_eq!(second.code, 0, "{second:#?}");
    assert_eq!(second.output("reused"), "true", "{second:#?}");
    assert_eq!(second.output("image"), image);
    let second_tag = second.output("tag");
    assert_ne!(second_tag, tag);
    assert_eq!(
        skopeo_inspect_as(&format!("{registry}/{name}:{second_tag}"), Some(&creds)).unwrap()["Digest"],
        digest
    );

    // The login as inputs (a secret), with no Docker config login: a change
    // builds and pushes again.
    repo.write("hello/hello.txt", "hello again\n");
    let sha2 = repo.commit("change");
    let third = build_in(
        &repo,
        &sha2,
        &[],
        &aws,
        empty.path(),
        &[
            ("INPUT_REGISTRY-USERNAME", USER),
            ("INPUT_REGISTRY-TOKEN", TOKEN),
        ],
    );
    assert_eq!(third.code, 0, "{third:#?}");
    assert_eq!(third.output("reused"), "false");
    assert!(third.stdout.contains("::add-mask::"), "the token is masked");
    let third_tag = third.output("tag");
    assert!(skopeo_inspect_as(&format!("{registry}/{name}:{third_tag}"), Some(&creds)).is_some());

    // Half a login is refused before anything runs.
    let half = build_in(
        &repo,
        &sha2,
        &[],
        &aws,
        empty.path(),
        &[("INPUT_REGISTRY-USERNAME", USER)],
    );
    assert_ne!(half.code, 0);
    assert!(
        everything(&half).contains("registry-username is given without registry-token"),
        "{half:#?}"
    );

    assert_eq!(aws.requests(), Vec::<String>::new(), "no AWS call");
    for run in [&refused, &first, &second, &third, &half] {
        let shown: String = everything(run)
            .lines()
            .filter(|l| !l.starts_with("::add-mask::"))
            .collect();
        assert!(!shown.contains(TOKEN), "the registry password leaked");
    }
}

/// The `run:` of the step named `name` in ci.yml's image job.
fn ci_image_step(name: &str) -> String {
    let text = std::fs::read_to_string(support::root().join(".github/workflows/ci.yml")).unwrap();
    let wf: serde_yaml_ng::Value = serde_yaml_ng::from_str(&text).unwrap();
    let steps = wf["jobs"]["image-build"]["steps"].as_sequence().unwrap();
    steps
        .iter()
        .find(|s| s["name"].as_str() == Some(name))
        .and_then(|s| s["run"].as_str())
        .unwrap_or_else(|| panic!("ci.yml's image-build has no step `{name}`"))
        .to_string()
}

/// ci.yml's image job on a pull request, its `ferry detect` and `ferry
/// build` steps run as written (bash, in a checkout) with no AWS variables
/// and no registry: the repository is a scripted one whose service builds
/// `FROM scratch` (this repository's Dockerfiles need Docker Hub). The
/// runner's `sudo` is a stand-in on PATH that runs its command (the tests
/// already run as root, and this machine has no sudo).
#[test]
fn ci_image_job_runs_as_written_without_aws() {
    let aws = Recorder::start();
    let repo = Repo::new();
    repo.write(
        ".github/ferry.yml",
        "project: ferrytest\nregion: us-east-1\nenvironments:\n  staging: { cluster: c }\nservices:\n  hello:\n    paths: [hello/**]\n    dockerfile: hello/Dockerfile\n    context: hello\n",
    )
    .write("hello/Dockerfile", "FROM scratch\nCOPY hello.txt /hello.txt\n")
    .write("hello/hello.txt", "hello\n")
    .write(".gitignore", "target/\n");
    let base = repo.commit("base");
    repo.write("hello/hello.txt", "hello, pull request\n");
    let head = repo.commit("change");
    let bin = repo.path().join("target/debug");
    std::fs::create_dir_all(&bin).unwrap();
    std::os::unix::fs::symlink(env!("CARGO_BIN_EXE_ferry"), bin.join("ferry")).unwrap();
    let shims = tempfile::tempdir().unwrap();
    let sudo = shims.path().join("sudo");
    std::fs::write(
        &sudo,
        "#!/bin/sh\n# test stand-in for sudo: already root; drop the option\n[ \"$1\" = --preserve-env ] && shift\nexec \"$@\"\n",
    )
    .unwrap();
    let mut perms = std::fs::metadata(&sudo).unwrap().permissions();
    std::os::unix::fs::PermissionsExt::set_mode(&mut perms, 0o755);
    std::fs::set_permissions(&sudo, perms).unwrap();

    let files = tempfile::tempdir().unwrap();
    let event = files.path().join("event.json");
    std::fs::write(
        &event,
        serde_json::json!({
            "number": 7,
            "pull_request": {
                "number": 7,
                "base": { "sha": base, "ref": "main" },
                "head": { "sha": head, "ref": "feature" },
                "changed_files": 1
            },
            "repository": { "default_branch": "main", "full_name": "acme/platform" }
        })
        .to_string(),
    )
    .unwrap();
    let path = format!(
        "{}:{}",
        shims.path().display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let step = |name: &str, extra: &[(&str, &str)]| {
        let output = files.path().join(format!("{name}.out"));
        let mut bash = Command::new("bash");
        for (key, _) in std::env::vars() {
            if ["GITHUB_", "RUNNER_", "INPUT_", "AWS_"]
                .iter()
                .any(|p| key.starts_with(p))
            {
                bash.env_remove(&key);
            }
        }
        bash.args(["-e", "-c", &ci_image_step(name)])
            .current_dir(repo.path())
            .env("PATH", &path)
            .env("GITHUB_ACTIONS", "true")
            .env("GITHUB_EVENT_NAME", "pull_request")
            .env("GITHUB_EVENT_PATH", &event)
            .env("GITHUB_SHA", &head)
            .env("GITHUB_REPOSITORY", "acme/platform")
            .env("GITHUB_OUTPUT", &output)
            .env("GITHUB_STEP_SUMMARY", files.path().join("summary"))
            .env("GITHUB_TOKEN", "ghs_test")
            .env("GITHUB_API_URL", testbed_url("PRISM_URL"))
            .env("AWS_ENDPOINT_URL", &aws.url)
            .env("AWS_EC2_METADATA_DISABLED", "true")
            .env("STORAGE_DRIVER", "vfs")
            .env("BUILDAH_ISOLATION", "chroot");
        for k in NO_AWS {
            bash.env_remove(k);
        }
        for (k, v) in extra {
            bash.env(k, v);
        }
        let out = bash.output().unwrap();
        let text = std::fs::read_to_string(&output).unwrap_or_default();
        (out, support::parse_outputs(&text))
    };
    let (detect, outputs) = step("ferry detect", &[]);
    assert!(detect.status.success(), "{detect:?}");
    assert_eq!(outputs["any"], "true", "{outputs:?}");
    let (build, outputs) = step("ferry build", &[("SERVICES", outputs["services"].as_str())]);
    assert!(build.status.success(), "{build:?}");
    let tag = &outputs["tag"];
    assert!(
        tag.starts_with(&format!("hello-{}-", &head[..7])),
        "{outputs:?}"
    );
    assert!(
        outputs["image"].ends_with(&format!("/ferrytest/hello:{tag}")),
        "{outputs:?}"
    );
    assert_eq!(aws.requests(), Vec::<String>::new(), "no AWS call");
}
