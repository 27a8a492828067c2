//! `ferry plan-applied`: the outcome of `terraform apply -json` on the pull
//! request's plan comment and in the job summary.
//!
//! The machine-readable log (one JSON message a line) is read as data:
//! which resources finished and how, which failed with Terraform's error,
//! the change summary Terraform prints (`Apply complete! Resources: …`), and
//! the duration from the first to the last timestamp. [`parse_log`] and
//! [`render`] are pure; [`run`] edits Ferry's own comment (found by its
//! marker, from a trusted author only) and writes the summary.

use std::path::{Path, PathBuf};

use serde_json::Value;

use super::error::PlanCommentError;
use super::marker;
use super::redact::Redactor;
use super::{Options, load};
use crate::gha::{Context, Reporter};
use crate::github::comments::{Comments, IssueRef};
use crate::github::retry::RetryPolicy;
use crate::markdown;

/// The start of the apply section in a plan comment (a hidden HTML comment,
/// which no escaped plan content can forge).
pub const SECTION_START: &str = "<!-- ferry:apply -->";
/// The end of the apply section.
pub const SECTION_END: &str = "<!-- /ferry:apply -->";

/// At most this many resources are listed in the section (the counts are whole).
const MAX_LISTED: usize = 50;
/// Characters of a diagnostic's detail shown.
const MAX_DETAIL_CHARS: usize = 1_500;

/// One resource the apply finished.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Applied {
    /// `aws_ecs_service.api`.
    pub address: String,
    /// `create`, `update`, `delete`, `replace`, `read`…
    pub action: String,
}

/// An error Terraform reported, with the resource it names when it names one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApplyError {
    /// The failing resource's address (`diagnostic.address` or the
    /// `apply_errored` hook's).
    pub address: Option<String>,
    /// Terraform's one-line summary.
    pub summary: String,
    /// Terraform's detail, shortened.
    pub detail: String,
}

/// Terraform's own counts (`change_summary`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ChangeSummary {
    /// Resources added.
    pub add: u64,
    /// Resources changed in place.
    pub change: u64,
    /// Resources destroyed.
    pub remove: u64,
    /// Resources imported.
    pub import: u64,
}

/// What one `terraform apply -json` did.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ApplyOutcome {
    /// Resources that completed, in the order Terraform finished them.
    pub completed: Vec<Applied>,
    /// Resources whose apply errored, with their action.
    pub failed: Vec<Applied>,
    /// Error diagnostics.
    pub errors: Vec<ApplyError>,
    /// Terraform's summary line, present only when the apply finished.
    pub summary: Option<ChangeSummary>,
    /// Seconds from the first message to the last.
    pub duration_secs: Option<u64>,
    /// Lines that were not Terraform's JSON messages (skipped).
    pub unreadable: usize,
}

impl ApplyOutcome {
    /// Terraform finished without an error.
    pub fn succeeded(&self) -> bool {
        self.errors.is_empty() && self.failed.is_empty() && self.summary.is_some()
    }
}

fn str_at<'a>(v: &'a Value, path: &[&str]) -> Option<&'a str> {
    path.iter().try_fold(v, |cur, k| cur.get(*k))?.as_str()
}

fn u64_at(v: &Value, key: &str) -> u64 {
    v.get(key).and_then(Value::as_u64).unwrap_or(0)
}

