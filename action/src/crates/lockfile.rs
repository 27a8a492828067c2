//! `Cargo.lock`: the resolved dependency graph, and what changed in it.
//!
//! A lockfile change (a `cargo update`, a bumped dependency) affects only the
//! services whose resolved tree contains a package whose version or source
//! changed; comparing the two lockfiles' closures per service says which.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use serde::Deserialize;

/// One resolved package.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct PackageId {
    /// Crate name.
    pub name: String,
    /// Exact version.
    pub version: String,
    /// Registry or git source; None for path (workspace) crates.
    pub source: Option<String>,
}

/// A parsed `Cargo.lock`.
#[derive(Debug, Clone, Default)]
pub struct Lockfile {
    packages: Vec<PackageId>,
    deps: Vec<Vec<usize>>,
    by_name: HashMap<String, Vec<usize>>,
}

#[derive(Deserialize)]
struct RawLock {
    #[serde(default)]
    package: Vec<RawPackage>,
}

#[derive(Deserialize)]
struct RawPackage {
    name: String,
    version: String,
    source: Option<String>,
    #[serde(default)]
    dependencies: Vec<String>,
}

/// A lockfile that could not be read.
#[derive(Debug, thiserror::Error)]
#[error("Cargo.lock is not a valid lockfile: {0}")]
pub struct LockfileError(String);

impl Lockfile {
    /// Parses lockfile text (format versions 1 to 4).
    pub fn parse(text: &str) -> Result<Self, LockfileError> {
        let raw: RawLock =
            toml::from_str(text).map_err(|e| LockfileError(e.message().to_string()))?;
        let packages: Vec<PackageId> = raw
            .package
            .iter()
            .map(|p| PackageId {
                name: p.name.clone(),
                version: p.version.clone(),
                source: p.source.clone(),
            })
            .collect();
        let mut by_name: HashMap<String, Vec<usize>> = HashMap::new();
        for (i, p) in packages.iter().enumerate() {
            by_name.entry(p.name.clone()).or_default().push(i);
        }
        let mut lock = Self {
            packages,
            deps: Vec::new(),
            by_name,
        };
        lock.deps = raw
            .package
            .iter()
            .map(|p| {
                p.dependencies
                    .iter()
                    .filter_map(|d| lock.resolve(d))
                    .collect()
            })
            .collect();
        Ok(lock)
    }

    /// Resolves a dependency entry: `name`, `name version` or `name version (source)`.
    fn resolve(&self, entry: &str) -> Option<usize> {
        let mut parts = entry.splitn(3, ' ');
        let name = parts.next()?;
        let version = parts.next();
        let source = parts
            .next()
            .map(|s| s.trim_start_matches('(').trim_end_matches(')'));
        let candidates = self.by_name.get(name)?;
        candidates.iter().copied().find(|&i| {
            let p = &self.packages[i];
            version.is_none_or(|v| p.version == v)
                && source.is_none_or(|s| p.source.as_deref() == Some(s))
        })
    }

    /// The local (path) package of that name, if any.
    fn local(&self, name: &str) -> Option<usize> {
        self.by_name
            .get(name)?
            .iter()
            .copied()
            .find(|&i| self.packages[i].source.is_none())
    }

    /// Every package in the resolved tree of the local crate `root`,
    /// itself included; empty when the lockfile does not know it.
    pub fn closure(&self, root: &str) -> BTreeSet<&PackageId> {
        let mut seen = vec![false; self.packages.len()];
        let mut stack: Vec<usize> = self.local(root).into_iter().collect();
        let mut out = BTreeSet::new();
        while let Some(i) = stack.pop() {
            if std::mem::replace(&mut seen[i], true) {
                continue;
            }
            out.insert(&self.packages[i]);
            stack.extend(self.deps[i].iter().copied().filter(|&d| !seen[d]));
        }
        out
    }

    /// Whether the lockfile has a local crate of that name.
    pub fn has_local(&self, name: &str) -> bool {
        self.local(name).is_some()
    }
}

/// How one package of a crate's tree differs between two lockfiles.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PackageChange {
    /// Crate name.
    pub name: String,
    /// Versions before (empty when added).
    pub before: Vec<String>,
    /// Versions after (empty when removed).
    pub after: Vec<String>,
}

impl std::fmt::Display for PackageChange {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match (self.before.is_empty(), self.after.is_empty()) {
            (true, _) => write!(f, "{} {} added", self.name, self.after.join(", ")),
            (_, true) => write!(f, "{} {} removed", self.name, self.before.join(", ")),
            _ if self.before == self.after => write!(
                f,
                "{} {} (source changed)",
                self.name,
                self.after.join(", ")
            ),
            _ => write!(
                f,
                "{} {} → {}",
                self.name,
                self.before.join(", "),
                self.after.join(", ")
            ),
        }
    }
}

