//! The JSON → SDK → JSON conversion on the repository's own task definitions.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};

use serde_json::{Value, json};

use super::task_definition::{from_sdk, to_sdk};
use crate::aws::AwsError;
use crate::manifest::Manifest;

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

fn typed(td: &Value) -> crate::taskdef::TaskDefinition {
    crate::taskdef::TaskDefinition::read(td.clone()).unwrap()
}

fn rendered(service: &str, env: &str) -> Value {
    let root = repo_root();
    let manifest = Manifest::load(
        &root.join(".github/ferry.yml"),
        Path::new(".github/ferry.yml"),
    )
    .unwrap();
    let opts = crate::render::Options {
        image: Some(format!(
            "111111111111.dkr.ecr.us-east-1.amazonaws.com/email-platform/{service}@sha256:{}",
            "a".repeat(64)
        )),
        ..crate::render::Options::default()
    };
    crate::render::render_one(&root, &manifest, service, env, &opts)
        .unwrap()
        .task_definition
        .to_value()
}

#[test]
fn every_field_of_the_rendered_task_definitions_round_trips_through_the_sdk() {
    for service in ["sampleapi", "sampleworker"] {
        for env in ["staging", "prod"] {
            let td = rendered(service, env);
            let sdk = to_sdk(&typed(&td)).unwrap();
            let mut back = from_sdk(&sdk.definition);
            let tags: Vec<Value> = sdk
                .tags
                .iter()
                .map(|t| json!({"key": t.key(), "value": t.value()}))
                .collect();
            back.insert("tags".into(), Value::Array(tags));
            let changes = crate::taskdef::diff(&Value::Object(back), &td);
            assert!(changes.is_empty(), "{service} {env}: {changes:?}");
            // Not vacuous: the definitions carry what the conversion must keep.
            let c = &sdk.definition.container_definitions()[0];
            assert!(c.health_check().is_some() && c.log_configuration().is_some());
            assert!(!c.environment().is_empty() && !c.ulimits().is_empty());
        }
    }
}

#[test]
fn a_field_the_conversion_does_not_know_is_an_error_naming_it() {
    let mut td = rendered("sampleapi", "staging");
    td["containerDefinitions"][0]["dnsServers"] = json!(["10.0.0.2"]);
    let e = to_sdk(&typed(&td)).unwrap_err();
    assert!(
        matches!(&e, AwsError::Convert { field, .. } if field == "containerDefinitions[sampleapi].dnsServers"),
        "{e}"
    );
    let mut td = rendered("sampleapi", "staging");
    td["proxyConfiguration"] = json!({"containerName": "envoy"});
    let e = to_sdk(&typed(&td)).unwrap_err();
    assert!(e.to_string().contains("`proxyConfiguration`"), "{e}");
}

#[test]
fn a_field_of_the_wrong_type_is_an_error_naming_it() {
    let mut td = rendered("sampleworker", "prod");
    td["containerDefinitions"][0]["stopTimeout"] = json!("soon");
    let e = to_sdk(&typed(&td)).unwrap_err().to_string();
    assert_eq!(
        e,
        "task definition field `containerDefinitions[sampleworker].stopTimeout`: expected an integer, found \"soon\""
    );
    let mut td = rendered("sampleworker", "prod");
    td["containerDefinitions"][0]["secrets"][0]
        .as_object_mut()
        .unwrap()
        .remove("valueFrom");
    let e = to_sdk(&typed(&td)).unwrap_err().to_string();
    assert!(
        e.contains("secrets[EMAIL_PROVIDER_CREDENTIALS].valueFrom`: required"),
        "{e}"
    );
}
