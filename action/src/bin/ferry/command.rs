//! The commands `ferry` has, and which file runs each.

use std::path::PathBuf;

use clap::Subcommand;
use ferry::gha::{Context, Reporter};

use crate::failure::Outcome;
use crate::{build, deploy, detect, diff, gate, metrics, plan, preflight, release, render, schema};

/// Every command, with the text `ferry --help` shows for it.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Find the services a change affects, and why.
    ///
    /// Outputs `services` (JSON list), `matrix` (for strategy.matrix), `any`,
    /// and `<service>=true|false`; the job summary explains each decision.
    Detect(detect::DetectArgs),
    /// Post (or print) a review-ready comment for a Terraform plan.
    PlanComment(plan::PlanArgs),
    /// Fail when a plan differs from the one reviewed on the pull request.
    PlanVerify {
        #[command(flatten)]
        plan: plan::PlanArgs,
        /// Compare with this hash instead of reading the pull request comment.
        #[arg(long)]
        expected_hash: Option<String>,
    },
    /// Put the outcome of `terraform apply -json` on the pull request's
    /// plan comment and in the job summary; fail when the apply failed.
    ///
    /// Outputs `applied`, `resources-applied`, `resources-failed`.
    PlanApplied {
        #[command(flatten)]
        plan: plan::PlanArgs,
        /// The output of `terraform apply -json` (one JSON message a line).
        #[arg(long, env = "INPUT_APPLY-LOG")]
        apply_log: PathBuf,
    },
    /// Report Terraform drift from a `terraform plan -refresh-only` plan in
    /// one issue per environment (opened, updated, closed when it is gone).
    ///
    /// Leaves out what Ferry deploys and what `ignore_changes` names.
    /// Outputs `drifted`.
    Drift {
        #[command(flatten)]
        plan: plan::PlanArgs,
        /// The Terraform directory whose `lifecycle { ignore_changes }` lists
        /// are left out (its .tf files, recursively).
        #[arg(long, env = "INPUT_IGNORE-FROM")]
        ignore_from: Option<PathBuf>,
    },
    /// Build, tag and push each service's image; reuse one built from the
    /// same inputs.
    ///
    /// Outputs `image` (repository@digest), `tag`, `reused`, and `images`
    /// (JSON, by service); the job summary has a row per service.
    Build(build::BuildArgs),
    /// Render task definitions from Jsonnet and validate them offline.
    ///
    /// Outputs `task-definition` (the file of a single render) or
    /// `task-definitions` (JSON map `service/env` → file, with --all).
    Render(render::RenderArgs),
    /// Show what a deploy would change: the rendered task definition against
    /// the one the ECS service runs, both normalised, and the move of a
    /// scheduled job's EventBridge target (`schedule:`).
    ///
    /// Outputs `has-changes` and `changes` (one per line).
    Diff(diff::DiffArgs),
    /// Refuse a promotion unless every image succeeded in the environment
    /// named by `promote-from` (and, optionally, its SLOs hold).
    ///
    /// Outputs `allowed` (true|false) and `images` (JSON, by service: what
    /// to deploy); exits non-zero when refused, with the reason per service.
    Gate(gate::GateArgs),
    /// Check, before anything changes, that every reference of the task
    /// definitions a deploy would register exists: secrets and parameters,
    /// the execution and task roles (and that they may be passed), the
    /// images by digest, the log groups, the cluster and the services.
    /// Read-only; `deploy` and `release` run it first.
    ///
    /// Outputs `status` (passed|failed) and `problems` (JSON list of
    /// {service, field, problem, fix}); exits non-zero on any problem.
    Preflight(preflight::PreflightArgs),
    /// Register, roll out and wait; diagnose and roll back a failure; record
    /// GitHub Deployments and the deploy comment.
    ///
    /// Outputs `status` (succeeded|unchanged|failed|rolled-back|started|dry-run,
    /// the worst service's), `task-definition-arn` (the first service's), and
    /// JSON maps by service: `task-definition-arns`, `statuses`, `durations`,
    /// `decided-by` (what ended a progressive rollout).
    Deploy(deploy::DeployArgs),
    /// Detect → build → render → deploy in one command, for a laptop or a
    /// single job. Without AWS credentials outside Actions it is a dry run
    /// that prints the plan (services and why, image tags, task definitions
    /// and their diff, the deploy comment).
    ///
    /// Outputs `services` and `status`, plus those of build and deploy.
    Release(release::ReleaseArgs),
    /// DORA's four keys per service and environment from the GitHub
    /// Deployments of a window: deployment frequency, lead time for changes,
    /// change failure rate, time to restore.
    ///
    /// Writes a job summary (table and chart), a JSON file (output `json`)
    /// and the Prometheus text exposition (output `prometheus`).
    Metrics(metrics::MetricsArgs),
    /// Print the manifest's JSON Schema, or write it with --output, for
    /// editors: `# yaml-language-server: $schema=ferry.schema.json` at the
    /// top of .github/ferry.yml.
    Schema(schema::SchemaArgs),
}

impl Command {
    /// Runs the command.
    pub async fn run(self, manifest: PathBuf, ctx: &Context, reporter: &mut Reporter) -> Outcome {
        match self {
            Command::Detect(args) => detect::run(args, manifest, ctx, reporter).await,
            Command::PlanComment(args) => plan::comment(args, ctx, reporter).await,
            Command::PlanVerify {
                plan,
                expected_hash,
            } => plan::verify(plan, expected_hash, ctx, reporter).await,
            Command::PlanApplied { plan, apply_log } => {
                plan::applied(plan, apply_log, ctx, reporter).await
            }
            Command::Drift { plan, ignore_from } => {
                plan::drift(plan, ignore_from, ctx, reporter).await
            }
            Command::Build(args) => build::run(args, manifest, ctx, reporter).await,
            Command::Render(args) => render::run(args, manifest, ctx, reporter),
            Command::Diff(args) => diff::run(args, manifest, ctx, reporter).await,
            Command::Gate(args) => gate::run(args, manifest, ctx, reporter).await,
            Command::Preflight(args) => preflight::run(args, manifest, ctx, reporter).await,
            Command::Deploy(args) => {
                ferry::cancel::listen();
                deploy::run(args, manifest, ctx, reporter).await
            }
            Command::Release(args) => {
                ferry::cancel::listen();
                release::run(args, manifest, ctx, reporter).await
            }
            Command::Metrics(args) => metrics::run(args, manifest, ctx, reporter).await,
            Command::Schema(args) => schema::run(args, reporter),
        }
    }
}
