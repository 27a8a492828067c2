//! The RegisterTaskDefinition input: the fields the API takes. Read-only
//! fields (what DescribeTaskDefinition adds) are stripped so a described
//! definition can be rendered back; anything else unknown is refused.

use serde_json::{Map, Value};

use super::validate::Problem;
use crate::taskdef::{INPUT_FIELDS, READ_ONLY_FIELDS, TaskDefinition};

/// Strips read-only fields; reports fields the API does not know.
pub fn to_input(td: Value) -> Result<Value, Vec<Problem>> {
    let Value::Object(obj) = td else {
        return Err(vec![Problem {
            path: String::new(),
            message: "the task definition is not an object".into(),
            help: "return an object from the Jsonnet file".into(),
            rule: "RegisterTaskDefinition: a JSON object",
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
                rule: "RegisterTaskDefinition: the request's fields",
            });
        }
    }
    if problems.is_empty() {
        Ok(Value::Object(out))
    } else {
        Err(problems)
    }
}

/// The input read into the task definition type, once.
pub fn read(td: Value) -> Result<TaskDefinition, Vec<Problem>> {
    TaskDefinition::read(td).map_err(|message| {
        vec![Problem {
            path: String::new(),
            message,
            help: "return an object of RegisterTaskDefinition fields from the Jsonnet file".into(),
            rule: "RegisterTaskDefinition: a JSON object",
        }]
    })
}
