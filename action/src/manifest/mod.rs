//! The service manifest, `.github/ferry.yml`.
//!
//! It declares the services of the monorepo, where their inputs live and the
//! environments they go to. Defaults follow the repository layout, so a new
//! service is a few lines. Loading either gives a fully resolved, checked
//! [`Manifest`] or every problem at once, each with file, line, column and fix.

pub mod coverage;
pub mod glob;
pub mod names;
mod raw;
mod selection;
pub mod template;
mod validate;
pub mod waves;
pub mod yaml;

use std::io::Read;
use std::path::{Path, PathBuf};

use indexmap::IndexMap;

use crate::diagnostic::{Diagnose, Diagnostic, Diagnostics};
pub use raw::{BuilderKind, RawBuild, RawGate, RawManifest, RawSchedule, RawService, json_schema};
pub use template::{Template, Vars};
pub use waves::{dependency_cycles, waves};

/// Where the manifest lives, relative to the repository root.
pub const DEFAULT_PATH: &str = ".github/ferry.yml";

/// The largest manifest Ferry reads (a 1,000-service manifest is ~100 KiB).
pub const MAX_BYTES: u64 = 4 << 20;

/// A loaded, validated manifest.
#[derive(Debug, Clone)]
pub struct Manifest {
    /// The file it came from (for messages).
    pub file: PathBuf,
    /// Project name, used in name templates.
    pub project: String,
    /// Default AWS region.
    pub region: String,
    /// The branch whose pushes are releases.
    pub release_branch: String,
    /// Paths whose change affects every service.
    pub global_paths: PathRules,
    /// Environments in declaration order.
    pub environments: IndexMap<String, Environment>,
    /// Services in declaration order.
    pub services: IndexMap<String, Service>,
    /// Image build settings.
    pub build: BuildSettings,
    /// What loads but should change (a deprecated key): each command that
    /// reads the manifest shows these as warnings.
    pub warnings: Vec<Diagnostic>,
}

/// How `ferry build` tags, builds and pushes (the manifest's `build:`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BuildSettings {
    /// Registry host override; None means the account's ECR registry.
    pub registry: Option<String>,
    /// Release tag template.
    pub tag: String,
    /// The builder, unless the command line picks one.
    pub builder: BuilderKind,
    /// How many services build at once.
    pub parallel: usize,
}

/// The release tag template used when the manifest names none.
pub const DEFAULT_TAG: &str = "{service}-{sha7}-{timestamp}";

/// Placeholders a release tag template may use.
pub const TAG_PLACEHOLDERS: &[&str] = &["service", "project", "sha", "sha7", "timestamp"];

/// One deployment environment (an ECS cluster).
#[derive(Debug, Clone)]
pub struct Environment {
    /// The environment's name (`staging`, `prod`).
    pub name: String,
    /// ECS cluster name template.
    pub cluster: Template,
    /// The environment whose successful deployment must precede this one's.
    pub promote_from: Option<String>,
    /// The environment's URL, shown in GitHub's environments view.
    pub url: Option<String>,
    /// AWS region, when it differs from the manifest's.
    pub region: Option<String>,
    /// `ferry gate`'s SLO check before promoting here.
    pub gate: Option<GateSettings>,
    /// How services roll out here, unless a service says otherwise.
    pub rollout: RolloutSettings,
    /// What Ferry checks while a rollout here runs, unless a service says
    /// otherwise.
    pub analysis: Option<AnalysisSettings>,
}

/// The SLO check `ferry gate` makes before promoting to an environment.
#[derive(Debug, Clone, PartialEq)]
pub struct GateSettings {
    /// Prometheus base URL, without a trailing `/`.
    pub prometheus: String,
    /// The highest burn rate allowed since the deployment.
    pub max_burn_rate: f64,
    /// The SLOs checked; empty means every SLO Prometheus has.
    pub slos: Vec<String>,
    /// A user query with `{window}`, instead of the built-in one.
    pub query: Option<String>,
}

