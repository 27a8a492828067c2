//! The ECS half of `ferry deploy` as one library call: register (reusing an
//! identical revision), update the services in parallel, wait on *our*
//! deployments together, diagnose a failure when it happens, and roll back
//! to the last release that succeeded. The CLI wraps it with rendering and
//! the GitHub records; it reads only the [`ServiceOutcome`]s.

use std::sync::Arc;
use std::time::Duration;

use super::budget::Budget;
use super::diagnose::{Subject, diagnose};
use super::model::{Diagnosis, Rollback, ServiceOutcome, Status};
use super::progressive::{
    self, Ending, FollowReport, Followed, Mode, Pace, StepReport, StepSink, Stop,
};
use super::register::ensure_registered;
use super::rollout::{Limits, Ours, Verdict};
use super::wait::{Stats, Target, wait_all};
use crate::aws::Clients;
use crate::aws::ecs;
use crate::manifest::{AnalysisSettings, Manifest, RolloutSettings, Strategy};

/// One service to deploy in one environment.
#[derive(Debug, Clone, PartialEq)]
pub struct ServicePlan {
    /// The manifest's service name.
    pub service: String,
    /// The environment.
    pub env: String,
    /// The ECS cluster (rendered from the manifest).
    pub cluster: String,
    /// The ECS service (rendered from the manifest).
    pub ecs_service: String,
    /// The image deployed, for the report.
    pub image: Option<String>,
    /// The rendered RegisterTaskDefinition input.
    pub task_definition: crate::taskdef::TaskDefinition,
    /// The task definition of the last release that succeeded in this
    /// environment (from the GitHub Deployments), the rollback target.
    pub rollback_to: Option<String>,
    /// Set when the definition was registered (or found identical) before
    /// the rollout, as `deploy` does to put the ARN in the GitHub record.
    pub registered: Option<super::register::Registered>,
    /// How it rolls out (the manifest's `rollout:`).
    pub rollout: RolloutSettings,
    /// What is checked while it rolls out (the manifest's `analysis:`).
    pub analysis: Option<AnalysisSettings>,
    /// The version its metrics are labelled with.
    pub version: String,
    /// A record says this release's rollout here completed, its analysis
    /// included (its GitHub Deployment is `success`). Without it, a service
    /// already on this release's revision is followed or re-analysed, never
    /// called unchanged.
    pub verified: bool,
}

impl ServicePlan {
    /// Whether Ferry follows the service deployment itself (a traffic
    /// shifting strategy, or an analysis to run) rather than the classic
    /// wait for a steady state.
    pub fn progressive(&self) -> bool {
        self.rollout.strategy != Strategy::Rolling || self.analysis.is_some()
    }
}

/// How [`roll_out`] behaves.
#[derive(Debug, Clone, PartialEq)]
pub struct RolloutOptions {
    /// Wait for the rollouts (`--no-wait` sets false: the status is `started`).
    pub wait: bool,
    /// Give up waiting after this long (default 15 min).
    pub deadline: Duration,
    /// Time between polls (default 6 s).
    pub poll_interval: Duration,
    /// Roll back a failed rollout (`--no-rollback` sets false).
    pub rollback: bool,
    /// Log lines per failed container in the diagnosis (default 20).
    pub log_lines: usize,
    /// RegisterTaskDefinition calls per second, sustained (default 1).
    pub register_per_second: f64,
    /// RegisterTaskDefinition calls at once before the rate applies (default
    /// 20, ECS's burst for task definition writes as we read its throttling
    /// table; the SDK retries a ThrottlingException should an account have less).
    pub register_burst: u32,
}

impl Default for RolloutOptions {
    fn default() -> Self {
        Self {
            wait: true,
            deadline: Duration::from_secs(15 * 60),
            poll_interval: Duration::from_secs(6),
            rollback: true,
            log_lines: 20,
            register_per_second: 1.0,
            register_burst: 20,
        }
    }
}

impl RolloutOptions {
    fn limits(&self) -> Limits {
        Limits {
            deadline: self.deadline,
            interval: self.poll_interval,
            max_backoff: self.poll_interval.saturating_mul(10),
            ..Limits::default()
        }
    }
}

