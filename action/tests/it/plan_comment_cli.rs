//! The binary's behaviour around GitHub Actions: dry runs, outputs, the
//! token rule, custom templates, and `plan-verify`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;
use std::process::Output;

use crate::support::ferry_command;

const PLAN_A: &str = r#"{"format_version":"1.2","planned_values":{},"resource_changes":[
 {"address":"terraform_data.a","mode":"managed","type":"terraform_data","name":"a",
  "change":{"actions":["delete"],"before":{"input":"x"},"after":null}},
 {"address":"terraform_data.b","mode":"managed","type":"terraform_data","name":"b","deposed":"00000001",
  "change":{"actions":["delete"],"before":{"input":"old"},"after":null}},
 {"address":"terraform_data.b","mode":"managed","type":"terraform_data","name":"b",
  "change":{"actions":["create"],"before":null,"after":{"input":"new"},"after_unknown":{"id":true}}}]}"#;

fn ferry(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut cmd = ferry_command();
    cmd.args(args).current_dir(dir);
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.output().unwrap()
}

fn setup() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("plan.json"), PLAN_A).unwrap();
    std::fs::write(
        dir.path().join("pr.json"),
        r#"{"action":"synchronize","number":7,"pull_request":{"number":7,
            "base":{"sha":"1111111111111111111111111111111111111111","ref":"main"},
            "head":{"sha":"2222222222222222222222222222222222222222","ref":"feature"}}}"#,
    )
    .unwrap();
    std::fs::write(
        dir.path().join("push.json"),
        r#"{"ref":"refs/heads/main","before":"1111111111111111111111111111111111111111","after":"2222222222222222222222222222222222222222"}"#,
    )
    .unwrap();
    dir
}

#[test]
fn dry_run_prints_what_reviewers_read_and_writes_outputs() {
    let dir = setup();
    let out_file = dir.path().join("out.txt");
    let summary = dir.path().join("summary.md");
    let out = ferry(
        dir.path(),
        &[
            "plan-comment",
            "--env",
            "staging",
            "--plan",
            "plan.json",
            "--dry-run",
        ],
        &[
            ("GITHUB_OUTPUT", out_file.to_str().unwrap()),
            ("GITHUB_STEP_SUMMARY", summary.to_str().unwrap()),
        ],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.starts_with("<!-- ferry:plan:staging -->\n<!-- ferry:plan-meta hash=sha256:"),
        "{stdout}"
    );
    assert!(
        stdout.contains("Plan: 1 to add, 0 to change, 2 to destroy."),
        "{stdout}"
    );
    // The deposed object keeps its own row.
    assert!(
        stdout.contains("`terraform_data.b` (deposed object `00000001`) **will be destroyed**"),
        "{stdout}"
    );
    let outputs = std::fs::read_to_string(&out_file).unwrap();
    for line in [
        "has-changes=true",
        "has-destroy=true",
        "add=1",
        "change=0",
        "destroy=2",
    ] {
        assert!(
            outputs.lines().any(|l| l == line),
            "{line} missing in {outputs}"
        );
    }
    let summary = std::fs::read_to_string(&summary).unwrap();
    assert!(
        summary.contains("Plan: 1 to add") && !summary.contains("ferry:plan:staging"),
        "{summary}"
    );
}

#[test]
fn outside_a_pull_request_it_prints_instead_of_posting() {
    let dir = setup();
    let push = dir.path().join("push.json");
    let out = ferry(
        dir.path(),
        &["plan-comment", "--env", "staging", "--plan", "plan.json"],
        &[
            ("GITHUB_ACTIONS", "true"),
            ("GITHUB_EVENT_NAME", "push"),
            ("GITHUB_EVENT_PATH", push.to_str().unwrap()),
            ("GITHUB_REPOSITORY", "o/r"),
        ],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("ferry:plan:staging"));
}

#[test]
fn on_a_pull_request_a_missing_token_is_an_error() {
    let dir = setup();
    let pr = dir.path().join("pr.json");
    let out = ferry(
        dir.path(),
        &["plan-comment", "--env", "staging", "--plan", "plan.json"],
        &[
            ("GITHUB_ACTIONS", "true"),
            ("GITHUB_EVENT_NAME", "pull_request"),
            ("GITHUB_EVENT_PATH", pr.to_str().unwrap()),
            ("GITHUB_REPOSITORY", "o/r"),
        ],
    );
    assert!(!out.status.success());
    // In Actions, workflow commands go to stdout, where the runner reads them.
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.starts_with("::error::no GitHub token"), "{stdout}");
}

