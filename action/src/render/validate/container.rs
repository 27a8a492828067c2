//! The rules of one container definition: image, memory, ports, health
//! check, stop timeout, logging, the names it refers to, ulimits,
//! environment and secrets.

use std::collections::BTreeSet;

use super::{Launch, Problem, Report, Rules, each, object, one_of, problem, required};
use crate::taskdef::field::{Read, str_of, typed, u64_of};
use crate::taskdef::{ContainerDefinition, Maybe, Secret, TaskDefinition};
use serde_json::Number;

/// The drivers LogConfiguration.logDriver takes; Fargate takes three.
const LOG_DRIVERS: &[&str] = &[
    "json-file",
    "syslog",
    "journald",
    "gelf",
    "fluentd",
    "awslogs",
    "splunk",
    "awsfirelens",
];
const FARGATE_LOG_DRIVERS: &[&str] = &["awslogs", "splunk", "awsfirelens"];

/// The names other fields refer to.
pub(super) struct Refs<'a> {
    containers: BTreeSet<&'a str>,
    volumes: BTreeSet<&'a str>,
}

impl<'a> Refs<'a> {
    /// The names of the task's containers and volumes.
    pub(super) fn of(td: &'a TaskDefinition) -> Self {
        Self {
            containers: td.containers().filter_map(|c| str_of(&c.name)).collect(),
            volumes: typed(&td.volumes).filter_map(|v| str_of(&v.name)).collect(),
        }
    }
}

/// Every rule of one container.
pub(super) fn check(
    report: &mut Report,
    at: &str,
    c: &ContainerDefinition,
    launch: Launch,
    rules: Rules,
    refs: &Refs<'_>,
) {
    image(&mut report.problems, at, str_of(&c.image), rules);
    memory(report, at, c);
    let out = &mut report.problems;
    ports(out, at, c, launch);
    health_check(out, at, c);
    stop_timeout(out, at, &c.stop_timeout, launch);
    logging(out, at, c, launch);
    references(out, at, c, refs);
    for (j, u) in each(&c.ulimits) {
        let uat = format!("{at}.ulimits[{j}]");
        let rule = "Ulimit: name, softLimit and hardLimit are required";
        required(out, &uat, &u.name, "name", rule);
        required(out, &uat, &u.soft_limit, "softLimit", rule);
        required(out, &uat, &u.hard_limit, "hardLimit", rule);
    }
    variables(out, at, c);
    secrets(report, at, c);
}

fn memory(report: &mut Report, at: &str, c: &ContainerDefinition) {
    let res = u64_of(&c.memory_reservation);
    let mem = u64_of(&c.memory);
    if let (Some(res), Some(mem)) = (res, mem) {
        let rule = "ContainerDefinition.memoryReservation: if both are given, memory must be greater than memoryReservation";
        if res > mem {
            report.problems.push(
                problem(
                    format!("{at}.memoryReservation"),
                    format!("memoryReservation {res} is above memory {mem}"),
                    "make memoryReservation (soft limit) smaller than memory (hard limit)",
                )
                .rule(rule),
            );
        } else if res == mem {
            report.warnings.push(
                problem(
                    format!("{at}.memoryReservation"),
                    format!("memoryReservation {res} equals memory {mem}: the docs ask for less, but ECS registers it (the soft limit is then the hard limit)"),
                    "drop memoryReservation, or make it smaller than memory",
                )
                .rule(rule),
            );
        }
    }
    for (key, v) in [("memory", mem), ("memoryReservation", res)] {
        if let Some(v) = v.filter(|v| *v < 6) {
            report.problems.push(
                problem(
                    format!("{at}.{key}"),
                    format!("{key} {v} MiB is below the 6 MiB a container needs"),
                    format!("set {key} to 6 or more"),
                )
                .rule("ContainerDefinition.memory: Docker 20.10.0 or later reserves a minimum of 6 MiB"),
            );
        }
    }
}

