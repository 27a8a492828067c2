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
use std::fmt;
use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::sync::{Arc, Mutex};

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

/// A revision Ferry refuses to hand to git, and why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "{shown} is not a revision Ferry accepts: {why}. Give a commit id, or a branch or tag name optionally followed by ~N or ^N"
)]
pub struct RevError {
    /// The text, quoted and cut short, with control characters escaped.
    pub shown: String,
    /// What is wrong with it.
    pub why: &'static str,
}

/// The longest revision accepted (git's own ref names stay far below).
pub const MAX_REV_LEN: usize = 255;

/// A full commit (or other object) id: 40 (SHA-1) or 64 (SHA-256) hex
/// digits, lower case. What git prints, and the only form accepted from an
/// event payload or the GitHub API.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ObjectId(String);

impl ObjectId {
    /// Checks `text` is a full hex object id.
    pub fn parse(text: &str) -> Result<Self, RevError> {
        let fail = |why| RevError {
            shown: crate::text::quote(text),
            why,
        };
        if text.len() != 40 && text.len() != 64 {
            return Err(fail("a commit id has 40 (or 64) hex digits"));
        }
        if !text.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(fail("a commit id has hex digits only"));
        }
        Ok(Self(text.to_ascii_lowercase()))
    }

    /// The id as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The first 7 digits, for people.
    pub fn short(&self) -> &str {
        &self.0[..7]
    }
}

/// Abbreviates a full commit id for people; leaves symbolic revs alone.
pub fn short_rev(rev: &str) -> &str {
    if rev.len() == 40 && rev.bytes().all(|b| b.is_ascii_hexdigit()) {
        &rev[..7]
    } else {
        rev
    }
}

impl fmt::Display for ObjectId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// What Ferry says in a repository without commits.
pub const EMPTY_REPOSITORY: &str = "this repository has no commits yet: commit the services and .github/ferry.yml first (git add, git commit), then run Ferry on that commit";

/// A revision a person named (`--base`, `--head`, an input, the default
/// branch): a commit id, or a branch or tag name with optional `~N`/`^N`
/// suffixes. Checked when built, so it never reads as an option and never
/// uses git's richer syntax (`@{…}`, `:/text`, `a..b`, `rev:path`).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Rev(String);

impl Rev {
    /// Checks `text` against the revision grammar Ferry accepts.
    pub fn parse(text: &str) -> Result<Self, RevError> {
        let fail = |why| RevError {
            shown: crate::text::quote(text),
            why,
        };
        if text.is_empty() {
            return Err(fail("it is empty"));
        }
        if text.len() > MAX_REV_LEN {
            return Err(fail("it is longer than 255 characters"));
        }
        if text.starts_with('-') {
            return Err(fail("it starts with `-`, as an option would"));
        }
        if let Some(c) = text
            .chars()
            .find(|c| !(c.is_ascii_alphanumeric() || "/._-~^@".contains(*c)))
        {
            return Err(fail(if c.is_control() {
                "it contains a control character"
            } else if c.is_whitespace() {
                "it contains white space"
            } else {
                "it contains a character git reads as revision syntax (only letters, digits and / . _ - @ ~ ^ are accepted)"
            }));
        }
        // name(~N|^N)*: the suffixes only after the name.
        let cut = text.find(['~', '^']).unwrap_or(text.len());
        let (name, suffixes) = text.split_at(cut);
        if !suffixes
            .chars()
            .all(|c| c.is_ascii_digit() || c == '~' || c == '^')
        {
            return Err(fail("~ and ^ may only be followed by digits"));
        }
        if name.is_empty() {
            return Err(fail("it has no name before ~ or ^"));
        }
        if name.contains("..") {
            return Err(fail("it contains `..` (a range, not a commit)"));
        }
        if name.contains("@{") || name == "@" {
            return Err(fail("it uses git's @ syntax"));
        }
        if name
            .split('/')
            .any(|part| part.is_empty() || part.starts_with(['.', '-']))
        {
            return Err(fail(
                "a part of the name is empty or starts with `.` or `-`",
            ));
        }
        if name.ends_with(".lock") {
            return Err(fail("it ends with `.lock`"));
        }
        Ok(Self(text.to_string()))
    }

