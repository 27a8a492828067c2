//! `services.<name>.schedule.<env>`: the EventBridge rule of a scheduled
//! job, checked where it is written (a rule name EventBridge would refuse
//! fails here, not after the task definition was registered).

use super::super::ScheduleSettings;
use super::super::raw::RawSchedule;
use super::super::template::placeholders;
use super::Checker;

/// EventBridge's longest rule name.
const MAX_RULE: usize = 64;
/// EventBridge's longest event bus ARN.
const MAX_BUS: usize = 1600;

/// The characters EventBridge allows in a rule name (`[.\-_A-Za-z0-9]+`).
fn rule_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_')
}

/// The characters of an event bus name (`[/\.\-_A-Za-z0-9]+`) or ARN.
fn bus_char(c: char) -> bool {
    rule_char(c) || matches!(c, '/' | ':')
}

/// The text of a template without its placeholders.
fn literal(text: &str) -> String {
    let mut rest = text.to_string();
    for p in placeholders(text) {
        rest = rest.replacen(&format!("{{{p}}}"), "", 1);
    }
    rest
}

/// A resolved `schedule.<env>` at `path`.
pub(super) fn resolve_schedule(
    c: &mut Checker<'_>,
    path: &str,
    raw: &RawSchedule,
) -> Option<ScheduleSettings> {
    let at = format!("{path}.rule");
    let rule = raw.rule.trim();
    if rule.is_empty() {
        c.at_value(
            &at,
            "the schedule's `rule` is empty".into(),
            "name the EventBridge rule whose target runs this service's task definition, e.g. `rule: \"{project}-{env}-nightly\"`".into(),
        );
        return None;
    }
    let template = c.template(&at, rule, true)?;
    let text = literal(rule);
    if let Some(bad) = text.chars().find(|c| !rule_char(*c)) {
        c.at_value(
            &at,
            format!("rule {rule:?} has {bad:?}, which EventBridge does not allow in a rule name"),
            "write the rule's name (letters, digits, `.`, `-`, `_`), not its ARN or a description"
                .into(),
        );
        return None;
    }
    if text.len() > MAX_RULE {
        c.at_value(
            &at,
            format!("rule {rule:?} is longer than EventBridge's {MAX_RULE} characters"),
            "write the rule's name as EventBridge shows it".into(),
        );
        return None;
    }
    let event_bus = match raw.event_bus.as_deref().map(str::trim) {
        None => None,
        Some(bus) if bus.is_empty() || bus.len() > MAX_BUS || !bus.chars().all(bus_char) => {
            c.at_value(
                &format!("{path}.event-bus"),
                format!("event-bus {bus:?} is not an EventBridge event bus name or ARN"),
                "write the bus's name (letters, digits, `.`, `-`, `_`, `/`) or its ARN, or remove `event-bus` for the default bus".into(),
            );
            return None;
        }
        Some("default") => None,
        Some(bus) => Some(bus.to_string()),
    };
    Some(ScheduleSettings {
        rule: template,
        event_bus,
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use std::path::Path;

    use crate::diagnostic::Diagnose;
    use crate::manifest::Manifest;

    const SCHEDULED: &str = "\
project: shop
region: us-east-1
environments:
  staging: { cluster: shop-staging }
  prod: { cluster: shop-prod }
services:
  report:
    schedule:
      staging: { rule: '{project}-{env}-nightly' }
      prod: { rule: nightly-report, event-bus: arn:aws:events:us-east-1:1:event-bus/jobs }
  api: {}
";

    fn problems(text: &str) -> Vec<(Option<usize>, String, String)> {
        let err =
            Manifest::parse(text, Path::new(".github/ferry.yml")).expect_err("should be refused");
        err.diagnostics()
            .into_iter()
            .map(|d| (d.line, d.message, d.help.unwrap_or_default()))
            .collect()
    }

    #[test]
    fn a_schedule_is_read_per_environment_with_its_templates() {
        let m = Manifest::parse(SCHEDULED, Path::new(".github/ferry.yml")).unwrap();
        let report = &m.services["report"];
        let staging = &report.schedule["staging"];
        assert_eq!(
            staging.rule.render(m.vars("report", "staging")),
            "shop-staging-nightly"
        );
        assert_eq!(staging.event_bus, None);
        let prod = &report.schedule["prod"];
        assert_eq!(prod.rule.as_str(), "nightly-report");
        assert_eq!(
            prod.event_bus.as_deref(),
            Some("arn:aws:events:us-east-1:1:event-bus/jobs")
        );
        assert!(m.services["api"].schedule.is_empty());
        // `event-bus: default` is the default bus.
        let m = Manifest::parse(
            &SCHEDULED.replace("arn:aws:events:us-east-1:1:event-bus/jobs", "default"),
            Path::new(".github/ferry.yml"),
        )
        .unwrap();
        assert_eq!(m.services["report"].schedule["prod"].event_bus, None);
    }

    #[test]
    fn bad_schedules_name_the_key_and_the_fix() {
        let cases: &[(&str, &str, usize, &str, &str)] = &[
            (
                "rule: nightly-report,",
                "rule: '',",
                10,
                "the schedule's `rule` is empty",
                "name the EventBridge rule",
            ),
            (
                "rule: nightly-report,",
                "rule: 'arn:aws:events:us-east-1:1:rule/nightly',",
                10,
                "which EventBridge does not allow in a rule name",
                "not its ARN",
            ),
            (
                "rule: nightly-report,",
                "rule: 'nightly report',",
                10,
                "' ', which EventBridge does not allow",
                "letters, digits",
            ),
            (
                "rule: nightly-report,",
                &format!("rule: {},", "n".repeat(65)),
                10,
                "longer than EventBridge's 64 characters",
                "as EventBridge shows it",
            ),
            (
                "'{project}-{env}-nightly'",
                "'{project}-{evn}-nightly'",
                9,
                "unknown placeholder `{evn}`",
                "did you mean `{env}`?",
            ),
            (
                "event-bus: arn:aws:events:us-east-1:1:event-bus/jobs",
                "event-bus: 'jobs bus'",
                10,
                "event-bus \"jobs bus\" is not an EventBridge event bus name or ARN",
                "remove `event-bus` for the default bus",
            ),
            (
                "      prod: { rule",
                "      prdo: { rule",
                10,
                "`prdo` is not a declared environment",
                "declared environments: staging, prod",
            ),
            (
                "{ rule: '{project}-{env}-nightly' }",
                "{ rules: '{project}-{env}-nightly' }",
                9,
                "unknown key `rules`",
                "did you mean `rule`?",
            ),
            (
                "{ rule: '{project}-{env}-nightly' }",
                "nightly-report",
                9,
                "services.report.schedule.staging: invalid type: string \"nightly-report\", expected a mapping naming the EventBridge rule, e.g. `{ rule: nightly-report }`",
                "fix the YAML",
            ),
        ];
        for (from, to, line, message, help) in cases {
            assert!(SCHEDULED.contains(from), "{from}");
            let found = problems(&SCHEDULED.replacen(from, to, 1));
            let (l, msg, h) = &found[0];
            assert!(msg.contains(message), "{to}: {found:?}");
            assert!(h.contains(help), "{to}: {found:?}");
            assert!(!h.is_empty(), "{to}: no help: {found:?}");
            assert_eq!(*l, Some(*line), "{to}: {found:?}");
        }
    }
}
