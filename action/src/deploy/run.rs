//! The one entry of `ferry deploy` ([`run`]): the plan, then a preview
//! (`--dry-run`), or preflight and the plan carried out ([`super::execute`]).

use super::execute::execute;
use super::model::DeployReport;
use super::options::{Options, RunError};
use super::plan::prepare;
use super::preflight::preflight;
use super::report::preview;
use crate::gha::{Context, Reporter};
use crate::project::Project;

/// Runs `ferry deploy`: the plan from the manifest and the images, then
/// carried out, or previewed with `--dry-run`.
pub async fn run(
    ctx: &Context,
    project: &Project,
    opts: &Options,
    reporter: &mut Reporter,
) -> Result<DeployReport, RunError> {
    let plan = prepare(ctx, project, opts, reporter)?;
    if opts.dry_run {
        super::schedule::preview(&plan, reporter).await?;
        preview(&plan, ctx, reporter)
    } else {
        preflight(project, &plan, &opts.preflight, reporter).await?;
        execute(ctx, plan, &opts.rollout, reporter).await
    }
}