    /// The revision as given.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The parent (`<rev>~1`), still a valid revision.
    pub fn parent(&self) -> Self {
        Self(format!("{}~1", self.0))
    }

    /// The branch of a remote-tracking name `origin/<branch>`.
    pub fn origin_branch(&self) -> Option<&str> {
        self.0
            .strip_prefix("origin/")
            .filter(|b| !b.contains(['~', '^']))
    }
}

impl From<ObjectId> for Rev {
    fn from(id: ObjectId) -> Self {
        Self(id.0)
    }
}

impl fmt::Display for Rev {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
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

    /// The objects at `paths` in `commit` (a file's bytes, a folder's raw
    /// tree), through the shared `cat-file --batch` process; None where the
    /// path does not exist there or is not a path Ferry reads (see
    /// [`tree_path`]).
    fn objects(&self, commit: &ObjectId, paths: &[&str]) -> Result<Vec<Option<Object>>, GitError> {
        let requests: Vec<Option<String>> = paths
            .iter()
            .map(|p| {
                tree_path(p).map(|path| {
                    if path.is_empty() {
                        format!("{}^{{tree}}\n", commit.as_str())
                    } else {
                        format!("{}:{path}\n", commit.as_str())
                    }
                })
            })
            .collect();
        let asked: Vec<String> = requests.iter().flatten().cloned().collect();
        if asked.is_empty() {
            return Ok(paths.iter().map(|_| None).collect());
        }
        let mut slot = self
            .batch
            .lock()
            .map_err(|_| GitError::Batch("a reader panicked".into()))?;
        if slot.is_none() {
            *slot = Some(self.start_batch()?);
        }
        let answers = match slot.as_mut() {
            Some(batch) => batch.ask(&asked),
            None => Err(GitError::Batch("not started".into())),
        };
        let answers = match answers {
            Ok(a) => a,
            Err(e) => {
                // A broken process is not reused: the next read starts another.
                slot.take();
                return Err(e);
            }
        };
        let mut answers = answers.into_iter();
        Ok(requests
            .iter()
            .map(|r| r.as_ref().and_then(|_| answers.next().flatten()))
            .collect())
    }

    fn start_batch(&self) -> Result<Batch, GitError> {
        let (mut cmd, _) = self.command(&[Arg::Word("cat-file"), Arg::Word("--batch")]);
        let mut child = cmd
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .map_err(GitError::Spawn)?;
        let (Some(stdin), Some(stdout)) = (child.stdin.take(), child.stdout.take()) else {
            return Err(GitError::Batch("no pipes to the process".into()));
        };
        Ok(Batch {
            child,
            stdin,
            stdout: BufReader::new(stdout),
        })
    }

    /// The contents of `paths` at `commit`, in one pipeline; None for a
    /// path that is not a file there.
    pub fn read_files(
        &self,
        commit: &ObjectId,
        paths: &[&str],
    ) -> Result<Vec<Option<String>>, GitError> {
        Ok(self
            .objects(commit, paths)?
            .into_iter()
            .map(|o| match o {
                Some(Object { kind, data }) if kind == "blob" => {
                    Some(String::from_utf8_lossy(&data).into_owned())
                }
                _ => None,
            })
            .collect())
    }

    /// The content of `path` at `commit`, or None when it is not a file there.
    pub fn read_file(&self, commit: &ObjectId, path: &str) -> Result<Option<String>, GitError> {
        Ok(self.read_files(commit, &[path])?.pop().flatten())
    }

    /// Names of the folders directly under `dir` at `commit` ("" is the root).
    pub fn subdirs(&self, commit: &ObjectId, dir: &str) -> Result<Vec<String>, GitError> {
        Ok(match self.objects(commit, &[dir])?.pop().flatten() {
            Some(Object { kind, data }) if kind == "tree" => tree_folders(&data),
            _ => Vec::new(),
        })
    }
}

