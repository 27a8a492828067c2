//! The data model a plan-comment template receives.
//!
//! This is the documented contract for `--template`: a tera template gets
//! one variable, `plan`: a [`PlanView`] with its lists as the size budget
//! shaped them ([`PlanOut`], which borrows instead of copying: a big plan's
//! lists are the largest thing in memory). Every value in it is already
//! safe to print: sensitive values are `(sensitive value)`, and the whole
//! rendering is passed through the redactor afterwards as a second line of
//! defence. Field names are stable; new fields may be added.

use serde::Serialize;

use super::counts::{Action, Counts};
use super::diff::AttrChange;

/// Everything a template can show about one plan.
#[derive(Debug, Clone, Serialize)]
pub struct PlanView {
    /// Hidden marker that finds this comment again, e.g. `<!-- ferry:plan:staging -->`.
    pub marker: String,
    /// Hidden metadata line holding the plan hash, read by `plan-verify`.
    pub metadata: String,
    /// Environment name given with `--env`.
    pub env: String,
    /// Root module directory, when given with `--root-module`.
    pub root_module: Option<String>,
    /// Terraform workspace, when given with `--workspace`.
    pub workspace: Option<String>,
    /// `normal`, `destroy` or `refresh-only`.
    pub mode: String,
    /// Terraform version that wrote the plan, when recorded.
    pub terraform_version: Option<String>,
    /// Counts, with Terraform's arithmetic.
    pub counts: Counts,
    /// Terraform's own summary line (`Plan: 1 to add, 0 to change, 0 to destroy.`).
    pub plan_line: String,
    /// What the plan does in one bold sentence (Markdown, built by Ferry).
    pub headline: String,
    /// The plan changes resources or outputs.
    pub has_changes: bool,
    /// The plan destroys at least one object (deletes or replacements), or
    /// has an action Ferry does not know (which might).
    pub has_destroy: bool,
    /// Loud warnings: incomplete or errored plan, deferred changes, failed
    /// checks, unknown actions (Markdown, built by Ferry: print with `| safe`).
    pub warnings: Vec<String>,
    /// Deletes, then replacements: the riskiest changes, always shown first.
    #[serde(skip)]
    pub destroys: Vec<ResourceView>,
    /// In-place updates, with attribute diffs.
    #[serde(skip)]
    pub updates: Vec<ResourceView>,
    /// Creates.
    #[serde(skip)]
    pub creates: Vec<ResourceView>,
    /// Resources that only move to a new address.
    #[serde(skip)]
    pub moves: Vec<ResourceView>,
    /// Resources imported into state.
    #[serde(skip)]
    pub imports: Vec<ResourceView>,
    /// Resources removed from state without being destroyed.
    #[serde(skip)]
    pub forgets: Vec<ResourceView>,
    /// Output changes.
    #[serde(skip)]
    pub outputs: Vec<OutputView>,
    /// Changes made outside Terraform that matter to this plan.
    #[serde(skip)]
    pub drift: Vec<ResourceView>,
    /// Changes Terraform could not plan yet.
    #[serde(skip)]
    pub deferred: Vec<ResourceView>,
    /// Provider actions the apply invokes, then the deferred ones.
    #[serde(skip)]
    pub actions: Vec<ActionView>,
    /// Checks, preconditions and postconditions that fail or error.
    #[serde(skip)]
    pub failed_checks: Vec<CheckView>,
    /// How many entries of each list the size budget left out.
    #[serde(skip)]
    pub omitted: Omitted,
    /// `true` when the size budget shortened anything.
    #[serde(skip)]
    pub shortened: bool,
    /// Link to the full rendering (the job summary of this run), when known.
    pub full_report_url: Option<String>,
    /// `true` when rendering the job summary rather than the comment.
    pub is_summary: bool,
    /// `false` when even the job summary leaves entries out: the full text
    /// is then only in the log of the step that ran `terraform plan`.
    pub summary_complete: bool,
}

