//! The published plan digest leaks nothing, and covers everything the apply
//! will do: a dictionary of 10,000 short secrets (the true one among them)
//! recovers none from what the comment shows, with a key or without; a
//! change of the sensitive value alone fails `plan-verify`; action
//! invocations, deferred changes and forgets are counted, listed and hashed;
//! a change Ferry does not know fails both commands.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::support::plan_comment::{options, plans_dir};
use crate::support::{Run, ferry_with};

use std::path::Path;

use ferry::gha::Secret;
use ferry::plan_comment::{Prepared, input, marker, prepare};
use serde_json::json;

const KEY: &str = "repo-secret-plan-key-5d2e";

/// A plan whose only sensitive value is a 4-digit PIN, and a sensitive map
/// whose key is itself a secret.
fn pin_plan(pin: &str, map_key: &str) -> String {
    json!({"format_version": "1.2", "terraform_version": "1.11.0", "planned_values": {},
        "resource_changes": [{"address": "aws_ssm_parameter.door_pin", "mode": "managed",
            "type": "aws_ssm_parameter", "name": "door_pin",
            "change": {"actions": ["update"],
                "before": {"name": "/shop/door-pin", "value": "0000", "tags": {"owner-x7kq": "ops"}},
                "after": {"name": "/shop/door-pin", "value": pin, "tags": {map_key: "ops"}},
                "after_unknown": {},
                "before_sensitive": {"value": true, "tags": true},
                "after_sensitive": {"value": true, "tags": true}}}]})
    .to_string()
}

fn prepared(text: &str, key: Option<&str>) -> Prepared {
    let plan = input::parse_plan(text, "plan.json").unwrap();
    let mut opts = options("prod", Path::new("plan.json"));
    opts.key = key.map(Secret::new);
    prepare(plan, &opts, None).unwrap()
}

/// What anyone can compute for a candidate without the key.
fn attackers_hash(text: &str) -> String {
    marker::plan_hash(&input::parse_plan(text, "p.json").unwrap(), None)
}

/// All 10,000 4-digit PINs against the published digest (with the key, and
/// without): the true PIN is never the one candidate that matches, and the
/// comment and summary show neither the PIN nor the sensitive map's key.
#[test]
fn a_dictionary_of_10000_pins_recovers_nothing_from_the_comment() {
    let (pin, map_key) = ("4821", "db-admin-7731");
    for key in [Some(KEY), None] {
        let p = prepared(&pin_plan(pin, map_key), key);
        let published = marker::hash_in(&p.comment).unwrap();
        assert_eq!(published, p.hash);
        for text in [&p.comment, &p.summary, &p.fallback] {
            assert!(!text.contains(pin), "{text}");
            assert!(!text.contains(map_key), "{text}");
        }
        let matching: Vec<String> = (0..10_000)
            .map(|n| format!("{n:04}"))
            .filter(|candidate| attackers_hash(&pin_plan(candidate, map_key)) == published)
            .collect();
        match key {
            // Keyed: no candidate's digest can be computed without the key.
            Some(_) => assert!(matching.is_empty(), "{matching:?}"),
            // Unkeyed: the sensitive value is masked, every PIN looks alike.
            None => assert_eq!(matching.len(), 10_000),
        }
        // Nor does the digest tell the map's key.
        let other_key = attackers_hash(&pin_plan(pin, "someone-else"));
        assert_eq!(other_key == published, key.is_none());
    }
}

fn ferry_in(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Run {
    ferry_with(dir, args, env)
}

/// With the key, plan-verify passes the reviewed PIN and fails a changed
/// one; without it, it refuses to verify a plan with sensitive values and
/// says what to set (so a changed secret can never pass).
#[test]
fn changing_only_the_sensitive_value_fails_plan_verify() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("a.json"), pin_plan("4821", "k")).unwrap();
    std::fs::write(dir.path().join("b.json"), pin_plan("4822", "k")).unwrap();
    let keyed: &[(&str, &str)] = &[("FERRY_PLAN_KEY", KEY)];
    let comment = ferry_in(
        dir.path(),
        &[
            "plan-comment",
            "--env",
            "prod",
            "--plan",
            "a.json",
            "--dry-run",
        ],
        keyed,
    );
    assert_eq!(comment.code, 0, "{comment:#?}");
    let hash = marker::hash_in(&comment.stdout).unwrap();
    assert!(hash.starts_with("hmac-sha256:"), "{hash}");
    assert!(!comment.stdout.contains("4821") && !comment.stderr.contains(KEY));
    let verify = |plan: &str, env: &[(&str, &str)]| {
        ferry_in(
            dir.path(),
            &[
                "plan-verify",
                "--env",
                "prod",
                "--plan",
                plan,
                "--expected-hash",
                &hash,
            ],
            env,
        )
    };
    assert_eq!(verify("a.json", keyed).code, 0);
    let changed = verify("b.json", keyed);
    assert_eq!(changed.code, 1, "{changed:#?}");
    assert!(changed.stderr.contains("differs from the one reviewed"));
    assert!(!changed.stderr.contains("4822") && !changed.stderr.contains(KEY));
    // Another key gives another digest: refused too.
    assert_eq!(verify("a.json", &[("FERRY_PLAN_KEY", "another")]).code, 1);
    for plan in ["a.json", "b.json"] {
        let run = verify(plan, &[]);
        assert_eq!(run.code, 1, "{run:#?}");
        assert!(
            run.stderr.contains("has sensitive values"),
            "{}",
            run.stderr
        );
        assert!(run.stderr.contains("`plan-key`"), "{}", run.stderr);
    }
}

fn actions(name: &str) -> std::path::PathBuf {
    plans_dir().join("actions").join(name)
}

