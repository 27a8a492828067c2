//! Only Ferry's own records are believed: plan comments, the deploy
//! comment, Deployments and their statuses written by anyone else are
//! ignored (with a warning naming them) and never edited, and a plan comment
//! edited after Ferry wrote it is not trusted.
//!
//! Against the stateful GitHub stand-in (`support/github_state.rs`), where
//! every record has the author of the token that wrote it and an outsider
//! cannot edit others' comments; every request Ferry sent is then replayed
//! to Prism on GitHub's OpenAPI description.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::support::deploy::staging_api_report;
use crate::support::github_state::{
    APP_BOT, APP_TOKEN, GitHubState, MALLORY, TOKEN, WENDY, assert_valid_github_api,
};
use crate::support::{Run, everything, ferry_with};

use std::path::Path;

use ferry::deploy::DeployReport;
use ferry::deploy::comment::MARKER as DEPLOY_MARKER;
use ferry::deploy::post::post_deploy_comment;
use ferry::gha::{RepoSlug, Secret};
use ferry::github::GitHub;
use ferry::github::retry::RetryPolicy;
use ferry::plan_comment::{input, marker};
use ferry::trust::TrustedAuthors;
use serde_json::json;

const REPO: &str = "octo/shop";
const SHA: &str = "0123456789abcdef0123456789abcdef01234567";
const KEY: &str = "plan-key-4c1f9e0b7a";
const PLAN_MARKER: &str = "<!-- ferry:plan:prod -->";

/// The plan reviewers saw: one bucket created.
fn reviewed_plan() -> String {
    json!({"format_version": "1.2", "terraform_version": "1.11.0", "planned_values": {},
        "resource_changes": [{"address": "aws_s3_bucket.logs", "mode": "managed",
            "type": "aws_s3_bucket", "name": "logs",
            "change": {"actions": ["create"], "before": null, "after": {"bucket": "shop-logs"},
                       "after_unknown": {}, "before_sensitive": false, "after_sensitive": {}}}]})
    .to_string()
}

/// The plan mallory wants applied: the production database destroyed.
fn evil_plan() -> String {
    json!({"format_version": "1.2", "terraform_version": "1.11.0", "planned_values": {},
        "resource_changes": [{"address": "aws_db_instance.prod", "mode": "managed",
            "type": "aws_db_instance", "name": "prod",
            "change": {"actions": ["delete"], "before": {"identifier": "prod"}, "after": null,
                       "after_unknown": {}, "before_sensitive": {}, "after_sensitive": false}}]})
    .to_string()
}

fn folder() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("reviewed.json"), reviewed_plan()).unwrap();
    std::fs::write(dir.path().join("evil.json"), evil_plan()).unwrap();
    dir
}

/// The digest mallory can compute for the evil plan herself (no key).
fn unkeyed_hash(text: &str) -> String {
    marker::plan_hash(&input::parse_plan(text, "p.json").unwrap(), None)
}

fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

/// A forged plan comment: Ferry's marker and metadata, the evil plan's digest.
fn forged_comment(hash: &str) -> String {
    format!(
        "{PLAN_MARKER}\n<!-- ferry:plan-meta hash={hash} written={} -->\n### Terraform plan for `prod`\n\n**No changes.**",
        now()
    )
}

/// `ferry plan-comment` / `plan-verify` on pull request 7 as a workflow
/// runs it, with `token`, and the extra variables.
fn plan(
    gh: &GitHubState,
    dir: &Path,
    command: &str,
    plan: &str,
    token: &str,
    extra: &[(&str, &str)],
) -> Run {
    let uri = gh.uri();
    let mut env: Vec<(&str, &str)> = gh
        .env(&uri, SHA)
        .into_iter()
        .filter(|(k, _)| *k != "GITHUB_TOKEN")
        .collect();
    env.push(("GITHUB_TOKEN", token));
    env.extend_from_slice(extra);
    ferry_with(
        dir,
        &[command, "--env", "prod", "--plan", plan, "--pr", "7"],
        &env,
    )
}

