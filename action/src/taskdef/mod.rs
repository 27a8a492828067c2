//! The task definition as data, shared by the stages that compare one:
//! which fields RegisterTaskDefinition takes, a normal form for comparison
//! ([`normalize`]) — defaults filled in, read-only fields and order ECS does
//! not keep removed — and the changes between two definitions, each
//! addressed by a readable path
//! (`containerDefinitions[sampleapi].environment[LOG_LEVEL].value`).
//! `diff` shows them; `deploy` reuses an identical revision by them.
//!
//! The definition itself is one serde type ([`TaskDefinition`], in
//! [`model`]): render reads the JSON into it once ([`TaskDefinition::read`]),
//! and every stage reads its fields through it, not by string key.

mod container;
pub mod field;
pub mod model;
pub mod normalize;

use std::fmt;

use serde_json::Value;

pub use field::{Field, Maybe, Read};
pub use model::*;
pub use normalize::normalize;

impl TaskDefinition {
    /// Reads the rendered JSON: nulls are absent ([`strip_nulls`]); a value
    /// of another type than ECS takes is kept as [`Field::Raw`], for
    /// validation to name. Fails only when the JSON is not an object.
    pub fn read(value: Value) -> Result<Self, String> {
        match strip_nulls(value) {
            v @ Value::Object(_) => serde_json::from_value(v).map_err(|e| e.to_string()),
            other => Err(format!(
                "the task definition is {}, not an object",
                kind(&other)
            )),
        }
    }

    /// The JSON the definition was read from (keys in sorted order).
    pub fn to_value(&self) -> Value {
        // Plain data with string keys: serialising cannot fail.
        serde_json::to_value(self).unwrap_or(Value::Null)
    }

    /// The containers that are objects, in order.
    pub fn containers(&self) -> impl Iterator<Item = &ContainerDefinition> {
        field::typed(&self.container_definitions)
    }

    /// The containers that are objects, mutable, in order.
    pub fn containers_mut(&mut self) -> impl Iterator<Item = &mut ContainerDefinition> {
        self.container_definitions
            .as_mut()
            .and_then(Field::typed_mut)
            .into_iter()
            .flatten()
            .filter_map(Field::typed_mut)
    }
}

fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "an object",
    }
}

/// The value with every `null` object member removed, at any depth: ECS
/// reads a null as an absent field, and console and describe exports write
/// `"stopTimeout": null` for every unset one.
pub fn strip_nulls(value: Value) -> Value {
    match value {
        Value::Object(obj) => Value::Object(
            obj.into_iter()
                .filter(|(_, v)| !v.is_null())
                .map(|(k, v)| (k, strip_nulls(v)))
                .collect(),
        ),
        Value::Array(items) => Value::Array(items.into_iter().map(strip_nulls).collect()),
        other => other,
    }
}

/// Top-level fields of RegisterTaskDefinition.
pub const INPUT_FIELDS: [&str; 18] = [
    "family",
    "taskRoleArn",
    "executionRoleArn",
    "networkMode",
    "containerDefinitions",
    "volumes",
    "placementConstraints",
    "requiresCompatibilities",
    "cpu",
    "memory",
    "tags",
    "pidMode",
    "ipcMode",
    "proxyConfiguration",
    "inferenceAccelerators",
    "ephemeralStorage",
    "runtimePlatform",
    "enableFaultInjection",
];

/// Fields ECS sets itself; present in DescribeTaskDefinition output only.
pub const READ_ONLY_FIELDS: [&str; 8] = [
    "taskDefinitionArn",
    "revision",
    "status",
    "requiresAttributes",
    "compatibilities",
    "registeredAt",
    "registeredBy",
    "deregisteredAt",
];

/// One difference between the running and the rendered task definition.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Change {
    /// Where, with list entries named by their identity.
    pub path: String,
    /// The running value (`None`: added).
    pub before: Option<Value>,
    /// The rendered value (`None`: removed).
    pub after: Option<Value>,
}

impl fmt::Display for Change {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (&self.before, &self.after) {
            (None, Some(a)) => write!(f, "+ {}: {a}", self.path),
            (Some(b), None) => write!(f, "- {}: {b}", self.path),
            (Some(b), Some(a)) => write!(f, "~ {}: {b} → {a}", self.path),
            (None, None) => Ok(()),
        }
    }
}

