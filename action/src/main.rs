//! The `ferry` binary: parses arguments, reads the run's context, calls the
//! library, and turns errors into annotations and an exit code.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, CommandFactory, FromArgMatches, Parser, Subcommand, ValueEnum};
use ferry::gha::{Context, Reporter};
use ferry::manifest::BuilderKind;
use ferry::plan_comment::{self, Options, PlanMode};
use ferry::{build, deploy, detect, diff, gate, render};

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

#[derive(Debug, Subcommand)]
enum Command {
    /// Find the services a change affects, and why.
    ///
    /// Outputs `services` (JSON list), `matrix` (for strategy.matrix), `any`,
    /// and `<service>=true|false`; the job summary explains each decision.
    Detect(DetectArgs),
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
    /// Build, tag and push each service's image; reuse one built from the
    /// same inputs.
    ///
    /// Outputs `image` (repository@digest), `tag`, `reused`, and `images`
    /// (JSON, by service); the job summary has a row per service.
    Build(BuildArgs),
    /// Render task definitions from Jsonnet and validate them offline.
    ///
    /// Outputs `task-definition` (the file of a single render) or
    /// `task-definitions` (JSON map `service/env` → file, with --all).
    Render(RenderArgs),
    /// Show what a deploy would change: the rendered task definition against
    /// the one the ECS service runs, both normalised.
    ///
    /// Outputs `has-changes` and `changes` (one per line).
    Diff(DiffArgs),
    /// Refuse a promotion unless every image succeeded in the environment
    /// named by `promote-from` (and, optionally, its SLOs hold).
    ///
    /// Outputs `allowed` (true|false) and `images` (JSON, by service: what
    /// to deploy); exits non-zero when refused, with the reason per service.
    Gate(GateArgs),
    /// Register, roll out and wait; diagnose and roll back a failure; record
    /// GitHub Deployments and the deploy comment.
    ///
    /// Outputs `status` (succeeded|unchanged|failed|rolled-back|started|dry-run,
    /// the worst service's), `task-definition-arn` (the first service's), and
    /// JSON maps by service: `task-definition-arns`, `statuses`, `durations`.
    Deploy(DeployArgs),
    /// Detect → build → render → deploy in one command, for a laptop or a
    /// single job. Without AWS credentials outside Actions it is a dry run
    /// that prints the plan (services and why, image tags, task definitions
    /// and their diff, the deploy comment).
    ///
    /// Outputs `services` and `status`, plus those of build and deploy.
    Release(ReleaseArgs),
    /// DORA's four keys per service and environment from the GitHub
    /// Deployments of a window: deployment frequency, lead time for changes,
    /// change failure rate, time to restore.
    ///
    /// Writes a job summary (table and chart), a JSON file (output `json`)
    /// and the Prometheus text exposition (output `prometheus`).
    Metrics(MetricsArgs),
}

