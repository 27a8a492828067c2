//! From YAML text to a checked [`Manifest`], collecting every problem.

use std::collections::HashMap;
use std::path::Path;

use indexmap::IndexMap;

use super::glob::PathGlob;
use super::names;
use super::raw::{RawBuild, RawEnvironment, RawGate, RawManifest, RawService};
use super::template::{Template, suggest};
use super::yaml::{self, Positions};
use super::{
    BuildSettings, DEFAULT_MAX_BURN_RATE, DEFAULT_TAG, Environment, GateSettings, Manifest,
    PathRules, RolloutSettings, Service, TAG_PLACEHOLDERS,
};
use crate::diagnostic::{Diagnostic, Diagnostics};

mod rollout;

/// Collects diagnostics located through the position index.
struct Checker<'a> {
    file: &'a Path,
    positions: Positions,
    problems: Vec<Diagnostic>,
    /// What loads but should change (deprecated keys).
    warnings: Vec<Diagnostic>,
    /// "Did you mean" searches left: each costs a pass over the names, so
    /// a manifest with thousands of typos stays linear.
    suggestions_left: usize,
}

/// The longest path glob (its compiled matcher grows with it).
const MAX_GLOB: usize = 1024;

/// How many "did you mean" searches one manifest gets.
const SUGGESTIONS: usize = 20;

/// At most this many names are listed in a help line.
const LISTED: usize = 10;

/// `names` for a help line: the first [`LISTED`], then how many more.
fn listed<'a>(names: impl ExactSizeIterator<Item = &'a str>) -> String {
    let total = names.len();
    let shown: Vec<&str> = names.take(LISTED).collect();
    let more = total - shown.len();
    let mut text = shown.join(", ");
    if more > 0 {
        text.push_str(&format!(" and {more} more"));
    }
    text
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
        let items: Vec<(String, &str)> = globs
            .iter()
            .enumerate()
            .map(|(i, g)| (format!("{path}[{i}]"), g.as_str()))
            .collect();
        self.globs_at(&items)
    }

    /// Compiles globs, each located by its own manifest path.
    fn globs_at(&mut self, items: &[(String, &str)]) -> Option<PathRules> {
        let mut matchers = Vec::new();
        let mut ok = true;
        for (item, text) in items {
            let (item, text) = (item.as_str(), *text);
            if text.len() > MAX_GLOB {
                self.at_value(
                    item,
                    format!(
                        "path glob \"{}…\" is longer than {MAX_GLOB} characters",
                        text.chars().take(40).collect::<String>()
                    ),
                    "a path glob names folders and files; shorten it or split it into several"
                        .into(),
                );
                ok = false;
                continue;
            }
            if text.trim().is_empty() || text.contains(|c: char| c.is_control()) {
                self.at_value(
                    item,
                    format!("path glob {text:?} is empty or has a control character"),
                    "write a glob from the repository root, e.g. \"services/api/**\"".into(),
                );
                ok = false;
                continue;
            }
            if text.starts_with('/') || text.starts_with("./") || text.split('/').any(|s| s == "..")
            {
                self.at_value(
                    item,
                    format!("path glob \"{text}\" is not relative to the repository root"),
                    relative_glob_help(text),
                );
                ok = false;
                continue;
            }
            match PathGlob::new(text) {
                Ok(glob) => matchers.push(glob),
                Err(err) => {
                    self.at_value(item, err.message, err.help);
                    ok = false;
                }
            }
        }
        ok.then(|| PathRules {
            globs: items.iter().map(|(_, g)| g.to_string()).collect(),
            matchers,
        })
    }
}

