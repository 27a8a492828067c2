//! Waiting on the deployments of one call together: each poll asks
//! DescribeServices about up to 10 services of a cluster at once (ECS's
//! limit), feeds every service's [`Tracker`], streams new service events
//! once, and sleeps. The ECS service deployments API refines a verdict when
//! the endpoint has it (its status says ROLLBACK_* outright); an endpoint
//! without it (moto) is detected on the first call and the rest of the wait
//! follows the PRIMARY deployment of DescribeServices only.

use std::collections::BTreeMap;
use std::time::Duration;

use super::model::ServiceEvent;
use super::options::RolloutOptions;
use super::plan::ServicePlan;
use super::rollout::{
    EventView, Limits, Observation, Ours, Polled, ServiceDeploymentView, Tracker, Verdict,
};
use crate::aws::ecs::{Ecs, Service};

/// ECS's limit of services per DescribeServices call.
pub const SERVICES_PER_CALL: usize = 10;

/// ECS's limit of ARNs per DescribeServiceDeployments call.
const DEPLOYMENTS_PER_CALL: usize = 20;

/// One service to wait on.
#[derive(Debug, Clone, PartialEq)]
pub struct Target {
    /// The cluster.
    pub cluster: String,
    /// The ECS service name.
    pub service: String,
    /// Which deployment is ours.
    pub ours: Ours,
}

/// How one wait ended.
#[derive(Debug, Clone)]
pub struct Waited {
    /// The final verdict.
    pub verdict: Verdict,
    /// The tracker, with the events seen and our deployment's id.
    pub tracker: Tracker,
    /// How long it took.
    pub elapsed: Duration,
}

/// What the wait cost, for the benchmark and the log.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Stats {
    /// Polls made.
    pub polls: u32,
    /// ECS API calls made by the polls (DescribeServices, the service
    /// deployments API, and ListTasks/DescribeTasks when tasks stopped), not
    /// counting the SDK's retries.
    pub calls: u32,
    /// DescribeServices calls.
    pub describe_services: u32,
}

struct Entry {
    target: Target,
    tracker: Tracker,
    done: Option<(Verdict, Duration)>,
    service_deployment: Option<String>,
    failed_seen: i32,
    /// The progress last logged (logged again only when it changes).
    progress: String,
}

/// The state of a wait across polls (exposed so a benchmark can make one poll).
pub struct Waiter<'a> {
    ecs: &'a dyn Ecs,
    entries: Vec<Entry>,
    limits: Limits,
    /// `None` until tried; `Some(false)` once the endpoint showed it has no
    /// service deployments API.
    deployments_api: Option<bool>,
    start: tokio::time::Instant,
    /// What the polls cost so far.
    pub stats: Stats,
}

impl std::fmt::Debug for Waiter<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Waiter")
            .field("targets", &self.entries.len())
            .field("stats", &self.stats)
            .finish()
    }
}

/// The wait phase of a roll-out: the rolling services (plan index, our
/// deployment) waited on together; no call when there is none.
pub(super) async fn wait_rolling(
    ecs: &dyn Ecs,
    plans: &[ServicePlan],
    waiting: &[(usize, Ours)],
    opts: &RolloutOptions,
    log: &mut dyn FnMut(&str),
) -> (Vec<Waited>, Stats) {
    if waiting.is_empty() {
        return (Vec::new(), Stats::default());
    }
    let targets: Vec<Target> = waiting
        .iter()
        .map(|(i, ours)| Target {
            cluster: plans[*i].cluster.clone(),
            service: plans[*i].ecs_service.clone(),
            ours: ours.clone(),
        })
        .collect();
    wait_all(ecs, targets, opts.limits(), log).await
}

/// Waits on every target until each has a final verdict.
#[tracing::instrument(name = "wait", skip_all, fields(services = targets.len()))]
pub async fn wait_all(
    ecs: &dyn Ecs,
    targets: Vec<Target>,
    limits: Limits,
    log: &mut dyn FnMut(&str),
) -> (Vec<Waited>, Stats) {
    let mut waiter = Waiter::new(ecs, targets, limits);
    let cancelled = loop {
        if let Some(signal) = crate::cancel::is_requested() {
            break Some(signal);
        }
        let next = waiter.poll(log).await;
        match next {
            Some(sleep) => tokio::select! {
                () = tokio::time::sleep(sleep) => {}
                signal = crate::cancel::requested() => break Some(signal),
            },
            None => break None,
        }
    };
    let stats = waiter.stats;
    let unfinished = match cancelled {
        Some(signal) => Verdict::Failed {
            reason: format!("the job was cancelled ({signal}) before the deployment finished"),
        },
        None => Verdict::DeadlineExceeded,
    };
    (waiter.finish_with(unfinished), stats)
}

