//! The `ferry` binary: parses arguments and hands over to the library.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};
use ferry::plan_comment::{self, GhContext, Options, PlanMode};

#[derive(Debug, Parser)]
#[command(
    name = "ferry",
    version,
    about = "Release orchestration for ECS Fargate monorepos"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Post (or print) a review-ready comment for a Terraform plan.
    PlanComment(PlanArgs),
    /// Fail when a plan differs from the one reviewed on the pull request.
    PlanVerify {
        #[command(flatten)]
        plan: PlanArgs,
        /// Compare with this hash instead of reading the pull request comment.
        #[arg(long)]
        expected_hash: Option<String>,
    },
}

#[derive(Debug, Args)]
struct PlanArgs {
    /// Environment name, e.g. staging or prod.
    #[arg(long)]
    env: String,
    /// `terraform show -json` output, or the binary plan file.
    #[arg(long)]
    plan: PathBuf,
    /// The mode the plan was made in (the plan JSON does not say).
    #[arg(long, value_enum, default_value_t = PlanMode::Normal)]
    mode: PlanMode,
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
    #[arg(long)]
    dry_run: bool,
    /// When the plan has no changes, delete the previous comment and post none.
    #[arg(long)]
    skip_no_changes: bool,
    /// Set terraform:<env>:destroy / terraform:<env>:no-changes labels.
    #[arg(long)]
    labels: bool,
    /// Terraform program, for binary plans.
    #[arg(long, default_value = "terraform")]
    terraform: String,
    /// Pull request number (default: from the event).
    #[arg(long)]
    pr: Option<u64>,
}

impl From<PlanArgs> for Options {
    fn from(a: PlanArgs) -> Self {
        Options {
            env: a.env,
            plan: a.plan,
            mode: a.mode,
            root_module: a.root_module,
            workspace: a.workspace,
            template: a.template,
            redact: a.redact,
            dry_run: a.dry_run,
            skip_no_changes: a.skip_no_changes,
            labels: a.labels,
            terraform: a.terraform,
            pr: a.pr,
        }
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let gh = GhContext::from_env();
    let result = runtime.block_on(async {
        match cli.command {
            Command::PlanComment(args) => {
                let opts = Options::from(args);
                plan_comment::run(&opts, &gh, &mut std::io::stdout())
                    .await
                    .map(|_| ())
            }
            Command::PlanVerify {
                plan,
                expected_hash,
            } => {
                let opts = Options::from(plan);
                plan_comment::verify::run(&opts, &gh, expected_hash.as_deref())
                    .await
                    .map(|hash| {
                        eprintln!("plan-verify: the plan matches the reviewed one ({hash})")
                    })
            }
        }
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            // GitHub Actions shows `::error::` lines as annotations.
            let prefix = if gh.in_actions {
                "::error::"
            } else {
                "error: "
            };
            eprintln!("{prefix}{e}");
            ExitCode::FAILURE
        }
    }
}
