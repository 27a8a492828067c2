//! Offline validation of a rendered task definition against the rules ECS
//! and Fargate enforce, so a bad definition fails in CI with a message that
//! says what to change, not at deploy time with an API error.

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
    }
}

/// What the rules need to know beyond the JSON.
#[derive(Debug, Clone, Copy, Default)]
pub struct Rules {
    /// A production environment: `:latest` images are refused.
    pub production: bool,
}

/// Checks every rule and returns every problem (empty: valid).
pub fn validate(td: &Value, rules: Rules) -> Vec<Problem> {
    let mut out = Vec::new();
    let Some(obj) = td.as_object() else {
        return vec![problem(
            "",
            "the task definition is not an object",
            "return an object from the Jsonnet file",
        )];
    };
    name_rule(&mut out, "family", obj.get("family"), "family");
    let fargate = obj
        .get("requiresCompatibilities")
        .and_then(Value::as_array)
        .is_some_and(|a| a.iter().any(|c| c == "FARGATE"));
    let awsvpc = obj.get("networkMode").and_then(Value::as_str) == Some("awsvpc");
    if fargate && !awsvpc {
        out.push(problem(
            "networkMode",
            "Fargate tasks need networkMode awsvpc",
            "set networkMode: 'awsvpc'",
        ));
    }
    let (cpu, memory) = task_size(&mut out, obj.get("cpu"), obj.get("memory"), fargate);
    let containers = obj.get("containerDefinitions").and_then(Value::as_array);
    let containers = containers.map(Vec::as_slice).unwrap_or_default();
    if containers.is_empty() || containers.len() > 10 {
        out.push(problem(
            "containerDefinitions",
            format!(
                "{} containers; a task definition has 1 to 10",
                containers.len()
            ),
            "keep between 1 and 10 entries in containerDefinitions",
        ));
    }
    if !containers.is_empty()
        && !containers
            .iter()
            .any(|c| c.get("essential").and_then(Value::as_bool).unwrap_or(true))
    {
        out.push(problem(
            "containerDefinitions",
            "no container is essential",
            "mark the main container essential: true",
        ));
    }
    let mut names = BTreeSet::new();
    let (mut cpu_sum, mut mem_sum) = (0u64, 0u64);
    for (i, c) in containers.iter().enumerate() {
        let at = format!("containerDefinitions[{i}]");
        if let Some(name) = c.get("name").and_then(Value::as_str)
            && !names.insert(name)
        {
            out.push(problem(
                format!("{at}.name"),
                format!("two containers are named {name}"),
                "give each container its own name",
            ));
        }
        name_rule(
            &mut out,
            &format!("{at}.name"),
            c.get("name"),
            "container name",
        );
        container(&mut out, &at, c, awsvpc, rules);
        cpu_sum += c.get("cpu").and_then(Value::as_u64).unwrap_or(0);
        mem_sum += c
            .get("memory")
            .or(c.get("memoryReservation"))
            .and_then(Value::as_u64)
            .unwrap_or(0);
    }
    if let Some(cpu) = cpu.filter(|cpu| cpu_sum > *cpu) {
        out.push(problem(
            "containerDefinitions",
            format!("the containers' cpu adds up to {cpu_sum}, more than the task's {cpu}"),
            "lower a container's cpu or raise the task's",
        ));
    }
    if let Some(memory) = memory.filter(|m| mem_sum > *m) {
        out.push(problem(
            "containerDefinitions",
            format!(
                "the containers' memory adds up to {mem_sum} MiB, more than the task's {memory}"
            ),
            "lower a container's memory or raise the task's",
        ));
    }
    if let Some(size) = obj.get("ephemeralStorage").and_then(|e| e.get("sizeInGiB"))
        && !size.as_u64().is_some_and(|s| (21..=200).contains(&s))
    {
        out.push(problem(
            "ephemeralStorage.sizeInGiB",
            format!("ephemeral storage {size} GiB; Fargate takes 21 to 200"),
            "set sizeInGiB between 21 and 200, or drop ephemeralStorage for the default 20",
        ));
    }
    if let Some(tags) = obj
        .get("tags")
        .and_then(Value::as_array)
        .filter(|t| t.len() > 50)
    {
        out.push(problem(
            "tags",
            format!("{} tags; ECS allows 50", tags.len()),
            "drop tags until 50 or fewer are left",
        ));
    }
    let size = serde_json::to_vec(td).map(|v| v.len()).unwrap_or(0);
    if size > MAX_BYTES {
        out.push(problem("", format!("the task definition is {size} bytes; ECS takes at most {MAX_BYTES}"), "shorten it: fewer or shorter environment variables, or move configuration into a file or SSM"));
    }
    out
}