#[derive(Debug, Args)]
struct MetricsArgs {
    /// The window's length in days, ending now (or at --until).
    #[arg(long, env = "INPUT_DAYS", default_value_t = 30)]
    days: u64,
    /// The window's end, RFC 3339 (default: now).
    #[arg(long, value_parser = parse_rfc3339)]
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

/// `--until`: an RFC 3339 time.
fn parse_rfc3339(text: &str) -> Result<u64, String> {
    ferry::time::parse_time(text.trim())
        .ok_or_else(|| "not an RFC 3339 time: write e.g. 2026-12-01T00:00:00Z".to_string())
}

#[derive(Debug, Args)]
struct ReleaseArgs {
    /// The environment (default: the first that promotes from none).
    #[arg(long, env = "INPUT_ENVIRONMENT")]
    env: Option<String>,
    /// Compare from this commit (as in detect).
    #[arg(long, env = "INPUT_BASE")]
    base: Option<String>,
    /// Compare up to this commit (as in detect).
    #[arg(long, env = "INPUT_HEAD")]
    head: Option<String>,
    /// Release these services (comma-separated, or `all`) instead of detecting.
    #[arg(long, env = "INPUT_SERVICES")]
    services: Option<String>,
    /// The image builder (default: the manifest's build.builder, else docker).
    #[arg(long, env = "INPUT_BUILDER", value_enum, ignore_case = true)]
    builder: Option<BuilderArg>,
    /// Registry host to push to (as in build).
    #[arg(long, env = "INPUT_REGISTRY")]
    registry: Option<String>,
    /// Print the plan; build, push and deploy nothing.
    #[arg(long, env = "INPUT_DRY-RUN", value_parser = ferry::gha::bool_input)]
    dry_run: bool,
    #[command(flatten)]
    rollout: RolloutArgs,
    /// Use git only, never the GitHub API, to find the changes.
    #[arg(long)]
    no_api: bool,
    /// The repository root (default: $GITHUB_WORKSPACE, else the current folder).
    #[arg(long)]
    repo: Option<PathBuf>,
}

#[derive(Debug, Args)]
struct DeployArgs {
    /// The environment to deploy to.
    #[arg(long, env = "INPUT_ENVIRONMENT")]
    env: String,
    /// Services: comma-separated, a JSON list, detect's `matrix`, or `all`
    /// (default: those named in --images).
    #[arg(long, env = "INPUT_SERVICES")]
    services: Option<String>,
    /// Images: `ferry build`'s `images` output (JSON), a JSON map service →
    /// URI, or `service=URI` pairs (repeatable, or comma-separated).
    #[arg(long, env = "INPUT_IMAGES")]
    images: Vec<String>,
    /// Render, validate and print what would happen; touch nothing.
    #[arg(long, env = "INPUT_DRY-RUN", value_parser = ferry::gha::bool_input)]
    dry_run: bool,
    #[command(flatten)]
    rollout: RolloutArgs,
    /// The repository root (default: $GITHUB_WORKSPACE, else the current folder).
    #[arg(long)]
    repo: Option<PathBuf>,
}

/// How `deploy` (and `release`) wait and roll back.
#[derive(Debug, Args)]
struct RolloutArgs {
    /// Update the services without waiting for the rollouts (status `started`;
    /// the GitHub Deployments stay `in_progress`, so `gate` will not promote them).
    #[arg(long, env = "INPUT_NO-WAIT", value_parser = ferry::gha::bool_input)]
    no_wait: bool,
    /// Leave a failed service as it is instead of rolling it back.
    #[arg(long, env = "INPUT_NO-ROLLBACK", value_parser = ferry::gha::bool_input)]
    no_rollback: bool,
    /// Give up waiting after this long: `15m`, `900s`, `1h` or seconds.
    #[arg(long, env = "INPUT_TIMEOUT", default_value = "15m", value_parser = parse_duration)]
    timeout: std::time::Duration,
    /// Time between polls of the services: `6s`, `500ms`, or seconds.
    #[arg(long, env = "INPUT_POLL-INTERVAL", default_value = "6s", value_parser = parse_duration)]
    poll_interval: std::time::Duration,
}

impl From<RolloutArgs> for deploy::RolloutOptions {
    fn from(a: RolloutArgs) -> Self {
        deploy::RolloutOptions {
            wait: !a.no_wait,
            rollback: !a.no_rollback,
            deadline: a.timeout,
            poll_interval: a.poll_interval,
            ..deploy::RolloutOptions::default()
        }
    }
}

/// `--timeout` / `--poll-interval`: `90`, `90s`, `15m`, `1h`, `250ms`.
fn parse_duration(text: &str) -> Result<std::time::Duration, String> {
    let t = text.trim();
    let (number, unit) = t.split_at(t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len()));
    let n: u64 = number
        .parse()
        .map_err(|_| format!("`{t}` is not a duration: write 90s, 15m or 1h"))?;
    let d = match unit.trim() {
        "" | "s" => std::time::Duration::from_secs(n),
        "ms" => std::time::Duration::from_millis(n),
        "m" => std::time::Duration::from_secs(n * 60),
        "h" => std::time::Duration::from_secs(n * 3600),
        other => return Err(format!("`{t}`: unknown unit `{other}`; use ms, s, m or h")),
    };
    if d.is_zero() {
        return Err(format!("`{t}`: a duration must be more than zero"));
    }
    Ok(d)
}

