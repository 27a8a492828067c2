//! Normal form of a task definition for comparison: what ECS fills in or
//! reorders is made the same on both sides, so only real changes remain.

use serde_json::{Map, Value};

use super::INPUT_FIELDS;

/// Lists ECS treats as sets, and the key that identifies an entry.
const KEYED_LISTS: [(&str, &str); 9] = [
    ("containerDefinitions", "name"),
    ("environment", "name"),
    ("secrets", "name"),
    ("tags", "key"),
    ("ulimits", "name"),
    ("volumes", "name"),
    ("mountPoints", "containerPath"),
    ("dependsOn", "containerName"),
    ("secretOptions", "name"),
];

/// Lists of plain strings ECS treats as sets.
const STRING_SETS: [&str; 2] = ["requiresCompatibilities", "compatibilities"];

/// The normal form: only RegisterTaskDefinition fields, defaults removed,
/// empty values removed, set-like lists sorted, task cpu/memory as strings.
pub fn normalize(td: &Value) -> Value {
    let mut obj = Map::new();
    for (key, value) in td.as_object().into_iter().flatten() {
        if INPUT_FIELDS.contains(&key.as_str()) {
            obj.insert(key.clone(), value.clone());
        }
    }
    for key in ["cpu", "memory"] {
        if let Some(n) = obj.get(key).and_then(Value::as_u64) {
            obj.insert(key.into(), Value::String(n.to_string()));
        }
    }
    let awsvpc = obj.get("networkMode").and_then(Value::as_str) == Some("awsvpc");
    if let Some(Value::Array(containers)) = obj.get_mut("containerDefinitions") {
        for c in containers.iter_mut().filter_map(Value::as_object_mut) {
            container_defaults(c, awsvpc);
        }
    }
    prune(Value::Object(obj), "")
}

fn container_defaults(c: &mut Map<String, Value>, awsvpc: bool) {
    remove_if(c, "cpu", &Value::from(0));
    remove_if(c, "essential", &Value::Bool(true));
    if let Some(Value::Array(ports)) = c.get_mut("portMappings") {
        for p in ports.iter_mut().filter_map(Value::as_object_mut) {
            remove_if(p, "protocol", &Value::from("tcp"));
            if awsvpc && p.get("hostPort") == p.get("containerPort") {
                p.remove("hostPort");
            }
        }
        ports.sort_by_key(|p| p.get("containerPort").and_then(Value::as_u64));
    }
    if let Some(Value::Object(hc)) = c.get_mut("healthCheck") {
        for (key, default) in [
            ("interval", 30),
            ("timeout", 5),
            ("retries", 3),
            ("startPeriod", 0),
        ] {
            remove_if(hc, key, &Value::from(default));
        }
    }
}

fn remove_if(obj: &mut Map<String, Value>, key: &str, default: &Value) {
    if obj.get(key) == Some(default) {
        obj.remove(key);
    }
}

/// Drops nulls and empty lists/objects; sorts set-like lists.
fn prune(value: Value, key: &str) -> Value {
    match value {
        Value::Object(obj) => Value::Object(
            obj.into_iter()
                .map(|(k, v)| {
                    let v = prune(v, &k);
                    (k, v)
                })
                .filter(|(_, v)| !is_empty(v))
                .collect(),
        ),
        Value::Array(items) => {
            let mut items: Vec<Value> = items
                .into_iter()
                .map(|v| prune(v, ""))
                .filter(|v| !is_empty(v))
                .collect();
            if let Some((_, id)) = KEYED_LISTS.iter().find(|(list, _)| *list == key) {
                items.sort_by_key(|v| identity(v, id));
            } else if STRING_SETS.contains(&key) {
                items.sort_by_key(Value::to_string);
            }
            Value::Array(items)
        }
        other => other,
    }
}

fn is_empty(v: &Value) -> bool {
    match v {
        Value::Null => true,
        Value::Array(a) => a.is_empty(),
        Value::Object(o) => o.is_empty(),
        _ => false,
    }
}

/// The identity of an entry of a keyed list (`name`, `key`, ...).
pub fn identity(v: &Value, id: &str) -> String {
    v.get(id)
        .map(|k| k.as_str().map_or_else(|| k.to_string(), str::to_string))
        .unwrap_or_default()
}

/// The identity key of the list named `key`, if it is a keyed list.
pub fn list_key(key: &str) -> Option<&'static str> {
    KEYED_LISTS
        .iter()
        .find(|(list, _)| *list == key)
        .map(|(_, id)| *id)
}
