//! The Terraform flow from review to apply, end to end, with the real
//! `terraform` binary (built-in `terraform_data` resources, local state)
//! and the stateful GitHub stand-in (`support/github_state.rs`, then every
//! request replayed to Prism on GitHub's OpenAPI description):
//!
//! - two pull requests are planned and commented (`plan-comment`);
//! - the first is merged: re-planned at the merge commit, verified against
//!   its reviewed plan (`plan-verify`), applied (`terraform apply -json`),
//!   and the outcome lands in its plan comment and the job summary
//!   (`plan-applied`);
//! - the second's reviewed plan is now stale (the first apply changed what
//!   it reads): refused in the merge queue (`merge_group`, the pull request
//!   read from the queue's branch) and after merge, naming the pull request;
//! - a third whose apply fails: the comment says which resource failed and
//!   Terraform's error, and the command fails;
//! - a pull request that did not touch the Terraform (no plan comment, an
//!   empty plan) verifies;
//! - a merge-queue batch of two pull requests: verified in the queue only
//!   as the union of their two reviews, refused naming the pull request
//!   whose plan differs, and after merge (one push, two pull requests)
//!   applied with the outcome on both comments.
//!
//! The merge queue's branches (`git/matching-refs`) and the commit → pull
//! request mapping are state, which Prism cannot hold: the stand-in holds
//! them, and Prism checks every request afterwards.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};

use crate::support::github_state::{GitHubState, assert_valid_github_api};
use crate::support::terraform::Terraform as Tf;
use crate::support::{Run, everything, ferry_with};

const REPO: &str = "octo/shop";
const SHA: &str = "0123456789abcdef0123456789abcdef01234567";

/// What the flow does in a Terraform folder whose state plays "staging".
trait Flow {
    fn plan(&self, main_tf: &str, name: &str) -> String;
    fn apply(&self, name: &str) -> (bool, String);
}

impl Flow for Tf {
    /// `terraform plan -out` and `show -json` at this configuration; the JSON's file name.
    fn plan(&self, main_tf: &str, name: &str) -> String {
        self.init(main_tf);
        let bin = format!("{name}.tfplan");
        self.ok(&["plan", "-input=false", "-no-color", "-out", &bin]);
        let json = self.ok(&["show", "-json", &bin]);
        std::fs::write(self.path().join(format!("{name}.json")), json).unwrap();
        format!("{name}.json")
    }

    /// `terraform apply -json <plan>`, its log written to `<name>.apply.jsonl`;
    /// whether Terraform succeeded.
    fn apply(&self, name: &str) -> (bool, String) {
        let out = self.run(&["apply", "-json", "-input=false", &format!("{name}.tfplan")]);
        let log = format!("{name}.apply.jsonl");
        std::fs::write(self.path().join(&log), &out.stdout).unwrap();
        (out.status.success(), log)
    }
}

const BASE: &str = r#"resource "terraform_data" "keep" { input = "v0" }
"#;
/// PR 7: changes `keep`.
const PR7: &str = r#"resource "terraform_data" "keep" { input = "v1" }
"#;
/// PR 8, forked from the base: a resource that reads `keep`'s output.
const PR8: &str = r#"resource "terraform_data" "keep" { input = "v0" }
resource "terraform_data" "reader" { input = terraform_data.keep.output }
"#;
/// main after both merges.
const MERGED_7_8: &str = r#"resource "terraform_data" "keep" { input = "v1" }
resource "terraform_data" "reader" { input = terraform_data.keep.output }
"#;
/// PR 9 on top of PR 7: one resource that applies, one whose provisioner fails.
const PR9: &str = r#"resource "terraform_data" "keep" { input = "v1" }
resource "terraform_data" "fine" { input = "ok" }
resource "terraform_data" "broken" {
  input = "b"
  provisioner "local-exec" { command = "echo 'quota exceeded' >&2; exit 3" }
}
"#;

fn ferry_on(gh: &GitHubState, dir: &Path, args: &[&str], extra: &[(&str, &str)]) -> Run {
    let uri = gh.uri();
    let mut env = gh.env(&uri, SHA);
    env.extend_from_slice(extra);
    ferry_with(dir, args, &env)
}

fn comment_on(gh: &GitHubState, issue: u64) -> String {
    let all: Vec<_> = gh
        .comments()
        .into_iter()
        .filter(|c| c.issue == issue)
        .collect();
    assert_eq!(all.len(), 1, "{all:#?}");
    all[0].body.clone()
}