/// `path` as the batch reader asks for it (`./a//b` is `a/b`), or None
/// when it is not a repository-relative path: absolute, climbing (`..`), or
/// with a line break, which would end the request early.
fn tree_path(path: &str) -> Option<String> {
    if path.starts_with('/') || path.contains(['\n', '\r', '\0']) || path.len() > 4096 {
        return None;
    }
    let parts: Vec<&str> = path
        .split('/')
        .filter(|p| !p.is_empty() && *p != ".")
        .collect();
    if parts.contains(&"..") {
        return None;
    }
    Some(parts.join("/"))
}

/// The folder names of a raw tree object: entries `<mode> <name>\0<id>`,
/// folders having mode `40000`. The id's length is fixed by the hash.
fn tree_folders(data: &[u8]) -> Vec<String> {
    // SHA-1 trees only hold 20-byte ids; SHA-256 ones 32. Try 20 first and
    // fall back to 32 if the entries do not line up.
    for id_len in [20, 32] {
        if let Some(names) = parse_tree(data, id_len) {
            return names;
        }
    }
    Vec::new()
}

fn parse_tree(data: &[u8], id_len: usize) -> Option<Vec<String>> {
    let mut names = Vec::new();
    let mut i = 0;
    while i < data.len() {
        let space = i + data[i..].iter().position(|&b| b == b' ')?;
        let nul = space + data[space..].iter().position(|&b| b == 0)?;
        let mode = std::str::from_utf8(&data[i..space]).ok()?;
        if mode.is_empty() || !mode.bytes().all(|b| (b'0'..=b'7').contains(&b)) {
            return None;
        }
        if mode == "40000" {
            names.push(String::from_utf8_lossy(&data[space + 1..nul]).into_owned());
        }
        i = nul + 1 + id_len;
        if i > data.len() {
            return None;
        }
    }
    Some(names)
}

/// The largest object the batch reader loads.
const MAX_OBJECT: usize = 64 << 20;

/// One object read through the batch process.
struct Object {
    kind: String,
    data: Vec<u8>,
}

/// A running `git cat-file --batch`: one request line in, one object out.
struct Batch {
    child: Child,
    stdin: ChildStdin,
    stdout: BufReader<ChildStdout>,
}

impl fmt::Debug for Batch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Batch")
            .field("pid", &self.child.id())
            .finish()
    }
}

impl Batch {
    /// Asks for each request (one line each) and reads the answers in
    /// order. The requests are written from a second thread while the
    /// answers are read, so thousands of them cost one pipeline rather than
    /// a round trip each, and neither side can block the other on a full pipe.
    fn ask(&mut self, requests: &[String]) -> Result<Vec<Option<Object>>, GitError> {
        let Batch {
            child,
            stdin,
            stdout,
        } = self;
        std::thread::scope(|scope| {
            let writer = scope.spawn(move || -> std::io::Result<()> {
                let mut w = std::io::BufWriter::new(stdin);
                for r in requests {
                    w.write_all(r.as_bytes())?;
                }
                w.flush()
            });
            let mut answers = Vec::with_capacity(requests.len());
            let mut failure = None;
            for _ in requests {
                match read_answer(stdout) {
                    Ok(a) => answers.push(a),
                    Err(e) => {
                        failure = Some(e);
                        break;
                    }
                }
            }
            if failure.is_some() {
                // The writer may be blocked on a full pipe: ending git ends it.
                child.kill().ok();
            }
            let written = writer
                .join()
                .map_err(|_| GitError::Batch("the request writer panicked".into()));
            match (failure, written) {
                (Some(e), _) => Err(e),
                (None, Err(e)) => Err(e),
                (None, Ok(Err(e))) => Err(GitError::Batch(e.to_string())),
                (None, Ok(Ok(()))) => Ok(answers),
            }
        })
    }
}

