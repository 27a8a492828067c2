//! The settle phase of a roll-out: a rollout's end as an outcome. A followed
//! one succeeded, or diagnosed with what Ferry and ECS did; a waited one
//! that failed, diagnosed; and for each failure whether Ferry's own
//! rollback must follow, or why not.

use super::diagnose::{Subject, diagnose};
use super::model::{Diagnosis, Rollback, ServiceOutcome, Status};
use super::options::RolloutOptions;
use super::plan::ServicePlan;
use super::progressive::{Ending, FollowReport, Stop};
use super::rollout::{Ours, Verdict};
use super::start::Started;
use super::wait::Waited;
use crate::aws::ecs::Ecs;

/// The settle phase of the progressive services: each followed rollout's
/// outcome (see [`settle_followed`]) and its duration. Answers the plan
/// indices queued for Ferry's own rollback.
pub(super) async fn settle_followed_all(
    ecs: &dyn Ecs,
    plans: &[ServicePlan],
    followed: &[Started],
    reports: Vec<FollowReport>,
    opts: &RolloutOptions,
    start: tokio::time::Instant,
    outcomes: &mut [ServiceOutcome],
) -> Vec<usize> {
    let mut queued = Vec::new();
    for ((i, ours, _), report) in followed.iter().zip(reports) {
        let out = &mut outcomes[*i];
        // ECS did not put the old version back (no service deployment to
        // stop, the stop was refused, or its rollback failed): Ferry's
        // own rollback, as for a rolling update that failed.
        if settle_followed(ecs, &plans[*i], ours, report, opts, out).await {
            roll_back_or_say(*i, &plans[*i], opts, false, out, &mut queued);
        }
        out.duration_secs = start.elapsed().as_secs_f64();
    }
    queued
}

/// The settle phase of the rolling services: each wait's verdict as an
/// outcome, a failure diagnosed now (ECS forgets stopped tasks). Answers
/// the plan indices queued for Ferry's own rollback.
pub(super) async fn settle_waited_all(
    ecs: &dyn Ecs,
    plans: &[ServicePlan],
    waiting: &[(usize, Ours)],
    waited: Vec<Waited>,
    opts: &RolloutOptions,
    start: tokio::time::Instant,
    outcomes: &mut [ServiceOutcome],
) -> Vec<usize> {
    let mut queued = Vec::new();
    for ((i, _), w) in waiting.iter().zip(waited) {
        let out = &mut outcomes[*i];
        out.deployment_id = w.tracker.ours().deployment_id.clone();
        out.duration_secs = start.elapsed().as_secs_f64();
        if w.verdict == Verdict::Completed {
            out.status = Status::Succeeded;
            continue;
        }
        out.status = Status::Failed;
        let plan = &plans[*i];
        out.diagnosis = Some(settle_waited(ecs, plan, out, &w, opts).await);
        let superseded = matches!(w.verdict, Verdict::Superseded { .. });
        roll_back_or_say(*i, plan, opts, superseded, out, &mut queued);
    }
    queued
}

/// Queues service `i` for Ferry's rollback, or says in its diagnosis why not.
fn roll_back_or_say(
    i: usize,
    plan: &ServicePlan,
    opts: &RolloutOptions,
    superseded: bool,
    out: &mut ServiceOutcome,
    queued: &mut Vec<usize>,
) {
    match why_not_rolled_back(plan, opts, superseded) {
        Some(note) => {
            if let Some(d) = out.diagnosis.as_mut() {
                d.notes.push(note.into());
            }
        }
        None => queued.push(i),
    }
}

/// Why Ferry does not roll a failed service back itself, if it does not.
fn why_not_rolled_back(
    plan: &ServicePlan,
    opts: &RolloutOptions,
    superseded: bool,
) -> Option<&'static str> {
    if superseded {
        Some("not rolled back: a newer deployment owns the service now")
    } else if !opts.rollback {
        Some("not rolled back: rollback is off (--no-rollback)")
    } else if plan.rollback_to.is_none() {
        Some("not rolled back: there is no earlier successful release to roll back to")
    } else {
        None
    }
}

