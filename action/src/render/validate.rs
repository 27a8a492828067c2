//! Offline validation of a rendered task definition against the rules ECS
//! and Fargate enforce, so a bad definition fails in CI with a message that
//! says what to change, not at deploy time with an API error.
//!
//! The rules follow the RegisterTaskDefinition API reference field by field
//! (TaskDefinition, ContainerDefinition, HealthCheck, LogConfiguration,
//! Secret, ...), and each names the field and the documented limit it
//! checks ([`Problem::rule`]). A null is an absent value ([`strip_nulls`]),
//! as AWS's official GitHub actions strip them. Where ECS is observed to
//! accept what the reference says it refuses, the rule is a warning that
//! says why, not a refusal: a team adopting Ferry starts from task
//! definitions ECS registered.

use std::collections::BTreeSet;

use serde_json::Value;

use super::fargate::{CPUS, memory_for_cpu, parse_units};

/// The largest RegisterTaskDefinition request ECS accepts.
pub const MAX_BYTES: usize = 64 * 1024;

/// One broken rule: where in the JSON, what is wrong, what to change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// JSON path of the offending value, e.g. `containerDefinitions[0].cpu`.
    pub path: String,
    /// What is wrong.
    pub message: String,
    /// What to change.
    pub help: String,
    /// The field and the documented limit the rule checks, e.g.
    /// `ContainerDefinition.stopTimeout: at most 120 on Fargate`.
    pub rule: &'static str,
}

fn problem(
    path: impl Into<String>,
    message: impl Into<String>,
    help: impl Into<String>,
) -> Problem {
    Problem {
        path: path.into(),
        message: message.into(),
        help: help.into(),
        rule: "",
    }
}

impl Problem {
    fn rule(mut self, rule: &'static str) -> Self {
        self.rule = rule;
        self
    }
}

/// What a task definition breaks: refusals, and warnings (rules the docs
/// state that ECS is observed not to enforce).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Report {
    /// What ECS refuses: the definition is not registered.
    pub problems: Vec<Problem>,
    /// What the docs refuse but ECS accepts: said, not refused.
    pub warnings: Vec<Problem>,
}

/// The value with every `null` object member removed, at any depth: ECS
/// reads a null as an absent field, and console and describe exports write
/// `"stopTimeout": null` for every unset one.
pub fn strip_nulls(value: Value) -> Value {
    match value {
        Value::Object(obj) => Value::Object(
            obj.into_iter()
                .filter(|(_, v)| !v.is_null())
                .map(|(k, v)| (k, strip_nulls(v)))
                .collect(),
        ),
        Value::Array(items) => Value::Array(items.into_iter().map(strip_nulls).collect()),
        other => other,
    }
}

/// What the rules need to know beyond the JSON.
#[derive(Debug, Clone, Copy, Default)]
pub struct Rules {
    /// A production environment: `:latest` images are refused.
    pub production: bool,
}

/// Checks every rule and returns every refusal (empty: valid).
pub fn validate(td: &Value, rules: Rules) -> Vec<Problem> {
    check(td, rules).problems
}

/// The values ECS takes for an enumerated field.
fn one_of(
    out: &mut Vec<Problem>,
    path: &str,
    value: Option<&Value>,
    allowed: &[&str],
    rule: &'static str,
) {
    let Some(v) = value else { return };
    if !v.as_str().is_some_and(|s| allowed.contains(&s)) {
        out.push(
            problem(
                path,
                format!("{path} is {v}; ECS takes {}", allowed.join(", ")),
                format!("set {path} to one of {}", allowed.join(", ")),
            )
            .rule(rule),
        );
    }
}

/// A field the API reference marks "Required: Yes" in an object that is
/// present.
fn required(out: &mut Vec<Problem>, at: &str, obj: &Value, key: &str, rule: &'static str) {
    let present = match obj.get(key) {
        None => false,
        Some(Value::String(s)) => !s.trim().is_empty(),
        Some(Value::Array(a)) => !a.is_empty(),
        Some(_) => true,
    };
    if !present {
        out.push(
            problem(
                format!("{at}.{key}"),
                format!("{at} has no {key}, which ECS requires"),
                format!("set {at}.{key}, or remove {at}"),
            )
            .rule(rule),
        );
    }
}