/// The changes from `running` to `rendered`, after normalising both.
pub fn diff(running: &Value, rendered: &Value) -> Vec<Change> {
    let mut out = Vec::new();
    compare(&normalize(running), &normalize(rendered), "", "", &mut out);
    out
}

fn join(path: &str, key: &str) -> String {
    if path.is_empty() {
        key.to_string()
    } else {
        format!("{path}.{key}")
    }
}

fn compare(a: &Value, b: &Value, path: &str, key: &str, out: &mut Vec<Change>) {
    match (a, b) {
        (Value::Object(x), Value::Object(y)) => {
            let keys: std::collections::BTreeSet<&String> = x.keys().chain(y.keys()).collect();
            for k in keys {
                let p = join(path, k);
                match (x.get(k), y.get(k)) {
                    (Some(va), Some(vb)) => compare(va, vb, &p, k, out),
                    (va, vb) => out.push(Change {
                        path: p,
                        before: va.cloned(),
                        after: vb.cloned(),
                    }),
                }
            }
        }
        (Value::Array(x), Value::Array(y)) => match normalize::list_key(key) {
            Some(id) => {
                let named = |v: &Vec<Value>| -> Vec<(String, Value)> {
                    v.iter()
                        .map(|e| (normalize::identity(e, id), e.clone()))
                        .collect()
                };
                let (xs, ys) = (named(x), named(y));
                let mut names: Vec<&String> = xs.iter().chain(ys.iter()).map(|(n, _)| n).collect();
                names.sort();
                names.dedup();
                for n in names {
                    let p = format!("{path}[{n}]");
                    let find = |list: &[(String, Value)]| {
                        list.iter().find(|(m, _)| m == n).map(|(_, v)| v.clone())
                    };
                    match (find(&xs), find(&ys)) {
                        (Some(va), Some(vb)) => compare(&va, &vb, &p, "", out),
                        (va, vb) => out.push(Change {
                            path: p,
                            before: va,
                            after: vb,
                        }),
                    }
                }
            }
            None if x != y => out.push(Change {
                path: path.into(),
                before: Some(a.clone()),
                after: Some(b.clone()),
            }),
            None => {}
        },
        _ if a != b => out.push(Change {
            path: path.into(),
            before: Some(a.clone()),
            after: Some(b.clone()),
        }),
        _ => {}
    }
}

/// `(family, revision)` of a task definition ARN
/// (`arn:aws:ecs:…:task-definition/shop-api:42` → `("shop-api", "42")`):
/// the one reading of it, for the deploy comment and telemetry. None unless
/// the ARN names a family and a revision number.
pub fn arn_revision(arn: &str) -> Option<(&str, &str)> {
    let (_, rest) = arn.rsplit_once(":task-definition/")?;
    let (family, revision) = rest.rsplit_once(':')?;
    let family_ok = !family.is_empty()
        && family
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_'));
    let revision_ok = !revision.is_empty() && revision.bytes().all(|b| b.is_ascii_digit());
    (family_ok && revision_ok).then_some((family, revision))
}

/// The real-world task definitions of the corpus
/// (`action/tests/data/taskdefs-corpus`, see its SOURCES.md), for the tests
/// of every stage that reads one: each file's path under the corpus and its
/// JSON (a describe export's `taskDefinition`), in path order.
#[cfg(test)]
#[allow(clippy::unwrap_used)]
pub(crate) fn corpus() -> Vec<(String, Value)> {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/taskdefs-corpus");
    let mut stack = vec![dir.clone()];
    let mut out = Vec::new();
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else if p.extension().is_some_and(|e| e == "json") {
                let v: Value = serde_json::from_str(&std::fs::read_to_string(&p).unwrap()).unwrap();
                let v = match v.get("taskDefinition") {
                    Some(td @ Value::Object(_)) => td.clone(),
                    _ => v,
                };
                let rel = p.strip_prefix(&dir).unwrap().to_string_lossy().to_string();
                out.push((rel, v));
            }
        }
    }
    out.sort_by(|a, b| a.0.cmp(&b.0));
    out
}

#[cfg(test)]
mod tests;