/// How to write `text` from the repository root: its `/`, `./` and `..`
/// parts removed, when that leaves a glob.
fn relative_glob_help(text: &str) -> String {
    let kept: Vec<&str> = text
        .split('/')
        .filter(|p| !p.is_empty() && *p != "." && *p != "..")
        .collect();
    let base = "write it from the repository root, without a leading `/`, `./` or any `..`";
    if kept.is_empty() || kept.iter().all(|p| *p == "**") {
        format!("{base}: name the folder, e.g. \"services/api/**\"")
    } else {
        format!("{base}, e.g. \"{}\"", kept.join("/"))
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
    let (raw, positions) = yaml::from_str_indexed::<RawManifest>(text).map_err(|e| {
        if e.message.contains("unknown field")
            && let Some(all) = unknown_keys(text, file)
        {
            return Diagnostics(all);
        }
        let message = plain_types(&e.message);
        let help = help_for_serde(&message);
        let mut d = Diagnostic::new(file, message).help(help);
        if let Some(p) = e.position {
            d = d.at(p.line, p.column);
        }
        Diagnostics(vec![d])
    })?;
    let mut c = Checker {
        file,
        positions,
        problems: Vec::new(),
        warnings: Vec::new(),
        suggestions_left: SUGGESTIONS,
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
        Some(mut m) if c.problems.is_empty() => {
            m.warnings = std::mem::take(&mut c.warnings);
            Ok(m)
        }
        _ => Err(Diagnostics(c.problems)),
    }
}

/// Every key the manifest's schema does not know, at once, each with a
/// "did you mean" (serde stops at the first). None when the text does not
/// read as plain YAML mappings, or no unknown key is found (serde's own
/// message is then shown).
fn unknown_keys(text: &str, file: &Path) -> Option<Vec<Diagnostic>> {
    let value: serde_json::Value = yaml::from_str(text).ok()?;
    let schema = super::json_schema();
    let positions = yaml::Positions::index(text);
    let mut found = Vec::new();
    walk_keys(&value, &schema, &schema, "", &mut found);
    found.dedup_by(|a, b| a.0 == b.0);
    let diagnostics: Vec<Diagnostic> = found
        .into_iter()
        .map(|(path, key, known)| {
            let guess = suggest(known.iter().map(String::as_str), &key);
            let help = match guess {
                Some(g) => format!(
                    "did you mean `{g}`? Keys here: {}",
                    listed(known.iter().map(String::as_str))
                ),
                None => format!(
                    "remove it or fix its spelling; keys here: {}",
                    listed(known.iter().map(String::as_str))
                ),
            };
            let mut d = Diagnostic::new(
                file,
                format!(
                    "unknown key `{key}` in {}",
                    if path.contains('.') {
                        format!("`{}`", parent_of(&path))
                    } else {
                        "the manifest".to_string()
                    }
                ),
            )
            .help(help);
            if let Some(p) = positions.key(&path) {
                d = d.at(p.line, p.column);
            }
            d
        })
        .collect();
    (!diagnostics.is_empty()).then_some(diagnostics)
}

/// `services.api` for `services.api.pahts`.
fn parent_of(path: &str) -> &str {
    path.rsplit_once('.').map_or(path, |(p, _)| p)
}

/// Collects (path, key, the keys allowed there) for each unknown key of
/// `value` under the schema `node`.
fn walk_keys(
    value: &serde_json::Value,
    node: &serde_json::Value,
    root: &serde_json::Value,
    path: &str,
    found: &mut Vec<(String, String, Vec<String>)>,
) {
    use serde_json::Value;
    // Depth is bounded by the manifest's nesting limit (checked before parsing).
    let node = match node.get("$ref").and_then(Value::as_str) {
        Some(r) => r
            .strip_prefix("#/$defs/")
            .and_then(|name| root.get("$defs")?.get(name))
            .unwrap_or(node),
        None => node,
    };
    for key in ["anyOf", "oneOf", "allOf"] {
        if let Some(Value::Array(variants)) = node.get(key) {
            for v in variants {
                walk_keys(value, v, root, path, found);
            }
        }
    }
    let join = |k: &str| {
        if path.is_empty() {
            k.to_string()
        } else {
            format!("{path}.{k}")
        }
    };
    match value {
        Value::Object(map) => {
            if let Some(Value::Object(props)) = node.get("properties") {
                let closed = node.get("additionalProperties") == Some(&Value::Bool(false));
                for (k, v) in map {
                    match props.get(k) {
                        Some(child) => walk_keys(v, child, root, &join(k), found),
                        None if closed => {
                            found.push((join(k), k.clone(), props.keys().cloned().collect()))
                        }
                        None => {}
                    }
                }
            } else if let Some(child @ Value::Object(_)) = node.get("additionalProperties") {
                for (k, v) in map {
                    walk_keys(v, child, root, &join(k), found);
                }
            }
        }
        Value::Array(items) => {
            if let Some(child) = node.get("items") {
                for (i, v) in items.iter().enumerate() {
                    walk_keys(v, child, root, &format!("{path}[{i}]"), found);
                }
            }
        }
        _ => {}
    }
}

/// serde names the Rust types it expected (`struct RawService`); users
/// know them as parts of the manifest.
fn plain_types(message: &str) -> String {
    const NAMES: &[(&str, &str)] = &[
        ("struct RawManifest", "the manifest's mapping of settings"),
        (
            "struct RawService",
            "a mapping of service settings (`{}` for the defaults)",
        ),
        (
            "struct RawEnvironment",
            "a mapping of environment settings, e.g. `{ cluster: my-cluster }`",
        ),
        ("struct RawBuild", "a mapping of build settings"),
        (
            "struct RawGate",
            "a mapping of gate settings, e.g. `{ prometheus: https://prometheus.example.com }`",
        ),
        ("enum BuilderKind", "`docker` or `buildah`"),
        ("variant identifier", "`docker` or `buildah`"),
    ];
    let mut out = message.to_string();
    for (rust, plain) in NAMES {
        out = out.replace(rust, plain);
    }
    // serde quotes the value it refused: a 4 MiB string stays in the file.
    if out.chars().count() > MAX_MESSAGE {
        out = out.chars().take(MAX_MESSAGE).collect::<String>() + "…";
    }
    out
}

/// The longest YAML error message shown (serde quotes whole values).
const MAX_MESSAGE: usize = 300;

/// Help for serde's own messages (unknown field, missing field, wrong type).
fn help_for_serde(message: &str) -> String {
    if message.contains("unknown field") {
        "remove the key or fix its spelling; the JSON Schema action/schema/ferry.schema.json lists every key".into()
    } else if message.contains("missing field") {
        "add the field; see the example manifest in README.md (\"The manifest\")".into()
    } else if message.contains("nest deeper") {
        "a manifest needs about five levels; flatten the structure (Ferry refuses deeper documents before parsing them)".into()
    } else if message.contains("once its aliases") {
        "write the values out instead of repeating aliases of aliases".into()
    } else if message.contains("larger than") {
        "Ferry refuses larger manifests; a thousand services take about 100 KiB".into()
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
    if let Err(why) = names::branch(&release_branch) {
        c.at_value(
            "release-branch",
            format!("release-branch {release_branch:?} is not a git branch name: {why}"),
            "name a branch, e.g. release".into(),
        );
    }
    let global_paths = c.globs("global-paths", &raw.global_paths);
    let mut groups: IndexMap<String, Option<PathRules>> = IndexMap::new();
    for (name, globs) in &raw.path_groups {
        let at = format!("path-groups.{name}");
        if !valid_name(name) {
            c.at_key(
                &at,
                format!("path group name \"{name}\" is not valid"),
                "use letters, digits, `-` and `_` only".into(),
            );
        }
        let compiled = if globs.is_empty() {
            c.at_value(
                &at,
                format!("path group `{name}` is empty"),
                "list its globs, e.g. [libs/common/**], or remove it".into(),
            );
            None
        } else if let Some(i) = globs.iter().position(|g| g.starts_with(GROUP)) {
            c.at_value(
                &format!("{at}[{i}]"),
                format!("path group `{name}` includes another group ({})", globs[i]),
                "a group lists globs only; write that group's globs here".into(),
            );
            None
        } else {
            c.globs(&at, globs)
        };
        groups.insert(name.clone(), compiled);
    }

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
    let env_names: Vec<&str> = raw.environments.keys().map(String::as_str).collect();
    for (name, svc) in &raw.services {
        let rollouts = rollout::resolve_per_env(
            c,
            &format!("services.{name}.rollout"),
            svc.rollout.as_ref(),
            &env_names,
            rollout::resolve_rollout,
        );
        let analyses = rollout::resolve_per_env(
            c,
            &format!("services.{name}.analysis"),
            svc.analysis.as_ref(),
            &env_names,
            rollout::resolve_analysis,
        );
        if let Some(mut s) = resolve_service(c, name, svc, &groups) {
            s.rollout = rollouts;
            s.analysis = analyses;
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
        warnings: Vec::new(),
    };
    check_unique_names(c, &manifest);
    check_dependencies(c, &manifest);
    Some(manifest)
}

/// `depends-on` names known services, never the service itself, and makes
/// no cycle (a release could never start one of them): each cycle is
/// reported once, with its services in order.
fn check_dependencies(c: &mut Checker<'_>, m: &Manifest) {
    for (name, s) in &m.services {
        for dep in &s.depends_on {
            if dep == name {
                c.at_value(
                    &format!("services.{name}.depends-on"),
                    format!("service `{name}` depends on itself"),
                    "remove it from its own depends-on".into(),
                );
            } else if !m.services.contains_key(dep) {
                c.at_value(
                    &format!("services.{name}.depends-on"),
                    format!(
                        "service `{name}` depends on `{dep}`, which the manifest does not declare"
                    ),
                    format!(
                        "name one of: {}",
                        listed(m.services.keys().map(String::as_str))
                    ),
                );
            }
        }
    }
    let graph: IndexMap<&str, Vec<&str>> = m
        .services
        .iter()
        .map(|(n, s)| {
            let deps = s
                .depends_on
                .iter()
                .map(String::as_str)
                .filter(|d| *d != n.as_str() && m.services.contains_key(*d))
                .collect();
            (n.as_str(), deps)
        })
        .collect();
    for cycle in crate::manifest::dependency_cycles(&graph) {
        let first = cycle[0];
        let mut names: Vec<&str> = cycle.iter().copied().take(LISTED).collect();
        names.push(if cycle.len() > LISTED { "…" } else { first });
        c.at_value(
            &format!("services.{first}.depends-on"),
            format!(
                "dependency cycle of {} services: {}",
                cycle.len(),
                names.join(" → ")
            ),
            "a release could never start any of them: remove one depends-on of the cycle".into(),
        );
    }
}

fn resolve_build(c: &mut Checker<'_>, raw: RawBuild) -> BuildSettings {
    let tag = raw.tag.unwrap_or_else(|| DEFAULT_TAG.into());
    for name in super::template::placeholders(&tag) {
        if !TAG_PLACEHOLDERS.contains(&name) {
            c.at_value(
                "build.tag",
                format!("unknown placeholder `{{{name}}}` in the tag template \"{tag}\""),
                format!("known placeholders: {}", TAG_PLACEHOLDERS.join(", ")),
            );
        }
    }
    if !tag.contains("{sha") && !tag.contains("{timestamp}") {
        c.at_value(
            "build.tag",
            format!("the tag template \"{tag}\" gives every build the same tag"),
            "include {sha7} or {timestamp}, e.g. {service}-{sha7}-{timestamp}".into(),
        );
    }
    if let Some(registry) = &raw.registry
        && let Err(why) = names::registry(registry.trim())
    {
        c.at_value(
            "build.registry",
            format!("{registry:?} is not a registry host: {why}"),
            "write host[:port], e.g. 123456789012.dkr.ecr.us-east-1.amazonaws.com, or http://127.0.0.1:5001 for a registry without TLS".into(),
        );
    }
    let parallel = match raw
        .parallel
        .map(|p| crate::inputs::parallel_count(p.into(), "build.parallel"))
    {
        None => 2,
        Some(Ok(n)) => n,
        Some(Err(refusal)) => {
            c.at_value(
                "build.parallel",
                refusal,
                "build 1 to 16 services at once (default 2)".into(),
            );
            2
        }
    };
    BuildSettings {
        registry: raw
            .registry
            .map(|r| r.trim().trim_end_matches('/').to_string()),
        tag,
        builder: raw.builder.unwrap_or_default(),
        parallel,
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
                let known = listed(raw.keys().map(String::as_str));
                let near = if c.suggestions_left > 0 {
                    c.suggestions_left -= 1;
                    suggest(raw.keys().map(String::as_str), from)
                } else {
                    None
                };
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

/// The prefix that names a path group in a service's `paths`.
const GROUP: &str = "group:";

/// A service's `paths` compiled, each `group:<name>` replaced by the
/// group's globs (already checked where the group is declared), each shown
/// as `<glob> (group:<name>)`. An unknown group is reported with the
/// nearest name.
fn service_paths(
    c: &mut Checker<'_>,
    at: &str,
    paths: &[String],
    groups: &IndexMap<String, Option<PathRules>>,
) -> Option<PathRules> {
    let mut rules = PathRules {
        globs: Vec::new(),
        matchers: Vec::new(),
    };
    let mut ok = true;
    for (i, p) in paths.iter().enumerate() {
        let Some(group) = p.strip_prefix(GROUP).map(str::trim) else {
            match c.globs_at(&[(format!("{at}[{i}]"), p.as_str())]) {
                Some(r) => {
                    rules.globs.extend(r.globs);
                    rules.matchers.extend(r.matchers);
                }
                None => ok = false,
            }
            continue;
        };
        match groups.get(group) {
            Some(Some(g)) => {
                rules.globs.extend(
                    g.globs
                        .iter()
                        .map(|text| format!("{text} ({GROUP}{group})")),
                );
                rules.matchers.extend(g.matchers.iter().cloned());
            }
            // Reported where the group is declared.
            Some(None) => ok = false,
            None => {
                ok = false;
                let near = if c.suggestions_left > 0 {
                    c.suggestions_left -= 1;
                    suggest(groups.keys().map(String::as_str), group)
                } else {
                    None
                };
                let help = match (near, groups.is_empty()) {
                    (Some(n), _) => format!("did you mean `{GROUP}{n}`?"),
                    (None, true) => format!(
                        "declare it under `path-groups:`, e.g. `path-groups: {{{group}: [libs/{group}/**]}}`"
                    ),
                    (None, false) => format!(
                        "the path groups are {}",
                        listed(groups.keys().map(String::as_str))
                    ),
                };
                c.at_value(
                    &format!("{at}[{i}]"),
                    format!("unknown path group `{group}`"),
                    help,
                );
            }
        }
    }
    ok.then_some(rules)
}

fn resolve_service(
    c: &mut Checker<'_>,
    name: &str,
    raw: &RawService,
    groups: &IndexMap<String, Option<PathRules>>,
) -> Option<Service> {
    let path = format!("services.{name}");
    if !valid_name(name) {
        c.at_key(
            &path,
            format!("service name \"{name}\" is not valid"),
            "use letters, digits, `-` and `_` only (it becomes part of ECS and ECR names)".into(),
        );
    }
    let default_paths = vec![format!("services/{name}/**")];
    let paths = service_paths(
        c,
        &format!("{path}.paths"),
        raw.paths.as_ref().unwrap_or(&default_paths),
        groups,
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
    let mut pending_paths = raw.pending_paths.clone().unwrap_or_default();
    let globs = raw.paths.as_ref().unwrap_or(&default_paths);
    for (i, pending) in pending_paths.iter().enumerate() {
        if !globs.contains(pending) {
            c.at_value(
                &format!("{path}.pending-paths[{i}]"),
                format!("pending path \"{pending}\" is not one of service `{name}`'s `paths`"),
                format!(
                    "`pending-paths` names globs of `paths` that may match no file yet; add it to `paths` or write it as there ({})",
                    listed(globs.iter().map(String::as_str))
                ),
            );
        }
    }
    // A pending `group:<name>` makes each of the group's globs pending.
    for shown in paths.iter().flat_map(|p| &p.globs) {
        if let Some((_, group)) = shown.rsplit_once(&format!(" ({GROUP}"))
            && pending_paths.contains(&format!("{GROUP}{}", group.trim_end_matches(')')))
        {
            pending_paths.push(shown.clone());
        }
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
                format!("{key} {value:?} must be a path inside the repository"),
                "write it relative to the repository root, without a leading `/` or `..`".into(),
            );
        } else if let Err(why) = names::repository_path(&value) {
            c.at_value(
                &format!("{path}.{key}"),
                format!("{key} {value:?} is not a usable path: {why}"),
                "rename the file, or write its path relative to the repository root".into(),
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
    let ecr_repository = match (&raw.image_repository, &raw.ecr_repository) {
        (Some(_), Some(_)) => {
            c.at_key(
                &format!("{path}.ecr-repository"),
                format!("{path} has both image-repository and ecr-repository"),
                "keep image-repository; ecr-repository is its old name".into(),
            );
            None
        }
        (None, Some(old)) => {
            let mut d = Diagnostic::new(
                c.file,
                format!("{path}.ecr-repository is deprecated: it is now image-repository (any registry, not only ECR)"),
            )
            .help("rename the key to image-repository; the value stays the same");
            if let Some(p) = c.positions.key(&format!("{path}.ecr-repository")) {
                d = d.at(p.line, p.column);
            }
            c.warnings.push(d);
            c.template(&format!("{path}.ecr-repository"), old, false)
        }
        (given, None) => c.template(
            &format!("{path}.image-repository"),
            given.as_deref().unwrap_or("{project}/{service}"),
            false,
        ),
    };
    if let Some(krate) = &raw.crate_name
        && let Err(why) = names::crate_name(krate)
    {
        c.at_value(
            &format!("{path}.crate"),
            format!("crate {krate:?} is not a Cargo package name: {why}"),
            "write the `name` of the service's Cargo.toml [package]".into(),
        );
    }
    let [dockerfile, context, task_definition]: [String; 3] = files.try_into().ok()?;
    Some(Service {
        name: name.to_string(),
        paths: paths?,
        pending_paths,
        crate_name: Some(raw.crate_name.clone().unwrap_or_else(|| name.to_string())),
        crate_explicit: raw.crate_name.is_some(),
        dockerfile,
        context,
        task_definition,
        ecs_service: ecs_service?,
        ecr_repository: ecr_repository?,
        rollout: IndexMap::new(),
        analysis: IndexMap::new(),
        depends_on: raw.depends_on.clone().unwrap_or_default(),
    })
}

/// Every rendered name must be one AWS and Docker accept, and two services
/// must not share an ECS service (per environment) or an ECR repository.
/// Each name is rendered once per (service, environment): linear in the
/// deployments the manifest declares. A name is reported once per service.
fn check_unique_names(c: &mut Checker<'_>, m: &Manifest) {
    for (env_name, env) in &m.environments {
        let first = m.services.keys().next().map_or("", String::as_str);
        let cluster = env.cluster.render(m.vars(first, env_name));
        if let Err(why) = names::ecs_name(&cluster) {
            c.at_value(
                &format!("environments.{env_name}.cluster"),
                format!("cluster {cluster:?} (environment `{env_name}`) is not an ECS cluster name: {why}"),
                "ECS cluster names have 1 to 255 letters, digits, `-` and `_`".into(),
            );
        }
    }
    let mut bad_ecs: std::collections::HashSet<&str> = std::collections::HashSet::new();
    for env in m.environments.keys() {
        let mut seen: HashMap<String, &str> = HashMap::new();
        for (name, svc) in &m.services {
            let rendered = svc.ecs_service.render(m.vars(name, env));
            if let Err(why) = names::ecs_name(&rendered) {
                if bad_ecs.insert(name) {
                    c.at_value(
                        &format!("services.{name}.ecs-service"),
                        format!("ECS service {rendered:?} (service `{name}` in `{env}`) is not an ECS service name: {why}"),
                        "ECS service names have 1 to 255 letters, digits, `-` and `_`, e.g. \"{project}-{env}-{service}\"".into(),
                    );
                }
                continue;
            }
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
        // The key the service wrote: image-repository, or its old name.
        let key = if c.positions.has(&format!("services.{name}.ecr-repository")) {
            format!("services.{name}.ecr-repository")
        } else {
            format!("services.{name}.image-repository")
        };
        if let Err(why) = names::ecr_repository(&rendered) {
            c.at_value(
                &key,
                format!("image repository {rendered:?} (service `{name}`) is not a repository name: {why}"),
                "repository names are lowercase, e.g. \"{project}/{service}\" with a lowercase project".into(),
            );
            continue;
        }
        if let Some(first) = seen.insert(rendered.clone(), name) {
            c.at_value(
                &key,
                format!(
                    "services `{first}` and `{name}` both push to the image repository \"{rendered}\""
                ),
                "give each service its own repository, e.g. \"{project}/{service}\"".into(),
            );
        }
        // The longest tag this service's builds can get.
        let tag = render_tag(&m.build.tag, name, &m.project);
        if let Err(why) = names::image_tag(&tag) {
            c.at_value(
                "build.tag",
                format!("the tag template {:?} gives service `{name}` the tag {tag:?}, which Docker refuses: {why}", m.build.tag),
                "tags have letters, digits, `_`, `.` and `-`, e.g. {service}-{sha7}-{timestamp}".into(),
            );
            break;
        }
    }
}

/// Checks `{path}.prometheus`, the base URL of a Prometheus (a gate's and
/// a canary analysis's): the one rule and message for both. The URL as
/// the clients use it (trimmed, without a trailing `/`).
fn prometheus_url<'t>(c: &mut Checker<'_>, path: &str, text: &'t str) -> &'t str {
    let url = text.trim().trim_end_matches('/');
    if let Err(why) = names::http_url(url) {
        c.at_value(
            &format!("{path}.prometheus"),
            format!("{text:?} is not a Prometheus URL: {why}"),
            "write its base URL, e.g. https://prometheus.example.com or http://127.0.0.1:9090"
                .into(),
        );
    }
    url
}

/// The tag `template` renders for `service`, with a full-length sha and
/// timestamp.
fn render_tag(template: &str, service: &str, project: &str) -> String {
    super::template::expand(template, |name| match name {
        "service" => Some(service),
        "project" => Some(project),
        "sha7" => Some("0123456"),
        "sha" => Some("0123456789abcdef0123456789abcdef01234567"),
        "timestamp" => Some("20260101000000"),
        _ => None,
    })
}
