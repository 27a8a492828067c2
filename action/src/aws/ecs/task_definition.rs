//! Task definitions between the JSON `render` produces (RegisterTaskDefinition
//! input) and the SDK's types, both ways.
//!
//! The SDK's types are not serde types, so [`to_sdk`] converts the rendered
//! JSON field by field. Every key is consumed explicitly; one the conversion
//! does not know is an error naming it — a field is never dropped silently
//! (ECS would then run something other than what was reviewed).
//! [`from_sdk`] reads a DescribeTaskDefinition answer back; it covers the
//! fields task definitions here use (those of `lib/base.libsonnet` and the
//! usual container settings): a field outside it reads as absent.

use std::collections::HashMap;

use aws_sdk_ecs::types as t;
use aws_sdk_ecs::types::{ContainerDefinition, TaskDefinition};
use serde_json::{Map, Value, json};

use crate::aws::AwsError;

/// A task definition ready for the SDK: the definition and its tags.
#[derive(Debug, Clone)]
pub struct SdkTaskDefinition {
    /// Every RegisterTaskDefinition field but the tags.
    pub definition: t::TaskDefinition,
    /// The tags.
    pub tags: Vec<t::Tag>,
}

/// A JSON object whose keys are taken one by one; what is left is an error.
struct Fields {
    path: String,
    obj: Map<String, Value>,
}

fn err(path: &str, message: impl Into<String>) -> AwsError {
    AwsError::Convert {
        field: path.to_string(),
        message: message.into(),
    }
}

fn join(path: &str, key: &str) -> String {
    if path.is_empty() {
        key.to_string()
    } else {
        format!("{path}.{key}")
    }
}

impl Fields {
    fn new(path: &str, value: &Value) -> Result<Self, AwsError> {
        match value {
            Value::Object(obj) => Ok(Self {
                path: path.to_string(),
                obj: obj.clone(),
            }),
            other => Err(err(path, format!("expected an object, found {other}"))),
        }
    }

    fn at(&self, key: &str) -> String {
        join(&self.path, key)
    }

    /// Takes a key; null counts as absent.
    fn take(&mut self, key: &str) -> Option<Value> {
        self.obj.remove(key).filter(|v| !v.is_null())
    }

    fn string(&mut self, key: &str) -> Result<Option<String>, AwsError> {
        match self.take(key) {
            None => Ok(None),
            Some(Value::String(s)) => Ok(Some(s)),
            Some(other) => Err(err(
                &self.at(key),
                format!("expected a string, found {other}"),
            )),
        }
    }

    /// A string the API wants, where JSON may hold a number (`cpu: 256`).
    fn string_or_number(&mut self, key: &str) -> Result<Option<String>, AwsError> {
        match self.take(key) {
            None => Ok(None),
            Some(Value::String(s)) => Ok(Some(s)),
            Some(Value::Number(n)) => Ok(Some(n.to_string())),
            Some(other) => Err(err(
                &self.at(key),
                format!("expected a string, found {other}"),
            )),
        }
    }

    fn int(&mut self, key: &str) -> Result<Option<i32>, AwsError> {
        match self.take(key) {
            None => Ok(None),
            Some(v) => v
                .as_i64()
                .and_then(|n| i32::try_from(n).ok())
                .map(Some)
                .ok_or_else(|| err(&self.at(key), format!("expected an integer, found {v}"))),
        }
    }

    fn bool(&mut self, key: &str) -> Result<Option<bool>, AwsError> {
        match self.take(key) {
            None => Ok(None),
            Some(Value::Bool(b)) => Ok(Some(b)),
            Some(other) => Err(err(
                &self.at(key),
                format!("expected true or false, found {other}"),
            )),
        }
    }

    fn strings(&mut self, key: &str) -> Result<Option<Vec<String>>, AwsError> {
        let at = self.at(key);
        match self.take(key) {
            None => Ok(None),
            Some(Value::Array(items)) => items
                .into_iter()
                .enumerate()
                .map(|(i, v)| match v {
                    Value::String(s) => Ok(s),
                    other => Err(err(
                        &format!("{at}[{i}]"),
                        format!("expected a string, found {other}"),
                    )),
                })
                .collect::<Result<Vec<_>, _>>()
                .map(Some),
            Some(other) => Err(err(
                &at,
                format!("expected a list of strings, found {other}"),
            )),
        }
    }

