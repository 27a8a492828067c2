//! Is *our* deployment done? A pure state machine over what one poll of ECS
//! showed about one service. The adapter ([`super::wait`]) turns
//! DescribeServices (and, where available, DescribeServiceDeployments)
//! answers into an [`Observation`]; [`Tracker::step`] turns the sequence of
//! observations into a [`Verdict`]. Keeping the rules here, over plain data,
//! is what lets them be tested on the sequences real ECS produces — moto
//! never advances a rollout.

use std::collections::HashSet;
use std::time::Duration;

use super::model::ServiceEvent;

/// One deployment of a service as DescribeServices reports it (the ECS
/// port's plain value).
pub use crate::aws::ecs::Deployment as DeploymentView;

/// The service deployments API's view of our deployment (when the endpoint
/// has that API).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ServiceDeploymentView {
    /// The service deployment ARN.
    pub arn: String,
    /// `PENDING`, `IN_PROGRESS`, `SUCCESSFUL`, `STOPPED`, `STOP_REQUESTED`,
    /// `ROLLBACK_REQUESTED`, `ROLLBACK_IN_PROGRESS`, `ROLLBACK_SUCCESSFUL`,
    /// `ROLLBACK_FAILED`.
    pub status: String,
    /// ECS's reason for the status.
    pub status_reason: Option<String>,
}

/// One service event, with the id that makes it streamed once.
#[derive(Debug, Clone, PartialEq)]
pub struct EventView {
    /// ECS's event id.
    pub id: String,
    /// Seconds since the epoch.
    pub created_at: f64,
    /// The event, in the model's form.
    pub event: ServiceEvent,
}

/// What one poll showed about one service.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Observation {
    /// The service's deployments.
    pub deployments: Vec<DeploymentView>,
    /// Our deployment in the service deployments API, when known.
    pub service_deployment: Option<ServiceDeploymentView>,
    /// The service's events, in any order (ECS gives newest first).
    pub events: Vec<EventView>,
    /// Reasons stopped tasks of our deployment gave (filled by the adapter
    /// when the failed count grew).
    pub stopped_reasons: Vec<String>,
}

/// What one poll produced.
#[derive(Debug, Clone, PartialEq)]
pub enum Polled {
    /// An answer.
    Observed(Observation),
    /// ECS throttled us (after the SDK's own retries).
    Throttled,
    /// Another error: retried a few times, then a failure.
    Error(String),
}

/// Which deployment is ours.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Ours {
    /// Our deployment id, when UpdateService's answer showed it.
    pub deployment_id: Option<String>,
    /// The task definition we put on the service.
    pub task_definition: String,
    /// The task definition the service ran before (what a circuit breaker
    /// rolls back to).
    pub previous_task_definition: Option<String>,
    /// When our deployment was created (seconds since the epoch), when
    /// UpdateService's answer showed it: older events are history.
    pub started_at: Option<f64>,
}

/// Where a rollout stands after a poll.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Not finished; what to show.
    Waiting {
        /// e.g. `1/2 running, 1 pending`.
        progress: String,
    },
    /// Our deployment is PRIMARY, COMPLETED and running the desired count.
    Completed,
    /// Our deployment failed (or the API kept failing).
    Failed {
        /// Why.
        reason: String,
    },
    /// The circuit breaker rolled our deployment back.
    RolledBackByEcs {
        /// Why.
        reason: String,
    },
    /// A newer deployment replaced ours before it finished.
    Superseded {
        /// The newer deployment (`id (task definition)`).
        by: String,
    },
    /// The deadline passed first.
    DeadlineExceeded,
}

impl Verdict {
    /// Whether the rollout is over (any verdict but waiting).
    pub fn is_final(&self) -> bool {
        !matches!(self, Verdict::Waiting { .. })
    }

    /// One line for diagnoses and logs.
    pub fn reason(&self) -> String {
        match self {
            Verdict::Waiting { progress } => format!("waiting: {progress}"),
            Verdict::Completed => "completed".into(),
            Verdict::Failed { reason } => format!("the deployment failed: {reason}"),
            Verdict::RolledBackByEcs { reason } => {
                format!("the ECS deployment circuit breaker rolled the deployment back: {reason}")
            }
            Verdict::Superseded { by } => format!("a newer deployment superseded ours: {by}"),
            Verdict::DeadlineExceeded => {
                "the deadline passed before the deployment finished".into()
            }
        }
    }
}

