//! The typed → SDK → typed conversion on the repository's own task
//! definitions and on the real-world corpus.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};

use serde_json::{Value, json};

use super::{from_sdk, to_sdk};
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
    td["inferenceAccelerators"] = json!([{"deviceName": "d", "deviceType": "eia2.medium"}]);
    let e = to_sdk(&typed(&td)).unwrap_err();
    assert!(e.to_string().contains("`inferenceAccelerators`"), "{e}");
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
    td["containerDefinitions"][0]["ulimits"][0]["softLimit"] = json!(1_u64 << 40);
    let e = to_sdk(&typed(&td)).unwrap_err().to_string();
    assert!(
        e.contains("`containerDefinitions[sampleworker].ulimits[nofile].softLimit`: expected an integer, found 1099511627776"),
        "{e}"
    );
}

/// A field the SDK requires (which validation requires too) is the SDK
/// builder's refusal, named by the object that lacks it.
#[test]
fn a_field_the_sdk_requires_is_an_error_naming_its_object() {
    let mut td = rendered("sampleworker", "prod");
    td["containerDefinitions"][0]["secrets"][0]
        .as_object_mut()
        .unwrap()
        .remove("valueFrom");
    let e = to_sdk(&typed(&td)).unwrap_err().to_string();
    assert!(
        e.starts_with("task definition field `containerDefinitions[sampleworker].secrets[EMAIL_PROVIDER_CREDENTIALS]`: value_from"),
        "{e}"
    );
}

/// Every definition of the real-world corpus that render's validation
/// accepts goes to the SDK's types and comes back as it was: the EFS and
/// Docker volumes, the App Mesh proxy, FireLens, links and all. The
/// exceptions are two lists written as objects, which validation lets
/// through and the conversion names (the value cut to 80 characters).
#[test]
fn the_corpus_goes_to_the_sdk_and_back_unchanged() {
    use crate::render::{register, validate};
    let mut converted = 0;
    let mut refused = Vec::new();
    for (path, v) in crate::taskdef::corpus() {
        let Ok(td) = register::to_input(validate::strip_nulls(v)).and_then(register::read) else {
            continue;
        };
        if !validate::validate(&td, validate::Rules::default()).is_empty() {
            continue;
        }
        let sdk = match to_sdk(&td) {
            Ok(sdk) => sdk,
            Err(e) => {
                refused.push(format!("{path}: {e}"));
                continue;
            }
        };
        let mut back = from_sdk(&sdk.definition);
        if td.tags.is_some() {
            let tags = sdk
                .tags
                .iter()
                .map(|t| json!({"key": t.key(), "value": t.value()}));
            back.insert("tags".into(), Value::Array(tags.collect()));
        }
        // The API takes task cpu and memory as strings (`1024` comes back
        // `"1024"`); the SDK's container cpu is a number, 0 when absent.
        let mut want = td.to_value();
        for key in ["cpu", "memory"] {
            if let Some(n @ Value::Number(_)) = want.get(key) {
                want[key] = Value::String(n.to_string());
            }
        }
        for c in want["containerDefinitions"].as_array_mut().unwrap() {
            c.as_object_mut().unwrap().entry("cpu").or_insert(json!(0));
        }
        assert_eq!(Value::Object(back), want, "{path}");
        converted += 1;
    }
    // Validation ends with this conversion (render::validate's last rule),
    // so what it accepts always converts: the two corpus files written with
    // an object where ECS takes a list (firelens logstash's `portMappings`,
    // signalfx's `secretOptions`) are refused offline, not here.
    assert_eq!(refused, Vec::<String>::new());
    assert!(converted >= 65, "{converted}");
}
