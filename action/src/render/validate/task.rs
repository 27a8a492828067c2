//! The task-level rules: launch type and network mode, task size, the
//! container list as a whole, volumes, tags, proxy and placement.

use std::borrow::Cow;
use std::collections::BTreeSet;

use super::{Launch, Problem, each, name_rule, object, one_of, problem, required};
use crate::render::fargate::{CPUS, memory_for_cpu};
use crate::taskdef::field::{Read, str_of, u64_of};
use crate::taskdef::{ContainerDefinition, TaskDefinition, Units};

/// The family's name, the launch type, the network, pid and ipc modes.
pub(super) fn launch(out: &mut Vec<Problem>, td: &TaskDefinition) -> Launch {
    name_rule(out, "family", str_of(&td.family), "family");
    for (i, c) in td
        .requires_compatibilities
        .typed()
        .into_iter()
        .flatten()
        .enumerate()
    {
        one_of(
            out,
            &format!("requiresCompatibilities[{i}]"),
            Some(c),
            &["EC2", "FARGATE", "EXTERNAL", "MANAGED_INSTANCES"],
            "TaskDefinition.requiresCompatibilities: EC2, FARGATE, EXTERNAL or MANAGED_INSTANCES",
        );
    }
    let fargate =
        crate::taskdef::field::typed(&td.requires_compatibilities).any(|c| c == "FARGATE");
    one_of(
        out,
        "networkMode",
        td.network_mode.as_ref(),
        &["bridge", "host", "awsvpc", "none"],
        "TaskDefinition.networkMode: none, bridge, awsvpc or host",
    );
    let awsvpc = str_of(&td.network_mode) == Some("awsvpc");
    if fargate && !awsvpc {
        out.push(
            problem(
                "networkMode",
                "Fargate tasks need networkMode awsvpc",
                "set networkMode: 'awsvpc'",
            )
            .rule("TaskDefinition.networkMode: awsvpc on Fargate"),
        );
    }
    one_of(
        out,
        "pidMode",
        td.pid_mode.as_ref(),
        if fargate {
            &["task"]
        } else {
            &["host", "task"]
        },
        "TaskDefinition.pidMode: host or task (task only on Fargate)",
    );
    if fargate && td.ipc_mode.is_some() {
        out.push(
            problem("ipcMode", "Fargate tasks take no ipcMode", "remove ipcMode")
                .rule("TaskDefinition.ipcMode: not supported on Fargate"),
        );
    } else {
        one_of(
            out,
            "ipcMode",
            td.ipc_mode.as_ref(),
            &["host", "task", "none"],
            "TaskDefinition.ipcMode: host, task or none",
        );
    }
    Launch { awsvpc, fargate }
}

/// The task's cpu units and memory (MiB), checked against Fargate's sizes.
pub(super) fn size(
    out: &mut Vec<Problem>,
    td: &TaskDefinition,
    fargate: bool,
) -> (Option<u64>, Option<u64>) {
    let cpu_units = td.cpu.typed().and_then(Units::units);
    let mem = td.memory.typed().and_then(Units::units);
    if !fargate {
        return (cpu_units, mem);
    }
    let rule =
        "TaskDefinition.cpu and memory: required on Fargate, in the documented cpu/memory pairs";
    match (cpu_units, mem) {
        (Some(c), Some(m)) => match memory_for_cpu(c) {
            None => out.push(
                problem(
                    "cpu",
                    format!("task cpu {c} is not a Fargate size"),
                    format!("use one of {CPUS:?}"),
                )
                .rule(rule),
            ),
            Some(allowed) if !allowed.contains(&m) => out.push(
                problem(
                    "memory",
                    format!("task memory {m} MiB does not go with cpu {c} on Fargate"),
                    format!("with cpu {c} use memory {}", list(&allowed)),
                )
                .rule(rule),
            ),
            Some(_) => {}
        },
        _ => out.push(
            problem(
                "cpu",
                "a Fargate task needs task-level cpu and memory",
                "set cpu and memory, e.g. cpu: '256', memory: '512'",
            )
            .rule(rule),
        ),
    }
    (cpu_units, mem)
}

