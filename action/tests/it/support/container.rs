//! The action image as GitHub's runner runs it: built from action/Dockerfile
//! in the test bed's docker daemon (local base, the ferry binary cargo built
//! for this test run), then started with the mounts, working directory and
//! variables the runner gives a container action.
//!
//! When the test bed's daemon did not start, [`Docker::get`] returns None
//! after saying loudly which test is skipped (stderr and the file named by
//! `FERRY_SKIPPED_LOG`, which `scripts/test` prints in its summary); with
//! `FERRY_REQUIRE_DOCKER=1` it fails instead.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;
use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use super::root;

/// The uid:gid that owns the workspace: the hosted runner's `runner` user,
/// not the container's root.
pub const WORKSPACE_OWNER: (u32, u32) = (1001, 1001);

/// The test bed's docker daemon.
#[derive(Debug, Clone)]
pub struct Docker {
    /// `unix:///...docker.sock`.
    pub host: String,
    /// The socket's path on this machine (mounted into the container).
    pub socket: PathBuf,
}

impl Docker {
    /// The daemon, or None (after reporting the skip) when it is unavailable.
    pub fn get(test: &str) -> Option<Docker> {
        if let Ok(why) = std::env::var("FERRY_DOCKER_UNAVAILABLE") {
            if std::env::var("FERRY_REQUIRE_DOCKER").as_deref() == Ok("1") {
                panic!(
                    "{test} needs the test bed's docker daemon, which is unavailable ({why}); FERRY_REQUIRE_DOCKER=1 makes that a failure"
                );
            }
            let line = format!("SKIPPED {test}: {why}");
            // Straight to stderr: libtest captures `eprintln!` of passing tests.
            let _ = writeln!(std::io::stderr(), "{line}");
            if let Ok(log) = std::env::var("FERRY_SKIPPED_LOG") {
                let mut f = std::fs::OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(log)
                    .unwrap();
                writeln!(f, "{line}").unwrap();
            }
            return None;
        }
        let host = std::env::var("FERRY_TESTBED_DOCKER_HOST").unwrap_or_else(|_| {
            panic!("FERRY_TESTBED_DOCKER_HOST is not set: this test needs the test bed's docker daemon. Run `scripts/test`, or `scripts/testbed install && scripts/testbed start && eval \"$(scripts/testbed env)\"` first")
        });
        let socket = PathBuf::from(host.strip_prefix("unix://").unwrap());
        Some(Docker { host, socket })
    }

    /// A `docker` command talking to the test bed's daemon.
    pub fn cmd(&self) -> Command {
        let mut cmd = Command::new("docker");
        cmd.env("DOCKER_HOST", &self.host)
            .env_remove("DOCKER_CONTEXT")
            .env_remove("DOCKER_CONFIG");
        cmd
    }