/// How ECS moves traffic to a new version (`deploymentConfiguration.strategy`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Strategy {
    /// Replace tasks in place (ECS's default; the circuit breaker watches).
    #[default]
    Rolling,
    /// Start the whole new version beside the old, then move all traffic.
    BlueGreen,
    /// Move a share of the traffic first, then the rest.
    Canary,
    /// Move the traffic in equal steps.
    Linear,
}

impl Strategy {
    /// The name ECS uses.
    pub fn ecs_name(self) -> &'static str {
        match self {
            Self::Rolling => "ROLLING",
            Self::BlueGreen => "BLUE_GREEN",
            Self::Canary => "CANARY",
            Self::Linear => "LINEAR",
        }
    }

    /// The name the manifest uses.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Rolling => "rolling",
            Self::BlueGreen => "blue-green",
            Self::Canary => "canary",
            Self::Linear => "linear",
        }
    }
}

/// How one service rolls out in one environment.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct RolloutSettings {
    /// The ECS strategy.
    pub strategy: Strategy,
    /// Canary: the share of traffic (percent) the new version gets first.
    pub canary_percent: f64,
    /// Linear: the share of traffic (percent) each step moves.
    pub step_percent: f64,
    /// Canary and linear: how long each partial step holds, in seconds.
    pub step_bake_secs: u64,
    /// Blue/green, canary and linear: how long both versions stay after all
    /// traffic moved, in seconds, before the old one is removed.
    pub bake_secs: u64,
}

/// The canary share used when the manifest names none.
pub const DEFAULT_CANARY_PERCENT: f64 = 10.0;
/// The linear step used when the manifest names none.
pub const DEFAULT_STEP_PERCENT: f64 = 25.0;

/// What Ferry checks while a progressive rollout runs: each check's query
/// for the new version and for the old one at the same time.
#[derive(Debug, Clone, PartialEq)]
pub struct AnalysisSettings {
    /// Prometheus base URL, without a trailing `/`.
    pub prometheus: String,
    /// Seconds between two rounds of checks.
    pub interval_secs: u64,
    /// How many failed rounds are tolerated; one more aborts the rollout.
    pub failure_limit: u32,
    /// The checks, each run every round.
    pub checks: Vec<AnalysisCheck>,
}

/// One check of an analysis.
#[derive(Debug, Clone, PartialEq)]
pub struct AnalysisCheck {
    /// Its name, for the report (`error-ratio`).
    pub name: String,
    /// PromQL with `{service}`, `{version}` (a label matcher: the new
    /// version's, or the old versions' for the baseline) and `{window}`.
    pub query: String,
    /// The new version's value fails above this.
    pub max: Option<f64>,
    /// The new version's value fails below this. The manifest refuses a
    /// check with neither `max` nor `min`: it could never fail.
    pub min: Option<f64>,
    /// The relative condition, on top of the absolute ones.
    pub relative: Option<Relative>,
    /// A negative value is a valid reading (else it fails the round).
    pub allow_negative: bool,
}

/// `max-vs-baseline` with its `floor`: the new version fails above
/// `max(baseline, floor) × ratio`, so a baseline of 0 still allows only
/// `floor × ratio`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Relative {
    /// `max-vs-baseline`.
    pub ratio: f64,
    /// `floor`.
    pub floor: f64,
}

/// The burn rate `gate` allows when the manifest does not say.
pub const DEFAULT_MAX_BURN_RATE: f64 = 2.0;

