//! The ext-strs of one render, layered from the least to the most specific:
//! the manifest (SERVICE, ENVIRONMENT, PROJECT, REGION), the environment's
//! values file (Terraform's outputs), `FERRY_EXT_<NAME>` environment
//! variables, `--ext-str`, then `--image`. The same names work in CI and on
//! a laptop.

use std::collections::BTreeMap;
use std::path::Path;

use serde_json::Value;

use crate::diagnostic::Diagnostic;
use crate::manifest::Manifest;

/// The largest values file Ferry reads (Terraform's outputs are a few KiB).
pub const MAX_VALUES_BYTES: u64 = 1 << 20;

/// Where an environment's infrastructure values live by default.
pub fn default_values_file(env: &str) -> String {
    format!("task-definitions/environments/{env}.json")
}

/// The ext-strs that come from the manifest.
pub fn from_manifest(manifest: &Manifest, service: &str, env: &str) -> BTreeMap<String, String> {
    let region = manifest
        .environments
        .get(env)
        .and_then(|e| e.region.clone())
        .unwrap_or_else(|| manifest.region.clone());
    BTreeMap::from([
        ("SERVICE".to_string(), service.to_string()),
        ("ENVIRONMENT".to_string(), env.to_string()),
        ("PROJECT".to_string(), manifest.project.clone()),
        ("REGION".to_string(), region),
        // Empty unless given: the Jsonnet then builds the image from IMAGE_TAG + IMAGE_REPOSITORY.
        ("IMAGE".to_string(), String::new()),
    ])
}

/// Reads a values file: the JSON of `terraform output -json` (each output as
/// `{ "value": ... }`) or the same keys with plain values. For `service`:
/// `services.<service>.<field>` becomes `<FIELD>` (EXECUTION_ROLE_ARN,
/// TASK_ROLE_ARN, LOG_GROUP, ...), `tasks_queue_url` becomes SQS_QUEUE_URL,
/// `ecr_repository_urls.<service>` (or `image_repository_urls`) becomes
/// IMAGE_REPOSITORY (and its old name ECR_REPOSITORY), and every other
/// top-level string output becomes its upper-cased name.
///
/// `given` says the file was named by `--values` (the workflow's choice,
/// anywhere); the default file comes with the repository, so it must stay
/// inside it.
pub fn from_values_file(
    root: &Path,
    file: &str,
    service: &str,
    given: bool,
) -> Result<BTreeMap<String, String>, Box<Diagnostic>> {
    let confine = (!given).then_some(root);
    let bytes = crate::manifest::read_repository_file(confine, &root.join(file), MAX_VALUES_BYTES)
        .map_err(|e| {
            let help = match e {
                crate::manifest::Refusal::Io(_) => {
                    "write it from `terraform output -json`, or pass --values FILE"
                }
                ref other => other.help(),
            };
            Box::new(Diagnostic::new(file, format!("the values file {e}")).help(help))
        })?;
    let text = String::from_utf8_lossy(&bytes);
    let json: Value = serde_json::from_str(&text).map_err(|e| {
        Box::new(
            Diagnostic::new(file, format!("not JSON: {e}"))
                .at(e.line(), e.column())
                .help("write it from `terraform output -json`"),
        )
    })?;
    Ok(values(&json, service))
}

fn unwrap_output(v: &Value) -> &Value {
    match v.as_object() {
        Some(o)
            if o.contains_key("value")
                && o.keys()
                    .all(|k| matches!(k.as_str(), "value" | "type" | "sensitive")) =>
        {
            &o["value"]
        }
        _ => v,
    }
}