fn list(values: &[u64]) -> String {
    values
        .iter()
        .map(u64::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}

/// Containers: 1 to 10, at least one essential.
pub(super) fn containers(
    out: &mut Vec<Problem>,
    containers: &[(usize, Cow<'_, ContainerDefinition>)],
) {
    if containers.is_empty() || containers.len() > 10 {
        out.push(
            problem(
                "containerDefinitions",
                format!(
                    "{} containers; a task definition has 1 to 10",
                    containers.len()
                ),
                "keep between 1 and 10 entries in containerDefinitions",
            )
            .rule("TaskDefinition.containerDefinitions: required; ECS quota of 10 containers per task definition"),
        );
    }
    if !containers.is_empty()
        && !containers
            .iter()
            .any(|(_, c)| c.essential.typed().copied().unwrap_or(true))
    {
        out.push(
            problem(
                "containerDefinitions",
                "no container is essential",
                "mark the main container essential: true",
            )
            .rule("ContainerDefinition.essential: all tasks must have at least one essential container"),
        );
    }
}

/// A container's name: valid, and not another container's.
pub(super) fn container_name<'a>(
    out: &mut Vec<Problem>,
    at: &str,
    c: &'a ContainerDefinition,
    names: &mut BTreeSet<&'a str>,
) {
    if let Some(name) = str_of(&c.name)
        && !names.insert(name)
    {
        out.push(
            problem(
                format!("{at}.name"),
                format!("two containers are named {name}"),
                "give each container its own name",
            )
            .rule("ContainerDefinition.name: unique within the task definition"),
        );
    }
    name_rule(
        out,
        &format!("{at}.name"),
        str_of(&c.name),
        "container name",
    );
}

/// The containers' cpu and memory add up to no more than the task's.
pub(super) fn sums(
    out: &mut Vec<Problem>,
    containers: &[(usize, Cow<'_, ContainerDefinition>)],
    (cpu, memory): (Option<u64>, Option<u64>),
) {
    let cpu_sum: u64 = containers
        .iter()
        .map(|(_, c)| u64_of(&c.cpu).unwrap_or(0))
        .sum();
    let mem_sum: u64 = containers
        .iter()
        .map(|(_, c)| match &c.memory {
            Some(m) => m.typed().and_then(serde_json::Number::as_u64).unwrap_or(0),
            None => u64_of(&c.memory_reservation).unwrap_or(0),
        })
        .sum();
    if let Some(cpu) = cpu.filter(|cpu| cpu_sum > *cpu) {
        out.push(
            problem(
                "containerDefinitions",
                format!("the containers' cpu adds up to {cpu_sum}, more than the task's {cpu}"),
                "lower a container's cpu or raise the task's",
            )
            .rule(
                "ContainerDefinition.cpu: the sum of container cpu must not exceed the task's cpu",
            ),
        );
    }
    if let Some(memory) = memory.filter(|m| mem_sum > *m) {
        out.push(
            problem(
                "containerDefinitions",
                format!(
                    "the containers' memory adds up to {mem_sum} MiB, more than the task's {memory}"
                ),
                "lower a container's memory or raise the task's",
            )
            .rule("ContainerDefinition.memory: the sum of container memory must not exceed the task's memory"),
        );
    }
}

/// Ephemeral storage, tags, volumes, proxy and placement.
pub(super) fn rest(out: &mut Vec<Problem>, td: &TaskDefinition) {
    if let Some(size) = td
        .ephemeral_storage
        .typed()
        .and_then(|e| e.size_in_gib.as_ref())
        && !size
            .typed()
            .and_then(serde_json::Number::as_u64)
            .is_some_and(|s| (21..=200).contains(&s))
    {
        out.push(
            problem(
                "ephemeralStorage.sizeInGiB",
                format!("ephemeral storage {size} GiB; Fargate takes 21 to 200"),
                "set sizeInGiB between 21 and 200, or drop ephemeralStorage for the default 20",
            )
            .rule("EphemeralStorage.sizeInGiB: 21 to 200"),
        );
    }
    if let Some(tags) = td.tags.typed().filter(|t| t.len() > 50) {
        out.push(
            problem(
                "tags",
                format!("{} tags; ECS allows 50", tags.len()),
                "drop tags until 50 or fewer are left",
            )
            .rule("Tag: at most 50 tags per resource"),
        );
    }
    for (i, t) in each(&td.tags) {
        required(
            out,
            &format!("tags[{i}]"),
            &t.key,
            "key",
            "Tag.key: required, 1 to 128 characters",
        );
    }
    volumes(out, td);
    if let Some(p) = object(&td.proxy_configuration) {
        required(
            out,
            "proxyConfiguration",
            &p.container_name,
            "containerName",
            "ProxyConfiguration.containerName: required",
        );
    }
    for (i, p) in each(&td.placement_constraints) {
        one_of(
            out,
            &format!("placementConstraints[{i}].type"),
            p.r#type.as_ref(),
            &["memberOf"],
            "TaskDefinitionPlacementConstraint.type: memberOf",
        );
    }
}

fn volumes(out: &mut Vec<Problem>, td: &TaskDefinition) {
    for (i, v) in each(&td.volumes) {
        let at = format!("volumes[{i}]");
        if v.name.is_some() {
            name_rule(out, &format!("{at}.name"), str_of(&v.name), "volume name");
        }
        let Some(efs) = object(&v.efs_volume_configuration) else {
            continue;
        };
        let at = format!("{at}.efsVolumeConfiguration");
        required(
            out,
            &at,
            &efs.file_system_id,
            "fileSystemId",
            "EFSVolumeConfiguration.fileSystemId: required",
        );
        one_of(
            out,
            &format!("{at}.transitEncryption"),
            efs.transit_encryption.as_ref(),
            &["ENABLED", "DISABLED"],
            "EFSVolumeConfiguration.transitEncryption: ENABLED or DISABLED",
        );
        let iam = efs
            .authorization_config
            .typed()
            .and_then(|a| str_of(&a.iam));
        if iam == Some("ENABLED") && str_of(&efs.transit_encryption) != Some("ENABLED") {
            out.push(
                problem(
                    format!("{at}.authorizationConfig.iam"),
                    "EFS IAM authorization is enabled without transit encryption",
                    "set transitEncryption: 'ENABLED', or iam: 'DISABLED'",
                )
                .rule("EFSAuthorizationConfig.iam: if enabled, transit encryption must be enabled"),
            );
        }
    }
}
