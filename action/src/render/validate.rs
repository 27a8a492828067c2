//! Offline validation of a rendered task definition against the rules ECS
//! and Fargate enforce, so a bad definition fails in CI with a message that
//! says what to change, not at deploy time with an API error.
//!
//! The rules follow the RegisterTaskDefinition API reference field by field
//! (TaskDefinition, ContainerDefinition, HealthCheck, LogConfiguration,
//! Secret, ...), and each names the field and the documented limit it
//! checks ([`Problem::rule`]). A null is an absent value ([`strip_nulls`]),
//! as AWS's official GitHub actions strip them. Where ECS is observed to
//! accept what the reference says it refuses, the rule is a warning that
//! says why, not a refusal: a team adopting Ferry starts from task
//! definitions ECS registered.

mod container;
mod task;

use std::borrow::Cow;
use std::collections::BTreeSet;

use serde::Serialize;

use crate::taskdef::TaskDefinition;
use crate::taskdef::field::{Field, List, Maybe, entries};
pub use crate::taskdef::strip_nulls;
use crate::text::quote;

/// The largest RegisterTaskDefinition request ECS accepts.
pub const MAX_BYTES: usize = 64 * 1024;

/// One broken rule: where in the JSON, what is wrong, what to change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// JSON path of the offending value, e.g. `containerDefinitions[0].cpu`.
    pub path: String,
    /// What is wrong.
    pub message: String,
    /// What to change.
    pub help: String,
    /// The field and the documented limit the rule checks, e.g.
    /// `ContainerDefinition.stopTimeout: at most 120 on Fargate`.
    pub rule: &'static str,
}

fn problem(
    path: impl Into<String>,
    message: impl Into<String>,
    help: impl Into<String>,
) -> Problem {
    Problem {
        path: path.into(),
        message: message.into(),
        help: help.into(),
        rule: "",
    }
}

impl Problem {
    fn rule(mut self, rule: &'static str) -> Self {
        self.rule = rule;
        self
    }
}

/// What a task definition breaks: refusals, and warnings (rules the docs
/// state that ECS is observed not to enforce).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Report {
    /// What ECS refuses: the definition is not registered.
    pub problems: Vec<Problem>,
    /// What the docs refuse but ECS accepts: said, not refused.
    pub warnings: Vec<Problem>,
}

/// What the rules need to know beyond the JSON.
#[derive(Debug, Clone, Copy, Default)]
pub struct Rules {
    /// A production environment: `:latest` images are refused.
    pub production: bool,
}

/// The manifest's `service-connect` against the definition: each port name
/// the service's Service Connect serves is the `name` of one of its port
/// mappings (ECS fails the deployment otherwise, after the service was
/// updated). `names` empty: the service declares none, nothing to check.
pub fn service_connect(td: &TaskDefinition, service: &str, names: &[String]) -> Vec<Problem> {
    use crate::preflight::connect;
    let ports: Vec<String> = connect::port_names(td)
        .into_iter()
        .map(|p| p.name)
        .collect();
    connect::missing(&ports, names)
        .into_iter()
        .map(|name| {
            problem(
                "portMappings[].name",
                format!(
                    "the manifest's services.{service}.service-connect names the port `{name}`, but no port mapping of the task definition is named so ({})",
                    connect::names_text(&ports)
                ),
                format!(
                    "name the container's port mapping `{name}` (portMappings: [{{containerPort: …, name: '{name}'}}]), or correct services.{service}.service-connect to the port names the service's Service Connect configuration serves"
                ),
            )
            .rule("ServiceConnectService.portName: the name of a portMappings entry of the task definition")
        })
        .collect()
}

/// Checks every rule and returns every refusal (empty: valid).
pub fn validate(td: &TaskDefinition, rules: Rules) -> Vec<Problem> {
    check(td, rules).problems
}

/// Checks every rule: refusals and warnings.
pub fn check(td: &TaskDefinition, rules: Rules) -> Report {
    let mut report = Report::default();
    let launch = task::launch(&mut report.problems, td);
    let size = task::size(&mut report.problems, td, launch.fargate);
    let containers = each(&td.container_definitions).collect::<Vec<_>>();
    task::containers(&mut report.problems, &containers);
    let refs = container::Refs::of(td);
    let mut names = BTreeSet::new();
    for (i, c) in &containers {
        let at = format!("containerDefinitions[{i}]");
        task::container_name(&mut report.problems, &at, c, &mut names);
        container::check(&mut report, &at, c, launch, rules, &refs);
    }
    task::sums(&mut report.problems, &containers, size);
    task::rest(&mut report.problems, td);
    let bytes = serde_json::to_vec(td).map(|v| v.len()).unwrap_or(0);
    if bytes > MAX_BYTES {
        report.problems.push(problem("", format!("the task definition is {bytes} bytes; ECS takes at most {MAX_BYTES}"), "shorten it: fewer or shorter environment variables, or move configuration into a file or SSM").rule("RegisterTaskDefinition: request of at most 64 KiB"));
    }
    if report.problems.is_empty() {
        report.problems.extend(sendable(td));
    }
    report
}

