//! Reads the task definition an ECS service runs (aws-sdk-ecs; the endpoint
//! comes from the standard AWS settings, so `AWS_ENDPOINT_URL` points it at
//! a local stand-in) and turns it into the JSON shape `render` produces.
//!
//! The SDK's types are not serde types: the conversion covers the fields
//! task definitions here use (those of `lib/base.libsonnet` and the usual
//! container settings). A field outside it would read as absent.

use std::collections::HashMap;

use aws_sdk_ecs::types::{ContainerDefinition, TaskDefinition, TaskDefinitionField};
use serde_json::{Map, Value, json};

use crate::manifest::Manifest;

/// The running task definition of `service` in `env` (its ECS service's
/// current `taskDefinition`, with tags).
pub async fn running(manifest: &Manifest, service: &str, env: &str) -> Result<Value, String> {
    let (Some(svc), Some(environment)) = (
        manifest.services.get(service),
        manifest.environments.get(env),
    ) else {
        return Err(format!("{service} ({env}) is not in the manifest"));
    };
    let vars = manifest.vars(service, env);
    let cluster = environment.cluster.render(vars);
    let ecs_service = svc.ecs_service.render(manifest.vars(service, env));
    let region = environment
        .region
        .clone()
        .unwrap_or_else(|| manifest.region.clone());
    let config = aws_config::from_env()
        .region(aws_config::Region::new(region))
        .load()
        .await;
    let client = aws_sdk_ecs::Client::new(&config);
    let described = client
        .describe_services()
        .cluster(&cluster)
        .services(&ecs_service)
        .send()
        .await
        .map_err(|e| {
            format!(
                "DescribeServices {ecs_service} in {cluster}: {}",
                aws_sdk_ecs::error::DisplayErrorContext(e)
            )
        })?;
    let arn = described
        .services()
        .first()
        .and_then(|s| s.task_definition())
        .ok_or_else(|| format!("ECS service {ecs_service} was not found in cluster {cluster}: create it with Terraform (terraform/aws) first"))?;
    let out = client
        .describe_task_definition()
        .task_definition(arn)
        .include(TaskDefinitionField::Tags)
        .send()
        .await
        .map_err(|e| {
            format!(
                "DescribeTaskDefinition {arn}: {}",
                aws_sdk_ecs::error::DisplayErrorContext(e)
            )
        })?;
    let td = out
        .task_definition()
        .ok_or_else(|| format!("DescribeTaskDefinition {arn} returned no definition"))?;
    let mut value = task_definition(td);
    let tags: Vec<Value> = out
        .tags()
        .iter()
        .map(|t| json!({"key": t.key(), "value": t.value()}))
        .collect();
    value.insert("tags".into(), Value::Array(tags));
    Ok(Value::Object(value))
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
pub fn task_definition(td: &TaskDefinition) -> Map<String, Value> {
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
        .map(|c| Value::Object(container(c)))
        .collect();
    o.insert("containerDefinitions".into(), Value::Array(containers));
    o
}

fn container(c: &ContainerDefinition) -> Map<String, Value> {
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
