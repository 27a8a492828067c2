//! The decision of preflight over plain data: each [`Reference`] against
//! the [`Facts`] the lookups collected, every problem at once, each naming
//! its field and the fix. A lookup that failed is a problem too (preflight
//! fails closed), except the pass-role simulation, which not every account
//! or stand-in allows: that one is a note.

use std::collections::{BTreeMap, BTreeSet};

use super::references::{Kind, ParameterRef, Reference, SecretRef};
use crate::aws::preflight::{Looked, SecretFacts, ServiceFacts};
use crate::text::quote;

/// What the lookups found, keyed by what each looked up.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Facts {
    /// Secrets by (region, id).
    pub secrets: BTreeMap<(String, String), Looked<SecretFacts>>,
    /// Parameters by (region, name); [`Looked::Found`] when it exists.
    pub parameters: BTreeMap<(String, String), Looked<()>>,
    /// Roles by name: their ARN.
    pub roles: BTreeMap<String, Looked<String>>,
    /// Whether the run's principal may pass each role; `Err` when it could
    /// not be simulated (why); `None` when no role exists to pass.
    pub pass: Option<Result<Passing, String>>,
    /// Images by reference.
    pub images: BTreeMap<String, Looked<()>>,
    /// Log groups by (region, group).
    pub log_groups: BTreeMap<(String, String), Looked<()>>,
    /// Clusters: their status.
    pub clusters: BTreeMap<String, Looked<String>>,
    /// Services by (cluster, service): their status.
    pub services: BTreeMap<(String, String), Looked<String>>,
    /// What DescribeServices said of each service found, by (cluster,
    /// service): its network configuration and Service Connect ports.
    pub networks: BTreeMap<(String, String), ServiceFacts>,
    /// The subnets those name, by id.
    pub subnets: BTreeMap<String, Looked<()>>,
    /// The security groups those name, by id.
    pub security_groups: BTreeMap<String, Looked<()>>,
}

/// The pass-role simulation's answer.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Passing {
    /// The principal simulated (the run's role or user).
    pub principal: String,
    /// Whether it may pass each role, by ARN.
    pub allowed: BTreeMap<String, bool>,
}

/// One thing that would make the deploy fail, and what to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// The manifest's service.
    pub service: String,
    /// The field that names it.
    pub field: String,
    /// What is wrong.
    pub message: String,
    /// How to fix it.
    pub fix: String,
}

/// What preflight found: the problems (the deploy must not start) and the
/// notes (what was not or could not be checked).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Findings {
    /// Every problem, in the order of the references.
    pub problems: Vec<Problem>,
    /// What was not checked, and why.
    pub notes: Vec<String>,
    /// How many references were checked.
    pub checked: usize,
}

/// The message of a lookup that failed.
fn failed(what: &str, error: &str) -> (String, String) {
    (
        format!("{what} could not be checked: {error}"),
        "give the role preflight runs with read access to it (the README's \"Preflight\" lists the permissions), or retry".into(),
    )
}

fn secret(r: &SecretRef, facts: &Facts) -> Option<(String, String)> {
    let what = format!("the Secrets Manager secret {}", quote(&r.id));
    match facts.secrets.get(&(r.region.clone(), r.id.clone()))? {
        Looked::Missing => Some((
            format!("{what} does not exist in {}", r.region),
            "create it (Terraform: aws_secretsmanager_secret), or correct the ARN".into(),
        )),
        Looked::Failed(e) => Some(failed(&what, e)),
        Looked::Found(s) if s.deleted => Some((
            format!("{what} is scheduled for deletion"),
            "restore it (aws secretsmanager restore-secret), or point at another secret".into(),
        )),
        Looked::Found(s) => {
            if let Some(stage) = &r.version_stage
                && !s.versions.values().flatten().any(|l| l == stage)
            {
                return Some((
                    format!("{what} has no version labelled {}", quote(stage)),
                    "label a version with it, or remove the version-stage suffix".into(),
                ));
            }
            if let Some(id) = &r.version_id
                && !s.versions.contains_key(id)
            {
                return Some((
                    format!("{what} has no version {}", quote(id)),
                    "correct the version-id suffix, or remove it to follow AWSCURRENT".into(),
                ));
            }
            None
        }
    }
}

fn parameter(r: &ParameterRef, facts: &Facts) -> Option<(String, String)> {
    let what = format!("the SSM parameter {}", quote(&r.name));
    match facts.parameters.get(&(r.region.clone(), r.name.clone()))? {
        Looked::Found(()) => None,
        Looked::Missing => Some((
            format!("{what} does not exist in {}", r.region),
            "create it (Terraform: aws_ssm_parameter), or correct the name (a name with a `/` starts with one)".into(),
        )),
        Looked::Failed(e) => Some(failed(&what, e)),
    }
}

