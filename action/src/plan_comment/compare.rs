//! Staging against prod in one view: what one environment's plan has that
//! the other's does not, with the differences that come only from the
//! environments' tfvars set apart.
//!
//! Two plans of the same configuration differ in expected ways (names that
//! carry the environment, sizes from the tfvars) and in unexpected ones (a
//! change staging got and prod will not, a value nobody set per
//! environment). A difference at one attribute is *from the tfvars* when
//! the two values are what some variable is in each plan (`desired_count`
//! = `var.services.sampleapi.desired_count` in both), or when the two
//! strings are equal once each variable's value is replaced by its name
//! (`email-platform-staging-api` and `email-platform-prod-api` are both
//! `email-platform-{var.environment}-api`). Everything else is unexpected
//! and listed first.
//!
//! Only addresses and attribute paths are shown, never values: sensitive
//! and unknown values are masked before the comparison, and sensitive
//! variables are never used to explain anything.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::Value;

use super::counts::Action;
use super::diff::{Mask, mask_of};
use super::model::{RawChange, RawPlan};
use crate::markdown;

/// At most this many addresses are listed per group (the counts are whole).
const MAX_LISTED: usize = 40;
/// At most this many attribute paths are named per address.
const MAX_PATHS: usize = 6;
/// A variable's string value shorter than this explains no substring (`a`,
/// `1` would match inside anything).
const MIN_SUBSTITUTE_CHARS: usize = 3;

/// One environment's plan, by name.
#[derive(Debug, Clone, Copy)]
pub struct Side<'a> {
    /// `staging`, `prod`.
    pub env: &'a str,
    /// Its plan.
    pub plan: &'a RawPlan,
}

/// A difference between the two plans at one address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Difference {
    /// The change is in one plan only.
    OnlyIn {
        /// The resource address.
        address: String,
        /// The environment whose plan has it.
        env: String,
        /// Its action there (`update`, `create`, `replace`...).
        action: String,
    },
    /// Both plans change the resource, differently.
    Actions {
        /// The resource address.
        address: String,
        /// The action in the plan of the comment's environment.
        this: String,
        /// The action in the other plan.
        other: String,
    },
    /// Both plans change it the same way, to values that differ at these
    /// attributes (listed when not explained by the tfvars).
    Values {
        /// The resource address.
        address: String,
        /// The attribute paths, with the variable that explains each one
        /// (`None`: unexpected).
        paths: Vec<(String, Option<String>)>,
    },
}

/// The comparison of the comment's environment (`this`) with another.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Comparison {
    /// The comment's environment.
    pub this: String,
    /// The other environment.
    pub other: String,
    /// Differences no variable explains, in address order.
    pub unexpected: Vec<Difference>,
    /// Differences every attribute of which a variable explains.
    pub tfvars_only: Vec<Difference>,
    /// Addresses both plans change identically.
    pub same: usize,
}

fn action_name(actions: &[String]) -> String {
    match Action::from_actions(actions) {
        Action::DeleteThenCreate | Action::CreateThenDelete => "replace".to_string(),
        _ => actions.join(", "),
    }
}

/// The changes of a plan that do something, by address (no-ops and reads
/// left out: a resource both plans leave alone is no difference).
fn changes(plan: &RawPlan) -> BTreeMap<String, &RawChange> {
    plan.resource_changes
        .iter()
        .flatten()
        .filter(|rc| rc.deposed.is_none())
        .filter_map(|rc| {
            let action = Action::from_actions(&rc.change.actions);
            (!matches!(action, Action::NoOp | Action::Read))
                .then(|| Some((rc.address.clone()?, &rc.change)))
                .flatten()
        })
        .collect()
}

/// Placeholder for a value that cannot be compared (sensitive or unknown).
const MASKED: &str = "\u{0}masked";

/// `after` with its sensitive and unknown parts replaced by [`MASKED`].
fn masked_after(change: &RawChange) -> Value {
    let v = change.values();
    mask(&v.after, &v.after_sensitive, &v.after_unknown)
}

fn mask(value: &Value, sensitive: &Value, unknown: &Value) -> Value {
    if matches!(mask_of(sensitive, Some(value)), Mask::Whole) || unknown == &Value::Bool(true) {
        return Value::String(MASKED.into());
    }
    match value {
        Value::Object(map) => Value::Object(
            map.iter()
                .map(|(k, v)| {
                    let s = sensitive.get(k).unwrap_or(&Value::Null);
                    let u = unknown.get(k).unwrap_or(&Value::Null);
                    (k.clone(), mask(v, s, u))
                })
                .collect(),
        ),
        Value::Array(items) => Value::Array(
            items
                .iter()
                .enumerate()
                .map(|(i, v)| {
                    let s = sensitive.get(i).unwrap_or(&Value::Null);
                    let u = unknown.get(i).unwrap_or(&Value::Null);
                    mask(v, s, u)
                })
                .collect(),
        ),
        other => other.clone(),
    }
}

