//! The pure plan of a deploy: which services (`--services`, else those in
//! `--images`), each rendered with its image (every problem of every
//! service at once, so nothing is touched when one is invalid), where each
//! goes (cluster and ECS service from the manifest), how it rolls out and
//! what is analysed, and the waves. The environment is resolved once.

use std::collections::BTreeMap;

use super::model::{Diagnosis, ServiceOutcome, Status};
use super::options::{Options, RunError};
use crate::diagnostic::Diagnostic;
use crate::gha::{Context, Reporter};
use crate::inputs::ServiceSelection;
use crate::manifest::{AnalysisSettings, Environment, Manifest, RolloutSettings, Strategy};
use crate::project::{Project, StageError};
use crate::render;

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
    /// The scheduled jobs' EventBridge rules (`schedule:`).
    pub schedules: Vec<crate::preflight::Schedule>,
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
/// The project must name its environment ([`Project::with_env`]).
pub fn plan(
    project: &Project,
    images: &BTreeMap<String, String>,
    env_vars: &BTreeMap<String, String>,
    sha: String,
) -> Result<DeployPlan, RunError> {
    let (env, environment) = target(project)?;
    let (root, manifest) = (project.root.as_path(), &project.manifest);
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
    let mut services =
        service_plans(manifest, (env, environment), inputs).map_err(RunError::input)?;
    super::tasks::render_own(project, &mut services, env_vars).map_err(RunError::Render)?;
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
        schedules: super::schedule::planned(manifest, env, &services),
        services,
    })
}

/// The environment a deploy goes to: the one the project names.
fn target(project: &Project) -> Result<(&str, &Environment), RunError> {
    project
        .env()
        .zip(project.environment())
        .ok_or_else(|| RunError::input("a deploy needs an environment: pass --env"))
}

/// The plan of `ferry deploy` with `opts` (what `ferry preflight` checks
/// too): the selected services rendered with their images.
pub fn prepare(
    ctx: &Context,
    project: &Project,
    opts: &Options,
    reporter: &mut Reporter,
) -> Result<DeployPlan, RunError> {
    if let Some(token) = &ctx.token {
        reporter.mask(token)?;
    }
    let names = selected(&project.manifest, opts.services.as_ref(), &opts.images)
        .map_err(RunError::input)?;
    let images: BTreeMap<String, String> = names
        .iter()
        .filter_map(|n| opts.images.get_key_value(n))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    plan(
        project,
        &images,
        &opts.env_vars,
        commit_sha(ctx, &project.root),
    )
}

/// One service to deploy in one environment.
#[derive(Debug, Clone, PartialEq)]
pub struct ServicePlan {
    /// The manifest's service name.
    pub service: String,
    /// The environment.
    pub env: String,
    /// The ECS cluster (rendered from the manifest).
    pub cluster: String,
    /// The ECS service (rendered from the manifest).
    pub ecs_service: String,
    /// The image deployed, for the report.
    pub image: Option<String>,
    /// The rendered RegisterTaskDefinition input.
    pub task_definition: crate::taskdef::TaskDefinition,
    /// The task definition of the last release that succeeded in this
    /// environment (from the GitHub Deployments), the rollback target.
    pub rollback_to: Option<String>,
    /// Set when the definition was registered (or found identical) before
    /// the rollout, as `deploy` does to put the ARN in the GitHub record.
    pub registered: Option<super::register::Registered>,
    /// How it rolls out (the manifest's `rollout:`).
    pub rollout: RolloutSettings,
    /// What is checked while it rolls out (the manifest's `analysis:`).
    pub analysis: Option<AnalysisSettings>,
    /// The version its metrics are labelled with.
    pub version: String,
    /// A record says this release's rollout here completed, its analysis
    /// included (its GitHub Deployment is `success`). Without it, a service
    /// already on this release's revision is followed or re-analysed, never
    /// called unchanged.
    pub verified: bool,
    /// Its one-off tasks here (`before-deploy`, `after-deploy`).
    pub tasks: super::tasks::ServiceTasks,
}

impl ServicePlan {
    /// Whether Ferry follows the service deployment itself (a traffic
    /// shifting strategy, or an analysis to run) rather than the classic
    /// wait for a steady state.
    pub fn progressive(&self) -> bool {
        self.rollout.strategy != Strategy::Rolling || self.analysis.is_some()
    }
}

/// What the services of a plan need besides the rendered definition.
#[derive(Debug, Clone, PartialEq)]
pub struct PlanInput {
    /// The manifest's service name.
    pub service: String,
    /// The image, for the report.
    pub image: Option<String>,
    /// The rendered RegisterTaskDefinition input.
    pub task_definition: crate::taskdef::TaskDefinition,
    /// The rollback target.
    pub rollback_to: Option<String>,
}

/// The plans of `env`: cluster and ECS service names rendered from the
/// manifest's templates. Unknown services or environments are errors.
pub fn plans(
    manifest: &Manifest,
    env: &str,
    inputs: Vec<PlanInput>,
) -> Result<Vec<ServicePlan>, String> {
    let environment = manifest
        .environments
        .get(env)
        .ok_or_else(|| crate::project::unknown_environment(manifest, env))?;
    service_plans(manifest, (env, environment), inputs)
}

/// [`plans`] in an environment already resolved.
fn service_plans(
    manifest: &Manifest,
    (env, environment): (&str, &Environment),
    inputs: Vec<PlanInput>,
) -> Result<Vec<ServicePlan>, String> {
    inputs
        .into_iter()
        .map(|input| {
            let service = manifest.services.get(&input.service).ok_or_else(|| {
                format!(
                    "unknown service `{}`: it is not in {}",
                    input.service,
                    manifest.file.display()
                )
            })?;
            let vars = manifest.vars(&input.service, env);
            let (rollout, analysis) = manifest.rollout_of(&input.service, env);
            let version = super::analysis::version_in(
                &input.task_definition,
                input.image.as_deref().unwrap_or_default(),
            );
            Ok(ServicePlan {
                rollout,
                analysis: analysis.cloned(),
                version,
                cluster: environment.cluster.render(vars),
                ecs_service: service.ecs_service.render(vars),
                env: env.to_string(),
                service: input.service,
                image: input.image,
                task_definition: input.task_definition,
                rollback_to: input.rollback_to,
                registered: None,
                verified: false,
                tasks: super::tasks::plan::declared(manifest, &service.name, env),
            })
        })
        .collect()
}

/// The outcome of a plan before (or without) any change to its service:
/// where it would go, with `status`; the ARN when it was registered already.
pub fn untouched(plan: &ServicePlan, status: Status) -> ServiceOutcome {
    ServiceOutcome {
        service: plan.service.clone(),
        env: plan.env.clone(),
        cluster: plan.cluster.clone(),
        ecs_service: plan.ecs_service.clone(),
        image: plan.image.clone(),
        task_definition_arn: plan.registered.as_ref().map(|r| r.arn.clone()),
        registered: false,
        deployment_id: None,
        status,
        duration_secs: 0.0,
        diagnosis: None,
        rollback: None,
        progress: None,
        tasks: Vec::new(),
    }
}

/// A service that failed before it was changed, and why.
pub fn failed_before_change(mut out: ServiceOutcome, reason: String) -> ServiceOutcome {
    out.status = Status::Failed;
    out.diagnosis = Some(Diagnosis {
        reason,
        notes: vec!["the service was not changed".into()],
        ..Diagnosis::default()
    });
    out
}
