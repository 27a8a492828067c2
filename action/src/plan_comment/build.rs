//! Builds the full [`PlanView`] of a plan: every list complete, ordered by risk.

use std::collections::BTreeMap;

use super::counts::{Action, Counts};
use super::diff::{self, AttrChange};
use super::model::{RawActionInvocation, RawPlan, RawResourceChange};
use super::view::{
    ActionView, CheckView, Omitted, OutputView, PlanView, ResourceView, deferred_sentence,
    reason_sentence, symbol,
};
use crate::markdown;
use serde_json::Value;

/// What the plan JSON does not say and the command line does.
#[derive(Debug, Clone, Default)]
pub struct ViewContext {
    /// Environment name.
    pub env: String,
    /// Root module directory.
    pub root_module: Option<String>,
    /// Terraform workspace.
    pub workspace: Option<String>,
    /// `normal`, `destroy` or `refresh-only`.
    pub mode: String,
    /// Hidden marker line.
    pub marker: String,
    /// Hidden metadata line.
    pub metadata: String,
    /// Link to the full rendering.
    pub full_report_url: Option<String>,
}

/// Scrubs secrets from one string taken from the plan (by value: a string
/// with nothing to scrub is moved, not copied).
pub type Scrub<'a> = &'a dyn Fn(String) -> String;

/// Builds the complete view; the size budget shortens it later.
pub fn build_view(plan: &RawPlan, ctx: &ViewContext) -> PlanView {
    build_view_scrubbed(plan, ctx, &|s: String| s)
}

/// [`build_view`] with every string from the plan passed through `scrub`
/// (the redactor) before anything escapes it: escaping changes the text
/// (a zero-width space after `@`, entities), after which a secret would no
/// longer be found in the rendering.
pub fn build_view_scrubbed(plan: &RawPlan, ctx: &ViewContext, scrub: Scrub<'_>) -> PlanView {
    let counts = Counts::of(plan);
    let mut deletes = Vec::new();
    let mut replaces = Vec::new();
    let mut view = PlanView {
        marker: ctx.marker.clone(),
        metadata: ctx.metadata.clone(),
        env: ctx.env.clone(),
        root_module: ctx.root_module.clone(),
        workspace: ctx.workspace.clone(),
        mode: ctx.mode.clone(),
        terraform_version: plan.terraform_version.clone().map(scrub),
        counts,
        plan_line: counts.plan_line(),
        headline: String::new(),
        has_changes: counts.has_resource_changes() || counts.outputs > 0,
        // An action Ferry cannot read may destroy: fail closed.
        has_destroy: counts.destroy > 0 || counts.unknown > 0,
        warnings: Vec::new(),
        destroys: Vec::new(),
        updates: Vec::new(),
        creates: Vec::new(),
        moves: Vec::new(),
        imports: Vec::new(),
        forgets: Vec::new(),
        outputs: Vec::new(),
        drift: Vec::new(),
        deferred: Vec::new(),
        actions: Vec::new(),
        failed_checks: Vec::new(),
        omitted: Omitted::default(),
        shortened: false,
        full_report_url: ctx.full_report_url.clone(),
        is_summary: false,
        summary_complete: true,
    };
    let mut unknown = Vec::new();
    for rc in plan.resource_changes.iter().flatten() {
        let action = Action::from_actions(&rc.change.actions);
        let importing = rc.change.importing.is_some();
        let moved = rc.previous_address.is_some() && rc.previous_address != rc.address;
        let item = || resource_view(rc, action, None, scrub);
        match action {
            Action::Delete => deletes.push(item()),
            Action::DeleteThenCreate | Action::CreateThenDelete => replaces.push(item()),
            Action::Update => view.updates.push(item()),
            Action::Create => view.creates.push(item()),
            Action::Forget | Action::CreateThenForget => view.forgets.push(item()),
            Action::Unknown => unknown.push(rc),
            Action::NoOp | Action::Read => {}
        }
        if importing {
            view.imports.push(item());
        }
        if moved && matches!(action, Action::NoOp) {
            view.moves.push(item());
        }
    }
    view.destroys = deletes;
    view.destroys.extend(replaces);
    view.outputs = outputs(plan, scrub);
    // Refresh-only plans are about drift: show all of it, unfiltered.
    view.drift = drift(plan, ctx.mode == "refresh-only", scrub);
    // A refresh-only plan changes the state to match the drift.
    if ctx.mode == "refresh-only" && !view.drift.is_empty() {
        view.has_changes = true;
    }
    view.deferred = plan
        .deferred_changes
        .iter()
        .map(|d| {
            let mut v = resource_view(
                &d.resource_change,
                Action::from_actions(&d.resource_change.change.actions),
                None,
                scrub,
            );
            v.reason = Some(deferred_sentence(&scrub(d.reason.clone())));
            v
        })
        .collect();
    view.actions = actions(plan, scrub);
    view.failed_checks = failed_checks(plan, scrub);
    view.warnings.extend(unknown_warning(&unknown, scrub));
    view.warnings.extend(warnings(plan, &view));
    view.headline = headline(&view);
    view
}