fn ports(out: &mut Vec<Problem>, at: &str, c: &ContainerDefinition, launch: Launch) {
    for (j, p) in each(&c.port_mappings) {
        let pat = format!("{at}.portMappings[{j}]");
        let container_port = u64_of(&p.container_port);
        if let Some(host) = u64_of(&p.host_port)
            && launch.awsvpc
            && Some(host) != container_port
        {
            out.push(
                problem(
                    format!("{pat}.hostPort"),
                    format!(
                        "hostPort {host} differs from containerPort {container_port:?} under awsvpc"
                    ),
                    "drop hostPort or set it equal to containerPort",
                )
                .rule("PortMapping.hostPort: with awsvpc, hostPort must equal containerPort"),
            );
        }
        for (key, v) in [
            ("containerPort", &p.container_port),
            ("hostPort", &p.host_port),
        ] {
            if let Some(v) = v
                && v.typed().and_then(Number::as_u64).is_none_or(|v| v > 65535)
            {
                out.push(
                    problem(
                        format!("{pat}.{key}"),
                        format!("{key} {v} is not a port number"),
                        format!("set {key} between 0 and 65535"),
                    )
                    .rule("PortMapping: ports are 0 to 65535"),
                );
            }
        }
        one_of(
            out,
            &format!("{pat}.protocol"),
            p.protocol.as_ref(),
            &["tcp", "udp"],
            "PortMapping.protocol: tcp or udp",
        );
        one_of(
            out,
            &format!("{pat}.appProtocol"),
            p.app_protocol.as_ref(),
            &["http", "http2", "grpc"],
            "PortMapping.appProtocol: http, http2 or grpc",
        );
    }
}

fn health_check(out: &mut Vec<Problem>, at: &str, c: &ContainerDefinition) {
    let Some(hc) = object(&c.health_check) else {
        return;
    };
    let hat = format!("{at}.healthCheck");
    required(
        out,
        &hat,
        &hc.command,
        "command",
        "HealthCheck.command: required",
    );
    if let Some(first) = hc.command.typed().and_then(|a| a.first())
        && !matches!(
            first.typed().map(String::as_str),
            Some("CMD" | "CMD-SHELL" | "NONE")
        )
    {
        out.push(
            problem(
                format!("{hat}.command[0]"),
                format!("the health check command starts with {first}, not CMD or CMD-SHELL"),
                "start it with \"CMD-SHELL\" (run in the shell) or \"CMD\" (run directly)",
            )
            .rule("HealthCheck.command: the string array must start with CMD or CMD-SHELL"),
        );
    }
    for (key, v, lo, hi, rule) in [
        (
            "interval",
            &hc.interval,
            5,
            300,
            "HealthCheck.interval: 5 to 300 seconds",
        ),
        (
            "timeout",
            &hc.timeout,
            2,
            60,
            "HealthCheck.timeout: 2 to 60 seconds",
        ),
        (
            "retries",
            &hc.retries,
            1,
            10,
            "HealthCheck.retries: 1 to 10",
        ),
        (
            "startPeriod",
            &hc.start_period,
            0,
            300,
            "HealthCheck.startPeriod: 0 to 300 seconds",
        ),
    ] {
        if let Some(v) = v
            && !v
                .typed()
                .and_then(Number::as_u64)
                .is_some_and(|v| (lo..=hi).contains(&v))
        {
            out.push(
                problem(
                    format!("{hat}.{key}"),
                    format!("health check {key} {v} is outside {lo}-{hi}"),
                    format!("set {key} between {lo} and {hi}"),
                )
                .rule(rule),
            );
        }
    }
}

fn stop_timeout(out: &mut Vec<Problem>, at: &str, t: &Maybe<Number>, launch: Launch) {
    let Some(t) = t else { return };
    let limit = if launch.fargate {
        120
    } else {
        u64::from(u32::MAX)
    };
    if t.typed().and_then(Number::as_u64).is_none_or(|t| t > limit) {
        out.push(
            problem(
                format!("{at}.stopTimeout"),
                if launch.fargate {
                    format!("stopTimeout {t} is over Fargate's 120 seconds")
                } else {
                    format!("stopTimeout {t} is not a number of seconds")
                },
                "set stopTimeout to 120 or less",
            )
            .rule("ContainerDefinition.stopTimeout: at most 120 seconds on Fargate"),
        );
    }
}

