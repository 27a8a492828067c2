//! The progressive follow: one service deployment followed to its end over
//! the ECS port, each step told as it begins, the analysis run while the
//! new version serves ([`super::follow_analysis`]), and a stop with a
//! rollback when the analysis aborts, the deadline passes or the job is
//! cancelled; [`follow_all`] follows every progressive service of a roll-out
//! at once. The decisions are [`super::progressive`]'s.

use std::sync::Arc;

use super::analysis::Tally;
use super::metrics::{Metrics, Unreadable};
use super::model::{Progress, StepReport};
use super::options::RolloutOptions;
use super::plan::ServicePlan;
use super::progressive::{
    Ending, FollowReport, Followed, Mode, Pace, Phase, Steps, Stop, analysing, phase,
};
use super::rollout::{Limits, Tracker};
use super::start::Started;
use crate::aws::ecs::{Ecs, ServiceDeployment};

/// Where each step of a progressive rollout is told as it begins: the
/// service and the step.
pub type StepSink = tokio::sync::mpsc::UnboundedSender<(String, StepReport)>;

/// This release's service deployment: the newest created at or after our
/// UpdateService (a second's slack for clocks).
async fn find_deployment(ecs: &dyn Ecs, target: &Followed) -> Result<Option<String>, String> {
    let mut found: Vec<(String, f64)> = ecs
        .list_service_deployments(&target.cluster, &target.ecs_service)
        .await
        .map_err(|e| e.to_string())?
        .into_iter()
        .filter(|(_, created)| created + 1.0 >= target.ours.started_at.unwrap_or(0.0))
        .collect();
    found.sort_by(|a, b| a.1.total_cmp(&b.1));
    Ok(found.pop().map(|(arn, _)| arn))
}

async fn describe(ecs: &dyn Ecs, arn: &str) -> Result<Option<ServiceDeployment>, String> {
    ecs.describe_service_deployment(arn)
        .await
        .map_err(|e| e.to_string())
}

async fn stop_with_rollback(ecs: &dyn Ecs, arn: &str) -> Result<(), String> {
    ecs.stop_service_deployment(arn)
        .await
        .map_err(|e| e.to_string())
}

/// The state of one [`follow`]: where the deployment is, the report so
/// far, and whether Ferry asked ECS to stop it.
pub(super) struct Follower<'a> {
    pub(super) ecs: &'a dyn Ecs,
    pub(super) metrics: &'a dyn Metrics,
    pub(super) target: &'a Followed,
    pub(super) pace: Pace,
    pub(super) name: String,
    pub(super) begun: tokio::time::Instant,
    pub(super) arn: Option<String>,
    pub(super) progress: Progress,
    pub(super) steps: Steps,
    pub(super) tally: Tally,
    pub(super) next_round: Option<tokio::time::Instant>,
    /// Set once Ferry stopped the deployment: how it will have ended once
    /// ECS finishes the rollback.
    pub(super) stopping: Option<Ending>,
    pub(super) stop: Stop,
    /// Polls whose ListServiceDeployments listed nothing of this release.
    pub(super) misses: u32,
    /// Without a service deployment to follow: why, and the rolling wait's
    /// tracker over DescribeServices.
    pub(super) untracked: Option<(String, Tracker)>,
}

/// Polls of ListServiceDeployments listing nothing of this release before
/// Ferry says so and follows DescribeServices instead (ECS lists a service
/// deployment as UpdateService answers; three polls leave room for lag).
const MISSES: u32 = 3;

