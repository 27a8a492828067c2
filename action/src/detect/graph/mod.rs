//! Go, JavaScript and Python dependency graphs, read offline at any commit
//! (no `go`, `npm` or `uv` runs), as [`crate::crates`] reads Cargo's.
//!
//! A service's own projects are found from its folders: walking up from the
//! folder of each `paths` glob (and of its Dockerfile), the first folder
//! holding a `go.mod`, `package.json`, `pyproject.toml` or `Cargo.toml`
//! gives them. From there the edges are followed: `go.mod` `replace`s to
//! local folders and `go.work` modules; npm, yarn and pnpm workspace
//! packages (by name, or `workspace:`, `file:`, `link:` specs); uv workspace
//! members and path dependencies of `pyproject.toml` (PEP 621 or Poetry).
//!
//! [`Graph::reasons`] then says, per service: a dependency's files changed;
//! its own project file changed outside its globs; a lockfile changed the
//! versions its packages resolve to (or, when the format cannot tell,
//! that every service using the lockfile is affected, saying so); a project
//! file could not be read (every service of that language, with the reason).

pub mod go;
pub mod js;
pub mod python;

mod load;
mod lock;

pub use load::candidates;
use lock::LOCKFILES;

use std::collections::{BTreeMap, BTreeSet};

use rustc_hash::FxHashMap as HashMap;

use super::affected::{Examples, Reason, Verdict};
use crate::crates::Tree;
use crate::manifest::Manifest;

/// A package's resolved external dependencies (name, version), or why the
/// lockfile cannot tell.
pub type Resolved = Result<BTreeSet<(String, String)>, String>;

/// A language whose projects Ferry reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Ecosystem {
    /// `go.mod`, `go.work`.
    Go,
    /// `package.json` (npm, yarn, pnpm).
    JavaScript,
    /// `pyproject.toml` (uv, Poetry, any PEP 621 project).
    Python,
}

impl Ecosystem {
    const ALL: [Self; 3] = [Self::Go, Self::JavaScript, Self::Python];

    /// The file that makes a folder a project.
    pub fn project_file(self) -> &'static str {
        match self {
            Self::Go => "go.mod",
            Self::JavaScript => "package.json",
            Self::Python => "pyproject.toml",
        }
    }

    /// What a project is called in a reason.
    pub fn kind(self) -> &'static str {
        match self {
            Self::Go => "Go module",
            Self::JavaScript => "package",
            Self::Python => "Python project",
        }
    }
}

/// One local project.
#[derive(Debug, Clone)]
pub struct Project {
    /// Its language.
    pub eco: Ecosystem,
    /// Module path, package name or (normalised) project name; the folder
    /// when it has none.
    pub name: String,
    /// Folder relative to the repository root ("" for the root).
    pub dir: String,
    /// The local projects it depends on (indices).
    pub deps: BTreeSet<usize>,
    /// The folder of the workspace (go.work, package.json `workspaces`,
    /// pnpm-workspace.yaml, uv workspace) it belongs to, if any.
    pub workspace: Option<String>,
}

/// A project file that could not be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Broken {
    /// Its language.
    pub eco: Ecosystem,
    /// The file.
    pub file: String,
    /// What is wrong.
    pub why: String,
}

/// The projects of the three languages that the manifest's services reach.
#[derive(Debug, Default)]
pub struct Graph {
    /// Every project found.
    pub projects: Vec<Project>,
    by_dir: HashMap<String, Vec<usize>>,
    /// Project files that could not be read.
    pub broken: Vec<Broken>,
    /// Per service (manifest order): its own projects.
    pub owned: Vec<BTreeSet<usize>>,
    /// Per service: the languages its folders hold (also when unreadable).
    pub languages: Vec<BTreeSet<Ecosystem>>,
    /// Per service: its own projects and every one they depend on.
    pub closure: Vec<BTreeSet<usize>>,
}

fn parent(dir: &str) -> Option<&str> {
    if dir.is_empty() {
        None
    } else {
        Some(dir.rfind('/').map_or("", |i| &dir[..i]))
    }
}

fn file_in(dir: &str, name: &str) -> String {
    if dir.is_empty() {
        name.to_string()
    } else {
        format!("{dir}/{name}")
    }
}

/// `dir/rest` normalised; None when it leaves the repository (or is absolute).
fn join(dir: &str, rest: &str) -> Option<String> {
    if rest.starts_with('/') {
        return None;
    }
    let mut parts: Vec<&str> = dir.split('/').filter(|p| !p.is_empty()).collect();
    for p in rest.split('/') {
        match p {
            "" | "." => {}
            ".." => {
                parts.pop()?;
            }
            p => parts.push(p),
        }
    }
    Some(parts.join("/"))
}

