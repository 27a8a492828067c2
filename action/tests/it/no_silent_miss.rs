//! Issue 24, through the binary: detect at the edges (the first push of the
//! default branch, a `master` repository, an absolute `--manifest`), globs
//! that match nothing, and errors that say what to do (an empty repository,
//! `ferry.yaml`, unknown keys, a missing values file, no AWS credentials).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::support;
use crate::support::detect::TWO_SERVICE_FOLDERS as MANIFEST;

use support::{Repo, ferry, ferry_with, ferry_without, git_in};

fn monorepo(manifest: &str) -> Repo {
    let r = Repo::new();
    r.write(".github/ferry.yml", manifest)
        .write("services/api/main.go", "package main\n")
        .write("services/worker/main.py", "print()\n")
        .write("docs/guide.md", "# Guide\n");
    r
}

fn push_event(
    git_ref: &str,
    before: &str,
    after: &str,
    default_branch: &str,
) -> tempfile::NamedTempFile {
    let event = serde_json::json!({
        "ref": git_ref, "before": before, "after": after,
        "forced": false, "created": before.chars().all(|c| c == '0'), "deleted": false,
        "repository": { "default_branch": default_branch }
    });
    let file = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(file.path(), event.to_string()).unwrap();
    file
}

fn in_actions<'a>(event: &'a tempfile::NamedTempFile, name: &'a str) -> Vec<(&'a str, &'a str)> {
    vec![
        ("GITHUB_ACTIONS", "true"),
        ("GITHUB_EVENT_NAME", name),
        ("GITHUB_EVENT_PATH", event.path().to_str().unwrap()),
    ]
}

/// The push that creates the default branch has no `before`: every file is
/// new, so every service is affected (paths-filter lists every file too).
#[test]
fn the_first_push_of_the_default_branch_affects_every_service() {
    let r = monorepo(MANIFEST);
    let sha = r.commit("initial");
    let event = push_event("refs/heads/trunk", &"0".repeat(40), &sha, "trunk");
    let run = ferry_with(r.path(), &["detect"], &in_actions(&event, "push"));
    assert_eq!(run.code, 0, "{run:#?}");
    assert_eq!(run.services(), ["api", "worker"]);
    assert!(
        run.summary
            .contains("the first push of the default branch trunk (no commit before it)"),
        "{}",
        run.summary
    );
}

/// A repository whose default branch is `master`: outside Actions, detect
/// compares with the fork point from `origin/HEAD`, never a guessed
/// `origin/main`, so a change two commits back is still seen.
#[test]
fn a_master_repository_compares_with_origin_head() {
    let remote = tempfile::tempdir().unwrap();
    git_in(remote.path(), &["init", "-q", "-b", "master"]);
    git_in(remote.path(), &["config", "user.email", "dev@example.com"]);
    git_in(remote.path(), &["config", "user.name", "Dev"]);
    for (path, text) in [
        (".github/ferry.yml", MANIFEST),
        ("services/api/main.go", "package main\n"),
        ("services/worker/main.py", "print()\n"),
        ("docs/guide.md", "# Guide\n"),
    ] {
        let file = remote.path().join(path);
        std::fs::create_dir_all(file.parent().unwrap()).unwrap();
        std::fs::write(file, text).unwrap();
    }
    git_in(remote.path(), &["add", "-A"]);
    git_in(remote.path(), &["commit", "-qm", "initial"]);

    let clone = tempfile::tempdir().unwrap();
    git_in(
        clone.path(),
        &[
            "clone",
            "-q",
            &format!("file://{}", remote.path().display()),
            ".",
        ],
    );
    git_in(clone.path(), &["config", "user.email", "dev@example.com"]);
    git_in(clone.path(), &["config", "user.name", "Dev"]);
    git_in(clone.path(), &["checkout", "-q", "-b", "feature"]);
    std::fs::write(
        clone.path().join("services/api/main.go"),
        "package main // changed\n",
    )
    .unwrap();
    git_in(clone.path(), &["commit", "-qam", "api change"]);
    std::fs::write(clone.path().join("docs/guide.md"), "# Guide, changed\n").unwrap();
    git_in(clone.path(), &["commit", "-qam", "docs change"]);

    let run = ferry(clone.path(), &["detect"]);
    assert_eq!(run.code, 0, "{run:#?}");
    assert_eq!(
        run.services(),
        ["api"],
        "the parent alone would miss the api change"
    );
    let text = format!("{}{}", run.stdout, run.summary);
    assert!(
        text.contains("origin/HEAD (the remote's default branch)"),
        "{text}"
    );
}

