//! Git argument injection: no revision from a flag, an input or the event
//! payload reaches git as an option or as git's richer revision syntax.
//!
//! Every test runs the real binary in a clone whose `origin` is a local
//! path, the set-up in which `git fetch origin --upload-pack=CMD` runs CMD.
//! A logging `git` first on PATH records every git call. Each hostile shape
//! must end in exit status 1 with a message naming the input, with the
//! marker file the payload would create absent and the hostile text in no
//! git call at all.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::support;
use crate::support::detect as detect_support;

use std::path::{Path, PathBuf};

use detect_support::GitLog;
use support::{Repo, Run, ferry_with, git_in};

const MANIFEST: &str = "\
project: shop
region: us-east-1
environments:
  staging: { cluster: shop-staging }
services:
  api: {}
  worker: {}
";

/// A clone of a small repository, its origin a local path, and a logging
/// `git` wrapper.
struct Bed {
    _origin: Repo,
    clone: tempfile::TempDir,
    log: GitLog,
    marker: PathBuf,
    head: String,
}

impl Bed {
    fn new() -> Self {
        let origin = Repo::new();
        origin
            .write(".github/ferry.yml", MANIFEST)
            .write("services/api/main.rs", "1")
            .write("services/worker/main.rs", "1");
        origin.commit("one");
        origin.write("services/api/main.rs", "2");
        let head = origin.commit("two");
        let clone = tempfile::tempdir().unwrap();
        let url = origin.path().display().to_string();
        git_in(clone.path(), &["clone", "-q", &url, "."]);
        let log = GitLog::new();
        let marker = log.dir().join("pwned");
        Self {
            _origin: origin,
            clone,
            log,
            marker,
            head,
        }
    }

    fn calls(&self) -> Vec<Vec<String>> {
        self.log.calls()
    }

    fn run(&self, args: &[&str], env: &[(&str, &str)]) -> Run {
        self.log.clear();
        let path = self.log.path_var();
        let mut all = vec![("PATH", path.as_str())];
        all.extend_from_slice(env);
        ferry_with(self.clone.path(), args, &all)
    }

    /// The run was refused as it should be: exit 1, a message naming
    /// `what`, no marker, and `hostile` in no git call.
    fn assert_refused(&self, run: &Run, hostile: &str, what: &str) {
        let shown = format!("{hostile:?}");
        assert_eq!(run.code, 1, "{shown}: {run:#?}");
        let said = format!("{}{}", run.stdout, run.stderr);
        // Refused where it enters: the event parser (a payload commit id
        // must be hex) or git's revision check (flags, inputs).
        assert!(
            said.contains("is not a revision Ferry accepts")
                || said.contains("expected a commit id (40 or 64 hex digits)")
                || said.contains("expected a git ref name"),
            "{shown}: {said}"
        );
        assert!(said.contains(what), "{shown} names {what}: {said}");
        assert!(!self.marker.exists(), "{shown} ran a command");
        // What reached git: never the hostile text, in whole or as an option.
        for call in self.calls() {
            for arg in &call {
                let distinctive = hostile.trim().len() >= 8;
                assert!(
                    arg != hostile && !(distinctive && arg.contains(hostile.trim())),
                    "{shown} reached git: {call:?}"
                );
            }
        }
        // The message is one escaped line: no forged workflow command.
        for line in run.stdout.lines() {
            assert!(
                !line.starts_with("::warning::forged") && !line.starts_with("::set-output"),
                "{shown}: a forged workflow command: {line}"
            );
        }
    }
}

/// Shapes a person (or a workflow input) could pass as a revision.
fn hostile_revisions(marker: &Path) -> Vec<String> {
    let m = marker.display();
    vec![
        format!("--upload-pack=touch {m};"),
        format!("--upload-pack=touch {m}"),
        format!("-utouch {m};"),
        format!("--receive-pack=touch {m}"),
        format!("--output={m}"),
        format!("-c core.sshCommand=touch {m}"),
        format!("-ccore.fsmonitor=touch {m}"),
        format!("--config=core.fsmonitor=touch {m}"),
        format!("--exec=touch {m}"),
        "-".into(),
        "--".into(),
        "--all".into(),
        "--end-of-options".into(),
        "-q".into(),
        "HEAD@{1}".into(),
        "@{-1}".into(),
        "main@{upstream}".into(),
        ":/two".into(),
        "HEAD:services/api/main.rs".into(),
        "HEAD~1..HEAD".into(),
        "main...HEAD".into(),
        "^HEAD".into(),
        "HEAD^{tree}".into(),
        "HEAD^!".into(),
        "main\n::warning::forged".into(),
        "main\r\n::set-output name=any::true".into(),
        "main\ttab".into(),
        format!("$(touch {m})"),
        format!("`touch {m}`"),
        format!("main; touch {m}"),
        "origin/--upload-pack=x".into(),
        "origin/../../etc".into(),
        "refs/heads/*".into(),
        "a".repeat(300),
        "x".repeat(100_000),
    ]
}