impl Graph {
    fn closure_of(&self, roots: &BTreeSet<usize>) -> BTreeSet<usize> {
        let mut out = BTreeSet::new();
        let mut stack: Vec<usize> = roots.iter().copied().collect();
        while let Some(i) = stack.pop() {
            if out.insert(i) {
                stack.extend(self.projects[i].deps.iter().copied());
            }
        }
        out
    }

    /// Whether there is anything to match files against.
    pub fn is_empty(&self) -> bool {
        self.projects.is_empty() && self.broken.is_empty()
    }

    /// The innermost project of `eco` holding `file`.
    fn project_of(&self, eco: Ecosystem, file: &str) -> Option<usize> {
        let mut d = parent(file);
        while let Some(dir) = d {
            if let Some(found) = self
                .by_dir
                .get(dir)
                .and_then(|ps| ps.iter().copied().find(|&p| self.projects[p].eco == eco))
            {
                return Some(found);
            }
            d = parent(dir);
        }
        None
    }

    /// Warnings for the summary and annotations: each unreadable project file.
    pub fn warnings(&self) -> Vec<String> {
        self.broken
            .iter()
            .map(|b| {
                format!(
                    "{} cannot be read ({}): its {} dependencies are not followed; a change in its folder affects every service with a {} project",
                    b.file,
                    b.why,
                    lang(b.eco),
                    lang(b.eco)
                )
            })
            .collect()
    }

    /// The reasons this graph gives each service (manifest order) for the
    /// changed `files`, and notes. `base` reads the base commit's files
    /// (lockfiles, go.mod), when it is in the clone.
    pub fn reasons(
        &self,
        manifest: &Manifest,
        files: &[String],
        head: &dyn Tree,
        base: Option<&dyn Tree>,
    ) -> (Vec<Vec<Reason>>, Vec<String>) {
        let n = manifest.services.len();
        let mut out: Vec<Vec<Reason>> = vec![Vec::new(); n];
        let mut notes = Vec::new();
        if self.is_empty() {
            return (out, notes);
        }
        let services: Vec<&crate::manifest::Service> = manifest.services.values().collect();
        let users = self.users();
        let mut deps: Vec<BTreeMap<usize, Examples>> = vec![BTreeMap::new(); n];
        let mut unknown: BTreeSet<(Ecosystem, usize)> = BTreeSet::new();
        for file in files {
            let name = file.rsplit('/').next().unwrap_or(file);
            let dir = parent(file).unwrap_or("");
            for (b, broken) in self.broken.iter().enumerate() {
                let bdir = parent(&broken.file).unwrap_or("");
                if file == &broken.file || bdir.is_empty() || file.starts_with(&format!("{bdir}/"))
                {
                    unknown.insert((broken.eco, b));
                }
            }
            if let Some(&(_, eco, readable)) = LOCKFILES.iter().find(|(l, ..)| *l == name) {
                self.lockfile((file, dir, eco, readable), &services, head, base, &mut out);
                continue;
            }
            for eco in Ecosystem::ALL {
                let Some(p) = self.project_of(eco, file) else {
                    continue;
                };
                let Some(list) = users.get(&p) else { continue };
                let project = &self.projects[p];
                let is_project_file = dir == project.dir && name == eco.project_file();
                for &(s, own) in list {
                    if own {
                        if is_project_file && services[s].paths.decide(file).is_none() {
                            out[s].push(self.own_project_file(project, file, head, base));
                        }
                    } else if reaches_dependents(eco, &project.dir, file) {
                        deps[s].entry(p).or_default().push(file);
                    }
                }
                if eco == Ecosystem::Go && name == "go.sum" && dir == project.dir {
                    let go_mod = file_in(dir, "go.mod");
                    if !files.contains(&go_mod)
                        && !services.iter().any(|s| s.paths.decide(file).is_some())
                    {
                        notes.push(format!(
                            "{file} changed but {go_mod} did not: the versions Go builds with are go.mod's requirements, so no service is affected by it"
                        ));
                    }
                }
            }
            if name == "go.work" {
                self.go_work(file, dir, &services, &mut out);
            }
        }
        self.add_dependencies_and_unknowns(deps, unknown, &mut out);
        (out, notes)
    }

