//! The roll-out of a batch of services, one operation ([`roll_out`]) and a
//! pipeline of phases, each in its own file: every service started at once
//! ([`super::start`]), the progressive ones followed ([`super::follow`]) and
//! settled, the rolling ones waited on together ([`super::wait`]) and
//! settled ([`super::settle`]: a failure diagnosed when it happens), then
//! Ferry's rollback to the last release that succeeded
//! ([`super::rollback`]). It reads plans and answers outcomes.

use std::sync::Arc;

use super::follow::{StepSink, follow_all};
use super::model::ServiceOutcome;
use super::options::RolloutOptions;
use super::plan::ServicePlan;
use super::rollback::roll_back_queued;
use super::rollout::Ours;
use super::settle::{settle_followed_all, settle_waited_all};
use super::start::start_all;
use super::wait::{Stats, wait_rolling};
use crate::aws::ecs::Ecs;

/// The outcome of a deploy call with what waiting cost.
#[derive(Debug, Clone)]
pub struct RolloutReport {
    /// One per plan, in plan order.
    pub outcomes: Vec<ServiceOutcome>,
    /// Polls and API calls of the wait (not of rollbacks).
    pub stats: Stats,
}

/// Deploys `plans` and says what happened to each (in plan order), with
/// the cost of waiting; `steps` hears each step of a progressive rollout as
/// it begins (deploy turns them into GitHub deployment statuses).
pub async fn roll_out(
    ecs: &Arc<dyn Ecs>,
    plans: Vec<ServicePlan>,
    opts: &RolloutOptions,
    log: &mut dyn FnMut(&str),
    steps: Option<StepSink>,
) -> RolloutReport {
    let start = tokio::time::Instant::now();
    let (mut outcomes, started) = start_all(ecs, &plans, opts, start, log).await;
    if !opts.wait || started.is_empty() {
        return RolloutReport {
            outcomes,
            stats: Stats::default(),
        };
    }
    let (followed, waiting): (Vec<_>, Vec<_>) = started
        .into_iter()
        .partition(|(i, _, _)| plans[*i].progressive());
    let waiting: Vec<(usize, Ours)> = waiting.into_iter().map(|(i, o, _)| (i, o)).collect();
    let reports = follow_all(ecs, &plans, &followed, opts, log, steps).await;
    let mut queued = settle_followed_all(
        ecs.as_ref(),
        &plans,
        &followed,
        reports,
        opts,
        start,
        &mut outcomes,
    )
    .await;
    let (waited, stats) = wait_rolling(ecs.as_ref(), &plans, &waiting, opts, log).await;
    queued.extend(
        settle_waited_all(
            ecs.as_ref(),
            &plans,
            &waiting,
            waited,
            opts,
            start,
            &mut outcomes,
        )
        .await,
    );
    roll_back_queued(
        ecs.as_ref(),
        &plans,
        &queued,
        opts,
        start,
        &mut outcomes,
        log,
    )
    .await;
    RolloutReport { outcomes, stats }
}