/// An IAM role: it exists, under this very ARN, and the deploy role may
/// pass it (when the simulation ran).
fn role(arn: &str, name: &str, facts: &Facts) -> Option<(String, String)> {
    match facts.roles.get(name) {
        None => None,
        Some(Looked::Missing) => Some((
            format!("the IAM role {} does not exist", quote(name)),
            "create it (Terraform), or correct the ARN".into(),
        )),
        Some(Looked::Failed(e)) => Some(failed(&format!("the IAM role {}", quote(name)), e)),
        Some(Looked::Found(real)) if !real.is_empty() && real != arn => Some((
            format!(
                "names {}, but the role {} is {}",
                quote(arn),
                quote(name),
                quote(real)
            ),
            format!("use {real} (the account and the path must match)"),
        )),
        Some(Looked::Found(_)) => match &facts.pass {
            Some(Ok(Passing { principal, allowed })) if allowed.get(arn) == Some(&false) => Some((
                format!(
                    "{} may not pass the role {} (iam:PassRole is denied)",
                    quote(principal),
                    quote(name)
                ),
                format!("allow iam:PassRole on {arn} in the deploy role's policy"),
            )),
            _ => None,
        },
    }
}

/// An image: in its registry.
fn registry_image(image: &str, facts: &Facts) -> Option<(String, String)> {
    match facts.images.get(image) {
        None | Some(Looked::Found(())) => None,
        Some(Looked::Missing) => Some((
            format!("the image {} is not in its registry", quote(image)),
            "build and push it (ferry build), or correct the image reference".into(),
        )),
        Some(Looked::Failed(e)) => Some(failed(&format!("the image {}", quote(image)), e)),
    }
}

/// A log group: it exists, or the log driver creates it.
fn log_group(region: &str, group: &str, created: bool, facts: &Facts) -> Option<(String, String)> {
    match facts.log_groups.get(&(region.to_string(), group.to_string())) {
        None | Some(Looked::Found(())) => None,
        Some(Looked::Missing) if created => None,
        Some(Looked::Missing) => Some((
            format!(
                "the log group {} does not exist in {region}, and awslogs-create-group is not \"true\"",
                quote(group)
            ),
            "create it (Terraform: aws_cloudwatch_log_group), or set awslogs-create-group to \"true\" (the execution role then needs logs:CreateLogGroup)".into(),
        )),
        Some(Looked::Failed(e)) => {
            Some(failed(&format!("the log group {}", quote(group)), e))
        }
    }
}

/// An ECS cluster: it exists and is ACTIVE.
fn ecs_cluster(cluster: &str, facts: &Facts) -> Option<(String, String)> {
    match facts.clusters.get(cluster) {
        None => None,
        Some(Looked::Found(s)) if s == "ACTIVE" => None,
        Some(Looked::Found(s)) => Some((
            format!("the ECS cluster {} is {s}, not ACTIVE", quote(cluster)),
            "create it again (Terraform), or correct the environment's cluster".into(),
        )),
        Some(Looked::Missing) => Some((
            format!("the ECS cluster {} does not exist", quote(cluster)),
            "create it (Terraform), or correct the environment's cluster in the manifest".into(),
        )),
        Some(Looked::Failed(e)) => Some(failed(&format!("the ECS cluster {}", quote(cluster)), e)),
    }
}

/// An ECS service: it exists in its (ACTIVE) cluster and is ACTIVE; a
/// missing cluster is reported once, on its own line.
fn ecs_service(cluster: &str, service: &str, facts: &Facts) -> Option<(String, String)> {
    let cluster_ok = matches!(facts.clusters.get(cluster), Some(Looked::Found(s)) if s == "ACTIVE");
    match facts
        .services
        .get(&(cluster.to_string(), service.to_string()))
    {
        // A missing cluster is reported once, on its own line.
        _ if !cluster_ok => None,
        None => None,
        Some(Looked::Found(s)) if s == "ACTIVE" => None,
        Some(Looked::Found(s)) => Some((
            format!(
                "the ECS service {} in {} is {s}, not ACTIVE",
                quote(service),
                quote(cluster)
            ),
            "create it again (Terraform), or correct ecs-service in the manifest".into(),
        )),
        Some(Looked::Missing) => Some((
            format!(
                "the ECS service {} does not exist in {}",
                quote(service),
                quote(cluster)
            ),
            "create it (Terraform) first, or correct ecs-service in the manifest".into(),
        )),
        Some(Looked::Failed(e)) => Some(failed(&format!("the ECS service {}", quote(service)), e)),
    }
}

/// A problem of a service's own configuration: the field, what, the fix.
type Found = (String, String, String);