const MERGE_7: &str = "7777777777777777777777777777777777777777";

/// The push of merge commit `after` to main (the vendored example's shape).
fn push_event(dir: &Path, after: &str) -> PathBuf {
    let examples = crate::support::root().join("action/tests/data/webhooks/push.json");
    let all: Vec<serde_json::Value> =
        serde_json::from_str(&std::fs::read_to_string(examples).unwrap()).unwrap();
    let mut event = all
        .into_iter()
        .find(|e| {
            e["ref"]
                .as_str()
                .is_some_and(|r| r.starts_with("refs/heads/"))
        })
        .unwrap();
    event["ref"] = "refs/heads/main".into();
    event["before"] = SHA.into();
    event["after"] = after.into();
    let path = dir.join(format!("push-{after}.json"));
    std::fs::write(&path, event.to_string()).unwrap();
    path
}

/// The merge queue's event for a group ending with pull request `pr`,
/// built on `base` (`None`: the vendored example's commits).
fn merge_group_event(dir: &Path, pr: u64, base: Option<(&str, &str)>) -> PathBuf {
    let examples = crate::support::root().join("action/tests/data/webhooks/merge_group.json");
    let all: Vec<serde_json::Value> =
        serde_json::from_str(&std::fs::read_to_string(examples).unwrap()).unwrap();
    let mut event = all[0].clone();
    let group = &mut event["merge_group"];
    let on = match base {
        Some((base, head)) => {
            group["base_sha"] = base.into();
            group["head_sha"] = head.into();
            base
        }
        None => SHA,
    };
    group["head_ref"] = format!("refs/heads/gh-readonly-queue/main/pr-{pr}-{on}").into();
    let path = dir.join(format!("merge_group-{pr}-{on}.json"));
    std::fs::write(&path, event.to_string()).unwrap();
    path
}

