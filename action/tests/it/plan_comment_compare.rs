//! Staging against prod in one view, through the binary
//! (`ferry plan-comment --env prod --compare-with staging=FILE --dry-run`):
//! plans in the shape of this repository's platform (ECS services, log
//! groups, alarms, queues, roles; the variables of
//! `terraform/aws/environments/*.tfvars`), snapshot-tested:
//!
//! - prod missing a change staging has, a value no variable explains, and
//!   two different actions: unexpected, listed first, each saying which
//!   plan has what;
//! - plans that differ only by the tfvars (names carrying the environment,
//!   sizes, retention): no unexpected difference, the rest folded with the
//!   variable that explains each attribute.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use serde_json::{Value, json};

use crate::support::ferry;

fn variables(env: &str) -> Value {
    let (retention, desired, cidr, nat) = match env {
        "staging" => (30, 1, "10.20.0.0/16", true),
        _ => (90, 2, "10.30.0.0/16", false),
    };
    json!({
        "environment": {"value": env},
        "region": {"value": "us-east-1"},
        "aws_account_id": {"value": "111111111111"},
        "log_retention_days": {"value": retention},
        "vpc_cidr": {"value": cidr},
        "single_nat_gateway": {"value": nat},
        "services": {"value": {
            "sampleapi": {"cpu": 256, "memory": 512, "min_count": 1, "desired_count": desired, "max_count": 4},
            "sampleworker": {"cpu": 256, "memory": 512, "min_count": 1, "desired_count": desired, "max_count": 4}
        }}
    })
}

fn change(address: &str, kind: &str, actions: &[&str], before: Value, after: Value) -> Value {
    json!({"address": address, "mode": "managed", "type": kind, "name": "x",
        "change": {"actions": actions, "before": before, "after": after,
            "after_unknown": {}, "before_sensitive": {}, "after_sensitive": {}}})
}

/// The changes both environments get from one pull request: a bigger
/// service, longer log retention, the task role's name. `desired` and
/// `retention` come from the tfvars.
fn common(env: &str, desired: u64, retention: u64) -> Vec<Value> {
    let cluster = format!("arn:aws:ecs:us-east-1:111111111111:cluster/email-platform-{env}");
    vec![
        change(
            "aws_ecs_service.service[\"sampleapi\"]",
            "aws_ecs_service",
            &["update"],
            json!({"name": format!("email-platform-{env}-sampleapi"), "cluster": cluster, "desired_count": 1,
                   "deployment_circuit_breaker": [{"enable": true, "rollback": true}]}),
            json!({"name": format!("email-platform-{env}-sampleapi"), "cluster": cluster, "desired_count": desired,
                   "deployment_circuit_breaker": [{"enable": true, "rollback": true}]}),
        ),
        change(
            "aws_cloudwatch_log_group.service[\"sampleapi\"]",
            "aws_cloudwatch_log_group",
            &["update"],
            json!({"name": format!("/ecs/email-platform-{env}/sampleapi"), "retention_in_days": 14}),
            json!({"name": format!("/ecs/email-platform-{env}/sampleapi"), "retention_in_days": retention}),
        ),
        change(
            "aws_iam_role.task[\"sampleapi\"]",
            "aws_iam_role",
            &["update"],
            json!({"name": format!("email-platform-{env}-sampleapi-task"), "max_session_duration": 3600}),
            json!({"name": format!("email-platform-{env}-sampleapi-task"), "max_session_duration": 7200}),
        ),
        change(
            "aws_iam_role.task[\"sampleworker\"]",
            "aws_iam_role",
            &["update"],
            json!({"name": format!("email-platform-{env}-sampleworker-task"), "max_session_duration": 3600}),
            json!({"name": format!("email-platform-{env}-sampleworker-task"), "max_session_duration": 7200}),
        ),
    ]
}

fn plan(env: &str, changes: Vec<Value>) -> String {
    json!({"format_version": "1.2", "terraform_version": "1.11.4",
        "variables": variables(env), "resource_changes": changes})
    .to_string()
}

fn section(stdout: &str) -> String {
    let start = stdout
        .find("<!-- ferry:compare -->")
        .expect("a comparison section");
    let end = stdout.find("<!-- /ferry:compare -->").unwrap() + "<!-- /ferry:compare -->".len();
    stdout[start..end].to_string()
}

