//! `ferry deploy` end to end, as a plan and its execution: [`plan`] renders
//! every service (nothing is touched when one is invalid); [`execute`]
//! registers, records a GitHub Deployment per service, rolls out and waits,
//! then sets the statuses, posts the deploy comment and writes the outputs
//! and the job summary; [`preview`] shows the same plan with no effect.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;

use super::apply::{
    PlanInput, RolloutOptions, ServicePlan, failed_before_change, plans, roll_out_with, untouched,
};
use super::budget::Budget;
use super::comment;
use super::model::{DeployReport, ServiceOutcome, Status};
use super::register::ensure_registered;
use crate::diagnostic::{Diagnose, Diagnostic};
use crate::gha::{Context, Reporter};
use crate::github::GitHub;
use crate::github::deployments::DeploymentPayload;
use crate::github::deployments::{DeploymentState, NewDeployment, NewStatus};
use crate::inputs::ServiceSelection;
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
    /// The services to deploy (default: those in `images`).
    pub services: Option<ServiceSelection>,
    /// The image of each service.
    pub images: BTreeMap<String, String>,
    /// Rollout behaviour (wait, deadline, rollback).
    pub rollout: RolloutOptions,
    /// Render and print; touch nothing.
    pub dry_run: bool,
    /// `FERRY_EXT_*` variables, for rendering.
    pub env_vars: BTreeMap<String, String>,
    /// Check every reference first (or skip, with a reason).
    pub preflight: crate::preflight::Gate,
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
    /// Preflight found references that do not exist; nothing was touched.
    #[error(transparent)]
    Preflight(#[from] crate::preflight::PreflightError),
    /// Writing outputs failed.
    #[error("cannot write the outputs: {0}")]
    Io(#[from] std::io::Error),
    /// The deploy ran, and at least one service did not end where the
    /// release wanted it; the summary and the comment say why.
    #[error("{0}")]
    Failed(String),
}

impl Diagnose for RunError {
    fn diagnostics(&self) -> Vec<Diagnostic> {
        match self {
            Self::Manifest(e) => e.diagnostics(),
            Self::Render(d) => d.clone(),
            Self::Preflight(e) => e.diagnostics(),
            _ => Vec::new(),
        }
    }
}

/// The services to deploy: `services` when given (each must have an
/// image), else every service named in `images`.
pub fn selected(
    manifest: &Manifest,
    services: Option<&ServiceSelection>,
    images: &BTreeMap<String, String>,
) -> Result<Vec<String>, String> {
    let names = match services {
        Some(selection) => selection.resolve(manifest)?,
        None if images.is_empty() => {
            return Err(
                "nothing to deploy: give `images` (ferry build's `images` output, or service=URI pairs)"
                    .into(),
            );
        }
        None => ServiceSelection::Named(images.keys().cloned().collect()).resolve(manifest)?,
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

/// A deploy decided before anything is touched: where it goes, each
/// service's image and rendered task definition. `ferry deploy` and
/// `ferry release` build it once, then either carry it out ([`execute`]) or
/// show it ([`preview`]): the dry run is the same plan with effects off.
#[derive(Debug, Clone)]
pub struct DeployPlan {
    /// The environment.
    pub env: String,
    /// Its AWS region.
    pub region: String,
    /// True when the environment promotes from another (GitHub's
    /// `production_environment` flag).
    pub production: bool,
    /// The environment's URL, for GitHub's environments view.
    pub environment_url: Option<String>,
    /// The commit deployed (empty only outside a git clone).
    pub sha: String,
    /// One entry per service, in the manifest's order.
    pub services: Vec<ServicePlan>,
    /// The waves it rolls out in (`depends-on`), each in the manifest's
    /// order; one wave when nothing depends on anything.
    pub waves: Vec<Vec<String>>,
}

/// The commit a run deploys: `GITHUB_SHA`, else (outside Actions) the
/// commit checked out; empty only outside a git clone.
pub fn commit_sha(ctx: &Context, root: &std::path::Path) -> String {
    match &ctx.sha {
        Some(sha) => sha.clone(),
        None => crate::git::Git::open(root)
            .ok()
            .and_then(|git| git.head().ok().flatten())
            .map(|id| id.as_str().to_string())
            .unwrap_or_default(),
    }
}

/// Decides a deploy of `images` (service → image reference) to `env`:
/// renders every task definition first (every problem of every service at
/// once), so a broken one stops the deploy before anything is touched.
pub fn plan(
    root: &std::path::Path,
    manifest: &Manifest,
    env: &str,
    images: &BTreeMap<String, String>,
    env_vars: &BTreeMap<String, String>,
    sha: String,
) -> Result<DeployPlan, RunError> {
    let environment = super::apply::environment(manifest, env).map_err(RunError::Input)?;
    let rendered =
        render_services(root, manifest, env, images.iter(), env_vars).map_err(RunError::Render)?;
    let inputs = rendered
        .into_iter()
        .map(|r| PlanInput {
            image: images.get(&r.service).cloned(),
            service: r.service,
            task_definition: r.task_definition,
            rollback_to: None,
        })
        .collect();
    let mut services = plans(manifest, env, inputs).map_err(RunError::Input)?;
    // Manifest order, as every table shows it.
    services.sort_by_key(|p| manifest.services.get_index_of(&p.service));
    Ok(DeployPlan {
        env: env.to_string(),
        region: environment
            .region
            .clone()
            .unwrap_or_else(|| manifest.region.clone()),
        production: environment.promote_from.is_some(),
        environment_url: environment.url.clone(),
        sha,
        waves: crate::manifest::waves(
            manifest,
            &services
                .iter()
                .map(|p| p.service.clone())
                .collect::<Vec<_>>(),
        ),
        services,
    })
}

/// What a deploy would do, with no effect: each service's outcome is
/// `dry-run`; the comment it would post is returned beside the report.
pub fn dry_report(plan: &DeployPlan, run_url: Option<String>) -> DeployReport {
    DeployReport {
        env: plan.env.clone(),
        sha: plan.sha.clone(),
        run_url,
        environment_url: plan.environment_url.clone(),
        outcomes: plan
            .services
            .iter()
            .map(|p| untouched(p, Status::DryRun))
            .collect(),
    }
}

/// Shows a plan instead of carrying it out: what each service would run
/// where, the comment it would post, the outputs and the summary.
pub fn preview(
    plan: &DeployPlan,
    ctx: &Context,
    reporter: &mut Reporter,
) -> Result<DeployReport, RunError> {
    let report = dry_report(plan, ctx.run_url.clone());
    for p in &plan.services {
        reporter.info(&format!(
            "dry run: {} ({}) would run {} on ECS service {} in cluster {}, rolling out {}",
            p.service,
            p.env,
            p.image.as_deref().unwrap_or("–"),
            p.ecs_service,
            p.cluster,
            super::progressive::describe_rollout(&p.rollout, p.analysis.as_ref())
        ))?;
    }
    if plan.waves.len() > 1 {
        for line in super::waves::describe(&plan.waves) {
            reporter.info(&format!("dry run: {line}"))?;
        }
    }
    reporter.info("dry run: the deploy comment would read:")?;
    reporter.info(&comment::preview(&report))?;
    write_outputs(reporter, &report)?;
    reporter.summary(&comment::render_summary(&report))?;
    reporter.summary(&super::waves::markdown(&plan.waves, &report.outcomes))?;
    Ok(report)
}

/// Runs `ferry deploy`: the plan from the manifest and the images, then
/// carried out, or previewed with `--dry-run`.
pub async fn run(
    ctx: &Context,
    opts: &Options,
    reporter: &mut Reporter,
) -> Result<DeployReport, RunError> {
    let (manifest, plan) = prepare(ctx, opts, reporter)?;
    if opts.dry_run {
        preview(&plan, ctx, reporter)
    } else {
        preflight(&manifest, &plan, &opts.preflight, reporter).await?;
        execute(ctx, plan, &opts.rollout, reporter).await
    }
}

/// The manifest and the plan of `ferry deploy` with `opts` (what `ferry
/// preflight` checks too): the selected services rendered with their images.
pub fn prepare(
    ctx: &Context,
    opts: &Options,
    reporter: &mut Reporter,
) -> Result<(Manifest, DeployPlan), RunError> {
    let root = opts.root.clone().unwrap_or_else(|| ctx.workspace.clone());
    let manifest = Manifest::load(&root.join(&opts.manifest), &opts.manifest)?;
    super::apply::environment(&manifest, &opts.env).map_err(RunError::Input)?;
    if let Some(token) = &ctx.token {
        reporter.mask(token)?;
    }
    let names =
        selected(&manifest, opts.services.as_ref(), &opts.images).map_err(RunError::Input)?;
    let images: BTreeMap<String, String> = names
        .iter()
        .filter_map(|n| opts.images.get_key_value(n))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    let plan = plan(
        &root,
        &manifest,
        &opts.env,
        &images,
        &opts.env_vars,
        commit_sha(ctx, &root),
    )?;
    Ok((manifest, plan))
}

/// What preflight checks of a plan: each service's rendered definition and
/// where it goes.
pub fn preflight_targets(plan: &DeployPlan) -> crate::preflight::Targets {
    crate::preflight::Targets {
        env: plan.env.clone(),
        region: plan.region.clone(),
        services: plan
            .services
            .iter()
            .map(|p| crate::preflight::Target {
                service: p.service.clone(),
                task_definition: p.task_definition.clone(),
                cluster: p.cluster.clone(),
                ecs_service: p.ecs_service.clone(),
            })
            .collect(),
    }
}

/// Preflight before anything is registered or updated: every reference
/// checked (credentials first), or skipped with the reason recorded.
pub async fn preflight(
    manifest: &Manifest,
    plan: &DeployPlan,
    gate: &crate::preflight::Gate,
    reporter: &mut Reporter,
) -> Result<(), RunError> {
    if *gate == crate::preflight::Gate::Run {
        crate::aws::connect(&plan.region).await?;
    }
    crate::preflight::gate(manifest, &preflight_targets(plan), gate, reporter).await?;
    Ok(())
}

/// Registration's result per service: the ARN, or why it failed.
type Registrations = BTreeMap<String, Result<super::register::Registered, String>>;

/// Registers every service's task definition at once, under the
/// registration budget (an identical latest revision is reused).
async fn register_all(
    clients: &crate::aws::Clients,
    plan: &DeployPlan,
    rollout: &RolloutOptions,
) -> Result<Registrations, RunError> {
    let budget = Arc::new(Budget::new(
        rollout.register_per_second,
        rollout.register_burst,
    ));
    let mut set = tokio::task::JoinSet::new();
    for p in &plan.services {
        let (ecs, budget, td, service) = (
            clients.ecs.clone(),
            budget.clone(),
            p.task_definition.clone(),
            p.service.clone(),
        );
        set.spawn(async move {
            let result = ensure_registered(&ecs, &budget, &td).await;
            (service, result.map_err(|e| e.to_string()))
        });
    }
    let mut registrations = Registrations::new();
    while let Some(joined) = set.join_next().await {
        let (service, result) =
            joined.map_err(|e| RunError::Failed(format!("a registration task failed: {e}")))?;
        registrations.insert(service, result);
    }
    Ok(registrations)
}

/// A service's GitHub Deployment record: its id, and whether an earlier
/// run of this release already marked it `success` (a re-run adds nothing).
type Records = BTreeMap<String, (u64, bool)>;

/// Where a deploy's GitHub deployment statuses go: the client, and the
/// links every status carries (the run, the environment).
#[derive(Debug, Clone)]
struct Statuses {
    gh: GitHub,
    log_url: Option<String>,
    environment_url: Option<String>,
}

impl Statuses {
    /// Sets one status; a failure comes back as a warning line, because
    /// GitHub never blocks a deploy.
    async fn set(
        &self,
        service: &str,
        id: u64,
        state: DeploymentState,
        description: &str,
    ) -> Option<String> {
        let status = NewStatus {
            state,
            log_url: self.log_url.as_deref(),
            environment_url: self.environment_url.as_deref(),
            description,
        };
        self.gh
            .set_status(id, &status)
            .await
            .err()
            .map(|e| format!("warning: {service}: cannot set the deployment status: {e}"))
    }
}

/// The GitHub side before the rollout: each service's rollback target (the
/// last successful release's task definition) and its Deployment record,
/// marked `in_progress`. Problems are warnings: GitHub never blocks a deploy.
async fn open_records(
    statuses: &Statuses,
    plan: &mut DeployPlan,
    reporter: &mut Reporter,
) -> Result<Records, RunError> {
    let gh = &statuses.gh;
    let mut records = Records::new();
    for service in plan.services.iter_mut() {
        let Some(registered) = service.registered.clone() else {
            continue;
        };
        match gh
            .last_successful(&plan.env, &service.service, HISTORY)
            .await
        {
            Ok(Some(record)) => {
                service.rollback_to = record
                    .payload
                    .and_then(|p| p.task_definition_arn)
                    .filter(|arn| *arn != registered.arn);
            }
            Ok(None) => {}
            Err(e) => reporter.info(&format!(
                "warning: {}: cannot read the last successful release (no rollback target): {e}",
                service.service
            ))?,
        }
        let payload = DeploymentPayload {
            service: service.service.clone(),
            image: service.image.clone(),
            task_definition_arn: Some(registered.arn.clone()),
        };
        let new = NewDeployment {
            sha: &plan.sha,
            environment: &plan.env,
            service: &service.service,
            payload: &payload,
            description: &format!("Ferry: {} to {}", service.service, plan.env),
            production: plan.production,
        };
        let created = match gh.create_deployment(&new).await {
            Ok(d) => d,
            Err(e) => {
                reporter.info(&format!(
                    "warning: {}: cannot record the GitHub Deployment: {e}",
                    service.service
                ))?;
                continue;
            }
        };
        let id = created.record.id;
        let previous = if created.reused {
            gh.latest_state(id).await.ok().flatten()
        } else {
            None
        };
        // A re-run of a release that already succeeded adds no status.
        let done_before = previous == Some(DeploymentState::Success);
        if !done_before
            && let Some(warning) = statuses
                .set(
                    &service.service,
                    id,
                    DeploymentState::InProgress,
                    "rolling out",
                )
                .await
        {
            reporter.info(&warning)?;
        }
        // Only a `success` record says this release's analysis completed.
        service.verified = done_before;
        records.insert(service.service.clone(), (id, done_before));
    }
    Ok(records)
}

/// Turns each step of a progressive rollout into an `in_progress`
/// deployment status with the step in its description, so GitHub's
/// environments view follows the canary. Failures are warnings.
struct StepStatuses {
    statuses: Statuses,
    records: Records,
}

impl StepStatuses {
    async fn run(
        self,
        mut steps: tokio::sync::mpsc::UnboundedReceiver<(String, super::progressive::StepReport)>,
    ) -> Vec<String> {
        let mut warnings = Vec::new();
        while let Some((service, step)) = steps.recv().await {
            let Some((id, done_before)) = self.records.get(&service) else {
                continue;
            };
            if *done_before {
                continue;
            }
            let description = step.title();
            let set = self
                .statuses
                .set(&service, *id, DeploymentState::InProgress, &description);
            warnings.extend(set.await);
        }
        warnings
    }
}

/// The GitHub side after the rollout: each record's final status, then the
/// deploy comment on the pull requests of the commit.
async fn close_records(
    statuses: &Statuses,
    records: &Records,
    report: &DeployReport,
    reporter: &mut Reporter,
) -> Result<(), RunError> {
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
        if let Some(warning) = statuses.set(&o.service, *id, state, &description).await {
            reporter.info(&warning)?;
        }
    }
    if report.sha.is_empty() {
        return Ok(());
    }
    match super::post::post_deploy_comment(&statuses.gh, &report.sha, report).await {
        Ok(posted) => {
            for (pr, upserted) in posted {
                reporter.info(&format!(
                    "deploy comment on #{pr}: {}",
                    upserted_word(&upserted)
                ))?;
            }
        }
        Err(e) => reporter.info(&format!("warning: the deploy comment was not posted: {e}"))?,
    }
    Ok(())
}

/// Carries a plan out: register, record in GitHub, roll out and wait (with
/// diagnosis and rollback), then statuses, comment, outputs and summary.
/// The Deployment record carries the task definition ARN, so it is created
/// after registration, and marked `in_progress` before the service is
/// updated, so GitHub's environments view shows the rollout while it runs.
pub async fn execute(
    ctx: &Context,
    mut plan: DeployPlan,
    rollout: &RolloutOptions,
    reporter: &mut Reporter,
) -> Result<DeployReport, RunError> {
    let clients = crate::aws::connect(&plan.region).await?;
    let statuses = GitHub::from_context(ctx).map(|gh| Statuses {
        gh,
        log_url: ctx.run_url.clone(),
        environment_url: plan.environment_url.clone(),
    });
    if statuses.is_none() {
        reporter.info(
            "note: no GitHub token or repository: no Deployment records, no rollback history, no comment",
        )?;
    }

    let mut registrations = register_all(&clients, &plan, rollout).await?;
    note_registrations(&mut plan, &registrations, reporter)?;
    let records = match &statuses {
        Some(statuses) => open_records(statuses, &mut plan, reporter).await?,
        None => Records::new(),
    };

    // The rollout: only services that registered.
    let order: Vec<String> = plan.services.iter().map(|p| p.service.clone()).collect();
    let (ready, broken): (Vec<ServicePlan>, Vec<ServicePlan>) = plan
        .services
        .into_iter()
        .partition(|p| p.registered.is_some());
    let mut outcomes = Vec::new();
    for p in broken {
        let reason = match registrations.remove(&p.service) {
            Some(Err(e)) => e,
            _ => String::new(),
        };
        outcomes.push(failed_before_change(untouched(&p, Status::Failed), reason));
    }
    outcomes.extend(
        roll_out_waves(
            &clients,
            ready,
            &plan.waves,
            &outcomes,
            rollout,
            |statuses_for| {
                statuses_for.clone().map(|statuses| StepStatuses {
                    statuses,
                    records: records.clone(),
                })
            },
            &statuses,
            &plan.env,
            reporter,
        )
        .await?,
    );
    outcomes.sort_by_key(|o| order.iter().position(|s| *s == o.service));
    let report = DeployReport {
        env: plan.env.clone(),
        sha: plan.sha.clone(),
        run_url: ctx.run_url.clone(),
        environment_url: plan.environment_url.clone(),
        outcomes,
    };
    for o in &report.outcomes {
        crate::telemetry::record_service(&crate::telemetry::ServiceRecord {
            service: &o.service,
            environment: &o.env,
            image: o.image.as_deref(),
            task_definition_arn: o.task_definition_arn.as_deref(),
            outcome: o.status.as_str(),
            duration_secs: o.duration_secs,
            rolled_back_to: o.rollback.as_ref().map(|r| r.task_definition_arn.as_str()),
        });
        reporter.info(&describe(o))?;
    }
    if let Some(statuses) = &statuses {
        close_records(statuses, &records, &report, reporter).await?;
    }

    write_outputs(reporter, &report)?;
    reporter.summary(&comment::render_summary(&report))?;
    reporter.summary(&super::waves::markdown(&plan.waves, &report.outcomes))?;
    succeeded(report)
}

/// The rollout wave by wave (`depends-on`): a wave starts when every
/// service of the one before reached steady state and passed its analysis
/// (waves before the last are waited on even with `--no-wait`); after a
/// failed wave, the later ones are not deployed (and say why), and the
/// earlier, healthy ones stay as they are. `failed_before` holds the
/// services that already failed (registration).
#[allow(clippy::too_many_arguments)]
async fn roll_out_waves(
    clients: &crate::aws::Clients,
    mut ready: Vec<ServicePlan>,
    waves: &[Vec<String>],
    failed_before: &[ServiceOutcome],
    rollout: &RolloutOptions,
    step_statuses: impl Fn(&Option<Statuses>) -> Option<StepStatuses>,
    statuses: &Option<Statuses>,
    env: &str,
    reporter: &mut Reporter,
) -> Result<Vec<ServiceOutcome>, RunError> {
    let mut outcomes = Vec::new();
    let mut stopped: Option<(usize, Vec<String>)> = None;
    if waves.len() > 1 {
        for line in super::waves::describe(waves) {
            reporter.info(&line)?;
        }
    }
    for (i, wave) in waves.iter().enumerate() {
        let (batch, rest): (Vec<ServicePlan>, Vec<ServicePlan>) =
            ready.into_iter().partition(|p| wave.contains(&p.service));
        ready = rest;
        if let Some((n, failed)) = &stopped {
            outcomes.extend(batch.iter().map(|p| {
                failed_before_change(
                    untouched(p, Status::Failed),
                    super::waves::not_deployed(*n, failed),
                )
            }));
            continue;
        }
        let last = i + 1 == waves.len();
        let options = if last {
            rollout.clone()
        } else {
            RolloutOptions {
                wait: true,
                ..rollout.clone()
            }
        };
        let done = roll_out_reported(
            clients,
            batch,
            &options,
            step_statuses(statuses),
            env,
            reporter,
        )
        .await?;
        let failed: Vec<String> = done
            .iter()
            .chain(failed_before.iter().filter(|o| wave.contains(&o.service)))
            .filter(|o| !o.status.is_success())
            .map(|o| o.service.clone())
            .collect();
        outcomes.extend(done);
        if !failed.is_empty() && !last {
            reporter.info(&format!(
                "wave {} failed ({}): the later waves are not deployed; the earlier ones stay",
                i + 1,
                failed.join(", ")
            ))?;
            stopped = Some((i + 1, failed));
        }
    }
    // A service in no wave (none by construction) still rolls out.
    if !ready.is_empty() {
        outcomes.extend(
            roll_out_reported(
                clients,
                ready,
                rollout,
                step_statuses(statuses),
                env,
                reporter,
            )
            .await?,
        );
    }
    Ok(outcomes)
}

/// The report when every service succeeded (or was unchanged), else the
/// error naming those that did not.
fn succeeded(report: DeployReport) -> Result<DeployReport, RunError> {
    if report.succeeded() {
        return Ok(report);
    }
    let failed: Vec<String> = report
        .outcomes
        .iter()
        .filter(|o| !o.status.is_success())
        .map(|o| format!("{} {}", o.service, o.status.as_str()))
        .collect();
    Err(RunError::Failed(format!(
        "deploy to {} failed: {}",
        report.env,
        failed.join(", ")
    )))
}

/// Says what registration did, and puts each ARN on its service's plan.
fn note_registrations(
    plan: &mut DeployPlan,
    registrations: &Registrations,
    reporter: &mut Reporter,
) -> Result<(), RunError> {
    for service in plan.services.iter_mut() {
        if let Some(Ok(r)) = registrations.get(&service.service) {
            reporter.info(&format!(
                "{} ({}): {} {}",
                service.service,
                service.env,
                if r.registered {
                    "registered"
                } else {
                    "reusing the identical"
                },
                r.arn
            ))?;
            service.registered = Some(r.clone());
        }
    }
    Ok(())
}

/// The rollout in a log group, each progressive step turned into a GitHub
/// deployment status as it begins (when there is GitHub).
async fn roll_out_reported(
    clients: &crate::aws::Clients,
    ready: Vec<ServicePlan>,
    rollout: &RolloutOptions,
    statuses: Option<StepStatuses>,
    env: &str,
    reporter: &mut Reporter,
) -> Result<Vec<ServiceOutcome>, RunError> {
    reporter.group(&format!("roll out to {env}"))?;
    let (steps, poster) = match statuses {
        Some(poster) => {
            let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
            (Some(tx), Some(tokio::spawn(poster.run(rx))))
        }
        None => (None, None),
    };
    // Live: the job's log follows the rollout, and a job cancelled or
    // killed midway still shows how far it got.
    let mut written: std::io::Result<()> = Ok(());
    let outcomes = roll_out_with(
        clients,
        ready,
        rollout,
        &mut |line| {
            if written.is_ok() {
                written = reporter.info(line);
            }
        },
        steps,
    )
    .await
    .outcomes;
    written?;
    if let Some(poster) = poster {
        for line in poster.await.unwrap_or_default() {
            reporter.info(&line)?;
        }
    }
    reporter.end_group()?;
    Ok(outcomes)
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
    )?;
    reporter.output(
        "decided-by",
        &by(&|o| serde_json::json!(o.progress.as_ref().and_then(|p| p.decided_by.clone()))),
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
            progress: None,
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
        let given = |text: &str| ServiceSelection::parse(text).unwrap().unwrap();
        let err = selected(&m, Some(&given("sampleapi,sampleworker")), &images).unwrap_err();
        assert!(err.contains("no image for sampleworker"), "{err}");
        let err = selected(&m, None, &BTreeMap::new()).unwrap_err();
        assert!(err.contains("nothing to deploy"), "{err}");
        let err = selected(&m, Some(&given("sampleapj")), &images).unwrap_err();
        assert!(err.contains("sampleapj"), "{err}");
    }
}