/// mallory comments first with Ferry's marker and the evil plan's digest:
/// plan-comment posts its own comment beside hers (never editing it, and
/// naming hers in a warning); plan-verify refuses the evil plan and accepts
/// the reviewed one, with a key and without.
#[tokio::test(flavor = "multi_thread")]
async fn a_forged_plan_comment_is_ignored_never_edited_and_never_believed() {
    for key in [None, Some(KEY)] {
        let gh = GitHubState::start(REPO).await;
        let dir = folder();
        let forged = forged_comment(&unkeyed_hash(&evil_plan()));
        let mallorys = gh.seed_comment_by(MALLORY, 7, &forged);
        let extra: Vec<(&str, &str)> = key.map(|k| ("INPUT_PLAN-KEY", k)).into_iter().collect();

        let posted = plan(
            &gh,
            dir.path(),
            "plan-comment",
            "reviewed.json",
            TOKEN,
            &extra,
        );
        assert_eq!(posted.code, 0, "{posted:#?}");
        assert!(
            everything(&posted).contains(&format!(
                "comment {mallorys} by mallory carries Ferry's marker: ignored"
            )),
            "{posted:#?}"
        );
        let comments = gh.comments();
        assert_eq!(comments.len(), 2, "{comments:#?}");
        let hers = comments.iter().find(|c| c.id == mallorys).unwrap();
        assert_eq!((hers.body.as_str(), hers.edits), (forged.as_str(), 0));
        let ours = comments.iter().find(|c| c.id != mallorys).unwrap();
        assert_eq!(ours.user.login, "github-actions[bot]");
        let hash = marker::hash_in(&ours.body).unwrap();
        assert_eq!(
            hash.starts_with("hmac-sha256:"),
            key.is_some(),
            "{}",
            ours.body
        );
        assert!(
            !gh.received()
                .await
                .iter()
                .any(|r| r.method.as_str() == "PATCH"
                    && r.url.path().ends_with(&format!("/{mallorys}"))),
            "mallory's comment was sent an edit"
        );

        let evil = plan(&gh, dir.path(), "plan-verify", "evil.json", TOKEN, &extra);
        assert_eq!(evil.code, 1, "{evil:#?}");
        assert!(
            everything(&evil).contains("differs from the one reviewed"),
            "{evil:#?}"
        );
        let good = plan(
            &gh,
            dir.path(),
            "plan-verify",
            "reviewed.json",
            TOKEN,
            &extra,
        );
        assert_eq!(good.code, 0, "{good:#?}");
        assert!(
            good.stdout.contains(&hash) || good.stderr.contains(&hash),
            "{good:#?}"
        );

        // A re-run with the same plan finds its own comment and leaves it.
        let again = plan(
            &gh,
            dir.path(),
            "plan-comment",
            "reviewed.json",
            TOKEN,
            &extra,
        );
        assert_eq!(again.code, 0, "{again:#?}");
        assert!(again.stdout.contains("is up to date"), "{again:#?}");
        assert_eq!(gh.comments().len(), 2);
        assert_valid_github_api(&gh.received().await).await;
    }
}

/// With only mallory's comment there, plan-verify has nothing to verify
/// against: it says so, whatever her comment claims.
#[tokio::test(flavor = "multi_thread")]
async fn only_a_forged_comment_is_no_reviewed_plan() {
    let gh = GitHubState::start(REPO).await;
    let dir = folder();
    gh.seed_comment_by(MALLORY, 7, &forged_comment(&unkeyed_hash(&evil_plan())));
    let run = plan(&gh, dir.path(), "plan-verify", "evil.json", TOKEN, &[]);
    assert_eq!(run.code, 1, "{run:#?}");
    assert!(
        everything(&run).contains("no plan comment for `prod`"),
        "{run:#?}"
    );
    assert!(everything(&run).contains("by mallory carries Ferry's marker: ignored"));
}

