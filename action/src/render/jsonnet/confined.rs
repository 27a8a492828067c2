//! The one import resolver, [`Confined`]: every `import`, `importstr` and
//! `importbin` resolved and read before evaluation, inside the repository
//! root only, regular files only, bounded in size and bracket nesting.

use std::io::Read;
use std::path::{Component, Path, PathBuf};

use jrsonnet_evaluator::async_import::AsyncImportResolver;
use jrsonnet_evaluator::{AsPathLike, FileImportResolver, ImportResolver, ResolvePath, SourcePath};

use super::Limits;
use super::diagnostic::relative;
use crate::diagnostic::Diagnostic;

/// Why the resolver refused an import.
#[derive(Debug)]
pub struct Refused {
    /// The importing file, when it is not the entry point.
    from: Option<PathBuf>,
    /// The import as written.
    import: String,
    /// What is wrong.
    message: String,
    /// How to fix it.
    help: String,
}

impl Refused {
    pub(super) fn diagnostic(&self, root: &Path, entry: &str) -> Diagnostic {
        let Some(from) = &self.from else {
            return Diagnostic::new(entry, &self.message).help(&self.help);
        };
        let d = Diagnostic::new(relative(root, from), &self.message).help(&self.help);
        // No frame points at the import: find its text in the importing file.
        let located = std::fs::read_to_string(from).ok().and_then(|text| {
            let offset = text.find(self.import.as_str())?;
            let line = text[..offset].matches('\n').count() + 1;
            let column = offset - text[..offset].rfind('\n').map_or(0, |i| i + 1) + 1;
            Some((line, column))
        });
        match located {
            Some((line, column)) => d.at(line, column),
            None => d,
        }
    }
}

/// The one import resolver: repository files only.
pub(super) struct Confined {
    /// The repository root, canonical.
    pub(super) root: PathBuf,
    /// The library folder (`task-definitions/`).
    pub(super) library: PathBuf,
    pub(super) limits: Limits,
}

const INSIDE_HELP: &str = "imports resolve inside the repository only: write a path relative to the importing file or to task-definitions/ (e.g. 'lib/base.libsonnet'), without symlinks that lead out";

impl Confined {
    fn refused(&self, from: Option<&Path>, import: &str, message: String, help: &str) -> Refused {
        Refused {
            from: from.map(Path::to_path_buf),
            import: import.to_string(),
            message,
            help: help.to_string(),
        }
    }

    /// Where `import`, written in a file of `from_dir`, resolves: the first
    /// existing candidate, which must stay inside the root.
    fn resolve(&self, from: Option<&Path>, import: &str) -> Result<PathBuf, Refused> {
        let shown = format!("{import:?}");
        if import.is_empty() || import.contains(['\0', '\n', '\r']) {
            return Err(self.refused(
                from,
                import,
                format!("import {shown} is not a file path"),
                INSIDE_HELP,
            ));
        }
        let wanted = Path::new(import);
        if wanted.is_absolute() || wanted.has_root() {
            return Err(self.refused(
                from,
                import,
                format!("import {shown} is an absolute path, outside the repository"),
                INSIDE_HELP,
            ));
        }
        let from_dir = from.and_then(Path::parent).unwrap_or(&self.root);
        for base in [from_dir, self.library.as_path()] {
            let candidate = base.join(wanted);
            // Refuse by the text first: `../../etc/passwd` is refused whether
            // or not it exists, and says nothing about files outside.
            if !lexically_inside(&self.root, &candidate) {
                return Err(self.refused(
                    from,
                    import,
                    format!("import {shown} leaves the repository"),
                    INSIDE_HELP,
                ));
            }
            let Ok(real) = candidate.canonicalize() else {
                continue;
            };
            if !real.starts_with(&self.root) {
                return Err(self.refused(
                    from,
                    import,
                    format!("import {shown} is a symlink that leads out of the repository"),
                    INSIDE_HELP,
                ));
            }
            // A FIFO would block the read, a device never end it.
            if !std::fs::metadata(&real).is_ok_and(|m| m.is_file()) {
                return Err(self.refused(
                    from,
                    import,
                    format!("import {shown} is not a regular file"),
                    "import a Jsonnet, JSON or text file",
                ));
            }
            return Ok(real);
        }
        Err(self.refused(
            from,
            import,
            format!("import {shown} not found"),
            &format!(
                "no file {shown} next to the importing file nor under task-definitions/: fix the import path"
            ),
        ))
    }

    /// Reads a resolved file: a regular file within the size limit, with
    /// its nesting checked.
    fn load(&self, path: &Path) -> Result<Vec<u8>, Refused> {
        let shown = relative(&self.root, path).display().to_string();
        let refuse = |message: String, help: &str| self.refused(None, &shown, message, help);
        let meta = std::fs::metadata(path)
            .map_err(|e| refuse(format!("cannot read {shown}: {e}"), "check the file"))?;
        if !meta.is_file() {
            return Err(refuse(
                format!("{shown} is not a regular file"),
                "import a Jsonnet, JSON or text file",
            ));
        }
        let limit = self.limits.file_bytes;
        let mut data = Vec::new();
        std::fs::File::open(path)
            .and_then(|f| f.take(limit + 1).read_to_end(&mut data))
            .map_err(|e| refuse(format!("cannot read {shown}: {e}"), "check the file"))?;
        if data.len() as u64 > limit {
            return Err(refuse(
                format!("{shown} is larger than {} KiB (Ferry's limit)", limit >> 10),
                "task definitions and their imports are small; split or trim the file",
            ));
        }
        if let Some(line) = too_deep(&data, self.limits.nesting) {
            return Err(Refused {
                from: None,
                import: shown.clone(),
                message: format!(
                    "{shown}:{line}: brackets nest deeper than {} levels (Ferry's limit)",
                    self.limits.nesting
                ),
                help: "flatten the structure".into(),
            });
        }
        Ok(data)
    }
}

