//! The size budget: a huge plan still gives a comment within GitHub's
//! limits that lists every destroy, spending the space by risk.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::support::plan_comment as plan_comment_support;

use ferry::plan_comment::{input, prepare};
use plan_comment_support::{assert_limits, options};
use serde_json::{Value, json};

fn change(address: &str, actions: &[&str], before: Value, after: Value) -> Value {
    json!({
        "address": address, "mode": "managed", "type": "terraform_data", "name": "x",
        "change": {"actions": actions, "before": before, "after": after,
                   "after_unknown": {}, "before_sensitive": {}, "after_sensitive": {}}
    })
}

/// 5,000 changes: creates and updates with big values, 8 destroys in the middle.
fn huge_plan() -> String {
    let big = |i: usize| json!({"input": {"name": format!("service-{i}"), "blob": "x".repeat(200), "list": [1, 2, 3]}});
    let mut changes = Vec::new();
    for i in 0..5000 {
        let address = format!(
            "module.platform.module.service[\"svc-{i:04}\"].terraform_data.resource_with_a_long_name"
        );
        let c = match i {
            2496..=2503 => change(&address, &["delete"], big(i), Value::Null),
            i if i % 5 == 0 => change(&address, &["update"], big(i), big(i + 1)),
            _ => change(&address, &["create"], Value::Null, big(i)),
        };
        changes.push(c);
    }
    json!({"format_version": "1.2", "terraform_version": "1.11.4", "planned_values": {}, "resource_changes": changes})
        .to_string()
}

#[test]
fn five_thousand_changes_keep_every_destroy() {
    let text = huge_plan();
    let plan = input::parse_plan(&text, "huge.json").unwrap();
    let p = prepare(
        plan,
        &options("prod", "huge.json".as_ref()),
        Some("https://github.com/o/r/actions/runs/9"),
    )
    .unwrap();
    assert_limits(&p);
    assert!(
        p.comment
            .contains("Plan: 3993 to add, 999 to change, 8 to destroy."),
        "{}",
        &p.comment[..500]
    );
    for i in 2496..=2503 {
        let needle = format!(
            "`module.platform.module.service[\"svc-{i:04}\"].terraform_data.resource_with_a_long_name` **will be destroyed**"
        );
        assert!(p.comment.contains(&needle), "destroy {i} missing");
    }
    assert!(
        p.comment.contains("more created"),
        "creates are cut with `and N more`"
    );
    assert!(
        p.comment
            .contains("[job summary](https://github.com/o/r/actions/runs/9)")
    );
    // Risk order: destroys come before updates, updates before creates.
    let d = p.comment.find("Destroyed or replaced").unwrap();
    let u = p.comment.find("Updated in place").unwrap();
    assert!(d < u);
    // The job summary holds more than the comment and stays within 1 MiB.
    assert!(p.summary.len() > p.comment.len());
}

#[test]
fn a_small_plan_is_not_shortened() {
    let plan = json!({"format_version": "1.2", "planned_values": {}, "resource_changes": [
        change("terraform_data.a", &["update"], json!({"input": "a"}), json!({"input": "b"}))
    ]})
    .to_string();
    let plan = input::parse_plan(&plan, "small.json").unwrap();
    let p = prepare(plan, &options("prod", "small.json".as_ref()), None).unwrap();
    assert!(!p.comment.contains("too large"), "{}", p.comment);
    assert!(
        p.comment.contains(r#"~ input = "a" -> "b""#),
        "{}",
        p.comment
    );
}
