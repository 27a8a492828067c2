//! Which services a set of changed files affects, and why: the decision at
//! the heart of `detect`, as a pure function over plain data.
//!
//! Rules, each recorded as a [`Reason`]: the service's path globs; its
//! Dockerfile and task definition, and every Jsonnet file the task
//! definition imports; a change in its Cargo crate or any workspace crate it
//! depends on; a change of a package in its resolved `Cargo.lock` tree; the
//! workspace `Cargo.toml`; the manifest's global paths; its manifest entry.

use std::collections::{BTreeMap, BTreeSet};

use rustc_hash::FxHashMap as HashMap;
use std::fmt;

use serde::Serialize;

use crate::crates::{Lockfile, Workspace, tree_changes};
use crate::manifest::Manifest;

/// How many example files a reason keeps (the summary shows these).
pub const EXAMPLES: usize = 3;

/// Files that matched one rule: the first few, and how many more.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Examples {
    /// The first files, in the order they were seen.
    pub files: Vec<String>,
    /// How many others matched.
    pub more: usize,
}

impl Examples {
    /// Records one more file.
    pub(crate) fn push(&mut self, file: &str) {
        if self.files.len() < EXAMPLES {
            self.files.push(file.to_string());
        } else {
            self.more += 1;
        }
    }
}

impl fmt::Display for Examples {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.files.join(", "))?;
        if self.more > 0 {
            write!(f, " and {} more", self.more)?;
        }
        Ok(())
    }
}

/// Why a service is affected.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "rule", rename_all = "kebab-case")]
pub enum Reason {
    /// A file under one of the service's path globs.
    Paths {
        /// The glob.
        glob: String,
        /// The files.
        files: Examples,
    },
    /// The service's Dockerfile changed.
    Dockerfile {
        /// The file.
        file: String,
    },
    /// The service's task definition changed.
    TaskDefinition {
        /// The file.
        file: String,
    },
    /// A Jsonnet file the task definition imports changed.
    JsonnetImport {
        /// The imported file.
        file: String,
    },
    /// A file of the service's own crate changed.
    OwnCrate {
        /// The crate.
        krate: String,
        /// The files.
        files: Examples,
    },
    /// A workspace crate the service depends on changed.
    DependsOnCrate {
        /// The crate that changed.
        krate: String,
        /// The files.
        files: Examples,
    },
    /// The workspace manifest changed (profiles, shared dependency versions).
    WorkspaceManifest,
    /// A local Go module, JavaScript package or Python project the service
    /// depends on changed.
    DependsOnPackage {
        /// "Go module", "package", "Python project".
        kind: String,
        /// Its module path or package name.
        name: String,
        /// The files.
        files: Examples,
    },
    /// Its own project file (go.mod, package.json, pyproject.toml, go.work)
    /// changed outside its path globs.
    ProjectFile {
        /// The file.
        file: String,
    },
    /// A lockfile (or go.mod's requirements) changed the versions its
    /// packages resolve to.
    PackageLock {
        /// The lockfile.
        file: String,
        /// e.g. "express 4.18.0 → 4.19.2".
        packages: Vec<String>,
    },
    /// A lockfile it uses changed, and which versions it resolves to cannot
    /// be told: every service using it is affected.
    PackageLockAll {
        /// The lockfile.
        file: String,
        /// Why it cannot be told.
        why: String,
    },
    /// A project file of its language cannot be read, and a file in that
    /// project's folder changed: its dependents are unknown.
    GraphUnknown {
        /// The unreadable file.
        file: String,
        /// What is wrong with it.
        why: String,
    },
    /// Packages of its resolved dependency tree changed in Cargo.lock.
    Lockfile {
        /// e.g. "serde 1.0.1 → 1.0.2".
        packages: Vec<String>,
    },
    /// Cargo.lock changed and its earlier version could not be read.
    LockfileUnknown {
        /// Why it could not be compared.
        why: String,
    },
    /// A global path changed.
    Global {
        /// The glob.
        glob: String,
        /// The files.
        files: Examples,
    },
    /// The service's entry in the manifest changed.
    ManifestEntry,
    /// The manifest's shared settings (environments, project, region) changed.
    ManifestSettings,
    /// Every service, for a stated reason (schedule, no base found).
    Forced {
        /// Why.
        why: String,
    },
}

