//! The project a command works on: the repository root, its manifest loaded
//! and validated once, and the environment the command names, resolved once.
//!
//! The binary makes it at the edge ([`Project::load`], then
//! [`Project::with_env`] where a command names an environment) and every
//! stage takes `&Project` beside its own typed options, so no stage resolves
//! a root or reads the manifest itself. The failures that can happen here
//! are the ones every stage shares ([`ProjectError`]); a stage's error
//! carries them as one variant ([`StageError`]) instead of repeating them.

use std::path::{Path, PathBuf};

use crate::diagnostic::{Diagnose, Diagnostic};
use crate::manifest::{Environment, Manifest, ManifestError};

/// The repository root, its manifest and, when the command names one, the
/// environment: what every stage reads before its own work.
#[derive(Debug, Clone)]
pub struct Project {
    /// The repository root (git's top level for the commands that read git).
    pub root: PathBuf,
    /// The manifest, loaded and validated.
    pub manifest: Manifest,
    /// The environment the command works on, one the manifest declares.
    env: Option<String>,
}

impl Project {
    /// Loads the manifest at `manifest` (relative to `root`, as the user
    /// names it) and validates it.
    pub fn load(root: PathBuf, manifest: &Path) -> Result<Self, ProjectError> {
        let manifest = Manifest::load(&root.join(manifest), manifest)?;
        Ok(Self::new(root, manifest))
    }

    /// A project from a manifest already read (tests, fixtures).
    pub fn new(root: PathBuf, manifest: Manifest) -> Self {
        Self {
            root,
            manifest,
            env: None,
        }
    }

    /// The project working on `env`, which the manifest must declare; with
    /// none named, the first environment that promotes from no other
    /// (staging).
    pub fn with_env(mut self, env: Option<&str>) -> Result<Self, ProjectError> {
        let manifest = &self.manifest;
        let name = match env {
            Some(e) if manifest.environments.contains_key(e) => e.to_string(),
            Some(e) => return Err(ProjectError::Input(unknown_environment(manifest, e))),
            None => manifest
                .first_environment()
                .map(|e| e.name.clone())
                .ok_or_else(|| {
                    ProjectError::Input(format!(
                        "{} declares no environment",
                        manifest.file.display()
                    ))
                })?,
        };
        self.env = Some(name);
        Ok(self)
    }

    /// The environment's name, when the command named one
    /// ([`Project::with_env`]).
    pub fn env(&self) -> Option<&str> {
        self.env.as_deref()
    }

    /// The environment's settings, when the command named one.
    pub fn environment(&self) -> Option<&Environment> {
        self.env
            .as_ref()
            .and_then(|e| self.manifest.environments.get(e))
    }

    /// The manifest's path, relative to the root (as the user named it).
    pub fn manifest_path(&self) -> &Path {
        &self.manifest.file
    }
}

/// The refusal of an environment the manifest does not declare, naming the
/// ones it does.
pub fn unknown_environment(manifest: &Manifest, env: &str) -> String {
    let known: Vec<&str> = manifest.environments.keys().map(String::as_str).collect();
    format!(
        "unknown environment `{env}`: {} declares {}",
        manifest.file.display(),
        known.join(", ")
    )
}

/// What every stage can fail on, in one shape: the manifest, and input
/// refused.
#[derive(Debug, thiserror::Error)]
pub enum ProjectError {
    /// The manifest is missing or invalid.
    #[error(transparent)]
    Manifest(#[from] ManifestError),
    /// Bad input (an unknown environment or service, a missing
    /// prerequisite), with the message that names what to fix.
    #[error("{0}")]
    Input(String),
}

impl Diagnose for ProjectError {
    fn diagnostics(&self) -> Vec<Diagnostic> {
        match self {
            Self::Manifest(e) => e.diagnostics(),
            Self::Input(_) => Vec::new(),
        }
    }
}

/// A stage's error: its own cases beside the shared ones, which it holds as
/// one [`ProjectError`] variant (`#[error(transparent)] Project(#[from]
/// ProjectError)`), so the binary reports every stage's alike.
pub trait StageError: From<ProjectError> + Diagnose + Sized {
    /// Input refused, with the message that names what to fix.
    fn input(message: impl Into<String>) -> Self {
        Self::from(ProjectError::Input(message.into()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn project() -> Project {
        let manifest = Manifest::parse(
            include_str!("../../.github/ferry.yml"),
            Path::new(".github/ferry.yml"),
        )
        .unwrap();
        Project::new(PathBuf::from("."), manifest)
    }

    #[test]
    fn the_default_environment_is_the_one_that_promotes_from_none() {
        assert_eq!(project().with_env(None).unwrap().env(), Some("staging"));
        let prod = project().with_env(Some("prod")).unwrap();
        assert_eq!(prod.env(), Some("prod"));
        assert_eq!(prod.environment().unwrap().name, "prod");
        assert_eq!(project().env(), None);
        let err = project().with_env(Some("prdo")).unwrap_err().to_string();
        assert_eq!(
            err,
            "unknown environment `prdo`: .github/ferry.yml declares staging, prod"
        );
    }

    /// The shared failures read the same whichever stage reports them: the
    /// message as written, the manifest's problems as annotations.
    fn reported_alike<E: StageError + std::error::Error>() {
        let refused = E::input("unknown service `x`: .github/ferry.yml declares a");
        assert_eq!(
            refused.to_string(),
            "unknown service `x`: .github/ferry.yml declares a"
        );
        assert!(refused.diagnostics().is_empty());
        let problem = Diagnostic::new(".github/ferry.yml", "services.a: unknown key");
        let invalid = ManifestError::Invalid(crate::diagnostic::Diagnostics(vec![problem.clone()]));
        let message = invalid.to_string();
        let e = E::from(ProjectError::from(invalid));
        assert_eq!(e.to_string(), message);
        assert_eq!(e.diagnostics(), vec![problem]);
    }

    #[test]
    fn every_stage_reports_the_shared_failures_alike() {
        reported_alike::<crate::build::BuildError>();
        reported_alike::<crate::detect::DetectError>();
        reported_alike::<crate::render::RenderError>();
        reported_alike::<crate::gate::GateError>();
        reported_alike::<crate::metrics::MetricsError>();
        reported_alike::<crate::release::ReleaseError>();
    }

    #[test]
    fn a_manifest_outside_the_repository_is_refused_when_loaded() {
        let err = Project::load(PathBuf::from("."), Path::new("../ferry.yml")).unwrap_err();
        assert!(matches!(err, ProjectError::Manifest(_)), "{err}");
        assert!(err.to_string().contains("named from its root"), "{err}");
    }
}
