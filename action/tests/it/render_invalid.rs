//! `ferry render` refuses what ECS would refuse, and bad Jsonnet, each with
//! its own message, a non-zero exit, and no file written.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::support;

const MANIFEST: &str = "project: demo
region: us-east-1
environments:
  staging: { cluster: demo-staging }
  prod: { cluster: demo-prod, promote-from: staging }
services:
  svc:
    paths: [svc/**]
    task-definition: task-definitions/svc.jsonnet
";

/// A valid task definition with two holes: `CPATCH` merged into the
/// container, `TPATCH` into the task definition.
const TEMPLATE: &str = "local base = import 'lib/base.libsonnet';
local c = base.container('svc', base.image(), {
  cpu: 128, memory: 256,
  portMappings: [base.portMapping(8080)],
  environment: [base.envVar('A', '1')],
  healthCheck: base.healthCheck(['/bin/svc', 'health']),
} + CPATCH);
local td = base.taskDefinition('svc', [c], { cpu: '256', memory: '512' });
td + TPATCH
";

fn bed(jsonnet: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let root = support::root();
    std::fs::create_dir_all(dir.path().join(".github")).unwrap();
    std::fs::create_dir_all(dir.path().join("task-definitions/lib")).unwrap();
    std::fs::write(dir.path().join(".github/ferry.yml"), MANIFEST).unwrap();
    std::fs::copy(
        root.join("task-definitions/lib/base.libsonnet"),
        dir.path().join("task-definitions/lib/base.libsonnet"),
    )
    .unwrap();
    std::fs::write(dir.path().join("task-definitions/svc.jsonnet"), jsonnet).unwrap();
    dir
}

fn patched(cpatch: &str, tpatch: &str) -> String {
    TEMPLATE.replace("CPATCH", cpatch).replace("TPATCH", tpatch)
}

fn render(jsonnet: &str, extra: &[&str]) -> (support::Run, bool) {
    let dir = bed(jsonnet);
    let mut args = vec![
        "render",
        "--service",
        "svc",
        "--env",
        "prod",
        "--out",
        "out.json",
        "--image",
        "1.dkr.ecr.us-east-1.amazonaws.com/demo/svc:svc-abc1234",
        "--ext-str",
        "EXECUTION_ROLE_ARN=arn:aws:iam::1:role/e",
        "--ext-str",
        "TASK_ROLE_ARN=arn:aws:iam::1:role/t",
    ];
    args.extend_from_slice(extra);
    let run = support::ferry(dir.path(), &args);
    let written = dir.path().join("out.json").exists();
    (run, written)
}

#[test]
fn the_template_itself_is_valid() {
    let (run, written) = render(&patched("{}", "{}"), &[]);
    assert_eq!(run.code, 0, "{run:#?}");
    assert!(written);
}

const KB: &str = "std.join('', std.makeArray(1000, function(j) 'x'))";

/// (name, container patch, task patch, expected message fragment)
const CASES: &[(&str, &str, &str, &str)] = &[
    (
        "family_chars",
        "{}",
        "{ family: 'bad name!' }",
        "family `bad name!` is not 1-255 letters",
    ),
    (
        "family_length",
        "{}",
        "{ family: std.join('', std.makeArray(256, function(i) 'a')) }",
        "family `aaaa",
    ),
    (
        "container_name",
        "{ name: 'web.app' }",
        "{}",
        "container name `web.app`",
    ),
    (
        "no_containers",
        "{}",
        "{ containerDefinitions: [] }",
        "0 containers; a task definition has 1 to 10",
    ),
    (
        "eleven_containers",
        "{}",
        "{ containerDefinitions: [c { name: 'c%d' % i, cpu: 0, memory: 0 } for i in std.range(1, 11)] }",
        "11 containers",
    ),
    (
        "no_essential",
        "{ essential: false }",
        "{}",
        "no container is essential",
    ),
    (
        "network_mode",
        "{}",
        "{ networkMode: 'bridge' }",
        "Fargate tasks need networkMode awsvpc",
    ),
    (
        "cpu_not_fargate",
        "{ cpu: 0 }",
        "{ cpu: '300' }",
        "task cpu 300 is not a Fargate size",
    ),
    (
        "memory_pair",
        "{}",
        "{ memory: '4096' }",
        "task memory 4096 MiB does not go with cpu 256",
    ),
    (
        "sixteen_vcpu_step",
        "{}",
        "{ cpu: '16384', memory: '36864' }",
        "task memory 36864 MiB does not go with cpu 16384",
    ),
    (
        "container_cpu_sum",
        "{ cpu: 512 }",
        "{}",
        "the containers' cpu adds up to 512, more than the task's 256",
    ),
    (
        "container_memory_sum",
        "{ memory: 1024 }",
        "{}",
        "the containers' memory adds up to 1024 MiB",
    ),
    (
        "memory_reservation",
        "{ memoryReservation: 257 }",
        "{}",
        "memoryReservation 257 is above memory 256",
    ),
    (
        "host_port",
        "{ portMappings: [{ containerPort: 8080, hostPort: 80 }] }",
        "{}",
        "hostPort 80 differs from containerPort",
    ),
    (
        "hc_interval",
        "{ healthCheck+: { interval: 4 } }",
        "{}",
        "health check interval 4 is outside 5-300",
    ),
    (
        "hc_timeout",
        "{ healthCheck+: { timeout: 61 } }",
        "{}",
        "health check timeout 61 is outside 2-60",
    ),
    (
        "hc_retries",
        "{ healthCheck+: { retries: 0 } }",
        "{}",
        "health check retries 0 is outside 1-10",
    ),
    (
        "hc_start_period",
        "{ healthCheck+: { startPeriod: 301 } }",
        "{}",
        "health check startPeriod 301 is outside 0-300",
    ),
    (
        "stop_timeout",
        "{ stopTimeout: 121 }",
        "{}",
        "stopTimeout 121 is over Fargate's 120 seconds",
    ),
    (
        "ephemeral_storage",
        "{}",
        "{ ephemeralStorage: { sizeInGiB: 201 } }",
        "ephemeral storage 201 GiB; Fargate takes 21 to 200",
    ),
    (
        "tags",
        "{}",
        "{ tags: [{ key: 'k%d' % i, value: 'v' } for i in std.range(1, 51)] }",
        "51 tags; ECS allows 50",
    ),
    (
        "duplicate_env",
        "{ environment: [base.envVar('A', '1'), base.envVar('A', '2')] }",
        "{}",
        "environment variable A is defined twice",
    ),
    (
        "secret_without_value_from",
        "{ secrets: [{ name: 'KEY' }] }",
        "{}",
        "containerDefinitions[0].secrets[0] has no valueFrom, which ECS requires",
    ),
    (
        "secret_not_arn",
        "{ secrets: [base.secret('KEY', 'my secret')] }",
        "{}",
        "secret valueFrom \"my secret\" is not a Secrets Manager or SSM parameter ARN",
    ),
    ("empty_image", "{ image: '' }", "{}", "the image is empty"),
    (
        "latest_in_prod",
        "{ image: 'demo/svc:latest' }",
        "{}",
        "image demo/svc:latest is :latest in production",
    ),
    (
        "total_size",
        "{ environment: [base.envVar('V%d' % i, KB) for i in std.range(1, 70)] }",
        "{}",
        "bytes; ECS takes at most 65536",
    ),
    (
        "unknown_field",
        "{}",
        "{ desiredCount: 2 }",
        "desiredCount is not a RegisterTaskDefinition field",
    ),
];

#[test]
fn each_broken_rule_has_its_own_message_and_writes_nothing() {
    let mut messages = std::collections::BTreeSet::new();
    for (name, cpatch, tpatch, want) in CASES {
        let (run, written) = render(&patched(&cpatch.replace("KB", KB), tpatch), &[]);
        assert_ne!(run.code, 0, "{name}: exit 0\n{}", run.stderr);
        assert!(!written, "{name}: out.json was written");
        assert!(
            run.stderr.contains(want),
            "{name}: want {want:?} in\n{}",
            run.stderr
        );
        assert!(
            run.stderr
                .contains("task-definitions/svc.jsonnet: svc (prod): "),
            "{name}: no file in\n{}",
            run.stderr
        );
        assert!(
            run.stderr.contains("help: "),
            "{name}: no help in\n{}",
            run.stderr
        );
        let first = run
            .stderr
            .lines()
            .find(|l| l.starts_with("error: "))
            .unwrap()
            .to_string();
        assert!(
            messages.insert(first.clone()),
            "{name}: same message as another case: {first}"
        );
    }
    assert!(CASES.len() >= 25);
}

/// (name, whole file, extra args, expected location, expected message)
const JSONNET_CASES: &[(&str, &str, &[&str], &str, &str)] = &[
    (
        "syntax",
        "{\n  family: ,\n}\n",
        &[],
        "task-definitions/svc.jsonnet:2:",
        "syntax error",
    ),
    (
        "missing_ext_str",
        "{ family: std.extVar('NOT_GIVEN') }\n",
        &[],
        "task-definitions/svc.jsonnet:1:",
        "NOT_GIVEN",
    ),
    (
        "empty_ext_str",
        "local base = import 'lib/base.libsonnet';\n{ x: base.input('EMPTY') }\n",
        &["--ext-str", "EMPTY="],
        "task-definitions/lib/base.libsonnet:",
        "ext-str EMPTY is empty",
    ),
    (
        "missing_import",
        "local x = import 'lib/nope.libsonnet';\nx\n",
        &[],
        "task-definitions/svc.jsonnet:1:",
        "nope.libsonnet",
    ),
    (
        "runtime_error",
        "local f(x) = if x > 1 then error 'boom: x is ' + x else x;\n{ family: f(2) }\n",
        &[],
        "task-definitions/svc.jsonnet:1:",
        "boom: x is 2",
    ),
];

#[test]
fn jsonnet_errors_are_located_and_write_nothing() {
    for (name, text, extra, at, want) in JSONNET_CASES {
        let (run, written) = render(text, extra);
        assert_ne!(run.code, 0, "{name}: exit 0");
        assert!(!written, "{name}: out.json was written");
        let line = run
            .stderr
            .lines()
            .find(|l| l.starts_with("error: "))
            .unwrap_or_default();
        assert!(
            line.contains(at) && line.contains(want),
            "{name}: want {at:?} and {want:?} in\n{}",
            run.stderr
        );
    }
}

#[test]
fn actions_get_an_error_annotation_with_file_and_line() {
    let dir = bed("{\n  family: ,\n}\n");
    let run = support::ferry_with(
        dir.path(),
        &["render", "--service", "svc", "--env", "staging"],
        &[("GITHUB_ACTIONS", "true")],
    );
    assert_ne!(run.code, 0);
    assert!(
        run.stdout
            .contains("::error file=task-definitions/svc.jsonnet,line=2,col="),
        "{}",
        run.stdout
    );
}

#[test]
fn check_lists_every_problem_of_every_target() {
    let dir = bed(&patched("{ stopTimeout: 121 }", "{ family: 'x y' }"));
    let run = support::ferry(
        dir.path(),
        &[
            "render",
            "--check",
            "--ext-str",
            "ECR_REPOSITORY=1.dkr.ecr.us-east-1.amazonaws.com/demo/svc",
            "--ext-str",
            "EXECUTION_ROLE_ARN=arn:aws:iam::1:role/e",
            "--ext-str",
            "TASK_ROLE_ARN=arn:aws:iam::1:role/t",
        ],
    );
    assert_ne!(run.code, 0);
    for want in [
        "svc (staging): family",
        "svc (prod): family",
        "svc (staging): containerDefinitions[0].stopTimeout",
        "svc (prod): containerDefinitions[0].stopTimeout",
    ] {
        assert!(
            run.stderr.contains(want),
            "want {want:?} in\n{}",
            run.stderr
        );
    }
}

#[test]
fn an_undefined_local_is_located_and_lint_warnings_are_left_out() {
    // jrsonnet finds it before evaluating (static analysis, no stack trace),
    // and lists its lint warnings with it.
    let dir = bed(&TEMPLATE
        .replace("CPATCH", "{ environment: [base.envVar('PORT', portt)] }")
        .replace("TPATCH", "{}"));
    let run = support::ferry_with(
        dir.path(),
        &["render", "--service", "svc", "--env", "staging"],
        &[("GITHUB_ACTIONS", "true")],
    );
    assert_ne!(run.code, 0);
    assert!(
        run.stdout
            .contains("::error file=task-definitions/svc.jsonnet,line=7,col="),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout.contains("undefined local: portt"),
        "{}",
        run.stdout
    );
    assert!(!run.stdout.contains("hoisted"), "{}", run.stdout);
}

/// What the docs refuse but ECS registers is a warning that says why, and
/// the task definition is written; a null is an absent field.
#[test]
fn what_ecs_accepts_against_the_docs_is_a_warning_and_nulls_are_absent() {
    let (run, written) = render(
        &patched(
            "{ memoryReservation: 256, stopTimeout: null, secrets: [base.secret('KEY', 'api-key')] }",
            "{ ipcMode: null }",
        ),
        &[],
    );
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(written);
    let all = format!("{}{}", run.stdout, run.stderr);
    assert!(
        all.contains(
            "memoryReservation 256 equals memory 256: the docs ask for less, but ECS registers it"
        ),
        "{all}"
    );
    assert!(
        all.contains("ECS reads it as the name of an SSM parameter in the task's region"),
        "{all}"
    );
    assert!(all.contains("rule: Secret.valueFrom"), "{all}");
}
