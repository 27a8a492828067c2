//! Preflight of scheduled jobs (`services.<name>.schedule.<env>`): each
//! EventBridge rule exists and has an ECS target that runs the service's
//! task definition family, so a deploy does not register a revision it
//! cannot put on the schedule. The lookup is [`lookup`] (ListTargetsByRule
//! through the [`Events`] port); the decision, [`problem`], is pure.
//!
//! What a release would do to a rule's targets ([`moves`], read from AWS
//! by [`would_move`]) lives here too, read-only: `ferry deploy` carries it
//! out ([`crate::deploy::schedule`]) and `ferry diff` shows it.

use super::check::Problem;
use crate::aws::AwsError;
use crate::aws::ecs::Ecs;
use crate::aws::events::{Events, Rule, RuleTarget, family_revision, runs_family, short};
use crate::manifest::Manifest;

/// A scheduled job a deploy releases: the service's rule in the
/// environment (rendered from the manifest) and the family it runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Schedule {
    /// The manifest's service name.
    pub service: String,
    /// The environment.
    pub env: String,
    /// The EventBridge rule.
    pub rule: Rule,
    /// The service's task definition family.
    pub family: String,
}

impl Schedule {
    /// The manifest key that names the rule, for messages.
    pub fn key(&self) -> String {
        format!("schedule.{}.rule", self.env)
    }
}

/// What ListTargetsByRule said of one rule: its targets, `None` when the
/// rule does not exist, or why it could not be asked.
pub type Looked = Result<Option<Vec<RuleTarget>>, String>;

/// Asks EventBridge for the targets of each schedule's rule.
pub async fn lookup(events: &dyn Events, schedules: &[Schedule]) -> Vec<Looked> {
    let mut out = Vec::with_capacity(schedules.len());
    for s in schedules {
        out.push(
            events
                .targets(&s.rule)
                .await
                .map_err(|e: AwsError| e.to_string()),
        );
    }
    out
}

/// The problem of one schedule, if it has one: the rule is missing, has
/// no ECS target for the family, or could not be read.
pub fn problem(schedule: &Schedule, looked: &Looked) -> Option<Problem> {
    let problem = |message: String, fix: String| Problem {
        service: schedule.service.clone(),
        field: schedule.key(),
        message,
        fix,
    };
    let rule = &schedule.rule;
    match looked {
        Err(e) => Some(problem(
            format!("the EventBridge rule {rule} could not be checked: {e}"),
            "give the role preflight runs with events:ListTargetsByRule on the rule, or retry"
                .into(),
        )),
        Ok(None) => Some(problem(
            format!("the EventBridge rule {rule} does not exist"),
            format!(
                "create it (Terraform: aws_cloudwatch_event_rule) before deploying, or fix `services.{}.{}` to name an existing rule",
                schedule.service,
                schedule.key()
            ),
        )),
        Ok(Some(targets)) if !targets.iter().any(|t| runs_family(t, &schedule.family)) => {
            Some(problem(
                format!(
                    "the EventBridge rule {rule} has no ECS target that runs {} ({})",
                    schedule.family,
                    runs(targets)
                ),
                format!(
                    "add a target whose ecs_target task_definition_arn is a revision of {} (Terraform: aws_cloudwatch_event_target), or name the rule that runs it",
                    schedule.family
                ),
            ))
        }
        Ok(Some(_)) => None,
    }
}

/// What a rule's targets run, for a message.
fn runs(targets: &[RuleTarget]) -> String {
    if targets.is_empty() {
        return "it has no target".into();
    }
    let each: Vec<String> = targets
        .iter()
        .map(|t| match &t.task_definition {
            Some(td) => format!("{} runs {}", t.id, short(td)),
            None => format!("{} calls {}", t.id, t.arn),
        })
        .collect();
    format!("its targets: {}", each.join(", "))
}

/// Checks the schedules against EventBridge in `region`: every problem,
/// and how many rules were checked.
pub async fn check(region: &str, schedules: &[Schedule]) -> (Vec<Problem>, usize) {
    if schedules.is_empty() {
        return (Vec::new(), 0);
    }
    let events = crate::aws::events::Client::connect(region).await;
    let looked = lookup(&events, schedules).await;
    let problems = schedules
        .iter()
        .zip(&looked)
        .filter_map(|(s, l)| problem(s, l))
        .collect();
    (problems, schedules.len())
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
        return Err(match problem(schedule, &Ok(Some(targets.to_vec()))) {
            Some(p) => format!("{}: {}", p.message, p.fix),
            None => format!(
                "the EventBridge rule {} has no target for {}",
                schedule.rule, schedule.family
            ),
        });
    }
    Ok(found)
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

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn schedule() -> Schedule {
        Schedule {
            service: "report".into(),
            env: "staging".into(),
            rule: Rule {
                name: "shop-staging-nightly".into(),
                event_bus: None,
            },
            family: "shop-staging-report".into(),
        }
    }

    fn target(id: &str, td: Option<&str>) -> RuleTarget {
        RuleTarget {
            id: id.into(),
            arn: "arn:aws:ecs:us-east-1:1:cluster/shop".into(),
            task_definition: td.map(str::to_string),
            ..RuleTarget::default()
        }
    }

    #[test]
    fn a_rule_with_a_target_of_the_family_passes_in_every_arn_form() {
        for td in [
            "arn:aws:ecs:us-east-1:1:task-definition/shop-staging-report:7",
            "arn:aws:ecs:us-east-1:1:task-definition/shop-staging-report",
            "shop-staging-report:3",
        ] {
            let looked = Ok(Some(vec![
                target(
                    "other",
                    Some("arn:aws:ecs:us-east-1:1:task-definition/shop-x:1"),
                ),
                target("ours", Some(td)),
            ]));
            assert_eq!(problem(&schedule(), &looked), None, "{td}");
        }
    }

    #[test]
    fn a_missing_rule_names_the_key_and_how_to_create_it() {
        let p = problem(&schedule(), &Ok(None)).unwrap();
        assert_eq!(p.field, "schedule.staging.rule");
        assert_eq!(
            p.message,
            "the EventBridge rule shop-staging-nightly does not exist"
        );
        assert!(
            p.fix.contains("services.report.schedule.staging.rule"),
            "{}",
            p.fix
        );
    }

    #[test]
    fn a_rule_without_a_target_of_the_family_lists_what_its_targets_run() {
        let looked = Ok(Some(vec![
            target(
                "a",
                Some("arn:aws:ecs:us-east-1:1:task-definition/shop-staging-reports:2"),
            ),
            target("b", None),
        ]));
        let p = problem(&schedule(), &looked).unwrap();
        assert_eq!(
            p.message,
            "the EventBridge rule shop-staging-nightly has no ECS target that runs shop-staging-report (its targets: a runs shop-staging-reports:2, b calls arn:aws:ecs:us-east-1:1:cluster/shop)"
        );
        let empty = problem(&schedule(), &Ok(Some(Vec::new()))).unwrap();
        assert!(
            empty.message.ends_with("(it has no target)"),
            "{}",
            empty.message
        );
    }

    #[test]
    fn a_rule_that_cannot_be_read_is_a_problem_not_a_pass() {
        let p = problem(&schedule(), &Err("AccessDeniedException: no".into())).unwrap();
        assert!(
            p.message
                .contains("could not be checked: AccessDeniedException"),
            "{}",
            p.message
        );
    }
}
