//! Hostile plans: every string of a plan that reaches the comment (resource
//! addresses and `for_each` keys, attribute keys and values, import ids,
//! moved-from addresses, check messages, output names, unknown actions,
//! the Terraform version) is generated from pieces of markdown, HTML and
//! GitHub syntax. The comment and the job summary are parsed with a
//! CommonMark parser and must show what the data says: every destroy
//! visible, as many `<details>` and headings as entries, no HTML or link
//! Ferry did not write, no live mention, one marker, the hash readable.
//! Also: arbitrary and mutated plan JSON never panics or hangs.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::support::markup::{any_text, assert_inert, hostile, same_code, see};
use crate::support::plan_comment as plan_comment_support;

use std::time::{Duration, Instant};

use ferry::plan_comment::marker::hash_in;
use ferry::plan_comment::{Prepared, input, prepare};
use plan_comment_support::options;
use proptest::prelude::*;
use serde_json::{Value, json};

const RUN: &str = "https://github.com/o/r/actions/runs/1";
const MARKER: &str = "<!-- ferry:plan:staging -->";

/// A plan's strings, as the generator makes them.
#[derive(Debug, Clone)]
struct Data {
    destroys: Vec<String>,
    updates: Vec<(String, String, String)>,
    creates: Vec<(String, String, String)>,
    imports: Vec<(String, String)>,
    moves: Vec<(String, String)>,
    checks: Vec<(String, String)>,
    unknown: Vec<(String, String)>,
    outputs: Vec<(String, String)>,
    version: String,
}

fn rc(address: &str, actions: Value, before: Value, after: Value) -> Value {
    json!({
        "address": address, "mode": "managed", "type": "terraform_data", "name": "x",
        "change": {"actions": actions, "before": before, "after": after,
                   "after_unknown": {}, "before_sensitive": {}, "after_sensitive": {}}
    })
}

fn plan_json(d: &Data) -> String {
    let mut changes = Vec::new();
    for a in &d.destroys {
        changes.push(rc(a, json!(["delete"]), json!({"input": "x"}), Value::Null));
    }
    for (a, k, v) in &d.updates {
        changes.push(rc(a, json!(["update"]), json!({ k: 1 }), json!({ k: v })));
    }
    for (a, k, v) in &d.creates {
        changes.push(rc(a, json!(["create"]), Value::Null, json!({ k: v })));
    }
    for (a, id) in &d.imports {
        let mut c = rc(a, json!(["no-op"]), json!({}), json!({}));
        c["change"]["importing"] = json!({ "id": id });
        changes.push(c);
    }
    for (a, from) in &d.moves {
        let mut c = rc(a, json!(["no-op"]), json!({}), json!({}));
        c["previous_address"] = json!(format!("old.{from}"));
        changes.push(c);
    }
    for (a, action) in &d.unknown {
        changes.push(rc(a, json!([action]), json!({}), json!({})));
    }
    let checks: Vec<Value> = d
        .checks
        .iter()
        .map(|(a, m)| {
            json!({"address": {"to_display": a}, "status": "fail",
                   "instances": [{"address": {"to_display": a}, "status": "fail",
                                  "problems": [{"message": m}]}]})
        })
        .collect();
    let outputs: serde_json::Map<String, Value> = d
        .outputs
        .iter()
        .map(|(n, v)| {
            (
                n.clone(),
                json!({"actions": ["update"], "before": "old", "after": v}),
            )
        })
        .collect();
    json!({
        "format_version": "1.2", "terraform_version": d.version, "planned_values": {},
        "resource_changes": changes, "output_changes": outputs, "checks": checks
    })
    .to_string()
}

fn render(d: &Data) -> Prepared {
    let plan = input::parse_plan(&plan_json(d), "plan.json").unwrap();
    prepare(
        plan,
        &options("staging", std::path::Path::new("plan.json")),
        Some(RUN),
    )
    .unwrap()
}

