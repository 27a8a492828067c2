//! Task definitions between the typed definition `render` produces
//! ([`crate::taskdef::TaskDefinition`], RegisterTaskDefinition's input) and
//! the SDK's types, both ways.
//!
//! The SDK's types are not serde types, so each object is a table of its
//! fields ([`convert::pair!`]; the containers' in [`container`]), read one
//! way into the SDK's builders ([`to_sdk`]) and the other way from a
//! DescribeTaskDefinition answer ([`from_sdk`]). The definition comes from
//! render, which validated it: validation's rules are not checked again.
//! What the type cannot express is an error naming the field's JSON path
//! (see [`convert`]), never dropped silently: ECS would then run something
//! other than what was reviewed.

mod container;
mod convert;

use aws_sdk_ecs::types as t;
use serde_json::{Map, Value};

use crate::aws::AwsError;
use crate::taskdef as td;
use convert::{ToSdk, ToTyped, field, not_sent, pair};

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
    // Elastic Inference, retired by AWS: carried by the type, never sent.
    if d.inference_accelerators.is_some() {
        return Err(not_sent("inferenceAccelerators"));
    }
    Ok(SdkTaskDefinition {
        definition: d.to_sdk()?,
        tags: field(&d.tags, "tags")?.unwrap_or_default(),
    })
}

/// The DescribeTaskDefinition result as RegisterTaskDefinition JSON (the
/// tags, which DescribeTaskDefinition gives apart, are the caller's).
pub fn from_sdk(d: &t::TaskDefinition) -> Map<String, Value> {
    let typed: Option<td::TaskDefinition> = d.to_typed();
    match typed.map(|d| d.to_value()) {
        Some(Value::Object(o)) => o,
        _ => Map::new(),
    }
}

// The tags are apart in the SDK; inferenceAccelerators are not sent.
pair!(TaskDefinition => TaskDefinition {
    container_definitions: set_container_definitions,
    cpu: set_cpu,
    enable_fault_injection: set_enable_fault_injection,
    ephemeral_storage: set_ephemeral_storage,
    execution_role_arn: set_execution_role_arn,
    family: set_family,
    inference_accelerators: _,
    ipc_mode: set_ipc_mode,
    memory: set_memory,
    network_mode: set_network_mode,
    pid_mode: set_pid_mode,
    placement_constraints: set_placement_constraints,
    proxy_configuration: set_proxy_configuration,
    requires_compatibilities: set_requires_compatibilities,
    runtime_platform: set_runtime_platform,
    tags: _,
    task_role_arn: set_task_role_arn,
    volumes: set_volumes,
});

pair!(Volume => Volume [name] {
    configured_at_launch: set_configured_at_launch,
    docker_volume_configuration: set_docker_volume_configuration,
    efs_volume_configuration: set_efs_volume_configuration,
    host: set_host,
    name: set_name,
});

pair!(HostVolume => HostVolumeProperties { source_path: set_source_path });

pair!(DockerVolumeConfiguration => DockerVolumeConfiguration {
    autoprovision: set_autoprovision,
    driver: set_driver,
    driver_opts: set_driver_opts,
    labels: set_labels,
    scope: set_scope,
});

pair!(EfsVolumeConfiguration => EfsVolumeConfiguration {
    authorization_config: set_authorization_config,
    file_system_id: set_file_system_id,
    root_directory: set_root_directory,
    transit_encryption: set_transit_encryption,
    transit_encryption_port: set_transit_encryption_port,
});

pair!(EfsAuthorizationConfig => EfsAuthorizationConfig {
    access_point_id: set_access_point_id,
    iam: set_iam,
});

pair!(PlacementConstraint => TaskDefinitionPlacementConstraint {
    expression: set_expression,
    r#type: set_type,
});

pair!(ProxyConfiguration => ProxyConfiguration {
    container_name: set_container_name,
    properties: set_properties,
    r#type: set_type,
});

pair!(RuntimePlatform => RuntimePlatform {
    cpu_architecture: set_cpu_architecture,
    operating_system_family: set_operating_system_family,
});

pair!(EphemeralStorage => EphemeralStorage { size_in_gib = "sizeInGiB": set_size_in_gib });

pair!(Tag => Tag [key] { key: set_key, value: set_value });

#[cfg(test)]
mod tests;
