//! A container definition and its parts, field by field, between the
//! typed model and the SDK's `ContainerDefinition`.

use super::convert::pair;

pair!(ContainerDefinition => ContainerDefinition [name] {
    command: set_command,
    cpu: set_cpu,
    depends_on: set_depends_on,
    docker_labels: set_docker_labels,
    entry_point: set_entry_point,
    environment: set_environment,
    environment_files: set_environment_files,
    essential: set_essential,
    firelens_configuration: set_firelens_configuration,
    health_check: set_health_check,
    image: set_image,
    interactive: set_interactive,
    links: set_links,
    linux_parameters: set_linux_parameters,
    log_configuration: set_log_configuration,
    memory: set_memory,
    memory_reservation: set_memory_reservation,
    mount_points: set_mount_points,
    name: set_name,
    port_mappings: set_port_mappings,
    pseudo_terminal: set_pseudo_terminal,
    readonly_root_filesystem: set_readonly_root_filesystem,
    repository_credentials: set_repository_credentials,
    restart_policy: set_restart_policy,
    secrets: set_secrets,
    start_timeout: set_start_timeout,
    stop_timeout: set_stop_timeout,
    system_controls: set_system_controls,
    ulimits: set_ulimits,
    user: set_user,
    version_consistency: set_version_consistency,
    volumes_from: set_volumes_from,
    working_directory: set_working_directory,
});

pair!(PortMapping => PortMapping {
    app_protocol: set_app_protocol,
    container_port: set_container_port,
    container_port_range: set_container_port_range,
    host_port: set_host_port,
    name: set_name,
    protocol: set_protocol,
});

pair!(KeyValuePair => KeyValuePair [name] { name: set_name, value: set_value });

pair!(Secret => Secret [name] { name: set_name, value_from: set_value_from });

pair!(EnvironmentFile => EnvironmentFile { r#type: set_type, value: set_value });

pair!(Ulimit => Ulimit [name] {
    hard_limit: set_hard_limit,
    name: set_name,
    soft_limit: set_soft_limit,
});

pair!(ContainerDependency => ContainerDependency [container_name] {
    condition: set_condition,
    container_name: set_container_name,
});

pair!(MountPoint => MountPoint [container_path] {
    container_path: set_container_path,
    read_only: set_read_only,
    source_volume: set_source_volume,
});

pair!(VolumeFrom => VolumeFrom {
    read_only: set_read_only,
    source_container: set_source_container,
});

pair!(SystemControl => SystemControl { namespace: set_namespace, value: set_value });

pair!(HealthCheck => HealthCheck {
    command: set_command,
    interval: set_interval,
    retries: set_retries,
    start_period: set_start_period,
    timeout: set_timeout,
});

pair!(LogConfiguration => LogConfiguration {
    log_driver: set_log_driver,
    options: set_options,
    secret_options: set_secret_options,
});

pair!(LinuxParameters => LinuxParameters {
    capabilities: set_capabilities,
    init_process_enabled: set_init_process_enabled,
});

pair!(KernelCapabilities => KernelCapabilities { add: set_add, drop: set_drop });

pair!(RepositoryCredentials => RepositoryCredentials {
    credentials_parameter: set_credentials_parameter,
});

pair!(FirelensConfiguration => FirelensConfiguration { options: set_options, r#type: set_type });

pair!(RestartPolicy => ContainerRestartPolicy {
    enabled: set_enabled,
    ignored_exit_codes: set_ignored_exit_codes,
    restart_attempt_period: set_restart_attempt_period,
});
