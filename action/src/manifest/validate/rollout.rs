//! `rollout:` and `analysis:`, per environment and per service: checked
//! values with positioned problems, as the rest of the manifest.

use indexmap::IndexMap;

use super::super::raw::{RawAnalysis, RawCheck, RawRollout, RawStrategy};
use super::super::{
    AnalysisCheck, AnalysisSettings, DEFAULT_CANARY_PERCENT, DEFAULT_STEP_PERCENT, Relative,
    RolloutSettings, Strategy,
};
use super::{Checker, listed, valid_name};
use crate::inputs;

/// ECS counts bake times in whole minutes, up to a day.
const MAX_BAKE_MINUTES: u64 = 1440;
/// The analysis interval used when the manifest names none.
const DEFAULT_INTERVAL_SECS: u64 = 60;
/// The default bake of blue/green, canary and linear rollouts.
const DEFAULT_BAKE_MINUTES: u64 = 5;

/// A manifest duration names its unit: `5` could be seconds or minutes.
pub(super) fn with_unit(text: &str, unit: &str) -> Result<(), String> {
    if text.ends_with(|c: char| c.is_ascii_digit()) {
        Err(format!("{text:?} has no unit: write {text}{unit}"))
    } else {
        Ok(())
    }
}

/// `5m`, `1h`, `0`: whole minutes, as ECS takes them, in the one duration
/// grammar of [`inputs::duration`].
fn minutes(text: &str) -> Result<u64, String> {
    let t = text.trim();
    if t == "0" {
        return Ok(0);
    }
    with_unit(t, "m")?;
    let d = inputs::duration(t)?;
    if d.subsec_nanos() != 0 || d.as_secs() % 60 != 0 {
        return Err(format!(
            "{t:?} is not whole minutes: ECS counts bake times in minutes"
        ));
    }
    let m = d.as_secs() / 60;
    if m > MAX_BAKE_MINUTES {
        return Err(format!(
            "{t:?} is more than ECS allows (1440 minutes, a day)"
        ));
    }
    Ok(m)
}

/// `30s`, `1m`: the analysis interval, from 1 second to an hour.
fn interval(text: &str) -> Result<u64, String> {
    let t = text.trim();
    with_unit(t, "s")?;
    let secs = inputs::duration(t)?.as_secs();
    if !(1..=3600).contains(&secs) {
        return Err(format!("{t:?} is outside 1s to 1h"));
    }
    Ok(secs)
}

/// A resolved `rollout:` at `path`.
pub(super) fn resolve_rollout(
    c: &mut Checker<'_>,
    path: &str,
    raw: &RawRollout,
) -> Option<RolloutSettings> {
    let problems = c.problems.len();
    let strategy = match raw.strategy {
        RawStrategy::Rolling => Strategy::Rolling,
        RawStrategy::BlueGreen => Strategy::BlueGreen,
        RawStrategy::Canary => Strategy::Canary,
        RawStrategy::Linear => Strategy::Linear,
    };
    let only = |c: &mut Checker<'_>, key: &str, set: bool, wanted: Strategy| {
        if set && strategy != wanted {
            c.at_key(
                &format!("{path}.{key}"),
                format!("`{key}` is set on a {} rollout", strategy.as_str()),
                format!(
                    "it belongs to `strategy: {}`; remove it or change the strategy",
                    wanted.as_str()
                ),
            );
        }
    };
    only(
        c,
        "canary-percent",
        raw.canary_percent.is_some(),
        Strategy::Canary,
    );
    only(
        c,
        "step-percent",
        raw.step_percent.is_some(),
        Strategy::Linear,
    );
    if raw.step_bake.is_some() && !matches!(strategy, Strategy::Canary | Strategy::Linear) {
        c.at_key(
            &format!("{path}.step-bake"),
            format!("`step-bake` is set on a {} rollout", strategy.as_str()),
            "it is the hold between the partial steps of a canary or linear rollout".into(),
        );
    }
    if raw.bake.is_some() && strategy == Strategy::Rolling {
        c.at_key(
            &format!("{path}.bake"),
            "`bake` is set on a rolling rollout".into(),
            "a rolling update replaces tasks in place: nothing bakes; use blue-green, canary or linear".into(),
        );
    }
    let canary_percent = raw.canary_percent.unwrap_or(DEFAULT_CANARY_PERCENT);
    if !(canary_percent.is_finite() && (0.1..100.0).contains(&canary_percent)) {
        c.at_value(
            &format!("{path}.canary-percent"),
            format!("canary-percent {canary_percent} is outside 0.1 to 99.9"),
            "the canary's share of traffic in percent, e.g. 10".into(),
        );
    }
    let step_percent = raw.step_percent.unwrap_or(DEFAULT_STEP_PERCENT);
    if !(step_percent.is_finite() && (3.0..=100.0).contains(&step_percent)) {
        c.at_value(
            &format!("{path}.step-percent"),
            format!("step-percent {step_percent} is outside 3 to 100 (ECS's range)"),
            "the share of traffic each step moves in percent, e.g. 25 for four steps".into(),
        );
    }
    let mut bake = |key: &str, value: &Option<String>, default: u64| match value {
        None => default,
        Some(text) => minutes(text).unwrap_or_else(|why| {
            c.at_value(
                &format!("{path}.{key}"),
                format!("{key}: {why}"),
                "write whole minutes, e.g. 5m or 1h (0 for none)".into(),
            );
            0
        }),
    };
    let progressive = strategy != Strategy::Rolling;
    let default_bake = if progressive { DEFAULT_BAKE_MINUTES } else { 0 };
    let step_bake_secs = bake("step-bake", &raw.step_bake, DEFAULT_BAKE_MINUTES) * 60;
    let bake_secs = bake("bake", &raw.bake, default_bake) * 60;
    (c.problems.len() == problems).then_some(RolloutSettings {
        strategy,
        canary_percent,
        step_percent,
        step_bake_secs,
        bake_secs,
    })
}