/// A followed rollout's outcome: succeeded, or diagnosed with what Ferry
/// and ECS did (and only that: a stop is said when ECS accepted one, a
/// rollback by ECS when one was asked for or ECS made it). True when Ferry's
/// own rollback (UpdateService to the last good release) should follow:
/// the service may still run the new version and nothing else brings it back.
async fn settle_followed(
    ecs: &dyn Ecs,
    plan: &ServicePlan,
    ours: &Ours,
    report: FollowReport,
    opts: &RolloutOptions,
    out: &mut ServiceOutcome,
) -> bool {
    out.progress = Some(report.progress);
    let report_arn = report.deployment_arn;
    let stop = report.stop;
    let secs = opts.deadline.as_secs();
    let Some((reason, rolled_back, cancelled)) = ending_reason(report.ending, &stop, secs) else {
        out.status = Status::Succeeded;
        return false;
    };
    let mut diagnosis = if cancelled {
        // The runner kills the job seconds after the signal: no diagnosis.
        Diagnosis {
            reason,
            ..Diagnosis::default()
        }
    } else {
        let events = match ecs.describe_service(&plan.cluster, &plan.ecs_service).await {
            Ok(Some(s)) => super::wait::event_views(&s)
                .into_iter()
                .filter(|e| ours.started_at.is_none_or(|t| e.created_at + 1.0 >= t))
                .map(|e| e.event)
                .rev()
                .collect(),
            _ => Vec::new(),
        };
        let subject = Subject {
            cluster: &plan.cluster,
            deployment_id: out.deployment_id.as_deref(),
            task_definition: &plan.task_definition,
        };
        diagnose(ecs, subject, reason, events, opts.log_lines).await
    };
    if let Some(why) = &report.untracked {
        diagnosis.notes.push(format!(
            "no service deployment was followed ({why}): Ferry followed the service's deployments (DescribeServices) instead, and there was nothing to stop"
        ));
    }
    let refused = matches!(stop, Stop::Refused(_));
    if !rolled_back && (refused || (stop == Stop::Requested && !cancelled)) {
        diagnosis.notes.push(format!(
            "ECS did not move the traffic back: the new version may still be serving. Stop it in the ECS console or with `aws ecs stop-service-deployment --stop-type ROLLBACK --service-deployment-arn {}` (the deploy role needs ecs:StopServiceDeployment, which terraform/aws grants)",
            report_arn.as_deref().unwrap_or("<the service deployment>")
        ));
    }
    out.diagnosis = Some(diagnosis);
    // ECS itself rolls a stopped service deployment back to the revision
    // it replaced: said when it did, or when Ferry asked and it did not.
    if rolled_back || (stop == Stop::Requested && !cancelled) {
        out.rollback = ours.previous_task_definition.clone().map(|arn| Rollback {
            task_definition_arn: arn,
            succeeded: rolled_back,
            reason: (!rolled_back).then(|| "ECS did not complete the rollback".to_string()),
        });
    }
    out.status = if rolled_back {
        Status::RolledBack
    } else {
        Status::Failed
    };
    // Cancelled after ECS accepted the stop: ECS is rolling back already.
    let ecs_rolls_back = cancelled && stop == Stop::Requested;
    !(rolled_back || ecs_rolls_back)
}

/// The diagnosis of a rolling update that failed, captured now (ECS forgets
/// stopped tasks after about an hour); none after a cancellation, when the
/// runner kills the job seconds later.
async fn settle_waited(
    ecs: &dyn Ecs,
    plan: &ServicePlan,
    out: &ServiceOutcome,
    w: &Waited,
    opts: &RolloutOptions,
) -> Diagnosis {
    let mut diagnosis = if crate::cancel::is_requested().is_some() {
        Diagnosis {
            reason: w.verdict.reason(),
            ..Diagnosis::default()
        }
    } else {
        let subject = Subject {
            cluster: &plan.cluster,
            deployment_id: out.deployment_id.as_deref(),
            task_definition: &plan.task_definition,
        };
        let events = w.tracker.events().to_vec();
        diagnose(ecs, subject, w.verdict.reason(), events, opts.log_lines).await
    };
    if diagnosis.stopped_tasks.is_empty() {
        for r in w.tracker.stop_reasons() {
            diagnosis.notes.push(format!("a task stopped: {r}"));
        }
    }
    diagnosis
}

/// Why a followed rollout did not complete, whether ECS rolled it back, and
/// whether the job was cancelled; `None` when it completed.
fn ending_reason(ending: Ending, stop: &Stop, secs: u64) -> Option<(String, bool, bool)> {
    let (reason, rolled_back) = match ending {
        Ending::Completed => return None,
        Ending::Aborted {
            reason,
            rolled_back,
        }
        | Ending::Failed {
            reason,
            rolled_back,
        } => (reason, rolled_back),
        Ending::TimedOut { rolled_back } => (
            match stop {
                Stop::Requested => format!("no end within {secs}s: the deployment was stopped"),
                Stop::Refused(e) => {
                    format!("no end within {secs}s; the stop was refused: {e}")
                }
                Stop::Impossible | Stop::NotAsked => {
                    format!("no end within {secs}s; there was no service deployment to stop")
                }
            },
            rolled_back,
        ),
        Ending::Cancelled { signal } => {
            let what = match stop {
                Stop::Requested => "the service deployment was stopped with a rollback (StopServiceDeployment accepted); Ferry did not wait for ECS to finish it".to_string(),
                Stop::Refused(e) => format!("the stop was refused: {e}"),
                Stop::Impossible | Stop::NotAsked => {
                    "there was no service deployment to stop".to_string()
                }
            };
            return Some((
                format!("the job was cancelled ({signal}) during the rollout: {what}"),
                false,
                true,
            ));
        }
    };
    Some((reason, rolled_back, false))
}