/// Characters kept of an action's address and of its configuration.
const ACTION_CHARS: usize = 200;

/// The plan's action invocations, then its deferred ones, as Terraform
/// lists them; configuration values shown with sensitive parts masked.
fn actions(plan: &RawPlan, scrub: Scrub<'_>) -> Vec<ActionView> {
    let cut = |s: String| crate::text::truncate_chars(&scrub(s), ACTION_CHARS);
    let one = |a: &RawActionInvocation, deferred: Option<&str>| {
        let parse = |raw: &Option<Box<serde_json::value::RawValue>>, or: Value| {
            raw.as_ref()
                .map_or(or.clone(), |r| serde_json::from_str(r.get()).unwrap_or(or))
        };
        let values = parse(&a.config_values, Value::Null);
        // A mask that cannot be read hides everything.
        let mask = parse(&a.config_sensitive, Value::Bool(true));
        // As Terraform prints a configuration: the attributes set, by name.
        let leaf = |v: &Value| match v {
            Value::String(t) if t == diff::SENSITIVE => t.clone(),
            other => diff::render_value(other),
        };
        let config = match diff::masked(&values, &mask) {
            Value::Null => None,
            Value::Object(o) => {
                let set: Vec<String> = o
                    .iter()
                    .filter(|(_, v)| !v.is_null())
                    .map(|(k, v)| format!("{k} = {}", leaf(v)))
                    .collect();
                (!set.is_empty()).then(|| cut(set.join(", ")))
            }
            other => Some(cut(leaf(&other))),
        };
        ActionView {
            address: cut(a.display_address()),
            trigger: cut(a.trigger()),
            config,
            deferred: deferred.map(|r| deferred_sentence(&scrub(r.to_string()))),
        }
    };
    plan.action_invocations
        .iter()
        .map(|a| one(a, None))
        .chain(
            plan.deferred_action_invocations
                .iter()
                .map(|d| one(&d.action_invocation, Some(&d.reason))),
        )
        .collect()
}

/// Addresses named in the warning about unknown actions; the rest are counted.
const UNKNOWN_LISTED: usize = 5;
/// Characters kept of one address or action in that warning.
const UNKNOWN_CHARS: usize = 120;

/// One warning for every change whose actions Ferry does not know: a few
/// addresses named, the rest counted, so the warning stays small whatever
/// the plan (it is repeated in the smallest fallback comment).
fn unknown_warning(unknown: &[&RawResourceChange], scrub: Scrub<'_>) -> Option<String> {
    if unknown.is_empty() {
        return None;
    }
    let cut = |s: &str| crate::text::truncate_chars(s, UNKNOWN_CHARS);
    let named: Vec<String> = unknown
        .iter()
        .take(UNKNOWN_LISTED)
        .map(|rc| {
            format!(
                "{} ({})",
                markdown::code(&cut(&scrub(rc.display_address()))),
                markdown::code(&cut(&scrub(rc.change.actions.join(", "))))
            )
        })
        .collect();
    let more = unknown.len().saturating_sub(UNKNOWN_LISTED);
    Some(format!(
        "**{} change(s) have actions this version of Ferry does not know**, which may destroy: {}{}. Read the plan output before applying.",
        unknown.len(),
        named.join(", "),
        if more > 0 {
            format!(" and {more} more")
        } else {
            String::new()
        }
    ))
}

/// The bold sentence under the title: what applying the plan does.
pub fn headline(view: &PlanView) -> String {
    let c = &view.counts;
    if view.mode == "refresh-only" {
        let drift = view.drift.len();
        return if drift > 0 {
            format!(
                "**Refresh only:** {drift} object(s) changed outside Terraform; applying writes them to the state and changes no infrastructure."
            )
        } else {
            "**Refresh only:** nothing changed outside Terraform.".to_string()
        };
    }
    let unknown = if c.unknown > 0 {
        format!(
            " **{} change(s) Ferry cannot classify** (see the warning below).",
            c.unknown
        )
    } else {
        String::new()
    };
    let deferred = if c.deferred > 0 {
        format!(
            " **{} change(s) deferred** to a later plan (see below).",
            c.deferred
        )
    } else {
        String::new()
    };
    if c.add + c.change + c.destroy + c.import + c.forget + c.invoke > 0 {
        format!("**{}**{unknown}{deferred}", view.plan_line)
    } else if c.unknown + c.deferred > 0 {
        format!("{unknown}{deferred}").trim_start().to_string()
    } else if c.moved + c.outputs > 0 {
        "**No resource will be created, changed or destroyed.**".to_string()
    } else {
        "**No changes.** The infrastructure matches the configuration.".to_string()
    }
}

