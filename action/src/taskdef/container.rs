//! A container definition of the task definition, and the parts it is made
//! of (ports, environment, secrets, health check, logging, ...).

use serde::{Deserialize, Serialize};
use serde_json::{Map, Number, Value};

use super::field::{Dict, List, Maybe, Read, dict_get, str_of, typed};
use super::model::{KeyValuePair, shape};

shape! {
    /// One container of the task.
    ContainerDefinition {
        command: List<String>,
        cpu: Maybe<Number>,
        depends_on: List<ContainerDependency>,
        docker_labels: Dict,
        entry_point: List<String>,
        environment: List<KeyValuePair>,
        environment_files: List<EnvironmentFile>,
        essential: Maybe<bool>,
        firelens_configuration: Maybe<FirelensConfiguration>,
        health_check: Maybe<HealthCheck>,
        image: Maybe<String>,
        interactive: Maybe<bool>,
        /// Legacy links to other containers (bridge mode).
        links: List<String>,
        linux_parameters: Maybe<LinuxParameters>,
        log_configuration: Maybe<LogConfiguration>,
        memory: Maybe<Number>,
        memory_reservation: Maybe<Number>,
        mount_points: List<MountPoint>,
        name: Maybe<String>,
        port_mappings: List<PortMapping>,
        pseudo_terminal: Maybe<bool>,
        readonly_root_filesystem: Maybe<bool>,
        repository_credentials: Maybe<RepositoryCredentials>,
        restart_policy: Maybe<RestartPolicy>,
        secrets: List<Secret>,
        start_timeout: Maybe<Number>,
        stop_timeout: Maybe<Number>,
        system_controls: List<SystemControl>,
        ulimits: List<Ulimit>,
        user: Maybe<String>,
        version_consistency: Maybe<String>,
        volumes_from: List<VolumeFrom>,
        working_directory: Maybe<String>,
    }
}

shape! {
    /// A port the container listens on.
    PortMapping {
        app_protocol: Maybe<String>,
        container_port: Maybe<Number>,
        container_port_range: Maybe<String>,
        host_port: Maybe<Number>,
        name: Maybe<String>,
        protocol: Maybe<String>,
    }
}

shape! {
    /// A secret given to the container (or a log driver) as a variable.
    Secret {
        name: Maybe<String>,
        value_from: Maybe<String>,
    }
}

shape! {
    /// A file of environment variables in S3.
    EnvironmentFile {
        r#type: Maybe<String>,
        value: Maybe<String>,
    }
}

shape! {
    /// A resource limit of the container.
    Ulimit {
        hard_limit: Maybe<Number>,
        name: Maybe<String>,
        soft_limit: Maybe<Number>,
    }
}

shape! {
    /// Another container this one waits for.
    ContainerDependency {
        condition: Maybe<String>,
        container_name: Maybe<String>,
    }
}

shape! {
    /// A volume of the task mounted in the container.
    MountPoint {
        container_path: Maybe<String>,
        read_only: Maybe<bool>,
        source_volume: Maybe<String>,
    }
}

shape! {
    /// Another container's volumes mounted in this one.
    VolumeFrom {
        read_only: Maybe<bool>,
        source_container: Maybe<String>,
    }
}

shape! {
    /// A kernel parameter of the container's namespace.
    SystemControl {
        namespace: Maybe<String>,
        value: Maybe<String>,
    }
}

shape! {
    /// The container's health check.
    HealthCheck {
        command: List<String>,
        interval: Maybe<Number>,
        retries: Maybe<Number>,
        start_period: Maybe<Number>,
        timeout: Maybe<Number>,
    }
}

shape! {
    /// Where the container's logs go.
    LogConfiguration {
        log_driver: Maybe<String>,
        options: Dict,
        secret_options: List<Secret>,
    }
}

shape! {
    /// Linux-specific settings of the container.
    LinuxParameters {
        capabilities: Maybe<KernelCapabilities>,
        init_process_enabled: Maybe<bool>,
    }
}

shape! {
    /// Linux capabilities added to or dropped from Docker's defaults.
    KernelCapabilities {
        add: List<String>,
        drop: List<String>,
    }
}

shape! {
    /// The private registry credentials of the container's image.
    RepositoryCredentials {
        credentials_parameter: Maybe<String>,
    }
}

shape! {
    /// The FireLens log router of the task.
    FirelensConfiguration {
        options: Dict,
        r#type: Maybe<String>,
    }
}

shape! {
    /// When ECS restarts the container in place.
    RestartPolicy {
        enabled: Maybe<bool>,
        ignored_exit_codes: List<Number>,
        restart_attempt_period: Maybe<Number>,
    }
}

impl ContainerDefinition {
    /// The container's name, when it is a string.
    pub fn name(&self) -> Option<&str> {
        str_of(&self.name)
    }

    /// The container's image, when it is a string.
    pub fn image(&self) -> Option<&str> {
        str_of(&self.image)
    }

    /// The value the container's `environment` gives the variable `name`.
    pub fn variable(&self, name: &str) -> Option<&str> {
        typed(&self.environment)
            .find(|v| str_of(&v.name) == Some(name))
            .and_then(|v| str_of(&v.value))
    }

    /// The container's secrets that are objects.
    pub fn secrets(&self) -> impl Iterator<Item = &Secret> {
        typed(&self.secrets)
    }

    /// The container's log configuration, when its driver is `awslogs`.
    pub fn awslogs(&self) -> Option<&LogConfiguration> {
        self.log_configuration
            .typed()
            .filter(|l| str_of(&l.log_driver) == Some("awslogs"))
    }
}

impl LogConfiguration {
    /// The log driver's option `key`, when it is a string.
    pub fn option(&self, key: &str) -> Option<&str> {
        dict_get(&self.options, key)
    }
}