impl Follower<'_> {
    pub(super) fn finish(self, ending: Ending) -> FollowReport {
        let mut progress = self.progress;
        progress.steps = self.steps.into_steps();
        if progress.decided_by.is_none() {
            progress.decided_by = match &self.untracked {
                Some(_) => Some(
                    "the rolling wait on DescribeServices (no service deployment to follow)".into(),
                ),
                None => progress.steps.last().map(StepReport::title),
            };
        }
        if self.target.mode == Mode::Resume {
            progress.decided_by = Some(format!(
                "resumed the rollout an interrupted run started; {}",
                progress.decided_by.unwrap_or_default()
            ));
        }
        FollowReport {
            ending,
            deployment_arn: self.arn,
            progress,
            stop: self.stop,
            untracked: self.untracked.map(|(why, _)| why),
        }
    }

    /// Stops the service deployment with a rollback, when there is one;
    /// notes what was done in `self.stop`. True when ECS accepted.
    pub(super) async fn stop_now(&mut self, log: &mut (dyn FnMut(&str) + Send)) -> bool {
        let Some(arn) = self.arn.clone() else {
            self.stop = Stop::Impossible;
            return false;
        };
        match stop_with_rollback(self.ecs, &arn).await {
            Ok(()) => {
                log(&format!(
                    "{}: StopServiceDeployment (ROLLBACK) accepted for {arn}",
                    self.name
                ));
                self.stop = Stop::Requested;
                true
            }
            Err(e) => {
                log(&format!("{}: the stop was refused: {e}", self.name));
                self.stop = Stop::Refused(e);
                false
            }
        }
    }

    /// No service deployment to follow: say why once, at the first answer
    /// that shows it, and follow the rolling way from now on.
    pub(super) fn untrack(&mut self, why: String, log: &mut (dyn FnMut(&str) + Send)) {
        log(&format!(
            "{}: {why}: Ferry cannot follow the traffic steps nor stop this deployment; it follows the service's deployments (DescribeServices) instead, analyses {} while it runs, and if the analysis fails rolls back by UpdateService to the last release that succeeded",
            self.name, self.target.version
        ));
        let limits = Limits {
            deadline: self.pace.deadline,
            interval: self.pace.poll,
            max_backoff: self.pace.poll.saturating_mul(10),
            ..Limits::default()
        };
        self.untracked = Some((why, Tracker::new(self.target.ours.clone(), limits)));
    }

    /// Cancelled: stop with a rollback when there is something to stop,
    /// and end at once (the runner kills the job seconds later).
    pub(super) async fn cancel(
        mut self,
        signal: &'static str,
        log: &mut (dyn FnMut(&str) + Send),
    ) -> FollowReport {
        log(&format!(
            "{}: {signal}: the job is cancelled; stopping the deployment with a rollback",
            self.name
        ));
        self.stop_now(log).await;
        self.progress.decided_by = Some(format!("the job's cancellation ({signal})"));
        self.finish(Ending::Cancelled { signal })
    }

    /// Past the deadline: stop with a rollback (once). `Err` ends the
    /// follow when there is nothing to stop.
    pub(super) async fn enforce_deadline(
        &mut self,
        log: &mut (dyn FnMut(&str) + Send),
    ) -> Result<(), Ending> {
        if self.stopping.is_some() || self.begun.elapsed() <= self.pace.deadline {
            return Ok(());
        }
        let secs = self.pace.deadline.as_secs();
        log(&format!(
            "{}: no end within {secs}s: stopping the deployment with a rollback",
            self.name
        ));
        self.progress.decided_by = Some(format!("the deadline ({secs}s)"));
        if !self.stop_now(log).await {
            return Err(Ending::TimedOut { rolled_back: false });
        }
        self.stopping = Some(Ending::TimedOut { rolled_back: true });
        Ok(())
    }

    /// This release's service deployment as ECS describes it now, when it
    /// can be found.
    pub(super) async fn observe(
        &mut self,
        log: &mut (dyn FnMut(&str) + Send),
    ) -> Option<ServiceDeployment> {
        if self.arn.is_none() && self.untracked.is_none() {
            match find_deployment(self.ecs, self.target).await {
                Ok(Some(found)) => self.arn = Some(found),
                Ok(None) => {
                    self.misses += 1;
                    if self.misses >= MISSES {
                        let why = format!(
                            "ECS lists no service deployment of this release (ListServiceDeployments, {} polls)",
                            self.misses
                        );
                        self.untrack(why, log);
                    }
                }
                Err(e) => {
                    let why =
                        format!("the ECS service deployments API is not available here ({e})");
                    self.untrack(why, log);
                }
            }
        }
        let arn = self.arn.as_deref()?;
        match describe(self.ecs, arn).await {
            Ok(found) => found,
            Err(e) => {
                log(&format!("{}: {e}", self.name));
                None
            }
        }
    }

    /// The ending a finished deployment means, given whether Ferry stopped it.
    pub(super) fn ending(&mut self, phase: Phase) -> Option<Ending> {
        let ending = match (phase, self.stopping.take()) {
            (Phase::Running, stopping) => {
                self.stopping = stopping;
                return None;
            }
            (Phase::Succeeded, _) => Ending::Completed,
            (Phase::RolledBack { succeeded, .. }, Some(Ending::Aborted { reason, .. })) => {
                Ending::Aborted {
                    reason,
                    rolled_back: succeeded,
                }
            }
            (Phase::RolledBack { succeeded, .. }, Some(Ending::TimedOut { .. })) => {
                Ending::TimedOut {
                    rolled_back: succeeded,
                }
            }
            (Phase::RolledBack { reason, succeeded }, _) => Ending::Failed {
                reason: format!("ECS rolled the deployment back: {reason}"),
                rolled_back: succeeded,
            },
            (Phase::Stopped(_), Some(Ending::Aborted { reason, .. })) => Ending::Aborted {
                reason,
                rolled_back: false,
            },
            (Phase::Stopped(reason), _) => Ending::Failed {
                reason: format!("the deployment was stopped: {reason}"),
                rolled_back: false,
            },
        };
        Some(ending)
    }
}