#[test]
fn hostile_base_and_head_flags_never_reach_git() {
    let bed = Bed::new();
    for hostile in hostile_revisions(&bed.marker) {
        // `--base=…`: a value glued to its flag, as an attacker would write it.
        let base = format!("--base={hostile}");
        let head = format!("--head={hostile}");
        let run = bed.run(&["detect", &base], &[]);
        bed.assert_refused(&run, &hostile, "--base");
        let run = bed.run(&["detect", "--base", "HEAD~1", &head], &[]);
        bed.assert_refused(&run, &hostile, "--head");
        // `release` shares detect's revisions.
        let run = bed.run(&["release", "--dry-run", &base], &[]);
        bed.assert_refused(&run, &hostile, "--base");
    }
}

#[test]
fn hostile_base_and_head_inputs_never_reach_git() {
    let bed = Bed::new();
    for hostile in hostile_revisions(&bed.marker) {
        let run = bed.run(
            &["detect"],
            &[("GITHUB_ACTIONS", "true"), ("INPUT_BASE", &hostile)],
        );
        bed.assert_refused(&run, &hostile, "the `base` input");
        let run = bed.run(
            &["detect"],
            &[
                ("GITHUB_ACTIONS", "true"),
                ("INPUT_BASE", "HEAD~1"),
                ("INPUT_HEAD", &hostile),
            ],
        );
        bed.assert_refused(&run, &hostile, "the `head` input");
    }
}

/// Commit-id fields of a payload: anything but full hex is refused.
fn hostile_commit_ids(marker: &Path) -> Vec<String> {
    let mut shapes = hostile_revisions(marker);
    shapes.extend([
        "HEAD".to_string(),
        "main".into(),
        "abc1234".into(),
        "a".repeat(39),
        "a".repeat(41),
        "g".repeat(40),
        format!("{}\n", "a".repeat(40)),
        format!(" {}", "a".repeat(39)),
        format!("-{}", "a".repeat(39)),
        "a\u{0}".repeat(20),
        "".into(),
    ]);
    shapes
}

fn event_run(bed: &Bed, name: &str, payload: &serde_json::Value) -> Run {
    let file = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(file.path(), payload.to_string()).unwrap();
    bed.run(
        &["detect"],
        &[
            ("GITHUB_ACTIONS", "true"),
            ("GITHUB_EVENT_NAME", name),
            ("GITHUB_EVENT_PATH", file.path().to_str().unwrap()),
        ],
    )
}

#[test]
fn hostile_pull_request_payloads_never_reach_git() {
    let bed = Bed::new();
    let good = bed.head.clone();
    for hostile in hostile_commit_ids(&bed.marker) {
        for (head, base, field) in [
            (hostile.as_str(), good.as_str(), "pull_request.head.sha"),
            (good.as_str(), hostile.as_str(), "pull_request.base.sha"),
        ] {
            let payload = serde_json::json!({
                "number": 7,
                "pull_request": {
                    "number": 7,
                    "base": { "sha": base, "ref": "main" },
                    "head": { "sha": head, "ref": "feature" },
                    "changed_files": 1
                },
                "repository": { "default_branch": "main" }
            });
            let run = event_run(&bed, "pull_request", &payload);
            bed.assert_refused(&run, &hostile, field);
        }
    }
}

#[test]
fn hostile_push_payloads_never_reach_git() {
    let bed = Bed::new();
    let good = bed.head.clone();
    let zeros = "0".repeat(40);
    for hostile in hostile_commit_ids(&bed.marker) {
        for (before, after, forced, field) in [
            (good.as_str(), hostile.as_str(), false, "`after`"),
            (hostile.as_str(), good.as_str(), false, "`before`"),
            (hostile.as_str(), good.as_str(), true, "`before`"),
        ] {
            // An empty `before` is GitHub's "no previous commit" (a new
            // branch), like all zeros: not a revision, nothing to refuse.
            if before.is_empty() {
                continue;
            }
            let payload = serde_json::json!({
                "ref": "refs/heads/main", "before": before, "after": after,
                "forced": forced, "created": false, "deleted": false,
                "repository": { "default_branch": "main" }
            });
            let run = event_run(&bed, "push", &payload);
            bed.assert_refused(&run, &hostile, field);
        }
    }
    // The default branch names a ref: a branch name, never an option.
    for hostile in hostile_revisions(&bed.marker) {
        let payload = serde_json::json!({
            "ref": "refs/heads/feature", "before": zeros, "after": good,
            "forced": false, "created": true, "deleted": false,
            "repository": { "default_branch": hostile }
        });
        let run = event_run(&bed, "push", &payload);
        bed.assert_refused(&run, &hostile, "repository.default_branch");
    }
}

