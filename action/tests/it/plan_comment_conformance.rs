//! Conformance: every request the comment upsert sends is valid GitHub API,
//! checked by Prism serving GitHub's OpenAPI description
//! (`@octokit/openapi` `generated/api.github.com.json`). Prism answers 422
//! with an `sl-violations` header to a request that breaks the spec, which
//! surfaces here as an `HTTP 422` error. Prism stores nothing, so the
//! stateful upsert is tested in `plan_comment_upsert.rs`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use ferry::gha::Secret;
use ferry::github::GitHubError;
use ferry::github::comments::{Comments, IssueRef};
use ferry::github::retry::RetryPolicy;
use ferry::trust::TrustedAuthors;

/// The shared GitHub client, with the token as a secret.
fn client(api_url: &str, token: Option<&str>) -> Result<octocrab::Octocrab, GitHubError> {
    ferry::github::client(api_url, token.map(Secret::new).as_ref())
}

use crate::support::testbed_url;

fn prism() -> String {
    testbed_url("PRISM_URL")
}

fn issue() -> IssueRef {
    IssueRef {
        owner: "octo-org".into(),
        repo: "ferry-demo".into(),
        number: 42,
    }
}

#[tokio::test]
async fn list_create_edit_delete_and_labels_are_valid_requests() {
    let crab = client(&prism(), Some("ghs_prismtesttoken")).unwrap();
    let issue = issue();
    let trusted = TrustedAuthors::default();
    let c = Comments::new(&crab, &issue, RetryPolicy::fast(), &trusted);
    let listed = c.list().await.unwrap();
    assert!(
        !listed.is_empty(),
        "Prism serves the spec's example comment"
    );
    // A later page, as the upsert requests when the first one is full.
    c.list_page(2).await.unwrap();
    let created = c
        .create("<!-- ferry:plan:staging -->\nhello")
        .await
        .unwrap();
    c.update(created.id, "<!-- ferry:plan:staging -->\nedited")
        .await
        .unwrap();
    c.delete(created.id).await.unwrap();
    c.add_labels(&["terraform:staging:destroy".to_string()])
        .await
        .unwrap();
    c.remove_label("terraform:staging:no-changes")
        .await
        .unwrap();
}

#[tokio::test]
async fn upsert_edits_the_marked_comment_found_by_listing() {
    // The spec's example comment body is "Me too", by the user `octocat`;
    // mark by that, trusting octocat, to force the edit path.
    let crab = client(&prism(), Some("ghs_prismtesttoken")).unwrap();
    let issue = issue();
    let trusted = TrustedAuthors::parse("octocat").unwrap();
    let c = Comments::new(&crab, &issue, RetryPolicy::fast(), &trusted);
    let done = c.upsert("Me too", "Me too\nedited by ferry").await.unwrap();
    assert!(
        matches!(done, ferry::github::comments::Upserted::Updated(_)),
        "{done:?}"
    );
}

#[tokio::test]
async fn an_invalid_request_is_refused_by_prism() {
    // Proves the check has teeth: a comment id must be an integer.
    let crab = client(&prism(), Some("ghs_prismtesttoken")).unwrap();
    let resp = crab
        ._patch(
            "/repos/octo-org/ferry-demo/issues/comments/not-a-number",
            Some(&serde_json::json!({"body": "x"})),
        )
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 422);
    assert!(resp.headers().contains_key("sl-violations"));
}
