//! `ferry deploy` end to end: render every service (nothing is touched when
//! one is invalid), register, record a GitHub Deployment per service, roll
//! out and wait, then set the statuses, post the deploy comment and write
//! the outputs and the job summary.
//!
//! The order matters to users: the Deployment record carries the task
//! definition ARN (so it is created after registration), and it is marked
//! `in_progress` before the service is updated, so GitHub's environments
//! view shows the rollout while it runs.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;

use super::apply::{
    PlanInput, RolloutOptions, ServicePlan, failed_before_change, plans, roll_out, untouched,
};
use super::budget::Budget;
use super::comment;
use super::model::{DeployReport, ServiceOutcome, Status};
use super::register::ensure_registered;
use crate::diagnostic::Diagnostic;
use crate::gha::{Context, Reporter};
use crate::github::GitHub;
use crate::github::deployments::DeploymentPayload;
use crate::github::deployments::{DeploymentState, NewDeployment, NewStatus};
use crate::manifest::{Manifest, ManifestError};
use crate::render;

/// How many of a service's past deployments are read to find the last one
/// that succeeded (the rollback target).
const HISTORY: usize = 30;

/// Options of `ferry deploy`.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// Repository root (default: the workspace of the run).
    pub root: Option<PathBuf>,
    /// The manifest, relative to the root.
    pub manifest: PathBuf,
    /// The environment.
    pub env: String,
    /// Services (as `build` reads them); default: those in `images`.
    pub services: Option<String>,
    /// The image of each service.
    pub images: BTreeMap<String, String>,
    /// Rollout behaviour (wait, deadline, rollback).
    pub rollout: RolloutOptions,
    /// Render and print; touch nothing.
    pub dry_run: bool,
    /// `FERRY_EXT_*` variables, for rendering.
    pub env_vars: BTreeMap<String, String>,
}