    fn string_map(&mut self, key: &str) -> Result<Option<HashMap<String, String>>, AwsError> {
        let at = self.at(key);
        match self.take(key) {
            None => Ok(None),
            Some(Value::Object(obj)) => obj
                .into_iter()
                .map(|(k, v)| match v {
                    Value::String(s) => Ok((k, s)),
                    other => Err(err(
                        &join(&at, &k),
                        format!("expected a string, found {other}"),
                    )),
                })
                .collect::<Result<HashMap<_, _>, _>>()
                .map(Some),
            Some(other) => Err(err(
                &at,
                format!("expected an object of strings, found {other}"),
            )),
        }
    }

    /// A list of objects, each converted by `f` (given its path and fields).
    fn list<T>(
        &mut self,
        key: &str,
        id: Option<&str>,
        mut f: impl FnMut(Fields) -> Result<T, AwsError>,
    ) -> Result<Option<Vec<T>>, AwsError> {
        let at = self.at(key);
        match self.take(key) {
            None => Ok(None),
            Some(Value::Array(items)) => items
                .iter()
                .enumerate()
                .map(|(i, v)| {
                    let name = id
                        .and_then(|id| v.get(id))
                        .and_then(Value::as_str)
                        .map_or_else(|| i.to_string(), str::to_string);
                    f(Fields::new(&format!("{at}[{name}]"), v)?)
                })
                .collect::<Result<Vec<_>, _>>()
                .map(Some),
            Some(other) => Err(err(&at, format!("expected a list, found {other}"))),
        }
    }

    fn object<T>(
        &mut self,
        key: &str,
        f: impl FnOnce(Fields) -> Result<T, AwsError>,
    ) -> Result<Option<T>, AwsError> {
        let at = self.at(key);
        match self.take(key) {
            None => Ok(None),
            Some(v) => f(Fields::new(&at, &v)?).map(Some),
        }
    }

    /// Fails on the first key nobody took.
    fn done(self) -> Result<(), AwsError> {
        match self.obj.keys().next() {
            None => Ok(()),
            Some(key) => Err(err(
                &join(&self.path, key),
                "Ferry cannot send this field to ECS yet; remove it or add it to aws/ecs/task_definition.rs",
            )),
        }
    }

    fn required(&self, key: &str, value: Option<String>) -> Result<String, AwsError> {
        value.ok_or_else(|| err(&self.at(key), "required"))
    }
}

fn built<T, E: std::fmt::Display>(path: &str, r: Result<T, E>) -> Result<T, AwsError> {
    r.map_err(|e| err(path, e.to_string()))
}

/// The rendered RegisterTaskDefinition JSON as SDK values.
pub fn to_sdk(td: &Value) -> Result<SdkTaskDefinition, AwsError> {
    let mut f = Fields::new("", td)?;
    let mut b = t::TaskDefinition::builder()
        .set_family(f.string("family")?)
        .set_task_role_arn(f.string("taskRoleArn")?)
        .set_execution_role_arn(f.string("executionRoleArn")?)
        .set_network_mode(
            f.string("networkMode")?
                .map(|m| t::NetworkMode::from(m.as_str())),
        )
        .set_cpu(f.string_or_number("cpu")?)
        .set_memory(f.string_or_number("memory")?)
        .set_pid_mode(f.string("pidMode")?.map(|m| t::PidMode::from(m.as_str())))
        .set_ipc_mode(f.string("ipcMode")?.map(|m| t::IpcMode::from(m.as_str())))
        .set_enable_fault_injection(f.bool("enableFaultInjection")?)
        .set_requires_compatibilities(f.strings("requiresCompatibilities")?.map(|v| {
            v.iter()
                .map(|c| t::Compatibility::from(c.as_str()))
                .collect()
        }));
    b = b.set_container_definitions(f.list("containerDefinitions", Some("name"), container)?);
    b = b.set_volumes(f.list("volumes", Some("name"), |mut v| {
        let host = v.object("host", |mut h| {
            let out = t::HostVolumeProperties::builder()
                .set_source_path(h.string("sourcePath")?)
                .build();
            h.done()?;
            Ok(out)
        })?;
        let out = t::Volume::builder()
            .set_name(v.string("name")?)
            .set_host(host)
            .set_configured_at_launch(v.bool("configuredAtLaunch")?)
            .build();
        v.done()?;
        Ok(out)
    })?);
    b = b.set_placement_constraints(f.list("placementConstraints", None, |mut p| {
        let out = t::TaskDefinitionPlacementConstraint::builder()
            .set_type(
                p.string("type")?
                    .map(|s| t::TaskDefinitionPlacementConstraintType::from(s.as_str())),
            )
            .set_expression(p.string("expression")?)
            .build();
        p.done()?;
        Ok(out)
    })?);
    b = b.set_runtime_platform(f.object("runtimePlatform", |mut p| {
        let out = t::RuntimePlatform::builder()
            .set_cpu_architecture(
                p.string("cpuArchitecture")?
                    .map(|s| t::CpuArchitecture::from(s.as_str())),
            )
            .set_operating_system_family(
                p.string("operatingSystemFamily")?
                    .map(|s| t::OsFamily::from(s.as_str())),
            )
            .build();
        p.done()?;
        Ok(out)
    })?);
    b = b.set_ephemeral_storage(f.object("ephemeralStorage", |mut e| {
        let out = t::EphemeralStorage::builder()
            .set_size_in_gib(e.int("sizeInGiB")?)
            .build();
        e.done()?;
        Ok(out)
    })?);
    let tags = f
        .list("tags", Some("key"), |mut tag| {
            let out = t::Tag::builder()
                .set_key(tag.string("key")?)
                .set_value(tag.string("value")?)
                .build();
            tag.done()?;
            Ok(out)
        })?
        .unwrap_or_default();
    f.done()?;
    Ok(SdkTaskDefinition {
        definition: b.build(),
        tags,
    })
}

