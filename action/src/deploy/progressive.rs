//! Progressive rollouts: a canary, linear or blue/green ECS deployment
//! followed through its lifecycle (the service deployments API), with the
//! analysis run at every interval while the new version takes production
//! traffic. Healthy: ECS goes on. Unhealthy past the failure limit: Ferry
//! stops the deployment with a rollback (`StopServiceDeployment`) and
//! reports the figures that decided it.
//!
//! The decisions (which traffic share a stage means, whether the analysis
//! runs, what a deployment's status means, what the report says) are pure
//! functions; [`follow`] is the loop around them, over ECS and Prometheus.

use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use aws_sdk_ecs::types as t;
use serde::{Deserialize, Serialize};

use super::analysis::{self, Baseline, CheckResult, Reading, Side, Tally, Verdict};
use super::rollout::{Limits, Ours, Polled, Tracker, Verdict as RollingVerdict};
use crate::aws::ecs as aws;
use crate::manifest::{AnalysisSettings, RolloutSettings, Strategy};

/// The stages in which the new version serves production traffic.
const SERVING: &[&str] = &[
    "PRODUCTION_TRAFFIC_SHIFT",
    "POST_PRODUCTION_TRAFFIC_SHIFT",
    "BAKE_TIME",
];

/// One step of a progressive rollout as the report shows it: a lifecycle
/// stage at one traffic share, and the analysis during it.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct StepReport {
    /// 1-based.
    pub step: usize,
    /// The ECS lifecycle stage (`PRODUCTION_TRAFFIC_SHIFT`, `BAKE_TIME`).
    pub stage: String,
    /// The new version's share of production traffic, in percent, when
    /// the strategy says (a rolling update has no share).
    pub traffic_percent: Option<f64>,
    /// Seconds from the start of the rollout to the start of the step.
    pub started_secs: f64,
    /// Analysis rounds run during the step.
    pub rounds: u32,
    /// Of which failed.
    pub failed_rounds: u32,
    /// The last round's checks.
    pub checks: Vec<CheckResult>,
    /// The last round's verdict.
    pub verdict: Option<Verdict>,
}

impl StepReport {
    /// `step 2: 10% traffic (PRODUCTION_TRAFFIC_SHIFT)`, for logs and the
    /// GitHub status.
    pub fn title(&self) -> String {
        let share = self
            .traffic_percent
            .map(|p| format!("{}% traffic", analysis::figure(p)))
            .unwrap_or_else(|| "rolling".into());
        format!("step {}: {share} ({})", self.step, self.stage)
    }
}

/// Where each step of a progressive rollout is told as it begins: the
/// service and the step.
pub type StepSink = tokio::sync::mpsc::UnboundedSender<(String, StepReport)>;

/// What a progressive rollout did, for the outcome and the report.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Progress {
    /// `canary`, `linear`, `blue-green` or `rolling`.
    pub strategy: String,
    /// The version analysed (the `version` label of its metrics).
    pub version: String,
    /// The steps, in order.
    pub steps: Vec<StepReport>,
    /// What ended it: the step and the check that failed, or the last step
    /// when it completed.
    pub decided_by: Option<String>,
}

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

/// Where the analysis reads its numbers: what one query answers, as a
/// [`Reading`] the judge takes whatever its shape.
pub trait Metrics: Send + Sync {
    /// What `query` answers now.
    fn sample<'a>(&'a self, query: &'a str) -> Pin<Box<dyn Future<Output = Reading> + Send + 'a>>;
}

/// [`Metrics`] from a Prometheus server (the [`crate::prometheus`]
/// adapter), queried at the time of asking.
impl Metrics for crate::prometheus::Prometheus {
    fn sample<'a>(&'a self, query: &'a str) -> Pin<Box<dyn Future<Output = Reading> + Send + 'a>> {
        Box::pin(async move {
            let now = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_secs());
            match self.query(query, now).await {
                Err(e) => Reading::Unanswered(e.to_string()),
                Ok(series) => match series.as_slice() {
                    [] => Reading::NoData,
                    [one] => Reading::Value(one.value),
                    many => Reading::Several(many.len()),
                },
            }
        })
    }
}

/// [`Metrics`] that cannot be read (the Prometheus client could not be
/// built): every query fails with why, so every check fails closed.
#[derive(Debug, Clone)]
pub struct Unreadable(pub String);

impl Metrics for Unreadable {
    fn sample<'a>(&'a self, _query: &'a str) -> Pin<Box<dyn Future<Output = Reading> + Send + 'a>> {
        Box::pin(async move { Reading::Unanswered(self.0.clone()) })
    }
}

/// One round: every check for the new version, and for the baseline when
/// `compared` (the old versions still serve traffic); [`analysis::judge`]
/// decides on whatever the queries answered.
pub async fn round(
    metrics: &dyn Metrics,
    settings: &AnalysisSettings,
    service: &str,
    version: &str,
    compared: bool,
) -> Vec<CheckResult> {
    let mut results = Vec::new();
    for check in &settings.checks {
        let ask = |side| analysis::query(check, service, version, settings.interval_secs, side);
        let canary = metrics.sample(&ask(Side::Canary)).await;
        let baseline = if compared {
            Baseline::Compared(metrics.sample(&ask(Side::Baseline)).await)
        } else {
            Baseline::Gone
        };
        results.push(analysis::judge(check, &canary, &baseline));
    }
    results
}

