//! `ferry detect` at monorepo scale: the git processes one run starts do not
//! grow with the number of services.
//!
//! A logging `git` placed first on PATH counts every git process the real
//! binary starts, on generated repositories of 10 and 1,000 services (each a
//! Cargo crate on a shared library, with a Dockerfile and a Jsonnet task
//! definition importing a shared library), where the change touches every
//! service, the lockfile and the Jsonnet library, so every read detect makes
//! (crate manifests, task definitions and their imports, both lockfiles, the
//! manifest at both commits) happens.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::fmt::Write as _;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use support::{Repo, Run, ferry_with};

/// The files of a generated monorepo of `n` services at `version`.
fn files(n: usize, version: u32) -> Vec<(String, String)> {
    let names: Vec<String> = (0..n).map(|i| format!("svc{i:04}")).collect();
    let mut manifest = String::from(
        "project: bench\nregion: us-east-1\nglobal-paths: [rust-toolchain.toml]\n\
         environments:\n  staging: { cluster: bench-staging }\nservices:\n",
    );
    for name in &names {
        writeln!(manifest, "  {name}: {{}}").unwrap();
    }
    let reg = "registry+https://github.com/rust-lang/crates.io-index";
    let mut lock = format!(
        "version = 4\n\n[[package]]\nname = \"itoa\"\nversion = \"1.0.{}\"\nsource = \"{reg}\"\n\n\
         [[package]]\nname = \"shared\"\nversion = \"0.1.0\"\ndependencies = [\"itoa\"]\n",
        10 + version
    );
    let mut out = vec![
        (".github/ferry.yml".to_string(), manifest),
        (
            "Cargo.toml".into(),
            "[workspace]\nresolver = \"3\"\nmembers = [\"services/*\", \"libs/*\"]\n".into(),
        ),
        (
            "libs/shared/Cargo.toml".into(),
            "[package]\nname = \"shared\"\nversion = \"0.1.0\"\n[dependencies]\nitoa = \"1\"\n"
                .into(),
        ),
        ("libs/shared/src/lib.rs".into(), "pub fn f() {}\n".into()),
        (
            "task-definitions/lib/base.libsonnet".into(),
            format!("{{ service(n):: {{ family: n, v: {version} }} }}\n"),
        ),
        ("docs/guide.md".into(), "# Guide\n".into()),
    ];
    for name in &names {
        write!(
            lock,
            "\n[[package]]\nname = \"{name}\"\nversion = \"0.1.0\"\ndependencies = [\"shared\"]\n"
        )
        .unwrap();
        out.push((
            format!("services/{name}/Cargo.toml"),
            format!(
                "[package]\nname = \"{name}\"\nversion = \"0.1.0\"\n[dependencies]\nshared = {{ path = \"../../libs/shared\" }}\n"
            ),
        ));
        out.push((
            format!("services/{name}/src/main.rs"),
            format!("fn main() {{}} // {name} v{version}\n"),
        ));
        out.push((
            format!("services/{name}/Dockerfile"),
            "FROM scratch\n".into(),
        ));
        out.push((
            format!("task-definitions/{name}.jsonnet"),
            format!("local base = import 'lib/base.libsonnet';\nbase.service('{name}')\n"),
        ));
    }
    out.push(("Cargo.lock".into(), lock));
    out
}

/// A repository of `n` services with two commits; the second changes every
/// service's code, the lockfile and the Jsonnet library.
fn monorepo(n: usize) -> Repo {
    let repo = Repo::new();
    let mut stream = Vec::new();
    for version in [1u32, 2] {
        write!(
            stream,
            "commit refs/heads/main\nmark :{version}\ncommitter Dev <dev@example.com> {} +0000\ndata 2\nv{version}\n",
            1_700_000_000 + version
        )
        .unwrap();
        if version > 1 {
            writeln!(stream, "from :{}", version - 1).unwrap();
        }
        for (path, text) in files(n, version) {
            write!(stream, "M 100644 inline {path}\ndata {}\n{text}\n", text.len()).unwrap();
        }
    }
    let mut child = Command::new("git")
        .args(["fast-import", "--quiet"])
        .current_dir(repo.path())
        .stdin(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(&stream).unwrap();
    assert!(child.wait().unwrap().success());
    repo.git(&["checkout", "-q", "-f", "main"]);
    repo
}

/// A `git` that logs each call (its arguments on one line) and runs the real one.
struct GitLog {
    dir: tempfile::TempDir,
}

impl GitLog {
    fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let path = std::env::var_os("PATH").unwrap();
        let real: PathBuf = std::env::split_paths(&path)
            .map(|d| d.join("git"))
            .find(|p| p.is_file())
            .expect("git on PATH");
        let wrapper = dir.path().join("git");
        std::fs::write(
            &wrapper,
            format!(
                "#!/bin/sh\necho \"$*\" >>'{}'\nexec '{}' \"$@\"\n",
                dir.path().join("calls").display(),
                real.display()
            ),
        )
        .unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&wrapper, std::fs::Permissions::from_mode(0o755)).unwrap();
        }
        Self { dir }
    }

    /// Runs `ferry detect <args>` in `repo` with this `git` first on PATH;
    /// the run and the git calls it made.
    fn detect(&self, repo: &Path, args: &[&str]) -> (Run, Vec<String>) {
        let log = self.dir.path().join("calls");
        std::fs::remove_file(&log).ok();
        let path = format!(
            "{}:{}",
            self.dir.path().display(),
            std::env::var("PATH").unwrap()
        );
        let mut argv = vec!["detect"];
        argv.extend_from_slice(args);
        let run = ferry_with(repo, &argv, &[("PATH", path.as_str())]);
        let calls = std::fs::read_to_string(&log)
            .unwrap_or_default()
            .lines()
            .map(str::to_string)
            .collect();
        (run, calls)
    }
}