/// The external packages (registry or git) of `root`'s tree that differ
/// between `old` and `new`, by name. Local crates are left out: their
/// changes are seen as file changes.
pub fn tree_changes(old: &Lockfile, new: &Lockfile, root: &str) -> Vec<PackageChange> {
    let external = |lock: &Lockfile| -> BTreeSet<PackageId> {
        lock.closure(root)
            .into_iter()
            .filter(|p| p.source.is_some())
            .cloned()
            .collect()
    };
    let (before, after) = (external(old), external(new));
    let mut by_name: BTreeMap<&str, (Vec<String>, Vec<String>)> = BTreeMap::new();
    for p in before.difference(&after) {
        by_name
            .entry(&p.name)
            .or_default()
            .0
            .push(p.version.clone());
    }
    for p in after.difference(&before) {
        by_name
            .entry(&p.name)
            .or_default()
            .1
            .push(p.version.clone());
    }
    by_name
        .into_iter()
        .map(|(name, (before, after))| PackageChange {
            name: name.to_string(),
            before,
            after,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const REG: &str = "registry+https://github.com/rust-lang/crates.io-index";

    fn lock(entries: &[(&str, &str, bool, &[&str])]) -> Lockfile {
        let mut text = String::from("version = 4\n");
        for (name, version, registry, deps) in entries {
            text.push_str(&format!(
                "\n[[package]]\nname = \"{name}\"\nversion = \"{version}\"\n"
            ));
            if *registry {
                text.push_str(&format!("source = \"{REG}\"\n"));
            }
            let deps: Vec<String> = deps.iter().map(|d| format!("\"{d}\"")).collect();
            text.push_str(&format!("dependencies = [{}]\n", deps.join(", ")));
        }
        Lockfile::parse(&text).unwrap()
    }

    fn base() -> Vec<(&'static str, &'static str, bool, &'static [&'static str])> {
        vec![
            ("api", "0.1.0", false, &["shared", "axum"]),
            ("worker", "0.1.0", false, &["shared", "lettre"]),
            ("shared", "0.1.0", false, &["serde"]),
            ("axum", "0.8.0", true, &["serde"]),
            ("lettre", "0.11.0", true, &[]),
            ("serde", "1.0.0", true, &[]),
        ]
    }

    #[test]
    fn closure_follows_local_and_external_edges() {
        let l = lock(&base());
        let names: Vec<&str> = l.closure("api").iter().map(|p| p.name.as_str()).collect();
        assert_eq!(names, ["api", "axum", "serde", "shared"]);
        assert!(l.closure("nope").is_empty());
    }

    #[test]
    fn a_bump_only_the_worker_uses_affects_only_the_worker() {
        let old = lock(&base());
        let mut entries = base();
        entries[4] = ("lettre", "0.11.1", true, &[]);
        let new = lock(&entries);
        assert!(tree_changes(&old, &new, "api").is_empty());
        let w = tree_changes(&old, &new, "worker");
        assert_eq!(w.len(), 1);
        assert_eq!(w[0].to_string(), "lettre 0.11.0 → 0.11.1");
    }

    #[test]
    fn a_shared_dependency_bump_affects_both() {
        let old = lock(&base());
        let mut entries = base();
        entries[5] = ("serde", "1.0.1", true, &[]);
        let new = lock(&entries);
        assert_eq!(tree_changes(&old, &new, "api").len(), 1);
        assert_eq!(
            tree_changes(&old, &new, "worker")[0].to_string(),
            "serde 1.0.0 → 1.0.1"
        );
    }

    #[test]
    fn added_removed_and_disambiguated_versions() {
        let old = lock(&base());
        let mut entries = base();
        entries[1] = ("worker", "0.1.0", false, &["shared", "serde 2.0.0"]);
        entries.push(("serde", "2.0.0", true, &[]));
        let new = lock(&entries);
        let w: Vec<String> = tree_changes(&old, &new, "worker")
            .iter()
            .map(ToString::to_string)
            .collect();
        assert_eq!(w, ["lettre 0.11.0 removed", "serde 2.0.0 added"]);
        assert!(tree_changes(&old, &new, "api").is_empty());
    }

    #[test]
    fn invalid_lockfile_is_an_error() {
        assert!(Lockfile::parse("[[package]]\nname = 1").is_err());
    }
}