/// One releasable service.
#[derive(Debug, Clone)]
pub struct Service {
    /// The service's name.
    pub name: String,
    /// Globs of the files that are part of the service.
    pub paths: PathRules,
    /// The globs of `paths` that may match no file yet (a folder to come).
    pub pending_paths: Vec<String>,
    /// The Cargo package the service's binary comes from, if it is a Rust service.
    pub crate_name: Option<String>,
    /// Whether `crate_name` was written in the manifest (true) or guessed
    /// from the service name (false, and then it may not exist).
    pub crate_explicit: bool,
    /// Dockerfile path, relative to the repository root.
    pub dockerfile: String,
    /// Docker build context, relative to the repository root.
    pub context: String,
    /// Jsonnet task definition, relative to the repository root.
    pub task_definition: String,
    /// ECS service name template.
    pub ecs_service: Template,
    /// ECR repository name template.
    pub ecr_repository: Template,
    /// Its own rollout per environment, instead of the environment's.
    pub rollout: IndexMap<String, RolloutSettings>,
    /// Its own analysis per environment, instead of the environment's.
    pub analysis: IndexMap<String, AnalysisSettings>,
    /// The services it starts after, in a release that deploys them too
    /// (`depends-on`; known services, no cycle).
    pub depends_on: Vec<String>,
    /// The port names its Service Connect configuration serves
    /// (`service-connect`; empty when not declared): each names a port
    /// mapping of its task definition.
    pub service_connect: Vec<String>,
    /// The EventBridge rule that runs it on a schedule, per environment.
    pub schedule: IndexMap<String, ScheduleSettings>,
    /// One-off tasks before its rollout, per environment (`before-deploy`).
    pub before_deploy: IndexMap<String, Vec<OneOffTask>>,
    /// One-off tasks after its rollout succeeded, per environment (`after-deploy`).
    pub after_deploy: IndexMap<String, Vec<OneOffTask>>,
}

/// A scheduled job's EventBridge rule in one environment (`schedule:`).
#[derive(Debug, Clone, PartialEq)]
pub struct ScheduleSettings {
    /// The rule's name template.
    pub rule: Template,
    /// The rule's event bus (name or ARN), when not the default one.
    pub event_bus: Option<String>,
}

/// A one-off task of a service's release, checked (`before-deploy`,
/// `after-deploy`): what [`crate::deploy`] runs with RunTask.
#[derive(Debug, Clone, PartialEq)]
pub struct OneOffTask {
    /// Its name (letters, digits, `-`, `_`; unique per service and environment).
    pub name: String,
    /// The command override; `None` runs the task definition's own command.
    pub command: Option<Vec<String>>,
    /// The container the command runs in (`None`: the first one).
    pub container: Option<String>,
    /// Another Jsonnet task definition, relative to the repository root.
    pub task_definition: Option<String>,
    /// How long it may run before it is stopped.
    pub timeout: std::time::Duration,
}

/// How long a one-off task may run when the manifest does not say.
pub const DEFAULT_TASK_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(600);

/// A compiled list of path globs, kept with their text for "why" messages.
#[derive(Debug, Clone)]
pub struct PathRules {
    /// The globs as written.
    pub globs: Vec<String>,
    /// Each glob compiled (same order).
    pub matchers: Vec<glob::PathGlob>,
}

impl PathRules {
    /// The glob that includes `path`, if the list includes it. As in a
    /// workflow's `on.paths`, the globs are read in order: a `!` glob takes
    /// back what an earlier glob included, and a later glob includes again.
    pub fn first_match(&self, path: &str) -> Option<&str> {
        self.decide(path).map(|i| self.globs[i].as_str())
    }

    /// The index of the glob that includes `path`, if the list includes it
    /// (see [`PathRules::first_match`]).
    pub fn decide(&self, path: &str) -> Option<usize> {
        let mut included = None;
        for (i, m) in self.matchers.iter().enumerate() {
            if m.is_negated() {
                if included.is_some() && m.is_match(path) {
                    included = None;
                }
            } else if included.is_none() && m.is_match(path) {
                included = Some(i);
            }
        }
        included
    }

    /// Whether a `!` glob is in the list (else the first match decides).
    pub fn has_negations(&self) -> bool {
        self.matchers.iter().any(glob::PathGlob::is_negated)
    }
}

/// A manifest that could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum ManifestError {
    /// The file could not be read.
    #[error("cannot read the manifest {}: {source}\n  help: create it (see README.md, section \"The manifest\"), or pass --manifest PATH", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The file is refused before being read (outside the repository, not a
    /// regular file, too large, not UTF-8).
    #[error("{}: {message}\n  help: {help}", path.display())]
    Refused {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        message: String,
        /// How to fix it.
        help: String,
    },
    /// The file has problems; all of them are listed.
    #[error("{0}")]
    Invalid(Diagnostics),
}