    /// Project → each service whose closure holds it, and whether it is one
    /// of that service's own projects.
    fn users(&self) -> HashMap<usize, Vec<(usize, bool)>> {
        let mut users: HashMap<usize, Vec<(usize, bool)>> = HashMap::default();
        for (s, closure) in self.closure.iter().enumerate() {
            for &p in closure {
                users
                    .entry(p)
                    .or_default()
                    .push((s, self.owned[s].contains(&p)));
            }
        }
        users
    }

    /// A changed go.work in `dir`: a project file of each service with a Go
    /// module in that workspace (unless the service's globs hold it).
    fn go_work(
        &self,
        file: &str,
        dir: &str,
        services: &[&crate::manifest::Service],
        out: &mut [Vec<Reason>],
    ) {
        for (s, svc) in services.iter().enumerate() {
            let member = self.owned[s].iter().any(|&p| {
                self.projects[p].workspace.as_deref() == Some(dir)
                    && self.projects[p].eco == Ecosystem::Go
            });
            if member && svc.paths.decide(file).is_none() {
                out[s].push(Reason::ProjectFile {
                    file: file.to_string(),
                });
            }
        }
    }

    /// The reasons gathered over all files: each service's changed
    /// dependencies (with example files), and each unreadable project file
    /// for every service of its language.
    fn add_dependencies_and_unknowns(
        &self,
        deps: Vec<BTreeMap<usize, Examples>>,
        unknown: BTreeSet<(Ecosystem, usize)>,
        out: &mut [Vec<Reason>],
    ) {
        for (s, found) in deps.into_iter().enumerate() {
            for (p, files) in found {
                let project = &self.projects[p];
                out[s].push(Reason::DependsOnPackage {
                    kind: project.eco.kind().to_string(),
                    name: project.name.clone(),
                    files,
                });
            }
        }
        for (eco, b) in unknown {
            let broken = &self.broken[b];
            for (s, langs) in self.languages.iter().enumerate() {
                if langs.contains(&eco) {
                    out[s].push(Reason::GraphUnknown {
                        file: broken.file.clone(),
                        why: broken.why.clone(),
                    });
                }
            }
        }
    }

    /// A service's own go.mod, package.json or pyproject.toml changed
    /// outside its globs: for go.mod, the requirements that changed.
    fn own_project_file(
        &self,
        project: &Project,
        file: &str,
        head: &dyn Tree,
        base: Option<&dyn Tree>,
    ) -> Reason {
        if project.eco == Ecosystem::Go {
            let old = base
                .and_then(|b| b.read(file))
                .map(|t| go::GoMod::parse(&t));
            let new = head.read(file).map(|t| go::GoMod::parse(&t));
            if let (Some(Ok(old)), Some(Ok(new))) = (old, new) {
                let changes = go::require_changes(&old, &new);
                if !changes.is_empty() {
                    return Reason::PackageLock {
                        file: file.to_string(),
                        packages: changes,
                    };
                }
            }
        }
        Reason::ProjectFile {
            file: file.to_string(),
        }
    }
}

fn lang(eco: Ecosystem) -> &'static str {
    match eco {
        Ecosystem::Go => "Go",
        Ecosystem::JavaScript => "JavaScript",
        Ecosystem::Python => "Python",
    }
}

/// Whether a change to `file`, in the project at `dir`, can change what its
/// dependents build: not its Dockerfile, its top-level docs, nor Go's test
/// files and go.sum (a module's dependents build with their own go.sum).
fn reaches_dependents(eco: Ecosystem, dir: &str, file: &str) -> bool {
    let inner = if dir.is_empty() {
        file
    } else {
        file.strip_prefix(&format!("{dir}/")).unwrap_or(file)
    };
    let name = inner.rsplit('/').next().unwrap_or(inner);
    let own_only = name == "Dockerfile"
        || name.ends_with(".Dockerfile")
        || name == ".dockerignore"
        || (!inner.contains('/') && name.ends_with(".md"))
        || (eco == Ecosystem::Go
            && (name.ends_with("_test.go")
                || inner == "go.sum"
                || inner.starts_with("testdata/")
                || inner.contains("/testdata/")));
    !own_only
}

/// Adds the graph's reasons to the verdicts (in manifest order).
pub fn apply(verdicts: &mut [Verdict], reasons: Vec<Vec<Reason>>) {
    for (v, mut r) in verdicts.iter_mut().zip(reasons) {
        v.reasons.append(&mut r);
    }
}

#[cfg(test)]
mod tests;