/// What [`follow`] watches.
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

/// What [`follow`] hands back.
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

/// Timing of [`follow`].
#[derive(Debug, Clone, Copy)]
pub struct Pace {
    /// Between two DescribeServiceDeployments.
    pub poll: Duration,
    /// The whole rollout's deadline.
    pub deadline: Duration,
}

/// This release's service deployment: the newest created at or after our
/// UpdateService (a second's slack for clocks).
async fn find_deployment(
    ecs: &aws_sdk_ecs::Client,
    target: &Followed,
) -> Result<Option<String>, String> {
    let mut found: Vec<(String, f64)> =
        aws::list_service_deployments(ecs, &target.cluster, &target.ecs_service)
            .await
            .map_err(|e| e.to_string())?
            .into_iter()
            .filter(|(_, created)| created + 1.0 >= target.ours.started_at.unwrap_or(0.0))
            .collect();
    found.sort_by(|a, b| a.1.total_cmp(&b.1));
    Ok(found.pop().map(|(arn, _)| arn))
}

async fn describe(
    ecs: &aws_sdk_ecs::Client,
    arn: &str,
) -> Result<Option<t::ServiceDeployment>, String> {
    aws::describe_service_deployment(ecs, arn)
        .await
        .map_err(|e| e.to_string())
}

async fn stop_with_rollback(ecs: &aws_sdk_ecs::Client, arn: &str) -> Result<(), String> {
    aws::stop_service_deployment(ecs, arn)
        .await
        .map_err(|e| e.to_string())
}

/// The state of one [`follow`]: where the deployment is, the report so
/// far, and whether Ferry asked ECS to stop it.
struct Follower<'a> {
    ecs: &'a aws_sdk_ecs::Client,
    metrics: &'a dyn Metrics,
    target: &'a Followed,
    pace: Pace,
    name: String,
    begun: tokio::time::Instant,
    arn: Option<String>,
    progress: Progress,
    steps: Steps,
    tally: Tally,
    next_round: Option<tokio::time::Instant>,
    /// Set once Ferry stopped the deployment: how it will have ended once
    /// ECS finishes the rollback.
    stopping: Option<Ending>,
    stop: Stop,
    /// Polls whose ListServiceDeployments listed nothing of this release.
    misses: u32,
    /// Without a service deployment to follow: why, and the rolling wait's
    /// tracker over DescribeServices.
    untracked: Option<(String, Tracker)>,
}

/// Polls of ListServiceDeployments listing nothing of this release before
/// Ferry says so and follows DescribeServices instead (ECS lists a service
/// deployment as UpdateService answers; three polls leave room for lag).
const MISSES: u32 = 3;

impl Follower<'_> {
    fn finish(self, ending: Ending) -> FollowReport {
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
    async fn stop_now(&mut self, log: &mut (dyn FnMut(&str) + Send)) -> bool {
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
    fn untrack(&mut self, why: String, log: &mut (dyn FnMut(&str) + Send)) {
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
    async fn cancel(
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
    async fn enforce_deadline(&mut self, log: &mut (dyn FnMut(&str) + Send)) -> Result<(), Ending> {
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
    async fn observe(
        &mut self,
        log: &mut (dyn FnMut(&str) + Send),
    ) -> Option<t::ServiceDeployment> {
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

    /// [`Mode::Reanalyse`]: `failure-limit` + 1 rounds, one interval apart,
    /// without a baseline; an abort ends it (Ferry's rollback follows).
    async fn reanalyse(mut self, log: &mut (dyn FnMut(&str) + Send)) -> FollowReport {
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
    async fn rolling(&mut self, log: &mut (dyn FnMut(&str) + Send)) -> Option<Ending> {
        let (polled, serving) =
            match aws::describe_service(self.ecs, &self.target.cluster, &self.target.ecs_service)
                .await
            {
                Ok(Some(s)) => (
                    Polled::Observed(super::wait::observation(&s)),
                    s.task_definition() == Some(self.target.ours.task_definition.as_str()),
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

    /// The ending a finished deployment means, given whether Ferry stopped it.
    fn ending(&mut self, phase: Phase) -> Option<Ending> {
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

    /// A round of checks when one is due; on an abort, stops the
    /// deployment with a rollback. `Err` ends the follow (the stop failed).
    async fn analyse(
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
    async fn round(
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

/// Follows one service deployment to its end, running the analysis while
/// the new version serves traffic; stops it with a rollback when the
/// analysis aborts or the deadline passes. `on_step` hears each new step.
pub async fn follow(
    ecs: &aws_sdk_ecs::Client,
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
            let status = deployment.status().map(|s| s.as_str()).unwrap_or_default();
            let stage = deployment
                .lifecycle_stage()
                .map(|s| s.as_str())
                .unwrap_or_default();
            if let Some(ending) = f.ending(phase(status, deployment.status_reason())) {
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
                let reported = deployment
                    .target_service_revision()
                    .and_then(t::ServiceRevisionSummary::requested_production_traffic_weight);
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
