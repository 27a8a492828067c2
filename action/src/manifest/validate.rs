//! From YAML text to a checked [`Manifest`], collecting every problem.

use std::path::Path;

use super::glob::PathGlob;
use super::names;
use super::raw::{RawBuild, RawManifest};
use super::template::{Template, suggest};
use super::yaml::{self, Positions};
use super::{BuildSettings, DEFAULT_TAG, Manifest, PathRules, TAG_PLACEHOLDERS};
use crate::diagnostic::{Diagnostic, Diagnostics};
use environments::resolve_environments;
use keys::{help_for_serde, plain_types, unknown_keys};
use services::{path_groups, resolve_services};
use whole::{check_dependencies, check_unique_names};

mod environments;
mod keys;
mod rollout;
mod schedule;
mod services;
mod tasks;
mod whole;

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

    /// The name a section declares (`<what> <name>:` at `path`), checked
    /// as [`valid_name`]; `why` ends the help.
    fn declared_name(&mut self, path: &str, what: &str, name: &str, why: &str) {
        if !valid_name(name) {
            self.at_key(
                path,
                format!("{what} name \"{name}\" is not valid"),
                format!("use letters, digits, `-` and `_` only{why}"),
            );
        }
    }

    /// The name of `names` nearest `wanted`, while the manifest's
    /// [`SUGGESTIONS`] last; None after.
    fn suggest<'n>(
        &mut self,
        names: impl IntoIterator<Item = &'n str>,
        wanted: &str,
    ) -> Option<&'n str> {
        if self.suggestions_left == 0 {
            return None;
        }
        self.suggestions_left -= 1;
        suggest(names, wanted)
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
    let groups = path_groups(c, &raw.path_groups);
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
    let env_names: Vec<&str> = raw.environments.keys().map(String::as_str).collect();
    let services = resolve_services(c, &raw.services, &env_names, &groups);
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
