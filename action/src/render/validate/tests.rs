//! The rules on real-world task definitions (the corpus in
//! `action/tests/data/taskdefs-corpus`, see its SOURCES.md) and on the
//! cases issue 29 found: what ECS registered stays accepted, what it
//! refuses is refused, each naming its rule.

use std::path::{Path, PathBuf};

use serde_json::{Value, json};

use super::*;
use crate::render::register;

fn corpus_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/taskdefs-corpus")
}

fn typed(v: Value) -> crate::taskdef::TaskDefinition {
    crate::taskdef::TaskDefinition::read(v).unwrap()
}

fn json_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    entries.sort();
    for p in entries {
        if p.is_dir() {
            json_files(&p, out);
        } else if p.extension().is_some_and(|e| e == "json") {
            out.push(p);
        }
    }
}

/// What Ferry decides for one file, as a line of `expected.tsv`: a
/// describe export's `taskDefinition` is read, nulls dropped, read-only
/// fields stripped, then every rule checked (not production: the corpus's
/// `:latest` images are examples).
fn decide(text: &str) -> (String, Report) {
    let v: Value = serde_json::from_str(text).unwrap();
    let v = match v.get("taskDefinition") {
        Some(td @ Value::Object(_)) => td.clone(),
        _ => v,
    };
    let report = match register::to_input(strip_nulls(v)) {
        Err(problems) => Report {
            problems,
            warnings: Vec::new(),
        },
        Ok(td) => check(&register::read(td).unwrap(), Rules::default()),
    };
    let rules = |ps: &[Problem]| {
        let mut r: Vec<&str> = ps.iter().map(|p| p.rule).collect();
        r.sort_unstable();
        r.dedup();
        r.join(" | ")
    };
    let verdict = if !report.problems.is_empty() {
        format!("refused: {}", rules(&report.problems))
    } else if !report.warnings.is_empty() {
        format!("accepted, warned: {}", rules(&report.warnings))
    } else {
        "accepted".to_string()
    };
    (verdict, report)
}

#[test]
fn corpus_every_file_keeps_its_verdict_and_every_refusal_names_its_rule() {
    let dir = corpus_dir();
    let mut files = Vec::new();
    json_files(&dir, &mut files);
    assert!(files.len() >= 70, "{} files", files.len());
    let mut lines = String::new();
    for f in &files {
        let rel = f.strip_prefix(&dir).unwrap().to_string_lossy().to_string();
        let (verdict, report) = decide(&std::fs::read_to_string(f).unwrap());
        for p in report.problems.iter().chain(&report.warnings) {
            assert!(!p.rule.is_empty(), "{rel}: {} names no rule", p.message);
        }
        lines.push_str(&format!("{rel}\t{verdict}\n"));
    }
    let expected = dir.join("expected.tsv");
    if std::env::var_os("FERRY_UPDATE_CORPUS").is_some() {
        std::fs::write(&expected, &lines).unwrap();
    }
    let want = std::fs::read_to_string(&expected).unwrap_or_default();
    for (got, want) in lines.lines().zip(want.lines()) {
        assert_eq!(got, want, "(FERRY_UPDATE_CORPUS=1 rewrites expected.tsv)");
    }
    assert_eq!(lines.lines().count(), want.lines().count());
}

fn hand_made(name: &str) -> (String, Report) {
    decide(&std::fs::read_to_string(corpus_dir().join("hand-made").join(name)).unwrap())
}

#[test]
fn a_console_export_full_of_nulls_is_accepted() {
    let (verdict, _) = hand_made("console-export-nulls.json");
    assert_eq!(verdict, "accepted");
}

#[test]
fn memory_reservation_equal_to_memory_is_a_warning_saying_why() {
    let (verdict, report) = hand_made("describe-memory-reservation-equals-memory.json");
    assert!(verdict.starts_with("accepted, warned"), "{verdict}");
    assert!(
        report.warnings[0]
            .message
            .contains("the docs ask for less, but ECS registers it"),
        "{:?}",
        report.warnings
    );
    // Above memory, ECS refuses it.
    let td = json!({"family": "w", "containerDefinitions": [{"name": "w", "image": "w:1", "memory": 512, "memoryReservation": 513}]});
    let r = check(&typed(td), Rules::default());
    assert_eq!(
        r.problems[0].message,
        "memoryReservation 513 is above memory 512"
    );
}

#[test]
fn an_ssm_parameter_name_without_a_slash_is_a_warning() {
    let (verdict, report) = hand_made("ssm-parameter-name-without-slash.json");
    assert!(verdict.starts_with("accepted, warned"), "{verdict}");
    assert_eq!(report.warnings.len(), 1, "{:?}", report.warnings);
    assert_eq!(
        report.warnings[0].path,
        "containerDefinitions[0].secrets[0].valueFrom"
    );
    assert!(
        report.warnings[0]
            .message
            .contains("ECS reads it as the name of an SSM parameter in the task's region")
    );
}

#[test]
fn required_fields_are_required() {
    for (file, path, rule) in [
        (
            "refused-health-check-without-command.json",
            "containerDefinitions[0].healthCheck.command",
            "HealthCheck.command: required",
        ),
        (
            "refused-log-configuration-without-log-driver.json",
            "containerDefinitions[0].logConfiguration.logDriver",
            "LogConfiguration.logDriver: required",
        ),
        (
            "refused-secret-without-name.json",
            "containerDefinitions[0].secrets[0].name",
            "Secret.name: required",
        ),
    ] {
        let (verdict, report) = hand_made(file);
        assert_eq!(verdict, format!("refused: {rule}"), "{file}");
        assert_eq!(report.problems[0].path, path);
    }
    let td = json!({"family": "w", "containerDefinitions": [{"name": "w", "image": "w:1", "secrets": [{"name": "A"}]}]});
    assert_eq!(
        check(&typed(td), Rules::default()).problems[0].rule,
        "Secret.valueFrom: required"
    );
}