/// A resolved `analysis:` at `path`.
pub(super) fn resolve_analysis(
    c: &mut Checker<'_>,
    path: &str,
    raw: &RawAnalysis,
) -> Option<AnalysisSettings> {
    let problems = c.problems.len();
    let url = super::prometheus_url(c, path, &raw.prometheus);
    let interval_secs = match &raw.interval {
        None => DEFAULT_INTERVAL_SECS,
        Some(text) => interval(text).unwrap_or_else(|why| {
            c.at_value(
                &format!("{path}.interval"),
                format!("interval: {why}"),
                "the time between two rounds of checks, e.g. 30s or 1m".into(),
            );
            DEFAULT_INTERVAL_SECS
        }),
    };
    if raw.checks.is_empty() {
        c.at_value(
            &format!("{path}.checks"),
            "`checks` is an empty list: the analysis would pass anything".into(),
            "add a check, e.g. `{ name: error-ratio, query: '…{version}…', max: 0.01 }`".into(),
        );
    }
    let mut seen = Vec::new();
    for (i, check) in raw.checks.iter().enumerate() {
        let at = format!("{path}.checks[{i}]");
        if !valid_name(&check.name) {
            c.at_value(
                &format!("{at}.name"),
                format!("check name {:?} is not valid", check.name),
                "use letters, digits, `-` and `_`, e.g. error-ratio".into(),
            );
        } else if seen.contains(&check.name.as_str()) {
            c.at_value(
                &format!("{at}.name"),
                format!("two checks are named `{}`", check.name),
                "give each check its own name: the report tells them apart by it".into(),
            );
        }
        seen.push(check.name.as_str());
        if !check.query.contains("{version}") {
            c.at_value(
                &format!("{at}.query"),
                format!("the query of `{}` has no `{{version}}`", check.name),
                "put {version} in its label matchers, e.g. http_requests_total{job=\"{service}\",{version}}: without it the new version cannot be told from the old".into(),
            );
        }
        check_thresholds(c, &at, check);
    }
    (c.problems.len() == problems).then(|| AnalysisSettings {
        prometheus: url.to_string(),
        interval_secs,
        failure_limit: raw.failure_limit.unwrap_or(0),
        checks: raw
            .checks
            .iter()
            .map(|k| AnalysisCheck {
                name: k.name.clone(),
                query: k.query.clone(),
                max: k.max,
                min: k.min,
                relative: k.max_vs_baseline.map(|ratio| Relative {
                    ratio,
                    floor: k.floor.unwrap_or_default(),
                }),
                allow_negative: k.allow_negative,
            })
            .collect(),
    })
}

