//! The action's container runs as root while the workspace it is given is a
//! bind mount owned by the runner's user, and git refuses to read a
//! repository owned by someone else ("dubious ownership"). Ferry passes
//! `-c safe.directory=<work tree>` on every git call, so a repository owned
//! by another uid is read anyway. Simulated here with `chown` (the tests run
//! as root) and with the machine's own git configuration switched off, so a
//! `safe.directory=*` in it cannot hide a regression.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::support;

use std::path::Path;
use std::process::Command;

use support::{Repo, ferry_with};

/// Not the test's own uid: the owner of the "mounted" workspace.
const RUNNER_UID: u32 = 4242;

/// No global or system git configuration, as in a fresh container.
const BARE_GIT: &[(&str, &str)] = &[
    ("GIT_CONFIG_GLOBAL", "/dev/null"),
    ("GIT_CONFIG_NOSYSTEM", "1"),
];

fn chown_tree(dir: &Path, uid: u32) {
    std::os::unix::fs::chown(dir, Some(uid), Some(uid)).unwrap();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() && !path.is_symlink() {
            chown_tree(&path, uid);
        } else {
            std::os::unix::fs::lchown(&path, Some(uid), Some(uid)).unwrap();
        }
    }
}

fn is_root() -> bool {
    let out = Command::new("id").arg("-u").output().unwrap();
    String::from_utf8_lossy(&out.stdout).trim() == "0"
}

#[test]
fn a_workspace_owned_by_another_uid_is_read_without_dubious_ownership() {
    if !is_root() {
        eprintln!(
            "skipped: needs root to chown a repository to another uid (CI and the test bed run as root)"
        );
        return;
    }
    let r = Repo::new();
    r.write(
        ".github/ferry.yml",
        crate::support::detect::TWO_SERVICE_FOLDERS,
    )
    .write("services/api/main.rs", "fn main() {}\n")
    .write("services/worker/main.rs", "fn main() {}\n");
    let base = r.commit("initial");
    r.write("services/api/main.rs", "fn main() { /* changed */ }\n");
    r.commit("change api");
    chown_tree(r.path(), RUNNER_UID);

    // The situation is real: plain git refuses this repository.
    let mut plain = Command::new("git");
    plain.arg("-C").arg(r.path()).args(["rev-parse", "HEAD"]);
    for (k, v) in BARE_GIT {
        plain.env(k, v);
    }
    let refused = plain.output().unwrap();
    assert!(
        !refused.status.success()
            && String::from_utf8_lossy(&refused.stderr).contains("dubious ownership"),
        "expected git to refuse a repository owned by uid {RUNNER_UID}: {refused:?}"
    );

    // Ferry reads it, and reads it right.
    let run = ferry_with(r.path(), &["detect", "--base", &base, "--no-api"], BARE_GIT);
    assert_eq!(run.code, 0, "{run:#?}");
    assert_eq!(run.services(), ["api"]);
    assert!(!run.stderr.contains("dubious"), "{}", run.stderr);
}
