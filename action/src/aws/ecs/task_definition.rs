//! Task definitions between the typed definition `render` produces
//! ([`crate::taskdef::TaskDefinition`], RegisterTaskDefinition's input) and
//! the SDK's types, both ways.
//!
//! The SDK's types are not serde types, so [`to_sdk`] builds them from the
//! typed fields ([`read`] reads each one, [`container`] the containers).
//! What the type cannot express is an error naming the field's JSON path:
//! a value of another type, a number beyond the SDK's, a field the
//! conversion does not send (never dropped silently: ECS would then run
//! something other than what was reviewed). Validation's rules are not
//! checked again. [`from_sdk`] reads a DescribeTaskDefinition answer back;
//! it covers the fields task definitions here use (those of
//! `lib/base.libsonnet` and the usual container settings): a field outside
//! it reads as absent.

mod container;
mod read;

use std::collections::HashMap;

use aws_sdk_ecs::types as t;
use aws_sdk_ecs::types::{ContainerDefinition, TaskDefinition};
use serde_json::{Map, Value, json};

use crate::aws::AwsError;
use crate::taskdef::{self as td, field::str_of};
use read::{At, not_sent};

/// A task definition ready for the SDK: the definition and its tags.
#[derive(Debug, Clone)]
pub struct SdkTaskDefinition {
    /// Every RegisterTaskDefinition field but the tags.
    pub definition: t::TaskDefinition,
    /// The tags.
    pub tags: Vec<t::Tag>,
}

