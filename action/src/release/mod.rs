//! `ferry release`: detect → build → render → deploy in one command, for a
//! laptop or a single job.
//!
//! A release is planned once ([`plan`]: the affected services and why, each
//! one's build plan and image reference, every task definition rendered,
//! where each rolls out) from the project the binary loaded, before any
//! effect: detect's decision, build's prepare and deploy's plan, composed.
//! The same plan is then carried out ([`execute_live`]: build, pin the built
//! images, deploy) or shown ([`execute_dry`]: the rendered task definitions
//! in `.ferry/release/`, what they would change when AWS answers, the
//! deploy comment it would post). Without AWS credentials outside Actions a
//! release is a dry run.

mod plan;

use std::collections::BTreeMap;

use crate::deploy::{self, DeployPlan, DeployReport, Status};
use crate::diagnostic::{Diagnose, Diagnostic};
use crate::gha::{Context, Reporter};
use crate::git::Git;
use crate::inputs::ServiceSelection;
use crate::project::{Project, ProjectError, StageError};
use crate::{build, detect, diff};

pub use plan::{DryRunReport, DryRunService, Mode, choose_mode, plan_markdown};
/// Options of `ferry release` (the environment released to is the
/// project's).
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// Detect's range and selection.
    pub detect: detect::Options,
    /// Builder and registry overrides (the services are the affected ones).
    pub build: build::Options,
    /// Print the plan, touch nothing.
    pub dry_run: bool,
    /// How the deploy waits and rolls back.
    pub rollout: deploy::RolloutOptions,
    /// Check every reference before deploying (or skip, with a reason).
    pub preflight: crate::preflight::Gate,
}