/// Every item of a list field (none when absent or not a list).
fn items<'a>(v: &'a Value, key: &str) -> impl Iterator<Item = (usize, &'a Value)> {
    v.get(key)
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .enumerate()
}

/// Checks every rule: refusals and warnings.
pub fn check(td: &Value, rules: Rules) -> Report {
    let mut report = Report::default();
    let out = &mut report.problems;
    let Some(obj) = td.as_object() else {
        out.push(problem(
            "",
            "the task definition is not an object",
            "return an object from the Jsonnet file",
        ));
        return report;
    };
    name_rule(out, "family", obj.get("family"), "family");
    let compat: Vec<&str> = obj
        .get("requiresCompatibilities")
        .and_then(Value::as_array)
        .map(|a| a.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    for (i, c) in items(td, "requiresCompatibilities") {
        one_of(
            out,
            &format!("requiresCompatibilities[{i}]"),
            Some(c),
            &["EC2", "FARGATE", "EXTERNAL", "MANAGED_INSTANCES"],
            "TaskDefinition.requiresCompatibilities: EC2, FARGATE, EXTERNAL or MANAGED_INSTANCES",
        );
    }
    let fargate = compat.contains(&"FARGATE");
    one_of(
        out,
        "networkMode",
        obj.get("networkMode"),
        &["bridge", "host", "awsvpc", "none"],
        "TaskDefinition.networkMode: none, bridge, awsvpc or host",
    );
    let awsvpc = obj.get("networkMode").and_then(Value::as_str) == Some("awsvpc");
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
        obj.get("pidMode"),
        if fargate {
            &["task"]
        } else {
            &["host", "task"]
        },
        "TaskDefinition.pidMode: host or task (task only on Fargate)",
    );
    if fargate && obj.contains_key("ipcMode") {
        out.push(
            problem("ipcMode", "Fargate tasks take no ipcMode", "remove ipcMode")
                .rule("TaskDefinition.ipcMode: not supported on Fargate"),
        );
    } else {
        one_of(
            out,
            "ipcMode",
            obj.get("ipcMode"),
            &["host", "task", "none"],
            "TaskDefinition.ipcMode: host, task or none",
        );
    }
    let (cpu, memory) = task_size(out, obj.get("cpu"), obj.get("memory"), fargate);
    let containers = obj.get("containerDefinitions").and_then(Value::as_array);
    let containers = containers.map(Vec::as_slice).unwrap_or_default();
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
            .any(|c| c.get("essential").and_then(Value::as_bool).unwrap_or(true))
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
    let container_names: BTreeSet<&str> = containers
        .iter()
        .filter_map(|c| c.get("name").and_then(Value::as_str))
        .collect();
    let volume_names: BTreeSet<&str> = items(td, "volumes")
        .filter_map(|(_, v)| v.get("name").and_then(Value::as_str))
        .collect();
    let mut names = BTreeSet::new();
    let (mut cpu_sum, mut mem_sum) = (0u64, 0u64);
    for (i, c) in containers.iter().enumerate() {
        let at = format!("containerDefinitions[{i}]");
        if let Some(name) = c.get("name").and_then(Value::as_str)
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
        name_rule(out, &format!("{at}.name"), c.get("name"), "container name");
        let refs = Refs {
            containers: &container_names,
            volumes: &volume_names,
        };
        container(
            out,
            &mut report.warnings,
            &at,
            c,
            Launch { awsvpc, fargate },
            rules,
            &refs,
        );
        cpu_sum += c.get("cpu").and_then(Value::as_u64).unwrap_or(0);
        mem_sum += c
            .get("memory")
            .or(c.get("memoryReservation"))
            .and_then(Value::as_u64)
            .unwrap_or(0);
    }
    let out = &mut report.problems;
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
    if let Some(size) = obj.get("ephemeralStorage").and_then(|e| e.get("sizeInGiB"))
        && !size.as_u64().is_some_and(|s| (21..=200).contains(&s))
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
    if let Some(tags) = obj
        .get("tags")
        .and_then(Value::as_array)
        .filter(|t| t.len() > 50)
    {
        out.push(
            problem(
                "tags",
                format!("{} tags; ECS allows 50", tags.len()),
                "drop tags until 50 or fewer are left",
            )
            .rule("Tag: at most 50 tags per resource"),
        );
    }
    for (i, t) in items(td, "tags") {
        required(
            out,
            &format!("tags[{i}]"),
            t,
            "key",
            "Tag.key: required, 1 to 128 characters",
        );
    }
    volumes(out, td);
    if let Some(p) = obj.get("proxyConfiguration") {
        required(
            out,
            "proxyConfiguration",
            p,
            "containerName",
            "ProxyConfiguration.containerName: required",
        );
    }
    for (i, p) in items(td, "placementConstraints") {
        one_of(
            out,
            &format!("placementConstraints[{i}].type"),
            p.get("type"),
            &["memberOf"],
            "TaskDefinitionPlacementConstraint.type: memberOf",
        );
    }
    let size = serde_json::to_vec(td).map(|v| v.len()).unwrap_or(0);
    if size > MAX_BYTES {
        out.push(problem("", format!("the task definition is {size} bytes; ECS takes at most {MAX_BYTES}"), "shorten it: fewer or shorter environment variables, or move configuration into a file or SSM").rule("RegisterTaskDefinition: request of at most 64 KiB"));
    }
    report
}

