//! The Cargo workspace as a graph: which local crates exist, where, and
//! which depend on which.
//!
//! Read from the manifests themselves (root `Cargo.toml`, each member's
//! `Cargo.toml`) rather than `cargo metadata`, so it works inside the action
//! container (which has no Rust toolchain), offline, and at any commit. A
//! test checks it against `cargo metadata` on this repository.

pub mod lockfile;

use std::collections::{BTreeMap, BTreeSet};

use globset::Glob;
use toml::Value;

pub use lockfile::{Lockfile, PackageChange, tree_changes};

/// Read access to a source tree: the work tree, or a commit through git.
pub trait Tree {
    /// The file's text, or None when it does not exist.
    fn read(&self, path: &str) -> Option<String>;
    /// Names of the subfolders of `dir` ("" is the root).
    fn subdirs(&self, dir: &str) -> Vec<String>;
    /// A hint: these files are about to be read. A tree read through git
    /// fetches them in one pipeline instead of a round trip each.
    fn prefetch(&self, _paths: &[String]) {}
}

/// A local crate: a workspace member (or the root package).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LocalCrate {
    /// Package name.
    pub name: String,
    /// Folder relative to the repository root ("" for a root package).
    pub dir: String,
    /// Names of the local crates it depends on (any kind: normal, dev, build).
    pub local_deps: BTreeSet<String>,
}

/// The workspace's local crates.
#[derive(Debug, Clone, Default)]
pub struct Workspace {
    /// By package name.
    pub crates: BTreeMap<String, LocalCrate>,
    /// Folder → crate, for mapping a file to its crate.
    dirs: rustc_hash::FxHashMap<String, String>,
}

/// A workspace that could not be read.
#[derive(Debug, thiserror::Error)]
#[error("{file}: {message}")]
pub struct WorkspaceError {
    /// The manifest at fault.
    pub file: String,
    /// What is wrong.
    pub message: String,
}

fn parse_toml(tree: &dyn Tree, file: &str) -> Result<Option<Value>, WorkspaceError> {
    let Some(text) = tree.read(file) else {
        return Ok(None);
    };
    text.parse::<toml::Table>()
        .map(|t| Some(Value::Table(t)))
        .map_err(|e| WorkspaceError {
            file: file.into(),
            message: format!("not valid TOML: {}", e.message()),
        })
}

/// `dir/rest` with `.` and `..` parts resolved (`..` never climbs above the root).
pub(crate) fn join(dir: &str, rest: &str) -> String {
    let mut parts: Vec<&str> = if dir.is_empty() {
        Vec::new()
    } else {
        dir.split('/').collect()
    };
    for part in rest.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                parts.pop();
            }
            p => parts.push(p),
        }
    }
    parts.join("/")
}

/// Expands a member pattern (`services/*`) against the tree's folders.
pub(crate) fn expand(tree: &dyn Tree, pattern: &str) -> Vec<String> {
    let mut dirs = vec![String::new()];
    for part in pattern.split('/').filter(|p| !p.is_empty() && *p != ".") {
        let is_glob = part.contains(['*', '?', '[']);
        let matcher = if is_glob {
            Glob::new(part).ok().map(|g| g.compile_matcher())
        } else {
            None
        };
        dirs = dirs
            .into_iter()
            .flat_map(|d| match &matcher {
                Some(m) => tree
                    .subdirs(&d)
                    .into_iter()
                    .filter(|s| m.is_match(s))
                    .map(|s| join(&d, &s))
                    .collect::<Vec<_>>(),
                None => vec![join(&d, part)],
            })
            .collect();
    }
    dirs
}

impl Workspace {
    /// Reads the workspace rooted at the tree's top folder. A repository
    /// without a root `Cargo.toml` has an empty workspace.
    pub fn load(tree: &dyn Tree) -> Result<Self, WorkspaceError> {
        let Some(root) = parse_toml(tree, "Cargo.toml")? else {
            return Ok(Self::default());
        };
        let ws = root.get("workspace");
        let str_list = |key: &str| -> Vec<String> {
            ws.and_then(|w| w.get(key))
                .and_then(Value::as_array)
                .map(|a| {
                    a.iter()
                        .filter_map(|v| v.as_str().map(str::to_string))
                        .collect()
                })
                .unwrap_or_default()
        };
        let excluded: BTreeSet<String> = str_list("exclude")
            .iter()
            .flat_map(|p| expand(tree, p))
            .collect();
        let mut member_dirs: Vec<String> = str_list("members")
            .iter()
            .flat_map(|p| expand(tree, p))
            .filter(|d| !excluded.contains(d))
            .collect();
        if root.get("package").is_some() {
            member_dirs.push(String::new());
        }
        let workspace_paths: BTreeMap<String, String> = ws
            .and_then(|w| w.get("dependencies"))
            .and_then(Value::as_table)
            .map(|t| {
                t.iter()
                    .filter_map(|(k, v)| {
                        v.get("path")
                            .and_then(Value::as_str)
                            .map(|p| (k.clone(), join("", p)))
                    })
                    .collect()
            })
            .unwrap_or_default();

        // First pass: names and folders; second: edges by path.
        tree.prefetch(
            &member_dirs
                .iter()
                .map(|d| join(d, "Cargo.toml"))
                .collect::<Vec<_>>(),
        );
        let mut manifests = Vec::new();
        for dir in member_dirs {
            let file = join(&dir, "Cargo.toml");
            let Some(doc) = parse_toml(tree, &file)? else {
                continue; // A glob may match folders that are not crates.
            };
            let Some(name) = doc
                .get("package")
                .and_then(|p| p.get("name"))
                .and_then(Value::as_str)
            else {
                continue; // A virtual manifest.
            };
            manifests.push((name.to_string(), dir, doc));
        }
        let by_dir: BTreeMap<String, String> = manifests
            .iter()
            .map(|(n, d, _)| (d.clone(), n.clone()))
            .collect();
        let mut crates = BTreeMap::new();
        for (name, dir, doc) in &manifests {
            let mut local_deps = BTreeSet::new();
            for (dep, spec) in dependency_entries(doc) {
                let path = match spec.get("path").and_then(Value::as_str) {
                    Some(p) => Some(join(dir, p)),
                    None if spec.get("workspace").and_then(Value::as_bool) == Some(true) => {
                        workspace_paths.get(&dep).cloned()
                    }
                    None => None,
                };
                if let Some(target) = path.and_then(|p| by_dir.get(&p)) {
                    local_deps.insert(target.clone());
                }
            }
            crates.insert(
                name.clone(),
                LocalCrate {
                    name: name.clone(),
                    dir: dir.clone(),
                    local_deps,
                },
            );
        }
        Ok(Self::from_crates(crates))
    }

