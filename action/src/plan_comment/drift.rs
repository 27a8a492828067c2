//! `ferry drift`: what changed in the real infrastructure outside
//! Terraform, from a `terraform plan -refresh-only` plan, less what is meant
//! to change there: attributes Ferry itself sets on every deploy
//! ([`FERRY_OWNED`]) and those a resource's `lifecycle { ignore_changes }`
//! names ([`ignored_attributes`]), so that a deploy never reads as drift.
//!
//! [`filter`] is pure: it rewrites the plan's `resource_drift`, dropping the
//! left-out attributes from both sides and every object left unchanged. The
//! rest is rendered as the plan comment renders drift.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use serde_json::Value;
use serde_json::value::RawValue;

use super::model::{RawChange, RawPlan};

/// Attributes `ferry deploy` sets, by resource type: the service's task
/// definition (every release), its deployment configuration and circuit
/// breaker (the manifest's `rollout:`), the CloudWatch alarms a deploy
/// attaches, and the revision a task definition resource points at once
/// Ferry has registered newer ones.
pub const FERRY_OWNED: &[(&str, &[&str])] = &[
    (
        "aws_ecs_service",
        &[
            "task_definition",
            "deployment_configuration",
            "deployment_circuit_breaker",
            "alarms",
        ],
    ),
    (
        "aws_ecs_task_definition",
        &["revision", "arn", "arn_without_revision"],
    ),
];

/// One step of an attribute path.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Step {
    Key(String),
    Index(usize),
}

/// `deployment_configuration[0].strategy` → steps; `None` for a shape
/// Ferry does not read (a splat, a quoted key).
fn steps(path: &str) -> Option<Vec<Step>> {
    let mut out = Vec::new();
    for part in path.split('.') {
        let (name, mut rest) = match part.find('[') {
            Some(i) => (&part[..i], &part[i..]),
            None => (part, ""),
        };
        if name.is_empty()
            || !name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
        {
            return None;
        }
        out.push(Step::Key(name.to_string()));
        while let Some(r) = rest.strip_prefix('[') {
            let end = r.find(']')?;
            out.push(Step::Index(r[..end].parse().ok()?));
            rest = &r[end + 1..];
        }
        if !rest.is_empty() {
            return None;
        }
    }
    Some(out)
}

/// Removes the value at `path` (and everything under it) from `v`.
fn remove(v: &mut Value, path: &[Step]) {
    match (path, v) {
        ([Step::Key(k)], Value::Object(map)) => {
            map.remove(k);
        }
        ([Step::Key(k), rest @ ..], Value::Object(map)) => {
            if let Some(child) = map.get_mut(k) {
                remove(child, rest);
            }
        }
        ([Step::Index(i), rest @ ..], Value::Array(items)) if !rest.is_empty() => {
            if let Some(child) = items.get_mut(*i) {
                remove(child, rest);
            }
        }
        // Removing one element would shift the others: blank it instead.
        ([Step::Index(i)], Value::Array(items)) => {
            if let Some(child) = items.get_mut(*i) {
                *child = Value::Null;
            }
        }
        _ => {}
    }
}

/// The `ignore_changes` lists of the `.tf` files under `dir` (recursively),
/// by `(resource type, resource name)`. `ignore_changes = all` is `["*"]`.
/// A plain scanner, not an HCL parser: it finds `resource "T" "N" {`, the
/// block's end by its braces (outside strings and comments), and the list
/// after `ignore_changes =` inside it.
pub fn ignored_attributes(dir: &Path) -> std::io::Result<BTreeMap<(String, String), Vec<String>>> {
    let mut out = BTreeMap::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d)? {
            let entry = entry?;
            let path = entry.path();
            let kind = entry.file_type()?;
            if kind.is_dir() && !entry.file_name().to_string_lossy().starts_with('.') {
                stack.push(path);
            } else if kind.is_file() && path.extension().is_some_and(|e| e == "tf") {
                let text = std::fs::read_to_string(&path)?;
                for (key, attrs) in scan(&text) {
                    out.entry(key).or_insert_with(Vec::new).extend(attrs);
                }
            }
        }
    }
    Ok(out)
}

