//! Where a plan comment used to fail open: values nested too deep to parse
//! (hashed and shown as nothing), masks that do not fit their value (the
//! secret printed), unknown actions (reported as "no changes"), the
//! over-budget fallback (zero counts, no warnings) and a job summary that
//! claimed to hold a plan it had cut.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::support::ferry_command;
use crate::support::markup::see;
use crate::support::plan_comment as plan_comment_support;

use std::path::Path;
use std::process::Output;

use ferry::plan_comment::build::{ViewContext, build_view};
use ferry::plan_comment::marker::plan_hash;
use ferry::plan_comment::redact::Redactor;
use ferry::plan_comment::render::{Limits, Renderer};
use ferry::plan_comment::{Prepared, input, prepare};
use plan_comment_support::options;
use serde_json::{Value, json};

const SECRET: &str = "hunter2-canary-7f3a";

fn plan_with(change: Value) -> String {
    json!({"format_version": "1.2", "terraform_version": "1.9.0", "planned_values": {},
           "resource_changes": [{"address": "aws_db_instance.main", "mode": "managed",
                                 "type": "aws_db_instance", "name": "main", "change": change}]})
    .to_string()
}

fn prepared(text: &str) -> Prepared {
    let plan = input::parse_plan(text, "plan.json").unwrap();
    prepare(
        plan,
        &options("staging", Path::new("plan.json")),
        Some("https://github.com/o/r/actions/runs/1"),
    )
    .unwrap()
}

/// `[[[ ... value ... ]]]`, `depth` levels.
fn nested(depth: usize, leaf: &str) -> String {
    format!("{}{leaf}{}", "[".repeat(depth), "]".repeat(depth))
}

fn deep_plan(depth: usize, leaf: &str) -> String {
    plan_with(json!({"actions": ["update"], "before": {"policy": "__OLD__"}, "after": {"policy": "__NEW__"}}))
        .replace("\"__OLD__\"", &nested(depth, "\"a\""))
        .replace("\"__NEW__\"", &nested(depth, leaf))
}

fn ferry(dir: &Path, args: &[&str]) -> Output {
    ferry_command()
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap()
}

fn verify(dir: &Path, plan: &str, hash: &str) -> Output {
    ferry(
        dir,
        &[
            "plan-verify",
            "--env",
            "staging",
            "--plan",
            plan,
            "--expected-hash",
            hash,
        ],
    )
}

fn comment_hash(dir: &Path, plan: &str) -> Result<String, String> {
    let out = ferry(
        dir,
        &[
            "plan-comment",
            "--env",
            "staging",
            "--plan",
            plan,
            "--dry-run",
        ],
    );
    if !out.status.success() {
        return Err(String::from_utf8_lossy(&out.stderr).to_string());
    }
    let body = String::from_utf8_lossy(&out.stdout).to_string();
    Ok(ferry::plan_comment::marker::hash_in(&body).unwrap())
}

/// Two plans that differ only 150 (or 1,000, or 100,000) levels deep: the
/// binary refuses both with an error that says why, and `plan-verify`
/// never passes the unreviewed one.
#[test]
fn plans_differing_deeper_than_the_parser_goes_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    for depth in [150, 1_000, 100_000] {
        std::fs::write(dir.path().join("a.json"), deep_plan(depth, "\"reviewed\"")).unwrap();
        std::fs::write(dir.path().join("b.json"), deep_plan(depth, "\"evil\"")).unwrap();
        let err = comment_hash(dir.path(), "a.json").unwrap_err();
        assert!(err.contains("nested deeper than 128 levels"), "{err}");
        assert!(err.contains("`before` of resource_changes[0]"), "{err}");
        for plan in ["a.json", "b.json"] {
            let out = verify(dir.path(), plan, "sha256:0");
            assert_eq!(out.status.code(), Some(1), "{out:?}");
            let stderr = String::from_utf8_lossy(&out.stderr);
            assert!(stderr.contains("nested deeper than 128 levels"), "{stderr}");
            assert!(!stderr.contains("evil"), "{stderr}");
        }
    }
}

/// As deep as Ferry reads (120 levels): the two plans hash differently and
/// `plan-verify` refuses the one that was not reviewed.
#[test]
fn a_difference_deep_down_changes_the_hash() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("a.json"), deep_plan(120, "\"reviewed\"")).unwrap();
    std::fs::write(dir.path().join("b.json"), deep_plan(120, "\"evil\"")).unwrap();
    let a = comment_hash(dir.path(), "a.json").unwrap();
    let b = comment_hash(dir.path(), "b.json").unwrap();
    assert_ne!(a, b);
    assert!(verify(dir.path(), "a.json", &a).status.success());
    let out = verify(dir.path(), "b.json", &a);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("differs from the one reviewed"));
}