    /// A workspace from already-known crates (tests, benchmarks).
    pub fn from_crates(crates: BTreeMap<String, LocalCrate>) -> Self {
        let dirs = crates
            .values()
            .map(|c| (c.dir.clone(), c.name.clone()))
            .collect();
        Self { crates, dirs }
    }

    /// The crate whose folder holds `path`, if any (the innermost one).
    pub fn crate_of(&self, path: &str) -> Option<&str> {
        // Walk up the file's folders: the first one that is a crate wins.
        let mut dir = path;
        while let Some(cut) = dir.rfind('/') {
            dir = &dir[..cut];
            if let Some(name) = self.dirs.get(dir) {
                return Some(name);
            }
        }
        self.dirs.get("").map(String::as_str)
    }

    /// Whether a change to `path`, a file of crate `krate`, can change what
    /// the crates depending on it build. They build its library: not its
    /// binary (`src/main.rs`, `src/bin/`), tests, benches, examples, nor the
    /// service's Dockerfile or docs kept in its folder. Anything else counts
    /// (a file may be `include_str!`-ed from anywhere in the crate).
    pub fn reaches_dependents(&self, krate: &str, path: &str) -> bool {
        let Some(c) = self.crates.get(krate) else {
            return true;
        };
        let inner = if c.dir.is_empty() {
            path
        } else {
            match path.strip_prefix(&format!("{}/", c.dir)) {
                Some(rest) => rest,
                None => return true,
            }
        };
        let name = inner.rsplit('/').next().unwrap_or(inner);
        let own_only = inner == "src/main.rs"
            || ["src/bin/", "tests/", "benches/", "examples/"]
                .iter()
                .any(|p| inner.starts_with(p))
            || name == "Dockerfile"
            || name.ends_with(".Dockerfile")
            || name == ".dockerignore"
            || (!inner.contains('/') && name.ends_with(".md"));
        !own_only
    }

    /// `root` and every local crate it depends on, transitively.
    pub fn local_closure(&self, root: &str) -> BTreeSet<String> {
        let mut out = BTreeSet::new();
        let mut stack = vec![root.to_string()];
        while let Some(name) = stack.pop() {
            if let Some(c) = self.crates.get(&name)
                && out.insert(name)
            {
                stack.extend(c.local_deps.iter().cloned());
            }
        }
        out
    }
}

/// `(name, spec)` of every dependency table: normal, dev, build, and per target.
fn dependency_entries(doc: &Value) -> Vec<(String, Value)> {
    let mut tables: Vec<&Value> = Vec::new();
    for key in ["dependencies", "dev-dependencies", "build-dependencies"] {
        tables.extend(doc.get(key));
    }
    if let Some(targets) = doc.get("target").and_then(Value::as_table) {
        for t in targets.values() {
            for key in ["dependencies", "dev-dependencies", "build-dependencies"] {
                tables.extend(t.get(key));
            }
        }
    }
    tables
        .into_iter()
        .filter_map(Value::as_table)
        .flat_map(|t| t.iter())
        // Keyed as written: a renamed dependency (`package = ".."`) is still
        // found by its path, and `workspace = true` by the key.
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect()
}

#[cfg(test)]
pub(crate) mod mem_tree;
#[cfg(test)]
mod tests;

/// The work tree on disk.
#[derive(Debug, Clone)]
pub struct FsTree(pub std::path::PathBuf);

impl Tree for FsTree {
    fn read(&self, path: &str) -> Option<String> {
        std::fs::read_to_string(self.0.join(path)).ok()
    }

    fn subdirs(&self, dir: &str) -> Vec<String> {
        let Ok(entries) = std::fs::read_dir(self.0.join(dir)) else {
            return Vec::new();
        };
        let mut out: Vec<String> = entries
            .filter_map(Result::ok)
            .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
            .filter_map(|e| e.file_name().into_string().ok())
            .collect();
        out.sort();
        out
    }
}
