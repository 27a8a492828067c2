//! The analysis inside a follow: a round when one is due while the new
//! version serves, the re-analysis of a version already running, and the
//! rolling way when no service deployment can be followed.

use std::time::Duration;

use super::analysis::{self, Verdict};
use super::follower::Follower;
use super::metrics::round;
use super::progressive::{Ending, FollowReport, Stop, abort_reason};
use super::rollout::{Polled, Verdict as RollingVerdict};
use crate::manifest::{AnalysisSettings, RolloutSettings};

impl Follower<'_> {
    /// [`Mode::Reanalyse`]: `failure-limit` + 1 rounds, one interval apart,
    /// without a baseline; an abort ends it (Ferry's rollback follows).
    pub(super) async fn reanalyse(mut self, log: &mut (dyn FnMut(&str) + Send)) -> FollowReport {
        let Some(settings) = self.target.analysis.clone() else {
            return self.finish(Ending::Completed);
        };
        let rounds = settings.failure_limit + 1;
        self.steps.observe(
            &RolloutSettings::default(),
            "RE-ANALYSIS",
            None,
            self.begun.elapsed().as_secs_f64(),
        );
        for n in 0..rounds {
            if n > 0 {
                tokio::select! {
                    () = tokio::time::sleep(Duration::from_secs(settings.interval_secs)) => {}
                    signal = crate::cancel::requested() => return self.cancel(signal, log).await,
                }
            }
            if let Err(ending) = self.round(&settings, false, log).await {
                let reason = match ending {
                    Ending::Aborted { reason, .. } => reason,
                    _ => String::new(),
                };
                let reason = format!(
                    "re-analysis of the running version (no record that this release's analysis completed): {reason}"
                );
                self.progress.decided_by = Some(reason.clone());
                return self.finish(Ending::Aborted {
                    reason,
                    rolled_back: false,
                });
            }
        }
        let said = format!(
            "re-analysis of the running version (no record that this release's analysis completed): {rounds} round{} against the absolute thresholds passed",
            if rounds == 1 { "" } else { "s" }
        );
        log(&format!("{}: {said}", self.name));
        self.progress.decided_by = Some(said);
        self.finish(Ending::Completed)
    }

    /// One poll of the rolling way (no service deployment to follow): the
    /// service's deployments decide the end; the analysis runs while ours
    /// is in progress, compared with the old tasks still serving. An abort
    /// ends the follow at once: there is nothing to stop, Ferry's own
    /// rollback follows.
    pub(super) async fn rolling(&mut self, log: &mut (dyn FnMut(&str) + Send)) -> Option<Ending> {
        let (polled, serving) = match self
            .ecs
            .describe_service(&self.target.cluster, &self.target.ecs_service)
            .await
        {
            Ok(Some(s)) => (
                Polled::Observed(super::wait::observation(&s)),
                s.task_definition.as_deref() == Some(self.target.ours.task_definition.as_str()),
            ),
            Ok(None) => (
                Polled::Error(format!(
                    "service {} is not in cluster {}",
                    self.target.ecs_service, self.target.cluster
                )),
                false,
            ),
            Err(e) => (Polled::Error(e.to_string()), false),
        };
        // While the service is set to the new version, a round when one is
        // due, before the deployments' verdict: what the version does
        // decides first.
        let settings = self.target.analysis.clone();
        if let Some(settings) = &settings
            && serving
            && self
                .next_round
                .is_none_or(|at| tokio::time::Instant::now() >= at)
        {
            self.next_round =
                Some(tokio::time::Instant::now() + Duration::from_secs(settings.interval_secs));
            if let Err(ending) = self.round(settings, true, log).await {
                return Some(ending);
            }
        }
        let elapsed = self.begun.elapsed();
        let (_, tracker) = self.untracked.as_mut()?;
        let step = tracker.step(polled, elapsed);
        for e in &step.new_events {
            log(&format!("{}: {} {}", self.name, e.at, e.message));
        }
        let verdict = step.verdict;
        match verdict {
            RollingVerdict::Waiting { .. } => None,
            // Done before any round: the new version alone is analysed
            // once (the old one is gone) before it is called a success.
            RollingVerdict::Completed => {
                if let Some(settings) = settings.as_ref().filter(|_| self.tally.rounds == 0)
                    && let Err(ending) = self.round(settings, false, log).await
                {
                    return Some(ending);
                }
                Some(Ending::Completed)
            }
            RollingVerdict::RolledBackByEcs { .. } => Some(Ending::Failed {
                reason: verdict.reason(),
                rolled_back: true,
            }),
            RollingVerdict::DeadlineExceeded => {
                self.progress.decided_by =
                    Some(format!("the deadline ({}s)", self.pace.deadline.as_secs()));
                self.stop = Stop::Impossible;
                Some(Ending::TimedOut { rolled_back: false })
            }
            _ => Some(Ending::Failed {
                reason: verdict.reason(),
                rolled_back: false,
            }),
        }
    }

    /// A round of checks when one is due; on an abort, stops the
    /// deployment with a rollback. `Err` ends the follow (the stop failed).
    pub(super) async fn analyse(
        &mut self,
        settings: &AnalysisSettings,
        log: &mut (dyn FnMut(&str) + Send),
    ) -> Result<(), Ending> {
        let now = tokio::time::Instant::now();
        if self.next_round.is_some_and(|at| now < at) {
            return Ok(());
        }
        self.next_round = Some(now + Duration::from_secs(settings.interval_secs));
        // Once the new version serves all traffic the old one has none:
        // only the absolute thresholds judge then.
        let compared = self
            .steps
            .current()
            .is_none_or(|s| s.traffic_percent.is_none_or(|p| p < 100.0));
        self.round(settings, compared, log).await
    }

    /// One round of checks now; on an abort, stops with a rollback. `Err`
    /// ends the follow.
    pub(super) async fn round(
        &mut self,
        settings: &AnalysisSettings,
        compared: bool,
        log: &mut (dyn FnMut(&str) + Send),
    ) -> Result<(), Ending> {
        let checks = round(
            self.metrics,
            settings,
            &self.target.service,
            &self.target.version,
            compared,
        )
        .await;
        let verdict = self.tally.record(settings, &checks);
        for c in &checks {
            log(&format!(
                "{}: {} canary {} baseline {}: {}",
                self.name,
                c.name,
                c.canary.map_or("–".into(), analysis::figure),
                c.baseline.map_or("–".into(), analysis::figure),
                c.failure.as_deref().unwrap_or("ok")
            ));
        }
        if verdict != Verdict::Abort {
            self.steps.record(checks, verdict);
            return Ok(());
        }
        let reason = abort_reason(self.steps.current(), &checks, &self.tally);
        if self.arn.is_some() {
            log(&format!(
                "{}: {reason}: stopping with a rollback",
                self.name
            ));
        } else {
            log(&format!(
                "{}: {reason}: there is no service deployment to stop; Ferry rolls back by UpdateService",
                self.name
            ));
        }
        self.progress.decided_by = Some(reason.clone());
        self.steps.record(checks, verdict);
        if self.stop_now(log).await {
            self.stopping = Some(Ending::Aborted {
                reason,
                rolled_back: true,
            });
            return Ok(());
        }
        let reason = match &self.stop {
            Stop::Refused(e) => format!("{reason}; the stop failed: {e}"),
            _ => reason,
        };
        Err(Ending::Aborted {
            reason,
            rolled_back: false,
        })
    }
}
