//! The state of one progressive follow ([`Follower`]) and its moves over
//! the ECS port: finding this release's service deployment and describing
//! it, stopping it with a rollback, taking the rolling way when there is no
//! service deployment to follow, the job's cancellation and the deadline,
//! and the ending a finished deployment means. The loop that makes these
//! moves is [`super::follow`]'s; the analysis rounds are
//! [`super::follow_analysis`]'s.

use super::analysis::Tally;
use super::metrics::Metrics;
use super::model::{Progress, StepReport};
use super::progressive::{Ending, FollowReport, Followed, Mode, Pace, Phase, Steps, Stop};
use super::rollout::{Limits, Tracker};
use crate::aws::ecs::{Ecs, ServiceDeployment};

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

/// The state of one [`super::follow::follow`]: where the deployment is, the report so
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
