//! The progressive step machine: the pure decisions of a canary, linear or
//! blue/green rollout followed through its ECS lifecycle. Which traffic
//! share a stage means, whether the analysis runs, what a service
//! deployment's status means, where a step begins and what ended the
//! rollout; [`super::follow`] is the loop around them, over the ECS port and
//! the metrics. Its report types ([`StepReport`], [`Progress`]) are the
//! model's.

use std::time::Duration;

use super::analysis::{self, CheckResult, Tally, Verdict};
pub use super::model::{Progress, StepReport};
use super::rollout::Ours;
use crate::manifest::{AnalysisSettings, RolloutSettings, Strategy};

/// The stages in which the new version serves production traffic.
const SERVING: &[&str] = &[
    "PRODUCTION_TRAFFIC_SHIFT",
    "POST_PRODUCTION_TRAFFIC_SHIFT",
    "BAKE_TIME",
];

/// The new version's share of traffic at `stage`, `secs` after the
/// production traffic shift began (`None` before it, or for rolling).
pub fn traffic(settings: &RolloutSettings, stage: &str, secs_in_shift: f64) -> Option<f64> {
    match stage {
        "PRODUCTION_TRAFFIC_SHIFT" => match settings.strategy {
            Strategy::Rolling => None,
            Strategy::BlueGreen => Some(100.0),
            Strategy::Canary => Some(if secs_in_shift < settings.step_bake_secs as f64 {
                settings.canary_percent
            } else {
                100.0
            }),
            Strategy::Linear => {
                let bake = settings.step_bake_secs.max(1) as f64;
                let step = (secs_in_shift / bake).floor() + 1.0;
                Some((step * settings.step_percent).min(100.0))
            }
        },
        "POST_PRODUCTION_TRAFFIC_SHIFT" | "BAKE_TIME" | "CLEAN_UP" => {
            (settings.strategy != Strategy::Rolling).then_some(100.0)
        }
        _ => None,
    }
}

/// How a service will roll out, in one line for plans and dry runs:
/// `canary: 10% for 5m, then all; bake 5m; analysis every 60s of
/// error-ratio, latency-p99 (up to 1 failed round)`.
pub fn describe_rollout(rollout: &RolloutSettings, analysis: Option<&AnalysisSettings>) -> String {
    let minutes = |secs: u64| format!("{}m", secs / 60);
    let mut text = match rollout.strategy {
        Strategy::Rolling => "rolling".to_string(),
        Strategy::BlueGreen => format!("blue-green; bake {}", minutes(rollout.bake_secs)),
        Strategy::Canary => format!(
            "canary: {}% for {}, then all; bake {}",
            analysis::figure(rollout.canary_percent),
            minutes(rollout.step_bake_secs),
            minutes(rollout.bake_secs)
        ),
        Strategy::Linear => format!(
            "linear: {}% more every {}; bake {}",
            analysis::figure(rollout.step_percent),
            minutes(rollout.step_bake_secs),
            minutes(rollout.bake_secs)
        ),
    };
    if let Some(a) = analysis {
        let names: Vec<&str> = a.checks.iter().map(|c| c.name.as_str()).collect();
        text.push_str(&format!(
            "; analysis every {}s of {} (up to {} failed round{})",
            a.interval_secs,
            names.join(", "),
            a.failure_limit,
            if a.failure_limit == 1 { "" } else { "s" }
        ));
    }
    text
}

/// Whether the analysis runs at `stage`: while the new version serves
/// production traffic (for a rolling update, from the first new task on).
pub fn analysing(strategy: Strategy, status: &str, stage: &str) -> bool {
    status == "IN_PROGRESS"
        && match strategy {
            Strategy::Rolling => true,
            _ => SERVING.contains(&stage),
        }
}

/// What a service deployment's status means to Ferry.
#[derive(Debug, Clone, PartialEq)]
pub enum Phase {
    /// Still going.
    Running,
    /// Done: the new version serves all traffic.
    Succeeded,
    /// ECS rolled it back (after Ferry's stop, or its own alarms or circuit
    /// breaker); whether the rollback itself succeeded.
    RolledBack {
        /// ECS's words.
        reason: String,
        /// False for ROLLBACK_FAILED.
        succeeded: bool,
    },
    /// Stopped without a rollback.
    Stopped(String),
}

/// Reads a status (and ECS's reason) as a [`Phase`].
pub fn phase(status: &str, reason: Option<&str>) -> Phase {
    let reason = reason.unwrap_or("").to_string();
    match status {
        "SUCCESSFUL" => Phase::Succeeded,
        "ROLLBACK_SUCCESSFUL" => Phase::RolledBack {
            reason,
            succeeded: true,
        },
        "ROLLBACK_FAILED" => Phase::RolledBack {
            reason,
            succeeded: false,
        },
        "STOPPED" => Phase::Stopped(reason),
        _ => Phase::Running,
    }
}

