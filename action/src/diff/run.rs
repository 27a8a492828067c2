//! The `ferry diff` command: render one target, read the running definition,
//! print and output the normalised changes, and the scheduled job's target
//! moves.

use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::aws::ecs;
use crate::aws::events::short;
use crate::diagnostic::{Diagnose, Diagnostic};
use crate::gha::Reporter;
use crate::manifest::Manifest;
use crate::project::Project;
use crate::render::{self, RenderError};
use crate::taskdef::{Change, diff};

/// Options of `ferry diff`.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// How to render the target (service and env are required).
    pub render: render::Options,
    /// The running definition from a file (`aws ecs describe-task-definition
    /// --include TAGS` output, or a bare definition) instead of ECS.
    pub against: Option<PathBuf>,
}

/// Why `diff` stopped.
#[derive(Debug, thiserror::Error)]
pub enum DiffError {
    /// Rendering failed (bad Jsonnet, invalid definition, bad arguments).
    #[error(transparent)]
    Render(#[from] RenderError),
    /// The running definition could not be read.
    #[error("{0}")]
    Running(String),
}

impl Diagnose for DiffError {
    fn diagnostics(&self) -> Vec<Diagnostic> {
        match self {
            Self::Render(e) => e.diagnostics(),
            Self::Running(_) => Vec::new(),
        }
    }
}

/// A DescribeTaskDefinition response (`taskDefinition` + `tags`) or a bare
/// definition, as one task definition value.
pub fn described(json: Value) -> Value {
    match json {
        Value::Object(mut obj) if obj.contains_key("taskDefinition") => {
            let tags = obj.remove("tags");
            let mut td = obj.remove("taskDefinition").unwrap_or(Value::Null);
            if let (Some(tags), Some(td)) = (tags, td.as_object_mut()) {
                td.insert("tags".into(), tags);
            }
            td
        }
        other => other,
    }
}

/// The running task definition of `service` in `env` (its ECS service's
/// current `taskDefinition`, with tags), as the JSON `render` produces.
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
    let ecs = crate::aws::Clients::from_config(&crate::aws::config(&region).await).ecs;
    let described = ecs::describe_service(&ecs, &cluster, &ecs_service)
        .await
        .map_err(|e| e.to_string())?;
    let arn = described
        .as_ref()
        .and_then(|s| s.task_definition())
        .ok_or_else(|| format!("ECS service {ecs_service} was not found in cluster {cluster}: create it with Terraform (terraform/aws) first"))?;
    match ecs::task_definition(&ecs, arn).await {
        Ok(Some((_, td))) => Ok(td),
        Ok(None) => Err(format!(
            "DescribeTaskDefinition {arn} returned no definition"
        )),
        Err(e) => Err(e.to_string()),
    }
}

/// The scheduled job's target moves (`schedule:`), read from AWS.
async fn schedule_lines(
    manifest: &Manifest,
    service: &str,
    env: &str,
    rendered: &crate::taskdef::TaskDefinition,
) -> Result<Vec<String>, DiffError> {
    let region = manifest
        .environments
        .get(env)
        .and_then(|e| e.region.clone())
        .unwrap_or_else(|| manifest.region.clone());
    let Some(schedule) = crate::preflight::schedule::schedule_of(manifest, service, env, rendered)
    else {
        return Ok(Vec::new());
    };
    let config = crate::aws::config(&region).await;
    let ecs = crate::aws::Clients::from_config(&config);
    let events = crate::aws::events::Client::from_config(&config);
    let found = crate::preflight::schedule::would_move(&events, &ecs, &schedule, rendered)
        .await
        .map_err(|why| DiffError::Running(format!("{service} ({env}): schedule: {why}")))?;
    Ok(found
        .iter()
        .filter(|m| m.changes())
        .map(|m| {
            format!(
                "schedule: EventBridge rule {} target {}: {} → {}",
                m.schedule.rule,
                m.target.id,
                short(&m.from),
                short(&m.to)
            )
        })
        .collect())
}

fn read_described(path: &Path) -> Result<Value, DiffError> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| DiffError::Running(format!("cannot read {}: {e}", path.display())))?;
    let json = serde_json::from_str(&text)
        .map_err(|e| DiffError::Running(format!("{}: not JSON: {e}", path.display())))?;
    Ok(described(json))
}

/// Runs `ferry diff`: outputs `has-changes` and `changes` (one per line).
pub async fn run(
    project: &Project,
    opts: &Options,
    reporter: &mut Reporter,
) -> Result<Vec<Change>, DiffError> {
    let (root, manifest) = (&project.root, &project.manifest);
    let targets = render::targets(
        manifest,
        &render::Options {
            all: false,
            check: false,
            ..opts.render.clone()
        },
    )?;
    let Some((service, env)) = targets.into_iter().next() else {
        return Err(DiffError::Running("no target".into()));
    };
    let rendered = render::render_one(root, manifest, &service, &env, &opts.render)
        .map_err(RenderError::Invalid)?;
    let running = match &opts.against {
        Some(path) => read_described(&root.join(path))?,
        None => running(manifest, &service, &env)
            .await
            .map_err(DiffError::Running)?,
    };
    let changes = diff(&running, &rendered.task_definition.to_value());
    let mut text: Vec<String> = changes.iter().map(ToString::to_string).collect();
    if opts.against.is_none() {
        text.extend(schedule_lines(manifest, &service, &env, &rendered.task_definition).await?);
    }
    let io = |e: std::io::Error| DiffError::Running(format!("cannot write the outputs: {e}"));
    if text.is_empty() {
        reporter
            .info(&format!("{service} ({env}): no changes"))
            .map_err(io)?;
    } else {
        reporter
            .info(&format!(
                "{service} ({env}): {} change(s)\n{}",
                text.len(),
                text.join("\n")
            ))
            .map_err(io)?;
    }
    reporter
        .output(
            "has-changes",
            if text.is_empty() { "false" } else { "true" },
        )
        .map_err(io)?;
    reporter.output("changes", &text.join("\n")).map_err(io)?;
    Ok(changes)
}
