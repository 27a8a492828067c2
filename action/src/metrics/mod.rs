//! `ferry metrics`: DORA's four keys (deployment frequency, lead time for
//! changes, change failure rate, time to restore) per service and
//! environment, from Ferry's own records: the GitHub Deployments `deploy`
//! writes, their statuses, and the commits each one shipped.
//!
//! The computation is pure ([`compute`]); this module reads the records
//! (bounded: one list per environment, one status per deployment, one
//! comparison per pair of releases) and writes the summary, the JSON file
//! and, when asked, the Prometheus text exposition ([`render`]).

pub mod compute;
pub mod render;

use std::collections::BTreeMap;
use std::path::PathBuf;

use crate::diagnostic::Diagnose;
use crate::gha::{Context, Reporter};
use crate::github::deployments::DeploymentState;
use crate::github::{GitHub, GitHubError};
use crate::project::{Project, ProjectError, StageError};
pub use compute::{
    DeploymentFact, History, Keys, Outcome, Report, ShaPair, Shipped, Window, comparisons,
};

/// How many deployments older than the window are read per environment to
/// find each service's previous release (the base of its first lead time).
pub const LOOKBACK: usize = 100;
/// How many deployments are read per environment at most.
pub const RECORDS_MAX: usize = 2000;
/// The longest window, in days.
pub const DAYS_MAX: u64 = 366;
/// The JSON file written by default, relative to the repository root.
pub const DEFAULT_JSON: &str = ".ferry/metrics/dora.json";
/// The Prometheus text exposition written by default, relative to the root.
pub const DEFAULT_PROMETHEUS: &str = ".ferry/metrics/dora.prom";

/// `ferry metrics`'s inputs.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// The window's length in days.
    pub days: u64,
    /// The window's end, seconds since the epoch (default: now).
    pub until: Option<u64>,
    /// Only these environments (default: all of the manifest's).
    pub environments: Vec<String>,
    /// The JSON file (default [`DEFAULT_JSON`] under the root).
    pub json: Option<PathBuf>,
    /// The Prometheus text exposition (default [`DEFAULT_PROMETHEUS`] under the root).
    pub prometheus: Option<PathBuf>,
}

