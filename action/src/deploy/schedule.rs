//! Scheduled jobs released with their service (`services.<name>.schedule`):
//! after registration, each rule's ECS target for the service's family is
//! moved to the new revision ([`move_targets`]); when the release of that
//! service fails afterwards (failed, rolled back, not deployed), the target
//! is put back on the revision it ran ([`restore`]). Dry runs
//! ([`preview`]) show the change, read as `ferry diff` reads it
//! ([`would_move`], in preflight, which both stages may use).
//!
//! The decisions ([`planned`], [`moves`], [`to_restore`]) are pure; every
//! EventBridge call goes through the [`Events`] port.

use std::sync::Arc;

use super::model::ServiceOutcome;
use super::options::RunError;
use super::plan::{DeployPlan, ServicePlan};
use crate::aws::events::{Events, short};
use crate::gha::Reporter;
use crate::manifest::Manifest;
use crate::preflight::Schedule;
pub use crate::preflight::schedule::{Move, moves, next_revision, schedule_of, would_move};

/// The scheduled jobs of the planned services in `env`: each one's rule,
/// rendered from the manifest, and the family of its rendered definition.
pub fn planned(manifest: &Manifest, env: &str, services: &[ServicePlan]) -> Vec<Schedule> {
    services
        .iter()
        .filter_map(|p| schedule_of(manifest, &p.service, env, &p.task_definition))
        .collect()
}

/// What the schedule phase did, for the restore and the summary.
#[derive(Clone, Default)]
pub struct Moved {
    events: Option<Arc<dyn Events>>,
    /// Every target of a scheduled job, moved or not.
    pub moves: Vec<Move>,
}

impl std::fmt::Debug for Moved {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Moved").field("moves", &self.moves).finish()
    }
}

/// Moves each scheduled job's targets to its service's registered
/// revision, through `events`: the moves, and the services whose rule
/// could not be read or moved (with why), each line said through `log`.
pub async fn move_with(
    events: &dyn Events,
    schedules: &[Schedule],
    registered: impl Fn(&str) -> Option<String>,
    log: &mut dyn FnMut(&str),
) -> (Vec<Move>, Vec<(String, String)>) {
    let mut done = Vec::new();
    let mut failed = Vec::new();
    for s in schedules {
        let Some(to) = registered(&s.service) else {
            continue;
        };
        let targets = match events.targets(&s.rule).await {
            Ok(Some(targets)) => targets,
            Ok(None) => {
                failed.push((
                    s.service.clone(),
                    format!("the EventBridge rule {} does not exist", s.rule),
                ));
                continue;
            }
            Err(e) => {
                failed.push((s.service.clone(), e.to_string()));
                continue;
            }
        };
        let found = match moves(s, &targets, &to) {
            Ok(found) => found,
            Err(e) => {
                failed.push((s.service.clone(), e));
                continue;
            }
        };
        for m in found {
            if m.changes()
                && let Err(e) = events
                    .put_task_definition(&m.schedule.rule, &m.target, &m.to)
                    .await
            {
                failed.push((s.service.clone(), e.to_string()));
                continue;
            }
            log(&m.line());
            done.push(m);
        }
    }
    (done, failed)
}

/// The deploy's phase after registration: each scheduled job's targets
/// moved to the new revision. A service whose rule could not be read or
/// moved is not rolled out (its registration is marked failed, with why).
pub(super) async fn move_targets(
    plan: &mut DeployPlan,
    failed_before: &mut Vec<ServiceOutcome>,
    reporter: &mut Reporter,
) -> Result<Moved, RunError> {
    if plan.schedules.is_empty() {
        return Ok(Moved::default());
    }
    let events: Arc<dyn Events> = Arc::new(crate::aws::events::Client::connect(&plan.region).await);
    let registered = |service: &str| {
        plan.services
            .iter()
            .find(|p| p.service == service)
            .and_then(|p| p.registered.as_ref())
            .map(|r| r.arn.clone())
    };
    let mut lines = Vec::new();
    let (moves, failed) = move_with(events.as_ref(), &plan.schedules, registered, &mut |l| {
        lines.push(l.to_string())
    })
    .await;
    for line in lines {
        reporter.info(&line)?;
    }
    for (service, why) in failed {
        reporter.info(&format!("{service} ({}): schedule: {why}", plan.env))?;
        if let Some(p) = plan.services.iter_mut().find(|p| p.service == service) {
            p.registered = None;
            failed_before.push(super::plan::failed_before_change(
                super::plan::untouched(p, super::model::Status::Failed),
                format!("schedule: {why}"),
            ));
        }
    }
    Ok(Moved {
        events: Some(events),
        moves,
    })
}

/// The moves to undo: those that changed a target, of services whose
/// release did not end where it wanted (failed, rolled back, not deployed).
pub fn to_restore(moves: &[Move], outcomes: &[ServiceOutcome]) -> Vec<usize> {
    moves
        .iter()
        .enumerate()
        .filter(|(_, m)| {
            m.changes()
                && outcomes
                    .iter()
                    .any(|o| o.service == m.schedule.service && !o.status.is_success())
        })
        .map(|(i, _)| i)
        .collect()
}

