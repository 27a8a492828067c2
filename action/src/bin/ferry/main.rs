//! The `ferry` binary: parses arguments, reads the run's context, calls the
//! library, and turns errors into annotations and an exit code. Each
//! command's arguments, and their conversion to the library's options, are
//! in the file named after it.

mod build;
mod command;
mod deploy;
mod detect;
mod diff;
mod failure;
mod gate;
mod metrics;
mod plan;
mod preflight;
mod project;
mod release;
mod render;
mod schema;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{CommandFactory, FromArgMatches, Parser};
use command::Command;
use ferry::gha::{Context, Reporter};

/// Release orchestration for a monorepo of ECS Fargate services.
#[derive(Debug, Parser)]
#[command(name = "ferry", version, about, long_about = None)]
struct Cli {
    /// The service manifest, relative to the repository root.
    #[arg(long, global = true, env = "INPUT_MANIFEST", default_value = ferry::manifest::DEFAULT_PATH)]
    manifest: PathBuf,

    #[command(subcommand)]
    command: Command,
}

/// The runner sets every input action.yml declares, empty when the workflow
/// gives none, and clap would take an empty `INPUT_TIMEOUT` or `INPUT_VALUES`
/// for a value and refuse it: an argument whose `INPUT_*` variable is empty
/// (or blank) reads no variable, as if the input were absent.
fn ignore_empty_inputs(
    cmd: clap::Command,
    env: &dyn Fn(&std::ffi::OsStr) -> Option<std::ffi::OsString>,
) -> clap::Command {
    let fix = |arg: clap::Arg| {
        let empty = arg.get_env().is_some_and(|name| {
            name.to_string_lossy().starts_with("INPUT_")
                && env(name).is_some_and(|v| v.to_string_lossy().trim().is_empty())
        });
        if empty { arg.env(None) } else { arg }
    };
    cmd.mut_args(fix).mut_subcommands(|sub| sub.mut_args(fix))
}

/// A reporter for the failures before the context is read.
fn bare_reporter(in_actions: bool) -> Reporter {
    let (out, err) = (Box::new(std::io::stdout()), Box::new(std::io::stderr()));
    Reporter::new(in_actions, None, None, out, err)
}

fn main() -> ExitCode {
    // The Jsonnet worker (a child of this binary) sets its own limits and
    // serves evaluations, before anything else starts.
    let argv: Vec<String> = std::env::args().skip(1).collect();
    if argv.first().map(String::as_str) == Some(ferry::render::worker::HIDDEN_MODE) {
        let code = ferry::render::worker::serve(
            &argv[1..],
            std::io::stdin().lock(),
            std::io::stdout().lock(),
            std::io::stderr(),
        );
        return ExitCode::from(u8::try_from(code).unwrap_or(1));
    }
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build();
    match runtime {
        Ok(runtime) => runtime.block_on(run()),
        Err(e) => {
            eprintln!("ferry: cannot start: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn run() -> ExitCode {
    let in_actions = std::env::var("GITHUB_ACTIONS").as_deref() == Ok("true");
    // Before anything can log: the log scrubs these and, in Actions, defuses
    // workflow commands (the runner reads stderr too).
    ferry::gha::secrets::remember_env(&|k| std::env::var(k).ok());
    let (spans, mut telemetry) = ferry::telemetry::init(&|k| std::env::var(k).ok());
    ferry::gha::logging::init_with(in_actions, spans);
    ferry::gha::logging::install_panic_hook(in_actions);
    if let Some(warning) = telemetry.refused() {
        tracing::warn!("{warning}");
    }
    // A container action gets no arguments: the `command` input names the subcommand.
    let args = ferry::gha::action_args(std::env::args_os().collect(), &|k| std::env::var(k).ok());
    let parsed = ignore_empty_inputs(Cli::command(), &|k| std::env::var_os(k))
        .try_get_matches_from(args)
        .and_then(|matches| Cli::from_arg_matches(&matches));
    let cli = match parsed {
        Ok(cli) => cli,
        Err(e) => {
            // Clap quotes the offending value (outside text): print through
            // the reporter, not clap's own writer.
            let mut reporter = bare_reporter(in_actions);
            let text = e.render().to_string();
            let _ = if e.use_stderr() {
                reporter.fatal(text.trim_start_matches("error: ").trim_end())
            } else {
                reporter.print(&text)
            };
            let _ = reporter.flush();
            return ExitCode::from(u8::try_from(e.exit_code()).unwrap_or(2));
        }
    };
    let ctx = match Context::from_env() {
        Ok(ctx) => ctx,
        Err(e) => {
            let _ = bare_reporter(in_actions).fatal(&e.to_string());
            return ExitCode::FAILURE;
        }
    };
    let mut reporter = Reporter::from_context(&ctx);
    if let Err(e) = ferry::budget::init(&|k| std::env::var(k).ok()) {
        let _ = reporter.fatal(&e);
        let _ = reporter.flush();
        return ExitCode::FAILURE;
    }
    // Jsonnet runs in a worker process (`FERRY_JSONNET_IN_PROCESS=1`, for
    // scripts/bench-render's comparison only, keeps it in this process).
    if std::env::var("FERRY_JSONNET_IN_PROCESS").as_deref() != Ok("1")
        && let Ok(exe) = std::env::current_exe()
    {
        ferry::render::worker::enable(exe);
    }
    telemetry.start(
        &ferry::telemetry::command_name(&format!("{:?}", cli.command)),
        &|k| std::env::var(k).ok(),
    );
    let result = cli.command.run(cli.manifest, &ctx, &mut reporter).await;
    if let Some(traceparent) = telemetry.traceparent() {
        let _ = reporter.output("traceparent", &traceparent);
    }
    telemetry.finish(result.is_ok());
    let code = match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(failure) => {
            let _ = reporter.fail(&failure.error.to_string(), &failure.diagnostics);
            ExitCode::FAILURE
        }
    };
    let _ = reporter.flush();
    code
}
