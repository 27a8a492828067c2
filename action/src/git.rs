//! The git adapter: the git CLI, run with argument vectors, never a shell.
//!
//! Ferry reads history the way the checkout left it (often shallow in
//! Actions), so this adapter also knows how to deepen a clone step by step
//! until a merge base appears.

use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::Command;

/// A git command that failed, with what it was asked and what it said.
#[derive(Debug, thiserror::Error)]
pub enum GitError {
    /// git could not be started.
    #[error("cannot run git (is it installed and on PATH?): {0}")]
    Spawn(std::io::Error),
    /// git ran and failed.
    #[error("`git {args}` failed: {stderr}")]
    Failed {
        /// The arguments, space-joined for the message.
        args: String,
        /// git's own error text.
        stderr: String,
    },
    /// The directory is not in a git work tree.
    #[error("{0} is not inside a git repository")]
    NotARepo(PathBuf),
}

/// How a file changed between two commits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChangeKind {
    /// New file.
    Added,
    /// Changed content or mode.
    Modified,
    /// Removed (a rename shows as a deletion plus an addition).
    Deleted,
}

/// One changed path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileChange {
    /// Repository-relative path with `/` separators.
    pub path: String,
    /// How it changed.
    pub kind: ChangeKind,
}

/// A repository's work tree, driven through the git CLI.
#[derive(Debug, Clone)]
pub struct Git {
    root: PathBuf,
}

impl Git {
    /// Opens the repository containing `dir`.
    pub fn open(dir: &Path) -> Result<Self, GitError> {
        let probe = Self {
            root: dir.to_path_buf(),
        };
        match probe.run(["rev-parse", "--show-toplevel"]) {
            Ok(top) => Ok(Self {
                root: PathBuf::from(top.trim()),
            }),
            // Say so rather than "not a repository" when git refuses it.
            Err(e @ GitError::Failed { .. }) if e.to_string().contains("dubious ownership") => {
                Err(e)
            }
            Err(GitError::Failed { .. }) => Err(GitError::NotARepo(dir.to_path_buf())),
            Err(e) => Err(e),
        }
    }

