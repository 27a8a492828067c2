//! Scheduled jobs (`services.<name>.schedule.<env>`) through the binary:
//! an EventBridge rule's ECS target for the service's family moves to the
//! revision a deploy registers, and back after a failed release; dry runs,
//! `ferry diff` and preflight show the rule; bad manifest shapes fail with
//! the key and the fix.
//!
//! Stand-ins: a private moto per test (EventBridge's PutRule, PutTargets
//! and ListTargetsByRule are real there; `MOTO_ECS_SERVICE_RUNNING=1` for
//! a service that reaches steady state), behind the recording proxy of
//! `support/recorder.rs` so the tests count PutTargets; and, for the failed
//! release, the scripted ECS endpoint of `support/scripted.rs` (moto never
//! fails a rollout) beside moto's EventBridge, reached through the SDK's
//! service-specific `AWS_ENDPOINT_URL_EVENTBRIDGE`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;

use aws_sdk_eventbridge::types::{
    AwsVpcConfiguration, EcsParameters, LaunchType, NetworkConfiguration, Target,
};
use serde_json::Value;

use crate::support::deploy::{
    ACCOUNT, EXAMPLE_PATHS, Moto, REGION, copy_repo, create_service, image, repo_of,
    task_definition,
};
use crate::support::recorder::RecordingProxy;
use crate::support::scripted::{self, Scripted};
use crate::support::{AWS_VARS, Run, everything, ferry_without};

const RULE: &str = "shop-staging-nightly";
const FAMILY: &str = "shop-staging-report";
const TD: &str = "arn:aws:ecs:us-east-1:123456789012:task-definition/";
const SKIP: &str = "these tests check the schedule; preflight has its own";

fn td(family: &str, revision: u32) -> String {
    format!("{TD}{family}:{revision}")
}

/// The SDK config of a test's own moto.
async fn config(endpoint: &str) -> aws_config::SdkConfig {
    aws_config::defaults(aws_config::BehaviorVersion::latest())
        .endpoint_url(endpoint)
        .region(aws_config::Region::new(REGION))
        .credentials_provider(aws_sdk_ecs::config::Credentials::new(
            "test", "test", None, None, "test",
        ))
        .load()
        .await
}