/// Puts each target of [`to_restore`] back on the revision it ran, if it
/// still runs the one the release put there (a newer release's move is
/// left alone); each line said through `log`.
pub async fn restore_with(
    events: &dyn Events,
    moves: &mut [Move],
    outcomes: &[ServiceOutcome],
    log: &mut dyn FnMut(&str),
) {
    for i in to_restore(moves, outcomes) {
        let m = &moves[i];
        let now = match events.targets(&m.schedule.rule).await {
            Ok(Some(targets)) => targets.into_iter().find(|t| t.id == m.target.id),
            Ok(None) => None,
            Err(e) => {
                let why = e.to_string();
                log(&format!("{}: not restored: {why}", m.line()));
                moves[i].restored = Some(Err(why));
                continue;
            }
        };
        let result = match now {
            Some(t) if t.task_definition.as_deref() == Some(m.to.as_str()) => events
                .put_task_definition(&m.schedule.rule, &t, &m.from)
                .await
                .map_err(|e| e.to_string()),
            Some(t) => Err(format!(
                "it runs {} now, not this release's revision: left as it is",
                short(
                    t.task_definition
                        .as_deref()
                        .unwrap_or("another task definition")
                )
            )),
            None => Err("the target is gone".into()),
        };
        log(&match &result {
            Ok(()) => format!(
                "{}: the release failed: restored to {}",
                m.line(),
                short(&m.from)
            ),
            Err(why) => format!("{}: not restored: {why}", m.line()),
        });
        moves[i].restored = Some(result);
    }
}

/// After the rollout: the targets of services whose release failed put
/// back, then the job summary's section.
pub(super) async fn restore(
    moved: &mut Moved,
    outcomes: &[ServiceOutcome],
    reporter: &mut Reporter,
) -> Result<(), RunError> {
    let Some(events) = moved.events.clone() else {
        return Ok(());
    };
    let mut lines = Vec::new();
    restore_with(events.as_ref(), &mut moved.moves, outcomes, &mut |l| {
        lines.push(l.to_string())
    })
    .await;
    for line in lines {
        reporter.info(&line)?;
    }
    reporter.summary(&markdown(&moved.moves))?;
    Ok(())
}

/// The job summary's section: each scheduled job's target, from → to,
/// and its restore.
pub fn markdown(moves: &[Move]) -> String {
    use crate::markdown::{cell_code, text};
    if moves.is_empty() {
        return String::new();
    }
    let mut md = String::from(
        "### Scheduled jobs\n\n| service | EventBridge rule | target | revision |\n|---|---|---|---|\n",
    );
    for m in moves {
        let revision = match (&m.restored, m.changes()) {
            (Some(Ok(())), _) => format!(
                "{} → {}, restored to {} (the release failed)",
                short(&m.from),
                short(&m.to),
                short(&m.from)
            ),
            (Some(Err(why)), _) => {
                format!("{} → {}, not restored: {why}", short(&m.from), short(&m.to))
            }
            (None, true) => format!("{} → {}", short(&m.from), short(&m.to)),
            (None, false) => format!("{} (unchanged)", short(&m.from)),
        };
        md.push_str(&format!(
            "| {} | {} | {} | {} |\n",
            text(&m.schedule.service),
            cell_code(&m.schedule.rule.to_string()),
            cell_code(&m.target.id),
            text(&revision)
        ));
    }
    md
}

/// The dry run's lines: each scheduled job's targets, from → to, read from
/// AWS when there are credentials; said without them otherwise.
pub(super) async fn preview(plan: &DeployPlan, reporter: &mut Reporter) -> Result<(), RunError> {
    if plan.schedules.is_empty() {
        return Ok(());
    }
    if !crate::aws::has_credentials(&plan.region).await {
        for s in &plan.schedules {
            reporter.info(&format!(
                "dry run: {} ({}): EventBridge rule {}: its target for {} would move to the revision this deploy registers (its current revision not read: no AWS credentials)",
                s.service, s.env, s.rule, s.family
            ))?;
        }
        return Ok(());
    }
    let config = crate::aws::config(&plan.region).await;
    let ecs = crate::aws::Clients::from_config(&config);
    let events = crate::aws::events::Client::from_config(&config);
    for s in &plan.schedules {
        let Some(p) = plan.services.iter().find(|p| p.service == s.service) else {
            continue;
        };
        match would_move(&events, &ecs, s, &p.task_definition).await {
            Ok(found) => {
                for m in found {
                    reporter.info(&format!("dry run: {}", m.line()))?;
                }
            }
            Err(why) => reporter.info(&format!(
                "dry run: {} ({}): schedule: {why} (preflight stops the deploy)",
                s.service, s.env
            ))?,
        }
    }
    Ok(())
}

#[cfg(test)]
#[path = "schedule_tests.rs"]
mod tests;
