//! The cache a build writes is the cache the next build reads, on the
//! builder users have: `ferry build --builder docker` with no buildx,
//! against a fresh docker daemon with an empty `--data-root` each time
//! (scripts/throwaway-dockerd; the second build has no local layer at all),
//! pushing to the test bed's registry. The first build writes its cache
//! into the pushed image; after a one-line source change, the second build
//! reads it back through `--cache-from` of the service's last image (the
//! content tag at the parent commit), so the slow dependency step is not
//! run again.
//!
//! Two CLIs, two recipes: a docker CLI with BuildKit built in (before 23.0;
//! `DOCKER_BUILDKIT=1 docker build`, the daemon's BuildKit, the engine of
//! buildx's `docker` driver, with an inline cache), and a later CLI without
//! buildx (the classic builder, the last image pulled first).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::support;
use crate::support::container::Docker;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use support::{Repo, Run, ferry_with, root, testbed_url, unique};

/// A docker daemon of its own with an empty data root (and the test bed's
/// base image), stopped and removed when dropped.
struct Throwaway {
    dir: tempfile::TempDir,
    host: String,
}

impl Throwaway {
    fn start() -> Throwaway {
        let dir = tempfile::tempdir().unwrap();
        let out = Command::new(root().join("scripts/throwaway-dockerd"))
            .arg("start")
            .arg(dir.path())
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "scripts/throwaway-dockerd start: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let host = String::from_utf8(out.stdout).unwrap().trim().to_string();
        Throwaway { dir, host }
    }
}

impl Drop for Throwaway {
    fn drop(&mut self) {
        let _ = Command::new(root().join("scripts/throwaway-dockerd"))
            .arg("stop")
            .arg(self.dir.path())
            .status();
    }
}

/// The slow step stands for a dependency install (`npm ci`, `pip install`,
/// `cargo build` of the dependencies): it reads only the dependency list.
const DOCKERFILE: &str = "FROM ferry-testbed-base:bookworm\nCOPY deps.txt /app/deps.txt\nRUN sleep 6 && cp /app/deps.txt /app/installed.txt\nCOPY src/ /app/src/\n";

fn repository(registry: &str, name: &str) -> Repo {
    let r = Repo::new();
    r.write(
        ".github/ferry.yml",
        &format!(
            "project: ferrytest\nregion: us-east-1\nenvironments:\n  staging: {{ cluster: c }}\nbuild:\n  registry: http://{registry}\n  builder: docker\nservices:\n  hello:\n    paths: [hello/**]\n    dockerfile: hello/Dockerfile\n    context: hello\n    image-repository: {name}\n"
        ),
    )
    .write("hello/Dockerfile", DOCKERFILE)
    .write("hello/deps.txt", "left-pad==1.3.0\n")
    .write("hello/src/main.txt", "print('hello')\n");
    r.commit("hello");
    r
}

/// `ferry build` on `daemon` with the docker CLI found first in `cli_dir`.
fn build(repo: &Repo, daemon: &Throwaway, cli_dir: &Path) -> (Run, f64) {
    let path = format!(
        "{}:{}",
        cli_dir.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let started = Instant::now();
    let run = ferry_with(
        repo.path(),
        &["build"],
        &[
            ("GITHUB_ACTIONS", "true"),
            ("GITHUB_REPOSITORY", "acme/platform"),
            ("DOCKER_HOST", &daemon.host),
            ("PATH", &path),
            ("AWS_EC2_METADATA_DISABLED", "true"),
        ],
    );
    (run, started.elapsed().as_secs_f64())
}

/// A folder whose `docker` is `cli`.
fn cli_dir(cli: &Path) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::os::unix::fs::symlink(cli, dir.path().join("docker")).unwrap();
    dir
}