/// Why `deploy` stopped before or while deploying.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    /// The manifest is missing or invalid.
    #[error(transparent)]
    Manifest(#[from] ManifestError),
    /// Bad input: unknown environment or service, a missing image.
    #[error("{0}")]
    Input(String),
    /// A task definition did not render; nothing was deployed.
    #[error("{} problem(s) in the task definitions; nothing was deployed", .0.len())]
    Render(Vec<Diagnostic>),
    /// AWS could not be reached (credentials first of all).
    #[error(transparent)]
    Aws(#[from] crate::aws::AwsError),
    /// Writing outputs failed.
    #[error("cannot write the outputs: {0}")]
    Io(#[from] std::io::Error),
    /// The deploy ran, and at least one service did not end where the
    /// release wanted it; the summary and the comment say why.
    #[error("{0}")]
    Failed(String),
}

impl RunError {
    /// The located problems, for annotations.
    pub fn diagnostics(&self) -> Vec<Diagnostic> {
        match self {
            Self::Manifest(e) => e.diagnostics(),
            Self::Render(d) => d.clone(),
            _ => Vec::new(),
        }
    }
}

/// The services to deploy: `services` when given (each must have an
/// image), else every service named in `images`.
pub fn selected(
    manifest: &Manifest,
    services: Option<&str>,
    images: &BTreeMap<String, String>,
) -> Result<Vec<String>, String> {
    let names = match services.map(str::trim).filter(|s| !s.is_empty()) {
        Some(text) => crate::build::parse_services(manifest, Some(text))?,
        None if images.is_empty() => {
            return Err(
                "nothing to deploy: give `images` (ferry build's `images` output, or service=URI pairs)"
                    .into(),
            );
        }
        None => manifest.select(images.keys().map(String::as_str))?,
    };
    let missing: Vec<&str> = names
        .iter()
        .filter(|n| !images.contains_key(*n))
        .map(String::as_str)
        .collect();
    if !missing.is_empty() {
        return Err(format!(
            "no image for {}: pass it in `images` (ferry build's `images` output, or service=URI)",
            missing.join(", ")
        ));
    }
    Ok(names)
}

/// Renders each service for `env` with its image, in memory; every problem
/// of every service at once, so nothing is touched when one is invalid.
pub fn render_services<'a>(
    root: &std::path::Path,
    manifest: &Manifest,
    env: &str,
    images: impl IntoIterator<Item = (&'a String, &'a String)>,
    env_vars: &BTreeMap<String, String>,
) -> Result<Vec<render::Rendered>, Vec<Diagnostic>> {
    let mut rendered = Vec::new();
    let mut problems = Vec::new();
    for (service, image) in images {
        let render_opts = render::Options {
            image: Some(image.clone()),
            env_vars: env_vars.clone(),
            ..render::Options::default()
        };
        match render::render_one(root, manifest, service, env, &render_opts) {
            Ok(r) => rendered.push(r),
            Err(d) => problems.extend(d),
        }
    }
    if problems.is_empty() {
        Ok(rendered)
    } else {
        Err(problems)
    }
}

/// GitHub's status for an outcome (None: leave the record as it is).
pub fn github_state(status: Status) -> Option<DeploymentState> {
    match status {
        Status::Succeeded | Status::Unchanged => Some(DeploymentState::Success),
        Status::Failed | Status::RolledBack => Some(DeploymentState::Failure),
        Status::Started | Status::DryRun => None,
    }
}

/// The overall `status` output: the worst service's.
pub fn overall(outcomes: &[ServiceOutcome]) -> Status {
    let rank = |s: Status| match s {
        Status::Failed => 0,
        Status::RolledBack => 1,
        Status::Started => 2,
        Status::DryRun => 3,
        Status::Succeeded => 4,
        Status::Unchanged => 5,
    };
    outcomes
        .iter()
        .map(|o| o.status)
        .min_by_key(|s| rank(*s))
        .unwrap_or(Status::Unchanged)
}

/// One line per outcome for the log.
fn describe(o: &ServiceOutcome) -> String {
    let arn = o.task_definition_arn.as_deref().unwrap_or("–");
    let mut line = format!(
        "{} ({}): {} · {} · {:.1} s",
        o.service,
        o.env,
        o.status.as_str(),
        arn,
        o.duration_secs
    );
    if let Some(d) = &o.diagnosis {
        line.push_str(&format!("\n  why: {}", d.reason));
    }
    if let Some(r) = &o.rollback {
        line.push_str(&format!(
            "\n  rollback to {}: {}",
            r.task_definition_arn,
            if r.succeeded { "done" } else { "failed" }
        ));
    }
    line
}

/// Runs `ferry deploy`.
pub async fn run(
    ctx: &Context,
    opts: &Options,
    reporter: &mut Reporter,
) -> Result<DeployReport, RunError> {
    let root = opts.root.clone().unwrap_or_else(|| ctx.workspace.clone());
    let manifest = Manifest::load(&root.join(&opts.manifest), &opts.manifest)?;
    let Some(environment) = manifest.environments.get(&opts.env) else {
        let known: Vec<&str> = manifest.environments.keys().map(String::as_str).collect();
        return Err(RunError::Input(format!(
            "unknown environment `{}`: {} declares {}",
            opts.env,
            manifest.file.display(),
            known.join(", ")
        )));
    };
    let environment_url = environment.url.clone();
    let production = environment.promote_from.is_some();
    let region = environment
        .region
        .clone()
        .unwrap_or_else(|| manifest.region.clone());
    if let Some(token) = &ctx.token {
        reporter.mask(token)?;
    }
    let names =
        selected(&manifest, opts.services.as_deref(), &opts.images).map_err(RunError::Input)?;
    let rendered = render_services(
        &root,
        &manifest,
        &opts.env,
        names.iter().filter_map(|n| opts.images.get_key_value(n)),
        &opts.env_vars,
    )
    .map_err(RunError::Render)?;
    let inputs = rendered
        .into_iter()
        .map(|r| PlanInput {
            image: opts.images.get(&r.service).cloned(),
            service: r.service,
            task_definition: r.task_definition,
            rollback_to: None,
        })
        .collect();
    let mut plans = plans(&manifest, &opts.env, inputs).map_err(RunError::Input)?;
    // Outside Actions there is no GITHUB_SHA: the commit checked out is what
    // is deployed (empty only outside a git clone).
    let sha = match &ctx.sha {
        Some(sha) => sha.clone(),
        None => crate::git::Git::open(&root)
            .ok()
            .and_then(|git| git.head().ok().flatten())
            .map(|id| id.as_str().to_string())
            .unwrap_or_default(),
    };
    let mut report = DeployReport {
        env: opts.env.clone(),
        sha: sha.clone(),
        run_url: ctx.run_url.clone(),
        environment_url: environment_url.clone(),
        outcomes: Vec::new(),
    };

    if opts.dry_run {
        report.outcomes = plans.iter().map(|p| untouched(p, Status::DryRun)).collect();
        for p in &plans {
            reporter.info(&format!(
                "dry run: {} ({}) would run {} on ECS service {} in cluster {}",
                p.service,
                p.env,
                p.image.as_deref().unwrap_or("–"),
                p.ecs_service,
                p.cluster
            ))?;
        }
        let preview = comment::preview(&report);
        reporter.info("dry run: the deploy comment would read:")?;
        reporter.info(&preview)?;
        write_outputs(reporter, &report)?;
        reporter.summary(&comment::render_summary(&report))?;
        return Ok(report);
    }

    let clients = crate::aws::connect(&region).await?;
    let gh = GitHub::from_context(ctx);
    if gh.is_none() {
        reporter.info(
            "note: no GitHub token or repository: no Deployment records, no rollback history, no comment",
        )?;
    }

    // Register first: the Deployment record carries the ARN.
    let budget = Arc::new(Budget::new(
        opts.rollout.register_per_second,
        opts.rollout.register_burst,
    ));
    let mut failed_early: BTreeMap<String, String> = BTreeMap::new();
    {
        let mut set = tokio::task::JoinSet::new();
        for (i, plan) in plans.iter().enumerate() {
            let (ecs, budget, td) = (
                clients.ecs.clone(),
                budget.clone(),
                plan.task_definition.clone(),
            );
            set.spawn(async move { (i, ensure_registered(&ecs, &budget, &td).await) });
        }
        while let Some(joined) = set.join_next().await {
            match joined {
                Ok((i, Ok(registered))) => plans[i].registered = Some(registered),
                Ok((i, Err(e))) => {
                    failed_early.insert(plans[i].service.clone(), e.to_string());
                }
                Err(e) => return Err(RunError::Failed(format!("a registration task failed: {e}"))),
            }
        }
    }
    for p in plans.iter().filter(|p| p.registered.is_some()) {
        if let Some(r) = &p.registered {
            reporter.info(&format!(
                "{} ({}): {} {}",
                p.service,
                p.env,
                if r.registered {
                    "registered"
                } else {
                    "reusing the identical"
                },
                r.arn
            ))?;
        }
    }

    // The GitHub side before the rollout: rollback targets and records.
    let mut records: BTreeMap<String, (u64, bool)> = BTreeMap::new();
    if let Some(gh) = &gh {
        for plan in plans.iter_mut() {
            let Some(registered) = plan.registered.clone() else {
                continue;
            };
            match gh.last_successful(&opts.env, &plan.service, HISTORY).await {
                Ok(Some(record)) => {
                    plan.rollback_to = record
                        .payload
                        .and_then(|p| p.task_definition_arn)
                        .filter(|arn| *arn != registered.arn);
                }
                Ok(None) => {}
                Err(e) => reporter.info(&format!(
                    "warning: {}: cannot read the last successful release (no rollback target): {e}",
                    plan.service
                ))?,
            }
            let payload = DeploymentPayload {
                service: plan.service.clone(),
                image: plan.image.clone(),
                task_definition_arn: Some(registered.arn.clone()),
            };
            let new = NewDeployment {
                sha: &sha,
                environment: &opts.env,
                service: &plan.service,
                payload: &payload,
                description: &format!("Ferry: {} to {}", plan.service, opts.env),
                production,
            };
            match gh.create_deployment(&new).await {
                Ok(d) => {
                    let id = d.record.id;
                    let previous = if d.reused {
                        gh.latest_state(id).await.ok().flatten()
                    } else {
                        None
                    };
                    // A re-run of a release that already succeeded adds no status.
                    let done_before = previous == Some(DeploymentState::Success);
                    if !done_before {
                        let status = NewStatus {
                            state: DeploymentState::InProgress,
                            log_url: ctx.run_url.as_deref(),
                            environment_url: environment_url.as_deref(),
                            description: "rolling out",
                        };
                        if let Err(e) = gh.set_status(id, &status).await {
                            reporter.info(&format!(
                                "warning: {}: cannot set the deployment status: {e}",
                                plan.service
                            ))?;
                        }
                    }
                    records.insert(plan.service.clone(), (id, done_before));
                }
                Err(e) => reporter.info(&format!(
                    "warning: {}: cannot record the GitHub Deployment: {e}",
                    plan.service
                ))?,
            }
        }
    }

    // The rollout: only services that registered.
    let (ready, broken): (Vec<ServicePlan>, Vec<ServicePlan>) =
        plans.into_iter().partition(|p| p.registered.is_some());
    reporter.group(&format!("roll out to {}", opts.env))?;
    let mut lines = Vec::new();
    let mut outcomes = roll_out(&clients, ready, &opts.rollout, &mut |line| {
        lines.push(line.to_string());
    })
    .await;
    for line in &lines {
        reporter.info(line)?;
    }
    reporter.end_group()?;
    for p in broken {
        let reason = failed_early.remove(&p.service).unwrap_or_default();
        outcomes.push(failed_before_change(untouched(&p, Status::Failed), reason));
    }
    // Manifest order, as every table shows it.
    outcomes.sort_by_key(|o| manifest.services.get_index_of(&o.service));
    report.outcomes = outcomes;
    for o in &report.outcomes {
        crate::telemetry::record_outcome(o);
        reporter.info(&describe(o))?;
    }

    if let Some(gh) = &gh {
        for o in &report.outcomes {
            let (Some((id, done_before)), Some(state)) =
                (records.get(&o.service), github_state(o.status))
            else {
                continue;
            };
            if *done_before && state == DeploymentState::Success {
                continue;
            }
            let description = match &o.diagnosis {
                Some(d) => d.reason.clone(),
                None => format!("{} in {:.0} s", o.status.as_str(), o.duration_secs),
            };
            let status = NewStatus {
                state,
                log_url: ctx.run_url.as_deref(),
                environment_url: environment_url.as_deref(),
                description: &description,
            };
            if let Err(e) = gh.set_status(*id, &status).await {
                reporter.info(&format!(
                    "warning: {}: cannot set the deployment status: {e}",
                    o.service
                ))?;
            }
        }
        if !sha.is_empty() {
            match super::post::post_deploy_comment(gh, &sha, &report).await {
                Ok(posted) => {
                    for (pr, upserted) in posted {
                        reporter.info(&format!(
                            "deploy comment on #{pr}: {}",
                            upserted_word(&upserted)
                        ))?;
                    }
                }
                Err(e) => {
                    reporter.info(&format!("warning: the deploy comment was not posted: {e}"))?
                }
            }
        }
    }

    write_outputs(reporter, &report)?;
    reporter.summary(&comment::render_summary(&report))?;
    if report.succeeded() {
        Ok(report)
    } else {
        let failed: Vec<String> = report
            .outcomes
            .iter()
            .filter(|o| !o.status.is_success())
            .map(|o| format!("{} {}", o.service, o.status.as_str()))
            .collect();
        Err(RunError::Failed(format!(
            "deploy to {} failed: {}",
            opts.env,
            failed.join(", ")
        )))
    }
}

fn upserted_word(u: &crate::github::comments::Upserted) -> &'static str {
    use crate::github::comments::Upserted;
    match u {
        Upserted::Created(_) => "posted",
        Upserted::Updated(_) => "edited",
        Upserted::Unchanged(_) => "unchanged",
    }
}