impl fmt::Display for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Paths { glob, files } => write!(f, "matches `{glob}`: {files}"),
            Self::Dockerfile { file } => write!(f, "its Dockerfile {file} changed"),
            Self::TaskDefinition { file } => write!(f, "its task definition {file} changed"),
            Self::JsonnetImport { file } => {
                write!(f, "its task definition imports {file}, which changed")
            }
            Self::OwnCrate { krate, files } => write!(f, "its crate `{krate}` changed: {files}"),
            Self::DependsOnCrate { krate, files } => {
                write!(f, "depends on crate `{krate}`, which changed: {files}")
            }
            Self::WorkspaceManifest => write!(f, "the workspace Cargo.toml changed"),
            Self::DependsOnPackage { kind, name, files } => {
                write!(f, "depends on {kind} `{name}`, which changed: {files}")
            }
            Self::ProjectFile { file } => write!(f, "its project file {file} changed"),
            Self::PackageLock { file, packages } => write!(f, "{file}: {}", packages.join("; ")),
            Self::PackageLockAll { file, why } => write!(
                f,
                "{file} changed and {why}: every service using it is affected"
            ),
            Self::GraphUnknown { file, why } => write!(
                f,
                "{file} cannot be read ({why}) and its folder changed: which services depend on it is unknown"
            ),
            Self::Lockfile { packages } => write!(f, "Cargo.lock: {}", packages.join("; ")),
            Self::LockfileUnknown { why } => write!(f, "Cargo.lock changed ({why})"),
            Self::Global { glob, files } => write!(f, "global path `{glob}` changed: {files}"),
            Self::ManifestEntry => write!(f, "its entry in the manifest changed"),
            Self::ManifestSettings => write!(f, "the manifest's shared settings changed"),
            Self::Forced { why } => write!(f, "{why}"),
        }
    }
}

/// The decision for one service.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Verdict {
    /// The service.
    pub service: String,
    /// Every reason it is affected; empty when it is not.
    pub reasons: Vec<Reason>,
}

impl Verdict {
    /// Whether the service is affected.
    pub fn affected(&self) -> bool {
        !self.reasons.is_empty()
    }
}

/// Cargo.lock between the two commits.
#[derive(Debug, Clone)]
pub enum LockChange {
    /// Not among the changed files (or no lockfile at all).
    Unchanged,
    /// Changed; both versions parsed.
    Changed {
        /// At the base.
        old: Box<Lockfile>,
        /// At the head.
        new: Box<Lockfile>,
    },
    /// Changed, but one side could not be read or parsed.
    Unknown(String),
}

/// What the manifest looked like at the base.
#[derive(Debug, Clone, Default)]
pub struct ManifestChange {
    /// Services whose entry differs (new services included).
    pub services: BTreeSet<String>,
    /// Project, region, environments or release branch differ, or the base
    /// manifest could not be read.
    pub settings: bool,
}

/// Matches files to services; built once per manifest and workspace.
#[derive(Debug)]
pub struct Matcher<'a> {
    manifest: &'a Manifest,
    /// Service globs by literal prefix: a file is tested only against the
    /// globs whose prefix it starts with. Values: (service index, glob index).
    by_prefix: HashMap<&'a str, Vec<(usize, usize)>>,
    /// The distinct prefix lengths, shortest first.
    prefix_lengths: Vec<usize>,
    /// Exact files (Dockerfile, task definition, imports) → (service index, rule).
    exact: HashMap<String, Vec<(usize, FileRule)>>,
    /// Local crate → services whose crate closure contains it (service index, own crate?).
    crate_users: HashMap<String, Vec<(usize, bool)>>,
    /// The Cargo package of each service that has one.
    service_crates: Vec<Option<String>>,
    workspace: &'a Workspace,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum FileRule {
    Dockerfile,
    TaskDefinition,
    Import,
}