fn compare(staging: &str, prod: &str) -> String {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("staging.json"), staging).unwrap();
    std::fs::write(dir.path().join("prod.json"), prod).unwrap();
    let run = ferry(
        dir.path(),
        &[
            "plan-comment",
            "--env",
            "prod",
            "--plan",
            "prod.json",
            "--compare-with",
            "staging=staging.json",
            "--dry-run",
        ],
    );
    assert_eq!(run.code, 0, "{run:#?}");
    // The comparison follows the plan in the same comment.
    let plan_at = run.stdout.find("aws_ecs_service.service").unwrap();
    assert!(plan_at < run.stdout.find("<!-- ferry:compare -->").unwrap());
    section(&run.stdout)
}

#[test]
fn prod_missing_a_change_staging_has_is_unexpected_and_listed_first() {
    let mut staging = common("staging", 1, 30);
    staging.push(change(
        "aws_sqs_queue.dead_letter",
        "aws_sqs_queue",
        &["create"],
        Value::Null,
        json!({"name": "email-platform-staging-dlq", "message_retention_seconds": 1209600}),
    ));
    staging.push(change(
        "aws_cloudwatch_metric_alarm.api_5xx",
        "aws_cloudwatch_metric_alarm",
        &["update"],
        json!({"alarm_name": "email-platform-staging-api-5xx", "threshold": 1}),
        json!({"alarm_name": "email-platform-staging-api-5xx", "threshold": 5}),
    ));
    staging.push(change(
        "aws_security_group_rule.alb_ingress",
        "aws_security_group_rule",
        &["update"],
        json!({"from_port": 443, "cidr_blocks": ["10.20.0.0/16"]}),
        json!({"from_port": 443, "cidr_blocks": ["10.20.0.0/16", "10.21.0.0/16"]}),
    ));
    let mut prod = common("prod", 2, 90);
    prod.push(change(
        "aws_cloudwatch_metric_alarm.api_5xx",
        "aws_cloudwatch_metric_alarm",
        &["update"],
        json!({"alarm_name": "email-platform-prod-api-5xx", "threshold": 1}),
        json!({"alarm_name": "email-platform-prod-api-5xx", "threshold": 10}),
    ));
    prod.push(change(
        "aws_security_group_rule.alb_ingress",
        "aws_security_group_rule",
        &["delete", "create"],
        json!({"from_port": 443, "cidr_blocks": ["10.30.0.0/16"]}),
        json!({"from_port": 8443, "cidr_blocks": ["10.30.0.0/16"]}),
    ));
    prod.push(change(
        "aws_wafv2_web_acl.prod_only",
        "aws_wafv2_web_acl",
        &["create"],
        Value::Null,
        json!({"name": "email-platform-prod-waf"}),
    ));
    let md = compare(&plan("staging", staging), &plan("prod", prod));
    assert!(
        md.find("unexpected difference").unwrap() < md.find("<details>").unwrap(),
        "unexpected first: {md}"
    );
    insta::assert_snapshot!("compare_prod_missing_a_change", md);
}

#[test]
fn plans_differing_only_by_the_tfvars_show_no_unexpected_difference() {
    let md = compare(
        &plan("staging", common("staging", 1, 30)),
        &plan("prod", common("prod", 2, 90)),
    );
    assert!(md.contains("No unexpected difference"), "{md}");
    insta::assert_snapshot!("compare_tfvars_only", md);
}

#[test]
fn a_bad_compare_with_is_refused_naming_the_shape() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("prod.json"), plan("prod", vec![])).unwrap();
    for (arg, says) in [
        ("staging", "expected ENV=FILE"),
        ("=x.json", "expected ENV=FILE"),
        ("staging=missing.json", "missing.json"),
    ] {
        let run = ferry(
            dir.path(),
            &[
                "plan-comment",
                "--env",
                "prod",
                "--plan",
                "prod.json",
                "--compare-with",
                arg,
                "--dry-run",
            ],
        );
        assert_ne!(run.code, 0, "{arg}: {run:#?}");
        assert!(
            crate::support::everything(&run).contains(says),
            "{arg}: {run:#?}"
        );
    }
}
