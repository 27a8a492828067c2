//! The roll-out, one operation ([`roll_out`]): every service started at once
//! ([`super::start`]), the progressive ones followed ([`super::follow`]) and
//! the rolling ones waited on together ([`super::wait`]), a failure
//! diagnosed when it happens, and rolled back to the last release that
//! succeeded ([`super::rollback`]). It reads plans and answers outcomes.

use std::sync::Arc;

use super::budget::Budget;
use super::diagnose::{Subject, diagnose};
use super::follow::{StepSink, follow_all};
use super::model::{Diagnosis, ServiceOutcome, Status};
use super::options::RolloutOptions;
use super::plan::{ServicePlan, failed_before_change, untouched};
use super::rollback::rollback;
use super::rollout::{Ours, Verdict};
use super::settle::settle_followed;
use super::start::{Prepared, prepare};
use super::wait::{Stats, Target, wait_all};
use crate::aws::ecs::Ecs;

/// The outcome of a deploy call with what waiting cost.
#[derive(Debug, Clone)]
pub struct RolloutReport {
    /// One per plan, in plan order.
    pub outcomes: Vec<ServiceOutcome>,
    /// Polls and API calls of the wait (not of rollbacks).
    pub stats: Stats,
}

/// Deploys `plans` and says what happened to each (in plan order), with
/// the cost of waiting; `steps` hears each step of a progressive rollout as
/// it begins (deploy turns them into GitHub deployment statuses).
pub async fn roll_out(
    ecs: &Arc<dyn Ecs>,
    plans: Vec<ServicePlan>,
    opts: &RolloutOptions,
    log: &mut dyn FnMut(&str),
    steps: Option<StepSink>,
) -> RolloutReport {
    let start = tokio::time::Instant::now();
    let budget = Arc::new(Budget::new(opts.register_per_second, opts.register_burst));
    let mut set = tokio::task::JoinSet::new();
    for (i, plan) in plans.iter().cloned().enumerate() {
        let (ecs, budget) = (ecs.clone(), budget.clone());
        set.spawn(async move { (i, prepare(ecs, budget, plan, start).await) });
    }
    let mut prepared: Vec<Option<Prepared>> = plans.iter().map(|_| None).collect();
    while let Some(joined) = set.join_next().await {
        match joined {
            Ok((i, (p, lines))) => {
                for line in lines {
                    log(&line);
                }
                prepared[i] = Some(p);
            }
            // A panicking task is a bug; its plan is reported failed below.
            Err(e) => log(&format!("a deploy task stopped: {e}")),
        }
    }
    let mut outcomes = Vec::with_capacity(plans.len());
    let mut waiting = Vec::new();
    for (i, (plan, p)) in plans.iter().zip(prepared).enumerate() {
        match p {
            Some(Prepared::Done(o)) => outcomes.push(o),
            Some(Prepared::Updated {
                outcome,
                ours,
                mode,
            }) => {
                outcomes.push(outcome);
                waiting.push((i, ours, mode));
            }
            None => outcomes.push(failed_before_change(
                untouched(plan, Status::Failed),
                "the deploy task stopped unexpectedly".into(),
            )),
        }
    }
    if !opts.wait || waiting.is_empty() {
        return RolloutReport {
            outcomes,
            stats: Stats::default(),
        };
    }
    let (followed, waiting): (Vec<_>, Vec<_>) = waiting
        .into_iter()
        .partition(|(i, _, _)| plans[*i].progressive());
    let waiting: Vec<(usize, Ours)> = waiting.into_iter().map(|(i, o, _)| (i, o)).collect();
    let mut to_roll_back = Vec::new();
    if !followed.is_empty() {
        let reports = follow_all(ecs, &plans, &followed, opts, log, steps).await;
        for ((i, ours, _), report) in followed.iter().zip(reports) {
            let needed = settle_followed(
                ecs.as_ref(),
                &plans[*i],
                ours,
                report,
                opts,
                &mut outcomes[*i],
            )
            .await;
            // ECS did not put the old version back (no service deployment to
            // stop, the stop was refused, or its rollback failed): Ferry's
            // own rollback, as for a rolling update that failed.
            if needed {
                match why_not_rolled_back(&plans[*i], opts, false) {
                    Some(note) => {
                        if let Some(d) = outcomes[*i].diagnosis.as_mut() {
                            d.notes.push(note.into());
                        }
                    }
                    None => to_roll_back.push(*i),
                }
            }
            outcomes[*i].duration_secs = start.elapsed().as_secs_f64();
        }
    }
    let targets: Vec<Target> = waiting
        .iter()
        .map(|(i, ours)| Target {
            cluster: plans[*i].cluster.clone(),
            service: plans[*i].ecs_service.clone(),
            ours: ours.clone(),
        })
        .collect();
    let (waited, stats) = if targets.is_empty() {
        (Vec::new(), Stats::default())
    } else {
        wait_all(ecs.as_ref(), targets, opts.limits(), log).await
    };
    for ((i, _), w) in waiting.iter().zip(waited) {
        let plan = &plans[*i];
        let out = &mut outcomes[*i];
        out.deployment_id = w.tracker.ours().deployment_id.clone();
        out.duration_secs = start.elapsed().as_secs_f64();
        if w.verdict == Verdict::Completed {
            out.status = Status::Succeeded;
            continue;
        }
        out.status = Status::Failed;
        let subject = Subject {
            cluster: &plan.cluster,
            deployment_id: out.deployment_id.as_deref(),
            task_definition: &plan.task_definition,
        };
        let mut diagnosis = if crate::cancel::is_requested().is_some() {
            // The runner kills the job seconds after the signal.
            Diagnosis {
                reason: w.verdict.reason(),
                ..Diagnosis::default()
            }
        } else {
            diagnose(
                ecs.as_ref(),
                subject,
                w.verdict.reason(),
                w.tracker.events().to_vec(),
                opts.log_lines,
            )
            .await
        };
        if diagnosis.stopped_tasks.is_empty() {
            for r in w.tracker.stop_reasons() {
                diagnosis.notes.push(format!("a task stopped: {r}"));
            }
        }
        let superseded = matches!(w.verdict, Verdict::Superseded { .. });
        match why_not_rolled_back(plan, opts, superseded) {
            Some(note) => diagnosis.notes.push(note.into()),
            None => to_roll_back.push(*i),
        }
        out.diagnosis = Some(diagnosis);
    }
    if !to_roll_back.is_empty() {
        let targets: Vec<(usize, String)> = to_roll_back
            .iter()
            .filter_map(|&i| plans[i].rollback_to.clone().map(|arn| (i, arn)))
            .collect();
        let results = rollback(ecs.as_ref(), &plans, &outcomes, &targets, opts, log).await;
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
    RolloutReport { outcomes, stats }
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
