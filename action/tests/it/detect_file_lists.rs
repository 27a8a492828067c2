//! `ferry detect` through the GitHub API.
//!
//! Two stand-ins: Prism serving GitHub's own OpenAPI description proves every
//! request Ferry sends is valid GitHub API (it answers 422, with the reason in
//! `sl-violations`, to anything else); Prism is stateless and answers with the
//! spec's examples, so the scenarios that need particular answers (two pages
//! of files, a truncated list, a deployment history) run against a recorded-
//! response server (wiremock) whose requests are then replayed to Prism.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::support;

use serde_json::{Value, json};
use support::github_state::assert_valid_github_api;
use support::{Repo, ferry_with, testbed_url};
use wiremock::matchers::{method, path, query_param};
use wiremock::{Mock, MockServer, ResponseTemplate};

const MANIFEST: &str = support::TWO_SERVICES;

/// A checkout that is not a git clone (a source tarball, a container without history).
fn plain_folder() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join(".github")).unwrap();
    std::fs::write(dir.path().join(".github/ferry.yml"), MANIFEST).unwrap();
    dir
}

fn event_file(payload: &Value) -> tempfile::NamedTempFile {
    let f = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(f.path(), payload.to_string()).unwrap();
    f
}

fn pr_event(changed_files: u64) -> Value {
    json!({
        "number": 7,
        "pull_request": {
            "number": 7,
            "base": { "sha": "a".repeat(40), "ref": "main" },
            "head": { "sha": "b".repeat(40), "ref": "feature" },
            "changed_files": changed_files
        },
        "repository": { "default_branch": "main" }
    })
}

fn run_in_actions(
    dir: &std::path::Path,
    api: &str,
    event: &str,
    payload: &tempfile::NamedTempFile,
) -> support::Run {
    ferry_with(
        dir,
        &["detect"],
        &[
            ("GITHUB_ACTIONS", "true"),
            ("GITHUB_EVENT_NAME", event),
            ("GITHUB_EVENT_PATH", payload.path().to_str().unwrap()),
            ("GITHUB_REPOSITORY", "octo/shop"),
            ("GITHUB_API_URL", api),
            ("GITHUB_TOKEN", "ghs_canarytoken0123456789"),
        ],
    )
}

