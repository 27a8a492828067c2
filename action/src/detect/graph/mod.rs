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

use std::collections::{BTreeMap, BTreeSet};

use rustc_hash::FxHashMap as HashMap;

use super::affected::{Examples, Reason, Verdict};
use crate::crates::{PackageChange, Tree, expand};
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

/// Files that make a folder a project (the walk up from a service stops at
/// the first folder holding one): the three languages' and Cargo's.
const MARKERS: &[&str] = &["go.mod", "package.json", "pyproject.toml", "Cargo.toml"];

/// Lockfiles: name, language, and whether Ferry can read per-package
/// versions from it.
const LOCKFILES: &[(&str, Ecosystem, bool)] = &[
    ("package-lock.json", Ecosystem::JavaScript, true),
    ("npm-shrinkwrap.json", Ecosystem::JavaScript, true),
    ("pnpm-lock.yaml", Ecosystem::JavaScript, true),
    ("yarn.lock", Ecosystem::JavaScript, false),
    ("bun.lock", Ecosystem::JavaScript, false),
    ("bun.lockb", Ecosystem::JavaScript, false),
    ("uv.lock", Ecosystem::Python, true),
    ("poetry.lock", Ecosystem::Python, false),
    ("pdm.lock", Ecosystem::Python, false),
];

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

enum Parsed {
    Go(go::GoMod),
    Js(js::PackageJson),
    Py(python::PyProject),
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

/// The folders a service's own projects are looked for from: the literal
/// folder of each including `paths` glob, and its Dockerfile's folder.
fn seeds(svc: &crate::manifest::Service) -> Vec<String> {
    let mut out: Vec<String> = svc
        .paths
        .matchers
        .iter()
        .filter(|g| !g.is_negated())
        .map(|g| {
            let prefix = g.literal_prefix();
            match prefix.rfind('/') {
                Some(i) => prefix[..i].to_string(),
                None => String::new(),
            }
        })
        .collect();
    out.push(parent(&svc.dockerfile).unwrap_or("").to_string());
    out.sort();
    out.dedup();
    out
}

/// Every file [`Graph::load`] may read first, for one prefetch with the
/// task definitions: the markers in the services' folders and above them.
pub fn candidates(manifest: &Manifest) -> Vec<String> {
    let mut dirs: BTreeSet<String> = BTreeSet::new();
    for svc in manifest.services.values() {
        for seed in seeds(svc) {
            let mut d = Some(seed.as_str());
            while let Some(dir) = d {
                if !dirs.insert(dir.to_string()) {
                    break;
                }
                d = parent(dir);
            }
        }
    }
    let mut out = Vec::new();
    for d in &dirs {
        for m in MARKERS.iter().chain(&["go.work", "pnpm-workspace.yaml"]) {
            out.push(file_in(d, m));
        }
    }
    out
}

struct Loader<'a> {
    tree: &'a dyn Tree,
    /// Whether a file exists (from a listing; reading a missing file
    /// through git costs a tree walk).
    exists: &'a dyn Fn(&str) -> bool,
    graph: Graph,
    parsed: Vec<Parsed>,
    /// (language, folder) → project index, or None when unreadable/absent.
    at: BTreeMap<(Ecosystem, String), Option<usize>>,
    /// Workspaces: (language, folder) → member project indices.
    workspaces: BTreeMap<(Ecosystem, String), Vec<usize>>,
    /// go.work `replace`s: workspace folder → module path → folder.
    work_replaces: BTreeMap<String, BTreeMap<String, String>>,
}

