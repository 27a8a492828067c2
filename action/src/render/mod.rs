//! `ferry render`: Jsonnet task definitions → RegisterTaskDefinition JSON.
//!
//! Each (service, environment) is evaluated in-process with jrsonnet
//! ([`jsonnet`]) from layered ext-strs ([`inputs`]), reduced to the fields
//! the API takes ([`register`]) and checked against the ECS/Fargate rules
//! ([`validate`]) — all in memory. Files are written only when every target
//! is valid, so bad input never leaves a half-written result behind.

pub mod fargate;
pub mod inputs;
pub mod jsonnet;
pub mod register;
pub mod validate;
pub mod worker;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use crate::diagnostic::{Diagnose, Diagnostic};
use crate::gha::Reporter;
use crate::inputs::ServiceSelection;
use crate::manifest::Manifest;
use crate::project::{Project, ProjectError, StageError};
use crate::taskdef::TaskDefinition;

/// The image tag `--check` renders with when no image is given.
pub const CHECK_IMAGE_TAG: &str = "ferry-check";

/// Options of `ferry render`.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// One service (with `env`), unless `all`.
    pub service: Option<String>,
    /// One environment (with `service`), unless `all`.
    pub env: Option<String>,
    /// Every service × environment of the manifest.
    pub all: bool,
    /// Render and validate only; write nothing.
    pub check: bool,
    /// The image URI (ext-str IMAGE).
    pub image: Option<String>,
    /// `--ext-str` pairs, applied last.
    pub ext_strs: Vec<(String, String)>,
    /// The values file (default: task-definitions/environments/<env>.json when present).
    pub values: Option<PathBuf>,
    /// Output file of a single render.
    pub out: Option<PathBuf>,
    /// Output folder of `--all` (default `.ferry/render`).
    pub out_dir: Option<PathBuf>,
    /// `FERRY_EXT_*` variables of the process environment.
    pub env_vars: BTreeMap<String, String>,
}

/// One rendered, valid task definition.
#[derive(Debug, Clone)]
pub struct Rendered {
    /// The service.
    pub service: String,
    /// The environment.
    pub env: String,
    /// The RegisterTaskDefinition input.
    pub task_definition: TaskDefinition,
    /// What the docs refuse but ECS accepts (`memoryReservation` equal to
    /// `memory`, an SSM parameter named without its ARN): shown, not refused.
    pub warnings: Vec<Diagnostic>,
}