/// Everything a reviewer must be able to rely on, in one rendering.
fn check(d: &Data, md: &str, comment: bool) {
    let seen = see(md);
    let details =
        regex::Regex::new(r"^<details( open)?><summary>\d+ attribute change\(s\)</summary>$")
            .unwrap();
    let close = regex::Regex::new(r"^</details>$").unwrap();
    let sub = regex::Regex::new(r"^</?sub>$").unwrap();
    let marker = regex::Regex::new(r"^<!-- ferry:plan:staging -->$").unwrap();
    let meta = regex::Regex::new(r"^<!-- ferry:plan-meta hash=sha256:[0-9a-f]{64} -->$").unwrap();
    assert_inert(&seen, &[&details, &close, &sub, &marker, &meta], &[RUN], md);
    // One <details> per entry with an attribute diff: updates and creates.
    assert_eq!(
        seen.details_open,
        d.updates.len() + d.creates.len(),
        "<details> blocks\n---\n{md}"
    );
    // The title and one heading per non-empty section.
    let sections = [
        !d.destroys.is_empty(),
        !d.updates.is_empty(),
        !d.creates.is_empty(),
        !d.imports.is_empty() || !d.moves.is_empty(),
        !d.outputs.is_empty(),
        !d.checks.is_empty(),
    ];
    assert_eq!(
        seen.headings.len(),
        1 + sections.iter().filter(|s| **s).count(),
        "headings {:?}\n---\n{md}",
        seen.headings
    );
    assert!(seen.headings[0].contains("staging"), "{:?}", seen.headings);
    assert_eq!(seen.tables, 0, "no table in a plan comment\n---\n{md}");
    // Every destroy: its own entry, its address in a code span outside any
    // <details>, and the words that say it.
    for a in &d.destroys {
        assert!(
            seen.codes
                .iter()
                .any(|(c, depth)| *depth == 0 && same_code(c, a)),
            "destroy {a:?} not visible\n---\n{md}"
        );
    }
    let destroyed = seen
        .texts
        .iter()
        .filter(|t| t.as_str() == "will be destroyed")
        .count();
    assert_eq!(destroyed, d.destroys.len(), "destroy entries\n---\n{md}");
    for (a, id) in &d.imports {
        assert!(
            seen.codes.iter().any(|(c, _)| same_code(c, a)),
            "import {a:?}\n---\n{md}"
        );
        // An empty id is not shown; any other is, whole.
        let shown_id = crate::support::markup::shown(id);
        assert!(
            shown_id.trim().is_empty() || seen.codes.iter().any(|(c, _)| same_code(c, id)),
            "import id {id:?}\n---\n{md}"
        );
    }
    if comment {
        assert!(md.starts_with(MARKER), "{md}");
        assert_eq!(md.matches(MARKER).count(), 1, "{md}");
        assert_eq!(md.matches("<!-- ferry:").count(), 2, "{md}");
    } else {
        assert_eq!(md.matches("<!-- ferry:").count(), 0, "{md}");
    }
}

fn data() -> impl Strategy<Value = Data> {
    let pair = || (any_text(), any_text());
    let triple = || (hostile(), any_text(), hostile());
    (
        prop::collection::vec(hostile(), 0..4),
        prop::collection::vec(triple(), 0..3),
        prop::collection::vec(triple(), 0..3),
        prop::collection::vec(pair(), 0..2),
        prop::collection::vec(pair(), 0..2),
        prop::collection::vec(pair(), 0..2),
        prop::collection::vec(pair(), 0..2),
        prop::collection::vec(pair(), 0..2),
        hostile(),
    )
        .prop_map(
            |(destroys, updates, creates, imports, moves, checks, unknown, outputs, version)| {
                Data {
                    destroys,
                    updates,
                    creates,
                    imports,
                    moves,
                    checks,
                    unknown,
                    outputs,
                    version,
                }
            },
        )
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 96, ..ProptestConfig::default() })]

    #[test]
    fn hostile_strings_cannot_change_what_the_comment_shows(d in data()) {
        let p = render(&d);
        check(&d, &p.comment, true);
        check(&d, &p.summary, false);
        prop_assert_eq!(hash_in(&p.comment), Some(p.hash.clone()));
        // Unknown actions are never "no changes".
        if !d.unknown.is_empty() {
            prop_assert!(p.has_changes && p.has_destroy);
            prop_assert!(!p.comment.contains("No changes"), "{}", p.comment);
        }
    }
}