/// Every scalar leaf of `v` by path (`tags.Owner`, `ports[1]`); an empty
/// object or list is a leaf of its own.
fn leaves(v: &Value, path: String, out: &mut BTreeMap<String, Value>) {
    match v {
        Value::Object(map) if !map.is_empty() => {
            for (k, child) in map {
                let p = if path.is_empty() {
                    k.clone()
                } else {
                    format!("{path}.{k}")
                };
                leaves(child, p, out);
            }
        }
        Value::Array(items) if !items.is_empty() => {
            for (i, child) in items.iter().enumerate() {
                leaves(child, format!("{path}[{i}]"), out);
            }
        }
        other => {
            out.insert(path, other.clone());
        }
    }
}

/// The non-sensitive variables' leaves (`services.sampleapi.cpu` → 256).
fn variable_leaves(plan: &RawPlan) -> BTreeMap<String, Value> {
    let sensitive = |name: &str| {
        plan.configuration
            .as_ref()
            .and_then(|c| c.root_module.variables.get(name))
            .is_some_and(|v| v.sensitive)
    };
    let mut out = BTreeMap::new();
    for (name, var) in &plan.variables {
        if !sensitive(name) {
            leaves(&var.value, format!("var.{name}"), &mut out);
        }
    }
    out
}

/// What explains the differences: for each variable whose value differs
/// between the plans, its two values.
struct Explainer {
    /// `(variable path, this value, other value)`, longest strings first.
    differing: Vec<(String, Value, Value)>,
}

impl Explainer {
    fn new(this: &RawPlan, other: &RawPlan) -> Explainer {
        let (a, b) = (variable_leaves(this), variable_leaves(other));
        let mut differing: Vec<(String, Value, Value)> = a
            .iter()
            .filter_map(|(path, va)| {
                let vb = b.get(path)?;
                (va != vb).then(|| (path.clone(), va.clone(), vb.clone()))
            })
            .collect();
        let len = |v: &Value| v.as_str().map_or(0, str::len);
        differing.sort_by(|x, y| len(&y.1).cmp(&len(&x.1)).then_with(|| x.0.cmp(&y.0)));
        Explainer { differing }
    }

    /// The variable that explains `this` ≠ `other` at one attribute, if any.
    fn explain(&self, this: &Value, other: &Value) -> Option<String> {
        if let Some((path, ..)) = self
            .differing
            .iter()
            .find(|(_, a, b)| a == this && b == other)
        {
            return Some(path.clone());
        }
        let (Value::String(a), Value::String(b)) = (this, other) else {
            return None;
        };
        let (mut a, mut b) = (a.clone(), b.clone());
        let mut used = Vec::new();
        for (path, va, vb) in &self.differing {
            let (Value::String(va), Value::String(vb)) = (va, vb) else {
                continue;
            };
            if va.chars().count() < MIN_SUBSTITUTE_CHARS
                || vb.chars().count() < MIN_SUBSTITUTE_CHARS
            {
                continue;
            }
            let placeholder = format!("\u{0}{{{path}}}");
            if a.contains(va.as_str()) && b.contains(vb.as_str()) {
                a = a.replace(va.as_str(), &placeholder);
                b = b.replace(vb.as_str(), &placeholder);
                used.push(path.clone());
            }
        }
        (a == b && !used.is_empty()).then(|| used.join(", "))
    }
}

