//! `ferry detect` on `merge_group` events (GitHub's merge queue), through the
//! binary: the payload is the `@octokit/webhooks-examples` example
//! (`tests/data/webhooks/merge_group.json`) with its commits replaced by a
//! scripted queue's, and the answer is what the group's `base_sha..head_sha`
//! changes, as paths-filter diffs it: one service, docs only, and a batch of
//! two pull requests. The base branch moves on after the pull requests fork,
//! so a merge-base comparison would give a different (wrong) answer.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::support;
use crate::support::detect::TWO_SERVICE_FOLDERS as MANIFEST;

use support::{Repo, ferry_with};

/// The vendored example, with the queue's commits and branch.
fn payload(base_sha: &str, head_sha: &str, pr: u64) -> serde_json::Value {
    let path = support::root().join("action/tests/data/webhooks/merge_group.json");
    let all: Vec<serde_json::Value> =
        serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let mut event = all[0].clone();
    let group = &mut event["merge_group"];
    group["base_sha"] = base_sha.into();
    group["head_sha"] = head_sha.into();
    group["head_ref"] = format!("refs/heads/gh-readonly-queue/main/pr-{pr}-{base_sha}").into();
    event
}

fn detect(r: &Repo, event: &serde_json::Value) -> support::Run {
    let file = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(file.path(), event.to_string()).unwrap();
    ferry_with(
        r.path(),
        &["detect"],
        &[
            ("GITHUB_ACTIONS", "true"),
            ("GITHUB_EVENT_NAME", "merge_group"),
            ("GITHUB_EVENT_PATH", file.path().to_str().unwrap()),
        ],
    )
}

/// main, two pull-request branches forked from it (api, docs), a worker
/// change landing on main after they forked, and the queue's merge commits
/// on main's new tip: `(main tip, group of PR 1, group of PRs 1 and 2)`.
fn queue() -> (Repo, String, String, String) {
    let r = Repo::new();
    r.write(".github/ferry.yml", MANIFEST)
        .write("services/api/src/main.rs", "fn main() {}\n")
        .write("services/worker/src/main.rs", "fn main() {}\n")
        .write("docs/guide.md", "# Guide\n");
    r.commit("initial");
    r.git(&["checkout", "-q", "-b", "pr-1"]);
    r.write("services/api/src/main.rs", "fn main() { /* pr 1 */ }\n");
    r.commit("api change");
    r.git(&["checkout", "-q", "main"]);
    r.git(&["checkout", "-q", "-b", "pr-2"]);
    r.write("docs/guide.md", "# Guide, pr 2\n");
    r.commit("docs change");
    r.git(&["checkout", "-q", "main"]);
    r.write(
        "services/worker/src/main.rs",
        "fn main() { /* landed */ }\n",
    );
    let tip = r.commit("worker change, already merged");
    r.git(&["checkout", "-q", "-b", "gh-readonly-queue"]);
    r.git(&[
        "merge",
        "-q",
        "--no-ff",
        "-m",
        "Merge pull request #1",
        "pr-1",
    ]);
    let one = r.git(&["rev-parse", "HEAD"]).trim().to_string();
    r.git(&[
        "merge",
        "-q",
        "--no-ff",
        "-m",
        "Merge pull request #2",
        "pr-2",
    ]);
    let two = r.git(&["rev-parse", "HEAD"]).trim().to_string();
    r.git(&["checkout", "-q", "main"]);
    (r, tip, one, two)
}

#[test]
fn a_group_changing_one_service_affects_that_service_only() {
    let (r, tip, one, _) = queue();
    let run = detect(&r, &payload(&tip, &one, 1));
    assert_eq!(run.code, 0, "{run:#?}");
    // The worker changed on main before the group: not the group's change.
    assert_eq!(run.services(), ["api"]);
    assert!(
        run.summary.contains("the merge queue's base main"),
        "{}",
        run.summary
    );
}

#[test]
fn a_docs_only_group_affects_nothing() {
    let (r, _, one, two) = queue();
    // PR 2's change alone: the group of PR 2 on top of the group of PR 1.
    let run = detect(&r, &payload(&one, &two, 2));
    assert_eq!(run.code, 0, "{run:#?}");
    assert!(run.services().is_empty(), "{run:#?}");
    assert_eq!(run.output("any"), "false");
}

#[test]
fn a_batch_of_two_pull_requests_affects_what_either_changes() {
    let (r, tip, _, two) = queue();
    let run = detect(&r, &payload(&tip, &two, 2));
    assert_eq!(run.code, 0, "{run:#?}");
    assert_eq!(run.services(), ["api"]);
    assert_eq!(run.output("any"), "true");
}

#[test]
fn a_destroyed_group_and_a_forged_group_are_not_tested() {
    let (r, tip, one, _) = queue();
    let mut event = payload(&tip, &one, 1);
    event["action"] = "destroyed".into();
    let run = detect(&r, &event);
    assert_eq!(run.code, 0, "{run:#?}");
    assert!(run.services().is_empty());
    assert!(
        run.summary.contains("merge group was destroyed"),
        "{}",
        run.summary
    );

    let mut event = payload(&tip, &one, 1);
    event["merge_group"]["base_sha"] = "--output=/tmp/x".into();
    let run = detect(&r, &event);
    assert_eq!(run.code, 1, "{run:#?}");
    assert!(
        support::everything(&run).contains("`merge_group.base_sha`"),
        "{run:#?}"
    );
}