/// Why `ferry metrics` could not report.
#[derive(Debug, thiserror::Error)]
pub enum MetricsError {
    /// The manifest, or bad command-line input.
    #[error(transparent)]
    Project(#[from] ProjectError),
    /// GitHub could not be read.
    #[error("cannot read GitHub Deployments: {0}")]
    GitHub(#[from] GitHubError),
    /// A file, the outputs or the summary could not be written.
    #[error("cannot write {what}: {source}")]
    Io {
        /// What was being written.
        what: String,
        /// Why it failed.
        source: std::io::Error,
    },
}

impl Diagnose for MetricsError {
    fn diagnostics(&self) -> Vec<crate::diagnostic::Diagnostic> {
        match self {
            MetricsError::Project(e) => e.diagnostics(),
            _ => Vec::new(),
        }
    }
}

impl StageError for MetricsError {}

fn io(what: &str) -> impl FnOnce(std::io::Error) -> MetricsError + '_ {
    move |source| MetricsError::Io {
        what: what.to_string(),
        source,
    }
}

/// The outcome a deployment's newest state means.
pub fn outcome(state: Option<DeploymentState>) -> Outcome {
    match state {
        Some(s) if s.succeeded() => Outcome::Succeeded,
        Some(DeploymentState::Failure | DeploymentState::Error) => Outcome::Failed,
        _ => Outcome::Unfinished,
    }
}

/// Reads one environment's history: every deployment of a manifest service
/// in the window with its outcome, and, before the window, each service's
/// newest deployment that succeeded.
async fn read_environment(
    gh: &GitHub,
    environment: &str,
    services: &[&str],
    window: Window,
) -> Result<Vec<DeploymentFact>, GitHubError> {
    let records = gh
        .environment_history(environment, window.start, LOOKBACK, RECORDS_MAX)
        .await?;
    let mut facts = Vec::new();
    let mut found_before: Vec<&str> = Vec::new();
    // Newest first, as GitHub lists them.
    for r in records {
        let Some(service) = services.iter().copied().find(|s| *s == r.service) else {
            continue;
        };
        if r.created_at >= window.end {
            continue;
        }
        let before = r.created_at < window.start;
        if before && found_before.contains(&service) {
            continue;
        }
        let status = gh.latest_status(r.id).await?;
        let outcome = outcome(status.and_then(|s| s.state));
        if before {
            if outcome != Outcome::Succeeded {
                continue;
            }
            found_before.push(service);
        }
        facts.push(DeploymentFact {
            service: service.to_string(),
            environment: environment.to_string(),
            sha: r.sha,
            created_at: r.created_at,
            outcome,
            finished_at: status.and_then(|s| s.created_at),
        });
    }
    Ok(facts)
}

/// Reads what each comparison shipped; a comparison GitHub cannot make (a
/// sha gone after a force-push) is left out, with a warning.
async fn read_shipped(
    gh: &GitHub,
    pairs: Vec<ShaPair>,
    reporter: &mut Reporter,
) -> Result<BTreeMap<ShaPair, Shipped>, MetricsError> {
    let mut out = BTreeMap::new();
    for pair in pairs {
        match gh.compare_commits(&pair.base, &pair.head).await {
            Ok(c) => {
                let listed = c.author_dates.len() as u64;
                out.insert(
                    pair,
                    Shipped {
                        first_commit_at: c.author_dates.iter().copied().min(),
                        commits: c.total_commits,
                        complete: listed >= c.total_commits,
                    },
                );
            }
            Err(e) => reporter
                .info(&format!(
                    "warning: no lead time for {}...{}: {e}",
                    pair.base, pair.head
                ))
                .map_err(io("the log"))?,
        }
    }
    Ok(out)
}

fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// Runs `ferry metrics`: reads, computes, writes the summary, the JSON file
/// (output `json`) and the Prometheus file (output `prometheus`).
pub async fn run(
    ctx: &Context,
    project: &Project,
    opts: &Options,
    reporter: &mut Reporter,
) -> Result<Report, MetricsError> {
    let (root, manifest) = (&project.root, &project.manifest);
    if let Some(token) = &ctx.token {
        reporter.mask(token).map_err(io("the log"))?;
    }
    if !(1..=DAYS_MAX).contains(&opts.days) {
        return Err(MetricsError::input(format!(
            "--days is {}: give a number of days from 1 to {DAYS_MAX}",
            opts.days
        )));
    }
    let environments: Vec<&str> = if opts.environments.is_empty() {
        manifest.environments.keys().map(String::as_str).collect()
    } else {
        let mut out = Vec::new();
        for e in &opts.environments {
            let Some((name, _)) = manifest.environments.get_key_value(e) else {
                let known: Vec<&str> = manifest.environments.keys().map(String::as_str).collect();
                return Err(MetricsError::input(format!(
                    "unknown environment {}: {} declares {}",
                    crate::text::quote(e),
                    manifest.file.display(),
                    known.join(", ")
                )));
            };
            out.push(name.as_str());
        }
        out
    };
    let token = ctx.token.as_ref().ok_or_else(|| {
        MetricsError::input("no GitHub token: pass `github-token: ${{ github.token }}` (or set GITHUB_TOKEN) with `deployments: read` and `contents: read`")
    })?;
    let repo = ctx
        .repository
        .clone()
        .ok_or_else(|| MetricsError::input("GITHUB_REPOSITORY is not set (expected owner/repo)"))?;
    let gh =
        GitHub::new(&ctx.api_url, Some(token), repo)?.with_trusted(ctx.trusted_authors.clone());

    let end = opts.until.unwrap_or_else(now);
    let window = Window {
        start: end.saturating_sub(opts.days * 86_400),
        end,
    };
    let services: Vec<&str> = manifest.services.keys().map(String::as_str).collect();
    let mut history = History::default();
    for environment in &environments {
        history
            .deployments
            .extend(read_environment(&gh, environment, &services, window).await?);
    }
    let pairs = comparisons(&history.deployments, window);
    history.shipped = read_shipped(&gh, pairs, reporter).await?;
    let report = compute::compute(&history, window);

    let json_path = opts.json.clone().unwrap_or_else(|| root.join(DEFAULT_JSON));
    write_file(&json_path, &render::json(&report))?;
    reporter
        .output("json", &json_path.display().to_string())
        .map_err(io("the outputs"))?;
    let prometheus_path = opts
        .prometheus
        .clone()
        .unwrap_or_else(|| root.join(DEFAULT_PROMETHEUS));
    write_file(&prometheus_path, &render::prometheus(&report))?;
    reporter
        .output("prometheus", &prometheus_path.display().to_string())
        .map_err(io("the outputs"))?;
    reporter
        .info(&format!(
            "metrics: {} deployments in {} environment(s) over {} days; JSON in {}",
            history
                .deployments
                .iter()
                .filter(|d| d.created_at >= window.start)
                .count(),
            environments.len(),
            opts.days,
            json_path.display()
        ))
        .map_err(io("the log"))?;
    reporter
        .summary(&render::summary(&report))
        .map_err(io("the job summary"))?;
    Ok(report)
}

fn write_file(path: &std::path::Path, text: &str) -> Result<(), MetricsError> {
    let what = path.display().to_string();
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(io(&what))?;
    }
    std::fs::write(path, text).map_err(io(&what))
}