impl<'a> Matcher<'a> {
    /// Prepares the rules. `imports` gives, per service, the Jsonnet files its
    /// task definition imports (transitively).
    pub fn new(
        manifest: &'a Manifest,
        workspace: &'a Workspace,
        imports: &BTreeMap<String, Vec<String>>,
    ) -> Self {
        let mut by_prefix: HashMap<&'a str, Vec<(usize, usize)>> = HashMap::default();
        let mut exact: HashMap<String, Vec<(usize, FileRule)>> = HashMap::default();
        let mut crate_users: HashMap<String, Vec<(usize, bool)>> = HashMap::default();
        let mut service_crates = Vec::new();
        for (i, svc) in manifest.services.values().enumerate() {
            // Only a glob that includes can make a file the service's; a `!`
            // glob is read when one of them matched (see `glob_hits`).
            for (g, glob) in svc.paths.matchers.iter().enumerate() {
                if glob.is_negated() {
                    continue;
                }
                by_prefix
                    .entry(glob.literal_prefix())
                    .or_default()
                    .push((i, g));
            }
            exact
                .entry(svc.dockerfile.clone())
                .or_default()
                .push((i, FileRule::Dockerfile));
            exact
                .entry(svc.task_definition.clone())
                .or_default()
                .push((i, FileRule::TaskDefinition));
            for file in imports.get(&svc.name).into_iter().flatten() {
                exact
                    .entry(file.clone())
                    .or_default()
                    .push((i, FileRule::Import));
            }
            let krate = svc
                .crate_name
                .clone()
                .filter(|c| workspace.crates.contains_key(c));
            if let Some(k) = &krate {
                for dep in workspace.local_closure(k) {
                    let own = &dep == k;
                    crate_users.entry(dep).or_default().push((i, own));
                }
            }
            service_crates.push(krate);
        }
        let mut prefix_lengths: Vec<usize> = by_prefix.keys().map(|p| p.len()).collect();
        prefix_lengths.sort_unstable();
        prefix_lengths.dedup();
        Self {
            manifest,
            by_prefix,
            prefix_lengths,
            exact,
            crate_users,
            service_crates,
            workspace,
        }
    }

    /// Calls `hit(service, glob)` for each service whose globs include
    /// `file`, with the glob that included it.
    fn glob_hits(&self, file: &str, mut hit: impl FnMut(usize, usize)) {
        let services = &self.manifest.services;
        let mut seen: Vec<usize> = Vec::new();
        for &len in &self.prefix_lengths {
            if len > file.len() {
                break;
            }
            if !file.is_char_boundary(len) {
                continue;
            }
            let Some(candidates) = self.by_prefix.get(&file[..len]) else {
                continue;
            };
            for &(svc, g) in candidates {
                if seen.contains(&svc) {
                    continue;
                }
                let rules = &services[svc].paths;
                if rules.matchers[g].is_match(file) {
                    seen.push(svc);
                    if !rules.has_negations() {
                        hit(svc, g);
                    } else if let Some(g) = rules.decide(file) {
                        hit(svc, g);
                    }
                }
            }
        }
    }

