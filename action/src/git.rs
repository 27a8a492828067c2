//! The git adapter: the git CLI, run with argument vectors, never a shell.
//!
//! Every git process Ferry starts is built by one function,
//! [`Git::command`], from typed arguments: Ferry's own literal words, or
//! values that can only exist checked ([`ObjectId`], [`Rev`]). A revision
//! from an event payload, a flag or an input therefore can never reach git
//! as an option (`--upload-pack=…`, `-c …`, `--output=…`), and operands
//! always follow `--end-of-options` as well.
//!
//! Ferry reads history the way the checkout left it (often shallow in
//! Actions), so this adapter also knows how to deepen a clone step by step
//! until a merge base appears. File contents and folder listings of a commit
//! are read through one long-lived `git cat-file --batch` process per
//! repository, so the number of git processes a command starts does not grow
//! with the number of files or services it reads.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};

use batch::Batch;
pub use rev::{MAX_REV_LEN, ObjectId, Rev, RevError, short_rev};
pub use tree::GitTree;

mod batch;
mod rev;
mod tree;

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
    /// `git cat-file --batch` answered something that is not its protocol.
    #[error("git cat-file --batch: {0}")]
    Batch(String),
}

/// What Ferry says in a repository without commits.
pub const EMPTY_REPOSITORY: &str = "this repository has no commits yet: commit the services and .github/ferry.yml first (git add, git commit), then run Ferry on that commit";
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

