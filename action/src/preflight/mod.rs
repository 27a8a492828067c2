//! Preflight: every reference a deploy depends on checked before anything
//! changes. A task definition that names a secret, a parameter or a role
//! that does not exist renders and validates fine, and fails only when ECS
//! starts a task, after the service was updated; preflight finds it first.
//!
//! Three steps, one per file: [`references`] reads what each rendered task
//! definition and its service refer to (pure), `collect` asks AWS and the
//! registries whether each exists (the lookups of [`crate::aws::preflight`],
//! each thing asked once, all at once), [`check`] decides (pure): every
//! problem at once, each with the field that names it and the fix.
//!
//! `ferry preflight` runs it alone (read-only calls: good in PR CI);
//! `ferry deploy` and `ferry release` run it first ([`gate`]), before any
//! RegisterTaskDefinition or UpdateService, unless `--skip-preflight`
//! gives a reason, which the summary records. It reads plain [`Targets`]
//! (what deploy planned), so it depends on no stage.

pub mod check;
mod collect;
pub mod connect;
pub mod references;
pub mod schedule;

use std::path::PathBuf;

use crate::diagnostic::{Diagnose, Diagnostic};
use crate::gha::Reporter;
use crate::manifest::Manifest;

pub use check::{Facts, Findings, Problem, evaluate};
pub use references::{Kind, Reference};
pub use schedule::Schedule;

/// Whether a deploy runs preflight first.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum Gate {
    /// Check first (the default).
    #[default]
    Run,
    /// Skip it, for this reason (recorded in the log and the summary).
    Skip(String),
}

impl Gate {
    /// The gate of `--skip-preflight REASON`: a reason is required.
    pub fn skip(reason: Option<&str>) -> Result<Self, String> {
        match reason.map(str::trim) {
            None => Ok(Self::Run),
            Some(r) if r.chars().count() < 3 => Err(
                "--skip-preflight needs a reason (for example --skip-preflight \"AWS Secrets Manager outage, secrets unchanged\"): it goes into the summary".into(),
            ),
            Some(r) => Ok(Self::Skip(crate::text::truncate_chars(r, 200))),
        }
    }
}

/// Why preflight stopped a deploy, or could not run.
#[derive(Debug, thiserror::Error)]
pub enum PreflightError {
    /// References do not exist (or could not be checked).
    #[error(
        "preflight: {count} problem(s) in {env}; nothing was registered or updated (each below, with its fix)"
    )]
    Failed {
        /// The environment.
        env: String,
        /// How many problems.
        count: usize,
        /// The problems, located in the task definition or the manifest.
        diagnostics: Vec<Diagnostic>,
    },
    /// Writing the outputs failed.
    #[error("cannot write the outputs: {0}")]
    Io(#[from] std::io::Error),
}

impl Diagnose for PreflightError {
    fn diagnostics(&self) -> Vec<Diagnostic> {
        match self {
            Self::Failed { diagnostics, .. } => diagnostics.clone(),
            Self::Io(_) => Vec::new(),
        }
    }
}

/// One service a deploy would update, as preflight reads it: plain data,
/// so preflight depends on no stage.
#[derive(Debug, Clone, PartialEq)]
pub struct Target {
    /// The manifest's service name.
    pub service: String,
    /// The rendered task definition (RegisterTaskDefinition's input).
    pub task_definition: crate::taskdef::TaskDefinition,
    /// The ECS cluster.
    pub cluster: String,
    /// The ECS service.
    pub ecs_service: String,
}

/// What a deploy goes to: the environment, its region, and the services.
#[derive(Debug, Clone, PartialEq)]
pub struct Targets {
    /// The environment.
    pub env: String,
    /// Its AWS region.
    pub region: String,
    /// The services, in the deploy's order.
    pub services: Vec<Target>,
    /// The scheduled jobs' EventBridge rules.
    pub schedules: Vec<Schedule>,
}

/// Every reference of the targets, service by service.
pub fn all_references(targets: &Targets) -> Vec<Reference> {
    targets
        .services
        .iter()
        .flat_map(|t| {
            references::of_service(
                &t.service,
                &t.task_definition,
                &t.cluster,
                &t.ecs_service,
                &targets.region,
            )
        })
        .collect()
}

/// Checks the targets: their references, looked up, then decided.
pub async fn check(targets: &Targets) -> Findings {
    let refs = all_references(targets);
    let facts = collect::facts(&refs, &targets.region).await;
    let mut findings = evaluate(&refs, &facts);
    let (problems, rules) = schedule::check(&targets.region, &targets.schedules).await;
    findings.problems.extend(problems);
    findings.checked += rules;
    findings
}