    /// Decides every service for the changed `files`.
    pub fn evaluate(
        &self,
        files: &[String],
        lock: &LockChange,
        manifest_change: &ManifestChange,
    ) -> Vec<Verdict> {
        let n = self.manifest.services.len();
        // Reasons are gathered per service in insertion order of first sight.
        let mut paths: Vec<BTreeMap<usize, Examples>> = vec![BTreeMap::new(); n];
        let mut own: Vec<Option<(String, Examples)>> = vec![None; n];
        let mut deps: Vec<BTreeMap<String, Examples>> = vec![BTreeMap::new(); n];
        let mut exact: Vec<Vec<Reason>> = vec![Vec::new(); n];
        let mut global: BTreeMap<String, Examples> = BTreeMap::new();
        let mut workspace_manifest = false;
        for file in files {
            if let Some(glob) = self.manifest.global_paths.first_match(file) {
                global.entry(glob.to_string()).or_default().push(file);
            }
            if file == "Cargo.toml" && !self.workspace.crates.is_empty() {
                workspace_manifest = true;
            }
            self.glob_hits(file, |svc, g| paths[svc].entry(g).or_default().push(file));
            if let Some(rules) = self.exact.get(file.as_str()) {
                for &(svc, rule) in rules {
                    let reason = match rule {
                        FileRule::Dockerfile => Reason::Dockerfile { file: file.clone() },
                        FileRule::TaskDefinition => Reason::TaskDefinition { file: file.clone() },
                        FileRule::Import => Reason::JsonnetImport { file: file.clone() },
                    };
                    exact[svc].push(reason);
                }
            }
            if let Some(krate) = self.workspace.crate_of(file)
                && let Some(users) = self.crate_users.get(krate)
            {
                for &(svc, is_own) in users {
                    if is_own {
                        own[svc]
                            .get_or_insert_with(|| (krate.to_string(), Examples::default()))
                            .1
                            .push(file);
                    } else if self.workspace.reaches_dependents(krate, file) {
                        deps[svc].entry(krate.to_string()).or_default().push(file);
                    }
                }
            }
        }

        let global: Vec<Reason> = global
            .into_iter()
            .map(|(glob, files)| Reason::Global { glob, files })
            .collect();
        let mut verdicts = Vec::with_capacity(n);
        for (i, (name, svc)) in self.manifest.services.iter().enumerate() {
            let mut reasons = global.clone();
            if manifest_change.settings {
                reasons.push(Reason::ManifestSettings);
            }
            if manifest_change.services.contains(name) {
                reasons.push(Reason::ManifestEntry);
            }
            reasons.extend(std::mem::take(&mut paths[i]).into_iter().map(|(g, files)| {
                Reason::Paths {
                    glob: svc.paths.globs[g].clone(),
                    files,
                }
            }));
            reasons.append(&mut exact[i]);
            if let Some((krate, files)) = own[i].take() {
                reasons.push(Reason::OwnCrate { krate, files });
            }
            reasons.extend(
                std::mem::take(&mut deps[i])
                    .into_iter()
                    .map(|(krate, files)| Reason::DependsOnCrate { krate, files }),
            );
            if let Some(krate) = &self.service_crates[i] {
                workspace_reasons(krate, workspace_manifest, lock, &mut reasons);
            }
            verdicts.push(Verdict {
                service: name.clone(),
                reasons,
            });
        }
        verdicts
    }
}

/// The Cargo workspace's reasons for a service with crate `krate`: the
/// workspace's Cargo.toml changed, or Cargo.lock changed the versions the
/// crate builds with (or cannot tell).
fn workspace_reasons(
    krate: &str,
    workspace_manifest: bool,
    lock: &LockChange,
    reasons: &mut Vec<Reason>,
) {
    if workspace_manifest {
        reasons.push(Reason::WorkspaceManifest);
    }
    match lock {
        LockChange::Unchanged => {}
        LockChange::Changed { old, new } => {
            let changes = tree_changes(old, new, krate);
            if !changes.is_empty() {
                reasons.push(Reason::Lockfile {
                    packages: changes.iter().map(ToString::to_string).collect(),
                });
            }
        }
        LockChange::Unknown(why) => reasons.push(Reason::LockfileUnknown { why: why.clone() }),
    }
}

/// Every service affected for one reason (a schedule, a missing base).
pub fn all(manifest: &Manifest, why: &str) -> Vec<Verdict> {
    manifest
        .services
        .keys()
        .map(|name| Verdict {
            service: name.clone(),
            reasons: vec![Reason::Forced {
                why: why.to_string(),
            }],
        })
        .collect()
}

/// Exactly the named services (already checked against the manifest).
pub fn selected(manifest: &Manifest, names: &[String], why: &str) -> Vec<Verdict> {
    manifest
        .services
        .keys()
        .map(|name| Verdict {
            service: name.clone(),
            reasons: if names.contains(name) {
                vec![Reason::Forced {
                    why: why.to_string(),
                }]
            } else {
                Vec::new()
            },
        })
        .collect()
}