/// What the service deployments API says outright: ECS rolled our
/// deployment back, or stopped it.
fn ended_by_ecs(sd: &ServiceDeploymentView) -> Option<Verdict> {
    let reason = sd
        .status_reason
        .clone()
        .unwrap_or_else(|| sd.status.clone());
    match sd.status.as_str() {
        "ROLLBACK_REQUESTED"
        | "ROLLBACK_IN_PROGRESS"
        | "ROLLBACK_SUCCESSFUL"
        | "ROLLBACK_FAILED" => Some(Verdict::RolledBackByEcs { reason }),
        "STOPPED" | "STOP_REQUESTED" => Some(Verdict::Failed { reason }),
        _ => None,
    }
}

/// The tracker's knobs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Give up after this long.
    pub deadline: Duration,
    /// The normal poll interval.
    pub interval: Duration,
    /// The longest backoff after throttling.
    pub max_backoff: Duration,
    /// Consecutive non-throttling errors tolerated.
    pub max_errors: u32,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            deadline: Duration::from_secs(15 * 60),
            interval: Duration::from_secs(6),
            max_backoff: Duration::from_secs(60),
            max_errors: 3,
        }
    }
}

/// The result of one step.
#[derive(Debug, Clone, PartialEq)]
pub struct Step {
    /// Where the rollout stands.
    pub verdict: Verdict,
    /// Service events not seen before (since our deployment started),
    /// oldest first.
    pub new_events: Vec<ServiceEvent>,
    /// When to poll again.
    pub next_poll_in: Duration,
}

/// Follows one service's rollout over polls.
#[derive(Debug, Clone)]
pub struct Tracker {
    ours: Ours,
    limits: Limits,
    seen_events: HashSet<String>,
    /// Our deployment's createdAt, once seen (events before it are history).
    started_at: Option<f64>,
    /// The failed task count last seen.
    failed: i32,
    /// Distinct reasons tasks gave when they stopped.
    stop_reasons: Vec<String>,
    throttled_in_a_row: u32,
    errors_in_a_row: u32,
    events: Vec<ServiceEvent>,
}

impl Tracker {
    /// Starts following `ours`.
    pub fn new(ours: Ours, limits: Limits) -> Self {
        let started_at = ours.started_at;
        Self {
            ours,
            limits,
            seen_events: HashSet::new(),
            started_at,
            failed: 0,
            stop_reasons: Vec::new(),
            throttled_in_a_row: 0,
            errors_in_a_row: 0,
            events: Vec::new(),
        }
    }

    /// Which deployment is ours (its id learnt on the first poll if it was
    /// not known).
    pub fn ours(&self) -> &Ours {
        &self.ours
    }

    /// Every event streamed so far, oldest first (for the diagnosis).
    pub fn events(&self) -> &[ServiceEvent] {
        &self.events
    }

    /// Our deployment's createdAt, once seen.
    pub fn started_at(&self) -> Option<f64> {
        self.started_at
    }

    /// Distinct reasons stopped tasks gave, in order seen.
    pub fn stop_reasons(&self) -> &[String] {
        &self.stop_reasons
    }

    /// Takes one poll's result at `elapsed` since the rollout started.
    pub fn step(&mut self, polled: Polled, elapsed: Duration) -> Step {
        let (verdict, new_events, next) = match polled {
            Polled::Throttled => {
                self.throttled_in_a_row += 1;
                let backoff = self.backoff();
                (
                    Verdict::Waiting {
                        progress: format!(
                            "ECS is throttling; polling again in {}s",
                            backoff.as_secs_f64().ceil()
                        ),
                    },
                    Vec::new(),
                    backoff,
                )
            }
            Polled::Error(message) => {
                self.errors_in_a_row += 1;
                let verdict = if self.errors_in_a_row > self.limits.max_errors {
                    Verdict::Failed {
                        reason: format!(
                            "polling ECS failed {} times in a row: {message}",
                            self.errors_in_a_row
                        ),
                    }
                } else {
                    Verdict::Waiting {
                        progress: format!("polling ECS failed, retrying: {message}"),
                    }
                };
                (verdict, Vec::new(), self.limits.interval)
            }
            Polled::Observed(obs) => {
                self.throttled_in_a_row = 0;
                self.errors_in_a_row = 0;
                let verdict = self.judge(&obs);
                let new_events = self.new_events(&obs);
                (verdict, new_events, self.limits.interval)
            }
        };
        let verdict = if !verdict.is_final() && elapsed >= self.limits.deadline {
            Verdict::DeadlineExceeded
        } else {
            verdict
        };
        Step {
            verdict,
            new_events,
            next_poll_in: next,
        }
    }

