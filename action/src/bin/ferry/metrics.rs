//! `ferry metrics`: its arguments and their conversion to the library's options.

use std::path::PathBuf;

use clap::Args;
use ferry::gha::{Context, Reporter};
use ferry::inputs::rfc3339;
use ferry::metrics;

use crate::failure::Outcome;

/// The arguments of `ferry metrics`.
#[derive(Debug, Args)]
pub struct MetricsArgs {
    /// The window's length in days, ending now (or at --until).
    #[arg(long, env = "INPUT_DAYS", default_value_t = 30)]
    days: u64,
    /// The window's end, RFC 3339 (default: now).
    #[arg(long, value_parser = rfc3339)]
    until: Option<u64>,
    /// Only these environments (comma-separated; default: all).
    #[arg(long, env = "INPUT_ENVIRONMENT", value_delimiter = ',')]
    env: Vec<String>,
    /// The JSON file to write (default: .ferry/metrics/dora.json).
    #[arg(long)]
    json: Option<PathBuf>,
    /// The Prometheus text exposition file (default: .ferry/metrics/dora.prom).
    #[arg(long)]
    prometheus: Option<PathBuf>,
    /// The repository root (default: $GITHUB_WORKSPACE, else the current folder).
    #[arg(long)]
    repo: Option<PathBuf>,
}

impl MetricsArgs {
    /// The library's options.
    pub fn options(self) -> metrics::Options {
        metrics::Options {
            days: self.days,
            until: self.until,
            environments: self
                .env
                .into_iter()
                .map(|e| e.trim().to_string())
                .filter(|e| !e.is_empty())
                .collect(),
            json: self.json,
            prometheus: self.prometheus,
        }
    }
}

/// Runs `ferry metrics`.
pub async fn run(
    args: MetricsArgs,
    manifest: PathBuf,
    ctx: &Context,
    reporter: &mut Reporter,
) -> Outcome {
    let project = crate::project::load(args.repo.clone(), &manifest, ctx)?;
    metrics::run(ctx, &project, &args.options(), reporter).await?;
    Ok(())
}