    /// Runs `docker args...`, asserting success.
    pub fn ok(&self, args: &[&str]) -> String {
        let out = self.cmd().args(args).output().unwrap();
        assert!(
            out.status.success(),
            "docker {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    }

    /// The action image (built once per test binary): action/Dockerfile with
    /// the test bed's base for every stage and this run's ferry binary.
    pub fn action_image(&self) -> &'static Built {
        static IMAGE: OnceLock<Built> = OnceLock::new();
        IMAGE.get_or_init(|| self.build_action_image())
    }

    fn build_action_image(&self) -> Built {
        let base = base_image();
        let context = tempfile::tempdir().unwrap();
        let binary = context.path().join("ferry");
        std::fs::copy(env!("CARGO_BIN_EXE_ferry"), &binary).unwrap();
        // Debug info is most of a debug build; the image carries code only.
        let _ = Command::new("strip").arg(&binary).status();
        let dockerfile = root().join("action/Dockerfile");
        let tag = "ferry-action:testbed";
        let started = Instant::now();
        let out = self
            .cmd()
            .env("DOCKER_BUILDKIT", "0")
            .args(["build", "--quiet", "--file"])
            .arg(&dockerfile)
            .args(["--tag", tag])
            .args(["--build-arg", &format!("DOCKER_CLI_IMAGE={base}")])
            .args(["--build-arg", &format!("RUST_IMAGE={base}")])
            .args(["--build-arg", &format!("RUNTIME_IMAGE={base}")])
            .args(["--build-arg", "FERRY_BINARY=context"])
            .arg(context.path())
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "building action/Dockerfile: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let seconds = started.elapsed().as_secs_f64();
        let size: u64 = self
            .ok(&["image", "inspect", "--format", "{{.Size}}", tag])
            .trim()
            .parse()
            .unwrap();
        eprintln!(
            "action image {tag}: {:.1} MB, built in {seconds:.1} s",
            size as f64 / 1e6
        );
        Built {
            tag: tag.to_string(),
            size,
        }
    }
}

/// The test bed's local base image, which stands in for every `FROM` of
/// action/Dockerfile.
pub fn base_image() -> String {
    std::env::var("FERRY_TESTBED_BASE_IMAGE")
        .unwrap_or_else(|_| "ferry-testbed-base:bookworm".into())
}

/// The built action image.
#[derive(Debug)]
pub struct Built {
    /// The local tag.
    pub tag: String,
    /// Bytes, as `docker image inspect` reports.
    pub size: u64,
}

/// The inputs action.yml declares, with their defaults (`${{ github.token }}`
/// becomes `token`), as the runner turns them into `INPUT_<NAME>` variables:
/// every declared input, given or not, upper-cased, hyphens kept.
pub fn runner_inputs(given: &[(&str, &str)], token: &str) -> BTreeMap<String, String> {
    let action: serde_yaml_ng::Value =
        serde_yaml_ng::from_str(&std::fs::read_to_string(root().join("action.yml")).unwrap())
            .unwrap();
    let mut out = BTreeMap::new();
    for (name, spec) in action["inputs"].as_mapping().unwrap() {
        let name = name.as_str().unwrap();
        let default = spec["default"]
            .as_str()
            .unwrap_or("")
            .replace("${{ github.token }}", token);
        out.insert(name.to_string(), default);
    }
    for (name, value) in given {
        assert!(
            out.contains_key(*name),
            "`{name}` is not an input of action.yml"
        );
        out.insert(name.to_string(), value.to_string());
    }
    out.into_iter()
        .map(|(k, v)| (format!("INPUT_{}", k.to_uppercase()), v))
        .collect()
}

/// One step of a job: the folders the runner mounts (workspace, file
/// commands, workflow, home) and what a container run left in them.
pub struct Step {
    /// `_temp/_runner_file_commands`, `_temp/_github_workflow`, `_temp/_github_home`.
    pub temp: tempfile::TempDir,
}

/// What a container step printed and wrote.
#[derive(Debug)]
pub struct ContainerRun {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
    /// Parsed from the step's GITHUB_OUTPUT file.
    pub outputs: BTreeMap<String, String>,
    /// The step's GITHUB_STEP_SUMMARY file.
    pub summary: String,
    /// From `docker run` to its exit.
    pub wall: Duration,
}

impl From<ContainerRun> for crate::support::Run {
    fn from(run: ContainerRun) -> Self {
        crate::support::Run {
            code: run.code,
            stdout: run.stdout,
            stderr: run.stderr,
            outputs: run.outputs,
            summary: run.summary,
        }
    }
}

impl ContainerRun {
    pub fn output(&self, key: &str) -> &str {
        self.outputs
            .get(key)
            .map(String::as_str)
            .unwrap_or_else(|| panic!("no output `{key}` in {self:#?}"))
    }
}

/// The container step: `docker run` with what the runner passes to a
/// container action (actions/runner's ContainerActionHandler): the
/// workspace at /github/workspace as the working directory, the file
/// commands, the event at /github/workflow/event.json, HOME=/github/home,
/// the docker socket, GITHUB_*/RUNNER_* variables and every INPUT_*.
pub struct ContainerStep<'a> {
    pub docker: &'a Docker,
    pub image: &'a str,
    pub workspace: &'a Path,
    /// The event payload (written to the workflow folder).
    pub event_name: &'a str,
    pub event: serde_json::Value,
    /// INPUT_* variables (see [`runner_inputs`]).
    pub inputs: BTreeMap<String, String>,
    /// Further variables (GITHUB_SHA, AWS_*, endpoints...).
    pub env: Vec<(String, String)>,
    /// Arguments after the image (an action's `args:`); usually none.
    pub args: Vec<String>,
}

