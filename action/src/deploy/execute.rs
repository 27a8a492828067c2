//! The one orchestrator of a deploy ([`execute`]): a plan carried out as a
//! pipeline of phases, each in its own file and called once from here:
//! connect → register → scheduled jobs' targets moved → records (GitHub)
//! → the roll-out wave by wave → targets of failed releases restored →
//! close. No phase calls back into this file.

use super::close::close;
use super::connect::connect;
use super::model::DeployReport;
use super::options::{RolloutOptions, RunError};
use super::plan::DeployPlan;
use super::records::open_records;
use super::register::register;
use super::schedule::{move_targets, restore};
use super::wave_loop::roll_out_waves;
use crate::gha::{Context, Reporter};

/// Carries a plan out: register, record in GitHub, roll out and wait (with
/// diagnosis and rollback), then statuses, comment, outputs and summary.
/// The Deployment record carries the task definition ARN, so it is created
/// after registration, and marked `in_progress` before the service is
/// updated, so GitHub's environments view shows the rollout while it runs.
pub async fn execute(
    ctx: &Context,
    mut plan: DeployPlan,
    rollout: &RolloutOptions,
    reporter: &mut Reporter,
) -> Result<DeployReport, RunError> {
    let (ecs, statuses) = connect(ctx, &plan, reporter).await?;
    let mut failed = register(&ecs, &mut plan, rollout, reporter).await?;
    let mut moved = move_targets(&mut plan, &mut failed, reporter).await?;
    let recording = open_records(statuses, &mut plan, reporter).await?;
    super::tasks::apply_options(&mut plan, rollout);
    let outcomes = roll_out_waves(&ecs, &plan, failed, rollout, &recording, reporter).await?;
    restore(&mut moved, &outcomes, reporter).await?;
    close(ctx, &plan, outcomes, &recording, reporter).await
}