/// The `(type, name) → ignore_changes` of one file's text.
fn scan(text: &str) -> Vec<((String, String), Vec<String>)> {
    let clean = strip_comments_and_strings(text);
    let mut out = Vec::new();
    let header =
        regex::Regex::new(r#"(?m)^\s*resource\s+"([A-Za-z0-9_]+)"\s+"([A-Za-z0-9_-]+)"\s*\{"#).ok();
    let Some(header) = header else {
        return out;
    };
    for cap in header.captures_iter(text) {
        let (Some(whole), Some(t), Some(n)) = (cap.get(0), cap.get(1), cap.get(2)) else {
            continue;
        };
        // The block's extent, by braces in the cleaned text (same offsets).
        let bytes = clean.as_bytes();
        let mut depth = 0usize;
        let mut end = bytes.len();
        for (i, b) in bytes.iter().enumerate().skip(whole.end() - 1) {
            match b {
                b'{' => depth += 1,
                b'}' => {
                    depth = depth.saturating_sub(1);
                    if depth == 0 {
                        end = i;
                        break;
                    }
                }
                _ => {}
            }
        }
        let block = &clean[whole.end()..end];
        let attrs = ignore_lists(block);
        if !attrs.is_empty() {
            out.push(((t.as_str().to_string(), n.as_str().to_string()), attrs));
        }
    }
    out
}

/// The attributes of every `ignore_changes = [...]` (or `= all`, as `*`)
/// in a resource block's cleaned text; brackets inside the list (`[0]`)
/// are matched, not taken for its end.
fn ignore_lists(block: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = block;
    while let Some(i) = rest.find("ignore_changes") {
        rest = &rest[i + "ignore_changes".len()..];
        let Some(after_eq) = rest.trim_start().strip_prefix('=') else {
            continue;
        };
        let value = after_eq.trim_start();
        if value.starts_with("all") {
            out.push("*".to_string());
            continue;
        }
        let Some(list) = value.strip_prefix('[') else {
            continue;
        };
        let mut depth = 1usize;
        let mut end = list.len();
        for (j, c) in list.char_indices() {
            match c {
                '[' => depth += 1,
                ']' => {
                    depth -= 1;
                    if depth == 0 {
                        end = j;
                        break;
                    }
                }
                _ => {}
            }
        }
        out.extend(
            list[..end]
                .split(',')
                .map(|a| a.split_whitespace().collect::<String>())
                .filter(|a| !a.is_empty()),
        );
        rest = &list[end.min(list.len())..];
    }
    out
}

/// `text` with comments and string contents replaced by spaces (offsets
/// kept), so braces inside them do not count.
fn strip_comments_and_strings(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.char_indices().peekable();
    let blank = |c: char, out: &mut String| {
        if c == '\n' {
            out.push('\n');
        } else {
            out.extend(std::iter::repeat_n(' ', c.len_utf8()));
        }
    };
    while let Some((_, c)) = chars.next() {
        match c {
            '#' => {
                blank(c, &mut out);
                while let Some(&(_, n)) = chars.peek() {
                    if n == '\n' {
                        break;
                    }
                    blank(n, &mut out);
                    chars.next();
                }
            }
            '/' if chars.peek().is_some_and(|&(_, n)| n == '/' || n == '*') => {
                let block = chars.peek().is_some_and(|&(_, n)| n == '*');
                blank(c, &mut out);
                let mut prev = ' ';
                while let Some(&(_, n)) = chars.peek() {
                    if !block && n == '\n' {
                        break;
                    }
                    blank(n, &mut out);
                    chars.next();
                    if block && prev == '*' && n == '/' {
                        break;
                    }
                    prev = n;
                }
            }
            '"' => {
                out.push('"');
                let mut escaped = false;
                for (_, n) in chars.by_ref() {
                    if !escaped && n == '"' {
                        out.push('"');
                        break;
                    }
                    escaped = !escaped && n == '\\';
                    blank(n, &mut out);
                }
            }
            other => out.push(other),
        }
    }
    out
}

/// What [`filter`] left out.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LeftOut {
    /// Objects whose only drift was in left-out attributes.
    pub objects: BTreeSet<String>,
}