/// Without a remote default branch, the fallback to the parent commit is
/// said in the summary, with the reason.
#[test]
fn a_fallback_to_the_parent_commit_says_so() {
    let r = monorepo(MANIFEST);
    r.commit("initial");
    r.write("services/worker/main.py", "print(1)\n");
    r.commit("worker change");
    let run = ferry(r.path(), &["detect"]);
    assert_eq!(run.code, 0, "{run:#?}");
    assert_eq!(run.services(), ["worker"]);
    let text = format!("{}{}", run.stdout, run.summary);
    assert!(
        text.contains("compared with the parent commit")
            && text.contains("because merge base with origin/HEAD (the remote's default branch)")
            && text.contains("`origin/HEAD` is not in this clone"),
        "{text}"
    );
}

/// An absolute `--manifest` names a file Ferry cannot compare by its path in
/// the repository: refused, with the fix.
#[test]
fn an_absolute_manifest_is_refused() {
    let r = monorepo(MANIFEST);
    r.commit("initial");
    let absolute = r.path().join(".github/ferry.yml");
    for args in [
        vec!["detect", "--manifest", absolute.to_str().unwrap()],
        vec!["detect", "--manifest", "../elsewhere/ferry.yml"],
    ] {
        let run = ferry(r.path(), &args);
        assert_ne!(run.code, 0, "{run:#?}");
        assert!(
            run.stderr
                .contains("the manifest must be a file of the repository, named from its root"),
            "{}",
            run.stderr
        );
        assert!(
            run.stderr
                .contains("relative to the repository root, e.g. .github/ferry.yml"),
            "{}",
            run.stderr
        );
    }
}

/// A glob that matches no file of the checked-out commit is refused with the
/// nearest existing folder; one listed in `pending-paths` is a warning.
#[test]
fn a_glob_that_matches_nothing_is_refused_unless_pending() {
    let r = monorepo(&MANIFEST.replace("paths: [services/api/**]", "paths: [servces/api/**]"));
    r.commit("initial");
    // A single commit: no base at all, every service affected; the globs
    // are checked all the same.
    let run = ferry(r.path(), &["detect"]);
    assert_eq!(run.code, 1, "{run:#?}");
    assert!(
        run.stderr
            .contains("service `api`: path glob \"servces/api/**\" matches no file at"),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr.contains(
            "did you mean \"services/api/**\"? (the nearest existing folder is `services/api/`)"
        ),
        "{}",
        run.stderr
    );

    let r = monorepo(&MANIFEST.replace(
        "paths: [services/api/**]",
        "paths: [services/api/**, services/api-v2/**]\n    pending-paths: [services/api-v2/**]",
    ));
    r.commit("initial");
    let run = ferry_with(r.path(), &["detect"], &[("GITHUB_ACTIONS", "true")]);
    assert_eq!(run.code, 0, "{run:#?}");
    assert!(
        run.stdout.contains("::warning")
            && run
                .stdout
                .contains("path glob \"services/api-v2/**\" matches no file at")
            && run.stdout.contains("listed in `pending-paths`"),
        "{run:#?}"
    );
}

#[test]
fn an_empty_repository_says_so() {
    let r = monorepo(MANIFEST);
    for args in [&["detect"][..], &["build", "--services", "api"][..]] {
        let run = ferry(r.path(), args);
        assert_ne!(run.code, 0, "{run:#?}");
        assert!(
            run.stderr.contains("this repository has no commits yet"),
            "{args:?}: {}",
            run.stderr
        );
        assert!(
            !run.stderr.contains("is not in this clone"),
            "{}",
            run.stderr
        );
    }
}

#[test]
fn the_other_spelling_ferry_yaml_is_named() {
    let r = Repo::new();
    r.write(".github/ferry.yaml", MANIFEST)
        .write("services/api/main.go", "package main\n")
        .write("services/worker/main.py", "print()\n");
    r.commit("initial");
    let run = ferry(r.path(), &["detect"]);
    assert_ne!(run.code, 0, "{run:#?}");
    assert!(
        run.stderr
            .contains("the manifest does not exist, but ferry.yaml does"),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr.contains(
            "rename ferry.yaml to .github/ferry.yml, or pass --manifest .github/ferry.yaml"
        ),
        "{}",
        run.stderr
    );
}