impl Loader<'_> {
    /// The project of `eco` in `dir`, read once.
    fn project(&mut self, eco: Ecosystem, dir: &str) -> Option<usize> {
        if let Some(known) = self.at.get(&(eco, dir.to_string())) {
            return *known;
        }
        let file = file_in(dir, eco.project_file());
        let text = if (self.exists)(&file) {
            self.tree.read(&file)
        } else {
            None
        };
        let found = text.and_then(|text| {
            let parsed = match eco {
                Ecosystem::Go => go::GoMod::parse(&text).map(Parsed::Go),
                Ecosystem::JavaScript => js::PackageJson::parse(&text).map(Parsed::Js),
                Ecosystem::Python => python::PyProject::parse(&text).map(Parsed::Py),
            };
            match parsed {
                Ok(p) => Some(p),
                Err(why) => {
                    self.graph.broken.push(Broken {
                        eco,
                        file: file.clone(),
                        why,
                    });
                    None
                }
            }
        });
        let index = found.map(|parsed| {
            let name = match &parsed {
                Parsed::Go(m) => Some(m.module.clone()),
                Parsed::Js(p) => p.name.clone(),
                Parsed::Py(p) => p.name.clone(),
            }
            .unwrap_or_else(|| {
                if dir.is_empty() {
                    ".".into()
                } else {
                    dir.to_string()
                }
            });
            let i = self.graph.projects.len();
            self.graph.projects.push(Project {
                eco,
                name,
                dir: dir.to_string(),
                deps: BTreeSet::new(),
                workspace: None,
            });
            self.parsed.push(parsed);
            self.graph
                .by_dir
                .entry(dir.to_string())
                .or_default()
                .push(i);
            i
        });
        self.at.insert((eco, dir.to_string()), index);
        index
    }

    /// Reads the workspaces declared in `dir`, if any.
    fn workspace_roots(&mut self, dir: &str) {
        let read = |name: &str| {
            let file = file_in(dir, name);
            if (self.exists)(&file) {
                self.tree.read(&file)
            } else {
                None
            }
        };
        let (go_work, pnpm) = (read("go.work"), read("pnpm-workspace.yaml"));
        if let Some(text) = go_work {
            match go::GoWork::parse(&text) {
                Ok(w) => {
                    let members = w
                        .uses
                        .iter()
                        .filter_map(|u| join(dir, u))
                        .filter_map(|d| self.project(Ecosystem::Go, &d))
                        .collect();
                    self.workspaces
                        .insert((Ecosystem::Go, dir.to_string()), members);
                    self.work_replaces
                        .insert(dir.to_string(), w.local_replaces.clone());
                }
                Err(why) => self.graph.broken.push(Broken {
                    eco: Ecosystem::Go,
                    file: file_in(dir, "go.work"),
                    why,
                }),
            }
        }
        let mut js_patterns = Vec::new();
        if let Some(text) = pnpm {
            match js::pnpm_workspace(&text) {
                Ok(p) => js_patterns.extend(p),
                Err(why) => self.graph.broken.push(Broken {
                    eco: Ecosystem::JavaScript,
                    file: file_in(dir, "pnpm-workspace.yaml"),
                    why,
                }),
            }
        }
        if let Some(root) = self.project(Ecosystem::JavaScript, dir)
            && let Parsed::Js(p) = &self.parsed[root]
        {
            js_patterns.extend(p.workspaces.clone());
        }
        if !js_patterns.is_empty() {
            let members = self.members(Ecosystem::JavaScript, dir, &js_patterns, &[]);
            self.workspaces
                .insert((Ecosystem::JavaScript, dir.to_string()), members);
        }
        if let Some(root) = self.project(Ecosystem::Python, dir)
            && let Parsed::Py(p) = &self.parsed[root]
            && !p.members.is_empty()
        {
            let (include, exclude) = (p.members.clone(), p.exclude.clone());
            let mut members = self.members(Ecosystem::Python, dir, &include, &exclude);
            members.push(root);
            self.workspaces
                .insert((Ecosystem::Python, dir.to_string()), members);
        }
    }

    /// The projects matching a workspace's member patterns (`!p` or
    /// `exclude` patterns take folders out).
    fn members(
        &mut self,
        eco: Ecosystem,
        dir: &str,
        include: &[String],
        exclude: &[String],
    ) -> Vec<usize> {
        let expand_all = |tree: &dyn Tree, patterns: Vec<&str>| -> BTreeSet<String> {
            patterns
                .into_iter()
                .filter_map(|p| join(dir, p.trim_end_matches("/**")))
                .flat_map(|p| expand(tree, &p))
                .collect()
        };
        let excluded = expand_all(
            self.tree,
            include
                .iter()
                .filter_map(|p| p.strip_prefix('!'))
                .chain(exclude.iter().map(String::as_str))
                .collect(),
        );
        let dirs = expand_all(
            self.tree,
            include
                .iter()
                .filter(|p| !p.starts_with('!'))
                .map(String::as_str)
                .collect(),
        );
        dirs.into_iter()
            .filter(|d| !excluded.contains(d))
            .filter_map(|d| self.project(eco, &d))
            .collect()
    }

    /// The project's local dependencies, loading what they point at.
    fn edges(&mut self, i: usize) -> Vec<usize> {
        let dir = self.graph.projects[i].dir.clone();
        let ws = self.graph.projects[i].workspace.clone();
        let eco = self.graph.projects[i].eco;
        let members: Vec<usize> = ws
            .as_ref()
            .and_then(|w| self.workspaces.get(&(eco, w.clone())))
            .cloned()
            .unwrap_or_default();
        let member_named = |g: &Graph, name: &str| {
            members
                .iter()
                .copied()
                .find(|&m| g.projects[m].name == name)
        };
        let mut out = Vec::new();
        let mut dirs = Vec::new();
        match &self.parsed[i] {
            Parsed::Go(m) => {
                let work_replaces = ws.as_ref().and_then(|w| self.work_replaces.get(w));
                for path in m.requires.keys() {
                    if let Some(target) = m.local_replaces.get(path) {
                        dirs.extend(join(&dir, target));
                    } else if let Some(target) = work_replaces.and_then(|r| r.get(path)) {
                        dirs.extend(join(ws.as_deref().unwrap_or(""), target));
                    } else if let Some(found) = member_named(&self.graph, path) {
                        out.push(found);
                    }
                }
            }
            Parsed::Js(p) => {
                for (name, spec) in &p.deps {
                    if let Some(path) = js::local_path(spec) {
                        dirs.extend(join(&dir, path));
                    } else if let Some(found) = member_named(&self.graph, name) {
                        out.push(found);
                    }
                }
            }
            Parsed::Py(p) => {
                // A member reads the workspace root's sources too.
                let root_sources = ws
                    .as_ref()
                    .and_then(|w| {
                        self.at
                            .get(&(Ecosystem::Python, w.clone()))
                            .copied()
                            .flatten()
                    })
                    .and_then(|r| match &self.parsed[r] {
                        Parsed::Py(root) => Some(root.sources.clone()),
                        _ => None,
                    })
                    .unwrap_or_default();
                for name in &p.deps {
                    match p.sources.get(name).or(root_sources.get(name)) {
                        Some(python::Source::Workspace) => {
                            out.extend(member_named(&self.graph, name));
                        }
                        Some(python::Source::Path(path)) => {
                            // Poetry and uv paths are from the pyproject's
                            // folder (a root source, from the root's).
                            let from = if p.sources.contains_key(name) {
                                dir.as_str()
                            } else {
                                ws.as_deref().unwrap_or("")
                            };
                            dirs.extend(join(from, path));
                        }
                        None => {}
                    }
                }
            }
        }
        for d in dirs {
            out.extend(self.project(eco, &d));
        }
        out.retain(|&d| d != i);
        out
    }
}