/// The names other fields refer to.
struct Refs<'a> {
    containers: &'a BTreeSet<&'a str>,
    volumes: &'a BTreeSet<&'a str>,
}

/// How the task is launched, for the rules that depend on it.
#[derive(Clone, Copy)]
struct Launch {
    awsvpc: bool,
    fargate: bool,
}

fn volumes(out: &mut Vec<Problem>, td: &Value) {
    for (i, v) in items(td, "volumes") {
        let at = format!("volumes[{i}]");
        if v.get("name").is_some() {
            name_rule(out, &format!("{at}.name"), v.get("name"), "volume name");
        }
        if let Some(efs) = v.get("efsVolumeConfiguration") {
            let at = format!("{at}.efsVolumeConfiguration");
            required(
                out,
                &at,
                efs,
                "fileSystemId",
                "EFSVolumeConfiguration.fileSystemId: required",
            );
            one_of(
                out,
                &format!("{at}.transitEncryption"),
                efs.get("transitEncryption"),
                &["ENABLED", "DISABLED"],
                "EFSVolumeConfiguration.transitEncryption: ENABLED or DISABLED",
            );
            let iam = efs
                .get("authorizationConfig")
                .and_then(|a| a.get("iam"))
                .and_then(Value::as_str);
            if iam == Some("ENABLED")
                && efs.get("transitEncryption").and_then(Value::as_str) != Some("ENABLED")
            {
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
}

fn name_rule(out: &mut Vec<Problem>, path: &str, value: Option<&Value>, what: &str) {
    let rule =
        "name: up to 255 letters (uppercase and lowercase), numbers, underscores and hyphens";
    let Some(name) = value.and_then(Value::as_str) else {
        out.push(
            problem(
                path,
                format!("the {what} is missing or not a string"),
                format!("set {path} to a name of letters, digits, - and _"),
            )
            .rule(rule),
        );
        return;
    };
    let ok = !name.is_empty()
        && name.len() <= 255
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
    if !ok {
        out.push(
            problem(
                path,
                format!("the {what} {name:?} is not 1-255 letters, digits, - and _"),
                format!("rename it, e.g. {:?}", sanitize(name)),
            )
            .rule(rule),
        );
    }
}

fn sanitize(name: &str) -> String {
    let s: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '-'
            }
        })
        .take(255)
        .collect();
    if s.is_empty() { "my-service".into() } else { s }
}