#[test]
fn every_unknown_key_is_reported_at_once() {
    let r = monorepo(
        &MANIFEST
            .replace(
                "    paths: [services/api/**]",
                "    pahts: [services/api/**]",
            )
            .replace(
                "  staging: { cluster: shop-staging }",
                "  staging: { clustr: shop-staging }",
            ),
    );
    r.commit("initial");
    let run = ferry(r.path(), &["detect"]);
    assert_eq!(run.code, 1, "{run:#?}");
    assert!(
        run.stderr.contains("unknown key `pahts` in `services.api`")
            && run.stderr.contains("did you mean `paths`?"),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr
            .contains("unknown key `clustr` in `environments.staging`")
            && run.stderr.contains("did you mean `cluster`?"),
        "{}",
        run.stderr
    );
}

/// The example without its prod values file: the error names the file, the
/// service and the environment.
#[test]
fn a_missing_values_file_names_file_service_and_environment() {
    let dir = support::deploy::copy_repo(&[".github/ferry.yml", "task-definitions", "services"]);
    std::fs::remove_file(dir.path().join("task-definitions/environments/prod.json")).unwrap();
    let run = ferry(
        dir.path(),
        &[
            "render",
            "--service",
            "sampleapi",
            "--env",
            "prod",
            "--ext-str",
            "IMAGE_TAG=t1",
        ],
    );
    assert_ne!(run.code, 0, "{run:#?}");
    assert!(
        run.stderr.contains("sampleapi (prod):")
            && run.stderr.contains(
                "and the values file task-definitions/environments/prod.json does not exist"
            ),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr
            .contains("create task-definitions/environments/prod.json"),
        "{}",
        run.stderr
    );
}

const AWS_VARS: &[&str] = &[
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "AWS_PROFILE",
    "AWS_ENDPOINT_URL",
    "AWS_WEB_IDENTITY_TOKEN_FILE",
    "AWS_CONTAINER_CREDENTIALS_FULL_URI",
    "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
];

/// `build` and `diff` without credentials: a line that says so and what to
/// do, never the SDK's debug form.
#[test]
fn no_credentials_is_one_short_line_without_sdk_debug_forms() {
    let dir = support::deploy::copy_repo(&[".github/ferry.yml", "task-definitions", "services"]);
    support::init_repo(dir.path());
    git_in(dir.path(), &["add", "-A"]);
    git_in(dir.path(), &["commit", "-qm", "example"]);
    let home = tempfile::tempdir().unwrap();
    let config = home.path().join("none");
    let config = config.to_str().unwrap();
    // The build reaches the registry login once docker answers: the test
    // bed's daemon.
    let docker = std::env::var("FERRY_TESTBED_DOCKER_HOST").expect(
        "FERRY_TESTBED_DOCKER_HOST is not set: this test needs the test bed's docker daemon. Run `scripts/test`, or `scripts/testbed start && eval \"$(scripts/testbed env)\"` first",
    );
    let env = [
        ("DOCKER_HOST", docker.as_str()),
        ("HOME", home.path().to_str().unwrap()),
        ("AWS_CONFIG_FILE", config),
        ("AWS_SHARED_CREDENTIALS_FILE", config),
        ("AWS_EC2_METADATA_DISABLED", "true"),
    ];
    for args in [
        &["build", "--services", "sampleapi"][..],
        &[
            "diff",
            "--service",
            "sampleapi",
            "--env",
            "staging",
            "--ext-str",
            "IMAGE_TAG=t1",
        ][..],
    ] {
        let run = ferry_without(dir.path(), args, &env, AWS_VARS);
        assert_ne!(run.code, 0, "{args:?}: {run:#?}");
        let text = format!("{}{}", run.stdout, run.stderr);
        assert!(text.contains("no AWS credentials"), "{args:?}: {text}");
        for line in text.lines() {
            assert!(
                line.chars().count() <= 200,
                "{args:?}: a line of {} characters: {line}",
                line.chars().count()
            );
        }
        for debug in ["DispatchFailure", "SdkBody", "Response {"] {
            assert!(!text.contains(debug), "{args:?}: {debug} in {text}");
        }
    }
}
