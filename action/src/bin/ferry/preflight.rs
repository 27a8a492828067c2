//! `ferry preflight` and the `--skip-preflight` flag `deploy` and `release`
//! share: the arguments and their conversion to the library's options.

use std::path::PathBuf;

use clap::Args;
use ferry::gha::{Context, Reporter};
use ferry::inputs::{self, services};
use ferry::{deploy, preflight};

use crate::failure::{Failure, Outcome};

/// The arguments of `ferry preflight`: those of `ferry deploy` that choose
/// what it would deploy.
#[derive(Debug, Args)]
pub struct PreflightArgs {
    /// The environment the deploy would go to.
    #[arg(long, env = "INPUT_ENVIRONMENT")]
    env: String,
    /// Services: comma-, space- or newline-separated, a JSON list, detect's
    /// `matrix`, or `all` (default: those named in --images).
    #[arg(long, env = "INPUT_SERVICES")]
    services: Option<String>,
    /// Images, as for `ferry deploy`: `ferry build`'s `images` output (JSON),
    /// a JSON map service → URI, or `service=URI` pairs.
    #[arg(long, env = "INPUT_IMAGES")]
    images: Vec<String>,
    /// The repository root (default: $GITHUB_WORKSPACE, else the current folder).
    #[arg(long)]
    repo: Option<PathBuf>,
}

/// `--skip-preflight REASON` of `deploy` and `release`.
#[derive(Debug, Args)]
pub struct SkipArgs {
    /// Deploy without checking that the secrets, roles, images, log groups,
    /// cluster and services exist; the reason is required and goes into
    /// the summary.
    #[arg(long, env = "INPUT_SKIP-PREFLIGHT", value_name = "REASON")]
    skip_preflight: Option<String>,
}

impl SkipArgs {
    /// The library's gate; a blank reason is refused.
    pub fn gate(&self) -> Result<preflight::Gate, Failure> {
        preflight::Gate::skip(self.skip_preflight.as_deref()).map_err(Failure::message)
    }
}

/// Runs `ferry preflight`: the services rendered as `ferry deploy` would,
/// every reference checked, nothing changed.
pub async fn run(
    args: PreflightArgs,
    manifest: PathBuf,
    ctx: &Context,
    reporter: &mut Reporter,
) -> Outcome {
    let opts = deploy::Options {
        services: services::given(args.services.as_deref()).map_err(Failure::message)?,
        images: inputs::images::parse_all(&args.images).map_err(Failure::message)?,
        env_vars: inputs::ext_vars(std::env::vars()),
        ..deploy::Options::default()
    };
    let project = crate::project::load(args.repo, &manifest, ctx)?.with_env(Some(&args.env))?;
    let plan = deploy::prepare(ctx, &project, &opts, reporter)?;
    ferry::aws::connect(&plan.region)
        .await
        .map_err(deploy::RunError::from)?;
    let targets = deploy::preflight_targets(&plan);
    let findings = preflight::check(&targets).await;
    preflight::report(&targets.env, &findings, reporter).map_err(deploy::RunError::from)?;
    preflight::write_outputs(&findings, reporter).map_err(deploy::RunError::from)?;
    preflight::verdict(&project.manifest, &targets.env, &findings)?;
    Ok(())
}