/// Why `render` stopped.
#[derive(Debug, thiserror::Error)]
pub enum RenderError {
    /// The manifest, or bad arguments (unknown service or environment,
    /// missing --service).
    #[error(transparent)]
    Project(#[from] ProjectError),
    /// Jsonnet or validation problems, one diagnostic each.
    #[error("{} problem(s) in the task definitions; nothing was written", .0.len())]
    Invalid(Vec<Diagnostic>),
    /// Writing the output failed.
    #[error("cannot write {path}: {source}")]
    Write {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
}

impl Diagnose for RenderError {
    fn diagnostics(&self) -> Vec<Diagnostic> {
        match self {
            Self::Project(e) => e.diagnostics(),
            Self::Invalid(d) => d.clone(),
            Self::Write { .. } => Vec::new(),
        }
    }
}

impl StageError for RenderError {}

/// Which (service, environment) pairs the options select, in manifest order.
pub fn targets(manifest: &Manifest, opts: &Options) -> Result<Vec<(String, String)>, RenderError> {
    if opts.all || opts.check {
        return Ok(manifest
            .services
            .keys()
            .flat_map(|s| {
                manifest
                    .environments
                    .keys()
                    .map(move |e| (s.clone(), e.clone()))
            })
            .collect());
    }
    let (Some(service), Some(env)) = (&opts.service, &opts.env) else {
        return Err(RenderError::input(
            "name a target: --service S --env E, or --all",
        ));
    };
    ServiceSelection::Named(vec![service.clone()])
        .resolve(manifest)
        .map_err(RenderError::input)?;
    if !manifest.environments.contains_key(env) {
        return Err(RenderError::input(crate::project::unknown_environment(
            manifest, env,
        )));
    }
    Ok(vec![(service.clone(), env.clone())])
}

/// The ext-strs one target is evaluated with (see [`inputs`] for the layers).
pub fn ext_strs(
    root: &Path,
    manifest: &Manifest,
    service: &str,
    env: &str,
    opts: &Options,
) -> Result<BTreeMap<String, String>, Box<Diagnostic>> {
    let mut ext = inputs::from_manifest(manifest, service, env);
    let values = match &opts.values {
        Some(p) => Some(p.to_string_lossy().replace("{env}", env)),
        None => Some(inputs::default_values_file(env)).filter(|f| root.join(f).is_file()),
    };
    if let Some(values) = values {
        let given = opts.values.is_some();
        ext.extend(inputs::from_values_file(root, &values, service, given)?);
    }
    ext.extend(inputs::from_environment(opts.env_vars.clone()));
    ext.extend(opts.ext_strs.iter().cloned());
    inputs::alias_repository(&mut ext);
    if let Some(image) = &opts.image {
        ext.insert("IMAGE".into(), image.clone());
    } else if opts.check && ext.get("IMAGE").is_none_or(String::is_empty) {
        // A check has no built image: a placeholder tag stands in for it.
        ext.entry("IMAGE_TAG".into())
            .or_insert_with(|| CHECK_IMAGE_TAG.into());
    }
    Ok(ext)
}

/// An input the task definition asks for is undefined and the environment's
/// default values file does not exist: the file, the service and the
/// environment are named, which the bare Jsonnet error does not.
fn missing_values_file(
    root: &Path,
    service: &str,
    env: &str,
    opts: &Options,
    d: Diagnostic,
) -> Diagnostic {
    let values = inputs::default_values_file(env);
    if opts.values.is_some()
        || !d.message.contains("external variable is not defined")
        || root.join(&values).is_file()
    {
        return d;
    }
    Diagnostic {
        message: format!(
            "{service} ({env}): {}, and the values file {values} does not exist",
            d.message
        ),
        help: Some(format!(
            "create {values} with the environment's values (Terraform's outputs, see task-definitions/environments/README.md), or pass --values FILE or --ext-str NAME=VALUE"
        )),
        ..d
    }
}

/// Renders and validates one target, in memory.
#[tracing::instrument(name = "render", skip_all, fields(service = %service, environment = %env))]
pub fn render_one(
    root: &Path,
    manifest: &Manifest,
    service: &str,
    env: &str,
    opts: &Options,
) -> Result<Rendered, Vec<Diagnostic>> {
    let file = manifest
        .services
        .get(service)
        .map(|s| s.task_definition.clone())
        .unwrap_or_default();
    let ext = ext_strs(root, manifest, service, env, opts).map_err(|d| vec![*d])?;
    let value = jsonnet::evaluate_target(root, &file, &ext, &format!("{service} ({env})"))
        .map_err(|d| vec![missing_values_file(root, service, env, opts, *d)])?;
    let located = |p: validate::Problem| {
        let at = if p.path.is_empty() {
            String::new()
        } else {
            format!("{}: ", p.path)
        };
        let help = if p.rule.is_empty() {
            p.help
        } else {
            format!("{} (rule: {})", p.help, p.rule)
        };
        Diagnostic::new(&file, format!("{service} ({env}): {at}{}", p.message)).help(help)
    };
    // A null is an absent field, as ECS and AWS's own actions read it.
    let td = register::to_input(validate::strip_nulls(value))
        .and_then(register::read)
        .map_err(|ps| ps.into_iter().map(located).collect::<Vec<_>>())?;
    let env_conf = manifest.environments.get(env);
    let rules = validate::Rules {
        production: env == "prod" || env_conf.is_some_and(|e| e.promote_from.is_some()),
    };
    let mut report = validate::check(&td, rules);
    if let Some(s) = manifest.services.get(service) {
        report
            .problems
            .extend(validate::service_connect(&td, service, &s.service_connect));
    }
    if !report.problems.is_empty() {
        return Err(report.problems.into_iter().map(located).collect());
    }
    Ok(Rendered {
        service: service.into(),
        env: env.into(),
        task_definition: td,
        warnings: report.warnings.into_iter().map(located).collect(),
    })
}

/// Renders every selected target; fails with every problem of every target.
pub fn render_all(project: &Project, opts: &Options) -> Result<Vec<Rendered>, RenderError> {
    let (root, manifest) = (&project.root, &project.manifest);
    let mut rendered = Vec::new();
    let mut problems = Vec::new();
    let targets = targets(manifest, opts)?;
    let total = targets.len();
    for (done, (service, env)) in targets.into_iter().enumerate() {
        match render_one(root, manifest, &service, &env, opts) {
            Ok(r) => rendered.push(r),
            Err(d) => problems.extend(d),
        }
        // The run's Jsonnet budget is spent: the rest is not evaluated.
        if jsonnet::budget_spent() {
            let left = total - done - 1;
            if left > 0 {
                problems.push(
                    Diagnostic::new(
                        &manifest.file,
                        format!("{left} of {total} target(s) not evaluated: the run's Jsonnet budget is spent"),
                    )
                    .help("see the budget's error above"),
                );
            }
            break;
        }
    }
    if problems.is_empty() {
        Ok(rendered)
    } else {
        Err(RenderError::Invalid(problems))
    }
}

/// Runs `ferry render`: renders, validates, then writes the files and outputs.
pub fn run(
    project: &Project,
    opts: &Options,
    reporter: &mut Reporter,
) -> Result<Vec<Rendered>, RenderError> {
    let _ = project.manifest.report_warnings(|w| reporter.warning(w));
    let rendered = render_all(project, opts)?;
    for w in rendered.iter().flat_map(|r| &r.warnings) {
        let _ = reporter.warning(w);
    }
    if opts.check {
        for r in &rendered {
            let _ = reporter.info(&format!("ok: {} ({})", r.service, r.env));
        }
        return Ok(rendered);
    }
    let single = !opts.all && rendered.len() == 1;
    let dir = opts
        .out_dir
        .clone()
        .unwrap_or_else(|| project.root.join(".ferry/render"));
    let mut paths = BTreeMap::new();
    for r in &rendered {
        let path = match (&opts.out, single) {
            (Some(out), true) => out.clone(),
            _ => dir.join(format!("{}.{}.json", r.service, r.env)),
        };
        write(&path, &r.task_definition)?;
        let _ = reporter.info(&format!("{} ({}) → {}", r.service, r.env, path.display()));
        paths.insert(
            format!("{}/{}", r.service, r.env),
            path.display().to_string(),
        );
    }
    let io = |e: std::io::Error| RenderError::Write {
        path: PathBuf::from("$GITHUB_OUTPUT"),
        source: e,
    };
    if single {
        if let Some(path) = paths.values().next() {
            reporter.output("task-definition", path).map_err(io)?;
        }
    } else {
        reporter
            .output(
                "task-definitions",
                &serde_json::to_string(&paths).unwrap_or_default(),
            )
            .map_err(io)?;
    }
    Ok(rendered)
}

fn write(path: &Path, td: &TaskDefinition) -> Result<(), RenderError> {
    let err = |source| RenderError::Write {
        path: path.to_path_buf(),
        source,
    };
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent).map_err(err)?;
    }
    let mut text = serde_json::to_string_pretty(&td.to_value()).unwrap_or_default();
    text.push('\n');
    std::fs::write(path, text).map_err(err)
}
