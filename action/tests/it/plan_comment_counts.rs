//! Real plans made by the `terraform` binary from configs using only the
//! built-in `terraform_data` resource (works offline): apply a first state,
//! change the config, plan again. Ferry's counts must equal Terraform's own
//! `Plan:` line, and canary secrets must never come out.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::support::ferry_command;
use crate::support::plan_comment as plan_comment_support;
use crate::support::terraform::Terraform as Tf;

use std::path::{Path, PathBuf};

use ferry::plan_comment::counts::Counts;
use ferry::plan_comment::{load, prepare};
use plan_comment_support::{assert_limits, options};

const CANARY_VAR: &str = "canary-var-4f1d2c9e";
const CANARY_VAR_NEW: &str = "canary-var-new-88a1b0";
const CANARY_ATTR: &str = "canary-attr-6b0e77aa";
const CANARY_OUT: &str = "canary-output-31c5d2";

/// What these scenarios do in a throwaway Terraform folder.
trait Scenario {
    fn apply(&self, main_tf: &str);
    fn plan(&self, main_tf: &str, extra: &[&str]) -> (PathBuf, String);
}

impl Scenario for Tf {
    fn apply(&self, main_tf: &str) {
        self.init(main_tf);
        self.ok(&["apply", "-auto-approve", "-input=false", "-no-color"]);
    }

    /// Plans `main_tf`; returns the JSON plan path and Terraform's summary line.
    fn plan(&self, main_tf: &str, extra: &[&str]) -> (PathBuf, String) {
        self.init(main_tf);
        let mut args = vec!["plan", "-input=false", "-no-color", "-out=tfplan"];
        args.extend(extra);
        let text = self.ok(&args);
        let line = text
            .lines()
            .find(|l| l.starts_with("Plan:") || l.starts_with("No changes."))
            .unwrap_or("(no summary line)")
            .to_string();
        let json = self.ok(&["show", "-json", "tfplan"]);
        let path = self.path().join("plan.json");
        std::fs::write(&path, json).unwrap();
        (path, line)
    }
}

fn counts_of(path: &Path) -> Counts {
    Counts::of(&load::load_plan(path, "terraform").unwrap())
}

/// Plans `after` on top of the applied `before`; checks the `Plan:` line; returns the comment.
fn scenario(before: &str, after: &str, extra: &[&str], expected_line: &str) -> (String, Counts) {
    let tf = Tf::new();
    if !before.is_empty() {
        tf.apply(before);
    }
    let (path, line) = tf.plan(after, extra);
    assert_eq!(
        line, expected_line,
        "Terraform's own line changed: update the test"
    );
    let counts = counts_of(&path);
    if line.starts_with("Plan:") {
        assert_eq!(
            counts.plan_line(),
            line,
            "Ferry's arithmetic differs from Terraform's"
        );
    } else {
        assert!(!counts.has_resource_changes());
    }
    let plan = load::load_plan(&path, "terraform").unwrap();
    let p = prepare(plan, &options("staging", &path), None).unwrap();
    assert_limits(&p);
    (p.comment, counts)
}

#[test]
fn create() {
    let after = r#"
resource "terraform_data" "a" { input = "one" }
resource "terraform_data" "b" { input = { name = "two", ports = [80, 443] } }
"#;
    let (comment, _) = scenario("", after, &[], "Plan: 2 to add, 0 to change, 0 to destroy.");
    assert!(
        comment.contains("`terraform_data.a`") && comment.contains("will be created"),
        "{comment}"
    );
}

#[test]
fn update_in_place_with_nested_values() {
    let before = r#"resource "terraform_data" "a" { input = { size = "small", tags = { env = "stg", old = "x" }, ports = [80] } }"#;
    let after = r#"resource "terraform_data" "a" { input = { size = "large", tags = { env = "stg", new = "y" }, ports = [80, 443] } }"#;
    let (comment, _) = scenario(
        before,
        after,
        &[],
        "Plan: 0 to add, 1 to change, 0 to destroy.",
    );
    for line in [
        r#"~ input.size = "small" -> "large""#,
        r#"- input.tags.old = "x""#,
        r#"+ input.tags.new = "y""#,
        "+ input.ports[*] = 443",
        "~ output = ",
    ] {
        assert!(comment.contains(line), "missing {line:?} in\n{comment}");
    }
}

#[test]
fn replace_destroy_first_and_create_before_destroy() {
    let before = r#"
resource "terraform_data" "plain" { triggers_replace = "v1" }
resource "terraform_data" "cbd" {
  triggers_replace = "v1"
  lifecycle { create_before_destroy = true }
}
"#;
    let after = before.replace("\"v1\"", "\"v2\"");
    let (comment, counts) = scenario(
        before,
        &after,
        &[],
        "Plan: 2 to add, 0 to change, 2 to destroy.",
    );
    assert_eq!(counts.replace, 2);
    assert!(
        comment.contains("`terraform_data.plain` **must be replaced** (destroy, then create)"),
        "{comment}"
    );
    assert!(
        comment.contains(
            "`terraform_data.cbd` **must be replaced** (create the new one before destroying"
        ),
        "{comment}"
    );
    assert!(
        comment.contains("forces replacement: `triggers_replace`"),
        "{comment}"
    );
}

