#![allow(clippy::unwrap_used)]

use std::collections::BTreeMap;

use serde_json::json;

use super::check::Passing;
use super::references::{self, Kind, ParameterRef, SecretRef, value_from};
use super::*;
use crate::aws::preflight::{Looked, SecretFacts, ServiceFacts};

const SM: &str = "arn:aws:secretsmanager:us-east-1:123456789012:secret:shop/db-AbCdEf";

fn secret(id: &str, key: Option<&str>, stage: Option<&str>, version: Option<&str>) -> Kind {
    Kind::Secret(SecretRef {
        region: "us-east-1".into(),
        id: id.into(),
        json_key: key.map(Into::into),
        version_stage: stage.map(Into::into),
        version_id: version.map(Into::into),
    })
}

fn parameter(region: &str, name: &str, selector: Option<&str>) -> Kind {
    Kind::Parameter(ParameterRef {
        region: region.into(),
        name: name.into(),
        selector: selector.map(Into::into),
    })
}

#[test]
fn secrets_manager_arns_are_read_with_every_suffix() {
    assert_eq!(value_from(SM, "eu-west-1"), secret(SM, None, None, None));
    assert_eq!(
        value_from(&format!("{SM}:password::"), "us-east-1"),
        secret(SM, Some("password"), None, None)
    );
    assert_eq!(
        value_from(&format!("{SM}::AWSPREVIOUS:"), "us-east-1"),
        secret(SM, None, Some("AWSPREVIOUS"), None)
    );
    assert_eq!(
        value_from(&format!("{SM}:user::0a1b-2c"), "us-east-1"),
        secret(SM, Some("user"), None, Some("0a1b-2c"))
    );
    // A partial ARN (no random suffix) is an id DescribeSecret takes.
    let partial = "arn:aws:secretsmanager:us-east-1:123456789012:secret:shop/db";
    assert_eq!(
        value_from(&format!("{partial}:k:AWSCURRENT:"), "us-east-1"),
        secret(partial, Some("k"), Some("AWSCURRENT"), None)
    );
    // The ARN's region, not the deploy's.
    let Kind::Secret(s) = value_from(
        "arn:aws-cn:secretsmanager:cn-north-1:1:secret:x-AbCdEf",
        "us-east-1",
    ) else {
        panic!()
    };
    assert_eq!(s.region, "cn-north-1");
}

#[test]
fn parameters_are_read_as_names_or_arns() {
    assert_eq!(
        value_from("/shop/db/password", "us-east-1"),
        parameter("us-east-1", "/shop/db/password", None)
    );
    assert_eq!(
        value_from("db-password", "us-east-1"),
        parameter("us-east-1", "db-password", None)
    );
    assert_eq!(
        value_from(
            "arn:aws:ssm:eu-west-1:123456789012:parameter/shop/db/password",
            "us-east-1"
        ),
        parameter("eu-west-1", "/shop/db/password", None)
    );
    assert_eq!(
        value_from(
            "arn:aws:ssm:eu-west-1:123456789012:parameter/db-password",
            "us-east-1"
        ),
        parameter("eu-west-1", "db-password", None)
    );
    assert_eq!(
        value_from("/shop/db:3", "us-east-1"),
        parameter("us-east-1", "/shop/db", Some("3"))
    );
}

#[test]
fn every_malformed_value_from_is_a_reference_that_says_why() {
    for (value, why) in [
        ("", "empty"),
        ("  ", "empty"),
        ("/a b", "white space"),
        ("/a\u{7}b", "control"),
        ("arn:aws:secretsmanager", "incomplete"),
        (
            "arn:aws:secretsmanager:us-east-1:1:parameter/x",
            "secret:NAME",
        ),
        ("arn:aws:secretsmanager:us-east-1:1:secret:", "empty"),
        (
            "arn:aws:secretsmanager:us-east-1:1:secret:x:a:b:c:d",
            "at most three",
        ),
        ("arn:aws:ssm:us-east-1:1:document/x", "parameter/NAME"),
        ("arn:aws:ssm:us-east-1:1:parameter/", "empty"),
        ("arn:aws:kms:us-east-1:1:key/x", "not `kms`"),
    ] {
        match value_from(value, "us-east-1") {
            Kind::BadValueFrom { why: w, .. } => assert!(w.contains(why), "{value:?}: {w}"),
            other => panic!("{value:?} read as {other:?}"),
        }
    }
}

