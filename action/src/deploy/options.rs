//! What a deploy is asked: the options of `ferry deploy` ([`Options`]), how
//! the roll-out waits and rolls back ([`RolloutOptions`]), and why a deploy
//! stops ([`RunError`]).

use std::collections::BTreeMap;
use std::time::Duration;

use super::rollout::Limits;
use crate::diagnostic::{Diagnose, Diagnostic};
use crate::inputs::ServiceSelection;
use crate::project::{ProjectError, StageError};

/// Options of `ferry deploy` (the root, the manifest and the environment
/// come with the [`crate::project::Project`]).
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// The services to deploy (default: those in `images`).
    pub services: Option<ServiceSelection>,
    /// The image of each service.
    pub images: BTreeMap<String, String>,
    /// Rollout behaviour (wait, deadline, rollback).
    pub rollout: RolloutOptions,
    /// Render and print; touch nothing.
    pub dry_run: bool,
    /// `FERRY_EXT_*` variables, for rendering.
    pub env_vars: BTreeMap<String, String>,
    /// Check every reference first (or skip, with a reason).
    pub preflight: crate::preflight::Gate,
}

/// Why `deploy` stopped before or while deploying.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    /// The manifest, or input refused (an unknown service, a missing image).
    #[error(transparent)]
    Project(#[from] ProjectError),
    /// A task definition did not render; nothing was deployed.
    #[error("{} problem(s) in the task definitions; nothing was deployed", .0.len())]
    Render(Vec<Diagnostic>),
    /// AWS could not be reached (credentials first of all).
    #[error(transparent)]
    Aws(#[from] crate::aws::AwsError),
    /// Preflight found references that do not exist; nothing was touched.
    #[error(transparent)]
    Preflight(#[from] crate::preflight::PreflightError),
    /// Writing outputs failed.
    #[error("cannot write the outputs: {0}")]
    Io(#[from] std::io::Error),
    /// The deploy ran, and at least one service did not end where the
    /// release wanted it; the summary and the comment say why.
    #[error("{0}")]
    Failed(String),
}

impl Diagnose for RunError {
    fn diagnostics(&self) -> Vec<Diagnostic> {
        match self {
            Self::Project(e) => e.diagnostics(),
            Self::Render(d) => d.clone(),
            Self::Preflight(e) => e.diagnostics(),
            _ => Vec::new(),
        }
    }
}

impl StageError for RunError {}

/// How [`roll_out`] behaves.
#[derive(Debug, Clone, PartialEq)]
pub struct RolloutOptions {
    /// Wait for the rollouts (`--no-wait` sets false: the status is `started`).
    pub wait: bool,
    /// Give up waiting after this long (default 15 min).
    pub deadline: Duration,
    /// Time between polls (default 6 s).
    pub poll_interval: Duration,
    /// Roll back a failed rollout (`--no-rollback` sets false).
    pub rollback: bool,
    /// Log lines per failed container in the diagnosis (default 20).
    pub log_lines: usize,
    /// RegisterTaskDefinition calls per second, sustained (default 1).
    pub register_per_second: f64,
    /// RegisterTaskDefinition calls at once before the rate applies (default
    /// 20, ECS's burst for task definition writes as we read its throttling
    /// table; the SDK retries a ThrottlingException should an account have less).
    pub register_burst: u32,
    /// Run before-deploy tasks again even when a record says they succeeded
    /// for this revision (`--rerun-tasks`).
    pub rerun_tasks: bool,
}

impl Default for RolloutOptions {
    fn default() -> Self {
        Self {
            wait: true,
            deadline: Duration::from_secs(15 * 60),
            poll_interval: Duration::from_secs(6),
            rollback: true,
            log_lines: 20,
            register_per_second: 1.0,
            register_burst: 20,
            rerun_tasks: false,
        }
    }
}

impl RolloutOptions {
    pub(super) fn limits(&self) -> Limits {
        Limits {
            deadline: self.deadline,
            interval: self.poll_interval,
            max_backoff: self.poll_interval.saturating_mul(10),
            ..Limits::default()
        }
    }
}