/// Every byte counts: digits past a float's precision, a number beyond any
/// float, keys that look alike, a deposed key that could pass for part of
/// an address.
#[test]
fn the_hash_covers_every_byte_of_every_change() {
    let hash = |text: &str| input::parse_plan(text, "p.json").map(|p| plan_hash(&p, None));
    let change = |after: &str| {
        plan_with(json!({"actions": ["update"], "before": {"n": 1}, "after": {"n": "__X__"}}))
            .replace("\"__X__\"", after)
    };
    let shapes = [
        "12345678901234567890123",
        "12345678901234567890124",
        "1.00000000000000000001",
        "1.00000000000000000002",
        "{\"a\":1,\"b\":2}",
        "{\"b\":2,\"a\":1}",
        "\"\\u0041\"",
        "\"A\"",
    ];
    let hashes: Vec<String> = shapes.iter().map(|s| hash(&change(s)).unwrap()).collect();
    for i in 0..hashes.len() {
        for j in i + 1..hashes.len() {
            assert_ne!(hashes[i], hashes[j], "{} and {}", shapes[i], shapes[j]);
        }
    }
    // Whitespace between tokens is not part of the change.
    assert_eq!(
        hash(&change("{ \"a\" : 1 ,\n \"b\" : 2 }")).unwrap(),
        hashes[4]
    );
    // A number no float holds is refused, not read as null.
    let err = hash(&change("1e400")).unwrap_err().to_string();
    assert!(err.contains("cannot be read"), "{err}");
    // Fields cannot shift into one another.
    let rc = |address: &str, deposed: &str| {
        json!({"format_version": "1.2", "planned_values": {}, "resource_changes": [
            {"address": address, "deposed": deposed, "change": {"actions": ["delete"], "before": {}}}]})
        .to_string()
    };
    assert_ne!(
        hash(&rc("a.b", "x")).unwrap(),
        hash(&rc("a.bx", "")).unwrap()
    );
}

fn sensitive_change(after: Value, mask: Value) -> String {
    plan_with(json!({"actions": ["update"],
                     "before": {"password": "old", "echo": "x"},
                     "after": {"password": after, "echo": format!("copy of {SECRET}")},
                     "after_unknown": {}, "before_sensitive": {}, "after_sensitive": {"password": mask}}))
}

/// A mask that marks something but does not fit its value masks the whole
/// value: the secret is in no output, the value reads `(sensitive value)`.
#[test]
fn masks_that_do_not_fit_their_value_mask_it_whole() {
    let cases = [
        // A list for a map.
        (json!({"user": "admin", "pass": SECRET}), json!([true])),
        // A map for a list.
        (json!(["admin", SECRET]), json!({"1": true})),
        // A list of another length.
        (json!(["admin", "x", SECRET]), json!([false, true])),
        // A map for a string.
        (json!(SECRET), json!({"value": true})),
        // Not a boolean.
        (json!(SECRET), json!("yes")),
        (json!(SECRET), json!(1)),
        // Deep, and fitting: the leaf only.
        (
            json!({"a": {"b": {"c": [{"d": SECRET}]}}}),
            json!({"a": {"b": {"c": [{"d": true}]}}}),
        ),
        // A tree of `true` 100 levels deep over a value as deep.
        (
            serde_json::from_str(&nested(100, &format!("\"{SECRET}\""))).unwrap(),
            serde_json::from_str(&nested(100, "true")).unwrap(),
        ),
    ];
    for (value, mask) in cases {
        let p = prepared(&sensitive_change(value.clone(), mask.clone()));
        for (what, text) in [
            ("comment", &p.comment),
            ("summary", &p.summary),
            ("fallback", &p.fallback),
        ] {
            assert!(
                !text.contains(SECRET),
                "{what} shows the secret for value {value} mask {mask}:\n{text}"
            );
        }
        assert!(
            p.comment.contains("(sensitive value)") || p.comment.contains("(redacted)"),
            "{}",
            p.comment
        );
        // The copy in a plain attribute is scrubbed by the redactor.
        assert!(p.comment.contains("copy of (redacted)"), "{}", p.comment);
    }
}