fn raw(v: &Value) -> Option<Box<RawValue>> {
    serde_json::value::to_raw_value(v).ok()
}

/// Drops from `change` every attribute in `paths` (on both sides and in the
/// masks); whether anything still differs.
fn strip(change: &mut RawChange, paths: &[Vec<Step>]) -> bool {
    let mut v = change.values();
    for p in paths {
        for tree in [
            &mut v.before,
            &mut v.after,
            &mut v.after_unknown,
            &mut v.before_sensitive,
            &mut v.after_sensitive,
        ] {
            remove(tree, p);
        }
    }
    let differs = v.before != v.after;
    change.before = raw(&v.before);
    change.after = raw(&v.after);
    change.after_unknown = raw(&v.after_unknown);
    change.before_sensitive = raw(&v.before_sensitive);
    change.after_sensitive = raw(&v.after_sensitive);
    differs
}

/// Leaves out of `plan.resource_drift` the attributes Ferry owns and those
/// `ignored` (from [`ignored_attributes`]) names for the object's resource,
/// and every object left without a difference.
pub fn filter(plan: &mut RawPlan, ignored: &BTreeMap<(String, String), Vec<String>>) -> LeftOut {
    let mut left_out = LeftOut::default();
    let drift = std::mem::take(&mut plan.resource_drift);
    for mut rc in drift {
        let (kind, name) = (
            rc.resource_type.clone().unwrap_or_default(),
            rc.name.clone().unwrap_or_default(),
        );
        let mut attrs: Vec<&str> = FERRY_OWNED
            .iter()
            .filter(|(t, _)| *t == kind)
            .flat_map(|(_, a)| a.iter().copied())
            .collect();
        let listed = ignored.get(&(kind.clone(), name.clone()));
        if listed.is_some_and(|l| l.iter().any(|a| a == "*")) {
            left_out
                .objects
                .insert(rc.address.clone().unwrap_or_default());
            continue;
        }
        attrs.extend(listed.into_iter().flatten().map(String::as_str));
        let paths: Vec<Vec<Step>> = attrs.iter().filter_map(|a| steps(a)).collect();
        if paths.is_empty() || strip(&mut rc.change, &paths) {
            plan.resource_drift.push(rc);
        } else {
            left_out
                .objects
                .insert(rc.address.clone().unwrap_or_default());
        }
    }
    left_out
}

/// The hidden marker of an environment's drift issue (its body's first line).
pub fn issue_marker(env: &str) -> String {
    format!("<!-- ferry:drift:{} -->", crate::markdown::html(env))
}

/// The label Ferry's drift issues carry (to list them in one request).
pub const LABEL: &str = "terraform-drift";

/// What to do with the environment's drift issue.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IssueAction {
    /// Drift and no open issue: open one.
    Open,
    /// Drift and an open issue: update its body.
    Update(u64),
    /// No drift and an open issue: close it.
    Close(u64),
    /// No drift, no issue.
    Nothing,
}

/// The decision, from whether there is drift and the open issue Ferry wrote.
pub fn decide(drifted: bool, open: Option<u64>) -> IssueAction {
    match (drifted, open) {
        (true, None) => IssueAction::Open,
        (true, Some(n)) => IssueAction::Update(n),
        (false, Some(n)) => IssueAction::Close(n),
        (false, None) => IssueAction::Nothing,
    }
}

/// An issue as Ferry reads it from the list.
#[derive(Debug, Clone, serde::Deserialize)]
struct Issue {
    number: u64,
    #[serde(default)]
    body: Option<String>,
    #[serde(default)]
    user: Option<crate::github::trust::Author>,
    /// Set on pull requests, which the issues list includes.
    #[serde(default)]
    pull_request: Option<Value>,
}

/// Options of `ferry drift`.
#[derive(Debug, Clone)]
pub struct DriftOptions {
    /// The plan options (environment, the refresh-only plan, `--redact`).
    pub plan: super::Options,
    /// The Terraform directory whose `ignore_changes` are left out.
    pub ignore_from: Option<std::path::PathBuf>,
}