/// A scheduled ECS target as Terraform's aws_cloudwatch_event_target
/// writes it: every field set, so a test sees that only the revision moves.
fn ecs_target(id: &str, task_definition: &str) -> Target {
    Target::builder()
        .id(id)
        .arn(format!(
            "arn:aws:ecs:{REGION}:{ACCOUNT}:cluster/shop-staging"
        ))
        .role_arn(format!("arn:aws:iam::{ACCOUNT}:role/shop-events"))
        .input(r#"{"containerOverrides":[{"name":"report","command":["report","--nightly"]}]}"#)
        .ecs_parameters(
            EcsParameters::builder()
                .task_definition_arn(task_definition)
                .task_count(1)
                .launch_type(LaunchType::Fargate)
                .network_configuration(
                    NetworkConfiguration::builder()
                        .awsvpc_configuration(
                            AwsVpcConfiguration::builder()
                                .subnets("subnet-0a1b2c3d")
                                .security_groups("sg-0a1b2c3d")
                                .build()
                                .unwrap(),
                        )
                        .build(),
                )
                .build()
                .unwrap(),
        )
        .build()
        .unwrap()
}

/// Creates `rule` (a daily schedule) with these targets (id, task definition).
async fn seed_rule(endpoint: &str, rule: &str, targets: &[(&str, &str)]) {
    let events = aws_sdk_eventbridge::Client::new(&config(endpoint).await);
    events
        .put_rule()
        .name(rule)
        .schedule_expression("rate(1 day)")
        .send()
        .await
        .unwrap();
    if targets.is_empty() {
        return;
    }
    let put = events
        .put_targets()
        .rule(rule)
        .set_targets(Some(
            targets.iter().map(|(id, td)| ecs_target(id, td)).collect(),
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(put.failed_entry_count(), 0, "{put:?}");
}

/// The targets of `rule`, by id.
async fn targets(endpoint: &str, rule: &str) -> Vec<Target> {
    aws_sdk_eventbridge::Client::new(&config(endpoint).await)
        .list_targets_by_rule()
        .rule(rule)
        .send()
        .await
        .unwrap()
        .targets()
        .to_vec()
}

fn revision_of(targets: &[Target], id: &str) -> String {
    targets
        .iter()
        .find(|t| t.id() == id)
        .and_then(|t| t.ecs_parameters())
        .map(|e| e.task_definition_arn().to_string())
        .unwrap_or_else(|| panic!("no target {id}: {targets:?}"))
}

/// The report job's definition, with `image`.
fn report_definition(image: &str) -> Value {
    task_definition(
        "report",
        &format!("arn:aws:iam::{ACCOUNT}:role/shop"),
        &["/shop/report/token"],
        "/ecs/shop-staging/report",
        image,
        true,
    )
}

/// The shop repository of `services`, `report` scheduled by `schedule`
/// (the YAML of `services.report.schedule`).
fn shop(services: &[(&str, Value)], schedules: &[(&str, &str)]) -> tempfile::TempDir {
    let dir = repo_of(
        &services
            .iter()
            .map(|(s, v)| ((*s).to_string(), v.clone()))
            .collect::<Vec<_>>(),
    );
    let path = dir.path().join(".github/ferry.yml");
    let mut manifest = std::fs::read_to_string(&path).unwrap();
    for (service, schedule) in schedules {
        let line =
            format!("  {service}: {{ task-definition: task-definitions/{service}.jsonnet }}\n");
        assert!(manifest.contains(&line), "{manifest}");
        manifest = manifest.replace(
            &line,
            &format!(
                "  {service}:\n    task-definition: task-definitions/{service}.jsonnet\n    schedule: {schedule}\n"
            ),
        );
    }
    std::fs::write(&path, manifest).unwrap();
    dir
}

/// Runs `ferry <args>` in `dir` with test credentials, AWS at `endpoint`
/// and the `extra` variables.
fn ferry(dir: &Path, args: &[&str], endpoint: &str, extra: &[(&str, &str)]) -> Run {
    let home = tempfile::tempdir().unwrap();
    let home_s = home.path().display().to_string();
    let none = home.path().join("none").display().to_string();
    let mut env = vec![
        ("HOME", home_s.as_str()),
        ("AWS_CONFIG_FILE", none.as_str()),
        ("AWS_SHARED_CREDENTIALS_FILE", none.as_str()),
        ("AWS_EC2_METADATA_DISABLED", "true"),
        ("AWS_ENDPOINT_URL", endpoint),
        ("AWS_ACCESS_KEY_ID", "test"),
        ("AWS_SECRET_ACCESS_KEY", "test"),
    ];
    env.extend_from_slice(extra);
    let mut remove = AWS_VARS.to_vec();
    remove.push("AWS_ENDPOINT_URL_EVENTBRIDGE");
    ferry_without(dir, args, &env, &remove)
}

/// The report service in moto's ECS on revision 1, its rule with a target
/// for it and one for another family.
async fn report_world(endpoint: &str) -> String {
    let ecs = aws_sdk_ecs::Client::new(&config(endpoint).await);
    let first =
        ferry::taskdef::TaskDefinition::read(report_definition(&image("report", "1"))).unwrap();
    create_service(&ecs, "shop-staging", "shop-staging-report", &first).await;
    let export = td("shop-staging-export", 4);
    seed_rule(
        endpoint,
        RULE,
        &[("report", &td(FAMILY, 1)), ("export", &export)],
    )
    .await;
    export
}

const SCHEDULE: &str = "{ staging: { rule: '{project}-{env}-nightly' } }";

fn puts(proxy: &RecordingProxy) -> Vec<String> {
    proxy
        .calls()
        .into_iter()
        .filter(|c| c.op == "PutTargets")
        .map(|c| c.body)
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_deploy_moves_the_rules_target_to_the_new_revision_and_a_re_run_puts_nothing() {
    let moto = Moto::start(1);
    let proxy = RecordingProxy::start(&moto.url);
    let export = report_world(&moto.url).await;
    let before = targets(&moto.url, RULE).await;
    let dir = shop(
        &[("report", report_definition("IMAGE"))],
        &[("report", SCHEDULE)],
    );
    let images = format!("report={}", image("report", "2"));
    let deploy = |images: &str| {
        ferry(
            dir.path(),
            // --no-wait: moto never completes a rollout the way ECS does.
            &[
                "deploy",
                "--env",
                "staging",
                "--images",
                images,
                "--skip-preflight",
                SKIP,
                "--no-wait",
            ],
            &proxy.url,
            &[],
        )
    };

    let run = deploy(&images);
    let all = everything(&run);
    assert_eq!(run.code, 0, "{all}");
    assert!(
        all.contains("report (staging): EventBridge rule shop-staging-nightly target report: shop-staging-report:1 → shop-staging-report:2"),
        "{all}"
    );
    let after = targets(&moto.url, RULE).await;
    assert_eq!(revision_of(&after, "report"), td(FAMILY, 2));
    // The other family's target is left alone.
    assert_eq!(revision_of(&after, "export"), export);
    // Every other field of the target is kept.
    let (was, now) = (
        before.iter().find(|t| t.id() == "report").unwrap(),
        after.iter().find(|t| t.id() == "report").unwrap(),
    );
    let mut expected = was.clone();
    expected
        .ecs_parameters
        .as_mut()
        .unwrap()
        .task_definition_arn = td(FAMILY, 2);
    assert_eq!(now, &expected);
    let sent = puts(&proxy);
    assert_eq!(sent.len(), 1, "{sent:?}");
    assert!(
        !sent[0].contains("\"export\""),
        "only ours is put: {}",
        sent[0]
    );
    // The summary's section.
    assert!(all.contains("### Scheduled jobs"), "{all}");
    assert!(
        all.contains("shop-staging-report:1 → shop-staging-report:2"),
        "{all}"
    );

    // A re-run of the same release: the same revision, no PutTargets.
    let again = deploy(&images);
    let all = everything(&again);
    assert_eq!(again.code, 0, "{all}");
    assert!(
        all.contains("target report: already runs shop-staging-report:2"),
        "{all}"
    );
    assert_eq!(puts(&proxy).len(), 1, "a re-run put a target");
    assert_eq!(
        revision_of(&targets(&moto.url, RULE).await, "report"),
        td(FAMILY, 2)
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_failed_release_puts_the_rules_target_back_on_the_revision_it_ran() {
    // EventBridge and CloudWatch Logs in moto; ECS is the scripted endpoint
    // whose circuit breaker fails revision 8 (moto never fails a rollout).
    let moto = Moto::start(0);
    let proxy = RecordingProxy::start(&moto.url);
    let rule = "email-platform-staging-sampleapi-nightly";
    seed_rule(&moto.url, rule, &[("sampleapi", &scripted::arn(7))]).await;
    let message = scripted::failing_event();
    let script = Scripted::start(move |r| scripted::circuit_breaker(r, &message)).await;
    let dir = copy_repo(EXAMPLE_PATHS);
    let path = dir.path().join(".github/ferry.yml");
    let manifest = std::fs::read_to_string(&path).unwrap();
    let anchor = "    image-repository: \"{project}/sampleapi\"\n";
    assert!(manifest.contains(anchor));
    std::fs::write(
        &path,
        manifest.replace(
            anchor,
            &format!("{anchor}    schedule:\n      staging: {{ rule: '{{project}}-{{env}}-sampleapi-nightly' }}\n"),
        ),
    )
    .unwrap();

    let run = ferry(
        dir.path(),
        &[
            "deploy",
            "--env",
            "staging",
            "--images",
            &format!("sampleapi={}", image("sampleapi", "8")),
            "--skip-preflight",
            SKIP,
            "--poll-interval",
            "50ms",
            "--timeout",
            "20s",
        ],
        &script.url,
        &[
            ("AWS_ENDPOINT_URL_EVENTBRIDGE", proxy.url.as_str()),
            ("AWS_ENDPOINT_URL_CLOUDWATCH_LOGS", moto.url.as_str()),
        ],
    );
    let all = everything(&run);
    assert_eq!(run.code, 1, "{all}");
    assert_eq!(run.output("status"), "failed", "{all}");
    for said in [
        "sampleapi (staging): EventBridge rule email-platform-staging-sampleapi-nightly target sampleapi: email-platform-staging-sampleapi:7 → email-platform-staging-sampleapi:8",
        "the release failed: restored to email-platform-staging-sampleapi:7",
        "email-platform-staging-sampleapi:7 → email-platform-staging-sampleapi:8, restored to email-platform-staging-sampleapi:7 (the release failed)",
    ] {
        assert!(all.contains(said), "`{said}` missing:\n{all}");
    }
    // Moved to 8 after registering, then back to 7.
    let sent: Vec<String> = puts(&proxy)
        .iter()
        .map(|b| {
            let v: Value = serde_json::from_str(b).unwrap();
            v["Targets"][0]["EcsParameters"]["TaskDefinitionArn"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect();
    assert_eq!(sent, [scripted::arn(8), scripted::arn(7)]);
    assert_eq!(
        revision_of(&targets(&moto.url, rule).await, "sampleapi"),
        scripted::arn(7)
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_dry_run_and_a_diff_show_the_target_move_and_change_nothing() {
    let moto = Moto::start(1);
    let proxy = RecordingProxy::start(&moto.url);
    report_world(&moto.url).await;
    let dir = shop(
        &[("report", report_definition("IMAGE"))],
        &[("report", SCHEDULE)],
    );
    let next = image("report", "2");

    let dry = ferry(
        dir.path(),
        &[
            "deploy",
            "--env",
            "staging",
            "--images",
            &format!("report={next}"),
            "--dry-run",
        ],
        &proxy.url,
        &[],
    );
    let all = everything(&dry);
    assert_eq!(dry.code, 0, "{all}");
    assert!(
        all.contains("dry run: report (staging): EventBridge rule shop-staging-nightly target report: shop-staging-report:1 → shop-staging-report:2"),
        "{all}"
    );

    let diff = ferry(
        dir.path(),
        &[
            "diff",
            "--service",
            "report",
            "--env",
            "staging",
            "--image",
            &next,
        ],
        &proxy.url,
        &[("GITHUB_ACTIONS", "true")],
    );
    let all = everything(&diff);
    assert_eq!(diff.code, 0, "{all}");
    assert_eq!(diff.output("has-changes"), "true", "{all}");
    assert!(
        diff.output("changes").lines().any(|l| l
            == "schedule: EventBridge rule shop-staging-nightly target report: shop-staging-report:1 → shop-staging-report:2"),
        "{all}"
    );
    let ops = proxy.ops();
    for op in ["PutTargets", "RegisterTaskDefinition", "UpdateService"] {
        assert!(!ops.iter().any(|o| o == op), "{op} in {ops:?}");
    }
    assert_eq!(
        revision_of(&targets(&moto.url, RULE).await, "report"),
        td(FAMILY, 1)
    );

    // Without credentials the dry run still says what would move.
    let home = tempfile::tempdir().unwrap();
    let home_s = home.path().display().to_string();
    let none = home.path().join("none").display().to_string();
    let mut remove = AWS_VARS.to_vec();
    remove.extend([
        "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY",
        "AWS_SESSION_TOKEN",
        "AWS_PROFILE",
    ]);
    let offline = ferry_without(
        dir.path(),
        &[
            "deploy",
            "--env",
            "staging",
            "--images",
            &format!("report={next}"),
            "--dry-run",
        ],
        &[
            ("HOME", home_s.as_str()),
            ("AWS_CONFIG_FILE", none.as_str()),
            ("AWS_SHARED_CREDENTIALS_FILE", none.as_str()),
            ("AWS_EC2_METADATA_DISABLED", "true"),
        ],
        &remove,
    );
    let all = everything(&offline);
    assert_eq!(offline.code, 0, "{all}");
    assert!(
        all.contains("dry run: report (staging): EventBridge rule shop-staging-nightly: its target for shop-staging-report would move to the revision this deploy registers (its current revision not read: no AWS credentials)"),
        "{all}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn preflight_reports_a_missing_rule_and_a_rule_without_the_familys_target_at_once() {
    let moto = Moto::start(1);
    let proxy = RecordingProxy::start(&moto.url);
    let services = ["report".to_string(), "export".to_string()];
    let w = crate::preflight::world_of(&moto.url, &services).await;
    let definition = |service: &str| {
        task_definition(
            service,
            &format!("arn:aws:iam::{ACCOUNT}:role/shop"),
            &[&format!("/shop/{service}/token")],
            &format!("/ecs/shop-staging/{service}"),
            "IMAGE",
            true,
        )
    };
    // The export rule runs another family; the report rule does not exist.
    seed_rule(
        &moto.url,
        "shop-staging-exports",
        &[("x", &td("shop-staging-other", 1))],
    )
    .await;
    let dir = shop(
        &[
            ("report", definition("report")),
            ("export", definition("export")),
        ],
        &[
            ("report", SCHEDULE),
            ("export", "{ staging: { rule: shop-staging-exports } }"),
        ],
    );
    let images = format!("report={},export={}", w.images[0], w.images[1]);
    let preflight = || {
        ferry(
            dir.path(),
            &["preflight", "--env", "staging", "--images", &images],
            &proxy.url,
            &[],
        )
    };

    let run = preflight();
    let all = everything(&run);
    assert_ne!(run.code, 0, "{all}");
    assert_eq!(run.output("status"), "failed", "{all}");
    let problems: Vec<Value> = serde_json::from_str(run.output("problems")).unwrap();
    let ours: Vec<(&str, &str, &str)> = problems
        .iter()
        .map(|p| {
            (
                p["service"].as_str().unwrap(),
                p["field"].as_str().unwrap(),
                p["problem"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        ours,
        [
            (
                "report",
                "schedule.staging.rule",
                "the EventBridge rule shop-staging-nightly does not exist"
            ),
            (
                "export",
                "schedule.staging.rule",
                "the EventBridge rule shop-staging-exports has no ECS target that runs shop-staging-export (its targets: x runs shop-staging-other:1)"
            ),
        ],
        "{all}"
    );
    assert!(
        all.contains(".github/ferry.yml"),
        "the manifest is named: {all}"
    );
    assert!(all.contains("aws_cloudwatch_event_target"), "{all}");

    // A deploy stops there: nothing registered, no target put.
    let deploy = ferry(
        dir.path(),
        &[
            "deploy",
            "--env",
            "staging",
            "--images",
            &images,
            "--no-wait",
        ],
        &proxy.url,
        &[],
    );
    assert_ne!(deploy.code, 0, "{}", everything(&deploy));
    let ops = proxy.ops();
    for op in crate::preflight::MUTATING.iter().chain(&["PutTargets"]) {
        assert!(!ops.iter().any(|o| o == op), "{op} in {ops:?}");
    }

    // Both fixed: preflight passes.
    seed_rule(&moto.url, RULE, &[("report", &td(FAMILY, 1))]).await;
    seed_rule(
        &moto.url,
        "shop-staging-exports",
        &[("export", &format!("{TD}shop-staging-export"))],
    )
    .await;
    let run = preflight();
    let all = everything(&run);
    assert_eq!(run.code, 0, "{all}");
    assert_eq!(run.output("status"), "passed", "{all}");
}

#[tokio::test(flavor = "multi_thread")]
async fn bad_schedules_in_the_manifest_fail_with_the_key_and_the_fix() {
    let dir = shop(
        &[
            ("report", report_definition("IMAGE")),
            ("export", report_definition("IMAGE")),
        ],
        &[
            ("report", "{ staging: shop-staging-nightly }"),
            (
                "export",
                "{ staging: { rule: 'arn:aws:events:us-east-1:1:rule/nightly' }, prdo: { rule: x } }",
            ),
        ],
    );
    let run = ferry(
        dir.path(),
        &[
            "deploy",
            "--env",
            "staging",
            "--images",
            &format!("report={}", image("report", "2")),
            "--dry-run",
        ],
        "http://127.0.0.1:9",
        &[],
    );
    let all = everything(&run);
    assert_ne!(run.code, 0, "{all}");
    assert!(
        all.contains("services.report.schedule.staging: invalid type: string \"shop-staging-nightly\", expected a mapping naming the EventBridge rule, e.g. `{ rule: nightly-report }`"),
        "{all}"
    );
    let fixed = shop(
        &[("export", report_definition("IMAGE"))],
        &[(
            "export",
            "{ staging: { rule: 'arn:aws:events:us-east-1:1:rule/nightly' }, prdo: { rule: x } }",
        )],
    );
    let run = ferry(
        fixed.path(),
        &["render", "--check"],
        "http://127.0.0.1:9",
        &[],
    );
    let all = everything(&run);
    assert_ne!(run.code, 0, "{all}");
    for said in [
        "rule \"arn:aws:events:us-east-1:1:rule/nightly\" has ':', which EventBridge does not allow in a rule name",
        "write the rule's name (letters, digits, `.`, `-`, `_`), not its ARN or a description",
        "`prdo` is not a declared environment",
    ] {
        assert!(all.contains(said), "`{said}` missing:\n{all}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn without_preflight_a_rule_without_the_familys_target_fails_the_service_before_its_update() {
    let moto = Moto::start(1);
    let proxy = RecordingProxy::start(&moto.url);
    let ecs = aws_sdk_ecs::Client::new(&config(&moto.url).await);
    let first =
        ferry::taskdef::TaskDefinition::read(report_definition(&image("report", "1"))).unwrap();
    create_service(&ecs, "shop-staging", "shop-staging-report", &first).await;
    seed_rule(
        &moto.url,
        RULE,
        &[("export", &td("shop-staging-export", 4))],
    )
    .await;
    let dir = shop(
        &[("report", report_definition("IMAGE"))],
        &[("report", SCHEDULE)],
    );
    let run = ferry(
        dir.path(),
        &[
            "deploy",
            "--env",
            "staging",
            "--images",
            &format!("report={}", image("report", "2")),
            "--skip-preflight",
            SKIP,
            "--no-wait",
        ],
        &proxy.url,
        &[],
    );
    let all = everything(&run);
    assert_eq!(run.code, 1, "{all}");
    assert_eq!(run.output("status"), "failed", "{all}");
    assert!(
        all.contains("schedule: the EventBridge rule shop-staging-nightly has no ECS target that runs shop-staging-report (its targets: export runs shop-staging-export:4)"),
        "{all}"
    );
    assert!(all.contains("the service was not changed"), "{all}");
    let ops = proxy.ops();
    for op in ["UpdateService", "PutTargets"] {
        assert!(!ops.iter().any(|o| o == op), "{op} in {ops:?}");
    }
}