#[derive(Debug, Args)]
struct GateArgs {
    /// The environment promoted to (it names the source in `promote-from`).
    #[arg(long, env = "INPUT_ENVIRONMENT")]
    env: String,
    /// Images to promote: `service=uri` (repeatable, or comma-separated), or
    /// a JSON map service → uri (`ferry build`'s `images` output).
    #[arg(long, env = "INPUT_IMAGES")]
    images: Vec<String>,
    /// Without --images: the services whose deployment of --sha to the
    /// source environment is promoted (comma-separated, JSON list, or all).
    #[arg(long, env = "INPUT_SERVICES")]
    services: Option<String>,
    /// The commit promoted (default: GITHUB_SHA).
    #[arg(long, env = "INPUT_SHA")]
    sha: Option<String>,
    /// The repository root (default: $GITHUB_WORKSPACE, else the current folder).
    #[arg(long)]
    repo: Option<PathBuf>,
}

#[derive(Debug, Args)]
struct BuildArgs {
    /// Services: comma-separated, a JSON list, detect's `matrix`, or `all`.
    #[arg(long, env = "INPUT_SERVICES")]
    services: Option<String>,
    /// The image builder (default: the manifest's build.builder, else docker).
    #[arg(long, env = "INPUT_BUILDER", value_enum, ignore_case = true)]
    builder: Option<BuilderArg>,
    /// Registry host to push to (default: the manifest's build.registry, else
    /// the account's ECR registry); `http://host:port` for one without TLS.
    #[arg(long, env = "INPUT_REGISTRY")]
    registry: Option<String>,
    /// How many services build at once (default: build.parallel, else 2).
    #[arg(long, env = "INPUT_PARALLEL")]
    parallel: Option<String>,
    /// The repository root (default: $GITHUB_WORKSPACE, else the current folder).
    #[arg(long)]
    repo: Option<PathBuf>,
}

/// `--builder` / the `builder` input: clap lists the values in `--help`
/// and refuses any other.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum BuilderArg {
    /// docker buildx (`buildx` is accepted too).
    #[value(alias = "buildx")]
    Docker,
    /// buildah, daemonless.
    Buildah,
    /// The runner sets every declared input, empty when not given: the
    /// manifest's choice then.
    #[value(name = "", hide = true)]
    Unset,
}

/// The builder asked for, if any.
fn builder_kind(arg: Option<BuilderArg>) -> Option<BuilderKind> {
    match arg? {
        BuilderArg::Docker => Some(BuilderKind::Docker),
        BuilderArg::Buildah => Some(BuilderKind::Buildah),
        BuilderArg::Unset => None,
    }
}

/// `--parallel` / the `parallel` input: a count from 1 to 16.
fn parse_parallel(text: Option<String>) -> Result<Option<usize>, String> {
    match present(text) {
        None => Ok(None),
        Some(t) => match t.trim().parse::<usize>() {
            Ok(n) if (1..=16).contains(&n) => Ok(Some(n)),
            _ => Err(format!(
                "--parallel (the `parallel` input) is `{t}`: give a number from 1 to 16"
            )),
        },
    }
}

#[derive(Debug, Args)]
struct DiffArgs {
    #[command(flatten)]
    render: RenderArgs,
    /// Compare with this file (`aws ecs describe-task-definition --include TAGS`
    /// output) instead of reading the running definition from ECS.
    #[arg(long)]
    against: Option<PathBuf>,
}

#[derive(Debug, Args)]
struct RenderArgs {
    /// The service to render.
    #[arg(long, env = "INPUT_SERVICE")]
    service: Option<String>,
    /// The environment to render for.
    #[arg(long, env = "INPUT_ENVIRONMENT")]
    env: Option<String>,
    /// Every service × environment of the manifest.
    #[arg(long, env = "INPUT_ALL", value_parser = ferry::gha::bool_input)]
    all: bool,
    /// Render and validate every service × environment; write nothing.
    #[arg(long, env = "INPUT_CHECK", value_parser = ferry::gha::bool_input)]
    check: bool,
    /// The image URI (ext-str IMAGE).
    #[arg(long, env = "INPUT_IMAGE")]
    image: Option<String>,
    /// An ext-str NAME=VALUE (repeatable); FERRY_EXT_<NAME> variables work too.
    #[arg(long = "ext-str", value_parser = render::inputs::parse_ext_str)]
    ext_str: Vec<(String, String)>,
    /// Infrastructure values (`terraform output -json`); `{env}` is replaced.
    /// Default: task-definitions/environments/<env>.json when present.
    #[arg(long, env = "INPUT_VALUES")]
    values: Option<PathBuf>,
    /// Output file of a single render (default .ferry/render/<service>.<env>.json).
    #[arg(long)]
    out: Option<PathBuf>,
    /// Output folder of --all.
    #[arg(long)]
    out_dir: Option<PathBuf>,
    /// The repository root (default: $GITHUB_WORKSPACE, else the current folder).
    #[arg(long)]
    repo: Option<PathBuf>,
}