#[test]
fn roles_and_images_are_read() {
    assert_eq!(
        references::role("arn:aws:iam::1:role/ops/shop-exec"),
        Kind::Role {
            arn: "arn:aws:iam::1:role/ops/shop-exec".into(),
            name: "shop-exec".into()
        }
    );
    for bad in [
        "",
        "shop-exec",
        "arn:aws:iam::1:user/x",
        "arn:aws:s3:::role/x",
    ] {
        assert!(
            matches!(references::role(bad), Kind::BadRole { .. }),
            "{bad}"
        );
    }
    let digest = format!("sha256:{}", "a".repeat(64));
    let i = references::image(&format!(
        "1.dkr.ecr.us-east-1.amazonaws.com/shop/api@{digest}"
    ))
    .unwrap();
    assert_eq!(
        (
            i.host.as_str(),
            i.repository.as_str(),
            i.reference.as_str(),
            i.pinned
        ),
        (
            "1.dkr.ecr.us-east-1.amazonaws.com",
            "shop/api",
            digest.as_str(),
            true
        )
    );
    let i = references::image(&format!("localhost:5000/api:v1@{digest}")).unwrap();
    assert_eq!(
        (i.host.as_str(), i.repository.as_str()),
        ("localhost:5000", "api")
    );
    let i = references::image("nginx").unwrap();
    assert_eq!(
        (i.host.as_str(), i.repository.as_str(), i.reference.as_str()),
        ("docker.io", "library/nginx", "latest")
    );
    let i = references::image("ghcr.io/o/r:1.2").unwrap();
    assert_eq!((i.reference.as_str(), i.pinned), ("1.2", false));
    assert!(references::image("r@sha256:abc").is_err());
    assert!(references::image("a b").is_err());
}

fn targets() -> Targets {
    Targets {
        env: "staging".into(),
        region: "us-east-1".into(),
        services: vec![Target {
            service: "api".into(),
            task_definition: crate::taskdef::TaskDefinition::read(json!({
                "family": "shop-api",
                "executionRoleArn": "arn:aws:iam::1:role/exec",
                "taskRoleArn": "arn:aws:iam::1:role/task",
                "containerDefinitions": [{
                    "name": "api",
                    "image": "1.dkr.ecr.us-east-1.amazonaws.com/shop/api:v1",
                    "secrets": [
                        {"name": "A", "valueFrom": format!("{SM}:password::")},
                        {"name": "B", "valueFrom": "/shop/b"}
                    ],
                    "logConfiguration": {"logDriver": "awslogs", "options": {
                        "awslogs-group": "/ecs/shop", "awslogs-region": "us-east-1",
                        "awslogs-stream-prefix": "api"
                    }}
                }]
            }))
            .unwrap(),
            cluster: "shop".into(),
            ecs_service: "shop-api".into(),
        }],
        schedules: Vec::new(),
    }
}