fn files(prefix: &str, n: usize) -> Value {
    Value::Array(
        (0..n)
            .map(|i| json!({"sha": "0", "filename": format!("{prefix}/f{i}.rs"), "status": "modified", "additions": 1, "deletions": 0, "changes": 1}))
            .collect(),
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn pull_request_files_are_read_page_by_page() {
    let server = MockServer::start().await;
    let next = format!(
        "{}/repos/octo/shop/pulls/7/files?per_page=100&page=2",
        server.uri()
    );
    Mock::given(method("GET"))
        .and(path("/repos/octo/shop/pulls/7/files"))
        .and(query_param("page", "2"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!([
            {"sha": "0", "filename": "services/worker/src/main.rs", "status": "renamed", "previous_filename": "services/api/src/old.rs", "additions": 0, "deletions": 0, "changes": 0}
        ])))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/repos/octo/shop/pulls/7/files"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(files("docs", 100))
                .insert_header("link", format!("<{next}>; rel=\"next\"").as_str()),
        )
        .expect(1)
        .mount(&server)
        .await;
    let dir = plain_folder();
    let payload = event_file(&pr_event(101));
    let run = run_in_actions(dir.path(), &server.uri(), "pull_request", &payload);
    assert_eq!(run.code, 0, "{run:#?}");
    assert_eq!(
        run.services(),
        ["api", "worker"],
        "a rename counts both paths: {}",
        run.summary
    );
    assert!(
        // `#7` is not a live reference in a summary (`\#` and a zero-width space).
        run.summary
            .contains("GitHub API: files of pull request \\#\u{200b}7"),
        "{}",
        run.summary
    );
    assert!(run.summary.contains("102 changed files"), "{}", run.summary);
    let requests = server.received_requests().await.unwrap();
    assert_eq!(requests.len(), 2);
    assert!(
        requests.iter().all(|r| r
            .headers
            .get("authorization")
            .is_some_and(|v| v.to_str().unwrap().ends_with("ghs_canarytoken0123456789"))),
        "the token is sent to GitHub"
    );
    assert!(
        run.stdout
            .starts_with("::add-mask::ghs_canarytoken0123456789\n"),
        "it is masked for the runner first"
    );
    let after_mask = run.stdout.lines().skip(1).collect::<Vec<_>>().join("\n");
    let rest = format!("{after_mask}{}{}{:?}", run.stderr, run.summary, run.outputs);
    assert!(
        !rest.contains("canarytoken"),
        "the token never reaches a log, the summary or an output"
    );
    assert_valid_github_api(&requests).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_file_list_shorter_than_the_pr_means_every_service() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/repos/octo/shop/pulls/7/files"))
        .respond_with(ResponseTemplate::new(200).set_body_json(files("docs", 30)))
        .mount(&server)
        .await;
    let dir = plain_folder();
    let payload = event_file(&pr_event(3500));
    let run = run_in_actions(dir.path(), &server.uri(), "pull_request", &payload);
    assert_eq!(run.code, 0, "{run:#?}");
    assert_eq!(run.services(), ["api", "worker"], "never a partial answer");
    assert!(
        run.summary
            .contains("changes 3500 files but the GitHub API listed 30"),
        "{}",
        run.summary
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn github_errors_are_retried_then_explained() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/repos/octo/shop/pulls/7/files"))
        .respond_with(ResponseTemplate::new(502).set_body_string("bad gateway"))
        .up_to_n_times(1)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/repos/octo/shop/pulls/7/files"))
        .respond_with(ResponseTemplate::new(200).set_body_json(files("services/api", 1)))
        .mount(&server)
        .await;
    let dir = plain_folder();
    let payload = event_file(&pr_event(1));
    let run = run_in_actions(dir.path(), &server.uri(), "pull_request", &payload);
    assert_eq!(run.code, 0, "{run:#?}");
    assert_eq!(run.services(), ["api"], "a 502 is retried");

    let denied = MockServer::start().await;
    Mock::given(method("GET"))
        .respond_with(
            ResponseTemplate::new(403)
                .set_body_json(json!({"message": "Resource not accessible by integration"})),
        )
        .mount(&denied)
        .await;
    let run = run_in_actions(dir.path(), &denied.uri(), "pull_request", &payload);
    assert_eq!(run.code, 0, "{run:#?}");
    assert_eq!(run.services(), ["api", "worker"]);
    assert!(run.summary.contains("403"), "{}", run.summary);
    assert!(
        run.summary
            .contains("Resource not accessible by integration"),
        "{}",
        run.summary
    );
    assert!(
        run.summary.contains("permissions:"),
        "says what to check: {}",
        run.summary
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_release_compares_with_the_last_successful_deployment() {
    let r = Repo::new();
    r.write(".github/ferry.yml", MANIFEST)
        .write("services/api/main.rs", "1")
        .write("services/worker/main.rs", "1");
    let released = r.commit("released to staging");
    r.write("services/api/main.rs", "2");
    let failed = r.commit("this release failed");
    r.write("docs/x.md", "docs");
    let after = r.commit("docs only");

    let server = MockServer::start().await;
    // api: the newest deployment failed, the one before succeeded.
    Mock::given(method("GET"))
        .and(path("/repos/octo/shop/deployments"))
        .and(query_param("task", "deploy:api"))
        .and(query_param("environment", "staging"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!([{"id": 2, "sha": failed, "creator": {"login": "github-actions[bot]", "type": "Bot"}}, {"id": 1, "sha": released, "creator": {"login": "github-actions[bot]", "type": "Bot"}}])),
        )
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/repos/octo/shop/deployments"))
        .and(query_param("task", "deploy:worker"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!([])))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/repos/octo/shop/deployments/2/statuses"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!([{"state": "failure", "creator": {"login": "github-actions[bot]", "type": "Bot"}}])))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/repos/octo/shop/deployments/1/statuses"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!([{"state": "success", "creator": {"login": "github-actions[bot]", "type": "Bot"}}])))
        .mount(&server)
        .await;
    let payload = event_file(&json!({
        "ref": "refs/heads/release", "before": failed, "after": after,
        "forced": false, "created": false, "deleted": false,
        "repository": {"default_branch": "main"}
    }));
    let run = run_in_actions(r.path(), &server.uri(), "push", &payload);
    assert_eq!(run.code, 0, "{run:#?}");
    // `before` alone would see only the docs commit and skip the failed api release.
    assert_eq!(run.services(), ["api", "worker"], "{}", run.summary);
    assert!(
        run.summary
            .contains("last successful deployment to staging"),
        "{}",
        run.summary
    );
    assert!(
        run.summary
            .contains("never deployed successfully to staging"),
        "{}",
        run.summary
    );
    assert!(
        run.summary
            .contains("matches `services/api/**`: services/api/main.rs"),
        "{}",
        run.summary
    );
    assert_valid_github_api(&server.received_requests().await.unwrap()).await;
}

/// Against Prism directly: the answers are the spec's examples, so only the
/// exchange is checked: no request refused (422), answers decoded, exit 0.
/// The spec's example `Link` header points at a placeholder host
/// (`https://api.github.com/resource?page=2`), which Ferry rightly refuses to
/// follow with the token, so the PR case ends in the loud "every service"
/// fallback here.
#[tokio::test(flavor = "multi_thread")]
async fn every_detect_request_is_valid_against_githubs_openapi() {
    let prism = testbed_url("PRISM_URL");
    let dir = plain_folder();
    let payload = event_file(&pr_event(1));
    let run = run_in_actions(dir.path(), &prism, "pull_request", &payload);
    assert_eq!(run.code, 0, "{run:#?}");
    assert!(!run.summary.contains("422"), "{}", run.summary);
    assert!(
        run.summary.contains(
            "next page link https://api.github.com/resource?page=2 is not on the API host"
        ),
        "the first page was accepted and decoded: {}",
        run.summary
    );

    let push = event_file(&json!({
        "ref": "refs/heads/main", "before": "a".repeat(40), "after": "b".repeat(40),
        "forced": false, "created": false, "deleted": false
    }));
    let run = run_in_actions(dir.path(), &prism, "push", &push);
    assert_eq!(run.code, 0, "{run:#?}");
    assert!(
        run.summary
            .contains("GitHub API: compare aaaaaaa...bbbbbbb"),
        "{}",
        run.summary
    );

    let release = event_file(&json!({
        "ref": "refs/heads/release", "before": "a".repeat(40), "after": "b".repeat(40),
        "forced": false, "created": false, "deleted": false
    }));
    let run = run_in_actions(dir.path(), &prism, "push", &release);
    assert_eq!(run.code, 0, "{run:#?}");
    assert!(!run.summary.contains("422"), "{}", run.summary);
}

/// A compare answer of `n` files under `prefix`.
fn compare_answer(prefix: &str, n: usize) -> Value {
    json!({
        "status": "ahead", "ahead_by": 1, "behind_by": 0, "total_commits": 1,
        "files": files(prefix, n)
    })
}

#[tokio::test(flavor = "multi_thread")]
async fn the_compare_apis_300_file_cap_means_every_service() {
    let push = event_file(&json!({
        "ref": "refs/heads/main", "before": "a".repeat(40), "after": "b".repeat(40),
        "forced": false, "created": false, "deleted": false
    }));
    let dir = plain_folder();
    let compare = format!(
        "/repos/octo/shop/compare/{}...{}",
        "a".repeat(40),
        "b".repeat(40)
    );
    for (listed, expected) in [
        (299, vec!["api"]),
        (300, vec!["api", "worker"]),
        (301, vec!["api", "worker"]),
    ] {
        let server = MockServer::start().await;
        Mock::given(method("GET"))
            .and(path(compare.as_str()))
            .respond_with(
                ResponseTemplate::new(200).set_body_json(compare_answer("services/api", listed)),
            )
            .mount(&server)
            .await;
        let run = run_in_actions(dir.path(), &server.uri(), "push", &push);
        assert_eq!(run.code, 0, "{run:#?}");
        assert_eq!(run.services(), expected, "{listed} files: {}", run.summary);
        let capped = run.summary.contains("reaches GitHub's 300-file limit");
        assert_eq!(capped, listed >= 300, "{listed} files: {}", run.summary);
        if listed < 300 {
            assert!(
                run.summary.contains(&format!("{listed} changed files")),
                "{}",
                run.summary
            );
        }
        assert_valid_github_api(&server.received_requests().await.unwrap()).await;
    }
}

/// A release push whose Deployments cannot be read (the 403 of a detect job
/// without `deployments: read`): `before` is used, and the run says so as a
/// warning annotation and in the summary, with what to fix.
#[tokio::test(flavor = "multi_thread")]
async fn unreadable_deployments_are_a_visible_warning() {
    let r = Repo::new();
    r.write(".github/ferry.yml", MANIFEST)
        .write("services/api/main.rs", "1")
        .write("services/worker/main.rs", "1");
    let before = r.commit("one");
    r.write("services/api/main.rs", "2");
    let after = r.commit("two");
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/repos/octo/shop/deployments"))
        .respond_with(
            ResponseTemplate::new(403)
                .set_body_json(json!({"message": "Resource not accessible by integration"})),
        )
        .mount(&server)
        .await;
    let payload = event_file(&json!({
        "ref": "refs/heads/release", "before": before, "after": after,
        "forced": false, "created": false, "deleted": false,
        "repository": {"default_branch": "main"}
    }));
    let run = run_in_actions(r.path(), &server.uri(), "push", &payload);
    assert_eq!(run.code, 0, "{run:#?}");
    assert_eq!(run.services(), ["api"], "{}", run.summary);
    let warning = run
        .stdout
        .lines()
        .find(|l| l.starts_with("::warning "))
        .unwrap_or_else(|| panic!("no warning annotation: {}", run.stdout));
    assert!(warning.contains("403"), "{warning}");
    assert!(warning.contains("deployments: read"), "{warning}");
    assert!(
        warning.contains("compared with the push's `before`"),
        "{warning}"
    );
    assert!(run.summary.contains("> [!WARNING]"), "{}", run.summary);
    assert!(
        run.summary
            .contains("last successful deployment to staging could not be used"),
        "{}",
        run.summary
    );
}

/// The first push of a new release branch at the default branch's commit,
/// nothing deployed yet: every service, each "never deployed".
#[tokio::test(flavor = "multi_thread")]
async fn a_first_release_at_the_default_branch_commit_releases_every_service() {
    let origin = Repo::new();
    origin
        .write(".github/ferry.yml", MANIFEST)
        .write("services/api/main.rs", "1")
        .write("services/worker/main.rs", "1");
    let tip = origin.commit("first");
    let clone = tempfile::tempdir().unwrap();
    support::git_in(
        clone.path(),
        &["clone", "-q", &origin.path().display().to_string(), "."],
    );
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/repos/octo/shop/deployments"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!([])))
        .mount(&server)
        .await;
    let payload = event_file(&json!({
        "ref": "refs/heads/release", "before": "0".repeat(40), "after": tip,
        "forced": false, "created": true, "deleted": false,
        "repository": {"default_branch": "main"}
    }));
    let run = run_in_actions(clone.path(), &server.uri(), "push", &payload);
    assert_eq!(run.code, 0, "{run:#?}");
    assert_eq!(run.services(), ["api", "worker"], "{}", run.summary);
    assert_eq!(
        run.summary
            .matches("never deployed successfully to staging")
            .count(),
        2,
        "{}",
        run.summary
    );
    assert_valid_github_api(&server.received_requests().await.unwrap()).await;
}

/// When the fall-back ends in "every service" (a first release push at the
/// default branch's commit, Deployments unreadable), the warning is kept.
#[tokio::test(flavor = "multi_thread")]
async fn the_warning_survives_an_every_service_answer() {
    let origin = Repo::new();
    // Each service's `paths` must match a file of the commit.
    origin
        .write(".github/ferry.yml", MANIFEST)
        .write("services/api/main.rs", "1")
        .write("services/worker/main.rs", "1");
    let tip = origin.commit("first");
    let clone = tempfile::tempdir().unwrap();
    support::git_in(
        clone.path(),
        &["clone", "-q", &origin.path().display().to_string(), "."],
    );
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(403).set_body_json(json!({"message": "denied"})))
        .mount(&server)
        .await;
    let payload = event_file(&json!({
        "ref": "refs/heads/release", "before": "0".repeat(40), "after": tip,
        "forced": false, "created": true, "deleted": false,
        "repository": {"default_branch": "main"}
    }));
    let run = run_in_actions(clone.path(), &server.uri(), "push", &payload);
    assert_eq!(run.code, 0, "{run:#?}");
    assert_eq!(run.services(), ["api", "worker"], "{}", run.summary);
    assert!(
        run.stdout
            .lines()
            .any(|l| l.starts_with("::warning ") && l.contains("deployments: read")),
        "{}",
        run.stdout
    );
    assert!(run.summary.contains("> [!WARNING]"), "{}", run.summary);
}
