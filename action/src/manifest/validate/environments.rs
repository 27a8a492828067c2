//! The `environments:` section: each environment's name, region, promotion,
//! URL, cluster, rollout and analysis, its `gate:`, and promotion cycles.

use indexmap::IndexMap;

use super::super::names;
use super::super::raw::{RawEnvironment, RawGate};
use super::super::{DEFAULT_MAX_BURN_RATE, Environment, GateSettings, RolloutSettings};
use super::{Checker, LISTED, listed, prometheus_url, rollout, valid_region};

pub(super) fn resolve_environments(
    c: &mut Checker<'_>,
    raw: &IndexMap<String, RawEnvironment>,
) -> IndexMap<String, Environment> {
    let mut out = IndexMap::new();
    for (name, env) in raw {
        let path = format!("environments.{name}");
        c.declared_name(&path, "environment", name, "");
        if let Some(region) = &env.region
            && !valid_region(region)
        {
            c.at_value(
                &format!("{path}.region"),
                format!("\"{region}\" is not an AWS region"),
                "write a region code such as us-east-1".into(),
            );
        }
        if let Some(from) = &env.promote_from {
            if from == name {
                c.at_value(
                    &format!("{path}.promote-from"),
                    format!("environment `{name}` promotes from itself"),
                    "name the environment that comes before it, e.g. staging".into(),
                );
            } else if !raw.contains_key(from) {
                let known = listed(raw.keys().map(String::as_str));
                let near = c.suggest(raw.keys().map(String::as_str), from);
                let help = match near {
                    Some(k) => format!("did you mean `{k}`? Declared environments: {known}"),
                    None => format!("declared environments: {known}"),
                };
                c.at_value(
                    &format!("{path}.promote-from"),
                    format!("`promote-from: {from}` names an environment that is not declared"),
                    help,
                );
            }
        }
        if let Some(url) = &env.url
            && let Err(why) = names::http_url(url)
        {
            c.at_value(
                &format!("{path}.url"),
                format!("url {url:?} is not a web address: {why}"),
                "write the environment's address, e.g. https://staging.example.com".into(),
            );
        }
        let gate = env
            .gate
            .as_ref()
            .and_then(|g| resolve_gate(c, &path, env.promote_from.is_some(), g));
        let rollout = match &env.rollout {
            Some(r) => rollout::resolve_rollout(c, &format!("{path}.rollout"), r),
            None => Some(RolloutSettings::default()),
        };
        let analysis = env
            .analysis
            .as_ref()
            .map(|a| rollout::resolve_analysis(c, &format!("{path}.analysis"), a));
        let Some(cluster) = c.template(&format!("{path}.cluster"), &env.cluster, true) else {
            continue;
        };
        let (Some(rollout), Some(analysis)) =
            (rollout, analysis.map_or(Some(None), |a| a.map(Some)))
        else {
            continue;
        };
        out.insert(
            name.clone(),
            Environment {
                name: name.clone(),
                cluster,
                promote_from: env.promote_from.clone(),
                url: env.url.clone(),
                region: env.region.clone(),
                gate,
                rollout,
                analysis,
            },
        );
    }
    check_promotion_cycles(c, raw);
    out
}

/// A cycle (a → b → a) would make `gate` chase its tail. Each environment
/// promotes from at most one other, so one walk per chain finds every
/// cycle: linear in the number of environments. Each cycle is reported
/// once, at its first declared environment.
fn check_promotion_cycles(c: &mut Checker<'_>, raw: &IndexMap<String, RawEnvironment>) {
    #[derive(Clone, Copy, PartialEq)]
    enum State {
        New,
        OnPath,
        Done,
    }
    let next = |i: usize| -> Option<usize> {
        let from = raw.get_index(i)?.1.promote_from.as_deref()?;
        raw.get_index_of(from).filter(|&j| j != i)
    };
    let mut state = vec![State::New; raw.len()];
    for start in 0..raw.len() {
        let mut path = Vec::new();
        let mut cur = Some(start);
        while let Some(i) = cur {
            match state[i] {
                State::Done => break,
                State::OnPath => {
                    let at = path.iter().position(|&p| p == i).unwrap_or(0);
                    let cycle = &path[at..];
                    let first = cycle.iter().copied().min().unwrap_or(i);
                    let rotate = cycle.iter().position(|&p| p == first).unwrap_or(0);
                    let mut names: Vec<&str> = cycle[rotate..]
                        .iter()
                        .chain(&cycle[..rotate])
                        .take(LISTED)
                        .filter_map(|&k| raw.get_index(k).map(|(n, _)| n.as_str()))
                        .collect();
                    if cycle.len() > LISTED {
                        names.push("…");
                    } else if let Some((n, _)) = raw.get_index(first) {
                        names.push(n);
                    }
                    let first_name = raw.get_index(first).map_or("", |(n, _)| n.as_str());
                    c.at_value(
                        &format!("environments.{first_name}.promote-from"),
                        format!(
                            "promotion cycle of {} environments: {}",
                            cycle.len(),
                            names.join(" → ")
                        ),
                        "the first environment of a chain has no promote-from".into(),
                    );
                    break;
                }
                State::New => {
                    state[i] = State::OnPath;
                    path.push(i);
                    cur = next(i);
                }
            }
        }
        for i in path {
            state[i] = State::Done;
        }
    }
}

fn resolve_gate(
    c: &mut Checker<'_>,
    env_path: &str,
    promoted: bool,
    raw: &RawGate,
) -> Option<GateSettings> {
    let path = format!("{env_path}.gate");
    let problems = c.problems.len();
    if !promoted {
        c.at_key(
            &path,
            "`gate:` is set on an environment without `promote-from`".into(),
            "the gate checks the environment an image is promoted from; add `promote-from: staging` or move `gate:` to the environment that has it".into(),
        );
    }
    let url = prometheus_url(c, &path, &raw.prometheus);
    let max = raw.max_burn_rate.unwrap_or(DEFAULT_MAX_BURN_RATE);
    if !(max.is_finite() && max > 0.0) {
        c.at_value(
            &format!("{path}.max-burn-rate"),
            format!("max-burn-rate {max} is not a positive number"),
            "1 spends exactly the error budget over the SLO window; 2 (the default) twice as fast"
                .into(),
        );
    }
    let slos = raw.slos.clone().unwrap_or_default();
    if raw.slos.as_ref().is_some_and(Vec::is_empty) {
        c.at_value(
            &format!("{path}.slos"),
            "`slos` is an empty list".into(),
            "name SLOs by their `slo` label, e.g. [api-availability], or remove `slos` to check every SLO".into(),
        );
    }
    for (i, slo) in slos.iter().enumerate() {
        if slo.is_empty()
            || !slo
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"-_:.".contains(&b))
        {
            c.at_value(
                &format!("{path}.slos[{i}]"),
                format!("\"{slo}\" is not an SLO name"),
                "use the `slo` label of the recorded series, e.g. api-availability".into(),
            );
        }
    }
    if let Some(q) = &raw.query {
        if !q.contains("{window}") {
            c.at_value(
                &format!("{path}.query"),
                "the gate query has no `{window}`".into(),
                "use {window} as the range since the deployment, e.g. sum_over_time(x[{window}])"
                    .into(),
            );
        }
        if raw.slos.is_some() {
            c.at_key(
                &format!("{path}.slos"),
                "`slos` and `query` are both set".into(),
                "a custom query chooses its SLOs itself; remove one of them".into(),
            );
        }
    }
    (c.problems.len() == problems).then(|| GateSettings {
        prometheus: url.to_string(),
        max_burn_rate: max,
        slos,
        query: raw.query.clone(),
    })
}
