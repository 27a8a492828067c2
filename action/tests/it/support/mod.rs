//! The one support module of the integration tests: the repository root,
//! running the `ferry` binary ([`ferry_command`]), scripted git repositories
//! ([`Repo`]), the test bed's addresses ([`testbed_url`]), and, in
//! submodules, the stand-ins and helpers some test files share.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

pub mod container;
pub mod deploy;
pub mod detect;
pub mod github_state;
pub mod markup;
pub mod plan_comment;
pub mod prometheus;
pub mod recorder;
pub mod scripted;
pub mod terraform;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{SystemTime, UNIX_EPOCH};

/// The repository's root (the workspace, one up from the `ferry` crate).
pub fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

/// A git repository in a temp folder, driven by the test.
pub struct Repo {
    pub dir: tempfile::TempDir,
}

impl Repo {
    pub fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        init_repo(dir.path());
        Self { dir }
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    pub fn git(&self, args: &[&str]) -> String {
        git_in(self.path(), args)
    }

    pub fn write(&self, path: &str, text: &str) -> &Self {
        let full = self.path().join(path);
        std::fs::create_dir_all(full.parent().unwrap()).unwrap();
        std::fs::write(full, text).unwrap();
        self
    }

    pub fn remove(&self, path: &str) -> &Self {
        self.git(&["rm", "-q", path]);
        self
    }

    pub fn rename(&self, from: &str, to: &str) -> &Self {
        let full = self.path().join(to);
        std::fs::create_dir_all(full.parent().unwrap()).unwrap();
        self.git(&["mv", from, to]);
        self
    }

    /// Commits everything; returns the commit id.
    pub fn commit(&self, message: &str) -> String {
        self.git(&["add", "-A"]);
        self.git(&["commit", "-q", "--allow-empty", "-m", message]);
        self.git(&["rev-parse", "HEAD"]).trim().to_string()
    }
}

/// Makes `dir` a git repository on `main` with a committer of its own (and
/// no signing), whatever the developer's git configuration says.
pub fn init_repo(dir: &Path) {
    git_in(dir, &["init", "-q", "-b", "main"]);
    git_in(dir, &["config", "user.email", "dev@example.com"]);
    git_in(dir, &["config", "user.name", "Dev"]);
    git_in(dir, &["config", "commit.gpgsign", "false"]);
}

/// A clone of this repository at its HEAD commit, in `<tempdir>/ferry`:
/// what a committed tree holds, without the work tree's uncommitted files.
pub fn clone_head() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let sha = git_in(&root(), &["rev-parse", "HEAD"]).trim().to_string();
    let source = root().to_string_lossy().into_owned();
    git_in(
        dir.path(),
        &["clone", "-q", "--no-checkout", &source, "ferry"],
    );
    git_in(&dir.path().join("ferry"), &["checkout", "-q", &sha]);
    dir
}

/// Runs `git args...` in `dir`, asserting success; returns its stdout.
pub fn git_in(dir: &Path, args: &[&str]) -> String {
    let out = Command::new("git")
        .arg("-C")
        .arg(dir)
        .args(args)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// What a `ferry` run printed and wrote.
#[derive(Debug)]
pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
    /// Outputs parsed from $GITHUB_OUTPUT (Actions mode) or stdout (local).
    pub outputs: BTreeMap<String, String>,
    /// The job summary ($GITHUB_STEP_SUMMARY), or stderr locally.
    pub summary: String,
}

impl Run {
    pub fn output(&self, key: &str) -> &str {
        self.outputs
            .get(key)
            .map(String::as_str)
            .unwrap_or_else(|| panic!("no output `{key}` in {self:#?}"))
    }

    pub fn services(&self) -> Vec<String> {
        serde_json::from_str(self.output("services")).unwrap()
    }
}

/// Parses `$GITHUB_OUTPUT` content (heredoc entries) or `key=value` lines.
pub fn parse_outputs(text: &str) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    let mut lines = text.lines();
    while let Some(line) = lines.next() {
        if let Some((key, delim)) = line.split_once("<<") {
            let mut value = Vec::new();
            for l in lines.by_ref() {
                if l == delim {
                    break;
                }
                value.push(l);
            }
            out.insert(key.to_string(), value.join("\n"));
        } else if let Some((k, v)) = line.split_once('=')
            && !k.starts_with("::")
        {
            out.insert(k.to_string(), v.to_string());
        }
    }
    out
}

/// Prefixes of the variables through which the developer's or CI's own
/// context would reach a test run: GitHub's (and the runner's, and every
/// action input), the AWS SDK's credentials and endpoints, OpenTelemetry's
/// exporter settings. [`ferry_command`] removes every inherited variable so
/// named.
const SCRUB_PREFIXES: &[&str] = &["GITHUB_", "INPUT_", "RUNNER_", "ACTIONS_", "AWS_", "OTEL_"];