impl ContainerStep<'_> {
    /// The `docker run` argument vector (after `docker`) and the host
    /// folders of the step.
    pub fn argv(&self, temp: &Path) -> Vec<String> {
        let files = temp.join("_runner_file_commands");
        let workflow = temp.join("_github_workflow");
        let home = temp.join("_github_home");
        for d in [&files, &workflow, &home] {
            std::fs::create_dir_all(d).unwrap();
            // The container's root writes here, as on the runner.
            std::fs::set_permissions(d, std::fs::Permissions::from_mode(0o777)).unwrap();
        }
        std::fs::write(workflow.join("event.json"), self.event.to_string()).unwrap();
        std::fs::write(files.join("set_output_1"), "").unwrap();
        std::fs::write(files.join("step_summary_1"), "").unwrap();
        let mount = |host: &Path, inside: &str| format!("{}:{inside}", host.display());
        let mut argv: Vec<String> = vec![
            "run".into(),
            "--rm".into(),
            // The test bed's services listen on 127.0.0.1.
            "--network".into(),
            "host".into(),
            "--workdir".into(),
            "/github/workspace".into(),
            "-v".into(),
            format!("{}:/var/run/docker.sock", self.docker.socket.display()),
            "-v".into(),
            mount(&home, "/github/home"),
            "-v".into(),
            mount(&workflow, "/github/workflow"),
            "-v".into(),
            mount(&files, "/github/file_commands"),
            "-v".into(),
            mount(self.workspace, "/github/workspace"),
        ];
        let mut env: Vec<(String, String)> = vec![
            ("HOME".into(), "/github/home".into()),
            ("CI".into(), "true".into()),
            ("GITHUB_ACTIONS".into(), "true".into()),
            ("GITHUB_WORKSPACE".into(), "/github/workspace".into()),
            ("GITHUB_EVENT_NAME".into(), self.event_name.into()),
            (
                "GITHUB_EVENT_PATH".into(),
                "/github/workflow/event.json".into(),
            ),
            (
                "GITHUB_OUTPUT".into(),
                "/github/file_commands/set_output_1".into(),
            ),
            (
                "GITHUB_STEP_SUMMARY".into(),
                "/github/file_commands/step_summary_1".into(),
            ),
            ("GITHUB_REPOSITORY".into(), "acme/email-platform".into()),
            ("GITHUB_RUN_ID".into(), "4242".into()),
            ("GITHUB_RUN_ATTEMPT".into(), "1".into()),
            ("GITHUB_JOB".into(), "release".into()),
            ("GITHUB_ACTOR".into(), "octocat".into()),
            ("GITHUB_SERVER_URL".into(), "https://github.com".into()),
            ("RUNNER_OS".into(), "Linux".into()),
            ("RUNNER_TEMP".into(), "/home/runner/work/_temp".into()),
        ];
        env.extend(self.inputs.clone());
        env.extend(self.env.iter().cloned());
        for (k, v) in env {
            argv.extend(["-e".into(), format!("{k}={v}")]);
        }
        argv.push(self.image.into());
        argv.extend(self.args.iter().cloned());
        argv
    }

    /// Runs the step; a generous bound catches a hang.
    pub fn run(&self) -> ContainerRun {
        let temp = tempfile::tempdir().unwrap();
        let argv = self.argv(temp.path());
        let started = Instant::now();
        let out: Output = self.docker.cmd().args(&argv).output().unwrap();
        let wall = started.elapsed();
        assert!(wall < Duration::from_secs(300), "the container hung");
        let files = temp.path().join("_runner_file_commands");
        ContainerRun {
            code: out.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
            outputs: crate::support::parse_outputs(
                &std::fs::read_to_string(files.join("set_output_1")).unwrap(),
            ),
            summary: std::fs::read_to_string(files.join("step_summary_1")).unwrap(),
            wall,
        }
    }
}