/// The subnets and security groups of a service's network configuration
/// (where its tasks and a release's one-off tasks run): each exists.
/// Returns the problems and how many were checked.
fn service_network(service: &str, net: &ServiceFacts, facts: &Facts) -> (Vec<Found>, usize) {
    let mut out = Vec::new();
    let lists = [
        (
            "subnets",
            "subnet",
            &net.subnets,
            &facts.subnets,
            "aws_subnet",
        ),
        (
            "securityGroups",
            "security group",
            &net.security_groups,
            &facts.security_groups,
            "aws_security_group",
        ),
    ];
    let mut checked = 0;
    for (key, what, ids, looked, resource) in lists {
        for (i, id) in ids.iter().enumerate() {
            checked += 1;
            let field = format!("ecs-service networkConfiguration.awsvpcConfiguration.{key}[{i}]");
            let name = format!("the {what} {}", quote(id));
            match looked.get(id) {
                None | Some(Looked::Found(())) => {}
                Some(Looked::Missing) => out.push((
                    field,
                    format!(
                        "{name} of the ECS service {}'s network configuration does not exist: its tasks (and one-off tasks) cannot start",
                        quote(service)
                    ),
                    format!(
                        "create it (Terraform: {resource}), or correct the service's network_configuration (Terraform: aws_ecs_service) and apply it"
                    ),
                )),
                Some(Looked::Failed(e)) => {
                    let (message, fix) = failed(&name, e);
                    out.push((field, message, fix));
                }
            }
        }
    }
    (out, checked)
}

/// The port names the service's Service Connect serves: each is the name
/// of a port mapping of the task definition deployed (else ECS refuses the
/// deployment).
fn service_connect(service: &str, ports: &[String], net: &ServiceFacts) -> Vec<Found> {
    let Some(connect) = &net.connect_ports else {
        return Vec::new();
    };
    super::connect::missing(ports, connect)
        .into_iter()
        .map(|name| {
            (
                "containerDefinitions[].portMappings[].name".to_string(),
                format!(
                    "the ECS service {} serves the Service Connect port name {}, which no port mapping of the task definition has ({})",
                    quote(service),
                    quote(&name),
                    super::connect::names_text(ports)
                ),
                format!(
                    "name the port mapping {} in the task definition (portMappings[].name), or change the service's service_connect_configuration (Terraform) and the manifest's service-connect to match",
                    quote(&name)
                ),
            )
        })
        .collect()
}

/// The one decision: each reference against the facts.
pub fn evaluate(references: &[Reference], facts: &Facts) -> Findings {
    let mut findings = Findings {
        checked: references.len(),
        ..Findings::default()
    };
    let mut noted_selectors = BTreeSet::new();
    let mut clusters_seen = BTreeSet::new();
    for r in references {
        let problem: Option<(String, String)> = match &r.kind {
            Kind::Secret(s) => {
                if s.json_key.is_some() && noted_selectors.insert(s.id.clone()) {
                    findings.notes.push(format!(
                        "{}: {}: the JSON key is not checked (that would read the secret's value)",
                        r.service, r.field
                    ));
                }
                secret(s, facts)
            }
            Kind::Parameter(p) => {
                if let Some(sel) = &p.selector
                    && noted_selectors.insert(p.name.clone())
                {
                    findings.notes.push(format!(
                        "{}: {}: the parameter exists; its version or label {} is not checked",
                        r.service,
                        r.field,
                        quote(sel)
                    ));
                }
                parameter(p, facts)
            }
            Kind::BadValueFrom { value, why } => Some((
                format!("{} is no secret reference: {why}", quote(value)),
                "write a Secrets Manager ARN (arn:aws:secretsmanager:REGION:ACCOUNT:secret:NAME, optionally :json-key:version-stage:version-id), an SSM parameter ARN, or a parameter name".into(),
            )),
            Kind::BadRole { value } => Some((
                format!("{} is no IAM role ARN", quote(value)),
                "write arn:aws:iam::ACCOUNT:role/NAME (Terraform's role ARN output)".into(),
            )),
            Kind::Role { arn, name } => role(arn, name, facts),
            Kind::Image(image) => {
                if super::references::image(image).is_ok_and(|i| !i.pinned) {
                    findings.notes.push(format!(
                        "{}: {}: {} is pinned to no digest: checked by its tag, which may move",
                        r.service,
                        r.field,
                        quote(image)
                    ));
                }
                registry_image(image, facts)
            }
            Kind::LogGroup {
                region,
                group,
                created,
            } => log_group(region, group, *created, facts),
            // A cluster's problem once, whatever the number of its services.
            Kind::Cluster(cluster) if !clusters_seen.insert(cluster.clone()) => None,
            Kind::Cluster(cluster) => ecs_cluster(cluster, facts),
            Kind::Service {
                cluster, service, ..
            } => ecs_service(cluster, service, facts),
        };
        if let Some((message, fix)) = problem {
            findings.problems.push(Problem {
                service: r.service.clone(),
                field: r.field.clone(),
                message,
                fix,
            });
        }
        // A service found: where its tasks run, and its Service Connect.
        if let Kind::Service {
            cluster,
            service,
            ports,
        } = &r.kind
            && let Some(net) = facts.networks.get(&(cluster.clone(), service.clone()))
        {
            let (mut found, checked) = service_network(service, net, facts);
            findings.checked += checked + usize::from(net.connect_ports.is_some());
            found.extend(service_connect(service, ports, net));
            findings
                .problems
                .extend(found.into_iter().map(|(field, message, fix)| Problem {
                    service: r.service.clone(),
                    field,
                    message,
                    fix,
                }));
        }
    }
    if let Some(Err(why)) = &facts.pass {
        findings.notes.push(format!(
            "iam:PassRole was not simulated (the roles' existence was checked): {why}"
        ));
    }
    findings
}
