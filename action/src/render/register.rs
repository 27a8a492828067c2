//! The RegisterTaskDefinition input: the fields the API takes. Read-only
//! fields (what DescribeTaskDefinition adds) are stripped so a described
//! definition can be rendered back; anything else unknown is refused.

use serde_json::{Map, Value};

use super::validate::Problem;

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

/// Strips read-only fields; reports fields the API does not know.
pub fn to_input(td: Value) -> Result<Value, Vec<Problem>> {
    let Value::Object(obj) = td else {
        return Err(vec![Problem {
            path: String::new(),
            message: "the task definition is not an object".into(),
            help: "return an object from the Jsonnet file".into(),
        }]);
    };
    let mut out = Map::new();
    let mut problems = Vec::new();
    for (key, value) in obj {
        if INPUT_FIELDS.contains(&key.as_str()) {
            out.insert(key, value);
        } else if !READ_ONLY_FIELDS.contains(&key.as_str()) {
            problems.push(Problem {
                message: format!("{key} is not a RegisterTaskDefinition field"),
                help: format!(
                    "remove {key}, or make it hidden (`{key}::`) if it is data for the Jsonnet only"
                ),
                path: key,
            });
        }
    }
    if problems.is_empty() {
        Ok(Value::Object(out))
    } else {
        Err(problems)
    }
}