/// A problem as a diagnostic on the file a user edits: the service's
/// task definition, or the manifest for its cluster and ECS service.
fn diagnostic(manifest: &Manifest, p: &Problem) -> Diagnostic {
    let file = match p.field.as_str() {
        f if f == "cluster" || f.starts_with("ecs-service") => manifest.file.clone(),
        f if f.starts_with("schedule.") => manifest.file.clone(),
        _ => manifest
            .services
            .get(&p.service)
            .map(|s| PathBuf::from(&s.task_definition))
            .unwrap_or_else(|| manifest.file.clone()),
    };
    Diagnostic::new(file, format!("{}: {}: {}", p.service, p.field, p.message)).help(&p.fix)
}

/// The job summary's section: what was checked, each problem with its fix,
/// and what was not checked.
pub fn summary_markdown(env: &str, findings: &Findings) -> String {
    use crate::markdown::{cell_code, prose, text};
    let mut md = format!("### Preflight ({})\n\n", text(env));
    if findings.problems.is_empty() {
        md.push_str(&format!(
            "All {} references exist: secrets, parameters, roles, images, log groups, clusters, services and their subnets and security groups; Service Connect port names agree.\n",
            findings.checked
        ));
    } else {
        md.push_str(&format!(
            "{} problem(s) in {} references; nothing was registered or updated.\n\n| service | field | problem | fix |\n|---|---|---|---|\n",
            findings.problems.len(),
            findings.checked
        ));
        for p in &findings.problems {
            md.push_str(&format!(
                "| {} | {} | {} | {} |\n",
                text(&p.service),
                cell_code(&p.field),
                prose(&p.message),
                prose(&p.fix)
            ));
        }
    }
    if !findings.notes.is_empty() {
        md.push('\n');
        for n in &findings.notes {
            md.push_str(&format!("- {}\n", prose(n)));
        }
    }
    md
}

/// The section of a deploy that skipped preflight.
pub fn skipped_markdown(env: &str, reason: &str) -> String {
    use crate::markdown::text;
    format!(
        "### Preflight ({})\n\nSkipped with `--skip-preflight`: {}\n",
        text(env),
        text(reason)
    )
}

/// The findings as the error that stops a deploy (Ok: all present).
pub fn verdict(manifest: &Manifest, env: &str, findings: &Findings) -> Result<(), PreflightError> {
    if findings.problems.is_empty() {
        return Ok(());
    }
    Err(PreflightError::Failed {
        env: env.to_string(),
        count: findings.problems.len(),
        diagnostics: findings
            .problems
            .iter()
            .map(|p| diagnostic(manifest, p))
            .collect(),
    })
}

/// Logs the findings and writes the summary section.
pub fn report(env: &str, findings: &Findings, reporter: &mut Reporter) -> std::io::Result<()> {
    reporter.info(&format!(
        "preflight ({env}): {} references checked, {} problem(s)",
        findings.checked,
        findings.problems.len()
    ))?;
    for n in &findings.notes {
        reporter.info(&format!("  note: {n}"))?;
    }
    reporter.summary(&summary_markdown(env, findings))
}

/// What `ferry deploy` and `ferry release` run before registering: the
/// targets' references checked, the deploy stopped with every problem when
/// one is missing; or, with `--skip-preflight`, the reason recorded.
pub async fn gate(
    manifest: &Manifest,
    targets: &Targets,
    gate: &Gate,
    reporter: &mut Reporter,
) -> Result<(), PreflightError> {
    if let Gate::Skip(reason) = gate {
        reporter.info(&format!("preflight skipped ({}): {reason}", targets.env))?;
        reporter.summary(&skipped_markdown(&targets.env, reason))?;
        return Ok(());
    }
    let findings = check(targets).await;
    report(&targets.env, &findings, reporter)?;
    verdict(manifest, &targets.env, &findings)
}

/// `ferry preflight`'s outputs: `status` (`passed`|`failed`) and
/// `problems` (a JSON list of `{service, field, problem, fix}`).
pub fn write_outputs(findings: &Findings, reporter: &mut Reporter) -> std::io::Result<()> {
    let problems: Vec<serde_json::Value> = findings
        .problems
        .iter()
        .map(|p| {
            serde_json::json!({
                "service": p.service, "field": p.field, "problem": p.message, "fix": p.fix
            })
        })
        .collect();
    reporter.output(
        "status",
        if findings.problems.is_empty() {
            "passed"
        } else {
            "failed"
        },
    )?;
    reporter.output("problems", &serde_json::Value::Array(problems).to_string())
}

#[cfg(test)]
mod tests;
