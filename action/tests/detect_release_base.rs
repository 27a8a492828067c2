//! Where a release push's comparison starts when the push itself says
//! little: the first push of a release branch at the default branch's tip
//! takes its base from GitHub Deployments like any release push; unreadable
//! Deployments are a visible warning, not a silent fall-back; a compare at
//! GitHub's 300-file cap and a dispatch without a list mean every service.
//!
//! GitHub is a recorded-response server (wiremock); the runs are the real
//! binary in Actions mode.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::path::Path;

use serde_json::{Value, json};
use support::{Repo, Run, ferry_with, git_in};
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

const TOKEN: &str = "ghs_releasebasetoken0123456789";

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
    git_in(
        dir.path(),
        &["clone", "-q", &origin.path().display().to_string(), "."],
    );
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
/// repository so GitHub can be read. Exit 0 expected.
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
    assert!(!support::everything(&run).contains(TOKEN));
    run
}

/// Deployments in which `service` last succeeded in staging at `sha`.
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

const ZEROS: &str = "0000000000000000000000000000000000000000";

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
    // The fall-back still answers (the push's `before`)...
    assert_eq!(run.services(), ["api"], "{}", run.summary);
    // ...and says so, as an annotation and in the summary.
    let warning = run
        .stdout
        .lines()
        .find(|l| l.starts_with("::warning "))
        .unwrap_or_else(|| panic!("no warning annotation: {}", run.stdout));
    assert!(warning.contains("403"), "{warning}");
    assert!(warning.contains("deployments: read"), "{warning}");
    assert!(warning.contains("the push's `before`"), "{warning}");
    assert!(run.summary.contains("> [!WARNING]"), "{}", run.summary);
}

#[test]
fn a_dispatch_without_a_list_releases_every_service() {
    let c = clone();
    for inputs in [json!({"services": ""}), json!({"services": " , "}), json!({})] {
        let event = json!({"inputs": inputs, "repository": {"default_branch": "main"}});
        let run = in_actions(c.dir.path(), "workflow_dispatch", &event, None);
        assert_eq!(run.services(), ["api", "worker"], "{inputs}: {}", run.summary);
        assert!(
            run.summary.contains("every service"),
            "{inputs}: {}",
            run.summary
        );
    }
    let event = json!({"inputs": {"services": "worker"}});
    let run = in_actions(c.dir.path(), "workflow_dispatch", &event, None);
    assert_eq!(run.services(), ["worker"]);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_comparison_at_githubs_300_file_cap_means_every_service() {
    let (base, head) = ("a".repeat(40), "b".repeat(40));
    // Not a git clone: the compare API is the only source of the file list.
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join(".github")).unwrap();
    std::fs::write(dir.path().join(".github/ferry.yml"), MANIFEST).unwrap();
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