/// One argument of a git command. Ferry's own words are `&'static str`
/// (written in this file); everything else is a checked value.
#[derive(Debug, Clone, Copy)]
enum Arg<'a> {
    /// A subcommand or option, literally.
    Word(&'static str),
    /// An option with a number: `--depth=32`.
    Number(&'static str, u32),
    /// The remote Ferry fetches from.
    Origin,
    /// A checked commit id (an operand).
    Id(&'a ObjectId),
    /// A checked revision (an operand).
    Rev(&'a Rev),
    /// What to fetch for a revision: a commit id or tag as is, a
    /// remote-tracking name as the refspec that creates it.
    Fetch(&'a Rev),
}

impl Arg<'_> {
    fn is_operand(&self) -> bool {
        !matches!(self, Arg::Word(_) | Arg::Number(..))
    }

    fn text(&self) -> String {
        match self {
            Arg::Word(w) => (*w).to_string(),
            Arg::Number(opt, n) => format!("{opt}={n}"),
            Arg::Origin => "origin".into(),
            Arg::Id(id) => id.as_str().to_string(),
            Arg::Rev(rev) => rev.as_str().to_string(),
            Arg::Fetch(rev) => match rev.origin_branch() {
                Some(branch) => format!("+refs/heads/{branch}:refs/remotes/origin/{branch}"),
                None => rev.as_str().to_string(),
            },
        }
    }
}

/// A repository's work tree, driven through the git CLI.
#[derive(Debug, Clone)]
pub struct Git {
    root: PathBuf,
    /// The `cat-file --batch` process, started on the first read.
    batch: Arc<Mutex<Option<Batch>>>,
}

impl Git {
    /// Opens the repository containing `dir`.
    pub fn open(dir: &Path) -> Result<Self, GitError> {
        let probe = Self::at(dir.to_path_buf());
        match probe.run(&[Arg::Word("rev-parse"), Arg::Word("--show-toplevel")]) {
            Ok(top) => Ok(Self::at(PathBuf::from(top.trim()))),
            // Say so rather than "not a repository" when git refuses it.
            Err(e @ GitError::Failed { .. }) if e.to_string().contains("dubious ownership") => {
                Err(e)
            }
            Err(GitError::Failed { .. }) => Err(GitError::NotARepo(dir.to_path_buf())),
            Err(e) => Err(e),
        }
    }

    fn at(root: PathBuf) -> Self {
        Self {
            root,
            batch: Arc::new(Mutex::new(None)),
        }
    }

    /// The work tree's top folder.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// THE place a git process is built. Operands (anything not Ferry's own
    /// literal words) come after `--end-of-options`, and each was checked
    /// when its type was built.
    fn command(&self, args: &[Arg<'_>]) -> (Command, Vec<String>) {
        let mut words = Vec::with_capacity(args.len() + 1);
        let mut operands = false;
        for a in args {
            if a.is_operand() && !operands {
                words.push("--end-of-options".to_string());
                operands = true;
            }
            words.push(a.text());
        }
        // In a container action the workspace is a bind mount owned by the
        // runner's user (uid 1001 on GitHub's runners), not by the container's
        // root, and git refuses such a repository ("dubious ownership"). Trust
        // exactly this work tree, for this call only: `-c` is protected
        // configuration, which git honours for safe.directory.
        let mut trust = OsString::from("safe.directory=");
        trust.push(std::fs::canonicalize(&self.root).unwrap_or_else(|_| self.root.clone()));
        let mut cmd = Command::new("git");
        cmd.arg("-c")
            .arg(trust)
            .arg("-C")
            .arg(&self.root)
            .args(&words)
            // Never prompt for credentials or open an editor in CI.
            .env("GIT_TERMINAL_PROMPT", "0")
            .env("LC_ALL", "C");
        (cmd, words)
    }

    /// Runs git to completion; stdout on success.
    fn run(&self, args: &[Arg<'_>]) -> Result<String, GitError> {
        let (mut cmd, words) = self.command(args);
        let out = cmd.stdin(Stdio::null()).output().map_err(GitError::Spawn)?;
        if out.status.success() {
            Ok(String::from_utf8_lossy(&out.stdout).into_owned())
        } else {
            Err(GitError::Failed {
                args: words.join(" "),
                stderr: String::from_utf8_lossy(&out.stderr).trim().to_string(),
            })
        }
    }

    /// The full commit id `rev` names, or None when it names no commit here.
    pub fn resolve(&self, rev: &Rev) -> Result<Option<ObjectId>, GitError> {
        // `^{commit}` is appended here, to a checked revision only.
        let peeled = Rev(format!("{}^{{commit}}", rev.as_str()));
        match self.run(&[
            Arg::Word("rev-parse"),
            Arg::Word("--verify"),
            Arg::Word("--quiet"),
            Arg::Rev(&peeled),
        ]) {
            Ok(sha) => Ok(ObjectId::parse(sha.trim()).ok()),
            Err(GitError::Failed { .. }) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Whether the repository has no commit at all (a fresh `git init`).
    pub fn is_empty(&self) -> bool {
        matches!(self.head(), Ok(None))
            && self
                .run(&[Arg::Word("rev-list"), Arg::Word("-n1"), Arg::Word("--all")])
                .is_ok_and(|out| out.trim().is_empty())
    }

    /// The commit checked out (`HEAD`), or None in a repository without one.
    pub fn head(&self) -> Result<Option<ObjectId>, GitError> {
        self.resolve(&Rev("HEAD".into()))
    }

    /// The best common ancestor of `a` and `b`, if the history here has one.
    pub fn merge_base(&self, a: &ObjectId, b: &ObjectId) -> Result<Option<ObjectId>, GitError> {
        match self.run(&[Arg::Word("merge-base"), Arg::Id(a), Arg::Id(b)]) {
            Ok(sha) => Ok(ObjectId::parse(sha.trim()).ok()),
            Err(GitError::Failed { .. }) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Whether the clone is shallow (`actions/checkout` fetches depth 1).
    pub fn is_shallow(&self) -> Result<bool, GitError> {
        Ok(self
            .run(&[Arg::Word("rev-parse"), Arg::Word("--is-shallow-repository")])?
            .trim()
            == "true")
    }

    /// Fetches `revs` from `origin` with `--depth` (a first fetch) or
    /// `--deepen` (extending a shallow history). A remote-tracking name
    /// (`origin/main`) fetches that branch into it.
    pub fn fetch(
        &self,
        revs: &[&Rev],
        depth: Option<u32>,
        deepen: Option<u32>,
    ) -> Result<(), GitError> {
        let mut args = vec![
            Arg::Word("fetch"),
            Arg::Word("--no-tags"),
            Arg::Word("--quiet"),
        ];
        args.extend(depth.map(|d| Arg::Number("--depth", d)));
        args.extend(deepen.map(|d| Arg::Number("--deepen", d)));
        args.push(Arg::Origin);
        args.extend(revs.iter().map(|r| Arg::Fetch(r)));
        self.run(&args).map(|_| ())
    }

    /// Whether the clone has a remote named `origin`.
    pub fn has_origin(&self) -> bool {
        self.run(&[Arg::Word("remote")])
            .map(|out| out.lines().any(|l| l.trim() == "origin"))
            .unwrap_or(false)
    }

    /// Files that differ between two commits. Renames count as a deletion of
    /// the old path and an addition of the new one, so both paths are seen.
    pub fn changed_files(
        &self,
        base: &ObjectId,
        head: &ObjectId,
    ) -> Result<Vec<FileChange>, GitError> {
        let out = self.run(&[
            Arg::Word("diff"),
            Arg::Word("--name-status"),
            Arg::Word("--no-renames"),
            Arg::Word("-z"),
            Arg::Id(base),
            Arg::Id(head),
            Arg::Word("--"),
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

    /// `git ls-tree -r -z <commit>`: every blob of the commit, with mode and id.
    pub fn ls_tree_recursive(&self, commit: &ObjectId) -> Result<String, GitError> {
        self.run(&[
            Arg::Word("ls-tree"),
            Arg::Word("-r"),
            Arg::Word("-z"),
            Arg::Id(commit),
        ])
    }

    /// Every file path of `commit`, sorted (git lists a tree in byte order).
    pub fn files(&self, commit: &ObjectId) -> Result<Vec<String>, GitError> {
        let out = self.run(&[
            Arg::Word("ls-tree"),
            Arg::Word("-r"),
            Arg::Word("-z"),
            Arg::Word("--name-only"),
            Arg::Id(commit),
        ])?;
        let mut files: Vec<String> = out
            .split('\0')
            .filter(|p| !p.is_empty())
            .map(str::to_string)
            .collect();
        files.sort_unstable();
        Ok(files)
    }

    /// Paths (NUL-separated) where the work tree differs from `commit`, and
    /// the untracked files git does not ignore.
    pub fn dirty_files(&self, commit: &ObjectId) -> Result<Vec<String>, GitError> {
        let split = |out: String| -> Vec<String> {
            out.split('\0')
                .filter(|p| !p.is_empty())
                .map(str::to_string)
                .collect()
        };
        let mut dirty = split(self.run(&[
            Arg::Word("diff"),
            Arg::Word("--name-only"),
            Arg::Word("-z"),
            Arg::Id(commit),
            Arg::Word("--"),
        ])?);
        dirty.extend(split(self.run(&[
            Arg::Word("ls-files"),
            Arg::Word("--others"),
            Arg::Word("--exclude-standard"),
            Arg::Word("-z"),
        ])?));
        Ok(dirty)
    }
}
