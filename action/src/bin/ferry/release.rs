//! `ferry release`: its arguments and their conversion to the library's options.

use std::path::PathBuf;

use clap::Args;
use ferry::gha::{Context, Reporter};
use ferry::inputs::{self, boolean, services};
use ferry::project::Project;
use ferry::{build, detect, release};

use crate::build::{Builder, RegistryLoginArgs, builder_kind, builder_parser};
use crate::deploy::RolloutArgs;
use crate::failure::{Failure, Outcome};

/// The arguments of `ferry release`.
#[derive(Debug, Args)]
pub struct ReleaseArgs {
    /// The environment (default: the first that promotes from none).
    #[arg(long, env = "INPUT_ENVIRONMENT")]
    env: Option<String>,
    /// Compare from this commit (as in detect).
    #[arg(long, env = "INPUT_BASE")]
    base: Option<String>,
    /// Compare up to this commit (as in detect).
    #[arg(long, env = "INPUT_HEAD")]
    head: Option<String>,
    /// Release these services instead of detecting: comma-, space- or
    /// newline-separated, a JSON list, detect's `matrix`, or `all`.
    #[arg(long, env = "INPUT_SERVICES")]
    services: Option<String>,
    /// The image builder (default: the manifest's build.builder, else docker).
    #[arg(long, env = "INPUT_BUILDER", ignore_case = true, value_parser = builder_parser())]
    builder: Option<Builder>,
    /// Registry host to push to (as in build).
    #[arg(long, env = "INPUT_REGISTRY")]
    registry: Option<String>,
    #[command(flatten)]
    login: RegistryLoginArgs,
    /// Print the plan; build, push and deploy nothing.
    #[arg(long, env = "INPUT_DRY-RUN", value_parser = boolean)]
    dry_run: bool,
    #[command(flatten)]
    rollout: RolloutArgs,
    #[command(flatten)]
    preflight: crate::preflight::SkipArgs,
    /// Use git only, never the GitHub API, to find the changes.
    #[arg(long)]
    no_api: bool,
    /// The repository root (default: $GITHUB_WORKSPACE, else the current folder).
    #[arg(long)]
    repo: Option<PathBuf>,
}

impl ReleaseArgs {
    /// The library's options; bad input is refused here.
    pub fn options(self) -> Result<release::Options, Failure> {
        Ok(release::Options {
            detect: detect::Options {
                base: inputs::present(self.base),
                head: inputs::present(self.head),
                services: services::given(self.services.as_deref()).map_err(Failure::message)?,
                no_api: self.no_api,
            },
            build: build::Options {
                builder: builder_kind(self.builder),
                registry: inputs::present(self.registry),
                credentials: self.login.credentials()?,
                ..build::Options::default()
            },
            dry_run: self.dry_run,
            rollout: (&self.rollout).into(),
            preflight: self.preflight.gate()?,
        })
    }
}

/// Runs `ferry release`.
pub async fn run(
    args: ReleaseArgs,
    manifest: PathBuf,
    ctx: &Context,
    reporter: &mut Reporter,
) -> Outcome {
    let (repo, env) = (args.repo.clone(), inputs::present(args.env.clone()));
    let opts = args.options()?;
    let (root, git) = crate::project::repository(repo, ctx);
    // A manifest that does not load stops detect, the release's first step.
    let project = Project::load(root, &manifest)
        .map_err(|e| release::ReleaseError::Detect(e.into()))?
        .with_env(env.as_deref())?;
    release::run(ctx, &project, git.as_ref(), &opts, reporter).await?;
    Ok(())
}