/// Reads the log of `terraform apply -json` (or `terraform apply -json
/// plan`). Lines that are not JSON objects (a wrapper's output, a CLI
/// warning) are counted and skipped; unknown message types are ignored, as
/// Terraform's machine-readable UI documents for newer versions.
pub fn parse_log(text: &str) -> ApplyOutcome {
    let mut out = ApplyOutcome::default();
    let (mut first, mut last) = (None::<u64>, None::<u64>);
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        let Ok(msg) = serde_json::from_str::<Value>(line) else {
            out.unreadable += 1;
            continue;
        };
        let Some(kind) = msg.get("type").and_then(Value::as_str) else {
            out.unreadable += 1;
            continue;
        };
        if let Some(t) = msg
            .get("@timestamp")
            .and_then(Value::as_str)
            .and_then(crate::time::parse_time)
        {
            first = Some(first.map_or(t, |f| f.min(t)));
            last = Some(last.map_or(t, |l| l.max(t)));
        }
        let hook = || {
            let address = str_at(&msg, &["hook", "resource", "addr"])?.to_string();
            let action = str_at(&msg, &["hook", "action"]).unwrap_or("apply");
            Some(Applied {
                address,
                action: action.to_string(),
            })
        };
        match kind {
            "apply_complete" => out.completed.extend(hook()),
            "apply_errored" => out.failed.extend(hook()),
            "change_summary" => {
                let c = msg.get("changes").unwrap_or(&Value::Null);
                if str_at(c, &["operation"]).is_none_or(|op| op == "apply" || op == "destroy") {
                    out.summary = Some(ChangeSummary {
                        add: u64_at(c, "add"),
                        change: u64_at(c, "change"),
                        remove: u64_at(c, "remove"),
                        import: u64_at(c, "import"),
                    });
                }
            }
            "diagnostic" if str_at(&msg, &["diagnostic", "severity"]) == Some("error") => {
                out.errors.push(ApplyError {
                    address: str_at(&msg, &["diagnostic", "address"]).map(str::to_string),
                    summary: str_at(&msg, &["diagnostic", "summary"])
                        .unwrap_or("(no summary)")
                        .to_string(),
                    detail: crate::text::truncate_chars(
                        str_at(&msg, &["diagnostic", "detail"]).unwrap_or_default(),
                        MAX_DETAIL_CHARS,
                    ),
                });
            }
            _ => {}
        }
    }
    // A failed resource's error names it; an error diagnostic without an
    // address is matched to the one failed resource when there is only one.
    if out.failed.len() == 1 {
        let failed = out.failed[0].address.clone();
        for e in out.errors.iter_mut().filter(|e| e.address.is_none()) {
            e.address = Some(failed.clone());
        }
    }
    out.duration_secs = first.zip(last).map(|(f, l)| l.saturating_sub(f));
    out
}

/// `1 min 5 s`, `4 s`.
fn duration(secs: u64) -> String {
    match (secs / 60, secs % 60) {
        (0, s) => format!("{s} s"),
        (m, 0) => format!("{m} min"),
        (m, s) => format!("{m} min {s} s"),
    }
}

/// The apply section, between [`SECTION_START`] and [`SECTION_END`]: a
/// heading that says success or failure, Terraform's counts, the failing
/// resources with their errors first, the finished ones, the duration and
/// a link to the run. Every string from the log is escaped and `redact`ed.
pub fn render(o: &ApplyOutcome, env: &str, run_url: Option<&str>, redact: &Redactor) -> String {
    let r = |s: &str| redact.redact(s);
    let mut md = String::new();
    md.push_str(SECTION_START);
    md.push('\n');
    let took = o
        .duration_secs
        .map(|s| format!(" in {}", duration(s)))
        .unwrap_or_default();
    let env_md = markdown::code(env);
    if o.succeeded() {
        let s = o.summary.unwrap_or_default();
        md.push_str(&format!(
            "### ✅ Applied to {env_md}{took}\n\n{} added, {} changed, {} destroyed{}.\n",
            s.add,
            s.change,
            s.remove,
            if s.import > 0 {
                format!(", {} imported", s.import)
            } else {
                String::new()
            }
        ));
    } else {
        md.push_str(&format!("### ❌ Apply to {env_md} failed{took}\n\n"));
        let mut named: Vec<&str> = o.failed.iter().map(|f| f.address.as_str()).collect();
        named.extend(o.errors.iter().filter_map(|e| e.address.as_deref()));
        named.sort_unstable();
        named.dedup();
        if named.is_empty() && o.errors.is_empty() {
            md.push_str("Terraform's log ends before the apply finished (no summary, no error): read the step's log.\n");
        }
        for e in &o.errors {
            let at = e
                .address
                .as_deref()
                .map(|a| format!("{}: ", markdown::code(&r(a))))
                .unwrap_or_default();
            md.push_str(&format!("- {at}{}\n", markdown::text(&r(&e.summary))));
            if !e.detail.trim().is_empty() {
                let lines: Vec<String> = r(&e.detail).lines().map(str::to_string).collect();
                md.push_str(&indent(&markdown::fenced(&lines)));
            }
        }
        for f in o.failed.iter().filter(|f| {
            !o.errors
                .iter()
                .any(|e| e.address.as_deref() == Some(&f.address))
        }) {
            md.push_str(&format!(
                "- {} ({}): failed\n",
                markdown::code(&r(&f.address)),
                markdown::text(&f.action)
            ));
        }
        md.push_str(&format!(
            "\n{} resource(s) finished before the failure; the rest were not applied.\n",
            o.completed.len()
        ));
    }
    if !o.completed.is_empty() {
        md.push_str(&format!(
            "\n<details><summary>{} resource(s) applied</summary>\n\n",
            o.completed.len()
        ));
        for a in o.completed.iter().take(MAX_LISTED) {
            md.push_str(&format!(
                "- {} ({})\n",
                markdown::code(&r(&a.address)),
                markdown::text(&a.action)
            ));
        }
        if o.completed.len() > MAX_LISTED {
            md.push_str(&format!(
                "- … and {} more\n",
                o.completed.len() - MAX_LISTED
            ));
        }
        md.push_str("\n</details>\n");
    }
    if let Some(url) = run_url.and_then(markdown::url) {
        md.push_str(&format!("\n[The apply's run]({url})\n"));
    }
    md.push_str(SECTION_END);
    md.push('\n');
    md
}