/// Where the report is: the current step, started when its stage or its
/// traffic share changed.
#[derive(Debug, Default)]
pub struct Steps {
    steps: Vec<StepReport>,
    shift_started: Option<f64>,
}

impl Steps {
    /// Notes the stage at `now` (seconds since the rollout began) and the
    /// new revision's share of production traffic as ECS reports it
    /// (`requestedProductionTrafficWeight`), which wins over [`traffic`]'s
    /// inference from time during the shift; returns the new step when one
    /// began. A deployment with no stage yet (PENDING) begins none.
    pub fn observe(
        &mut self,
        settings: &RolloutSettings,
        stage: &str,
        reported: Option<f64>,
        now: f64,
    ) -> Option<&StepReport> {
        if stage.is_empty() {
            return None;
        }
        if stage == "PRODUCTION_TRAFFIC_SHIFT" && self.shift_started.is_none() {
            self.shift_started = Some(now);
        }
        let in_shift = self.shift_started.map_or(0.0, |s| now - s);
        let share = match traffic(settings, stage, in_shift) {
            Some(inferred) if stage == "PRODUCTION_TRAFFIC_SHIFT" => {
                Some(reported.unwrap_or(inferred))
            }
            share => share,
        };
        // Before the new version takes production traffic, a traffic
        // shifting rollout has no step yet (its stages are in the log).
        if settings.strategy != Strategy::Rolling && share.is_none() {
            return None;
        }
        let same = self
            .steps
            .last()
            .is_some_and(|s| s.stage == stage && s.traffic_percent == share);
        if same {
            return None;
        }
        self.steps.push(StepReport {
            step: self.steps.len() + 1,
            stage: stage.to_string(),
            traffic_percent: share,
            started_secs: now,
            ..StepReport::default()
        });
        self.steps.last()
    }

    /// Records a round of checks in the current step.
    pub fn record(&mut self, checks: Vec<CheckResult>, verdict: Verdict) {
        if let Some(step) = self.steps.last_mut() {
            step.rounds += 1;
            if verdict != Verdict::Healthy {
                step.failed_rounds += 1;
            }
            step.checks = checks;
            step.verdict = Some(verdict);
        }
    }

    /// The current step.
    pub fn current(&self) -> Option<&StepReport> {
        self.steps.last()
    }

    /// All steps so far.
    pub fn into_steps(self) -> Vec<StepReport> {
        self.steps
    }
}

/// The line that says why the analysis aborted: the step and the checks
/// that failed, with their figures.
pub fn abort_reason(step: Option<&StepReport>, checks: &[CheckResult], tally: &Tally) -> String {
    let failed: Vec<&str> = checks.iter().filter_map(|c| c.failure.as_deref()).collect();
    let at = step
        .map(|s| format!(" at {}", s.title()))
        .unwrap_or_default();
    format!(
        "analysis failed{at}: {} ({} of {} rounds failed)",
        failed.join("; "),
        tally.failed,
        tally.rounds
    )
}

/// What [`super::follow::follow`] watches.
#[derive(Debug, Clone)]
pub struct Followed {
    /// The manifest's service name (the `{service}` of the queries).
    pub service: String,
    /// The environment, for the log.
    pub env: String,
    /// The ECS cluster.
    pub cluster: String,
    /// The ECS service.
    pub ecs_service: String,
    /// This release's deployment: the task definition it put on the
    /// service, and when UpdateService answered (to tell this release's
    /// service deployment from older ones, and for the rolling wait when
    /// there is no service deployment to follow).
    pub ours: Ours,
    /// How this run takes the rollout up.
    pub mode: Mode,
    /// The version label of the new tasks.
    pub version: String,
    /// The strategy and its steps.
    pub rollout: RolloutSettings,
    /// The analysis, when the manifest asks for one.
    pub analysis: Option<AnalysisSettings>,
}

/// How a run takes a progressive rollout up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// This run's UpdateService started it: follow it.
    Follow,
    /// An earlier run started it and was interrupted; it is still running:
    /// follow it from where it is (re-analysing the running version as
    /// [`Mode::Reanalyse`] does when it completes before any round).
    Resume,
    /// The service already runs this release at steady state, with no record
    /// that its analysis completed: analyse the running version for one
    /// full analysis (`failure-limit` + 1 rounds) against the absolute
    /// thresholds (the old version is gone); Ferry's own rollback follows a
    /// failure.
    Reanalyse,
}