/// The docker CLIs on this machine, by version.
fn clis() -> Vec<(PathBuf, String)> {
    let mut out: Vec<(PathBuf, String)> = Vec::new();
    for dir in std::env::var("PATH").unwrap_or_default().split(':') {
        let cli = Path::new(dir).join("docker");
        let Ok(real) = std::fs::canonicalize(&cli) else {
            continue;
        };
        if out.iter().any(|(c, _)| *c == real) {
            continue;
        }
        let Ok(version) = Command::new(&real)
            .args(["version", "--format", "{{.Client.Version}}"])
            .env("DOCKER_HOST", "unix:///nonexistent")
            .output()
        else {
            continue;
        };
        out.push((
            real,
            String::from_utf8_lossy(&version.stdout).trim().to_string(),
        ));
    }
    out
}

/// Whether the slow step's outcome in `log` is a cache hit: BuildKit's
/// `#N CACHED` under the step, the classic builder's `Using cache`.
fn slow_step_cached(log: &str) -> bool {
    let lines: Vec<&str> = log.lines().collect();
    let Some(at) = lines.iter().position(|l| l.contains("RUN sleep 6")) else {
        panic!("the slow step is not in the log:\n{log}");
    };
    if let Some(id) = lines[at]
        .split_whitespace()
        .next()
        .filter(|w| w.starts_with('#'))
    {
        lines[at..].contains(&format!("{id} CACHED").as_str())
    } else {
        lines[at..]
            .iter()
            .take_while(|l| !l.starts_with("Step 4/"))
            .any(|l| l.contains("Using cache"))
    }
}

fn cache_round(cli: &Path, version: &str, mode_line: &str) {
    let registry = testbed_url("REGISTRY");
    let name = unique("ferry-cache/hello");
    let repo = repository(&registry, &name);
    let cli_dir = cli_dir(cli);

    let first_daemon = Throwaway::start();
    let (first, first_s) = build(&repo, &first_daemon, cli_dir.path());
    assert_eq!(first.code, 0, "{first:#?}");
    assert!(first.stdout.contains(mode_line), "{}", first.stdout);
    assert!(
        !slow_step_cached(&first.stdout),
        "nothing to read on a first build: {}",
        first.stdout
    );
    drop(first_daemon);

    // A one-line source change, built by a daemon that has never seen
    // this image (as a fresh hosted runner).
    repo.write("hello/src/main.txt", "print('hello, again')\n");
    repo.commit("one line");
    let second_daemon = Throwaway::start();
    let (second, second_s) = build(&repo, &second_daemon, cli_dir.path());
    assert_eq!(second.code, 0, "{second:#?}");
    assert_eq!(second.output("reused"), "false", "a new image is built");
    assert!(
        second.stdout.contains("--cache-from"),
        "the last image is read: {}",
        second.stdout
    );
    assert!(
        slow_step_cached(&second.stdout),
        "the slow dependency step must be CACHED on the fresh daemon (docker {version}):\n{}",
        second.stdout
    );
    eprintln!(
        "docker {version}: first build {first_s:.1} s, the one-line change on an empty daemon {second_s:.1} s"
    );
}

#[test]
fn a_one_line_change_on_an_empty_daemon_reads_the_last_image_s_cache() {
    if Docker::get("a_one_line_change_on_an_empty_daemon_reads_the_last_image_s_cache").is_none() {
        return;
    }
    let clis = clis();
    let builtin = clis
        .iter()
        .find(|(_, v)| ferry::build::builder::builtin_buildkit(v));
    let modern = clis
        .iter()
        .find(|(_, v)| !ferry::build::builder::builtin_buildkit(v));
    assert!(
        builtin.is_some() || modern.is_some(),
        "no docker CLI on PATH: {clis:?}"
    );
    if let Some((cli, version)) = builtin {
        cache_round(cli, version, "`DOCKER_BUILDKIT=1 docker build`");
    } else {
        eprintln!("no docker CLI before 23.0 here: the BuildKit round is not run ({clis:?})");
    }
    if let Some((cli, version)) = modern {
        cache_round(cli, version, "the classic builder");
    }
}
