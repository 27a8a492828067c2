//! The connect phase of a run: the two outside systems it talks to, ECS
//! (through the [`Ecs`] port) and GitHub's deployment statuses, which are
//! optional: without a token or a repository a deploy still runs, and says
//! once what it will not record.

use std::sync::Arc;

use super::options::RunError;
use super::plan::DeployPlan;
use super::records::Statuses;
use crate::aws::ecs::Ecs;
use crate::gha::{Context, Reporter};
use crate::github::GitHub;

/// ECS in the plan's region, and where this run's deployment statuses go
/// (none without a GitHub token or repository).
pub(super) async fn connect(
    ctx: &Context,
    plan: &DeployPlan,
    reporter: &mut Reporter,
) -> Result<(Arc<dyn Ecs>, Option<Statuses>), RunError> {
    let ecs: Arc<dyn Ecs> = Arc::new(crate::aws::connect(&plan.region).await?);
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
    Ok((ecs, statuses))
}
