//! The parts of `terraform show -json` that a plan comment needs.
//!
//! Only the fields Ferry reads are typed; everything else (`planned_values`,
//! `prior_state`, most of `configuration`) is skipped by serde without being
//! kept in memory, which is what keeps a 6 MB plan cheap to load. Attribute
//! values stay `serde_json::Value` because their shape depends on the provider
//! schema, which the plan JSON does not carry.

use std::collections::BTreeMap;

use serde::Deserialize;
use serde::de::IgnoredAny;
use serde_json::Value;
use serde_json::value::RawValue;

/// A plan document as written by `terraform show -json` (format 0.1 to 1.x).
#[derive(Debug, Deserialize, Default)]
pub struct RawPlan {
    /// `"0.1"`, `"0.2"`, `"1.0"`, `"1.2"`, ...; absent means not a plan.
    pub format_version: Option<String>,
    /// The Terraform version that wrote the plan.
    pub terraform_version: Option<String>,
    /// Input variables with their values (in clear text, even sensitive ones).
    #[serde(default)]
    pub variables: BTreeMap<String, RawVariable>,
    /// Planned changes to managed resources and data sources.
    pub resource_changes: Option<Vec<RawResourceChange>>,
    /// Changes made outside Terraform since the last apply.
    #[serde(default)]
    pub resource_drift: Vec<RawResourceChange>,
    /// Changes to root module outputs.
    #[serde(default)]
    pub output_changes: BTreeMap<String, RawChange>,
    /// Attributes of drifted resources that the plan actually depends on.
    #[serde(default)]
    pub relevant_attributes: Vec<RawRelevantAttribute>,
    /// Results of `check`, precondition and postcondition blocks.
    #[serde(default)]
    pub checks: Vec<RawCheck>,
    /// Changes Terraform could not plan yet (deferred actions, 1.8+).
    #[serde(default)]
    pub deferred_changes: Vec<RawDeferredChange>,
    /// Provider actions the apply will invoke (Terraform 1.14+).
    #[serde(default)]
    pub action_invocations: Vec<RawActionInvocation>,
    /// Action invocations Terraform could not plan yet (Terraform 1.14+).
    #[serde(default)]
    pub deferred_action_invocations: Vec<RawDeferredActionInvocation>,
    /// `false` when applying this plan will not converge (deferred changes).
    pub complete: Option<bool>,
    /// `true` when planning stopped on an error.
    pub errored: Option<bool>,
    /// `false` when the plan cannot be applied.
    pub applyable: Option<bool>,
    /// Present in state files (`terraform show -json` of a state), not plans.
    pub values: Option<IgnoredAny>,
    /// Present in every plan; only its presence is checked.
    pub planned_values: Option<IgnoredAny>,
    /// The configuration; only the root module's variable declarations are read.
    pub configuration: Option<RawConfiguration>,
}

/// One input variable of the plan.
#[derive(Debug, Deserialize, Default)]
pub struct RawVariable {
    /// The value as given; sensitive variables are **not** masked here.
    #[serde(default)]
    pub value: Value,
}

/// The configuration block, reduced to what tells which variables are sensitive.
#[derive(Debug, Deserialize, Default)]
pub struct RawConfiguration {
    /// The root module's configuration.
    #[serde(default)]
    pub root_module: RawModuleConfig,
}

/// A module's configuration, reduced to its variable declarations.
#[derive(Debug, Deserialize, Default)]
pub struct RawModuleConfig {
    /// Variable declarations by name.
    #[serde(default)]
    pub variables: BTreeMap<String, RawVariableConfig>,
}

/// A variable declaration.
#[derive(Debug, Deserialize, Default)]
pub struct RawVariableConfig {
    /// `sensitive = true` in the declaration.
    #[serde(default)]
    pub sensitive: bool,
}

/// One entry of `resource_changes` or `resource_drift`.
#[derive(Debug, Deserialize, Clone)]
pub struct RawResourceChange {
    /// Full address, with module path and instance key.
    pub address: Option<String>,
    /// The address before a `moved` block took effect.
    pub previous_address: Option<String>,
    /// `managed` or `data`.
    pub mode: Option<String>,
    /// Resource type, used when `address` is missing (Terraform 1.0.0 drift).
    #[serde(rename = "type")]
    pub resource_type: Option<String>,
    /// Resource name, used when `address` is missing.
    pub name: Option<String>,
    /// The deposed key when this change concerns a deposed object.
    pub deposed: Option<String>,
    /// Why Terraform chose this action (`replace_because_tainted`, ...).
    pub action_reason: Option<String>,
    /// The change itself.
    pub change: RawChange,
}