/// How a followed rollout ended.
#[derive(Debug, Clone, PartialEq)]
pub enum Ending {
    /// The new version took all traffic.
    Completed,
    /// The analysis aborted it and ECS rolled back (or failed to).
    Aborted {
        /// Why, with the figures.
        reason: String,
        /// Whether ECS's rollback succeeded.
        rolled_back: bool,
    },
    /// ECS rolled back or stopped on its own (circuit breaker, alarms).
    Failed {
        /// ECS's words.
        reason: String,
        /// Whether the service is back on the old version.
        rolled_back: bool,
    },
    /// The deadline passed first (the deployment was stopped with a
    /// rollback when there was one to stop: [`FollowReport::stop`]).
    TimedOut {
        /// Whether ECS's rollback succeeded.
        rolled_back: bool,
    },
    /// The job was cancelled (SIGINT/SIGTERM): the deployment was stopped
    /// with a rollback when there was one to stop, and Ferry did not wait.
    Cancelled {
        /// The signal.
        signal: &'static str,
    },
}

/// What Ferry did to stop the service deployment, for an ending that tells
/// only what was done.
#[derive(Debug, Clone, PartialEq)]
pub enum Stop {
    /// Nothing asked a stop (it completed, or ECS ended it itself).
    NotAsked,
    /// ECS accepted StopServiceDeployment with a rollback.
    Requested,
    /// ECS refused it (the one-line AWS error).
    Refused(String),
    /// There was no service deployment to stop: no service deployments
    /// API, or none found for this release (said in [`FollowReport::untracked`]).
    Impossible,
}

/// What [`super::follow::follow`] hands back.
#[derive(Debug, Clone)]
pub struct FollowReport {
    /// How it ended.
    pub ending: Ending,
    /// The service deployment's ARN, when found.
    pub deployment_arn: Option<String>,
    /// The steps and the analysis.
    pub progress: Progress,
    /// What Ferry did to stop it.
    pub stop: Stop,
    /// Why no service deployment could be followed (then the rolling wait
    /// on DescribeServices decided, and nothing could be stopped).
    pub untracked: Option<String>,
}

/// Timing of [`super::follow::follow`].
#[derive(Debug, Clone, Copy)]
pub struct Pace {
    /// Between two DescribeServiceDeployments.
    pub poll: Duration,
    /// The whole rollout's deadline.
    pub deadline: Duration,
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn canary() -> RolloutSettings {
        RolloutSettings {
            strategy: Strategy::Canary,
            canary_percent: 10.0,
            step_percent: 25.0,
            step_bake_secs: 300,
            bake_secs: 300,
        }
    }

    #[test]
    fn the_traffic_share_follows_the_strategy_and_the_stage() {
        let c = canary();
        assert_eq!(traffic(&c, "SCALE_UP", 0.0), None);
        assert_eq!(traffic(&c, "PRODUCTION_TRAFFIC_SHIFT", 10.0), Some(10.0));
        assert_eq!(traffic(&c, "PRODUCTION_TRAFFIC_SHIFT", 300.0), Some(100.0));
        assert_eq!(traffic(&c, "BAKE_TIME", 0.0), Some(100.0));
        let linear = RolloutSettings {
            strategy: Strategy::Linear,
            step_percent: 30.0,
            ..c.clone()
        };
        let shares: Vec<_> = [0.0, 299.0, 300.0, 600.0, 900.0, 5000.0]
            .iter()
            .map(|s| traffic(&linear, "PRODUCTION_TRAFFIC_SHIFT", *s).unwrap())
            .collect();
        assert_eq!(shares, [30.0, 30.0, 60.0, 90.0, 100.0, 100.0]);
        let bg = RolloutSettings {
            strategy: Strategy::BlueGreen,
            ..c.clone()
        };
        assert_eq!(traffic(&bg, "PRODUCTION_TRAFFIC_SHIFT", 0.0), Some(100.0));
        assert_eq!(traffic(&RolloutSettings::default(), "BAKE_TIME", 0.0), None);
    }

    #[test]
    fn a_rollout_reads_in_one_line() {
        assert_eq!(
            describe_rollout(&RolloutSettings::default(), None),
            "rolling"
        );
        let analysis = AnalysisSettings {
            prometheus: "http://p".into(),
            interval_secs: 60,
            failure_limit: 1,
            checks: vec![crate::manifest::AnalysisCheck {
                name: "error-ratio".into(),
                query: "q{version}".into(),
                max: Some(0.01),
                min: None,
                relative: None,
                allow_negative: false,
            }],
        };
        assert_eq!(
            describe_rollout(&canary(), Some(&analysis)),
            "canary: 10% for 5m, then all; bake 5m; analysis every 60s of error-ratio (up to 1 failed round)"
        );
        let linear = RolloutSettings {
            strategy: Strategy::Linear,
            ..canary()
        };
        assert_eq!(
            describe_rollout(&linear, None),
            "linear: 25% more every 5m; bake 5m"
        );
    }