/// One answer of `cat-file --batch`: `<id> <type> <size>\n<data>\n`, or
/// `<request> missing|ambiguous\n`.
fn read_answer(stdout: &mut BufReader<ChildStdout>) -> Result<Option<Object>, GitError> {
    let broken = |e: std::io::Error| GitError::Batch(e.to_string());
    let mut header = String::new();
    if stdout.read_line(&mut header).map_err(broken)? == 0 {
        return Err(GitError::Batch("git ended early".into()));
    }
    let header = header.trim_end_matches('\n');
    let mut parts = header.rsplitn(3, ' ');
    let (Some(size), Some(kind)) = (parts.next(), parts.next()) else {
        return Err(GitError::Batch(format!("unexpected answer {header:?}")));
    };
    if size == "missing" || size == "ambiguous" {
        return Ok(None);
    }
    let size: usize = size
        .parse()
        .map_err(|_| GitError::Batch(format!("unexpected answer {header:?}")))?;
    // Ferry reads manifests, lockfiles and Jsonnet: a file this big is not
    // one, and reading it would only exhaust memory. The caller drops this
    // process (its answer is left unread) and starts another.
    if size > MAX_OBJECT {
        return Err(GitError::Batch(format!(
            "{header:?} is larger than {} MiB; not read",
            MAX_OBJECT >> 20
        )));
    }
    let mut data = vec![0; size];
    stdout.read_exact(&mut data).map_err(broken)?;
    let mut newline = [0u8; 1];
    stdout.read_exact(&mut newline).map_err(broken)?;
    Ok(Some(Object {
        kind: kind.to_string(),
        data,
    }))
}

impl Drop for Batch {
    fn drop(&mut self) {
        // Closing stdin ends git; reap it so no zombie is left behind.
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A commit's tree, read through git (for comparing with another commit
/// without checking it out). Files read once are kept: a Jsonnet library
/// imported by every task definition is asked of git once.
#[derive(Debug)]
pub struct GitTree<'a> {
    git: &'a Git,
    commit: ObjectId,
    files: std::cell::RefCell<rustc_hash::FxHashMap<String, Option<String>>>,
}

impl<'a> GitTree<'a> {
    /// The tree of `commit` in `git`.
    pub fn new(git: &'a Git, commit: ObjectId) -> Self {
        Self {
            git,
            commit,
            files: Default::default(),
        }
    }

    /// The commit.
    pub fn commit(&self) -> &ObjectId {
        &self.commit
    }
}

impl crate::crates::Tree for GitTree<'_> {
    fn read(&self, path: &str) -> Option<String> {
        if let Some(known) = self.files.borrow().get(path) {
            return known.clone();
        }
        let text = match self.git.read_file(&self.commit, path) {
            Ok(text) => text,
            Err(e) => {
                tracing::warn!("cannot read {path} at {}: {e}", self.commit.short());
                return None;
            }
        };
        self.files
            .borrow_mut()
            .insert(path.to_string(), text.clone());
        text
    }

    fn prefetch(&self, paths: &[String]) {
        let wanted: Vec<&str> = {
            let known = self.files.borrow();
            paths
                .iter()
                .map(String::as_str)
                .filter(|p| !known.contains_key(*p))
                .collect()
        };
        match self.git.read_files(&self.commit, &wanted) {
            Ok(texts) => {
                let mut known = self.files.borrow_mut();
                for (path, text) in wanted.into_iter().zip(texts) {
                    known.insert(path.to_string(), text);
                }
            }
            // Each file is then asked for on its own, and reports its error.
            Err(e) => tracing::warn!(
                "cannot read {} files at {}: {e}",
                wanted.len(),
                self.commit.short()
            ),
        }
    }

