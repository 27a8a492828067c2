//! From YAML text to a checked [`Manifest`], collecting every problem.

use std::collections::HashMap;
use std::path::Path;

use indexmap::IndexMap;

use super::glob::PathGlob;
use super::raw::{RawBuild, RawEnvironment, RawGate, RawManifest, RawService};
use super::template::{Template, suggest};
use super::yaml::{self, Positions};
use super::{
    BuildSettings, DEFAULT_MAX_BURN_RATE, DEFAULT_TAG, Environment, GateSettings, Manifest,
    PathRules, Service, TAG_PLACEHOLDERS,
};
use crate::diagnostic::{Diagnostic, Diagnostics};

/// Collects diagnostics located through the position index.
struct Checker<'a> {
    file: &'a Path,
    positions: Positions,
    problems: Vec<Diagnostic>,
}

impl Checker<'_> {
    fn at_value(&mut self, path: &str, message: String, help: String) {
        self.push(self.positions.value(path), message, help);
    }

    fn at_key(&mut self, path: &str, message: String, help: String) {
        self.push(self.positions.key(path), message, help);
    }

    fn push(&mut self, pos: Option<yaml::Position>, message: String, help: String) {
        let mut d = Diagnostic::new(self.file, message).help(help);
        if let Some(p) = pos {
            d = d.at(p.line, p.column);
        }
        self.problems.push(d);
    }

    fn template(&mut self, path: &str, text: &str, allowed_env: bool) -> Option<Template> {
        match Template::parse(text) {
            Ok(t) => {
                if !allowed_env && t.uses("env") {
                    self.at_value(
                        path,
                        format!("`{{env}}` cannot be used in \"{text}\""),
                        "this name is shared by every environment; remove `{env}`".into(),
                    );
                    return None;
                }
                Some(t)
            }
            Err(e) => {
                self.at_value(path, e.message, e.help);
                None
            }
        }
    }

    fn globs(&mut self, path: &str, globs: &[String]) -> Option<PathRules> {
        let mut matchers = Vec::new();
        let mut ok = true;
        for (i, text) in globs.iter().enumerate() {
            let item = format!("{path}[{i}]");
            if text.starts_with('/') || text.starts_with("./") || text.split('/').any(|s| s == "..")
            {
                self.at_value(
                    &item,
                    format!("path glob \"{text}\" is not relative to the repository root"),
                    format!(
                        "write it from the repository root without a leading `/`, `./` or `..`, e.g. \"{}\"",
                        text.trim_start_matches("./").trim_start_matches('/')
                    ),
                );
                ok = false;
                continue;
            }
            match PathGlob::new(text) {
                Ok(glob) => matchers.push(glob),
                Err(err) => {
                    self.at_value(
                        &item,
                        format!("invalid path glob \"{text}\": {}", err.kind()),
                        "globs use `*` within a folder, `**` across folders, `{a,b}` for alternatives and `[abc]` for one character".into(),
                    );
                    ok = false;
                }
            }
        }
        ok.then(|| PathRules {
            globs: globs.to_vec(),
            matchers,
        })
    }
}

/// Names that AWS accepts for ECS families, services and clusters.
fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 255
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

fn valid_region(region: &str) -> bool {
    // e.g. us-east-1, eu-central-2, us-gov-west-1, ap-southeast-3
    let parts: Vec<&str> = region.split('-').collect();
    parts.len() >= 3
        && parts[0].len() == 2
        && parts.iter().all(|p| {
            !p.is_empty()
                && p.bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
        })
        && parts
            .last()
            .is_some_and(|p| p.bytes().all(|b| b.is_ascii_digit()))
}

pub(super) fn parse(text: &str, file: &Path) -> Result<Manifest, Diagnostics> {
    let raw: RawManifest = yaml::from_str(text).map_err(|e| {
        let mut d = Diagnostic::new(file, e.message.clone()).help(help_for_serde(&e.message));
        if let Some(p) = e.position {
            d = d.at(p.line, p.column);
        }
        Diagnostics(vec![d])
    })?;
    let mut c = Checker {
        file,
        positions: Positions::index(text),
        problems: Vec::new(),
    };
    let duplicates = c.positions.duplicates().to_vec();
    for (path, pos) in duplicates {
        let key = path.rsplit('.').next().unwrap_or(&path);
        c.push(
            Some(pos),
            format!("duplicate key `{key}` ({path} is declared twice)"),
            "each name may appear once; remove or rename the second one".into(),
        );
    }
    let manifest = resolve(&mut c, raw);
    match manifest {
        Some(m) if c.problems.is_empty() => Ok(m),
        _ => Err(Diagnostics(c.problems)),
    }
}

/// Help for serde's own messages (unknown field, missing field, wrong type).
fn help_for_serde(message: &str) -> String {
    if message.contains("unknown field") {
        "remove the key or fix its spelling; the JSON Schema action/schema/ferry.schema.json lists every key".into()
    } else if message.contains("missing field") {
        "add the field; see the example manifest in action/README.md".into()
    } else if message.contains("duplicate") {
        "each name may appear once; remove or rename the second one".into()
    } else {
        "fix the YAML at this position".into()
    }
}