    /// The work tree's top folder.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Runs git with `args` in the work tree; stdout on success.
    pub fn run<I, S>(&self, args: I) -> Result<String, GitError>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        let args: Vec<_> = args
            .into_iter()
            .map(|a| a.as_ref().to_os_string())
            .collect();
        // In a container action the workspace is a bind mount owned by the
        // runner's user (uid 1001 on GitHub's runners), not by the container's
        // root, and git refuses such a repository ("dubious ownership"). Trust
        // exactly this work tree, for this call only: `-c` is protected
        // configuration, which git honours for safe.directory.
        let mut trust = std::ffi::OsString::from("safe.directory=");
        trust.push(std::fs::canonicalize(&self.root).unwrap_or_else(|_| self.root.clone()));
        let out = Command::new("git")
            .arg("-c")
            .arg(trust)
            .arg("-C")
            .arg(&self.root)
            .args(&args)
            // Never prompt for credentials or open an editor in CI.
            .env("GIT_TERMINAL_PROMPT", "0")
            .env("LC_ALL", "C")
            .output()
            .map_err(GitError::Spawn)?;
        if out.status.success() {
            Ok(String::from_utf8_lossy(&out.stdout).into_owned())
        } else {
            Err(GitError::Failed {
                args: args
                    .iter()
                    .map(|a| a.to_string_lossy())
                    .collect::<Vec<_>>()
                    .join(" "),
                stderr: String::from_utf8_lossy(&out.stderr).trim().to_string(),
            })
        }
    }

    /// The full commit id `rev` names, or None when it names no commit here.
    pub fn resolve(&self, rev: &str) -> Result<Option<String>, GitError> {
        match self.run([
            "rev-parse",
            "--verify",
            "--quiet",
            &format!("{rev}^{{commit}}"),
        ]) {
            Ok(sha) => Ok(Some(sha.trim().to_string())),
            Err(GitError::Failed { .. }) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// The best common ancestor of `a` and `b`, if the history here has one.
    pub fn merge_base(&self, a: &str, b: &str) -> Result<Option<String>, GitError> {
        match self.run(["merge-base", a, b]) {
            Ok(sha) => Ok(Some(sha.trim().to_string())),
            Err(GitError::Failed { .. }) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Whether the clone is shallow (`actions/checkout` fetches depth 1).
    pub fn is_shallow(&self) -> Result<bool, GitError> {
        Ok(self.run(["rev-parse", "--is-shallow-repository"])?.trim() == "true")
    }

    /// Fetches `revs` from `remote` with `--depth` (a first fetch) or
    /// `--deepen` (extending a shallow history).
    pub fn fetch(
        &self,
        remote: &str,
        revs: &[&str],
        depth: Option<u32>,
        deepen: Option<u32>,
    ) -> Result<(), GitError> {
        let mut args: Vec<String> = vec!["fetch".into(), "--no-tags".into(), "--quiet".into()];
        if let Some(d) = depth {
            args.push(format!("--depth={d}"));
        }
        if let Some(d) = deepen {
            args.push(format!("--deepen={d}"));
        }
        args.push(remote.into());
        args.extend(revs.iter().map(|r| r.to_string()));
        self.run(&args).map(|_| ())
    }

    /// Whether a remote of that name is configured.
    pub fn has_remote(&self, name: &str) -> bool {
        self.run(["remote"])
            .map(|out| out.lines().any(|l| l.trim() == name))
            .unwrap_or(false)
    }

    /// Files that differ between two commits. Renames count as a deletion of
    /// the old path and an addition of the new one, so both paths are seen.
    pub fn changed_files(&self, base: &str, head: &str) -> Result<Vec<FileChange>, GitError> {
        let out = self.run([
            "diff",
            "--name-status",
            "--no-renames",
            "-z",
            base,
            head,
            "--",
        ])?;
        let mut fields = out.split('\0').filter(|s| !s.is_empty());
        let mut changes = Vec::new();
        while let (Some(status), Some(path)) = (fields.next(), fields.next()) {
            let kind = match status.chars().next() {
                Some('A') => ChangeKind::Added,
                Some('D') => ChangeKind::Deleted,
                _ => ChangeKind::Modified,
            };
            changes.push(FileChange {
                path: path.to_string(),
                kind,
            });
        }
        Ok(changes)
    }

    /// The content of `path` at `rev`, or None when it does not exist there.
    pub fn show(&self, rev: &str, path: &str) -> Result<Option<String>, GitError> {
        match self.run(["show", &format!("{rev}:{path}")]) {
            Ok(text) => Ok(Some(text)),
            Err(GitError::Failed { stderr, .. })
                if stderr.contains("does not exist")
                    || stderr.contains("exists on disk, but not in") =>
            {
                Ok(None)
            }
            Err(e) => Err(e),
        }
    }

    /// Every file path in the tree of `rev`.
    pub fn list_files(&self, rev: &str) -> Result<Vec<String>, GitError> {
        let out = self.run(["ls-tree", "-r", "--name-only", "-z", rev])?;
        Ok(out
            .split('\0')
            .filter(|s| !s.is_empty())
            .map(str::to_string)
            .collect())
    }
}

/// A commit's tree, read through git (for comparing with another commit
/// without checking it out).
#[derive(Debug, Clone)]
pub struct GitTree<'a> {
    /// The repository.
    pub git: &'a Git,
    /// The commit.
    pub rev: String,
}

impl crate::crates::Tree for GitTree<'_> {
    fn read(&self, path: &str) -> Option<String> {
        self.git.show(&self.rev, path).ok().flatten()
    }

    fn subdirs(&self, dir: &str) -> Vec<String> {
        let spec = if dir.is_empty() {
            self.rev.clone()
        } else {
            format!("{}:{dir}", self.rev)
        };
        let Ok(out) = self.git.run(["ls-tree", "-z", &spec]) else {
            return Vec::new();
        };
        out.split('\0')
            .filter_map(|entry| {
                let (meta, name) = entry.split_once('\t')?;
                meta.split(' ')
                    .nth(1)
                    .filter(|t| *t == "tree")
                    .map(|_| name.to_string())
            })
            .collect()
    }
}