fn name_rule(out: &mut Vec<Problem>, path: &str, value: Option<&Value>, what: &str) {
    let Some(name) = value.and_then(Value::as_str) else {
        out.push(problem(
            path,
            format!("the {what} is missing or not a string"),
            format!("set {path} to a name of letters, digits, - and _"),
        ));
        return;
    };
    let ok = !name.is_empty()
        && name.len() <= 255
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
    if !ok {
        out.push(problem(
            path,
            format!("the {what} {name:?} is not 1-255 letters, digits, - and _"),
            format!("rename it, e.g. {:?}", sanitize(name)),
        ));
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
    match (cpu_units, mem) {
        (Some(c), Some(m)) => match memory_for_cpu(c) {
            None => out.push(problem(
                "cpu",
                format!("task cpu {c} is not a Fargate size"),
                format!("use one of {CPUS:?}"),
            )),
            Some(allowed) if !allowed.contains(&m) => out.push(problem(
                "memory",
                format!("task memory {m} MiB does not go with cpu {c} on Fargate"),
                format!("with cpu {c} use memory {}", list(&allowed)),
            )),
            Some(_) => {}
        },
        _ => out.push(problem(
            "cpu",
            "a Fargate task needs task-level cpu and memory",
            "set cpu and memory, e.g. cpu: '256', memory: '512'",
        )),
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

fn container(out: &mut Vec<Problem>, at: &str, c: &Value, awsvpc: bool, rules: Rules) {
    image(out, at, c.get("image"), rules);
    if let (Some(res), Some(mem)) = (
        c.get("memoryReservation").and_then(Value::as_u64),
        c.get("memory").and_then(Value::as_u64),
    ) && res >= mem
    {
        out.push(problem(
            format!("{at}.memoryReservation"),
            format!("memoryReservation {res} is not below memory {mem}"),
            "make memoryReservation (soft limit) smaller than memory (hard limit)",
        ));
    }
    for (j, p) in c
        .get("portMappings")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .enumerate()
    {
        let container_port = p.get("containerPort").and_then(Value::as_u64);
        if let Some(host) = p.get("hostPort").and_then(Value::as_u64)
            && awsvpc
            && Some(host) != container_port
        {
            out.push(problem(
                format!("{at}.portMappings[{j}].hostPort"),
                format!(
                    "hostPort {host} differs from containerPort {container_port:?} under awsvpc"
                ),
                "drop hostPort or set it equal to containerPort",
            ));
        }
    }
    if let Some(hc) = c.get("healthCheck") {
        for (key, lo, hi) in [
            ("interval", 5, 300),
            ("timeout", 2, 60),
            ("retries", 1, 10),
            ("startPeriod", 0, 300),
        ] {
            if let Some(v) = hc.get(key)
                && !v.as_u64().is_some_and(|v| (lo..=hi).contains(&v))
            {
                out.push(problem(
                    format!("{at}.healthCheck.{key}"),
                    format!("health check {key} {v} is outside {lo}-{hi}"),
                    format!("set {key} between {lo} and {hi}"),
                ));
            }
        }
    }
    if let Some(t) = c.get("stopTimeout")
        && t.as_u64().is_none_or(|t| t > 120)
    {
        out.push(problem(
            format!("{at}.stopTimeout"),
            format!("stopTimeout {t} is over Fargate's 120 seconds"),
            "set stopTimeout to 120 or less",
        ));
    }
    let mut seen = BTreeSet::new();
    let env = c
        .get("environment")
        .and_then(Value::as_array)
        .into_iter()
        .flatten();
    let secrets = c
        .get("secrets")
        .and_then(Value::as_array)
        .into_iter()
        .flatten();
    for (j, e) in env.chain(secrets.clone()).enumerate() {
        if let Some(name) = e.get("name").and_then(Value::as_str)
            && !seen.insert(name)
        {
            out.push(problem(
                format!("{at}.environment[{j}]"),
                format!("environment variable {name} is defined twice (environment or secrets)"),
                format!("keep one definition of {name}"),
            ));
        }
    }
    for (j, s) in secrets.enumerate() {
        let from = s.get("valueFrom").and_then(Value::as_str).unwrap_or("");
        let arn = from.starts_with("arn:aws")
            && (from.contains(":secretsmanager:") || from.contains(":ssm:"));
        // ECS takes a parameter's name, with or without a leading `/`.
        let ssm_name = from.len() > usize::from(from.starts_with('/'))
            && !from.starts_with("arn:")
            && from
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "_.-/".contains(c));
        if !arn && !ssm_name {
            out.push(problem(format!("{at}.secrets[{j}].valueFrom"), format!("secret valueFrom {from:?} is not a Secrets Manager or SSM parameter ARN"), "use the secret's ARN (arn:aws:secretsmanager:...), the parameter's (arn:aws:ssm:...) or its name"));
        }
    }
}

fn image(out: &mut Vec<Problem>, at: &str, image: Option<&Value>, rules: Rules) {
    let image = image.and_then(Value::as_str).unwrap_or("").trim();
    if image.is_empty() {
        out.push(problem(
            format!("{at}.image"),
            "the image is empty",
            "pass --image URI (ext-str IMAGE), or IMAGE_TAG and IMAGE_REPOSITORY",
        ));
        return;
    }
    let last = image.rsplit('/').next().unwrap_or(image);
    let untagged = !last.contains(':') && !image.contains('@');
    if rules.production && (last.ends_with(":latest") || untagged) {
        out.push(problem(
            format!("{at}.image"),
            format!("image {image} is :latest in production"),
            "deploy an immutable tag or digest, e.g. the `image` output of ferry build",
        ));
    }
}
