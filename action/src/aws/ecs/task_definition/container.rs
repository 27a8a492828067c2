//! A typed container definition as the SDK's `ContainerDefinition`.

use aws_sdk_ecs::types as t;

use super::read::{At, err, join};
use crate::aws::AwsError;
use crate::taskdef::{self as td, field::str_of};

/// One container, with every part the conversion sends.
pub(super) fn container(
    at: At<'_>,
    c: &td::ContainerDefinition,
) -> Result<t::ContainerDefinition, AwsError> {
    let b = t::ContainerDefinition::builder()
        .set_name(at.string("name", &c.name)?)
        .set_image(at.string("image", &c.image)?)
        .set_cpu(at.int("cpu", &c.cpu)?)
        .set_memory(at.int("memory", &c.memory)?)
        .set_memory_reservation(at.int("memoryReservation", &c.memory_reservation)?)
        .set_essential(at.bool("essential", &c.essential)?)
        .set_stop_timeout(at.int("stopTimeout", &c.stop_timeout)?)
        .set_start_timeout(at.int("startTimeout", &c.start_timeout)?)
        .set_readonly_root_filesystem(
            at.bool("readonlyRootFilesystem", &c.readonly_root_filesystem)?,
        )
        .set_user(at.string("user", &c.user)?)
        .set_working_directory(at.string("workingDirectory", &c.working_directory)?)
        .set_command(at.strings("command", &c.command)?)
        .set_entry_point(at.strings("entryPoint", &c.entry_point)?)
        .set_docker_labels(at.dict("dockerLabels", &c.docker_labels)?)
        .set_interactive(at.bool("interactive", &c.interactive)?)
        .set_pseudo_terminal(at.bool("pseudoTerminal", &c.pseudo_terminal)?)
        .set_version_consistency(at.enumerated("versionConsistency", &c.version_consistency)?)
        .set_port_mappings(at.list("portMappings", &c.port_mappings, |_| None, port)?)
        .set_environment(at.list(
            "environment",
            &c.environment,
            |e| str_of(&e.name),
            |at, e| {
                at.done(&e.other)?;
                Ok(t::KeyValuePair::builder()
                    .set_name(at.string("name", &e.name)?)
                    .set_value(at.string("value", &e.value)?)
                    .build())
            },
        )?)
        .set_secrets(at.list("secrets", &c.secrets, |s| str_of(&s.name), secret)?)
        .set_environment_files(at.list(
            "environmentFiles",
            &c.environment_files,
            |_| None,
            |at, e| {
                at.done(&e.other)?;
                at.built(
                    t::EnvironmentFile::builder()
                        .set_value(at.string("value", &e.value)?)
                        .set_type(at.enumerated("type", &e.r#type)?)
                        .build(),
                )
            },
        )?)
        .set_ulimits(at.list(
            "ulimits",
            &c.ulimits,
            |u| str_of(&u.name),
            |at, u| {
                at.done(&u.other)?;
                at.built(
                    t::Ulimit::builder()
                        .set_name(at.enumerated("name", &u.name)?)
                        .set_soft_limit(at.int("softLimit", &u.soft_limit)?)
                        .set_hard_limit(at.int("hardLimit", &u.hard_limit)?)
                        .build(),
                )
            },
        )?)
        .set_depends_on(at.list(
            "dependsOn",
            &c.depends_on,
            |d| str_of(&d.container_name),
            |at, d| {
                at.done(&d.other)?;
                at.built(
                    t::ContainerDependency::builder()
                        .set_container_name(at.string("containerName", &d.container_name)?)
                        .set_condition(at.enumerated("condition", &d.condition)?)
                        .build(),
                )
            },
        )?);
    let b = volumes(at, c, b)?;
    let b = settings(at, c, b)?;
    at.done(&c.other)?;
    let out = b.build();
    if out.name().is_none() {
        return Err(err(&join(at.0, "name"), "required"));
    }
    Ok(out)
}

fn port(at: At<'_>, p: &td::PortMapping) -> Result<t::PortMapping, AwsError> {
    at.done(&p.other)?;
    Ok(t::PortMapping::builder()
        .set_container_port(at.int("containerPort", &p.container_port)?)
        .set_host_port(at.int("hostPort", &p.host_port)?)
        .set_protocol(at.enumerated("protocol", &p.protocol)?)
        .set_name(at.string("name", &p.name)?)
        .set_app_protocol(at.enumerated("appProtocol", &p.app_protocol)?)
        .set_container_port_range(at.string("containerPortRange", &p.container_port_range)?)
        .build())
}

/// A secret of the container or of its log driver: name and valueFrom required.
fn secret(at: At<'_>, s: &td::Secret) -> Result<t::Secret, AwsError> {
    let name = at.string("name", &s.name)?;
    let value_from = at.string("valueFrom", &s.value_from)?;
    let name = name.ok_or_else(|| err(&join(at.0, "name"), "required"))?;
    let value_from = value_from.ok_or_else(|| err(&join(at.0, "valueFrom"), "required"))?;
    at.done(&s.other)?;
    at.built(
        t::Secret::builder()
            .name(name)
            .value_from(value_from)
            .build(),
    )
}

/// Mount points, volumes from other containers, kernel parameters.
fn volumes(
    at: At<'_>,
    c: &td::ContainerDefinition,
    b: t::builders::ContainerDefinitionBuilder,
) -> Result<t::builders::ContainerDefinitionBuilder, AwsError> {
    Ok(b.set_mount_points(at.list(
        "mountPoints",
        &c.mount_points,
        |m| str_of(&m.container_path),
        |at, m| {
            at.done(&m.other)?;
            Ok(t::MountPoint::builder()
                .set_source_volume(at.string("sourceVolume", &m.source_volume)?)
                .set_container_path(at.string("containerPath", &m.container_path)?)
                .set_read_only(at.bool("readOnly", &m.read_only)?)
                .build())
        },
    )?)
    .set_volumes_from(at.list(
        "volumesFrom",
        &c.volumes_from,
        |_| None,
        |at, v| {
            at.done(&v.other)?;
            Ok(t::VolumeFrom::builder()
                .set_source_container(at.string("sourceContainer", &v.source_container)?)
                .set_read_only(at.bool("readOnly", &v.read_only)?)
                .build())
        },
    )?)
    .set_system_controls(at.list(
        "systemControls",
        &c.system_controls,
        |_| None,
        |at, s| {
            at.done(&s.other)?;
            Ok(t::SystemControl::builder()
                .set_namespace(at.string("namespace", &s.namespace)?)
                .set_value(at.string("value", &s.value)?)
                .build())
        },
    )?))
}

/// Health check, logging, Linux parameters, registry credentials, FireLens
/// and the restart policy.
fn settings(
    at: At<'_>,
    c: &td::ContainerDefinition,
    b: t::builders::ContainerDefinitionBuilder,
) -> Result<t::builders::ContainerDefinitionBuilder, AwsError> {
    Ok(
        b.set_health_check(at.object("healthCheck", &c.health_check, |at, h| {
            at.done(&h.other)?;
            at.built(
                t::HealthCheck::builder()
                    .set_command(at.strings("command", &h.command)?)
                    .set_interval(at.int("interval", &h.interval)?)
                    .set_timeout(at.int("timeout", &h.timeout)?)
                    .set_retries(at.int("retries", &h.retries)?)
                    .set_start_period(at.int("startPeriod", &h.start_period)?)
                    .build(),
            )
        })?)
        .set_log_configuration(
            at.object("logConfiguration", &c.log_configuration, |at, l| {
                let out = t::LogConfiguration::builder()
                    .set_log_driver(at.enumerated("logDriver", &l.log_driver)?)
                    .set_options(at.dict("options", &l.options)?)
                    .set_secret_options(at.list(
                        "secretOptions",
                        &l.secret_options,
                        |s| str_of(&s.name),
                        secret,
                    )?)
                    .build();
                at.done(&l.other)?;
                at.built(out)
            })?,
        )
        .set_linux_parameters(at.object("linuxParameters", &c.linux_parameters, |at, l| {
            let capabilities = at.object("capabilities", &l.capabilities, |at, k| {
                at.done(&k.other)?;
                Ok(t::KernelCapabilities::builder()
                    .set_add(at.strings("add", &k.add)?)
                    .set_drop(at.strings("drop", &k.drop)?)
                    .build())
            })?;
            at.done(&l.other)?;
            Ok(t::LinuxParameters::builder()
                .set_capabilities(capabilities)
                .set_init_process_enabled(at.bool("initProcessEnabled", &l.init_process_enabled)?)
                .build())
        })?)
        .set_repository_credentials(at.object(
            "repositoryCredentials",
            &c.repository_credentials,
            |at, r| {
                at.done(&r.other)?;
                at.built(
                    t::RepositoryCredentials::builder()
                        .set_credentials_parameter(
                            at.string("credentialsParameter", &r.credentials_parameter)?,
                        )
                        .build(),
                )
            },
        )?)
        .set_firelens_configuration(at.object(
            "firelensConfiguration",
            &c.firelens_configuration,
            |at, f| {
                at.done(&f.other)?;
                at.built(
                    t::FirelensConfiguration::builder()
                        .set_type(at.enumerated("type", &f.r#type)?)
                        .set_options(at.dict("options", &f.options)?)
                        .build(),
                )
            },
        )?)
        .set_restart_policy(at.object(
            "restartPolicy",
            &c.restart_policy,
            |at, r| {
                at.done(&r.other)?;
                at.built(
                    t::ContainerRestartPolicy::builder()
                        .set_enabled(at.bool("enabled", &r.enabled)?)
                        .set_ignored_exit_codes(at.ints("ignoredExitCodes", &r.ignored_exit_codes)?)
                        .set_restart_attempt_period(
                            at.int("restartAttemptPeriod", &r.restart_attempt_period)?,
                        )
                        .build(),
                )
            },
        )?),
    )
}