/// Applies `BASE` (the environment before the pull requests), then plans
/// each pull request's configuration against it and comments the plan.
fn base_and_reviews(gh: &GitHubState, tf: &Tf, prs: [(u64, &str); 2]) {
    tf.plan(BASE, "base");
    assert!(tf.apply("base").0);
    for (pr, config) in prs {
        let plan = tf.plan(config, &format!("pr{pr}"));
        let run = ferry_on(
            gh,
            tf.path(),
            &[
                "plan-comment",
                "--env",
                "staging",
                "--plan",
                &plan,
                "--pr",
                &pr.to_string(),
            ],
            &[],
        );
        assert_eq!(run.code, 0, "{run:#?}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn review_merge_apply_stale_and_failing() {
    let gh = GitHubState::start(REPO).await;
    let tf = Tf::new();
    let dir = tf.path();
    // The environment as it stands before the pull requests; then the
    // review: both pull requests planned against it and commented.
    base_and_reviews(&gh, &tf, [(7, PR7), (8, PR8)]);
    assert!(comment_on(&gh, 8).contains("`terraform_data.reader`"));

    // PR 7 merged: on the push to main, the pull request is the one GitHub
    // associates with the merge commit, and the plan at that commit is the
    // reviewed one.
    gh.set_pulls(MERGE_7, &[7]);
    let push = push_event(dir, MERGE_7);
    let on_push = [
        ("GITHUB_EVENT_NAME", "push"),
        ("GITHUB_EVENT_PATH", push.to_str().unwrap()),
    ];
    let merged = tf.plan(PR7, "main-7");
    let verify = ferry_on(
        &gh,
        dir,
        &["plan-verify", "--env", "staging", "--plan", &merged],
        &on_push,
    );
    assert_eq!(verify.code, 0, "{verify:#?}");
    let (ok, log) = tf.apply("main-7");
    assert!(ok);
    let applied = ferry_on(
        &gh,
        dir,
        &[
            "plan-applied",
            "--env",
            "staging",
            "--plan",
            &merged,
            "--apply-log",
            &log,
        ],
        &on_push,
    );
    assert_eq!(applied.code, 0, "{applied:#?}");
    assert_eq!(applied.output("applied"), "true");
    assert_eq!(applied.output("resources-applied"), "1");
    let body = comment_on(&gh, 7);
    // The reviewed plan stays; the outcome follows it.
    assert!(body.contains("`terraform_data.keep`"), "{body}");
    assert!(body.contains("### ✅ Applied to `staging` in "), "{body}");
    assert!(body.contains("0 added, 1 changed, 0 destroyed."), "{body}");
    assert!(body.contains("`terraform_data.keep` (update)"), "{body}");
    assert!(
        body.contains("[The apply's run](https://github.com/octo/shop/actions/runs/4242)"),
        "{body}"
    );
    assert!(
        applied.summary.contains("### ✅ Applied to `staging`"),
        "{}",
        applied.summary
    );
    // A re-run of the apply job can still verify against the comment.
    let again = ferry_on(
        &gh,
        dir,
        &[
            "plan-verify",
            "--env",
            "staging",
            "--plan",
            &merged,
            "--expected-hash",
            &ferry::plan_comment::marker::hash_in(&body).unwrap(),
        ],
        &[],
    );
    assert_eq!(again.code, 0, "{again:#?}");
    let rerun = ferry_on(
        &gh,
        dir,
        &[
            "plan-verify",
            "--env",
            "staging",
            "--plan",
            &merged,
            "--pr",
            "7",
        ],
        &[],
    );
    assert_eq!(
        rerun.code, 0,
        "the comment with the outcome is still Ferry's: {rerun:#?}"
    );

    // PR 10 touched no Terraform: no comment, and the plan at its merge
    // commit changes nothing.
    let empty = tf.plan(PR7, "main-10");
    let verify = ferry_on(
        &gh,
        dir,
        &[
            "plan-verify",
            "--env",
            "staging",
            "--plan",
            &empty,
            "--pr",
            "10",
        ],
        &[],
    );
    assert_eq!(verify.code, 0, "{verify:#?}");

    // PR 8's reviewed plan read `keep` as v0; PR 7's apply made it v1.
    let stale = tf.plan(MERGED_7_8, "main-8");
    let event = merge_group_event(dir, 8, None);
    let queued = ferry_on(
        &gh,
        dir,
        &["plan-verify", "--env", "staging", "--plan", &stale],
        &[
            ("GITHUB_EVENT_NAME", "merge_group"),
            ("GITHUB_EVENT_PATH", event.to_str().unwrap()),
        ],
    );
    assert_eq!(queued.code, 1, "{queued:#?}");
    let said = everything(&queued);
    assert!(
        said.contains("the plan for `staging` differs from the one reviewed on pull request #8"),
        "{said}"
    );
    assert!(
        said.contains("re-run the plan on the pull request"),
        "{said}"
    );
    // What differs, against the reviewed plan: the resource that reads
    // `keep` was reviewed reading v0; never the values.
    assert!(
        said.contains("`terraform_data.reader` (create) differs from its review (create on #8)"),
        "{said}"
    );
    assert!(!said.contains("v0") && !said.contains("v1"), "{said}");
    assert!(
        queued
            .summary
            .contains("### ❌ The plan for `staging` is not the reviewed one"),
        "{}",
        queued.summary
    );
    assert!(
        queued
            .summary
            .contains("- `terraform_data.reader` (create) differs from its review (create on #8)"),
        "{}",
        queued.summary
    );
    let after_merge = ferry_on(
        &gh,
        dir,
        &[
            "plan-verify",
            "--env",
            "staging",
            "--plan",
            &stale,
            "--pr",
            "8",
        ],
        &[],
    );
    assert_eq!(after_merge.code, 1, "{after_merge:#?}");

    // PR 9: reviewed, merged, verified, and its apply fails on one resource.
    let plan9 = tf.plan(PR9, "pr9");
    let run = ferry_on(
        &gh,
        dir,
        &[
            "plan-comment",
            "--env",
            "staging",
            "--plan",
            &plan9,
            "--pr",
            "9",
        ],
        &[],
    );
    assert_eq!(run.code, 0, "{run:#?}");
    let verify = ferry_on(
        &gh,
        dir,
        &[
            "plan-verify",
            "--env",
            "staging",
            "--plan",
            &plan9,
            "--pr",
            "9",
        ],
        &[],
    );
    assert_eq!(verify.code, 0, "{verify:#?}");
    let (ok, log) = tf.apply("pr9");
    assert!(!ok, "the provisioner fails");
    let failed = ferry_on(
        &gh,
        dir,
        &[
            "plan-applied",
            "--env",
            "staging",
            "--plan",
            &plan9,
            "--apply-log",
            &log,
            "--pr",
            "9",
        ],
        &[],
    );
    assert_eq!(failed.code, 1, "{failed:#?}");
    assert_eq!(failed.output("applied"), "false");
    assert!(
        everything(&failed).contains("the apply to `staging` failed (`terraform_data.broken`)"),
        "{}",
        everything(&failed)
    );
    let body = comment_on(&gh, 9);
    assert!(body.contains("### ❌ Apply to `staging` failed"), "{body}");
    assert!(
        body.contains("- `terraform_data.broken`: local-exec provisioner error"),
        "{body}"
    );
    assert!(body.contains("quota exceeded"), "{body}");
    assert!(
        body.contains("1 resource(s) finished before the failure"),
        "{body}"
    );
    assert!(body.contains("`terraform_data.fine` (create)"), "{body}");

    // A pushed commit that belongs to two pull requests: both reviewed
    // plans apply together, and 8's is not in this plan.
    let both = "7878787878787878787878787878787878787878";
    gh.set_pulls(both, &[7, 8]);
    let push = push_event(dir, both);
    let run = ferry_on(
        &gh,
        dir,
        &["plan-verify", "--env", "staging", "--plan", &merged],
        &[
            ("GITHUB_EVENT_NAME", "push"),
            ("GITHUB_EVENT_PATH", push.to_str().unwrap()),
        ],
    );
    assert_eq!(run.code, 1, "{run:#?}");
    let said = everything(&run);
    assert!(
        said.contains("differs from what pull requests #7, #8 were reviewed for together; the plan of #8 differs"),
        "{said}"
    );
    assert!(
        said.contains("`terraform_data.reader` is no longer planned (reviewed: create on #8)"),
        "{said}"
    );

    assert_valid_github_api(&gh.received().await).await;
}

/// The queue's group commits (main's tip, PR 11's entry, PR 12's entry).
const MAIN_TIP: &str = "1111111111111111111111111111111111111111";
const G11: &str = "1212121212121212121212121212121212121212";
const G12: &str = "1313131313131313131313131313131313131313";

/// PR 11 and PR 12, both forked from the base: two resources of their own.
const PR11: &str = r#"resource "terraform_data" "keep" { input = "v0" }
resource "terraform_data" "a" { input = "a" }
"#;
const PR12: &str = r#"resource "terraform_data" "keep" { input = "v0" }
resource "terraform_data" "b" { input = "b" }
"#;
/// The queue's group of both, as reviewed.
const BATCH: &str = r#"resource "terraform_data" "keep" { input = "v0" }
resource "terraform_data" "a" { input = "a" }
resource "terraform_data" "b" { input = "b" }
"#;
/// The group once PR 12's change was resolved differently in the merge.
const BATCH_B2: &str = r#"resource "terraform_data" "keep" { input = "v0" }
resource "terraform_data" "a" { input = "a" }
resource "terraform_data" "b" { input = "b2" }
"#;

#[tokio::test(flavor = "multi_thread")]
async fn a_queue_batch_of_two_is_applied_only_as_reviewed_together() {
    let gh = GitHubState::start(REPO).await;
    let tf = Tf::new();
    let dir = tf.path();
    base_and_reviews(&gh, &tf, [(11, PR11), (12, PR12)]);
    // The queue: PR 11's entry on main's tip, PR 12's on PR 11's.
    let pr11_ref = format!("refs/heads/gh-readonly-queue/main/pr-11-{MAIN_TIP}");
    let pr12_ref = format!("refs/heads/gh-readonly-queue/main/pr-12-{G11}");
    gh.set_refs(&[(&pr11_ref, G11), (&pr12_ref, G12)]);
    gh.set_parent(G12, G11);
    gh.set_parent(G11, MAIN_TIP);
    let event = merge_group_event(dir, 12, Some((G11, G12)));
    let in_queue = [
        ("GITHUB_EVENT_NAME", "merge_group"),
        ("GITHUB_EVENT_PATH", event.to_str().unwrap()),
    ];
    let verify = |plan: &str, env: &[(&str, &str)]| {
        ferry_on(
            &gh,
            dir,
            &["plan-verify", "--env", "staging", "--plan", plan],
            env,
        )
    };

    // The group's plan is both reviews together: accepted.
    let batch = tf.plan(BATCH, "batch");
    let ok = verify(&batch, &in_queue);
    assert_eq!(ok.code, 0, "{ok:#?}");
    // The same group with `base_sha` read as the base branch's tip: the
    // batch is found from the queue's branches and the commits' parents,
    // not from `base_sha`.
    let tip_based = merge_group_event(dir, 12, Some((MAIN_TIP, G12)));
    let ok = verify(
        &batch,
        &[
            ("GITHUB_EVENT_NAME", "merge_group"),
            ("GITHUB_EVENT_PATH", tip_based.to_str().unwrap()),
        ],
    );
    assert_eq!(ok.code, 0, "{ok:#?}");

    // PR 12's resource planned otherwise than reviewed: refused, naming 12.
    let differing = tf.plan(BATCH_B2, "batch-b2");
    let run = verify(&differing, &in_queue);
    assert_eq!(run.code, 1, "{run:#?}");
    let said = everything(&run);
    assert!(
        said.contains("the plan for `staging` differs from what pull requests #11, #12 were reviewed for together; the plan of #12 differs"),
        "{said}"
    );
    assert!(
        said.contains("`terraform_data.b` (create) differs from its review (create on #12)"),
        "{said}"
    );
    assert!(!said.contains("terraform_data.a`"), "{said}");
    assert!(
        run.summary.contains("Differs from the review of: #12."),
        "{}",
        run.summary
    );

    // PR 12 alone in the queue (PR 11's entry gone), yet the plan has PR
    // 11's change: a change no review in the group had.
    gh.set_refs(&[(&pr12_ref, G12)]);
    let run = verify(&batch, &in_queue);
    assert_eq!(run.code, 1, "{run:#?}");
    let said = everything(&run);
    assert!(
        said.contains("the plan for `staging` differs from the one reviewed on pull request #12"),
        "{said}"
    );
    assert!(
        said.contains("`terraform_data.a` (create) is in no reviewed plan"),
        "{said}"
    );
    gh.set_refs(&[(&pr11_ref, G11), (&pr12_ref, G12)]);

    // Merged: main moves to the group's head in one push of both entries.
    gh.set_pulls(G11, &[11]);
    gh.set_pulls(G12, &[12]);
    let mut push: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(push_event(dir, G12)).unwrap()).unwrap();
    push["before"] = MAIN_TIP.into();
    push["commits"] = serde_json::json!([{"id": G11}, {"id": G12}]);
    let push_file = dir.join("push-batch.json");
    std::fs::write(&push_file, push.to_string()).unwrap();
    let on_push = [
        ("GITHUB_EVENT_NAME", "push"),
        ("GITHUB_EVENT_PATH", push_file.to_str().unwrap()),
    ];
    let merged = tf.plan(BATCH, "main-batch");
    let run = verify(&merged, &on_push);
    assert_eq!(run.code, 0, "{run:#?}");
    let (ok, log) = tf.apply("main-batch");
    assert!(ok);
    let applied = ferry_on(
        &gh,
        dir,
        &[
            "plan-applied",
            "--env",
            "staging",
            "--plan",
            &merged,
            "--apply-log",
            &log,
        ],
        &on_push,
    );
    assert_eq!(applied.code, 0, "{applied:#?}");
    for pr in [11, 12] {
        let body = comment_on(&gh, pr);
        assert!(body.contains("### ✅ Applied to `staging` in "), "{body}");
        assert!(body.contains("2 added, 0 changed, 0 destroyed."), "{body}");
    }
    // A forged change-digest block: the comment is no longer believed.
    let body = comment_on(&gh, 11);
    let id = gh
        .comments()
        .into_iter()
        .find(|c| c.issue == 11)
        .unwrap()
        .id;
    let block_line = body.lines().nth(3).unwrap().to_string();
    gh.edit_comment_by(
        crate::support::github_state::WENDY,
        id,
        &body.replacen(&block_line, "", 1),
        0,
    );
    let run = ferry_on(
        &gh,
        dir,
        &[
            "plan-verify",
            "--env",
            "staging",
            "--plan",
            &merged,
            "--pr",
            "11",
        ],
        &[],
    );
    assert_eq!(run.code, 1, "{run:#?}");
    assert!(
        everything(&run).contains("is not trusted: its change digests do not match its metadata"),
        "{}",
        everything(&run)
    );

    assert_valid_github_api(&gh.received().await).await;
}