/// Follows one service deployment to its end, running the analysis while
/// the new version serves traffic; stops it with a rollback when the
/// analysis aborts or the deadline passes. `on_step` hears each new step.
pub async fn follow(
    ecs: &dyn Ecs,
    metrics: &dyn Metrics,
    target: &Followed,
    pace: Pace,
    log: &mut (dyn FnMut(&str) + Send),
    on_step: &mut (dyn FnMut(&StepReport) + Send),
) -> FollowReport {
    let mut f = Follower {
        ecs,
        metrics,
        target,
        pace,
        name: format!("{} ({})", target.service, target.env),
        begun: tokio::time::Instant::now(),
        arn: None,
        progress: Progress {
            strategy: target.rollout.strategy.as_str().to_string(),
            version: target.version.clone(),
            ..Progress::default()
        },
        steps: Steps::default(),
        tally: Tally::default(),
        next_round: None,
        stopping: None,
        stop: Stop::NotAsked,
        misses: 0,
        untracked: None,
    };
    if target.mode == Mode::Reanalyse {
        return f.reanalyse(log).await;
    }
    loop {
        if let Some(signal) = crate::cancel::is_requested() {
            return f.cancel(signal, log).await;
        }
        if let Err(ending) = f.enforce_deadline(log).await {
            return f.finish(ending);
        }
        let deployment = f.observe(log).await;
        if f.untracked.is_some() {
            if let Some(ending) = f.rolling(log).await {
                return f.finish(ending);
            }
        } else if let Some(deployment) = deployment {
            let status = deployment.status.as_str();
            let stage = deployment.lifecycle_stage.as_str();
            if let Some(ending) = f.ending(phase(status, deployment.status_reason.as_deref())) {
                // Completed before any round (resumed too late, say in
                // CLEAN_UP, or an interval longer than the whole bake): the
                // version was never analysed; ECS's success is no record
                // that it is healthy, so it is re-analysed as it runs.
                if ending == Ending::Completed
                    && target.mode != Mode::Reanalyse
                    && target.analysis.is_some()
                    && f.tally.rounds == 0
                {
                    let how = if target.mode == Mode::Resume {
                        "the resumed service deployment"
                    } else {
                        "the service deployment"
                    };
                    log(&format!(
                        "{}: {how} completed before any analysis round: re-analysing the running version",
                        f.name
                    ));
                    // It ended: there is nothing to stop; Ferry's own
                    // rollback follows a failure, as for a re-analysis.
                    f.arn = None;
                    return f.reanalyse(log).await;
                }
                return f.finish(ending);
            }
            if f.stopping.is_none() {
                let at = f.begun.elapsed().as_secs_f64();
                let reported = deployment.traffic_weight;
                if let Some(step) = f.steps.observe(&target.rollout, stage, reported, at) {
                    log(&format!("{}: {}", f.name, step.title()));
                    on_step(step);
                }
                if let Some(settings) = &target.analysis
                    && analysing(target.rollout.strategy, status, stage)
                    && let Err(ending) = f.analyse(settings, log).await
                {
                    return f.finish(ending);
                }
            }
        }
        tokio::select! {
            () = tokio::time::sleep(pace.poll) => {}
            signal = crate::cancel::requested() => return f.cancel(signal, log).await,
        }
    }
}