/// What a user sees of a run at each scale: the services found, the git
/// calls, the time.
fn measure(n: usize) -> (Vec<String>, Vec<String>, Duration) {
    let repo = monorepo(n);
    let git = GitLog::new();
    let started = Instant::now();
    let (run, calls) = git.detect(repo.path(), &["--base", "HEAD~1", "--head", "HEAD"]);
    let took = started.elapsed();
    assert_eq!(run.code, 0, "{run:#?}");
    assert!(
        run.summary.contains("depends on crate `shared`, which changed")
            || run.summary.contains("matches"),
        "{}",
        run.summary
    );
    (run.services(), calls, took)
}

/// Every git call is one Ferry makes through its one adapter: no call
/// without `-c safe.directory=…` (that is, from elsewhere), and the blob
/// reads through one `cat-file --batch`.
fn assert_through_the_adapter(calls: &[String]) {
    for call in calls {
        assert!(call.starts_with("-c safe.directory="), "{call}");
    }
    let batches = calls.iter().filter(|c| c.contains("cat-file --batch")).count();
    assert!(batches <= 1, "one batch reader at most: {calls:#?}");
    assert!(
        !calls.iter().any(|c| c.contains(" show ")),
        "no `git show` per file: {calls:#?}"
    );
}

#[test]
fn git_processes_do_not_grow_with_the_number_of_services() {
    let (small, small_calls, _) = measure(10);
    assert_eq!(small.len(), 10, "every service changed");
    let (large, large_calls, took) = measure(1_000);
    assert_eq!(large.len(), 1_000, "every service changed");
    assert_through_the_adapter(&small_calls);
    assert_through_the_adapter(&large_calls);
    // Open, resolve both ends, diff, one batch reader: a handful, whatever the size.
    assert!(
        large_calls.len() <= 8,
        "{} git processes for 1,000 services: {large_calls:#?}",
        large_calls.len()
    );
    assert_eq!(
        large_calls.len(),
        small_calls.len(),
        "1,000 services start as many git processes as 10:\n{small_calls:#?}\n{large_calls:#?}"
    );
    // Not a timing test (see scripts/bench-detect): a bound that only a hang breaks.
    assert!(took < Duration::from_secs(120), "{took:?}");
}

#[test]
fn a_change_of_a_few_services_reads_as_few_git_processes_as_a_change_of_all() {
    let repo = monorepo(300);
    // A third commit touching two services only.
    repo.write("services/svc0007/src/main.rs", "fn main() { /* 7 */ }\n")
        .write("services/svc0123/Dockerfile", "FROM scratch\nUSER 1000\n");
    repo.git(&["config", "user.email", "dev@example.com"]);
    repo.commit("two services");
    let git = GitLog::new();
    let (few, few_calls) = git.detect(repo.path(), &["--base", "HEAD~1"]);
    assert_eq!(few.code, 0, "{few:#?}");
    assert_eq!(few.services(), ["svc0007", "svc0123"]);
    let (all, all_calls) = git.detect(repo.path(), &["--base", "HEAD~2", "--head", "HEAD~1"]);
    assert_eq!(all.code, 0, "{all:#?}");
    assert_eq!(all.services().len(), 300);
    assert_through_the_adapter(&few_calls);
    assert_eq!(few_calls.len(), all_calls.len(), "{few_calls:#?}\n{all_calls:#?}");
}
