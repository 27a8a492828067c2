//! Shared by the detect tests: a logging `git` first on PATH (every git
//! process a `ferry` run starts, with its arguments, counted for real, no
//! mocking) and the two-service manifest most of them write.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};

/// The manifest most detect tests write: one staging environment, two
/// services each owning its folder under `services/`.
pub const TWO_SERVICE_FOLDERS: &str = "\
project: shop
region: us-east-1
environments:
  staging: { cluster: shop-staging }
services:
  api:
    paths: [services/api/**]
  worker:
    paths: [services/worker/**]
";

/// A folder holding the wrapper and its log.
pub struct GitLog {
    dir: tempfile::TempDir,
}

impl GitLog {
    /// Writes the wrapper; it runs the git found on PATH now.
    pub fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let path = std::env::var_os("PATH").unwrap();
        let real_git = std::env::split_paths(&path)
            .map(|d| d.join("git"))
            .find(|p| p.is_file())
            .expect("git on PATH");
        let wrapper = dir.path().join("git");
        std::fs::write(
            &wrapper,
            format!(
                "#!/bin/sh\nfor a in \"$@\"; do printf '%s\\037' \"$a\" >>'{log}'; done\nprintf '\\036' >>'{log}'\nexec '{git}' \"$@\"\n",
                log = dir.path().join("calls").display(),
                git = real_git.display()
            ),
        )
        .unwrap();
        make_executable(&wrapper);
        Self { dir }
    }

    /// The folder (for marker files next to the log).
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// `PATH` with the wrapper first.
    pub fn path_var(&self) -> String {
        format!(
            "{}:{}",
            self.dir.path().display(),
            std::env::var("PATH").unwrap_or_default()
        )
    }

    /// Forgets the calls logged so far.
    pub fn clear(&self) {
        std::fs::remove_file(self.log()).ok();
    }

    fn log(&self) -> PathBuf {
        self.dir.path().join("calls")
    }

    /// Every git call since the last [`GitLog::clear`], as argument lists.
    pub fn calls(&self) -> Vec<Vec<String>> {
        let text = std::fs::read_to_string(self.log()).unwrap_or_default();
        text.split('\u{1e}')
            .filter(|c| !c.is_empty())
            .map(|c| {
                c.split('\u{1f}')
                    .filter(|a| !a.is_empty())
                    .map(str::to_string)
                    .collect()
            })
            .collect()
    }
}

#[cfg(unix)]
fn make_executable(p: &Path) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(p, std::fs::Permissions::from_mode(0o755)).unwrap();
}
