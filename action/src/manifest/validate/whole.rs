//! Checks across the resolved manifest: every rendered name valid for AWS
//! and Docker and unique, and `depends-on` naming known services, no cycle.

use std::collections::HashMap;

use indexmap::IndexMap;

use super::super::{Manifest, names};
use super::{Checker, LISTED, listed};
use crate::text::quote;

/// `depends-on` names known services, never the service itself, and makes
/// no cycle (a release could never start one of them): each cycle is
/// reported once, with its services in order.
pub(super) fn check_dependencies(c: &mut Checker<'_>, m: &Manifest) {
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

/// Every rendered name must be one AWS and Docker accept, and two services
/// must not share an ECS service (per environment) or an ECR repository.
/// Each name is rendered once per (service, environment): linear in the
/// deployments the manifest declares. A name is reported once per service.
pub(super) fn check_unique_names(c: &mut Checker<'_>, m: &Manifest) {
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
                format!("the tag template {} gives service `{name}` the tag {}, which Docker refuses: {why}", quote(&m.build.tag), quote(&tag)),
                "tags have letters, digits, `_`, `.` and `-`, e.g. {service}-{sha7}-{timestamp}".into(),
            );
            break;
        }
    }
}

/// The tag `template` renders for `service`, with a full-length sha and
/// timestamp.
fn render_tag(template: &str, service: &str, project: &str) -> String {
    super::super::template::expand(template, |name| match name {
        "service" => Some(service),
        "project" => Some(project),
        "sha7" => Some("0123456"),
        "sha" => Some("0123456789abcdef0123456789abcdef01234567"),
        "timestamp" => Some("20260101000000"),
        _ => None,
    })
}