impl Diagnose for ManifestError {
    fn diagnostics(&self) -> Vec<Diagnostic> {
        match self {
            Self::Read { path, source } => {
                vec![
                    Diagnostic::new(path, format!("cannot read the manifest: {source}")).help(
                        "create it (see README.md, \"The manifest\"), or point --manifest (the `manifest` input) at it",
                    ),
                ]
            }
            Self::Refused {
                path,
                message,
                help,
            } => vec![Diagnostic::new(path, message.as_str()).help(help.as_str())],
            Self::Invalid(d) => d.0.clone(),
        }
    }
}

impl Manifest {
    /// How `service` rolls out in `env`, and what is checked meanwhile: the
    /// service's own settings for that environment, else the environment's.
    pub fn rollout_of(
        &self,
        service: &str,
        env: &str,
    ) -> (RolloutSettings, Option<&AnalysisSettings>) {
        let svc = self.services.get(service);
        let environment = self.environments.get(env);
        let rollout = svc
            .and_then(|s| s.rollout.get(env))
            .or(environment.map(|e| &e.rollout))
            .cloned()
            .unwrap_or_default();
        let analysis = svc
            .and_then(|s| s.analysis.get(env))
            .or(environment.and_then(|e| e.analysis.as_ref()));
        (rollout, analysis)
    }

    /// Reads and validates the manifest at `path`; `display_path` is how
    /// messages name it (usually relative to the repository root).
    ///
    /// When `path` is `<root>/<display_path>` (how every command calls it),
    /// the file must stay inside `<root>` after resolving symlinks. It must be
    /// a regular file of at most [`MAX_BYTES`]: a link to `/dev/zero` or to a
    /// secret outside the repository is refused without being read.
    pub fn load(path: &Path, display_path: &Path) -> Result<Self, ManifestError> {
        if display_path.is_absolute()
            || display_path
                .components()
                .any(|c| matches!(c, std::path::Component::ParentDir))
        {
            // Detect compares the manifest by its path in the repository: one
            // named from outside it would never be seen to change.
            return Err(ManifestError::Refused {
                path: display_path.to_path_buf(),
                message: "the manifest must be a file of the repository, named from its root".into(),
                help: "pass --manifest (the `manifest` input) relative to the repository root, e.g. .github/ferry.yml".into(),
            });
        }
        let text = read_confined(path, display_path)?;
        Self::parse(&text, display_path)
    }

    /// Shows [`Manifest::warnings`] (deprecated keys) through `warn` (the
    /// runner's warning annotation), stopping at its first error.
    pub fn report_warnings<E>(
        &self,
        warn: impl FnMut(&Diagnostic) -> Result<(), E>,
    ) -> Result<(), E> {
        self.warnings.iter().try_for_each(warn)
    }

    /// Parses and validates manifest text.
    pub fn parse(text: &str, file: &Path) -> Result<Self, ManifestError> {
        validate::parse(text, file).map_err(ManifestError::Invalid)
    }

    /// Template variables for a service in an environment.
    pub fn vars<'a>(&'a self, service: &'a str, env: &'a str) -> Vars<'a> {
        let region = self
            .environments
            .get(env)
            .and_then(|e| e.region.as_deref())
            .unwrap_or(&self.region);
        Vars {
            project: &self.project,
            env,
            service,
            region,
        }
    }

    /// The environment every promotion chain starts from (the first one
    /// without `promote-from`): where releases land first.
    pub fn first_environment(&self) -> Option<&Environment> {
        self.environments
            .values()
            .find(|e| e.promote_from.is_none())
    }
}

