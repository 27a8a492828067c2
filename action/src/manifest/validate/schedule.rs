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
            "write the rule's name (letters, digits, `.`, `-`, `_`), not its ARN or a description".into(),
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
