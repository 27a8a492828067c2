//! Where a command works, decided once at the edge: the repository root
//! (`--repo`, else the run's workspace; git's top level for the commands
//! that read git) and the manifest loaded from it, as the
//! [`Project`] every stage takes.

use std::path::{Path, PathBuf};

use ferry::gha::Context;
use ferry::git::Git;
use ferry::project::{Project, ProjectError};

/// `--repo`, else the run's workspace.
pub fn root(repo: Option<PathBuf>, ctx: &Context) -> PathBuf {
    repo.unwrap_or_else(|| ctx.workspace.clone())
}

/// The project at `--repo` (else the workspace), its manifest loaded.
pub fn load(
    repo: Option<PathBuf>,
    manifest: &Path,
    ctx: &Context,
) -> Result<Project, ProjectError> {
    Project::load(root(repo, ctx), manifest)
}

/// The repository at `--repo` (else the workspace), when it is one, and the
/// root the manifest is read from: git's top level, else the folder itself.
pub fn repository(repo: Option<PathBuf>, ctx: &Context) -> (PathBuf, Option<Git>) {
    let root = root(repo, ctx);
    match Git::open(&root) {
        Ok(git) => (git.root().to_path_buf(), Some(git)),
        Err(_) => (root, None),
    }
}