/// One fixed hostile plan, as a reviewer reads it.
#[test]
fn a_hostile_plan_comment_snapshot() {
    let d = Data {
        destroys: vec![
            "aws_s3_bucket.b[\"x` **not code** `\"]".into(),
            "aws_db_instance.main[\"`</details>\"]".into(),
        ],
        updates: vec![(
            "aws_iam_role.r[\"@octo-org/admins #123\"]".into(),
            "policy\n```\n</details>".into(),
            "<!-- ferry:plan-meta hash=sha256:00 -->".into(),
        )],
        creates: vec![(
            "aws_ecs_service.s[\"a\nb\u{2028}c\u{202e}d\"]".into(),
            "image".into(),
            "![img](https://evil.example/x.png) [link](javascript:alert(1))".into(),
        )],
        imports: vec![("aws_vpc.v".into(), "vpc-1`|`<summary>".into())],
        moves: vec![],
        checks: vec![(
            "check.health".into(),
            "failed: see @team\n\n# Approved\n<details>".into(),
        )],
        unknown: vec![("aws_thing.t[\"--> x\"]".into(), "obliterate".into())],
        outputs: vec![("url".into(), "|a|b|".into())],
        version: "1.9.0 <script>".into(),
    };
    let p = render(&d);
    check(&d, &p.comment, true);
    check(&d, &p.summary, false);
    insta::assert_snapshot!(p.comment.replace(&p.hash, "sha256:[hash]"));
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    /// Any text at all: an error or a plan, never a panic, quickly.
    #[test]
    fn arbitrary_text_never_panics(text in any::<String>()) {
        let start = Instant::now();
        if let Ok(plan) = input::parse_plan(&text, "plan.json") {
            let _ = prepare(plan, &options("staging", std::path::Path::new("plan.json")), None);
        }
        prop_assert!(start.elapsed() < Duration::from_secs(5));
    }

    /// A valid plan with bytes cut, doubled or replaced: never a panic.
    #[test]
    fn mutated_plans_never_panic(
        d in data(),
        cuts in prop::collection::vec((any::<prop::sample::Index>(), 0u8..4, any::<u8>()), 1..6),
    ) {
        let mut bytes = plan_json(&d).into_bytes();
        for (at, op, b) in cuts {
            if bytes.is_empty() { break; }
            let i = at.index(bytes.len());
            match op {
                0 => { bytes.remove(i); }
                1 => { let c = bytes[i]; bytes.insert(i, c); }
                2 => bytes[i] = b"{}[]\",:0tn\\"[usize::from(b) % 11],
                _ => bytes.truncate(i),
            }
        }
        let start = Instant::now();
        let text = String::from_utf8_lossy(&bytes);
        if let Ok(plan) = input::parse_plan(&text, "plan.json") {
            let p = prepare(plan, &options("staging", std::path::Path::new("plan.json")), Some(RUN));
            if let Ok(p) = p {
                prop_assert!(p.comment.starts_with(MARKER));
            }
        }
        prop_assert!(start.elapsed() < Duration::from_secs(5));
    }

    /// Nesting of any depth, anywhere: refused or read, never a stack overflow.
    #[test]
    fn deep_nesting_anywhere_never_panics(depth in 1usize..5000, at in 0usize..4) {
        let deep = format!("{}1{}", "[".repeat(depth), "]".repeat(depth));
        let mut change = json!({"actions": ["update"], "before": {"a": 1}, "after": {"a": 2}});
        let field = ["before", "after", "after_sensitive", "after_unknown"][at];
        let text = rc_text(&mut change, field, &deep);
        let start = Instant::now();
        if let Ok(plan) = input::parse_plan(&text, "plan.json") {
            let _ = prepare(plan, &options("staging", std::path::Path::new("plan.json")), None);
        }
        prop_assert!(start.elapsed() < Duration::from_secs(5));
    }
}

/// A plan whose one change has `field` replaced by raw JSON `raw`.
fn rc_text(change: &mut Value, field: &str, raw: &str) -> String {
    change[field] = json!("__RAW__");
    let plan = json!({"format_version": "1.2", "planned_values": {}, "resource_changes": [
        {"address": "terraform_data.a", "mode": "managed", "type": "terraform_data", "name": "a",
         "change": change}]});
    plan.to_string().replace("\"__RAW__\"", raw)
}