/// The ext-strs a values document gives `service`.
pub fn values(json: &Value, service: &str) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    for (key, value) in json.as_object().into_iter().flatten() {
        let value = unwrap_output(value);
        match (key.as_str(), value) {
            ("services", Value::Object(services)) => {
                for (field, v) in services
                    .get(service)
                    .and_then(Value::as_object)
                    .into_iter()
                    .flatten()
                {
                    if let Some(s) = scalar(v) {
                        out.insert(field.to_ascii_uppercase(), s);
                    }
                }
            }
            ("ecr_repository_urls" | "image_repository_urls", Value::Object(urls)) => {
                if let Some(url) = urls.get(service).and_then(Value::as_str) {
                    out.insert("IMAGE_REPOSITORY".into(), url.to_string());
                }
            }
            ("tasks_queue_url", Value::String(s)) => {
                out.insert("SQS_QUEUE_URL".into(), s.clone());
            }
            (_, v) => {
                if let Some(s) = scalar(v) {
                    out.insert(key.to_ascii_uppercase(), s);
                }
            }
        }
    }
    out
}

fn scalar(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

/// `IMAGE_REPOSITORY` is the image repository's ext-str; `ECR_REPOSITORY`
/// (its old name) is kept as an alias both ways, so a Jsonnet or a
/// workflow still on the old name renders the same. The name given last
/// in the layers wins for both.
pub fn alias_repository(ext: &mut BTreeMap<String, String>) {
    match (ext.get("IMAGE_REPOSITORY"), ext.get("ECR_REPOSITORY")) {
        (Some(new), None) => {
            let new = new.clone();
            ext.insert("ECR_REPOSITORY".into(), new);
        }
        (None, Some(old)) => {
            tracing::warn!("ext-str ECR_REPOSITORY is deprecated: it is now IMAGE_REPOSITORY");
            let old = old.clone();
            ext.insert("IMAGE_REPOSITORY".into(), old);
        }
        _ => {}
    }
}

/// `FERRY_EXT_<NAME>=value` environment variables as ext-strs.
pub fn from_environment(
    vars: impl IntoIterator<Item = (String, String)>,
) -> BTreeMap<String, String> {
    vars.into_iter()
        .filter_map(|(k, v)| {
            k.strip_prefix("FERRY_EXT_")
                .filter(|n| !n.is_empty())
                .map(|n| (n.to_string(), v))
        })
        .collect()
}

/// Parses `--ext-str K=V`.
pub fn parse_ext_str(text: &str) -> Result<(String, String), String> {
    match text.split_once('=') {
        Some((k, v)) if !k.trim().is_empty() => Ok((k.trim().to_string(), v.to_string())),
        _ => Err(format!("--ext-str {text:?} is not NAME=VALUE")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn terraform_outputs_become_ext_strs() {
        let json = serde_json::json!({
            "services": {"value": {"api": {"execution_role_arn": "e", "log_group": "/g"}, "other": {"log_group": "x"}}},
            "tasks_queue_url": {"value": "https://q", "type": "string", "sensitive": false},
            "sampleworker_secret_arn": "arn:s",
            "ecr_repository_urls": {"value": {"api": "1.dkr.ecr/p/api"}}
        });
        let v = values(&json, "api");
        assert_eq!(v["EXECUTION_ROLE_ARN"], "e");
        assert_eq!(v["LOG_GROUP"], "/g");
        assert_eq!(v["SQS_QUEUE_URL"], "https://q");
        assert_eq!(v["SAMPLEWORKER_SECRET_ARN"], "arn:s");
        assert_eq!(v["IMAGE_REPOSITORY"], "1.dkr.ecr/p/api");
        let mut ext = v.clone();
        alias_repository(&mut ext);
        assert_eq!(ext["ECR_REPOSITORY"], "1.dkr.ecr/p/api");
        let mut old = BTreeMap::from([("ECR_REPOSITORY".to_string(), "r".to_string())]);
        alias_repository(&mut old);
        assert_eq!(old["IMAGE_REPOSITORY"], "r");
    }

    #[test]
    fn environment_prefix() {
        let got = from_environment([
            ("FERRY_EXT_IMAGE".into(), "i".into()),
            ("IMAGE".into(), "no".into()),
        ]);
        assert_eq!(got, BTreeMap::from([("IMAGE".into(), "i".into())]));
        assert!(parse_ext_str("A=b=c").is_ok_and(|(k, v)| k == "A" && v == "b=c"));
        assert!(parse_ext_str("=x").is_err());
    }
}