#[test]
fn ordinary_revisions_still_work_and_git_sees_operands_after_end_of_options() {
    let bed = Bed::new();
    for base in ["HEAD~1", "HEAD^", "origin/main~1", "main~1"] {
        let run = bed.run(&["detect", "--base", base], &[]);
        assert_eq!(run.code, 0, "{base}: {run:#?}");
        assert_eq!(run.services(), ["api"], "{base}");
        for call in bed.calls() {
            // Every operand Ferry passes follows --end-of-options.
            if let Some(at) = call.iter().position(|a| a == base || a.starts_with(base)) {
                assert!(
                    call[..at].iter().any(|a| a == "--end-of-options"),
                    "{call:?}"
                );
            }
        }
    }
}

/// File and folder names in the repository are outside input too: names
/// that look like options, revision syntax or a second batch request are
/// read as names, and nothing else.
#[test]
fn hostile_file_names_in_the_repository_are_only_names() {
    let r = Repo::new();
    let weird = [
        "-rf",
        "--output=x",
        ":!x",
        "HEAD@{1}",
        "a b",
        "nl\nHEAD:Cargo.toml",
    ];
    r.write(".github/ferry.yml", MANIFEST).write(
        "Cargo.toml",
        "[workspace]\nresolver = \"3\"\nmembers = [\"services/*\", \"libs/*\"]\n",
    );
    let mut deps = String::new();
    for (i, name) in weird.iter().enumerate() {
        let krate = format!("weird{i}");
        r.write(
            &format!("libs/{name}/Cargo.toml"),
            &format!("[package]\nname = \"{krate}\"\nversion = \"0.1.0\"\n"),
        )
        .write(&format!("libs/{name}/src/lib.rs"), "pub fn f() {}\n");
        deps.push_str(&format!(
            "{krate} = {{ path = {:?} }}\n",
            format!("../../libs/{name}")
        ));
    }
    r.write(
        "services/api/Cargo.toml",
        &format!("[package]\nname = \"api\"\nversion = \"0.1.0\"\n[dependencies]\n{deps}"),
    )
    .write("services/api/src/main.rs", "fn main() {}\n")
    .write(
        "services/worker/Cargo.toml",
        "[package]\nname = \"worker\"\nversion = \"0.1.0\"\n",
    )
    .write("services/worker/src/main.rs", "fn main() {}\n")
    .write(
        "task-definitions/worker.jsonnet",
        "local a = import 'nl\\nHEAD:Cargo.toml';\nlocal b = import '--output=x/lib.libsonnet';\n{}\n",
    )
    .write("task-definitions/--output=x/lib.libsonnet", "{}\n");
    let base = r.commit("weird names");
    for name in weird {
        r.write(&format!("libs/{name}/src/lib.rs"), "pub fn f() { }\n");
    }
    r.write("task-definitions/--output=x/lib.libsonnet", "{ x: 1 }\n");
    r.commit("change them");
    let log = GitLog::new();
    let started = std::time::Instant::now();
    let run = ferry_with(
        r.path(),
        &["detect", "--base", &base],
        &[("PATH", &log.path_var())],
    );
    assert!(started.elapsed() < std::time::Duration::from_secs(60));
    assert_eq!(run.code, 0, "{run:#?}");
    assert_eq!(run.services(), ["api", "worker"], "{}", run.summary);
    // A name with a line break cannot be asked of `cat-file --batch` (one
    // request per line) and is not read: no second request, no hang.
    for i in 0..weird.len() - 1 {
        assert!(
            run.summary
                .contains(&format!("depends on crate `weird{i}`")),
            "weird{i}: {}",
            run.summary
        );
    }
    assert!(
        run.summary
            .contains("task-definitions/--output=x/lib.libsonnet"),
        "{}",
        run.summary
    );
    assert!(!r.path().join("x").exists() && !r.path().join("--output=x").exists());
    // Six, plus the head commit's file list every `paths` glob is checked against.
    assert!(log.calls().len() <= 7, "{:#?}", log.calls());
}
