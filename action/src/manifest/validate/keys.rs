//! Unknown keys and serde's own messages, said in the manifest's words: every
//! unknown key at once with a "did you mean", Rust type names made plain.

use std::path::Path;

use super::super::template::suggest;
use super::super::yaml;
use super::listed;
use crate::diagnostic::Diagnostic;

/// Every key the manifest's schema does not know, at once, each with a
/// "did you mean" (serde stops at the first). None when the text does not
/// read as plain YAML mappings, or no unknown key is found (serde's own
/// message is then shown).
pub(super) fn unknown_keys(text: &str, file: &Path) -> Option<Vec<Diagnostic>> {
    let value: serde_json::Value = yaml::from_str(text).ok()?;
    let schema = super::super::json_schema();
    let positions = yaml::Positions::index(text);
    let mut found = Vec::new();
    walk_keys(&value, &schema, &schema, "", &mut found);
    found.dedup_by(|a, b| a.0 == b.0);
    let diagnostics: Vec<Diagnostic> = found
        .into_iter()
        .map(|(path, key, known)| {
            let guess = suggest(known.iter().map(String::as_str), &key);
            let help = match guess {
                Some(g) => format!(
                    "did you mean `{g}`? Keys here: {}",
                    listed(known.iter().map(String::as_str))
                ),
                None => format!(
                    "remove it or fix its spelling; keys here: {}",
                    listed(known.iter().map(String::as_str))
                ),
            };
            let mut d = Diagnostic::new(
                file,
                format!(
                    "unknown key `{key}` in {}",
                    if path.contains('.') {
                        format!("`{}`", parent_of(&path))
                    } else {
                        "the manifest".to_string()
                    }
                ),
            )
            .help(help);
            if let Some(p) = positions.key(&path) {
                d = d.at(p.line, p.column);
            }
            d
        })
        .collect();
    (!diagnostics.is_empty()).then_some(diagnostics)
}

/// `services.api` for `services.api.pahts`.
fn parent_of(path: &str) -> &str {
    path.rsplit_once('.').map_or(path, |(p, _)| p)
}

/// Collects (path, key, the keys allowed there) for each unknown key of
/// `value` under the schema `node`.
fn walk_keys(
    value: &serde_json::Value,
    node: &serde_json::Value,
    root: &serde_json::Value,
    path: &str,
    found: &mut Vec<(String, String, Vec<String>)>,
) {
    use serde_json::Value;
    // Depth is bounded by the manifest's nesting limit (checked before parsing).
    let node = match node.get("$ref").and_then(Value::as_str) {
        Some(r) => r
            .strip_prefix("#/$defs/")
            .and_then(|name| root.get("$defs")?.get(name))
            .unwrap_or(node),
        None => node,
    };
    for key in ["anyOf", "oneOf", "allOf"] {
        if let Some(Value::Array(variants)) = node.get(key) {
            for v in variants {
                walk_keys(value, v, root, path, found);
            }
        }
    }
    let join = |k: &str| {
        if path.is_empty() {
            k.to_string()
        } else {
            format!("{path}.{k}")
        }
    };
    match value {
        Value::Object(map) => {
            if let Some(Value::Object(props)) = node.get("properties") {
                let closed = node.get("additionalProperties") == Some(&Value::Bool(false));
                for (k, v) in map {
                    match props.get(k) {
                        Some(child) => walk_keys(v, child, root, &join(k), found),
                        None if closed => {
                            found.push((join(k), k.clone(), props.keys().cloned().collect()))
                        }
                        None => {}
                    }
                }
            } else if let Some(child @ Value::Object(_)) = node.get("additionalProperties") {
                for (k, v) in map {
                    walk_keys(v, child, root, &join(k), found);
                }
            }
        }
        Value::Array(items) => {
            if let Some(child) = node.get("items") {
                for (i, v) in items.iter().enumerate() {
                    walk_keys(v, child, root, &format!("{path}[{i}]"), found);
                }
            }
        }
        _ => {}
    }
}

/// serde names the Rust types it expected (`struct RawService`); users
/// know them as parts of the manifest.
pub(super) fn plain_types(message: &str) -> String {
    const NAMES: &[(&str, &str)] = &[
        ("struct RawManifest", "the manifest's mapping of settings"),
        (
            "struct RawService",
            "a mapping of service settings (`{}` for the defaults)",
        ),
        (
            "struct RawEnvironment",
            "a mapping of environment settings, e.g. `{ cluster: my-cluster }`",
        ),
        ("struct RawBuild", "a mapping of build settings"),
        (
            "struct RawGate",
            "a mapping of gate settings, e.g. `{ prometheus: https://prometheus.example.com }`",
        ),
        (
            "struct RawSchedule",
            "a mapping naming the EventBridge rule, e.g. `{ rule: nightly-report }`",
        ),
        ("enum BuilderKind", "`docker` or `buildah`"),
        ("variant identifier", "`docker` or `buildah`"),
    ];
    let mut out = message.to_string();
    for (rust, plain) in NAMES {
        out = out.replace(rust, plain);
    }
    // serde quotes the value it refused: a 4 MiB string stays in the file.
    if out.chars().count() > MAX_MESSAGE {
        out = out.chars().take(MAX_MESSAGE).collect::<String>() + "…";
    }
    out
}

/// The longest YAML error message shown (serde quotes whole values).
const MAX_MESSAGE: usize = 300;

/// Help for serde's own messages (unknown field, missing field, wrong type).
pub(super) fn help_for_serde(message: &str) -> String {
    if message.contains("unknown field") {
        "remove the key or fix its spelling; the JSON Schema action/schema/ferry.schema.json lists every key".into()
    } else if message.contains("missing field") {
        "add the field; see the example manifest in README.md (\"The manifest\")".into()
    } else if message.contains("nest deeper") {
        "a manifest needs about five levels; flatten the structure (Ferry refuses deeper documents before parsing them)".into()
    } else if message.contains("once its aliases") {
        "write the values out instead of repeating aliases of aliases".into()
    } else if message.contains("larger than") {
        "Ferry refuses larger manifests; a thousand services take about 100 KiB".into()
    } else if message.contains("-deploy") && message.contains("invalid type") {
        super::tasks::SHAPE_HELP.into()
    } else if message.contains("duplicate") {
        "each name may appear once; remove or rename the second one".into()
    } else {
        "fix the YAML at this position".into()
    }
}