/// Gives the workspace to the runner's user, as actions/checkout leaves it.
pub fn chown_workspace(dir: &Path) {
    let status = Command::new("chown")
        .arg("-R")
        .arg(format!("{}:{}", WORKSPACE_OWNER.0, WORKSPACE_OWNER.1))
        .arg(dir)
        .status()
        .unwrap();
    assert!(status.success());
}

/// The composite action's `ferry` step: `action/container-run run IMAGE`
/// (of the action at `action_root`) in `workspace`, with the host folders
/// and variables a runner gives a step: the step's file commands and event
/// under a `RUNNER_TEMP` of its own, the test bed's docker socket and host
/// network. `env` comes last (INPUT_*, GITHUB_SHA, HOME...).
pub struct CompositeStep<'a> {
    pub docker: &'a Docker,
    pub action_root: &'a Path,
    pub image: &'a str,
    pub workspace: &'a Path,
    pub event_name: &'a str,
    pub event: serde_json::Value,
    pub env: Vec<(String, String)>,
}

impl CompositeStep<'_> {
    /// Runs the step with `temp` as its RUNNER_TEMP (a job's temp folder:
    /// two steps of one job share it).
    pub fn run_in(&self, temp: &Path) -> ContainerRun {
        let files = temp.join("_runner_file_commands");
        let workflow = temp.join("_github_workflow");
        std::fs::create_dir_all(&files).unwrap();
        std::fs::create_dir_all(&workflow).unwrap();
        let event = workflow.join("event.json");
        std::fs::write(&event, self.event.to_string()).unwrap();
        let output = files.join("set_output_1");
        let summary = files.join("step_summary_1");
        std::fs::write(&output, "").unwrap();
        std::fs::write(&summary, "").unwrap();
        let started = Instant::now();
        let out = Command::new(self.action_root.join("action/container-run"))
            .args(["run", self.image])
            .current_dir(self.workspace)
            .env_remove("GITHUB_TOKEN")
            .env_remove("DOCKER_CONFIG")
            .env("DOCKER_HOST", &self.docker.host)
            .env("FERRY_DOCKER_SOCKET", &self.docker.socket)
            .env("FERRY_CONTAINER_NETWORK", "host")
            .env("GITHUB_ACTIONS", "true")
            .env("CI", "true")
            .env("GITHUB_WORKSPACE", self.workspace)
            .env("GITHUB_OUTPUT", &output)
            .env("GITHUB_STEP_SUMMARY", &summary)
            .env("GITHUB_EVENT_PATH", &event)
            .env("GITHUB_EVENT_NAME", self.event_name)
            .env("RUNNER_TEMP", temp)
            .envs(self.env.iter().map(|(k, v)| (k, v)))
            .output()
            .unwrap();
        ContainerRun {
            code: out.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
            outputs: crate::support::parse_outputs(&std::fs::read_to_string(&output).unwrap()),
            summary: std::fs::read_to_string(&summary).unwrap(),
            wall: started.elapsed(),
        }
    }

    /// Runs the step in a job of its own.
    pub fn run(&self) -> ContainerRun {
        let temp = tempfile::tempdir().unwrap();
        self.run_in(temp.path())
    }
}
