//! `ferry detect` at monorepo scale: the git processes one run starts do not
//! grow with the number of services. Counted for real, with a logging `git`
//! first on PATH, on a generated repository of 1,000 services (each a Cargo
//! crate on a shared library, with a Dockerfile and a Jsonnet task definition
//! importing a shared library) and on one of 10: the same small number.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::support;
use crate::support::detect as detect_support;

use detect_support::GitLog;
use support::{Repo, ferry_with};

/// A repository of `n` services; the head commit changes one file in each.
fn monorepo(n: usize) -> (Repo, String, String) {
    let r = Repo::new();
    let names: Vec<String> = (0..n).map(|i| format!("svc{i:04}")).collect();
    let mut manifest = String::from(
        "project: big\nregion: us-east-1\nenvironments:\n  staging: { cluster: big-staging }\nservices:\n",
    );
    let mut lock =
        String::from("version = 4\n\n[[package]]\nname = \"shared\"\nversion = \"0.1.0\"\n");
    for name in &names {
        manifest.push_str(&format!("  {name}: {{}}\n"));
        lock.push_str(&format!(
            "\n[[package]]\nname = \"{name}\"\nversion = \"0.1.0\"\ndependencies = [\"shared\"]\n"
        ));
        r.write(
            &format!("services/{name}/Cargo.toml"),
            &format!("[package]\nname = \"{name}\"\nversion = \"0.1.0\"\n[dependencies]\nshared = {{ path = \"../../libs/shared\" }}\n"),
        )
        .write(&format!("services/{name}/src/main.rs"), "fn main() {}\n")
        .write(&format!("services/{name}/Dockerfile"), "FROM scratch\n")
        .write(
            &format!("task-definitions/{name}.jsonnet"),
            &format!("local base = import 'lib/base.libsonnet';\nbase.service('{name}')\n"),
        );
    }
    r.write(".github/ferry.yml", &manifest)
        .write(
            "Cargo.toml",
            "[workspace]\nresolver = \"3\"\nmembers = [\"services/*\", \"libs/*\"]\n",
        )
        .write("Cargo.lock", &lock)
        .write(
            "libs/shared/Cargo.toml",
            "[package]\nname = \"shared\"\nversion = \"0.1.0\"\n",
        )
        .write("libs/shared/src/lib.rs", "pub fn f() {}\n")
        .write(
            "task-definitions/lib/base.libsonnet",
            "local s = import 'sizes.libsonnet';\n{ service(n):: { family: n } + s }\n",
        )
        .write("task-definitions/lib/sizes.libsonnet", "{ cpu: '256' }\n");
    let base = r.commit("base");
    for name in &names {
        r.write(
            &format!("services/{name}/src/main.rs"),
            "fn main() { /* changed */ }\n",
        );
    }
    // The lockfile changes too, so both commits' Cargo.lock are read.
    r.write("Cargo.lock", &format!("{lock}\n"));
    let head = r.commit("change every service");
    (r, base, head)
}

/// Runs `ferry detect --base --head`; the affected services and every git call.
fn detect_counting(n: usize) -> (Vec<String>, Vec<Vec<String>>) {
    let (r, base, head) = monorepo(n);
    let log = GitLog::new();
    let run = ferry_with(
        r.path(),
        &["detect", "--no-api", "--base", &base, "--head", &head],
        &[("PATH", &log.path_var())],
    );
    assert_eq!(run.code, 0, "{run:#?}");
    (run.services(), log.calls())
}

#[test]
fn git_processes_do_not_grow_with_the_number_of_services() {
    let (small, small_calls) = detect_counting(10);
    let (big, big_calls) = detect_counting(1000);
    assert_eq!(small.len(), 10);
    assert_eq!(big.len(), 1000, "every changed service is found");
    let commands = |calls: &[Vec<String>]| -> Vec<String> {
        calls
            .iter()
            .map(|c| {
                // The subcommand follows `-c safe.directory=… -C <root>`.
                c.iter()
                    .skip_while(|a| *a != "-C")
                    .nth(2)
                    .cloned()
                    .unwrap_or_default()
            })
            .collect()
    };
    assert_eq!(
        commands(&big_calls),
        commands(&small_calls),
        "the same git work for 10 and 1,000 services"
    );
    assert!(
        // Six, plus the head commit's file list the globs are checked against.
        big_calls.len() <= 7,
        "a small constant number of git processes: {:#?}",
        commands(&big_calls)
    );
    assert_eq!(
        commands(&big_calls)
            .iter()
            .filter(|c| *c == "cat-file")
            .count(),
        1,
        "every file of both commits is read through one cat-file --batch"
    );
    assert!(
        !commands(&big_calls).iter().any(|c| c == "show"),
        "no per-file git show"
    );
}