    fn subdirs(&self, dir: &str) -> Vec<String> {
        match self.git.subdirs(&self.commit, dir) {
            Ok(dirs) => dirs,
            Err(e) => {
                tracing::warn!("cannot list {dir} at {}: {e}", self.commit.short());
                Vec::new()
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn revisions_people_write_are_accepted() {
        for ok in [
            "main",
            "HEAD",
            "HEAD~1",
            "HEAD^",
            "HEAD^2~3",
            "origin/main",
            "release/2024-01",
            "v1.2.3",
            "feature/a_b-c",
            "user@example",
            &"a".repeat(40),
        ] {
            assert!(Rev::parse(ok).is_ok(), "{ok}");
        }
    }

    #[test]
    fn option_and_revision_syntax_shapes_are_refused() {
        for bad in [
            "",
            "-",
            "--upload-pack=touch /tmp/x",
            "--output=/tmp/x",
            "-c",
            "-ccore.pager=x",
            "--end-of-options",
            "HEAD@{1}",
            "@{-1}",
            "@",
            "main@{upstream}",
            ":/fix",
            "HEAD:Cargo.toml",
            "main..feature",
            "main...feature",
            "a\nb",
            "a\0b",
            "a b",
            "a\tb",
            "main\r",
            "origin/-x",
            "origin/.hidden",
            "a//b",
            "a/",
            "/a",
            "x.lock",
            "^main",
            "~1",
            "HEAD~x",
            "HEAD^{tree}",
            "HEAD^!",
            "a*",
            "a?",
            "a[1]",
            "a\\b",
            "$(touch x)",
            "`id`",
            "a;b",
            "a|b",
            "%2e%2e",
            "é",
            &"a".repeat(256),
        ] {
            let err = Rev::parse(bad).expect_err(bad);
            assert!(err.to_string().contains("not a revision"), "{err}");
            assert!(!err.to_string().contains('\n'), "one line: {err}");
        }
    }

    #[test]
    fn object_ids_are_full_hex_only() {
        assert!(ObjectId::parse(&"A".repeat(40)).is_ok());
        assert_eq!(
            ObjectId::parse(&"AB".repeat(20)).unwrap().as_str(),
            "ab".repeat(20)
        );
        assert!(ObjectId::parse(&"c".repeat(64)).is_ok());
        for bad in [
            "",
            "abc1234",
            &"g".repeat(40),
            &"a".repeat(39),
            &"a".repeat(41),
            &format!("-{}", "a".repeat(39)),
            &format!("{}\n", "a".repeat(39)),
            "0000000000000000000000000000000000000000 ",
        ] {
            assert!(ObjectId::parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn batch_requests_are_one_repository_relative_line() {
        assert_eq!(tree_path("./a//b/").as_deref(), Some("a/b"));
        assert_eq!(tree_path("").as_deref(), Some(""));
        for bad in [
            "/etc/passwd",
            "../x",
            "a/../../x",
            "a\nHEAD:b",
            "a\r",
            "a\0b",
        ] {
            assert_eq!(tree_path(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn tree_objects_list_their_folders() {
        let mut raw = Vec::new();
        for (mode, name) in [
            ("100644", "Cargo.toml"),
            ("40000", "libs"),
            ("40000", "svc"),
        ] {
            raw.extend_from_slice(format!("{mode} {name}\0").as_bytes());
            raw.extend_from_slice(&[7u8; 20]);
        }
        assert_eq!(tree_folders(&raw), ["libs", "svc"]);
        assert!(tree_folders(&raw[..raw.len() - 3]).is_empty());
        assert!(tree_folders(b"").is_empty());
    }

    proptest! {
        #[test]
        fn an_accepted_revision_never_reads_as_an_option_or_syntax(text in "\\PC{0,300}") {
            if let Ok(rev) = Rev::parse(&text) {
                let s = rev.as_str();
                prop_assert!(!s.starts_with('-'));
                prop_assert!(!s.contains(".."));
                prop_assert!(!s.contains("@{"), "{}", s);
                prop_assert!(!s.contains(':'));
                prop_assert!(!s.contains(|c: char| c.is_whitespace() || c.is_control()));
                prop_assert!(s.len() <= MAX_REV_LEN);
            }
        }

        #[test]
        fn tree_parsing_never_panics(data in proptest::collection::vec(any::<u8>(), 0..512)) {
            let _ = tree_folders(&data);
        }
    }
}