/// Compares the comment's plan (`this`) with the `other` environment's.
pub fn compare(this: Side<'_>, other: Side<'_>) -> Comparison {
    let (mine, theirs) = (changes(this.plan), changes(other.plan));
    let explainer = Explainer::new(this.plan, other.plan);
    let mut unexpected = Vec::new();
    let mut tfvars_only = Vec::new();
    let mut same = 0;
    let addresses: BTreeSet<&String> = mine.keys().chain(theirs.keys()).collect();
    for address in addresses {
        match (mine.get(address), theirs.get(address)) {
            (Some(c), None) | (None, Some(c)) => {
                let env = if mine.contains_key(address) {
                    this.env
                } else {
                    other.env
                };
                unexpected.push(Difference::OnlyIn {
                    address: address.clone(),
                    env: env.to_string(),
                    action: action_name(&c.actions),
                });
            }
            (Some(a), Some(b)) if a.actions != b.actions => {
                unexpected.push(Difference::Actions {
                    address: address.clone(),
                    this: action_name(&a.actions),
                    other: action_name(&b.actions),
                });
            }
            (Some(a), Some(b)) => {
                let (mut la, mut lb) = (BTreeMap::new(), BTreeMap::new());
                leaves(&masked_after(a), String::new(), &mut la);
                leaves(&masked_after(b), String::new(), &mut lb);
                let paths: BTreeSet<&String> = la.keys().chain(lb.keys()).collect();
                let differing: Vec<(String, Option<String>)> = paths
                    .into_iter()
                    .filter_map(|p| {
                        let (va, vb) = (
                            la.get(p).unwrap_or(&Value::Null),
                            lb.get(p).unwrap_or(&Value::Null),
                        );
                        (va != vb).then(|| (p.clone(), explainer.explain(va, vb)))
                    })
                    .collect();
                if differing.is_empty() {
                    same += 1;
                } else {
                    let all_explained = differing.iter().all(|(_, why)| why.is_some());
                    let d = Difference::Values {
                        address: address.clone(),
                        paths: differing,
                    };
                    if all_explained {
                        tfvars_only.push(d);
                    } else {
                        unexpected.push(d);
                    }
                }
            }
            (None, None) => {}
        }
    }
    Comparison {
        this: this.env.to_string(),
        other: other.env.to_string(),
        unexpected,
        tfvars_only,
        same,
    }
}

/// The start of the comparison section in a plan comment.
pub const SECTION_START: &str = "<!-- ferry:compare -->";
/// Its end.
pub const SECTION_END: &str = "<!-- /ferry:compare -->";

fn line(d: &Difference, c: &Comparison) -> String {
    let code = |s: &str| markdown::code(s);
    let plan_of = |env: &str| format!("{}'s plan", markdown::code(env));
    match d {
        Difference::OnlyIn {
            address,
            env,
            action,
        } => {
            let lacks = if env == &c.this { &c.other } else { &c.this };
            format!(
                "- {} ({}): in {} only, **not in {}**\n",
                code(address),
                markdown::text(action),
                plan_of(env),
                plan_of(lacks)
            )
        }
        Difference::Actions {
            address,
            this: a,
            other: b,
        } => format!(
            "- {}: {} in {}, {} in {}\n",
            code(address),
            markdown::text(a),
            plan_of(&c.this),
            markdown::text(b),
            plan_of(&c.other)
        ),
        Difference::Values { address, paths } => {
            let shown: Vec<String> = paths
                .iter()
                .take(MAX_PATHS)
                .map(|(p, why)| match why {
                    Some(var) => format!("{} ← {}", code(p), code(var)),
                    None => code(p),
                })
                .collect();
            let more = paths.len().saturating_sub(MAX_PATHS);
            format!(
                "- {}: differs at {}{}\n",
                code(address),
                shown.join(", "),
                if more > 0 {
                    format!(" and {more} more")
                } else {
                    String::new()
                }
            )
        }
    }
}

fn list(items: &[Difference], c: &Comparison, out: &mut String) {
    for d in items.iter().take(MAX_LISTED) {
        out.push_str(&line(d, c));
    }
    if items.len() > MAX_LISTED {
        out.push_str(&format!("- … and {} more\n", items.len() - MAX_LISTED));
    }
}

/// The section for the comment of `c.this`: unexpected differences first
/// (each saying which plan has what), then, folded, those from the tfvars
/// only, and how many changes the plans share.
pub fn render(c: &Comparison) -> String {
    let (this, other) = (markdown::code(&c.this), markdown::code(&c.other));
    let mut md = format!("{SECTION_START}\n### {this} against {other}\n\n");
    if c.unexpected.is_empty() && c.tfvars_only.is_empty() {
        md.push_str(&format!("The plans make the same {} change(s).\n", c.same));
    } else {
        if c.unexpected.is_empty() {
            md.push_str("No unexpected difference: ");
        } else {
            md.push_str(&format!(
                "**{} unexpected difference(s)**, not explained by the tfvars:\n\n",
                c.unexpected.len()
            ));
            list(&c.unexpected, c, &mut md);
            md.push('\n');
        }
        md.push_str(&format!("{} change(s) identical in both plans", c.same));
        if c.tfvars_only.is_empty() {
            md.push_str(".\n");
        } else {
            md.push_str(&format!(
                "; {} differ only by the tfvars.\n\n<details><summary>Differences from the tfvars only (each attribute ← the variable whose values explain it)</summary>\n\n",
                c.tfvars_only.len()
            ));
            list(&c.tfvars_only, c, &mut md);
            md.push_str("\n</details>\n");
        }
    }
    md.push_str(SECTION_END);
    md.push('\n');
    md
}

