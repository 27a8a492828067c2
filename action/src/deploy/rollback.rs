//! The rollback phase of a roll-out, Ferry's own rollback: UpdateService
//! back to the last release that succeeded in the environment, then the
//! same wait as a roll-out.

use super::model::{Rollback, ServiceOutcome, Status};
use super::options::RolloutOptions;
use super::plan::ServicePlan;
use super::rollout::{Ours, Verdict};
use super::wait::{Target, wait_all};
use crate::aws::ecs::{Ecs, Update};
use crate::manifest::RolloutSettings;

/// The rollback phase of a roll-out: Ferry's rollback of the services
/// queued (plan indices) to their last good release, each outcome updated.
pub(super) async fn roll_back_queued(
    ecs: &dyn Ecs,
    plans: &[ServicePlan],
    queued: &[usize],
    opts: &RolloutOptions,
    start: tokio::time::Instant,
    outcomes: &mut [ServiceOutcome],
    log: &mut dyn FnMut(&str),
) {
    if queued.is_empty() {
        return;
    }
    let targets: Vec<(usize, String)> = queued
        .iter()
        .filter_map(|&i| plans[i].rollback_to.clone().map(|arn| (i, arn)))
        .collect();
    let results = rollback(ecs, plans, outcomes, &targets, opts, log).await;
    for (i, rb) in results {
        let out = &mut outcomes[i];
        out.status = if rb.succeeded {
            Status::RolledBack
        } else {
            Status::Failed
        };
        out.rollback = Some(rb);
        out.duration_secs = start.elapsed().as_secs_f64();
    }
}

/// Puts each service of `targets` (plan index, task definition ARN) back on
/// that task definition and waits for it too.
#[tracing::instrument(name = "rollback", skip_all, fields(services = targets.len()))]
pub async fn rollback(
    ecs: &dyn Ecs,
    plans: &[ServicePlan],
    outcomes: &[ServiceOutcome],
    targets: &[(usize, String)],
    opts: &RolloutOptions,
    log: &mut dyn FnMut(&str),
) -> Vec<(usize, Rollback)> {
    let mut results = Vec::new();
    let mut waiting = Vec::new();
    for (i, arn) in targets {
        let plan = &plans[*i];
        log(&format!(
            "{} ({}): rolling back to {arn}",
            plan.service, plan.env
        ));
        // Back by the fastest way: a rolling update of the old version (a
        // service left on a traffic-shifting strategy is switched back).
        let current = if plan.progressive() {
            match ecs.describe_service(&plan.cluster, &plan.ecs_service).await {
                Ok(Some(current)) => Some(current.configuration),
                _ => None,
            }
        } else {
            None
        };
        let rolling = RolloutSettings::default();
        let update = Update {
            cluster: &plan.cluster,
            service: &plan.ecs_service,
            task_definition: arn,
            rollout: current.as_ref().map(|c| (c, &rolling)),
        };
        match ecs.update_service(update).await {
            Ok(started) => waiting.push((
                *i,
                arn.clone(),
                Target {
                    cluster: plan.cluster.clone(),
                    service: plan.ecs_service.clone(),
                    ours: Ours {
                        deployment_id: started.deployment_id,
                        task_definition: arn.clone(),
                        previous_task_definition: outcomes
                            .get(*i)
                            .and_then(|o| o.task_definition_arn.clone()),
                        started_at: started.created_at,
                    },
                },
            )),
            Err(e) => results.push((
                *i,
                Rollback {
                    task_definition_arn: arn.clone(),
                    succeeded: false,
                    reason: Some(e.to_string()),
                },
            )),
        }
    }
    if let Some(signal) = crate::cancel::is_requested() {
        // Cancelled: the UpdateService calls are sent; the runner kills the
        // job before they could complete.
        for (i, arn, _) in waiting {
            log(&format!(
                "{} ({}): {signal}: the rollback to {arn} was started; not waiting for it",
                plans[i].service, plans[i].env
            ));
            results.push((
                i,
                Rollback {
                    task_definition_arn: arn,
                    succeeded: false,
                    reason: Some(format!(
                        "started (UpdateService accepted); the job was cancelled ({signal}) before ECS completed it"
                    )),
                },
            ));
        }
        return results;
    }
    let targets: Vec<Target> = waiting.iter().map(|(_, _, t)| t.clone()).collect();
    let (waited, _) = wait_all(ecs, targets, opts.limits(), log).await;
    for ((i, arn, _), w) in waiting.into_iter().zip(waited) {
        let succeeded = w.verdict == Verdict::Completed;
        results.push((
            i,
            Rollback {
                task_definition_arn: arn,
                succeeded,
                reason: (!succeeded).then(|| w.verdict.reason()),
            },
        ));
    }
    results
}