/// One resource instance (or deposed object) in one of the lists.
#[derive(Debug, Clone, Serialize)]
pub struct ResourceView {
    /// Full address, e.g. `module.app.aws_ecs_service.api["blue"]`.
    pub address: String,
    /// Deposed key, for a deposed object of a create-before-destroy replacement.
    pub deposed: Option<String>,
    /// The decoded action.
    pub action: Action,
    /// Terraform's symbol: `+`, `-`, `~`, `-/+`, `+/-`, `<=`, `.`.
    pub symbol: &'static str,
    /// `action_reason` as a sentence, e.g. `the object is tainted`
    /// (Markdown, built by Ferry: print with `| safe`).
    pub reason: Option<String>,
    /// For replacements: `destroy then create` or `create before destroy`.
    pub order: Option<&'static str>,
    /// Attribute paths that force the replacement.
    pub forced_by: Vec<String>,
    /// The address before a `moved` block.
    pub previous_address: Option<String>,
    /// Import ID, when the resource is imported.
    pub import_id: Option<String>,
    /// Changed attributes (empty when the budget dropped them).
    #[serde(skip)]
    pub attrs: Vec<AttrChange>,
    /// Number of changed attributes left out by the budget.
    #[serde(skip)]
    pub attrs_omitted: usize,
}

/// One provider action the apply will invoke (Terraform 1.14+), as
/// Terraform's plan output lists it: `# action.x.y will be invoked`.
#[derive(Debug, Clone, Serialize)]
pub struct ActionView {
    /// `action.<type>.<name>`.
    pub address: String,
    /// `invoked directly`, or `on <event> of <resource>`.
    pub trigger: String,
    /// The action's configuration, sensitive parts masked, cut short.
    pub config: Option<String>,
    /// Why Terraform deferred it, when it did (Markdown built by Ferry).
    pub deferred: Option<String>,
}

/// One output change.
#[derive(Debug, Clone, Serialize)]
pub struct OutputView {
    /// Output name.
    pub name: String,
    /// Terraform's symbol for the action.
    pub symbol: &'static str,
    /// Old value text (`(sensitive value)` when sensitive).
    pub before: Option<String>,
    /// New value text (`(known after apply)` when unknown).
    pub after: Option<String>,
}

/// A failing check.
#[derive(Debug, Clone, Serialize)]
pub struct CheckView {
    /// Address of the checked object or instance.
    pub address: String,
    /// `fail` or `error`.
    pub status: String,
    /// The failing conditions' messages.
    pub problems: Vec<String>,
}

/// Entries left out of each list by the size budget.
#[derive(Debug, Clone, Copy, Default, Serialize)]
pub struct Omitted {
    /// Deletes and replacements not listed.
    pub destroys: usize,
    /// Updates not listed.
    pub updates: usize,
    /// Creates not listed.
    pub creates: usize,
    /// Moves, imports and forgets not listed.
    pub others: usize,
    /// Drifted resources not listed.
    pub drift: usize,
    /// Outputs not listed.
    pub outputs: usize,
}

impl Omitted {
    /// Total of all lists.
    pub fn total(&self) -> usize {
        self.destroys + self.updates + self.creates + self.others + self.drift + self.outputs
    }
}

impl ResourceView {
    /// Characters this entry certainly takes when rendered with `limit` attributes.
    pub fn min_chars(&self, limit: usize) -> usize {
        let chars = |s: &str| s.chars().count();
        let text = |s: &Option<String>| s.as_deref().map_or(0, chars);
        let attrs: usize = self
            .attrs
            .iter()
            .take(limit)
            .map(|a| chars(&a.path) + text(&a.before) + text(&a.after) + 4)
            .sum();
        chars(&self.address) + 4 + attrs
    }
}