/// What the services of a plan need besides the rendered definition.
#[derive(Debug, Clone, PartialEq)]
pub struct PlanInput {
    /// The manifest's service name.
    pub service: String,
    /// The image, for the report.
    pub image: Option<String>,
    /// The rendered RegisterTaskDefinition input.
    pub task_definition: crate::taskdef::TaskDefinition,
    /// The rollback target.
    pub rollback_to: Option<String>,
}

/// The manifest's environment `env`, or an error naming those it declares.
pub fn environment<'m>(
    manifest: &'m Manifest,
    env: &str,
) -> Result<&'m crate::manifest::Environment, String> {
    manifest.environments.get(env).ok_or_else(|| {
        let known: Vec<&str> = manifest.environments.keys().map(String::as_str).collect();
        format!(
            "unknown environment `{env}`: {} declares {}",
            manifest.file.display(),
            known.join(", ")
        )
    })
}

/// The plans of `env`: cluster and ECS service names rendered from the
/// manifest's templates. Unknown services or environments are errors.
pub fn plans(
    manifest: &Manifest,
    env: &str,
    inputs: Vec<PlanInput>,
) -> Result<Vec<ServicePlan>, String> {
    let environment = environment(manifest, env)?;
    inputs
        .into_iter()
        .map(|input| {
            let service = manifest.services.get(&input.service).ok_or_else(|| {
                format!(
                    "unknown service `{}`: it is not in {}",
                    input.service,
                    manifest.file.display()
                )
            })?;
            let vars = manifest.vars(&input.service, env);
            let (rollout, analysis) = manifest.rollout_of(&input.service, env);
            let version = super::analysis::version_in(
                &input.task_definition,
                input.image.as_deref().unwrap_or_default(),
            );
            Ok(ServicePlan {
                rollout,
                analysis: analysis.cloned(),
                version,
                cluster: environment.cluster.render(vars),
                ecs_service: service.ecs_service.render(vars),
                env: env.to_string(),
                service: input.service,
                image: input.image,
                task_definition: input.task_definition,
                rollback_to: input.rollback_to,
                registered: None,
                verified: false,
            })
        })
        .collect()
}

/// The outcome of a deploy call with what waiting cost.
#[derive(Debug, Clone)]
pub struct RolloutReport {
    /// One per plan, in plan order.
    pub outcomes: Vec<ServiceOutcome>,
    /// Polls and API calls of the wait (not of rollbacks).
    pub stats: Stats,
}

/// Deploys `plans` and says what happened to each (in plan order).
pub async fn roll_out(
    clients: &Clients,
    plans: Vec<ServicePlan>,
    opts: &RolloutOptions,
    log: &mut dyn FnMut(&str),
) -> Vec<ServiceOutcome> {
    roll_out_report(clients, plans, opts, log).await.outcomes
}

/// What the parallel first stage left for one service.
enum Prepared {
    /// Nothing to do, or it failed before any change.
    Done(ServiceOutcome),
    /// UpdateService was sent (or an earlier run's rollout is resumed, or
    /// re-analysed: `mode`).
    Updated {
        outcome: ServiceOutcome,
        ours: Ours,
        mode: Mode,
    },
}

/// The outcome of a plan before (or without) any change to its service:
/// where it would go, with `status`; the ARN when it was registered already.
pub fn untouched(plan: &ServicePlan, status: Status) -> ServiceOutcome {
    ServiceOutcome {
        service: plan.service.clone(),
        env: plan.env.clone(),
        cluster: plan.cluster.clone(),
        ecs_service: plan.ecs_service.clone(),
        image: plan.image.clone(),
        task_definition_arn: plan.registered.as_ref().map(|r| r.arn.clone()),
        registered: false,
        deployment_id: None,
        status,
        duration_secs: 0.0,
        diagnosis: None,
        rollback: None,
        progress: None,
    }
}

/// A service that failed before it was changed, and why.
pub fn failed_before_change(mut out: ServiceOutcome, reason: String) -> ServiceOutcome {
    out.status = Status::Failed;
    out.diagnosis = Some(Diagnosis {
        reason,
        notes: vec!["the service was not changed".into()],
        ..Diagnosis::default()
    });
    out
}