    #[test]
    fn the_analysis_runs_only_while_the_new_version_serves() {
        assert!(!analysing(Strategy::Canary, "IN_PROGRESS", "SCALE_UP"));
        assert!(!analysing(
            Strategy::Canary,
            "IN_PROGRESS",
            "TEST_TRAFFIC_SHIFT"
        ));
        assert!(analysing(
            Strategy::Canary,
            "IN_PROGRESS",
            "PRODUCTION_TRAFFIC_SHIFT"
        ));
        assert!(analysing(Strategy::Linear, "IN_PROGRESS", "BAKE_TIME"));
        assert!(!analysing(
            Strategy::Canary,
            "ROLLBACK_IN_PROGRESS",
            "BAKE_TIME"
        ));
        assert!(analysing(
            Strategy::Rolling,
            "IN_PROGRESS",
            "RECONCILE_SERVICE"
        ));
    }

    #[test]
    fn statuses_mean_running_done_or_rolled_back() {
        assert_eq!(phase("IN_PROGRESS", None), Phase::Running);
        assert_eq!(phase("PENDING", None), Phase::Running);
        assert_eq!(phase("STOP_REQUESTED", None), Phase::Running);
        assert_eq!(phase("SUCCESSFUL", None), Phase::Succeeded);
        assert_eq!(
            phase("ROLLBACK_SUCCESSFUL", Some("alarm")),
            Phase::RolledBack {
                reason: "alarm".into(),
                succeeded: true
            }
        );
        assert!(matches!(
            phase("ROLLBACK_FAILED", None),
            Phase::RolledBack {
                succeeded: false,
                ..
            }
        ));
        assert_eq!(phase("STOPPED", Some("x")), Phase::Stopped("x".into()));
    }

    #[test]
    fn a_step_begins_when_the_stage_or_the_share_changes() {
        let c = canary();
        let mut steps = Steps::default();
        assert!(steps.observe(&c, "SCALE_UP", None, 0.0).is_none());
        assert!(steps.observe(&c, "TEST_TRAFFIC_SHIFT", None, 5.0).is_none());
        let s = steps
            .observe(&c, "PRODUCTION_TRAFFIC_SHIFT", None, 10.0)
            .unwrap();
        assert_eq!(s.title(), "step 1: 10% traffic (PRODUCTION_TRAFFIC_SHIFT)");
        assert!(
            steps
                .observe(&c, "PRODUCTION_TRAFFIC_SHIFT", None, 200.0)
                .is_none()
        );
        let s = steps
            .observe(&c, "PRODUCTION_TRAFFIC_SHIFT", None, 310.0)
            .unwrap();
        assert_eq!((s.step, s.traffic_percent), (2, Some(100.0)));
        assert_eq!(steps.observe(&c, "BAKE_TIME", None, 320.0).unwrap().step, 3);
        // A rolling update's steps are its stages.
        let mut rolling = Steps::default();
        let r = rolling
            .observe(&RolloutSettings::default(), "RECONCILE_SERVICE", None, 0.0)
            .unwrap();
        assert_eq!(r.title(), "step 1: rolling (RECONCILE_SERVICE)");
    }

    #[test]
    fn the_share_ecs_reports_wins_and_a_pending_deployment_begins_no_step() {
        let linear = RolloutSettings {
            strategy: Strategy::Linear,
            step_percent: 30.0,
            ..canary()
        };
        let mut steps = Steps::default();
        assert!(steps.observe(&linear, "", None, 0.0).is_none());
        let shares: Vec<_> = [30.0, 30.0, 60.0, 90.0]
            .iter()
            .enumerate()
            .filter_map(|(i, w)| {
                steps
                    .observe(&linear, "PRODUCTION_TRAFFIC_SHIFT", Some(*w), i as f64)
                    .map(|s| (s.step, s.traffic_percent))
            })
            .collect();
        assert_eq!(shares, [(1, Some(30.0)), (2, Some(60.0)), (3, Some(90.0))]);
        // Outside the shift, the strategy says (ECS's 0 before it is no share).
        let s = steps
            .observe(&linear, "BAKE_TIME", Some(100.0), 9.0)
            .unwrap();
        assert_eq!(s.traffic_percent, Some(100.0));
    }
}