fn resource_view(
    rc: &RawResourceChange,
    action: Action,
    relevant: Option<&[String]>,
    scrub: Scrub<'_>,
) -> ResourceView {
    let attrs: Vec<AttrChange> = if matches!(action, Action::Delete | Action::Forget) {
        Vec::new()
    } else {
        diff::attribute_changes(&rc.change, relevant)
            .into_iter()
            .map(|a| AttrChange {
                path: scrub(a.path),
                before: a.before.map(scrub),
                after: a.after.map(scrub),
                ..a
            })
            .collect()
    };
    ResourceView {
        address: scrub(rc.display_address()),
        deposed: rc.deposed.clone().map(scrub),
        action,
        symbol: symbol(action),
        reason: rc
            .action_reason
            .as_deref()
            .map(|r| reason_sentence(&scrub(r.to_string()))),
        order: match action {
            Action::DeleteThenCreate => Some("destroy then create"),
            Action::CreateThenDelete => Some("create before destroy"),
            _ => None,
        },
        forced_by: rc
            .change
            .replace_paths
            .iter()
            .map(|p| scrub(diff::path_text(p)))
            .collect(),
        previous_address: rc
            .previous_address
            .clone()
            .filter(|p| Some(p) != rc.address.as_ref())
            .map(scrub),
        import_id: rc
            .change
            .importing
            .as_ref()
            .and_then(|i| i.id.clone())
            .map(scrub),
        attrs,
        attrs_omitted: 0,
    }
}

fn outputs(plan: &RawPlan, scrub: Scrub<'_>) -> Vec<OutputView> {
    plan.output_changes
        .iter()
        .filter_map(|(name, change)| {
            let action = Action::from_actions(&change.actions);
            if matches!(action, Action::NoOp) {
                return None;
            }
            let values = change.values();
            let whole = |sensitive: &serde_json::Value, unknown: bool, v: &serde_json::Value| {
                if diff::mask_of(sensitive, Some(v)) == diff::Mask::Whole {
                    Some(diff::SENSITIVE.to_string())
                } else if unknown {
                    Some(diff::UNKNOWN.to_string())
                } else if v.is_null() {
                    None
                } else {
                    Some(diff::render_masked(v, sensitive))
                }
            };
            Some(OutputView {
                name: scrub(name.clone()),
                symbol: symbol(action),
                before: whole(&values.before_sensitive, false, &values.before).map(scrub),
                after: whole(
                    &values.after_sensitive,
                    values.after_unknown == serde_json::Value::Bool(true),
                    &values.after,
                )
                .map(scrub),
            })
        })
        .collect()
}

/// Drift filtered by `relevant_attributes`, as Terraform's renderer does.
fn drift(plan: &RawPlan, all: bool, scrub: Scrub<'_>) -> Vec<ResourceView> {
    let mut relevant: BTreeMap<&str, Vec<String>> = BTreeMap::new();
    for r in &plan.relevant_attributes {
        relevant
            .entry(r.resource.as_str())
            .or_default()
            .push(diff::path_text(&r.attribute));
    }
    plan.resource_drift
        .iter()
        .filter_map(|rc| {
            let action = Action::from_actions(&rc.change.actions);
            let address = rc.display_address();
            let paths = relevant.get(address.as_str());
            match action {
                Action::Delete => Some(resource_view(rc, action, None, scrub)),
                Action::NoOp => None,
                _ => {
                    let filter = (!all).then(|| paths.map(Vec::as_slice).unwrap_or(&[]));
                    let v = resource_view(rc, action, filter, scrub);
                    (!v.attrs.is_empty()).then_some(v)
                }
            }
        })
        .collect()
}

fn failed_checks(plan: &RawPlan, scrub: Scrub<'_>) -> Vec<CheckView> {
    let mut out = Vec::new();
    for check in &plan.checks {
        let bad = |s: &str| matches!(s, "fail" | "error");
        let instances: Vec<_> = check.instances.iter().filter(|i| bad(&i.status)).collect();
        if instances.is_empty() && bad(&check.status) {
            out.push(CheckView {
                address: scrub(check.address.to_display.clone()),
                status: check.status.clone(),
                problems: Vec::new(),
            });
        }
        for i in instances {
            out.push(CheckView {
                address: scrub(i.address.to_display.clone()),
                status: i.status.clone(),
                problems: i
                    .problems
                    .iter()
                    .map(|p| scrub(p.message.clone()))
                    .collect(),
            });
        }
    }
    out
}

fn warnings(plan: &RawPlan, view: &PlanView) -> Vec<String> {
    let mut w = Vec::new();
    if plan.errored == Some(true) {
        w.push("Planning **errored**: this plan is partial and must not be applied.".to_string());
    }
    if plan.complete == Some(false) {
        w.push("This plan is **incomplete**: applying it will not converge; another plan and apply will be needed.".to_string());
    }
    if plan.applyable == Some(false) && plan.errored != Some(true) {
        w.push("Terraform marked this plan as **not applyable**.".to_string());
    }
    if !view.deferred.is_empty() {
        w.push(format!(
            "**{} change(s) deferred** to a later plan.",
            view.deferred.len()
        ));
    }
    if !view.failed_checks.is_empty() {
        w.push(format!(
            "**{} check(s) failing.**",
            view.failed_checks.len()
        ));
    }
    w
}