/// wendy (write access) edits Ferry's comment an hour after Ferry wrote
/// it, putting the evil plan's digest in: not trusted, with or without a
/// key; without the key she may also move the write time, with it she
/// cannot sign the change. plan-comment then writes the comment afresh.
#[tokio::test(flavor = "multi_thread")]
async fn a_plan_comment_edited_after_ferrys_write_is_not_trusted() {
    for key in [None, Some(KEY)] {
        let gh = GitHubState::start(REPO).await;
        let dir = folder();
        let extra: Vec<(&str, &str)> = key.map(|k| ("INPUT_PLAN-KEY", k)).into_iter().collect();
        let posted = plan(
            &gh,
            dir.path(),
            "plan-comment",
            "reviewed.json",
            TOKEN,
            &extra,
        );
        assert_eq!(posted.code, 0, "{posted:#?}");
        let ours = gh.comments().remove(0);
        let meta = marker::meta_in(&ours.body).unwrap();
        let evil_hash = match key {
            None => unkeyed_hash(&evil_plan()),
            // Her best guess: she has no key.
            Some(_) => unkeyed_hash(&evil_plan()).replace("sha256:", "hmac-sha256:"),
        };
        let edited = ours.body.replace(&meta.hash, &evil_hash);
        gh.edit_comment_by(WENDY, ours.id, &edited, 3600);

        for file in ["evil.json", "reviewed.json"] {
            let run = plan(&gh, dir.path(), "plan-verify", file, TOKEN, &extra);
            assert_eq!(run.code, 1, "{file}: {run:#?}");
            assert!(
                everything(&run).contains(&format!("comment {}) is not trusted", ours.id)),
                "{run:#?}"
            );
        }
        // Moving the time too: caught by the signature when there is a key.
        if key.is_some() {
            let later = edited.replace(
                &format!("written={}", meta.written.unwrap()),
                &format!("written={}", now() + 3600),
            );
            gh.edit_comment_by(WENDY, ours.id, &later, 3600);
            let run = plan(&gh, dir.path(), "plan-verify", "evil.json", TOKEN, &extra);
            assert_eq!(run.code, 1, "{run:#?}");
            assert!(
                everything(&run).contains("not signed with this plan-key"),
                "{run:#?}"
            );
        }
        // Ferry writes its comment again; then the reviewed plan verifies.
        let again = plan(
            &gh,
            dir.path(),
            "plan-comment",
            "reviewed.json",
            TOKEN,
            &extra,
        );
        assert_eq!(again.code, 0, "{again:#?}");
        assert!(again.stdout.contains("edited comment"), "{again:#?}");
        let run = plan(
            &gh,
            dir.path(),
            "plan-verify",
            "reviewed.json",
            TOKEN,
            &extra,
        );
        assert_eq!(run.code, 0, "{run:#?}");
        assert_valid_github_api(&gh.received().await).await;
    }
}

/// The trusted authors are a setting: with a GitHub App's token, its bot
/// (`ferry-release[bot]`) writes the comment and is the one believed when
/// named; `github-actions[bot]` is then not believed, and by default the
/// App's comment is not.
#[tokio::test(flavor = "multi_thread")]
async fn the_trusted_authors_setting_names_github_token_or_an_apps_bot() {
    let gh = GitHubState::start(REPO).await;
    let dir = folder();
    let app: &[(&str, &str)] = &[("INPUT_TRUSTED-AUTHORS", "ferry-release[bot]")];
    let posted = plan(
        &gh,
        dir.path(),
        "plan-comment",
        "reviewed.json",
        APP_TOKEN,
        app,
    );
    assert_eq!(posted.code, 0, "{posted:#?}");
    assert_eq!(gh.comments()[0].user, APP_BOT);
    let run = plan(
        &gh,
        dir.path(),
        "plan-verify",
        "reviewed.json",
        APP_TOKEN,
        app,
    );
    assert_eq!(run.code, 0, "{run:#?}");

    // The default (GITHUB_TOKEN's bot) does not believe the App's comment.
    let run = plan(&gh, dir.path(), "plan-verify", "reviewed.json", TOKEN, &[]);
    assert_eq!(run.code, 1, "{run:#?}");
    assert!(
        everything(&run).contains("by ferry-release[bot] carries Ferry's marker: ignored"),
        "{run:#?}"
    );
    // GITHUB_TOKEN's comment, when only the App is trusted, is ignored too:
    // the App posts its own beside it.
    let gh2 = GitHubState::start(REPO).await;
    let posted = plan(
        &gh2,
        dir.path(),
        "plan-comment",
        "reviewed.json",
        TOKEN,
        &[],
    );
    assert_eq!(posted.code, 0, "{posted:#?}");
    let run = plan(&gh2, dir.path(), "plan-verify", "reviewed.json", TOKEN, app);
    assert_eq!(run.code, 1, "{run:#?}");
    assert!(everything(&run).contains("by github-actions[bot] carries Ferry's marker: ignored"));
    let run = plan(
        &gh2,
        dir.path(),
        "plan-comment",
        "reviewed.json",
        APP_TOKEN,
        app,
    );
    assert_eq!(run.code, 0, "{run:#?}");
    assert_eq!(gh2.comments().len(), 2);
    assert!(gh2.comments().iter().all(|c| c.edits == 0));

    // A bad setting is an error naming the entry.
    let run = plan(
        &gh,
        dir.path(),
        "plan-verify",
        "reviewed.json",
        TOKEN,
        &[("INPUT_TRUSTED-AUTHORS", "ok-bot[bot], not a@login")],
    );
    assert_eq!(run.code, 1, "{run:#?}");
    assert!(
        everything(&run).contains("trusted-authors: \"a@login\""),
        "{run:#?}"
    );
    assert_valid_github_api(&gh.received().await).await;
    assert_valid_github_api(&gh2.received().await).await;
}