fn task_size(
    out: &mut Vec<Problem>,
    cpu: Option<&Value>,
    memory: Option<&Value>,
    fargate: bool,
) -> (Option<u64>, Option<u64>) {
    let cpu_units = cpu.and_then(parse_units);
    let mem = memory.and_then(parse_units);
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

#[allow(clippy::too_many_lines)]
fn container(
    out: &mut Vec<Problem>,
    warnings: &mut Vec<Problem>,
    at: &str,
    c: &Value,
    launch: Launch,
    rules: Rules,
    refs: &Refs<'_>,
) {
    image(out, at, c.get("image"), rules);
    let res = c.get("memoryReservation").and_then(Value::as_u64);
    let mem = c.get("memory").and_then(Value::as_u64);
    if let (Some(res), Some(mem)) = (res, mem) {
        let rule = "ContainerDefinition.memoryReservation: if both are given, memory must be greater than memoryReservation";
        if res > mem {
            out.push(
                problem(
                    format!("{at}.memoryReservation"),
                    format!("memoryReservation {res} is above memory {mem}"),
                    "make memoryReservation (soft limit) smaller than memory (hard limit)",
                )
                .rule(rule),
            );
        } else if res == mem {
            warnings.push(
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
            out.push(
                problem(
                    format!("{at}.{key}"),
                    format!("{key} {v} MiB is below the 6 MiB a container needs"),
                    format!("set {key} to 6 or more"),
                )
                .rule("ContainerDefinition.memory: Docker 20.10.0 or later reserves a minimum of 6 MiB"),
            );
        }
    }
    for (j, p) in items(c, "portMappings") {
        let pat = format!("{at}.portMappings[{j}]");
        let container_port = p.get("containerPort").and_then(Value::as_u64);
        if let Some(host) = p.get("hostPort").and_then(Value::as_u64)
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
        for key in ["containerPort", "hostPort"] {
            if let Some(v) = p.get(key)
                && v.as_u64().is_none_or(|v| v > 65535)
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
            p.get("protocol"),
            &["tcp", "udp"],
            "PortMapping.protocol: tcp or udp",
        );
        one_of(
            out,
            &format!("{pat}.appProtocol"),
            p.get("appProtocol"),
            &["http", "http2", "grpc"],
            "PortMapping.appProtocol: http, http2 or grpc",
        );
    }
    if let Some(hc) = c.get("healthCheck") {
        let hat = format!("{at}.healthCheck");
        required(out, &hat, hc, "command", "HealthCheck.command: required");
        if let Some(first) = hc
            .get("command")
            .and_then(Value::as_array)
            .and_then(|a| a.first())
            && !matches!(first.as_str(), Some("CMD" | "CMD-SHELL" | "NONE"))
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
        for (key, lo, hi, rule) in [
            ("interval", 5, 300, "HealthCheck.interval: 5 to 300 seconds"),
            ("timeout", 2, 60, "HealthCheck.timeout: 2 to 60 seconds"),
            ("retries", 1, 10, "HealthCheck.retries: 1 to 10"),
            (
                "startPeriod",
                0,
                300,
                "HealthCheck.startPeriod: 0 to 300 seconds",
            ),
        ] {
            if let Some(v) = hc.get(key)
                && !v.as_u64().is_some_and(|v| (lo..=hi).contains(&v))
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
    if let Some(t) = c.get("stopTimeout") {
        let limit = if launch.fargate {
            120
        } else {
            u64::from(u32::MAX)
        };
        if t.as_u64().is_none_or(|t| t > limit) {
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
    if let Some(log) = c.get("logConfiguration") {
        let lat = format!("{at}.logConfiguration");
        required(
            out,
            &lat,
            log,
            "logDriver",
            "LogConfiguration.logDriver: required",
        );
        if log.get("logDriver").is_some() {
            one_of(
                out,
                &format!("{lat}.logDriver"),
                log.get("logDriver"),
                if launch.fargate {
                    FARGATE_LOG_DRIVERS
                } else {
                    LOG_DRIVERS
                },
                "LogConfiguration.logDriver: json-file, syslog, journald, gelf, fluentd, awslogs, splunk or awsfirelens (Fargate: awslogs, splunk, awsfirelens)",
            );
        }
        for (j, s) in items(log, "secretOptions") {
            let sat = format!("{lat}.secretOptions[{j}]");
            required(out, &sat, s, "name", "Secret.name: required");
            required(out, &sat, s, "valueFrom", "Secret.valueFrom: required");
        }
    }
    if let Some(f) = c.get("firelensConfiguration") {
        let fat = format!("{at}.firelensConfiguration");
        required(
            out,
            &fat,
            f,
            "type",
            "FirelensConfiguration.type: required, fluentd or fluentbit",
        );
        if f.get("type").is_some() {
            one_of(
                out,
                &format!("{fat}.type"),
                f.get("type"),
                &["fluentd", "fluentbit"],
                "FirelensConfiguration.type: fluentd or fluentbit",
            );
        }
    }
    if let Some(r) = c.get("repositoryCredentials") {
        required(
            out,
            &format!("{at}.repositoryCredentials"),
            r,
            "credentialsParameter",
            "RepositoryCredentials.credentialsParameter: required",
        );
    }
    for (j, d) in items(c, "dependsOn") {
        let dat = format!("{at}.dependsOn[{j}]");
        required(
            out,
            &dat,
            d,
            "containerName",
            "ContainerDependency.containerName: required",
        );
        required(
            out,
            &dat,
            d,
            "condition",
            "ContainerDependency.condition: required",
        );
        one_of(
            out,
            &format!("{dat}.condition"),
            d.get("condition"),
            &["START", "COMPLETE", "SUCCESS", "HEALTHY"],
            "ContainerDependency.condition: START, COMPLETE, SUCCESS or HEALTHY",
        );
        if let Some(name) = d.get("containerName").and_then(Value::as_str)
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
    for (j, m) in items(c, "mountPoints") {
        if let Some(name) = m.get("sourceVolume").and_then(Value::as_str)
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
    for (j, v) in items(c, "volumesFrom") {
        if let Some(name) = v.get("sourceContainer").and_then(Value::as_str)
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
    for (j, u) in items(c, "ulimits") {
        let uat = format!("{at}.ulimits[{j}]");
        for key in ["name", "softLimit", "hardLimit"] {
            required(
                out,
                &uat,
                u,
                key,
                "Ulimit: name, softLimit and hardLimit are required",
            );
        }
    }
    let mut seen = BTreeSet::new();
    let env = items(c, "environment").map(|(j, e)| (format!("{at}.environment[{j}]"), e));
    let secrets = items(c, "secrets").map(|(j, e)| (format!("{at}.secrets[{j}]"), e));
    for (path, e) in env.chain(secrets) {
        if let Some(name) = e.get("name").and_then(Value::as_str)
            && !seen.insert(name)
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
    for (j, s) in items(c, "secrets") {
        let sat = format!("{at}.secrets[{j}]");
        required(out, &sat, s, "name", "Secret.name: required");
        required(out, &sat, s, "valueFrom", "Secret.valueFrom: required");
        let from = s.get("valueFrom").and_then(Value::as_str).unwrap_or("");
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
            warnings.push(
                problem(
                    format!("{sat}.valueFrom"),
                    format!("secret valueFrom {from:?} is not a Secrets Manager or SSM parameter ARN: ECS reads it as the name of an SSM parameter in the task's region, which it accepts though the docs ask for an ARN"),
                    "use the parameter's ARN (arn:aws:ssm:...) or the secret's (arn:aws:secretsmanager:...) to say which one",
                )
                .rule("Secret.valueFrom: the secret's ARN, or the SSM parameter's ARN or (same region) name"),
            );
        } else if !fine {
            out.push(
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

fn image(out: &mut Vec<Problem>, at: &str, image: Option<&Value>, rules: Rules) {
    let image = image.and_then(Value::as_str).unwrap_or("").trim();
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

#[cfg(test)]
mod tests;