/// What `ferry drift` found and did.
#[derive(Debug, Clone)]
pub struct DriftReport {
    /// Drift remains after leaving out what is meant to change.
    pub drifted: bool,
    /// Objects whose only drift was left out.
    pub left_out: LeftOut,
    /// The issue body (also the summary).
    pub body: String,
    /// What was done with the issue (`None`: printed, not posted).
    pub action: Option<IssueAction>,
}

/// `ferry drift`: filter, render as the plan comment renders drift, write
/// the summary and outputs, and open, update or close the issue.
pub async fn run(
    ctx: &crate::gha::Context,
    opts: &DriftOptions,
    reporter: &mut crate::gha::Reporter,
) -> Result<DriftReport, super::PlanCommentError> {
    use super::PlanCommentError;
    let mut plan = super::load::load_plan(&opts.plan.plan, &opts.plan.terraform)?;
    let ignored = match &opts.ignore_from {
        Some(dir) => ignored_attributes(dir).map_err(|source| PlanCommentError::Io {
            path: dir.clone(),
            source,
        })?,
        None => BTreeMap::new(),
    };
    let left_out = filter(&mut plan, &ignored);
    let drifted = !plan.resource_drift.is_empty();
    let mut popts = opts.plan.clone();
    popts.mode = super::PlanMode::RefreshOnly;
    let prepared = super::prepare(plan, &popts, ctx.run_url.as_deref())?;
    let note = if left_out.objects.is_empty() {
        String::new()
    } else {
        format!(
            "\n\n_{} object(s) drifted only in attributes Ferry deploys or `ignore_changes` names: left out._\n",
            left_out.objects.len()
        )
    };
    let body = format!(
        "{}\n{}{note}",
        issue_marker(&opts.plan.env),
        prepared.comment
    );
    let io = |path: Option<std::path::PathBuf>| {
        move |source| PlanCommentError::Io {
            path: path.unwrap_or_default(),
            source,
        }
    };
    reporter
        .summary_to_file(&format!("{}{note}\n", prepared.summary))
        .map_err(io(ctx.summary_file.clone()))?;
    reporter
        .output_to_file("drifted", &drifted.to_string())
        .map_err(io(ctx.output_file.clone()))?;
    let action = if opts.plan.dry_run || !ctx.in_actions {
        reporter.print(&body).map_err(io(None))?;
        None
    } else {
        Some(publish(ctx, &opts.plan.env, drifted, &body).await?)
    };
    if let Some(a) = &action {
        let said = match a {
            IssueAction::Open => "opened an issue".to_string(),
            IssueAction::Update(n) => format!("updated issue #{n}"),
            IssueAction::Close(n) => format!("no drift: closed issue #{n}"),
            IssueAction::Nothing => "no drift, no issue".to_string(),
        };
        reporter
            .info(&format!("drift ({}): {said}", opts.plan.env))
            .map_err(io(None))?;
    }
    Ok(DriftReport {
        drifted,
        left_out,
        body,
        action,
    })
}

