//! Where a release push's comparison starts when the push itself says
//! nothing: the first push of a release branch at the default branch's tip
//! (no commit of its own, `before` all zeros) takes its base from GitHub
//! Deployments like any release push. (Nothing deployed, unreadable
//! Deployments and the compare cap are in `detect_file_lists.rs`.)
//!
//! GitHub is a recorded-response server (wiremock); the run is the real
//! binary in Actions mode.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::support;

use std::path::Path;

use serde_json::json;
use support::{Repo, Run, ferry_with, git_in};
use wiremock::matchers::{method, path, query_param};
use wiremock::{Mock, MockServer, ResponseTemplate};

const MANIFEST: &str = support::TWO_SERVICES;

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

/// `ferry detect` in Actions for a push of `after` creating `branch`, with
/// GitHub (a token and a repository) at `api`. Exit 0 expected.
fn first_push(dir: &Path, branch: &str, after: &str, api: &str) -> Run {
    let event = json!({
        "ref": format!("refs/heads/{branch}"), "before": "0".repeat(40), "after": after,
        "forced": false, "created": true, "deleted": false,
        "repository": { "default_branch": "main" }
    });
    let file = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(file.path(), event.to_string()).unwrap();
    let run = ferry_with(
        dir,
        &["detect"],
        &[
            ("GITHUB_ACTIONS", "true"),
            ("GITHUB_EVENT_NAME", "push"),
            ("GITHUB_EVENT_PATH", file.path().to_str().unwrap()),
            ("GITHUB_REPOSITORY", "octo/shop"),
            ("GITHUB_API_URL", api),
            ("GITHUB_TOKEN", TOKEN),
        ],
    );
    assert_eq!(run.code, 0, "{run:#?}");
    assert!(!support::everything(&run).contains(TOKEN));
    run
}

/// Deployments in which `service` last succeeded in staging at `sha`.
async fn deployed(server: &MockServer, service: &str, id: u64, sha: &str) {
    Mock::given(method("GET"))
        .and(path("/repos/octo/shop/deployments"))
        .and(query_param("task", format!("deploy:{service}").as_str()))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!([{"id": id, "sha": sha, "creator": {"login": "github-actions[bot]", "type": "Bot"}}])))
        .mount(server)
        .await;
    Mock::given(method("GET"))
        .and(path(format!("/repos/octo/shop/deployments/{id}/statuses")))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!([{"state": "success", "creator": {"login": "github-actions[bot]", "type": "Bot"}}])))
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
    let run = first_push(c.dir.path(), "release", &c.tip, &server.uri());
    assert_eq!(run.services(), ["api"], "{}", run.summary);
    assert!(
        run.summary
            .contains("last successful deployment to staging"),
        "{}",
        run.summary
    );
    assert!(!run.stdout.contains("::warning"), "{}", run.stdout);
}

/// The same first push with Deployments unreadable (a 403) and a token: the
/// default branch is the pushed commit itself, and asking GitHub's compare
/// API the same question (`main...<tip>`, identical) would answer "nothing
/// changed". Every service, with the reasons.
#[tokio::test(flavor = "multi_thread")]
async fn a_release_branch_first_pushed_with_deployments_unreadable_never_reports_nothing() {
    let c = clone();
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/repos/octo/shop/deployments"))
        .respond_with(
            ResponseTemplate::new(403)
                .set_body_json(json!({"message": "Resource not accessible by integration"})),
        )
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path(format!("/repos/octo/shop/compare/main...{}", c.tip)))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "status": "identical", "ahead_by": 0, "behind_by": 0, "total_commits": 0, "files": []
        })))
        .expect(0)
        .mount(&server)
        .await;
    let run = first_push(c.dir.path(), "release", &c.tip, &server.uri());
    assert_eq!(run.services(), ["api", "worker"], "{}", run.summary);
    assert!(
        run.summary.contains("is the pushed commit itself"),
        "{}",
        run.summary
    );
    // What to fix is named: the Deployments answered 403.
    assert!(
        run.summary.contains("cannot read GitHub Deployments") && run.summary.contains("403"),
        "{}",
        run.summary
    );
}
