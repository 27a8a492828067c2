//! `ferry plan-comment` and `ferry plan-verify`: their arguments and their
//! conversion to the library's options.

use std::path::PathBuf;

use clap::{Args, ValueEnum};
use ferry::gha::{Context, Reporter};
use ferry::inputs::{boolean, pr_number};
use ferry::plan_comment::{self, Options, PlanMode};

use crate::failure::{Failure, Outcome};

/// The arguments of both plan commands.
#[derive(Debug, Args)]
pub struct PlanArgs {
    /// Environment name, e.g. staging or prod.
    #[arg(long, env = "INPUT_ENVIRONMENT")]
    env: String,
    /// `terraform show -json` output, or the binary plan file.
    #[arg(long, env = "INPUT_PLAN")]
    plan: PathBuf,
    /// The mode the plan was made in (the plan JSON does not say).
    #[arg(long, value_enum, env = "INPUT_MODE", default_value_t = Mode::Normal)]
    mode: Mode,
    /// Root module directory, when one repository has several.
    #[arg(long)]
    root_module: Option<String>,
    /// Terraform workspace.
    #[arg(long)]
    workspace: Option<String>,
    /// A tera template to use instead of the built-in one.
    #[arg(long)]
    template: Option<PathBuf>,
    /// Regular expression of values to redact from every output (repeatable).
    #[arg(long)]
    redact: Vec<String>,
    /// Print the comment instead of posting it.
    #[arg(long, env = "INPUT_DRY-RUN", value_parser = boolean)]
    dry_run: bool,
    /// When the plan has no changes, delete the previous comment and post none.
    #[arg(long, env = "INPUT_SKIP-NO-CHANGES", value_parser = boolean)]
    skip_no_changes: bool,
    /// Set terraform:<env>:destroy / terraform:<env>:no-changes labels.
    #[arg(long, env = "INPUT_LABELS", value_parser = boolean)]
    labels: bool,
    /// Terraform program, for binary plans.
    #[arg(long, default_value = "terraform")]
    terraform: String,
    /// Pull request number (default: from the event).
    #[arg(long, env = "INPUT_PR", value_parser = pr_number)]
    pr: Option<u64>,
    /// Another environment's plan to compare with, as ENV=FILE (plan-comment:
    /// what one plan has that the other has not, tfvars-only differences apart).
    #[arg(long, env = "INPUT_COMPARE-WITH", value_parser = compare_with)]
    compare_with: Option<(String, PathBuf)>,
}

/// `--compare-with ENV=FILE`.
fn compare_with(text: &str) -> Result<(String, PathBuf), String> {
    match text.split_once('=') {
        Some((env, file)) if !env.trim().is_empty() && !file.trim().is_empty() => {
            Ok((env.trim().to_string(), PathBuf::from(file.trim())))
        }
        _ => Err("expected ENV=FILE, e.g. staging=staging.tfplan.json".to_string()),
    }
}

/// `--mode`: the command line's names of [`PlanMode`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Mode {
    /// `terraform plan`.
    Normal,
    /// `terraform plan -destroy`.
    Destroy,
    /// `terraform plan -refresh-only`.
    RefreshOnly,
}

impl From<Mode> for PlanMode {
    fn from(m: Mode) -> Self {
        match m {
            Mode::Normal => PlanMode::Normal,
            Mode::Destroy => PlanMode::Destroy,
            Mode::RefreshOnly => PlanMode::RefreshOnly,
        }
    }
}

impl From<PlanArgs> for Options {
    fn from(a: PlanArgs) -> Self {
        Options {
            env: a.env,
            plan: a.plan,
            mode: a.mode.into(),
            root_module: a.root_module,
            workspace: a.workspace,
            template: a.template,
            redact: a.redact,
            dry_run: a.dry_run,
            skip_no_changes: a.skip_no_changes,
            labels: a.labels,
            terraform: a.terraform,
            pr: a.pr,
            key: None,
            compare_with: a.compare_with,
        }
    }
}

/// Runs `ferry plan-comment`.
pub async fn comment(args: PlanArgs, ctx: &Context, reporter: &mut Reporter) -> Outcome {
    let opts = with_key(args.into(), ctx, reporter)?;
    plan_comment::run(ctx, &opts, reporter).await?;
    Ok(())
}

/// The options with the run's `plan-key`, which the log then masks.
fn with_key(mut opts: Options, ctx: &Context, reporter: &mut Reporter) -> Result<Options, Failure> {
    if let Some(key) = &ctx.plan_key {
        reporter
            .mask(key)
            .map_err(|e| Failure::message(format!("cannot write the log: {e}")))?;
    }
    opts.key = ctx.plan_key.clone();
    Ok(opts)
}

/// Runs `ferry plan-verify`.
pub async fn verify(
    args: PlanArgs,
    expected_hash: Option<String>,
    ctx: &Context,
    reporter: &mut Reporter,
) -> Outcome {
    let opts = with_key(args.into(), ctx, reporter)?;
    let hash = plan_comment::verify::run(ctx, &opts, expected_hash.as_deref(), reporter).await?;
    reporter
        .info(&format!(
            "plan-verify: the plan matches the reviewed one ({hash})"
        ))
        .map_err(|e| Failure::message(format!("cannot write the log: {e}")))
}

/// Runs `ferry plan-applied`.
pub async fn applied(
    args: PlanArgs,
    apply_log: PathBuf,
    ctx: &Context,
    reporter: &mut Reporter,
) -> Outcome {
    let opts = plan_comment::apply::ApplyOptions {
        plan: with_key(args.into(), ctx, reporter)?,
        log: apply_log,
    };
    plan_comment::apply::run(ctx, &opts, reporter).await?;
    Ok(())
}

/// Runs `ferry drift`.
pub async fn drift(
    args: PlanArgs,
    ignore_from: Option<PathBuf>,
    ctx: &Context,
    reporter: &mut Reporter,
) -> Outcome {
    let opts = plan_comment::drift::DriftOptions {
        plan: with_key(args.into(), ctx, reporter)?,
        ignore_from,
    };
    plan_comment::drift::run(ctx, &opts, reporter).await?;
    Ok(())
}