fn logging(out: &mut Vec<Problem>, at: &str, c: &ContainerDefinition, launch: Launch) {
    if let Some(log) = object(&c.log_configuration) {
        let lat = format!("{at}.logConfiguration");
        required(
            out,
            &lat,
            &log.log_driver,
            "logDriver",
            "LogConfiguration.logDriver: required",
        );
        if log.log_driver.is_some() {
            one_of(
                out,
                &format!("{lat}.logDriver"),
                log.log_driver.as_ref(),
                if launch.fargate {
                    FARGATE_LOG_DRIVERS
                } else {
                    LOG_DRIVERS
                },
                "LogConfiguration.logDriver: json-file, syslog, journald, gelf, fluentd, awslogs, splunk or awsfirelens (Fargate: awslogs, splunk, awsfirelens)",
            );
        }
        for (j, s) in each(&log.secret_options) {
            secret_required(out, &format!("{lat}.secretOptions[{j}]"), &s);
        }
    }
    if let Some(f) = object(&c.firelens_configuration) {
        let fat = format!("{at}.firelensConfiguration");
        required(
            out,
            &fat,
            &f.r#type,
            "type",
            "FirelensConfiguration.type: required, fluentd or fluentbit",
        );
        if f.r#type.is_some() {
            one_of(
                out,
                &format!("{fat}.type"),
                f.r#type.as_ref(),
                &["fluentd", "fluentbit"],
                "FirelensConfiguration.type: fluentd or fluentbit",
            );
        }
    }
}

fn secret_required(out: &mut Vec<Problem>, sat: &str, s: &Secret) {
    required(out, sat, &s.name, "name", "Secret.name: required");
    required(
        out,
        sat,
        &s.value_from,
        "valueFrom",
        "Secret.valueFrom: required",
    );
}

/// Registry credentials, and the containers and volumes the container
/// names: dependencies, mount points, volumes from.
fn references(out: &mut Vec<Problem>, at: &str, c: &ContainerDefinition, refs: &Refs<'_>) {
    if let Some(r) = object(&c.repository_credentials) {
        required(
            out,
            &format!("{at}.repositoryCredentials"),
            &r.credentials_parameter,
            "credentialsParameter",
            "RepositoryCredentials.credentialsParameter: required",
        );
    }
    for (j, d) in each(&c.depends_on) {
        let dat = format!("{at}.dependsOn[{j}]");
        required(
            out,
            &dat,
            &d.container_name,
            "containerName",
            "ContainerDependency.containerName: required",
        );
        required(
            out,
            &dat,
            &d.condition,
            "condition",
            "ContainerDependency.condition: required",
        );
        one_of(
            out,
            &format!("{dat}.condition"),
            d.condition.as_ref(),
            &["START", "COMPLETE", "SUCCESS", "HEALTHY"],
            "ContainerDependency.condition: START, COMPLETE, SUCCESS or HEALTHY",
        );
        if let Some(name) = str_of(&d.container_name)
            && !refs.containers.contains(name)
        {
            out.push(
                problem(
                    format!("{dat}.containerName"),
                    format!("dependsOn names container {name:?}, which the task definition does not have"),
                    format!("name one of its containers: {}", refs.containers.iter().copied().collect::<Vec<_>>().join(", ")),
                )
                .rule("ContainerDependency.containerName: a container of the task definition"),
            );
        }
    }
    for (j, m) in each(&c.mount_points) {
        if let Some(name) = str_of(&m.source_volume)
            && !refs.volumes.contains(name)
        {
            out.push(
                problem(
                    format!("{at}.mountPoints[{j}].sourceVolume"),
                    format!("mountPoints names volume {name:?}, which the task definition does not declare"),
                    "declare it in volumes, or name one that is there",
                )
                .rule("MountPoint.sourceVolume: must match the name of a volume of the task definition"),
            );
        }
    }
    for (j, v) in each(&c.volumes_from) {
        if let Some(name) = str_of(&v.source_container)
            && !refs.containers.contains(name)
        {
            out.push(
                problem(
                    format!("{at}.volumesFrom[{j}].sourceContainer"),
                    format!("volumesFrom names container {name:?}, which the task definition does not have"),
                    "name one of its containers",
                )
                .rule("VolumeFrom.sourceContainer: a container of the task definition"),
            );
        }
    }
}

