//! `ferry render`: the repository's task definitions render, validate, and
//! equal the reference Jsonnet's output; bad input fails with its own
//! message and writes nothing.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::support;
use crate::support::root;

use std::path::{Path, PathBuf};
use std::process::Command;

use ferry::manifest::Manifest;
use ferry::render::{self, Options};

const IMAGE: &str = "111111111111.dkr.ecr.us-east-1.amazonaws.com/email-platform/sampleapi:sampleapi-abc1234-20261125120000";

fn manifest() -> Manifest {
    let root = root();
    Manifest::load(
        &root.join(ferry::manifest::DEFAULT_PATH),
        Path::new(ferry::manifest::DEFAULT_PATH),
    )
    .unwrap()
}

fn opts() -> Options {
    Options {
        image: Some(IMAGE.into()),
        ..Options::default()
    }
}

/// The reference implementation: PyPI `jsonnet` (0.22.0) from the test bed's
/// venv (`FERRY_TEST_PYTHON`, else `.testbed/venv-moto/bin/python`).
fn python() -> PathBuf {
    let path = std::env::var_os("FERRY_TEST_PYTHON")
        .map(PathBuf::from)
        .unwrap_or_else(|| root().join(".testbed/venv-moto/bin/python"));
    let ok = Command::new(&path)
        .args(["-c", "import _jsonnet"])
        .output()
        .is_ok_and(|o| o.status.success());
    assert!(
        ok,
        "the reference Jsonnet is missing: {} cannot import _jsonnet. Run `scripts/testbed install` (it installs jsonnet==0.22.0) or set FERRY_TEST_PYTHON to a python with jsonnet==0.22.0",
        path.display()
    );
    path
}

fn reference(
    root: &Path,
    file: &str,
    ext: &std::collections::BTreeMap<String, String>,
) -> serde_json::Value {
    let script = "import _jsonnet, json, sys\nargs = json.load(sys.stdin)\nprint(_jsonnet.evaluate_file(args['file'], ext_vars=args['ext'], jpathdir=[args['jpath']]))";
    let input = serde_json::json!({
        "file": root.join(file),
        "ext": ext,
        "jpath": root.join("task-definitions"),
    });
    let mut child = Command::new(python())
        .args(["-c", script])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    use std::io::Write;
    child
        .stdin
        .take()
        .unwrap()
        .write_all(input.to_string().as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "reference jsonnet failed on {file}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

#[test]
fn every_service_and_environment_renders_validates_and_equals_the_reference() {
    let root = root();
    let m = manifest();
    let mut count = 0;
    for (service, conf) in &m.services {
        for env in m.environments.keys() {
            let rendered = render::render_one(&root, &m, service, env, &opts())
                .unwrap_or_else(|d| panic!("{service} ({env}): {d:#?}"));
            let ext = render::ext_strs(&root, &m, service, env, &opts()).unwrap();
            let ours = render::jsonnet::evaluate(&root, &conf.task_definition, &ext).unwrap();
            let theirs = reference(&root, &conf.task_definition, &ext);
            assert_eq!(
                ours, theirs,
                "{service} ({env}): jrsonnet and the reference Jsonnet differ"
            );
            // Nothing the API would refuse was stripped: the output is the whole evaluation.
            assert_eq!(rendered.task_definition.to_value(), ours);
            count += 1;
        }
    }
    assert_eq!(count, 4);
}

#[test]
fn snapshots_of_every_service_and_environment() {
    let root = root();
    let m = manifest();
    for service in m.services.keys() {
        for env in m.environments.keys() {
            let rendered = render::render_one(&root, &m, service, env, &opts()).unwrap();
            insta::assert_json_snapshot!(format!("{service}-{env}"), rendered.task_definition);
        }
    }
}

#[test]
fn render_writes_the_file_and_the_output() {
    let out = tempfile::tempdir().unwrap();
    let file = out.path().join("td.json");
    let run = support::ferry_with(
        &root(),
        &[
            "render",
            "--service",
            "sampleworker",
            "--env",
            "staging",
            "--image",
            IMAGE,
            "--out",
            file.to_str().unwrap(),
        ],
        &[("GITHUB_ACTIONS", "true")],
    );
    assert_eq!(run.code, 0, "{run:#?}");
    assert_eq!(run.output("task-definition"), file.to_str().unwrap());
    let td: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&file).unwrap()).unwrap();
    assert_eq!(td["family"], "email-platform-staging-sampleworker");
    assert_eq!(td["containerDefinitions"][0]["image"], IMAGE);
}

#[test]
fn ext_str_flags_and_environment_override_the_values_file() {
    let root = root();
    let m = manifest();
    let mut o = opts();
    o.env_vars
        .insert("FERRY_EXT_LOG_GROUP".into(), "/from/env".into());
    o.env_vars
        .insert("FERRY_EXT_SQS_QUEUE_URL".into(), "https://from-env".into());
    o.ext_strs
        .push(("SQS_QUEUE_URL".into(), "https://from-flag".into()));
    let ext = render::ext_strs(&root, &m, "sampleapi", "prod", &o).unwrap();
    assert_eq!(ext["LOG_GROUP"], "/from/env");
    assert_eq!(ext["SQS_QUEUE_URL"], "https://from-flag");
    assert_eq!(
        ext["EXECUTION_ROLE_ARN"],
        "arn:aws:iam::111111111111:role/email-platform-prod-sampleapi-execution"
    );
    assert_eq!(ext["IMAGE"], IMAGE);
}

#[test]
fn check_renders_everything_without_an_image_and_writes_nothing() {
    let run = support::ferry(&root(), &["render", "--check"]);
    assert_eq!(run.code, 0, "{run:#?}");
    for target in [
        "sampleapi (staging)",
        "sampleapi (prod)",
        "sampleworker (staging)",
        "sampleworker (prod)",
    ] {
        assert!(
            run.stderr.contains(&format!("ok: {target}")),
            "{}",
            run.stderr
        );
    }
}