/// A check's thresholds: an absolute `max` or `min` (without one the check
/// could never fail), `max-vs-baseline` only with its `floor`, every figure
/// a finite number.
fn check_thresholds(c: &mut Checker<'_>, at: &str, check: &RawCheck) {
    let name = &check.name;
    if check.max.is_none() && check.min.is_none() {
        let (problem, fix) = if check.max_vs_baseline.is_some() {
            (
                format!(
                    "check `{name}` has only `max-vs-baseline`: it could never fail when the old version has no data, 0 or NaN"
                ),
                "add an absolute `max` (e.g. `max: 0.01`, the SLO's budget): the relative limit is an extra condition on top of it",
            )
        } else {
            (
                format!("check `{name}` has no threshold: it could never fail"),
                "add `max` (e.g. `max: 0.01`) or `min`; `max-vs-baseline` with a `floor` may come on top",
            )
        };
        c.at_key(at, problem, fix.into());
    }
    match (check.max_vs_baseline, check.floor) {
        (Some(_), None) => c.at_key(
            &format!("{at}.max-vs-baseline"),
            format!("`max-vs-baseline` of `{name}` has no `floor`"),
            "add `floor`, the least baseline it multiplies (e.g. `floor: 0.001`): with a baseline of 0 the limit is `floor` × max-vs-baseline".into(),
        ),
        (None, Some(_)) => c.at_key(
            &format!("{at}.floor"),
            format!("`floor` of `{name}` is set without `max-vs-baseline`"),
            "`floor` is the least baseline `max-vs-baseline` multiplies: add `max-vs-baseline` or remove `floor`".into(),
        ),
        _ => {}
    }
    for (key, value, least) in [
        ("max", check.max, None),
        ("min", check.min, None),
        ("max-vs-baseline", check.max_vs_baseline, Some(0.0)),
        ("floor", check.floor, Some(0.0)),
    ] {
        let Some(v) = value else { continue };
        let bad =
            !v.is_finite() || least.is_some_and(|l| v <= l) || (!check.allow_negative && v < 0.0);
        if bad {
            let wanted = if least.is_some() {
                "a number above 0"
            } else if check.allow_negative {
                "a finite number"
            } else {
                "a number of 0 or more (set `allow-negative: true` for a metric that can be negative)"
            };
            c.at_value(
                &format!("{at}.{key}"),
                format!("{key} {v} of `{name}` is not {wanted}"),
                "write the limit as a plain number, e.g. 0.01".into(),
            );
        }
    }
    if let (Some(min), Some(max)) = (check.min, check.max)
        && min > max
    {
        c.at_key(
            at,
            format!("check `{name}` has `min` {min} above `max` {max}: every value fails"),
            "swap them, or fix the one that is wrong".into(),
        );
    }
}

/// A service's per-environment overrides: each key must be a declared
/// environment.
pub(super) fn resolve_per_env<R, T>(
    c: &mut Checker<'_>,
    path: &str,
    raw: Option<&IndexMap<String, R>>,
    environments: &[&str],
    mut resolve: impl FnMut(&mut Checker<'_>, &str, &R) -> Option<T>,
) -> IndexMap<String, T> {
    let mut out = IndexMap::new();
    for (env, value) in raw.into_iter().flatten() {
        let at = format!("{path}.{env}");
        if !environments.contains(&env.as_str()) {
            c.at_key(
                &at,
                format!("`{env}` is not a declared environment"),
                format!(
                    "declared environments: {}",
                    listed(environments.iter().copied())
                ),
            );
            continue;
        }
        if let Some(v) = resolve(c, &at, value) {
            out.insert(env.clone(), v);
        }
    }
    out
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn bake_times_are_whole_minutes_up_to_a_day() {
        assert_eq!(minutes("5m"), Ok(5));
        assert_eq!(minutes("1h"), Ok(60));
        assert_eq!(minutes("0"), Ok(0));
        assert_eq!(minutes("120s"), Ok(2));
        assert!(minutes("90s").unwrap_err().contains("whole minutes"));
        assert!(minutes("5").unwrap_err().contains("no unit"));
        assert!(minutes("25h").unwrap_err().contains("1440"));
        assert!(minutes("5d").unwrap_err().contains("unknown unit"));
        assert!(minutes("-5m").is_err());
        assert!(minutes(&"9".repeat(40)).is_err());
    }

    #[test]
    fn intervals_run_from_a_second_to_an_hour() {
        assert_eq!(interval("30s"), Ok(30));
        assert_eq!(interval("2m"), Ok(120));
        assert!(interval("0s").is_err());
        assert!(interval("2h").is_err());
        assert!(interval("30").unwrap_err().contains("no unit"));
    }
}