fn resolve(c: &mut Checker<'_>, raw: RawManifest) -> Option<Manifest> {
    if !valid_name(&raw.project) {
        c.at_value(
            "project",
            format!(
                "project name \"{}\" is not a valid AWS resource name part",
                raw.project
            ),
            "use letters, digits, `-` and `_` only".into(),
        );
    }
    if !valid_region(&raw.region) {
        c.at_value(
            "region",
            format!("\"{}\" is not an AWS region", raw.region),
            "write a region code such as us-east-1 or eu-west-3".into(),
        );
    }
    let release_branch = raw.release_branch.unwrap_or_else(|| "release".into());
    if release_branch.trim().is_empty() {
        c.at_value(
            "release-branch",
            "release-branch is empty".into(),
            "name a branch, e.g. release".into(),
        );
    }
    let global_paths = c.globs("global-paths", &raw.global_paths);

    if raw.environments.is_empty() {
        c.at_value(
            "environments",
            "no environments are declared".into(),
            "declare at least one, e.g. `staging: { cluster: my-cluster }`".into(),
        );
    }
    let environments = resolve_environments(c, &raw.environments);
    if raw.services.is_empty() {
        c.at_value(
            "services",
            "no services are declared".into(),
            "declare at least one service under `services:`".into(),
        );
    }
    let mut services = IndexMap::new();
    for (name, svc) in &raw.services {
        if let Some(s) = resolve_service(c, name, svc) {
            services.insert(name.clone(), s);
        }
    }
    let build = resolve_build(c, raw.build.unwrap_or_default());
    let manifest = Manifest {
        file: c.file.to_path_buf(),
        project: raw.project,
        region: raw.region,
        release_branch,
        global_paths: global_paths?,
        environments,
        services,
        build,
    };
    check_unique_names(c, &manifest);
    Some(manifest)
}

fn resolve_build(c: &mut Checker<'_>, raw: RawBuild) -> BuildSettings {
    let tag = raw.tag.unwrap_or_else(|| DEFAULT_TAG.into());
    let mut rest = tag.as_str();
    while let Some(open) = rest.find('{') {
        let after = &rest[open + 1..];
        let Some(close) = after.find('}') else { break };
        let name = &after[..close];
        if !TAG_PLACEHOLDERS.contains(&name) {
            c.at_value(
                "build.tag",
                format!("unknown placeholder `{{{name}}}` in the tag template \"{tag}\""),
                format!("known placeholders: {}", TAG_PLACEHOLDERS.join(", ")),
            );
        }
        rest = &after[close + 1..];
    }
    if !tag.contains("{sha") && !tag.contains("{timestamp}") {
        c.at_value(
            "build.tag",
            format!("the tag template \"{tag}\" gives every build the same tag"),
            "include {sha7} or {timestamp}, e.g. {service}-{sha7}-{timestamp}".into(),
        );
    }
    if let Some(registry) = &raw.registry
        && (registry.trim().is_empty() || registry.contains(char::is_whitespace))
    {
        c.at_value(
            "build.registry",
            format!("\"{registry}\" is not a registry host"),
            "write host[:port], e.g. 123456789012.dkr.ecr.us-east-1.amazonaws.com, or http://127.0.0.1:5001 for a registry without TLS".into(),
        );
    }
    BuildSettings {
        registry: raw
            .registry
            .map(|r| r.trim().trim_end_matches('/').to_string()),
        tag,
        builder: raw.builder.unwrap_or_default(),
        parallel: raw.parallel.map_or(2, |p| p.clamp(1, 16) as usize),
    }
}

