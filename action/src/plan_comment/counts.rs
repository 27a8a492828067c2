//! Terraform's own arithmetic for the `Plan:` line.
//!
//! A replacement is 1 to add and 1 to destroy; `forget` is not a destroy;
//! no-op and read are not counted; imports are counted on their own, on top
//! of whatever action the imported resource also has.

use serde::Serialize;

use super::model::RawPlan;

/// The action of one resource change, decoded from its `actions` list.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Action {
    /// `["no-op"]`.
    NoOp,
    /// `["create"]`.
    Create,
    /// `["read"]` (data sources).
    Read,
    /// `["update"]`.
    Update,
    /// `["delete"]`.
    Delete,
    /// `["delete", "create"]`: the default replacement order.
    DeleteThenCreate,
    /// `["create", "delete"]`: `create_before_destroy`.
    CreateThenDelete,
    /// `["forget"]`: removed from state, left running.
    Forget,
    /// `["create", "forget"]`.
    CreateThenForget,
    /// Anything else (a newer Terraform): shown, never counted.
    Unknown,
}

impl Action {
    /// Decodes an `actions` list.
    pub fn from_actions(actions: &[String]) -> Action {
        let a: Vec<&str> = actions.iter().map(String::as_str).collect();
        match a.as_slice() {
            ["no-op"] | [] => Action::NoOp,
            ["create"] => Action::Create,
            ["read"] => Action::Read,
            ["update"] => Action::Update,
            ["delete"] => Action::Delete,
            ["delete", "create"] => Action::DeleteThenCreate,
            ["create", "delete"] => Action::CreateThenDelete,
            ["forget"] => Action::Forget,
            ["create", "forget"] => Action::CreateThenForget,
            _ => Action::Unknown,
        }
    }

    /// Replacement in either order.
    pub fn is_replace(self) -> bool {
        matches!(self, Action::DeleteThenCreate | Action::CreateThenDelete)
    }

    /// Anything that destroys a real object.
    pub fn destroys(self) -> bool {
        self == Action::Delete || self.is_replace()
    }
}

/// Counts of a plan, as Terraform prints them plus the ones it does not.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Counts {
    /// Objects to create (creates and replacements).
    pub add: usize,
    /// Objects to update in place.
    pub change: usize,
    /// Objects to destroy (deletes and replacements).
    pub destroy: usize,
    /// Replacements (already counted in `add` and `destroy`).
    pub replace: usize,
    /// Resources to import.
    pub import: usize,
    /// Resources to remove from state without destroying them.
    pub forget: usize,
    /// Resources whose address changes (`moved` blocks).
    #[serde(rename = "move")]
    pub moved: usize,
    /// Root module outputs that change.
    pub outputs: usize,
    /// Resource changes whose actions this version of Ferry does not know
    /// (a newer Terraform): never "no changes", treated as possibly destroying.
    pub unknown: usize,
    /// Provider actions the apply will invoke (`Actions: N to invoke.`).
    pub invoke: usize,
    /// Changes and action invocations Terraform deferred to a later plan.
    pub deferred: usize,
}

impl Counts {
    /// Counts the resource changes and output changes of a plan.
    pub fn of(plan: &RawPlan) -> Counts {
        let mut c = Counts::default();
        for rc in plan.resource_changes.iter().flatten() {
            let action = Action::from_actions(&rc.change.actions);
            match action {
                Action::Create => c.add += 1,
                Action::Update => c.change += 1,
                Action::Delete => c.destroy += 1,
                Action::DeleteThenCreate | Action::CreateThenDelete => {
                    c.add += 1;
                    c.destroy += 1;
                    c.replace += 1;
                }
                Action::Forget => c.forget += 1,
                Action::CreateThenForget => {
                    c.add += 1;
                    c.forget += 1;
                }
                Action::Unknown => c.unknown += 1,
                Action::NoOp | Action::Read => {}
            }
            if rc.change.importing.is_some() {
                c.import += 1;
            }
            if rc.previous_address.is_some() && rc.previous_address != rc.address {
                c.moved += 1;
            }
        }
        c.outputs = plan
            .output_changes
            .values()
            .filter(|o| !matches!(Action::from_actions(&o.actions), Action::NoOp))
            .count();
        // An output or deferred change whose actions Ferry cannot read is as
        // unknown as a resource's.
        c.unknown += plan
            .output_changes
            .values()
            .chain(
                plan.deferred_changes
                    .iter()
                    .map(|d| &d.resource_change.change),
            )
            .filter(|o| Action::from_actions(&o.actions) == Action::Unknown)
            .count();
        c.invoke = plan.action_invocations.len();
        c.deferred = plan.deferred_changes.len() + plan.deferred_action_invocations.len();
        c
    }

    /// Whether applying the plan would change any resource.
    pub fn has_resource_changes(&self) -> bool {
        self.add
            + self.change
            + self.destroy
            + self.import
            + self.forget
            + self.moved
            + self.unknown
            + self.invoke
            + self.deferred
            > 0
    }

    /// The line Terraform prints, e.g. `Plan: 2 to add, 0 to change, 1 to destroy.`
    ///
    /// Terraform 1.11 leaves forgets out of this line (it warns about them
    /// separately); the comment shows them on the next line.
    pub fn plan_line(&self) -> String {
        let mut parts = Vec::new();
        if self.import > 0 {
            parts.push(format!("{} to import", self.import));
        }
        parts.push(format!("{} to add", self.add));
        parts.push(format!("{} to change", self.change));
        parts.push(format!("{} to destroy", self.destroy));
        let mut line = format!("Plan: {}.", parts.join(", "));
        if self.invoke > 0 {
            line.push_str(&format!(" Actions: {} to invoke.", self.invoke));
        }
        line
    }
}