/// Facts in which everything `targets()` names exists.
fn present() -> Facts {
    let mut f = Facts::default();
    f.secrets.insert(
        ("us-east-1".into(), SM.into()),
        Looked::Found(SecretFacts {
            arn: SM.into(),
            deleted: false,
            versions: BTreeMap::from([("v1".into(), vec!["AWSCURRENT".into()])]),
        }),
    );
    f.parameters
        .insert(("us-east-1".into(), "/shop/b".into()), Looked::Found(()));
    for r in ["exec", "task"] {
        f.roles
            .insert(r.into(), Looked::Found(format!("arn:aws:iam::1:role/{r}")));
    }
    f.images.insert(
        "1.dkr.ecr.us-east-1.amazonaws.com/shop/api:v1".into(),
        Looked::Found(()),
    );
    f.log_groups
        .insert(("us-east-1".into(), "/ecs/shop".into()), Looked::Found(()));
    f.clusters
        .insert("shop".into(), Looked::Found("ACTIVE".into()));
    f.services.insert(
        ("shop".into(), "shop-api".into()),
        Looked::Found("ACTIVE".into()),
    );
    f
}

#[test]
fn everything_present_passes_with_what_was_not_checked_noted() {
    let refs = all_references(&targets());
    assert_eq!(refs.len(), 8, "{refs:#?}");
    let findings = evaluate(&refs, &present());
    assert!(findings.problems.is_empty(), "{findings:#?}");
    assert_eq!(findings.checked, 8);
    assert!(
        findings
            .notes
            .iter()
            .any(|n| n.contains("JSON key is not checked")),
        "{findings:#?}"
    );
}

#[test]
fn every_problem_is_reported_at_once_with_its_field_and_fix() {
    let mut f = present();
    f.secrets
        .insert(("us-east-1".into(), SM.into()), Looked::Missing);
    f.parameters
        .insert(("us-east-1".into(), "/shop/b".into()), Looked::Missing);
    f.roles.insert("exec".into(), Looked::Missing);
    f.roles.insert(
        "task".into(),
        Looked::Failed("GetRole task: AWS said AccessDenied".into()),
    );
    f.images.insert(
        "1.dkr.ecr.us-east-1.amazonaws.com/shop/api:v1".into(),
        Looked::Missing,
    );
    f.log_groups
        .insert(("us-east-1".into(), "/ecs/shop".into()), Looked::Missing);
    f.services.insert(
        ("shop".into(), "shop-api".into()),
        Looked::Found("DRAINING".into()),
    );
    let findings = evaluate(&all_references(&targets()), &f);
    let got: Vec<(&str, &str)> = findings
        .problems
        .iter()
        .map(|p| (p.field.as_str(), p.message.as_str()))
        .collect();
    let fields: Vec<&str> = got.iter().map(|(f, _)| *f).collect();
    assert_eq!(
        fields,
        [
            "executionRoleArn",
            "taskRoleArn",
            "containerDefinitions[0].image",
            "containerDefinitions[0].secrets[0].valueFrom",
            "containerDefinitions[0].secrets[1].valueFrom",
            "containerDefinitions[0].logConfiguration.options.awslogs-group",
            "ecs-service",
        ],
        "{got:#?}"
    );
    assert!(
        got[0].1.contains("IAM role `exec` does not exist"),
        "{got:#?}"
    );
    assert!(
        got[1].1.contains("could not be checked: GetRole task"),
        "{got:#?}"
    );
    assert!(got[3].1.contains("does not exist in us-east-1"), "{got:#?}");
    assert!(got[6].1.contains("DRAINING, not ACTIVE"), "{got:#?}");
    assert!(findings.problems.iter().all(|p| !p.fix.is_empty()));
}

#[test]
fn a_log_group_ecs_creates_and_a_missing_version_are_decided() {
    let mut t = targets();
    let mut td = t.services[0].task_definition.to_value();
    td["containerDefinitions"][0]["logConfiguration"]["options"]["awslogs-create-group"] =
        json!("true");
    td["containerDefinitions"][0]["secrets"][0]["valueFrom"] = json!(format!("{SM}::AWSPENDING:"));
    t.services[0].task_definition = crate::taskdef::TaskDefinition::read(td).unwrap();
    let mut f = present();
    f.log_groups
        .insert(("us-east-1".into(), "/ecs/shop".into()), Looked::Missing);
    let findings = evaluate(&all_references(&t), &f);
    assert_eq!(findings.problems.len(), 1, "{findings:#?}");
    assert!(
        findings.problems[0]
            .message
            .contains("no version labelled `AWSPENDING`"),
        "{findings:#?}"
    );
}

