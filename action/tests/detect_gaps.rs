//! The detect gaps found in review, each as a user meets it: a first push at
//! the default branch's tip, unreadable Deployments, a dispatch without a
//! list, the compare API's 300-file cap; and two neighbours (the builders in
//! `--help`, the deploy dry run's commit outside Actions).
//!
//! GitHub is a recorded-response server (wiremock); the runs are the real
//! binary, in Actions mode where the event matters.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::path::Path;

use serde_json::{Value, json};
use support::{Repo, Run, ferry, ferry_with, git_in};
use wiremock::matchers::{method, path, query_param};
use wiremock::{Mock, MockServer, ResponseTemplate};

const MANIFEST: &str = "\
project: shop
region: us-east-1
environments:
  staging: { cluster: shop-staging }
  prod: { cluster: shop-prod, promote-from: staging }
services:
  api: {}
  worker: {}
";

const TOKEN: &str = "ghs_gapstesttoken0123456789";
const ZEROS: &str = "0000000000000000000000000000000000000000";

/// An origin with two commits (the second changes the api only) and a clone
/// of it, as `actions/checkout` leaves one: `origin/main` at the tip.
struct Clone {
    _origin: Repo,
    dir: tempfile::TempDir,
    first: String,
    tip: String,
}

fn clone() -> Clone {
    let origin = Repo::new();
    origin
        .write(".github/ferry.yml", MANIFEST)
        .write("services/api/main.rs", "1")
        .write("services/worker/main.rs", "1");
    let first = origin.commit("one");
    origin.write("services/api/main.rs", "2");
    let tip = origin.commit("two");
    let dir = tempfile::tempdir().unwrap();
    let url = origin.path().display().to_string();
    git_in(dir.path(), &["clone", "-q", &url, "."]);
    Clone {
        _origin: origin,
        dir,
        first,
        tip,
    }
}

fn push(git_ref: &str, before: &str, after: &str, created: bool) -> Value {
    json!({
        "ref": git_ref, "before": before, "after": after,
        "forced": false, "created": created, "deleted": false,
        "repository": { "default_branch": "main" }
    })
}

/// `ferry detect` in Actions for `event`; with `api`, a token and a
/// repository so GitHub can be read.
fn in_actions(dir: &Path, event: &str, payload: &Value, api: Option<&str>) -> Run {
    let file = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(file.path(), payload.to_string()).unwrap();
    let mut env = vec![
        ("GITHUB_ACTIONS", "true"),
        ("GITHUB_EVENT_NAME", event),
        ("GITHUB_EVENT_PATH", file.path().to_str().unwrap()),
    ];
    if let Some(api) = api {
        env.extend([
            ("GITHUB_REPOSITORY", "octo/shop"),
            ("GITHUB_API_URL", api),
            ("GITHUB_TOKEN", TOKEN),
        ]);
    }
    let run = ferry_with(dir, &["detect"], &env);
    assert_eq!(run.code, 0, "{run:#?}");
    run
}