#[test]
fn a_value_of_another_type_than_ecs_takes_is_refused_offline_without_repeating_it() {
    // From the corpus (aws-samples firelens logstash): `portMappings` as an
    // object. The rules read it as no port; the conversion cannot send it.
    let td = json!({"family": "w", "containerDefinitions": [{
        "name": "app", "image": "w:1", "memory": 512,
        "portMappings": {"containerPort": 443, "hostPort": 443, "protocol": "tcp"},
        "environment": [{"name": "TOKEN", "value": "s3cr3t-value"}]
    }]});
    let problems = check(&typed(td), Rules::default()).problems;
    assert_eq!(problems.len(), 1, "{problems:?}");
    let p = &problems[0];
    assert_eq!(p.path, "containerDefinitions[app].portMappings");
    assert_eq!(
        p.rule,
        "RegisterTaskDefinition: every field of its documented type"
    );
    assert!(p.message.contains("expected a list"), "{}", p.message);
    assert!(
        !p.message.contains("443"),
        "the value is not repeated: {}",
        p.message
    );
    // A definition ECS takes is not refused by this rule.
    let ok = json!({"family": "w", "containerDefinitions": [{"name": "app", "image": "w:1", "memory": 512,
        "portMappings": [{"containerPort": 443}]}]});
    assert!(check(&typed(ok), Rules::default()).problems.is_empty());
}

#[test]
fn nulls_are_absent_at_any_depth() {
    let v = strip_nulls(json!({"a": null, "b": [{"c": null, "d": 1}], "e": {"f": null}}));
    assert_eq!(v, json!({"b": [{"d": 1}], "e": {}}));
}

#[test]
fn references_and_enumerations_follow_the_api() {
    let td = json!({
        "family": "w",
        "networkMode": "awsvpc",
        "requiresCompatibilities": ["FARGATE"],
        "cpu": "256", "memory": "512",
        "ipcMode": "host",
        "volumes": [{"name": "data", "efsVolumeConfiguration": {"fileSystemId": "fs-1", "authorizationConfig": {"iam": "ENABLED"}}}],
        "containerDefinitions": [{
            "name": "w", "image": "w:1",
            "logConfiguration": {"logDriver": "json-file"},
            "dependsOn": [{"containerName": "sidecar", "condition": "READY"}],
            "mountPoints": [{"sourceVolume": "cache", "containerPath": "/c"}],
            "healthCheck": {"command": ["curl", "localhost"]},
            "firelensConfiguration": {"type": "logstash"},
            "stopTimeout": 121
        }]
    });
    let rules: Vec<&str> = check(&typed(td), Rules::default())
        .problems
        .iter()
        .map(|p| p.rule)
        .collect();
    for want in [
        "TaskDefinition.ipcMode: not supported on Fargate",
        "EFSAuthorizationConfig.iam: if enabled, transit encryption must be enabled",
        "ContainerDependency.condition: START, COMPLETE, SUCCESS or HEALTHY",
        "ContainerDependency.containerName: a container of the task definition",
        "MountPoint.sourceVolume: must match the name of a volume of the task definition",
        "HealthCheck.command: the string array must start with CMD or CMD-SHELL",
        "FirelensConfiguration.type: fluentd or fluentbit",
        "ContainerDefinition.stopTimeout: at most 120 seconds on Fargate",
    ] {
        assert!(rules.contains(&want), "{want} not in {rules:#?}");
    }
    assert!(
        rules
            .iter()
            .any(|r| r.starts_with("LogConfiguration.logDriver")),
        "{rules:#?}"
    );
    // On EC2, a longer stop timeout and json-file are ECS's to take.
    let ec2 = json!({"family": "w", "networkMode": "bridge", "containerDefinitions": [{"name": "w", "image": "w:1", "memory": 128, "stopTimeout": 600, "logConfiguration": {"logDriver": "json-file"}}]});
    assert_eq!(check(&typed(ec2), Rules::default()), Report::default());
}

#[test]
fn service_connect_port_names_must_name_a_port_mapping() {
    let td = typed(json!({"family": "w", "containerDefinitions": [
        {"name": "app", "image": "w:1", "portMappings": [{"containerPort": 8080, "name": "http"}]},
        {"name": "admin", "image": "w:1", "portMappings": [{"containerPort": 9090}]}
    ]}));
    assert!(service_connect(&td, "api", &["http".into()]).is_empty());
    assert!(service_connect(&td, "api", &[]).is_empty());
    let problems = service_connect(&td, "api", &["grpc".into(), "http".into()]);
    assert_eq!(problems.len(), 1, "{problems:?}");
    assert_eq!(problems[0].path, "portMappings[].name");
    assert_eq!(
        problems[0].message,
        "the manifest's services.api.service-connect names the port `grpc`, but no port mapping of the task definition is named so (its names: `http`)"
    );
    assert!(problems[0].help.contains("name: 'grpc'"), "{problems:?}");
    assert!(problems[0].help.contains("services.api.service-connect"));
}