impl AsyncImportResolver for Confined {
    type Error = Refused;

    async fn resolve_from(
        &self,
        from: &SourcePath,
        path: &dyn AsPathLike,
    ) -> Result<SourcePath, Refused> {
        let from = from.path();
        let import = match path.as_path() {
            ResolvePath::Str(s) => s.to_string(),
            ResolvePath::Path(p) => p.to_string_lossy().into_owned(),
        };
        let real = self.resolve(from, &import)?;
        // jrsonnet's file resolver builds the file's source path from the
        // absolute, checked path (nothing else is looked up).
        FileImportResolver::default()
            .resolve_from(&SourcePath::default(), &real.as_path())
            .map_err(|e| {
                self.refused(
                    from,
                    &import,
                    format!("import {import:?} cannot be opened: {}", e.error()),
                    INSIDE_HELP,
                )
            })
    }

    async fn load_file_contents(&self, resolved: &SourcePath) -> Result<Vec<u8>, Refused> {
        match resolved.path() {
            Some(path) => self.load(path),
            None => Err(self.refused(
                None,
                "",
                "only repository files can be imported".into(),
                INSIDE_HELP,
            )),
        }
    }
}

/// Whether `path`, with `.` and `..` applied to its text, stays under `root`.
fn lexically_inside(root: &Path, path: &Path) -> bool {
    let mut parts: Vec<Component<'_>> = Vec::new();
    for c in path.components() {
        match c {
            Component::ParentDir => {
                if parts.pop().is_none() {
                    return false;
                }
            }
            Component::CurDir => {}
            other => parts.push(other),
        }
    }
    parts.iter().collect::<PathBuf>().starts_with(root)
}

/// The line where `(`, `[` and `{` first nest deeper than `limit` in Jsonnet
/// source, skipping strings and comments; None when they never do.
pub fn too_deep(source: &[u8], limit: usize) -> Option<usize> {
    let mut depth = 0usize;
    let mut line = 1;
    let mut i = 0;
    let at = |i: usize| source.get(i).copied();
    while let Some(b) = at(i) {
        match b {
            b'\n' => line += 1,
            b'(' | b'[' | b'{' => {
                depth += 1;
                if depth > limit {
                    return Some(line);
                }
            }
            b')' | b']' | b'}' => depth = depth.saturating_sub(1),
            b'#' => {
                while at(i).is_some_and(|c| c != b'\n') {
                    i += 1;
                }
                continue;
            }
            b'/' if at(i + 1) == Some(b'/') => {
                while at(i).is_some_and(|c| c != b'\n') {
                    i += 1;
                }
                continue;
            }
            b'/' if at(i + 1) == Some(b'*') => {
                i += 2;
                while at(i).is_some() && !(at(i) == Some(b'*') && at(i + 1) == Some(b'/')) {
                    line += usize::from(at(i) == Some(b'\n'));
                    i += 1;
                }
                i += 2;
                continue;
            }
            b'|' if source[i..].starts_with(b"|||") => {
                i += 3;
                while at(i).is_some() && !source[i..].starts_with(b"|||") {
                    line += usize::from(at(i) == Some(b'\n'));
                    i += 1;
                }
                i += 3;
                continue;
            }
            b'@' if matches!(at(i + 1), Some(b'"' | b'\'')) => {
                // Verbatim string: a doubled quote is the only escape.
                let quote = source[i + 1];
                i += 2;
                while let Some(c) = at(i) {
                    if c == quote {
                        if at(i + 1) == Some(quote) {
                            i += 2;
                            continue;
                        }
                        break;
                    }
                    line += usize::from(c == b'\n');
                    i += 1;
                }
            }
            b'"' | b'\'' => {
                i += 1;
                while let Some(c) = at(i) {
                    match c {
                        b'\\' => i += 1,
                        c if c == b => break,
                        b'\n' => line += 1,
                        _ => {}
                    }
                    i += 1;
                }
            }
            _ => {}
        }
        i += 1;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nesting_skips_strings_and_comments() {
        assert_eq!(too_deep(b"[[[1]]]", 3), None);
        assert_eq!(too_deep(b"[[[[1]]]]", 3), Some(1));
        assert_eq!(too_deep(b"'[[[[[' + \"{{{{\" // ((((\n", 1), None);
        assert_eq!(too_deep(b"[ ']' [ ']' [ ']' [", 3), Some(1));
        assert_eq!(
            too_deep(b"@'a''[[[[' |||\n [[[[\n||| /* [[[[ */ [", 1),
            None
        );
        assert_eq!(too_deep(b"\n\n{{", 1), Some(3));
    }

    #[test]
    fn lexical_escape() {
        let root = Path::new("/r/repo");
        assert!(lexically_inside(root, Path::new("/r/repo/a/../b")));
        assert!(!lexically_inside(root, Path::new("/r/repo/a/../../b")));
        assert!(!lexically_inside(root, Path::new("/r/repo/../repo2/x")));
        assert!(!lexically_inside(
            root,
            Path::new("/r/repo/../../../../../..")
        ));
    }
}