    /// Exponential backoff from the interval, capped.
    fn backoff(&self) -> Duration {
        let factor = 2u32.saturating_pow(self.throttled_in_a_row.min(16));
        self.limits
            .interval
            .saturating_mul(factor)
            .min(self.limits.max_backoff)
    }

    fn is_ours(&self, d: &DeploymentView) -> bool {
        match &self.ours.deployment_id {
            Some(id) => &d.id == id,
            None => d.task_definition == self.ours.task_definition,
        }
    }

    fn judge(&mut self, obs: &Observation) -> Verdict {
        let ours = obs.deployments.iter().find(|d| self.is_ours(d)).cloned();
        if let Some(d) = &ours {
            if self.ours.deployment_id.is_none() {
                self.ours.deployment_id = Some(d.id.clone());
            }
            self.started_at.get_or_insert(d.created_at);
        }
        if let Some(verdict) = obs.service_deployment.as_ref().and_then(ended_by_ecs) {
            return verdict;
        }
        let primary = obs.deployments.iter().find(|d| d.status == "PRIMARY");
        let Some(d) = ours else {
            return match primary {
                Some(p) if self.is_rollback_target(p) || self.ours.deployment_id.is_some() => {
                    Verdict::RolledBackByEcs {
                        reason: format!(
                            "our deployment is gone and {} runs {}",
                            p.id, p.task_definition
                        ),
                    }
                }
                Some(p) => Verdict::Superseded {
                    by: format!("{} ({})", p.id, p.task_definition),
                },
                None => Verdict::Waiting {
                    progress: "no deployment yet".into(),
                },
            };
        };
        let reason = d.rollout_state_reason.clone().unwrap_or_default();
        if d.rollout_state.as_deref() == Some("FAILED") {
            return if reason.to_ascii_lowercase().contains("circuit breaker") {
                Verdict::RolledBackByEcs { reason }
            } else {
                Verdict::Failed {
                    reason: if reason.is_empty() {
                        "rolloutState FAILED".into()
                    } else {
                        reason
                    },
                }
            };
        }
        if d.status != "PRIMARY"
            && let Some(p) = primary
        {
            if self.is_rollback_target(p) || d.status == "INACTIVE" {
                return Verdict::RolledBackByEcs {
                    reason: format!(
                        "{} is PRIMARY again on {}; ours is {}",
                        p.id, p.task_definition, d.status
                    ),
                };
            }
            return Verdict::Superseded {
                by: format!("{} ({})", p.id, p.task_definition),
            };
        }
        if d.status == "PRIMARY"
            && d.rollout_state.as_deref().is_none_or(|s| s == "COMPLETED")
            && d.running == d.desired
            && (d.rollout_state.is_some() || obs.deployments.len() == 1)
        {
            return Verdict::Completed;
        }
        if let Some(sd) = &obs.service_deployment
            && sd.status == "SUCCESSFUL"
            && d.running == d.desired
        {
            return Verdict::Completed;
        }
        if d.failed > self.failed {
            self.failed = d.failed;
        }
        for r in &obs.stopped_reasons {
            if !self.stop_reasons.contains(r) {
                self.stop_reasons.push(r.clone());
            }
        }
        let mut progress = format!("{}/{} running, {} pending", d.running, d.desired, d.pending);
        if self.failed > 0 {
            progress.push_str(&format!("; tasks keep stopping ({} failed)", self.failed));
            if !self.stop_reasons.is_empty() {
                progress.push_str(": ");
                progress.push_str(&self.stop_reasons.join("; "));
            }
        }
        Verdict::Waiting { progress }
    }

    /// The PRIMARY runs what the service ran before us: ECS went back.
    fn is_rollback_target(&self, primary: &DeploymentView) -> bool {
        self.ours.previous_task_definition.as_deref() == Some(primary.task_definition.as_str())
            && primary.task_definition != self.ours.task_definition
    }

    fn new_events(&mut self, obs: &Observation) -> Vec<ServiceEvent> {
        let since = self.started_at.unwrap_or(f64::MIN);
        let mut fresh: Vec<&EventView> = obs
            .events
            .iter()
            .filter(|e| e.created_at >= since && !self.seen_events.contains(&e.id))
            .collect();
        fresh.sort_by(|a, b| a.created_at.total_cmp(&b.created_at));
        let out: Vec<ServiceEvent> = fresh.iter().map(|e| e.event.clone()).collect();
        for e in fresh {
            self.seen_events.insert(e.id.clone());
        }
        self.events.extend(out.iter().cloned());
        out
    }
}
