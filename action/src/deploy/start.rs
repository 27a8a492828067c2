//! The start phase of a roll-out, every service at once: what ECS runs now,
//! the task definition registered (when it was not before), and the
//! decision: nothing to do, resume or re-analyse a rollout already under
//! way, or UpdateService.

use std::sync::Arc;

use super::budget::Budget;
use super::model::{ServiceOutcome, Status};
use super::options::RolloutOptions;
use super::plan::{ServicePlan, failed_before_change, untouched};
use super::progressive::Mode;
use super::register::ensure_registered;
use super::rollout::Ours;
use crate::aws::ecs::{Ecs, Service, Update};

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

/// A service started: its plan's index, its deployment and how it is taken up.
pub(super) type Started = (usize, Ours, Mode);

/// The start phase of a roll-out: every service started at once
/// (registered when it was not, then updated unless it runs the release
/// already). Answers each outcome so far, in plan order, and those to
/// follow or wait on.
pub(super) async fn start_all(
    ecs: &Arc<dyn Ecs>,
    plans: &[ServicePlan],
    opts: &RolloutOptions,
    start: tokio::time::Instant,
    log: &mut dyn FnMut(&str),
) -> (Vec<ServiceOutcome>, Vec<Started>) {
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
    let mut started = Vec::new();
    for (i, (plan, p)) in plans.iter().zip(prepared).enumerate() {
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

/// Whether the service runs exactly `arn` at steady state: its task
/// definition, one deployment, PRIMARY, COMPLETED (or no rollout state) and
/// the desired count running. Then a deploy of `arn` has nothing to do.
pub fn steady_on(s: &Service, arn: &str) -> bool {
    let [d] = s.deployments.as_slice() else {
        return false;
    };
    s.task_definition.as_deref() == Some(arn)
        && d.status == "PRIMARY"
        && d.rollout_state.as_deref().is_none_or(|r| r == "COMPLETED")
        && d.running == d.desired
}

/// Register, then update unless the service already runs the result.
#[tracing::instrument(name = "rollout", skip_all, fields(service = %plan.service, environment = %plan.env, image.digest = plan.image.as_deref().and_then(crate::image::digest)))]
async fn prepare(
    ecs: Arc<dyn Ecs>,
    budget: Arc<Budget>,
    plan: ServicePlan,
    start: tokio::time::Instant,
) -> (Prepared, Vec<String>) {
    let mut logs = Vec::new();
    let mut out = untouched(&plan, Status::Failed);
    let name = format!("{} ({})", plan.service, plan.env);
    let current = match ecs.describe_service(&plan.cluster, &plan.ecs_service).await {
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
        None => ensure_registered(ecs.as_ref(), &budget, &plan.task_definition).await,
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
    let on_it =
        !registered.registered && current.task_definition.as_deref() == Some(&registered.arn);
    let steady = on_it && steady_on(&current, &registered.arn);
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
        return (take_up(&current, registered.arn, mode, out, start), logs);
    }
    if !super::tasks::before_deploy(ecs.as_ref(), &plan, &registered.arn, &mut out, &mut logs).await
    {
        out.duration_secs = start.elapsed().as_secs_f64();
        return (Prepared::Done(out), logs);
    }
    (
        update(
            ecs.as_ref(),
            &plan,
            &current,
            registered.arn,
            out,
            start,
            &mut logs,
        )
        .await,
        logs,
    )
}

/// Takes up a rollout of this release already under way (resumed) or done
/// without a record that its analysis completed (re-analysed): follows
/// ECS's PRIMARY deployment instead of sending UpdateService again.
fn take_up(
    current: &Service,
    arn: String,
    mode: Mode,
    mut out: ServiceOutcome,
    start: tokio::time::Instant,
) -> Prepared {
    let primary = current.deployments.iter().find(|d| d.status == "PRIMARY");
    let previous = current
        .deployments
        .iter()
        .find(|d| d.status != "PRIMARY")
        .map(|d| d.task_definition.clone())
        .filter(|t| !t.is_empty());
    out.deployment_id = primary.map(|d| d.id.clone()).filter(|id| !id.is_empty());
    out.status = Status::Started;
    out.duration_secs = start.elapsed().as_secs_f64();
    let ours = Ours {
        deployment_id: out.deployment_id.clone(),
        task_definition: arn,
        previous_task_definition: previous,
        started_at: primary.map(|d| d.created_at),
    };
    Prepared::Updated {
        outcome: out,
        ours,
        mode,
    }
}

/// UpdateService to `arn` with the plan's strategy; what it started.
async fn update(
    ecs: &dyn Ecs,
    plan: &ServicePlan,
    current: &Service,
    arn: String,
    mut out: ServiceOutcome,
    start: tokio::time::Instant,
    logs: &mut Vec<String>,
) -> Prepared {
    let name = format!("{} ({})", plan.service, plan.env);
    let update = Update {
        cluster: &plan.cluster,
        service: &plan.ecs_service,
        task_definition: &arn,
        rollout: Some((&current.configuration, &plan.rollout)),
    };
    let started = match ecs.update_service(update).await {
        Ok(s) => s,
        Err(e) => {
            return Prepared::Done(failed_before_change(out, e.to_string()));
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
        task_definition: arn,
        previous_task_definition: current.task_definition.clone(),
        started_at: started.created_at,
    };
    Prepared::Updated {
        outcome: out,
        ours,
        mode: Mode::Follow,
    }
}
