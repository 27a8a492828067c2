//! Gaps found in review of `ferry detect` (and two neighbours), each proven
//! through the binary or the shipped workflow: a first push at the default
//! branch's commit, the `workflow_dispatch` form and what it does, the
//! release workflow's permission to read Deployments, the builders listed
//! in `--help`, and the deploy dry run's commit outside Actions.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::support;
use crate::support::root;

use std::path::Path;

use serde_yaml_ng::Value;
use support::{Repo, Run, ferry, ferry_with, git_in};

const MANIFEST: &str = support::TWO_SERVICES;

/// A clone of `main` (two services, one commit), ready for push events.
fn clone_of_main() -> (Repo, tempfile::TempDir, String) {
    let origin = Repo::new();
    origin
        .write(".github/ferry.yml", MANIFEST)
        .write("services/api/main.rs", "1")
        .write("services/worker/main.rs", "1");
    let tip = origin.commit("first commit");
    let clone = tempfile::tempdir().unwrap();
    git_in(
        clone.path(),
        &["clone", "-q", &origin.path().display().to_string(), "."],
    );
    (origin, clone, tip)
}

fn push(dir: &Path, branch: &str, after: &str) -> Run {
    let event = serde_json::json!({
        "ref": format!("refs/heads/{branch}"), "before": "0".repeat(40), "after": after,
        "forced": false, "created": true, "deleted": false,
        "repository": { "default_branch": "main" }
    });
    let file = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(file.path(), event.to_string()).unwrap();
    ferry_with(
        dir,
        &["detect"],
        &[
            ("GITHUB_ACTIONS", "true"),
            ("GITHUB_EVENT_NAME", "push"),
            ("GITHUB_EVENT_PATH", file.path().to_str().unwrap()),
        ],
    )
}

#[test]
fn a_new_release_branch_at_the_default_branch_commit_releases_every_service() {
    let (_origin, clone, tip) = clone_of_main();
    git_in(clone.path(), &["checkout", "-q", "-b", "release"]);
    // No token: the Deployments cannot be read, and the default branch is
    // the pushed commit itself. Comparing it with itself would release nothing.
    let run = push(clone.path(), "release", &tip);
    assert_eq!(run.code, 0, "{run:#?}");
    assert_eq!(run.services(), ["api", "worker"], "{}", run.summary);
    assert!(
        run.summary.contains("is the pushed commit itself"),
        "{}",
        run.summary
    );
    assert!(
        run.summary.contains("every service is treated as affected"),
        "{}",
        run.summary
    );
}

#[test]
fn a_new_branch_at_the_default_branch_commit_says_what_was_compared() {
    let (_origin, clone, tip) = clone_of_main();
    git_in(clone.path(), &["checkout", "-q", "-b", "feature"]);
    let run = push(clone.path(), "feature", &tip);
    assert_eq!(run.code, 0, "{run:#?}");
    assert!(run.services().is_empty(), "{}", run.summary);
    let short = &tip[..7];
    assert!(
        run.summary.contains(&format!(
            "merge base with the default branch main (origin/main) is {short} itself: this push adds no commit"
        )),
        "{}",
        run.summary
    );
    // The first push of a repository creates the default branch: nothing is
    // before it, so every file is new and every service affected (issue 24;
    // paths-filter lists every file too).
    let run = push(clone.path(), "main", &tip);
    assert_eq!(run.code, 0, "{run:#?}");
    assert_eq!(run.services(), ["api", "worker"], "{}", run.summary);
    assert!(
        run.summary
            .contains("the first push of the default branch main (no commit before it)"),
        "{}",
        run.summary
    );
}

fn release_workflow() -> Value {
    let text = std::fs::read_to_string(root().join(".github/workflows/release.yml")).unwrap();
    serde_yaml_ng::from_str(&text).unwrap()
}

#[test]
fn the_release_workflow_lets_detect_read_deployments() {
    let wf = release_workflow();
    let perms = &wf["jobs"]["detect"]["permissions"];
    assert_eq!(perms["deployments"].as_str(), Some("read"), "{perms:?}");
    assert_eq!(perms["contents"].as_str(), Some("read"), "{perms:?}");
}

#[test]
fn the_dispatch_form_says_what_an_empty_service_list_does() {
    let wf = release_workflow();
    let description = wf["on"]["workflow_dispatch"]["inputs"]["services"]["description"]
        .as_str()
        .unwrap();
    assert!(
        description.contains("Empty: every service"),
        "{description}"
    );
    // And it does: a dispatch without a list releases every service.
    let (_origin, clone, _) = clone_of_main();
    let file = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(
        file.path(),
        serde_json::json!({"ref": "refs/heads/release", "inputs": {"services": ""}}).to_string(),
    )
    .unwrap();
    let run = ferry_with(
        clone.path(),
        &["detect"],
        &[
            ("GITHUB_ACTIONS", "true"),
            ("GITHUB_EVENT_NAME", "workflow_dispatch"),
            ("GITHUB_EVENT_PATH", file.path().to_str().unwrap()),
            ("INPUT_SERVICES", ""),
        ],
    );
    assert_eq!(run.code, 0, "{run:#?}");
    assert_eq!(run.services(), ["api", "worker"]);
    assert!(
        run.summary
            .contains("workflow_dispatch without a service list: every service"),
        "{}",
        run.summary
    );
}

#[test]
fn help_lists_the_builders_and_refuses_others() {
    let dir = tempfile::tempdir().unwrap();
    for command in ["build", "release"] {
        let run = ferry(dir.path(), &[command, "-h"]);
        assert_eq!(run.code, 0, "{run:#?}");
        // Help wraps to the terminal's width: compare words, not lines.
        let words = run.stdout.split_whitespace().collect::<Vec<_>>().join(" ");
        assert!(
            words.contains("[possible values: docker, buildah]"),
            "{command}: {}",
            run.stdout
        );
        let run = ferry(dir.path(), &[command, "--help"]);
        assert!(
            run.stdout.contains("- docker:") && run.stdout.contains("- buildah:"),
            "{command}: {}",
            run.stdout
        );
        let run = ferry(dir.path(), &[command, "--builder", "kaniko"]);
        assert_eq!(run.code, 2, "{run:#?}");
        assert!(
            run.stderr.contains("invalid value 'kaniko'")
                && run.stderr.contains("[possible values: docker, buildah]"),
            "{}",
            run.stderr
        );
    }
}

#[test]
fn the_deploy_dry_run_outside_actions_names_the_head_commit() {
    let r = Repo::new();
    r.write(".github/ferry.yml", MANIFEST).write(
        "task-definitions/api.jsonnet",
        "{ family: 'api', containerDefinitions: [{ name: 'api', image: std.extVar('IMAGE'), essential: true }], cpu: '256', memory: '512', requiresCompatibilities: ['FARGATE'], networkMode: 'awsvpc' }\n",
    );
    let head = r.commit("one");
    let run = ferry(
        r.path(),
        &[
            "deploy",
            "--env",
            "staging",
            "--dry-run",
            "--images",
            "api=111111111111.dkr.ecr.us-east-1.amazonaws.com/shop/api:1",
        ],
    );
    assert_eq!(run.code, 0, "{run:#?}");
    assert!(
        run.stderr
            .contains(&format!("Ferry deploy of `{}`", &head[..7])),
        "{}",
        run.stderr
    );
    assert!(!run.stderr.contains("Ferry deploy of ``"), "{}", run.stderr);
}