#[test]
fn a_denied_pass_role_is_a_problem_and_an_unsimulated_one_a_note() {
    let mut f = present();
    f.pass = Some(Ok(Passing {
        principal: "arn:aws:iam::1:role/deploy".into(),
        allowed: BTreeMap::from([
            ("arn:aws:iam::1:role/exec".into(), true),
            ("arn:aws:iam::1:role/task".into(), false),
        ]),
    }));
    let findings = evaluate(&all_references(&targets()), &f);
    assert_eq!(findings.problems.len(), 1, "{findings:#?}");
    assert_eq!(findings.problems[0].field, "taskRoleArn");
    assert!(
        findings.problems[0]
            .fix
            .contains("iam:PassRole on arn:aws:iam::1:role/task")
    );

    f.pass = Some(Err("SimulatePrincipalPolicy: AWS said 500".into()));
    let findings = evaluate(&all_references(&targets()), &f);
    assert!(findings.problems.is_empty());
    assert!(findings.notes.iter().any(|n| n.contains("not simulated")));
}

#[test]
fn a_missing_cluster_is_one_problem_not_one_per_service() {
    let mut t = targets();
    let mut second = t.services[0].clone();
    second.service = "worker".into();
    second.ecs_service = "shop-worker".into();
    t.services.push(second);
    let mut f = present();
    f.clusters.insert("shop".into(), Looked::Missing);
    let findings = evaluate(&all_references(&t), &f);
    let fields: Vec<&str> = findings.problems.iter().map(|p| p.field.as_str()).collect();
    assert_eq!(fields, ["cluster"], "{findings:#?}");
}

#[test]
fn the_skip_needs_a_reason_and_the_summary_escapes_outside_text() {
    assert_eq!(Gate::skip(None).unwrap(), Gate::Run);
    assert!(Gate::skip(Some("  ")).is_err());
    assert_eq!(
        Gate::skip(Some(" outage ")).unwrap(),
        Gate::Skip("outage".into())
    );
    let findings = Findings {
        problems: vec![Problem {
            service: "api".into(),
            field: "containerDefinitions[0].secrets[0].valueFrom".into(),
            message: "the SSM parameter `a|b<script>` does not exist".into(),
            fix: "create it".into(),
        }],
        notes: vec![],
        checked: 3,
    };
    let md = summary_markdown("staging", &findings);
    assert!(md.contains("1 problem(s) in 3 references"), "{md}");
    // Inside a code span (literal on GitHub), its `|` escaped for the table.
    assert!(
        md.contains("parameter `a\\|b<script>` does not exist"),
        "{md}"
    );
    let md = skipped_markdown("staging", "@team <b>");
    assert!(!md.contains("<b>") && md.contains("@\u{200b}team"), "{md}");
}

/// `present()` with the service on a subnet and a security group that
/// exist, and Service Connect serving `http`.
fn present_on_network() -> Facts {
    let mut f = present();
    f.networks.insert(
        ("shop".into(), "shop-api".into()),
        ServiceFacts {
            status: "ACTIVE".into(),
            subnets: vec!["subnet-a".into(), "subnet-b".into()],
            security_groups: vec!["sg-1".into()],
            connect_ports: Some(vec!["http".into()]),
        },
    );
    for s in ["subnet-a", "subnet-b"] {
        f.subnets.insert(s.into(), Looked::Found(()));
    }
    f.security_groups.insert("sg-1".into(), Looked::Found(()));
    f
}

/// `targets()` with the port mapping Service Connect serves.
fn targets_with_port(name: &str) -> Targets {
    let mut t = targets();
    let mut td = t.services[0].task_definition.to_value();
    td["containerDefinitions"][0]["portMappings"] = json!([{"containerPort": 8080, "name": name}]);
    t.services[0].task_definition = crate::taskdef::TaskDefinition::read(td).unwrap();
    t
}