#[test]
fn delete_is_listed_first_with_its_reason() {
    let before = r#"
resource "terraform_data" "keep" { input = "a" }
resource "terraform_data" "gone" { input = "b" }
resource "terraform_data" "new" { input = "c" }
"#;
    let after = r#"
resource "terraform_data" "keep" { input = "a2" }
resource "terraform_data" "new2" { input = "c" }
resource "terraform_data" "new" { input = "c" }
"#;
    let (comment, _) = scenario(
        before,
        after,
        &[],
        "Plan: 1 to add, 1 to change, 1 to destroy.",
    );
    let destroy = comment
        .find("`terraform_data.gone` **will be destroyed**")
        .expect(&comment);
    assert!(destroy < comment.find("`terraform_data.keep`").unwrap());
    assert!(
        comment.contains("its resource block is no longer in the configuration"),
        "{comment}"
    );
}

#[test]
fn destroy_mode() {
    let before = r#"
resource "terraform_data" "a" { input = "a" }
resource "terraform_data" "b" { input = "b" }
"#;
    let (comment, _) = scenario(
        before,
        before,
        &["-destroy"],
        "Plan: 0 to add, 0 to change, 2 to destroy.",
    );
    assert!(comment.contains("will be destroyed"), "{comment}");
}

#[test]
fn moved_and_forgotten_are_not_destroys() {
    let before = r#"
resource "terraform_data" "old_name" { input = "a" }
resource "terraform_data" "leave" { input = "b" }
"#;
    let after = r#"
resource "terraform_data" "new_name" { input = "a" }
moved {
  from = terraform_data.old_name
  to   = terraform_data.new_name
}
removed {
  from = terraform_data.leave
  lifecycle { destroy = false }
}
"#;
    let (comment, counts) = scenario(
        before,
        after,
        &[],
        "Plan: 0 to add, 0 to change, 0 to destroy.",
    );
    assert_eq!((counts.moved, counts.forget, counts.destroy), (1, 1, 0));
    assert!(
        comment.contains("`terraform_data.old_name` → `terraform_data.new_name`"),
        "{comment}"
    );
    assert!(
        comment.contains("forget `terraform_data.leave`"),
        "{comment}"
    );
    assert!(
        comment.contains("1 to forget (removed from the state, not destroyed)"),
        "{comment}"
    );
}

#[test]
fn no_changes() {
    let cfg = r#"resource "terraform_data" "a" { input = "a" }"#;
    let (comment, _) = scenario(
        cfg,
        cfg,
        &[],
        "No changes. Your infrastructure matches the configuration.",
    );
    assert!(comment.contains("**No changes.**"), "{comment}");
}

#[test]
fn many_resources() {
    let before = r#"resource "terraform_data" "n" {
  count = 40
  input = "v1-${count.index}"
}"#;
    let after = r#"resource "terraform_data" "n" {
  count = 30
  input = count.index < 10 ? "v2-${count.index}" : "v1-${count.index}"
}
resource "terraform_data" "m" {
  count = 150
  input = count.index
}"#;
    let (comment, counts) = scenario(
        before,
        after,
        &[],
        "Plan: 150 to add, 10 to change, 10 to destroy.",
    );
    assert_eq!(counts.destroy, 10);
    assert!(
        comment.contains("terraform_data.m[149]"),
        "creates are listed as addresses"
    );
}

fn sensitive_config(password: &str) -> String {
    format!(
        r#"
variable "db_password" {{
  type      = string
  sensitive = true
  default   = "{password}"
}}
resource "terraform_data" "db" {{
  input = {{ user = "app", password = var.db_password, token = sensitive("{CANARY_ATTR}") }}
}}
output "dsn" {{
  value     = "postgres://app:${{var.db_password}}@db/{CANARY_OUT}"
  sensitive = true
}}
"#
    )
}

#[test]
fn canary_secrets_never_come_out() {
    let tf = Tf::new();
    tf.apply(&sensitive_config(CANARY_VAR));
    let (path, line) = tf.plan(&sensitive_config(CANARY_VAR_NEW), &[]);
    assert_eq!(line, "Plan: 0 to add, 1 to change, 0 to destroy.");
    assert_eq!(counts_of(&path).plan_line(), line);
    // Through the binary: stdout, stderr, the outputs file and the job summary.
    let outputs = tf.path().join("outputs.txt");
    let summary = tf.path().join("summary.md");
    let out = ferry_command()
        .args(["plan-comment", "--env", "staging", "--dry-run", "--plan"])
        .arg(&path)
        .env("GITHUB_OUTPUT", &outputs)
        .env("GITHUB_STEP_SUMMARY", &summary)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("(sensitive value)"), "{stdout}");
    let everything = format!(
        "{stdout}{}{}{}",
        String::from_utf8_lossy(&out.stderr),
        std::fs::read_to_string(&outputs).unwrap(),
        std::fs::read_to_string(&summary).unwrap()
    );
    for canary in [CANARY_VAR, CANARY_VAR_NEW, CANARY_ATTR, CANARY_OUT] {
        // The plan JSON does hold them (in `variables` and `prior_state`)...
        // ...but nothing Ferry writes does.
        assert!(
            !everything.contains(canary),
            "{canary} leaked:\n{everything}"
        );
    }
    assert!(
        std::fs::read_to_string(&path)
            .unwrap()
            .contains(CANARY_VAR_NEW),
        "the test plan should carry the secret"
    );
    assert!(
        std::fs::read_to_string(&outputs)
            .unwrap()
            .contains("has-changes=true")
    );
}

#[test]
fn binary_plan_is_shown_by_terraform() {
    let tf = Tf::new();
    let (_, line) = tf.plan(r#"resource "terraform_data" "a" { input = "x" }"#, &[]);
    let out = ferry_command()
        .args([
            "plan-comment",
            "--env",
            "prod",
            "--dry-run",
            "--plan",
            "tfplan",
        ])
        .current_dir(tf.path())
        .env("TF_CLI_CONFIG_FILE", tf.cli_config())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && stdout.contains(&line),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