impl RawPlan {
    /// Every change of the plan with where it is (`resource_changes[3]`,
    /// `output_changes["name"]`), for checks that must see them all.
    pub fn all_changes(&self) -> impl Iterator<Item = (String, &RawChange)> {
        let resources = self
            .resource_changes
            .iter()
            .flatten()
            .enumerate()
            .map(|(i, rc)| (format!("resource_changes[{i}]"), &rc.change));
        let drift = self
            .resource_drift
            .iter()
            .enumerate()
            .map(|(i, rc)| (format!("resource_drift[{i}]"), &rc.change));
        let deferred = self
            .deferred_changes
            .iter()
            .enumerate()
            .map(|(i, d)| (format!("deferred_changes[{i}]"), &d.resource_change.change));
        let outputs = self
            .output_changes
            .values()
            .enumerate()
            .map(|(i, c)| (format!("output change #{}", i + 1), c));
        resources.chain(drift).chain(deferred).chain(outputs)
    }
}

/// A before/after pair with its unknown and sensitive masks.
///
/// The five value trees are kept as raw JSON text and parsed one change at
/// a time by [`RawChange::values`]: a parsed tree takes several times the
/// memory of its text, and a big plan has thousands of them.
#[derive(Debug, Deserialize, Clone, Default)]
pub struct RawChange {
    /// `["create"]`, `["delete","create"]`, `["no-op"]`, ...
    #[serde(default)]
    pub actions: Vec<String>,
    /// Value before the change (`null` for creates).
    #[serde(default)]
    pub before: Option<Box<RawValue>>,
    /// Value after the change, without unknown values.
    #[serde(default)]
    pub after: Option<Box<RawValue>>,
    /// `true` (or a tree of `true`) where the value is known only after apply.
    #[serde(default)]
    pub after_unknown: Option<Box<RawValue>>,
    /// `true` (or a tree of `true`) where `before` is sensitive.
    #[serde(default)]
    pub before_sensitive: Option<Box<RawValue>>,
    /// `true` (or a tree of `true`) where `after` is sensitive.
    #[serde(default)]
    pub after_sensitive: Option<Box<RawValue>>,
    /// Attribute paths whose change forces the replacement.
    #[serde(default)]
    pub replace_paths: Vec<Vec<Value>>,
    /// Set when the resource is being imported.
    pub importing: Option<RawImporting>,
}

/// The parsed value trees of one change.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ChangeValues {
    /// Value before the change.
    pub before: Value,
    /// Value after the change.
    pub after: Value,
    /// Unknown mask of `after`.
    pub after_unknown: Value,
    /// Sensitive mask of `before`.
    pub before_sensitive: Value,
    /// Sensitive mask of `after`.
    pub after_sensitive: Value,
}

impl RawChange {
    /// The five value trees as (field name, raw JSON), in a fixed order.
    pub fn raw_fields(&self) -> [(&'static str, Option<&RawValue>); 5] {
        [
            ("before", self.before.as_deref()),
            ("after", self.after.as_deref()),
            ("after_unknown", self.after_unknown.as_deref()),
            ("before_sensitive", self.before_sensitive.as_deref()),
            ("after_sensitive", self.after_sensitive.as_deref()),
        ]
    }

    /// Parses the value trees, or says which one cannot be read.
    pub fn try_values(&self) -> Result<ChangeValues, (&'static str, serde_json::Error)> {
        let parse = |(field, raw): (&'static str, Option<&RawValue>)| match raw {
            None => Ok(Value::Null),
            Some(r) => serde_json::from_str(r.get()).map_err(|e| (field, e)),
        };
        let [b, a, u, bs, as_] = self.raw_fields();
        Ok(ChangeValues {
            before: parse(b)?,
            after: parse(a)?,
            after_unknown: parse(u)?,
            before_sensitive: parse(bs)?,
            after_sensitive: parse(as_)?,
        })
    }

    /// Parses the value trees. [`parse_plan`](super::input::parse_plan)
    /// refuses a plan where one cannot be read, so this cannot fail on a
    /// loaded plan; should it ever, it fails closed: both sides masked as
    /// sensitive, nothing of them shown.
    pub fn values(&self) -> ChangeValues {
        self.try_values().unwrap_or(ChangeValues {
            before: Value::Null,
            after: Value::Null,
            after_unknown: Value::Bool(false),
            before_sensitive: Value::Bool(true),
            after_sensitive: Value::Bool(true),
        })
    }
}

/// The `importing` block of a change.
#[derive(Debug, Deserialize, Clone, Default)]
pub struct RawImporting {
    /// The import ID, when importing by ID.
    pub id: Option<String>,
}

/// One `relevant_attributes` entry.
#[derive(Debug, Deserialize)]
pub struct RawRelevantAttribute {
    /// Resource address.
    #[serde(default)]
    pub resource: String,
    /// Attribute path (strings and integers).
    #[serde(default)]
    pub attribute: Vec<Value>,
}

/// One `deferred_changes` entry.
#[derive(Debug, Deserialize)]
pub struct RawDeferredChange {
    /// Why the change was deferred (`instance_count_unknown`, ...).
    #[serde(default)]
    pub reason: String,
    /// The change that was deferred.
    pub resource_change: RawResourceChange,
}

/// One `action_invocations` entry: a provider action the apply will run
/// (`terraform apply -invoke=action.x.y`, or a resource's lifecycle
/// `action_trigger`). Terraform prints it as `Actions: N to invoke.`
#[derive(Debug, Deserialize, Clone, Default)]
pub struct RawActionInvocation {
    /// `action.<type>.<name>`, with module path and instance key.
    pub address: Option<String>,
    /// The action type (`aws_lambda_invoke`).
    #[serde(rename = "type")]
    pub action_type: Option<String>,
    /// The action's name.
    pub name: Option<String>,
    /// The provider that runs it.
    pub provider_name: Option<String>,
    /// The action's configuration (may hold sensitive values).
    pub config_values: Option<Box<RawValue>>,
    /// `true` (or a tree of `true`) where the configuration is sensitive.
    pub config_sensitive: Option<Box<RawValue>>,
    /// `true` (or a tree of `true`) where the configuration is unknown.
    pub config_unknown: Option<Box<RawValue>>,
    /// Set when a resource's lifecycle event triggers it.
    pub lifecycle_action_trigger: Option<Box<RawValue>>,
    /// Set when `-invoke` runs it directly.
    pub invoke_action_trigger: Option<Box<RawValue>>,
}

impl RawActionInvocation {
    /// The address to show.
    pub fn display_address(&self) -> String {
        self.address.clone().unwrap_or_else(|| {
            format!(
                "action.{}.{}",
                self.action_type.as_deref().unwrap_or("unknown"),
                self.name.as_deref().unwrap_or("unknown")
            )
        })
    }

