//! Preflight of scheduled jobs (`services.<name>.schedule.<env>`): each
//! EventBridge rule exists and has an ECS target that runs the service's
//! task definition family, so a deploy does not register a revision it
//! cannot put on the schedule. The lookup is [`lookup`] (ListTargetsByRule
//! through the [`Events`] port); the decision, [`problem`], is pure.

use super::check::Problem;
use crate::aws::AwsError;
use crate::aws::events::{Events, Rule, RuleTarget, runs_family, short};

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
