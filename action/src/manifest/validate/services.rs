//! The `path-groups:` and `services:` sections: each group's globs, and each
//! service's paths (with `group:` groups and pending paths), files, ECS
//! service and image repository names, rollout, analysis and schedule.

use indexmap::IndexMap;

use super::super::names;
use super::super::raw::RawService;
use super::super::template::Template;
use super::super::{PathRules, Service};
use super::{Checker, listed, rollout, tasks};
use crate::diagnostic::Diagnostic;

/// The prefix that names a path group in a service's `paths`.
pub(super) const GROUP: &str = "group:";

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
                let near = c.suggest(groups.keys().map(String::as_str), group);
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

/// One service, checked; None when it has a problem (reported).
fn resolve_service(
    c: &mut Checker<'_>,
    name: &str,
    raw: &RawService,
    groups: &IndexMap<String, Option<PathRules>>,
) -> Option<Service> {
    let path = format!("services.{name}");
    c.declared_name(
        &path,
        "service",
        name,
        " (it becomes part of ECS and ECR names)",
    );
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
    let pending_paths = pending_paths(c, &path, name, raw, &default_paths, paths.as_ref());
    let [dockerfile, context, task_definition] = service_files(c, &path, name, raw);
    let ecs_service = c.template(
        &format!("{path}.ecs-service"),
        raw.ecs_service
            .as_deref()
            .unwrap_or("{project}-{env}-{service}"),
        true,
    );
    let ecr_repository = image_repository(c, &path, raw);
    let service_connect = service_connect(c, &path, raw);
    if let Some(krate) = &raw.crate_name
        && let Err(why) = names::crate_name(krate)
    {
        c.at_value(
            &format!("{path}.crate"),
            format!("crate {krate:?} is not a Cargo package name: {why}"),
            "write the `name` of the service's Cargo.toml [package]".into(),
        );
    }
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
        service_connect: service_connect?,
        schedule: IndexMap::new(),
        before_deploy: IndexMap::new(),
        after_deploy: IndexMap::new(),
    })
}

/// Whether `name` is a port mapping name ECS takes: up to 64 lowercase
/// letters, digits, `_` and `-`, not starting with `-`.
fn port_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 64
        && !name.starts_with('-')
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-')
}

/// `service-connect`: a list of distinct port names; None when it has a
/// problem (reported).
fn service_connect(c: &mut Checker<'_>, path: &str, raw: &RawService) -> Option<Vec<String>> {
    let Some(names) = &raw.service_connect else {
        return Some(Vec::new());
    };
    let at = format!("{path}.service-connect");
    if names.is_empty() {
        c.at_value(
            &at,
            "`service-connect` is an empty list".into(),
            "list the port names the service's Service Connect configuration serves, e.g. [http], or remove the key".into(),
        );
        return None;
    }
    let mut ok = true;
    for (i, name) in names.iter().enumerate() {
        if !port_name(name) {
            c.at_value(
                &format!("{at}[{i}]"),
                format!("{name:?} is no port mapping name"),
                "write the portMappings[].name the service's Service Connect serves: up to 64 lowercase letters, digits, `_` and `-`, not starting with `-` (e.g. http)".into(),
            );
            ok = false;
        } else if names[..i].contains(name) {
            c.at_value(
                &format!("{at}[{i}]"),
                format!("port name `{name}` is listed twice"),
                "list each port name once".into(),
            );
            ok = false;
        }
    }
    ok.then(|| names.clone())
}

/// The declared `path-groups:`, each compiled (None when it has a problem,
/// reported here, so a service naming it adds no second message).
pub(super) fn path_groups(
    c: &mut Checker<'_>,
    raw: &IndexMap<String, Vec<String>>,
) -> IndexMap<String, Option<PathRules>> {
    let mut groups: IndexMap<String, Option<PathRules>> = IndexMap::new();
    for (name, globs) in raw {
        let at = format!("path-groups.{name}");
        c.declared_name(&at, "path group", name, "");
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
    groups
}

/// Every service of `services:`, with its per-environment rollout and
/// analysis; a service with a problem is left out (the problem is reported).
pub(super) fn resolve_services(
    c: &mut Checker<'_>,
    raw: &IndexMap<String, RawService>,
    env_names: &[&str],
    groups: &IndexMap<String, Option<PathRules>>,
) -> IndexMap<String, Service> {
    let mut services = IndexMap::new();
    for (name, svc) in raw {
        let rollouts = rollout::resolve_per_env(
            c,
            &format!("services.{name}.rollout"),
            svc.rollout.as_ref(),
            env_names,
            rollout::resolve_rollout,
        );
        let analyses = rollout::resolve_per_env(
            c,
            &format!("services.{name}.analysis"),
            svc.analysis.as_ref(),
            env_names,
            rollout::resolve_analysis,
        );
        let schedules = rollout::resolve_per_env(
            c,
            &format!("services.{name}.schedule"),
            svc.schedule.as_ref(),
            env_names,
            super::schedule::resolve_schedule,
        );
        let (before, after) = tasks::resolve_tasks(c, name, svc, env_names);
        if let Some(mut s) = resolve_service(c, name, svc, groups) {
            s.rollout = rollouts;
            s.analysis = analyses;
            s.schedule = schedules;
            (s.before_deploy, s.after_deploy) = (before, after);
            services.insert(name.clone(), s);
        }
    }
    services
}

/// The service's `pending-paths`, each one of its `paths`; a pending
/// `group:<name>` makes each of the group's globs (as `paths` shows them)
/// pending.
fn pending_paths(
    c: &mut Checker<'_>,
    path: &str,
    name: &str,
    raw: &RawService,
    default_paths: &[String],
    paths: Option<&PathRules>,
) -> Vec<String> {
    let mut pending_paths = raw.pending_paths.clone().unwrap_or_default();
    let globs = raw.paths.as_deref().unwrap_or(default_paths);
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
    for shown in paths.iter().flat_map(|p| &p.globs) {
        if let Some((_, group)) = shown.rsplit_once(&format!(" ({GROUP}"))
            && pending_paths.contains(&format!("{GROUP}{}", group.trim_end_matches(')')))
        {
            pending_paths.push(shown.clone());
        }
    }
    pending_paths
}

/// The service's `dockerfile`, `context` and `task-definition` (each its
/// default when unset), each a path inside the repository.
fn service_files(c: &mut Checker<'_>, path: &str, name: &str, raw: &RawService) -> [String; 3] {
    [
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
    ]
    .map(|(key, value, default)| {
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
        value
    })
}

/// The service's image repository template: `image-repository`, or its
/// deprecated name `ecr-repository` (a warning), never both.
fn image_repository(c: &mut Checker<'_>, path: &str, raw: &RawService) -> Option<Template> {
    match (&raw.image_repository, &raw.ecr_repository) {
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
    }
}
