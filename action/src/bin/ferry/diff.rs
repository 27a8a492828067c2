//! `ferry diff`: its arguments and their conversion to the library's options.

use std::path::PathBuf;

use clap::Args;
use ferry::diff;
use ferry::gha::{Context, Reporter};

use crate::failure::Outcome;
use crate::render::RenderArgs;

/// The arguments of `ferry diff`: a render's, and what to compare with.
#[derive(Debug, Args)]
pub struct DiffArgs {
    #[command(flatten)]
    render: RenderArgs,
    /// Compare with this file (`aws ecs describe-task-definition --include TAGS`
    /// output) instead of reading the running definition from ECS.
    #[arg(long)]
    against: Option<PathBuf>,
}

/// Runs `ferry diff`.
pub async fn run(
    args: DiffArgs,
    manifest: PathBuf,
    ctx: &Context,
    reporter: &mut Reporter,
) -> Outcome {
    let project = crate::project::load(args.render.repo.clone(), &manifest, ctx)?;
    let opts = diff::Options {
        render: args.render.options(),
        against: args.against,
    };
    diff::run(&project, &opts, reporter).await?;
    Ok(())
}
