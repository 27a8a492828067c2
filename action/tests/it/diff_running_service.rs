//! `ferry diff` against moto's ECS: register a rendered task definition, run
//! a service on it, change one environment variable in the Jsonnet, and the
//! diff shows exactly that change. Needs the test bed (MOTO_URL). Moto
//! stores and describes task definitions and services for real; it fills in
//! the defaults real ECS does (cpu 0, protocol, empty lists), which is what
//! the normalisation must absorb.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::support;

use std::path::Path;
use std::process::Command;

use serde_json::{Value, json};

const JSONNET: &str = "local base = import 'lib/base.libsonnet';
base.taskDefinition('svc', [
  base.container('svc', base.image(), {
    portMappings: [base.portMapping(8080, name='http')],
    environment: base.envList({ GREETING: 'hello', PORT: 8080 }),
    healthCheck: base.healthCheck(['/bin/svc', 'health']),
  }),
], { cpu: '256', memory: '512' })
";

const IMAGE: &str = "1.dkr.ecr.us-east-1.amazonaws.com/demo/svc:svc-abc1234";

/// One call of the ECS JSON protocol. Moto checks no signature; the
/// credential scope tells it the service.
fn ecs(moto: &str, action: &str, body: &Value) -> Value {
    let out = Command::new("curl")
        .args(["-s", "-X", "POST", &format!("{moto}/")])
        .args(["-H", &format!("X-Amz-Target: AmazonEC2ContainerServiceV20141113.{action}")])
        .args(["-H", "Content-Type: application/x-amz-json-1.1"])
        .args(["-H", "Authorization: AWS4-HMAC-SHA256 Credential=test/20261125/us-east-1/ecs/aws4_request, SignedHeaders=host, Signature=0"])
        .args(["--data-binary", &body.to_string()])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    serde_json::from_str(&text).unwrap_or_else(|_| panic!("{action}: {text}"))
}

#[test]
fn diff_shows_exactly_the_changed_variable() {
    let moto = support::testbed_url("MOTO_URL");
    let unique = format!(
        "d{}{}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos()
            % 1_000_000_000
    );
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let manifest = format!(
        "project: {unique}\nregion: us-east-1\nenvironments:\n  staging: {{ cluster: {unique}-staging }}\nservices:\n  svc:\n    paths: [svc/**]\n    task-definition: task-definitions/svc.jsonnet\n"
    );
    std::fs::create_dir_all(root.join(".github")).unwrap();
    std::fs::create_dir_all(root.join("task-definitions/lib")).unwrap();
    std::fs::write(root.join(".github/ferry.yml"), manifest).unwrap();
    let repo = support::root();
    std::fs::copy(
        repo.join("task-definitions/lib/base.libsonnet"),
        root.join("task-definitions/lib/base.libsonnet"),
    )
    .unwrap();
    std::fs::write(root.join("task-definitions/svc.jsonnet"), JSONNET).unwrap();
    let args = |extra: &[&str]| {
        let mut a: Vec<String> = [
            "--service",
            "svc",
            "--env",
            "staging",
            "--image",
            IMAGE,
            "--ext-str",
            "EXECUTION_ROLE_ARN=arn:aws:iam::123456789012:role/e",
            "--ext-str",
            "TASK_ROLE_ARN=arn:aws:iam::123456789012:role/t",
        ]
        .iter()
        .map(ToString::to_string)
        .collect();
        a.extend(extra.iter().map(ToString::to_string));
        a
    };

    // Render, register in moto, and run a service on it.
    let render_args = [vec!["render".to_string()], args(&["--out", "td.json"])].concat();
    let run = support::ferry(
        root,
        &render_args.iter().map(String::as_str).collect::<Vec<_>>(),
    );
    assert_eq!(run.code, 0, "{run:#?}");
    let td: Value =
        serde_json::from_str(&std::fs::read_to_string(root.join("td.json")).unwrap()).unwrap();
    let registered = ecs(&moto, "RegisterTaskDefinition", &td);
    let arn = registered["taskDefinition"]["taskDefinitionArn"]
        .as_str()
        .unwrap_or_else(|| panic!("{registered}"))
        .to_string();
    ecs(
        &moto,
        "CreateCluster",
        &json!({"clusterName": format!("{unique}-staging")}),
    );
    let created = ecs(
        &moto,
        "CreateService",
        &json!({
            "cluster": format!("{unique}-staging"),
            "serviceName": format!("{unique}-staging-svc"),
            "taskDefinition": arn,
            "desiredCount": 1,
        }),
    );
    assert!(created.get("service").is_some(), "{created}");

    let env = [
        ("AWS_ENDPOINT_URL", moto.as_str()),
        ("AWS_ACCESS_KEY_ID", "test"),
        ("AWS_SECRET_ACCESS_KEY", "test"),
        ("AWS_REGION", "us-east-1"),
        ("GITHUB_ACTIONS", "true"),
    ];
    let diff = |root: &Path| {
        let a = [vec!["diff".to_string()], args(&[])].concat();
        support::ferry_with(
            root,
            &a.iter().map(String::as_str).collect::<Vec<_>>(),
            &env,
        )
    };

    // Unchanged: what moto describes normalises to what was rendered.
    let same = diff(root);
    assert_eq!(same.code, 0, "{same:#?}");
    assert_eq!(same.output("has-changes"), "false", "{same:#?}");

    // One variable changed in the Jsonnet: exactly that change.
    std::fs::write(
        root.join("task-definitions/svc.jsonnet"),
        JSONNET.replace("'hello'", "'bonjour'"),
    )
    .unwrap();
    let changed = diff(root);
    assert_eq!(changed.code, 0, "{changed:#?}");
    assert_eq!(changed.output("has-changes"), "true");
    assert_eq!(
        changed.output("changes"),
        "~ containerDefinitions[svc].environment[GREETING].value: \"hello\" → \"bonjour\""
    );
}
