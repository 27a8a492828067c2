//! `ferry deploy` (and the rollout flags `ferry release` shares): the
//! arguments and their conversion to the library's options.

use std::path::PathBuf;
use std::time::Duration;

use clap::Args;
use ferry::deploy;
use ferry::gha::{Context, Reporter};
use ferry::inputs::{self, boolean, duration, services};

use crate::failure::{Failure, Outcome};

/// The arguments of `ferry deploy`.
#[derive(Debug, Args)]
pub struct DeployArgs {
    /// The environment to deploy to.
    #[arg(long, env = "INPUT_ENVIRONMENT")]
    env: String,
    /// Services: comma-, space- or newline-separated, a JSON list, detect's
    /// `matrix`, or `all` (default: those named in --images).
    #[arg(long, env = "INPUT_SERVICES")]
    services: Option<String>,
    /// Images: `ferry build`'s `images` output (JSON), a JSON map service →
    /// URI, or `service=URI` pairs (repeatable, or comma-separated); a
    /// service named twice must be given the same image.
    #[arg(long, env = "INPUT_IMAGES")]
    images: Vec<String>,
    /// Render, validate and print what would happen; touch nothing.
    #[arg(long, env = "INPUT_DRY-RUN", value_parser = boolean)]
    dry_run: bool,
    #[command(flatten)]
    rollout: RolloutArgs,
    #[command(flatten)]
    preflight: crate::preflight::SkipArgs,
    /// The repository root (default: $GITHUB_WORKSPACE, else the current folder).
    #[arg(long)]
    repo: Option<PathBuf>,
}

/// How `deploy` (and `release`) wait and roll back.
#[derive(Debug, Args)]
pub struct RolloutArgs {
    /// Update the services without waiting for the rollouts (status `started`;
    /// the GitHub Deployments stay `in_progress`, so `gate` will not promote them).
    #[arg(long, env = "INPUT_NO-WAIT", value_parser = boolean)]
    no_wait: bool,
    /// Leave a failed service as it is instead of rolling it back.
    #[arg(long, env = "INPUT_NO-ROLLBACK", value_parser = boolean)]
    no_rollback: bool,
    /// Give up waiting after this long: `15m`, `900s`, `1h` or seconds.
    #[arg(long, env = "INPUT_TIMEOUT", default_value = "15m", value_parser = duration)]
    timeout: Duration,
    /// Time between polls of the services: `6s`, `500ms`, or seconds.
    #[arg(long, env = "INPUT_POLL-INTERVAL", default_value = "6s", value_parser = duration)]
    poll_interval: Duration,
    /// Run the before-deploy tasks again even when a record says they
    /// already succeeded for this task-definition revision.
    #[arg(long, env = "INPUT_RERUN-TASKS", value_parser = boolean)]
    rerun_tasks: bool,
}

impl From<&RolloutArgs> for deploy::RolloutOptions {
    fn from(a: &RolloutArgs) -> Self {
        deploy::RolloutOptions {
            wait: !a.no_wait,
            rollback: !a.no_rollback,
            deadline: a.timeout,
            poll_interval: a.poll_interval,
            rerun_tasks: a.rerun_tasks,
            ..deploy::RolloutOptions::default()
        }
    }
}

impl DeployArgs {
    /// The library's options; bad input is refused here.
    pub fn options(&self) -> Result<deploy::Options, Failure> {
        Ok(deploy::Options {
            services: services::given(self.services.as_deref()).map_err(Failure::message)?,
            images: inputs::images::parse_all(&self.images).map_err(Failure::message)?,
            rollout: (&self.rollout).into(),
            dry_run: self.dry_run,
            env_vars: inputs::ext_vars(std::env::vars()),
            preflight: self.preflight.gate()?,
        })
    }
}

/// Runs `ferry deploy`.
pub async fn run(
    args: DeployArgs,
    manifest: PathBuf,
    ctx: &Context,
    reporter: &mut Reporter,
) -> Outcome {
    let opts = args.options()?;
    let project =
        crate::project::load(args.repo.clone(), &manifest, ctx)?.with_env(Some(&args.env))?;
    deploy::run(ctx, &project, &opts, reporter).await?;
    Ok(())
}
