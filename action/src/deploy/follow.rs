//! The follow phase of a roll-out: [`follow_all`] follows every progressive
//! service at once, [`follow`] one service deployment to its end, each step
//! told as it begins, the analysis run while the new version serves
//! ([`super::follow_analysis`]), and a stop with a rollback when the
//! analysis aborts, the deadline passes or the job is cancelled (the moves
//! over the ECS port are [`super::follower`]'s). The decisions are
//! [`super::progressive`]'s.

use std::sync::Arc;

use super::analysis::Tally;
use super::follower::Follower;
use super::metrics::{Metrics, Unreadable};
use super::model::{Progress, StepReport};
use super::options::RolloutOptions;
use super::plan::ServicePlan;
use super::progressive::{
    Ending, FollowReport, Followed, Mode, Pace, Steps, Stop, analysing, phase,
};
use super::start::Started;
use crate::aws::ecs::Ecs;

/// Where each step of a progressive rollout is told as it begins: the
/// service and the step.
pub type StepSink = tokio::sync::mpsc::UnboundedSender<(String, StepReport)>;

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
