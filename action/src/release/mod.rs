//! `ferry release`: detect → build → render → deploy in one command, for a
//! laptop or a single job. Without AWS credentials outside Actions it is a
//! dry run that prints the plan: the affected services and why, the image
//! tags, the rendered task definitions and what they would change, and the
//! deploy comment it would post.

mod plan;

use std::path::PathBuf;

use std::collections::BTreeMap;

use crate::deploy::{self, DeployReport, Status};
use crate::diagnostic::Diagnostic;
use crate::gha::{Context, Reporter};
use crate::git::Git;
use crate::manifest::Manifest;
use crate::{build, detect, diff, render};

pub use plan::{Mode, PlannedService, ReleasePlan, choose_mode, plan_markdown};

/// Options of `ferry release`.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// Repository root (default: the workspace of the run).
    pub root: Option<PathBuf>,
    /// The manifest, relative to the root.
    pub manifest: PathBuf,
    /// The environment to release to (default: the first one, which
    /// promotes from none).
    pub env: Option<String>,
    /// Detect's range and selection.
    pub detect: detect::Options,
    /// Builder and registry overrides.
    pub build: build::Options,
    /// Print the plan, touch nothing.
    pub dry_run: bool,
    /// How the deploy waits and rolls back.
    pub rollout: deploy::RolloutOptions,
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
    /// Bad input or a missing prerequisite.
    #[error("{0}")]
    Input(String),
    /// The deploy failed or could not start (its summary says why).
    #[error("deploy: {0}")]
    Deploy(#[from] deploy::RunError),
    /// Writing outputs failed.
    #[error("cannot write the outputs: {0}")]
    Io(#[from] std::io::Error),
}

impl ReleaseError {
    /// The located problems, for annotations.
    pub fn diagnostics(&self) -> Vec<Diagnostic> {
        match self {
            Self::Detect(e) => e.diagnostics(),
            Self::Build(e) => e.diagnostics(),
            Self::Render(d) => d.clone(),
            Self::Deploy(e) => e.diagnostics(),
            _ => Vec::new(),
        }
    }
}

/// The environment a release goes to: the one named, else the first that
/// promotes from no other (staging).
pub fn target_env(
    manifest: &crate::manifest::Manifest,
    env: Option<&str>,
) -> Result<String, String> {
    match env {
        Some(e) if manifest.environments.contains_key(e) => Ok(e.to_string()),
        Some(e) => Err(format!(
            "unknown environment `{e}`: {} declares {}",
            manifest.file.display(),
            manifest
                .environments
                .keys()
                .map(String::as_str)
                .collect::<Vec<_>>()
                .join(", ")
        )),
        None => manifest
            .environments
            .values()
            .find(|e| e.promote_from.is_none())
            .or_else(|| manifest.first_environment())
            .map(|e| e.name.clone())
            .ok_or_else(|| format!("{} declares no environment", manifest.file.display())),
    }
}

/// Shared by the dry and the live path: what detect says, as plan rows.
fn detected_rows(detection: &detect::Detection) -> Vec<PlannedService> {
    detection
        .verdicts
        .iter()
        .filter(|v| v.affected())
        .map(|v| PlannedService {
            service: v.service.clone(),
            why: v.reasons.iter().map(ToString::to_string).collect(),
            ..PlannedService::default()
        })
        .collect()
}

/// What a release did.
#[derive(Debug, Clone)]
pub enum Released {
    /// No service was affected.
    Nothing,
    /// A dry run: the plan printed.
    DryRun(ReleasePlan),
    /// Built and deployed.
    Deployed(DeployReport),
}

/// Runs `ferry release`.
pub async fn run(
    ctx: &Context,
    opts: &Options,
    reporter: &mut Reporter,
) -> Result<Released, ReleaseError> {
    let root = opts.root.clone().unwrap_or_else(|| ctx.workspace.clone());
    let git = Git::open(&root).ok();
    let root = git.as_ref().map(|g| g.root().to_path_buf()).unwrap_or(root);
    let manifest = Manifest::load(&root.join(&opts.manifest), &opts.manifest)
        .map_err(|e| ReleaseError::Detect(e.into()))?;
    let env = target_env(&manifest, opts.env.as_deref()).map_err(ReleaseError::Input)?;
    if let Some(token) = &ctx.token {
        reporter.mask(token)?;
    }

    // 1. What changed.
    let detect_opts = detect::Options {
        root: Some(root.clone()),
        manifest: opts.manifest.clone(),
        ..opts.detect.clone()
    };
    let detection = detect::detect(ctx, &detect_opts, &manifest, git.as_ref(), &root).await?;
    reporter.summary(&detect::summary_markdown(&detection))?;
    let affected: Vec<String> = detection.affected().into_iter().map(String::from).collect();
    reporter.output(
        "services",
        &serde_json::to_string(&affected).unwrap_or_default(),
    )?;
    if affected.is_empty() {
        reporter.info("release: no service is affected: nothing to build or deploy")?;
        reporter.output("status", "unchanged")?;
        return Ok(Released::Nothing);
    }

    // 2. Every task definition must render before anything is built.
    let check_images: Vec<(String, String)> = affected
        .iter()
        .map(|s| (s.clone(), format!("{s}:{}", render::CHECK_IMAGE_TAG)))
        .collect();
    deploy::render_services(
        &root,
        &manifest,
        &env,
        check_images.iter().map(|(s, i)| (s, i)),
        &ext_vars(),
    )
    .map_err(ReleaseError::Render)?;

    let environment = manifest.environments.get(&env);
    let region = environment
        .and_then(|e| e.region.clone())
        .unwrap_or_else(|| manifest.region.clone());
    let credentials = if opts.dry_run {
        false
    } else {
        crate::aws::has_credentials(&region).await
    };
    let mode =
        choose_mode(opts.dry_run, ctx.in_actions, credentials).map_err(ReleaseError::Input)?;
    let services = serde_json::to_string(&affected).unwrap_or_default();
    let build_opts = build::Options {
        root: Some(root.clone()),
        manifest: opts.manifest.clone(),
        services: Some(services.clone()),
        ..opts.build.clone()
    };
    match mode {
        Mode::Live => {
            // 3. Build (or reuse) the images, 4. deploy them.
            let outcomes = build::run(ctx, &build_opts, reporter).await?;
            let images: BTreeMap<String, String> = outcomes
                .into_iter()
                .filter_map(|o| Some((o.service, o.image?)))
                .collect();
            let deploy_opts = deploy::Options {
                root: Some(root.clone()),
                manifest: opts.manifest.clone(),
                env: env.clone(),
                services: Some(services),
                images,
                rollout: opts.rollout.clone(),
                dry_run: false,
                env_vars: ext_vars(),
            };
            let report = deploy::run(ctx, &deploy_opts, reporter).await?;
            Ok(Released::Deployed(report))
        }
        Mode::DryRun(why) => {
            let plan = dry_run(
                ctx,
                &build_opts,
                &manifest,
                &env,
                &detection,
                why,
                credentials,
                reporter,
            )
            .await?;
            reporter.output("status", Status::DryRun.as_str())?;
            reporter.summary(&plan_markdown(&plan))?;
            Ok(Released::DryRun(plan))
        }
    }
}

/// `FERRY_EXT_*` variables of the process, for rendering.
fn ext_vars() -> BTreeMap<String, String> {
    std::env::vars()
        .filter(|(k, _)| k.starts_with("FERRY_EXT_"))
        .collect()
}

/// The image name a dry run renders with: where `build` would push it.
fn planned_image(settings: &build::Settings, region: &str, plan: &build::Plan) -> String {
    let host = settings
        .registry
        .as_deref()
        .map(|r| {
            r.trim_start_matches("http://")
                .trim_start_matches("https://")
                .to_string()
        })
        .unwrap_or_else(|| format!("ACCOUNT.dkr.ecr.{region}.amazonaws.com"));
    format!("{host}/{}:{}", plan.repository, plan.tag)
}

/// The dry run: plans, renders to `.ferry/release/`, compares with the
/// running services when AWS answers, and previews the deploy comment.
#[allow(clippy::too_many_arguments)]
async fn dry_run(
    ctx: &Context,
    build_opts: &build::Options,
    manifest: &Manifest,
    env: &str,
    detection: &detect::Detection,
    why: String,
    credentials: bool,
    reporter: &mut Reporter,
) -> Result<ReleasePlan, ReleaseError> {
    let prepared = build::prepare(ctx, build_opts, reporter)?;
    let images: Vec<(String, String)> = prepared
        .plans
        .iter()
        .map(|p| {
            (
                p.service.clone(),
                planned_image(&prepared.settings, &manifest.region, p),
            )
        })
        .collect();
    let rendered = deploy::render_services(
        &prepared.root,
        manifest,
        env,
        images.iter().map(|(s, i)| (s, i)),
        &ext_vars(),
    )
    .map_err(ReleaseError::Render)?;
    let dir = prepared.root.join(".ferry/release");
    std::fs::create_dir_all(&dir)?;
    let mut rows = detected_rows(detection);
    for (r, (_, image)) in rendered.iter().zip(&images) {
        let file = dir.join(format!("{}.{env}.json", r.service));
        let mut text = serde_json::to_string_pretty(&r.task_definition).unwrap_or_default();
        text.push('\n');
        std::fs::write(&file, text)?;
        let (changes, changes_note) = if credentials {
            match diff::running(manifest, &r.service, env).await {
                Ok(running) => (
                    Some(
                        diff::diff(&running, &r.task_definition)
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
        if let Some(row) = rows.iter_mut().find(|row| row.service == r.service) {
            row.image = image.clone();
            row.task_definition_file = file
                .strip_prefix(&prepared.root)
                .unwrap_or(&file)
                .display()
                .to_string();
            row.changes = changes;
            row.changes_note = changes_note;
        }
    }
    let inputs = images
        .iter()
        .map(|(service, image)| deploy::PlanInput {
            service: service.clone(),
            image: Some(image.clone()),
            task_definition: serde_json::Value::Null,
            rollback_to: None,
        })
        .collect();
    let outcomes = deploy::plans(manifest, env, inputs)
        .map_err(ReleaseError::Input)?
        .iter()
        .map(|p| deploy::untouched(p, Status::DryRun))
        .collect();
    let report = DeployReport {
        env: env.to_string(),
        sha: prepared.sha.clone(),
        run_url: ctx.run_url.clone(),
        environment_url: manifest.environments.get(env).and_then(|e| e.url.clone()),
        outcomes,
    };
    let comment = deploy::comment::preview(&report);
    Ok(ReleasePlan {
        env: env.to_string(),
        why_dry: why,
        source: detection.source.clone(),
        notes: detection.notes.clone(),
        unaffected: detection
            .verdicts
            .iter()
            .filter(|v| !v.affected())
            .map(|v| v.service.clone())
            .collect(),
        services: rows,
        comment,
    })
}

#[cfg(test)]
mod tests;