fn indent(block: &str) -> String {
    block
        .lines()
        .map(|l| format!("  {l}\n"))
        .collect::<String>()
}

/// `body` with its apply section replaced by `section`, or `section`
/// appended when it has none: a re-run's outcome replaces the last one.
pub fn with_section(body: &str, section: &str) -> String {
    if let Some(start) = body.find(SECTION_START)
        && let Some(end_rel) = body[start..].find(SECTION_END)
    {
        let mut end = start + end_rel + SECTION_END.len();
        if body[end..].starts_with('\n') {
            end += 1;
        }
        return format!("{}{section}{}", &body[..start], &body[end..]);
    }
    let sep = if body.ends_with('\n') { "\n" } else { "\n\n" };
    format!("{body}{sep}{section}")
}

/// Options of `ferry plan-applied` beyond the plan's.
#[derive(Debug, Clone)]
pub struct ApplyOptions {
    /// The plan options: environment, the applied plan (for its sensitive
    /// values), `--redact`, the pull request, the marker's parts.
    pub plan: Options,
    /// The `terraform apply -json` log.
    pub log: PathBuf,
}

fn read_log(path: &Path) -> Result<String, PlanCommentError> {
    let limit = crate::budget::current().plan_bytes;
    let io = |source| PlanCommentError::Io {
        path: path.to_path_buf(),
        source,
    };
    let file = std::fs::File::open(path).map_err(io)?;
    let mut text = String::new();
    use std::io::Read;
    let read = file
        .take(limit.saturating_add(1))
        .read_to_string(&mut text)
        .map_err(io)?;
    if read as u64 > limit {
        return Err(PlanCommentError::Config(format!(
            "{}: the apply log is larger than {} ({})",
            path.display(),
            crate::budget::show_bytes(limit),
            crate::budget::PLAN_BYTES_VAR
        )));
    }
    Ok(text)
}

/// `ferry plan-applied`: reads the log, writes the section to the job
/// summary and into the pull request's plan comment, and fails when the
/// apply failed (so the job fails with the outcome already on the PR).
pub async fn run(
    ctx: &Context,
    opts: &ApplyOptions,
    reporter: &mut Reporter,
) -> Result<ApplyOutcome, PlanCommentError> {
    let text = read_log(&opts.log)?;
    let outcome = parse_log(&text);
    drop(text);
    let redactor = match opts.plan.plan.as_os_str().is_empty() {
        true => Redactor::from_parts(Vec::new(), &opts.plan.redact)?,
        false => Redactor::new(
            &load::load_plan(&opts.plan.plan, &opts.plan.terraform)?,
            &opts.plan.redact,
        )?,
    };
    let section = render(&outcome, &opts.plan.env, ctx.run_url.as_deref(), &redactor);
    let io = |source| PlanCommentError::Io {
        path: PathBuf::from("<stdout>"),
        source,
    };
    reporter
        .summary_to_file(&format!("{section}\n"))
        .map_err(|source| PlanCommentError::Io {
            path: ctx.summary_file.clone().unwrap_or_default(),
            source,
        })?;
    for (key, value) in [
        ("applied", outcome.succeeded().to_string()),
        ("resources-applied", outcome.completed.len().to_string()),
        ("resources-failed", outcome.failed.len().to_string()),
    ] {
        reporter
            .output_to_file(key, &value)
            .map_err(|source| PlanCommentError::Io {
                path: ctx.output_file.clone().unwrap_or_default(),
                source,
            })?;
    }
    // Every pull request applied together (a merge-queue batch lands as one
    // push) gets the outcome in its plan comment.
    let prs = super::verify::pull_requests(ctx, opts.plan.pr).await?;
    if opts.plan.dry_run || !ctx.in_actions || prs.is_empty() {
        if !opts.plan.dry_run {
            reporter
                .info("plan-applied: no pull request (pass --pr N): printing the outcome instead of posting it")
                .map_err(io)?;
        }
        reporter.print(&section).map_err(io)?;
    } else {
        for pr in prs {
            let note = post(ctx, &opts.plan, pr, &section).await?;
            reporter.info(&note).map_err(io)?;
        }
    }
    if !outcome.succeeded() {
        return Err(PlanCommentError::ApplyFailed {
            env: opts.plan.env.clone(),
            resources: {
                let mut named: Vec<String> = outcome
                    .failed
                    .iter()
                    .map(|f| f.address.clone())
                    .chain(outcome.errors.iter().filter_map(|e| e.address.clone()))
                    .collect();
                named.sort_unstable();
                named.dedup();
                if named.is_empty() {
                    "no resource named".to_string()
                } else {
                    named
                        .iter()
                        .take(5)
                        .map(|a| crate::text::quote(a))
                        .collect::<Vec<_>>()
                        .join(", ")
                }
            },
        });
    }
    Ok(outcome)
}

