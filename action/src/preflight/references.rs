//! What a rendered task definition and its service refer to, read as plain
//! data: each secret, role, image and log group, with the task-definition
//! field that names it. The text comes from Jsonnet, hostile like any
//! outside input: every form is parsed here, and a value no form fits is a
//! reference of its own that preflight reports, never a panic or a guess.

use crate::taskdef::TaskDefinition;
use crate::taskdef::field::{entries, str_of};

/// A reference one service's deploy depends on, with where it comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reference {
    /// The manifest's service name.
    pub service: String,
    /// The field that names it (`containerDefinitions[0].secrets[1].valueFrom`,
    /// `executionRoleArn`, or the manifest's `ecs-service`).
    pub field: String,
    /// What it refers to.
    pub kind: Kind,
}

/// The kinds of reference preflight checks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Kind {
    /// A Secrets Manager secret (`valueFrom` in its ARN form).
    Secret(SecretRef),
    /// An SSM parameter (`valueFrom` as a name, with or without a leading
    /// `/`, or as an ARN).
    Parameter(ParameterRef),
    /// A `valueFrom` that is neither.
    BadValueFrom {
        /// The value, as written.
        value: String,
        /// Why it is neither.
        why: String,
    },
    /// The execution or task role.
    Role {
        /// The ARN as written.
        arn: String,
        /// The role's name (the ARN's last segment).
        name: String,
    },
    /// A role field that is no IAM role ARN.
    BadRole {
        /// The value, as written.
        value: String,
    },
    /// A container's image.
    Image(String),
    /// An `awslogs` log group.
    LogGroup {
        /// The region (`awslogs-region`, else the deploy's).
        region: String,
        /// The group.
        group: String,
        /// `awslogs-create-group` is `"true"`: ECS creates it.
        created: bool,
    },
    /// The ECS cluster.
    Cluster(String),
    /// The ECS service in its cluster.
    Service {
        /// The cluster.
        cluster: String,
        /// The service.
        service: String,
        /// The names of the task definition's port mappings, which the
        /// service's Service Connect configuration must serve.
        ports: Vec<String>,
    },
}

/// A Secrets Manager reference: the secret and the suffixes ECS reads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SecretRef {
    /// The region of the ARN.
    pub region: String,
    /// The secret's ARN without the suffixes (full, or partial without
    /// the random six characters: DescribeSecret takes both).
    pub id: String,
    /// The JSON key (never checked: that would read the value).
    pub json_key: Option<String>,
    /// The version stage (`AWSCURRENT`, …).
    pub version_stage: Option<String>,
    /// The version id.
    pub version_id: Option<String>,
}

/// An SSM parameter reference.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParameterRef {
    /// The region (the ARN's, else the deploy's).
    pub region: String,
    /// The parameter's name as SSM spells it (a hierarchy starts with `/`).
    pub name: String,
    /// A `:version` or `:label` selector (its existence is not checked).
    pub selector: Option<String>,
}

/// Splits `arn:partition:service:region:account:resource` into its six
/// parts (the resource may hold more colons).
fn arn_parts(value: &str) -> Option<[&str; 6]> {
    let mut it = value.splitn(6, ':');
    let parts = [
        it.next()?,
        it.next()?,
        it.next()?,
        it.next()?,
        it.next()?,
        it.next()?,
    ];
    (parts[0] == "arn").then_some(parts)
}

/// Reads a `secrets[].valueFrom` (or `repositoryCredentials`-style ARN):
/// Secrets Manager ARNs (with `:json-key:version-stage:version-id`
/// suffixes, any of them empty), SSM parameter ARNs, and SSM parameter
/// names, which ECS resolves in the task's region (`region`).
pub fn value_from(value: &str, region: &str) -> Kind {
    let bad = |why: &str| Kind::BadValueFrom {
        value: value.to_string(),
        why: why.to_string(),
    };
    if value.trim().is_empty() {
        return bad("it is empty");
    }
    if value.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return bad("it holds white space or control characters");
    }
    if !value.starts_with("arn:") {
        // An SSM parameter name, resolved in the task's region.
        let (name, selector) = split_selector(value);
        return Kind::Parameter(ParameterRef {
            region: region.to_string(),
            name: name.to_string(),
            selector,
        });
    }
    let Some([_, _, service, arn_region, _, resource]) = arn_parts(value) else {
        return bad("it is an incomplete ARN (arn:partition:service:region:account:resource)");
    };
    let arn_region = if arn_region.is_empty() {
        region
    } else {
        arn_region
    };
    match service {
        "secretsmanager" => {
            // resource = secret:NAME[:json-key[:version-stage[:version-id]]]
            let mut fields = resource.split(':');
            let (Some("secret"), Some(name)) = (fields.next(), fields.next()) else {
                return bad("a Secrets Manager ARN names `secret:NAME`");
            };
            if name.is_empty() {
                return bad("the secret's name is empty");
            }
            let rest: Vec<&str> = fields.collect();
            if rest.len() > 3 {
                return bad(
                    "a Secrets Manager ARN takes at most three suffixes: :json-key:version-stage:version-id",
                );
            }
            let at = |i: usize| {
                rest.get(i)
                    .filter(|s| !s.is_empty())
                    .map(|s| (*s).to_string())
            };
            let id_len = value.len() - resource.len() + "secret:".len() + name.len();
            Kind::Secret(SecretRef {
                region: arn_region.to_string(),
                id: value[..id_len].to_string(),
                json_key: at(0),
                version_stage: at(1),
                version_id: at(2),
            })
        }
        "ssm" => {
            let Some(path) = resource.strip_prefix("parameter") else {
                return bad("an SSM ARN names `parameter/NAME`");
            };
            // `parameter/a/b` is `/a/b`; `parameter/db` is `db` (a name with
            // a `/` in it must start with one).
            let Some(rest) = path.strip_prefix('/').filter(|r| !r.is_empty()) else {
                return bad("the parameter's name is empty");
            };
            let (rest, selector) = split_selector(rest);
            let name = if rest.contains('/') {
                format!("/{rest}")
            } else {
                rest.to_string()
            };
            Kind::Parameter(ParameterRef {
                region: arn_region.to_string(),
                name,
                selector,
            })
        }
        other => bad(&format!(
            "ECS reads secrets from Secrets Manager or SSM Parameter Store, not `{}`",
            crate::text::truncate_chars(other, 40)
        )),
    }
}