impl<'a> Waiter<'a> {
    /// A wait on `targets`, starting now.
    pub fn new(ecs: &'a dyn Ecs, targets: Vec<Target>, limits: Limits) -> Self {
        Self {
            ecs,
            entries: targets
                .into_iter()
                .map(|target| Entry {
                    tracker: Tracker::new(target.ours.clone(), limits),
                    target,
                    done: None,
                    service_deployment: None,
                    failed_seen: 0,
                    progress: String::new(),
                })
                .collect(),
            limits,
            deployments_api: None,
            start: tokio::time::Instant::now(),
            stats: Stats::default(),
        }
    }

    /// The verdicts (a target still waiting counts as past its deadline).
    pub fn finish(self) -> Vec<Waited> {
        self.finish_with(Verdict::DeadlineExceeded)
    }

    /// The verdicts, a target still waiting getting `unfinished`.
    fn finish_with(self, unfinished: Verdict) -> Vec<Waited> {
        let elapsed = self.start.elapsed();
        self.entries
            .into_iter()
            .map(|e| {
                let (verdict, elapsed) = e.done.unwrap_or((unfinished.clone(), elapsed));
                Waited {
                    verdict,
                    tracker: e.tracker,
                    elapsed,
                }
            })
            .collect()
    }

    /// One poll of every unfinished target; `Some(delay)` until the next
    /// poll, `None` when every target has a verdict.
    pub async fn poll(&mut self, log: &mut dyn FnMut(&str)) -> Option<Duration> {
        let pending: Vec<usize> = (0..self.entries.len())
            .filter(|&i| self.entries[i].done.is_none())
            .collect();
        if pending.is_empty() {
            return None;
        }
        self.stats.polls += 1;
        if self.deployments_api.is_none() {
            self.find_service_deployments(&pending, log).await;
        }
        let mut polled = self.describe(&pending).await;
        self.refine(&mut polled).await;
        self.stop_reasons(&mut polled).await;
        let elapsed = self.start.elapsed();
        let mut next = self.limits.interval;
        let mut all_done = true;
        for (i, p) in polled {
            let entry = &mut self.entries[i];
            let step = entry.tracker.step(p, elapsed);
            let name = &entry.target.service;
            for e in &step.new_events {
                log(&format!("{name}: {} {}", e.at, e.message));
            }
            if step.verdict.is_final() {
                log(&format!("{name}: {}", step.verdict.reason()));
                entry.done = Some((step.verdict, elapsed));
            } else {
                all_done = false;
                if let Verdict::Waiting { progress } = step.verdict
                    && progress != entry.progress
                {
                    log(&format!("{name}: {progress}"));
                    entry.progress = progress;
                }
                next = next.max(step.next_poll_in);
            }
        }
        (!all_done).then_some(next)
    }

    /// DescribeServices, 10 services of a cluster per call.
    async fn describe(&mut self, pending: &[usize]) -> Vec<(usize, Polled)> {
        let mut by_cluster: BTreeMap<&str, Vec<usize>> = BTreeMap::new();
        for &i in pending {
            by_cluster
                .entry(self.entries[i].target.cluster.as_str())
                .or_default()
                .push(i);
        }
        let mut out = Vec::new();
        let mut calls = 0;
        for (cluster, idxs) in by_cluster {
            for chunk in idxs.chunks(SERVICES_PER_CALL) {
                calls += 1;
                let names: Vec<String> = chunk
                    .iter()
                    .map(|&i| self.entries[i].target.service.clone())
                    .collect();
                let answer = self.ecs.describe_services(cluster, names).await;
                match answer {
                    Ok(answer) => {
                        for &i in chunk {
                            let name = &self.entries[i].target.service;
                            let found = answer
                                .iter()
                                .find(|s| s.name == *name || s.arn.ends_with(&format!("/{name}")));
                            out.push((
                                i,
                                match found {
                                    Some(s) => Polled::Observed(observation(s)),
                                    None => Polled::Error(format!(
                                        "service {name} is not in cluster {cluster}"
                                    )),
                                },
                            ));
                        }
                    }
                    Err(e) => {
                        let throttled = e.throttled();
                        let text = e.message;
                        for &i in chunk {
                            out.push((
                                i,
                                if throttled {
                                    Polled::Throttled
                                } else {
                                    Polled::Error(format!("DescribeServices: {text}"))
                                },
                            ));
                        }
                    }
                }
            }
        }
        self.stats.calls += calls;
        self.stats.describe_services += calls;
        out
    }