impl Graph {
    /// Reads the projects the manifest's services reach in `tree`;
    /// `exists` says whether a file is there (from a listing of the tree).
    pub fn load(tree: &dyn Tree, manifest: &Manifest, exists: &dyn Fn(&str) -> bool) -> Self {
        let mut l = Loader {
            tree,
            exists,
            graph: Graph::default(),
            parsed: Vec::new(),
            at: BTreeMap::new(),
            workspaces: BTreeMap::new(),
            work_replaces: BTreeMap::new(),
        };
        // Workspaces are declared in the services' folders or above them.
        let mut dirs: BTreeSet<String> = BTreeSet::new();
        let all_seeds: Vec<Vec<String>> = manifest.services.values().map(seeds).collect();
        for seed in all_seeds.iter().flatten() {
            let mut d = Some(seed.as_str());
            while let Some(dir) = d {
                if !dirs.insert(dir.to_string()) {
                    break;
                }
                d = parent(dir);
            }
        }
        for d in &dirs {
            l.workspace_roots(d);
        }
        // Own projects: the first folder up from each seed holding a marker.
        for service_seeds in &all_seeds {
            let mut owned = BTreeSet::new();
            let mut languages = BTreeSet::new();
            for seed in service_seeds {
                let mut d = Some(seed.as_str());
                while let Some(dir) = d {
                    let present: Vec<&str> = MARKERS
                        .iter()
                        .copied()
                        .filter(|m| {
                            let f = file_in(dir, m);
                            exists(&f) && tree.read(&f).is_some()
                        })
                        .collect();
                    if !present.is_empty() {
                        for eco in Ecosystem::ALL {
                            if present.contains(&eco.project_file()) {
                                languages.insert(eco);
                                owned.extend(l.project(eco, dir));
                            }
                        }
                        break;
                    }
                    d = parent(dir);
                }
            }
            l.graph.owned.push(owned);
            l.graph.languages.push(languages);
        }
        // Which workspace each project belongs to.
        let memberships: Vec<(usize, String)> = l
            .workspaces
            .iter()
            .flat_map(|((_, dir), members)| members.iter().map(move |&m| (m, dir.clone())))
            .collect();
        for (m, dir) in memberships {
            l.graph.projects[m].workspace.get_or_insert(dir);
        }
        // Edges, loading the folders they point at.
        let mut i = 0;
        while i < l.graph.projects.len() {
            let deps = l.edges(i);
            l.graph.projects[i].deps.extend(deps);
            i += 1;
        }
        let mut g = l.graph;
        g.closure = g.owned.iter().map(|o| g.closure_of(o)).collect();
        g
    }

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
        // Project → (service, own?).
        let mut users: HashMap<usize, Vec<(usize, bool)>> = HashMap::default();
        for (s, closure) in self.closure.iter().enumerate() {
            for &p in closure {
                users
                    .entry(p)
                    .or_default()
                    .push((s, self.owned[s].contains(&p)));
            }
        }
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
                for (s, svc) in services.iter().enumerate() {
                    let member = self.owned[s].iter().any(|&p| {
                        self.projects[p].workspace.as_deref() == Some(dir)
                            && self.projects[p].eco == Ecosystem::Go
                    });
                    if member && svc.paths.decide(file).is_none() {
                        out[s].push(Reason::ProjectFile { file: file.clone() });
                    }
                }
            }
        }
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
        (out, notes)
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

    /// A changed lockfile: for each service using it, the resolved versions
    /// that changed, or every one of them when the lockfile cannot tell.
    fn lockfile(
        &self,
        (file, dir, eco, readable): (&String, &str, Ecosystem, bool),
        services: &[&crate::manifest::Service],
        head: &dyn Tree,
        base: Option<&dyn Tree>,
        out: &mut [Vec<Reason>],
    ) {
        // The projects this lockfile resolves: its folder's, and its workspace's.
        let uses =
            |p: &Project| p.eco == eco && (p.dir == dir || p.workspace.as_deref() == Some(dir));
        let users: Vec<(usize, Vec<usize>)> = self
            .closure
            .iter()
            .enumerate()
            .filter(|(s, _)| services[*s].paths.decide(file).is_none())
            .map(|(s, c)| {
                (
                    s,
                    c.iter()
                        .copied()
                        .filter(|&p| uses(&self.projects[p]))
                        .collect::<Vec<_>>(),
                )
            })
            .filter(|(_, ps)| !ps.is_empty())
            .collect();
        if users.is_empty() {
            return;
        }
        let all = |why: String, out: &mut [Vec<Reason>]| {
            for (s, _) in &users {
                out[*s].push(Reason::PackageLockAll {
                    file: file.clone(),
                    why: why.clone(),
                });
            }
        };
        if !readable {
            return all(
                format!(
                    "Ferry cannot tell from {} which package uses which version",
                    file.rsplit('/').next().unwrap_or(file)
                ),
                out,
            );
        }
        let Some(base) = base else {
            return all("the base commit is not in this clone".into(), out);
        };
        let name = file.rsplit('/').next().unwrap_or(file);
        let resolver = match Lock::read(name, base.read(file), head.read(file)) {
            Ok(r) => r,
            Err(why) => return all(why, out),
        };
        for (s, projects) in users {
            let importers: Vec<(String, String)> = projects
                .iter()
                .map(|&p| {
                    let project = &self.projects[p];
                    let rel = if dir.is_empty() {
                        project.dir.clone()
                    } else {
                        project
                            .dir
                            .strip_prefix(&format!("{dir}/"))
                            .unwrap_or("")
                            .to_string()
                    };
                    (rel, project.name.clone())
                })
                .collect();
            match resolver.changes(&importers) {
                Ok(changes) if changes.is_empty() => {}
                Ok(changes) => out[s].push(Reason::PackageLock {
                    file: file.clone(),
                    packages: changes,
                }),
                Err(why) => out[s].push(Reason::PackageLockAll {
                    file: file.clone(),
                    why,
                }),
            }
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

/// Both sides of a readable lockfile, parsed once.
enum Lock {
    Npm(serde_json::Value, serde_json::Value),
    Pnpm(serde_json::Value, serde_json::Value),
    Uv(toml::Table, toml::Table),
}

impl Lock {
    fn read(name: &str, old: Option<String>, new: Option<String>) -> Result<Self, String> {
        // A lockfile added or removed: compared with an empty one.
        let (old, new) = (old.unwrap_or_default(), new.unwrap_or_default());
        fn side<T>(what: &str, r: Result<T, String>) -> Result<T, String> {
            r.map_err(|e| format!("its {what} version cannot be read: {e}"))
        }
        Ok(match name {
            "pnpm-lock.yaml" => {
                let parse = |t: &str| {
                    if t.is_empty() {
                        Ok(serde_json::json!({"importers": {}}))
                    } else {
                        js::parse_pnpm_lock(t)
                    }
                };
                Self::Pnpm(side("base", parse(&old))?, side("head", parse(&new))?)
            }
            "uv.lock" => {
                let parse =
                    |t: &str| python::parse_uv_lock(if t.is_empty() { "package = []" } else { t });
                Self::Uv(side("base", parse(&old))?, side("head", parse(&new))?)
            }
            _ => {
                let parse = |t: &str| {
                    if t.is_empty() {
                        Ok(serde_json::json!({"lockfileVersion": 3, "packages": {}}))
                    } else {
                        js::parse_npm_lock(t)
                    }
                };
                Self::Npm(side("base", parse(&old))?, side("head", parse(&new))?)
            }
        })
    }

    /// The versions that differ for these importers (folder, name).
    fn changes(&self, importers: &[(String, String)]) -> Result<Vec<String>, String> {
        let resolve = |old: bool| -> Resolved {
            let mut all = BTreeSet::new();
            for (dir, name) in importers {
                all.extend(match self {
                    Self::Npm(o, n) => js::npm_lock(if old { o } else { n }, dir)?,
                    Self::Pnpm(o, n) => js::pnpm_lock(if old { o } else { n }, dir)?,
                    Self::Uv(o, n) => python::uv_lock(if old { o } else { n }, name)?,
                });
            }
            Ok(all)
        };
        let (before, after) = (resolve(true)?, resolve(false)?);
        let mut by_name: BTreeMap<&str, (Vec<String>, Vec<String>)> = BTreeMap::new();
        for (n, v) in before.difference(&after) {
            by_name.entry(n).or_default().0.push(v.clone());
        }
        for (n, v) in after.difference(&before) {
            by_name.entry(n).or_default().1.push(v.clone());
        }
        Ok(by_name
            .into_iter()
            .map(|(name, (before, after))| {
                PackageChange {
                    name: name.to_string(),
                    before,
                    after,
                }
                .to_string()
            })
            .collect())
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