#[test]
fn a_custom_template_gets_the_documented_model() {
    let dir = setup();
    std::fs::write(
        dir.path().join("t.md.tera"),
        "{{ plan.marker | safe }}\n{{ plan.env }}: +{{ plan.counts.add }} -{{ plan.counts.destroy }}\n{% for r in plan.destroys %}{{ r.address | code }} {{ r.address }}{% if r.deposed %}/{{ r.deposed }}{% endif %};{% endfor %}\n",
    )
    .unwrap();
    let out = ferry(
        dir.path(),
        &[
            "plan-comment",
            "--env",
            "prod",
            "--plan",
            "plan.json",
            "--dry-run",
            "--template",
            "t.md.tera",
        ],
        &[],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        // Autoescape: a value without a filter is plain text (the marker
        // would be `&lt;!-- …` without `| safe`).
        "<!-- ferry:plan:prod -->\nprod: +1 -2\n`terraform_data.a` terraform_data.a;`terraform_data.b` terraform_data.b/00000001;\n"
            .replace("\nprod", &format!("\n{}\nprod", metadata_line(dir.path())))
    );
    std::fs::write(dir.path().join("bad.tera"), "{% for x in %}").unwrap();
    let out = ferry(
        dir.path(),
        &[
            "plan-comment",
            "--env",
            "prod",
            "--plan",
            "plan.json",
            "--dry-run",
            "--template",
            "bad.tera",
        ],
        &[],
    );
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("template bad.tera"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The metadata line the built-in template writes for plan.json.
fn metadata_line(dir: &Path) -> String {
    let out = ferry(
        dir,
        &[
            "plan-comment",
            "--env",
            "prod",
            "--plan",
            "plan.json",
            "--dry-run",
        ],
        &[],
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .nth(1)
        .unwrap()
        .to_string()
}

#[test]
fn plan_verify_compares_with_the_reviewed_hash() {
    let dir = setup();
    let out = ferry(
        dir.path(),
        &[
            "plan-comment",
            "--env",
            "staging",
            "--plan",
            "plan.json",
            "--dry-run",
        ],
        &[],
    );
    let body = String::from_utf8_lossy(&out.stdout).to_string();
    let hash = body
        .split("hash=")
        .nth(1)
        .unwrap()
        .split(' ')
        .next()
        .unwrap()
        .to_string();
    let ok = ferry(
        dir.path(),
        &[
            "plan-verify",
            "--env",
            "staging",
            "--plan",
            "plan.json",
            "--expected-hash",
            &hash,
        ],
        &[],
    );
    assert!(
        ok.status.success(),
        "{}",
        String::from_utf8_lossy(&ok.stderr)
    );
    // Same changes, different order and whitespace: same hash.
    let reordered: serde_json::Value = serde_json::from_str(PLAN_A).unwrap();
    let mut reordered = reordered;
    reordered["resource_changes"]
        .as_array_mut()
        .unwrap()
        .reverse();
    std::fs::write(
        dir.path().join("same.json"),
        serde_json::to_string_pretty(&reordered).unwrap(),
    )
    .unwrap();
    let same = ferry(
        dir.path(),
        &[
            "plan-verify",
            "--env",
            "staging",
            "--plan",
            "same.json",
            "--expected-hash",
            &hash,
        ],
        &[],
    );
    assert!(
        same.status.success(),
        "{}",
        String::from_utf8_lossy(&same.stderr)
    );
    // One value changed: refused.
    std::fs::write(
        dir.path().join("other.json"),
        PLAN_A.replace("\"new\"", "\"newer\""),
    )
    .unwrap();
    let bad = ferry(
        dir.path(),
        &[
            "plan-verify",
            "--env",
            "staging",
            "--plan",
            "other.json",
            "--expected-hash",
            &hash,
        ],
        &[],
    );
    assert!(!bad.status.success());
    assert!(
        String::from_utf8_lossy(&bad.stderr).contains("differs from the one reviewed"),
        "{}",
        String::from_utf8_lossy(&bad.stderr)
    );
}

#[test]
fn redact_patterns_apply_to_every_output() {
    let dir = setup();
    let summary = dir.path().join("summary.md");
    let out = ferry(
        dir.path(),
        &[
            "plan-comment",
            "--env",
            "staging",
            "--plan",
            "plan.json",
            "--dry-run",
            "--redact",
            "terraform_data\\.[ab]",
        ],
        &[("GITHUB_STEP_SUMMARY", summary.to_str().unwrap())],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    let summary = std::fs::read_to_string(&summary).unwrap();
    for text in [&*stdout, &*summary] {
        assert!(
            !text.contains("terraform_data.a") && text.contains("(redacted)"),
            "{text}"
        );
    }
    let bad = ferry(
        dir.path(),
        &[
            "plan-comment",
            "--env",
            "staging",
            "--plan",
            "plan.json",
            "--dry-run",
            "--redact",
            "(unclosed-SECRETISH",
        ],
        &[],
    );
    assert!(!bad.status.success());
    let stderr = String::from_utf8_lossy(&bad.stderr);
    assert!(
        stderr.contains("--redact pattern #1") && !stderr.contains("SECRETISH"),
        "{stderr}"
    );
}
