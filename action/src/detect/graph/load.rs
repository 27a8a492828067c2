//! Reading the graph: a service's own projects found from its folders, the
//! workspaces above them, and the local edges followed from each project
//! file, each file read once ([`Graph::load`]).

use std::collections::{BTreeMap, BTreeSet};

use super::{Broken, Ecosystem, Graph, Project, file_in, go, join, js, parent, python};
use crate::crates::{Tree, expand};
use crate::manifest::Manifest;

/// Files that make a folder a project (the walk up from a service stops at
/// the first folder holding one): the three languages' and Cargo's.
const MARKERS: &[&str] = &["go.mod", "package.json", "pyproject.toml", "Cargo.toml"];

enum Parsed {
    Go(go::GoMod),
    Js(js::PackageJson),
    Py(python::PyProject),
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
}
