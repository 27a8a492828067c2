//! The task definition as one serde type: RegisterTaskDefinition's
//! request, field for field, read from the rendered JSON once and written
//! back byte for byte (fields in the JSON's own sorted order, numbers as
//! written, fields the type does not name kept in `other`).

use serde::{Deserialize, Serialize};
use serde_json::{Map, Number, Value};

pub use super::container::*;
use super::field::{Dict, List, Maybe};

/// A struct of task-definition fields: every field optional (absent when
/// the JSON has none or a null), in the sorted order the JSON is written
/// in, and an `other` map for the fields the type does not name.
macro_rules! shape {
    ($(#[$m:meta])* $name:ident { $($(#[$fm:meta])* $field:ident : $ty:ty),* $(,)? }) => {
        $(#[$m])*
        #[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
        #[serde(rename_all = "camelCase")]
        pub struct $name {
            $(
                $(#[$fm])*
                #[serde(default, skip_serializing_if = "Option::is_none")]
                pub $field: $ty,
            )*
            /// Fields the type does not name, kept as written: render
            /// refuses them at the top, the SDK conversion everywhere.
            #[serde(flatten)]
            pub other: Map<String, Value>,
        }
    };
}
pub(crate) use shape;

/// Task-level cpu or memory: ECS takes a number or a string
/// (`256`, `"256"`, `"1 vCPU"`, `"2 GB"`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Units {
    /// `256`.
    Number(Number),
    /// `"256"`, `"1 vCPU"`.
    Text(String),
}

impl Units {
    /// The value as ECS reads it: a number, a string of digits, or
    /// "N vCPU" / "N GB" (both × 1024).
    pub fn units(&self) -> Option<u64> {
        match self {
            Self::Number(n) => n.as_u64(),
            Self::Text(s) => {
                let s = s.trim();
                let lower = s.to_ascii_lowercase();
                for suffix in ["vcpu", "gb"] {
                    if let Some(n) = lower.strip_suffix(suffix) {
                        let n: f64 = n.trim().parse().ok()?;
                        let units = n * 1024.0;
                        // A whole positive number of units fits u64.
                        #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
                        return (units.fract() == 0.0 && units > 0.0).then_some(units as u64);
                    }
                }
                s.parse().ok()
            }
        }
    }

    /// The string the API takes (`256` → `"256"`).
    pub fn to_api(&self) -> String {
        match self {
            Self::Number(n) => n.to_string(),
            Self::Text(s) => s.clone(),
        }
    }
}

shape! {
    /// The RegisterTaskDefinition request.
    TaskDefinition {
        container_definitions: List<ContainerDefinition>,
        cpu: Maybe<Units>,
        enable_fault_injection: Maybe<bool>,
        ephemeral_storage: Maybe<EphemeralStorage>,
        execution_role_arn: Maybe<String>,
        family: Maybe<String>,
        /// Elastic Inference, retired by AWS: carried, never sent.
        inference_accelerators: Option<Value>,
        ipc_mode: Maybe<String>,
        memory: Maybe<Units>,
        network_mode: Maybe<String>,
        pid_mode: Maybe<String>,
        placement_constraints: List<PlacementConstraint>,
        proxy_configuration: Maybe<ProxyConfiguration>,
        requires_compatibilities: List<String>,
        runtime_platform: Maybe<RuntimePlatform>,
        tags: List<Tag>,
        task_role_arn: Maybe<String>,
        volumes: List<Volume>,
    }
}

shape! {
    /// A data volume of the task.
    Volume {
        configured_at_launch: Maybe<bool>,
        docker_volume_configuration: Maybe<DockerVolumeConfiguration>,
        efs_volume_configuration: Maybe<EfsVolumeConfiguration>,
        host: Maybe<HostVolume>,
        name: Maybe<String>,
    }
}

shape! {
    /// A bind mount's host path.
    HostVolume {
        source_path: Maybe<String>,
    }
}

shape! {
    /// A Docker volume (EC2 only).
    DockerVolumeConfiguration {
        autoprovision: Maybe<bool>,
        driver: Maybe<String>,
        driver_opts: Dict,
        labels: Dict,
        scope: Maybe<String>,
    }
}

shape! {
    /// An Amazon EFS file system mounted as a volume.
    EfsVolumeConfiguration {
        authorization_config: Maybe<EfsAuthorizationConfig>,
        file_system_id: Maybe<String>,
        root_directory: Maybe<String>,
        transit_encryption: Maybe<String>,
        transit_encryption_port: Maybe<Number>,
    }
}

shape! {
    /// How the task authenticates to EFS.
    EfsAuthorizationConfig {
        access_point_id: Maybe<String>,
        iam: Maybe<String>,
    }
}

shape! {
    /// A placement constraint (`memberOf` an expression).
    PlacementConstraint {
        expression: Maybe<String>,
        r#type: Maybe<String>,
    }
}

shape! {
    /// The App Mesh proxy of the task.
    ProxyConfiguration {
        container_name: Maybe<String>,
        properties: List<KeyValuePair>,
        r#type: Maybe<String>,
    }
}

shape! {
    /// The CPU architecture and operating system the task runs on.
    RuntimePlatform {
        cpu_architecture: Maybe<String>,
        operating_system_family: Maybe<String>,
    }
}

shape! {
    /// Fargate's task storage above the default 20 GiB.
    EphemeralStorage {
        #[serde(rename = "sizeInGiB")]
        size_in_gib: Maybe<Number>,
    }
}

shape! {
    /// A resource tag.
    Tag {
        key: Maybe<String>,
        value: Maybe<String>,
    }
}

shape! {
    /// A name and a value (an environment variable, a proxy property).
    KeyValuePair {
        name: Maybe<String>,
        value: Maybe<String>,
    }
}