/// Deployments where `service` last succeeded in staging at `sha`.
async fn deployed(server: &MockServer, service: &str, id: u64, sha: &str) {
    Mock::given(method("GET"))
        .and(path("/repos/octo/shop/deployments"))
        .and(query_param("task", format!("deploy:{service}").as_str()))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!([{"id": id, "sha": sha}])))
        .mount(server)
        .await;
    Mock::given(method("GET"))
        .and(path(format!("/repos/octo/shop/deployments/{id}/statuses")))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!([{"state": "success"}])))
        .mount(server)
        .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_release_branch_first_pushed_at_the_default_branch_tip_compares_with_the_deployments() {
    let c = clone();
    let server = MockServer::start().await;
    // The api was last deployed before its change; the worker at the tip.
    deployed(&server, "api", 1, &c.first).await;
    deployed(&server, "worker", 2, &c.tip).await;
    let event = push("refs/heads/release", ZEROS, &c.tip, true);
    let run = in_actions(c.dir.path(), "push", &event, Some(&server.uri()));
    assert_eq!(run.services(), ["api"], "{}", run.summary);
    assert!(
        run.summary
            .contains("last successful deployment to staging"),
        "{}",
        run.summary
    );
    assert!(!run.stdout.contains("::warning"), "{}", run.stdout);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_release_branch_first_pushed_with_nothing_deployed_releases_every_service() {
    let c = clone();
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/repos/octo/shop/deployments"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!([])))
        .mount(&server)
        .await;
    let event = push("refs/heads/release", ZEROS, &c.tip, true);
    let run = in_actions(c.dir.path(), "push", &event, Some(&server.uri()));
    assert_eq!(run.services(), ["api", "worker"], "{}", run.summary);
    assert_eq!(
        run.summary
            .matches("never deployed successfully to staging")
            .count(),
        2,
        "each says why: {}",
        run.summary
    );
}

#[test]
fn a_release_branch_first_pushed_without_deployments_never_reports_nothing() {
    let c = clone();
    // No token: the Deployments cannot be read, and the default branch's
    // tip is the pushed commit itself, which tells nothing.
    let event = push("refs/heads/release", ZEROS, &c.tip, true);
    let run = in_actions(c.dir.path(), "push", &event, None);
    assert_eq!(run.services(), ["api", "worker"], "{}", run.summary);
    assert!(
        run.summary.contains("is the pushed commit itself"),
        "says why: {}",
        run.summary
    );
}

#[test]
fn another_branch_first_pushed_at_the_default_branch_tip_says_what_was_compared() {
    let c = clone();
    let event = push("refs/heads/feature", ZEROS, &c.tip, true);
    let run = in_actions(c.dir.path(), "push", &event, None);
    assert!(run.services().is_empty(), "{}", run.summary);
    let short = &c.tip[..7];
    assert!(
        run.summary.contains("the default branch main")
            && run.summary.contains(&format!("{short} itself"))
            && run.summary.contains("adds no commit"),
        "{}",
        run.summary
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn unreadable_deployments_are_a_visible_warning_not_a_silent_fallback() {
    let c = clone();
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .respond_with(
            ResponseTemplate::new(403)
                .set_body_json(json!({"message": "Resource not accessible by integration"})),
        )
        .mount(&server)
        .await;
    let event = push("refs/heads/release", &c.first, &c.tip, false);
    let run = in_actions(c.dir.path(), "push", &event, Some(&server.uri()));
    // The fallback still answers (the push's `before`)...
    assert_eq!(run.services(), ["api"], "{}", run.summary);
    // ...and says so as an annotation and in the summary.
    let warning = run
        .stdout
        .lines()
        .find(|l| l.starts_with("::warning "))
        .unwrap_or_else(|| panic!("no warning annotation: {}", run.stdout));
    assert!(warning.contains("403"), "{warning}");
    assert!(warning.contains("deployments: read"), "{warning}");
    assert!(warning.contains("the push's `before`"), "{warning}");
    assert!(run.summary.contains("> [!WARNING]"), "{}", run.summary);
    assert!(!support::everything(&run).contains(TOKEN));
}

#[test]
fn the_release_workflow_grants_detect_the_deployments_it_reads() {
    let text = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../.github/workflows/release.yml"),
    )
    .unwrap();
    let wf: serde_yaml_ng::Value = serde_yaml_ng::from_str(&text).unwrap();
    let detect = &wf["jobs"]["detect"];
    assert_eq!(detect["permissions"]["deployments"].as_str(), Some("read"));
    // The dispatch form says what an empty list does: every service.
    let description = wf["on"]["workflow_dispatch"]["inputs"]["services"]["description"]
        .as_str()
        .unwrap();
    assert!(description.contains("Empty: every service"), "{description}");
}

#[test]
fn a_dispatch_without_a_list_releases_every_service_as_its_form_says() {
    let c = clone();
    for inputs in [json!({"services": ""}), json!({"services": "  "}), json!({})] {
        let event = json!({"inputs": inputs, "repository": {"default_branch": "main"}});
        let run = in_actions(c.dir.path(), "workflow_dispatch", &event, None);
        assert_eq!(run.services(), ["api", "worker"], "{inputs}: {}", run.summary);
        assert!(
            run.summary
                .contains("workflow_dispatch without a service list: every service"),
            "{}",
            run.summary
        );
    }
    let event = json!({"inputs": {"services": "worker"}});
    let run = in_actions(c.dir.path(), "workflow_dispatch", &event, None);
    assert_eq!(run.services(), ["worker"]);
}

/// A folder with the manifest and no git history: the API is the only source.
fn plain_folder() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join(".github")).unwrap();
    std::fs::write(dir.path().join(".github/ferry.yml"), MANIFEST).unwrap();
    dir
}