/// The last rule: the definition converts to what RegisterTaskDefinition
/// takes. The rules above read wrong-typed values as absent (a
/// `portMappings` written as an object names no port), so without this a
/// definition could pass `render --check` and fail only at deploy. The
/// value found is not repeated: a task definition's values may be
/// sensitive, and the path says where to look.
fn sendable(td: &TaskDefinition) -> Option<Problem> {
    match crate::aws::ecs::task_definition::to_sdk(td) {
        Ok(_) => None,
        Err(crate::aws::AwsError::Convert { field, message }) => {
            let message = message
                .split_once(", found ")
                .map_or(message.as_str(), |(what, _)| what);
            Some(
                problem(
                    field,
                    format!("ECS cannot take this value: {message}"),
                    "write it in the form the RegisterTaskDefinition API reference gives for this field",
                )
                .rule("RegisterTaskDefinition: every field of its documented type"),
            )
        }
        Err(other) => Some(
            problem("", other.to_string(), "fix the task definition")
                .rule("RegisterTaskDefinition: every field of its documented type"),
        ),
    }
}

/// How the task is launched, for the rules that depend on it.
#[derive(Clone, Copy)]
struct Launch {
    awsvpc: bool,
    fargate: bool,
}

/// Every entry of a list field with its index (none when absent or not a
/// list); an entry that is not an object reads as an empty one, so the
/// rules name what it lacks.
fn each<T: Default + Clone>(list: &List<T>) -> impl Iterator<Item = (usize, Cow<'_, T>)> {
    entries(list).map(|(i, t)| (i, t.map_or_else(|| Cow::Owned(T::default()), Cow::Borrowed)))
}

/// An object field when present; one that is not an object reads as an
/// empty one.
fn object<T: Default + Clone>(field: &Maybe<T>) -> Option<Cow<'_, T>> {
    field.as_ref().map(|f| {
        f.typed()
            .map_or_else(|| Cow::Owned(T::default()), Cow::Borrowed)
    })
}

/// The values ECS takes for an enumerated field.
fn one_of(
    out: &mut Vec<Problem>,
    path: &str,
    value: Option<&Field<String>>,
    allowed: &[&str],
    rule: &'static str,
) {
    let Some(v) = value else { return };
    if !v.typed().is_some_and(|s| allowed.contains(&s.as_str())) {
        out.push(
            problem(
                path,
                format!("{path} is {v}; ECS takes {}", allowed.join(", ")),
                format!("set {path} to one of {}", allowed.join(", ")),
            )
            .rule(rule),
        );
    }
}

/// Whether a field counts as given: present, and not a blank string nor
/// an empty list.
fn present<T: Serialize>(field: &Maybe<T>) -> bool {
    match field.as_ref().map(Field::to_value) {
        None => false,
        Some(serde_json::Value::String(s)) => !s.trim().is_empty(),
        Some(serde_json::Value::Array(a)) => !a.is_empty(),
        Some(_) => true,
    }
}

/// A field the API reference marks "Required: Yes" in an object that is
/// present.
fn required<T: Serialize>(
    out: &mut Vec<Problem>,
    at: &str,
    field: &Maybe<T>,
    key: &str,
    rule: &'static str,
) {
    if !present(field) {
        out.push(
            problem(
                format!("{at}.{key}"),
                format!("{at} has no {key}, which ECS requires"),
                format!("set {at}.{key}, or remove {at}"),
            )
            .rule(rule),
        );
    }
}

fn name_rule(out: &mut Vec<Problem>, path: &str, value: Option<&str>, what: &str) {
    let rule =
        "name: up to 255 letters (uppercase and lowercase), numbers, underscores and hyphens";
    let Some(name) = value else {
        out.push(
            problem(
                path,
                format!("the {what} is missing or not a string"),
                format!("set {path} to a name of letters, digits, - and _"),
            )
            .rule(rule),
        );
        return;
    };
    let ok = !name.is_empty()
        && name.len() <= 255
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
    if !ok {
        out.push(
            problem(
                path,
                format!(
                    "the {what} {} is not 1-255 letters, digits, - and _",
                    quote(name)
                ),
                format!("rename it, e.g. {}", quote(&sanitize(name))),
            )
            .rule(rule),
        );
    }
}

fn sanitize(name: &str) -> String {
    let s: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '-'
            }
        })
        .take(255)
        .collect();
    if s.is_empty() { "my-service".into() } else { s }
}

#[cfg(test)]
mod tests;
