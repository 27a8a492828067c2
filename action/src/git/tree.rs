//! [`GitTree`]: a commit's tree as a [`crate::crates::Tree`], each file read
//! once.

use super::{Git, ObjectId};

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