#[derive(Debug, Args)]
struct DetectArgs {
    /// Compare from this commit (default: from the event; locally the merge
    /// base with origin/main, else the parent commit).
    #[arg(long, env = "INPUT_BASE")]
    base: Option<String>,
    /// Compare up to this commit (default: the event's head, else HEAD).
    #[arg(long, env = "INPUT_HEAD")]
    head: Option<String>,
    /// Skip the comparison and select these services (comma-separated, or `all`).
    #[arg(long, env = "INPUT_SERVICES")]
    services: Option<String>,
    /// The repository root (default: $GITHUB_WORKSPACE, else the current folder).
    #[arg(long)]
    repo: Option<PathBuf>,
    /// Use git only, never the GitHub API.
    #[arg(long)]
    no_api: bool,
}

#[derive(Debug, Args)]
struct PlanArgs {
    /// Environment name, e.g. staging or prod.
    #[arg(long, env = "INPUT_ENVIRONMENT")]
    env: String,
    /// `terraform show -json` output, or the binary plan file.
    #[arg(long, env = "INPUT_PLAN")]
    plan: PathBuf,
    /// The mode the plan was made in (the plan JSON does not say).
    #[arg(long, value_enum, env = "INPUT_MODE", default_value_t = PlanMode::Normal)]
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
    #[arg(long, env = "INPUT_DRY-RUN", value_parser = ferry::gha::bool_input)]
    dry_run: bool,
    /// When the plan has no changes, delete the previous comment and post none.
    #[arg(long, env = "INPUT_SKIP-NO-CHANGES", value_parser = ferry::gha::bool_input)]
    skip_no_changes: bool,
    /// Set terraform:<env>:destroy / terraform:<env>:no-changes labels.
    #[arg(long, env = "INPUT_LABELS", value_parser = ferry::gha::bool_input)]
    labels: bool,
    /// Terraform program, for binary plans.
    #[arg(long, default_value = "terraform")]
    terraform: String,
    /// Pull request number (default: from the event).
    #[arg(long, env = "INPUT_PR", value_parser = parse_pr)]
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

/// `--pr` / the `pr` input: a pull request number (`#12` is accepted).
fn parse_pr(text: &str) -> Result<u64, String> {
    let t = text.trim().trim_start_matches('#');
    t.parse::<u64>()
        .ok()
        .filter(|n| *n > 0)
        .ok_or_else(|| format!("`{}` is not a pull request number", text.trim()))
}

/// The runner sets every declared input, empty when not given: empty is absent.
fn present(value: Option<String>) -> Option<String> {
    value.filter(|v| !v.trim().is_empty())
}

/// The library's render options from the command line and `FERRY_EXT_*`.
fn render_options(args: RenderArgs, manifest: PathBuf) -> render::Options {
    render::Options {
        root: args.repo,
        manifest,
        service: present(args.service),
        env: present(args.env),
        all: args.all,
        check: args.check,
        image: present(args.image),
        ext_strs: args.ext_str,
        values: args.values.filter(|p| !p.as_os_str().is_empty()),
        out: args.out,
        out_dir: args.out_dir,
        env_vars: std::env::vars()
            .filter(|(k, _)| k.starts_with("FERRY_EXT_"))
            .collect(),
    }
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

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    let in_actions = std::env::var("GITHUB_ACTIONS").as_deref() == Ok("true");
    // Before anything can log: the log scrubs these and, in Actions, defuses
    // workflow commands (the runner reads stderr too).
    ferry::gha::secrets::remember_env(&|k| std::env::var(k).ok());
    let (spans, mut telemetry) = ferry::telemetry::init(&|k| std::env::var(k).ok());
    ferry::gha::logging::init_with(in_actions, spans);
    ferry::gha::logging::install_panic_hook(in_actions);
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
            let mut reporter = Reporter::new(
                in_actions,
                None,
                None,
                Box::new(std::io::stdout()),
                Box::new(std::io::stderr()),
            );
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
            let mut reporter = Reporter::new(
                in_actions,
                None,
                None,
                Box::new(std::io::stdout()),
                Box::new(std::io::stderr()),
            );
            let _ = reporter.fatal(&e.to_string());
            return ExitCode::FAILURE;
        }
    };
    let mut reporter = Reporter::from_context(&ctx);
    telemetry.start(
        &ferry::telemetry::command_name(&format!("{:?}", cli.command)),
        &|k| std::env::var(k).ok(),
    );
    let result = match cli.command {
        Command::Detect(args) => {
            let opts = detect::Options {
                root: args.repo,
                manifest: cli.manifest,
                base: present(args.base),
                head: present(args.head),
                services: present(args.services),
                no_api: args.no_api,
            };
            detect::run(&ctx, &opts, &mut reporter)
                .await
                .map(|_| ())
                .map_err(|e| {
                    let diagnostics = e.diagnostics();
                    (e.to_string(), diagnostics)
                })
        }
        Command::PlanComment(args) => {
            let opts = Options::from(args);
            plan_comment::run(&ctx, &opts, &mut reporter)
                .await
                .map(|_| ())
                .map_err(|e| (e.to_string(), Vec::new()))
        }
        Command::PlanVerify {
            plan,
            expected_hash,
        } => {
            let opts = Options::from(plan);
            plan_comment::verify::run(&ctx, &opts, expected_hash.as_deref())
                .await
                .map_err(|e| (e.to_string(), Vec::new()))
                .and_then(|hash| {
                    reporter
                        .info(&format!(
                            "plan-verify: the plan matches the reviewed one ({hash})"
                        ))
                        .map_err(|e| (format!("cannot write the log: {e}"), Vec::new()))
                })
        }
        Command::Build(args) => match parse_parallel(args.parallel) {
            Ok(parallel) => {
                let opts = build::Options {
                    root: args.repo,
                    manifest: cli.manifest,
                    services: present(args.services),
                    builder: builder_kind(args.builder),
                    registry: present(args.registry),
                    parallel,
                };
                build::run(&ctx, &opts, &mut reporter)
                    .await
                    .map(|_| ())
                    .map_err(|e| {
                        let diagnostics = e.diagnostics();
                        (e.to_string(), diagnostics)
                    })
            }
            Err(e) => Err((e, Vec::new())),
        },
        Command::Render(args) => {
            let opts = render_options(args, cli.manifest);
            render::run(&ctx, &opts, &mut reporter)
                .map(|_| ())
                .map_err(|e| (e.to_string(), e.diagnostics()))
        }
        Command::Diff(args) => {
            let opts = diff::Options {
                render: render_options(args.render, cli.manifest),
                against: args.against,
            };
            diff::run(&ctx, &opts, &mut reporter)
                .await
                .map(|_| ())
                .map_err(|e| (e.to_string(), e.diagnostics()))
        }
        Command::Deploy(args) => match args
            .images
            .iter()
            .map(|i| deploy::images::parse(i))
            .collect::<Result<Vec<_>, _>>()
        {
            Err(e) => Err((e, Vec::new())),
            Ok(maps) => {
                let opts = deploy::Options {
                    root: args.repo,
                    manifest: cli.manifest,
                    env: args.env,
                    services: present(args.services),
                    images: maps.into_iter().flatten().collect(),
                    rollout: args.rollout.into(),
                    dry_run: args.dry_run,
                    env_vars: std::env::vars()
                        .filter(|(k, _)| k.starts_with("FERRY_EXT_"))
                        .collect(),
                };
                deploy::run(&ctx, &opts, &mut reporter)
                    .await
                    .map(|_| ())
                    .map_err(|e| (e.to_string(), e.diagnostics()))
            }
        },
        Command::Release(args) => {
            let opts = ferry::release::Options {
                root: args.repo.clone(),
                manifest: cli.manifest.clone(),
                env: present(args.env),
                detect: detect::Options {
                    root: args.repo,
                    manifest: cli.manifest,
                    base: present(args.base),
                    head: present(args.head),
                    services: present(args.services),
                    no_api: args.no_api,
                },
                build: build::Options {
                    builder: builder_kind(args.builder),
                    registry: present(args.registry),
                    ..build::Options::default()
                },
                dry_run: args.dry_run,
                rollout: args.rollout.into(),
            };
            ferry::release::run(&ctx, &opts, &mut reporter)
                .await
                .map(|_| ())
                .map_err(|e| (e.to_string(), e.diagnostics()))
        }
        Command::Metrics(args) => {
            let opts = ferry::metrics::Options {
                root: args.repo,
                manifest: cli.manifest,
                days: args.days,
                until: args.until,
                environments: args
                    .env
                    .into_iter()
                    .map(|e| e.trim().to_string())
                    .filter(|e| !e.is_empty())
                    .collect(),
                json: args.json,
                prometheus: args.prometheus,
            };
            ferry::metrics::run(&ctx, &opts, &mut reporter)
                .await
                .map(|_| ())
                .map_err(|e| (e.to_string(), e.diagnostics()))
        }
        Command::Gate(args) => {
            let opts = gate::Options {
                root: args.repo,
                manifest: cli.manifest,
                env: args.env,
                images: args
                    .images
                    .into_iter()
                    .filter(|i| !i.trim().is_empty())
                    .collect(),
                services: present(args.services),
                sha: present(args.sha),
                now: None,
            };
            match gate::run(&ctx, &opts, &mut reporter).await {
                Ok(outcome) if outcome.allowed() => Ok(()),
                Ok(outcome) => Err((
                    format!(
                        "gate: promotion to `{}` refused:\n  {}",
                        outcome.env,
                        outcome.reasons().join("\n  ")
                    ),
                    Vec::new(),
                )),
                Err(e) => {
                    let _ = reporter.output("allowed", "false");
                    let diagnostics = e.diagnostics();
                    Err((e.to_string(), diagnostics))
                }
            }
        }
    };
    if let Some(traceparent) = telemetry.traceparent() {
        let _ = reporter.output("traceparent", &traceparent);
    }
    telemetry.finish(result.is_ok());
    match result {
        Ok(()) => {
            let _ = reporter.flush();
            ExitCode::SUCCESS
        }
        Err((message, diagnostics)) => {
            let _ = reporter.fail(&message, &diagnostics);
            let _ = reporter.flush();
            ExitCode::FAILURE
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn durations_take_the_units_people_write() {
        assert_eq!(parse_duration("90").unwrap(), Duration::from_secs(90));
        assert_eq!(parse_duration("90s").unwrap(), Duration::from_secs(90));
        assert_eq!(parse_duration(" 15m ").unwrap(), Duration::from_secs(900));
        assert_eq!(parse_duration("1h").unwrap(), Duration::from_secs(3600));
        assert_eq!(parse_duration("250ms").unwrap(), Duration::from_millis(250));
        assert!(parse_duration("0s").unwrap_err().contains("more than zero"));
        assert!(
            parse_duration("5d")
                .unwrap_err()
                .contains("unknown unit `d`")
        );
        assert!(
            parse_duration("soon")
                .unwrap_err()
                .contains("not a duration")
        );
        assert!(parse_duration("").unwrap_err().contains("not a duration"));
    }

    #[test]
    fn pull_request_numbers_are_positive_integers() {
        assert_eq!(parse_pr("#12").unwrap(), 12);
        assert_eq!(parse_pr(" 7 ").unwrap(), 7);
        for bad in ["0", "-3", "twelve", "", "#"] {
            assert!(parse_pr(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn builders_and_parallelism_are_checked() {
        let builder = |args: &[&str]| {
            Cli::try_parse_from([&["ferry", "build"], args].concat()).map(|cli| match cli.command {
                Command::Build(b) => builder_kind(b.builder),
                _ => unreachable!(),
            })
        };
        assert_eq!(builder(&[]).unwrap(), None);
        assert_eq!(builder(&["--builder", ""]).unwrap(), None);
        assert_eq!(
            builder(&["--builder", "buildah"]).unwrap(),
            Some(BuilderKind::Buildah)
        );
        assert_eq!(
            builder(&["--builder", "BuildX"]).unwrap(),
            Some(BuilderKind::Docker)
        );
        let refused = builder(&["--builder", "kaniko"]).unwrap_err().to_string();
        assert!(
            refused.contains("[possible values: docker, buildah]"),
            "{refused}"
        );
        assert_eq!(parse_parallel(Some("4".into())).unwrap(), Some(4));
        assert!(parse_parallel(Some("17".into())).is_err());
        assert!(parse_parallel(Some("0".into())).is_err());
    }
}