/// The same for outputs.
#[test]
fn output_masks_that_do_not_fit_mask_the_output() {
    let text = json!({"format_version": "1.2", "planned_values": {}, "resource_changes": [],
        "output_changes": {"db": {"actions": ["create"], "before": null,
            "after": {"url": format!("postgres://admin:{SECRET}@db")},
            "after_unknown": false, "before_sensitive": false, "after_sensitive": [true]}}})
    .to_string();
    let p = prepared(&text);
    assert!(!p.comment.contains(SECRET), "{}", p.comment);
    assert!(
        p.comment.contains("db = (sensitive value)"),
        "{}",
        p.comment
    );
}

fn unknown_only() -> String {
    json!({"format_version": "1.2", "planned_values": {}, "resource_changes": [
        {"address": "aws_s3_bucket.logs", "change": {"actions": ["archive"], "before": {}, "after": {}}},
        {"address": "aws_s3_bucket.data", "change": {"actions": ["delete", "forget", "create"], "before": {}, "after": {}}}]})
    .to_string()
}

/// Only actions Ferry does not know: not "no changes", counted, named,
/// flagged as possibly destroying, in the comment and in the fallback.
#[test]
fn a_plan_of_unknown_actions_is_not_no_changes() {
    let p = prepared(&unknown_only());
    assert!(p.has_changes && p.has_destroy);
    assert_eq!(p.counts.unknown, 2);
    for text in [&p.comment, &p.summary, &p.fallback] {
        assert!(!text.contains("No changes"), "{text}");
        assert!(!text.contains("✅"), "{text}");
        assert!(text.contains("2 change(s) Ferry cannot classify"), "{text}");
        assert!(text.contains("[!CAUTION]"), "{text}");
        let seen = see(text);
        for a in ["aws_s3_bucket.logs", "aws_s3_bucket.data"] {
            assert!(seen.codes.iter().any(|(c, _)| c == a), "{a} in {text}");
        }
    }
    assert!(p.comment.contains("### ⚠️"), "{}", p.comment);
}

/// GitHub refused the comment: the fallback still says what the plan does
/// and carries every warning.
#[test]
fn the_fallback_keeps_counts_and_warnings() {
    let text =
        json!({"format_version": "1.2", "planned_values": {}, "errored": true, "complete": false,
        "resource_changes": [
            {"address": "aws_db_instance.main", "change": {"actions": ["delete"], "before": {}}},
            {"address": "aws_s3_bucket.x", "change": {"actions": ["teleport"], "before": {}}}]})
        .to_string();
    let p = prepared(&text);
    let f = &p.fallback;
    assert!(
        f.contains("Plan: 0 to add, 0 to change, 1 to destroy."),
        "{f}"
    );
    assert!(f.contains("1 change(s) Ferry cannot classify"), "{f}");
    assert!(f.contains("Planning **errored**"), "{f}");
    assert!(f.contains("**incomplete**"), "{f}");
    assert!(f.contains("teleport"), "{f}");
    assert!(f.contains("GitHub refused the full comment"), "{f}");
    assert_eq!(
        ferry::plan_comment::marker::hash_in(f),
        Some(p.hash.clone())
    );
}

/// Even an empty list does not fit (a template that writes too much): the
/// smallest rendering, with the real counts and the warnings.
#[test]
fn the_over_budget_fallback_keeps_counts_and_warnings() {
    let plan = input::parse_plan(&unknown_only(), "plan.json").unwrap();
    let ctx = ViewContext {
        env: "staging".into(),
        mode: "normal".into(),
        marker: "<!-- ferry:plan:staging -->".into(),
        metadata: "<!-- ferry:plan-meta hash=sha256:00 -->".into(),
        ..ViewContext::default()
    };
    let view = build_view(&plan, &ctx);
    let template = "{% for i in range(end=70000) %}x{% endfor %}";
    let renderer = Renderer::new(Some(("big.tera", template))).unwrap();
    let (text, shortened) = renderer
        .render_within(&view, &Redactor::default(), Limits::COMMENT, true)
        .unwrap();
    assert!(shortened);
    assert!(
        !text.contains("0 to add, 0 to change, 0 to destroy"),
        "{text}"
    );
    assert!(text.contains("2 change(s) Ferry cannot classify"), "{text}");
    assert!(text.contains("aws_s3_bucket.logs"), "{text}");
    assert!(text.contains("too large to list here"), "{text}");
    assert!(
        text.starts_with("<!-- ferry:plan:staging -->\n<!-- ferry:plan-meta"),
        "{text}"
    );
}

