use serde_json::json;

use super::*;

fn rendered() -> Value {
    json!({
        "family": "app",
        "networkMode": "awsvpc",
        "requiresCompatibilities": ["FARGATE"],
        "cpu": "256", "memory": "512",
        "containerDefinitions": [{
            "name": "app", "image": "i:1", "essential": true,
            "portMappings": [{"containerPort": 8080, "hostPort": 8080, "protocol": "tcp"}],
            "environment": [{"name": "A", "value": "1"}, {"name": "B", "value": "2"}],
            "secrets": [],
            "healthCheck": {"command": ["CMD", "x"], "interval": 30, "timeout": 5, "retries": 3}
        }],
        "tags": [{"key": "a", "value": "1"}, {"key": "b", "value": "2"}]
    })
}

/// What DescribeTaskDefinition returns for the same definition: read-only
/// fields, defaults spelled out, lists in another order, numbers for sizes.
fn described() -> Value {
    json!({
        "taskDefinitionArn": "arn:aws:ecs:us-east-1:1:task-definition/app:3",
        "revision": 3, "status": "ACTIVE", "compatibilities": ["EC2", "FARGATE"],
        "registeredAt": "2026-11-25T00:00:00Z",
        "family": "app",
        "networkMode": "awsvpc",
        "requiresCompatibilities": ["FARGATE"],
        "cpu": 256, "memory": "512",
        "volumes": [], "placementConstraints": [],
        "containerDefinitions": [{
            "name": "app", "image": "i:1", "cpu": 0, "essential": true,
            "portMappings": [{"containerPort": 8080, "hostPort": 8080, "protocol": "tcp"}],
            "environment": [{"name": "B", "value": "2"}, {"name": "A", "value": "1"}],
            "mountPoints": [], "volumesFrom": [], "systemControls": [],
            "healthCheck": {"command": ["CMD", "x"], "interval": 30, "timeout": 5, "retries": 3, "startPeriod": 0}
        }],
        "tags": [{"key": "b", "value": "2"}, {"key": "a", "value": "1"}]
    })
}

#[test]
fn the_same_definition_as_ecs_describes_it_has_no_changes() {
    assert_eq!(diff(&described(), &rendered()), vec![]);
}

#[test]
fn one_changed_variable_is_the_only_change() {
    let mut r = rendered();
    r["containerDefinitions"][0]["environment"][0]["value"] = json!("changed");
    let changes = diff(&described(), &r);
    assert_eq!(
        changes,
        vec![Change {
            path: "containerDefinitions[app].environment[A].value".into(),
            before: Some(json!("1")),
            after: Some(json!("changed")),
        }]
    );
    assert_eq!(
        changes[0].to_string(),
        "~ containerDefinitions[app].environment[A].value: \"1\" → \"changed\""
    );
}

#[test]
fn added_and_removed_entries_are_named() {
    let mut r = rendered();
    r["containerDefinitions"][0]["environment"] =
        json!([{"name": "A", "value": "1"}, {"name": "C", "value": "3"}]);
    let paths: Vec<String> = diff(&described(), &r)
        .iter()
        .map(ToString::to_string)
        .collect();
    assert_eq!(
        paths,
        vec![
            "- containerDefinitions[app].environment[B]: {\"name\":\"B\",\"value\":\"2\"}",
            "+ containerDefinitions[app].environment[C]: {\"name\":\"C\",\"value\":\"3\"}",
        ]
    );
}

/// The deploy comment and telemetry read an ARN the same way: they used to
/// differ on one that names no revision (the comment showed `x` as if it
/// were `family:revision`, telemetry found none).
#[test]
fn an_arn_gives_its_family_and_revision_or_nothing() {
    assert_eq!(
        arn_revision("arn:aws:ecs:us-east-1:1:task-definition/shop-api:42"),
        Some(("shop-api", "42"))
    );
    for bad in [
        "arn:aws:ecs:us-east-1:1:task-definition/x",
        "arn:aws:ecs:us-east-1:1:task-definition/x:",
        "arn:aws:ecs:us-east-1:1:task-definition/:3",
        "arn:aws:ecs:us-east-1:1:task-definition/x:latest",
        "arn:aws:ecs:us-east-1:1:service/c/x:3",
        "shop-api:42",
        "",
    ] {
        assert_eq!(arn_revision(bad), None, "{bad}");
    }
}

/// Every real-world definition of the corpus reads into the type and
/// writes back to the very JSON it was read from, byte for byte.
#[test]
fn the_corpus_reads_into_the_type_and_writes_back_unchanged() {
    let corpus = corpus();
    for (path, v) in &corpus {
        let want = strip_nulls(v.clone());
        let td = TaskDefinition::read(v.clone()).unwrap();
        assert_eq!(td.to_value(), want, "{path}");
        assert_eq!(
            serde_json::to_string(&td.to_value()).unwrap(),
            serde_json::to_string(&want).unwrap(),
            "{path}"
        );
    }
    assert!(corpus.len() >= 70, "{}", corpus.len());
}

#[test]
fn a_value_of_another_type_is_kept_as_written_and_typed_reads_skip_it() {
    let td = TaskDefinition::read(json!({
        "family": 7,
        "cpu": "1 vCPU",
        "memory": 2048,
        "containerDefinitions": [{"name": "a", "stopTimeout": "soon", "dnsServers": ["b"]}, "oops"],
        "placementConstraints": {"type": "memberOf"}
    }))
    .unwrap();
    assert_eq!(td.family.as_ref().unwrap().to_string(), "7");
    assert!(td.family.typed().is_none());
    assert_eq!(td.cpu.typed().and_then(Units::units), Some(1024));
    assert_eq!(td.memory.typed().and_then(Units::units), Some(2048));
    let c: Vec<&ContainerDefinition> = td.containers().collect();
    assert_eq!(c.len(), 1);
    assert_eq!(field::str_of(&c[0].name), Some("a"));
    assert_eq!(c[0].stop_timeout.as_ref().unwrap().to_string(), "\"soon\"");
    assert_eq!(c[0].other["dnsServers"], json!(["b"]));
    assert!(td.placement_constraints.typed().is_none());
    assert!(
        TaskDefinition::read(json!(["x"]))
            .unwrap_err()
            .contains("a list, not an object")
    );
}
