//! `ferry detect`: its arguments and their conversion to the library's options.

use std::path::PathBuf;

use clap::Args;
use ferry::detect;
use ferry::gha::{Context, Reporter};
use ferry::inputs::{self, services};
use ferry::project::Project;

use crate::failure::{Failure, Outcome};

/// The arguments of `ferry detect`.
#[derive(Debug, Args)]
pub struct DetectArgs {
    /// Compare from this commit (default: from the event; locally the merge
    /// base with origin/main, else the parent commit).
    #[arg(long, env = "INPUT_BASE")]
    base: Option<String>,
    /// Compare up to this commit (default: the event's head, else HEAD).
    #[arg(long, env = "INPUT_HEAD")]
    head: Option<String>,
    /// Skip the comparison and select these services: comma-, space- or
    /// newline-separated, a JSON list, detect's `matrix`, or `all`.
    #[arg(long, env = "INPUT_SERVICES")]
    services: Option<String>,
    /// The repository root (default: $GITHUB_WORKSPACE, else the current folder).
    #[arg(long)]
    repo: Option<PathBuf>,
    /// Use git only, never the GitHub API.
    #[arg(long)]
    no_api: bool,
}

impl DetectArgs {
    /// The library's options; bad input is refused here.
    pub fn options(&self) -> Result<detect::Options, Failure> {
        Ok(detect::Options {
            base: inputs::present(self.base.clone()),
            head: inputs::present(self.head.clone()),
            services: services::given(self.services.as_deref()).map_err(Failure::message)?,
            no_api: self.no_api,
        })
    }
}

/// Runs `ferry detect`.
pub async fn run(
    args: DetectArgs,
    manifest: PathBuf,
    ctx: &Context,
    reporter: &mut Reporter,
) -> Outcome {
    let opts = args.options()?;
    let (root, git) = crate::project::repository(args.repo, ctx);
    let project = Project::load(root, &manifest)?;
    detect::run(ctx, &project, git.as_ref(), &opts, reporter).await?;
    Ok(())
}