    /// ListServiceDeployments once per service, at the start: the newest
    /// service deployment created since ours is ours. The first error other
    /// than throttling means the endpoint lacks the API: fall back for good.
    async fn find_service_deployments(&mut self, pending: &[usize], log: &mut dyn FnMut(&str)) {
        for &i in pending {
            let entry = &self.entries[i];
            self.stats.calls += 1;
            let answer = self
                .ecs
                .newest_service_deployment(
                    &entry.target.cluster,
                    &entry.target.service,
                    entry.target.ours.started_at,
                )
                .await;
            match answer {
                Ok(newest) => {
                    self.deployments_api = Some(true);
                    self.entries[i].service_deployment = newest;
                }
                Err(e) if e.throttled() => {}
                Err(e) => {
                    let why = e.code.unwrap_or(e.message);
                    log(&format!(
                        "the ECS service deployments API is not available here ({}); following the PRIMARY deployment of DescribeServices",
                        why.lines().next().unwrap_or_default()
                    ));
                    self.deployments_api = Some(false);
                    return;
                }
            }
        }
        // Every attempt throttled: `deployments_api` stays unknown and the
        // next poll tries again.
    }

    /// DescribeServiceDeployments for the services whose DescribeServices
    /// view is not plainly in progress (so a steady wait stays at one call
    /// per 10 services).
    async fn refine(&mut self, polled: &mut [(usize, Polled)]) {
        if self.deployments_api != Some(true) {
            return;
        }
        let wanted: Vec<(usize, String)> = polled
            .iter()
            .filter_map(|(i, p)| {
                let entry = &self.entries[*i];
                let arn = entry.service_deployment.clone()?;
                let Polled::Observed(obs) = p else {
                    return None;
                };
                needs_detail(obs, entry.tracker.ours()).then_some((*i, arn))
            })
            .collect();
        for chunk in wanted.chunks(DEPLOYMENTS_PER_CALL) {
            self.stats.calls += 1;
            let arns = chunk.iter().map(|(_, a)| a.clone()).collect();
            let Ok(answer) = self.ecs.describe_service_deployments(arns).await else {
                continue;
            };
            for d in &answer {
                let Some((i, _)) = chunk.iter().find(|(_, a)| *a == d.arn) else {
                    continue;
                };
                if let Some((_, Polled::Observed(obs))) = polled.iter_mut().find(|(j, _)| j == i) {
                    obs.service_deployment = Some(ServiceDeploymentView {
                        arn: d.arn.clone(),
                        status: d.status.clone(),
                        status_reason: d.status_reason.clone(),
                    });
                }
            }
        }
    }

    /// When our deployment's failed count grew: why its tasks stopped.
    async fn stop_reasons(&mut self, polled: &mut [(usize, Polled)]) {
        for (i, p) in polled.iter_mut() {
            let Polled::Observed(obs) = p else { continue };
            let entry = &mut self.entries[*i];
            let ours = entry.tracker.ours().clone();
            let Some(d) = obs.deployments.iter().find(|d| match &ours.deployment_id {
                Some(id) => &d.id == id,
                None => d.task_definition == ours.task_definition,
            }) else {
                continue;
            };
            if d.failed <= entry.failed_seen {
                continue;
            }
            entry.failed_seen = d.failed;
            // ListTasks + DescribeTasks.
            self.stats.calls += 2;
            let Ok(tasks) =
                super::diagnose::stopped_tasks(self.ecs, &entry.target.cluster, &d.id).await
            else {
                continue;
            };
            obs.stopped_reasons = tasks.iter().map(super::diagnose::one_line).collect();
        }
    }
}

/// A service's events as views.
pub fn event_views(s: &Service) -> Vec<EventView> {
    s.events
        .iter()
        .map(|e| EventView {
            id: e.id.clone(),
            created_at: e.created_at,
            event: ServiceEvent {
                at: e.at.clone(),
                message: e.message.clone(),
            },
        })
        .collect()
}

/// A DescribeServices service as an observation.
pub fn observation(s: &Service) -> Observation {
    Observation {
        deployments: s.deployments.clone(),
        service_deployment: None,
        events: event_views(s),
        stopped_reasons: Vec::new(),
    }
}

/// Whether DescribeServices alone leaves the verdict open to a detail the
/// service deployments API gives (ours gone, not PRIMARY, or finished).
fn needs_detail(obs: &Observation, ours: &Ours) -> bool {
    let mine = obs.deployments.iter().find(|d| match &ours.deployment_id {
        Some(id) => &d.id == id,
        None => d.task_definition == ours.task_definition,
    });
    match mine {
        None => true,
        Some(d) => {
            d.status != "PRIMARY"
                || matches!(d.rollout_state.as_deref(), Some("FAILED" | "COMPLETED"))
        }
    }
}
