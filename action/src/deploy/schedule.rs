//! Scheduled jobs released with their service (`services.<name>.schedule`):
//! after registration, each rule's ECS target for the service's family is
//! moved to the new revision ([`move_targets`]); when the release of that
//! service fails afterwards (failed, rolled back, not deployed), the target
//! is put back on the revision it ran ([`restore`]). Dry runs
//! ([`preview`]) and `ferry diff` ([`diff_lines`]) show the same change.
//!
//! The decisions ([`planned`], [`moves`], [`to_restore`]) are pure; every
//! EventBridge call goes through the [`Events`] port.

use std::sync::Arc;

use super::model::ServiceOutcome;
use super::options::RunError;
use super::plan::{DeployPlan, ServicePlan};
use super::register::Registrations;
use crate::aws::ecs::Ecs;
use crate::aws::events::{Events, RuleTarget, family_revision, runs_family, short};
use crate::gha::Reporter;
use crate::manifest::Manifest;
use crate::preflight::Schedule;

/// The scheduled jobs of the planned services in `env`: each one's rule,
/// rendered from the manifest, and the family of its rendered definition.
pub fn planned(manifest: &Manifest, env: &str, services: &[ServicePlan]) -> Vec<Schedule> {
    services
        .iter()
        .filter_map(|p| schedule_of(manifest, &p.service, env, &p.task_definition))
        .collect()
}

/// `service`'s scheduled job in `env`, if it has one.
pub fn schedule_of(
    manifest: &Manifest,
    service: &str,
    env: &str,
    rendered: &crate::taskdef::TaskDefinition,
) -> Option<Schedule> {
    let settings = manifest.services.get(service)?.schedule.get(env)?;
    let family = crate::aws::ecs::family_of(rendered).ok()?;
    Some(Schedule {
        service: service.to_string(),
        env: env.to_string(),
        rule: crate::aws::events::Rule {
            name: settings.rule.render(manifest.vars(service, env)),
            event_bus: settings.event_bus.clone(),
        },
        family,
    })
}

/// One target of a rule for a service's family: the revision it runs and
/// the one the release puts there.
#[derive(Debug, Clone, PartialEq)]
pub struct Move {
    /// The schedule.
    pub schedule: Schedule,
    /// The target, as ListTargetsByRule gave it.
    pub target: RuleTarget,
    /// The task definition it runs.
    pub from: String,
    /// The task definition the release puts there (`from` when it stays).
    pub to: String,
    /// Put back on `from` after the release failed: Ok, or why not.
    pub restored: Option<Result<(), String>>,
}

impl Move {
    /// Whether the release changes the target (a re-run does not).
    pub fn changes(&self) -> bool {
        self.from != self.to
    }

    /// `service (env): EventBridge rule R target T: F:7 → F:8`.
    pub fn line(&self) -> String {
        let head = format!(
            "{} ({}): EventBridge rule {} target {}",
            self.schedule.service, self.schedule.env, self.schedule.rule, self.target.id
        );
        if self.changes() {
            format!("{head}: {} → {}", short(&self.from), short(&self.to))
        } else if family_revision(&self.from).1.is_none() {
            format!(
                "{head}: runs the latest ACTIVE revision of {} (no revision in its ARN): not moved",
                short(&self.from)
            )
        } else {
            format!("{head}: already runs {}", short(&self.to))
        }
    }
}

/// The targets of `targets` that run the schedule's family, each with
/// the revision it would run after the release (`to`); an error naming
/// the rule when none does. A target without a revision in its ARN runs
/// the family's latest revision, which the release registers anyway: it
/// stays as it is.
pub fn moves(schedule: &Schedule, targets: &[RuleTarget], to: &str) -> Result<Vec<Move>, String> {
    let found: Vec<Move> = targets
        .iter()
        .filter(|t| runs_family(t, &schedule.family))
        .map(|t| {
            let from = t.task_definition.clone().unwrap_or_default();
            let to = if family_revision(&from).1.is_some() {
                to.to_string()
            } else {
                from.clone()
            };
            Move {
                schedule: schedule.clone(),
                target: t.clone(),
                from,
                to,
                restored: None,
            }
        })
        .collect();
    if found.is_empty() {
        return Err(
            match crate::preflight::schedule::problem(schedule, &Ok(Some(targets.to_vec()))) {
                Some(p) => format!("{}: {}", p.message, p.fix),
                None => format!(
                    "the EventBridge rule {} has no target for {}",
                    schedule.rule, schedule.family
                ),
            },
        );
    }
    Ok(found)
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
    registrations: &mut Registrations,
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
        registrations.insert(service.clone(), Err(format!("schedule: {why}")));
        if let Some(p) = plan.services.iter_mut().find(|p| p.service == service) {
            p.registered = None;
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

/// The revision a deploy of `rendered` would put on a target: the
/// family's latest ACTIVE revision when it is identical (reused), else the
/// next one (`family:N+1`, registered).
pub async fn next_revision(
    ecs: &dyn Ecs,
    family: &str,
    rendered: &crate::taskdef::TaskDefinition,
) -> Result<(String, bool), String> {
    match ecs
        .latest_task_definition(family)
        .await
        .map_err(|e| e.to_string())?
    {
        Some((arn, running)) if crate::taskdef::diff(&running, &rendered.to_value()).is_empty() => {
            Ok((arn, false))
        }
        Some((arn, _)) => {
            let next = family_revision(&arn)
                .1
                .and_then(|r| r.parse::<u64>().ok())
                .map_or(1, |r| r + 1);
            Ok((format!("{family}:{next}"), true))
        }
        None => Ok((format!("{family}:1"), true)),
    }
}

/// What a release of `rendered` would do to `schedule`'s targets, one line
/// each (`rule R target T: F:7 → F:8 (new revision)`), read from AWS.
pub async fn would_move(
    events: &dyn Events,
    ecs: &dyn Ecs,
    schedule: &Schedule,
    rendered: &crate::taskdef::TaskDefinition,
) -> Result<Vec<Move>, String> {
    let targets = events
        .targets(&schedule.rule)
        .await
        .map_err(|e| e.to_string())?
        .ok_or_else(|| format!("the EventBridge rule {} does not exist", schedule.rule))?;
    let (to, _) = next_revision(ecs, &schedule.family, rendered).await?;
    moves(schedule, &targets, &to)
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

/// `ferry diff`'s lines for `service`'s schedule in `env`: each target of
/// the family that would move, from → to (none when the service has no
/// schedule there).
pub async fn diff_lines(
    manifest: &Manifest,
    service: &str,
    env: &str,
    rendered: &crate::taskdef::TaskDefinition,
    region: &str,
) -> Result<Vec<String>, String> {
    let Some(schedule) = schedule_of(manifest, service, env, rendered) else {
        return Ok(Vec::new());
    };
    let config = crate::aws::config(region).await;
    let ecs = crate::aws::Clients::from_config(&config);
    let events = crate::aws::events::Client::from_config(&config);
    let found = would_move(&events, &ecs, &schedule, rendered).await?;
    Ok(found
        .iter()
        .filter(|m| m.changes())
        .map(|m| {
            format!(
                "schedule: EventBridge rule {} target {}: {} → {}",
                m.schedule.rule,
                m.target.id,
                short(&m.from),
                short(&m.to)
            )
        })
        .collect())
}

#[cfg(test)]
#[path = "schedule_tests.rs"]
mod tests;