/// Why a release stopped.
#[derive(Debug, thiserror::Error)]
pub enum ReleaseError {
    /// Detect failed.
    #[error("detect: {0}")]
    Detect(#[from] detect::DetectError),
    /// Build failed.
    #[error("build: {0}")]
    Build(#[from] build::BuildError),
    /// A task definition did not render; nothing was deployed.
    #[error("render: {} problem(s) in the task definitions; nothing was deployed", .0.len())]
    Render(Vec<Diagnostic>),
    /// The manifest, bad input or a missing prerequisite.
    #[error(transparent)]
    Project(#[from] ProjectError),
    /// The deploy failed or could not start (its summary says why).
    #[error("deploy: {0}")]
    Deploy(#[from] deploy::RunError),
    /// Writing outputs failed.
    #[error("cannot write the outputs: {0}")]
    Io(#[from] std::io::Error),
}

impl Diagnose for ReleaseError {
    fn diagnostics(&self) -> Vec<Diagnostic> {
        match self {
            Self::Detect(e) => e.diagnostics(),
            Self::Build(e) => e.diagnostics(),
            Self::Render(d) => d.clone(),
            Self::Deploy(e) => e.diagnostics(),
            Self::Project(e) => e.diagnostics(),
            Self::Io(_) => Vec::new(),
        }
    }
}

impl StageError for ReleaseError {}

/// A release decided before any effect, built once from the context and
/// the manifest; every later step reads it, none re-derives it.
#[derive(Debug)]
pub struct ReleasePlan {
    /// What changed and which services it affects, with the reasons.
    pub detection: detect::Detection,
    /// How and where the images are built.
    pub build: build::Settings,
    /// One build plan per affected service.
    pub builds: Vec<build::Plan>,
    /// The image reference each service is rendered with
    /// ([`build::Settings::planned_image`]); the build pins it to its digest.
    pub images: BTreeMap<String, String>,
    /// The rendered task definitions and where they roll out.
    pub deploy: DeployPlan,
    /// `FERRY_EXT_*` variables the task definitions were rendered with.
    pub env_vars: BTreeMap<String, String>,
}

/// What a release did.
#[derive(Debug, Clone)]
pub enum Released {
    /// No service was affected.
    Nothing,
    /// A dry run: the plan printed.
    DryRun(DryRunReport),
    /// Built and deployed.
    Deployed(DeployReport),
}

/// `FERRY_EXT_*` variables of the process, for rendering.
fn ext_vars() -> BTreeMap<String, String> {
    crate::inputs::ext_vars(std::env::vars())
}

/// Replaces, in a rendered task definition, every container image equal to
/// `planned` by `built` (the same image pinned to its digest). Returns how
/// many containers used it: none means the Jsonnet did not pass the image
/// through verbatim, and the caller renders again with `built`.
pub fn pin_image(
    task_definition: &mut crate::taskdef::TaskDefinition,
    planned: &str,
    built: &str,
) -> usize {
    let mut pinned = 0;
    for container in task_definition.containers_mut() {
        if container.image() == Some(planned) {
            container.image = Some(crate::taskdef::Field::Typed(built.to_string()));
            pinned += 1;
        }
    }
    pinned
}

/// Plans a release of the project to its environment (`git`: its
/// repository, when it is one): detects the affected services, prepares
/// their builds and renders every task definition with the image each
/// build will push, so a broken one stops the release before anything is
/// built. `None` when no service is affected.
pub async fn plan(
    ctx: &Context,
    project: &Project,
    git: Option<&Git>,
    opts: &Options,
    reporter: &mut Reporter,
) -> Result<Option<ReleasePlan>, ReleaseError> {
    project
        .env()
        .ok_or_else(|| ReleaseError::input("name the environment to release to: --env"))?;

    // 1. What changed.
    let detection = detect::detect(ctx, project, git, &opts.detect).await?;
    reporter.summary(&detect::summary_markdown(&detection))?;
    let affected: Vec<String> = detection.affected().into_iter().map(String::from).collect();
    reporter.output(
        "services",
        &serde_json::to_string(&affected).unwrap_or_default(),
    )?;
    if affected.is_empty() {
        return Ok(None);
    }

    // 2. What each image will be.
    let opened;
    let git = match git {
        Some(git) => git,
        None => {
            opened = build::open_git(&project.root)?;
            &opened
        }
    };
    let build_opts = build::Options {
        services: Some(ServiceSelection::Named(affected)),
        ..opts.build.clone()
    };
    let build::Prepared {
        sha,
        plans: builds,
        settings,
    } = build::prepare(ctx, project, git, &build_opts, reporter)?;
    let images: BTreeMap<String, String> = builds
        .iter()
        .map(|b| (b.service.clone(), settings.planned_image(b)))
        .collect();

    // 3. Every task definition, rendered once with those images.
    let env_vars = ext_vars();
    let deploy = deploy::plan(project, &images, &env_vars, sha).map_err(|e| match e {
        deploy::RunError::Render(d) => ReleaseError::Render(d),
        other => ReleaseError::Deploy(other),
    })?;
    Ok(Some(ReleasePlan {
        detection,
        build: settings,
        builds,
        images,
        deploy,
        env_vars,
    }))
}

/// Runs `ferry release` of the project to its environment: the plan, then
/// its live or dry execution.
pub async fn run(
    ctx: &Context,
    project: &Project,
    git: Option<&Git>,
    opts: &Options,
    reporter: &mut Reporter,
) -> Result<Released, ReleaseError> {
    if let Some(token) = &ctx.token {
        reporter.mask(token)?;
    }
    let Some(plan) = plan(ctx, project, git, opts, reporter).await? else {
        reporter.info("release: no service is affected: nothing to build or deploy")?;
        reporter.output("status", "unchanged")?;
        return Ok(Released::Nothing);
    };
    let credentials = !opts.dry_run && crate::aws::has_credentials(&plan.deploy.region).await;
    let mode =
        choose_mode(opts.dry_run, ctx.in_actions, credentials).map_err(ReleaseError::input)?;
    match mode {
        Mode::Live => Ok(Released::Deployed(
            execute_live(ctx, project, plan, &opts.rollout, &opts.preflight, reporter).await?,
        )),
        Mode::DryRun(why) => {
            let report = execute_dry(ctx, project, &plan, why, credentials).await?;
            reporter.output("status", Status::DryRun.as_str())?;
            reporter.summary(&plan_markdown(&report))?;
            Ok(Released::DryRun(report))
        }
    }
}

/// Carries a plan out: builds (or reuses) the images, pins each rendered
/// task definition to the image built, runs preflight on what it pinned,
/// and deploys.
pub async fn execute_live(
    ctx: &Context,
    project: &Project,
    mut plan: ReleasePlan,
    rollout: &deploy::RolloutOptions,
    preflight: &crate::preflight::Gate,
    reporter: &mut Reporter,
) -> Result<DeployReport, ReleaseError> {
    let outcomes = build::execute(&plan.build, plan.builds.clone(), reporter).await?;
    let built: BTreeMap<String, String> = outcomes
        .into_iter()
        .filter_map(|o| Some((o.service, o.image?)))
        .collect();
    for service in plan.deploy.services.iter_mut() {
        let (Some(planned), Some(image)) = (
            plan.images.get(&service.service),
            built.get(&service.service),
        ) else {
            continue;
        };
        if pin_image(&mut service.task_definition, planned, image) == 0 {
            // The Jsonnet transformed the image: only rendering knows how.
            let one = [(service.service.clone(), image.clone())];
            let mut rendered = deploy::render_services(
                &project.root,
                &project.manifest,
                &plan.deploy.env,
                one.iter().map(|(s, i)| (s, i)),
                &plan.env_vars,
            )
            .map_err(ReleaseError::Render)?;
            if let Some(r) = rendered.pop() {
                service.task_definition = r.task_definition;
            }
        }
        service.image = Some(image.clone());
    }
    deploy::preflight(project, &plan.deploy, preflight, reporter).await?;
    Ok(deploy::execute(ctx, plan.deploy, rollout, reporter).await?)
}

/// Shows a plan: writes each rendered task definition to
/// `.ferry/release/<service>.<env>.json`, compares it with the running
/// service when AWS answers, and previews the deploy comment.
pub async fn execute_dry(
    ctx: &Context,
    project: &Project,
    plan: &ReleasePlan,
    why: String,
    credentials: bool,
) -> Result<DryRunReport, ReleaseError> {
    let env = &plan.deploy.env;
    let dir = project.root.join(".ferry/release");
    std::fs::create_dir_all(&dir)?;
    let mut services = Vec::new();
    for service in &plan.deploy.services {
        let file = dir.join(format!("{}.{env}.json", service.service));
        let mut text =
            serde_json::to_string_pretty(&service.task_definition.to_value()).unwrap_or_default();
        text.push('\n');
        std::fs::write(&file, text)?;
        let (changes, changes_note) = if credentials {
            match diff::running(&project.manifest, &service.service, env).await {
                Ok(running) => (
                    Some(
                        diff::diff(&running, &service.task_definition.to_value())
                            .iter()
                            .map(ToString::to_string)
                            .collect(),
                    ),
                    None,
                ),
                Err(e) => (
                    None,
                    Some(format!("Not compared with the running service: {e}.")),
                ),
            }
        } else {
            (
                None,
                Some("Not compared with the running service: no AWS credentials.".to_string()),
            )
        };
        let why = plan
            .detection
            .verdicts
            .iter()
            .find(|v| v.service == service.service)
            .map(|v| v.reasons.iter().map(ToString::to_string).collect())
            .unwrap_or_default();
        services.push(DryRunService {
            service: service.service.clone(),
            why,
            image: service.image.clone().unwrap_or_default(),
            task_definition_file: file
                .strip_prefix(&project.root)
                .unwrap_or(&file)
                .display()
                .to_string(),
            changes,
            changes_note,
            rollout: deploy::progressive::describe_rollout(
                &service.rollout,
                service.analysis.as_ref(),
            ),
        });
    }
    let comment = deploy::comment::preview(&deploy::dry_report(&plan.deploy, ctx.run_url.clone()));
    Ok(DryRunReport {
        env: env.clone(),
        why_dry: why,
        source: plan.detection.source.clone(),
        notes: plan.detection.notes.clone(),
        unaffected: plan
            .detection
            .verdicts
            .iter()
            .filter(|v| !v.affected())
            .map(|v| v.service.clone())
            .collect(),
        services,
        waves: if plan.deploy.waves.len() > 1 {
            deploy::waves::describe(&plan.deploy.waves)
        } else {
            Vec::new()
        },
        comment,
    })
}

#[cfg(test)]
mod tests;
