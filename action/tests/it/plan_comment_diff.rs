//! Attribute diffs: nested objects, lists, sets, unknowns, and sensitive
//! values at any depth.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use ferry::plan_comment::diff::{AttrChange, attribute_changes};
use ferry::plan_comment::model::RawChange;
use serde_json::{Value, json};

fn change(before: Value, after: Value, unknown: Value, bs: Value, as_: Value) -> RawChange {
    let c = json!({"actions": ["update"], "before": before, "after": after, "after_unknown": unknown,
                   "before_sensitive": bs, "after_sensitive": as_});
    serde_json::from_value(c).unwrap()
}

fn lines(changes: &[AttrChange]) -> Vec<String> {
    changes
        .iter()
        .map(|c| {
            let mut l = format!("{} {} {:?} -> {:?}", c.symbol, c.path, c.before, c.after);
            if c.forces_replacement {
                l.push_str(" !");
            }
            l
        })
        .collect()
}

#[test]
fn nested_objects_lists_and_sets() {
    let c = change(
        json!({"tags": {"a": "1", "b": "2"}, "rule": [{"port": 80}, {"port": 443}], "cidrs": ["10.0.0.0/8", "172.16.0.0/12"], "same": "x"}),
        json!({"tags": {"a": "1", "c": "3"}, "rule": [{"port": 8080}], "cidrs": ["10.0.0.0/8", "192.168.0.0/16"], "same": "x"}),
        json!({}),
        json!({}),
        json!({}),
    );
    assert_eq!(
        lines(&attribute_changes(&c, None)),
        [
            r#"- cidrs[*] Some("\"172.16.0.0/12\"") -> None"#,
            r#"+ cidrs[*] None -> Some("\"192.168.0.0/16\"")"#,
            "~ rule[0].port Some(\"80\") -> Some(\"8080\")",
            r#"- rule[1] Some("{\"port\":443}") -> None"#,
            r#"- tags.b Some("\"2\"") -> None"#,
            r#"+ tags.c None -> Some("\"3\"")"#,
        ]
    );
}

#[test]
fn unknown_values_at_any_depth() {
    let c = change(
        json!({"id": "i-1", "net": {"ip": "10.0.0.1", "name": "a"}}),
        json!({"net": {"name": "b"}}),
        json!({"id": true, "net": {"ip": true}}),
        json!({}),
        json!({}),
    );
    assert_eq!(
        lines(&attribute_changes(&c, None)),
        [
            r#"~ id Some("\"i-1\"") -> Some("(known after apply)")"#,
            r#"~ net.ip Some("\"10.0.0.1\"") -> Some("(known after apply)")"#,
            r#"~ net.name Some("\"a\"") -> Some("\"b\"")"#,
        ]
    );
}

#[test]
fn sensitive_values_never_become_text() {
    let secret_old = "SECRET-OLD-c4n4ry";
    let secret_new = "SECRET-NEW-c4n4ry";
    let c = change(
        json!({"password": secret_old, "env": [{"name": "A", "value": secret_old}], "whole": {"k": secret_old}, "same_secret": secret_old}),
        json!({"password": secret_new, "env": [{"name": "B", "value": secret_new}], "whole": {"k": secret_new}, "same_secret": secret_old}),
        json!({}),
        json!({"password": true, "env": [{"value": true}], "whole": true, "same_secret": true}),
        json!({"password": true, "env": [{"value": true}], "whole": true, "same_secret": true}),
    );
    let out = lines(&attribute_changes(&c, None));
    let all = out.join("\n");
    assert!(!all.contains("SECRET"), "{all}");
    assert_eq!(
        out,
        [
            r#"~ env[0].name Some("\"A\"") -> Some("\"B\"")"#,
            r#"~ env[0].value Some("(sensitive value)") -> Some("(sensitive value)")"#,
            r#"~ password Some("(sensitive value)") -> Some("(sensitive value)")"#,
            r#"~ whole Some("(sensitive value)") -> Some("(sensitive value)")"#,
        ],
        "an unchanged sensitive value is not listed; a changed one is, masked"
    );
}

#[test]
fn a_sensitive_list_of_scalars_is_masked_not_set_diffed() {
    let c = change(
        json!({"keys": ["k-OLD-1"]}),
        json!({"keys": ["k-NEW-2"]}),
        json!({}),
        json!({"keys": [true]}),
        json!({"keys": [true]}),
    );
    let all = lines(&attribute_changes(&c, None)).join("\n");
    assert!(!all.contains("k-OLD") && !all.contains("k-NEW"), "{all}");
}

#[test]
fn replace_paths_are_marked_and_relevance_filters() {
    let mut c = change(
        json!({"ami": "a", "size": 1}),
        json!({"ami": "b", "size": 2}),
        json!({}),
        json!({}),
        json!({}),
    );
    c.replace_paths = vec![vec![json!("ami")]];
    let out = lines(&attribute_changes(&c, None));
    assert_eq!(
        out,
        [
            r#"~ ami Some("\"a\"") -> Some("\"b\"") !"#,
            "~ size Some(\"1\") -> Some(\"2\")"
        ]
    );
    let only_size = lines(&attribute_changes(&c, Some(&["size".to_string()])));
    assert_eq!(only_size, ["~ size Some(\"1\") -> Some(\"2\")"]);
}