fn github(gh: &GitHubState, trusted: Option<&str>) -> GitHub {
    let mut client = GitHub::new(
        &gh.uri(),
        Some(&Secret::new(TOKEN)),
        RepoSlug::parse(REPO).unwrap(),
    )
    .unwrap();
    client.retry = RetryPolicy::fast();
    match trusted {
        Some(t) => client.with_trusted(TrustedAuthors::parse(t).unwrap()),
        None => client,
    }
}

const IMAGE: &str = "123456789012.dkr.ecr.us-east-1.amazonaws.com/shop/api@sha256:1111111111111111111111111111111111111111111111111111111111111111";
const EVIL_IMAGE: &str = "123456789012.dkr.ecr.us-east-1.amazonaws.com/shop/api@sha256:6666666666666666666666666666666666666666666666666666666666666666";

fn report() -> DeployReport {
    staging_api_report(
        SHA,
        IMAGE,
        "arn:aws:ecs:us-east-1:123456789012:task-definition/shop-staging-api:12",
    )
}

/// mallory's deploy comment (Ferry's marker, a forged state line saying
/// prod failed) is neither merged nor edited: Ferry posts its own.
#[tokio::test(flavor = "multi_thread")]
async fn the_deploy_comment_ignores_a_forged_one() {
    let gh = GitHubState::start(REPO).await;
    gh.set_pulls(SHA, &[7]);
    let forged = format!(
        "{DEPLOY_MARKER}\n## Deploy\nprod: failed, api rolled back\n<!-- ferry:deploy-state {{\"rows\":[{{\"env\":\"prod\",\"service\":\"evil\",\"status\":\"failed\"}}]}} -->"
    );
    let hers = gh.seed_comment_by(MALLORY, 7, &forged);
    let client = github(&gh, None);
    let done = post_deploy_comment(&client, SHA, &report()).await.unwrap();
    assert_eq!(done.len(), 1);
    let comments = gh.comments();
    assert_eq!(comments.len(), 2, "{comments:#?}");
    let (theirs, ours): (Vec<_>, Vec<_>) = comments.into_iter().partition(|c| c.id == hers);
    assert_eq!(
        (theirs[0].body.as_str(), theirs[0].edits),
        (forged.as_str(), 0)
    );
    assert_eq!(ours[0].user.login, "github-actions[bot]");
    assert!(!ours[0].body.contains("evil"), "{}", ours[0].body);
    assert!(ours[0].body.contains("api"), "{}", ours[0].body);
    assert_valid_github_api(&gh.received().await).await;
}