fn prepared_file(path: &Path, key: Option<&str>) -> Prepared {
    prepared(&std::fs::read_to_string(path).unwrap(), key)
}

/// An actions-only plan: counted as Terraform prints it, listed, never
/// "No changes", and its digest differs from an empty plan's and from a
/// plan invoking another action or the same one configured otherwise.
#[test]
fn an_actions_only_plan_is_counted_listed_and_hashed() {
    let files = [
        plans_dir().join("10_tfjson__testdata_actions_plan.json"),
        actions("plan.json"),
        actions("plan-other-action.json"),
        actions("plan-other-config.json"),
        actions("plan-sensitive-trigger.json"),
    ];
    for key in [None, Some(KEY)] {
        let empty = prepared(
            &json!({"format_version": "1.2", "planned_values": {}}).to_string(),
            key,
        );
        let mut hashes = vec![empty.hash.clone()];
        for path in &files {
            let p = prepared_file(path, key);
            assert_eq!(p.counts.invoke, 1, "{}", path.display());
            assert!(p.has_changes, "{}", path.display());
            for text in [&p.comment, &p.summary, &p.fallback] {
                assert!(!text.contains("No changes"), "{text}");
                assert!(
                    text.contains(
                        "Plan: 0 to add, 0 to change, 0 to destroy. Actions: 1 to invoke."
                    ),
                    "{text}"
                );
            }
            assert!(p.comment.contains("Actions to invoke"), "{}", p.comment);
            assert!(p.comment.contains("will be invoked"), "{}", p.comment);
            hashes.push(p.hash);
        }
        let mut unique = hashes.clone();
        unique.sort();
        unique.dedup();
        assert_eq!(unique.len(), hashes.len(), "{hashes:#?}");
    }
    let other = prepared_file(&actions("plan-other-action.json"), None);
    assert!(
        other
            .comment
            .contains("action.aws_lambda_invoke.drop_tables")
    );
    let sensitive = prepared_file(&actions("plan-sensitive-trigger.json"), None);
    assert!(!sensitive.comment.contains("s3cr3t-action-token-91"));
    assert!(
        sensitive
            .comment
            .contains("on after_update of aws_lambda_function.warm"),
        "{}",
        sensitive.comment
    );
}

/// `--skip-no-changes` never skips an actions-only plan, and the step
/// outputs say it changes something.
#[test]
fn the_binary_reports_an_actions_only_plan_as_a_change() {
    let run = ferry_with(
        &plans_dir(),
        &[
            "plan-comment",
            "--env",
            "prod",
            "--plan",
            "actions/plan.json",
            "--dry-run",
            "--skip-no-changes",
        ],
        &[("GITHUB_ACTIONS", "true")],
    );
    assert_eq!(run.code, 0, "{run:#?}");
    assert_eq!(run.output("has-changes"), "true");
    assert!(
        run.stdout.contains("Actions: 1 to invoke."),
        "{}",
        run.stdout
    );
}

/// Deferred changes, deferred action invocations and forgets count as
/// changes, are listed, and each changes the digest.
#[test]
fn deferred_changes_and_forgets_are_counted_listed_and_hashed() {
    let text = std::fs::read_to_string(actions("plan-deferred-forget.json")).unwrap();
    let p = prepared(&text, None);
    assert_eq!((p.counts.forget, p.counts.deferred), (1, 2));
    assert!(p.has_changes);
    assert!(!p.comment.contains("No changes"), "{}", p.comment);
    assert!(p.comment.contains("2 change(s) deferred"), "{}", p.comment);
    assert!(p.comment.contains("forget"), "{}", p.comment);
    assert!(
        p.comment.contains("action.aws_lambda_invoke.after_web"),
        "{}",
        p.comment
    );
    let mut v: serde_json::Value = serde_json::from_str(&text).unwrap();
    let base = p.hash.clone();
    let variants = [
        ("deferred_changes", json!([])),
        ("deferred_action_invocations", json!([])),
        ("resource_changes", json!([])),
    ];
    for (field, empty) in variants {
        let saved = v[field].clone();
        v[field] = empty;
        assert_ne!(prepared(&v.to_string(), None).hash, base, "{field}");
        v[field] = saved;
    }
}

/// A change of a kind Ferry does not know: the comment says so, then both
/// commands fail (never "No changes", never a verified plan).
#[test]
fn an_unknown_change_kind_fails_plan_comment_and_plan_verify() {
    let dir = tempfile::tempdir().unwrap();
    let text = json!({"format_version": "1.2", "planned_values": {}, "resource_changes": [
        {"address": "aws_s3_bucket.logs", "change": {"actions": ["archive"], "before": {}, "after": {}}}]})
    .to_string();
    std::fs::write(dir.path().join("p.json"), &text).unwrap();
    let comment = ferry_with(
        dir.path(),
        &[
            "plan-comment",
            "--env",
            "prod",
            "--plan",
            "p.json",
            "--dry-run",
        ],
        &[],
    );
    assert_eq!(comment.code, 1, "{comment:#?}");
    assert!(
        comment.stdout.contains("aws_s3_bucket.logs"),
        "{}",
        comment.stdout
    );
    assert!(!comment.stdout.contains("No changes"));
    assert!(
        comment
            .stderr
            .contains("1 change(s) whose actions this version of Ferry does not know"),
        "{}",
        comment.stderr
    );
    let hash = prepared(&text, None).hash;
    let verify = ferry_with(
        dir.path(),
        &[
            "plan-verify",
            "--env",
            "prod",
            "--plan",
            "p.json",
            "--expected-hash",
            &hash,
        ],
        &[],
    );
    assert_eq!(verify.code, 1, "{verify:#?}");
    assert!(verify.stderr.contains("does not know"), "{}", verify.stderr);
}