/// `name:3` or `name:label` → (`name`, the selector).
fn split_selector(value: &str) -> (&str, Option<String>) {
    match value.rsplit_once(':') {
        Some((name, sel)) if !name.is_empty() && !sel.is_empty() => (name, Some(sel.to_string())),
        _ => (value, None),
    }
}

/// Reads a role field (`executionRoleArn`, `taskRoleArn`): an IAM role ARN
/// (`arn:aws:iam::ACCOUNT:role/[path/]NAME`).
pub fn role(value: &str) -> Kind {
    let bad = || Kind::BadRole {
        value: value.to_string(),
    };
    let Some([_, _, "iam", _, _, resource]) = arn_parts(value) else {
        return bad();
    };
    match resource
        .strip_prefix("role/")
        .and_then(|r| r.rsplit('/').next())
    {
        Some(name) if !name.is_empty() && !value.chars().any(char::is_whitespace) => Kind::Role {
            arn: value.to_string(),
            name: name.to_string(),
        },
        _ => bad(),
    }
}

/// Every reference of one service: its task definition's secrets, roles,
/// images and log groups, then its cluster and ECS service. `region` is
/// the deploy's.
pub fn of_service(
    service: &str,
    task_definition: &TaskDefinition,
    cluster: &str,
    ecs_service: &str,
    region: &str,
) -> Vec<Reference> {
    let mut refs = Vec::new();
    let mut push = |field: String, kind: Kind| {
        refs.push(Reference {
            service: service.to_string(),
            field,
            kind,
        });
    };
    let roles = [
        ("executionRoleArn", &task_definition.execution_role_arn),
        ("taskRoleArn", &task_definition.task_role_arn),
    ];
    for (field, value) in roles {
        if let Some(v) = str_of(value) {
            push(field.to_string(), role(v));
        }
    }
    for (i, c) in entries(&task_definition.container_definitions) {
        let Some(c) = c else { continue };
        let at = format!("containerDefinitions[{i}]");
        if let Some(image) = c.image() {
            push(format!("{at}.image"), Kind::Image(image.to_string()));
        }
        for (j, s) in entries(&c.secrets) {
            if let Some(v) = s.and_then(|s| str_of(&s.value_from)) {
                push(
                    format!("{at}.secrets[{j}].valueFrom"),
                    value_from(v, region),
                );
            }
        }
        if let Some(log) = c.awslogs() {
            let option = |k: &str| log.option(k);
            if let Some(group) = option("awslogs-group") {
                push(
                    format!("{at}.logConfiguration.options.awslogs-group"),
                    Kind::LogGroup {
                        region: option("awslogs-region").unwrap_or(region).to_string(),
                        group: group.to_string(),
                        created: option("awslogs-create-group")
                            .is_some_and(|v| v.eq_ignore_ascii_case("true")),
                    },
                );
            }
        }
    }
    push("cluster".into(), Kind::Cluster(cluster.to_string()));
    push(
        "ecs-service".into(),
        Kind::Service {
            cluster: cluster.to_string(),
            service: ecs_service.to_string(),
            ports: super::connect::port_names(task_definition)
                .into_iter()
                .map(|p| p.name)
                .collect(),
        },
    );
    refs
}

/// An image reference split for a registry lookup.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageRef {
    /// The registry host (`docker.io` when the reference names none).
    pub host: String,
    /// The repository in it.
    pub repository: String,
    /// The digest (`sha256:…`) when pinned, else the tag.
    pub reference: String,
    /// Whether `reference` is a digest.
    pub pinned: bool,
}

/// Splits `host/repo@sha256:…`, `host/repo:tag`, `repo` (Docker Hub).
pub fn image(value: &str) -> Result<ImageRef, String> {
    if value.is_empty() || value.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err("it is empty or holds white space".into());
    }
    let (name, reference, pinned) = match value.split_once('@') {
        Some((name, digest)) => {
            let hex = digest.strip_prefix("sha256:").unwrap_or_default();
            if hex.len() != 64 || !hex.chars().all(|c| c.is_ascii_hexdigit()) {
                return Err("its digest is not sha256 and 64 hex digits".into());
            }
            // `repo:tag@digest`: the digest decides.
            let name = match name.rsplit_once(':') {
                Some((n, tag)) if !tag.contains('/') => n,
                _ => name,
            };
            (name, digest.to_string(), true)
        }
        None => match value.rsplit_once(':') {
            Some((n, tag)) if !tag.contains('/') && !tag.is_empty() => (n, tag.to_string(), false),
            _ => (value, "latest".to_string(), false),
        },
    };
    let (host, repository) = match name.split_once('/') {
        Some((h, r)) if h.contains('.') || h.contains(':') || h == "localhost" => {
            (h.to_string(), r.to_string())
        }
        _ if name.contains('/') => ("docker.io".to_string(), name.to_string()),
        _ => ("docker.io".to_string(), format!("library/{name}")),
    };
    if repository.is_empty() {
        return Err("it names no repository".into());
    }
    Ok(ImageRef {
        host,
        repository,
        reference,
        pinned,
    })
}