fn container(mut c: Fields) -> Result<t::ContainerDefinition, AwsError> {
    let mut b = t::ContainerDefinition::builder()
        .set_name(c.string("name")?)
        .set_image(c.string("image")?)
        .set_cpu(c.int("cpu")?)
        .set_memory(c.int("memory")?)
        .set_memory_reservation(c.int("memoryReservation")?)
        .set_essential(c.bool("essential")?)
        .set_stop_timeout(c.int("stopTimeout")?)
        .set_start_timeout(c.int("startTimeout")?)
        .set_readonly_root_filesystem(c.bool("readonlyRootFilesystem")?)
        .set_user(c.string("user")?)
        .set_working_directory(c.string("workingDirectory")?)
        .set_command(c.strings("command")?)
        .set_entry_point(c.strings("entryPoint")?)
        .set_docker_labels(c.string_map("dockerLabels")?)
        .set_interactive(c.bool("interactive")?)
        .set_pseudo_terminal(c.bool("pseudoTerminal")?)
        .set_version_consistency(
            c.string("versionConsistency")?
                .map(|s| t::VersionConsistency::from(s.as_str())),
        );
    b = b.set_port_mappings(c.list("portMappings", None, |mut p| {
        let out = t::PortMapping::builder()
            .set_container_port(p.int("containerPort")?)
            .set_host_port(p.int("hostPort")?)
            .set_protocol(
                p.string("protocol")?
                    .map(|s| t::TransportProtocol::from(s.as_str())),
            )
            .set_name(p.string("name")?)
            .set_app_protocol(
                p.string("appProtocol")?
                    .map(|s| t::ApplicationProtocol::from(s.as_str())),
            )
            .set_container_port_range(p.string("containerPortRange")?)
            .build();
        p.done()?;
        Ok(out)
    })?);
    b = b.set_environment(c.list("environment", Some("name"), |mut e| {
        let out = t::KeyValuePair::builder()
            .set_name(e.string("name")?)
            .set_value(e.string("value")?)
            .build();
        e.done()?;
        Ok(out)
    })?);
    b = b.set_secrets(c.list("secrets", Some("name"), secret)?);
    b = b.set_environment_files(c.list("environmentFiles", None, |mut e| {
        let at = e.path.clone();
        let out = t::EnvironmentFile::builder()
            .set_value(e.string("value")?)
            .set_type(
                e.string("type")?
                    .map(|s| t::EnvironmentFileType::from(s.as_str())),
            )
            .build();
        e.done()?;
        built(&at, out)
    })?);
    b = b.set_ulimits(c.list("ulimits", Some("name"), |mut u| {
        let at = u.path.clone();
        let out = t::Ulimit::builder()
            .set_name(u.string("name")?.map(|s| t::UlimitName::from(s.as_str())))
            .set_soft_limit(u.int("softLimit")?)
            .set_hard_limit(u.int("hardLimit")?)
            .build();
        u.done()?;
        built(&at, out)
    })?);
    b = b.set_depends_on(c.list("dependsOn", Some("containerName"), |mut d| {
        let at = d.path.clone();
        let out = t::ContainerDependency::builder()
            .set_container_name(d.string("containerName")?)
            .set_condition(
                d.string("condition")?
                    .map(|s| t::ContainerCondition::from(s.as_str())),
            )
            .build();
        d.done()?;
        built(&at, out)
    })?);
    b = b.set_mount_points(c.list("mountPoints", Some("containerPath"), |mut m| {
        let out = t::MountPoint::builder()
            .set_source_volume(m.string("sourceVolume")?)
            .set_container_path(m.string("containerPath")?)
            .set_read_only(m.bool("readOnly")?)
            .build();
        m.done()?;
        Ok(out)
    })?);
    b = b.set_volumes_from(c.list("volumesFrom", None, |mut v| {
        let out = t::VolumeFrom::builder()
            .set_source_container(v.string("sourceContainer")?)
            .set_read_only(v.bool("readOnly")?)
            .build();
        v.done()?;
        Ok(out)
    })?);
    b = b.set_system_controls(c.list("systemControls", None, |mut s| {
        let out = t::SystemControl::builder()
            .set_namespace(s.string("namespace")?)
            .set_value(s.string("value")?)
            .build();
        s.done()?;
        Ok(out)
    })?);
    b = b.set_health_check(c.object("healthCheck", |mut h| {
        let at = h.path.clone();
        let out = t::HealthCheck::builder()
            .set_command(h.strings("command")?)
            .set_interval(h.int("interval")?)
            .set_timeout(h.int("timeout")?)
            .set_retries(h.int("retries")?)
            .set_start_period(h.int("startPeriod")?)
            .build();
        h.done()?;
        built(&at, out)
    })?);
    b = b.set_log_configuration(c.object("logConfiguration", |mut l| {
        let at = l.path.clone();
        let out = t::LogConfiguration::builder()
            .set_log_driver(
                l.string("logDriver")?
                    .map(|s| t::LogDriver::from(s.as_str())),
            )
            .set_options(l.string_map("options")?)
            .set_secret_options(l.list("secretOptions", Some("name"), secret)?)
            .build();
        l.done()?;
        built(&at, out)
    })?);
    b = b.set_linux_parameters(c.object("linuxParameters", |mut l| {
        let caps = l.object("capabilities", |mut k| {
            let out = t::KernelCapabilities::builder()
                .set_add(k.strings("add")?)
                .set_drop(k.strings("drop")?)
                .build();
            k.done()?;
            Ok(out)
        })?;
        let out = t::LinuxParameters::builder()
            .set_capabilities(caps)
            .set_init_process_enabled(l.bool("initProcessEnabled")?)
            .build();
        l.done()?;
        Ok(out)
    })?);
    b = b.set_repository_credentials(c.object("repositoryCredentials", |mut r| {
        let at = r.path.clone();
        let out = t::RepositoryCredentials::builder()
            .set_credentials_parameter(r.string("credentialsParameter")?)
            .build();
        r.done()?;
        built(&at, out)
    })?);
    b = b.set_firelens_configuration(c.object("firelensConfiguration", |mut fl| {
        let at = fl.path.clone();
        let out = t::FirelensConfiguration::builder()
            .set_type(
                fl.string("type")?
                    .map(|s| t::FirelensConfigurationType::from(s.as_str())),
            )
            .set_options(fl.string_map("options")?)
            .build();
        fl.done()?;
        built(&at, out)
    })?);
    b = b.set_restart_policy(c.object("restartPolicy", |mut r| {
        let at = r.path.clone();
        let codes = r.take("ignoredExitCodes");
        let codes = match codes {
            None => None,
            Some(Value::Array(items)) => Some(
                items
                    .iter()
                    .map(|v| {
                        v.as_i64()
                            .and_then(|n| i32::try_from(n).ok())
                            .ok_or_else(|| err(&join(&at, "ignoredExitCodes"), "expected integers"))
                    })
                    .collect::<Result<Vec<_>, _>>()?,
            ),
            Some(other) => {
                return Err(err(
                    &join(&at, "ignoredExitCodes"),
                    format!("expected a list, found {other}"),
                ));
            }
        };
        let out = t::ContainerRestartPolicy::builder()
            .set_enabled(r.bool("enabled")?)
            .set_ignored_exit_codes(codes)
            .set_restart_attempt_period(r.int("restartAttemptPeriod")?)
            .build();
        r.done()?;
        built(&at, out)
    })?);
    let at = c.path.clone();
    c.done()?;
    let out = b.build();
    if out.name().is_none() {
        return Err(err(&join(&at, "name"), "required"));
    }
    Ok(out)
}

fn secret(mut s: Fields) -> Result<t::Secret, AwsError> {
    let at = s.path.clone();
    let name = s.string("name")?;
    let value_from = s.string("valueFrom")?;
    let name = s.required("name", name)?;
    let value_from = s.required("valueFrom", value_from)?;
    s.done()?;
    built(
        &at,
        t::Secret::builder()
            .name(name)
            .value_from(value_from)
            .build(),
    )
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