    /// How the apply reaches it: `invoked directly` or the triggering
    /// resource's event.
    pub fn trigger(&self) -> String {
        #[derive(Deserialize, Default)]
        struct Lifecycle {
            #[serde(default)]
            triggering_resource_address: String,
            #[serde(default)]
            action_trigger_event: String,
        }
        match &self.lifecycle_action_trigger {
            Some(raw) => {
                let l: Lifecycle = serde_json::from_str(raw.get()).unwrap_or_default();
                format!(
                    "on {} of {}",
                    l.action_trigger_event, l.triggering_resource_address
                )
            }
            None => "invoked directly".to_string(),
        }
    }
}

/// One `deferred_action_invocations` entry.
#[derive(Debug, Deserialize, Clone, Default)]
pub struct RawDeferredActionInvocation {
    /// Why it was deferred.
    #[serde(default)]
    pub reason: String,
    /// The invocation that was deferred.
    #[serde(default)]
    pub action_invocation: RawActionInvocation,
}

/// One checkable object (check block, resource with conditions, output).
#[derive(Debug, Deserialize)]
pub struct RawCheck {
    /// The configuration address of the checkable object.
    #[serde(default)]
    pub address: RawCheckAddress,
    /// `pass`, `fail`, `error` or `unknown`.
    #[serde(default)]
    pub status: String,
    /// Per-instance results.
    #[serde(default)]
    pub instances: Vec<RawCheckInstance>,
}

/// Address of a checkable object.
#[derive(Debug, Deserialize, Default)]
pub struct RawCheckAddress {
    /// Display form of the address.
    #[serde(default)]
    pub to_display: String,
}

/// One instance of a checkable object.
#[derive(Debug, Deserialize)]
pub struct RawCheckInstance {
    /// Instance address.
    #[serde(default)]
    pub address: RawCheckAddress,
    /// Status of this instance.
    #[serde(default)]
    pub status: String,
    /// Failure messages.
    #[serde(default)]
    pub problems: Vec<RawCheckProblem>,
}

/// A failed condition's message.
#[derive(Debug, Deserialize)]
pub struct RawCheckProblem {
    /// The `error_message` of the condition.
    #[serde(default)]
    pub message: String,
}

impl RawResourceChange {
    /// The address to show: `address`, or `type.name` for old drift entries without one.
    pub fn display_address(&self) -> String {
        if let Some(a) = &self.address {
            return a.clone();
        }
        let prefix = if self.mode.as_deref() == Some("data") {
            "data."
        } else {
            ""
        };
        format!(
            "{prefix}{}.{}",
            self.resource_type.as_deref().unwrap_or("unknown"),
            self.name.as_deref().unwrap_or("unknown")
        )
    }

    /// `true` for data sources, whose reads Terraform never counts.
    pub fn is_data(&self) -> bool {
        self.mode.as_deref() == Some("data")
    }
}