/// The rendered task definition as SDK values.
pub fn to_sdk(d: &td::TaskDefinition) -> Result<SdkTaskDefinition, AwsError> {
    let at = At("");
    let b = t::TaskDefinition::builder()
        .set_family(at.string("family", &d.family)?)
        .set_task_role_arn(at.string("taskRoleArn", &d.task_role_arn)?)
        .set_execution_role_arn(at.string("executionRoleArn", &d.execution_role_arn)?)
        .set_network_mode(at.enumerated("networkMode", &d.network_mode)?)
        .set_cpu(units(&d.cpu, "cpu")?)
        .set_memory(units(&d.memory, "memory")?)
        .set_pid_mode(at.enumerated("pidMode", &d.pid_mode)?)
        .set_ipc_mode(at.enumerated("ipcMode", &d.ipc_mode)?)
        .set_enable_fault_injection(at.bool("enableFaultInjection", &d.enable_fault_injection)?)
        .set_requires_compatibilities(
            at.strings("requiresCompatibilities", &d.requires_compatibilities)?
                .map(|v| {
                    v.iter()
                        .map(|c| t::Compatibility::from(c.as_str()))
                        .collect()
                }),
        )
        .set_container_definitions(at.list(
            "containerDefinitions",
            &d.container_definitions,
            |c| str_of(&c.name),
            container::container,
        )?)
        .set_volumes(at.list("volumes", &d.volumes, |v| str_of(&v.name), volume)?)
        .set_placement_constraints(at.list(
            "placementConstraints",
            &d.placement_constraints,
            |_| None,
            |at, p| {
                at.done(&p.other)?;
                Ok(t::TaskDefinitionPlacementConstraint::builder()
                    .set_type(at.enumerated("type", &p.r#type)?)
                    .set_expression(at.string("expression", &p.expression)?)
                    .build())
            },
        )?)
        .set_runtime_platform(at.object("runtimePlatform", &d.runtime_platform, |at, p| {
            at.done(&p.other)?;
            Ok(t::RuntimePlatform::builder()
                .set_cpu_architecture(at.enumerated("cpuArchitecture", &p.cpu_architecture)?)
                .set_operating_system_family(
                    at.enumerated("operatingSystemFamily", &p.operating_system_family)?,
                )
                .build())
        })?)
        .set_ephemeral_storage(
            at.object("ephemeralStorage", &d.ephemeral_storage, |at, e| {
                at.done(&e.other)?;
                Ok(t::EphemeralStorage::builder()
                    .set_size_in_gib(at.int("sizeInGiB", &e.size_in_gib)?)
                    .build())
            })?,
        );
    let tags = at
        .list(
            "tags",
            &d.tags,
            |t| str_of(&t.key),
            |at, tag| {
                at.done(&tag.other)?;
                Ok(t::Tag::builder()
                    .set_key(at.string("key", &tag.key)?)
                    .set_value(at.string("value", &tag.value)?)
                    .build())
            },
        )?
        .unwrap_or_default();
    // Fields the type names that the conversion does not send yet.
    for (key, present) in [
        ("inferenceAccelerators", d.inference_accelerators.is_some()),
        ("proxyConfiguration", d.proxy_configuration.is_some()),
    ] {
        if present {
            return Err(not_sent(key));
        }
    }
    at.done(&d.other)?;
    Ok(SdkTaskDefinition {
        definition: b.build(),
        tags,
    })
}

/// Task-level cpu or memory: the API takes a string (`256` → `"256"`).
fn units(f: &td::Maybe<td::Units>, key: &str) -> Result<Option<String>, AwsError> {
    match f {
        None => Ok(None),
        Some(td::Field::Typed(u)) => Ok(Some(u.to_api())),
        Some(td::Field::Raw(v)) => Err(read::err(key, format!("expected a string, found {v}"))),
    }
}

fn volume(at: At<'_>, v: &td::Volume) -> Result<t::Volume, AwsError> {
    let host = at.object("host", &v.host, |at, h| {
        at.done(&h.other)?;
        Ok(t::HostVolumeProperties::builder()
            .set_source_path(at.string("sourcePath", &h.source_path)?)
            .build())
    })?;
    let out = t::Volume::builder()
        .set_name(at.string("name", &v.name)?)
        .set_host(host)
        .set_configured_at_launch(at.bool("configuredAtLaunch", &v.configured_at_launch)?)
        .build();
    // Fields the type names that the conversion does not send yet.
    for (key, present) in [
        (
            "dockerVolumeConfiguration",
            v.docker_volume_configuration.is_some(),
        ),
        (
            "efsVolumeConfiguration",
            v.efs_volume_configuration.is_some(),
        ),
    ] {
        if present {
            return Err(not_sent(&read::join(at.0, key)));
        }
    }
    at.done(&v.other)?;
    Ok(out)
}

fn put<T: Into<Value>>(obj: &mut Map<String, Value>, key: &str, value: Option<T>) {
    if let Some(v) = value {
        obj.insert(key.into(), v.into());
    }
}

fn strings(values: &[String]) -> Option<Value> {
    (!values.is_empty()).then(|| Value::from(values.to_vec()))
}

fn map(values: Option<&HashMap<String, String>>) -> Option<Value> {
    values.map(|m| {
        Value::Object(
            m.iter()
                .map(|(k, v)| (k.clone(), Value::from(v.as_str())))
                .collect(),
        )
    })
}

/// The DescribeTaskDefinition result as RegisterTaskDefinition JSON.
pub fn from_sdk(td: &TaskDefinition) -> Map<String, Value> {
    let mut o = Map::new();
    put(&mut o, "family", td.family());
    put(&mut o, "taskRoleArn", td.task_role_arn());
    put(&mut o, "executionRoleArn", td.execution_role_arn());
    put(&mut o, "networkMode", td.network_mode().map(|m| m.as_str()));
    put(&mut o, "cpu", td.cpu());
    put(&mut o, "memory", td.memory());
    put(&mut o, "pidMode", td.pid_mode().map(|m| m.as_str()));
    put(&mut o, "ipcMode", td.ipc_mode().map(|m| m.as_str()));
    let compat: Vec<&str> = td
        .requires_compatibilities()
        .iter()
        .map(|c| c.as_str())
        .collect();
    put(
        &mut o,
        "requiresCompatibilities",
        (!compat.is_empty()).then(|| Value::from(compat)),
    );
    put(
        &mut o,
        "runtimePlatform",
        td.runtime_platform().map(|p| {
            json!({
                "cpuArchitecture": p.cpu_architecture().map(|a| a.as_str()),
                "operatingSystemFamily": p.operating_system_family().map(|f| f.as_str()),
            })
        }),
    );
    put(
        &mut o,
        "ephemeralStorage",
        td.ephemeral_storage()
            .map(|e| json!({"sizeInGiB": e.size_in_gib()})),
    );
    let containers: Vec<Value> = td
        .container_definitions()
        .iter()
        .map(|c| Value::Object(container_json(c)))
        .collect();
    o.insert("containerDefinitions".into(), Value::Array(containers));
    o
}

fn container_json(c: &ContainerDefinition) -> Map<String, Value> {
    let mut o = Map::new();
    put(&mut o, "name", c.name());
    put(&mut o, "image", c.image());
    o.insert("cpu".into(), c.cpu().into());
    put(&mut o, "memory", c.memory());
    put(&mut o, "memoryReservation", c.memory_reservation());
    put(&mut o, "essential", c.essential());
    put(&mut o, "stopTimeout", c.stop_timeout());
    put(&mut o, "startTimeout", c.start_timeout());
    put(
        &mut o,
        "readonlyRootFilesystem",
        c.readonly_root_filesystem(),
    );
    put(&mut o, "user", c.user());
    put(&mut o, "workingDirectory", c.working_directory());
    put(&mut o, "command", strings(c.command()));
    put(&mut o, "entryPoint", strings(c.entry_point()));
    put(&mut o, "dockerLabels", map(c.docker_labels()));
    let ports: Vec<Value> = c
        .port_mappings()
        .iter()
        .map(|p| {
            let mut m = Map::new();
            put(&mut m, "containerPort", p.container_port());
            put(&mut m, "hostPort", p.host_port());
            put(&mut m, "protocol", p.protocol().map(|x| x.as_str()));
            put(&mut m, "name", p.name());
            put(&mut m, "appProtocol", p.app_protocol().map(|x| x.as_str()));
            Value::Object(m)
        })
        .collect();
    o.insert("portMappings".into(), Value::Array(ports));
    let env: Vec<Value> = c
        .environment()
        .iter()
        .map(|e| json!({"name": e.name(), "value": e.value()}))
        .collect();
    o.insert("environment".into(), Value::Array(env));
    let secrets: Vec<Value> = c
        .secrets()
        .iter()
        .map(|s| json!({"name": s.name(), "valueFrom": s.value_from()}))
        .collect();
    o.insert("secrets".into(), Value::Array(secrets));
    let ulimits: Vec<Value> = c
        .ulimits()
        .iter()
        .map(|u| json!({"name": u.name().as_str(), "softLimit": u.soft_limit(), "hardLimit": u.hard_limit()}))
        .collect();
    o.insert("ulimits".into(), Value::Array(ulimits));
    let depends: Vec<Value> = c
        .depends_on()
        .iter()
        .map(|d| json!({"containerName": d.container_name(), "condition": d.condition().as_str()}))
        .collect();
    o.insert("dependsOn".into(), Value::Array(depends));
    put(
        &mut o,
        "healthCheck",
        c.health_check().map(|h| {
            let mut m = Map::new();
            m.insert("command".into(), Value::from(h.command().to_vec()));
            put(&mut m, "interval", h.interval());
            put(&mut m, "timeout", h.timeout());
            put(&mut m, "retries", h.retries());
            put(&mut m, "startPeriod", h.start_period());
            Value::Object(m)
        }),
    );
    put(
        &mut o,
        "logConfiguration",
        c.log_configuration().map(|l| {
            let mut m = Map::new();
            m.insert("logDriver".into(), l.log_driver().as_str().into());
            put(&mut m, "options", map(l.options()));
            Value::Object(m)
        }),
    );
    o
}