/// Register, then update unless the service already runs the result.
#[tracing::instrument(name = "rollout", skip_all, fields(service = %plan.service, environment = %plan.env, image.digest = plan.image.as_deref().and_then(crate::image::digest)))]
async fn prepare(
    clients: Clients,
    budget: Arc<Budget>,
    plan: ServicePlan,
    start: tokio::time::Instant,
) -> (Prepared, Vec<String>) {
    let mut logs = Vec::new();
    let mut out = untouched(&plan, Status::Failed);
    let name = format!("{} ({})", plan.service, plan.env);
    let current = match ecs::describe_service(&clients.ecs, &plan.cluster, &plan.ecs_service).await
    {
        Ok(Some(s)) => s,
        Ok(None) => {
            let reason = format!(
                "ECS service {} was not found in cluster {}: create it with Terraform (terraform/aws) first",
                plan.ecs_service, plan.cluster
            );
            return (Prepared::Done(failed_before_change(out, reason)), logs);
        }
        Err(e) => {
            return (
                Prepared::Done(failed_before_change(out, e.to_string())),
                logs,
            );
        }
    };
    // Registered before the rollout (deploy's CLI does, and says so itself).
    let announced = plan.registered.is_some();
    let registered = match plan.registered.clone() {
        Some(r) => Ok(r),
        None => ensure_registered(&clients.ecs, &budget, &plan.task_definition).await,
    };
    let registered = match registered {
        Ok(r) => r,
        Err(e) => {
            return (
                Prepared::Done(failed_before_change(out, e.to_string())),
                logs,
            );
        }
    };
    out.task_definition_arn = Some(registered.arn.clone());
    out.registered = registered.registered;
    if !announced {
        logs.push(format!(
            "{name}: {} {}",
            if registered.registered {
                "registered"
            } else {
                "reusing the identical"
            },
            registered.arn
        ));
    }
    let on_it = !registered.registered && current.task_definition() == Some(&registered.arn);
    let steady = on_it && ecs::steady_on(&current, &registered.arn);
    if steady && (plan.verified || plan.analysis.is_none()) {
        logs.push(format!(
            "{name}: {} already runs it at steady state: unchanged",
            plan.ecs_service
        ));
        out.status = Status::Unchanged;
        out.duration_secs = start.elapsed().as_secs_f64();
        return (Prepared::Done(out), logs);
    }
    if on_it && plan.progressive() && !plan.verified {
        let (mode, what) = if steady {
            (
                Mode::Reanalyse,
                "already runs it at steady state, with no record that this release's analysis completed: re-analysing the running version",
            )
        } else {
            (
                Mode::Resume,
                "is already rolling this revision out (an earlier run was interrupted): resuming, following that deployment",
            )
        };
        logs.push(format!("{name}: {} {what}", plan.ecs_service));
        let primary = current
            .deployments()
            .iter()
            .find(|d| d.status() == Some("PRIMARY"));
        let previous = current
            .deployments()
            .iter()
            .find(|d| d.status() != Some("PRIMARY"))
            .and_then(|d| d.task_definition())
            .map(str::to_string);
        out.deployment_id = primary.and_then(|d| d.id()).map(str::to_string);
        out.status = Status::Started;
        out.duration_secs = start.elapsed().as_secs_f64();
        let ours = Ours {
            deployment_id: out.deployment_id.clone(),
            task_definition: registered.arn,
            previous_task_definition: previous,
            started_at: primary.map(|d| ecs::epoch(d.created_at())),
        };
        return (
            Prepared::Updated {
                outcome: out,
                ours,
                mode,
            },
            logs,
        );
    }
    let configuration =
        ecs::deployment_configuration(current.deployment_configuration(), &plan.rollout);
    let started = match ecs::update_service(
        &clients.ecs,
        &plan.cluster,
        &plan.ecs_service,
        &registered.arn,
        configuration,
    )
    .await
    {
        Ok(s) => s,
        Err(e) => {
            return (
                Prepared::Done(failed_before_change(out, e.to_string())),
                logs,
            );
        }
    };
    logs.push(format!(
        "{name}: updated {} in {}{}",
        plan.ecs_service,
        plan.cluster,
        started
            .deployment_id
            .as_deref()
            .map(|d| format!(" (deployment {d})"))
            .unwrap_or_default()
    ));
    out.deployment_id = started.deployment_id.clone();
    out.status = Status::Started;
    out.duration_secs = start.elapsed().as_secs_f64();
    let ours = Ours {
        deployment_id: started.deployment_id,
        task_definition: registered.arn,
        previous_task_definition: current.task_definition().map(str::to_string),
        started_at: started.created_at,
    };
    (
        Prepared::Updated {
            outcome: out,
            ours,
            mode: Mode::Follow,
        },
        logs,
    )
}

