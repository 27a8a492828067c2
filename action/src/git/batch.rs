//! File contents and folder listings of a commit, read through one
//! long-lived `git cat-file --batch` process per repository.

use std::fmt;
use std::io::{BufRead, BufReader, Read, Write};
use std::process::{Child, ChildStdin, ChildStdout, Stdio};

use super::{Arg, Git, GitError, ObjectId};

impl Git {
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
pub(super) struct Batch {
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

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

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
        fn tree_parsing_never_panics(data in proptest::collection::vec(any::<u8>(), 0..512)) {
            let _ = tree_folders(&data);
        }
    }
}