#[tokio::test(flavor = "multi_thread")]
async fn a_comparison_at_githubs_300_file_cap_means_every_service() {
    let (base, head) = ("a".repeat(40), "b".repeat(40));
    for (listed, expected) in [(299, vec![]), (300, vec!["api", "worker"])] {
        let server = MockServer::start().await;
        let files: Vec<Value> = (0..listed)
            .map(|i| json!({"sha": "0", "filename": format!("docs/f{i}.md"), "status": "modified"}))
            .collect();
        Mock::given(method("GET"))
            .and(path(format!("/repos/octo/shop/compare/{base}...{head}")))
            .respond_with(ResponseTemplate::new(200).set_body_json(json!({ "files": files })))
            .expect(1)
            .mount(&server)
            .await;
        let dir = plain_folder();
        let event = push("refs/heads/main", &base, &head, false);
        let run = in_actions(dir.path(), "push", &event, Some(&server.uri()));
        assert_eq!(run.services(), expected, "{listed} files: {}", run.summary);
        if listed == 300 {
            assert!(
                run.summary.contains("reaches GitHub's 300-file limit"),
                "{}",
                run.summary
            );
        } else {
            assert!(
                run.summary.contains("GitHub API: compare aaaaaaa...bbbbbbb")
                    && run.summary.contains("299 changed files"),
                "{}",
                run.summary
            );
        }
    }
}

#[test]
fn build_and_release_help_list_the_builders() {
    let dir = tempfile::tempdir().unwrap();
    for command in ["build", "release"] {
        let run = ferry(dir.path(), &[command, "-h"]);
        assert_eq!(run.code, 0, "{run:#?}");
        assert!(
            run.stdout.contains("[possible values: docker, buildah]"),
            "{command}: {}",
            run.stdout
        );
        // The long help describes each.
        let run = ferry(dir.path(), &[command, "--help"]);
        assert_eq!(run.code, 0, "{run:#?}");
        let listed = run
            .stdout
            .split_once("Possible values:")
            .map(|(_, rest)| rest.lines().take(3).collect::<Vec<_>>().join("\n"))
            .unwrap_or_default();
        assert!(
            listed.contains("- docker:") && listed.contains("- buildah:"),
            "{command}: {}",
            run.stdout
        );
    }
    let run = ferry(dir.path(), &["build", "--builder", "kaniko"]);
    assert_eq!(run.code, 2, "{run:#?}");
    assert!(
        run.stderr.contains("[possible values: docker, buildah]"),
        "{}",
        run.stderr
    );
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

#[test]
fn a_dry_run_deploy_outside_actions_names_the_commit_checked_out() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let repo = Repo::new();
    for p in [".github/ferry.yml", "task-definitions"] {
        copy_tree(&root.join(p), &repo.path().join(p));
    }
    let sha = repo.commit("a release");
    let digest = format!("sha256:{}", "1".repeat(64));
    let images = json!({
        "sampleapi": format!("111111111111.dkr.ecr.us-east-1.amazonaws.com/email-platform/sampleapi@{digest}"),
        "sampleworker": format!("111111111111.dkr.ecr.us-east-1.amazonaws.com/email-platform/sampleworker@{digest}"),
    })
    .to_string();
    let home = tempfile::tempdir().unwrap();
    let missing = home.path().join("missing");
    let missing = missing.to_str().unwrap();
    let run = support::ferry_without(
        repo.path(),
        &["deploy", "--env", "staging", "--dry-run", "--images", &images],
        &[
            ("HOME", home.path().to_str().unwrap()),
            ("AWS_CONFIG_FILE", missing),
            ("AWS_SHARED_CREDENTIALS_FILE", missing),
            ("AWS_EC2_METADATA_DISABLED", "true"),
        ],
        support::AWS_VARS,
    );
    assert_eq!(run.code, 0, "{run:#?}");
    // Outside Actions the dry run's report, comment preview included, is on stderr.
    assert!(
        run.stderr
            .contains(&format!("Ferry deploy of `{}`", &sha[..7])),
        "{}",
        run.stderr
    );
    assert!(!run.stderr.contains("Ferry deploy of ``"), "{}", run.stderr);
}