/// `status` (the worst), `task-definition-arn` (first service),
/// `task-definition-arns`, `statuses` and `durations` (JSON by service).
fn write_outputs(reporter: &mut Reporter, report: &DeployReport) -> std::io::Result<()> {
    reporter.output("status", overall(&report.outcomes).as_str())?;
    if let Some(arn) = report
        .outcomes
        .first()
        .and_then(|o| o.task_definition_arn.as_deref())
    {
        reporter.output("task-definition-arn", arn)?;
    }
    let by = |f: &dyn Fn(&ServiceOutcome) -> serde_json::Value| {
        serde_json::Value::Object(
            report
                .outcomes
                .iter()
                .map(|o| (o.service.clone(), f(o)))
                .collect(),
        )
        .to_string()
    };
    reporter.output(
        "task-definition-arns",
        &by(&|o| serde_json::json!(o.task_definition_arn)),
    )?;
    reporter.output("statuses", &by(&|o| serde_json::json!(o.status.as_str())))?;
    reporter.output(
        "durations",
        &by(&|o| serde_json::json!((o.duration_secs * 10.0).round() / 10.0)),
    )
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn outcome(service: &str, status: Status) -> ServiceOutcome {
        ServiceOutcome {
            service: service.into(),
            env: "staging".into(),
            cluster: "c".into(),
            ecs_service: "s".into(),
            image: None,
            task_definition_arn: None,
            registered: false,
            deployment_id: None,
            status,
            duration_secs: 1.0,
            diagnosis: None,
            rollback: None,
        }
    }

    #[test]
    fn the_overall_status_is_the_worst() {
        let all = |s: &[Status]| overall(&s.iter().map(|s| outcome("a", *s)).collect::<Vec<_>>());
        assert_eq!(
            all(&[Status::Succeeded, Status::Unchanged]),
            Status::Succeeded
        );
        assert_eq!(
            all(&[Status::Unchanged, Status::Unchanged]),
            Status::Unchanged
        );
        assert_eq!(
            all(&[Status::Succeeded, Status::RolledBack]),
            Status::RolledBack
        );
        assert_eq!(all(&[Status::RolledBack, Status::Failed]), Status::Failed);
        assert_eq!(all(&[]), Status::Unchanged);
    }

    #[test]
    fn github_sees_success_failure_or_nothing_yet() {
        assert_eq!(
            github_state(Status::Unchanged),
            Some(DeploymentState::Success)
        );
        assert_eq!(
            github_state(Status::RolledBack),
            Some(DeploymentState::Failure)
        );
        assert_eq!(github_state(Status::Started), None);
    }

    #[test]
    fn services_need_an_image_each() {
        let m = Manifest::parse(
            include_str!("../../../.github/ferry.yml"),
            std::path::Path::new(".github/ferry.yml"),
        )
        .unwrap();
        let images: BTreeMap<String, String> =
            [("sampleapi".to_string(), "r/a@sha256:1".to_string())].into();
        assert_eq!(selected(&m, None, &images).unwrap(), vec!["sampleapi"]);
        let err = selected(&m, Some("sampleapi,sampleworker"), &images).unwrap_err();
        assert!(err.contains("no image for sampleworker"), "{err}");
        let err = selected(&m, None, &BTreeMap::new()).unwrap_err();
        assert!(err.contains("nothing to deploy"), "{err}");
        let err = selected(&m, Some("sampleapj"), &images).unwrap_err();
        assert!(err.contains("sampleapj"), "{err}");
    }
}