/// Reads the manifest at `path`, refusing what is not a small regular file
/// inside the repository (see [`Manifest::load`]).
fn read_confined(path: &Path, display_path: &Path) -> Result<String, ManifestError> {
    let refuse = |e: Refusal| match e {
        Refusal::Io(source) if source.kind() == std::io::ErrorKind::NotFound => {
            match other_spelling(path) {
                Some(found) => ManifestError::Refused {
                    path: display_path.to_path_buf(),
                    message: format!("the manifest does not exist, but {found} does"),
                    help: format!(
                        "rename {found} to {}, or pass --manifest {} (the `manifest` input)",
                        display_path.display(),
                        display_path.with_file_name(&found).display()
                    ),
                },
                None => ManifestError::Read {
                    path: display_path.to_path_buf(),
                    source,
                },
            }
        }
        Refusal::Io(source) => ManifestError::Read {
            path: display_path.to_path_buf(),
            source,
        },
        other => ManifestError::Refused {
            path: display_path.to_path_buf(),
            message: format!("the manifest {other}"),
            help: other.help().to_string(),
        },
    };
    let bytes =
        read_repository_file(root_of(path, display_path), path, MAX_BYTES).map_err(refuse)?;
    String::from_utf8(bytes).map_err(|e| ManifestError::Refused {
        path: display_path.to_path_buf(),
        message: format!(
            "the manifest is not UTF-8 text (byte {})",
            e.utf8_error().valid_up_to()
        ),
        help: "save it as UTF-8".into(),
    })
}

/// The name of the other spelling (`ferry.yaml` for `ferry.yml`, and back)
/// when that file exists next to `path`.
fn other_spelling(path: &Path) -> Option<String> {
    let name = path.file_name()?.to_str()?;
    let other = if let Some(stem) = name.strip_suffix(".yml") {
        format!("{stem}.yaml")
    } else {
        format!("{}.yml", name.strip_suffix(".yaml")?)
    };
    path.with_file_name(&other).is_file().then_some(other)
}

/// Why [`read_repository_file`] refused a file.
#[derive(Debug, thiserror::Error)]
pub enum Refusal {
    /// It resolves (through symlinks) outside the repository.
    #[error("is a symlink that leads out of the repository")]
    Outside,
    /// It is a folder, a FIFO, a device.
    #[error("is not a regular file")]
    NotAFile,
    /// It is larger than the limit.
    #[error("is larger than {} KiB", .0 >> 10)]
    TooLarge(u64),
    /// It cannot be read.
    #[error("cannot be read: {0}")]
    Io(std::io::Error),
}

impl Refusal {
    /// How to fix it.
    pub fn help(&self) -> &'static str {
        match self {
            Self::Outside | Self::NotAFile => "make it a regular file in the repository",
            Self::TooLarge(_) => "Ferry refuses larger files; trim or split it",
            Self::Io(_) => "check that the file exists and can be read",
        }
    }
}

/// Reads a file of the repository that came with a pull request: after
/// resolving symlinks it must be inside `root` (when given), a regular file
/// (a FIFO would block, a device never end), and at most `max` bytes (read
/// no further than that, whatever the file claims).
pub fn read_repository_file(
    root: Option<&Path>,
    path: &Path,
    max: u64,
) -> Result<Vec<u8>, Refusal> {
    let real = path.canonicalize().map_err(Refusal::Io)?;
    if let Some(root) = root {
        let root = root.canonicalize().map_err(Refusal::Io)?;
        if !real.starts_with(&root) {
            return Err(Refusal::Outside);
        }
    }
    let meta = std::fs::metadata(&real).map_err(Refusal::Io)?;
    if !meta.is_file() {
        return Err(Refusal::NotAFile);
    }
    if meta.len() > max {
        return Err(Refusal::TooLarge(max));
    }
    let mut bytes = Vec::new();
    std::fs::File::open(&real)
        .and_then(|f| f.take(max + 1).read_to_end(&mut bytes))
        .map_err(Refusal::Io)?;
    if bytes.len() as u64 > max {
        return Err(Refusal::TooLarge(max));
    }
    Ok(bytes)
}

/// The repository root when `path` is `<root>/<display_path>`.
fn root_of<'a>(path: &'a Path, display_path: &Path) -> Option<&'a Path> {
    if display_path.is_absolute() {
        return None;
    }
    let mut root = path;
    for _ in display_path.components() {
        root = root.parent()?;
    }
    (root.join(display_path) == path).then_some(root)
}

#[cfg(test)]
mod tests;