/// Every variable through which the AWS SDK could find credentials or an
/// endpoint in the developer's or CI's environment (for tests that check
/// the binary without them).
pub const AWS_VARS: &[&str] = &[
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "AWS_PROFILE",
    "AWS_DEFAULT_PROFILE",
    "AWS_ROLE_ARN",
    "AWS_WEB_IDENTITY_TOKEN_FILE",
    "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
    "AWS_CONTAINER_CREDENTIALS_FULL_URI",
    "AWS_CONTAINER_AUTHORIZATION_TOKEN",
    "AWS_ENDPOINT_URL",
    "AWS_ENDPOINT_URL_ECS",
    "AWS_ENDPOINT_URL_CLOUDWATCH_LOGS",
    "AWS_ENDPOINT_URL_ECR",
    "AWS_REGION",
    "AWS_DEFAULT_REGION",
    "AWS_CONFIG_FILE",
    "AWS_SHARED_CREDENTIALS_FILE",
];

/// The one way the tests start the `ferry` binary cargo built for them: a
/// [`Command`] whose environment holds nothing of the developer's or CI's
/// GitHub, runner, AWS or OpenTelemetry context (see [`SCRUB_PREFIXES`]),
/// so a run sees only what its test gives it. The tests share one process:
/// they give environment to the command, never to themselves
/// (`std::env::set_var`), and a working directory with `current_dir`.
pub fn ferry_command() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_ferry"));
    for (key, _) in std::env::vars_os() {
        let name = key.to_string_lossy();
        if SCRUB_PREFIXES.iter().any(|p| name.starts_with(p)) {
            cmd.env_remove(&key);
        }
    }
    cmd
}

/// The commands a `ferry --help` text lists (less `help`), in its order.
pub fn help_commands(help: &str) -> Vec<String> {
    let section = help.split("Commands:").nth(1).unwrap();
    section
        .lines()
        .skip(1)
        .take_while(|l| l.starts_with("  "))
        // A command's name is indented by two; its wrapped description by more.
        .filter(|l| !l.starts_with("   "))
        .filter_map(|l| l.split_whitespace().next())
        .filter(|c| *c != "help")
        .map(str::to_string)
        .collect()
}

/// Runs `ferry` in `dir` locally (no Actions environment).
pub fn ferry(dir: &Path, args: &[&str]) -> Run {
    ferry_with(dir, args, &[])
}

/// Runs `ferry` in `dir` with extra environment. When `GITHUB_ACTIONS=true`
/// is given, $GITHUB_OUTPUT and $GITHUB_STEP_SUMMARY are set to temp files.
pub fn ferry_with(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Run {
    ferry_without(dir, args, env, &[])
}

/// [`ferry_with`], with the variables in `remove` removed from the
/// inherited environment first.
pub fn ferry_without(dir: &Path, args: &[&str], env: &[(&str, &str)], remove: &[&str]) -> Run {
    let files = tempfile::tempdir().unwrap();
    let output_file: PathBuf = files.path().join("output");
    let summary_file: PathBuf = files.path().join("summary");
    let in_actions = env
        .iter()
        .any(|(k, v)| *k == "GITHUB_ACTIONS" && *v == "true");
    let mut cmd = ferry_command();
    cmd.current_dir(dir).args(args);
    for k in remove {
        cmd.env_remove(k);
    }
    if in_actions {
        cmd.env("GITHUB_OUTPUT", &output_file)
            .env("GITHUB_STEP_SUMMARY", &summary_file);
    }
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = cmd.output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    let (outputs, summary) = if in_actions {
        (
            parse_outputs(&std::fs::read_to_string(&output_file).unwrap_or_default()),
            std::fs::read_to_string(&summary_file).unwrap_or_default(),
        )
    } else {
        (parse_outputs(&stdout), stderr.clone())
    };
    Run {
        code: out.status.code().unwrap_or(-1),
        stdout,
        stderr,
        outputs,
        summary,
    }
}

/// A name no other test (of this run or an earlier one against the same
/// test bed) uses: `prefix`, the process and the time in nanoseconds.
pub fn unique(prefix: &str) -> String {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    format!("{prefix}-{}-{nanos}", std::process::id())
}

/// The test bed's URL for a stand-in, or a panic that says how to start it.
pub fn testbed_url(var: &str) -> String {
    std::env::var(var).unwrap_or_else(|_| {
        panic!("{var} is not set: this test needs the test bed. Run `scripts/test`, or `scripts/testbed install && scripts/testbed start && eval \"$(scripts/testbed env)\"` first")
    })
}

/// Everything a run printed or wrote, less the `::add-mask::` lines (the
/// one place the runner must see a secret, to hide it from the log).
pub fn everything(run: &Run) -> String {
    let stdout: Vec<&str> = run
        .stdout
        .lines()
        .filter(|l| !l.starts_with("::add-mask::"))
        .collect();
    format!(
        "{}\n{}\n{}\n{:?}",
        stdout.join("\n"),
        run.stderr,
        run.summary,
        run.outputs
    )
}

/// Two services (`api`, `worker`) and two environments, the smallest
/// manifest the detect tests release from.
pub const TWO_SERVICES: &str = "\
project: shop
region: us-east-1
environments:
  staging: { cluster: shop-staging }
  prod: { cluster: shop-prod, promote-from: staging }
services:
  api: {}
  worker: {}
";