/// What a template receives as `plan`: the view's own fields plus its lists
/// as the budget keeps them. The lists of [`PlanView`] are not serialized
/// by themselves; this adds them, borrowed.
#[derive(Debug, Serialize)]
pub struct PlanOut<'a> {
    /// The scalar fields of the view.
    #[serde(flatten)]
    pub view: &'a PlanView,
    /// Kept deletes and replacements.
    pub destroys: Vec<ResourceOut<'a>>,
    /// Kept updates.
    pub updates: Vec<ResourceOut<'a>>,
    /// Kept creates.
    pub creates: Vec<ResourceOut<'a>>,
    /// Kept moves.
    pub moves: Vec<ResourceOut<'a>>,
    /// Kept imports.
    pub imports: Vec<ResourceOut<'a>>,
    /// Kept forgets.
    pub forgets: Vec<ResourceOut<'a>>,
    /// Kept drift.
    pub drift: Vec<ResourceOut<'a>>,
    /// Deferred changes (never shortened).
    pub deferred: Vec<ResourceOut<'a>>,
    /// Action invocations, at most [`ACTIONS_LISTED`].
    pub actions: &'a [ActionView],
    /// Action invocations not listed.
    pub actions_omitted: usize,
    /// Kept outputs.
    pub outputs: &'a [OutputView],
    /// Kept failing checks.
    pub failed_checks: &'a [CheckView],
    /// What the budget left out.
    pub omitted: Omitted,
    /// The budget left something out.
    pub shortened: bool,
}

/// How many action invocations a rendering lists; the rest are counted.
pub const ACTIONS_LISTED: usize = 50;

/// One resource as a template receives it: its fields plus the attribute
/// changes the budget keeps.
#[derive(Debug, Serialize)]
pub struct ResourceOut<'a> {
    /// The resource's other fields.
    #[serde(flatten)]
    pub resource: &'a ResourceView,
    /// Kept attribute changes.
    pub attrs: &'a [AttrChange],
    /// Attribute changes left out (0 when none are kept: a bare address says nothing).
    pub attrs_omitted: usize,
}

impl<'a> ResourceOut<'a> {
    /// `r` with at most `limit` attribute changes.
    pub fn new(resource: &'a ResourceView, limit: usize) -> Self {
        let kept = resource.attrs.len().min(limit);
        ResourceOut {
            resource,
            attrs: &resource.attrs[..kept],
            attrs_omitted: if kept == 0 {
                0
            } else {
                resource.attrs.len() - kept
            },
        }
    }

    /// All of `r`.
    pub fn full(resource: &'a ResourceView) -> Self {
        Self::new(resource, usize::MAX)
    }
}

/// Terraform's symbol for an action.
pub fn symbol(action: Action) -> &'static str {
    match action {
        Action::Create => "+",
        Action::Delete => "-",
        Action::Update => "~",
        Action::DeleteThenCreate => "-/+",
        Action::CreateThenDelete => "+/-",
        Action::Read => "<=",
        Action::Forget | Action::CreateThenForget => ".",
        Action::NoOp | Action::Unknown => " ",
    }
}

/// `action_reason` as a sentence a reviewer can act on.
pub fn reason_sentence(reason: &str) -> String {
    let s = match reason {
        "replace_because_tainted" => "the object is tainted, so it must be replaced",
        "replace_because_cannot_update" => "a changed attribute cannot be updated in place",
        "replace_by_request" => "replacement was requested with `-replace`",
        "replace_by_triggers" => "`replace_triggered_by` fired",
        "delete_because_no_resource_config" => {
            "its resource block is no longer in the configuration"
        }
        "delete_because_no_module" => "its module is no longer in the configuration",
        "delete_because_wrong_repetition" => {
            "the resource switched between `count`, `for_each` and neither"
        }
        "delete_because_count_index" => "its index is past the configured `count`",
        "delete_because_each_key" => "its key is no longer in `for_each`",
        "delete_because_no_move_target" => {
            "it was moved to an address that is not in the configuration"
        }
        "read_because_config_unknown" => {
            "its configuration depends on values known only after apply"
        }
        "read_because_dependency_pending" => "it depends on a resource with pending changes",
        "read_because_check_nested" => "it is read inside a `check` block",
        other => return format!("Terraform's reason: {}", crate::markdown::code(other)),
    };
    s.to_string()
}

/// A deferred change's reason as a sentence.
pub fn deferred_sentence(reason: &str) -> String {
    let s = match reason {
        "instance_count_unknown" => "its `count` or `for_each` is not known yet",
        "resource_config_unknown" => "its configuration is not known yet",
        "provider_config_unknown" => "its provider's configuration is not known yet",
        "absent_prereq" => "a prerequisite does not exist yet",
        "deferred_prereq" => "a prerequisite was itself deferred",
        other => return format!("deferred: {}", crate::markdown::code(other)),
    };
    s.to_string()
}