/// Follows every progressive rollout at once; their log lines reach `log`
/// as they come. Reports in the order of `followed`.
pub async fn follow_all(
    ecs: &Arc<dyn Ecs>,
    plans: &[ServicePlan],
    followed: &[Started],
    opts: &RolloutOptions,
    log: &mut dyn FnMut(&str),
    steps: Option<StepSink>,
) -> Vec<FollowReport> {
    if followed.is_empty() {
        return Vec::new();
    }
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<String>();
    let mut set = tokio::task::JoinSet::new();
    for (n, (i, ours, mode)) in followed.iter().enumerate() {
        let plan = &plans[*i];
        let target = Followed {
            service: plan.service.clone(),
            env: plan.env.clone(),
            cluster: plan.cluster.clone(),
            ecs_service: plan.ecs_service.clone(),
            ours: ours.clone(),
            mode: *mode,
            version: plan.version.clone(),
            rollout: plan.rollout.clone(),
            analysis: plan.analysis.clone(),
        };
        let pace = Pace {
            poll: opts.poll_interval,
            deadline: opts.deadline,
        };
        let (ecs, tx, steps) = (ecs.clone(), tx.clone(), steps.clone());
        set.spawn(async move {
            // A Prometheus that cannot be reached fails every check (closed).
            let metrics: Box<dyn Metrics> = match &target.analysis {
                Some(a) => match crate::prometheus::Prometheus::new(&a.prometheus) {
                    Ok(p) => Box::new(p),
                    Err(e) => Box::new(Unreadable(e.to_string())),
                },
                None => Box::new(Unreadable("no analysis".into())),
            };
            let mut log = move |line: &str| {
                let _ = tx.send(line.to_string());
            };
            let report = follow(
                ecs.as_ref(),
                metrics.as_ref(),
                &target,
                pace,
                &mut log,
                &mut |step: &StepReport| {
                    if let Some(sink) = &steps {
                        let _ = sink.send((target.service.clone(), step.clone()));
                    }
                },
            )
            .await;
            (n, report)
        });
    }
    drop(tx);
    let mut reports: Vec<Option<FollowReport>> = followed.iter().map(|_| None).collect();
    let mut open = true;
    while open || !set.is_empty() {
        tokio::select! {
            line = rx.recv(), if open => match line {
                Some(line) => log(&line),
                None => open = false,
            },
            joined = set.join_next(), if !set.is_empty() => match joined {
                Some(Ok((n, report))) => reports[n] = Some(report),
                Some(Err(e)) => log(&format!("a rollout task stopped: {e}")),
                None => {}
            },
        }
    }
    reports
        .into_iter()
        .map(|r| {
            r.unwrap_or_else(|| FollowReport {
                ending: Ending::Failed {
                    reason: "the rollout task stopped unexpectedly".into(),
                    rolled_back: false,
                },
                deployment_arn: None,
                progress: Progress::default(),
                stop: Stop::NotAsked,
                untracked: None,
            })
        })
        .collect()
}