/// `body` with the comparison section added after everything else, unless
/// the result would pass `max_chars` or `max_bytes`: then a one-line note
/// instead.
pub fn with_section(body: &str, section: &str, max_chars: usize, max_bytes: usize) -> String {
    let sep = if body.ends_with('\n') { "\n" } else { "\n\n" };
    let full = format!("{body}{sep}{section}");
    if full.chars().count() <= max_chars && full.len() <= max_bytes {
        full
    } else {
        format!(
            "{body}{sep}{SECTION_START}\n_The comparison with the other environment's plan did not fit here: it is in the job summary of the run that posted this._\n{SECTION_END}\n"
        )
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use crate::plan_comment::input::parse_plan;
    use serde_json::json;

    fn plan(vars: Value, changes: Value) -> RawPlan {
        let text = json!({"format_version": "1.2", "terraform_version": "1.11.4",
            "variables": vars, "resource_changes": changes})
        .to_string();
        parse_plan(&text, "plan.json").unwrap()
    }

    fn change(address: &str, actions: &[&str], after: Value) -> Value {
        json!({"address": address, "mode": "managed", "type": "t", "name": "n",
            "change": {"actions": actions, "before": null, "after": after,
                "after_unknown": {}, "before_sensitive": false, "after_sensitive": {}}})
    }

    #[test]
    fn a_name_carrying_the_environment_and_a_size_from_the_tfvars_are_expected() {
        let s = plan(
            json!({"environment": {"value": "staging"}, "sizes": {"value": {"api": 1}}}),
            json!([change(
                "a.b",
                &["update"],
                json!({"name": "shop-staging-api", "count": 1})
            )]),
        );
        let p = plan(
            json!({"environment": {"value": "prod"}, "sizes": {"value": {"api": 3}}}),
            json!([change(
                "a.b",
                &["update"],
                json!({"name": "shop-prod-api", "count": 3})
            )]),
        );
        let c = compare(
            Side {
                env: "prod",
                plan: &p,
            },
            Side {
                env: "staging",
                plan: &s,
            },
        );
        assert!(c.unexpected.is_empty(), "{c:#?}");
        let Difference::Values { paths, .. } = &c.tfvars_only[0] else {
            panic!()
        };
        assert_eq!(
            paths,
            &[
                ("count".to_string(), Some("var.sizes.api".to_string())),
                ("name".to_string(), Some("var.environment".to_string())),
            ]
        );
    }

    #[test]
    fn a_value_no_variable_explains_is_unexpected_and_values_are_never_shown() {
        let s = plan(
            json!({"environment": {"value": "staging"}}),
            json!([change(
                "a.b",
                &["update"],
                json!({"owner": "team-a", "pin": "1234"})
            )]),
        );
        let mut p_changes = change(
            "a.b",
            &["update"],
            json!({"owner": "team-b", "pin": "9999"}),
        );
        p_changes["change"]["after_sensitive"] = json!({"pin": true});
        let p = plan(
            json!({"environment": {"value": "prod"}}),
            json!([p_changes]),
        );
        let c = compare(
            Side {
                env: "prod",
                plan: &p,
            },
            Side {
                env: "staging",
                plan: &s,
            },
        );
        let Difference::Values { paths, .. } = &c.unexpected[0] else {
            panic!("{c:#?}")
        };
        assert!(paths.contains(&("owner".to_string(), None)), "{paths:?}");
        let md = render(&c);
        for secret in ["team-a", "team-b", "9999", "1234"] {
            assert!(!md.contains(secret), "{md}");
        }
    }

    #[test]
    fn a_short_variable_value_explains_no_substring() {
        let s = plan(
            json!({"tier": {"value": "a"}}),
            json!([change("x.y", &["create"], json!({"name": "alpha"}))]),
        );
        let p = plan(
            json!({"tier": {"value": "b"}}),
            json!([change("x.y", &["create"], json!({"name": "blphb"}))]),
        );
        let c = compare(
            Side {
                env: "prod",
                plan: &p,
            },
            Side {
                env: "staging",
                plan: &s,
            },
        );
        assert_eq!(c.unexpected.len(), 1, "{c:#?}");
    }
}