/// Puts `section` into Ferry's plan comment for the environment on `pr`,
/// stamped afresh so a re-run of the apply can still verify against it;
/// a pull request with no (trusted) plan comment gets a comment of its own.
async fn post(
    ctx: &Context,
    opts: &Options,
    pr: u64,
    section: &str,
) -> Result<String, PlanCommentError> {
    let token = ctx.token.as_ref().ok_or_else(|| {
        PlanCommentError::Config(
            "no GitHub token: pass `github-token: ${{ github.token }}` to the action (or set GITHUB_TOKEN), with `pull-requests: write` permission".to_string(),
        )
    })?;
    let repo = ctx.repository.clone().ok_or_else(|| {
        PlanCommentError::Config("GITHUB_REPOSITORY is not set (expected owner/repo)".to_string())
    })?;
    let crab = crate::github::client(&ctx.api_url, Some(token))?;
    let issue = IssueRef {
        owner: repo.owner,
        repo: repo.name,
        number: pr,
    };
    let mark = marker::marker(
        &opts.env,
        opts.root_module.as_deref(),
        opts.workspace.as_deref(),
    )?;
    let comments = Comments::new(&crab, &issue, RetryPolicy::default(), &ctx.trusted_authors);
    let scope = marker::scope(&format!("{}/{}", issue.owner, issue.repo), pr, &mark);
    match comments.find(&mark).await? {
        Some(c) => {
            let old = c.body.as_deref().unwrap_or_default();
            // Re-stamped only when the old comment was still believable:
            // an edited comment stays unbelievable.
            let body = match marker::untrusted_reason(
                old,
                c.updated_at.as_deref().and_then(crate::time::parse_time),
                opts.key.as_ref(),
                &scope,
            ) {
                Ok(meta) => {
                    let now = std::time::SystemTime::now()
                        .duration_since(std::time::UNIX_EPOCH)
                        .map_or(0, |d| d.as_secs());
                    marker::stamp(
                        &with_section(old, section),
                        &meta.hash,
                        now,
                        opts.key.as_ref(),
                        &scope,
                    )
                }
                Err(_) => with_section(old, section),
            };
            let updated = comments.update(c.id, &body).await?;
            Ok(format!(
                "plan-applied: the outcome is in comment {} on #{pr}",
                updated.id
            ))
        }
        None => {
            let body = format!("{mark}\n{section}");
            let created = comments.create(&body).await?;
            Ok(format!(
                "plan-applied: no plan comment for `{}` on #{pr}: posted the outcome as comment {}",
                opts.env, created.id
            ))
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    fn line(v: serde_json::Value) -> String {
        format!("{v}\n")
    }

    fn hook(kind: &str, addr: &str, action: &str, t: &str) -> String {
        line(serde_json::json!({
            "@level": "info", "@message": format!("{addr}: …"), "@timestamp": t,
            "hook": {"resource": {"addr": addr}, "action": action}, "type": kind
        }))
    }

    #[test]
    fn a_successful_apply_is_counted_with_its_duration() {
        let log = [
            line(
                serde_json::json!({"@timestamp":"2026-01-01T10:00:00.1Z","type":"version","terraform":"1.11.4"}),
            ),
            hook(
                "apply_complete",
                "aws_ecs_service.api",
                "update",
                "2026-01-01T10:00:04Z",
            ),
            hook(
                "apply_complete",
                "terraform_data.x[\"a\"]",
                "create",
                "2026-01-01T10:01:05Z",
            ),
            line(
                serde_json::json!({"@timestamp":"2026-01-01T10:01:05Z","type":"change_summary","changes":{"add":1,"change":1,"import":0,"remove":0,"operation":"apply"}}),
            ),
            "not json: a wrapper's line\n".to_string(),
        ]
        .concat();
        let o = parse_log(&log);
        assert!(o.succeeded());
        assert_eq!(o.completed.len(), 2);
        assert_eq!(o.duration_secs, Some(65));
        assert_eq!(o.unreadable, 1);
        let md = render(&o, "staging", None, &Redactor::default());
        assert!(
            md.contains("### ✅ Applied to `staging` in 1 min 5 s"),
            "{md}"
        );
        assert!(md.contains("1 added, 1 changed, 0 destroyed."), "{md}");
        assert!(md.contains("`aws_ecs_service.api` (update)"), "{md}");
    }

    #[test]
    fn a_failure_names_the_resource_and_terraforms_error() {
        let log = [
            hook("apply_complete", "terraform_data.ok", "create", "2026-01-01T10:00:00Z"),
            hook("apply_errored", "terraform_data.bad", "create", "2026-01-01T10:00:02Z"),
            line(serde_json::json!({"@timestamp":"2026-01-01T10:00:02Z","type":"diagnostic","diagnostic":{"severity":"error","summary":"local-exec provisioner error","detail":"exit status 3. Output: boom ```\n</details> @admin s3cr3t-value","address":"terraform_data.bad"}})),
            line(serde_json::json!({"type":"diagnostic","diagnostic":{"severity":"warning","summary":"deprecated"}})),
        ]
        .concat();
        let o = parse_log(&log);
        assert!(!o.succeeded());
        assert_eq!(o.failed[0].address, "terraform_data.bad");
        let redact = Redactor::from_parts(vec!["s3cr3t-value".into()], &[]).unwrap();
        let md = render(&o, "prod", None, &redact);
        assert!(md.contains("### ❌ Apply to `prod` failed in 2 s"), "{md}");
        assert!(
            md.contains("- `terraform_data.bad`: local-exec provisioner error"),
            "{md}"
        );
        assert!(
            md.contains("1 resource(s) finished before the failure"),
            "{md}"
        );
        assert!(!md.contains("deprecated"), "warnings are not errors: {md}");
        assert!(!md.contains("s3cr3t-value"), "{md}");
        assert!(!md.contains("@admin"), "mentions are inert: {md}");
        // The detail's fence and `</details>` stay inside the code block.
        let parser = pulldown_cmark::Parser::new(&md);
        let blocks = parser
            .filter(|e| {
                matches!(
                    e,
                    pulldown_cmark::Event::Start(pulldown_cmark::Tag::CodeBlock(_))
                )
            })
            .count();
        assert_eq!(blocks, 1, "{md}");
    }

    #[test]
    fn an_error_without_an_address_is_the_one_failed_resources() {
        let log = [
            hook("apply_errored", "aws_iam_role.x", "update", "2026-01-01T10:00:00Z"),
            line(serde_json::json!({"type":"diagnostic","diagnostic":{"severity":"error","summary":"AccessDenied"}})),
        ]
        .concat();
        let o = parse_log(&log);
        assert_eq!(o.errors[0].address.as_deref(), Some("aws_iam_role.x"));
    }

    #[test]
    fn a_log_cut_short_is_a_failure_said_plainly() {
        let o = parse_log(&hook(
            "apply_complete",
            "terraform_data.ok",
            "create",
            "2026-01-01T10:00:00Z",
        ));
        assert!(!o.succeeded());
        let md = render(&o, "staging", None, &Redactor::default());
        assert!(md.contains("ends before the apply finished"), "{md}");
        assert!(parse_log("").summary.is_none());
    }

    #[test]
    fn a_second_outcome_replaces_the_first_and_a_forged_marker_in_content_cannot_appear() {
        let body = "<!-- ferry:plan:staging -->\nmeta\n# plan\n";
        let first = with_section(body, &format!("{SECTION_START}\none\n{SECTION_END}\n"));
        assert!(first.starts_with(body), "{first}");
        let second = with_section(&first, &format!("{SECTION_START}\ntwo\n{SECTION_END}\n"));
        assert!(
            second.contains("two") && !second.contains("one"),
            "{second}"
        );
        assert_eq!(second.matches(SECTION_START).count(), 1);
        // A resource address cannot smuggle the section's markers in.
        let o = ApplyOutcome {
            completed: vec![Applied {
                address: format!("x{SECTION_END}{SECTION_START}"),
                action: "create".into(),
            }],
            summary: Some(ChangeSummary::default()),
            ..Default::default()
        };
        let md = render(&o, "staging", None, &Redactor::default());
        assert_eq!(md.matches(SECTION_START).count(), 1, "{md}");
        assert_eq!(md.matches(SECTION_END).count(), 1, "{md}");
    }
}