/// Deployments and statuses by others: a Deployment mallory made with
/// Ferry's task and a `success` status, and a `success` status wendy added
/// to Ferry's failed release, are not the last successful release (the
/// rollback target); an App's records are when the App is trusted.
#[tokio::test(flavor = "multi_thread")]
async fn deployments_and_statuses_by_others_are_not_the_release_history() {
    let gh = GitHubState::start(REPO).await;
    let payload = |image: &str| {
        json!({"service": "api", "image": image,
               "task_definition_arn": "arn:aws:ecs:us-east-1:123456789012:task-definition/shop-staging-api:3"})
    };
    let good = gh.seed_deployment(SHA, "staging", "api", payload(IMAGE), &["success"]);
    let failed = gh.seed_deployment(SHA, "staging", "api", payload(IMAGE), &["failure"]);
    gh.add_status_by(WENDY, failed, "success");
    gh.seed_deployment_by(
        MALLORY,
        SHA,
        "staging",
        "api",
        payload(EVIL_IMAGE),
        &["success"],
    );

    let client = github(&gh, None);
    let listed = client
        .deployments("staging", "api", None, 100)
        .await
        .unwrap();
    assert_eq!(
        listed.iter().map(|d| d.id).collect::<Vec<_>>(),
        vec![failed, good]
    );
    assert_eq!(
        client.latest_state(failed).await.unwrap(),
        Some(ferry::github::deployments::DeploymentState::Failure)
    );
    let last = client.last_successful("staging", "api", 100).await.unwrap();
    assert_eq!(last.map(|d| d.id), Some(good));
    let history = client
        .environment_history("staging", 0, 10, 100)
        .await
        .unwrap();
    assert_eq!(history.len(), 2, "{history:#?}");

    // Trusting the App only: none of these is believed.
    let app_only = github(&gh, Some("ferry-release[bot]"));
    assert!(
        app_only
            .last_successful("staging", "api", 100)
            .await
            .unwrap()
            .is_none()
    );
    let apps = gh.seed_deployment_by(APP_BOT, SHA, "staging", "api", payload(IMAGE), &["success"]);
    assert_eq!(
        app_only
            .last_successful("staging", "api", 100)
            .await
            .unwrap()
            .map(|d| d.id),
        Some(apps)
    );
    assert_valid_github_api(&gh.received().await).await;
}

fn gate_folder() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join(".github")).unwrap();
    std::fs::write(
        dir.path().join(".github/ferry.yml"),
        "project: shop\nregion: us-east-1\nenvironments:\n  staging: { cluster: shop-staging }\n  prod:\n    cluster: shop-prod\n    promote-from: staging\nservices:\n  api: {}\n",
    )
    .unwrap();
    dir
}

/// `ferry gate` as a workflow runs it: a digest whose only staging success
/// is mallory's hand-made Deployment, or a `success` status wendy added to
/// Ferry's failed one, is refused; Ferry's own success is allowed.
#[tokio::test(flavor = "multi_thread")]
async fn the_gate_ignores_foreign_deployments_and_statuses() {
    let gh = GitHubState::start(REPO).await;
    let payload = |image: &str| json!({"service": "api", "image": image});
    gh.seed_deployment_by(
        MALLORY,
        SHA,
        "staging",
        "api",
        payload(EVIL_IMAGE),
        &["success"],
    );
    let failed = gh.seed_deployment(SHA, "staging", "api", payload(IMAGE), &["failure"]);
    gh.add_status_by(WENDY, failed, "success");
    let dir = gate_folder();
    let uri = gh.uri();
    let gate = |image: &str| {
        let arg = format!("api={image}");
        ferry_with(
            dir.path(),
            &["gate", "--env", "prod", "--images", &arg],
            &gh.env(&uri, SHA),
        )
    };
    for image in [EVIL_IMAGE, IMAGE] {
        let run = gate(image);
        assert_ne!(run.code, 0, "{image}: {run:#?}");
        assert_eq!(run.output("allowed"), "false");
        assert!(
            everything(&run).contains("carries Ferry's marker: ignored"),
            "{run:#?}"
        );
    }
    assert!(everything(&gate(EVIL_IMAGE)).contains("by mallory"));
    assert!(everything(&gate(IMAGE)).contains(&format!("of deployment {failed} by wendy")));

    gh.add_status_by(ferry_bot(), failed, "success");
    let run = gate(IMAGE);
    assert_eq!(run.code, 0, "{run:#?}");
    assert_eq!(run.output("allowed"), "true");
    assert_valid_github_api(&gh.received().await).await;
}

fn ferry_bot() -> crate::support::github_state::Who {
    crate::support::github_state::ACTIONS_BOT
}