/// [`roll_out`], with the cost of waiting.
pub async fn roll_out_report(
    clients: &Clients,
    plans: Vec<ServicePlan>,
    opts: &RolloutOptions,
    log: &mut dyn FnMut(&str),
) -> RolloutReport {
    roll_out_with(clients, plans, opts, log, None).await
}

/// [`roll_out_report`], telling `steps` each step of a progressive rollout
/// as it begins (deploy turns them into GitHub deployment statuses).
pub async fn roll_out_with(
    clients: &Clients,
    plans: Vec<ServicePlan>,
    opts: &RolloutOptions,
    log: &mut dyn FnMut(&str),
    steps: Option<StepSink>,
) -> RolloutReport {
    let start = tokio::time::Instant::now();
    let budget = Arc::new(Budget::new(opts.register_per_second, opts.register_burst));
    let mut set = tokio::task::JoinSet::new();
    for (i, plan) in plans.iter().cloned().enumerate() {
        let (clients, budget) = (clients.clone(), budget.clone());
        set.spawn(async move { (i, prepare(clients, budget, plan, start).await) });
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
        let reports = follow_all(clients, &plans, &followed, opts, log, steps).await;
        for ((i, ours, _), report) in followed.iter().zip(reports) {
            let needed =
                settle_followed(clients, &plans[*i], ours, report, opts, &mut outcomes[*i]).await;
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
        wait_all(&clients.ecs, targets, opts.limits(), log).await
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
                clients,
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
        let results = rollback(clients, &plans, &outcomes, &targets, opts, log).await;
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

/// A followed rollout's outcome: succeeded, or diagnosed with what Ferry
/// and ECS did (and only that: a stop is said when ECS accepted one, a
/// rollback by ECS when one was asked for or ECS made it). True when Ferry's
/// own rollback (UpdateService to the last good release) should follow:
/// the service may still run the new version and nothing else brings it back.
async fn settle_followed(
    clients: &Clients,
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
    let mut cancelled = false;
    let (reason, rolled_back) = match report.ending {
        Ending::Completed => {
            out.status = Status::Succeeded;
            return false;
        }
        Ending::Aborted {
            reason,
            rolled_back,
        }
        | Ending::Failed {
            reason,
            rolled_back,
        } => (reason, rolled_back),
        Ending::TimedOut { rolled_back } => (
            match &stop {
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
            cancelled = true;
            let what = match &stop {
                Stop::Requested => "the service deployment was stopped with a rollback (StopServiceDeployment accepted); Ferry did not wait for ECS to finish it".to_string(),
                Stop::Refused(e) => format!("the stop was refused: {e}"),
                Stop::Impossible | Stop::NotAsked => {
                    "there was no service deployment to stop".to_string()
                }
            };
            (
                format!("the job was cancelled ({signal}) during the rollout: {what}"),
                false,
            )
        }
    };
    let mut diagnosis = if cancelled {
        // The runner kills the job seconds after the signal: no diagnosis.
        Diagnosis {
            reason,
            ..Diagnosis::default()
        }
    } else {
        let events =
            match ecs::describe_service(&clients.ecs, &plan.cluster, &plan.ecs_service).await {
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
        diagnose(clients, subject, reason, events, opts.log_lines).await
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

/// Follows every progressive rollout at once; their log lines reach `log`
/// as they come. Reports in the order of `followed`.
async fn follow_all(
    clients: &Clients,
    plans: &[ServicePlan],
    followed: &[(usize, Ours, Mode)],
    opts: &RolloutOptions,
    log: &mut dyn FnMut(&str),
    steps: Option<StepSink>,
) -> Vec<FollowReport> {
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
        let (ecs, tx, steps) = (clients.ecs.clone(), tx.clone(), steps.clone());
        set.spawn(async move {
            // A Prometheus that cannot be reached fails every check (closed).
            let metrics: Box<dyn progressive::Metrics> = match &target.analysis {
                Some(a) => match crate::prometheus::Prometheus::new(&a.prometheus) {
                    Ok(p) => Box::new(p),
                    Err(e) => Box::new(progressive::Unreadable(e.to_string())),
                },
                None => Box::new(progressive::Unreadable("no analysis".into())),
            };
            let mut log = move |line: &str| {
                let _ = tx.send(line.to_string());
            };
            let report = progressive::follow(
                &ecs,
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
                progress: progressive::Progress::default(),
                stop: Stop::NotAsked,
                untracked: None,
            })
        })
        .collect()
}

/// Puts each service of `targets` (plan index, task definition ARN) back on
/// that task definition and waits for it too.
#[tracing::instrument(name = "rollback", skip_all, fields(services = targets.len()))]
pub async fn rollback(
    clients: &Clients,
    plans: &[ServicePlan],
    outcomes: &[ServiceOutcome],
    targets: &[(usize, String)],
    opts: &RolloutOptions,
    log: &mut dyn FnMut(&str),
) -> Vec<(usize, Rollback)> {
    let mut results = Vec::new();
    let mut waiting = Vec::new();
    for (i, arn) in targets {
        let plan = &plans[*i];
        log(&format!(
            "{} ({}): rolling back to {arn}",
            plan.service, plan.env
        ));
        // Back by the fastest way: a rolling update of the old version (a
        // service left on a traffic-shifting strategy is switched back).
        let configuration = if plan.progressive() {
            match ecs::describe_service(&clients.ecs, &plan.cluster, &plan.ecs_service).await {
                Ok(Some(current)) => ecs::deployment_configuration(
                    current.deployment_configuration(),
                    &RolloutSettings::default(),
                ),
                _ => None,
            }
        } else {
            None
        };
        match ecs::update_service(
            &clients.ecs,
            &plan.cluster,
            &plan.ecs_service,
            arn,
            configuration,
        )
        .await
        {
            Ok(started) => waiting.push((
                *i,
                arn.clone(),
                Target {
                    cluster: plan.cluster.clone(),
                    service: plan.ecs_service.clone(),
                    ours: Ours {
                        deployment_id: started.deployment_id,
                        task_definition: arn.clone(),
                        previous_task_definition: outcomes
                            .get(*i)
                            .and_then(|o| o.task_definition_arn.clone()),
                        started_at: started.created_at,
                    },
                },
            )),
            Err(e) => results.push((
                *i,
                Rollback {
                    task_definition_arn: arn.clone(),
                    succeeded: false,
                    reason: Some(e.to_string()),
                },
            )),
        }
    }
    if let Some(signal) = crate::cancel::is_requested() {
        // Cancelled: the UpdateService calls are sent; the runner kills the
        // job before they could complete.
        for (i, arn, _) in waiting {
            log(&format!(
                "{} ({}): {signal}: the rollback to {arn} was started; not waiting for it",
                plans[i].service, plans[i].env
            ));
            results.push((
                i,
                Rollback {
                    task_definition_arn: arn,
                    succeeded: false,
                    reason: Some(format!(
                        "started (UpdateService accepted); the job was cancelled ({signal}) before ECS completed it"
                    )),
                },
            ));
        }
        return results;
    }
    let targets: Vec<Target> = waiting.iter().map(|(_, _, t)| t.clone()).collect();
    let (waited, _) = wait_all(&clients.ecs, targets, opts.limits(), log).await;
    for ((i, arn, _), w) in waiting.into_iter().zip(waited) {
        let succeeded = w.verdict == Verdict::Completed;
        results.push((
            i,
            Rollback {
                task_definition_arn: arn,
                succeeded,
                reason: (!succeeded).then(|| w.verdict.reason()),
            },
        ));
    }
    results
}