/// A plan too large even for the job summary: the summary says so and
/// where the full text is; the comment does not send reviewers to a
/// summary that does not have it.
#[test]
fn a_summary_that_cannot_hold_the_plan_says_where_it_is() {
    let changes: Vec<Value> = (0..6000)
        .map(|i| {
            json!({"address": format!("module.m.terraform_data.r[\"{i:05}-{}\"]", "k".repeat(60)),
                   "change": {"actions": ["create"], "before": null,
                              "after": {"input": "v".repeat(120), "other": i}}})
        })
        .collect();
    let text = json!({"format_version": "1.2", "planned_values": {}, "resource_changes": changes})
        .to_string();
    let p = prepared(&text);
    assert!(
        p.summary
            .contains("This plan is too large even for the job summary"),
        "{}",
        &p.summary[..2000]
    );
    assert!(
        p.summary
            .contains("log of the step that ran `terraform plan`")
    );
    assert!(
        !p.comment.contains("The full plan is in the"),
        "{}",
        p.comment
    );
    assert!(
        p.comment.contains("even it leaves entries out"),
        "{}",
        p.comment
    );
    // A plan the summary holds whole: the comment points there.
    let small: Vec<Value> = (0..2000)
        .map(|i| {
            json!({"address": format!("terraform_data.r[\"{i:05}-{}\"]", "k".repeat(40)),
                   "change": {"actions": ["create"], "before": null, "after": {"input": "v"}}})
        })
        .collect();
    let p = prepared(
        &json!({"format_version": "1.2", "planned_values": {}, "resource_changes": small})
            .to_string(),
    );
    assert!(!p.summary.contains("too large"), "summary shortened");
    assert!(
        p.comment.contains(
            "The full plan is in the [job summary](https://github.com/o/r/actions/runs/1)"
        ),
        "{}",
        p.comment
    );
}

/// Found by the property test: a resource whose whole value changes type
/// (an object before, a list or a string after) recursed until the stack
/// overflowed. It is one changed value now.
#[test]
fn a_value_that_changes_type_at_the_root_is_one_change() {
    for after in [json!([1]), json!("x"), json!(7), json!(true)] {
        let p = prepared(&plan_with(
            json!({"actions": ["update"], "before": {"a": 1}, "after": after}),
        ));
        assert!(p.comment.contains("1 attribute change(s)"), "{}", p.comment);
    }
}

/// A secret with characters that escaping changes (`@`, `#`, `<`, `-->`):
/// scrubbed from the data before it is escaped, so it is found; as the
/// reader sees it, it is in no code span, no text, no code block.
#[test]
fn secrets_are_scrubbed_before_escaping_could_hide_them() {
    let secret = "p@ss#w0rd<-->`x`";
    let text = json!({"format_version": "1.2", "planned_values": {},
        "variables": {"db_password": {"value": secret}},
        "configuration": {"root_module": {"variables": {"db_password": {"sensitive": true}}}},
        "resource_changes": [
            {"address": format!("aws_ssm_parameter.p[\"{secret}\"]"),
             "change": {"actions": ["create"], "before": null,
                        "after": {"value": secret, "name": format!("copy {secret}")},
                        "importing": {"id": secret}}},
            {"address": "aws_db_instance.main", "change": {"actions": ["delete"], "before": {}}}],
        "checks": [{"address": {"to_display": "check.c"}, "status": "fail",
                    "instances": [{"address": {"to_display": "check.c"}, "status": "fail",
                                   "problems": [{"message": format!("bad {secret}")}]}]}]})
    .to_string();
    let p = prepared(&text);
    for (what, md) in [
        ("comment", &p.comment),
        ("summary", &p.summary),
        ("fallback", &p.fallback),
    ] {
        let seen = see(md);
        let visible = |s: &str| crate::support::markup::visible(s);
        for c in seen
            .codes
            .iter()
            .map(|(c, _)| c.clone())
            .chain(seen.texts.iter().cloned())
            .chain(seen.blocks.iter().cloned())
        {
            assert!(!visible(&c).contains("p@ss#w0rd"), "{what}: {c:?}\n{md}");
        }
        assert!(!visible(md).contains("p@ss#w0rd"), "{what}\n{md}");
    }
    assert!(p.comment.contains("(redacted)"), "{}", p.comment);
}