fn resolve_environments(
    c: &mut Checker<'_>,
    raw: &IndexMap<String, RawEnvironment>,
) -> IndexMap<String, Environment> {
    let mut out = IndexMap::new();
    for (name, env) in raw {
        let path = format!("environments.{name}");
        if !valid_name(name) {
            c.at_key(
                &path,
                format!("environment name \"{name}\" is not valid"),
                "use letters, digits, `-` and `_` only".into(),
            );
        }
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
                let known: Vec<&str> = raw.keys().map(String::as_str).collect();
                let near = suggest(known.iter().copied(), from);
                let help = match near {
                    Some(k) => format!(
                        "did you mean `{k}`? Declared environments: {}",
                        known.join(", ")
                    ),
                    None => format!("declared environments: {}", known.join(", ")),
                };
                c.at_value(
                    &format!("{path}.promote-from"),
                    format!("`promote-from: {from}` names an environment that is not declared"),
                    help,
                );
            }
        }
        let gate = env
            .gate
            .as_ref()
            .and_then(|g| resolve_gate(c, &path, env.promote_from.is_some(), g));
        let Some(cluster) = c.template(&format!("{path}.cluster"), &env.cluster, true) else {
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
            },
        );
    }
    // A cycle (a → b → a) would make `gate` chase its tail.
    for name in raw.keys() {
        let mut seen = vec![name.as_str()];
        let mut cur = name.as_str();
        while let Some(next) = raw.get(cur).and_then(|e| e.promote_from.as_deref()) {
            if !raw.contains_key(next) || next == cur {
                break;
            }
            if seen.contains(&next) {
                if seen[0] == next {
                    seen.push(next);
                    c.at_value(
                        &format!("environments.{name}.promote-from"),
                        format!("promotion cycle: {}", seen.join(" → ")),
                        "the first environment of a chain has no promote-from".into(),
                    );
                }
                break;
            }
            seen.push(next);
            cur = next;
        }
    }
    out
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
    let url = raw.prometheus.trim().trim_end_matches('/');
    let host = url
        .strip_prefix("https://")
        .or_else(|| url.strip_prefix("http://"))
        .unwrap_or_default();
    if host.is_empty() || url.contains(char::is_whitespace) {
        c.at_value(
            &format!("{path}.prometheus"),
            format!("\"{}\" is not a Prometheus URL", raw.prometheus),
            "write its base URL, e.g. https://prometheus.example.com or http://127.0.0.1:9090"
                .into(),
        );
    }
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

fn resolve_service(c: &mut Checker<'_>, name: &str, raw: &RawService) -> Option<Service> {
    let path = format!("services.{name}");
    if !valid_name(name) {
        c.at_key(
            &path,
            format!("service name \"{name}\" is not valid"),
            "use letters, digits, `-` and `_` only (it becomes part of ECS and ECR names)".into(),
        );
    }
    let default_paths = vec![format!("services/{name}/**")];
    let paths = c.globs(
        &format!("{path}.paths"),
        raw.paths.as_ref().unwrap_or(&default_paths),
    );
    if raw.paths.as_ref().is_some_and(Vec::is_empty) {
        c.at_value(
            &format!("{path}.paths"),
            format!("service `{name}` has an empty `paths` list"),
            format!(
                "list its folder, e.g. [services/{name}/**], or remove `paths` to use that default"
            ),
        );
    }
    let mut files = Vec::new();
    for (key, value, default) in [
        (
            "dockerfile",
            &raw.dockerfile,
            format!("services/{name}/Dockerfile"),
        ),
        ("context", &raw.context, ".".to_string()),
        (
            "task-definition",
            &raw.task_definition,
            format!("task-definitions/{name}.jsonnet"),
        ),
    ] {
        let value = value.clone().unwrap_or(default);
        if value.starts_with('/') || value.split('/').any(|s| s == "..") || value.is_empty() {
            c.at_value(
                &format!("{path}.{key}"),
                format!("{key} \"{value}\" must be a path inside the repository"),
                "write it relative to the repository root, without a leading `/` or `..`".into(),
            );
        }
        files.push(value);
    }
    let ecs_service = c.template(
        &format!("{path}.ecs-service"),
        raw.ecs_service
            .as_deref()
            .unwrap_or("{project}-{env}-{service}"),
        true,
    );
    let ecr_repository = c.template(
        &format!("{path}.ecr-repository"),
        raw.ecr_repository
            .as_deref()
            .unwrap_or("{project}/{service}"),
        false,
    );
    let [dockerfile, context, task_definition]: [String; 3] = files.try_into().ok()?;
    Some(Service {
        name: name.to_string(),
        paths: paths?,
        crate_name: Some(raw.crate_name.clone().unwrap_or_else(|| name.to_string())),
        crate_explicit: raw.crate_name.is_some(),
        dockerfile,
        context,
        task_definition,
        ecs_service: ecs_service?,
        ecr_repository: ecr_repository?,
    })
}

/// Two services must not share an ECS service (per environment) or an ECR repository.
fn check_unique_names(c: &mut Checker<'_>, m: &Manifest) {
    for env in m.environments.keys() {
        let mut seen: HashMap<String, &str> = HashMap::new();
        for (name, svc) in &m.services {
            let rendered = svc.ecs_service.render(m.vars(name, env));
            if let Some(first) = seen.insert(rendered.clone(), name) {
                c.at_value(
                    &format!("services.{name}.ecs-service"),
                    format!("services `{first}` and `{name}` both deploy to the ECS service \"{rendered}\" in `{env}`"),
                    "give each service its own ecs-service name, e.g. \"{project}-{env}-{service}\"".into(),
                );
            }
        }
    }
    let mut seen: HashMap<String, &str> = HashMap::new();
    for (name, svc) in &m.services {
        let rendered = svc.ecr_repository.render(m.vars(name, ""));
        if let Some(first) = seen.insert(rendered.clone(), name) {
            c.at_value(
                &format!("services.{name}.ecr-repository"),
                format!(
                    "services `{first}` and `{name}` both push to the ECR repository \"{rendered}\""
                ),
                "give each service its own repository, e.g. \"{project}/{service}\"".into(),
            );
        }
    }
}