#[test]
fn missing_subnets_and_security_groups_are_problems_with_the_others() {
    let t = targets_with_port("http");
    let f = present_on_network();
    let findings = evaluate(&all_references(&t), &f);
    assert!(findings.problems.is_empty(), "{findings:#?}");
    // 8 references, 3 network ids, one Service Connect configuration.
    assert_eq!(findings.checked, 12);

    let mut f = present_on_network();
    f.subnets.insert("subnet-b".into(), Looked::Missing);
    f.security_groups.insert("sg-1".into(), Looked::Missing);
    f.roles.insert("exec".into(), Looked::Missing);
    let findings = evaluate(&all_references(&t), &f);
    let got: Vec<(&str, &str, &str)> = findings
        .problems
        .iter()
        .map(|p| (p.field.as_str(), p.message.as_str(), p.fix.as_str()))
        .collect();
    assert_eq!(got.len(), 3, "{got:#?}");
    assert_eq!(got[0].0, "executionRoleArn");
    assert_eq!(
        got[1].0,
        "ecs-service networkConfiguration.awsvpcConfiguration.subnets[1]"
    );
    assert!(
        got[1]
            .1
            .contains("the subnet `subnet-b` of the ECS service `shop-api`'s network configuration does not exist"),
        "{got:#?}"
    );
    assert!(got[1].2.contains("aws_subnet"), "{got:#?}");
    assert_eq!(
        got[2].0,
        "ecs-service networkConfiguration.awsvpcConfiguration.securityGroups[0]"
    );
    assert!(got[2].2.contains("aws_security_group"), "{got:#?}");

    // A lookup that failed is a problem too (fail closed).
    let mut f = present_on_network();
    f.subnets.insert(
        "subnet-a".into(),
        Looked::Failed("DescribeSubnets: AWS said 403 UnauthorizedOperation".into()),
    );
    let findings = evaluate(&all_references(&t), &f);
    assert_eq!(findings.problems.len(), 1, "{findings:#?}");
    assert!(
        findings.problems[0]
            .message
            .contains("could not be checked")
    );

    // On the manifest (the service's), not the task definition.
    let manifest = crate::manifest::Manifest::parse(
        "project: shop\nregion: us-east-1\nenvironments:\n  staging: { cluster: shop }\nservices:\n  api: { task-definition: td/api.jsonnet }\n",
        std::path::Path::new(".github/ferry.yml"),
    )
    .unwrap();
    let mut f = present_on_network();
    f.subnets.insert("subnet-a".into(), Looked::Missing);
    let findings = evaluate(&all_references(&t), &f);
    let err = verdict(&manifest, "staging", &findings).unwrap_err();
    let d = err.diagnostics();
    assert_eq!(
        d[0].file,
        std::path::PathBuf::from(".github/ferry.yml"),
        "{d:#?}"
    );
}

#[test]
fn service_connect_port_names_must_be_port_mappings_of_the_definition() {
    let f = present_on_network();
    let findings = evaluate(&all_references(&targets_with_port("web")), &f);
    assert_eq!(findings.problems.len(), 1, "{findings:#?}");
    let p = &findings.problems[0];
    assert_eq!(p.field, "containerDefinitions[].portMappings[].name");
    assert!(
        p.message
            .contains("serves the Service Connect port name `http`, which no port mapping of the task definition has (its names: `web`)"),
        "{p:#?}"
    );
    assert!(p.fix.contains("name the port mapping `http`"), "{p:#?}");

    // No Service Connect on the service: any names pass.
    let mut f = present_on_network();
    f.networks
        .get_mut(&("shop".to_string(), "shop-api".to_string()))
        .unwrap()
        .connect_ports = None;
    assert!(
        evaluate(&all_references(&targets_with_port("web")), &f)
            .problems
            .is_empty()
    );
}
