//! The roll-out, one operation ([`roll_out`]): every service started at once
//! ([`super::start`]), the progressive ones followed ([`super::follow`]) and
//! the rolling ones waited on together ([`super::wait`]), a failure
//! diagnosed when it happens, and rolled back to the last release that
//! succeeded ([`super::rollback`]). It reads plans and answers outcomes.

use std::sync::Arc;

use super::budget::Budget;
use super::follow::{StepSink, follow_all};
use super::model::{ServiceOutcome, Status};
use super::options::RolloutOptions;
use super::plan::{ServicePlan, failed_before_change, untouched};
use super::progressive::Mode;
use super::rollback::rollback;
use super::rollout::{Ours, Verdict};
use super::settle::{settle_followed, settle_waited};
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
    let run = Run {
        ecs,
        plans: &plans,
        opts,
        start: tokio::time::Instant::now(),
    };
    let (mut outcomes, started) = run.start_all(log).await;
    if !opts.wait || started.is_empty() {
        return RolloutReport {
            outcomes,
            stats: Stats::default(),
        };
    }
    let (followed, waiting): (Vec<_>, Vec<_>) = started
        .into_iter()
        .partition(|(i, _, _)| plans[*i].progressive());
    let waiting: Vec<(usize, Ours)> = waiting.into_iter().map(|(i, o, _)| (i, o)).collect();
    let mut to_roll_back = Vec::new();
    if !followed.is_empty() {
        let reports = follow_all(ecs, &plans, &followed, opts, log, steps).await;
        for ((i, ours, _), report) in followed.iter().zip(reports) {
            let out = &mut outcomes[*i];
            // ECS did not put the old version back (no service deployment to
            // stop, the stop was refused, or its rollback failed): Ferry's
            // own rollback, as for a rolling update that failed.
            if settle_followed(ecs.as_ref(), &plans[*i], ours, report, opts, out).await {
                run.roll_back_or_say(*i, false, out, &mut to_roll_back);
            }
            out.duration_secs = run.start.elapsed().as_secs_f64();
        }
    }
    let stats = run
        .wait_rolling(&waiting, &mut outcomes, &mut to_roll_back, log)
        .await;
    run.roll_back(&to_roll_back, &mut outcomes, log).await;
    RolloutReport { outcomes, stats }
}

/// What every phase of one [`roll_out`] shares.
struct Run<'a> {
    ecs: &'a Arc<dyn Ecs>,
    plans: &'a [ServicePlan],
    opts: &'a RolloutOptions,
    start: tokio::time::Instant,
}

/// A service started: its plan's index, its deployment and how it is taken up.
type Started = (usize, Ours, Mode);

impl Run<'_> {
    /// Every service started at once (registered when it was not, then
    /// updated unless it runs the release already): each outcome so far, and
    /// those to follow or wait on.
    async fn start_all(&self, log: &mut dyn FnMut(&str)) -> (Vec<ServiceOutcome>, Vec<Started>) {
        let budget = Arc::new(Budget::new(
            self.opts.register_per_second,
            self.opts.register_burst,
        ));
        let mut set = tokio::task::JoinSet::new();
        for (i, plan) in self.plans.iter().cloned().enumerate() {
            let (ecs, budget, start) = (self.ecs.clone(), budget.clone(), self.start);
            set.spawn(async move { (i, prepare(ecs, budget, plan, start).await) });
        }
        let mut prepared: Vec<Option<Prepared>> = self.plans.iter().map(|_| None).collect();
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
        let mut outcomes = Vec::with_capacity(self.plans.len());
        let mut started = Vec::new();
        for (i, (plan, p)) in self.plans.iter().zip(prepared).enumerate() {
            match p {
                Some(Prepared::Done(o)) => outcomes.push(o),
                Some(Prepared::Updated {
                    outcome,
                    ours,
                    mode,
                }) => {
                    outcomes.push(outcome);
                    started.push((i, ours, mode));
                }
                None => outcomes.push(failed_before_change(
                    untouched(plan, Status::Failed),
                    "the deploy task stopped unexpectedly".into(),
                )),
            }
        }
        (outcomes, started)
    }

    /// The rolling services waited on together; a failure diagnosed now
    /// (ECS forgets stopped tasks), and queued for Ferry's rollback.
    async fn wait_rolling(
        &self,
        waiting: &[(usize, Ours)],
        outcomes: &mut [ServiceOutcome],
        to_roll_back: &mut Vec<usize>,
        log: &mut dyn FnMut(&str),
    ) -> Stats {
        if waiting.is_empty() {
            return Stats::default();
        }
        let targets: Vec<Target> = waiting
            .iter()
            .map(|(i, ours)| Target {
                cluster: self.plans[*i].cluster.clone(),
                service: self.plans[*i].ecs_service.clone(),
                ours: ours.clone(),
            })
            .collect();
        let (waited, stats) = wait_all(self.ecs.as_ref(), targets, self.opts.limits(), log).await;
        for ((i, _), w) in waiting.iter().zip(waited) {
            let out = &mut outcomes[*i];
            out.deployment_id = w.tracker.ours().deployment_id.clone();
            out.duration_secs = self.start.elapsed().as_secs_f64();
            if w.verdict == Verdict::Completed {
                out.status = Status::Succeeded;
                continue;
            }
            out.status = Status::Failed;
            let plan = &self.plans[*i];
            out.diagnosis = Some(settle_waited(self.ecs.as_ref(), plan, out, &w, self.opts).await);
            let superseded = matches!(w.verdict, Verdict::Superseded { .. });
            self.roll_back_or_say(*i, superseded, out, to_roll_back);
        }
        stats
    }

    /// Queues service `i` for Ferry's rollback, or says in its diagnosis why not.
    fn roll_back_or_say(
        &self,
        i: usize,
        superseded: bool,
        out: &mut ServiceOutcome,
        to_roll_back: &mut Vec<usize>,
    ) {
        match why_not_rolled_back(&self.plans[i], self.opts, superseded) {
            Some(note) => {
                if let Some(d) = out.diagnosis.as_mut() {
                    d.notes.push(note.into());
                }
            }
            None => to_roll_back.push(i),
        }
    }

    /// Ferry's rollback of the services queued, to their last good release.
    async fn roll_back(
        &self,
        queued: &[usize],
        outcomes: &mut [ServiceOutcome],
        log: &mut dyn FnMut(&str),
    ) {
        if queued.is_empty() {
            return;
        }
        let targets: Vec<(usize, String)> = queued
            .iter()
            .filter_map(|&i| self.plans[i].rollback_to.clone().map(|arn| (i, arn)))
            .collect();
        let results = rollback(
            self.ecs.as_ref(),
            self.plans,
            outcomes,
            &targets,
            self.opts,
            log,
        )
        .await;
        for (i, rb) in results {
            let out = &mut outcomes[i];
            out.status = if rb.succeeded {
                Status::RolledBack
            } else {
                Status::Failed
            };
            out.rollback = Some(rb);
            out.duration_secs = self.start.elapsed().as_secs_f64();
        }
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