/// One definition per variable, across environment and secrets.
fn variables(out: &mut Vec<Problem>, at: &str, c: &ContainerDefinition) {
    let mut seen = BTreeSet::new();
    let env = each(&c.environment).map(|(j, e)| (format!("{at}.environment[{j}]"), e.name.clone()));
    let secrets = each(&c.secrets).map(|(j, s)| (format!("{at}.secrets[{j}]"), s.name.clone()));
    for (path, name) in env.chain(secrets) {
        if let Some(name) = str_of(&name)
            && !seen.insert(name.to_string())
        {
            out.push(
                problem(
                    path,
                    format!(
                        "environment variable {name} is defined twice (environment or secrets)"
                    ),
                    format!("keep one definition of {name}"),
                )
                .rule("ContainerDefinition.environment and secrets: one definition per variable"),
            );
        }
    }
}

fn secrets(report: &mut Report, at: &str, c: &ContainerDefinition) {
    for (j, s) in each(&c.secrets) {
        let sat = format!("{at}.secrets[{j}]");
        secret_required(&mut report.problems, &sat, &s);
        let from = str_of(&s.value_from).unwrap_or("");
        let arn = from.starts_with("arn:aws")
            && (from.contains(":secretsmanager:") || from.contains(":ssm:"));
        // ECS takes a parameter's name too, with or without a leading `/`.
        let name_chars = !from.starts_with("arn:")
            && from
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "_.-/".contains(c));
        let ssm_path = from.starts_with('/') && from.len() > 1 && name_chars;
        let fine = from.trim().is_empty() || arn || ssm_path;
        if !fine && name_chars {
            report.warnings.push(
                problem(
                    format!("{sat}.valueFrom"),
                    format!("secret valueFrom {from:?} is not a Secrets Manager or SSM parameter ARN: ECS reads it as the name of an SSM parameter in the task's region, which it accepts though the docs ask for an ARN"),
                    "use the parameter's ARN (arn:aws:ssm:...) or the secret's (arn:aws:secretsmanager:...) to say which one",
                )
                .rule("Secret.valueFrom: the secret's ARN, or the SSM parameter's ARN or (same region) name"),
            );
        } else if !fine {
            report.problems.push(
                problem(
                    format!("{sat}.valueFrom"),
                    format!("secret valueFrom {from:?} is not a Secrets Manager or SSM parameter ARN, nor a parameter name"),
                    "use the secret's ARN (arn:aws:secretsmanager:...), the parameter's (arn:aws:ssm:...) or its name (letters, digits, _ . - /)",
                )
                .rule("Secret.valueFrom: the secret's ARN, or the SSM parameter's ARN or (same region) name"),
            );
        }
    }
}

fn image(out: &mut Vec<Problem>, at: &str, image: Option<&str>, rules: Rules) {
    let image = image.unwrap_or("").trim();
    if image.is_empty() {
        out.push(
            problem(
                format!("{at}.image"),
                "the image is empty",
                "pass --image URI (ext-str IMAGE), or IMAGE_TAG and IMAGE_REPOSITORY",
            )
            .rule("ContainerDefinition.image: required"),
        );
        return;
    }
    let last = image.rsplit('/').next().unwrap_or(image);
    let untagged = !last.contains(':') && !image.contains('@');
    if rules.production && (last.ends_with(":latest") || untagged) {
        out.push(
            problem(
                format!("{at}.image"),
                format!("image {image} is :latest in production"),
                "deploy an immutable tag or digest, e.g. the `image` output of ferry build",
            )
            .rule("Ferry: an immutable image in production"),
        );
    }
}
