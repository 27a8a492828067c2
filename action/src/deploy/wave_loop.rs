//! The roll-out phase of a run, wave by wave (`depends-on`): each wave's
//! registered services rolled out together ([`super::roll_out`]) in a log
//! group, with their progressive steps told to GitHub; a failed wave stops
//! the later ones.

use std::sync::Arc;

use super::apply::roll_out;
use super::model::{ServiceOutcome, Status};
use super::options::{RolloutOptions, RunError};
use super::plan::{DeployPlan, ServicePlan, failed_before_change, untouched};
use super::records::{Recording, StepStatuses};
use crate::aws::ecs::Ecs;
use crate::gha::Reporter;

/// The rollout wave by wave: a wave starts when every service of the one
/// before reached steady state and passed its analysis (waves before the
/// last are waited on even with `--no-wait`); after a failed wave, the later
/// ones are not deployed (and say why), and the earlier, healthy ones stay
/// as they are. Only the services that registered roll out; `failed` holds
/// those that did not, and comes back first among the outcomes.
pub(super) async fn roll_out_waves(
    ecs: &Arc<dyn Ecs>,
    plan: &DeployPlan,
    failed: Vec<ServiceOutcome>,
    rollout: &RolloutOptions,
    recording: &Recording,
    reporter: &mut Reporter,
) -> Result<Vec<ServiceOutcome>, RunError> {
    let mut ready: Vec<ServicePlan> = plan
        .services
        .iter()
        .filter(|p| p.registered.is_some())
        .cloned()
        .collect();
    let waves = &plan.waves;
    let mut outcomes = Vec::new();
    let mut stopped: Option<(usize, Vec<String>)> = None;
    if waves.len() > 1 {
        for line in super::waves::describe(waves) {
            reporter.info(&line)?;
        }
    }
    for (i, wave) in waves.iter().enumerate() {
        let (batch, rest): (Vec<ServicePlan>, Vec<ServicePlan>) =
            ready.into_iter().partition(|p| wave.contains(&p.service));
        ready = rest;
        if let Some((n, failed)) = &stopped {
            outcomes.extend(batch.iter().map(|p| {
                failed_before_change(
                    untouched(p, Status::Failed),
                    super::waves::not_deployed(*n, failed),
                )
            }));
            continue;
        }
        let last = i + 1 == waves.len();
        let options = if last {
            rollout.clone()
        } else {
            RolloutOptions {
                wait: true,
                ..rollout.clone()
            }
        };
        // One-off tasks: `before-deploy` runs in start, per service, just
        // before its UpdateService; `after-deploy` at the end of
        // roll_out_reported, for those that succeeded.
        let done = roll_out_reported(
            ecs,
            batch,
            &options,
            recording.step_statuses(),
            &plan.env,
            reporter,
        )
        .await?;
        let wave_failed: Vec<String> = done
            .iter()
            .chain(failed.iter().filter(|o| wave.contains(&o.service)))
            .filter(|o| !o.status.is_success())
            .map(|o| o.service.clone())
            .collect();
        outcomes.extend(done);
        if !wave_failed.is_empty() && !last {
            reporter.info(&format!(
                "wave {} failed ({}): the later waves are not deployed; the earlier ones stay",
                i + 1,
                wave_failed.join(", ")
            ))?;
            stopped = Some((i + 1, wave_failed));
        }
    }
    // A service in no wave (none by construction) still rolls out.
    if !ready.is_empty() {
        let steps = recording.step_statuses();
        outcomes.extend(roll_out_reported(ecs, ready, rollout, steps, &plan.env, reporter).await?);
    }
    Ok(failed.into_iter().chain(outcomes).collect())
}

/// The rollout in a log group, each progressive step turned into a GitHub
/// deployment status as it begins (when there is GitHub).
async fn roll_out_reported(
    ecs: &Arc<dyn Ecs>,
    ready: Vec<ServicePlan>,
    rollout: &RolloutOptions,
    statuses: Option<StepStatuses>,
    env: &str,
    reporter: &mut Reporter,
) -> Result<Vec<ServiceOutcome>, RunError> {
    reporter.group(&format!("roll out to {env}"))?;
    let (steps, poster) = match statuses {
        Some(poster) => {
            let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
            (Some(tx), Some(tokio::spawn(poster.run(rx))))
        }
        None => (None, None),
    };
    // Live: the job's log follows the rollout, and a job cancelled or
    // killed midway still shows how far it got.
    let mut written: std::io::Result<()> = Ok(());
    let plans = ready.clone();
    let mut outcomes = roll_out(
        ecs,
        ready,
        rollout,
        &mut |line| {
            if written.is_ok() {
                written = reporter.info(line);
            }
        },
        steps,
    )
    .await
    .outcomes;
    written?;
    // After-deploy one-off tasks: for the services that succeeded, before
    // the next wave starts.
    for line in super::tasks::after_deploy(ecs.as_ref(), &plans, &mut outcomes).await {
        reporter.info(&line)?;
    }
    if let Some(poster) = poster {
        for line in poster.await.unwrap_or_default() {
            reporter.info(&line)?;
        }
    }
    reporter.end_group()?;
    Ok(outcomes)
}
