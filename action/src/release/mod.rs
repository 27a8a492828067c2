//! `ferry release`: detect → build → render → deploy in one command, for a
//! laptop or a single job. Without AWS credentials outside Actions it is a
//! dry run that prints the plan: the affected services and why, the image
//! tags, the rendered task definitions and what they would change, and the
//! deploy comment it would post.

mod plan;

use std::path::PathBuf;

use crate::diagnostic::Diagnostic;
use crate::gha::{Context, Reporter};
use crate::{build, detect, render};

pub use plan::{Mode, PlannedService, ReleasePlan, choose_mode, plan_markdown};

/// Options of `ferry release`.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// Repository root (default: the workspace of the run).
    pub root: Option<PathBuf>,
    /// The manifest, relative to the root.
    pub manifest: PathBuf,
    /// The environment to release to (default: the first one, which
    /// promotes from none).
    pub env: Option<String>,
    /// Detect's range and selection.
    pub detect: detect::Options,
    /// Builder and registry overrides.
    pub build: build::Options,
    /// Print the plan, touch nothing.
    pub dry_run: bool,
}

/// Why a release stopped.
#[derive(Debug, thiserror::Error)]
pub enum ReleaseError {
    /// Detect failed.
    #[error("detect: {0}")]
    Detect(#[from] detect::DetectError),
    /// Build failed.
    #[error("build: {0}")]
    Build(#[from] build::BuildError),
    /// A task definition did not render; nothing was deployed.
    #[error("render: {} problem(s) in the task definitions; nothing was deployed", .0.len())]
    Render(Vec<Diagnostic>),
    /// Bad input or a missing prerequisite.
    #[error("{0}")]
    Input(String),
    /// The deploy failed (its summary says why).
    #[error("deploy: {0}")]
    Deploy(String),
}

impl ReleaseError {
    /// The located problems, for annotations.
    pub fn diagnostics(&self) -> Vec<Diagnostic> {
        match self {
            Self::Detect(e) => e.diagnostics(),
            Self::Build(e) => e.diagnostics(),
            Self::Render(d) => d.clone(),
            _ => Vec::new(),
        }
    }
}

/// The environment a release goes to: the one named, else the first that
/// promotes from no other (staging).
pub fn target_env(manifest: &crate::manifest::Manifest, env: Option<&str>) -> Result<String, String> {
    match env {
        Some(e) if manifest.environments.contains_key(e) => Ok(e.to_string()),
        Some(e) => Err(format!(
            "unknown environment `{e}`: {} declares {}",
            manifest.file.display(),
            manifest
                .environments
                .keys()
                .map(String::as_str)
                .collect::<Vec<_>>()
                .join(", ")
        )),
        None => manifest
            .environments
            .values()
            .find(|e| e.promote_from.is_none())
            .or_else(|| manifest.first_environment())
            .map(|e| e.name.clone())
            .ok_or_else(|| format!("{} declares no environment", manifest.file.display())),
    }
}

/// Renders each service for `env` with its image; every problem of every
/// service is returned at once, and nothing is deployed when there is one.
pub fn render_services(
    root: &std::path::Path,
    manifest: &crate::manifest::Manifest,
    env: &str,
    images: &[(String, String)],
    env_vars: std::collections::BTreeMap<String, String>,
) -> Result<Vec<render::Rendered>, ReleaseError> {
    let mut rendered = Vec::new();
    let mut problems = Vec::new();
    for (service, image) in images {
        let opts = render::Options {
            image: Some(image.clone()),
            env_vars: env_vars.clone(),
            ..render::Options::default()
        };
        match render::render_one(root, manifest, service, env, &opts) {
            Ok(r) => rendered.push(r),
            Err(d) => problems.extend(d),
        }
    }
    if problems.is_empty() {
        Ok(rendered)
    } else {
        Err(ReleaseError::Render(problems))
    }
}

/// Shared by the dry and the live path: what detect says, as plan rows.
fn detected_rows(detection: &detect::Detection) -> Vec<PlannedService> {
    detection
        .verdicts
        .iter()
        .filter(|v| v.affected())
        .map(|v| PlannedService {
            service: v.service.clone(),
            why: v.reasons.iter().map(ToString::to_string).collect(),
            ..PlannedService::default()
        })
        .collect()
}

#[cfg(test)]
mod tests;