/// Finds the open drift issue Ferry wrote for the environment (a trusted
/// author, the marker on the first line) and acts on it.
async fn publish(
    ctx: &crate::gha::Context,
    env: &str,
    drifted: bool,
    body: &str,
) -> Result<IssueAction, super::PlanCommentError> {
    use crate::github::comments::{decode, send};
    use http::Method;
    let repo = ctx.repository.clone().ok_or_else(|| {
        super::PlanCommentError::Config(
            "GITHUB_REPOSITORY is not set (expected owner/repo)".to_string(),
        )
    })?;
    let token = ctx.token.as_ref().ok_or_else(|| {
        super::PlanCommentError::Config(
            "no GitHub token: pass `github-token: ${{ github.token }}` with `issues: write` permission".to_string(),
        )
    })?;
    let crab = crate::github::client(&ctx.api_url, Some(token))?;
    let retry = crate::github::retry::RetryPolicy::default();
    let base = format!("/repos/{}/{}/issues", repo.owner, repo.name);
    let marker = issue_marker(env);
    let list = format!("{base}?state=open&labels={LABEL}&per_page=100");
    let (_, text) = send(&crab, retry, Method::GET, &list, None).await?;
    let issues: Vec<Issue> = decode(&Method::GET, &list, &text)?;
    let open = issues
        .into_iter()
        .filter(|i| i.pull_request.is_none())
        .filter(|i| {
            i.body
                .as_deref()
                .is_some_and(|b| crate::github::comments::is_marked(b, &marker))
        })
        .find(|i| {
            let ok = ctx.trusted_authors.trusts(i.user.as_ref());
            if !ok {
                crate::github::trust::warn_ignored(
                    &format!("issue {}", i.number),
                    i.user.as_ref(),
                    &ctx.trusted_authors,
                );
            }
            ok
        })
        .map(|i| i.number);
    let action = decide(drifted, open);
    let title = format!("Terraform drift in {env}");
    match &action {
        IssueAction::Open => {
            let payload = serde_json::json!({"title": title, "body": body, "labels": [LABEL]});
            send(&crab, retry, Method::POST, &base, Some(&payload)).await?;
        }
        IssueAction::Update(n) => {
            let payload = serde_json::json!({"body": body});
            send(
                &crab,
                retry,
                Method::PATCH,
                &format!("{base}/{n}"),
                Some(&payload),
            )
            .await?;
        }
        IssueAction::Close(n) => {
            let payload =
                serde_json::json!({"body": body, "state": "closed", "state_reason": "completed"});
            send(
                &crab,
                retry,
                Method::PATCH,
                &format!("{base}/{n}"),
                Some(&payload),
            )
            .await?;
        }
        IssueAction::Nothing => {}
    }
    Ok(action)
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    #[test]
    fn the_issue_is_opened_updated_closed_or_left() {
        assert_eq!(decide(true, None), IssueAction::Open);
        assert_eq!(decide(true, Some(4)), IssueAction::Update(4));
        assert_eq!(decide(false, Some(4)), IssueAction::Close(4));
        assert_eq!(decide(false, None), IssueAction::Nothing);
    }

    #[test]
    fn paths_are_read_as_terraform_writes_them() {
        assert_eq!(
            steps("deployment_configuration[0].strategy").unwrap(),
            vec![
                Step::Key("deployment_configuration".into()),
                Step::Index(0),
                Step::Key("strategy".into())
            ]
        );
        assert!(steps("tags[\"x\"]").is_none());
        assert!(steps("a[*].b").is_none());
    }

    #[test]
    fn the_scanner_finds_ignore_changes_and_is_not_fooled_by_strings_or_comments() {
        let tf = r#"
resource "aws_ecs_service" "this" {
  name = "x { not a brace"
  # ignore_changes = [tags] in a comment
  lifecycle {
    ignore_changes = [
      task_definition,
      desired_count,
      deployment_configuration[0].strategy,
    ]
  }
}
resource "aws_lb_listener_rule" "this" {
  lifecycle { ignore_changes = [action] }
}
resource "aws_s3_bucket" "all" {
  lifecycle { ignore_changes = all }
}
resource "aws_sqs_queue" "none" { name = "q" }
"#;
        let found: BTreeMap<_, _> = scan(tf).into_iter().collect();
        assert_eq!(
            found[&("aws_ecs_service".to_string(), "this".to_string())],
            [
                "task_definition",
                "desired_count",
                "deployment_configuration[0].strategy"
            ]
        );
        assert_eq!(
            found[&("aws_lb_listener_rule".to_string(), "this".to_string())],
            ["action"]
        );
        assert_eq!(
            found[&("aws_s3_bucket".to_string(), "all".to_string())],
            ["*"]
        );
        assert_eq!(found.len(), 3);
    }

    #[test]
    fn the_platforms_own_terraform_ignores_what_ferry_deploys() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../terraform/aws");
        let found = ignored_attributes(&dir).unwrap();
        let service = &found[&("aws_ecs_service".to_string(), "this".to_string())];
        assert!(
            service.contains(&"task_definition".to_string()),
            "{service:?}"
        );
        assert!(
            service.contains(&"desired_count".to_string()),
            "{service:?}"
        );
    }
}
